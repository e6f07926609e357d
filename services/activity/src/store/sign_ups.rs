//! Sign-ups.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::sign_up::{SignUp, SignUpState};

/// The columns of a sign-up with its volunteer's name and its place on the waiting list.
const COLUMNS: &str = "s.id, s.activity_id, s.volunteer_id, COALESCE(v.display_name, '') AS volunteer_display_name, \
     s.position_id, s.state, s.decided_by, s.comment, s.origin_instance, s.version, s.create_time, \
     s.update_time, CASE WHEN s.state = 2 THEN (SELECT COUNT(*) FROM sign_ups w \
     WHERE w.activity_id = s.activity_id AND w.position_id = s.position_id AND w.state = 2 \
     AND w.id <= s.id) ELSE 0 END AS waitlist_position";

const FROM: &str = "FROM sign_ups s LEFT JOIN volunteers v ON v.id = s.volunteer_id";

fn from_row(row: &AnyRow) -> Result<SignUp, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(SignUp {
        id: column(row, "id")?,
        activity_id: column(row, "activity_id")?,
        volunteer_id: column(row, "volunteer_id")?,
        volunteer_display_name: column(row, "volunteer_display_name")?,
        position_id: column(row, "position_id")?,
        state: SignUpState::from_number(state)
            .ok_or_else(|| corrupt(format!("sign-up state {state}")))?,
        waitlist_position: column(row, "waitlist_position")?,
        decided_by: column(row, "decided_by")?,
        comment: column(row, "comment")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a sign-up.
pub async fn insert<'e, E>(executor: E, sign_up: &SignUp) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, sign_up, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, sign_up: &SignUp) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        sign_up,
        &copy_conflict("sign_ups", "id", "id, activity_id, volunteer_id, position_id, state, decided_by, comment, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    sign_up: &SignUp,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO sign_ups (id, activity_id, volunteer_id, position_id, state, decided_by, \
         comment, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {on_conflict}"
    ))
    .bind(&sign_up.id)
    .bind(&sign_up.activity_id)
    .bind(&sign_up.volunteer_id)
    .bind(&sign_up.position_id)
    .bind(sign_up.state as i64)
    .bind(&sign_up.decided_by)
    .bind(&sign_up.comment)
    .bind(&sign_up.meta.origin_instance)
    .bind(sign_up.meta.version)
    .bind(sign_up.meta.create_time)
    .bind(sign_up.meta.update_time)
    .execute(executor)
    .await
    .map_err(
        |error| match egret_storage::convert_sqlx_err(error, "sign-up") {
            ApiError::AlreadyExists { resource, .. } => ApiError::AlreadyExists {
                resource,
                reason: egret_runtime::Bilingual::new(
                    "the volunteer has already signed up for this activity",
                    "该志愿者已报名本活动",
                ),
            },
            other => other,
        },
    )?;
    Ok(())
}

/// One sign-up.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<SignUp>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} {FROM} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(sql_error("sign-up"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a sign-up's state, decider and comment if still at version - 1.
pub async fn update<'e, E>(executor: E, sign_up: &SignUp) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE sign_ups SET state = $2, decided_by = $3, comment = $4, version = $5, \
         update_time = $6 WHERE id = $1 AND version = $7",
    )
    .bind(&sign_up.id)
    .bind(sign_up.state as i64)
    .bind(&sign_up.decided_by)
    .bind(&sign_up.comment)
    .bind(sign_up.meta.version)
    .bind(sign_up.meta.update_time)
    .bind(sign_up.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("sign-up"))?;
    Ok(result.rows_affected() == 1)
}

/// How many sign-ups hold a place of the position.
pub async fn places_taken<'e, E>(
    executor: E,
    activity_id: &str,
    position_id: &str,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM sign_ups WHERE activity_id = $1 AND position_id = $2 AND state IN (1, 3)",
    )
    .bind(activity_id)
    .bind(position_id)
    .fetch_one(executor)
    .await
    .map_err(sql_error("sign-ups"))?;
    Ok(count)
}

/// The oldest waitlisted sign-up of the position, the next to move up.
pub async fn next_waitlisted<'e, E>(
    executor: E,
    activity_id: &str,
    position_id: &str,
) -> Result<Option<SignUp>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE s.activity_id = $1 AND s.position_id = $2 AND s.state = 2 \
         ORDER BY s.id LIMIT 1"
    ))
    .bind(activity_id)
    .bind(position_id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("sign-ups"))?;
    row.as_ref().map(from_row).transpose()
}

/// The name of a live activity (published or in progress) overlapping `[start, end)` that
/// the volunteer holds a live sign-up for, other than `activity_id`.
pub async fn overlapping_booking<'e, E>(
    executor: E,
    volunteer_id: &str,
    activity_id: &str,
    start_time: i64,
    end_time: i64,
) -> Result<Option<String>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT a.display_name FROM sign_ups s JOIN activities a ON a.id = s.activity_id \
         WHERE s.volunteer_id = $1 AND s.state IN (1, 2, 3) AND a.state IN (2, 3) \
         AND a.id <> $2 AND a.start_time < $4 AND a.end_time > $3 LIMIT 1",
    )
    .bind(volunteer_id)
    .bind(activity_id)
    .bind(start_time)
    .bind(end_time)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("sign-ups"))?;
    Ok(row.map(|(name,)| name))
}

/// Filters of a sign-up listing.
#[derive(Debug, Clone, Default)]
pub struct SignUpFilter {
    /// Only this activity ('': any).
    pub activity_id: String,
    /// Only this volunteer ('': any).
    pub volunteer_id: String,
    /// Only this position ('': any).
    pub position_id: String,
    /// State number (0: any).
    pub state: i64,
}

/// Sign-ups matching the filter with id after `after`, oldest first.
pub async fn list<'e, E>(
    executor: E,
    filter: &SignUpFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SignUp>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE ($1 = '' OR s.activity_id = $1) \
         AND ($2 = '' OR s.volunteer_id = $2) AND ($3 = '' OR s.position_id = $3) \
         AND ($4 = 0 OR s.state = $4) AND s.id > $5 ORDER BY s.id LIMIT $6"
    ))
    .bind(&filter.activity_id)
    .bind(&filter.volunteer_id)
    .bind(&filter.position_id)
    .bind(filter.state)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("sign-ups"))?;
    rows.iter().map(from_row).collect()
}

/// Locks the activity's row until commit, so that sign-ups to it take places one after
/// the other and never exceed a headcount.
pub async fn lock_activity<'e, E>(executor: E, activity_id: &str) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query("UPDATE activities SET version = version WHERE id = $1")
        .bind(activity_id)
        .execute(executor)
        .await
        .map_err(sql_error("activity"))?;
    Ok(())
}
