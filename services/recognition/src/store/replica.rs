//! Volunteers, activities and service records as replicated from the registry's and the
//! activity service's change logs. Every write keeps the newest version only, so entries
//! apply idempotently.

use egret_runtime::ApiError;
use egret_storage::rows::{column, corrupt, date_column, sql_error};
use egret_types::CivilDate;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::rules::TeamFacts;
use crate::domain::{ServiceRecord, Volunteer};

fn volunteer_from_row(row: &AnyRow) -> Result<Volunteer, ApiError> {
    Ok(Volunteer {
        id: column(row, "id")?,
        volunteer_number: column(row, "volunteer_number")?,
        display_name: column(row, "display_name")?,
        id_type: column(row, "id_type")?,
        id_number_masked: column(row, "id_number_masked")?,
        status: column(row, "status")?,
        registering_org_unit_id: column(row, "registering_org_unit_id")?,
        registered_on: date_column(row, "registered_on")?
            .ok_or_else(|| corrupt("volunteer without a registration day"))?,
        version: column(row, "version")?,
    })
}

/// One replicated volunteer.
pub async fn volunteer<'e, E>(executor: E, id: &str) -> Result<Option<Volunteer>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, volunteer_number, display_name, id_type, id_number_masked, status, \
         registering_org_unit_id, registered_on, version FROM volunteers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    row.as_ref().map(volunteer_from_row).transpose()
}

/// Writes a volunteer unless the replica holds the same or a newer version.
pub async fn upsert_volunteer<'e, E>(executor: E, volunteer: &Volunteer) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO volunteers (id, volunteer_number, display_name, id_type, id_number_masked, \
         status, registering_org_unit_id, registered_on, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET \
         volunteer_number = excluded.volunteer_number, display_name = excluded.display_name, \
         id_type = excluded.id_type, id_number_masked = excluded.id_number_masked, \
         status = excluded.status, registering_org_unit_id = excluded.registering_org_unit_id, \
         registered_on = excluded.registered_on, version = excluded.version \
         WHERE volunteers.version < excluded.version",
    )
    .bind(&volunteer.id)
    .bind(&volunteer.volunteer_number)
    .bind(&volunteer.display_name)
    .bind(&volunteer.id_type)
    .bind(&volunteer.id_number_masked)
    .bind(volunteer.status)
    .bind(&volunteer.registering_org_unit_id)
    .bind(volunteer.registered_on.to_iso())
    .bind(volunteer.version)
    .execute(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(())
}

/// An activity's replicated name and organizing unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRow {
    /// Id.
    pub id: String,
    /// The organizing unit.
    pub org_unit_id: String,
    /// Title.
    pub display_name: String,
    /// `completed`, `cancelled`, ….
    pub state: String,
    /// Start (microseconds).
    pub start_time: i64,
    /// The activity service's version.
    pub version: i64,
}

/// Writes an activity unless the replica holds the same or a newer version.
pub async fn upsert_activity<'e, E>(executor: E, activity: &ActivityRow) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO activities (id, org_unit_id, display_name, state, start_time, version) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
         org_unit_id = excluded.org_unit_id, display_name = excluded.display_name, \
         state = excluded.state, start_time = excluded.start_time, version = excluded.version \
         WHERE activities.version < excluded.version",
    )
    .bind(&activity.id)
    .bind(&activity.org_unit_id)
    .bind(&activity.display_name)
    .bind(&activity.state)
    .bind(activity.start_time)
    .bind(activity.version)
    .execute(executor)
    .await
    .map_err(sql_error("activity"))?;
    Ok(())
}

/// One replicated activity.
pub async fn activity<'e, E>(executor: E, id: &str) -> Result<Option<ActivityRow>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, org_unit_id, display_name, state, start_time, version FROM activities WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("activity"))?;
    row.map(|row| {
        Ok(ActivityRow {
            id: column(&row, "id")?,
            org_unit_id: column(&row, "org_unit_id")?,
            display_name: column(&row, "display_name")?,
            state: column(&row, "state")?,
            start_time: column(&row, "start_time")?,
            version: column(&row, "version")?,
        })
    })
    .transpose()
}

const RECORD_COLUMNS: &str = "id, volunteer_id, activity_id, org_unit_id, description, service_date, approved_minutes, version";

