//! The registry's records and rules, with no I/O: what an org unit, a form, a volunteer
//! and a membership are, and which changes to them are allowed.
//!
//! Plain tag enumerations (team level, categories, service fields and themes, availability)
//! are kept as their wire numbers, checked at the edge; enumerations that carry rules
//! (tier, statuses) are Rust enums.

pub mod access;
pub mod numbering;
pub mod org;
pub mod payload;

use egret_runtime::Violation;
use serde::{Deserialize, Serialize};

pub use egret_types::identity::{self, CivilDate, Gender, IdType};

pub use egret_types::Meta;

/// 组织层级.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// 总队, the root.
    Corps = 1,
    /// 服务队.
    Team = 2,
    /// 分队.
    SubTeam = 3,
    /// 小队.
    Squad = 4,
}

impl Tier {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(Tier::Corps),
            2 => Some(Tier::Team),
            3 => Some(Tier::SubTeam),
            4 => Some(Tier::Squad),
            _ => None,
        }
    }

    /// English name, for messages.
    pub fn name_en(self) -> &'static str {
        match self {
            Tier::Corps => "corps",
            Tier::Team => "team",
            Tier::SubTeam => "sub-team",
            Tier::Squad => "squad",
        }
    }

    /// 中文名称.
    pub fn name_zh(self) -> &'static str {
        match self {
            Tier::Corps => "总队",
            Tier::Team => "服务队",
            Tier::SubTeam => "分队",
            Tier::Squad => "小队",
        }
    }

    /// From the stored name (`corps`, `team`, `sub_team`, `squad`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "corps" => Some(Tier::Corps),
            "team" => Some(Tier::Team),
            "sub_team" => Some(Tier::SubTeam),
            "squad" => Some(Tier::Squad),
            _ => None,
        }
    }

    /// The tier a parent of this tier must have; None for the root.
    pub fn parent_tier(self) -> Option<Tier> {
        match self {
            Tier::Corps => None,
            Tier::Team => Some(Tier::Corps),
            Tier::SubTeam => Some(Tier::Team),
            Tier::Squad => Some(Tier::SubTeam),
        }
    }

    /// Teams and sub-teams keep a registration form (登记表).
    pub fn has_registration_form(self) -> bool {
        matches!(self, Tier::Team | Tier::SubTeam)
    }
}

/// 组织状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    /// 正常.
    Active = 1,
    /// 暂停.
    Suspended = 2,
    /// 解散.
    Dissolved = 3,
    /// 合并.
    Merged = 4,
}

impl OrgStatus {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(OrgStatus::Active),
            2 => Some(OrgStatus::Suspended),
            3 => Some(OrgStatus::Dissolved),
            4 => Some(OrgStatus::Merged),
            _ => None,
        }
    }

    /// From the stored name (`active`, `suspended`, `dissolved`, `merged`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "active" => Some(OrgStatus::Active),
            "suspended" => Some(OrgStatus::Suspended),
            "dissolved" => Some(OrgStatus::Dissolved),
            "merged" => Some(OrgStatus::Merged),
            _ => None,
        }
    }

    /// English name, for messages and history.
    pub fn name_en(self) -> &'static str {
        match self {
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
            OrgStatus::Dissolved => "dissolved",
            OrgStatus::Merged => "merged",
        }
    }

    /// 中文名称.
    pub fn name_zh(self) -> &'static str {
        match self {
            OrgStatus::Active => "正常",
            OrgStatus::Suspended => "暂停",
            OrgStatus::Dissolved => "解散",
            OrgStatus::Merged => "合并",
        }
    }

    /// Dissolved and merged units are history: nothing is added under or to them.
    pub fn is_final(self) -> bool {
        matches!(self, OrgStatus::Dissolved | OrgStatus::Merged)
    }
}

/// An org unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgUnit {
    /// Globally unique id.
    pub id: String,
    /// None for the root.
    pub parent_id: Option<String>,
    /// `/root-id/…/own-id/`.
    pub path: String,
    /// Tier.
    pub tier: Tier,
    /// 队伍名称.
    pub display_name: String,
    /// 队伍级别 (wire number of TeamLevel; 0 when unset).
    pub level: i32,
    /// 类别 (wire numbers of TeamCategory).
    pub categories: Vec<i32>,
    /// 服务领域 (wire numbers of ServiceField).
    pub service_fields: Vec<i32>,
    /// 服务主题 (wire numbers of ServiceTheme).
    pub service_themes: Vec<i32>,
    /// Status.
    pub status: OrgStatus,
    /// Where it was merged into.
    pub merged_into: Option<String>,
    /// Bookkeeping.
    pub meta: Meta,
}

impl OrgUnit {
    /// The ids from the root down to this unit.
    pub fn ancestor_ids(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter(|part| !part.is_empty())
            .collect()
    }
}

