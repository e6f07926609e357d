//! 项目: the projects of the person's subtree by status, a new project, and its life
//! (筹备 → 实施 → 结项, or cancelled). Activities name their project on their own form.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    ActivateProjectRequest, CancelProjectRequest, CloseProjectRequest, CreateProjectRequest,
    FundingSource, ListProjectsRequest, Project, ProjectStatus,
};
use egret_proto::registry::v1::Tier;
use serde::Deserialize;

use super::org::UnitChoice;
use super::sorting::{Column, SortHeader, Sorting};
use super::{Layout, Posted, Signed, after_action, id_of, noted, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Projects on one page.
const PROJECTS_PAGE: i32 = 50;

/// The statuses the list can be narrowed to, in the order its tabs show them.
const STATUSES: [ProjectStatus; 4] = [
    ProjectStatus::Planning,
    ProjectStatus::Active,
    ProjectStatus::Closed,
    ProjectStatus::Cancelled,
];

/// The funding sources the form offers.
const FUNDING: [FundingSource; 4] = [
    FundingSource::GovernmentPurchase,
    FundingSource::Federation,
    FundingSource::SocialDonation,
    FundingSource::SelfFunded,
];

struct ProjectRow {
    id: String,
    display_name: String,
    period: String,
    funding: &'static str,
    budget: String,
    status: &'static str,
    /// The changes its status allows: (action, label).
    actions: Vec<(&'static str, &'static str)>,
}

fn row(project: &Project) -> ProjectRow {
    let actions = match ProjectStatus::try_from(project.status).unwrap_or_default() {
        ProjectStatus::Planning => vec![("activate", "开始实施"), ("cancel", "取消")],
        ProjectStatus::Active => vec![("close", "结项"), ("cancel", "取消")],
        _ => Vec::new(),
    };
    ProjectRow {
        id: id_of(&project.name).to_string(),
        display_name: project.display_name.clone(),
        period: format!(
            "{} 至 {}",
            labels::date(project.start_date.as_ref()),
            labels::date(project.end_date.as_ref())
        ),
        funding: labels::funding_source(project.funding_source),
        budget: labels::yuan(project.budget_fen),
        status: labels::project_status(project.status),
        actions,
    }
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    layout: Layout,
    projects: Vec<ProjectRow>,
    status: i32,
    sort: String,
    headers: Vec<SortHeader>,
    statuses: Vec<(i32, &'static str)>,
    next_page: String,
    units: Vec<UnitChoice>,
    funding: Vec<(i32, &'static str)>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl ProjectsPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "project.org_unit",
            "project.display_name",
            "project.description",
            "project.start_date",
            "project.end_date",
            "project.funding_source",
            "project.budget_fen",
        ])
    }
}

/// The list's status, order and next page.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    status: i32,
    #[serde(default)]
    after: String,
    #[serde(default)]
    sort: String,
}

/// The list's columns.
const COLUMNS: [Column; 5] = [
    Column {
        field: "display_name",
        label: "项目",
    },
    Column {
        field: "start_date",
        label: "周期",
    },
    Column {
        field: "",
        label: "资金来源",
    },
    Column {
        field: "budget",
        label: "预算（元）",
    },
    Column {
        field: "",
        label: "状态",
    },
];

async fn projects_page(
    state: &AppState,
    signed: &Signed,
    query: &ListQuery,
    form: Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let mut failures = flash.failures;
    let status = ProjectStatus::try_from(query.status).unwrap_or_default() as i32;
    let sorting = Sorting::parse(&query.sort, &COLUMNS);
    let api = &state.api;
    let listed = api
        .projects()
        .list_projects(api.request(
            &signed.caller,
            ListProjectsRequest {
                org_unit: signed.session.person.org_unit.clone(),
                status,
                page_size: PROJECTS_PAGE,
                page_token: query.after.chars().take(1024).collect(),
                order_by: sorting.order_by(),
                ..ListProjectsRequest::default()
            },
        ))
        .await;
    let (projects, next_page) = noted(
        listed.map(|listed| {
            let listed = listed.into_inner();
            (
                listed.projects.iter().map(row).collect(),
                listed.next_page_token,
            )
        }),
        &mut failures,
    );
    let units = super::org::unit_choices(state, signed, Tier::Unspecified).await;
    let refused = failure.code.is_some();
    render_refused(
        &ProjectsPage {
            layout: signed.layout("项目", "projects"),
            projects,
            status,
            sort: sorting.order_by(),
            headers: sorting.headers(&COLUMNS, &format!("/projects?status={status}&")),
            statuses: labels::choices(&STATUSES, labels::project_status),
            next_page,
            units,
            funding: labels::choices(&FUNDING, labels::funding_source),
            request_id: form.request_id_or_new(),
            form,
            notice: flash.notice,
            failures,
            failure,
        },
        refused,
    )
}

