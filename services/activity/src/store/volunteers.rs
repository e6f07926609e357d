//! Volunteers as replicated from the registry's change log.

use egret_runtime::ApiError;
use egret_storage::rows::{column, corrupt, date_column, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::sign_up::Volunteer;

fn from_row(row: &AnyRow) -> Result<Volunteer, ApiError> {
    Ok(Volunteer {
        id: column(row, "id")?,
        display_name: column(row, "display_name")?,
        birth_date: date_column(row, "birth_date")?
            .ok_or_else(|| corrupt("volunteer without a birth date"))?,
        status: column(row, "status")?,
        registering_org_unit_id: column(row, "registering_org_unit_id")?,
        version: column(row, "version")?,
    })
}

/// One replicated volunteer.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Volunteer>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, display_name, birth_date, status, registering_org_unit_id, version FROM volunteers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a volunteer unless the replica already holds the same or a newer version.
pub async fn upsert<'e, E>(executor: E, volunteer: &Volunteer) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO volunteers (id, display_name, birth_date, status, registering_org_unit_id, version) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, \
         birth_date = excluded.birth_date, status = excluded.status, \
         registering_org_unit_id = excluded.registering_org_unit_id, version = excluded.version \
         WHERE volunteers.version < excluded.version",
    )
    .bind(&volunteer.id)
    .bind(&volunteer.display_name)
    .bind(volunteer.birth_date.to_iso())
    .bind(volunteer.status)
    .bind(&volunteer.registering_org_unit_id)
    .bind(volunteer.version)
    .execute(executor)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(())
}

/// Locks the volunteer's row until commit, so that two sign-ups of one volunteer are
/// checked for double booking one after the other.
pub async fn lock<'e, E>(executor: E, id: &str) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query("UPDATE volunteers SET version = version WHERE id = $1")
        .bind(id)
        .execute(executor)
        .await
        .map_err(sql_error("volunteer"))?;
    Ok(())
}

pub use egret_sync::replica::serves_in;
