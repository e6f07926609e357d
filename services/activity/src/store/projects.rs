//! Projects.

use egret_runtime::ApiError;
use egret_storage::rows::{
    column, copy_conflict, corrupt, date_column, json_column, meta_columns, sql_error, to_json,
};
use egret_storage::{Ordering, SortField};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::{Project, ProjectStatus};

const COLUMNS: &str = "p.id, p.org_unit_id, p.display_name, p.description, p.service_themes_json, \
     p.service_fields_json, p.target_groups_json, p.start_date, p.end_date, p.funding_source, \
     p.budget_fen, p.partner_json, p.status, p.origin_instance, p.version, p.create_time, \
     p.update_time";

fn from_row(row: &AnyRow) -> Result<Project, ApiError> {
    let status: i64 = column(row, "status")?;
    let funding_source: i64 = column(row, "funding_source")?;
    Ok(Project {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        display_name: column(row, "display_name")?,
        description: column(row, "description")?,
        service_themes: json_column(row, "service_themes_json")?,
        service_fields: json_column(row, "service_fields_json")?,
        target_groups: json_column(row, "target_groups_json")?,
        start_date: date_column(row, "start_date")?
            .ok_or_else(|| corrupt("project without a start"))?,
        end_date: date_column(row, "end_date")?.ok_or_else(|| corrupt("project without an end"))?,
        funding_source: funding_source as i32,
        budget_fen: column(row, "budget_fen")?,
        partner: json_column(row, "partner_json")?,
        status: ProjectStatus::from_number(status)
            .ok_or_else(|| corrupt(format!("project status {status}")))?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a project.
pub async fn insert<'e, E>(executor: E, project: &Project) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(executor, project, "").await
}

/// Writes a copy of another instance's record as it stands, unless one as new is held.
pub async fn put_copy<'e, E>(executor: E, project: &Project) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_insert(
        executor,
        project,
        &copy_conflict("projects", "id", "id, org_unit_id, display_name, description, service_themes_json, service_fields_json, target_groups_json, start_date, end_date, funding_source, budget_fen, partner_json, status, origin_instance, version, create_time, update_time"),
    )
    .await
}

async fn write_insert<'e, E>(
    executor: E,
    project: &Project,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO projects (id, org_unit_id, display_name, description, service_themes_json, \
         service_fields_json, target_groups_json, start_date, end_date, funding_source, budget_fen, \
         partner_json, status, origin_instance, version, create_time, update_time) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) {on_conflict}"
    ))
    .bind(&project.id)
    .bind(&project.org_unit_id)
    .bind(&project.display_name)
    .bind(&project.description)
    .bind(to_json(&project.service_themes))
    .bind(to_json(&project.service_fields))
    .bind(to_json(&project.target_groups))
    .bind(project.start_date.to_iso())
    .bind(project.end_date.to_iso())
    .bind(i64::from(project.funding_source))
    .bind(project.budget_fen)
    .bind(to_json(&project.partner))
    .bind(project.status as i64)
    .bind(&project.meta.origin_instance)
    .bind(project.meta.version)
    .bind(project.meta.create_time)
    .bind(project.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("project"))?;
    Ok(())
}

/// One project.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Project>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM projects p WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .map_err(sql_error("project"))?;
    row.as_ref().map(from_row).transpose()
}

/// Writes a project's changeable fields if it is still at `project.meta.version - 1`.
pub async fn update<'e, E>(executor: E, project: &Project) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE projects SET display_name = $2, description = $3, service_themes_json = $4, \
         service_fields_json = $5, target_groups_json = $6, start_date = $7, end_date = $8, \
         funding_source = $9, budget_fen = $10, partner_json = $11, status = $12, version = $13, \
         update_time = $14 WHERE id = $1 AND version = $15",
    )
    .bind(&project.id)
    .bind(&project.display_name)
    .bind(&project.description)
    .bind(to_json(&project.service_themes))
    .bind(to_json(&project.service_fields))
    .bind(to_json(&project.target_groups))
    .bind(project.start_date.to_iso())
    .bind(project.end_date.to_iso())
    .bind(i64::from(project.funding_source))
    .bind(project.budget_fen)
    .bind(to_json(&project.partner))
    .bind(project.status as i64)
    .bind(project.meta.version)
    .bind(project.meta.update_time)
    .bind(project.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("project"))?;
    Ok(result.rows_affected() == 1)
}

/// Filters of a project listing.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Subtree bounds `[low, high)` of the owning units.
    pub bounds: (String, String),
    /// Status number (0: any).
    pub status: i64,
    /// Funding source number (0: any).
    pub funding_source: i64,
}

/// Projects owned by units in the subtree, in `ordering` after the key `after`, each with
/// its page-token key.
pub async fn list<'e, E>(
    executor: E,
    filter: &ProjectFilter,
    ordering: Ordering,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(Project, String)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let keyset = ordering.tail("p", after, 5)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM projects p JOIN org_units o ON o.id = p.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = 0 OR p.status = $3) \
         AND ($4 = 0 OR p.funding_source = $4) {}",
        keyset.sql
    );
    let query = sqlx::query(&sql)
        .bind(&filter.bounds.0)
        .bind(&filter.bounds.1)
        .bind(filter.status)
        .bind(filter.funding_source);
    let rows = keyset
        .bind(query, limit)
        .fetch_all(executor)
        .await
        .map_err(sql_error("projects"))?;
    rows.iter()
        .map(|row| Ok((from_row(row)?, ordering.key_of(row)?)))
        .collect()
}

/// The fields a project listing sorts by.
pub static SORT_FIELDS: [SortField; 4] = [
    SortField::text("display_name", "p.display_name"),
    SortField::text("start_date", "p.start_date"),
    SortField::integer("budget", "p.budget_fen"),
    SortField::integer("create_time", "p.create_time"),
];
