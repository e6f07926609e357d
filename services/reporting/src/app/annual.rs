//! The annual-report workflow (年报): an admin opens a year, each team reports with figures
//! filled in from the data, the unit above approves or returns; progress, dormant teams
//! and the compiled report of a subtree.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_types::{CivilDate, Meta};

use super::Reporting;
use crate::domain::OrgUnit;
use crate::domain::access::{self, Action};
use crate::domain::annual::{AnnualReport, Figures, ReportState, ReportingYear};
use crate::domain::names;
use crate::domain::stats::{Metric, Query};
use crate::store;

const REPORTING_YEAR_TYPE: &str = "egret.reporting.v1.ReportingYear";
const ANNUAL_REPORT_TYPE: &str = "egret.reporting.v1.AnnualReport";

/// The narrative a team writes.
#[derive(Debug, Clone, Default)]
pub struct Narrative {
    /// 服务特色, when given.
    pub service_features: Option<String>,
    /// 年度亮点, when given.
    pub highlights: Option<String>,
    /// 来年计划, when given.
    pub plans: Option<String>,
}

/// Progress of one group of teams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// The unit ('' for the whole subtree).
    pub org_unit_id: String,
    /// Its name.
    pub display_name: String,
    /// Active teams.
    pub teams: i64,
    /// Submitted.
    pub submitted: i64,
    /// Approved.
    pub approved: i64,
    /// Returned.
    pub returned: i64,
    /// Overdue: nothing submitted or approved after the deadline.
    pub overdue: i64,
}

/// The compiled report of a subtree for a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The subtree's root.
    pub unit: OrgUnit,
    /// Active teams.
    pub teams: i64,
    /// The approved reports.
    pub approved: Vec<AnnualReport>,
    /// Their figures summed.
    pub reported: Figures,
    /// The year's figures from the data.
    pub counted: Figures,
}

fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("reports serialize")
}

impl Reporting {
    fn check_year(year: i32) -> Result<(), ApiError> {
        let this_year = egret_runtime::wire::today().year;
        if (2000..=this_year).contains(&year) {
            return Ok(());
        }
        Err(ApiError::invalid(
            "year",
            format!("must be between 2000 and {this_year}"),
            format!("年度应在 2000 到 {this_year} 之间"),
        ))
    }

