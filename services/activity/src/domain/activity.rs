//! Activities (活动): their lifecycle, positions and the rules for publishing.

use egret_runtime::ApiError;
use egret_types::Meta;
use serde::{Deserialize, Serialize};

/// The longest an activity may last: a month.
pub const MAX_DURATION_MICROS: i64 = 31 * 24 * 3600 * 1_000_000;

/// 活动状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityState {
    /// 草稿.
    Draft = 1,
    /// 已发布.
    Published = 2,
    /// 进行中.
    InProgress = 3,
    /// 已完成.
    Completed = 4,
    /// 已取消.
    Cancelled = 5,
}

impl ActivityState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(ActivityState::Draft),
            2 => Some(ActivityState::Published),
            3 => Some(ActivityState::InProgress),
            4 => Some(ActivityState::Completed),
            5 => Some(ActivityState::Cancelled),
            _ => None,
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            ActivityState::Draft => "a draft",
            ActivityState::Published => "published",
            ActivityState::InProgress => "in progress",
            ActivityState::Completed => "completed",
            ActivityState::Cancelled => "cancelled",
        }
    }

    /// 中文名称.
    pub fn name_zh(self) -> &'static str {
        match self {
            ActivityState::Draft => "草稿",
            ActivityState::Published => "已发布",
            ActivityState::InProgress => "进行中",
            ActivityState::Completed => "已完成",
            ActivityState::Cancelled => "已取消",
        }
    }

    /// Drafts and published activities may still be edited.
    pub fn is_editable(self) -> bool {
        matches!(self, ActivityState::Draft | ActivityState::Published)
    }

    /// Checks a change from `self` to `target`.
    pub fn check_transition(self, target: ActivityState, activity: &str) -> Result<(), ApiError> {
        let allowed = matches!(
            (self, target),
            (ActivityState::Draft, ActivityState::Published)
                | (ActivityState::Published, ActivityState::InProgress)
                | (ActivityState::InProgress, ActivityState::Completed)
                | (
                    ActivityState::Draft | ActivityState::Published | ActivityState::InProgress,
                    ActivityState::Cancelled
                )
        );
        if allowed {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            format!(
                "{activity} is {} and cannot become {}",
                self.name_en(),
                target.name_en()
            ),
            format!(
                "{activity} 当前为{}，不能变更为{}",
                self.name_zh(),
                target.name_zh()
            ),
        ))
    }
}

/// Whether a risk level (wire number) requires accident insurance cover.
pub fn requires_cover(risk_level: i32) -> bool {
    risk_level >= 2
}

/// 签到范围.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInFence {
    /// Latitude of the centre.
    pub latitude: f64,
    /// Longitude of the centre.
    pub longitude: f64,
    /// Radius in metres.
    pub radius_meters: i32,
}

/// 服务地点.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceSite {
    /// 站点名称.
    pub display_name: String,
    /// 地址.
    pub address: String,
    /// 类型 (wire number of SiteKind).
    pub kind: i32,
    /// 签到范围.
    pub check_in_fence: Option<CheckInFence>,
}

/// 招募岗位.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Id within the activity.
    pub position_id: String,
    /// 岗位名称.
    pub role: String,
    /// 招募人数.
    pub headcount: i32,
    /// 技能要求.
    pub required_skills: Vec<String>,
    /// 资质要求.
    pub required_qualifications: Vec<String>,
    /// 最低年龄.
    pub minimum_age: i32,
}

/// Gives new positions ids, keeping the id of a position whose role stays, so that
/// sign-ups to it survive an edit.
pub fn assign_position_ids(existing: &[Position], mut positions: Vec<Position>) -> Vec<Position> {
    for position in &mut positions {
        position.position_id = existing
            .iter()
            .find(|old| old.role == position.role)
            .map(|old| old.position_id.clone())
            .unwrap_or_else(egret_storage::new_id);
    }
    positions
}

