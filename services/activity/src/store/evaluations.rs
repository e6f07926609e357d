//! Evaluations and their averages.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::evaluation::Evaluation;

const COLUMNS: &str = "id, activity_id, evaluator_kind, volunteer_id, anonymous, rating, comment, \
     origin_instance, version, create_time, update_time";

fn from_row(row: &AnyRow) -> Result<Evaluation, ApiError> {
    let kind: i64 = column(row, "evaluator_kind")?;
    let anonymous: i64 = column(row, "anonymous")?;
    let rating: i64 = column(row, "rating")?;
    Ok(Evaluation {
        id: column(row, "id")?,
        activity_id: column(row, "activity_id")?,
        evaluator_kind: kind as i32,
        volunteer_id: column(row, "volunteer_id")?,
        anonymous: anonymous == 1,
        rating: rating as i32,
        comment: column(row, "comment")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts an evaluation.
pub async fn insert<'e, E>(executor: E, evaluation: &Evaluation) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, evaluation, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, evaluation: &Evaluation) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        evaluation,
        &copy_conflict("evaluations", "id", COLUMNS),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    evaluation: &Evaluation,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO evaluations ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {on_conflict}"
    ))
    .bind(&evaluation.id)
    .bind(&evaluation.activity_id)
    .bind(i64::from(evaluation.evaluator_kind))
    .bind(&evaluation.volunteer_id)
    .bind(i64::from(evaluation.anonymous))
    .bind(i64::from(evaluation.rating))
    .bind(&evaluation.comment)
    .bind(&evaluation.meta.origin_instance)
    .bind(evaluation.meta.version)
    .bind(evaluation.meta.create_time)
    .bind(evaluation.meta.update_time)
    .execute(executor)
    .await
    .map_err(
        |error| match egret_storage::convert_sqlx_err(error, "evaluation") {
            ApiError::AlreadyExists { resource, .. } => ApiError::AlreadyExists {
                resource,
                reason: egret_runtime::Bilingual::new(
                    "the volunteer has already rated this activity",
                    "该志愿者已评价过本活动",
                ),
            },
            other => other,
        },
    )?;
    Ok(())
}

/// One evaluation.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Evaluation>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM evaluations WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(sql_error("evaluation"))?;
    row.as_ref().map(from_row).transpose()
}

/// An activity's evaluations with id after `after`.
pub async fn list<'e, E>(
    executor: E,
    activity_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Evaluation>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM evaluations WHERE activity_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    ))
    .bind(activity_id)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("evaluations"))?;
    rows.iter().map(from_row).collect()
}

/// What a summary covers.
#[derive(Debug, Clone)]
pub enum SummaryScope {
    /// One activity.
    Activity(String),
    /// The activities of a project.
    Project(String),
    /// The activities organized in the subtree `[low, high)`.
    Subtree(String, String),
}

/// The count and the sum of ratings in the scope (the average is worked out by the caller,
/// so that both engines answer in integers).
pub async fn totals<'e, E>(executor: E, scope: &SummaryScope) -> Result<(i64, i64), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (activity, project, low, high) = match scope {
        SummaryScope::Activity(id) => (id.as_str(), "", "", ""),
        SummaryScope::Project(id) => ("", id.as_str(), "", ""),
        SummaryScope::Subtree(low, high) => ("", "", low.as_str(), high.as_str()),
    };
    let totals: (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(e.rating), 0) AS BIGINT) FROM evaluations e \
         JOIN activities a ON a.id = e.activity_id JOIN org_units o ON o.id = a.org_unit_id \
         WHERE ($1 = '' OR e.activity_id = $1) AND ($2 = '' OR a.project_id = $2) \
         AND ($3 = '' OR (o.path >= $3 AND o.path < $4))",
    )
    .bind(activity)
    .bind(project)
    .bind(low)
    .bind(high)
    .fetch_one(executor)
    .await
    .map_err(sql_error("evaluations"))?;
    Ok(totals)
}
