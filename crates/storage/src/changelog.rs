//! The change log (outbox): every change, in commit order, without gaps.
//!
//! Sequence numbers come from the single row of `change_log_head`, bumped by the last
//! statement of each writing transaction. On PostgreSQL the row lock is held until commit,
//! so a later transaction gets its numbers only after the earlier one committed (or rolled
//! back, giving them back): numbers become visible in order, and a reader that resumes
//! after the last number it saw can never miss a row that commits later. On SQLite the
//! single writer gives the same order. The lock is taken last, so it is held only for the
//! few statements between it and the commit.

use egret_runtime::{ApiError, PageRequest};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool};

use crate::convert_sqlx_err;

/// What happened to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Created.
    Create,
    /// Changed.
    Update,
    /// Deleted or ended.
    Delete,
}

impl Operation {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "create" => Some(Operation::Create),
            "update" => Some(Operation::Update),
            "delete" => Some(Operation::Delete),
            _ => None,
        }
    }
}

/// One changed field, with personal data already masked by the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The field path.
    pub field: String,
    /// Before, as text.
    pub old_value: String,
    /// After, as text.
    pub new_value: String,
}

impl FieldChange {
    /// A change of `field` from `old_value` to `new_value`.
    pub fn new(
        field: impl Into<String>,
        old_value: impl Into<String>,
        new_value: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            old_value: old_value.into(),
            new_value: new_value.into(),
        }
    }
}

/// A change a transaction makes, before it has a sequence number.
#[derive(Debug, Clone)]
pub struct ChangeDraft {
    /// The kind of resource, for example `egret.registry.v1.OrgUnit`.
    pub resource_type: &'static str,
    /// The resource name.
    pub resource_name: String,
    /// What happened.
    pub operation: Operation,
    /// The record after the change, minimised for sync (no plaintext personal data), as an
    /// encoded `egret.sync.v1.Record`.
    pub payload: Vec<u8>,
    /// What changed (masked).
    pub field_changes: Vec<FieldChange>,
    /// Why, when the caller said.
    pub reason: String,
}

/// A committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChange {
    /// Its place in the log.
    pub sequence: i64,
    /// The kind of resource.
    pub resource_type: String,
    /// The resource name.
    pub resource_name: String,
    /// What happened.
    pub operation: Operation,
    /// Who.
    pub actor: String,
    /// Where the record originates.
    pub origin_instance: String,
    /// When (microseconds since the epoch).
    pub change_time: i64,
    /// The record after the change, as an encoded `egret.sync.v1.Record`; empty for changes
    /// written before records were encoded.
    pub payload: Vec<u8>,
    /// The record of a change written before records were encoded, as JSON; empty after.
    pub payload_json: String,
    /// What changed.
    pub field_changes: Vec<FieldChange>,
    /// Why.
    pub reason: String,
}

type ChangeRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    i64,
    Vec<u8>,
    String,
    String,
    String,
);

const SELECT_COLUMNS: &str = "SELECT sequence, resource_type, resource_name, operation, actor, \
     origin_instance, change_time, payload, payload_json, field_changes_json, reason FROM change_log";

fn from_row(row: ChangeRow) -> Result<StoredChange, ApiError> {
    let (
        sequence,
        resource_type,
        resource_name,
        operation,
        actor,
        origin_instance,
        change_time,
        payload,
        payload_json,
        field_changes_json,
        reason,
    ) = row;
    let operation = Operation::parse(&operation).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "change {sequence} has unknown operation {operation}"
        ))
    })?;
    let field_changes = serde_json::from_str(&field_changes_json).map_err(|error| {
        ApiError::Internal(
            anyhow::Error::new(error).context(format!("change {sequence} field changes")),
        )
    })?;
    Ok(StoredChange {
        sequence,
        resource_type,
        resource_name,
        operation,
        actor,
        origin_instance,
        change_time,
        payload,
        payload_json,
        field_changes,
        reason,
    })
}

