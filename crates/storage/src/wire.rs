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

/// Implements a service's records contract (`ListChangeRecords`, `ListChangeLogEntries`),
/// whose messages every service declares alike in its own package, over an app type with
/// `list_change_records(&Principal, &str, &PageRequest)` and
/// `list_change_log(&Principal, i64, i32)`.
#[macro_export]
macro_rules! records_api {
    ($api:ident, $app:ty, $pb:ident, $service:path) => {
        /// The service implementation.
        pub struct $api(pub $app);

        #[tonic::async_trait]
        impl $service for $api {
            async fn list_change_records(
                &self,
                request: tonic::Request<$pb::ListChangeRecordsRequest>,
            ) -> Result<tonic::Response<$pb::ListChangeRecordsResponse>, tonic::Status> {
                let principal = egret_runtime::Principal::of(&request)?;
                let message = request.get_ref();
                let page = egret_runtime::PageRequest::standard(
                    message.page_size,
                    &message.page_token,
                    &message.resource,
                )?;
                let (changes, next_page_token) = self
                    .0
                    .list_change_records(&principal, &message.resource, &page)
                    .await?;
                Ok(tonic::Response::new($pb::ListChangeRecordsResponse {
                    change_records: changes.iter().map($crate::wire::change_record).collect(),
                    next_page_token,
                }))
            }

            async fn list_change_log_entries(
                &self,
                request: tonic::Request<$pb::ListChangeLogEntriesRequest>,
            ) -> Result<tonic::Response<$pb::ListChangeLogEntriesResponse>, tonic::Status> {
                let principal = egret_runtime::Principal::of(&request)?;
                let message = request.get_ref();
                let page = self
                    .0
                    .list_change_log(&principal, message.after_sequence, message.page_size)
                    .await?;
                Ok(tonic::Response::new($pb::ListChangeLogEntriesResponse {
                    entries: page
                        .entries
                        .iter()
                        .map($crate::wire::change_log_entry)
                        .collect(),
                    last_sequence: page.last_sequence,
                    head_sequence: page.head_sequence,
                }))
            }
        }
    };
}
