//! Org units and registration forms.

use egret_runtime::ApiError;
use egret_storage::{Ordering, SortField};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::{column, date_column, date_text, json_column, meta_columns, sql_error, to_json};
use crate::domain::{OrgStatus, OrgUnit, RegistrationForm, Tier};

const ORG_COLUMNS: &str = "id, parent_id, path, tier, display_name, level, categories_json, \
     service_fields_json, service_themes_json, status, merged_into, origin_instance, version, \
     create_time, update_time";

fn org_from_row(row: &AnyRow) -> Result<OrgUnit, ApiError> {
    let tier: i64 = column(row, "tier")?;
    let status: i64 = column(row, "status")?;
    let level: i64 = column(row, "level")?;
    Ok(OrgUnit {
        id: column(row, "id")?,
        parent_id: column(row, "parent_id")?,
        path: column(row, "path")?,
        tier: Tier::from_number(tier).ok_or_else(|| super::corrupt(format!("tier {tier}")))?,
        display_name: column(row, "display_name")?,
        level: level as i32,
        categories: json_column(row, "categories_json")?,
        service_fields: json_column(row, "service_fields_json")?,
        service_themes: json_column(row, "service_themes_json")?,
        status: OrgStatus::from_number(status)
            .ok_or_else(|| super::corrupt(format!("org status {status}")))?,
        merged_into: column(row, "merged_into")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a unit.
pub async fn insert_org_unit<'e, E>(executor: E, unit: &OrgUnit) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_org_unit(executor, unit, "").await
}

/// Inserts `unit`, with `on_conflict` (an `ON CONFLICT …` clause, or nothing) after.
async fn write_org_unit<'e, E>(
    executor: E,
    unit: &OrgUnit,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO org_units ({ORG_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) {on_conflict}"
    ))
    .bind(&unit.id)
    .bind(&unit.parent_id)
    .bind(&unit.path)
    .bind(unit.tier as i64)
    .bind(&unit.display_name)
    .bind(i64::from(unit.level))
    .bind(to_json(&unit.categories))
    .bind(to_json(&unit.service_fields))
    .bind(to_json(&unit.service_themes))
    .bind(unit.status as i64)
    .bind(&unit.merged_into)
    .bind(&unit.meta.origin_instance)
    .bind(unit.meta.version)
    .bind(unit.meta.create_time)
    .bind(unit.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(())
}

/// One unit by id.
pub async fn get_org_unit<'e, E>(executor: E, id: &str) -> Result<Option<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM org_units WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("org unit"))?;
    row.as_ref().map(org_from_row).transpose()
}

/// Two units by id in one statement (a caller's own unit and the unit it asks for): each
/// is None when it does not exist.
pub async fn get_org_unit_pair<'e, E>(
    executor: E,
    (first, second): (&str, &str),
) -> Result<(Option<OrgUnit>, Option<OrgUnit>), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM org_units WHERE id IN ($1, $2)"
    ))
    .bind(first)
    .bind(second)
    .fetch_all(executor)
    .await
    .map_err(sql_error("org unit"))?;
    let mut pair = (None, None);
    for row in &rows {
        let unit = org_from_row(row)?;
        if unit.id == second {
            pair.1 = Some(unit.clone());
        }
        if unit.id == first {
            pair.0 = Some(unit);
        }
    }
    Ok(pair)
}

/// The units among `ids` (in no order; those not held are missing).
pub async fn get_org_units(
    connection: &mut sqlx::AnyConnection,
    ids: &[&str],
) -> Result<Vec<OrgUnit>, ApiError> {
    let select = format!("SELECT {ORG_COLUMNS} FROM org_units WHERE id IN");
    egret_storage::rows::fetch_by_ids(connection, &select, ids)
        .await
        .map_err(sql_error("org unit"))?
        .iter()
        .map(org_from_row)
        .collect()
}

