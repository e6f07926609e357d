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

/// China Standard Time, UTC+8 all year: how the federation reads every time.
const CHINA: time::UtcOffset = match time::UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => time::UtcOffset::UTC,
};

/// A time of the contracts as `2026年12月7日 19:45` in China time, or `—`.
pub fn china_time(timestamp: Option<&prost_types::Timestamp>) -> String {
    let Some(timestamp) = timestamp else {
        return "—".to_string();
    };
    match time::OffsetDateTime::from_unix_timestamp(timestamp.seconds) {
        Ok(at) => {
            let at = at.to_offset(CHINA);
            format!(
                "{}年{}月{}日 {:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute()
            )
        }
        Err(_) => "—".to_string(),
    }
}

/// A `datetime-local` input's value (`2026-12-07T19:45`), read as China time.
pub fn parse_china_local(text: &str) -> Option<prost_types::Timestamp> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let local = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    Some(prost_types::Timestamp {
        seconds: local.assume_offset(CHINA).unix_timestamp(),
        nanos: 0,
    })
}

/// 活动状态.
pub fn activity_state(value: i32) -> &'static str {
    use egret_proto::activity::v1::ActivityState;
    match ActivityState::try_from(value).unwrap_or_default() {
        ActivityState::Draft => "草稿",
        ActivityState::Published => "招募中",
        ActivityState::InProgress => "进行中",
        ActivityState::Completed => "已完成",
        ActivityState::Cancelled => "已取消",
        ActivityState::Unspecified => "—",
    }
}

/// 报名状态.
pub fn sign_up_state(value: i32) -> &'static str {
    use egret_proto::activity::v1::SignUpState;
    match SignUpState::try_from(value).unwrap_or_default() {
        SignUpState::Pending => "待审核",
        SignUpState::Waitlisted => "候补",
        SignUpState::Approved => "已录用",
        SignUpState::Rejected => "未录用",
        SignUpState::Cancelled => "已取消",
        SignUpState::Unspecified => "—",
    }
}

/// Minutes as hours with one decimal: `1.5`.
pub fn hours(minutes: i64) -> String {
    format!("{:.1}", minutes as f64 / 60.0)
}

/// A label of an enumeration value: `$label` for each variant of `$enum`, `—` for any
/// other number.
macro_rules! enum_labels {
    ($(#[$doc:meta])* $name:ident, $enum:path, { $($variant:ident => $label:literal,)* }) => {
        $(#[$doc])*
        pub fn $name(value: i32) -> &'static str {
            use $enum as Enum;
            match Enum::try_from(value) {
                $(Ok(Enum::$variant) => $label,)*
                _ => "—",
            }
        }
    };
}

enum_labels!(
    /// 荣誉类别.
    honour_category, egret_proto::recognition::v1::HonourCategory, {
        OutstandingVolunteer => "优秀巾帼志愿者",
        ModelTeam => "优秀巾帼志愿服务队",
        DemonstrationBase => "巾帼志愿服务示范基地",
        ExcellentProject => "优秀巾帼志愿服务项目",
        AdvancedOrganization => "先进组织单位",
        Other => "其他",
    }
);

enum_labels!(
    /// 授予对象.
    recipient_kind, egret_proto::recognition::v1::RecipientKind, {
        Volunteer => "志愿者",
        Team => "队伍",
        Project => "项目",
        OrgUnit => "组织",
    }
);

enum_labels!(
    /// 表彰状态.
    commendation_state, egret_proto::recognition::v1::CommendationState, {
        Nominated => "已推荐",
        OnNotice => "公示中",
        Awarded => "已授予",
        Rejected => "未通过",
        Withdrawn => "已撤回",
    }
);

enum_labels!(
    /// 星级状态.
    star_rating_state, egret_proto::recognition::v1::StarRatingState, {
        Nominated => "待审批",
        Awarded => "已评定",
        Rejected => "未通过",
        Revoked => "已撤销",
    }
);

enum_labels!(
    /// 兑换状态.
    redemption_state, egret_proto::recognition::v1::RedemptionState, {
        Redeemed => "待发放",
        Fulfilled => "已发放",
        Cancelled => "已取消",
    }
);

enum_labels!(
    /// 积分变动.
    posting_kind, egret_proto::recognition::v1::PostingKind, {
        Earn => "服务获得",
        Reverse => "冲销",
        Redeem => "兑换",
        Refund => "退还",
        Gift => "转赠",
    }
);

enum_labels!(
    /// 课程类别.
    course_kind, egret_proto::activity::v1::CourseKind, {
        ServicePurpose => "服务宗旨",
        ServiceSkills => "服务技能",
        Safety => "安全知识",
        Other => "其他",
    }
);

enum_labels!(
    /// 保单状态.
    policy_state, egret_proto::activity::v1::InsurancePolicyState, {
        Active => "有效",
        Cancelled => "已注销",
    }
);

enum_labels!(
    /// 项目状态.
    project_status, egret_proto::activity::v1::ProjectStatus, {
        Planning => "筹备中",
        Active => "实施中",
        Closed => "已结项",
        Cancelled => "已取消",
    }
);

enum_labels!(
    /// 资金来源.
    funding_source, egret_proto::activity::v1::FundingSource, {
        GovernmentPurchase => "政府购买",
        Federation => "妇联资助",
        SocialDonation => "社会捐赠",
        SelfFunded => "自筹",
    }
);

enum_labels!(
    /// 记录来源.
    record_kind, egret_proto::activity::v1::ServiceRecordKind, {
        Attendance => "签到",
        BackEntry => "补录",
        Imported => "导入",
    }
);

/// The options of a select: each enumeration value with its label, in the order given.
pub fn choices<T: Copy + Into<i32>>(
    values: &[T],
    label: fn(i32) -> &'static str,
) -> Vec<(i32, &'static str)> {
    values
        .iter()
        .map(|value| ((*value).into(), label((*value).into())))
        .collect()
}

/// Fen as yuan with two decimals: `12345` → `123.45`.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_times_round_trip() {
        let at = parse_china_local("2026-12-07T19:45").expect("parses");
        assert_eq!(china_time(Some(&at)), "2026年12月7日 19:45");
        assert_eq!(at.seconds % 3600, (11 * 3600 + 45 * 60) % 3600);
        assert!(parse_china_local("2026-12-07 19:45").is_none());
        assert!(parse_china_local("").is_none());
        assert_eq!(china_time(None), "—");
    }
}
