//! The replica of the registry's org tree and memberships that every other service keeps
//! (tables `org_units` and `volunteer_memberships`, created by each service's migrations
//! with the same columns), so that "is this in the caller's subtree" is answered locally.

use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_storage::rows::{column, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

/// An org unit, as replicated from the registry's change log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrgUnit {
    /// The registry's id.
    pub id: String,
    /// The parent's id; None for the root.
    pub parent_id: Option<String>,
    /// `/root-id/…/own-id/`.
    pub path: String,
    /// Tier number (1 corps … 4 squad).
    pub tier: i64,
    /// Name.
    pub display_name: String,
    /// Status number (1 active, 2 suspended, 3 dissolved, 4 merged).
    pub status: i64,
    /// The registry record's version.
    pub version: i64,
}

impl OrgUnit {
    /// Only active units take new work.
    pub fn is_active(&self) -> bool {
        self.status == 1
    }

    /// The ids on the path from the root down to this unit, in order.
    pub fn lineage(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter(|part| !part.is_empty())
            .collect()
    }
}

fn unit_from_row(row: &AnyRow) -> Result<OrgUnit, ApiError> {
    Ok(OrgUnit {
        id: column(row, "id")?,
        parent_id: column(row, "parent_id")?,
        path: column(row, "path")?,
        tier: column(row, "tier")?,
        display_name: column(row, "display_name")?,
        status: column(row, "status")?,
        version: column(row, "version")?,
    })
}

/// One replicated unit.
pub async fn unit<'e, E>(executor: E, id: &str) -> Result<Option<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id, parent_id, path, tier, display_name, status, version FROM org_units WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("org unit"))?;
    row.as_ref().map(unit_from_row).transpose()
}

/// The units on `unit`'s path from the root down to it, in order (those the replica holds).
pub async fn lineage<'e, E>(executor: E, unit: &OrgUnit) -> Result<Vec<OrgUnit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let ids = unit.lineage();
    // Ancestors' paths are prefixes of the unit's: one range-free query by path length.
    let rows = sqlx::query(
        "SELECT id, parent_id, path, tier, display_name, status, version FROM org_units \
         WHERE $1 LIKE path || '%' ORDER BY tier",
    )
    .bind(&unit.path)
    .fetch_all(executor)
    .await
    .map_err(sql_error("org unit"))?;
    let mut units = rows
        .iter()
        .map(unit_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    units.retain(|found| ids.contains(&found.id.as_str()));
    units.sort_by_key(|found| found.path.len());
    Ok(units)
}

/// Writes a unit unless the replica already holds the same or a newer version of it.
pub async fn upsert_unit<'e, E>(executor: E, unit: &OrgUnit) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO org_units (id, parent_id, path, tier, display_name, status, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, path = excluded.path, \
         tier = excluded.tier, display_name = excluded.display_name, status = excluded.status, \
         version = excluded.version WHERE org_units.version < excluded.version",
    )
    .bind(&unit.id)
    .bind(&unit.parent_id)
    .bind(&unit.path)
    .bind(unit.tier)
    .bind(&unit.display_name)
    .bind(unit.status)
    .bind(unit.version)
    .execute(executor)
    .await
    .map_err(sql_error("org unit"))?;
    Ok(())
}

/// The tier of a unit as its wire number (1 corps … 4 squad).
pub fn tier_number(tier: &str) -> Result<i64, String> {
    match tier {
        "corps" => Ok(1),
        "team" => Ok(2),
        "sub_team" => Ok(3),
        "squad" => Ok(4),
        other => Err(format!("unknown tier {other:?}")),
    }
}

/// The status of a unit as its wire number (1 active … 4 merged).
pub fn status_number(status: &str) -> Result<i64, String> {
    match status {
        "active" => Ok(1),
        "suspended" => Ok(2),
        "dissolved" => Ok(3),
        "merged" => Ok(4),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// The status of a volunteer as its wire number (1 active, 2 inactive, 3 withdrawn).
pub fn volunteer_status_number(status: &str) -> Result<i64, String> {
    match status {
        "active" => Ok(1),
        "inactive" => Ok(2),
        "withdrawn" => Ok(3),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// A record's version (0 when it carries no bookkeeping, which a valid record always does).
pub fn version(meta: Option<&pb::Meta>) -> i64 {
    meta.map_or(0, |meta| meta.version)
}

/// Applies a unit from the registry's change log.
pub async fn apply_unit(
    transaction: &mut WriteTx,
    change: &pb::Change,
    unit: &pb::OrgUnit,
) -> Result<(), ApiError> {
    let corrupt = |error| crate::follower::corrupt(change, error);
    let unit = OrgUnit {
        tier: tier_number(&unit.tier).map_err(corrupt)?,
        status: status_number(&unit.status).map_err(corrupt)?,
        id: unit.id.clone(),
        parent_id: unit.parent_id.clone(),
        path: unit.path.clone(),
        display_name: unit.display_name.clone(),
        version: version(unit.meta.as_ref()),
    };
    upsert_unit(transaction.conn(), &unit).await
}

/// Applies a membership from the registry's change log.
pub async fn apply_membership(
    transaction: &mut WriteTx,
    membership: &pb::Membership,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO volunteer_memberships (id, volunteer_id, org_unit_id, active, version) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET org_unit_id = excluded.org_unit_id, \
         active = excluded.active, version = excluded.version \
         WHERE volunteer_memberships.version < excluded.version",
    )
    .bind(&membership.id)
    .bind(&membership.volunteer_id)
    .bind(&membership.org_unit_id)
    .bind(i64::from(membership.state == "active"))
    .bind(version(membership.meta.as_ref()))
    .execute(transaction.conn())
    .await
    .map_err(sql_error("volunteer membership"))?;
    Ok(())
}

/// The statement of [`serves_in`]: binds the volunteer's id and the subtree's `[low, high)`.
///
/// The membership check binds the id itself rather than `v.id`: PostgreSQL cannot turn an
/// EXISTS under OR into a join, and a correlated one it may run as a hashed subplan over
/// every membership of the subtree (seconds for the city); bound, it is one index lookup.
pub const SERVES_IN_SQL: &str = "SELECT COUNT(*) FROM volunteers v WHERE v.id = $1 AND (EXISTS \
     (SELECT 1 FROM volunteer_memberships m JOIN org_units o ON o.id = m.org_unit_id \
     WHERE m.volunteer_id = $1 AND m.active = 1 AND o.path >= $2 AND o.path < $3) \
     OR EXISTS (SELECT 1 FROM org_units r WHERE r.id = v.registering_org_unit_id \
     AND r.path >= $2 AND r.path < $3))";

/// Whether the volunteer serves in the subtree `[low, high)`: an active membership there,
/// or registered by a unit there (the registry's own rule). Needs the `volunteers` table's
/// `registering_org_unit_id`.
pub async fn serves_in<'e, E>(
    executor: E,
    volunteer_id: &str,
    (low, high): (&str, &str),
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (count,): (i64,) = sqlx::query_as(SERVES_IN_SQL)
        .bind(volunteer_id)
        .bind(low)
        .bind(high)
        .fetch_one(executor)
        .await
        .map_err(sql_error("volunteer"))?;
    Ok(count > 0)
}