/// The root unit (the one without a parent), if created.
pub async fn get_root<'e, E>(executor: E) -> Result<Option<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM org_units WHERE parent_id IS NULL ORDER BY id LIMIT 1"
    ))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("org unit"))?;
    row.as_ref().map(org_from_row).transpose()
}

/// Writes a unit's changeable fields if it is still at `unit.meta.version - 1`; false when
/// someone else changed it first.
pub async fn update_org_unit<'e, E>(executor: E, unit: &OrgUnit) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE org_units SET parent_id = $2, display_name = $3, level = $4, categories_json = $5, \
         service_fields_json = $6, service_themes_json = $7, status = $8, merged_into = $9, \
         version = $10, update_time = $11 WHERE id = $1 AND version = $12",
    )
    .bind(&unit.id)
    .bind(&unit.parent_id)
    .bind(&unit.display_name)
    .bind(i64::from(unit.level))
    .bind(to_json(&unit.categories))
    .bind(to_json(&unit.service_fields))
    .bind(to_json(&unit.service_themes))
    .bind(unit.status as i64)
    .bind(&unit.merged_into)
    .bind(unit.meta.version)
    .bind(unit.meta.update_time)
    .bind(unit.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(result.rows_affected() == 1)
}

/// Serialises changes to the tree's shape (creates, moves, status changes) by locking the
/// root row until commit. A create reads its parent's path and a move rewrites the paths
/// below it; without this, on PostgreSQL a child created under a unit that is moving at
/// the same moment could keep the old path, or a unit be dissolved while a child is added.
/// The tree changes rarely, so one lock costs nothing measurable. Call it before reading.
pub async fn lock_tree<'e, E>(executor: E) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query("UPDATE org_units SET version = version WHERE parent_id IS NULL")
        .execute(executor)
        .await
        .map_err(sql_error("org unit"))?;
    Ok(())
}

/// Rewrites the paths of the units below a moved unit from `old_path` to `new_path`, and
/// bumps their versions: their place in the tree is part of each record.
pub async fn move_subtree<'e, E>(
    executor: E,
    old_path: &str,
    new_path: &str,
    now: i64,
) -> Result<u64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (low, high) = crate::domain::org::subtree_bounds(old_path);
    let result = sqlx::query(
        "UPDATE org_units SET path = $1 || substr(path, CAST($2 AS INTEGER)), \
         version = version + 1, update_time = $5 WHERE path >= $3 AND path < $4",
    )
    .bind(new_path)
    .bind(old_path.len() as i64 + 1)
    .bind(low)
    .bind(high)
    .bind(now)
    .execute(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(result.rows_affected())
}

/// Every unit in the subtree rooted at `path` (itself included), in path order.
pub async fn subtree<'e, E>(executor: E, path: &str) -> Result<Vec<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (low, high) = crate::domain::org::subtree_bounds(path);
    let rows = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM org_units WHERE path >= $1 AND path < $2 ORDER BY path"
    ))
    .bind(low)
    .bind(high)
    .fetch_all(executor)
    .await
    .map_err(sql_error("org units"))?;
    rows.iter().map(org_from_row).collect()
}

/// Whether the unit has children that are active or suspended.
pub async fn has_live_children<'e, E>(executor: E, id: &str) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM org_units WHERE parent_id = $1 AND status IN (1, 2)")
            .bind(id)
            .fetch_one(executor)
            .await
            .map_err(sql_error("org unit"))?;
    Ok(count > 0)
}

/// Whether a live sibling under `parent_id` already has `display_name` (other than `except`).
pub async fn sibling_name_taken<'e, E>(
    executor: E,
    parent_id: &str,
    display_name: &str,
    except: &str,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM org_units WHERE parent_id = $1 AND display_name = $2 \
         AND status IN (1, 2) AND id <> $3",
    )
    .bind(parent_id)
    .bind(display_name)
    .bind(except)
    .fetch_one(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(count > 0)
}

