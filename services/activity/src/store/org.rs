//! The replica of the registry's org tree and the feed checkpoint that keeps it current.

use egret_runtime::ApiError;
use egret_storage::rows::{column, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::OrgUnit;

fn from_row(row: &AnyRow) -> Result<OrgUnit, ApiError> {
    Ok(OrgUnit {
        id: column(row, "id")?,
        parent_id: column(row, "parent_id")?,
        path: column(row, "path")?,
        tier: column(row, "tier")?,
        display_name: column(row, "display_name")?,
        status: column(row, "status")?,
        version: column(row, "version")?,
    })
}

/// One replicated unit.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, parent_id, path, tier, display_name, status, version FROM org_units WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("org unit"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a unit unless the replica already holds the same or a newer version of it.
pub async fn upsert<'e, E>(executor: E, unit: &OrgUnit) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO org_units (id, parent_id, path, tier, display_name, status, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, path = excluded.path, \
         tier = excluded.tier, display_name = excluded.display_name, status = excluded.status, \
         version = excluded.version WHERE org_units.version < excluded.version",
    )
    .bind(&unit.id)
    .bind(&unit.parent_id)
    .bind(&unit.path)
    .bind(unit.tier)
    .bind(&unit.display_name)
    .bind(unit.status)
    .bind(unit.version)
    .execute(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(())
}

/// The last registry change-log sequence applied.
pub async fn checkpoint<'e, E>(executor: E, feed: &str) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (last,): (i64,) =
        sqlx::query_as("SELECT last_sequence FROM feed_checkpoints WHERE feed = $1")
            .bind(feed)
            .fetch_one(executor)
            .await
            .map_err(sql_error("feed checkpoint"))?;
    Ok(last)
}

/// Moves the checkpoint forward to `last_sequence` (never backward); false when another
/// reader had already applied past it.
pub async fn advance_checkpoint<'e, E>(
    executor: E,
    feed: &str,
    expected: i64,
    last_sequence: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE feed_checkpoints SET last_sequence = $3 WHERE feed = $1 AND last_sequence = $2",
    )
    .bind(feed)
    .bind(expected)
    .bind(last_sequence)
    .execute(executor)
    .await
    .map_err(sql_error("feed checkpoint"))?;
    Ok(result.rows_affected() == 1)
}