/// A new org unit's fields, as a caller gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrgUnit {
    /// Tier.
    pub tier: Tier,
    /// 队伍名称, trimmed.
    pub display_name: String,
    /// 队伍级别.
    pub level: i32,
    /// 类别.
    pub categories: Vec<i32>,
    /// 服务领域.
    pub service_fields: Vec<i32>,
    /// 服务主题.
    pub service_themes: Vec<i32>,
}

/// 主要骨干.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMember {
    /// 姓名.
    pub name: String,
    /// 职务.
    pub position: String,
    /// 联系电话 (normalized).
    pub phone: String,
    /// 工作单位.
    pub workplace: String,
    /// 邮箱.
    pub email: String,
}

/// 登记表.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationForm {
    /// The team or sub-team.
    pub org_unit_id: String,
    /// 档案编号.
    pub archive_number: String,
    /// 队伍编号.
    pub team_number: String,
    /// 负责人.
    pub leader_name: String,
    /// 单位名称.
    pub host_unit: String,
    /// 成员人数 as declared.
    pub declared_member_count: i64,
    /// 成立时间.
    pub founded_on: Option<CivilDate>,
    /// 联系电话.
    pub phone: String,
    /// 邮箱.
    pub email: String,
    /// 联系地址.
    pub address: String,
    /// 主要骨干.
    pub key_members: Vec<KeyMember>,
    /// 服务特色.
    pub service_features: String,
    /// 获奖情况.
    pub awards: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// 志愿者状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolunteerStatus {
    /// 正常.
    Active = 1,
    /// 暂停.
    Inactive = 2,
    /// 注销.
    Withdrawn = 3,
}

impl VolunteerStatus {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(VolunteerStatus::Active),
            2 => Some(VolunteerStatus::Inactive),
            3 => Some(VolunteerStatus::Withdrawn),
            _ => None,
        }
    }

    /// English name, for history.
    pub fn name_en(self) -> &'static str {
        match self {
            VolunteerStatus::Active => "active",
            VolunteerStatus::Inactive => "inactive",
            VolunteerStatus::Withdrawn => "withdrawn",
        }
    }
}

/// 紧急联系人.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    /// 姓名.
    pub name: String,
    /// 关系.
    pub relationship: String,
    /// 联系电话 (normalized).
    pub phone: String,
}

/// A registered volunteer, as stored: the ID number only masked here (the ciphertext stays
/// in the store and is decrypted only for an audited reveal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volunteer {
    /// Globally unique id.
    pub id: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// 姓名.
    pub display_name: String,
    /// 证件类型.
    pub id_type: IdType,
    /// Keyed hash of the normalized ID number (this instance's lookup key).
    pub id_number_hash: String,
    /// Hash of the normalized ID number under the federation key; empty without one.
    pub id_number_federation_hash: String,
    /// The masked ID number.
    pub id_number_masked: String,
    /// 出生日期.
    pub birth_date: CivilDate,
    /// 性别.
    pub gender: Gender,
    /// 手机 (normalized).
    pub phone: String,
    /// 邮箱.
    pub email: String,
    /// 技能特长.
    pub skills: Vec<String>,
    /// 服务领域.
    pub service_fields: Vec<i32>,
    /// 服务主题.
    pub service_themes: Vec<i32>,
    /// 可服务时间 (wire numbers of Availability).
    pub availability: Vec<i32>,
    /// 紧急联系人.
    pub emergency_contact: EmergencyContact,
    /// Status.
    pub status: VolunteerStatus,
    /// The unit that registered the volunteer.
    pub registering_org_unit_id: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// A volunteer's fields as a caller gives them on registration, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVolunteer {
    /// 姓名.
    pub display_name: String,
    /// The validated document (normalized number, derived birth date and gender).
    pub document: identity::IdentityDocument,
    /// 出生日期 (derived or given).
    pub birth_date: CivilDate,
    /// 性别 (derived or given).
    pub gender: Gender,
    /// 手机.
    pub phone: String,
    /// 邮箱.
    pub email: String,
    /// 技能特长.
    pub skills: Vec<String>,
    /// 服务领域.
    pub service_fields: Vec<i32>,
    /// 服务主题.
    pub service_themes: Vec<i32>,
    /// 可服务时间.
    pub availability: Vec<i32>,
    /// 紧急联系人.
    pub emergency_contact: EmergencyContact,
}

/// A registration checked without being made (`validate_only`): the identity document
/// when it is itself valid, whatever the other fields, and the violations of the fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationCheck {
    /// The validated document, when id_type and id_number are valid.
    pub document: Option<identity::IdentityDocument>,
    /// The field path of the ID number (`volunteer.id_number`), where a document already
    /// registered is named.
    pub id_number_field: String,
    /// The violations of the fields, in the request's order.
    pub violations: Vec<Violation>,
}

