//! Volunteer star ratings: evaluation, nomination through the team, approval at the unit
//! the rules name within quotas, and review when corrected hours no longer support a star.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::replica;
use egret_types::CivilDate;

use super::Recognition;
use crate::domain::access::{self, Action};
use crate::domain::rules::{self, Evaluation};
use crate::domain::stars::{self, StarRating, StarState};
use crate::domain::{HoursChange, names};
use crate::store;

const STAR_RATING_TYPE: &str = "egret.recognition.v1.StarRating";

/// A volunteer's standing against the rules on a day.
#[derive(Debug, Clone)]
pub struct VolunteerEvaluation {
    /// The volunteer.
    pub volunteer_id: String,
    /// The day.
    pub date: CivilDate,
    /// The rules applied.
    pub rule_set_id: String,
    /// Their revision.
    pub rule_set_revision: i64,
    /// The registration day.
    pub registered_on: CivilDate,
    /// The highest star awarded and not revoked.
    pub awarded_stars: i32,
    /// The evaluation.
    pub evaluation: Evaluation,
}

/// Filters of ListStarRatings.
#[derive(Debug, Clone, Default)]
pub struct StarQuery {
    /// The subtree's root; None for the caller's own unit.
    pub org_unit_id: Option<String>,
    /// Only this volunteer's.
    pub volunteer_id: Option<String>,
    /// Only this state.
    pub state: Option<StarState>,
    /// Only those flagged.
    pub review_required: bool,
    /// Only this period.
    pub period: Option<String>,
}

fn to_json(rating: &StarRating) -> serde_json::Value {
    serde_json::to_value(rating).expect("star ratings serialize")
}

fn hours_text(minutes: i64) -> String {
    format!("{} h {} min", minutes / 60, minutes % 60)
}

impl Recognition {
    /// Evaluates a volunteer under the rules in force on `date`.
    pub async fn evaluate_volunteer(
        &self,
        principal: &Principal,
        volunteer_id: &str,
        date: CivilDate,
    ) -> Result<VolunteerEvaluation, ApiError> {
        access::require_unless_self(principal, Action::ReadStars, volunteer_id)?;
        let scope = self.scope(principal).await?;
        self.catch_up().await?;
        let volunteer = self.volunteer_for(principal, &scope, volunteer_id).await?;
        let rule_set = self.rules_in_force(date).await?;
        let minutes =
            store::replica::approved_minutes(self.database.reader(), volunteer_id, Some(date))
                .await?;
        let awarded_stars = store::stars::awarded_to(self.database.reader(), volunteer_id)
            .await?
            .iter()
            .map(|rating| rating.stars)
            .max()
            .unwrap_or(0);
        Ok(VolunteerEvaluation {
            volunteer_id: volunteer.id,
            date,
            evaluation: rules::evaluate(&rule_set.rules, minutes, volunteer.registered_on, date),
            rule_set_id: rule_set.id,
            rule_set_revision: rule_set.revision,
            registered_on: volunteer.registered_on,
            awarded_stars,
        })
    }

