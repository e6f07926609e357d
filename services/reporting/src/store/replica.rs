//! The replica and the hours rollup, written by the feeds. Each write first asks whether
//! the entry is newer than what the replica holds, so an entry read twice changes nothing.

use egret_runtime::ApiError;
use egret_storage::rows::sql_error;
use sqlx::AnyConnection;

/// A replicated table, named in SQL only through this closed set.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    /// `org_units`.
    OrgUnits,
    /// `volunteers`.
    Volunteers,
    /// `activities`.
    Activities,
    /// `service_records`.
    ServiceRecords,
    /// `qualifications`.
    Qualifications,
    /// `insurance_policies`.
    InsurancePolicies,
    /// `star_ratings`.
    StarRatings,
    /// `commendations`.
    Commendations,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::OrgUnits => "org_units",
            Table::Volunteers => "volunteers",
            Table::Activities => "activities",
            Table::ServiceRecords => "service_records",
            Table::Qualifications => "qualifications",
            Table::InsurancePolicies => "insurance_policies",
            Table::StarRatings => "star_ratings",
            Table::Commendations => "commendations",
        }
    }
}

/// The version the replica holds of `id`, if any.
pub async fn held_version(
    connection: &mut AnyConnection,
    table: Table,
    id: &str,
) -> Result<Option<i64>, ApiError> {
    let row: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT version FROM {} WHERE id = $1",
        table.name()
    ))
    .bind(id)
    .fetch_optional(connection)
    .await
    .map_err(sql_error(table.name()))?;
    Ok(row.map(|(version,)| version))
}

/// Whether the membership `id` is, and was if the replica holds it, in `org_unit_id`, the
/// registering unit of `volunteer_id`.
pub async fn membership_in_registering_unit(
    connection: &mut AnyConnection,
    id: &str,
    volunteer_id: &str,
    org_unit_id: &str,
) -> Result<bool, ApiError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(CASE WHEN m.id IS NULL \
         OR m.org_unit_id = $3 THEN 0 ELSE 1 END), 0) AS BIGINT) \
         FROM volunteers v LEFT JOIN volunteer_memberships m \
         ON m.id = $2 WHERE v.id = $1 AND v.registering_org_unit_id = $3",
    )
    .bind(volunteer_id)
    .bind(id)
    .bind(org_unit_id)
    .fetch_optional(connection)
    .await
    .map_err(sql_error("volunteer membership"))?;
    Ok(matches!(row, Some((found, elsewhere)) if found > 0 && elsewhere == 0))
}

/// Whether an entry at `version` is newer than what the replica holds.
pub async fn is_newer(
    connection: &mut AnyConnection,
    table: Table,
    id: &str,
    version: i64,
) -> Result<bool, ApiError> {
    Ok(held_version(connection, table, id)
        .await?
        .is_none_or(|held| held < version))
}

/// Runs one statement of the replica.
pub async fn execute(
    connection: &mut AnyConnection,
    what: &'static str,
    sql: &str,
    binds: &[Bind<'_>],
) -> Result<(), ApiError> {
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(*text),
            Bind::Int(number) => query.bind(*number),
        };
    }
    query.execute(connection).await.map_err(sql_error(what))?;
    Ok(())
}

/// The federation hash the replica holds for volunteer `id` ('' for none, or no volunteer).
pub async fn person_of(connection: &mut AnyConnection, id: &str) -> Result<String, ApiError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT person FROM volunteers WHERE id = $1")
        .bind(id)
        .fetch_optional(connection)
        .await
        .map_err(sql_error("volunteer"))?;
    Ok(row.map(|(person,)| person).unwrap_or_default())
}

/// Marks the volunteers carrying federation hash `person` shared when there are two or
/// more of them. Both statements read the partial index on `person` (each names
/// `person <> ''`, which a partial index needs to be chosen): a volunteer's change costs
/// the few rows of one person, never a scan.
pub async fn mark_shared(connection: &mut AnyConnection, person: &str) -> Result<(), ApiError> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM volunteers WHERE person = $1 AND person <> ''",
    )
    .bind(person)
    .fetch_one(&mut *connection)
    .await
    .map_err(sql_error("volunteer"))?;
    sqlx::query(
        "UPDATE volunteers SET shared = $2 WHERE person = $1 AND person <> '' AND shared <> $2",
    )
    .bind(person)
    .bind(i64::from(count > 1))
    .execute(&mut *connection)
    .await
    .map_err(sql_error("volunteer"))?;
    Ok(())
}

/// A value bound to a replica statement.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    /// Text.
    Text(&'a str),
    /// An integer.
    Int(i64),
}

/// A service record's contribution to the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordShare {
    /// The unit it counts for.
    pub org_unit_id: String,
    /// The day.
    pub service_date: String,
    /// Approved minutes (0 while not approved).
    pub approved_minutes: i64,
}

/// What a service record contributes now, if the replica holds it.
pub async fn record_share(
    connection: &mut AnyConnection,
    id: &str,
) -> Result<Option<RecordShare>, ApiError> {
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT org_unit_id, service_date, approved_minutes FROM service_records WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(connection)
    .await
    .map_err(sql_error("service record"))?;
    Ok(row.map(
        |(org_unit_id, service_date, approved_minutes)| RecordShare {
            org_unit_id,
            service_date,
            approved_minutes,
        },
    ))
}

/// Adds `sign` times a share (an approved record and its minutes) to the daily rollup.
pub async fn add_to_rollup(
    connection: &mut AnyConnection,
    share: &RecordShare,
    sign: i64,
) -> Result<(), ApiError> {
    if share.approved_minutes == 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO hours_daily (org_unit_id, service_date, minutes, records) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (org_unit_id, service_date) DO UPDATE SET \
         minutes = hours_daily.minutes + excluded.minutes, \
         records = hours_daily.records + excluded.records",
    )
    .bind(&share.org_unit_id)
    .bind(&share.service_date)
    .bind(sign * share.approved_minutes)
    .bind(sign)
    .execute(connection)
    .await
    .map_err(sql_error("hours rollup"))?;
    Ok(())
}

/// A table of a record's list values, replaced whole with each newer version of the record.
#[derive(Debug, Clone, Copy)]
pub enum Children {
    /// An org unit's categories.
    OrgUnitCategories,
    /// An activity's target groups.
    ActivityTargetGroups,
    /// A policy's named volunteers.
    PolicyVolunteers,
}

impl Children {
    /// (table, parent column, value column).
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Children::OrgUnitCategories => ("org_unit_categories", "org_unit_id", "category"),
            Children::ActivityTargetGroups => {
                ("activity_target_groups", "activity_id", "target_group")
            }
            Children::PolicyVolunteers => ("policy_volunteers", "policy_id", "volunteer_id"),
        }
    }
}

/// Replaces the list values of `parent` with `values`.
pub async fn replace_children(
    connection: &mut AnyConnection,
    children: Children,
    parent: &str,
    values: &[Bind<'_>],
) -> Result<(), ApiError> {
    let (table, parent_column, value_column) = children.columns();
    execute(
        &mut *connection,
        table,
        &format!("DELETE FROM {table} WHERE {parent_column} = $1"),
        &[Bind::Text(parent)],
    )
    .await?;
    for value in values {
        execute(
            &mut *connection,
            table,
            &format!(
                "INSERT INTO {table} ({parent_column}, {value_column}) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING"
            ),
            &[Bind::Text(parent), *value],
        )
        .await?;
    }
    Ok(())
}
