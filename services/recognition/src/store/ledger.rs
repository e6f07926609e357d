//! The points ledger: postings, their lines, running account balances and the points
//! credited per volunteer and service day.

use egret_runtime::ApiError;
use egret_storage::rows::{column, corrupt, sql_error};
use egret_types::CivilDate;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Executor};

use crate::domain::ledger::{
    AccountBalance, BalancedPosting, ISSUANCE, LedgerSummary, Posting, PostingKind, PostingLine,
    REDEMPTION,
};

const POSTING_COLUMNS: &str =
    "p.id, p.kind, p.source, p.memo, p.actor, p.post_time, p.origin_instance";

fn posting_from_row(row: &AnyRow) -> Result<Posting, ApiError> {
    let kind: i64 = column(row, "kind")?;
    Ok(Posting {
        id: column(row, "id")?,
        kind: PostingKind::from_number(kind)
            .ok_or_else(|| corrupt(format!("posting kind {kind}")))?,
        lines: Vec::new(),
        source: column(row, "source")?,
        memo: column(row, "memo")?,
        actor: column(row, "actor")?,
        post_time: column(row, "post_time")?,
        origin_instance: column(row, "origin_instance")?,
    })
}

/// Who posts, where and when: the same for every posting of a transaction.
#[derive(Debug, Clone, Copy)]
pub struct Poster<'a> {
    /// The user, or the service for postings that follow hours.
    pub actor: &'a str,
    /// The instance.
    pub origin_instance: &'a str,
    /// The transaction's time (microseconds).
    pub now: i64,
}

/// Stores a balanced posting under `id` and moves the running balances of its accounts,
/// on the caller's transaction. Each balance moves with one `UPDATE … RETURNING`, which on
/// PostgreSQL locks the account's row until commit: a concurrent posting to the same account
/// waits and then sees this one, so every `balance_after` is exact and a caller can refuse
/// a posting that leaves an account negative by reading its line.
pub async fn post(
    conn: &mut AnyConnection,
    id: &str,
    posting: &BalancedPosting,
    poster: Poster<'_>,
) -> Result<Posting, ApiError> {
    sqlx::query(
        "INSERT INTO postings (id, kind, source, memo, actor, post_time, origin_instance) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(posting.kind() as i64)
    .bind(posting.source())
    .bind(posting.memo())
    .bind(poster.actor)
    .bind(poster.now)
    .bind(poster.origin_instance)
    .execute(&mut *conn)
    .await
    .map_err(sql_error("posting"))?;
    // Accounts are locked in name order, whatever the order of the lines, so that two
    // postings over the same accounts (a gift each way) cannot deadlock on PostgreSQL.
    let mut order: Vec<usize> = (0..posting.lines().len()).collect();
    order.sort_by(|&a, &b| posting.lines()[a].0.cmp(&posting.lines()[b].0));
    let mut moved = vec![(0, 0); posting.lines().len()];
    for index in order {
        let (account, points) = &posting.lines()[index];
        moved[index] = move_balance(conn, account, posting.kind(), *points).await?;
    }
    let mut lines = Vec::with_capacity(posting.lines().len());
    for (line_no, ((account, points), (balance_after, account_seq))) in
        posting.lines().iter().zip(moved).enumerate()
    {
        sqlx::query(
            "INSERT INTO posting_lines (posting_id, line_no, account, points, balance_after, \
             account_seq) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(line_no as i64)
        .bind(account)
        .bind(*points)
        .bind(balance_after)
        .bind(account_seq)
        .execute(&mut *conn)
        .await
        .map_err(sql_error("posting line"))?;
        lines.push(PostingLine {
            account: account.clone(),
            points: *points,
            balance_after,
        });
    }
    Ok(Posting {
        id: id.to_string(),
        kind: posting.kind(),
        lines,
        source: posting.source().to_string(),
        memo: posting.memo().to_string(),
        actor: poster.actor.to_string(),
        post_time: poster.now,
        origin_instance: poster.origin_instance.to_string(),
    })
}

/// Adds `points` to an account's running totals and returns its new balance and the new
/// line's place among the account's lines (its `account_seq`).
async fn move_balance(
    conn: &mut AnyConnection,
    account: &str,
    kind: PostingKind,
    points: i64,
) -> Result<(i64, i64), ApiError> {
    // The row must exist before the UPDATE can lock it; DO NOTHING keeps a concurrent
    // first posting to the same account from failing on the key.
    sqlx::query(
        "INSERT INTO account_balances (account, balance, earned, redeemed, gifted, line_count) \
         VALUES ($1, 0, 0, 0, 0, 0) ON CONFLICT (account) DO NOTHING",
    )
    .bind(account)
    .execute(&mut *conn)
    .await
    .map_err(sql_error("account balance"))?;
    let (earned, redeemed, gifted) = kind.bucket_deltas(points);
    let moved: (i64, i64) = sqlx::query_as(
        "UPDATE account_balances SET balance = balance + $2, earned = earned + $3, \
         redeemed = redeemed + $4, gifted = gifted + $5, line_count = line_count + 1 \
         WHERE account = $1 RETURNING balance, line_count",
    )
    .bind(account)
    .bind(points)
    .bind(earned)
    .bind(redeemed)
    .bind(gifted)
    .fetch_one(&mut *conn)
    .await
    .map_err(sql_error("account balance"))?;
    Ok(moved)
}

/// An account's running totals (all zero for an account without postings).
pub async fn balance<'e, E>(executor: E, account: &str) -> Result<AccountBalance, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT balance, earned, redeemed, gifted FROM account_balances WHERE account = $1",
    )
    .bind(account)
    .fetch_optional(executor)
    .await
    .map_err(sql_error("account balance"))?;
    Ok(row
        .map(|(balance, earned, redeemed, gifted)| AccountBalance {
            balance,
            earned,
            redeemed,
            gifted,
        })
        .unwrap_or_default())
}

