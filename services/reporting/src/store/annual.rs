//! Reporting years, annual reports, progress and dormant teams.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, date_column, meta_columns, sql_error};
use egret_types::CivilDate;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::annual::{AnnualReport, Figures, ReportState, ReportingYear};

fn year_from_row(row: &AnyRow) -> Result<ReportingYear, ApiError> {
    Ok(ReportingYear {
        year: column::<i64>(row, "year")? as i32,
        deadline: date_column(row, "deadline")?
            .ok_or_else(|| corrupt("reporting year without a deadline"))?,
        opened_by: column(row, "opened_by")?,
        meta: meta_columns(row)?,
    })
}

const YEAR_COLUMNS: &str =
    "year, deadline, opened_by, origin_instance, version, create_time, update_time";

/// One reporting year.
pub async fn year<'e, E>(executor: E, year: i32) -> Result<Option<ReportingYear>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {YEAR_COLUMNS} FROM reporting_years WHERE year = $1"
    ))
    .bind(i64::from(year))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("reporting year"))?;
    row.as_ref().map(year_from_row).transpose()
}

/// Writes a reporting year: inserted, or its deadline moved when it exists at
/// `expected_version`.
pub async fn put_year<'e, E>(
    executor: E,
    year: &ReportingYear,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = if expected_version == 0 {
        insert_year(executor, year, "ON CONFLICT (year) DO NOTHING").await
    } else {
        sqlx::query(
            "UPDATE reporting_years SET deadline = $2, opened_by = $3, version = $4, \
             update_time = $5 WHERE year = $1 AND version = $6",
        )
        .bind(i64::from(year.year))
        .bind(year.deadline.to_iso())
        .bind(&year.opened_by)
        .bind(year.meta.version)
        .bind(year.meta.update_time)
        .bind(expected_version)
        .execute(executor)
        .await
    }
    .map_err(sql_error("reporting year"))?;
    Ok(result.rows_affected() == 1)
}

/// Writes a copy of another instance's reporting year over the one held (see
/// `egret_storage::rows::copy_conflict`).
pub async fn put_copy_year<'e, E>(executor: E, year: &ReportingYear) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let on_conflict = copy_conflict("reporting_years", "year", YEAR_COLUMNS);
    insert_year(executor, year, &on_conflict)
        .await
        .map_err(sql_error("reporting year"))?;
    Ok(())
}

async fn insert_year<'e, E>(
    executor: E,
    year: &ReportingYear,
    on_conflict: &str,
) -> Result<sqlx::any::AnyQueryResult, sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO reporting_years ({YEAR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         {on_conflict}"
    ))
    .bind(i64::from(year.year))
    .bind(year.deadline.to_iso())
    .bind(&year.opened_by)
    .bind(&year.meta.origin_instance)
    .bind(year.meta.version)
    .bind(year.meta.create_time)
    .bind(year.meta.update_time)
    .execute(executor)
    .await
}

/// Reporting years before `before`, newest first.
pub async fn list_years<'e, E>(
    executor: E,
    before: i32,
    limit: i64,
) -> Result<Vec<ReportingYear>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {YEAR_COLUMNS} FROM reporting_years WHERE year < $1 ORDER BY year DESC LIMIT $2"
    ))
    .bind(i64::from(before))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("reporting year"))?;
    rows.iter().map(year_from_row).collect()
}

const COLUMNS: &str = "r.id, r.org_unit_id, r.year, r.state, r.members, r.activities, \
     r.approved_minutes, r.service_records, r.star_ratings, r.commendations, \
     r.service_features, r.highlights, r.plans, r.review_comment, r.reviewed_by, \
     r.submit_time, r.origin_instance, r.version, r.create_time, r.update_time";

