//! `egret.activity.v1.ProjectService`.

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, enum_list, enum_value, is_service_field,
    is_service_theme, is_target_group, mask_paths, metadata, optional_name, parse_name, text,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use egret_storage::Ordering;
use egret_types::identity::{mask_phone, parse_phone};
use tonic::{Request, Response, Status};

use crate::app::{Activity, PROJECT_SORT_FIELDS, ProjectPatch, ProjectQuery};
use crate::domain::{Partner, Project, ProjectFields, ProjectStatus, SocialWorker, names};

/// The service implementation.
pub struct ProjectApi(pub Activity);

/// The largest budget accepted, in fen: ten billion yuan.
const MAX_BUDGET_FEN: i64 = 1_000_000_000_000;
/// The most social workers one partner lists.
const MAX_SOCIAL_WORKERS: usize = 200;

fn is_funding_source(value: i32) -> bool {
    pb::FundingSource::try_from(value).is_ok()
}

fn project_to_wire(project: &Project) -> pb::Project {
    pb::Project {
        name: names::project(&project.id),
        org_unit: names::org_unit(&project.org_unit_id),
        display_name: project.display_name.clone(),
        description: project.description.clone(),
        service_themes: project.service_themes.clone(),
        service_fields: project.service_fields.clone(),
        target_groups: project.target_groups.clone(),
        start_date: Some(date_to_wire(project.start_date)),
        end_date: Some(date_to_wire(project.end_date)),
        funding_source: project.funding_source,
        budget_fen: project.budget_fen,
        partner: project
            .partner
            .as_ref()
            .map(|partner| pb::PartnerOrganization {
                name: partner.name.clone(),
                credit_code: partner.credit_code.clone(),
                social_workers: partner
                    .social_workers
                    .iter()
                    .map(|worker| pb::SocialWorker {
                        name: worker.name.clone(),
                        phone: mask_phone(&worker.phone),
                        certificate_number: worker.certificate_number.clone(),
                    })
                    .collect(),
            }),
        status: project.status as i32,
        metadata: Some(metadata(&project.id, &project.meta)),
    }
}

fn partner(
    violations: &mut Violations,
    partner: Option<&pb::PartnerOrganization>,
) -> Option<Partner> {
    let partner = partner?;
    let field = |name: &str| format!("project.partner.{name}");
    let empty = partner.name.trim().is_empty()
        && partner.credit_code.trim().is_empty()
        && partner.social_workers.is_empty();
    if empty {
        return None;
    }
    if partner.social_workers.len() > MAX_SOCIAL_WORKERS {
        violations.add(
            field("social_workers"),
            format!("at most {MAX_SOCIAL_WORKERS} social workers"),
            format!("社工最多 {MAX_SOCIAL_WORKERS} 人"),
        );
    }
    let social_workers = partner
        .social_workers
        .iter()
        .enumerate()
        .map(|(index, worker)| {
            let row = |name: &str| format!("project.partner.social_workers[{index}].{name}");
            let phone = if worker.phone.trim().is_empty() {
                String::new()
            } else {
                parse_phone(&worker.phone).unwrap_or_else(|invalid| {
                    violations.add(row("phone"), invalid.en, invalid.zh);
                    String::new()
                })
            };
            SocialWorker {
                name: text(violations, &row("name"), &worker.name, 50, true),
                phone,
                certificate_number: text(
                    violations,
                    &row("certificate_number"),
                    &worker.certificate_number,
                    50,
                    false,
                ),
            }
        })
        .collect();
    Some(Partner {
        name: text(violations, &field("name"), &partner.name, 200, true),
        credit_code: text(
            violations,
            &field("credit_code"),
            &partner.credit_code,
            18,
            false,
        ),
        social_workers,
    })
}

fn budget(violations: &mut Violations, value: i64) -> i64 {
    if !(0..=MAX_BUDGET_FEN).contains(&value) {
        violations.add(
            "project.budget_fen",
            format!("must be between 0 and {MAX_BUDGET_FEN} fen"),
            "预算金额超出范围",
        );
    }
    value
}

