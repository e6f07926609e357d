//! The SQL of accounts, refresh tokens and the audit log.

use egret_runtime::{ApiError, Role};
use egret_storage::rows::{column, corrupt, meta_columns, sql_error};
use egret_storage::{Ordering, SortField};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::domain::{Account, AccountState};

/// The gateway's migrations, for SQLite.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
/// The gateway's migrations, for PostgreSQL.
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

const ACCOUNT_COLUMNS: &str = "id, username, display_name, org_unit_id, org_unit_path, roles_json, \
     volunteer_id, state, password_hash, password_change_required, origin_instance, version, \
     create_time, update_time";

fn account_from_row(row: &AnyRow) -> Result<Account, ApiError> {
    let state: i64 = column(row, "state")?;
    let required: i64 = column(row, "password_change_required")?;
    let roles_json: String = column(row, "roles_json")?;
    let names: Vec<String> =
        serde_json::from_str(&roles_json).map_err(|error| corrupt(format!("roles: {error}")))?;
    let roles = names
        .iter()
        .map(|name| name.parse::<Role>().map_err(corrupt))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Account {
        id: column(row, "id")?,
        username: column(row, "username")?,
        display_name: column(row, "display_name")?,
        org_unit_id: column(row, "org_unit_id")?,
        org_unit_path: column(row, "org_unit_path")?,
        roles,
        volunteer_id: column(row, "volunteer_id")?,
        state: AccountState::from_number(state)
            .ok_or_else(|| corrupt(format!("account state {state}")))?,
        password_hash: column(row, "password_hash")?,
        password_change_required: required == 1,
        meta: meta_columns(row)?,
    })
}

fn roles_json(roles: &[Role]) -> String {
    serde_json::to_string(&roles.iter().map(|role| role.as_str()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_string())
}

/// The account with `username` (lowercase), if any.
pub async fn by_username<'e, E>(executor: E, username: &str) -> Result<Option<Account>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    account_where(executor, "username", username).await
}

/// The account with `id`, if any.
pub async fn get<'e, E>(executor: E, id: &str) -> Result<Option<Account>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    account_where(executor, "id", id).await
}

/// The account whose unique `column` (`id` or `username`) is `value`.
async fn account_where<'e, E>(
    executor: E,
    column: &'static str,
    value: &str,
) -> Result<Option<Account>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = $1"
    ))
    .bind(value)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("accounts"))?
    .as_ref()
    .map(account_from_row)
    .transpose()
}

/// How many accounts there are.
pub async fn count<'e, E>(executor: E) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query("SELECT COUNT(*) AS n FROM accounts")
        .fetch_one(executor)
        .await
        .map_err(sql_error("accounts"))?;
    column(&row, "n")
}

/// Inserts a new account; a taken username is ALREADY_EXISTS.
pub async fn insert(
    connection: &mut sqlx::AnyConnection,
    account: &Account,
) -> Result<(), ApiError> {
    let inserted = sqlx::query(&format!(
        "INSERT INTO accounts ({ACCOUNT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (username) DO NOTHING"
    ))
    .bind(account.id.as_str())
    .bind(account.username.as_str())
    .bind(account.display_name.as_str())
    .bind(account.org_unit_id.as_str())
    .bind(account.org_unit_path.as_str())
    .bind(roles_json(&account.roles))
    .bind(account.volunteer_id.as_deref())
    .bind(account.state as i64)
    .bind(account.password_hash.as_str())
    .bind(i64::from(account.password_change_required))
    .bind(account.meta.origin_instance.as_str())
    .bind(account.meta.version)
    .bind(account.meta.create_time)
    .bind(account.meta.update_time)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("accounts"))?;
    if inserted.rows_affected() == 0 {
        return Err(super::app::username_taken(&account.username));
    }
    Ok(())
}

/// Writes an account's state and password, if it is still at `previous_version`.
pub async fn update(
    connection: &mut sqlx::AnyConnection,
    account: &Account,
    previous_version: i64,
) -> Result<(), ApiError> {
    let updated = sqlx::query(
        "UPDATE accounts SET state = $2, password_hash = $3, password_change_required = $4, \
         version = $5, update_time = $6 WHERE id = $1 AND version = $7",
    )
    .bind(account.id.as_str())
    .bind(account.state as i64)
    .bind(account.password_hash.as_str())
    .bind(i64::from(account.password_change_required))
    .bind(account.meta.version)
    .bind(account.meta.update_time)
    .bind(previous_version)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("accounts"))?;
    if updated.rows_affected() == 0 {
        return Err(egret_storage::changed_concurrently(&format!(
            "accounts/{}",
            account.id
        )));
    }
    Ok(())
}

/// The fields an account listing sorts by; the first is its natural order.
pub static SORT_FIELDS: [SortField; 3] = [
    SortField::text("username", "a.username"),
    SortField::text("display_name", "a.display_name"),
    SortField::integer("create_time", "a.create_time"),
];

/// Accounts whose unit is in the subtree at `path`, in `ordering` after the key `after`,
/// each with its page-token key.
pub async fn list_subtree<'e, E>(
    executor: E,
    path: &str,
    ordering: Ordering,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(Account, String)>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (low, high) = egret_types::tree::subtree_bounds(path);
    let keyset = ordering.tail("a", after, 3)?;
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts a \
         WHERE org_unit_path >= $1 AND org_unit_path < $2 {}",
        keyset.sql
    );
    let query = sqlx::query(&sql).bind(low).bind(high);
    keyset
        .bind(query, limit)
        .fetch_all(executor)
        .await
        .map_err(sql_error("accounts"))?
        .iter()
        .map(|row| Ok((account_from_row(row)?, ordering.key_of(row)?)))
        .collect()
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// The sign-in it belongs to.
    pub family_id: String,
    /// The account.
    pub account_id: String,
    /// Microseconds since the epoch.
    pub expire_time: i64,
    /// Traded for the next one already.
    pub spent: bool,
    /// Ended by a sign-out, a reuse, a password change or a disabled account.
    pub revoked: bool,
}

