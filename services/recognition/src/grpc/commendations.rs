//! `egret.recognition.v1.CommendationService`.

use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1::TeamLevel;
use egret_runtime::error::quote;
use egret_runtime::wire::{
    check_request_id, date_to_wire, is_id, metadata, optional_name, parse_name, text, timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Recognition;
use crate::app::commendations::{HonourFields, NewCommendation, Step};
use crate::domain::commendation::{Commendation, CommendationState, Honour, RecipientKind};
use crate::domain::names;

/// The service implementation.
pub struct CommendationApi(pub Recognition);

fn honour_to_wire(honour: &Honour) -> pb::Honour {
    pb::Honour {
        name: names::honour(&honour.id),
        org_unit: names::org_unit(&honour.org_unit_id),
        display_name: honour.display_name.clone(),
        category: honour.category,
        level: honour.level,
        recipient_kind: honour.recipient_kind as i32,
        notice_days: Some(honour.notice_days),
        description: honour.description.clone(),
        active: honour.active,
        metadata: Some(metadata(&honour.id, &honour.meta)),
    }
}

fn state_from_wire(state: i32) -> Result<Option<CommendationState>, ApiError> {
    match state {
        0 => Ok(None),
        _ => CommendationState::from_number(i64::from(state))
            .map(Some)
            .ok_or_else(|| ApiError::invalid("state", "is not a known state", "状态无效")),
    }
}

/// `volunteers/…`, `orgUnits/…` or `projects/…` as (collection, id).
fn parse_recipient(field: &str, name: &str) -> Result<(String, String), ApiError> {
    match name.split_once('/') {
        Some((collection @ ("volunteers" | "orgUnits" | "projects"), id)) if is_id(id) => {
            Ok((collection.to_string(), id.to_string()))
        }
        _ => Err(ApiError::invalid(
            field,
            format!(
                "must be volunteers/{{id}}, orgUnits/{{id}} or projects/{{id}}, got {}",
                quote(name)
            ),
            "应为 volunteers/{id}、orgUnits/{id} 或 projects/{id}",
        )),
    }
}

impl CommendationApi {
    /// Checks a step's request (the name, and the text: a comment, required to reject or
    /// withdraw; an objection's content, always required) and takes the step.
    async fn step<T>(
        &self,
        request: &Request<T>,
        (name, text_given): (&str, &str),
        step: Step,
    ) -> Result<pb::Commendation, Status> {
        let principal = Principal::of(request)?;
        let id = parse_name("name", name, "commendations")?;
        let (field, max, required) = match step {
            Step::Object => ("content", 2000, true),
            Step::Reject | Step::Withdraw => ("comment", 500, true),
            Step::PassReview | Step::Award => ("comment", 500, false),
        };
        let mut violations = Violations::new();
        let text_checked = text(&mut violations, field, text_given, max, required);
        violations.into_result()?;
        let commendation = self
            .0
            .decide_commendation(&principal, id, step, text_checked)
            .await?;
        self.respond(&commendation).await
    }

    async fn respond(&self, commendation: &Commendation) -> Result<pb::Commendation, Status> {
        Ok(pb::Commendation {
            name: names::commendation(&commendation.id),
            honour: names::honour(&commendation.honour_id),
            honour_display_name: self.0.honour_display_name(&commendation.honour_id).await?,
            recipient: commendation.recipient.clone(),
            recipient_display_name: commendation.recipient_display_name.clone(),
            year: commendation.year,
            citation: commendation.citation.clone(),
            nominating_org_unit: names::org_unit(&commendation.nominating_org_unit_id),
            state: commendation.state as i32,
            notice_start_date: commendation.notice_start_date.map(date_to_wire),
            notice_end_date: commendation.notice_end_date.map(date_to_wire),
            objections: commendation
                .objections
                .iter()
                .map(|objection| pb::Objection {
                    recorded_by: objection.recorded_by.clone(),
                    content: objection.content.clone(),
                    record_time: Some(timestamp(objection.record_time)),
                })
                .collect(),
            decided_by: commendation.decided_by.clone(),
            decision_comment: commendation.decision_comment.clone(),
            award_time: (commendation.award_time > 0).then(|| timestamp(commendation.award_time)),
            metadata: Some(metadata(&commendation.id, &commendation.meta)),
        })
    }
}

#[tonic::async_trait]
impl pb::commendation_service_server::CommendationService for CommendationApi {
    async fn create_honour(
        &self,
        request: Request<pb::CreateHonourRequest>,
    ) -> Result<Response<pb::CreateHonourResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        check_request_id(&message.request_id)?;
        let Some(honour) = &message.honour else {
            return Err(ApiError::invalid("honour", "is required", "不能为空").into());
        };
        let org_unit = optional_name("honour.org_unit", &honour.org_unit, "orgUnits")?;
        let mut violations = Violations::new();
        let display_name = text(
            &mut violations,
            "honour.display_name",
            &honour.display_name,
            100,
            true,
        );
        let description = text(
            &mut violations,
            "honour.description",
            &honour.description,
            2000,
            false,
        );
        if !matches!(
            pb::HonourCategory::try_from(honour.category),
            Ok(category) if category != pb::HonourCategory::Unspecified
        ) {
            violations.add("honour.category", "is required", "必须选择荣誉类别");
        }
        if !matches!(
            TeamLevel::try_from(honour.level),
            Ok(level) if level != TeamLevel::Unspecified
        ) {
            violations.add(
                "honour.level",
                "must be national, provincial, municipal or district",
                "级别应为国家级、省级、市级或区级",
            );
        }
        let recipient_kind = RecipientKind::from_number(i64::from(honour.recipient_kind));
        if recipient_kind.is_none() {
            violations.add(
                "honour.recipient_kind",
                "is required",
                "必须选择授予对象类型",
            );
        }
        if let Some(days) = honour.notice_days
            && !(0..=60).contains(&days)
        {
            violations.add(
                "honour.notice_days",
                "must be between 0 and 60",
                "公示天数应在 0 到 60 之间",
            );
        }
        violations.into_result()?;
        let created = self
            .0
            .create_honour(
                &principal,
                HonourFields {
                    org_unit_id: org_unit.map(str::to_string),
                    display_name,
                    category: honour.category,
                    level: honour.level,
                    recipient_kind: recipient_kind.unwrap_or(RecipientKind::Volunteer),
                    notice_days: honour.notice_days,
                    description,
                },
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateHonourResponse {
            honour: Some(honour_to_wire(&created)),
        }))
    }

    async fn list_honours(
        &self,
        request: Request<pb::ListHonoursRequest>,
    ) -> Result<Response<pb::ListHonoursResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(message.page_size, &message.page_token, "honours")?;
        let (honours, next_page_token) = self.0.list_honours(&principal, &page).await?;
        Ok(Response::new(pb::ListHonoursResponse {
            honours: honours.iter().map(honour_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn nominate_commendation(
        &self,
        request: Request<pb::NominateCommendationRequest>,
    ) -> Result<Response<pb::NominateCommendationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let honour = parse_name("honour", &message.honour, "honours")?;
        let recipient = parse_recipient("recipient", &message.recipient)?;
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let mut violations = Violations::new();
        let citation = text(&mut violations, "citation", &message.citation, 2000, true);
        if message.year == 0 {
            violations.add("year", "is required", "必须填写年度");
        }
        violations.into_result()?;
        let commendation = self
            .0
            .nominate_commendation(
                &principal,
                NewCommendation {
                    honour_id: honour.to_string(),
                    recipient,
                    year: message.year,
                    citation,
                    org_unit_id: org_unit.map(str::to_string),
                },
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::NominateCommendationResponse {
            commendation: Some(self.respond(&commendation).await?),
        }))
    }

    async fn approve_commendation(
        &self,
        request: Request<pb::ApproveCommendationRequest>,
    ) -> Result<Response<pb::ApproveCommendationResponse>, Status> {
        let message = request.get_ref();
        let commendation = self
            .step(
                &request,
                (&message.name, &message.comment),
                Step::PassReview,
            )
            .await?;
        Ok(Response::new(pb::ApproveCommendationResponse {
            commendation: Some(commendation),
        }))
    }

    async fn reject_commendation(
        &self,
        request: Request<pb::RejectCommendationRequest>,
    ) -> Result<Response<pb::RejectCommendationResponse>, Status> {
        let message = request.get_ref();
        let commendation = self
            .step(&request, (&message.name, &message.comment), Step::Reject)
            .await?;
        Ok(Response::new(pb::RejectCommendationResponse {
            commendation: Some(commendation),
        }))
    }

    async fn record_objection(
        &self,
        request: Request<pb::RecordObjectionRequest>,
    ) -> Result<Response<pb::RecordObjectionResponse>, Status> {
        let message = request.get_ref();
        let commendation = self
            .step(&request, (&message.name, &message.content), Step::Object)
            .await?;
        Ok(Response::new(pb::RecordObjectionResponse {
            commendation: Some(commendation),
        }))
    }

    async fn award_commendation(
        &self,
        request: Request<pb::AwardCommendationRequest>,
    ) -> Result<Response<pb::AwardCommendationResponse>, Status> {
        let message = request.get_ref();
        let commendation = self
            .step(&request, (&message.name, &message.comment), Step::Award)
            .await?;
        Ok(Response::new(pb::AwardCommendationResponse {
            commendation: Some(commendation),
        }))
    }

    async fn withdraw_commendation(
        &self,
        request: Request<pb::WithdrawCommendationRequest>,
    ) -> Result<Response<pb::WithdrawCommendationResponse>, Status> {
        let message = request.get_ref();
        let commendation = self
            .step(&request, (&message.name, &message.comment), Step::Withdraw)
            .await?;
        Ok(Response::new(pb::WithdrawCommendationResponse {
            commendation: Some(commendation),
        }))
    }

    async fn get_commendation(
        &self,
        request: Request<pb::GetCommendationRequest>,
    ) -> Result<Response<pb::GetCommendationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "commendations")?;
        let commendation = self.0.get_commendation(&principal, id).await?;
        Ok(Response::new(pb::GetCommendationResponse {
            commendation: Some(self.respond(&commendation).await?),
        }))
    }

    async fn list_commendations(
        &self,
        request: Request<pb::ListCommendationsRequest>,
    ) -> Result<Response<pb::ListCommendationsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let recipient = if message.recipient.is_empty() {
            None
        } else {
            Some(parse_recipient("recipient", &message.recipient)?)
        };
        let state = state_from_wire(message.state)?;
        let filters = format!("{}|{}", message.recipient, message.state);
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let (found, next_page_token) = self
            .0
            .list_commendations(
                &principal,
                recipient
                    .as_ref()
                    .map(|(collection, id)| (collection.as_str(), id.as_str())),
                state,
                &page,
            )
            .await?;
        let mut commendations = Vec::with_capacity(found.len());
        for commendation in &found {
            commendations.push(self.respond(commendation).await?);
        }
        Ok(Response::new(pb::ListCommendationsResponse {
            commendations,
            next_page_token,
        }))
    }
}
