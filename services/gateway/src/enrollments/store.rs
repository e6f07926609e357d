//! The SQL of enrollments.

use egret_runtime::ApiError;
use egret_storage::rows::{column, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::app::{Enrollment, EnrollmentState};

const COLUMNS: &str = "instance_id, org_unit_id, org_unit_path, display_name, \
     credential_digest, state, created_by, revoke_time, origin_instance, version, \
     create_time, update_time";

fn from_row(row: &AnyRow) -> Result<Enrollment, ApiError> {
    let state: String = column(row, "state")?;
    Ok(Enrollment {
        instance_id: column(row, "instance_id")?,
        org_unit_id: column(row, "org_unit_id")?,
        org_unit_path: column(row, "org_unit_path")?,
        display_name: column(row, "display_name")?,
        credential_digest: column(row, "credential_digest")?,
        state: EnrollmentState::parse(&state)
            .ok_or_else(|| egret_storage::rows::corrupt(format!("enrollment state {state:?}")))?,
        created_by: column(row, "created_by")?,
        revoke_time: column(row, "revoke_time")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts an enrollment; false when the instance id or an active enrollment of the unit
/// exists already.
pub async fn insert(
    connection: &mut sqlx::AnyConnection,
    enrollment: &Enrollment,
) -> Result<bool, ApiError> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO enrollments ({COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
    ))
    .bind(enrollment.instance_id.as_str())
    .bind(enrollment.org_unit_id.as_str())
    .bind(enrollment.org_unit_path.as_str())
    .bind(enrollment.display_name.as_str())
    .bind(enrollment.credential_digest.as_str())
    .bind(enrollment.state.as_str())
    .bind(enrollment.created_by.as_str())
    .bind(enrollment.revoke_time)
    .bind(enrollment.meta.origin_instance.as_str())
    .bind(enrollment.meta.version)
    .bind(enrollment.meta.create_time)
    .bind(enrollment.meta.update_time)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("enrollment"))?;
    Ok(inserted.rows_affected() == 1)
}

/// The enrollment of `instance_id`.
pub async fn get<'e, E>(executor: E, instance_id: &str) -> Result<Option<Enrollment>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM enrollments WHERE instance_id = $1"
    ))
    .bind(instance_id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("enrollment"))?;
    row.as_ref().map(from_row).transpose()
}

/// Enrollments of units within `[low, high)` by path, with instance id after `after`.
pub async fn list<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    after: &str,
    limit: i64,
) -> Result<Vec<Enrollment>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM enrollments WHERE org_unit_path >= $1 AND org_unit_path < $2 \
         AND instance_id > $3 ORDER BY instance_id LIMIT $4"
    ))
    .bind(low)
    .bind(high)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("enrollment"))?;
    rows.iter().map(from_row).collect()
}

/// Writes a changed enrollment if it is still at `previous_version`.
pub async fn update(
    connection: &mut sqlx::AnyConnection,
    enrollment: &Enrollment,
    previous_version: i64,
) -> Result<bool, ApiError> {
    let updated = sqlx::query(
        "UPDATE enrollments SET state = $2, revoke_time = $3, version = $4, update_time = $5 \
         WHERE instance_id = $1 AND version = $6",
    )
    .bind(enrollment.instance_id.as_str())
    .bind(enrollment.state.as_str())
    .bind(enrollment.revoke_time)
    .bind(enrollment.meta.version)
    .bind(enrollment.meta.update_time)
    .bind(previous_version)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("enrollment"))?;
    Ok(updated.rows_affected() == 1)
}
