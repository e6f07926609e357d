//! Attendances and service records.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, date_column, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::attendance::{Attendance, RecordKind, RecordState, ServiceRecord};

const ATTENDANCE_COLUMNS: &str = "id, activity_id, volunteer_id, check_in_time, check_out_time, \
     check_in_method, fence_result, needs_review, origin_instance, version, create_time, update_time";

fn attendance_from_row(row: &AnyRow) -> Result<Attendance, ApiError> {
    let method: i64 = column(row, "check_in_method")?;
    let fence: i64 = column(row, "fence_result")?;
    let needs_review: i64 = column(row, "needs_review")?;
    Ok(Attendance {
        id: column(row, "id")?,
        activity_id: column(row, "activity_id")?,
        volunteer_id: column(row, "volunteer_id")?,
        check_in_time: column(row, "check_in_time")?,
        check_out_time: column(row, "check_out_time")?,
        check_in_method: method as i32,
        fence_result: fence as i32,
        needs_review: needs_review == 1,
        meta: meta_columns(row)?,
    })
}

/// Inserts an attendance.
pub async fn insert_attendance<'e, E>(executor: E, attendance: &Attendance) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_attendance(executor, attendance, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy_attendance<'e, E>(
    executor: E,
    attendance: &Attendance,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_attendance(
        executor,
        attendance,
        &copy_conflict("attendances", "id", ATTENDANCE_COLUMNS),
    )
    .await
}

async fn write_insert_attendance<'e, E>(
    executor: E,
    attendance: &Attendance,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO attendances ({ATTENDANCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) {on_conflict}"
    ))
    .bind(&attendance.id)
    .bind(&attendance.activity_id)
    .bind(&attendance.volunteer_id)
    .bind(attendance.check_in_time)
    .bind(attendance.check_out_time)
    .bind(i64::from(attendance.check_in_method))
    .bind(i64::from(attendance.fence_result))
    .bind(i64::from(attendance.needs_review))
    .bind(&attendance.meta.origin_instance)
    .bind(attendance.meta.version)
    .bind(attendance.meta.create_time)
    .bind(attendance.meta.update_time)
    .execute(executor)
    .await
    .map_err(|error| match egret_storage::convert_sqlx_err(error, "attendance") {
        ApiError::AlreadyExists { .. } => ApiError::failed_precondition(
            "the volunteer is already checked in; check out first",
            "该志愿者已签到，请先签退",
        ),
        other => other,
    })?;
    Ok(())
}

/// Closes an attendance if still at version - 1.
pub async fn update_attendance<'e, E>(
    executor: E,
    attendance: &Attendance,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE attendances SET check_out_time = $2, needs_review = $3, version = $4, update_time = $5 \
         WHERE id = $1 AND version = $6",
    )
    .bind(&attendance.id)
    .bind(attendance.check_out_time)
    .bind(i64::from(attendance.needs_review))
    .bind(attendance.meta.version)
    .bind(attendance.meta.update_time)
    .bind(attendance.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("attendance"))?;
    Ok(result.rows_affected() == 1)
}

/// Attendances of an activity (one volunteer's when given), with id after `after`.
pub async fn list_attendances<'e, E>(
    executor: E,
    activity_id: &str,
    volunteer_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Attendance>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {ATTENDANCE_COLUMNS} FROM attendances WHERE activity_id = $1 \
         AND ($2 = '' OR volunteer_id = $2) AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(activity_id)
    .bind(volunteer_id)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("attendances"))?;
    rows.iter().map(attendance_from_row).collect()
}

/// One attendance.
pub async fn get_attendance<'e, E>(executor: E, id: &str) -> Result<Option<Attendance>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ATTENDANCE_COLUMNS} FROM attendances WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("attendance"))?;
    row.as_ref().map(attendance_from_row).transpose()
}

/// The volunteer's open attendance at an activity (checked in, not out), if any.
pub async fn open_attendance<'e, E>(
    executor: E,
    activity_id: &str,
    volunteer_id: &str,
) -> Result<Option<Attendance>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ATTENDANCE_COLUMNS} FROM attendances WHERE activity_id = $1 \
         AND volunteer_id = $2 AND check_out_time = 0"
    ))
    .bind(activity_id)
    .bind(volunteer_id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("attendance"))?;
    row.as_ref().map(attendance_from_row).transpose()
}