/// An activity's descriptive fields, as a caller gives them (validated).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityFields {
    /// 活动名称.
    pub display_name: String,
    /// 活动内容.
    pub description: String,
    /// 服务主题.
    pub service_theme: i32,
    /// 服务领域.
    pub service_field: i32,
    /// 服务对象.
    pub target_groups: Vec<i32>,
    /// 服务地点.
    pub site: ServiceSite,
    /// 开始时间 (microseconds).
    pub start_time: i64,
    /// 结束时间 (microseconds).
    pub end_time: i64,
    /// 风险等级.
    pub risk_level: i32,
    /// 招募岗位 (ids not yet assigned).
    pub positions: Vec<Position>,
    /// 社工带队: names of the project's social workers who lead.
    pub social_worker_leads: Vec<String>,
}

/// 活动.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Globally unique id.
    pub id: String,
    /// The organizing unit.
    pub org_unit_id: String,
    /// The project, if any.
    pub project_id: Option<String>,
    /// 活动名称.
    pub display_name: String,
    /// 活动内容.
    pub description: String,
    /// 服务主题.
    pub service_theme: i32,
    /// 服务领域.
    pub service_field: i32,
    /// 服务对象.
    pub target_groups: Vec<i32>,
    /// 服务地点.
    pub site: ServiceSite,
    /// 开始时间 (microseconds).
    pub start_time: i64,
    /// 结束时间 (microseconds).
    pub end_time: i64,
    /// 风险等级.
    pub risk_level: i32,
    /// 招募岗位.
    pub positions: Vec<Position>,
    /// 社工带队.
    pub social_worker_leads: Vec<String>,
    /// State.
    pub state: ActivityState,
    /// Bookkeeping.
    pub meta: Meta,
}

/// Checks an activity's period: the end after the start, at most [`MAX_DURATION_MICROS`].
pub fn check_period(start_time: i64, end_time: i64) -> Result<(), ApiError> {
    if end_time <= start_time {
        return Err(ApiError::invalid(
            "activity.end_time",
            "must be after the start time",
            "结束时间必须晚于开始时间",
        ));
    }
    if end_time - start_time > MAX_DURATION_MICROS {
        return Err(ApiError::invalid(
            "activity.end_time",
            "an activity lasts at most 31 days; split longer service into several activities",
            "单个活动最长 31 天，更长的服务请分为多个活动",
        ));
    }
    Ok(())
}

/// Checks that `activity` may be published at `now`: it starts in the future and has a
/// position to recruit for.
pub fn check_publishable(activity: &Activity, now: i64, name: &str) -> Result<(), ApiError> {
    if activity.start_time <= now {
        return Err(ApiError::failed_precondition(
            format!(
                "{name} has already started; only future activities can be published (past service is recorded as a back-entry)"
            ),
            format!("{name} 的开始时间已过，只能发布未来的活动（过去的服务请走补录）"),
        ));
    }
    if activity.positions.is_empty() {
        return Err(ApiError::failed_precondition(
            format!("{name} has no position to recruit for"),
            format!("{name} 没有招募岗位"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        use ActivityState::*;
        assert!(Draft.check_transition(Published, "a").is_ok());
        assert!(Published.check_transition(InProgress, "a").is_ok());
        assert!(InProgress.check_transition(Completed, "a").is_ok());
        assert!(Published.check_transition(Cancelled, "a").is_ok());
        assert!(Draft.check_transition(InProgress, "a").is_err());
        assert!(Completed.check_transition(Cancelled, "a").is_err());
        assert!(Cancelled.check_transition(Published, "a").is_err());
    }

    #[test]
    fn position_ids_survive_edits_by_role() {
        let position = |id: &str, role: &str| Position {
            position_id: id.to_string(),
            role: role.to_string(),
            headcount: 1,
            required_skills: vec![],
            required_qualifications: vec![],
            minimum_age: 0,
        };
        let existing = vec![position("a", "引导员"), position("b", "讲解员")];
        let edited = assign_position_ids(
            &existing,
            vec![position("", "讲解员"), position("", "摄影")],
        );
        assert_eq!(edited[0].position_id, "b");
        assert!(!edited[1].position_id.is_empty() && edited[1].position_id != "a");
    }

    #[test]
    fn periods() {
        assert!(check_period(10, 20).is_ok());
        assert!(check_period(20, 20).is_err());
        assert!(check_period(0, MAX_DURATION_MICROS + 1).is_err());
    }
}
