//! Honours and commendations.

use egret_runtime::ApiError;
use egret_storage::rows::{
    column, copy_conflict, corrupt, date_column, date_text, json_column, meta_columns, sql_error,
    to_json,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::commendation::{Commendation, CommendationState, Honour, RecipientKind};

const HONOUR_COLUMNS: &str = "h.id, h.org_unit_id, h.display_name, h.category, h.level, \
     h.recipient_kind, h.notice_days, h.description, h.active, h.origin_instance, h.version, \
     h.create_time, h.update_time";

fn honour_from_row(row: &AnyRow) -> Result<Honour, ApiError> {
    let kind: i64 = column(row, "recipient_kind")?;
    Ok(Honour {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        display_name: column(row, "display_name")?,
        category: column::<i64>(row, "category")? as i32,
        level: column::<i64>(row, "level")? as i32,
        recipient_kind: RecipientKind::from_number(kind)
            .ok_or_else(|| corrupt(format!("recipient kind {kind}")))?,
        notice_days: column::<i64>(row, "notice_days")? as i32,
        description: column(row, "description")?,
        active: column::<i64>(row, "active")? == 1,
        meta: meta_columns(row)?,
    })
}

/// Inserts an honour.
pub async fn insert_honour<'e, E>(executor: E, honour: &Honour) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_honour(executor, honour, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy_honour<'e, E>(executor: E, honour: &Honour) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert_honour(
        executor,
        honour,
        &copy_conflict("honours", "id", "id, org_unit_id, display_name, category, level, recipient_kind, notice_days, description, active, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert_honour<'e, E>(
    executor: E,
    honour: &Honour,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO honours (id, org_unit_id, display_name, category, level, recipient_kind, \
         notice_days, description, active, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) {on_conflict}"
    ))
    .bind(&honour.id)
    .bind(&honour.org_unit_id)
    .bind(&honour.display_name)
    .bind(i64::from(honour.category))
    .bind(i64::from(honour.level))
    .bind(honour.recipient_kind as i64)
    .bind(i64::from(honour.notice_days))
    .bind(&honour.description)
    .bind(i64::from(honour.active))
    .bind(&honour.meta.origin_instance)
    .bind(honour.meta.version)
    .bind(honour.meta.create_time)
    .bind(honour.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("honour"))?;
    Ok(())
}

/// One honour.
pub async fn honour<'e, E>(executor: E, id: &str) -> Result<Option<Honour>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {HONOUR_COLUMNS} FROM honours h WHERE h.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("honour"))?;
    row.as_ref().map(honour_from_row).transpose()
}

/// Honours of the units on `path` (the caller's unit and its ancestors) or in the subtree
/// `[low, high)`, after `after`, oldest first.
pub async fn list_honours<'e, E>(
    executor: E,
    path: &str,
    (low, high): (&str, &str),
    after: &str,
    limit: i64,
) -> Result<Vec<Honour>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {HONOUR_COLUMNS} FROM honours h JOIN org_units o ON o.id = h.org_unit_id \
         WHERE ($1 LIKE o.path || '%' OR (o.path >= $2 AND o.path < $3)) AND h.id > $4 \
         ORDER BY h.id LIMIT $5"
    ))
    .bind(path)
    .bind(low)
    .bind(high)
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("honour"))?;
    rows.iter().map(honour_from_row).collect()
}

const COLUMNS: &str = "c.id, c.honour_id, c.recipient, c.recipient_display_name, c.year, \
     c.citation, c.nominating_org_unit_id, c.state, c.notice_start_date, c.notice_end_date, \
     c.objections_json, c.decided_by, c.decision_comment, c.award_time, c.origin_instance, \
     c.version, c.create_time, c.update_time";

