//! 年报: the reporting years, progress by unit, the teams' reports waiting for review, and
//! a team's report with its counted figures: written and submitted by the team, approved
//! or returned by the units above.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::gateway::v1::AccountRole;
use egret_proto::reporting::v1::{
    AnnualReport, AnnualReportState, ApproveAnnualReportRequest, GetAnnualReportRequest,
    GetReportingProgressRequest, ListAnnualReportsRequest, ListReportingYearsRequest,
    OpenReportingYearRequest, ReturnAnnualReportRequest, SubmitAnnualReportRequest, UnitProgress,
    UpdateAnnualReportRequest,
};
use http::StatusCode;
use serde::Deserialize;

use super::{Layout, Signed, check_csrf, error_page, id_of, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;
use crate::session::Flash;

/// Years listed.
const YEARS_SHOWN: i32 = 20;
/// Reports waiting listed at once.
const REPORTS_SHOWN: i32 = 200;
/// The longest narrative field a form passes on; the service bounds them too.
const MAX_TEXT_CHARS: usize = 4000;

/// 年报状态.
fn report_state(value: i32) -> &'static str {
    match AnnualReportState::try_from(value).unwrap_or_default() {
        AnnualReportState::Draft => "草稿",
        AnnualReportState::Submitted => "已提交",
        AnnualReportState::Approved => "已通过",
        AnnualReportState::Returned => "已退回",
        AnnualReportState::Unspecified => "—",
    }
}

struct ProgressRow {
    unit: String,
    teams: i64,
    submitted: i64,
    approved: i64,
    returned: i64,
    overdue: i64,
}

impl ProgressRow {
    fn from_progress(progress: &UnitProgress) -> Self {
        Self {
            unit: progress.org_unit_display_name.clone(),
            teams: progress.teams,
            submitted: progress.submitted,
            approved: progress.approved,
            returned: progress.returned,
            overdue: progress.overdue,
        }
    }
}

struct ReportRow {
    team_id: String,
    team: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    layout: Layout,
    years: Vec<i32>,
    year: i32,
    deadline: String,
    total: Option<ProgressRow>,
    units: Vec<ProgressRow>,
    waiting: Vec<ReportRow>,
    own_team: String,
    can_open: bool,
    failure: Failure,
}

/// The year asked for.
#[derive(Deserialize, Default)]
pub(crate) struct YearQuery {
    #[serde(default)]
    year: i32,
}

/// `GET /annual`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<YearQuery>,
) -> Response {
    annual_page(&state, &signed, query.year, Failure::default()).await
}

async fn annual_page(state: &AppState, signed: &Signed, year: i32, failure: Failure) -> Response {
    let api = &state.api;
    let caller = &signed.caller;
    let person = &signed.session.person;
    let mut failure = failure;
    let years: Vec<i32> = match api
        .annual_reports()
        .list_reporting_years(api.request(
            caller,
            ListReportingYearsRequest {
                page_size: YEARS_SHOWN,
                page_token: String::new(),
            },
        ))
        .await
    {
        Ok(listed) => listed
            .into_inner()
            .reporting_years
            .iter()
            .map(|year| year.year)
            .collect(),
        Err(status) => {
            failure = status.into();
            Vec::new()
        }
    };
    let year = if years.contains(&year) {
        year
    } else {
        years.first().copied().unwrap_or_default()
    };
    let mut total = None;
    let mut units = Vec::new();
    let mut waiting = Vec::new();
    let mut deadline = String::new();
    if year > 0 && (person.is_staff() || person.has(AccountRole::Viewer)) {
        match api
            .annual_reports()
            .get_reporting_progress(api.request(
                caller,
                GetReportingProgressRequest {
                    org_unit: person.org_unit.clone(),
                    year,
                },
            ))
            .await
        {
            Ok(progress) => {
                let progress = progress.into_inner();
                deadline = labels::date(progress.deadline.as_ref());
                total = progress.total.as_ref().map(ProgressRow::from_progress);
                units = progress
                    .units
                    .iter()
                    .map(ProgressRow::from_progress)
                    .collect();
            }
            Err(status) => failure = status.into(),
        }
        if let Ok(listed) = api
            .annual_reports()
            .list_annual_reports(api.request(
                caller,
                ListAnnualReportsRequest {
                    org_unit: person.org_unit.clone(),
                    year,
                    state: AnnualReportState::Submitted as i32,
                    page_size: REPORTS_SHOWN,
                    page_token: String::new(),
                },
            ))
            .await
        {
            waiting = listed
                .into_inner()
                .annual_reports
                .iter()
                .map(|report| ReportRow {
                    team_id: id_of(&report.org_unit).to_string(),
                    team: report.org_unit_display_name.clone(),
                    state: report_state(report.state),
                })
                .collect();
        }
    }
    let bad = failure.code.is_some();
    render_refused(
        &AnnualPage {
            layout: signed.layout("年报", "annual"),
            years,
            year,
            deadline,
            total,
            units,
            waiting,
            own_team: if person.has(AccountRole::TeamLeader) {
                id_of(&person.org_unit).to_string()
            } else {
                String::new()
            },
            can_open: person.has(AccountRole::Admin),
            failure,
        },
        bad,
    )
}

/// The form that opens a year.
#[derive(Deserialize)]
pub(crate) struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    year: String,
    #[serde(default)]
    deadline: String,
}