fn required_date(
    violations: &mut Violations,
    field: &str,
    date: Option<&common::Date>,
) -> Option<egret_types::CivilDate> {
    let parsed = date_from_wire(violations, field, date);
    let given = date.is_some_and(|date| date.year != 0 || date.month != 0 || date.day != 0);
    if !given {
        violations.add(field, "is required", "不能为空");
    }
    parsed
}

fn project_fields(project: &pb::Project) -> Result<ProjectFields, ApiError> {
    let mut violations = Violations::new();
    let display_name = text(
        &mut violations,
        "project.display_name",
        &project.display_name,
        100,
        true,
    );
    let description = text(
        &mut violations,
        "project.description",
        &project.description,
        2000,
        false,
    );
    let service_themes = enum_list(
        &mut violations,
        "project.service_themes",
        &project.service_themes,
        is_service_theme,
    );
    let service_fields = enum_list(
        &mut violations,
        "project.service_fields",
        &project.service_fields,
        is_service_field,
    );
    let target_groups = enum_list(
        &mut violations,
        "project.target_groups",
        &project.target_groups,
        is_target_group,
    );
    let start_date = required_date(
        &mut violations,
        "project.start_date",
        project.start_date.as_ref(),
    );
    let end_date = required_date(
        &mut violations,
        "project.end_date",
        project.end_date.as_ref(),
    );
    let funding_source = enum_value(
        &mut violations,
        "project.funding_source",
        project.funding_source,
        is_funding_source,
    );
    if funding_source == 0 {
        violations.add("project.funding_source", "is required", "必须选择资金来源");
    }
    let budget_fen = budget(&mut violations, project.budget_fen);
    let partner = partner(&mut violations, project.partner.as_ref());
    violations.into_result()?;
    Ok(ProjectFields {
        display_name,
        description,
        service_themes,
        service_fields,
        target_groups,
        start_date: start_date.expect("checked above"),
        end_date: end_date.expect("checked above"),
        funding_source,
        budget_fen,
        partner,
    })
}

const PROJECT_MASK: [&str; 10] = [
    "display_name",
    "description",
    "service_themes",
    "service_fields",
    "target_groups",
    "start_date",
    "end_date",
    "funding_source",
    "budget_fen",
    "partner",
];

fn project_patch(project: &pb::Project, paths: &[String]) -> Result<ProjectPatch, ApiError> {
    let mut violations = Violations::new();
    let mut patch = ProjectPatch::default();
    for path in paths {
        let field = format!("project.{path}");
        match path.as_str() {
            "display_name" => {
                patch.display_name = Some(text(
                    &mut violations,
                    &field,
                    &project.display_name,
                    100,
                    true,
                ))
            }
            "description" => {
                patch.description = Some(text(
                    &mut violations,
                    &field,
                    &project.description,
                    2000,
                    false,
                ))
            }
            "service_themes" => {
                patch.service_themes = Some(enum_list(
                    &mut violations,
                    &field,
                    &project.service_themes,
                    is_service_theme,
                ))
            }
            "service_fields" => {
                patch.service_fields = Some(enum_list(
                    &mut violations,
                    &field,
                    &project.service_fields,
                    is_service_field,
                ))
            }
            "target_groups" => {
                patch.target_groups = Some(enum_list(
                    &mut violations,
                    &field,
                    &project.target_groups,
                    is_target_group,
                ))
            }
            "start_date" => {
                patch.start_date =
                    required_date(&mut violations, &field, project.start_date.as_ref())
            }
            "end_date" => {
                patch.end_date = required_date(&mut violations, &field, project.end_date.as_ref())
            }
            "funding_source" => {
                let value = enum_value(
                    &mut violations,
                    &field,
                    project.funding_source,
                    is_funding_source,
                );
                if value == 0 {
                    violations.add(field, "is required", "必须选择资金来源");
                }
                patch.funding_source = Some(value);
            }
            "budget_fen" => patch.budget_fen = Some(budget(&mut violations, project.budget_fen)),
            "partner" => patch.partner = Some(partner(&mut violations, project.partner.as_ref())),
            _ => {}
        }
    }
    violations.into_result()?;
    Ok(patch)
}