fn from_row(row: &AnyRow) -> Result<Commendation, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(Commendation {
        id: column(row, "id")?,
        honour_id: column(row, "honour_id")?,
        recipient: column(row, "recipient")?,
        recipient_display_name: column(row, "recipient_display_name")?,
        year: column::<i64>(row, "year")? as i32,
        citation: column(row, "citation")?,
        nominating_org_unit_id: column(row, "nominating_org_unit_id")?,
        state: CommendationState::from_number(state)
            .ok_or_else(|| corrupt(format!("commendation state {state}")))?,
        notice_start_date: date_column(row, "notice_start_date")?,
        notice_end_date: date_column(row, "notice_end_date")?,
        objections: json_column(row, "objections_json")?,
        decided_by: column(row, "decided_by")?,
        decision_comment: column(row, "decision_comment")?,
        award_time: column(row, "award_time")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a nomination; ALREADY_EXISTS when a live one of the same honour, recipient and
/// year exists.
pub async fn insert<'e, E>(executor: E, commendation: &Commendation) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, commendation, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, commendation: &Commendation) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        commendation,
        &copy_conflict("commendations", "id", "id, honour_id, recipient, recipient_display_name, year, citation, nominating_org_unit_id, state, notice_start_date, notice_end_date, objections_json, decided_by, decision_comment, award_time, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    commendation: &Commendation,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO commendations (id, honour_id, recipient, recipient_display_name, year, \
         citation, nominating_org_unit_id, state, notice_start_date, notice_end_date, \
         objections_json, decided_by, decision_comment, award_time, origin_instance, version, \
         create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18) {on_conflict}"
    ))
    .bind(&commendation.id)
    .bind(&commendation.honour_id)
    .bind(&commendation.recipient)
    .bind(&commendation.recipient_display_name)
    .bind(i64::from(commendation.year))
    .bind(&commendation.citation)
    .bind(&commendation.nominating_org_unit_id)
    .bind(commendation.state as i64)
    .bind(date_text(commendation.notice_start_date))
    .bind(date_text(commendation.notice_end_date))
    .bind(to_json(&commendation.objections))
    .bind(&commendation.decided_by)
    .bind(&commendation.decision_comment)
    .bind(commendation.award_time)
    .bind(&commendation.meta.origin_instance)
    .bind(commendation.meta.version)
    .bind(commendation.meta.create_time)
    .bind(commendation.meta.update_time)
    .execute(executor)
    .await
    .map_err(|error| {
        egret_storage::convert_sqlx_err(
            error,
            &format!(
                "a nomination of {} for honours/{} in {}",
                commendation.recipient, commendation.honour_id, commendation.year
            ),
        )
    })?;
    Ok(())
}

/// Writes a changed commendation if still at `expected_version`; false otherwise.
pub async fn update<'e, E>(
    executor: E,
    commendation: &Commendation,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE commendations SET state = $2, notice_start_date = $3, notice_end_date = $4, \
         objections_json = $5, decided_by = $6, decision_comment = $7, award_time = $8, \
         version = $9, update_time = $10 WHERE id = $1 AND version = $11",
    )
    .bind(&commendation.id)
    .bind(commendation.state as i64)
    .bind(date_text(commendation.notice_start_date))
    .bind(date_text(commendation.notice_end_date))
    .bind(to_json(&commendation.objections))
    .bind(&commendation.decided_by)
    .bind(&commendation.decision_comment)
    .bind(commendation.award_time)
    .bind(commendation.meta.version)
    .bind(commendation.meta.update_time)
    .bind(expected_version)
    .execute(executor)
    .await
    .map_err(sql_error("commendation"))?;
    Ok(result.rows_affected() == 1)
}

/// One commendation.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Commendation>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM commendations c WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("commendation"))?;
    row.as_ref().map(from_row).transpose()
}

/// Commendations of one recipient, or (recipient empty) nominated in `[low, high)`.
pub async fn list<'e, E>(
    executor: E,
    recipient: &str,
    (low, high): (&str, &str),
    state: Option<CommendationState>,
    after: &str,
    limit: i64,
) -> Result<Vec<Commendation>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM commendations c JOIN org_units o ON o.id = c.nominating_org_unit_id \
         WHERE (($1 <> '' AND c.recipient = $1) OR ($1 = '' AND o.path >= $2 AND o.path < $3)) \
         AND ($4 = 0 OR c.state = $4) AND c.id > $5 ORDER BY c.id LIMIT $6"
    ))
    .bind(recipient)
    .bind(low)
    .bind(high)
    .bind(state.map_or(0, |state| state as i64))
    .bind(after)
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("commendation"))?;
    rows.iter().map(from_row).collect()
}
