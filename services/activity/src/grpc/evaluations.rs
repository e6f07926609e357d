//! `egret.activity.v1.EvaluationService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::wire::{check_request_id, metadata, parse_name, text};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::{Activity, NewEvaluation, SummaryOf};
use crate::domain::evaluation::Evaluation;
use crate::domain::names;

/// The service implementation.
pub struct EvaluationApi(pub Activity);

fn evaluation_to_wire(evaluation: &Evaluation) -> pb::Evaluation {
    pb::Evaluation {
        name: format!(
            "{}/evaluations/{}",
            names::activity(&evaluation.activity_id),
            evaluation.id
        ),
        evaluator_kind: evaluation.evaluator_kind,
        volunteer: if evaluation.anonymous || evaluation.volunteer_id.is_empty() {
            String::new()
        } else {
            names::volunteer(&evaluation.volunteer_id)
        },
        anonymous: evaluation.anonymous,
        rating: evaluation.rating,
        comment: evaluation.comment.clone(),
        metadata: Some(metadata(&evaluation.id, &evaluation.meta)),
    }
}

#[tonic::async_trait]
impl pb::evaluation_service_server::EvaluationService for EvaluationApi {
    async fn create_evaluation(
        &self,
        request: Request<pb::CreateEvaluationRequest>,
    ) -> Result<Response<pb::CreateEvaluationResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("parent", &message.parent, "activities")?;
        check_request_id(&message.request_id)?;
        let Some(evaluation) = &message.evaluation else {
            return Err(ApiError::invalid("evaluation", "is required", "不能为空").into());
        };
        let mut violations = Violations::new();
        let kind = pb::EvaluatorKind::try_from(evaluation.evaluator_kind)
            .unwrap_or(pb::EvaluatorKind::Unspecified);
        let volunteer_id = match kind {
            pb::EvaluatorKind::Unspecified => {
                violations.add(
                    "evaluation.evaluator_kind",
                    "is required",
                    "必须指明评价人类型",
                );
                None
            }
            pb::EvaluatorKind::Beneficiary => {
                if !evaluation.volunteer.is_empty() {
                    violations.add(
                        "evaluation.volunteer",
                        "must be empty for a beneficiary's evaluation",
                        "服务对象评价不填写志愿者",
                    );
                }
                None
            }
            pb::EvaluatorKind::Volunteer => {
                match parse_name("evaluation.volunteer", &evaluation.volunteer, "volunteers") {
                    Ok(id) => Some(id.to_string()),
                    Err(ApiError::InvalidArgument(found)) => {
                        violations.extend(found);
                        None
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        };
        if !(1..=5).contains(&evaluation.rating) {
            violations.add(
                "evaluation.rating",
                "must be between 1 and 5",
                "评分应为 1 到 5 分",
            );
        }
        let comment = text(
            &mut violations,
            "evaluation.comment",
            &evaluation.comment,
            1000,
            false,
        );
        violations.into_result()?;
        let created = self
            .0
            .create_evaluation(
                &principal,
                activity,
                NewEvaluation {
                    evaluator_kind: kind as i32,
                    volunteer_id,
                    anonymous: evaluation.anonymous,
                    rating: evaluation.rating,
                    comment,
                },
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateEvaluationResponse {
            evaluation: Some(evaluation_to_wire(&created)),
        }))
    }

    async fn list_evaluations(
        &self,
        request: Request<pb::ListEvaluationsRequest>,
    ) -> Result<Response<pb::ListEvaluationsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("parent", &message.parent, "activities")?;
        let page = PageRequest::standard(message.page_size, &message.page_token, activity)?;
        let (evaluations, next_page_token) =
            self.0.list_evaluations(&principal, activity, &page).await?;
        Ok(Response::new(pb::ListEvaluationsResponse {
            evaluations: evaluations.iter().map(evaluation_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn get_evaluation_summary(
        &self,
        request: Request<pb::GetEvaluationSummaryRequest>,
    ) -> Result<Response<pb::GetEvaluationSummaryResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let given = [&message.activity, &message.project, &message.org_unit]
            .iter()
            .filter(|value| !value.is_empty())
            .count();
        if given != 1 {
            return Err(ApiError::invalid(
                "activity",
                "give exactly one of activity, project and org_unit",
                "活动、项目、组织三者须且只能填写一项",
            )
            .into());
        }
        let of = if !message.activity.is_empty() {
            SummaryOf::Activity(
                parse_name("activity", &message.activity, "activities")?.to_string(),
            )
        } else if !message.project.is_empty() {
            SummaryOf::Project(parse_name("project", &message.project, "projects")?.to_string())
        } else {
            SummaryOf::OrgUnit(parse_name("org_unit", &message.org_unit, "orgUnits")?.to_string())
        };
        let (evaluation_count, average_rating) = self.0.evaluation_summary(&principal, &of).await?;
        Ok(Response::new(pb::GetEvaluationSummaryResponse {
            evaluation_count,
            average_rating,
        }))
    }
}
