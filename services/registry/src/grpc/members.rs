//! `egret.registry.v1.MembershipService`.

use egret_proto::registry::v1 as pb;
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use super::{
    check_request_id, date_to_wire, enum_value, metadata, optional_name, parse_name,
    parse_nested_name, text,
};
use crate::app::{MembershipQuery, NewJoinApplication, Registry};
use crate::domain::{JoinApplication, JoinState, Membership, MembershipState, names};

/// The service implementation.
pub struct MembershipApi(pub Registry);

fn membership_to_wire(membership: &Membership) -> pb::Membership {
    pb::Membership {
        name: names::membership(&membership.org_unit_id, &membership.id),
        volunteer: names::volunteer(&membership.volunteer_id),
        volunteer_display_name: membership.volunteer_display_name.clone(),
        primary: membership.primary,
        state: membership.state as i32,
        joined_on: Some(date_to_wire(membership.joined_on)),
        ended_on: membership.ended_on.map(date_to_wire),
        metadata: Some(metadata(&membership.id, &membership.meta)),
    }
}

fn application_to_wire(application: &JoinApplication) -> pb::JoinApplication {
    pb::JoinApplication {
        name: names::join_application(&application.org_unit_id, &application.id),
        volunteer: names::volunteer(&application.volunteer_id),
        message: application.message.clone(),
        state: application.state as i32,
        decided_by: application.decided_by.clone(),
        decision_comment: application.decision_comment.clone(),
        membership: if application.membership_id.is_empty() {
            String::new()
        } else {
            names::membership(&application.org_unit_id, &application.membership_id)
        },
        metadata: Some(metadata(&application.id, &application.meta)),
    }
}

fn comment(comment: &str, required: bool) -> Result<String, ApiError> {
    let mut violations = Violations::new();
    let comment = text(&mut violations, "comment", comment, 500, required);
    violations.into_result()?;
    Ok(comment)
}

impl MembershipApi {
    async fn decide(
        &self,
        principal: Principal,
        name: &str,
        decision: JoinState,
        comment: &str,
    ) -> Result<pb::JoinApplication, Status> {
        let (unit, id) = parse_nested_name("name", name, "joinApplications")?;
        let application = self
            .0
            .decide_join_application(&principal, unit, id, decision, comment)
            .await?;
        Ok(application_to_wire(&application))
    }
}

#[tonic::async_trait]
impl pb::membership_service_server::MembershipService for MembershipApi {
    async fn list_memberships(
        &self,
        request: Request<pb::ListMembershipsRequest>,
    ) -> Result<Response<pb::ListMembershipsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = if message.parent == "orgUnits/-" {
            None
        } else {
            Some(parse_name("parent", &message.parent, "orgUnits")?.to_string())
        };
        let volunteer =
            optional_name("volunteer", &message.volunteer, "volunteers")?.map(str::to_string);
        let mut violations = Violations::new();
        let state = enum_value(&mut violations, "state", message.state, |value| {
            pb::MembershipState::try_from(value).is_ok()
        });
        violations.into_result()?;
        let query = MembershipQuery {
            org_unit,
            volunteer,
            state: MembershipState::from_number(i64::from(state)),
        };
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (memberships, next_page_token) =
            self.0.list_memberships(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListMembershipsResponse {
            memberships: memberships.iter().map(membership_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_membership(
        &self,
        request: Request<pb::CreateMembershipRequest>,
    ) -> Result<Response<pb::CreateMembershipResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("parent", &message.parent, "orgUnits")?;
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        check_request_id(&message.request_id)?;
        let membership = self
            .0
            .create_membership(&principal, org_unit, volunteer, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateMembershipResponse {
            membership: Some(membership_to_wire(&membership)),
        }))
    }

    async fn set_primary_membership(
        &self,
        request: Request<pb::SetPrimaryMembershipRequest>,
    ) -> Result<Response<pb::SetPrimaryMembershipResponse>, Status> {
        let principal = Principal::of(&request)?;
        let (unit, id) = parse_nested_name("name", &request.get_ref().name, "memberships")?;
        let membership = self.0.set_primary_membership(&principal, unit, id).await?;
        Ok(Response::new(pb::SetPrimaryMembershipResponse {
            membership: Some(membership_to_wire(&membership)),
        }))
    }

    async fn end_membership(
        &self,
        request: Request<pb::EndMembershipRequest>,
    ) -> Result<Response<pb::EndMembershipResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let (unit, id) = parse_nested_name("name", &message.name, "memberships")?;
        let mut violations = Violations::new();
        let reason = text(&mut violations, "reason", &message.reason, 500, false);
        violations.into_result()?;
        let membership = self.0.end_membership(&principal, unit, id, &reason).await?;
        Ok(Response::new(pb::EndMembershipResponse {
            membership: Some(membership_to_wire(&membership)),
        }))
    }

