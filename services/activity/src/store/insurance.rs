//! Insurance policies and coverage.

use egret_runtime::ApiError;
use egret_storage::rows::{column, copy_conflict, corrupt, date_column, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor};

use crate::domain::insurance::{InsurancePolicy, PolicyState};

const COLUMNS: &str = "p.id, p.org_unit_id, p.insurer, p.policy_number, p.cover, p.sum_insured_fen, \
     p.start_date, p.end_date, p.covers_subtree, p.state, p.origin_instance, p.version, \
     p.create_time, p.update_time";

fn from_row(row: &AnyRow) -> Result<InsurancePolicy, ApiError> {
    let state: i64 = column(row, "state")?;
    let covers_subtree: i64 = column(row, "covers_subtree")?;
    Ok(InsurancePolicy {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        insurer: column(row, "insurer")?,
        policy_number: column(row, "policy_number")?,
        cover: column(row, "cover")?,
        sum_insured_fen: column(row, "sum_insured_fen")?,
        start_date: date_column(row, "start_date")?
            .ok_or_else(|| corrupt("policy without a start"))?,
        end_date: date_column(row, "end_date")?.ok_or_else(|| corrupt("policy without an end"))?,
        covers_subtree: covers_subtree == 1,
        insured_volunteers: Vec::new(),
        state: PolicyState::from_number(state)
            .ok_or_else(|| corrupt(format!("policy state {state}")))?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a policy and the volunteers it names.
pub async fn insert(
    connection: &mut AnyConnection,
    policy: &InsurancePolicy,
) -> Result<(), ApiError> {
    write(connection, policy, "").await
}

/// Writes a copy of another instance's policy and the volunteers it names as they stand,
/// unless one as new is held.
pub async fn put_copy(
    connection: &mut AnyConnection,
    policy: &InsurancePolicy,
) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM insured_volunteers WHERE policy_id = $1")
        .bind(&policy.id)
        .execute(&mut *connection)
        .await
        .map_err(sql_error("insured volunteers"))?;
    write(
        connection,
        policy,
        &copy_conflict("insurance_policies", "id", COLUMNS),
    )
    .await
}

async fn write(
    connection: &mut AnyConnection,
    policy: &InsurancePolicy,
    on_conflict: &str,
) -> Result<(), ApiError> {
    sqlx::query(&format!(
        "INSERT INTO insurance_policies ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) {on_conflict}",
        COLUMNS.replace("p.", "")
    ))
    .bind(&policy.id)
    .bind(&policy.org_unit_id)
    .bind(&policy.insurer)
    .bind(&policy.policy_number)
    .bind(&policy.cover)
    .bind(policy.sum_insured_fen)
    .bind(policy.start_date.to_iso())
    .bind(policy.end_date.to_iso())
    .bind(i64::from(policy.covers_subtree))
    .bind(policy.state as i64)
    .bind(&policy.meta.origin_instance)
    .bind(policy.meta.version)
    .bind(policy.meta.create_time)
    .bind(policy.meta.update_time)
    .execute(&mut *connection)
    .await
    .map_err(|error| match egret_storage::convert_sqlx_err(error, "insurance policy") {
        ApiError::AlreadyExists { resource, .. } => ApiError::AlreadyExists {
            resource,
            reason: egret_runtime::Bilingual::new(
                "this insurer's policy number is registered already",
                "该保险公司的保单号已登记",
            ),
        },
        other => other,
    })?;
    for volunteer_id in &policy.insured_volunteers {
        sqlx::query("INSERT INTO insured_volunteers (policy_id, volunteer_id) VALUES ($1, $2)")
            .bind(&policy.id)
            .bind(volunteer_id)
            .execute(&mut *connection)
            .await
            .map_err(sql_error("insured volunteer"))?;
    }
    Ok(())
}

async fn with_insured(
    connection: &mut AnyConnection,
    mut policy: InsurancePolicy,
) -> Result<InsurancePolicy, ApiError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT volunteer_id FROM insured_volunteers WHERE policy_id = $1 ORDER BY volunteer_id",
    )
    .bind(&policy.id)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("insured volunteers"))?;
    policy.insured_volunteers = rows.into_iter().map(|(id,)| id).collect();
    Ok(policy)
}

/// One policy with its named volunteers.
pub async fn get(
    connection: &mut AnyConnection,
    id: &str,
) -> Result<Option<InsurancePolicy>, ApiError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM insurance_policies p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(sql_error("insurance policy"))?;
    match row.as_ref().map(from_row).transpose()? {
        Some(policy) => Ok(Some(with_insured(connection, policy).await?)),
        None => Ok(None),
    }
}

/// Writes a policy's state if still at version - 1.
pub async fn update_state<'e, E>(executor: E, policy: &InsurancePolicy) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE insurance_policies SET state = $2, version = $3, update_time = $4 WHERE id = $1 AND version = $5",
    )
    .bind(&policy.id)
    .bind(policy.state as i64)
    .bind(policy.meta.version)
    .bind(policy.meta.update_time)
    .bind(policy.meta.version - 1)
    .execute(executor)
    .await
    .map_err(sql_error("insurance policy"))?;
    Ok(result.rows_affected() == 1)
}

/// Policies held in the subtree `[low, high)` with id after `after`; with `expiring`,
/// only active ones ending within `[from, to]` (ISO dates).
pub async fn list(
    connection: &mut AnyConnection,
    (low, high): (&str, &str),
    expiring: Option<(&str, &str)>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<InsurancePolicy>, ApiError> {
    let (from, to) = expiring.unwrap_or(("", ""));
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM insurance_policies p JOIN org_units o ON o.id = p.org_unit_id \
         WHERE o.path >= $1 AND o.path < $2 \
         AND ($3 = '' OR (p.state = 1 AND p.end_date >= $3 AND p.end_date <= $4)) \
         AND p.id > $5 ORDER BY p.id LIMIT $6"
    ))
    .bind(low)
    .bind(high)
    .bind(from)
    .bind(to)
    .bind(after.unwrap_or(""))
    .bind(limit)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("insurance policies"))?;
    let mut policies = Vec::with_capacity(rows.len());
    for row in &rows {
        policies.push(with_insured(connection, from_row(row)?).await?);
    }
    Ok(policies)
}

/// The id of an active policy covering `[start_date, end_date]` (ISO) for an activity of
/// the unit at `unit_path`: one held by the unit or a unit above it that covers its
/// subtree, or, with a volunteer, one that names the volunteer.
pub async fn covering_policy<'e, E>(
    executor: E,
    unit_path: &str,
    start_date: &str,
    end_date: &str,
    volunteer_id: Option<&str>,
) -> Result<Option<String>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT p.id FROM insurance_policies p JOIN org_units o ON o.id = p.org_unit_id \
         WHERE p.state = 1 AND p.start_date <= $2 AND p.end_date >= $3 AND ( \
         (p.covers_subtree = 1 AND substr($1, 1, length(o.path)) = o.path) \
         OR ($4 <> '' AND EXISTS (SELECT 1 FROM insured_volunteers i WHERE i.policy_id = p.id AND i.volunteer_id = $4))) \
         ORDER BY p.id LIMIT 1",
    )
    .bind(unit_path)
    .bind(start_date)
    .bind(end_date)
    .bind(volunteer_id.unwrap_or(""))
    .fetch_optional(executor)
    .await
    .map_err(sql_error("insurance policies"))?;
    Ok(row.map(|(id,)| id))
}