/// Every attendance of an activity, oldest first (for closing it).
pub async fn all_attendances<'e, E>(
    executor: E,
    activity_id: &str,
) -> Result<Vec<Attendance>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {ATTENDANCE_COLUMNS} FROM attendances WHERE activity_id = $1 ORDER BY id"
    ))
    .bind(activity_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("attendances"))?;
    rows.iter().map(attendance_from_row).collect()
}

/// How many check-ins the volunteer made in `[from, to)`, across activities.
pub async fn check_ins_between<'e, E>(
    executor: E,
    volunteer_id: &str,
    from: i64,
    to: i64,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM attendances WHERE volunteer_id = $1 AND check_in_time >= $2 AND check_in_time < $3",
    )
    .bind(volunteer_id)
    .bind(from)
    .bind(to)
    .fetch_one(executor)
    .await
    .map_err(sql_error("attendances"))?;
    Ok(count)
}

/// Whether the volunteer holds an approved sign-up for the activity.
pub async fn has_approved_sign_up<'e, E>(
    executor: E,
    activity_id: &str,
    volunteer_id: &str,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sign_ups WHERE activity_id = $1 AND volunteer_id = $2 AND state = 3",
    )
    .bind(activity_id)
    .bind(volunteer_id)
    .fetch_one(executor)
    .await
    .map_err(sql_error("sign-ups"))?;
    Ok(count > 0)
}

const RECORD_COLUMNS: &str = "r.id, r.volunteer_id, r.activity_id, r.org_unit_id, r.kind, r.description, r.reason, r.minutes, \
     r.service_date, r.state, r.needs_review, r.reviewed_by, r.review_comment, \
     r.platform_report_status, r.origin_instance, r.version, r.create_time, r.update_time";

fn record_from_row(row: &AnyRow) -> Result<ServiceRecord, ApiError> {
    let state: i64 = column(row, "state")?;
    let needs_review: i64 = column(row, "needs_review")?;
    let report: i64 = column(row, "platform_report_status")?;
    let kind: i64 = column(row, "kind")?;
    Ok(ServiceRecord {
        id: column(row, "id")?,
        volunteer_id: column(row, "volunteer_id")?,
        activity_id: column(row, "activity_id")?,
        org_unit_id: column(row, "org_unit_id")?,
        kind: RecordKind::from_number(kind)
            .ok_or_else(|| corrupt(format!("record kind {kind}")))?,
        description: column(row, "description")?,
        reason: column(row, "reason")?,
        minutes: column(row, "minutes")?,
        service_date: date_column(row, "service_date")?
            .ok_or_else(|| corrupt("record without a date"))?,
        state: RecordState::from_number(state)
            .ok_or_else(|| corrupt(format!("record state {state}")))?,
        needs_review: needs_review == 1,
        reviewed_by: column(row, "reviewed_by")?,
        review_comment: column(row, "review_comment")?,
        platform_report_status: report as i32,
        meta: meta_columns(row)?,
    })
}

/// Inserts a service record.
pub async fn insert_record<'e, E>(executor: E, record: &ServiceRecord) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_record(executor, record, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy_record<'e, E>(executor: E, record: &ServiceRecord) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_record(
        executor,
        record,
        &copy_conflict("service_records", "id", "id, volunteer_id, activity_id, org_unit_id, kind, description, reason, minutes, service_date, state, needs_review, reviewed_by, review_comment, platform_report_status, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert_record<'e, E>(
    executor: E,
    record: &ServiceRecord,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO service_records (id, volunteer_id, activity_id, org_unit_id, kind, description, reason, \
         minutes, service_date, state, needs_review, reviewed_by, review_comment, platform_report_status, \
         origin_instance, version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12, $13, $14, $15, $16, $17, $18) {on_conflict}"
    ))
    .bind(&record.id)
    .bind(&record.volunteer_id)
    .bind(&record.activity_id)
    .bind(&record.org_unit_id)
    .bind(record.kind as i64)
    .bind(&record.description)
    .bind(&record.reason)
    .bind(record.minutes)
    .bind(record.service_date.to_iso())
    .bind(record.state as i64)
    .bind(i64::from(record.needs_review))
    .bind(&record.reviewed_by)
    .bind(&record.review_comment)
    .bind(i64::from(record.platform_report_status))
    .bind(&record.meta.origin_instance)
    .bind(record.meta.version)
    .bind(record.meta.create_time)
    .bind(record.meta.update_time)
    .execute(executor)
    .await
    .map_err(|error| match egret_storage::convert_sqlx_err(error, "service record") {
        ApiError::AlreadyExists { resource, .. } => ApiError::AlreadyExists {
            resource,
            reason: egret_runtime::Bilingual::new(
                "the volunteer already has a service record for this activity; correct it instead",
                "该志愿者在本活动已有服务记录，请更正原记录",
            ),
        },
        other => other,
    })?;
    Ok(())
}