    /// Nominates a volunteer serving in the nominating unit's subtree for a star.
    pub async fn nominate_star_rating(
        &self,
        principal: &Principal,
        volunteer_id: &str,
        stars: i32,
        period: &str,
        org_unit_id: Option<&str>,
        request_id: &str,
    ) -> Result<StarRating, ApiError> {
        access::require(principal, Action::NominateStars)?;
        let scope = self.scope(principal).await?;
        let unit = self.unit_or_own(&scope, org_unit_id).await?;
        self.catch_up().await?;
        // Everything is read before the transaction opens: on SQLite it holds the one
        // writer, which catching up with the registry would wait for.
        let volunteer = self.volunteer_for(principal, &scope, volunteer_id).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        if !replica::serves_in(self.database.reader(), volunteer_id, (&low, &high)).await? {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} does not serve in {}: a team nominates its own volunteers",
                    names::volunteer(volunteer_id),
                    names::org_unit(&unit.id)
                ),
                "只能推荐本队伍的志愿者",
            ));
        }
        if !volunteer.is_active() {
            return Err(ApiError::failed_precondition(
                format!("{} is not active", names::volunteer(volunteer_id)),
                "该志愿者不是在册状态",
            ));
        }
        let today = egret_runtime::wire::today();
        let current_rules = self.rules_in_force(today).await?;
        let kind = current_rules.rules.review_period;
        let Some((start, end)) = kind.parse(period) else {
            return Err(ApiError::invalid(
                "period",
                format!(
                    "must be a review period of these rules, like {}",
                    kind.example()
                ),
                format!("应为本规则的评定周期，例如 {}", kind.example()),
            ));
        };
        if start > today {
            return Err(ApiError::invalid(
                "period",
                "has not begun yet",
                "该评定周期尚未开始",
            ));
        }
        let evaluation_date = stars::evaluation_date(end, today);
        let rule_set = self.rules_in_force(evaluation_date).await?;
        let Some(threshold) = rule_set.rules.threshold(stars).cloned() else {
            return Err(ApiError::invalid(
                "stars",
                format!(
                    "must be between 1 and {}",
                    rule_set.rules.star_thresholds.len()
                ),
                format!(
                    "星级应在 1 到 {} 之间",
                    rule_set.rules.star_thresholds.len()
                ),
            ));
        };
        let minutes = store::replica::approved_minutes(
            self.database.reader(),
            volunteer_id,
            Some(evaluation_date),
        )
        .await?;
        let evaluation = rules::evaluate(
            &rule_set.rules,
            minutes,
            volunteer.registered_on,
            evaluation_date,
        );
        if evaluation.qualified_stars < stars {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} has {} of approved service and {} whole years since registration by {evaluation_date}; {stars} stars need {} h and {} years under ruleSets/{} revision {}",
                    names::volunteer(volunteer_id),
                    hours_text(minutes),
                    evaluation.years_registered,
                    threshold.min_hours,
                    threshold.min_years,
                    rule_set.id,
                    rule_set.revision
                ),
                format!(
                    "截至 {evaluation_date}，该志愿者服务时长 {}、注册 {} 年，{stars} 星需 {} 小时、{} 年",
                    hours_text(minutes),
                    evaluation.years_registered,
                    threshold.min_hours,
                    threshold.min_years
                ),
            ));
        }
        let held = store::stars::awarded_to(self.database.reader(), volunteer_id)
            .await?
            .iter()
            .map(|rating| rating.stars)
            .max()
            .unwrap_or(0);
        if held >= stars {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} already holds {held} stars",
                    names::volunteer(volunteer_id)
                ),
                format!("该志愿者已获 {held} 星"),
            ));
        }
        let lineage = replica::lineage(self.database.reader(), &unit).await?;
        let approving = stars::approving_unit(&lineage, threshold.approving_tier)
            .map_or_else(|| unit.id.clone(), |approving| approving.id.clone());
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("NominateStarRating", request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_star_rating(principal, existing.trim_start_matches("starRatings/"))
                .await;
        }
        let rating = StarRating {
            id: egret_storage::new_id(),
            volunteer_id: volunteer_id.to_string(),
            stars,
            period: period.to_string(),
            rule_set_id: rule_set.id.clone(),
            rule_set_revision: rule_set.revision,
            nominating_org_unit_id: unit.id.clone(),
            approving_org_unit_id: approving,
            state: StarState::Nominated,
            evaluation_date,
            approved_minutes: minutes,
            registration_date: volunteer.registered_on,
            review_required: false,
            review_reason: String::new(),
            decided_by: String::new(),
            decision_comment: String::new(),
            award_time: 0,
            meta: transaction.new_meta(),
        };
        store::stars::insert(transaction.conn(), &rating).await?;
        transaction.record_diff(
            STAR_RATING_TYPE,
            names::star_rating(&rating.id),
            Operation::Create,
            None,
            to_json(&rating),
            "nominated",
        )?;
        transaction
            .finish_request(request_id, &names::star_rating(&rating.id))
            .await?;
        transaction.commit().await?;
        Ok(rating)
    }

    /// A rating the caller may see: its own, or one nominated or approved in its subtree.
    pub async fn get_star_rating(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<StarRating, ApiError> {
        let not_found = || ApiError::not_found(names::star_rating(id));
        let rating = store::stars::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if access::is_self(principal, &rating.volunteer_id) {
            return Ok(rating);
        }
        access::require(principal, Action::ReadStars)?;
        let scope = self.scope(principal).await?;
        let mut visible = false;
        for unit_id in [
            &rating.nominating_org_unit_id,
            &rating.approving_org_unit_id,
        ] {
            visible = visible || self.visible_unit(&scope, unit_id).await.is_ok();
        }
        if visible {
            Ok(rating)
        } else {
            Err(not_found())
        }
    }

    /// A rating the caller decides on: the approving unit must be in its subtree.
    async fn rating_to_decide(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<StarRating, ApiError> {
        access::require(principal, Action::ApproveStars)?;
        let rating = self.get_star_rating(principal, id).await?;
        let scope = self.scope(principal).await?;
        if self
            .visible_unit(&scope, &rating.approving_org_unit_id)
            .await
            .is_err()
        {
            return Err(ApiError::permission_denied(
                format!(
                    "the rules give this decision to {}",
                    names::org_unit(&rating.approving_org_unit_id)
                ),
                "按评定规则，应由上级审批单位决定",
            ));
        }
        Ok(rating)
    }

    async fn save_decision(
        &self,
        mut transaction: WriteTx,
        before: &StarRating,
        after: &mut StarRating,
        reason: &str,
    ) -> Result<(), ApiError> {
        after.meta.version = before.meta.version + 1;
        after.meta.update_time = transaction.now();
        if !store::stars::update(transaction.conn(), after, before.meta.version).await? {
            return Err(egret_storage::changed_concurrently(&names::star_rating(
                &after.id,
            )));
        }
        transaction.record_diff(
            STAR_RATING_TYPE,
            names::star_rating(&after.id),
            Operation::Update,
            Some(&to_json(before)),
            to_json(after),
            reason,
        )?;
        transaction.commit().await?;
        Ok(())
    }

    /// Approves a nomination: the volunteer must still qualify, and the quota of the
    /// approving unit for the level and period must have room.
    pub async fn approve_star_rating(
        &self,
        principal: &Principal,
        id: &str,
        comment: String,
    ) -> Result<StarRating, ApiError> {
        let before = self.rating_to_decide(principal, id).await?;
        before.check_decidable()?;
        self.catch_up().await?;
        let rule_set = store::rules::get(
            self.database.reader(),
            &before.rule_set_id,
            before.rule_set_revision,
        )
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "rule set {} revision {} is gone",
                before.rule_set_id,
                before.rule_set_revision
            ))
        })?;
        let mut transaction = self.begin(principal).await?;
        // Approvals at one unit queue here, so two cannot both take the last place of a
        // quota.
        sqlx::query("UPDATE org_units SET version = version WHERE id = $1")
            .bind(&before.approving_org_unit_id)
            .execute(transaction.conn())
            .await
            .map_err(egret_storage::rows::sql_error("org unit"))?;
        let minutes = store::replica::approved_minutes(
            transaction.conn(),
            &before.volunteer_id,
            Some(before.evaluation_date),
        )
        .await?;
        let evaluation = rules::evaluate(
            &rule_set.rules,
            minutes,
            before.registration_date,
            before.evaluation_date,
        );
        if evaluation.qualified_stars < before.stars {
            return Err(ApiError::failed_precondition(
                format!(
                    "the volunteer's approved hours by {} are now {}, no longer enough for {} stars",
                    before.evaluation_date,
                    hours_text(minutes),
                    before.stars
                ),
                format!(
                    "截至 {} 的服务时长已变为 {}，不再满足 {} 星条件",
                    before.evaluation_date,
                    hours_text(minutes),
                    before.stars
                ),
            ));
        }
        let quota = rule_set.rules.quota(before.stars);
        if quota > 0 {
            let awarded = store::stars::awarded_count(
                transaction.conn(),
                &before.approving_org_unit_id,
                &before.period,
                before.stars,
            )
            .await?;
            if awarded >= i64::from(quota) {
                return Err(ApiError::failed_precondition(
                    format!(
                        "the quota of {quota} {}-star awards for {} at {} is used up",
                        before.stars,
                        before.period,
                        names::org_unit(&before.approving_org_unit_id)
                    ),
                    format!(
                        "{} 的 {} 星名额（{quota} 名）已用完",
                        before.period, before.stars
                    ),
                ));
            }
        }
        let mut after = before.clone();
        after.state = StarState::Awarded;
        after.award_time = transaction.now();
        after.decided_by = principal.subject.clone();
        after.decision_comment = comment;
        self.save_decision(transaction, &before, &mut after, "awarded")
            .await?;
        Ok(after)
    }

    /// Rejects a nomination.
    pub async fn reject_star_rating(
        &self,
        principal: &Principal,
        id: &str,
        comment: String,
    ) -> Result<StarRating, ApiError> {
        let before = self.rating_to_decide(principal, id).await?;
        before.check_decidable()?;
        let transaction = self.begin(principal).await?;
        let mut after = before.clone();
        after.state = StarState::Rejected;
        after.decided_by = principal.subject.clone();
        after.decision_comment = comment;
        self.save_decision(transaction, &before, &mut after, "rejected")
            .await?;
        Ok(after)
    }

    /// Settles a star flagged for review: keeps it, or revokes it.
    pub async fn resolve_star_rating_review(
        &self,
        principal: &Principal,
        id: &str,
        revoke: bool,
        comment: String,
    ) -> Result<StarRating, ApiError> {
        let before = self.rating_to_decide(principal, id).await?;
        before.check_reviewable()?;
        let transaction = self.begin(principal).await?;
        let mut after = before.clone();
        after.review_required = false;
        if revoke {
            after.state = StarState::Revoked;
        }
        after.decided_by = principal.subject.clone();
        after.decision_comment = comment;
        let reason = if revoke {
            "revoked after review"
        } else {
            "kept after review"
        };
        self.save_decision(transaction, &before, &mut after, reason)
            .await?;
        Ok(after)
    }

    /// Ratings nominated in a subtree, or the calling volunteer's own.
    pub async fn list_star_ratings(
        &self,
        principal: &Principal,
        query: &StarQuery,
        page: &PageRequest,
    ) -> Result<(Vec<StarRating>, String), ApiError> {
        let own = query
            .volunteer_id
            .as_deref()
            .is_some_and(|volunteer| access::is_self(principal, volunteer));
        let (low, high) = if own {
            // A volunteer's own ratings, wherever they were nominated.
            (String::new(), "\u{7f}".to_string())
        } else {
            access::require(principal, Action::ReadStars)?;
            let scope = self.scope(principal).await?;
            let unit = self
                .unit_or_own(&scope, query.org_unit_id.as_deref())
                .await?;
            egret_types::tree::subtree_bounds(&unit.path)
        };
        let filter = store::stars::Filter {
            bounds: (&low, &high),
            volunteer_id: query.volunteer_id.as_deref(),
            state: query.state,
            review_required: query.review_required,
            period: query.period.as_deref(),
        };
        let mut rows = store::stars::list(
            self.database.reader(),
            &filter,
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |rating| rating.id.clone());
        Ok((rows, token))
    }
}