    /// Opens a year for reports, or moves its deadline (an admin of a root unit).
    pub async fn open_reporting_year(
        &self,
        principal: &Principal,
        year: i32,
        deadline: CivilDate,
    ) -> Result<ReportingYear, ApiError> {
        access::require(principal, Action::OpenReportingYears)?;
        if self.downward.is_some() {
            return Err(ApiError::failed_precondition(
                "a district's reporting years are the city's, and come down from it (instance.upstream); open them there",
                "区级实例的年报年度由市级实例下发，请在市级实例开启",
            ));
        }
        let root = self.unit_in_scope(principal, None).await?;
        if root.parent_id.is_some() {
            return Err(ApiError::permission_denied(
                "reporting years are the whole instance's: only an admin of the root unit opens them",
                "年报年度适用于整个实例，只有根组织的管理员可以开启",
            ));
        }
        Self::check_year(year)?;
        if deadline.year < year {
            return Err(ApiError::invalid(
                "deadline",
                "must fall after the start of the year reported on",
                "截止日期应晚于年报年度开始",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        let before = store::annual::year(transaction.conn(), year).await?;
        if let Some(before) = &before {
            // A year the city opened came down from it and is the city's to move.
            egret_storage::ensure_origin(
                &before.meta,
                &self.instance_id,
                &format!("reportingYears/{year}"),
            )?;
        }
        let now = transaction.now();
        let opened = ReportingYear {
            year,
            deadline,
            opened_by: principal.subject.clone(),
            meta: Meta {
                origin_instance: self.instance_id.clone(),
                version: before.as_ref().map_or(1, |before| before.meta.version + 1),
                create_time: before
                    .as_ref()
                    .map_or(now, |before| before.meta.create_time),
                update_time: now,
            },
        };
        let expected = before.as_ref().map_or(0, |before| before.meta.version);
        let name = format!("reportingYears/{year}");
        if !store::annual::put_year(transaction.conn(), &opened, expected).await? {
            return Err(egret_storage::changed_concurrently(&name));
        }
        transaction.record_diff(
            REPORTING_YEAR_TYPE,
            name,
            if before.is_some() {
                Operation::Update
            } else {
                Operation::Create
            },
            before.as_ref().map(to_json).as_ref(),
            to_json(&opened),
            "",
        )?;
        transaction.commit().await?;
        Ok(opened)
    }

    /// Reporting years, newest first.
    pub async fn list_reporting_years(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<(Vec<ReportingYear>, String), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        let before = match page.after.as_deref() {
            Some(after) => after
                .parse()
                .map_err(|_| ApiError::invalid("page_token", "is not valid", "分页标记无效"))?,
            None => i32::MAX,
        };
        let mut rows =
            store::annual::list_years(self.database.reader(), before, page.fetch_limit()).await?;
        let token = page.finish(&mut rows, |year| year.year.to_string());
        Ok((rows, token))
    }

    /// A team the caller may see, for its reports: a unit of tier 2 in its subtree.
    async fn team(&self, principal: &Principal, id: &str) -> Result<OrgUnit, ApiError> {
        let team = self.unit_in_scope(principal, Some(id)).await?;
        if team.tier != 2 {
            return Err(ApiError::invalid(
                "name",
                "must name a team's report: sub-teams and squads report through their team",
                "应为服务队的年报，分队和小队随所属服务队填报",
            ));
        }
        Ok(team)
    }

    /// A team's figures of `year`, counted over its subtree after catching up with the
    /// other services: a report states what the data says now.
    pub async fn figures(&self, team: &OrgUnit, year: i32) -> Result<Figures, ApiError> {
        self.catch_up().await?;
        let first = CivilDate::new(year, 1, 1).expect("a real date");
        let last = CivilDate::new(year, 12, 31)
            .expect("a real date")
            .min(egret_runtime::wire::today());
        let total = |metric| async move {
            let query = Query::new(metric, Vec::new(), Some(first), last)?;
            self.run(team, &query).await.map(|(_, total)| total)
        };
        Ok(Figures {
            members: total(Metric::Volunteers).await?,
            activities: total(Metric::Activities).await?,
            approved_minutes: total(Metric::ApprovedMinutes).await?,
            service_records: total(Metric::ServiceRecords).await?,
            star_ratings: total(Metric::StarRatings).await?,
            commendations: total(Metric::Commendations).await?,
        })
    }

    /// A team's report of `year`: the stored one, or a draft with the figures filled in.
    pub async fn get_annual_report(
        &self,
        principal: &Principal,
        team_id: &str,
        year: i32,
    ) -> Result<(OrgUnit, AnnualReport), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        Self::check_year(year)?;
        let team = self.team(principal, team_id).await?;
        if let Some(report) = store::annual::report(self.database.reader(), &team.id, year).await? {
            return Ok((team, report));
        }
        let figures = self.figures(&team, year).await?;
        let draft = AnnualReport {
            id: String::new(),
            org_unit_id: team.id.clone(),
            year,
            state: ReportState::Draft,
            figures,
            service_features: String::new(),
            highlights: String::new(),
            plans: String::new(),
            review_comment: String::new(),
            reviewed_by: String::new(),
            submit_time: 0,
            meta: Meta {
                origin_instance: self.instance_id.clone(),
                version: 0,
                create_time: 0,
                update_time: 0,
            },
        };
        Ok((team, draft))
    }

    /// The team itself (its leader or staff, or those above): who writes its report.
    fn require_writer(principal: &Principal) -> Result<(), ApiError> {
        access::require(principal, Action::WriteAnnualReports)
    }

    async fn save(
        &self,
        mut transaction: WriteTx,
        before: &AnnualReport,
        after: &mut AnnualReport,
        reason: &str,
    ) -> Result<(), ApiError> {
        let now = transaction.now();
        if before.meta.version == 0 {
            after.id = egret_storage::new_id();
            after.meta.create_time = now;
        }
        after.meta.version = before.meta.version + 1;
        after.meta.update_time = now;
        let name = names::annual_report(&after.org_unit_id, after.year);
        if !store::annual::put(transaction.conn(), after, before.meta.version).await? {
            return Err(egret_storage::changed_concurrently(&name));
        }
        transaction.record_diff(
            ANNUAL_REPORT_TYPE,
            name,
            if before.meta.version == 0 {
                Operation::Create
            } else {
                Operation::Update
            },
            (before.meta.version > 0).then(|| to_json(before)).as_ref(),
            to_json(after),
            reason,
        )?;
        transaction.commit().await?;
        Ok(())
    }

    /// Writes the narrative of a draft or returned report.
    pub async fn update_annual_report(
        &self,
        principal: &Principal,
        (team_id, year): (&str, i32),
        narrative: Narrative,
        expected_version: i64,
    ) -> Result<(OrgUnit, AnnualReport), ApiError> {
        Self::require_writer(principal)?;
        let (team, before) = self.get_annual_report(principal, team_id, year).await?;
        egret_storage::check_version(
            &names::annual_report(team_id, year),
            expected_version,
            before.meta.version,
        )?;
        before.check_editable()?;
        let mut after = before.clone();
        if let Some(text) = narrative.service_features {
            after.service_features = text;
        }
        if let Some(text) = narrative.highlights {
            after.highlights = text;
        }
        if let Some(text) = narrative.plans {
            after.plans = text;
        }
        let transaction = self.begin(principal).await?;
        self.save(transaction, &before, &mut after, "narrative written")
            .await?;
        Ok((team, after))
    }

    /// Submits a draft or returned report with its figures counted again.
    pub async fn submit_annual_report(
        &self,
        principal: &Principal,
        (team_id, year): (&str, i32),
    ) -> Result<(OrgUnit, AnnualReport), ApiError> {
        Self::require_writer(principal)?;
        let (team, before) = self.get_annual_report(principal, team_id, year).await?;
        if store::annual::year(self.database.reader(), year)
            .await?
            .is_none()
        {
            return Err(ApiError::failed_precondition(
                format!("{year} is not open for annual reports"),
                format!("{year} 年度年报尚未开启"),
            ));
        }
        let figures = self.figures(&team, year).await?;
        let transaction = self.begin(principal).await?;
        let mut after = before.clone();
        after.submit(figures, transaction.now())?;
        self.save(transaction, &before, &mut after, "submitted")
            .await?;
        Ok((team, after))
    }

    /// Approves or returns a submitted report: staff or admin of a unit above the team.
    pub async fn review_annual_report(
        &self,
        principal: &Principal,
        (team_id, year): (&str, i32),
        approve: bool,
        comment: String,
    ) -> Result<(OrgUnit, AnnualReport), ApiError> {
        access::require(principal, Action::ReviewAnnualReports)?;
        let (team, before) = self.get_annual_report(principal, team_id, year).await?;
        if principal.org_unit == team.id {
            return Err(ApiError::permission_denied(
                "a team's report is reviewed by a unit above it",
                "年报由上级单位审核",
            ));
        }
        let transaction = self.begin(principal).await?;
        let mut after = before.clone();
        after.review(approve, &principal.subject, comment)?;
        let reason = if approve { "approved" } else { "returned" };
        self.save(transaction, &before, &mut after, reason).await?;
        Ok((team, after))
    }

    /// Reports of a year of the teams in a subtree.
    pub async fn list_annual_reports(
        &self,
        principal: &Principal,
        (org_unit_id, year): (Option<&str>, i32),
        state: Option<ReportState>,
        page: &PageRequest,
    ) -> Result<(Vec<AnnualReport>, String), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        Self::check_year(year)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut rows = store::annual::list(
            self.database.reader(),
            (&low, &high),
            year,
            state,
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |report| report.org_unit_id.clone());
        Ok((rows, token))
    }

    /// Progress of a year, in all and by the units directly under the subtree's root.
    pub async fn reporting_progress(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        year: i32,
    ) -> Result<(Option<CivilDate>, Progress, Vec<Progress>), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        Self::check_year(year)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let deadline = store::annual::year(self.database.reader(), year)
            .await?
            .map(|opened| opened.deadline);
        let past_deadline =
            deadline.is_some_and(|deadline| egret_runtime::wire::today() > deadline);
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let groups =
            store::annual::progress(self.database.reader(), (&low, &high), unit.path.len(), year)
                .await?;
        let mut total = Progress {
            org_unit_id: unit.id.clone(),
            display_name: unit.display_name.clone(),
            ..Progress::default()
        };
        let mut units = Vec::with_capacity(groups.len());
        for group in groups {
            let id = if group.key.is_empty() {
                unit.id.clone()
            } else {
                group.key.clone()
            };
            let progress = Progress {
                display_name: self.display_name(&id).await?,
                org_unit_id: id,
                teams: group.teams,
                submitted: group.submitted,
                approved: group.approved,
                returned: group.returned,
                overdue: if past_deadline { group.outstanding } else { 0 },
            };
            total.teams += progress.teams;
            total.submitted += progress.submitted;
            total.approved += progress.approved;
            total.returned += progress.returned;
            total.overdue += progress.overdue;
            units.push(progress);
        }
        Ok((deadline, total, units))
    }

