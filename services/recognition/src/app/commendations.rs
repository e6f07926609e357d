//! Honours and commendations: nomination through the team, review and public notice at the
//! awarding unit, objections, then award or withdrawal.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::replica;

use super::{Recognition, Scope};
use crate::domain::access::{self, Action};
use crate::domain::commendation::{
    Commendation, CommendationState, Honour, Objection, RecipientKind,
};
use crate::domain::names;
use crate::store;

const HONOUR_TYPE: &str = "egret.recognition.v1.Honour";
const COMMENDATION_TYPE: &str = "egret.recognition.v1.Commendation";

/// An honour's fields as a caller gives them.
#[derive(Debug, Clone)]
pub struct HonourFields {
    /// The awarding unit; None for the caller's.
    pub org_unit_id: Option<String>,
    /// Name.
    pub display_name: String,
    /// Category (wire number).
    pub category: i32,
    /// Level (wire number).
    pub level: i32,
    /// What it is awarded to.
    pub recipient_kind: RecipientKind,
    /// Days of public notice; None for the instance's default.
    pub notice_days: Option<i32>,
    /// What it recognises.
    pub description: String,
}

/// A nomination as a caller gives it.
#[derive(Debug, Clone)]
pub struct NewCommendation {
    /// The honour.
    pub honour_id: String,
    /// The recipient's collection and id.
    pub recipient: (String, String),
    /// The year.
    pub year: i32,
    /// 事迹.
    pub citation: String,
    /// The nominating unit; None for the caller's.
    pub org_unit_id: Option<String>,
}

/// One step of a commendation's life after its nomination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Passes review: the public notice starts (or, with none, it is awarded).
    PassReview,
    /// Fails review.
    Reject,
    /// Records an objection received while the notice runs.
    Object,
    /// Awards it once the notice has ended.
    Award,
    /// Withdraws a nomination or a commendation on notice.
    Withdraw,
}

/// What a caller may do with a commendation it can see.
enum Decision {
    /// Review, objections, award: the awarding unit must be in the caller's subtree.
    Awarding,
    /// Withdrawal: the awarding or the nominating unit in the caller's subtree.
    AwardingOrNominating,
}

fn to_json(commendation: &Commendation) -> serde_json::Value {
    serde_json::to_value(commendation).expect("commendations serialize")
}

