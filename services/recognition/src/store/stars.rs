//! Star ratings.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, date_column, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::stars::{StarRating, StarState};

const COLUMNS: &str = "s.id, s.volunteer_id, s.stars, s.period, s.rule_set_id, \
     s.rule_set_revision, s.nominating_org_unit_id, s.approving_org_unit_id, s.state, \
     s.evaluation_date, s.approved_minutes, s.registration_date, s.review_required, \
     s.review_reason, s.decided_by, s.decision_comment, s.award_time, s.origin_instance, \
     s.version, s.create_time, s.update_time";

fn from_row(row: &AnyRow) -> Result<StarRating, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(StarRating {
        id: column(row, "id")?,
        volunteer_id: column(row, "volunteer_id")?,
        stars: column::<i64>(row, "stars")? as i32,
        period: column(row, "period")?,
        rule_set_id: column(row, "rule_set_id")?,
        rule_set_revision: column(row, "rule_set_revision")?,
        nominating_org_unit_id: column(row, "nominating_org_unit_id")?,
        approving_org_unit_id: column(row, "approving_org_unit_id")?,
        state: StarState::from_number(state)
            .ok_or_else(|| corrupt(format!("star rating state {state}")))?,
        evaluation_date: date_column(row, "evaluation_date")?
            .ok_or_else(|| corrupt("star rating without an evaluation date"))?,
        approved_minutes: column(row, "approved_minutes")?,
        registration_date: date_column(row, "registration_date")?
            .ok_or_else(|| corrupt("star rating without a registration date"))?,
        review_required: column::<i64>(row, "review_required")? == 1,
        review_reason: column(row, "review_reason")?,
        decided_by: column(row, "decided_by")?,
        decision_comment: column(row, "decision_comment")?,
        award_time: column(row, "award_time")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a nomination; ALREADY_EXISTS when the volunteer has a live one for the same
/// level and period.
pub async fn insert<'e, E>(executor: E, rating: &StarRating) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, rating, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, rating: &StarRating) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        rating,
        &copy_conflict("star_ratings", "id", "id, volunteer_id, stars, period, rule_set_id, rule_set_revision, nominating_org_unit_id, approving_org_unit_id, state, evaluation_date, approved_minutes, registration_date, review_required, review_reason, decided_by, decision_comment, award_time, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    rating: &StarRating,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO star_ratings (id, volunteer_id, stars, period, rule_set_id, \
         rule_set_revision, nominating_org_unit_id, approving_org_unit_id, state, \
         evaluation_date, approved_minutes, registration_date, review_required, review_reason, \
         decided_by, decision_comment, award_time, origin_instance, version, create_time, \
         update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21) {on_conflict}"
    ))
    .bind(&rating.id)
    .bind(&rating.volunteer_id)
    .bind(i64::from(rating.stars))
    .bind(&rating.period)
    .bind(&rating.rule_set_id)
    .bind(rating.rule_set_revision)
    .bind(&rating.nominating_org_unit_id)
    .bind(&rating.approving_org_unit_id)
    .bind(rating.state as i64)
    .bind(rating.evaluation_date.to_iso())
    .bind(rating.approved_minutes)
    .bind(rating.registration_date.to_iso())
    .bind(i64::from(rating.review_required))
    .bind(&rating.review_reason)
    .bind(&rating.decided_by)
    .bind(&rating.decision_comment)
    .bind(rating.award_time)
    .bind(&rating.meta.origin_instance)
    .bind(rating.meta.version)
    .bind(rating.meta.create_time)
    .bind(rating.meta.update_time)
    .execute(executor)
    .await
    .map_err(|error| {
        egret_storage::convert_sqlx_err(
            error,
            &format!(
                "a {}-star nomination of volunteers/{} for {}",
                rating.stars, rating.volunteer_id, rating.period
            ),
        )
    })?;
    Ok(())
}

/// Writes a changed rating if it is still at `expected_version`; false when someone else
/// changed it first.
pub async fn update<'e, E>(
    executor: E,
    rating: &StarRating,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE star_ratings SET state = $2, review_required = $3, review_reason = $4, \
         decided_by = $5, decision_comment = $6, award_time = $7, version = $8, \
         update_time = $9 WHERE id = $1 AND version = $10",
    )
    .bind(&rating.id)
    .bind(rating.state as i64)
    .bind(i64::from(rating.review_required))
    .bind(&rating.review_reason)
    .bind(&rating.decided_by)
    .bind(&rating.decision_comment)
    .bind(rating.award_time)
    .bind(rating.meta.version)
    .bind(rating.meta.update_time)
    .bind(expected_version)
    .execute(executor)
    .await
    .map_err(sql_error("star rating"))?;
    Ok(result.rows_affected() == 1)
}

/// One rating.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<StarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM star_ratings s WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("star rating"))?;
    row.as_ref().map(from_row).transpose()
}

/// A volunteer's awarded stars.
pub async fn awarded_to<'e, E>(executor: E, volunteer_id: &str) -> Result<Vec<StarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM star_ratings s WHERE s.volunteer_id = $1 AND s.state = 2 ORDER BY s.id"
    ))
    .bind(volunteer_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("star rating"))?;
    rows.iter().map(from_row).collect()
}

/// How many `stars` awards the approving unit made in `period`.
pub async fn awarded_count<'e, E>(
    executor: E,
    approving_org_unit_id: &str,
    period: &str,
    stars: i32,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM star_ratings WHERE approving_org_unit_id = $1 AND period = $2 \
         AND stars = $3 AND state = 2",
    )
    .bind(approving_org_unit_id)
    .bind(period)
    .bind(i64::from(stars))
    .fetch_one(executor)
    .await
    .map_err(sql_error("star rating"))?;
    Ok(count)
}

/// Filters of a list.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// `[low, high)` of the nominating units' paths.
    pub bounds: (&'a str, &'a str),
    /// Only this volunteer's.
    pub volunteer_id: Option<&'a str>,
    /// Only this state.
    pub state: Option<StarState>,
    /// Only those flagged.
    pub review_required: bool,
    /// Only this period.
    pub period: Option<&'a str>,
}

/// Ratings nominated in a subtree, after `after` (by id), oldest first.
pub async fn list<'e, E>(
    executor: E,
    filter: &Filter<'_>,
    after: &str,
    limit: i64,
) -> Result<Vec<StarRating>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM star_ratings s JOIN org_units o ON o.id = s.nominating_org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND s.id > $3 AND ($4 = '' OR s.volunteer_id = $4) \
         AND ($5 = 0 OR s.state = $5) AND ($6 = 0 OR s.review_required = 1) \
         AND ($7 = '' OR s.period = $7) ORDER BY s.id LIMIT $8"
    ))
    .bind(filter.bounds.0)
    .bind(filter.bounds.1)
    .bind(after)
    .bind(filter.volunteer_id.unwrap_or(""))
    .bind(filter.state.map_or(0, |state| state as i64))
    .bind(i64::from(filter.review_required))
    .bind(filter.period.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("star rating"))?;
    rows.iter().map(from_row).collect()
}