fn record_from_row(row: &AnyRow) -> Result<ServiceRecord, ApiError> {
    Ok(ServiceRecord {
        id: column(row, "id")?,
        volunteer_id: column(row, "volunteer_id")?,
        activity_id: column(row, "activity_id")?,
        org_unit_id: column(row, "org_unit_id")?,
        description: column(row, "description")?,
        service_date: date_column(row, "service_date")?
            .ok_or_else(|| corrupt("service record without a day"))?,
        approved_minutes: column(row, "approved_minutes")?,
        version: column(row, "version")?,
    })
}

/// One replicated service record.
pub async fn service_record<'e, E>(executor: E, id: &str) -> Result<Option<ServiceRecord>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} FROM service_records WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("service record"))?;
    row.as_ref().map(record_from_row).transpose()
}

/// Writes a service record; the caller has checked that its version is newer.
pub async fn put_service_record<'e, E>(executor: E, record: &ServiceRecord) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO service_records (id, volunteer_id, activity_id, org_unit_id, description, \
         service_date, approved_minutes, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET volunteer_id = excluded.volunteer_id, \
         activity_id = excluded.activity_id, org_unit_id = excluded.org_unit_id, \
         description = excluded.description, service_date = excluded.service_date, \
         approved_minutes = excluded.approved_minutes, version = excluded.version",
    )
    .bind(&record.id)
    .bind(&record.volunteer_id)
    .bind(&record.activity_id)
    .bind(&record.org_unit_id)
    .bind(&record.description)
    .bind(record.service_date.to_iso())
    .bind(record.approved_minutes)
    .bind(record.version)
    .execute(executor)
    .await
    .map_err(sql_error("service record"))?;
    Ok(())
}

/// A volunteer's approved minutes on days up to and including `through` (all days when
/// None).
pub async fn approved_minutes<'e, E>(
    executor: E,
    volunteer_id: &str,
    through: Option<CivilDate>,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let through = through.map_or_else(|| "9999-12-31".to_string(), |date| date.to_iso());
    let (minutes,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(approved_minutes), 0) AS BIGINT) FROM service_records \
         WHERE volunteer_id = $1 AND service_date <= $2",
    )
    .bind(volunteer_id)
    .bind(through)
    .fetch_one(executor)
    .await
    .map_err(sql_error("service record"))?;
    Ok(minutes)
}

/// A volunteer's approved minutes on one day.
pub async fn approved_minutes_on<'e, E>(
    executor: E,
    volunteer_id: &str,
    day: CivilDate,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (minutes,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(approved_minutes), 0) AS BIGINT) FROM service_records \
         WHERE volunteer_id = $1 AND service_date = $2",
    )
    .bind(volunteer_id)
    .bind(day.to_iso())
    .fetch_one(executor)
    .await
    .map_err(sql_error("service record"))?;
    Ok(minutes)
}

/// The approved records of a volunteer in `[start, end]`, optionally of one activity,
/// oldest first: what a certificate covers.
pub async fn approved_records<'e, E>(
    executor: E,
    volunteer_id: &str,
    (start, end): (CivilDate, CivilDate),
    activity_id: Option<&str>,
) -> Result<Vec<ServiceRecord>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} FROM service_records WHERE volunteer_id = $1 \
         AND service_date >= $2 AND service_date <= $3 AND approved_minutes > 0 \
         AND ($4 = '' OR activity_id = $4) ORDER BY service_date, id"
    ))
    .bind(volunteer_id)
    .bind(start.to_iso())
    .bind(end.to_iso())
    .bind(activity_id.unwrap_or(""))
    .fetch_all(executor)
    .await
    .map_err(sql_error("service record"))?;
    rows.iter().map(record_from_row).collect()
}

/// A project's replicated name and owning unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    /// Id.
    pub id: String,
    /// The owning unit.
    pub org_unit_id: String,
    /// Name.
    pub display_name: String,
    /// The activity service's version.
    pub version: i64,
}

/// Writes a project unless the replica holds the same or a newer version.
pub async fn upsert_project<'e, E>(executor: E, project: &ProjectRow) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO projects (id, org_unit_id, display_name, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET org_unit_id = excluded.org_unit_id, \
         display_name = excluded.display_name, version = excluded.version \
         WHERE projects.version < excluded.version",
    )
    .bind(&project.id)
    .bind(&project.org_unit_id)
    .bind(&project.display_name)
    .bind(project.version)
    .execute(executor)
    .await
    .map_err(sql_error("project"))?;
    Ok(())
}