/// Filters of a unit listing.
#[derive(Debug, Clone, Default)]
pub struct OrgFilter {
    /// Subtree bounds `[low, high)`.
    pub bounds: (String, String),
    /// Only children of this unit.
    pub parent_id: Option<String>,
    /// Tier number (0: any).
    pub tier: i64,
    /// Status number (0: any).
    pub status: i64,
    /// Level number (0: any).
    pub level: i64,
    /// Category number (0: any).
    pub category: i64,
    /// Name substring ('' : any).
    pub name_contains: String,
}

/// Units matching `filter` with id after `after`, in id (creation) order.
pub async fn list_org_units<'e, E>(
    executor: E,
    filter: &OrgFilter,
    ordering: Ordering,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(OrgUnit, String)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let keyset = ordering.tail("o", after, 9)?;
    // Categories are a JSON array of numbers; `,N,` inside `,`-wrapped text matches one
    // element exactly. The name filter is a case-sensitive substring test written with
    // `replace`, which both engines evaluate alike (SQLite's LIKE ignores ASCII case).
    let sql = format!(
        "SELECT {ORG_COLUMNS} FROM org_units o \
         WHERE path >= $1 AND path < $2 \
         AND ($3 = '' OR parent_id = $3) \
         AND ($4 = 0 OR tier = $4) AND ($5 = 0 OR status = $5) AND ($6 = 0 OR level = $6) \
         AND ($7 = '' OR ',' || replace(replace(categories_json, '[', ''), ']', '') || ',' LIKE '%,' || $7 || ',%') \
         AND ($8 = '' OR replace(display_name, $8, '') <> display_name) {}",
        keyset.sql
    );
    let query = sqlx::query(&sql)
        .bind(&filter.bounds.0)
        .bind(&filter.bounds.1)
        .bind(filter.parent_id.as_deref().unwrap_or(""))
        .bind(filter.tier)
        .bind(filter.status)
        .bind(filter.level)
        .bind(if filter.category == 0 {
            String::new()
        } else {
            filter.category.to_string()
        })
        .bind(&filter.name_contains);
    let rows = keyset
        .bind(query, limit)
        .fetch_all(executor)
        .await
        .map_err(sql_error("org units"))?;
    rows.iter()
        .map(|row| Ok((org_from_row(row)?, ordering.key_of(row)?)))
        .collect()
}

/// The fields an org unit listing sorts by.
pub static SORT_FIELDS: [SortField; 2] = [
    SortField::text("display_name", "o.display_name"),
    SortField::integer("create_time", "o.create_time"),
];

/// Distinct volunteers with an active membership in the subtree `[low, high)`.
pub async fn count_members<'e, E>(executor: E, (low, high): (&str, &str)) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(DISTINCT m.volunteer_id) FROM memberships m \
         JOIN org_units o ON o.id = m.org_unit_id \
         WHERE m.state = 1 AND o.path >= $1 AND o.path < $2",
    )
    .bind(low)
    .bind(high)
    .fetch_one(executor)
    .await
    .map_err(sql_error("memberships"))?;
    Ok(count)
}

const FORM_COLUMNS: &str = "org_unit_id, archive_number, team_number, leader_name, host_unit, \
     declared_member_count, founded_on, phone, email, address, key_members_json, \
     service_features, awards, origin_instance, version, create_time, update_time";

