//! 星级志愿者: nominations and awards of volunteer stars.

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

use super::OrgUnit;

/// The life of a star rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StarState {
    /// 已推荐.
    Nominated = 1,
    /// 已授予.
    Awarded = 2,
    /// 未通过.
    Rejected = 3,
    /// 已撤销.
    Revoked = 4,
}

impl StarState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(StarState::Nominated),
            2 => Some(StarState::Awarded),
            3 => Some(StarState::Rejected),
            4 => Some(StarState::Revoked),
            _ => None,
        }
    }
}

/// A star nominated for, or awarded to, a volunteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarRating {
    /// Id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// 1 to 5.
    pub stars: i32,
    /// `2026-H2`.
    pub period: String,
    /// The rules.
    pub rule_set_id: String,
    /// Their revision.
    pub rule_set_revision: i64,
    /// Who nominated.
    pub nominating_org_unit_id: String,
    /// Who approves.
    pub approving_org_unit_id: String,
    /// State.
    pub state: StarState,
    /// The day eligibility was judged on.
    pub evaluation_date: CivilDate,
    /// Approved minutes up to that day.
    pub approved_minutes: i64,
    /// Registration day.
    pub registration_date: CivilDate,
    /// Flagged after hours were corrected downward.
    pub review_required: bool,
    /// Why.
    pub review_reason: String,
    /// Who decided last.
    pub decided_by: String,
    /// The decision's comment.
    pub decision_comment: String,
    /// When awarded (microseconds), 0 before.
    pub award_time: i64,
    /// Bookkeeping.
    pub meta: Meta,
}

impl StarRating {
    /// Checks that a decision (approve or reject) may be taken now.
    pub fn check_decidable(&self) -> Result<(), ApiError> {
        if self.state == StarState::Nominated {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            "only a nomination awaiting approval can be approved or rejected",
            "只有待审批的推荐才能批准或驳回",
        ))
    }

    /// Checks that a review may be settled now.
    pub fn check_reviewable(&self) -> Result<(), ApiError> {
        if self.state == StarState::Awarded && self.review_required {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            "only an awarded star flagged for review can be kept or revoked",
            "只有被标记待复核的已授予星级才能保留或撤销",
        ))
    }
}

/// The unit that approves a star nominated by `lineage`'s last unit: the deepest unit on
/// the path whose tier is at or above `approving_tier` (the corps approves what its own
/// staff nominate even where the rules name a team).
pub fn approving_unit(lineage: &[OrgUnit], approving_tier: i64) -> Option<&OrgUnit> {
    lineage
        .iter()
        .rev()
        .find(|unit| unit.tier <= approving_tier)
        .or_else(|| lineage.first())
}

/// The day a nomination for a period ending `period_end` is judged on: the period's end, or
/// today when the period has not ended.
pub fn evaluation_date(period_end: CivilDate, today: CivilDate) -> CivilDate {
    period_end.min(today)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str, tier: i64) -> OrgUnit {
        OrgUnit {
            id: id.to_string(),
            parent_id: None,
            path: String::new(),
            tier,
            display_name: id.to_string(),
            status: 1,
            version: 1,
        }
    }

    #[test]
    fn approval_goes_to_the_named_tier() {
        let lineage = [unit("corps", 1), unit("team", 2), unit("sub", 3)];
        assert_eq!(approving_unit(&lineage, 2).unwrap().id, "team");
        assert_eq!(approving_unit(&lineage, 1).unwrap().id, "corps");
        assert_eq!(approving_unit(&lineage[..1], 2).unwrap().id, "corps");
    }
}

/// 团队星级: a team's stars for a year, with the checks they rest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamStarRating {
    /// Id ('' for an evaluation not stored).
    pub id: String,
    /// The team.
    pub org_unit_id: String,
    /// The year.
    pub year: i32,
    /// The stars, 0 for none.
    pub stars: i32,
    /// The rules.
    pub rule_set_id: String,
    /// Their revision.
    pub rule_set_revision: i64,
    /// Each level's checks.
    pub levels: Vec<super::rules::TeamLevelCheck>,
    /// Who rated.
    pub rated_by: String,
    /// Bookkeeping.
    pub meta: Meta,
}
