//! Team star ratings: one per team and year.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, json_column, meta_columns, sql_error, to_json};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::stars::TeamStarRating;

const COLUMNS: &str = "t.id, t.org_unit_id, t.year, t.stars, t.rule_set_id, t.rule_set_revision, \
     t.levels_json, t.rated_by, t.origin_instance, t.version, t.create_time, t.update_time";

fn from_row(row: &AnyRow) -> Result<TeamStarRating, ApiError> {
    Ok(TeamStarRating {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        year: column::<i64>(row, "year")? as i32,
        stars: column::<i64>(row, "stars")? as i32,
        rule_set_id: column(row, "rule_set_id")?,
        rule_set_revision: column(row, "rule_set_revision")?,
        levels: json_column(row, "levels_json")?,
        rated_by: column(row, "rated_by")?,
        meta: meta_columns(row)?,
    })
}

/// One rating.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<TeamStarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM team_star_ratings t WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("team star rating"))?;
    row.as_ref().map(from_row).transpose()
}

/// The rating of a team for a year.
pub async fn get_for<'e, E>(
    executor: E,
    org_unit_id: &str,
    year: i32,
) -> Result<Option<TeamStarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM team_star_ratings t WHERE t.org_unit_id = $1 AND t.year = $2"
    ))
    .bind(org_unit_id)
    .bind(i64::from(year))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("team star rating"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a rating: inserted at version 1, or replacing the one of the same team and year
/// when it is still at `expected_version`. False when someone else wrote first.
pub async fn put<'e, E>(
    executor: E,
    rating: &TeamStarRating,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = if expected_version == 0 {
        sqlx::query(
            "INSERT INTO team_star_ratings (id, org_unit_id, year, stars, rule_set_id, \
             rule_set_revision, levels_json, rated_by, origin_instance, version, create_time, \
             update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (org_unit_id, year) DO NOTHING",
        )
        .bind(&rating.id)
        .bind(&rating.org_unit_id)
        .bind(i64::from(rating.year))
        .bind(i64::from(rating.stars))
        .bind(&rating.rule_set_id)
        .bind(rating.rule_set_revision)
        .bind(to_json(&rating.levels))
        .bind(&rating.rated_by)
        .bind(&rating.meta.origin_instance)
        .bind(rating.meta.version)
        .bind(rating.meta.create_time)
        .bind(rating.meta.update_time)
        .execute(executor)
        .await
    } else {
        sqlx::query(
            "UPDATE team_star_ratings SET stars = $2, rule_set_id = $3, rule_set_revision = $4, \
             levels_json = $5, rated_by = $6, version = $7, update_time = $8 \
             WHERE id = $1 AND version = $9",
        )
        .bind(&rating.id)
        .bind(i64::from(rating.stars))
        .bind(&rating.rule_set_id)
        .bind(rating.rule_set_revision)
        .bind(to_json(&rating.levels))
        .bind(&rating.rated_by)
        .bind(rating.meta.version)
        .bind(rating.meta.update_time)
        .bind(expected_version)
        .execute(executor)
        .await
    }
    .map_err(sql_error("team star rating"))?;
    Ok(result.rows_affected() == 1)
}

/// Writes a copy of another instance's rating as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, rating: &TeamStarRating) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    const COPIED: &str = "id, org_unit_id, year, stars, rule_set_id, rule_set_revision, \
         levels_json, rated_by, origin_instance, version, create_time, update_time";
    sqlx::query(&format!(
        "INSERT INTO team_star_ratings ({COPIED}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) {}",
        copy_conflict("team_star_ratings", "id", COPIED)
    ))
    .bind(&rating.id)
    .bind(&rating.org_unit_id)
    .bind(i64::from(rating.year))
    .bind(i64::from(rating.stars))
    .bind(&rating.rule_set_id)
    .bind(rating.rule_set_revision)
    .bind(to_json(&rating.levels))
    .bind(&rating.rated_by)
    .bind(&rating.meta.origin_instance)
    .bind(rating.meta.version)
    .bind(rating.meta.create_time)
    .bind(rating.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("team star rating"))?;
    Ok(())
}

/// Ratings of teams in `[low, high)`, after `after` (by id), oldest first.
pub async fn list<'e, E>(
    executor: E,
    (low, high): (&str, &str),
    year: i32,
    after: &str,
    limit: i64,
) -> Result<Vec<TeamStarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM team_star_ratings t JOIN org_units o ON o.id = t.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = 0 OR t.year = $3) AND t.id > $4 \
         ORDER BY t.id LIMIT $5"
    ))
    .bind(low)
    .bind(high)
    .bind(i64::from(year))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("team star rating"))?;
    rows.iter().map(from_row).collect()
}
