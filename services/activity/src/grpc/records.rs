//! `egret.activity.v1.ActivityRecordsService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::{PageRequest, Principal};
use egret_storage::wire::{change_log_entry, change_record};
use tonic::{Request, Response, Status};

use crate::app::Activity;

/// The service implementation.
pub struct RecordsApi(pub Activity);

#[tonic::async_trait]
impl pb::activity_records_service_server::ActivityRecordsService for RecordsApi {
    async fn list_change_records(
        &self,
        request: Request<pb::ListChangeRecordsRequest>,
    ) -> Result<Response<pb::ListChangeRecordsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &message.resource)?;
        let (changes, next_page_token) = self
            .0
            .list_change_records(&principal, &message.resource, &page)
            .await?;
        Ok(Response::new(pb::ListChangeRecordsResponse {
            change_records: changes.iter().map(change_record).collect(),
            next_page_token,
        }))
    }

    async fn list_change_log_entries(
        &self,
        request: Request<pb::ListChangeLogEntriesRequest>,
    ) -> Result<Response<pb::ListChangeLogEntriesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = self
            .0
            .list_change_log(&principal, message.after_sequence, message.page_size)
            .await?;
        Ok(Response::new(pb::ListChangeLogEntriesResponse {
            entries: page.entries.iter().map(change_log_entry).collect(),
            last_sequence: page.last_sequence,
            head_sequence: page.head_sequence,
        }))
    }
}
