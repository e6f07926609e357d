//! `egret.activity.v1.ActivityRecordsService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::Principal;
use egret_sync::history;
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
        let pb::ListChangeRecordsRequest {
            resource,
            page_size,
            page_token,
        } = request.into_inner();
        let (principal, resource) = (&principal, &resource);
        let (change_records, next_page_token) =
            history::page(page_size, &page_token, resource, |page| async move {
                self.0.list_change_records(principal, resource, &page).await
            })
            .await?;
        Ok(Response::new(pb::ListChangeRecordsResponse {
            change_records,
            next_page_token,
        }))
    }
}
