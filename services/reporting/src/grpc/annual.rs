//! `egret.reporting.v1.AnnualReportService`.

use egret_proto::reporting::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{
    date_from_wire, date_to_wire, is_id, mask_paths, metadata, optional_name, text, timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Reporting;
use crate::app::annual::{Narrative, Progress};
use crate::domain::OrgUnit;
use crate::domain::annual::{AnnualReport, Figures, ReportState, ReportingYear};
use crate::domain::names;

/// The service implementation.
pub struct AnnualReportApi(pub Reporting);

/// `orgUnits/{org_unit}/annualReports/{year}` as (team id, year).
fn parse_report_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, i32), ApiError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["orgUnits", unit, "annualReports", year] if is_id(unit) => {
            if let Ok(year) = year.parse::<i32>() {
                return Ok((unit, year));
            }
        }
        _ => {}
    }
    Err(ApiError::invalid(
        field,
        format!(
            "must be a resource name like orgUnits/{{org_unit}}/annualReports/2026, got {}",
            quote(name)
        ),
        "资源名格式应为 orgUnits/{org_unit}/annualReports/{年度}",
    ))
}

fn year_to_wire(year: &ReportingYear) -> pb::ReportingYear {
    pb::ReportingYear {
        name: format!("reportingYears/{}", year.year),
        year: year.year,
        deadline: Some(date_to_wire(year.deadline)),
        opened_by: year.opened_by.clone(),
        metadata: Some(metadata(&year.year.to_string(), &year.meta)),
    }
}

fn figures_to_wire(figures: &Figures) -> pb::AnnualFigures {
    pb::AnnualFigures {
        members: figures.members,
        activities: figures.activities,
        approved_minutes: figures.approved_minutes,
        service_records: figures.service_records,
        star_ratings: figures.star_ratings,
        commendations: figures.commendations,
    }
}

fn report_to_wire(report: &AnnualReport, display_name: String) -> pb::AnnualReport {
    pb::AnnualReport {
        name: names::annual_report(&report.org_unit_id, report.year),
        org_unit: names::org_unit(&report.org_unit_id),
        org_unit_display_name: display_name,
        year: report.year,
        state: report.state as i32,
        figures: Some(figures_to_wire(&report.figures)),
        service_features: report.service_features.clone(),
        highlights: report.highlights.clone(),
        plans: report.plans.clone(),
        review_comment: report.review_comment.clone(),
        reviewed_by: report.reviewed_by.clone(),
        submit_time: (report.submit_time > 0).then(|| timestamp(report.submit_time)),
        metadata: (report.meta.version > 0).then(|| metadata(&report.id, &report.meta)),
    }
}

fn progress_to_wire(progress: &Progress) -> pb::UnitProgress {
    pb::UnitProgress {
        org_unit: names::org_unit(&progress.org_unit_id),
        org_unit_display_name: progress.display_name.clone(),
        teams: progress.teams,
        submitted: progress.submitted,
        approved: progress.approved,
        returned: progress.returned,
        overdue: progress.overdue,
    }
}

fn respond((team, report): (OrgUnit, AnnualReport)) -> pb::AnnualReport {
    report_to_wire(&report, team.display_name)
}

impl AnnualReportApi {
    async fn wire(&self, report: &AnnualReport) -> Result<pb::AnnualReport, Status> {
        let name = self.0.display_name(&report.org_unit_id).await?;
        Ok(report_to_wire(report, name))
    }
}

