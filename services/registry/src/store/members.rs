//! Memberships and join applications.

use egret_runtime::ApiError;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::{column, date_column, date_text, meta_columns, sql_error};
use crate::domain::{JoinApplication, JoinState, Membership, MembershipState};

const MEMBERSHIP_COLUMNS: &str = "m.id, m.org_unit_id, m.volunteer_id, v.display_name AS volunteer_display_name, \
     m.is_primary, m.state, m.joined_on, m.ended_on, m.origin_instance, m.version, \
     m.create_time, m.update_time";

const MEMBERSHIP_FROM: &str = "FROM memberships m JOIN volunteers v ON v.id = m.volunteer_id";

fn membership_from_row(row: &AnyRow) -> Result<Membership, ApiError> {
    let state: i64 = column(row, "state")?;
    let primary: i64 = column(row, "is_primary")?;
    Ok(Membership {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        volunteer_id: column(row, "volunteer_id")?,
        volunteer_display_name: column(row, "volunteer_display_name")?,
        primary: primary == 1,
        state: MembershipState::from_number(state)
            .ok_or_else(|| super::corrupt(format!("membership state {state}")))?,
        joined_on: date_column(row, "joined_on")?
            .ok_or_else(|| super::corrupt("membership without a join date"))?,
        ended_on: date_column(row, "ended_on")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts the primary memberships of volunteers new to the registry, many rows to a
/// statement.
pub async fn insert_memberships(
    connection: &mut sqlx::AnyConnection,
    memberships: &[Membership],
) -> Result<(), ApiError> {
    write_memberships(connection, memberships, "").await
}

async fn write_memberships(
    connection: &mut sqlx::AnyConnection,
    memberships: &[Membership],
    on_conflict: &str,
) -> Result<(), ApiError> {
    for chunk in memberships.chunks(80) {
        let sql = format!(
            "INSERT INTO memberships (id, org_unit_id, volunteer_id, is_primary, state, joined_on, \
             ended_on, origin_instance, version, create_time, update_time) VALUES {} {on_conflict}",
            egret_storage::rows::value_rows(connection, chunk.len(), 11)
        );
        let mut query = sqlx::query(&sql);
        for membership in chunk {
            query = query
                .bind(membership.id.as_str())
                .bind(membership.org_unit_id.as_str())
                .bind(membership.volunteer_id.as_str())
                .bind(i64::from(membership.primary))
                .bind(membership.state as i64)
                .bind(membership.joined_on.to_iso())
                .bind(date_text(membership.ended_on))
                .bind(membership.meta.origin_instance.as_str())
                .bind(membership.meta.version)
                .bind(membership.meta.create_time)
                .bind(membership.meta.update_time);
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(sql_error("membership"))?;
    }
    Ok(())
}

/// Inserts a membership.
pub async fn insert_membership<'e, E>(executor: E, membership: &Membership) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_membership(executor, membership, "")
        .await
        .map_err(|error| match error {
            ApiError::AlreadyExists { .. } => ApiError::failed_precondition(
                "the volunteer is already a member of this unit",
                "该志愿者已是本组织成员",
            ),
            other => other,
        })
}

/// Inserts `membership`, with `on_conflict` (an `ON CONFLICT …` clause, or nothing) after.
async fn write_membership<'e, E>(
    executor: E,
    membership: &Membership,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO memberships (id, org_unit_id, volunteer_id, is_primary, state, joined_on, \
         ended_on, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) {on_conflict}"
    ))
    .bind(&membership.id)
    .bind(&membership.org_unit_id)
    .bind(&membership.volunteer_id)
    .bind(i64::from(membership.primary))
    .bind(membership.state as i64)
    .bind(membership.joined_on.to_iso())
    .bind(date_text(membership.ended_on))
    .bind(&membership.meta.origin_instance)
    .bind(membership.meta.version)
    .bind(membership.meta.create_time)
    .bind(membership.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("membership"))?;
    Ok(())
}

/// One membership by id.
pub async fn get_membership<'e, E>(executor: E, id: &str) -> Result<Option<Membership>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} {MEMBERSHIP_FROM} WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("membership"))?;
    row.as_ref().map(membership_from_row).transpose()
}