async fn attach_lines(conn: &mut AnyConnection, postings: &mut [Posting]) -> Result<(), ApiError> {
    if postings.is_empty() {
        return Ok(());
    }
    let placeholders = (1..=postings.len())
        .map(|index| format!("${index}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT posting_id, account, points, balance_after FROM posting_lines \
         WHERE posting_id IN ({placeholders}) ORDER BY posting_id, line_no"
    );
    let mut query = sqlx::query(&sql);
    for posting in postings.iter() {
        query = query.bind(posting.id.clone());
    }
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(sql_error("posting line"))?;
    for row in &rows {
        let posting_id: String = column(row, "posting_id")?;
        let Some(posting) = postings.iter_mut().find(|posting| posting.id == posting_id) else {
            continue;
        };
        posting.lines.push(PostingLine {
            account: column(row, "account")?,
            points: column(row, "points")?,
            balance_after: column(row, "balance_after")?,
        });
    }
    Ok(())
}

/// One posting with its lines.
pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Posting>, ApiError> {
    let row = sqlx::query(&format!(
        "SELECT {POSTING_COLUMNS} FROM postings p WHERE p.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(sql_error("posting"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut postings = [posting_from_row(&row)?];
    attach_lines(conn, &mut postings).await?;
    let [posting] = postings;
    Ok(Some(posting))
}

/// The postings touching `account`, newest first (in the order the account's balance
/// moved), each with all its lines and its line's place among the account's lines, before
/// the place `before` (0 for the newest).
pub async fn statement(
    conn: &mut AnyConnection,
    account: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<(i64, Posting)>, ApiError> {
    let rows = sqlx::query(&format!(
        "SELECT {POSTING_COLUMNS}, l.account_seq FROM posting_lines l \
         JOIN postings p ON p.id = l.posting_id \
         WHERE l.account = $1 AND ($2 = 0 OR l.account_seq < $2) \
         ORDER BY l.account_seq DESC LIMIT $3"
    ))
    .bind(account)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .map_err(sql_error("posting"))?;
    let mut places = Vec::with_capacity(rows.len());
    let mut postings = Vec::with_capacity(rows.len());
    for row in &rows {
        places.push(column::<i64>(row, "account_seq")?);
        postings.push(posting_from_row(row)?);
    }
    attach_lines(conn, &mut postings).await?;
    Ok(places.into_iter().zip(postings).collect())
}

/// The trial balance. The total sums the lines themselves, not the running balances, so
/// it checks what was posted rather than what was kept.
pub async fn summary<'e, E>(executor: E) -> Result<LedgerSummary, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let (issued, redeemed, volunteer_balances, total, posting_count): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT \
             (SELECT CAST(COALESCE(SUM(-balance), 0) AS BIGINT) FROM account_balances WHERE account = $1), \
             (SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM account_balances WHERE account = $2), \
             (SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM account_balances \
              WHERE account LIKE 'volunteers/%'), \
             (SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM posting_lines), \
             (SELECT COUNT(*) FROM postings)",
        )
        .bind(ISSUANCE)
        .bind(REDEMPTION)
        .fetch_one(executor)
        .await
        .map_err(sql_error("ledger"))?;
    Ok(LedgerSummary {
        issued,
        redeemed,
        volunteer_balances,
        total,
        posting_count,
    })
}

/// The points credited for a volunteer's service day (0 when none).
pub async fn earned_points<'e, E>(
    executor: E,
    volunteer_id: &str,
    day: CivilDate,
) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT points FROM earned_points WHERE volunteer_id = $1 AND service_date = $2",
    )
    .bind(volunteer_id)
    .bind(day.to_iso())
    .fetch_optional(executor)
    .await
    .map_err(sql_error("earned points"))?;
    Ok(row.map_or(0, |(points,)| points))
}

/// Records the points now credited for a volunteer's service day.
pub async fn set_earned_points<'e, E>(
    executor: E,
    volunteer_id: &str,
    day: CivilDate,
    points: i64,
) -> Result<(), ApiError>
where
    E: Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO earned_points (volunteer_id, service_date, points) VALUES ($1, $2, $3) \
         ON CONFLICT (volunteer_id, service_date) DO UPDATE SET points = excluded.points",
    )
    .bind(volunteer_id)
    .bind(day.to_iso())
    .bind(points)
    .execute(executor)
    .await
    .map_err(sql_error("earned points"))?;
    Ok(())
}