fn form_from_row(row: &AnyRow) -> Result<RegistrationForm, ApiError> {
    Ok(RegistrationForm {
        org_unit_id: column(row, "org_unit_id")?,
        archive_number: column(row, "archive_number")?,
        team_number: column(row, "team_number")?,
        leader_name: column(row, "leader_name")?,
        host_unit: column(row, "host_unit")?,
        declared_member_count: column(row, "declared_member_count")?,
        founded_on: date_column(row, "founded_on")?,
        phone: column(row, "phone")?,
        email: column(row, "email")?,
        address: column(row, "address")?,
        key_members: json_column(row, "key_members_json")?,
        service_features: column(row, "service_features")?,
        awards: column(row, "awards")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a form.
pub async fn insert_form<'e, E>(executor: E, form: &RegistrationForm) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_form(executor, form, "").await
}

/// Inserts `form`, with `on_conflict` (an `ON CONFLICT …` clause, or nothing) after.
async fn write_form<'e, E>(
    executor: E,
    form: &RegistrationForm,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO registration_forms ({FORM_COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         {on_conflict}"
    ))
    .bind(&form.org_unit_id)
    .bind(&form.archive_number)
    .bind(&form.team_number)
    .bind(&form.leader_name)
    .bind(&form.host_unit)
    .bind(form.declared_member_count)
    .bind(date_text(form.founded_on))
    .bind(&form.phone)
    .bind(&form.email)
    .bind(&form.address)
    .bind(to_json(&form.key_members))
    .bind(&form.service_features)
    .bind(&form.awards)
    .bind(&form.meta.origin_instance)
    .bind(form.meta.version)
    .bind(form.meta.create_time)
    .bind(form.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("registration form"))?;
    Ok(())
}

/// The form of a unit.
pub async fn get_form<'e, E>(
    executor: E,
    org_unit_id: &str,
) -> Result<Option<RegistrationForm>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {FORM_COLUMNS} FROM registration_forms WHERE org_unit_id = $1"
    ))
    .bind(org_unit_id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("registration form"))?;
    row.as_ref().map(form_from_row).transpose()
}

/// Writes a form if it is still at `form.meta.version - 1`.
pub async fn update_form<'e, E>(executor: E, form: &RegistrationForm) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE registration_forms SET leader_name = $2, host_unit = $3, \
         declared_member_count = $4, founded_on = $5, phone = $6, email = $7, address = $8, \
         key_members_json = $9, service_features = $10, awards = $11, version = $12, \
         update_time = $13 WHERE org_unit_id = $1 AND version = $14",
    )
    .bind(&form.org_unit_id)
    .bind(&form.leader_name)
    .bind(&form.host_unit)
    .bind(form.declared_member_count)
    .bind(date_text(form.founded_on))
    .bind(&form.phone)
    .bind(&form.email)
    .bind(&form.address)
    .bind(to_json(&form.key_members))
    .bind(&form.service_features)
    .bind(&form.awards)
    .bind(form.meta.version)
    .bind(form.meta.update_time)
    .bind(form.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("registration form"))?;
    Ok(result.rows_affected() == 1)
}

/// Writes a copy of another instance's unit (a district's, at the city) as it stands,
/// path included, unless a version as new is held already.
pub async fn put_copy<'e, E>(executor: E, unit: &OrgUnit) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_org_unit(
        executor,
        unit,
        "ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, path = excluded.path, \
         tier = excluded.tier, display_name = excluded.display_name, level = excluded.level, \
         categories_json = excluded.categories_json, \
         service_fields_json = excluded.service_fields_json, \
         service_themes_json = excluded.service_themes_json, status = excluded.status, \
         merged_into = excluded.merged_into, version = excluded.version, \
         update_time = excluded.update_time \
         WHERE org_units.version < excluded.version \
         AND org_units.origin_instance = excluded.origin_instance",
    )
    .await
}

/// Writes a copy of another instance's registration form as it stands, unless a version
/// as new is held already.
pub async fn put_copy_form<'e, E>(executor: E, form: &RegistrationForm) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_form(
        executor,
        form,
        "ON CONFLICT (org_unit_id) DO UPDATE SET archive_number = excluded.archive_number, \
         team_number = excluded.team_number, leader_name = excluded.leader_name, \
         host_unit = excluded.host_unit, declared_member_count = excluded.declared_member_count, \
         founded_on = excluded.founded_on, phone = excluded.phone, email = excluded.email, \
         address = excluded.address, key_members_json = excluded.key_members_json, \
         service_features = excluded.service_features, awards = excluded.awards, \
         version = excluded.version, update_time = excluded.update_time \
         WHERE registration_forms.version < excluded.version \
         AND registration_forms.origin_instance = excluded.origin_instance",
    )
    .await
}
