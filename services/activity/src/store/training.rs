//! Courses, sessions and qualifications.

use egret_runtime::ApiError;
use egret_storage::rows::{
    column, copy_conflict, corrupt, date_column, date_text, meta_columns, sql_error,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::training::{Course, Qualification, TrainingSession};

const COURSE_COLUMNS: &str = "c.id, c.org_unit_id, c.display_name, c.kind, c.description, \
     c.qualification, c.qualification_valid_days, c.origin_instance, c.version, c.create_time, c.update_time";

fn course_from_row(row: &AnyRow) -> Result<Course, ApiError> {
    let kind: i64 = column(row, "kind")?;
    let valid_days: i64 = column(row, "qualification_valid_days")?;
    Ok(Course {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        display_name: column(row, "display_name")?,
        kind: kind as i32,
        description: column(row, "description")?,
        qualification: column(row, "qualification")?,
        qualification_valid_days: valid_days as i32,
        meta: meta_columns(row)?,
    })
}

/// Inserts a course.
pub async fn insert_course<'e, E>(executor: E, course: &Course) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_course(executor, course, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy_course<'e, E>(executor: E, course: &Course) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_course(
        executor,
        course,
        &copy_conflict("courses", "id", "id, org_unit_id, display_name, kind, description, qualification, qualification_valid_days, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert_course<'e, E>(
    executor: E,
    course: &Course,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO courses (id, org_unit_id, display_name, kind, description, qualification, \
         qualification_valid_days, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {on_conflict}"
    ))
    .bind(&course.id)
    .bind(&course.org_unit_id)
    .bind(&course.display_name)
    .bind(i64::from(course.kind))
    .bind(&course.description)
    .bind(&course.qualification)
    .bind(i64::from(course.qualification_valid_days))
    .bind(&course.meta.origin_instance)
    .bind(course.meta.version)
    .bind(course.meta.create_time)
    .bind(course.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("course"))?;
    Ok(())
}

/// One course.
pub async fn get_course<'e, E>(executor: E, id: &str) -> Result<Option<Course>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COURSE_COLUMNS} FROM courses c WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("course"))?;
    row.as_ref().map(course_from_row).transpose()
}

/// Courses run in the subtree `[low, high)`, with id after `after`.
pub async fn list_courses<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Course>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COURSE_COLUMNS} FROM courses c JOIN org_units o ON o.id = c.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND c.id > $3 ORDER BY c.id LIMIT $4"
    ))
    .bind(low)
    .bind(high)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("courses"))?;
    rows.iter().map(course_from_row).collect()
}

fn session_from_row(row: &AnyRow) -> Result<TrainingSession, ApiError> {
    Ok(TrainingSession {
        id: column(row, "id")?,
        course_id: column(row, "course_id")?,
        start_time: column(row, "start_time")?,
        end_time: column(row, "end_time")?,
        location: column(row, "location")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a session.
pub async fn insert_session<'e, E>(executor: E, session: &TrainingSession) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_session(executor, session, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy_session<'e, E>(executor: E, session: &TrainingSession) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_session(
        executor,
        session,
        &copy_conflict("training_sessions", "id", "id, course_id, start_time, end_time, location, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert_session<'e, E>(
    executor: E,
    session: &TrainingSession,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO training_sessions (id, course_id, start_time, end_time, location, origin_instance, \
         version, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) {on_conflict}"
    ))
    .bind(&session.id)
    .bind(&session.course_id)
    .bind(session.start_time)
    .bind(session.end_time)
    .bind(&session.location)
    .bind(&session.meta.origin_instance)
    .bind(session.meta.version)
    .bind(session.meta.create_time)
    .bind(session.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("training session"))?;
    Ok(())
}

/// One session.
pub async fn get_session<'e, E>(executor: E, id: &str) -> Result<Option<TrainingSession>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, course_id, start_time, end_time, location, origin_instance, version, create_time, \
         update_time FROM training_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("training session"))?;
    row.as_ref().map(session_from_row).transpose()
}

const QUALIFICATION_COLUMNS: &str = "q.id, q.volunteer_id, q.qualification, q.course_id, q.session_id, \
     q.granted_date, q.expire_date, q.origin_instance, q.version, q.create_time, q.update_time";

fn qualification_from_row(row: &AnyRow) -> Result<Qualification, ApiError> {
    Ok(Qualification {
        id: column(row, "id")?,
        volunteer_id: column(row, "volunteer_id")?,
        qualification: column(row, "qualification")?,
        course_id: column(row, "course_id")?,
        session_id: column(row, "session_id")?,
        granted_date: date_column(row, "granted_date")?
            .ok_or_else(|| corrupt("qualification without a date"))?,
        expire_date: date_column(row, "expire_date")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a qualification unless the session already granted it to the volunteer;
/// true when inserted.
pub async fn grant<'e, E>(executor: E, qualification: &Qualification) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_qualification(
        executor,
        qualification,
        "ON CONFLICT (session_id, volunteer_id) DO NOTHING",
    )
    .await
}

/// Writes a copy of another instance's qualification as it stands, unless one as new is
/// held.
pub async fn put_copy_qualification<'e, E>(
    executor: E,
    qualification: &Qualification,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_qualification(
        executor,
        qualification,
        &copy_conflict("qualifications", "id", QUALIFICATION_COLUMNS),
    )
    .await?;
    Ok(())
}

async fn write_qualification<'e, E>(
    executor: E,
    qualification: &Qualification,
    on_conflict: &str,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(&format!(
        "INSERT INTO qualifications (id, volunteer_id, qualification, course_id, session_id, granted_date, \
         expire_date, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {on_conflict}"
    ))
    .bind(&qualification.id)
    .bind(&qualification.volunteer_id)
    .bind(&qualification.qualification)
    .bind(&qualification.course_id)
    .bind(&qualification.session_id)
    .bind(qualification.granted_date.to_iso())
    .bind(date_text(qualification.expire_date))
    .bind(&qualification.meta.origin_instance)
    .bind(qualification.meta.version)
    .bind(qualification.meta.create_time)
    .bind(qualification.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("qualification"))?;
    Ok(result.rows_affected() == 1)
}

/// One qualification.
pub async fn get_qualification<'e, E>(
    executor: E,
    id: &str,
) -> Result<Option<Qualification>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {QUALIFICATION_COLUMNS} FROM qualifications q WHERE q.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("qualification"))?;
    row.as_ref().map(qualification_from_row).transpose()
}

/// Every qualification a volunteer holds (for eligibility).
pub async fn held_by<'e, E>(executor: E, volunteer_id: &str) -> Result<Vec<Qualification>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {QUALIFICATION_COLUMNS} FROM qualifications q WHERE q.volunteer_id = $1 ORDER BY q.id"
    ))
    .bind(volunteer_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("qualifications"))?;
    rows.iter().map(qualification_from_row).collect()
}

/// A volunteer's qualifications from courses run in the subtree `[low, high)`, with id
/// after `after`.
pub async fn list_qualifications<'e, E>(
    executor: E,
    volunteer_id: &str,
    (low, high): (&str, &str),
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Qualification>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {QUALIFICATION_COLUMNS} FROM qualifications q JOIN courses c ON c.id = q.course_id \
         JOIN org_units o ON o.id = c.org_unit_id WHERE q.volunteer_id = $1 \
         AND o.path >= $2 AND o.path < $3 AND q.id > $4 ORDER BY q.id LIMIT $5"
    ))
    .bind(volunteer_id)
    .bind(low)
    .bind(high)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("qualifications"))?;
    rows.iter().map(qualification_from_row).collect()
}