impl Recognition {
    /// Adds an honour awarded by a unit in the caller's subtree.
    pub async fn create_honour(
        &self,
        principal: &Principal,
        fields: HonourFields,
        request_id: &str,
    ) -> Result<Honour, ApiError> {
        access::require(principal, Action::ApproveStars)?;
        let scope = self.scope(principal).await?;
        let unit = self
            .unit_or_own(&scope, fields.org_unit_id.as_deref())
            .await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateHonour", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("honours/");
            return self.visible_honour(&scope, id).await;
        }
        let honour = Honour {
            id: egret_storage::new_id(),
            org_unit_id: unit.id,
            display_name: fields.display_name,
            category: fields.category,
            level: fields.level,
            recipient_kind: fields.recipient_kind,
            notice_days: fields.notice_days.unwrap_or(self.settings.notice_days),
            description: fields.description,
            active: true,
            meta: transaction.new_meta(),
        };
        store::commendations::insert_honour(transaction.conn(), &honour).await?;
        transaction.record_diff(
            HONOUR_TYPE,
            names::honour(&honour.id),
            Operation::Create,
            None,
            serde_json::to_value(&honour).expect("honours serialize"),
            "",
        )?;
        transaction
            .finish_request(request_id, &names::honour(&honour.id))
            .await?;
        transaction.commit().await?;
        Ok(honour)
    }

    /// An honour the caller may use: awarded by its unit, an ancestor, or a unit below it.
    async fn visible_honour(&self, scope: &Scope, id: &str) -> Result<Honour, ApiError> {
        let not_found = || ApiError::not_found(names::honour(id));
        let honour = store::commendations::honour(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        let unit = self
            .unit(&honour.org_unit_id)
            .await?
            .ok_or_else(not_found)?;
        if scope.root.path.starts_with(&unit.path) || scope.contains(&unit) {
            return Ok(honour);
        }
        Err(not_found())
    }

    /// Honours of the caller's unit, its ancestors and the units below it.
    pub async fn list_honours(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<(Vec<Honour>, String), ApiError> {
        access::require(principal, Action::ReadRules)?;
        let scope = self.scope(principal).await?;
        let (low, high) = scope.bounds();
        let mut rows = store::commendations::list_honours(
            self.database.reader(),
            &scope.root.path,
            (&low, &high),
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |honour| honour.id.clone());
        Ok((rows, token))
    }

    /// The recipient's display name, if it lies in the nominating unit's subtree.
    async fn recipient_in(
        &self,
        principal: &Principal,
        scope: &Scope,
        nominating: &crate::domain::OrgUnit,
        kind: RecipientKind,
        (collection, id): (&str, &str),
    ) -> Result<String, ApiError> {
        let name = format!("{collection}/{id}");
        if collection != kind.collection() {
            return Err(ApiError::invalid(
                "recipient",
                format!("must be one of {}/… for this honour", kind.collection()),
                format!("该荣誉的授予对象应为 {}/…", kind.collection()),
            ));
        }
        let (low, high) = egret_types::tree::subtree_bounds(&nominating.path);
        let inside = |path: &str| path >= low.as_str() && path < high.as_str();
        match kind {
            RecipientKind::Volunteer => {
                let volunteer = self.volunteer_for(principal, scope, id).await?;
                if !replica::serves_in(self.database.reader(), id, (&low, &high)).await? {
                    return Err(ApiError::not_found(name));
                }
                Ok(volunteer.display_name)
            }
            RecipientKind::Team | RecipientKind::OrgUnit => {
                let unit = self.visible_unit(scope, id).await?;
                if !inside(&unit.path) {
                    return Err(ApiError::not_found(name));
                }
                if kind == RecipientKind::Team && unit.tier < 2 {
                    return Err(ApiError::invalid(
                        "recipient",
                        "must be a team, sub-team or squad for this honour",
                        "该荣誉的授予对象应为服务队、分队或小队",
                    ));
                }
                Ok(unit.display_name)
            }
            RecipientKind::Project => {
                let project = store::replica::project(self.database.reader(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(name.clone()))?;
                let owner = self
                    .unit(&project.org_unit_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(name.clone()))?;
                if !inside(&owner.path) {
                    return Err(ApiError::not_found(name));
                }
                Ok(project.display_name)
            }
        }
    }

    /// Nominates a recipient in the nominating unit's subtree for an honour.
    pub async fn nominate_commendation(
        &self,
        principal: &Principal,
        new: NewCommendation,
        request_id: &str,
    ) -> Result<Commendation, ApiError> {
        access::require(principal, Action::NominateStars)?;
        let scope = self.scope(principal).await?;
        let nominating = self.unit_or_own(&scope, new.org_unit_id.as_deref()).await?;
        // Everything is read before the transaction opens: on SQLite it holds the one
        // writer, which catching up with the registry or the activity service would wait for.
        self.catch_up().await?;
        let honour = self.visible_honour(&scope, &new.honour_id).await?;
        if !honour.active {
            return Err(ApiError::failed_precondition(
                format!("{} is closed for nominations", names::honour(&honour.id)),
                "该荣誉已停止推荐",
            ));
        }
        let today = egret_runtime::wire::today();
        if !(2000..=today.year).contains(&new.year) {
            return Err(ApiError::invalid(
                "year",
                format!("must be between 2000 and {}", today.year),
                format!("年份应在 2000 到 {} 之间", today.year),
            ));
        }
        let (collection, id) = &new.recipient;
        let recipient_display_name = self
            .recipient_in(
                principal,
                &scope,
                &nominating,
                honour.recipient_kind,
                (collection, id),
            )
            .await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("NominateCommendation", request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_commendation(principal, existing.trim_start_matches("commendations/"))
                .await;
        }
        let commendation = Commendation {
            id: egret_storage::new_id(),
            honour_id: honour.id.clone(),
            recipient: format!("{collection}/{id}"),
            recipient_display_name,
            year: new.year,
            citation: new.citation,
            nominating_org_unit_id: nominating.id,
            state: CommendationState::Nominated,
            notice_start_date: None,
            notice_end_date: None,
            objections: Vec::new(),
            decided_by: String::new(),
            decision_comment: String::new(),
            award_time: 0,
            meta: transaction.new_meta(),
        };
        store::commendations::insert(transaction.conn(), &commendation).await?;
        transaction.record_diff(
            COMMENDATION_TYPE,
            names::commendation(&commendation.id),
            Operation::Create,
            None,
            to_json(&commendation),
            "nominated",
        )?;
        transaction
            .finish_request(request_id, &names::commendation(&commendation.id))
            .await?;
        transaction.commit().await?;
        Ok(commendation)
    }

    /// A commendation the caller may see: its own as a volunteer, or one whose nominating or
    /// awarding unit is in its subtree.
    pub async fn get_commendation(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Commendation, ApiError> {
        let not_found = || ApiError::not_found(names::commendation(id));
        let commendation = store::commendations::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if let Some(volunteer) = commendation.recipient.strip_prefix("volunteers/")
            && access::is_self(principal, volunteer)
        {
            return Ok(commendation);
        }
        access::require(principal, Action::ReadStars)?;
        let scope = self.scope(principal).await?;
        let awarding =
            store::commendations::honour(self.database.reader(), &commendation.honour_id)
                .await?
                .map(|honour| honour.org_unit_id)
                .unwrap_or_default();
        let mut visible = false;
        for unit_id in [&commendation.nominating_org_unit_id, &awarding] {
            visible = visible || self.visible_unit(&scope, unit_id).await.is_ok();
        }
        if visible {
            Ok(commendation)
        } else {
            Err(not_found())
        }
    }

    async fn commendation_to_decide(
        &self,
        principal: &Principal,
        id: &str,
        decision: Decision,
    ) -> Result<(Commendation, Honour), ApiError> {
        let commendation = self.get_commendation(principal, id).await?;
        let scope = self.scope(principal).await?;
        let honour = store::commendations::honour(self.database.reader(), &commendation.honour_id)
            .await?
            .ok_or_else(|| ApiError::not_found(names::commendation(id)))?;
        let awarding = self.visible_unit(&scope, &honour.org_unit_id).await.is_ok();
        let nominating = self
            .visible_unit(&scope, &commendation.nominating_org_unit_id)
            .await
            .is_ok();
        let allowed = match decision {
            Decision::Awarding => {
                access::require(principal, Action::ApproveStars)?;
                awarding
            }
            Decision::AwardingOrNominating => {
                access::require(principal, Action::NominateStars)?;
                (awarding && principal.has_any(Action::ApproveStars.roles())) || nominating
            }
        };
        if !allowed {
            return Err(ApiError::permission_denied(
                format!(
                    "this decision belongs to {}, which awards the honour",
                    names::org_unit(&honour.org_unit_id)
                ),
                "此项决定应由授予荣誉的单位作出",
            ));
        }
        Ok((commendation, honour))
    }

    async fn save_commendation(
        &self,
        mut transaction: WriteTx,
        before: &Commendation,
        after: &mut Commendation,
        reason: &str,
    ) -> Result<(), ApiError> {
        after.meta.version = before.meta.version + 1;
        after.meta.update_time = transaction.now();
        if !store::commendations::update(transaction.conn(), after, before.meta.version).await? {
            return Err(egret_storage::changed_concurrently(&names::commendation(
                &after.id,
            )));
        }
        transaction.record_diff(
            COMMENDATION_TYPE,
            names::commendation(&after.id),
            Operation::Update,
            Some(&to_json(before)),
            to_json(after),
            reason,
        )?;
        transaction.commit().await?;
        Ok(())
    }

    /// Takes one step of a commendation's life: review, objection, award or withdrawal.
    /// `text` is the decision's comment, or the objection's content.
    pub async fn decide_commendation(
        &self,
        principal: &Principal,
        id: &str,
        step: Step,
        text: String,
    ) -> Result<Commendation, ApiError> {
        let decision = if step == Step::Withdraw {
            Decision::AwardingOrNominating
        } else {
            Decision::Awarding
        };
        let (before, honour) = self.commendation_to_decide(principal, id, decision).await?;
        let transaction = self.begin(principal).await?;
        let (today, now) = (egret_runtime::wire::today(), transaction.now());
        let mut after = before.clone();
        let reason = match step {
            Step::PassReview => {
                after.pass_review(today, honour.notice_days, now)?;
                if after.state == CommendationState::Awarded {
                    "passed review; awarded (no public notice)"
                } else {
                    "passed review; on public notice"
                }
            }
            Step::Reject => {
                after.reject()?;
                "failed review"
            }
            Step::Object => {
                after.object(
                    today,
                    Objection {
                        recorded_by: principal.subject.clone(),
                        content: text.clone(),
                        record_time: now,
                    },
                )?;
                "objection recorded"
            }
            Step::Award => {
                after.award(today, now)?;
                "awarded"
            }
            Step::Withdraw => {
                after.withdraw()?;
                "withdrawn"
            }
        };
        // An objection is no decision: the last decision and its comment stay.
        if step != Step::Object {
            after.decided_by = principal.subject.clone();
            after.decision_comment = text;
        }
        self.save_commendation(transaction, &before, &mut after, reason)
            .await?;
        Ok(after)
    }

    /// Commendations of one recipient the caller may see (its record of honours), or those
    /// nominated in the caller's subtree.
    pub async fn list_commendations(
        &self,
        principal: &Principal,
        recipient: Option<(&str, &str)>,
        state: Option<CommendationState>,
        page: &PageRequest,
    ) -> Result<(Vec<Commendation>, String), ApiError> {
        let after = page.after.as_deref().unwrap_or("");
        let own = recipient.is_some_and(|(collection, id)| {
            collection == "volunteers" && access::is_self(principal, id)
        });
        let (name, low, high) = match recipient {
            Some((collection, id)) => {
                if !own {
                    access::require(principal, Action::ReadStars)?;
                    let scope = self.scope(principal).await?;
                    let hidden = || ApiError::not_found(format!("{collection}/{id}"));
                    match collection {
                        "volunteers" => drop(self.volunteer_for(principal, &scope, id).await?),
                        "orgUnits" => drop(self.visible_unit(&scope, id).await?),
                        _ => {
                            let project = store::replica::project(self.database.reader(), id)
                                .await?
                                .ok_or_else(hidden)?;
                            self.visible_unit(&scope, &project.org_unit_id)
                                .await
                                .map_err(|_| hidden())?;
                        }
                    }
                }
                (format!("{collection}/{id}"), String::new(), String::new())
            }
            None => {
                access::require(principal, Action::ReadStars)?;
                let scope = self.scope(principal).await?;
                let (low, high) = scope.bounds();
                (String::new(), low, high)
            }
        };
        let mut rows = store::commendations::list(
            self.database.reader(),
            &name,
            (&low, &high),
            state,
            after,
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |commendation| commendation.id.clone());
        Ok((rows, token))
    }

    /// An honour's name ('' when unknown), for responses.
    pub async fn honour_display_name(&self, id: &str) -> Result<String, ApiError> {
        Ok(store::commendations::honour(self.database.reader(), id)
            .await?
            .map(|honour| honour.display_name)
            .unwrap_or_default())
    }
}