impl RegistrationCheck {
    /// Adds what only the database knows: whether the document is registered already.
    /// That violation comes first, so that it is listed even when many fields are refused
    /// (an INVALID_ARGUMENT lists the first few), and it decides the registration: no
    /// correction of the other fields makes it possible.
    pub fn with_registered_document(mut self, registered: bool) -> Vec<Violation> {
        if registered {
            self.violations
                .insert(0, document_registered(self.id_number_field));
        }
        self.violations
    }
}

/// The violation of an ID number whose person is registered already.
pub fn document_registered(field: impl Into<String>) -> Violation {
    Violation::new(field, "is already registered", "该证件的志愿者已注册")
}

/// Membership state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MembershipState {
    /// A member.
    Active = 1,
    /// Left.
    Ended = 2,
}

impl MembershipState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(MembershipState::Active),
            2 => Some(MembershipState::Ended),
            _ => None,
        }
    }
}

/// A volunteer's membership of an org unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Globally unique id.
    pub id: String,
    /// The unit.
    pub org_unit_id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The volunteer's name, for display (not stored with the membership).
    #[serde(skip)]
    pub volunteer_display_name: String,
    /// Primary membership.
    pub primary: bool,
    /// State.
    pub state: MembershipState,
    /// Joined.
    pub joined_on: CivilDate,
    /// Ended.
    pub ended_on: Option<CivilDate>,
    /// Bookkeeping.
    pub meta: Meta,
}

/// Join application state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinState {
    /// Waiting.
    Pending = 1,
    /// Approved.
    Approved = 2,
    /// Rejected.
    Rejected = 3,
    /// Withdrawn.
    Withdrawn = 4,
}

impl JoinState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(JoinState::Pending),
            2 => Some(JoinState::Approved),
            3 => Some(JoinState::Rejected),
            4 => Some(JoinState::Withdrawn),
            _ => None,
        }
    }

    /// English name, for history.
    pub fn name_en(self) -> &'static str {
        match self {
            JoinState::Pending => "pending",
            JoinState::Approved => "approved",
            JoinState::Rejected => "rejected",
            JoinState::Withdrawn => "withdrawn",
        }
    }
}

/// 入队申请.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinApplication {
    /// Globally unique id.
    pub id: String,
    /// The unit applied to.
    pub org_unit_id: String,
    /// The applicant.
    pub volunteer_id: String,
    /// The applicant's message.
    pub message: String,
    /// State.
    pub state: JoinState,
    /// Who decided.
    pub decided_by: String,
    /// The decision's comment.
    pub decision_comment: String,
    /// The membership created on approval.
    pub membership_id: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// One unmasked read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Id.
    pub id: String,
    /// Reader.
    pub actor: String,
    /// Reader's org unit.
    pub actor_org_unit_id: String,
    /// What was read.
    pub resource_name: String,
    /// Which fields.
    pub fields: Vec<String>,
    /// The RPC.
    pub method: String,
    /// When (microseconds).
    pub read_time: i64,
}

/// Resource names of the registry.
pub mod names {
    /// `orgUnits/{id}`.
    pub fn org_unit(id: &str) -> String {
        format!("orgUnits/{id}")
    }

    /// `orgUnits/{id}/registrationForm`.
    pub fn registration_form(org_unit_id: &str) -> String {
        format!("orgUnits/{org_unit_id}/registrationForm")
    }

    /// `volunteers/{id}`.
    pub fn volunteer(id: &str) -> String {
        format!("volunteers/{id}")
    }

    /// `orgUnits/{unit}/memberships/{id}`.
    pub fn membership(org_unit_id: &str, id: &str) -> String {
        format!("orgUnits/{org_unit_id}/memberships/{id}")
    }

    /// `orgUnits/{unit}/joinApplications/{id}`.
    pub fn join_application(org_unit_id: &str, id: &str) -> String {
        format!("orgUnits/{org_unit_id}/joinApplications/{id}")
    }

    /// `auditEntries/{id}`.
    pub fn audit_entry(id: &str) -> String {
        format!("auditEntries/{id}")
    }
}

pub use egret_types::china_date;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_document_is_named_first_with_the_other_violations() {
        let check = RegistrationCheck {
            document: None,
            id_number_field: "volunteer.id_number".to_string(),
            violations: vec![Violation::new(
                "volunteer.display_name",
                "is required",
                "不能为空",
            )],
        };
        let fields = |violations: Vec<Violation>| {
            violations
                .into_iter()
                .map(|violation| violation.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(check.clone().with_registered_document(true)),
            ["volunteer.id_number", "volunteer.display_name"]
        );
        assert_eq!(
            fields(check.with_registered_document(false)),
            ["volunteer.display_name"]
        );
    }
}