fn reason(reason: &str) -> Result<String, ApiError> {
    let mut violations = Violations::new();
    let reason = text(&mut violations, "reason", reason, 500, false);
    violations.into_result()?;
    Ok(reason)
}

impl ProjectApi {
    async fn status_change(
        &self,
        principal: Principal,
        name: &str,
        target: ProjectStatus,
        why: &str,
    ) -> Result<pb::Project, Status> {
        let id = parse_name("name", name, "projects")?;
        let why = reason(why)?;
        let project = self
            .0
            .change_project_status(&principal, id, target, &why)
            .await?;
        Ok(project_to_wire(&project))
    }
}

#[tonic::async_trait]
impl pb::project_service_server::ProjectService for ProjectApi {
    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "projects")?;
        let project = self.0.get_project(&principal, id).await?;
        Ok(Response::new(pb::GetProjectResponse {
            project: Some(project_to_wire(&project)),
        }))
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit =
            optional_name("org_unit", &message.org_unit, "orgUnits")?.map(str::to_string);
        let mut violations = Violations::new();
        let status = enum_value(&mut violations, "status", message.status, |value| {
            pb::ProjectStatus::try_from(value).is_ok()
        });
        let funding_source = enum_value(
            &mut violations,
            "funding_source",
            message.funding_source,
            is_funding_source,
        );
        let ordering = Ordering::read(&mut violations, &message.order_by, &PROJECT_SORT_FIELDS);
        violations.into_result()?;
        let query = ProjectQuery {
            org_unit,
            status: ProjectStatus::from_number(i64::from(status)),
            funding_source,
            ordering,
        };
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (projects, next_page_token) = self.0.list_projects(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: projects.iter().map(project_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::CreateProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        check_request_id(&message.request_id)?;
        let Some(project) = &message.project else {
            return Err(ApiError::invalid("project", "is required", "不能为空").into());
        };
        let org_unit = parse_name("project.org_unit", &project.org_unit, "orgUnits")?;
        let fields = project_fields(project)?;
        let created = self
            .0
            .create_project(&principal, org_unit, fields, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateProjectResponse {
            project: Some(project_to_wire(&created)),
        }))
    }

    async fn update_project(
        &self,
        request: Request<pb::UpdateProjectRequest>,
    ) -> Result<Response<pb::UpdateProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(project) = &message.project else {
            return Err(ApiError::invalid("project", "is required", "不能为空").into());
        };
        let id = parse_name("project.name", &project.name, "projects")?;
        let paths = mask_paths(message.update_mask.as_ref(), &PROJECT_MASK)?;
        let patch = project_patch(project, &paths)?;
        let updated = self
            .0
            .update_project(&principal, id, patch, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateProjectResponse {
            project: Some(project_to_wire(&updated)),
        }))
    }

    async fn activate_project(
        &self,
        request: Request<pb::ActivateProjectRequest>,
    ) -> Result<Response<pb::ActivateProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let project = self
            .status_change(
                principal,
                &request.get_ref().name,
                ProjectStatus::Active,
                "",
            )
            .await?;
        Ok(Response::new(pb::ActivateProjectResponse {
            project: Some(project),
        }))
    }

    async fn close_project(
        &self,
        request: Request<pb::CloseProjectRequest>,
    ) -> Result<Response<pb::CloseProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let project = self
            .status_change(
                principal,
                &message.name,
                ProjectStatus::Closed,
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::CloseProjectResponse {
            project: Some(project),
        }))
    }

    async fn cancel_project(
        &self,
        request: Request<pb::CancelProjectRequest>,
    ) -> Result<Response<pb::CancelProjectResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let project = self
            .status_change(
                principal,
                &message.name,
                ProjectStatus::Cancelled,
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::CancelProjectResponse {
            project: Some(project),
        }))
    }
}