/// The memberships among `ids` (in no order; those not held are missing).
pub async fn get_memberships(
    connection: &mut sqlx::AnyConnection,
    ids: &[&str],
) -> Result<Vec<Membership>, ApiError> {
    let select = format!("SELECT {MEMBERSHIP_COLUMNS} {MEMBERSHIP_FROM} WHERE m.id IN");
    egret_storage::rows::fetch_by_ids(connection, &select, ids)
        .await
        .map_err(sql_error("membership"))?
        .iter()
        .map(membership_from_row)
        .collect()
}

/// A volunteer's active memberships, oldest first.
pub async fn active_memberships_of<'e, E>(
    executor: E,
    volunteer_id: &str,
) -> Result<Vec<Membership>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} {MEMBERSHIP_FROM} WHERE m.volunteer_id = $1 AND m.state = 1 \
         ORDER BY m.id"
    ))
    .bind(volunteer_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("memberships"))?;
    rows.iter().map(membership_from_row).collect()
}

/// The active memberships of a unit (all of them: used when a unit merges).
pub async fn active_memberships_in<'e, E>(
    executor: E,
    org_unit_id: &str,
) -> Result<Vec<Membership>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} {MEMBERSHIP_FROM} WHERE m.org_unit_id = $1 AND m.state = 1 \
         ORDER BY m.id"
    ))
    .bind(org_unit_id)
    .fetch_all(executor)
    .await
    .map_err(sql_error("memberships"))?;
    rows.iter().map(membership_from_row).collect()
}

/// Writes a membership's primary flag, state and end date if still at version - 1.
pub async fn update_membership<'e, E>(
    executor: E,
    membership: &Membership,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE memberships SET is_primary = $2, state = $3, ended_on = $4, version = $5, \
         update_time = $6 WHERE id = $1 AND version = $7",
    )
    .bind(&membership.id)
    .bind(i64::from(membership.primary))
    .bind(membership.state as i64)
    .bind(date_text(membership.ended_on))
    .bind(membership.meta.version)
    .bind(membership.meta.update_time)
    .bind(membership.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("membership"))?;
    Ok(result.rows_affected() == 1)
}

/// Filters of a membership listing.
#[derive(Debug, Clone, Default)]
pub struct MembershipFilter {
    /// Subtree bounds `[low, high)` of the units.
    pub bounds: (String, String),
    /// Only this unit ('': any in the subtree).
    pub org_unit_id: String,
    /// Only this volunteer ('': any).
    pub volunteer_id: String,
    /// State number (0: any).
    pub state: i64,
}

/// Memberships matching the filter with id after `after`.
pub async fn list_memberships<'e, E>(
    executor: E,
    filter: &MembershipFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Membership>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {MEMBERSHIP_COLUMNS} {MEMBERSHIP_FROM} JOIN org_units o ON o.id = m.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 AND ($3 = '' OR m.org_unit_id = $3) \
         AND ($4 = '' OR m.volunteer_id = $4) AND ($5 = 0 OR m.state = $5) \
         AND m.id > $6 ORDER BY m.id LIMIT $7"
    ))
    .bind(&filter.bounds.0)
    .bind(&filter.bounds.1)
    .bind(&filter.org_unit_id)
    .bind(&filter.volunteer_id)
    .bind(filter.state)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("memberships"))?;
    rows.iter().map(membership_from_row).collect()
}

const APPLICATION_COLUMNS: &str = "id, org_unit_id, volunteer_id, message, state, decided_by, \
     decision_comment, membership_id, origin_instance, version, create_time, update_time";