/// `POST /annual`: opens a year (or moves its deadline).
pub(crate) async fn open(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<OpenForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let Ok(year) = form.year.trim().parse::<i32>() else {
        return annual_page(&state, &signed, 0, Failure::field("year", "请填写年份。")).await;
    };
    let Ok(deadline) = super::org::parse_date_input(form.deadline.trim()) else {
        return annual_page(
            &state,
            &signed,
            0,
            Failure::field("deadline", "日期格式应为 年-月-日。"),
        )
        .await;
    };
    let api = &state.api;
    let opened = api
        .annual_reports()
        .open_reporting_year(
            api.request(&signed.caller, OpenReportingYearRequest { year, deadline }),
        )
        .await;
    match opened {
        Ok(_) => Redirect::to(&format!("/annual?year={year}")).into_response(),
        Err(status) => annual_page(&state, &signed, year, status.into()).await,
    }
}

#[derive(Template)]
#[template(path = "annual_report.html")]
struct ReportPage {
    layout: Layout,
    team_id: String,
    report: AnnualReport,
    state: &'static str,
    hours: String,
    editable: bool,
    reviewable: bool,
    notice: String,
    failure: Failure,
}

impl ReportPage {
    fn error(&self, field: &str) -> &str {
        self.failure
            .for_field(&format!("annual_report.{field}"))
            .unwrap_or("")
    }
}

fn report_name(year: i32, team: &str) -> String {
    format!("orgUnits/{team}/annualReports/{year}")
}

async fn report_page(
    state: &AppState,
    signed: &Signed,
    year: i32,
    team: &str,
    shown: Option<AnnualReport>,
    notice: &str,
    failure: Failure,
) -> Response {
    if !valid_id(team) {
        return error_page(&not_found(), Some(signed));
    }
    let api = &state.api;
    let report = api
        .annual_reports()
        .get_annual_report(api.request(
            &signed.caller,
            GetAnnualReportRequest {
                name: report_name(year, team),
            },
        ))
        .await;
    let mut report = match report {
        Ok(report) => report.into_inner().annual_report.unwrap_or_default(),
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    if let Some(shown) = shown {
        report.service_features = shown.service_features;
        report.highlights = shown.highlights;
        report.plans = shown.plans;
    }
    let person = &signed.session.person;
    let state_value = AnnualReportState::try_from(report.state).unwrap_or_default();
    let own_team = person.org_unit == report.org_unit;
    let bad = failure.code.is_some();
    render_refused(
        &ReportPage {
            layout: signed.layout(&format!("{year}年年报"), "annual"),
            team_id: team.to_string(),
            state: report_state(report.state),
            hours: labels::hours(
                report
                    .figures
                    .as_ref()
                    .map_or(0, |figures| figures.approved_minutes),
            ),
            editable: own_team
                && matches!(
                    state_value,
                    AnnualReportState::Draft | AnnualReportState::Returned
                ),
            reviewable: !own_team
                && person.is_staff()
                && state_value == AnnualReportState::Submitted,
            report,
            notice: notice.to_string(),
            failure,
        },
        bad,
    )
}

fn not_found() -> Failure {
    Failure::not_found("未找到该年报。")
}

/// `GET /annual/{year}/{team}`.
pub(crate) async fn report(
    State(state): State<AppState>,
    signed: Signed,
    Path((year, team)): Path<(i32, String)>,
) -> Response {
    let notice = signed.session.take_flash().notice;
    report_page(
        &state,
        &signed,
        year,
        &team,
        None,
        &notice,
        Failure::default(),
    )
    .await
}

/// A report's form: the narrative, and what to do with it.
#[derive(Deserialize)]
pub(crate) struct ReportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    service_features: String,
    #[serde(default)]
    highlights: String,
    #[serde(default)]
    plans: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    version: i64,
}

/// `POST /annual/{year}/{team}`: `save`, `submit` (saving first), `approve` or `return`.
pub(crate) async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path((year, team)): Path<(i32, String)>,
    Form(form): Form<ReportForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&team) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = report_name(year, &team);
    let api = &state.api;
    let caller = &signed.caller;
    let bounded = |text: &str| text.trim().chars().take(MAX_TEXT_CHARS).collect::<String>();
    let narrative = AnnualReport {
        name: name.clone(),
        service_features: bounded(&form.service_features),
        highlights: bounded(&form.highlights),
        plans: bounded(&form.plans),
        ..AnnualReport::default()
    };
    let comment: String = form.comment.trim().chars().take(500).collect();
    let result = match form.action.as_str() {
        "save" | "submit" => {
            let saved = api
                .annual_reports()
                .update_annual_report(api.request(
                    caller,
                    UpdateAnnualReportRequest {
                        annual_report: Some(narrative.clone()),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec![
                                "service_features".into(),
                                "highlights".into(),
                                "plans".into(),
                            ],
                        }),
                        expected_version: form.version,
                    },
                ))
                .await
                .map(drop);
            match saved {
                Ok(()) if form.action == "submit" => api
                    .annual_reports()
                    .submit_annual_report(api.request(caller, SubmitAnnualReportRequest { name }))
                    .await
                    .map(|_| "年报已提交，等待上级审核。"),
                Ok(()) => Ok("已保存。"),
                Err(status) => Err(status),
            }
        }
        "approve" => api
            .annual_reports()
            .approve_annual_report(
                api.request(caller, ApproveAnnualReportRequest { name, comment }),
            )
            .await
            .map(|_| "年报已通过。"),
        "return" => api
            .annual_reports()
            .return_annual_report(api.request(caller, ReturnAnnualReportRequest { name, comment }))
            .await
            .map(|_| "年报已退回。"),
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(notice) => {
            signed.session.set_flash(Flash {
                notice: notice.to_string(),
                ..Flash::default()
            });
            Redirect::to(&format!("/annual/{year}/{team}")).into_response()
        }
        Err(status) => {
            report_page(
                &state,
                &signed,
                year,
                &team,
                Some(narrative),
                "",
                status.into(),
            )
            .await
        }
    }
}
