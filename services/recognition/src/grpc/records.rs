//! `egret.recognition.v1.RecognitionRecordsService`.

use egret_proto::recognition::v1 as pb;
use egret_runtime::Principal;
use egret_sync::history;
use tonic::{Request, Response, Status};

use crate::app::Recognition;

/// The service implementation.
pub struct RecordsApi(pub Recognition);

#[tonic::async_trait]
impl pb::recognition_records_service_server::RecognitionRecordsService for RecordsApi {
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
