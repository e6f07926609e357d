//! `egret.activity.v1.SignUpService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{
    check_request_id, enum_value, is_id, metadata, optional_name, parse_name, text,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::{Activity, SignUpQuery};
use crate::domain::names;
use crate::domain::sign_up::{SignUp, SignUpState};

/// The service implementation.
pub struct SignUpApi(pub Activity);

fn sign_up_to_wire(sign_up: &SignUp) -> pb::SignUp {
    pb::SignUp {
        name: names::sign_up(&sign_up.activity_id, &sign_up.id),
        volunteer: names::volunteer(&sign_up.volunteer_id),
        volunteer_display_name: sign_up.volunteer_display_name.clone(),
        position_id: sign_up.position_id.clone(),
        state: sign_up.state as i32,
        waitlist_position: sign_up.waitlist_position as i32,
        decided_by: sign_up.decided_by.clone(),
        comment: sign_up.comment.clone(),
        metadata: Some(metadata(&sign_up.id, &sign_up.meta)),
    }
}

/// `activities/{activity}/signUps/{sign_up}` as (activity id, sign-up id).
fn sign_up_name(name: &str) -> Result<(&str, &str), ApiError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["activities", activity, "signUps", id] if is_id(activity) && is_id(id) => {
            Ok((activity, id))
        }
        _ => Err(ApiError::invalid(
            "name",
            format!(
                "must be a resource name like activities/{{activity}}/signUps/{{sign_up}}, got {}",
                quote(name)
            ),
            "资源名格式应为 activities/{activity}/signUps/{sign_up}",
        )),
    }
}

impl SignUpApi {
    async fn decide(
        &self,
        principal: Principal,
        name: &str,
        target: SignUpState,
        comment: &str,
        field: &str,
        required: bool,
    ) -> Result<pb::SignUp, Status> {
        let (activity, id) = sign_up_name(name)?;
        let mut violations = Violations::new();
        let comment = text(&mut violations, field, comment, 500, required);
        violations.into_result()?;
        let sign_up = self
            .0
            .decide_sign_up(&principal, activity, id, target, &comment)
            .await?;
        Ok(sign_up_to_wire(&sign_up))
    }
}

#[tonic::async_trait]
impl pb::sign_up_service_server::SignUpService for SignUpApi {
    async fn create_sign_up(
        &self,
        request: Request<pb::CreateSignUpRequest>,
    ) -> Result<Response<pb::CreateSignUpResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("parent", &message.parent, "activities")?;
        check_request_id(&message.request_id)?;
        let Some(sign_up) = &message.sign_up else {
            return Err(ApiError::invalid("sign_up", "is required", "不能为空").into());
        };
        let volunteer = parse_name("sign_up.volunteer", &sign_up.volunteer, "volunteers")?;
        if sign_up.position_id.trim().is_empty() {
            return Err(
                ApiError::invalid("sign_up.position_id", "is required", "必须选择岗位").into(),
            );
        }
        let created = self
            .0
            .create_sign_up(
                &principal,
                activity,
                volunteer,
                sign_up.position_id.trim(),
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateSignUpResponse {
            sign_up: Some(sign_up_to_wire(&created)),
        }))
    }

    async fn get_sign_up(
        &self,
        request: Request<pb::GetSignUpRequest>,
    ) -> Result<Response<pb::GetSignUpResponse>, Status> {
        let principal = Principal::of(&request)?;
        let (activity, id) = sign_up_name(&request.get_ref().name)?;
        let sign_up = self.0.get_sign_up(&principal, activity, id).await?;
        Ok(Response::new(pb::GetSignUpResponse {
            sign_up: Some(sign_up_to_wire(&sign_up)),
        }))
    }

    async fn list_sign_ups(
        &self,
        request: Request<pb::ListSignUpsRequest>,
    ) -> Result<Response<pb::ListSignUpsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = if message.parent == "activities/-" {
            None
        } else {
            Some(parse_name("parent", &message.parent, "activities")?.to_string())
        };
        let volunteer =
            optional_name("volunteer", &message.volunteer, "volunteers")?.map(str::to_string);
        let mut violations = Violations::new();
        let state = enum_value(&mut violations, "state", message.state, |value| {
            pb::SignUpState::try_from(value).is_ok()
        });
        violations.into_result()?;
        let query = SignUpQuery {
            activity,
            volunteer,
            position_id: (!message.position_id.is_empty()).then(|| message.position_id.clone()),
            state: SignUpState::from_number(i64::from(state)),
        };
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (sign_ups, next_page_token) = self.0.list_sign_ups(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListSignUpsResponse {
            sign_ups: sign_ups.iter().map(sign_up_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn approve_sign_up(
        &self,
        request: Request<pb::ApproveSignUpRequest>,
    ) -> Result<Response<pb::ApproveSignUpResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let sign_up = self
            .decide(
                principal,
                &message.name,
                SignUpState::Approved,
                &message.comment,
                "comment",
                false,
            )
            .await?;
        Ok(Response::new(pb::ApproveSignUpResponse {
            sign_up: Some(sign_up),
        }))
    }

    async fn reject_sign_up(
        &self,
        request: Request<pb::RejectSignUpRequest>,
    ) -> Result<Response<pb::RejectSignUpResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let sign_up = self
            .decide(
                principal,
                &message.name,
                SignUpState::Rejected,
                &message.comment,
                "comment",
                true,
            )
            .await?;
        Ok(Response::new(pb::RejectSignUpResponse {
            sign_up: Some(sign_up),
        }))
    }

    async fn cancel_sign_up(
        &self,
        request: Request<pb::CancelSignUpRequest>,
    ) -> Result<Response<pb::CancelSignUpResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let sign_up = self
            .decide(
                principal,
                &message.name,
                SignUpState::Cancelled,
                &message.reason,
                "reason",
                false,
            )
            .await?;
        Ok(Response::new(pb::CancelSignUpResponse {
            sign_up: Some(sign_up),
        }))
    }
}
