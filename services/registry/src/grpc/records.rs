//! `egret.registry.v1.RegistryRecordsService`.

use egret_proto::registry::v1 as pb;
use egret_runtime::{PageRequest, Principal};
use tonic::{Request, Response, Status};

use egret_sync::history;

use super::timestamp;
use crate::app::Registry;
use crate::domain::names;

/// The service implementation.
pub struct RecordsApi(pub Registry);

#[tonic::async_trait]
impl pb::registry_records_service_server::RegistryRecordsService for RecordsApi {
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

    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let resource = (!message.resource.is_empty()).then_some(message.resource.as_str());
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &message.resource)?;
        let (entries, next_page_token) = self
            .0
            .list_audit_entries(&principal, resource, &page)
            .await?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            audit_entries: entries
                .into_iter()
                .map(|entry| pb::AuditEntry {
                    name: names::audit_entry(&entry.id),
                    actor: entry.actor,
                    actor_org_unit: names::org_unit(&entry.actor_org_unit_id),
                    resource_name: entry.resource_name,
                    fields: entry.fields,
                    method: entry.method,
                    read_time: Some(timestamp(entry.read_time)),
                })
                .collect(),
            next_page_token,
        }))
    }
}
