//! Activities.

use egret_runtime::ApiError;
use egret_storage::rows::{
    column, copy_conflict, corrupt, json_column, meta_columns, sql_error, to_json,
};
use egret_storage::{Ordering, SortField};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::activity::{Activity, ActivityState};

const COLUMNS: &str = "a.id, a.org_unit_id, a.project_id, a.display_name, a.description, \
     a.service_theme, a.service_field, a.target_groups_json, a.site_json, a.start_time, \
     a.end_time, a.risk_level, a.positions_json, a.social_worker_leads_json, a.state, \
     a.origin_instance, a.version, \
     a.create_time, a.update_time";

fn from_row(row: &AnyRow) -> Result<Activity, ApiError> {
    let state: i64 = column(row, "state")?;
    let project_id: String = column(row, "project_id")?;
    let service_theme: i64 = column(row, "service_theme")?;
    let service_field: i64 = column(row, "service_field")?;
    let risk_level: i64 = column(row, "risk_level")?;
    Ok(Activity {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        project_id: (!project_id.is_empty()).then_some(project_id),
        display_name: column(row, "display_name")?,
        description: column(row, "description")?,
        service_theme: service_theme as i32,
        service_field: service_field as i32,
        target_groups: json_column(row, "target_groups_json")?,
        site: json_column(row, "site_json")?,
        start_time: column(row, "start_time")?,
        end_time: column(row, "end_time")?,
        risk_level: risk_level as i32,
        positions: json_column(row, "positions_json")?,
        social_worker_leads: json_column(row, "social_worker_leads_json")?,
        state: ActivityState::from_number(state)
            .ok_or_else(|| corrupt(format!("activity state {state}")))?,
        meta: meta_columns(row)?,
    })
}

/// Inserts an activity.
pub async fn insert<'e, E>(executor: E, activity: &Activity) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write(executor, activity, "").await
}

/// Writes a copy of another instance's activity as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, activity: &Activity) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write(
        executor,
        activity,
        &copy_conflict("activities", "id", COLUMNS),
    )
    .await
}

async fn write<'e, E>(executor: E, activity: &Activity, on_conflict: &str) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO activities ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19) {on_conflict}",
        COLUMNS.replace("a.", "")
    ))
    .bind(&activity.id)
    .bind(&activity.org_unit_id)
    .bind(activity.project_id.as_deref().unwrap_or(""))
    .bind(&activity.display_name)
    .bind(&activity.description)
    .bind(i64::from(activity.service_theme))
    .bind(i64::from(activity.service_field))
    .bind(to_json(&activity.target_groups))
    .bind(to_json(&activity.site))
    .bind(activity.start_time)
    .bind(activity.end_time)
    .bind(i64::from(activity.risk_level))
    .bind(to_json(&activity.positions))
    .bind(to_json(&activity.social_worker_leads))
    .bind(activity.state as i64)
    .bind(&activity.meta.origin_instance)
    .bind(activity.meta.version)
    .bind(activity.meta.create_time)
    .bind(activity.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("activity"))?;
    Ok(())
}

/// One activity.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Activity>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM activities a WHERE a.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("activity"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes an activity's changeable fields if it is still at `activity.meta.version - 1`.
pub async fn update<'e, E>(executor: E, activity: &Activity) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE activities SET display_name = $2, description = $3, service_theme = $4, \
         service_field = $5, target_groups_json = $6, site_json = $7, start_time = $8, \
         end_time = $9, risk_level = $10, positions_json = $11, state = $12, version = $13, \
         update_time = $14, social_worker_leads_json = $16 WHERE id = $1 AND version = $15",
    )
    .bind(&activity.id)
    .bind(&activity.display_name)
    .bind(&activity.description)
    .bind(i64::from(activity.service_theme))
    .bind(i64::from(activity.service_field))
    .bind(to_json(&activity.target_groups))
    .bind(to_json(&activity.site))
    .bind(activity.start_time)
    .bind(activity.end_time)
    .bind(i64::from(activity.risk_level))
    .bind(to_json(&activity.positions))
    .bind(activity.state as i64)
    .bind(activity.meta.version)
    .bind(activity.meta.update_time)
    .bind(activity.meta.version - 1)
    .bind(to_json(&activity.social_worker_leads))
    .execute(executor)
    .await
    .map_err(sql_error("activity"))?;
    Ok(result.rows_affected() == 1)
}

/// Filters of an activity listing.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Subtree bounds `[low, high)` of the organizing units.
    pub bounds: (String, String),
    /// Only this project ('': any).
    pub project_id: String,
    /// State number (0: any).
    pub state: i64,
    /// Only activities starting at or after this time (0: any).
    pub start_after: i64,
}

/// Activities organized in the subtree, in `ordering` after the key `after`, each with its
/// page-token key.
pub async fn list<'e, E>(
    executor: E,
    filter: &ActivityFilter,
    ordering: Ordering,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(Activity, String)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let keyset = ordering.tail("a", after, 6)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM activities a JOIN org_units o ON o.id = a.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = '' OR a.project_id = $3) \
         AND ($4 = 0 OR a.state = $4) AND a.start_time >= $5 {}",
        keyset.sql
    );
    let query = sqlx::query(&sql)
        .bind(&filter.bounds.0)
        .bind(&filter.bounds.1)
        .bind(&filter.project_id)
        .bind(filter.state)
        .bind(filter.start_after);
    let rows = keyset
        .bind(query, limit)
        .fetch_all(executor)
        .await
        .map_err(sql_error("activities"))?;
    rows.iter()
        .map(|row| Ok((from_row(row)?, ordering.key_of(row)?)))
        .collect()
}

/// The fields an activity listing sorts by.
pub static SORT_FIELDS: [SortField; 3] = [
    SortField::integer("start_time", "a.start_time"),
    SortField::text("display_name", "a.display_name"),
    SortField::integer("create_time", "a.create_time"),
];