    async fn create_join_application(
        &self,
        request: Request<pb::CreateJoinApplicationRequest>,
    ) -> Result<Response<pb::CreateJoinApplicationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("parent", &message.parent, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let Some(application) = &message.join_application else {
            return Err(ApiError::invalid("join_application", "is required", "不能为空").into());
        };
        let volunteer = parse_name(
            "join_application.volunteer",
            &application.volunteer,
            "volunteers",
        )?;
        let mut violations = Violations::new();
        let text_message = text(
            &mut violations,
            "join_application.message",
            &application.message,
            500,
            false,
        );
        violations.into_result()?;
        let created = self
            .0
            .create_join_application(
                &principal,
                NewJoinApplication {
                    org_unit_id: org_unit.to_string(),
                    volunteer_id: volunteer.to_string(),
                    message: text_message,
                },
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateJoinApplicationResponse {
            join_application: Some(application_to_wire(&created)),
        }))
    }

    async fn get_join_application(
        &self,
        request: Request<pb::GetJoinApplicationRequest>,
    ) -> Result<Response<pb::GetJoinApplicationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let (unit, id) = parse_nested_name("name", &request.get_ref().name, "joinApplications")?;
        let application = self.0.get_join_application(&principal, unit, id).await?;
        Ok(Response::new(pb::GetJoinApplicationResponse {
            join_application: Some(application_to_wire(&application)),
        }))
    }

    async fn list_join_applications(
        &self,
        request: Request<pb::ListJoinApplicationsRequest>,
    ) -> Result<Response<pb::ListJoinApplicationsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("parent", &message.parent, "orgUnits")?;
        let mut violations = Violations::new();
        let state = enum_value(&mut violations, "state", message.state, |value| {
            pb::JoinApplicationState::try_from(value).is_ok()
        });
        violations.into_result()?;
        let state = JoinState::from_number(i64::from(state));
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &format!("{org_unit}{state:?}"),
        )?;
        let (applications, next_page_token) = self
            .0
            .list_join_applications(&principal, org_unit, state, &page)
            .await?;
        Ok(Response::new(pb::ListJoinApplicationsResponse {
            join_applications: applications.iter().map(application_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn approve_join_application(
        &self,
        request: Request<pb::ApproveJoinApplicationRequest>,
    ) -> Result<Response<pb::ApproveJoinApplicationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let comment = comment(&message.comment, false)?;
        let application = self
            .decide(principal, &message.name, JoinState::Approved, &comment)
            .await?;
        Ok(Response::new(pb::ApproveJoinApplicationResponse {
            join_application: Some(application),
        }))
    }

    async fn reject_join_application(
        &self,
        request: Request<pb::RejectJoinApplicationRequest>,
    ) -> Result<Response<pb::RejectJoinApplicationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let comment = comment(&message.comment, true)?;
        let application = self
            .decide(principal, &message.name, JoinState::Rejected, &comment)
            .await?;
        Ok(Response::new(pb::RejectJoinApplicationResponse {
            join_application: Some(application),
        }))
    }

    async fn withdraw_join_application(
        &self,
        request: Request<pb::WithdrawJoinApplicationRequest>,
    ) -> Result<Response<pb::WithdrawJoinApplicationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let application = self
            .decide(principal, &request.get_ref().name, JoinState::Withdrawn, "")
            .await?;
        Ok(Response::new(pb::WithdrawJoinApplicationResponse {
            join_application: Some(application),
        }))
    }
}
