//! Recruitment (招募): sign-ups, the waiting list, decisions and cancellations.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx, changed_concurrently, touch};
use egret_sync::RecordChanges;
use serde_json::Value;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::activity::{Activity, ActivityState};
use crate::domain::names;
use crate::domain::sign_up::{SignUp, SignUpState, check_eligible, find_position};
use crate::store::{self, sign_ups::SignUpFilter};

const SIGN_UP_TYPE: &str = "egret.activity.v1.SignUp";

/// Which sign-ups to list.
#[derive(Debug, Clone, Default)]
pub struct SignUpQuery {
    /// One activity, or None for every activity (`activities/-`, with a volunteer).
    pub activity: Option<String>,
    /// One volunteer.
    pub volunteer: Option<String>,
    /// One position.
    pub position_id: Option<String>,
    /// State filter.
    pub state: Option<SignUpState>,
}

impl SignUpQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

fn payload(sign_up: &SignUp) -> Value {
    serde_json::to_value(sign_up).expect("sign-ups serialize")
}

fn record(
    transaction: &mut WriteTx,
    sign_up: &SignUp,
    operation: Operation,
    before: Option<&Value>,
    reason: &str,
) -> Result<(), ApiError> {
    transaction.record_diff(
        SIGN_UP_TYPE,
        names::sign_up(&sign_up.activity_id, &sign_up.id),
        operation,
        before,
        payload(sign_up),
        reason,
    )
}

impl Service {
    /// The sign-up `activities/{activity_id}/signUps/{id}` if the caller may see it: its
    /// own, or one of an activity in the caller's subtree.
    async fn visible_sign_up(
        &self,
        principal: &Principal,
        scope: &Scope,
        activity_id: &str,
        id: &str,
    ) -> Result<(SignUp, Activity), ApiError> {
        let not_found = || ApiError::not_found(names::sign_up(activity_id, id));
        access::require_unless_volunteer(principal, Action::ReadSignUps)?;
        let sign_up = store::sign_ups::get(self.database.reader(), id)
            .await?
            .filter(|sign_up| sign_up.activity_id == activity_id)
            .filter(|sign_up| {
                access::may_read_owned(principal, Action::ReadSignUps, &sign_up.volunteer_id)
            })
            .ok_or_else(not_found)?;
        let activity = self
            .visible_activity(scope, activity_id)
            .await
            .map_err(|_| not_found())?;
        Ok((sign_up, activity))
    }

