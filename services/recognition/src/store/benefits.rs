//! The benefits catalogue and redemptions.

use egret_runtime::ApiError;
use egret_storage::rows::{column, corrupt, meta_columns, sql_error};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::domain::ledger::{Benefit, Redemption, RedemptionState};

const BENEFIT_COLUMNS: &str = "b.id, b.org_unit_id, b.display_name, b.description, \
     b.points_cost, b.stock, b.active, b.origin_instance, b.version, b.create_time, b.update_time";

/// The same columns for a `RETURNING` clause, which takes no table alias.
const BENEFIT_RETURNING: &str = "id, org_unit_id, display_name, description, points_cost, \
     stock, active, origin_instance, version, create_time, update_time";

fn benefit_from_row(row: &AnyRow) -> Result<Benefit, ApiError> {
    Ok(Benefit {
        id: column(row, "id")?,
        org_unit_id: column(row, "org_unit_id")?,
        display_name: column(row, "display_name")?,
        description: column(row, "description")?,
        points_cost: column(row, "points_cost")?,
        stock: column(row, "stock")?,
        active: column::<i64>(row, "active")? == 1,
        meta: meta_columns(row)?,
    })
}

/// Inserts a benefit.
pub async fn insert_benefit<'e, E>(executor: E, benefit: &Benefit) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO benefits (id, org_unit_id, display_name, description, points_cost, stock, \
         active, origin_instance, version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&benefit.id)
    .bind(&benefit.org_unit_id)
    .bind(&benefit.display_name)
    .bind(&benefit.description)
    .bind(benefit.points_cost)
    .bind(benefit.stock)
    .bind(i64::from(benefit.active))
    .bind(&benefit.meta.origin_instance)
    .bind(benefit.meta.version)
    .bind(benefit.meta.create_time)
    .bind(benefit.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("benefit"))?;
    Ok(())
}

/// One benefit.
pub async fn get_benefit<'e, E>(executor: E, id: &str) -> Result<Option<Benefit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {BENEFIT_COLUMNS} FROM benefits b WHERE b.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("benefit"))?;
    row.as_ref().map(benefit_from_row).transpose()
}

/// Writes a changed benefit if it is still at `expected_version`; false when someone else
/// changed it first.
pub async fn update_benefit<'e, E>(
    executor: E,
    benefit: &Benefit,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE benefits SET display_name = $2, description = $3, points_cost = $4, stock = $5, \
         active = $6, version = $7, update_time = $8 WHERE id = $1 AND version = $9",
    )
    .bind(&benefit.id)
    .bind(&benefit.display_name)
    .bind(&benefit.description)
    .bind(benefit.points_cost)
    .bind(benefit.stock)
    .bind(i64::from(benefit.active))
    .bind(benefit.meta.version)
    .bind(benefit.meta.update_time)
    .bind(expected_version)
    .execute(executor)
    .await
    .map_err(sql_error("benefit"))?;
    Ok(result.rows_affected() == 1)
}

/// Takes `quantity` units off an active benefit's stock and returns the benefit as it is
/// now; None when it is inactive or has fewer units left. One statement, so that on
/// PostgreSQL two redemptions of the last unit queue on the row and the second finds none.
pub async fn take_stock<'e, E>(
    executor: E,
    id: &str,
    quantity: i64,
    now: i64,
) -> Result<Option<Benefit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "UPDATE benefits SET stock = stock - $2, version = version + 1, update_time = $3 \
         WHERE id = $1 AND active = 1 AND stock >= $2 RETURNING {BENEFIT_RETURNING}"
    ))
    .bind(id)
    .bind(quantity)
    .bind(now)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("benefit"))?;
    row.as_ref().map(benefit_from_row).transpose()
}

/// Puts `quantity` units back on a benefit's stock (a cancelled redemption) and returns
/// the benefit as it is now; None when the benefit is gone.
pub async fn restore_stock<'e, E>(
    executor: E,
    id: &str,
    quantity: i64,
    now: i64,
) -> Result<Option<Benefit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "UPDATE benefits SET stock = stock + $2, version = version + 1, update_time = $3 \
         WHERE id = $1 RETURNING {BENEFIT_RETURNING}"
    ))
    .bind(id)
    .bind(quantity)
    .bind(now)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("benefit"))?;
    row.as_ref().map(benefit_from_row).transpose()
}

/// Which benefits a list shows.
#[derive(Debug, Clone, Copy)]
pub struct BenefitFilter<'a> {
    /// The caller's unit's path: benefits of that unit and its ancestors are shown.
    pub own_path: &'a str,
    /// `[low, high)` of a subtree whose benefits are shown too (empty for none).
    pub subtree: (&'a str, &'a str),
    /// Only active ones.
    pub active_only: bool,
}

/// Benefits offered by the caller's unit, its ancestors and (for staff) its subtree,
/// after `after` (by id), oldest first.
pub async fn list_benefits<'e, E>(
    executor: E,
    filter: &BenefitFilter<'_>,
    after: &str,
    limit: i64,
) -> Result<Vec<Benefit>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    // A unit is an ancestor (or the unit itself) exactly when its path is a prefix of the
    // caller's; paths hold only ids and '/', so LIKE's wildcards cannot occur in them.
    let rows = sqlx::query(&format!(
        "SELECT {BENEFIT_COLUMNS} FROM benefits b JOIN org_units o ON o.id = b.org_unit_id \
         WHERE ($1 LIKE o.path || '%' OR (o.path >= $2 AND o.path < $3)) AND b.id > $4 \
         AND ($5 = 0 OR b.active = 1) ORDER BY b.id LIMIT $6"
    ))
    .bind(filter.own_path)
    .bind(filter.subtree.0)
    .bind(filter.subtree.1)
    .bind(after)
    .bind(i64::from(filter.active_only))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("benefit"))?;
    rows.iter().map(benefit_from_row).collect()
}

