//! `egret.gateway.v1.EnrollmentService`: wire ↔ use cases.

use egret_proto::gateway::v1 as pb;
use egret_proto::gateway::v1::enrollment_service_server::{
    EnrollmentService, EnrollmentServiceServer,
};
use egret_runtime::wire::{metadata, timestamp};
use egret_runtime::{PageRequest, ServiceHost};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use super::app::{Enrollment, EnrollmentState, Enrollments, enrollment_name};
use crate::accounts::grpc::caller;

/// A district's links to the city, for GetUpstreamStatus.
#[derive(Clone, Default)]
pub struct Links {
    /// `instance.upstream`.
    pub upstream: String,
    /// One per service; none at a city.
    pub pushers: Vec<egret_sync::push::Pusher>,
    /// Each service's feed from the city, by the same order; none at a city.
    pub pulls: Vec<egret_sync::downward::PullWatch>,
}

impl Links {
    /// Each service's link, both ways, as it stands.
    pub async fn statuses(&self) -> Vec<pb::ServiceLink> {
        let pulls = futures::future::join_all(self.pulls.iter().map(|pull| async move {
            let status = match pull.status().await {
                Ok(status) => status,
                // The service's own health says it is down; this says what is unknown.
                Err(error) => Some(egret_proto::sync::v1::PullStatus {
                    last_error: format!("the state of the feed is unknown: {error}"),
                    ..Default::default()
                }),
            };
            (pull.service(), status)
        }))
        .await;
        self.pushers
            .iter()
            .map(|pusher| {
                let status = pusher.status();
                let downward = pulls
                    .iter()
                    .find(|(service, _)| *service == status.service)
                    .and_then(|(_, pull)| pull.clone());
                pb::ServiceLink {
                    downward,
                    ..link_to_wire(&status)
                }
            })
            .collect()
    }
}

/// Whether a link is an alarm, either way.
pub fn is_alarm(link: &pb::ServiceLink) -> bool {
    link.alarm || link.downward.as_ref().is_some_and(|pull| pull.alarm)
}

/// Adds the service; the exchange of a credential needs no bearer token.
pub fn add_services(host: &mut ServiceHost, enrollments: Enrollments, links: Links) {
    let service = <EnrollmentServiceServer<EnrollmentApi> as NamedService>::NAME;
    host.allow_anonymous(format!("/{service}/IssueSyncToken"));
    host.add_service(EnrollmentServiceServer::new(EnrollmentApi(
        enrollments,
        links,
    )));
}

fn link_to_wire(status: &egret_sync::push::PushStatus) -> pb::ServiceLink {
    pb::ServiceLink {
        service: status.service.to_string(),
        acknowledged_sequence: status.acknowledged_sequence,
        head_sequence: status.head_sequence,
        alarm: status.alarm(),
        last_error: status.last_error.clone(),
        failing_for: status
            .failing_since
            .and_then(|since| prost_types::Duration::try_from(since.elapsed()).ok()),
        verified_sequence: status.verified_sequence,
        mismatch: status.mismatch.clone(),
        downward: None,
    }
}

fn to_wire(enrollment: &Enrollment) -> pb::Enrollment {
    pb::Enrollment {
        name: enrollment_name(&enrollment.instance_id),
        instance_id: enrollment.instance_id.clone(),
        org_unit: format!("orgUnits/{}", enrollment.org_unit_id),
        org_unit_display_name: enrollment.display_name.clone(),
        state: match enrollment.state {
            EnrollmentState::Active => pb::EnrollmentState::Active,
            EnrollmentState::Revoked => pb::EnrollmentState::Revoked,
        } as i32,
        created_by: enrollment.created_by.clone(),
        revoke_time: (enrollment.revoke_time > 0).then(|| timestamp(enrollment.revoke_time)),
        metadata: Some(metadata(&enrollment.instance_id, &enrollment.meta)),
    }
}

/// The service implementation.
pub struct EnrollmentApi(pub Enrollments, pub Links);

#[tonic::async_trait]
impl EnrollmentService for EnrollmentApi {
    async fn create_enrollment(
        &self,
        request: Request<pb::CreateEnrollmentRequest>,
    ) -> Result<Response<pb::CreateEnrollmentResponse>, Status> {
        let caller = caller(&request)?;
        let wanted = request.into_inner().enrollment.unwrap_or_default();
        let (enrollment, credential) = self
            .0
            .create(&caller, &wanted.instance_id, &wanted.org_unit)
            .await?;
        Ok(Response::new(pb::CreateEnrollmentResponse {
            enrollment: Some(to_wire(&enrollment)),
            credential,
        }))
    }

    async fn list_enrollments(
        &self,
        request: Request<pb::ListEnrollmentsRequest>,
    ) -> Result<Response<pb::ListEnrollmentsResponse>, Status> {
        let caller = caller(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(message.page_size, &message.page_token, "")?;
        let (enrollments, next_page_token) = self.0.list(&caller, &page).await?;
        Ok(Response::new(pb::ListEnrollmentsResponse {
            enrollments: enrollments.iter().map(to_wire).collect(),
            next_page_token,
        }))
    }

    async fn revoke_enrollment(
        &self,
        request: Request<pb::RevokeEnrollmentRequest>,
    ) -> Result<Response<pb::RevokeEnrollmentResponse>, Status> {
        let caller = caller(&request)?;
        let enrollment = self.0.revoke(&caller, &request.get_ref().name).await?;
        Ok(Response::new(pb::RevokeEnrollmentResponse {
            enrollment: Some(to_wire(&enrollment)),
        }))
    }

    async fn issue_sync_token(
        &self,
        request: Request<pb::IssueSyncTokenRequest>,
    ) -> Result<Response<pb::IssueSyncTokenResponse>, Status> {
        let grant = self
            .0
            .issue_sync_token(&request.get_ref().credential)
            .await?;
        Ok(Response::new(pb::IssueSyncTokenResponse {
            access_token: grant.access_token,
            expire_time: Some(timestamp(grant.expire_time)),
            instance_id: grant.instance_id,
            upstream_instance_id: grant.upstream_instance_id,
            org_unit: Some(grant.org_unit),
        }))
    }

    async fn get_upstream_status(
        &self,
        _request: Request<pb::GetUpstreamStatusRequest>,
    ) -> Result<Response<pb::GetUpstreamStatusResponse>, Status> {
        // The gate admitted admins, staff and viewers only.
        Ok(Response::new(pb::GetUpstreamStatusResponse {
            upstream: self.1.upstream.clone(),
            links: self.1.statuses().await,
        }))
    }
}
