//! The change log and change history on the wire, the same for every service.

use egret_proto::common::v1 as common;
use egret_runtime::wire::timestamp;

use crate::{FieldChange, Operation, StoredChange};

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

/// A change as an entry of the change log, for sync and reporting.
pub fn change_log_entry(change: &StoredChange) -> common::ChangeLogEntry {
    common::ChangeLogEntry {
        sequence: change.sequence,
        resource_type: change.resource_type.clone(),
        resource_name: change.resource_name.clone(),
        operation: operation(change.operation) as i32,
        change_time: Some(timestamp(change.change_time)),
        actor: change.actor.clone(),
        origin_instance: change.origin_instance.clone(),
        payload_json: change.payload_json.clone(),
        field_changes: field_changes(&change.field_changes),
    }
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