#[tonic::async_trait]
impl pb::annual_report_service_server::AnnualReportService for AnnualReportApi {
    async fn open_reporting_year(
        &self,
        request: Request<pb::OpenReportingYearRequest>,
    ) -> Result<Response<pb::OpenReportingYearResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let deadline = date_from_wire(&mut violations, "deadline", message.deadline.as_ref());
        if message.deadline.is_none() {
            violations.add("deadline", "is required", "必须填写截止日期");
        }
        violations.into_result()?;
        let Some(deadline) = deadline else {
            return Err(ApiError::invalid("deadline", "is required", "必须填写截止日期").into());
        };
        let opened = self
            .0
            .open_reporting_year(&principal, message.year, deadline)
            .await?;
        Ok(Response::new(pb::OpenReportingYearResponse {
            reporting_year: Some(year_to_wire(&opened)),
        }))
    }

    async fn list_reporting_years(
        &self,
        request: Request<pb::ListReportingYearsRequest>,
    ) -> Result<Response<pb::ListReportingYearsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(message.page_size, &message.page_token, "years")?;
        let (years, next_page_token) = self.0.list_reporting_years(&principal, &page).await?;
        Ok(Response::new(pb::ListReportingYearsResponse {
            reporting_years: years.iter().map(year_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn get_annual_report(
        &self,
        request: Request<pb::GetAnnualReportRequest>,
    ) -> Result<Response<pb::GetAnnualReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let (team, year) = parse_report_name("name", &request.get_ref().name)?;
        let found = self.0.get_annual_report(&principal, team, year).await?;
        Ok(Response::new(pb::GetAnnualReportResponse {
            annual_report: Some(respond(found)),
        }))
    }

    async fn update_annual_report(
        &self,
        request: Request<pb::UpdateAnnualReportRequest>,
    ) -> Result<Response<pb::UpdateAnnualReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(report) = &message.annual_report else {
            return Err(ApiError::invalid("annual_report", "is required", "不能为空").into());
        };
        let (team, year) = parse_report_name("annual_report.name", &report.name)?;
        let paths = mask_paths(
            message.update_mask.as_ref(),
            &["service_features", "highlights", "plans"],
        )?;
        let mut violations = Violations::new();
        let mut narrative = Narrative::default();
        for path in &paths {
            let (value, slot) = match path.as_str() {
                "service_features" => (&report.service_features, &mut narrative.service_features),
                "highlights" => (&report.highlights, &mut narrative.highlights),
                _ => (&report.plans, &mut narrative.plans),
            };
            *slot = Some(text(
                &mut violations,
                &format!("annual_report.{path}"),
                value,
                5000,
                false,
            ));
        }
        violations.into_result()?;
        let updated = self
            .0
            .update_annual_report(
                &principal,
                (team, year),
                narrative,
                message.expected_version,
            )
            .await?;
        Ok(Response::new(pb::UpdateAnnualReportResponse {
            annual_report: Some(respond(updated)),
        }))
    }

    async fn submit_annual_report(
        &self,
        request: Request<pb::SubmitAnnualReportRequest>,
    ) -> Result<Response<pb::SubmitAnnualReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let name = parse_report_name("name", &request.get_ref().name)?;
        let submitted = self.0.submit_annual_report(&principal, name).await?;
        Ok(Response::new(pb::SubmitAnnualReportResponse {
            annual_report: Some(respond(submitted)),
        }))
    }

    async fn approve_annual_report(
        &self,
        request: Request<pb::ApproveAnnualReportRequest>,
    ) -> Result<Response<pb::ApproveAnnualReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let name = parse_report_name("name", &message.name)?;
        let mut violations = Violations::new();
        let comment = text(&mut violations, "comment", &message.comment, 1000, false);
        violations.into_result()?;
        let reviewed = self
            .0
            .review_annual_report(&principal, name, true, comment)
            .await?;
        Ok(Response::new(pb::ApproveAnnualReportResponse {
            annual_report: Some(respond(reviewed)),
        }))
    }

    async fn return_annual_report(
        &self,
        request: Request<pb::ReturnAnnualReportRequest>,
    ) -> Result<Response<pb::ReturnAnnualReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let name = parse_report_name("name", &message.name)?;
        let mut violations = Violations::new();
        let comment = text(&mut violations, "comment", &message.comment, 1000, true);
        violations.into_result()?;
        let reviewed = self
            .0
            .review_annual_report(&principal, name, false, comment)
            .await?;
        Ok(Response::new(pb::ReturnAnnualReportResponse {
            annual_report: Some(respond(reviewed)),
        }))
    }

    async fn list_annual_reports(
        &self,
        request: Request<pb::ListAnnualReportsRequest>,
    ) -> Result<Response<pb::ListAnnualReportsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let state =
            match message.state {
                0 => None,
                number => Some(ReportState::from_number(i64::from(number)).ok_or_else(|| {
                    ApiError::invalid("state", "is not a known state", "状态无效")
                })?),
            };
        let filters = format!("{}|{}|{}", message.org_unit, message.year, message.state);
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let (reports, next_page_token) = self
            .0
            .list_annual_reports(&principal, (org_unit, message.year), state, &page)
            .await?;
        let mut annual_reports = Vec::with_capacity(reports.len());
        for report in &reports {
            annual_reports.push(self.wire(report).await?);
        }
        Ok(Response::new(pb::ListAnnualReportsResponse {
            annual_reports,
            next_page_token,
        }))
    }

    async fn get_reporting_progress(
        &self,
        request: Request<pb::GetReportingProgressRequest>,
    ) -> Result<Response<pb::GetReportingProgressResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let (deadline, total, units) = self
            .0
            .reporting_progress(&principal, org_unit, message.year)
            .await?;
        Ok(Response::new(pb::GetReportingProgressResponse {
            deadline: deadline.map(date_to_wire),
            total: Some(progress_to_wire(&total)),
            units: units.iter().map(progress_to_wire).collect(),
        }))
    }

    async fn list_dormant_teams(
        &self,
        request: Request<pb::ListDormantTeamsRequest>,
    ) -> Result<Response<pb::ListDormantTeamsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let filters = format!("{}|{}", message.org_unit, message.months);
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let (teams, next_page_token) = self
            .0
            .dormant_teams(&principal, org_unit, message.months, &page)
            .await?;
        Ok(Response::new(pb::ListDormantTeamsResponse {
            teams: teams
                .into_iter()
                .map(|team| pb::DormantTeam {
                    org_unit: names::org_unit(&team.org_unit_id),
                    display_name: team.display_name,
                    last_active_date: team.last_active.map(date_to_wire),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn get_compiled_report(
        &self,
        request: Request<pb::GetCompiledReportRequest>,
    ) -> Result<Response<pb::GetCompiledReportResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let compiled = self
            .0
            .compiled_report(&principal, org_unit, message.year)
            .await?;
        let mut approved = Vec::with_capacity(compiled.approved.len());
        for report in &compiled.approved {
            approved.push(self.wire(report).await?);
        }
        Ok(Response::new(pb::GetCompiledReportResponse {
            org_unit: names::org_unit(&compiled.unit.id),
            year: message.year,
            teams: compiled.teams,
            approved_reports: compiled.approved.len() as i64,
            reported: Some(figures_to_wire(&compiled.reported)),
            counted: Some(figures_to_wire(&compiled.counted)),
            approved,
        }))
    }
}
