//! The activity service's records and rules, with no I/O.
//!
//! Tag enumerations (themes, fields, target groups, funding source) are kept as their wire
//! numbers, checked at the edge; enumerations that carry rules (statuses) are Rust enums.

pub mod access;
pub mod activity;
pub mod attendance;
pub mod evaluation;
pub mod insurance;
pub mod sign_up;
pub mod training;

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// A unit of the registry's org tree, as replicated from the registry's change log.
pub use egret_sync::replica::OrgUnit;

pub use egret_types::tree::subtree_bounds;

/// 项目状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// 筹备.
    Planning = 1,
    /// 实施.
    Active = 2,
    /// 结项.
    Closed = 3,
    /// 取消.
    Cancelled = 4,
}

impl ProjectStatus {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(ProjectStatus::Planning),
            2 => Some(ProjectStatus::Active),
            3 => Some(ProjectStatus::Closed),
            4 => Some(ProjectStatus::Cancelled),
            _ => None,
        }
    }

    /// English name.
    pub fn name_en(self) -> &'static str {
        match self {
            ProjectStatus::Planning => "planning",
            ProjectStatus::Active => "active",
            ProjectStatus::Closed => "closed",
            ProjectStatus::Cancelled => "cancelled",
        }
    }

    /// 中文名称.
    pub fn name_zh(self) -> &'static str {
        match self {
            ProjectStatus::Planning => "筹备",
            ProjectStatus::Active => "实施",
            ProjectStatus::Closed => "结项",
            ProjectStatus::Cancelled => "取消",
        }
    }

    /// Closed and cancelled projects are history.
    pub fn is_final(self) -> bool {
        matches!(self, ProjectStatus::Closed | ProjectStatus::Cancelled)
    }

    /// Checks a change from `self` to `target`.
    pub fn check_transition(self, target: ProjectStatus, project: &str) -> Result<(), ApiError> {
        let allowed = matches!(
            (self, target),
            (ProjectStatus::Planning, ProjectStatus::Active)
                | (ProjectStatus::Active, ProjectStatus::Closed)
                | (
                    ProjectStatus::Planning | ProjectStatus::Active,
                    ProjectStatus::Cancelled
                )
        );
        if allowed {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            format!(
                "{project} is {} and cannot become {}",
                self.name_en(),
                target.name_en()
            ),
            format!(
                "{project} 当前为{}状态，不能变更为{}",
                self.name_zh(),
                target.name_zh()
            ),
        ))
    }
}

/// 社工.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocialWorker {
    /// 姓名.
    pub name: String,
    /// 联系电话 (normalized).
    pub phone: String,
    /// 证书编号.
    pub certificate_number: String,
}

/// 合作社工机构.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partner {
    /// 机构名称.
    pub name: String,
    /// 统一社会信用代码.
    pub credit_code: String,
    /// 社工.
    pub social_workers: Vec<SocialWorker>,
}

/// A project's descriptive fields, as a caller gives them (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFields {
    /// 项目名称.
    pub display_name: String,
    /// 项目简介.
    pub description: String,
    /// 服务主题.
    pub service_themes: Vec<i32>,
    /// 服务领域.
    pub service_fields: Vec<i32>,
    /// 服务对象.
    pub target_groups: Vec<i32>,
    /// 起始日期.
    pub start_date: CivilDate,
    /// 结束日期.
    pub end_date: CivilDate,
    /// 资金来源 (wire number).
    pub funding_source: i32,
    /// 预算 (分).
    pub budget_fen: i64,
    /// 合作社工机构.
    pub partner: Option<Partner>,
}

/// 项目.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// Globally unique id.
    pub id: String,
    /// The owning unit's id.
    pub org_unit_id: String,
    /// 项目名称.
    pub display_name: String,
    /// 项目简介.
    pub description: String,
    /// 服务主题.
    pub service_themes: Vec<i32>,
    /// 服务领域.
    pub service_fields: Vec<i32>,
    /// 服务对象.
    pub target_groups: Vec<i32>,
    /// 起始日期.
    pub start_date: CivilDate,
    /// 结束日期.
    pub end_date: CivilDate,
    /// 资金来源.
    pub funding_source: i32,
    /// 预算 (分).
    pub budget_fen: i64,
    /// 合作社工机构.
    pub partner: Option<Partner>,
    /// Status.
    pub status: ProjectStatus,
    /// Bookkeeping.
    pub meta: Meta,
}

/// Resource names of the activity service.
pub mod names {
    /// `projects/{id}`.
    pub fn project(id: &str) -> String {
        format!("projects/{id}")
    }

    /// `activities/{id}`.
    pub fn activity(id: &str) -> String {
        format!("activities/{id}")
    }

    /// `activities/{activity}/signUps/{id}`.
    pub fn sign_up(activity_id: &str, id: &str) -> String {
        format!("activities/{activity_id}/signUps/{id}")
    }

    /// `activities/{activity}/attendances/{id}`.
    pub fn attendance(activity_id: &str, id: &str) -> String {
        format!("activities/{activity_id}/attendances/{id}")
    }

    /// `insurancePolicies/{id}`.
    pub fn insurance_policy(id: &str) -> String {
        format!("insurancePolicies/{id}")
    }

    /// `courses/{id}`.
    pub fn course(id: &str) -> String {
        format!("courses/{id}")
    }

    /// `courses/{course}/sessions/{id}`.
    pub fn training_session(course_id: &str, id: &str) -> String {
        format!("courses/{course_id}/sessions/{id}")
    }

    /// `qualifications/{id}`.
    pub fn qualification(id: &str) -> String {
        format!("qualifications/{id}")
    }

    /// `serviceRecords/{id}`.
    pub fn service_record(id: &str) -> String {
        format!("serviceRecords/{id}")
    }

    /// `volunteers/{id}` (a registry resource).
    pub fn volunteer(id: &str) -> String {
        format!("volunteers/{id}")
    }

    /// `orgUnits/{id}` (a registry resource).
    pub fn org_unit(id: &str) -> String {
        format!("orgUnits/{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_lifecycle() {
        use ProjectStatus::*;
        assert!(Planning.check_transition(Active, "p").is_ok());
        assert!(Active.check_transition(Closed, "p").is_ok());
        assert!(Planning.check_transition(Cancelled, "p").is_ok());
        assert!(Active.check_transition(Cancelled, "p").is_ok());
        assert!(Planning.check_transition(Closed, "p").is_err());
        assert!(Closed.check_transition(Active, "p").is_err());
        assert!(Cancelled.check_transition(Active, "p").is_err());
    }
}