/// Stores a refresh token by its digest.
pub async fn insert_refresh_token(
    connection: &mut sqlx::AnyConnection,
    digest: &str,
    token: &RefreshToken,
    now: i64,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (digest, family_id, account_id, expire_time, spent, revoked, \
         create_time) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest)
    .bind(token.family_id.as_str())
    .bind(token.account_id.as_str())
    .bind(token.expire_time)
    .bind(i64::from(token.spent))
    .bind(i64::from(token.revoked))
    .bind(now)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("refresh tokens"))?;
    Ok(())
}

/// The refresh token with `digest`, if any.
pub async fn refresh_token<'e, E>(
    executor: E,
    digest: &str,
) -> Result<Option<RefreshToken>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT family_id, account_id, expire_time, spent, revoked FROM refresh_tokens \
         WHERE digest = $1",
    )
    .bind(digest)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("refresh tokens"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let spent: i64 = column(&row, "spent")?;
    let revoked: i64 = column(&row, "revoked")?;
    Ok(Some(RefreshToken {
        family_id: column(&row, "family_id")?,
        account_id: column(&row, "account_id")?,
        expire_time: column(&row, "expire_time")?,
        spent: spent == 1,
        revoked: revoked == 1,
    }))
}

/// Marks a refresh token traded for the next; false when another call spent it first.
pub async fn spend_refresh_token(
    connection: &mut sqlx::AnyConnection,
    digest: &str,
) -> Result<bool, ApiError> {
    let updated =
        sqlx::query("UPDATE refresh_tokens SET spent = 1 WHERE digest = $1 AND spent = 0")
            .bind(digest)
            .execute(&mut *connection)
            .await
            .map_err(sql_error("refresh tokens"))?;
    Ok(updated.rows_affected() == 1)
}

/// Revokes every token of a sign-in.
pub async fn revoke_family(
    connection: &mut sqlx::AnyConnection,
    family_id: &str,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = $1")
        .bind(family_id)
        .execute(&mut *connection)
        .await
        .map_err(sql_error("refresh tokens"))?;
    Ok(())
}

/// Revokes every token of every sign-in of an account.
pub async fn revoke_account(
    connection: &mut sqlx::AnyConnection,
    account_id: &str,
) -> Result<(), ApiError> {
    sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *connection)
        .await
        .map_err(sql_error("refresh tokens"))?;
    Ok(())
}

/// One event of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Its id (time-ordered).
    pub id: String,
    /// The account, when the username matched one.
    pub account_id: Option<String>,
    /// The username as given.
    pub username: String,
    /// What happened.
    pub event: String,
    /// Who did it.
    pub actor: String,
    /// The address the call came from, or empty.
    pub source: String,
    /// Microseconds since the epoch.
    pub event_time: i64,
}

/// Appends an audit entry.
pub async fn insert_audit(
    connection: &mut sqlx::AnyConnection,
    entry: &AuditEntry,
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO audit_entries (id, account_id, username, event, actor, source, event_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.id.as_str())
    .bind(entry.account_id.as_deref())
    .bind(entry.username.as_str())
    .bind(entry.event.as_str())
    .bind(entry.actor.as_str())
    .bind(entry.source.as_str())
    .bind(entry.event_time)
    .execute(&mut *connection)
    .await
    .map_err(sql_error("audit entries"))?;
    Ok(())
}

/// Audit entries newest first (by id, which is time-ordered), before `before_id`: those
/// of the accounts in the subtree at `path`, and, when `with_unknown`, those of usernames
/// that matched no account; only `account_id`'s when given.
pub async fn list_audit<'e, E>(
    executor: E,
    path: &str,
    with_unknown: bool,
    account_id: Option<&str>,
    before_id: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (low, high) = egret_types::tree::subtree_bounds(path);
    let rows = sqlx::query(
        "SELECT e.id, e.account_id, e.username, e.event, e.actor, e.source, e.event_time \
         FROM audit_entries e LEFT JOIN accounts a ON a.id = e.account_id \
         WHERE ((a.org_unit_path >= $1 AND a.org_unit_path < $2) \
                OR ($3 = 1 AND e.account_id IS NULL)) \
           AND ($4 = '' OR e.account_id = $4) AND ($5 = '' OR e.id < $5) \
         ORDER BY e.id DESC LIMIT $6",
    )
    .bind(low)
    .bind(high)
    .bind(i64::from(with_unknown))
    .bind(account_id.unwrap_or(""))
    .bind(before_id.unwrap_or(""))
    .bind(limit)
    .fetch_all(executor)
    .await
    .map_err(sql_error("audit entries"))?;
    rows.iter()
        .map(|row| {
            Ok(AuditEntry {
                id: column(row, "id")?,
                account_id: column(row, "account_id")?,
                username: column(row, "username")?,
                event: column(row, "event")?,
                actor: column(row, "actor")?,
                source: column(row, "source")?,
                event_time: column(row, "event_time")?,
            })
        })
        .collect()
}
