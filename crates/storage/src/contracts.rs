//! The payloads other services' change logs carry, as followers read them.
//!
//! A change-log payload is the owning service's record as snake_case JSON (personal data
//! masked); these structs name only the fields followers rely on, so the owner may add
//! fields freely but must keep these (the cross-service contract, tested end to end).

use serde::Deserialize;

/// `egret.registry.v1.OrgUnit` in the registry's change log.
pub const ORG_UNIT_TYPE: &str = "egret.registry.v1.OrgUnit";
/// `egret.registry.v1.Volunteer` in the registry's change log.
pub const VOLUNTEER_TYPE: &str = "egret.registry.v1.Volunteer";
/// `egret.registry.v1.RegistrationForm` in the registry's change log.
pub const REGISTRATION_FORM_TYPE: &str = "egret.registry.v1.RegistrationForm";
/// `egret.registry.v1.Membership` in the registry's change log.
pub const MEMBERSHIP_TYPE: &str = "egret.registry.v1.Membership";
/// `egret.activity.v1.ServiceRecord` in the activity service's change log.
pub const SERVICE_RECORD_TYPE: &str = "egret.activity.v1.ServiceRecord";
/// `egret.activity.v1.Activity` in the activity service's change log.
pub const ACTIVITY_TYPE: &str = "egret.activity.v1.Activity";
/// `egret.activity.v1.Project` in the activity service's change log.
pub const PROJECT_TYPE: &str = "egret.activity.v1.Project";
/// `egret.activity.v1.Qualification` in the activity service's change log.
pub const QUALIFICATION_TYPE: &str = "egret.activity.v1.Qualification";
/// `egret.activity.v1.InsurancePolicy` in the activity service's change log.
pub const INSURANCE_POLICY_TYPE: &str = "egret.activity.v1.InsurancePolicy";
/// `egret.recognition.v1.StarRating` in the recognition service's change log.
pub const STAR_RATING_TYPE: &str = "egret.recognition.v1.StarRating";
/// `egret.recognition.v1.Commendation` in the recognition service's change log.
pub const COMMENDATION_TYPE: &str = "egret.recognition.v1.Commendation";
/// `egret.reporting.v1.AnnualReport` in the reporting service's change log.
pub const ANNUAL_REPORT_TYPE: &str = "egret.reporting.v1.AnnualReport";
/// `egret.activity.v1.Evaluation` in the activity service's change log.
pub const EVALUATION_TYPE: &str = "egret.activity.v1.Evaluation";

/// The bookkeeping part of every payload.
#[derive(Debug, Clone, Deserialize)]
pub struct PayloadMeta {
    /// The record's version: a replica keeps the highest it has seen.
    pub version: i64,
    /// When the record was made (microseconds since the epoch).
    #[serde(default)]
    pub create_time: i64,
}

/// An org unit.
#[derive(Debug, Clone, Deserialize)]
pub struct OrgUnitPayload {
    /// Id.
    pub id: String,
    /// Parent's id; None for the root.
    pub parent_id: Option<String>,
    /// `/root-id/…/own-id/`.
    pub path: String,
    /// `corps`, `team`, `sub_team` or `squad`.
    pub tier: String,
    /// Name.
    pub display_name: String,
    /// `active`, `suspended`, `dissolved` or `merged`.
    pub status: String,
    /// 队伍级别 (wire number; 0 unset).
    #[serde(default)]
    pub level: i64,
    /// 类别 (wire numbers).
    #[serde(default)]
    pub categories: Vec<i64>,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

impl OrgUnitPayload {
    /// The tier as its wire number (1 corps … 4 squad).
    pub fn tier_number(&self) -> Result<i64, String> {
        match self.tier.as_str() {
            "corps" => Ok(1),
            "team" => Ok(2),
            "sub_team" => Ok(3),
            "squad" => Ok(4),
            other => Err(format!("unknown tier {other:?}")),
        }
    }