/// Flags, never removes, each awarded star that the volunteer's approved hours up to its
/// evaluation day no longer support after `change` took minutes away.
pub async fn follow_hours(transaction: &mut WriteTx, change: &HoursChange) -> Result<(), ApiError> {
    if !change.decreased() {
        return Ok(());
    }
    for before in store::stars::awarded_to(transaction.conn(), &change.volunteer_id).await? {
        if before.review_required {
            continue;
        }
        let Some(rule_set) = store::rules::get(
            transaction.conn(),
            &before.rule_set_id,
            before.rule_set_revision,
        )
        .await?
        else {
            continue;
        };
        let Some(threshold) = rule_set.rules.threshold(before.stars) else {
            continue;
        };
        let minutes = store::replica::approved_minutes(
            transaction.conn(),
            &change.volunteer_id,
            Some(before.evaluation_date),
        )
        .await?;
        if minutes >= i64::from(threshold.min_hours) * 60 {
            continue;
        }
        let mut after = before.clone();
        after.review_required = true;
        after.review_reason = format!(
            "approved hours up to {} fell to {} after {} changed; {} stars need {} h",
            before.evaluation_date,
            hours_text(minutes),
            names::service_record(&change.record_id),
            before.stars,
            threshold.min_hours
        );
        after.meta.version = before.meta.version + 1;
        after.meta.update_time = transaction.now();
        if !store::stars::update(transaction.conn(), &after, before.meta.version).await? {
            return Err(egret_storage::changed_concurrently(&names::star_rating(
                &after.id,
            )));
        }
        transaction.record_diff(
            STAR_RATING_TYPE,
            names::star_rating(&after.id),
            Operation::Update,
            Some(&to_json(&before)),
            to_json(&after),
            "flagged for review: hours corrected downward",
        )?;
    }
    Ok(())
}