    /// Signs a volunteer up for a position of a published activity.
    pub async fn create_sign_up(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: &str,
        position_id: &str,
        request_id: &str,
    ) -> Result<SignUp, ApiError> {
        if !access::is_self(principal, volunteer_id) {
            access::require(principal, Action::ManageSignUps)?;
        }
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        let activity_name = names::activity(activity_id);
        if activity.state != ActivityState::Published {
            return Err(ApiError::failed_precondition(
                format!(
                    "{activity_name} is {}; volunteers sign up while it is published",
                    activity.state.name_en()
                ),
                format!(
                    "{activity_name} {}，只有已发布的活动可以报名",
                    activity.state.name_zh()
                ),
            ));
        }
        let position = find_position(&activity, position_id)?;
        let volunteer = self.volunteer_for(principal, &scope, volunteer_id).await?;
        let held = store::training::held_by(self.database.reader(), &volunteer.id).await?;
        check_eligible(&volunteer, &activity, position, &held)?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateSignUp", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.rsplit('/').next().unwrap_or_default().to_string();
            return self
                .visible_sign_up(principal, &scope, activity_id, &id)
                .await
                .map(|(sign_up, _)| sign_up);
        }
        // Volunteer first, activity second, always: the same order everywhere, so two
        // transactions never wait for each other in a circle.
        store::volunteers::lock(transaction.conn(), &volunteer.id).await?;
        store::sign_ups::lock_activity(transaction.conn(), &activity.id).await?;
        if let Some(other) = store::sign_ups::overlapping_booking(
            transaction.conn(),
            &volunteer.id,
            &activity.id,
            activity.start_time,
            activity.end_time,
        )
        .await?
        {
            return Err(ApiError::failed_precondition(
                format!(
                    "volunteer {} is already booked for {other} at an overlapping time",
                    volunteer.display_name
                ),
                format!(
                    "志愿者 {} 在重叠时间已报名活动「{other}」",
                    volunteer.display_name
                ),
            ));
        }
        let taken =
            store::sign_ups::places_taken(transaction.conn(), &activity.id, position_id).await?;
        let state = if taken < i64::from(position.headcount) {
            SignUpState::Pending
        } else {
            SignUpState::Waitlisted
        };
        let mut sign_up = SignUp {
            id: egret_storage::new_id(),
            activity_id: activity.id.clone(),
            volunteer_id: volunteer.id.clone(),
            volunteer_display_name: volunteer.display_name.clone(),
            position_id: position_id.to_string(),
            state,
            waitlist_position: 0,
            decided_by: String::new(),
            comment: String::new(),
            meta: transaction.new_meta(),
        };
        store::sign_ups::insert(transaction.conn(), &sign_up).await?;
        record(&mut transaction, &sign_up, Operation::Create, None, "")?;
        let name = names::sign_up(&activity.id, &sign_up.id);
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        if let Some(stored) = store::sign_ups::get(self.database.reader(), &sign_up.id).await? {
            sign_up.waitlist_position = stored.waitlist_position;
        }
        Ok(sign_up)
    }

    /// Gets a sign-up.
    pub async fn get_sign_up(
        &self,
        principal: &Principal,
        activity_id: &str,
        id: &str,
    ) -> Result<SignUp, ApiError> {
        let scope = self.scope(principal).await?;
        self.visible_sign_up(principal, &scope, activity_id, id)
            .await
            .map(|(sign_up, _)| sign_up)
    }

    /// Lists the sign-ups of an activity, or a volunteer's own.
    pub async fn list_sign_ups(
        &self,
        principal: &Principal,
        query: &SignUpQuery,
        page: &PageRequest,
    ) -> Result<(Vec<SignUp>, String), ApiError> {
        let own = query
            .volunteer
            .as_deref()
            .is_some_and(|volunteer| access::is_self(principal, volunteer));
        if !own {
            access::require(principal, Action::ReadSignUps)?;
        }
        let scope = self.scope(principal).await?;
        match &query.activity {
            Some(activity_id) => {
                self.visible_activity(&scope, activity_id).await?;
            }
            None if own => {}
            None => {
                return Err(ApiError::invalid(
                    "parent",
                    "must name an activity; activities/- lists one volunteer's own sign-ups",
                    "必须指定活动；activities/- 仅用于查询志愿者本人的报名",
                ));
            }
        }
        let filter = SignUpFilter {
            activity_id: query.activity.clone().unwrap_or_default(),
            volunteer_id: query.volunteer.clone().unwrap_or_default(),
            position_id: query.position_id.clone().unwrap_or_default(),
            state: query.state.map_or(0, |state| state as i64),
        };
        let mut sign_ups = store::sign_ups::list(
            self.database.reader(),
            &filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut sign_ups, |sign_up| sign_up.id.clone());
        Ok((sign_ups, next))
    }

    /// Approves, rejects or cancels a sign-up. A place freed by a rejection or
    /// cancellation goes to the oldest waitlisted sign-up of the same position.
    pub async fn decide_sign_up(
        &self,
        principal: &Principal,
        activity_id: &str,
        id: &str,
        target: SignUpState,
        comment: &str,
    ) -> Result<SignUp, ApiError> {
        let scope = self.scope(principal).await?;
        let (sign_up, activity) = self
            .visible_sign_up(principal, &scope, activity_id, id)
            .await?;
        let own_cancellation =
            target == SignUpState::Cancelled && access::is_self(principal, &sign_up.volunteer_id);
        if !own_cancellation {
            access::require(principal, Action::ManageSignUps)?;
        }
        let name = names::sign_up(activity_id, id);
        sign_up.state.check_transition(target, &name)?;
        if matches!(
            activity.state,
            ActivityState::Completed | ActivityState::Cancelled
        ) {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is {}; its sign-ups no longer change",
                    names::activity(activity_id),
                    activity.state.name_en()
                ),
                format!(
                    "{} {}，报名不能再变更",
                    names::activity(activity_id),
                    activity.state.name_zh()
                ),
            ));
        }
        if target == SignUpState::Approved {
            let volunteer = self
                .feed
                .current_volunteer(&sign_up.volunteer_id)
                .await?
                .ok_or_else(|| ApiError::not_found(names::volunteer(&sign_up.volunteer_id)))?;
            let position = find_position(&activity, &sign_up.position_id)?;
            let held = store::training::held_by(self.database.reader(), &volunteer.id).await?;
            check_eligible(&volunteer, &activity, position, &held)?;
            self.require_cover(&activity, Some((&volunteer.id, &volunteer.display_name)))
                .await?;
        }
        let mut transaction = self.begin(principal).await?;
        store::sign_ups::lock_activity(transaction.conn(), &activity.id).await?;
        let mut decided = store::sign_ups::get(transaction.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found(name.clone()))?;
        decided.state.check_transition(target, &name)?;
        let freed = decided.state.holds_place() && !target.holds_place();
        let before = payload(&decided);
        decided.state = target;
        decided.decided_by = principal.subject.clone();
        decided.comment = comment.to_string();
        touch(&mut decided.meta, transaction.now());
        if !store::sign_ups::update(transaction.conn(), &decided).await? {
            return Err(changed_concurrently(&name));
        }
        record(
            &mut transaction,
            &decided,
            Operation::Update,
            Some(&before),
            comment,
        )?;
        if freed
            && let Some(mut next) = store::sign_ups::next_waitlisted(
                transaction.conn(),
                &activity.id,
                &decided.position_id,
            )
            .await?
        {
            let before = payload(&next);
            next.state = SignUpState::Pending;
            touch(&mut next.meta, transaction.now());
            if !store::sign_ups::update(transaction.conn(), &next).await? {
                return Err(changed_concurrently("sign-up"));
            }
            record(
                &mut transaction,
                &next,
                Operation::Update,
                Some(&before),
                "a place became free",
            )?;
        }
        transaction.commit().await?;
        decided.waitlist_position = 0;
        Ok(decided)
    }
}
