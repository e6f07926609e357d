//! The registry's SQL. Every function takes an executor, so the same statement runs on the
//! read pool or inside a [`egret_storage::WriteTx`]; every statement is portable between
//! SQLite and PostgreSQL.

pub mod members;
pub mod org;
pub mod volunteers;

use egret_runtime::ApiError;
use sqlx::{Any, Executor};

use crate::domain::AuditEntry;

/// The migrations of the registry's tables.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// The migrations of the registry's tables.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

use egret_storage::rows::{
    column, corrupt, date_column, date_text, json_column, meta_columns, sql_error, to_json,
};

/// Allocates the next value of the counter behind a numbering scheme's `prefix`.
pub async fn next_counter<'e, E>(executor: E, prefix: &str) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    next_counters(executor, prefix, 1).await
}

/// Draws `count` numbers of the counter `prefix` at once; returns the last (the first is
/// `count - 1` before it).
pub async fn next_counters<'e, E>(executor: E, prefix: &str, count: i64) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (value,): (i64,) = sqlx::query_as(
        "INSERT INTO number_counters (prefix, last_value) VALUES ($1, $2) \
         ON CONFLICT (prefix) DO UPDATE SET last_value = number_counters.last_value + $2 \
         RETURNING last_value",
    )
    .bind(prefix)
    .bind(count)
    .fetch_one(executor)
    .await
    .map_err(sql_error("number counter"))?;
    Ok(value)
}

/// Writes an audit entry for an unmasked read.
pub async fn insert_audit_entry<'e, E>(
    executor: E,
    entry: &AuditEntry,
    actor_org_path: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO audit_entries (id, actor, actor_org_unit_id, actor_org_path, resource_name, \
         fields_json, method, read_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&entry.id)
    .bind(&entry.actor)
    .bind(&entry.actor_org_unit_id)
    .bind(actor_org_path)
    .bind(&entry.resource_name)
    .bind(to_json(&entry.fields))
    .bind(&entry.method)
    .bind(entry.read_time)
    .execute(executor)
    .await
    .map_err(sql_error("audit entry"))?;
    Ok(())
}

/// Audit entries made by principals in the subtree `[low, high)`, newest first, before the
/// id `before` when given.
pub async fn list_audit_entries<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    resource: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT id, actor, actor_org_unit_id, resource_name, fields_json, method, read_time \
         FROM audit_entries WHERE actor_org_path >= $1 AND actor_org_path < $2 \
         AND ($3 = '' OR resource_name = $3) AND ($4 = '' OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(low)
    .bind(high)
    .bind(resource.unwrap_or(""))
    .bind(before.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("audit entries"))?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: column(row, "id")?,
                actor: column(row, "actor")?,
                actor_org_unit_id: column(row, "actor_org_unit_id")?,
                resource_name: column(row, "resource_name")?,
                fields: json_column(row, "fields_json")?,
                method: column(row, "method")?,
                read_time: column(row, "read_time")?,
            })
        })
        .collect()
}