fn from_row(row: &AnyRow) -> Result<AnnualReport, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(AnnualReport {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        year: column::<i64>(row, "year")? as i32,
        state: ReportState::from_number(state)
            .ok_or_else(|| corrupt(format!("annual report state {state}")))?,
        figures: Figures {
            members: column(row, "members")?,
            activities: column(row, "activities")?,
            approved_minutes: column(row, "approved_minutes")?,
            service_records: column(row, "service_records")?,
            star_ratings: column(row, "star_ratings")?,
            commendations: column(row, "commendations")?,
        },
        service_features: column(row, "service_features")?,
        highlights: column(row, "highlights")?,
        plans: column(row, "plans")?,
        review_comment: column(row, "review_comment")?,
        reviewed_by: column(row, "reviewed_by")?,
        submit_time: column(row, "submit_time")?,
        meta: meta_columns(row)?,
    })
}

/// A team's report for a year.
pub async fn report<'e, E>(
    executor: E,
    org_unit_id: &str,
    year: i32,
) -> Result<Option<AnnualReport>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM annual_reports r WHERE r.org_unit_id = $1 AND r.year = $2"
    ))
    .bind(org_unit_id)
    .bind(i64::from(year))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("annual report"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a report: inserted when `expected_version` is 0 (ALREADY_EXISTS-free: false when
/// another request inserted it first), else updated if still at that version.
pub async fn put<'e, E>(
    executor: E,
    report: &AnnualReport,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = if expected_version == 0 {
        "INSERT INTO annual_reports (id, org_unit_id, year, state, members, activities, \
         approved_minutes, service_records, star_ratings, commendations, service_features, \
         highlights, plans, review_comment, reviewed_by, submit_time, origin_instance, version, \
         create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT (org_unit_id, year) DO NOTHING"
    } else {
        "UPDATE annual_reports SET org_unit_id = $2, year = $3, state = $4, members = $5, \
         activities = $6, approved_minutes = $7, service_records = $8, star_ratings = $9, \
         commendations = $10, service_features = $11, highlights = $12, plans = $13, \
         review_comment = $14, reviewed_by = $15, submit_time = $16, origin_instance = $17, \
         version = $18, create_time = $19, update_time = $20 WHERE id = $1 AND version = $21"
    };
    let mut query = bind_report(sqlx::query(sql), report);
    if expected_version != 0 {
        query = query.bind(expected_version);
    }
    let result = query
        .execute(executor)
        .await
        .map_err(sql_error("annual report"))?;
    Ok(result.rows_affected() == 1)
}

/// One report by id.
pub async fn report_by_id<'e, E>(executor: E, id: &str) -> Result<Option<AnnualReport>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM annual_reports r WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("annual report"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a copy of another instance's report as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, report: &AnnualReport) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let sql = format!(
        "INSERT INTO annual_reports ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20) {}",
        COLUMNS.replace("r.", ""),
        copy_conflict("annual_reports", "id", COLUMNS)
    );
    bind_report(sqlx::query(&sql), report)
        .execute(executor)
        .await
        .map_err(sql_error("annual report"))?;
    Ok(())
}

/// Binds a report's columns in the order of [`COLUMNS`].
fn bind_report<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    report: &'q AnnualReport,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let figures = &report.figures;
    query
        .bind(&report.id)
        .bind(&report.org_unit_id)
        .bind(i64::from(report.year))
        .bind(report.state as i64)
        .bind(figures.members)
        .bind(figures.activities)
        .bind(figures.approved_minutes)
        .bind(figures.service_records)
        .bind(figures.star_ratings)
        .bind(figures.commendations)
        .bind(&report.service_features)
        .bind(&report.highlights)
        .bind(&report.plans)
        .bind(&report.review_comment)
        .bind(&report.reviewed_by)
        .bind(report.submit_time)
        .bind(&report.meta.origin_instance)
        .bind(report.meta.version)
        .bind(report.meta.create_time)
        .bind(report.meta.update_time)
}

/// Reports of a year of teams in `[low, high)`, after team `after`, by team id.
pub async fn list<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    year: i32,
    state: Option<ReportState>,
    after: &str,
    limit: i64,
) -> Result<Vec<AnnualReport>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM annual_reports r JOIN org_units o ON o.id = r.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND r.year = $3 AND ($4 = 0 OR r.state = $4) \
         AND r.org_unit_id > $5 ORDER BY r.org_unit_id LIMIT $6"
    ))
    .bind(low)
    .bind(high)
    .bind(i64::from(year))
    .bind(state.map_or(0, |state| state as i64))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("annual report"))?;
    rows.iter().map(from_row).collect()
}

