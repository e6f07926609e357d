//! Recruitment (招募): sign-ups, the waiting list and the checks a volunteer must pass.

use egret_runtime::ApiError;
use egret_types::identity::age_on;
use egret_types::{CivilDate, Meta, china_date};
use serde::{Deserialize, Serialize};

use super::activity::{Activity, Position};
use super::training::{Qualification, missing_qualifications};

/// 报名状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignUpState {
    /// 待审核: holds a place.
    Pending = 1,
    /// 候补.
    Waitlisted = 2,
    /// 已录用: holds a place.
    Approved = 3,
    /// 未录用.
    Rejected = 4,
    /// 已取消.
    Cancelled = 5,
}

impl SignUpState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(SignUpState::Pending),
            2 => Some(SignUpState::Waitlisted),
            3 => Some(SignUpState::Approved),
            4 => Some(SignUpState::Rejected),
            5 => Some(SignUpState::Cancelled),
            _ => None,
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            SignUpState::Pending => "pending",
            SignUpState::Waitlisted => "waitlisted",
            SignUpState::Approved => "approved",
            SignUpState::Rejected => "rejected",
            SignUpState::Cancelled => "cancelled",
        }
    }

    /// 中文名称.
    pub fn name_zh(self) -> &'static str {
        match self {
            SignUpState::Pending => "待审核",
            SignUpState::Waitlisted => "候补",
            SignUpState::Approved => "已录用",
            SignUpState::Rejected => "未录用",
            SignUpState::Cancelled => "已取消",
        }
    }

    /// Pending and approved sign-ups hold one of the position's places.
    pub fn holds_place(self) -> bool {
        matches!(self, SignUpState::Pending | SignUpState::Approved)
    }

    /// Checks a change from `self` to `target`.
    pub fn check_transition(self, target: SignUpState, sign_up: &str) -> Result<(), ApiError> {
        let allowed = matches!(
            (self, target),
            (SignUpState::Pending, SignUpState::Approved)
                | (
                    SignUpState::Pending | SignUpState::Waitlisted,
                    SignUpState::Rejected
                )
                | (
                    SignUpState::Pending | SignUpState::Waitlisted | SignUpState::Approved,
                    SignUpState::Cancelled
                )
        );
        if allowed {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            format!(
                "{sign_up} is {} and cannot become {}",
                self.name_en(),
                target.name_en()
            ),
            format!(
                "{sign_up} 当前为{}，不能变更为{}",
                self.name_zh(),
                target.name_zh()
            ),
        ))
    }
}

/// A volunteer, as replicated from the registry's change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volunteer {
    /// The registry's id.
    pub id: String,
    /// 姓名.
    pub display_name: String,
    /// 出生日期.
    pub birth_date: CivilDate,
    /// Status number (1 active, 2 inactive, 3 withdrawn).
    pub status: i64,
    /// The unit that registered the volunteer.
    pub registering_org_unit_id: String,
    /// The registry record's version.
    pub version: i64,
}

/// 报名.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {
    /// Globally unique id.
    pub id: String,
    /// The activity.
    pub activity_id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The volunteer's name (from the replica; not stored with the sign-up).
    #[serde(skip)]
    pub volunteer_display_name: String,
    /// The position.
    pub position_id: String,
    /// State.
    pub state: SignUpState,
    /// Place on the waiting list (computed; 0 unless waitlisted).
    #[serde(skip)]
    pub waitlist_position: i64,
    /// Who decided or cancelled.
    pub decided_by: String,
    /// The comment or reason.
    pub comment: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// The position `position_id` of `activity`, or INVALID_ARGUMENT.
pub fn find_position<'a>(
    activity: &'a Activity,
    position_id: &str,
) -> Result<&'a Position, ApiError> {
    activity
        .positions
        .iter()
        .find(|position| position.position_id == position_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "sign_up.position_id",
                "is not a position of this activity",
                "不是该活动的招募岗位",
            )
        })
}

/// Checks that `volunteer` may take `position` of `activity`: active, old enough on the
/// activity's first day, and holding every required qualification valid through its last
/// day (`held` are the volunteer's qualifications).
pub fn check_eligible(
    volunteer: &Volunteer,
    activity: &Activity,
    position: &Position,
    held: &[Qualification],
) -> Result<(), ApiError> {
    if volunteer.status != 1 {
        return Err(ApiError::failed_precondition(
            format!(
                "volunteer {} is not active in the registry",
                volunteer.display_name
            ),
            format!("志愿者 {} 在注册系统中不是正常状态", volunteer.display_name),
        ));
    }
    let age = age_on(volunteer.birth_date, china_date(activity.start_time));
    if position.minimum_age > 0 && age < position.minimum_age as u32 {
        return Err(ApiError::failed_precondition(
            format!(
                "the position {} needs volunteers aged {} or more; {} will be {age}",
                position.role, position.minimum_age, volunteer.display_name
            ),
            format!(
                "岗位 {} 要求年满 {} 岁，{} 届时 {age} 岁",
                position.role, position.minimum_age, volunteer.display_name
            ),
        ));
    }
    let missing = missing_qualifications(
        &position.required_qualifications,
        held,
        china_date(activity.end_time),
    );
    if !missing.is_empty() {
        return Err(ApiError::failed_precondition(
            format!(
                "the position {} needs the qualifications {}, which volunteer {} does not hold (valid through the activity)",
                position.role,
                missing.join(", "),
                volunteer.display_name
            ),
            format!(
                "岗位 {} 要求资质：{}，志愿者 {} 不具备或已过期",
                position.role,
                missing.join("、"),
                volunteer.display_name
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_up_lifecycle() {
        use SignUpState::*;
        assert!(Pending.check_transition(Approved, "s").is_ok());
        assert!(Waitlisted.check_transition(Approved, "s").is_err());
        assert!(Waitlisted.check_transition(Rejected, "s").is_ok());
        assert!(Approved.check_transition(Cancelled, "s").is_ok());
        assert!(Approved.check_transition(Rejected, "s").is_err());
        assert!(Cancelled.check_transition(Pending, "s").is_err());
        assert!(Pending.holds_place() && Approved.holds_place() && !Waitlisted.holds_place());
    }
}
