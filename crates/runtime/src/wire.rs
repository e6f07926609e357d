//! Conversions and checks at the gRPC edge that every service shares: resource names,
//! request ids, free text, enum values, update masks, timestamps, dates and bookkeeping.

use std::collections::HashSet;

use egret_proto::common::v1 as common;

use crate::error::{ApiError, Violations, quote};
use egret_types::CivilDate;
use egret_types::Meta;

/// The id in a resource name `{collection}/{id}`, or INVALID_ARGUMENT naming `field`.
pub fn parse_name<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, ApiError> {
    match name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(ApiError::invalid(
            field,
            format!(
                "must be a resource name like {collection}/{{id}}, got {}",
                quote(name)
            ),
            format!("资源名格式应为 {collection}/{{id}}"),
        )),
    }
}

/// The id in an optional resource name: None when empty.
pub fn optional_name<'a>(
    field: &str,
    name: &'a str,
    collection: &str,
) -> Result<Option<&'a str>, ApiError> {
    if name.is_empty() {
        return Ok(None);
    }
    parse_name(field, name, collection).map(Some)
}

/// Ids are UUIDs; anything else cannot name a record, so it is refused as input.
pub fn is_id(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok()
}

/// The last id in a nested name `orgUnits/{unit}/{collection}/{id}`, with the unit id.
pub fn parse_nested_name<'a>(
    field: &str,
    name: &'a str,
    collection: &str,
) -> Result<(&'a str, &'a str), ApiError> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["orgUnits", unit, found, id] if *found == collection && is_id(unit) && is_id(id) => {
            Ok((unit, id))
        }
        _ => Err(ApiError::invalid(
            field,
            format!(
                "must be a resource name like orgUnits/{{org_unit}}/{collection}/{{id}}, got {}",
                quote(name)
            ),
            format!("资源名格式应为 orgUnits/{{org_unit}}/{collection}/{{id}}"),
        )),
    }
}

/// A request id must be empty or a UUID (AIP-155).
pub fn check_request_id(request_id: &str) -> Result<(), ApiError> {
    if request_id.is_empty() || is_id(request_id) {
        return Ok(());
    }
    Err(ApiError::invalid(
        "request_id",
        "must be a UUID",
        "请求编号必须是 UUID",
    ))
}

/// Checks free text: trimmed, required or not, at most `max` characters.
pub fn text(
    violations: &mut Violations,
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> String {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        violations.add(field, "is required", "不能为空");
    } else if trimmed.chars().count() > max {
        violations.add(
            field,
            format!("must be at most {max} characters"),
            format!("不能超过 {max} 个字符"),
        );
    } else if trimmed.chars().any(char::is_control) {
        violations.add(
            field,
            "must not contain control characters",
            "不能包含控制字符",
        );
    }
    trimmed.to_string()
}

/// Checks a list of enum values: each known, none unspecified, none repeated.
pub fn enum_list(
    violations: &mut Violations,
    field: &str,
    values: &[i32],
    is_known: impl Fn(i32) -> bool,
) -> Vec<i32> {
    let mut seen = HashSet::new();
    for (index, value) in values.iter().enumerate() {
        if *value == 0 || !is_known(*value) {
            violations.add(
                format!("{field}[{index}]"),
                format!("{value} is not a valid value"),
                "取值无效",
            );
        } else if !seen.insert(*value) {
            violations.add(format!("{field}[{index}]"), "is repeated", "重复");
        }
    }
    values.to_vec()
}

/// Checks a single optional enum value: 0 (unset) or known.
pub fn enum_value(
    violations: &mut Violations,
    field: &str,
    value: i32,
    is_known: impl Fn(i32) -> bool,
) -> i32 {
    if value != 0 && !is_known(value) {
        violations.add(field, format!("{value} is not a valid value"), "取值无效");
    }
    value
}

/// The paths of an update mask, each checked against `allowed`; an empty mask is refused
/// (a partial update must say what it changes).
pub fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    allowed: &[&str],
) -> Result<Vec<String>, ApiError> {
    let paths = mask.map(|mask| mask.paths.clone()).unwrap_or_default();
    if paths.is_empty() {
        return Err(ApiError::invalid(
            "update_mask",
            format!(
                "must name the fields to change, among: {}",
                allowed.join(", ")
            ),
            format!("必须指明要修改的字段：{}", allowed.join("、")),
        ));
    }
    let mut violations = Violations::new();
    for (index, path) in paths.iter().enumerate() {
        if !allowed.contains(&path.as_str()) {
            violations.add(
                format!("update_mask.paths[{index}]"),
                format!(
                    "{path:?} cannot be changed; allowed: {}",
                    allowed.join(", ")
                ),
                format!("字段 {path} 不可修改"),
            );
        }
    }
    violations.into_result()?;
    Ok(paths)
}

/// Microseconds since the epoch as a protobuf timestamp.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

/// A record's bookkeeping on the wire.
pub fn metadata(uid: &str, meta: &Meta) -> common::RecordMetadata {
    common::RecordMetadata {
        uid: uid.to_string(),
        origin_instance: meta.origin_instance.clone(),
        version: meta.version,
        create_time: Some(timestamp(meta.create_time)),
        update_time: Some(timestamp(meta.update_time)),
    }
}

/// A date on the wire.
pub fn date_to_wire(date: CivilDate) -> common::Date {
    common::Date {
        year: date.year,
        month: date.month as i32,
        day: date.day as i32,
    }
}

/// A wire date: absent or all-zero means unset; otherwise it must be a real date.
pub fn date_from_wire(
    violations: &mut Violations,
    field: &str,
    date: Option<&common::Date>,
) -> Option<CivilDate> {
    let date = date?;
    if date.year == 0 && date.month == 0 && date.day == 0 {
        return None;
    }
    let parsed = u32::try_from(date.month)
        .ok()
        .zip(u32::try_from(date.day).ok())
        .and_then(|(month, day)| CivilDate::new(date.year, month, day));
    if parsed.is_none() {
        violations.add(field, "is not a real date", "不是有效日期");
    }
    parsed
}

/// Today's date in China.
pub fn today() -> CivilDate {
    egret_types::china_date(egret_types::now_micros())
}

/// Whether `value` is a known `egret.common.v1.ServiceTheme`.
pub fn is_service_theme(value: i32) -> bool {
    common::ServiceTheme::try_from(value).is_ok()
}

/// Whether `value` is a known `egret.common.v1.ServiceField`.
pub fn is_service_field(value: i32) -> bool {
    common::ServiceField::try_from(value).is_ok()
}

/// Whether `value` is a known `egret.common.v1.TargetGroup`.
pub fn is_target_group(value: i32) -> bool {
    common::TargetGroup::try_from(value).is_ok()
}