/// One service record.
pub async fn get_record<'e, E>(executor: E, id: &str) -> Result<Option<ServiceRecord>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} FROM service_records r WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("service record"))?;
    row.as_ref().map(record_from_row).transpose()
}

/// Writes a record's review if still at version - 1.
pub async fn update_record<'e, E>(executor: E, record: &ServiceRecord) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE service_records SET minutes = $2, state = $3, reviewed_by = $4, review_comment = $5, \
         reason = $6, platform_report_status = $7, version = $8, update_time = $9 \
         WHERE id = $1 AND version = $10",
    )
    .bind(&record.id)
    .bind(record.minutes)
    .bind(record.state as i64)
    .bind(&record.reviewed_by)
    .bind(&record.review_comment)
    .bind(&record.reason)
    .bind(i64::from(record.platform_report_status))
    .bind(record.meta.version)
    .bind(record.meta.update_time)
    .bind(record.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("service record"))?;
    Ok(result.rows_affected() == 1)
}

/// Filters of a service-record listing.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Subtree bounds `[low, high)` of the organizing units.
    pub bounds: (String, String),
    /// Only this volunteer ('': any).
    pub volunteer_id: String,
    /// Only this activity ('': any).
    pub activity_id: String,
    /// State number (0: any).
    pub state: i64,
}

/// Records of activities organized in the subtree, with id after `after`.
pub async fn list_records<'e, E>(
    executor: E,
    filter: &RecordFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<ServiceRecord>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {RECORD_COLUMNS} FROM service_records r JOIN org_units o ON o.id = r.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = '' OR r.volunteer_id = $3) \
         AND ($4 = '' OR r.activity_id = $4) AND ($5 = 0 OR r.state = $5) AND r.id > $6 \
         ORDER BY r.id LIMIT $7"
    ))
    .bind(&filter.bounds.0)
    .bind(&filter.bounds.1)
    .bind(&filter.volunteer_id)
    .bind(&filter.activity_id)
    .bind(filter.state)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("service records"))?;
    rows.iter().map(record_from_row).collect()
}

/// Approved minutes and record count of a volunteer in `[from, to]` (ISO dates; '' for
/// open), from records of activities organized in the subtree `[low, high)`.
pub async fn approved_totals<'e, E>(
    executor: E,
    volunteer_id: &str,
    (low, high): (&str, &str),
    from: &str,
    to: &str,
) -> Result<(i64, i64), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (minutes, count): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(r.minutes), 0) AS BIGINT), COUNT(*) FROM service_records r \
         JOIN org_units o ON o.id = r.org_unit_id WHERE r.volunteer_id = $1 AND r.state = 2 \
         AND o.path >= $2 AND o.path < $3 AND ($4 = '' OR r.service_date >= $4) \
         AND ($5 = '' OR r.service_date <= $5)",
    )
    .bind(volunteer_id)
    .bind(low)
    .bind(high)
    .bind(from)
    .bind(to)
    .fetch_one(executor)
    .await
    .map_err(sql_error("service records"))?;
    Ok((minutes, count))
}

/// Approved minutes, record count and distinct volunteers of the subtree `[low, high)` in
/// `[from, to]` (ISO dates; '' for open).
pub async fn unit_totals<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    from: &str,
    to: &str,
) -> Result<(i64, i64, i64), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let totals: (i64, i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(r.minutes), 0) AS BIGINT), COUNT(*), COUNT(DISTINCT r.volunteer_id) \
         FROM service_records r JOIN org_units o ON o.id = r.org_unit_id WHERE r.state = 2 \
         AND o.path >= $1 AND o.path < $2 AND ($3 = '' OR r.service_date >= $3) \
         AND ($4 = '' OR r.service_date <= $4)",
    )
    .bind(low)
    .bind(high)
    .bind(from)
    .bind(to)
    .fetch_one(executor)
    .await
    .map_err(sql_error("service records"))?;
    Ok(totals)
}
