//! The registry's gRPC surface: conversions between wire and domain types, nothing else.
//! Every rule lives in [`crate::domain`], every use case in [`crate::app`].

mod members;
mod org;
mod records;
mod volunteers;

use std::collections::HashSet;

use egret_proto::common::v1 as common;
use egret_proto::registry::v1::{
    membership_service_server::MembershipServiceServer,
    org_unit_service_server::OrgUnitServiceServer,
    registry_records_service_server::RegistryRecordsServiceServer,
    volunteer_service_server::VolunteerServiceServer,
};
use egret_runtime::{ApiError, ServiceHost, Violations};
use tonic::server::NamedService;

use crate::app::Registry;
use crate::domain::{CivilDate, Meta};

/// Adds the registry's four gRPC services to a host, with the host's message-size limit.
pub fn add_services(host: &mut ServiceHost, registry: Registry) {
    let limit = host.settings().max_message_bytes;
    host.routes().add_service(
        OrgUnitServiceServer::new(org::OrgUnitApi(registry.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        VolunteerServiceServer::new(volunteers::VolunteerApi(registry.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        MembershipServiceServer::new(members::MembershipApi(registry.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        RegistryRecordsServiceServer::new(records::RecordsApi(registry))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<OrgUnitServiceServer<org::OrgUnitApi> as NamedService>::NAME);
    host.report_serving(<VolunteerServiceServer<volunteers::VolunteerApi> as NamedService>::NAME);
    host.report_serving(<MembershipServiceServer<members::MembershipApi> as NamedService>::NAME);
    host.report_serving(<RegistryRecordsServiceServer<records::RecordsApi> as NamedService>::NAME);
}

/// The id in a resource name `{collection}/{id}`, or INVALID_ARGUMENT naming `field`.
fn parse_name<'a>(field: &str, name: &'a str, collection: &str) -> Result<&'a str, ApiError> {
    match name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(id) if is_id(id) => Ok(id),
        _ => Err(ApiError::invalid(
            field,
            format!("must be a resource name like {collection}/{{id}}, got {name:?}"),
            format!("资源名格式应为 {collection}/{{id}}"),
        )),
    }
}

/// Ids are UUIDs; anything else cannot name a record, so it is refused as input.
fn is_id(text: &str) -> bool {
    uuid::Uuid::try_parse(text).is_ok()
}

/// The last id in a nested name `orgUnits/{unit}/{collection}/{id}`, with the unit id.
fn parse_nested_name<'a>(
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
                "must be a resource name like orgUnits/{{org_unit}}/{collection}/{{id}}, got {name:?}"
            ),
            format!("资源名格式应为 orgUnits/{{org_unit}}/{collection}/{{id}}"),
        )),
    }
}

/// A request id must be empty or a UUID (AIP-155).
fn check_request_id(request_id: &str) -> Result<(), ApiError> {
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
fn text(
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
fn enum_list(
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
fn enum_value(
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
fn mask_paths(
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

fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

fn metadata(uid: &str, meta: &Meta) -> common::RecordMetadata {
    common::RecordMetadata {
        uid: uid.to_string(),
        origin_instance: meta.origin_instance.clone(),
        version: meta.version,
        create_time: Some(timestamp(meta.create_time)),
        update_time: Some(timestamp(meta.update_time)),
    }
}

fn date_to_wire(date: CivilDate) -> common::Date {
    common::Date {
        year: date.year,
        month: date.month as i32,
        day: date.day as i32,
    }
}

/// A wire date: absent or all-zero means unset; otherwise it must be a real date.
fn date_from_wire(
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

fn today() -> CivilDate {
    crate::domain::china_date(egret_storage::now_micros())
}

fn change_time(micros: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(micros))
}

fn operation(operation: egret_storage::Operation) -> common::ChangeOperation {
    match operation {
        egret_storage::Operation::Create => common::ChangeOperation::Create,
        egret_storage::Operation::Update => common::ChangeOperation::Update,
        egret_storage::Operation::Delete => common::ChangeOperation::Delete,
    }
}

fn field_changes(changes: &[egret_storage::FieldChange]) -> Vec<common::FieldChange> {
    changes
        .iter()
        .map(|change| common::FieldChange {
            field: change.field.clone(),
            old_value: change.old_value.clone(),
            new_value: change.new_value.clone(),
        })
        .collect()
}
