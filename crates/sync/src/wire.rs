//! The change log and the change history on the wire, the same for every service.

use egret_proto::common::v1 as common;
use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_runtime::wire::timestamp;
use egret_storage::{FieldChange, Operation, StoredChange};

use crate::record;

fn operation(operation: Operation) -> common::ChangeOperation {
    match operation {
        Operation::Create => common::ChangeOperation::Create,
        Operation::Update => common::ChangeOperation::Update,
        Operation::Delete => common::ChangeOperation::Delete,
    }
}

fn field_changes(changes: &[FieldChange]) -> Vec<common::FieldChange> {
    changes
        .iter()
        .map(|change| common::FieldChange {
            field: change.field.clone(),
            old_value: change.old_value.clone(),
            new_value: change.new_value.clone(),
        })
        .collect()
}

/// The record a stored change carries. Changes written before the typed contract kept
/// their record as JSON; those are encoded now, under the same check as new writes.
pub fn stored_record(change: &StoredChange) -> Result<pb::Record, ApiError> {
    if change.payload.is_empty() && !change.payload_json.is_empty() {
        let json: serde_json::Value =
            serde_json::from_str(&change.payload_json).map_err(|error| {
                ApiError::Internal(anyhow::anyhow!(
                    "change {} holds JSON that does not parse: {error}",
                    change.sequence
                ))
            })?;
        return record::decode(&record::encode(&change.resource_type, &json)?);
    }
    record::decode(&change.payload)
}

/// A stored change as the change log sends it.
pub fn change(change: &StoredChange) -> Result<pb::Change, ApiError> {
    Ok(pb::Change {
        sequence: change.sequence,
        resource_name: change.resource_name.clone(),
        operation: operation(change.operation) as i32,
        change_time: Some(timestamp(change.change_time)),
        actor: change.actor.clone(),
        origin_instance: change.origin_instance.clone(),
        record: Some(stored_record(change)?),
        field_changes: field_changes(&change.field_changes),
        reason: change.reason.clone(),
        resource_type: change.resource_type.clone(),
    })
}

/// A change as a record of a resource's change history (动态管理).
pub fn change_record(change: &StoredChange) -> common::ChangeRecord {
    common::ChangeRecord {
        sequence: change.sequence,
        resource_name: change.resource_name.clone(),
        operation: operation(change.operation) as i32,
        actor: change.actor.clone(),
        change_time: Some(timestamp(change.change_time)),
        field_changes: field_changes(&change.field_changes),
        reason: change.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    use egret_proto::sync::v1::record::Kind;

    use super::*;

    fn stored(payload: Vec<u8>, payload_json: &str) -> StoredChange {
        StoredChange {
            sequence: 7,
            resource_type: "egret.registry.v1.Membership".to_string(),
            resource_name: "orgUnits/u/memberships/m".to_string(),
            operation: Operation::Create,
            actor: "tester".to_string(),
            origin_instance: "xm".to_string(),
            change_time: 1,
            payload,
            payload_json: payload_json.to_string(),
            field_changes: Vec::new(),
            reason: String::new(),
        }
    }

    #[test]
    fn a_change_written_as_json_before_the_contract_reads_as_its_typed_record() {
        let legacy = r#"{"ended_on":null,"id":"m","joined_on":"2026-12-01","org_unit_id":"u",
            "primary":true,"state":"active","volunteer_id":"v","meta":{"version":2}}"#;
        let change = change(&stored(Vec::new(), legacy)).expect("reads");
        let Some(Kind::Membership(membership)) = change.record.and_then(|record| record.kind)
        else {
            panic!("a membership");
        };
        assert_eq!(membership.volunteer_id, "v");
        assert_eq!(membership.meta.map(|meta| meta.version), Some(2));
        assert_eq!(change.resource_type, "egret.registry.v1.Membership");
    }

    #[test]
    fn a_damaged_record_is_an_internal_error_not_a_panic() {
        assert!(change(&stored(vec![0xff, 0xff], "")).is_err());
        assert!(change(&stored(Vec::new(), "{not json")).is_err());
    }
}