/// `GET /projects`.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    projects_page(
        &state,
        &signed,
        &query,
        Posted::default(),
        Failure::default(),
    )
    .await
}

/// `POST /projects`: a new project, in planning.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let list = ListQuery::default();
    let (Ok(start_date), Ok(end_date)) = (form.date("start_date"), form.date("end_date")) else {
        let failure = Failure::field("project.start_date", "日期格式应为 年-月-日");
        return projects_page(&state, &signed, &list, form, failure).await;
    };
    let budget = form.get("budget");
    let budget_fen = if budget.is_empty() {
        Some(0)
    } else {
        super::insurance::yuan_to_fen(budget)
    };
    let Some(budget_fen) = budget_fen else {
        let failure = Failure::field("project.budget_fen", "请填写金额（元）");
        return projects_page(&state, &signed, &list, form, failure).await;
    };
    let project = Project {
        org_unit: form.name("org_unit", "orgUnits"),
        display_name: form.get("display_name").to_string(),
        description: form.get("description").to_string(),
        start_date,
        end_date,
        funding_source: form.number("funding_source").unwrap_or_default() as i32,
        budget_fen,
        ..Project::default()
    };
    let api = &state.api;
    let created = api
        .projects()
        .create_project(api.request(
            &signed.caller,
            CreateProjectRequest {
                project: Some(project),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(_) => after_action(&signed, Ok(()), "项目已创建。", "/projects"),
        Err(status) => projects_page(&state, &signed, &list, form, status.into()).await,
    }
}

/// `POST /projects/{id}/{action}`: `activate`, `close` or `cancel` (with a reason).
pub(crate) async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return Redirect::to("/projects").into_response();
    }
    let name = format!("projects/{id}");
    let reason: String = form.get("reason").chars().take(500).collect();
    let api = &state.api;
    let caller = &signed.caller;
    let projects = api.projects();
    let (result, notice) = match action.as_str() {
        "activate" => (
            projects
                .clone()
                .activate_project(api.request(caller, ActivateProjectRequest { name }))
                .await
                .map(drop),
            "项目已开始实施。",
        ),
        "close" => (
            projects
                .clone()
                .close_project(api.request(caller, CloseProjectRequest { name, reason }))
                .await
                .map(drop),
            "项目已结项。",
        ),
        "cancel" => (
            projects
                .clone()
                .cancel_project(api.request(caller, CancelProjectRequest { name, reason }))
                .await
                .map(drop),
            "项目已取消。",
        ),
        _ => return Redirect::to("/projects").into_response(),
    };
    after_action(&signed, result, notice, "/projects")
}

/// The projects an activity may belong to: those of the subtree in planning or under
/// way, at most one page.
pub(crate) async fn open_projects(state: &AppState, signed: &Signed) -> Vec<UnitChoice> {
    let api = &state.api;
    let mut open = Vec::new();
    for status in [ProjectStatus::Active, ProjectStatus::Planning] {
        let listed = api
            .projects()
            .list_projects(api.request(
                &signed.caller,
                ListProjectsRequest {
                    org_unit: signed.session.person.org_unit.clone(),
                    status: status as i32,
                    page_size: PROJECTS_PAGE,
                    ..ListProjectsRequest::default()
                },
            ))
            .await;
        if let Ok(listed) = listed {
            open.extend(
                listed
                    .into_inner()
                    .projects
                    .into_iter()
                    .map(|project| UnitChoice {
                        id: id_of(&project.name).to_string(),
                        display_name: project.display_name,
                    }),
            );
        }
    }
    open
}