/// Counts of one group of teams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// The group key: the child-of-root id ('' for the root itself).
    pub key: String,
    /// Active teams.
    pub teams: i64,
    /// Submitted.
    pub submitted: i64,
    /// Approved.
    pub approved: i64,
    /// Returned.
    pub returned: i64,
    /// Neither submitted nor approved.
    pub outstanding: i64,
}

/// Active teams of `[low, high)` and their reports of `year`, grouped by the unit directly
/// under the root (the root's path is `root_path_len` long).
pub async fn progress<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    root_path_len: usize,
    year: i32,
) -> Result<Vec<Counts>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT SUBSTR(o.path, {start}, 36) AS k, CAST(COUNT(*) AS BIGINT) AS teams, \
         CAST(COALESCE(SUM(CASE WHEN r.state = 2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS submitted, \
         CAST(COALESCE(SUM(CASE WHEN r.state = 3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS approved, \
         CAST(COALESCE(SUM(CASE WHEN r.state = 4 THEN 1 ELSE 0 END), 0) AS BIGINT) AS returned, \
         CAST(COALESCE(SUM(CASE WHEN r.state IS NULL OR r.state IN (1, 4) THEN 1 ELSE 0 END), 0) AS BIGINT) AS outstanding \
         FROM org_units o LEFT JOIN annual_reports r ON r.org_unit_id = o.id AND r.year = $3 \
         WHERE o.tier = 2 AND o.status = 1 AND o.path >= $1 AND o.path < $2 \
         GROUP BY k ORDER BY k",
        start = root_path_len + 1
    ))
    .bind(low)
    .bind(high)
    .bind(i64::from(year))
    .fetch_all(executor)
    .await
    .map_err(sql_error("annual report progress"))?;
    rows.iter()
        .map(|row| {
            Ok(Counts {
                key: column::<Option<String>>(row, "k")?.unwrap_or_default(),
                teams: column(row, "teams")?,
                submitted: column(row, "submitted")?,
                approved: column(row, "approved")?,
                returned: column(row, "returned")?,
                outstanding: column(row, "outstanding")?,
            })
        })
        .collect()
}

/// An active team and the last day it was active, if ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastActive {
    /// The team.
    pub org_unit_id: String,
    /// Its name.
    pub display_name: String,
    /// The last day an activity started or service was approved in its subtree.
    pub last_active: Option<CivilDate>,
}

/// Active teams of `[low, high)` after `after` with nothing held or served since `cutoff`.
pub async fn dormant<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    cutoff: CivilDate,
    after: &str,
    limit: i64,
) -> Result<Vec<LastActive>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT t.id, t.display_name, MAX(x.day) AS last_active FROM org_units t \
         LEFT JOIN org_units o ON o.path LIKE t.path || '%' \
         LEFT JOIN (SELECT org_unit_id, MAX(service_date) AS day FROM hours_daily \
                    WHERE minutes > 0 GROUP BY org_unit_id \
                    UNION ALL SELECT org_unit_id, MAX(start_date) AS day FROM activities \
                    WHERE state IN ('published', 'in_progress', 'completed') GROUP BY org_unit_id) x \
         ON x.org_unit_id = o.id \
         WHERE t.tier = 2 AND t.status = 1 AND t.path >= $1 AND t.path < $2 AND t.id > $3 \
         GROUP BY t.id, t.display_name HAVING MAX(x.day) IS NULL OR MAX(x.day) < $4 \
         ORDER BY t.id LIMIT $5",
    )
    .bind(low)
    .bind(high)
    .bind(after)
    .bind(cutoff.to_iso())
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("dormant teams"))?;
    rows.iter()
        .map(|row| {
            let last: Option<String> = column(row, "last_active")?;
            Ok(LastActive {
                org_unit_id: column(row, "id")?,
                display_name: column(row, "display_name")?,
                last_active: last.as_deref().and_then(CivilDate::parse_iso),
            })
        })
        .collect()
}
