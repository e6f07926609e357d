//! Targets and what has been reached against them.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::targets::Target;

const COLUMNS: &str = "t.id, t.org_unit_id, t.year, t.team_level, t.teams, t.volunteers, \
     t.origin_instance, t.version, t.create_time, t.update_time";

fn from_row(row: &AnyRow) -> Result<Target, ApiError> {
    Ok(Target {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        year: column::<i64>(row, "year")? as i32,
        team_level: column::<i64>(row, "team_level")? as i32,
        teams: column(row, "teams")?,
        volunteers: column(row, "volunteers")?,
        meta: meta_columns(row)?,
    })
}

/// The target of a unit, year and level.
pub async fn get<'e, E>(
    executor: E,
    org_unit_id: &str,
    year: i32,
    team_level: i32,
) -> Result<Option<Target>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM targets t WHERE t.org_unit_id = $1 AND t.year = $2 AND t.team_level = $3"
    ))
    .bind(org_unit_id)
    .bind(i64::from(year))
    .bind(i64::from(team_level))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("target"))?;
    row.as_ref().map(from_row).transpose()
}

/// Inserts a target (expected version 0) or replaces one still at `expected_version`.
pub async fn put<'e, E>(
    executor: E,
    target: &Target,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = if expected_version == 0 {
        insert(
            executor,
            target,
            "ON CONFLICT (org_unit_id, year, team_level) DO NOTHING",
        )
        .await
    } else {
        sqlx::query(
            "UPDATE targets SET teams = $2, volunteers = $3, version = $4, update_time = $5 \
             WHERE id = $1 AND version = $6",
        )
        .bind(&target.id)
        .bind(target.teams)
        .bind(target.volunteers)
        .bind(target.meta.version)
        .bind(target.meta.update_time)
        .bind(expected_version)
        .execute(executor)
        .await
    }
    .map_err(sql_error("target"))?;
    Ok(result.rows_affected() == 1)
}

/// Writes a copy of another instance's target over the one held (see
/// `egret_storage::rows::copy_conflict`).
pub async fn put_copy<'e, E>(executor: E, target: &Target) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let on_conflict = copy_conflict("targets", "org_unit_id, year, team_level", COLUMNS);
    insert(executor, target, &on_conflict)
        .await
        .map_err(sql_error("target"))?;
    Ok(())
}

async fn insert<'e, E>(
    executor: E,
    target: &Target,
    on_conflict: &str,
) -> Result<sqlx::any::AnyQueryResult, sqlx::Error>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO targets ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) {on_conflict}",
        COLUMNS.replace("t.", "")
    ))
    .bind(&target.id)
    .bind(&target.org_unit_id)
    .bind(i64::from(target.year))
    .bind(i64::from(target.team_level))
    .bind(target.teams)
    .bind(target.volunteers)
    .bind(&target.meta.origin_instance)
    .bind(target.meta.version)
    .bind(target.meta.create_time)
    .bind(target.meta.update_time)
    .execute(executor)
    .await
}

/// Targets of a year of units in `[low, high)` after `after` (the id), by id.
pub async fn list<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<Target>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM targets t JOIN org_units o ON o.id = t.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND t.year = $3 AND t.id > $4 ORDER BY t.id LIMIT $5"
    ))
    .bind(low)
    .bind(high)
    .bind(i64::from(year))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("target"))?;
    rows.iter().map(from_row).collect()
}

/// Targets of a year set on the unit `parent_id`'s children.
pub async fn of_children<'e, E>(
    executor: E,
    parent_id: &str,
    year: i32,
) -> Result<Vec<Target>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM targets t JOIN org_units o ON o.id = t.org_unit_id \
         WHERE o.parent_id = $1 AND t.year = $2 ORDER BY o.id, t.team_level"
    ))
    .bind(parent_id)
    .bind(i64::from(year))
    .fetch_all(executor)
    .await
    .map_err(sql_error("target"))?;
    rows.iter().map(from_row).collect()
}

/// Targets of a year set on the unit itself.
pub async fn of_unit<'e, E>(
    executor: E,
    org_unit_id: &str,
    year: i32,
) -> Result<Vec<Target>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM targets t WHERE t.org_unit_id = $1 AND t.year = $2 ORDER BY t.team_level"
    ))
    .bind(org_unit_id)
    .bind(i64::from(year))
    .fetch_all(executor)
    .await
    .map_err(sql_error("target"))?;
    rows.iter().map(from_row).collect()
}

/// Active teams of `team_level` in `[low, high)` and the unique active volunteers serving
/// in them (in the team itself or any unit below it).
pub async fn reached<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    team_level: i32,
) -> Result<(i64, i64), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    // A unit's team is the second segment of its path (the first is the corps): ids are
    // 36-character UUIDs, so it starts at character 39.
    let (teams, volunteers): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM org_units t WHERE t.tier = 2 \
         AND t.status = 1 AND t.level = $3 AND t.path >= $1 AND t.path < $2), \
         (SELECT CAST(COUNT(DISTINCT vu.volunteer_id) AS BIGINT) FROM volunteer_units vu \
         JOIN volunteers v ON v.id = vu.volunteer_id JOIN org_units o ON o.id = vu.org_unit_id \
         JOIN org_units t ON t.id = SUBSTR(o.path, 39, 36) WHERE v.status = 1 AND t.tier = 2 \
         AND t.status = 1 AND t.level = $3 AND t.path >= $1 AND t.path < $2)",
    )
    .bind(low)
    .bind(high)
    .bind(i64::from(team_level))
    .fetch_one(executor)
    .await
    .map_err(sql_error("target progress"))?;
    Ok((teams, volunteers))
}