const REDEMPTION_COLUMNS: &str = "r.id, r.benefit_id, r.benefit_display_name, \
     r.benefit_org_unit_id, r.volunteer_id, r.quantity, r.points, r.state, r.posting_id, \
     r.refund_posting_id, r.origin_instance, r.version, r.create_time, r.update_time";

fn redemption_from_row(row: &AnyRow) -> Result<Redemption, ApiError> {
    let state: i64 = column(row, "state")?;
    Ok(Redemption {
        id: column(row, "id")?,
        benefit_id: column(row, "benefit_id")?,
        benefit_display_name: column(row, "benefit_display_name")?,
        benefit_org_unit_id: column(row, "benefit_org_unit_id")?,
        volunteer_id: column(row, "volunteer_id")?,
        quantity: column(row, "quantity")?,
        points: column(row, "points")?,
        state: RedemptionState::from_number(state)
            .ok_or_else(|| corrupt(format!("redemption state {state}")))?,
        posting_id: column(row, "posting_id")?,
        refund_posting_id: column(row, "refund_posting_id")?,
        meta: meta_columns(row)?,
    })
}

/// Inserts a redemption.
pub async fn insert_redemption<'e, E>(executor: E, redemption: &Redemption) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO redemptions (id, benefit_id, benefit_display_name, benefit_org_unit_id, \
         volunteer_id, quantity, points, state, posting_id, refund_posting_id, origin_instance, \
         version, create_time, update_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&redemption.id)
    .bind(&redemption.benefit_id)
    .bind(&redemption.benefit_display_name)
    .bind(&redemption.benefit_org_unit_id)
    .bind(&redemption.volunteer_id)
    .bind(redemption.quantity)
    .bind(redemption.points)
    .bind(redemption.state as i64)
    .bind(&redemption.posting_id)
    .bind(&redemption.refund_posting_id)
    .bind(&redemption.meta.origin_instance)
    .bind(redemption.meta.version)
    .bind(redemption.meta.create_time)
    .bind(redemption.meta.update_time)
    .execute(executor)
    .await
    .map_err(sql_error("redemption"))?;
    Ok(())
}

/// One redemption.
pub async fn get_redemption<'e, E>(executor: E, id: &str) -> Result<Option<Redemption>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {REDEMPTION_COLUMNS} FROM redemptions r WHERE r.id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("redemption"))?;
    row.as_ref().map(redemption_from_row).transpose()
}

/// Writes a redemption's new state if it is still at `expected_version`; false when
/// someone else changed it first (so a second cancel cannot refund twice).
pub async fn update_redemption<'e, E>(
    executor: E,
    redemption: &Redemption,
    expected_version: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let result = sqlx::query(
        "UPDATE redemptions SET state = $2, refund_posting_id = $3, version = $4, \
         update_time = $5 WHERE id = $1 AND version = $6",
    )
    .bind(&redemption.id)
    .bind(redemption.state as i64)
    .bind(&redemption.refund_posting_id)
    .bind(redemption.meta.version)
    .bind(redemption.meta.update_time)
    .bind(expected_version)
    .execute(executor)
    .await
    .map_err(sql_error("redemption"))?;
    Ok(result.rows_affected() == 1)
}

/// Which redemptions a list shows.
#[derive(Debug, Clone, Copy)]
pub enum RedemptionFilter<'a> {
    /// One volunteer's.
    Volunteer(&'a str),
    /// Those of benefits offered in the subtree `[low, high)`.
    Subtree(&'a str, &'a str),
}

/// Redemptions newest first, before `before` (by id; '' for the newest).
pub async fn list_redemptions<'e, E>(
    executor: E,
    filter: RedemptionFilter<'_>,
    before: &str,
    limit: i64,
) -> Result<Vec<Redemption>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let rows = match filter {
        RedemptionFilter::Volunteer(volunteer_id) => {
            sqlx::query(&format!(
                "SELECT {REDEMPTION_COLUMNS} FROM redemptions r WHERE r.volunteer_id = $1 \
                 AND ($2 = '' OR r.id < $2) ORDER BY r.id DESC LIMIT $3"
            ))
            .bind(volunteer_id)
            .bind(before)
            .bind(limit)
            .fetch_all(executor)
            .await
        }
        RedemptionFilter::Subtree(low, high) => {
            sqlx::query(&format!(
                "SELECT {REDEMPTION_COLUMNS} FROM redemptions r \
                 JOIN org_units o ON o.id = r.benefit_org_unit_id \
                 WHERE o.path >= $1 AND o.path < $2 AND ($3 = '' OR r.id < $3) \
                 ORDER BY r.id DESC LIMIT $4"
            ))
            .bind(low)
            .bind(high)
            .bind(before)
            .bind(limit)
            .fetch_all(executor)
            .await
        }
    }
    .map_err(sql_error("redemption"))?;
    rows.iter().map(redemption_from_row).collect()
}