    /// Active teams of a subtree with nothing held or served for `months` months.
    pub async fn dormant_teams(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        months: i32,
        page: &PageRequest,
    ) -> Result<(Vec<store::annual::LastActive>, String), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        let months = if months == 0 {
            self.settings.dormant_months
        } else {
            months
        };
        if !(1..=60).contains(&months) {
            return Err(ApiError::invalid(
                "months",
                "must be between 1 and 60",
                "月数应在 1 到 60 之间",
            ));
        }
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let today = egret_runtime::wire::today();
        let cutoff = months_before(today, months);
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut rows = store::annual::dormant(
            self.database.reader(),
            (&low, &high),
            cutoff,
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |team| team.org_unit_id.clone());
        Ok((rows, token))
    }

    /// The compiled report of a subtree for a year.
    pub async fn compiled_report(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        year: i32,
    ) -> Result<Compiled, ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        Self::check_year(year)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut approved = Vec::new();
        let mut after = String::new();
        // Page through every approved report of the subtree (at most one per team).
        loop {
            let page = store::annual::list(
                self.database.reader(),
                (&low, &high),
                year,
                Some(ReportState::Approved),
                &after,
                500,
            )
            .await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.org_unit_id.clone();
            let full = page.len() == 500;
            approved.extend(page);
            if !full {
                break;
            }
        }
        let mut reported = Figures::default();
        for report in &approved {
            reported += report.figures;
        }
        let counted = self.figures(&unit, year).await?;
        let teams =
            store::annual::progress(self.database.reader(), (&low, &high), unit.path.len(), year)
                .await?
                .iter()
                .map(|group| group.teams)
                .sum();
        Ok(Compiled {
            unit,
            teams,
            approved,
            reported,
            counted,
        })
    }

    /// A unit's name as replicated ('' when unknown).
    pub async fn display_name(&self, id: &str) -> Result<String, ApiError> {
        Ok(egret_sync::replica::unit(self.database.reader(), id)
            .await?
            .map(|unit| unit.display_name)
            .unwrap_or_default())
    }
}

/// The same day `months` months earlier (the month's last day when it is shorter).
fn months_before(day: CivilDate, months: i32) -> CivilDate {
    let total = day.year * 12 + day.month as i32 - 1 - months;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    (0..4)
        .find_map(|back| CivilDate::new(year, month, day.day.saturating_sub(back)))
        .unwrap_or(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_back_keep_the_day_where_they_can() {
        let date = |y, m, d| CivilDate::new(y, m, d).unwrap();
        assert_eq!(months_before(date(2026, 11, 29), 6), date(2026, 5, 29));
        assert_eq!(months_before(date(2026, 3, 31), 1), date(2026, 2, 28));
        assert_eq!(months_before(date(2026, 1, 15), 13), date(2024, 12, 15));
    }
}
