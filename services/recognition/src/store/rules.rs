//! Rule sets: every revision a row.

use egret_runtime::ApiError;
use egret_storage::rows::{
    column, corrupt, date_column, json_column, meta_columns, sql_error, to_json,
};
use egret_types::CivilDate;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::rules::RuleSet;

const COLUMNS: &str = "id, revision, display_name, jurisdiction, effective_date, rules_json, \
     built_in, notes, origin_instance, version, create_time, update_time";

fn from_row(row: &AnyRow) -> Result<RuleSet, ApiError> {
    Ok(RuleSet {
        id: column(row, "id")?,
        revision: column(row, "revision")?,
        display_name: column(row, "display_name")?,
        jurisdiction: column(row, "jurisdiction")?,
        effective_date: date_column(row, "effective_date")?
            .ok_or_else(|| corrupt("rule set without an effective date"))?,
        rules: json_column(row, "rules_json")?,
        built_in: column::<i64>(row, "built_in")? == 1,
        notes: column(row, "notes")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a revision; ALREADY_EXISTS when it exists.
pub async fn insert<'e, E>(executor: E, rule_set: &RuleSet) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write(executor, rule_set, "").await.map_err(|error| {
        egret_storage::convert_sqlx_err(error, &format!("ruleSets/{}", rule_set.id))
    })
}

/// Writes a copy of another instance's revision; a revision held already stays as it is
/// (revisions do not change once made).
pub async fn put_copy<'e, E>(executor: E, rule_set: &RuleSet) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write(executor, rule_set, "ON CONFLICT (id, revision) DO NOTHING")
        .await
        .map_err(sql_error("rule set"))
}

async fn write<'e, E>(executor: E, rule_set: &RuleSet, on_conflict: &str) -> Result<(), sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO rule_sets ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         {on_conflict}"
    ))
    .bind(&rule_set.id)
    .bind(rule_set.revision)
    .bind(&rule_set.display_name)
    .bind(&rule_set.jurisdiction)
    .bind(rule_set.effective_date.to_iso())
    .bind(to_json(&rule_set.rules))
    .bind(i64::from(rule_set.built_in))
    .bind(&rule_set.notes)
    .bind(&rule_set.meta.origin_instance)
    .bind(rule_set.meta.version)
    .bind(rule_set.meta.create_time)
    .bind(rule_set.meta.update_time)
    .execute(executor)
    .await?;
    Ok(())
}

/// One revision.
pub async fn get<'e, E>(executor: E, id: &str, revision: i64) -> Result<Option<RuleSet>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM rule_sets WHERE id = $1 AND revision = $2"
    ))
    .bind(id)
    .bind(revision)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("rule set"))?;
    row.as_ref().map(from_row).transpose()
}

/// The newest revision.
pub async fn latest<'e, E>(executor: E, id: &str) -> Result<Option<RuleSet>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM rule_sets WHERE id = $1 ORDER BY revision DESC LIMIT 1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("rule set"))?;
    row.as_ref().map(from_row).transpose()
}

/// The revision in force on `date`: the latest to take effect on or before it.
pub async fn in_force<'e, E>(
    executor: E,
    id: &str,
    date: CivilDate,
) -> Result<Option<RuleSet>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM rule_sets WHERE id = $1 AND effective_date <= $2 \
         ORDER BY effective_date DESC, revision DESC LIMIT 1"
    ))
    .bind(id)
    .bind(date.to_iso())
    .fetch_optional(executor)
    .await
    .map_err(sql_error("rule set"))?;
    row.as_ref().map(from_row).transpose()
}

/// Rule sets after `after` (by id), each at its newest revision.
pub async fn list_latest<'e, E>(
    executor: E,
    after: &str,
    limit: i64,
) -> Result<Vec<RuleSet>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM rule_sets r WHERE id > $1 \
         AND revision = (SELECT MAX(revision) FROM rule_sets n WHERE n.id = r.id) \
         ORDER BY id LIMIT $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("rule set"))?;
    rows.iter().map(from_row).collect()
}

/// Revisions of `id` below `before`, newest first.
pub async fn list_revisions<'e, E>(
    executor: E,
    id: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<RuleSet>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM rule_sets WHERE id = $1 AND revision < $2 \
         ORDER BY revision DESC LIMIT $3"
    ))
    .bind(id)
    .bind(before)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("rule set"))?;
    rows.iter().map(from_row).collect()
}
