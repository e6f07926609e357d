//! Evaluations (评估反馈).

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::Operation;
use egret_sync::RecordChanges;

use super::Activity as Service;
use crate::domain::access::{self, Action};
use crate::domain::activity::ActivityState;
use crate::domain::evaluation::Evaluation;
use crate::domain::names;
use crate::store::{self, evaluations::SummaryScope};

const EVALUATION_TYPE: &str = "egret.activity.v1.Evaluation";

/// What an evaluation summary covers.
#[derive(Debug, Clone)]
pub enum SummaryOf {
    /// An activity's id.
    Activity(String),
    /// A project's id.
    Project(String),
    /// An org unit's id.
    OrgUnit(String),
}

/// A new evaluation's fields (validated).
#[derive(Debug, Clone)]
pub struct NewEvaluation {
    /// 1 beneficiary, 2 volunteer.
    pub evaluator_kind: i32,
    /// The volunteer, for a volunteer's evaluation.
    pub volunteer_id: Option<String>,
    /// Withhold the evaluator's identity.
    pub anonymous: bool,
    /// 1 to 5.
    pub rating: i32,
    /// 评价内容.
    pub comment: String,
}

impl Service {
    /// Rates a completed activity: a volunteer who served there (once), or an organizer
    /// entering a beneficiary's feedback.
    pub async fn create_evaluation(
        &self,
        principal: &Principal,
        activity_id: &str,
        evaluation: NewEvaluation,
        request_id: &str,
    ) -> Result<Evaluation, ApiError> {
        match &evaluation.volunteer_id {
            Some(volunteer) if access::is_self(principal, volunteer) => {}
            Some(_) => {
                return Err(ApiError::permission_denied(
                    "a volunteer's evaluation is given by the volunteer itself",
                    "志愿者评价只能由志愿者本人提交",
                ));
            }
            None => access::require(principal, Action::ManageSignUps)?,
        }
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        if activity.state != ActivityState::Completed {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is {}; completed activities are evaluated",
                    names::activity(activity_id),
                    activity.state.name_en()
                ),
                format!(
                    "{} {}，活动完成后才能评价",
                    names::activity(activity_id),
                    activity.state.name_zh()
                ),
            ));
        }
        if let Some(volunteer) = &evaluation.volunteer_id
            && !store::attendance::has_approved_sign_up(
                self.database.reader(),
                &activity.id,
                volunteer,
            )
            .await?
        {
            return Err(ApiError::failed_precondition(
                "only volunteers who served at the activity rate it",
                "只有参加了本活动的志愿者可以评价",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateEvaluation", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.rsplit('/').next().unwrap_or_default();
            return store::evaluations::get(self.database.reader(), id)
                .await?
                .ok_or_else(|| ApiError::not_found(existing.clone()));
        }
        let evaluation = Evaluation {
            id: egret_storage::new_id(),
            activity_id: activity.id.clone(),
            evaluator_kind: evaluation.evaluator_kind,
            volunteer_id: evaluation.volunteer_id.unwrap_or_default(),
            anonymous: evaluation.anonymous,
            rating: evaluation.rating,
            comment: evaluation.comment,
            meta: transaction.new_meta(),
        };
        store::evaluations::insert(transaction.conn(), &evaluation).await?;
        let name = format!(
            "{}/evaluations/{}",
            names::activity(&activity.id),
            evaluation.id
        );
        // The change log carries no identity for an anonymous evaluation.
        let mut payload = serde_json::to_value(&evaluation).expect("evaluations serialize");
        if evaluation.anonymous {
            payload["volunteer_id"] = serde_json::Value::String(String::new());
        }
        transaction.record_diff(
            EVALUATION_TYPE,
            name.clone(),
            Operation::Create,
            None,
            payload,
            "",
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(evaluation)
    }

    /// Lists an activity's evaluations.
    pub async fn list_evaluations(
        &self,
        principal: &Principal,
        activity_id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Evaluation>, String), ApiError> {
        access::require(principal, Action::ReadActivities)?;
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        let mut evaluations = store::evaluations::list(
            self.database.reader(),
            &activity.id,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut evaluations, |evaluation| evaluation.id.clone());
        Ok((evaluations, next))
    }

    /// The count and average rating of an activity, a project or a subtree.
    pub async fn evaluation_summary(
        &self,
        principal: &Principal,
        of: &SummaryOf,
    ) -> Result<(i64, f64), ApiError> {
        access::require(principal, Action::ReadActivities)?;
        let scope = self.scope(principal).await?;
        let summary_scope = match of {
            SummaryOf::Activity(id) => {
                SummaryScope::Activity(self.visible_activity(&scope, id).await?.id)
            }
            SummaryOf::Project(id) => {
                SummaryScope::Project(self.visible_project(&scope, id).await?.id)
            }
            SummaryOf::OrgUnit(id) => {
                let unit = self.visible_unit(&scope, id).await?;
                let (low, high) = crate::domain::subtree_bounds(&unit.path);
                SummaryScope::Subtree(low, high)
            }
        };
        let (count, sum) =
            store::evaluations::totals(self.database.reader(), &summary_scope).await?;
        let average = if count == 0 {
            0.0
        } else {
            sum as f64 / count as f64
        };
        Ok((count, average))
    }
}