fn application_from_row(row: &AnyRow) -> Result<JoinApplication, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(JoinApplication {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        volunteer_id: column(row, "volunteer_id")?,
        message: column(row, "message")?,
        state: JoinState::from_number(state)
            .ok_or_else(|| super::corrupt(format!("join state {state}")))?,
        decided_by: column(row, "decided_by")?,
        decision_comment: column(row, "decision_comment")?,
        membership_id: column(row, "membership_id")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a join application.
pub async fn insert_application<'e, E>(
    executor: E,
    application: &JoinApplication,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_application(executor, application, "")
        .await
        .map_err(|error| match error {
            ApiError::AlreadyExists { resource, .. } => ApiError::AlreadyExists {
                resource,
                reason: egret_runtime::Bilingual::new(
                    "the volunteer already has a pending application to this unit",
                    "该志愿者已有待审核的入队申请",
                ),
            },
            other => other,
        })
}

/// Inserts `application`, with `on_conflict` (an `ON CONFLICT …` clause, or nothing) after.
async fn write_application<'e, E>(
    executor: E,
    application: &JoinApplication,
    on_conflict: &str,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "INSERT INTO join_applications ({APPLICATION_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) {on_conflict}"
    ))
    .bind(&application.id)
    .bind(&application.org_unit_id)
    .bind(&application.volunteer_id)
    .bind(&application.message)
    .bind(application.state as i64)
    .bind(&application.decided_by)
    .bind(&application.decision_comment)
    .bind(&application.membership_id)
    .bind(&application.meta.origin_instance)
    .bind(application.meta.version)
    .bind(application.meta.create_time)
    .bind(application.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("join application"))?;
    Ok(())
}

/// One application by id.
pub async fn get_application<'e, E>(
    executor: E,
    id: &str,
) -> Result<Option<JoinApplication>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {APPLICATION_COLUMNS} FROM join_applications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("join application"))?;
    row.as_ref().map(application_from_row).transpose()
}

/// Writes an application's decision if still at version - 1.
pub async fn update_application<'e, E>(
    executor: E,
    application: &JoinApplication,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE join_applications SET state = $2, decided_by = $3, decision_comment = $4, \
         membership_id = $5, version = $6, update_time = $7 WHERE id = $1 AND version = $8",
    )
    .bind(&application.id)
    .bind(application.state as i64)
    .bind(&application.decided_by)
    .bind(&application.decision_comment)
    .bind(&application.membership_id)
    .bind(application.meta.version)
    .bind(application.meta.update_time)
    .bind(application.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("join application"))?;
    Ok(result.rows_affected() == 1)
}

/// Applications of a unit with id after `after`, oldest first.
pub async fn list_applications<'e, E>(
    executor: E,
    org_unit_id: &str,
    state: i64,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<JoinApplication>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = sqlx::query(&format!(
        "SELECT {APPLICATION_COLUMNS} FROM join_applications WHERE org_unit_id = $1 \
         AND ($2 = 0 OR state = $2) AND id > $3 ORDER BY id LIMIT $4"
    ))
    .bind(org_unit_id)
    .bind(state)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("join applications"))?;
    rows.iter().map(application_from_row).collect()
}

/// Writes copies of another instance's memberships as they stand, many rows to a
/// statement; a copy is skipped where a version as new is held already. One id appears
/// at most once.
pub async fn put_copy_memberships(
    connection: &mut sqlx::AnyConnection,
    copies: &[Membership],
) -> Result<(), ApiError> {
    write_memberships(
        connection,
        copies,
        "ON CONFLICT (id) DO UPDATE SET org_unit_id = excluded.org_unit_id, \
         is_primary = excluded.is_primary, state = excluded.state, \
         joined_on = excluded.joined_on, ended_on = excluded.ended_on, \
         version = excluded.version, update_time = excluded.update_time \
         WHERE memberships.version < excluded.version \
         AND memberships.origin_instance = excluded.origin_instance",
    )
    .await
}

/// Writes a copy of another instance's join application as it stands, unless a version
/// as new is held already.
pub async fn put_copy_application<'e, E>(
    executor: E,
    application: &JoinApplication,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    write_application(
        executor,
        application,
        "ON CONFLICT (id) DO UPDATE SET message = excluded.message, state = excluded.state, \
         decided_by = excluded.decided_by, decision_comment = excluded.decision_comment, \
         membership_id = excluded.membership_id, version = excluded.version, \
         update_time = excluded.update_time \
         WHERE join_applications.version < excluded.version \
         AND join_applications.origin_instance = excluded.origin_instance",
    )
    .await
}
