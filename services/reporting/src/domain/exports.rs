//! What the exports write, without I/O: the file formats, the column layouts (Egret's own
//! and the national volunteer platform's import templates, 中国志愿服务网), the Chinese
//! names of metrics, dimensions and codes, and how names and cells are made safe.

use egret_runtime::{Principal, Role};

use super::stats::{Dimension, Metric};

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// UTF-8 CSV with a byte-order mark.
    Csv,
    /// An Office Open XML workbook.
    Xlsx,
}

impl Format {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// The column layout of a volunteer or service-record export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Egret's own columns.
    Standard,
    /// The national volunteer platform's import template.
    NationalPlatform,
}

/// One cell of a sheet.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number with decimals (hours).
    Number(f64),
}

impl Cell {
    /// A text cell.
    pub fn text(text: impl Into<String>) -> Self {
        Cell::Text(text.into())
    }
}

/// Egret's service-record columns.
pub const SERVICE_RECORD_COLUMNS: [&str; 11] = [
    "记录编号",
    "志愿者编号",
    "姓名",
    "证件号码",
    "服务日期",
    "服务时长（小时）",
    "服务时长（分钟）",
    "服务内容",
    "活动名称",
    "所属组织",
    "状态",
];

/// The national platform's service-hours import template (approved records only).
pub const NATIONAL_SERVICE_RECORD_COLUMNS: [&str; 10] = [
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "志愿者编号",
    "服务日期",
    "服务时长（小时）",
    "服务内容",
    "活动名称",
    "所属组织",
];

/// Egret's volunteer columns.
pub const VOLUNTEER_COLUMNS: [&str; 9] = [
    "志愿者编号",
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "注册日期",
    "注册组织",
    "累计服务时长（小时）",
];

/// The national platform's volunteer import template.
pub const NATIONAL_VOLUNTEER_COLUMNS: [&str; 10] = [
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "志愿者编号",
    "所属组织",
    "注册日期",
    "服务时长（小时）",
];

/// The registration-form (登记表) columns of the team export.
pub const TEAM_COLUMNS: [&str; 14] = [
    "档案编号",
    "队伍编号",
    "队伍名称",
    "负责人",
    "单位名称",
    "成员人数",
    "队伍级别",
    "成立时间",
    "联系电话",
    "邮箱",
    "联系地址",
    "队伍类别",
    "层级",
    "状态",
];

/// Whether volunteers' names appear in the caller's exports: only for the roles that
/// manage the subtree (admin, staff, team leader); a viewer sees the first character.
pub fn shows_names(principal: &Principal) -> bool {
    principal.has_any(&[Role::Admin, Role::Staff, Role::TeamLeader])
}

/// A name masked to its first character (`张**`; at least one `*`).
pub fn mask_name(name: &str) -> String {
    let mut characters = name.chars();
    let Some(first) = characters.next() else {
        return String::new();
    };
    let rest = characters.count().max(1);
    format!("{first}{}", "*".repeat(rest))
}

/// Minutes as hours with two decimals.
pub fn hours(minutes: i64) -> f64 {
    (minutes as f64 / 60.0 * 100.0).round() / 100.0
}

/// A CSV field: quoted when it holds a separator, a quote or a line break; text that a
/// spreadsheet would run as a formula gets a leading `'`.
pub fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Int(number) => number.to_string(),
        Cell::Number(number) => format!("{number:.2}"),
        Cell::Text(text) => {
            let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{text}")
            } else {
                text.clone()
            };
            if guarded.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", guarded.replace('"', "\"\""))
            } else {
                guarded
            }
        }
    }
}

/// One CSV line with its CRLF.
pub fn csv_line(cells: &[Cell]) -> String {
    let mut line = cells.iter().map(csv_field).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// The Chinese name of a metric (a column header and a chart title).
pub fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Teams => "队伍数",
        Metric::Volunteers => "志愿者人数",
        Metric::NewVolunteers => "新注册志愿者人数",
        Metric::Activities => "活动场次",
        Metric::ApprovedMinutes => "服务时长（分钟）",
        Metric::ServiceRecords => "服务记录数",
        Metric::TrainedVolunteers => "培训人数",
        Metric::InsuredVolunteers => "参保人数",
        Metric::StarRatings => "星级志愿者人次",
        Metric::Commendations => "嘉许次数",
    }
}

/// The Chinese name of a dimension.
pub fn dimension_name(dimension: Dimension) -> &'static str {
    match dimension {
        Dimension::OrgUnit => "组织",
        Dimension::Tier => "层级",
        Dimension::TeamLevel => "队伍级别",
        Dimension::TeamCategory => "队伍类别",
        Dimension::OrgStatus => "状态",
        Dimension::AgeBand => "年龄段",
        Dimension::Gender => "性别",
        Dimension::ServiceTheme => "服务主题",
        Dimension::ServiceField => "服务领域",
        Dimension::TargetGroup => "服务对象",
        Dimension::Month => "月份",
        Dimension::Stars => "星级",
    }
}