/// Appends `changes` inside the caller's transaction; returns the last sequence used.
pub(crate) async fn append(
    connection: &mut AnyConnection,
    actor: &str,
    origin: &str,
    now: i64,
    changes: &[ChangeDraft],
) -> Result<i64, ApiError> {
    if changes.is_empty() {
        return Ok(0);
    }
    let count = changes.len() as i64;
    let (last,): (i64,) = sqlx::query_as(
        "UPDATE change_log_head SET last_sequence = last_sequence + $1 WHERE id = 1 \
         RETURNING last_sequence",
    )
    .bind(count)
    .fetch_one(&mut *connection)
    .await
    .map_err(|error| convert_sqlx_err(error, "change log"))?;
    let first = last - count + 1;
    const CHUNK: usize = 100;
    // Many rows to a statement: a batch of registrations records hundreds of changes.
    for (chunk_index, chunk) in changes.chunks(CHUNK).enumerate() {
        let sql = format!(
            "INSERT INTO change_log (sequence, resource_type, resource_name, operation, actor, \
             origin_instance, change_time, payload, payload_json, field_changes_json, reason) \
             VALUES {}",
            crate::rows::value_rows(connection, chunk.len(), 11)
        );
        let mut query = sqlx::query(&sql);
        for (offset, change) in chunk.iter().enumerate() {
            let field_changes = serde_json::to_string(&change.field_changes)
                .map_err(|error| ApiError::Internal(error.into()))?;
            query = query
                .bind(first + (chunk_index * CHUNK + offset) as i64)
                .bind(change.resource_type)
                .bind(change.resource_name.as_str())
                .bind(change.operation.as_str())
                .bind(actor)
                .bind(origin)
                .bind(now)
                .bind(change.payload.as_slice())
                .bind("")
                .bind(field_changes)
                .bind(change.reason.as_str());
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(|error| convert_sqlx_err(error, "change log"))?;
    }
    Ok(last)
}

/// Changes after `after_sequence`, in order, at most `limit`.
pub async fn read_after(
    pool: &AnyPool,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<StoredChange>, ApiError> {
    let sql = format!("{SELECT_COLUMNS} WHERE sequence > $1 ORDER BY sequence LIMIT $2");
    let rows: Vec<ChangeRow> = sqlx::query_as(&sql)
        .bind(after_sequence)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(|error| convert_sqlx_err(error, "change log"))?;
    rows.into_iter().map(from_row).collect()
}

/// The highest committed sequence.
pub async fn head(pool: &AnyPool) -> Result<i64, ApiError> {
    let (last,): (i64,) = sqlx::query_as("SELECT last_sequence FROM change_log_head WHERE id = 1")
        .fetch_one(pool)
        .await
        .map_err(|error| convert_sqlx_err(error, "change log"))?;
    Ok(last)
}

/// The history of one resource: its changes after `after_sequence`, oldest first.
pub async fn history(
    pool: &AnyPool,
    resource_name: &str,
    after_sequence: i64,
    limit: i64,
) -> Result<Vec<StoredChange>, ApiError> {
    let sql = format!(
        "{SELECT_COLUMNS} WHERE resource_name = $1 AND sequence > $2 ORDER BY sequence LIMIT $3"
    );
    let rows: Vec<ChangeRow> = sqlx::query_as(&sql)
        .bind(resource_name)
        .bind(after_sequence)
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(|error| convert_sqlx_err(error, "change history"))?;
    rows.into_iter().map(from_row).collect()
}

/// The largest change-log page.
pub const MAX_PAGE: u32 = 1000;

/// A page of the change log, for sync and reporting readers.
#[derive(Debug, Clone)]
pub struct Page {
    /// The entries, in order, without gaps.
    pub entries: Vec<StoredChange>,
    /// Where to resume: the last entry's sequence, or the request's when none came.
    pub last_sequence: i64,
    /// The highest sequence committed when the page was read.
    pub head_sequence: i64,
}

/// Reads up to `page_size` entries (default 100, at most [`MAX_PAGE`]) after
/// `after_sequence`, refusing bad values with the field named.
pub async fn read_page(
    pool: &AnyPool,
    after_sequence: i64,
    page_size: i32,
) -> Result<Page, ApiError> {
    if after_sequence < 0 {
        return Err(ApiError::invalid(
            "after_sequence",
            "must not be negative",
            "起始序号不能为负数",
        ));
    }
    let page = PageRequest::parse(page_size, "", "", 100, MAX_PAGE)?;
    // The head is read first: every entry up to it is committed, so a page that ends before
    // it means more is waiting.
    let head_sequence = head(pool).await?;
    let entries = read_after(pool, after_sequence, i64::from(page.size)).await?;
    let last_sequence = entries
        .last()
        .map_or(after_sequence, |entry| entry.sequence);
    Ok(Page {
        entries,
        last_sequence,
        head_sequence: head_sequence.max(last_sequence),
    })
}

/// One page of a resource's history (oldest first) and the next page's token.
pub async fn history_page(
    pool: &AnyPool,
    resource_name: &str,
    page: &PageRequest,
) -> Result<(Vec<StoredChange>, String), ApiError> {
    let after = match page.after.as_deref() {
        Some(text) => text.parse::<i64>().map_err(|_| {
            ApiError::invalid("page_token", "is not a token of this list", "分页令牌无效")
        })?,
        None => 0,
    };
    let mut changes = history(pool, resource_name, after, page.fetch_limit()).await?;
    let next = page.finish(&mut changes, |change| change.sequence.to_string());
    Ok((changes, next))
}