    /// The status as its wire number (1 active … 4 merged).
    pub fn status_number(&self) -> Result<i64, String> {
        match self.status.as_str() {
            "active" => Ok(1),
            "suspended" => Ok(2),
            "dissolved" => Ok(3),
            "merged" => Ok(4),
            other => Err(format!("unknown status {other:?}")),
        }
    }
}

/// A volunteer (the payload carries no plaintext personal data).
#[derive(Debug, Clone, Deserialize)]
pub struct VolunteerPayload {
    /// Id.
    pub id: String,
    /// 志愿者编号.
    #[serde(default)]
    pub volunteer_number: String,
    /// 姓名.
    pub display_name: String,
    /// 证件类型, snake_case (`resident_id`, `passport`, …).
    #[serde(default)]
    pub id_type: String,
    /// The masked ID number.
    #[serde(default)]
    pub id_number_masked: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `female` or `male`.
    #[serde(default)]
    pub gender: String,
    /// `active`, `inactive` or `withdrawn`.
    pub status: String,
    /// The unit that registered the volunteer.
    pub registering_org_unit_id: String,
    /// Bookkeeping; `create_time` is the registration time.
    pub meta: PayloadMeta,
}

impl VolunteerPayload {
    /// The status as its wire number (1 active, 2 inactive, 3 withdrawn).
    pub fn status_number(&self) -> Result<i64, String> {
        match self.status.as_str() {
            "active" => Ok(1),
            "inactive" => Ok(2),
            "withdrawn" => Ok(3),
            other => Err(format!("unknown status {other:?}")),
        }
    }
}

/// A volunteer's membership of a unit.
#[derive(Debug, Clone, Deserialize)]
pub struct MembershipPayload {
    /// Id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The unit.
    pub org_unit_id: String,
    /// `active`, `pending`, `left`, ….
    pub state: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A service record (服务记录).
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceRecordPayload {
    /// Id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The activity ('' for an imported record).
    pub activity_id: String,
    /// The unit the service counts for.
    pub org_unit_id: String,
    /// 服务内容.
    pub description: String,
    /// Minutes of service.
    pub minutes: i64,
    /// `YYYY-MM-DD`.
    pub service_date: String,
    /// `submitted`, `approved` or `rejected`.
    pub state: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// An activity (only what recognition prints and counts).
#[derive(Debug, Clone, Deserialize)]
pub struct ActivityPayload {
    /// Id.
    pub id: String,
    /// The organizing unit.
    pub org_unit_id: String,
    /// Title.
    pub display_name: String,
    /// Start (microseconds since the epoch).
    #[serde(default)]
    pub start_time: i64,
    /// 服务主题 (wire number).
    #[serde(default)]
    pub service_theme: i64,
    /// 服务领域 (wire number).
    #[serde(default)]
    pub service_field: i64,
    /// 服务对象 (wire numbers).
    #[serde(default)]
    pub target_groups: Vec<i64>,
    /// `draft`, `published`, `cancelled`, `completed`, ….
    #[serde(default)]
    pub state: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A beneficiary's evaluation of an activity.
#[derive(Debug, Clone, Deserialize)]
pub struct EvaluationPayload {
    /// Id.
    pub id: String,
    /// The activity.
    pub activity_id: String,
    /// 1 a beneficiary, 2 a volunteer.
    pub evaluator_kind: i64,
    /// 1 to 5.
    pub rating: i64,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A project (only what recognition names).
#[derive(Debug, Clone, Deserialize)]
pub struct ProjectPayload {
    /// Id.
    pub id: String,
    /// The owning unit.
    pub org_unit_id: String,
    /// Name.
    pub display_name: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A qualification granted by training.
#[derive(Debug, Clone, Deserialize)]
pub struct QualificationPayload {
    /// Id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// `YYYY-MM-DD`.
    pub granted_date: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// An accident insurance policy.
#[derive(Debug, Clone, Deserialize)]
pub struct InsurancePolicyPayload {
    /// Id.
    pub id: String,
    /// The unit that holds it.
    pub org_unit_id: String,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`.
    pub end_date: String,
    /// Covers every volunteer serving in the unit's subtree.
    pub covers_subtree: bool,
    /// Volunteers named on the policy.
    pub insured_volunteers: Vec<String>,
    /// `active` or `cancelled`.
    pub state: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A volunteer star rating.
#[derive(Debug, Clone, Deserialize)]
pub struct StarRatingPayload {
    /// Id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// 1 to 5.
    pub stars: i64,
    /// The nominating unit.
    pub nominating_org_unit_id: String,
    /// `nominated`, `awarded`, `rejected` or `revoked`.
    pub state: String,
    /// When awarded (microseconds), 0 before.
    pub award_time: i64,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A commendation.
#[derive(Debug, Clone, Deserialize)]
pub struct CommendationPayload {
    /// Id.
    pub id: String,
    /// The nominating unit.
    pub nominating_org_unit_id: String,
    /// `nominated`, `on_notice`, `awarded`, `rejected` or `withdrawn`.
    pub state: String,
    /// When awarded (microseconds), 0 before.
    pub award_time: i64,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A registration form (登记表) of a team or sub-team; phone and email come masked.
#[derive(Debug, Clone, Deserialize)]
pub struct RegistrationFormPayload {
    /// The team or sub-team.
    pub org_unit_id: String,
    /// 档案编号.
    #[serde(default)]
    pub archive_number: String,
    /// 队伍编号.
    #[serde(default)]
    pub team_number: String,
    /// 负责人.
    #[serde(default)]
    pub leader_name: String,
    /// 单位名称.
    #[serde(default)]
    pub host_unit: String,
    /// 成员人数 as declared.
    #[serde(default)]
    pub declared_member_count: i64,
    /// 成立时间, `YYYY-MM-DD`; None when unknown.
    #[serde(default)]
    pub founded_on: Option<String>,
    /// 联系电话, masked.
    #[serde(default)]
    pub phone: String,
    /// 邮箱, masked.
    #[serde(default)]
    pub email: String,
    /// 联系地址.
    #[serde(default)]
    pub address: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}

/// A team's annual report (年报).
#[derive(Debug, Clone, Deserialize)]
pub struct AnnualReportPayload {
    /// The team.
    pub org_unit_id: String,
    /// The year.
    pub year: i64,
    /// `draft`, `submitted`, `approved` or `returned`.
    pub state: String,
    /// Bookkeeping.
    pub meta: PayloadMeta,
}