fn pick(table: &[&'static str], raw: &str) -> Option<&'static str> {
    let index: usize = raw.parse().ok()?;
    table.get(index).copied().filter(|label| !label.is_empty())
}

/// The Chinese label of a raw statistics key (numbers of enumerations, band labels,
/// months); org units are named by the caller. Unknown codes stay as they are.
pub fn key_label(dimension: Dimension, raw: &str) -> String {
    let label = match dimension {
        Dimension::Tier => pick(&["", "总队", "服务队", "分队", "小队"], raw),
        Dimension::TeamLevel => level_label(raw),
        Dimension::TeamCategory => pick(&CATEGORIES, raw),
        Dimension::OrgStatus => pick(&["", "正常", "暂停", "解散", "合并"], raw),
        Dimension::Gender => pick(&["未知", "女", "男"], raw),
        Dimension::ServiceTheme => pick(&["", "关爱", "维权", "文明", "创业就业"], raw),
        Dimension::ServiceField => pick(
            &[
                "", "扶贫", "济困", "扶老", "救孤", "恤病", "助残", "救灾", "助医", "助学",
            ],
            raw,
        ),
        Dimension::TargetGroup => pick(
            &[
                "",
                "城乡贫困妇女和家庭",
                "“四癌”妇女",
                "春蕾女童",
                "留守流动儿童",
                "孤寡、空巢老人",
                "残疾人",
                "社区居民",
            ],
            raw,
        ),
        Dimension::AgeBand => match raw {
            "under_18" => Some("18岁以下"),
            "18_35" => Some("18-35岁"),
            "36_45" => Some("36-45岁"),
            "46_55" => Some("46-55岁"),
            "56_65" => Some("56-65岁"),
            "over_65" => Some("65岁以上"),
            _ => None,
        },
        Dimension::Stars => {
            return match raw.parse::<u8>() {
                Ok(stars) if (1..=5).contains(&stars) => format!("{stars}星"),
                _ => raw.to_string(),
            };
        }
        Dimension::OrgUnit | Dimension::Month => None,
    };
    label.map_or_else(|| raw.to_string(), str::to_string)
}

const CATEGORIES: [&str; 11] = [
    "",
    "三八红旗集体",
    "巾帼文明岗",
    "专业巾帼志愿服务队",
    "妇联机关巾帼志愿服务队",
    "女性社会组织",
    "社区（村）巾帼志愿服务队",
    "草根女组织",
    "市直机关/部委办局",
    "镇（街）妇联",
    "团体会员",
];

/// 队伍级别 of a wire number ('' when unset).
pub fn level_label(raw: &str) -> Option<&'static str> {
    pick(&["", "国家级", "省级", "市级", "区级"], raw)
}

/// 队伍类别 of a wire number.
pub fn category_label(number: i64) -> String {
    pick(&CATEGORIES, &number.to_string()).map_or_else(|| number.to_string(), str::to_string)
}

/// 证件类型 of the payload's snake_case name.
pub fn id_type_label(id_type: &str) -> &str {
    match id_type {
        "resident_id" => "居民身份证",
        "hk_macao_permit" => "港澳居民来往内地通行证",
        "taiwan_permit" => "台湾居民来往大陆通行证",
        "hmt_residence_permit" => "港澳台居民居住证",
        "passport" => "护照",
        other => other,
    }
}

/// 审核状态 of a service record.
pub fn record_state_label(state: &str) -> &str {
    match state {
        "submitted" => "待审核",
        "approved" => "已通过",
        "rejected" => "已驳回",
        other => other,
    }
}

/// A file name: `{stem}-{detail}.{extension}`, the detail left out when empty.
pub fn file_name(stem: &str, detail: &str, format: Format) -> String {
    if detail.is_empty() {
        format!("{stem}.{}", format.extension())
    } else {
        format!("{stem}-{detail}.{}", format.extension())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_masked() {
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(csv_field(&Cell::text("a,b")), "\"a,b\"");
        assert_eq!(csv_field(&Cell::text("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(&Cell::text("=1+1")), "'=1+1");
        assert_eq!(csv_field(&Cell::Int(-5)), "-5");
        assert_eq!(csv_field(&Cell::Number(1.5)), "1.50");
        assert_eq!(csv_line(&[Cell::text("a"), Cell::Int(1)]), "a,1\r\n");
    }

    #[test]
    fn keys_get_chinese_labels() {
        assert_eq!(key_label(Dimension::Gender, "1"), "女");
        assert_eq!(key_label(Dimension::Tier, "2"), "服务队");
        assert_eq!(key_label(Dimension::Stars, "3"), "3星");
        assert_eq!(key_label(Dimension::ServiceTheme, "99"), "99");
        assert_eq!(key_label(Dimension::Month, "2026-01"), "2026-01");
        assert_eq!(hours(90), 1.5);
        assert_eq!(hours(100), 1.67);
    }
}