/// One replicated project.
pub async fn project<'e, E>(executor: E, id: &str) -> Result<Option<ProjectRow>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row =
        sqlx::query("SELECT id, org_unit_id, display_name, version FROM projects WHERE id = $1")
            .bind(id)
            .fetch_optional(executor)
            .await
            .map_err(sql_error("project"))?;
    row.map(|row| {
        Ok(ProjectRow {
            id: column(&row, "id")?,
            org_unit_id: column(&row, "org_unit_id")?,
            display_name: column(&row, "display_name")?,
            version: column(&row, "version")?,
        })
    })
    .transpose()
}

/// Writes a beneficiary's evaluation unless the replica holds the same or a newer version.
pub async fn upsert_evaluation<'e, E>(
    executor: E,
    (id, activity_id, rating, version): (&str, &str, i64, i64),
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO evaluations (id, activity_id, rating, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET activity_id = excluded.activity_id, \
         rating = excluded.rating, version = excluded.version \
         WHERE evaluations.version < excluded.version",
    )
    .bind(id)
    .bind(activity_id)
    .bind(rating)
    .bind(version)
    .execute(executor)
    .await
    .map_err(sql_error("evaluation"))?;
    Ok(())
}

/// Counts a team's year over the subtree `[low, high)`; `(start, end)` are the year's
/// first and last day, and `[start_micros, end_micros)` the same in time.
pub async fn team_year(
    connection: &mut sqlx::AnyConnection,
    team_id: &str,
    year: i32,
    (low, high): (&str, &str),
    (start_micros, end_micros): (i64, i64),
) -> Result<TeamFacts, ApiError> {
    let first = format!("{year:04}-01-01");
    let last = format!("{year:04}-12-31");
    let (active_members, approved_minutes): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(DISTINCT r.volunteer_id) AS BIGINT), \
         CAST(COALESCE(SUM(r.approved_minutes), 0) AS BIGINT) FROM service_records r \
         JOIN org_units o ON o.id = r.org_unit_id WHERE o.path >= $1 AND o.path < $2 \
         AND r.service_date >= $3 AND r.service_date <= $4 AND r.approved_minutes > 0",
    )
    .bind(low)
    .bind(high)
    .bind(&first)
    .bind(&last)
    .fetch_one(&mut *connection)
    .await
    .map_err(sql_error("service record"))?;
    let (completed_activities,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM activities a JOIN org_units o ON o.id = a.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND a.state = 'completed' \
         AND a.start_time >= $3 AND a.start_time < $4",
    )
    .bind(low)
    .bind(high)
    .bind(start_micros)
    .bind(end_micros)
    .fetch_one(&mut *connection)
    .await
    .map_err(sql_error("activity"))?;
    let (rating_count, rating_sum): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(e.id) AS BIGINT), CAST(COALESCE(SUM(e.rating), 0) AS BIGINT) \
         FROM evaluations e JOIN activities a ON a.id = e.activity_id \
         JOIN org_units o ON o.id = a.org_unit_id WHERE o.path >= $1 AND o.path < $2 \
         AND a.start_time >= $3 AND a.start_time < $4",
    )
    .bind(low)
    .bind(high)
    .bind(start_micros)
    .bind(end_micros)
    .fetch_one(&mut *connection)
    .await
    .map_err(sql_error("evaluation"))?;
    let submitted: Option<(i64,)> =
        sqlx::query_as("SELECT submitted FROM annual_reports WHERE org_unit_id = $1 AND year = $2")
            .bind(team_id)
            .bind(i64::from(year))
            .fetch_optional(&mut *connection)
            .await
            .map_err(sql_error("annual report"))?;
    Ok(TeamFacts {
        active_members,
        approved_minutes,
        completed_activities,
        annual_report_submitted: submitted.is_some_and(|(flag,)| flag == 1),
        evaluation_average: (rating_count > 0).then(|| rating_sum as f64 / rating_count as f64),
    })
}

/// Writes whether a team submitted a year's annual report, unless the replica holds the
/// same or a newer version.
pub async fn upsert_annual_report<'e, E>(
    executor: E,
    org_unit_id: &str,
    year: i64,
    submitted: bool,
    version: i64,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO annual_reports (org_unit_id, year, submitted, version) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (org_unit_id, year) DO UPDATE SET submitted = excluded.submitted, \
         version = excluded.version WHERE annual_reports.version < excluded.version",
    )
    .bind(org_unit_id)
    .bind(year)
    .bind(i64::from(submitted))
    .bind(version)
    .execute(executor)
    .await
    .map_err(sql_error("annual report"))?;
    Ok(())
}
