//! The Chinese names of the contracts' enumerations, as the federation writes them.

use egret_proto::common::v1::ServiceTheme;
use egret_proto::gateway::v1::AccountRole;
use egret_proto::registry::v1::{
    Gender, IdType, OrgUnitStatus, TeamCategory, TeamLevel, Tier, VolunteerStatus,
};

/// 层级.
pub fn tier(value: i32) -> &'static str {
    match Tier::try_from(value).unwrap_or_default() {
        Tier::Corps => "总队",
        Tier::Team => "服务队",
        Tier::SubTeam => "分队",
        Tier::Squad => "小队",
        Tier::Unspecified => "—",
    }
}

/// 队伍级别.
pub fn team_level(value: i32) -> &'static str {
    match TeamLevel::try_from(value).unwrap_or_default() {
        TeamLevel::National => "国家级",
        TeamLevel::Provincial => "省级",
        TeamLevel::Municipal => "市级",
        TeamLevel::District => "区级",
        TeamLevel::Unspecified => "—",
    }
}

/// 状态 of a unit.
pub fn org_unit_status(value: i32) -> &'static str {
    match OrgUnitStatus::try_from(value).unwrap_or_default() {
        OrgUnitStatus::Active => "正常",
        OrgUnitStatus::Suspended => "暂停",
        OrgUnitStatus::Dissolved => "已解散",
        OrgUnitStatus::Merged => "已合并",
        OrgUnitStatus::Unspecified => "—",
    }
}

/// 队伍类别.
pub fn team_category(value: i32) -> &'static str {
    match TeamCategory::try_from(value).unwrap_or_default() {
        TeamCategory::RedBannerCollective => "三八红旗集体",
        TeamCategory::CivilizationPost => "巾帼文明岗",
        TeamCategory::Professional => "专业巾帼志愿服务队",
        TeamCategory::FederationOffice => "妇联机关巾帼志愿服务队",
        TeamCategory::WomensSocialOrganization => "女性社会组织",
        TeamCategory::Community => "社区（村）巾帼志愿服务队",
        TeamCategory::Grassroots => "草根女组织",
        TeamCategory::GovernmentBody => "市直机关/部委办局",
        TeamCategory::StreetFederation => "镇（街）妇联",
        TeamCategory::GroupMember => "团体会员",
        TeamCategory::Unspecified => "—",
    }
}

/// 服务主题.
pub fn service_theme(value: i32) -> &'static str {
    match ServiceTheme::try_from(value).unwrap_or_default() {
        ServiceTheme::Care => "关爱",
        ServiceTheme::Rights => "维权",
        ServiceTheme::Civility => "文明",
        ServiceTheme::EntrepreneurshipEmployment => "创业就业",
        ServiceTheme::Unspecified => "—",
    }
}

/// 志愿者状态.
pub fn volunteer_status(value: i32) -> &'static str {
    match VolunteerStatus::try_from(value).unwrap_or_default() {
        VolunteerStatus::Active => "在册",
        VolunteerStatus::Inactive => "不活跃",
        VolunteerStatus::Withdrawn => "已退出",
        VolunteerStatus::Unspecified => "—",
    }
}

/// 证件类型, with the values a form offers.
pub const ID_TYPES: [(IdType, &str); 5] = [
    (IdType::ResidentId, "居民身份证"),
    (IdType::HkMacaoPermit, "港澳居民来往内地通行证"),
    (IdType::TaiwanPermit, "台湾居民来往大陆通行证"),
    (IdType::HmtResidencePermit, "港澳台居民居住证"),
    (IdType::Passport, "护照"),
];

/// 证件类型.
pub fn id_type(value: i32) -> &'static str {
    ID_TYPES
        .iter()
        .find(|(id_type, _)| *id_type as i32 == value)
        .map_or("—", |(_, label)| label)
}

/// 性别.
pub fn gender(value: i32) -> &'static str {
    match Gender::try_from(value).unwrap_or_default() {
        Gender::Female => "女",
        Gender::Male => "男",
        Gender::Unspecified => "—",
    }
}

/// 角色.
pub fn role(role: AccountRole) -> &'static str {
    match role {
        AccountRole::Admin => "管理员",
        AccountRole::Staff => "工作人员",
        AccountRole::TeamLeader => "队长",
        AccountRole::Volunteer => "志愿者",
        AccountRole::Viewer => "查看者",
        AccountRole::Unspecified => "—",
    }
}

/// A date of the contracts as `2024年3月8日`, or `—`.
pub fn date(date: Option<&egret_proto::common::v1::Date>) -> String {
    match date {
        Some(date) if date.year > 0 => format!("{}年{}月{}日", date.year, date.month, date.day),
        _ => "—".to_string(),
    }
}
