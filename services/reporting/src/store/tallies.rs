//! The tallies' SQL: what a changed record contributed (read from the replica), the rows
//! that change, a rebuild from the whole replica, and the figures a query reads.
//!
//! A feed computes the contributions of every record a change touches before and after
//! it, in the same transaction, and adds the difference: the tallies are always a function
//! of the replica, whatever order the feeds deliver in.

use std::collections::HashMap;

use egret_runtime::ApiError;
use egret_storage::Database;
use egret_storage::rows::{sql_error, value_rows};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::domain::stats::{Metric, Query};
use crate::domain::tallies::{
    self, Cover, DatedFacts, Deltas, Fact, Grain, Reading, UnitFacts, VolunteerFacts,
};
use crate::store::stats::{self, HELD_STATES, Row2, Scope, serves_in_subtree};

/// A record whose contribution to the tallies a change may move.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// An org unit (as a team).
    Unit(String),
    /// A volunteer, with their memberships, qualifications and cover.
    Volunteer(String),
    /// An activity.
    Activity(String),
    /// A unit's approved hours on a day.
    Hours {
        /// The unit.
        org_unit_id: String,
        /// The day.
        day: String,
    },
    /// A star rating.
    StarRating(String),
    /// A commendation.
    Commendation(String),
}

fn broken(what: &'static str) -> impl Fn(sqlx::Error) -> ApiError {
    move |error| ApiError::Internal(anyhow::anyhow!("tallies {what}: {error}"))
}

fn text(row: &AnyRow, index: usize) -> Result<String, ApiError> {
    row.try_get::<String, _>(index).map_err(broken("row"))
}

fn number(row: &AnyRow, index: usize) -> Result<i64, ApiError> {
    row.try_get::<i64, _>(index).map_err(broken("row"))
}

/// What `sources` contribute now.
pub async fn contributions(
    connection: &mut AnyConnection,
    sources: &[Source],
) -> Result<Deltas, ApiError> {
    let mut deltas = Deltas::default();
    for source in sources {
        match source {
            Source::Unit(id) => unit(connection, id, &mut deltas).await?,
            Source::Volunteer(id) => {
                if let Some(facts) = volunteer(connection, id).await? {
                    deltas.add_volunteer(&facts);
                }
            }
            Source::Activity(id) => {
                dated(
                    connection,
                    &format!(
                        "SELECT o.path, a.start_date, CAST(a.service_theme AS TEXT), \
                         CAST(1 AS BIGINT) FROM activities a JOIN org_units o ON o.id = a.org_unit_id \
                         WHERE a.id = $1 AND a.state IN {HELD_STATES}"
                    ),
                    &[id],
                    Fact::Activities,
                    &mut deltas,
                )
                .await?
            }
            Source::Hours { org_unit_id, day } => {
                hours(connection, org_unit_id, day, &mut deltas).await?
            }
            Source::StarRating(id) => {
                dated(
                    connection,
                    "SELECT o.path, s.award_date, CAST(s.stars AS TEXT), CAST(1 AS BIGINT) \
                     FROM star_ratings s JOIN org_units o ON o.id = s.nominating_org_unit_id \
                     WHERE s.id = $1 AND s.awarded = 1",
                    &[id],
                    Fact::StarRatings,
                    &mut deltas,
                )
                .await?
            }
            Source::Commendation(id) => {
                dated(
                    connection,
                    "SELECT o.path, c.award_date, '', CAST(1 AS BIGINT) \
                     FROM commendations c JOIN org_units o ON o.id = c.nominating_org_unit_id \
                     WHERE c.id = $1 AND c.awarded = 1",
                    &[id],
                    Fact::Commendations,
                    &mut deltas,
                )
                .await?
            }
        }
    }
    Ok(deltas)
}

/// Adds what `sources` contribute now less what they contributed `before`.
pub async fn settle(
    connection: &mut AnyConnection,
    sources: &[Source],
    before: Deltas,
) -> Result<(), ApiError> {
    let mut change = contributions(connection, sources).await?;
    change.merge(&before, -1);
    write(connection, change).await
}

async fn unit(
    connection: &mut AnyConnection,
    id: &str,
    deltas: &mut Deltas,
) -> Result<(), ApiError> {
    let row = sqlx::query(
        "SELECT path, CAST(tier AS BIGINT), CAST(status AS BIGINT) FROM org_units WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    let Some(row) = row else {
        return Ok(());
    };
    deltas.add_unit(&UnitFacts {
        path: text(&row, 0)?,
        tier: number(&row, 1)?,
        status: number(&row, 2)?,
    });
    Ok(())
}

/// Dated facts of one kind from rows of (path, day, bucket, amount).
async fn dated(
    connection: &mut AnyConnection,
    sql: &str,
    binds: &[&str],
    fact: Fact,
    deltas: &mut Deltas,
) -> Result<(), ApiError> {
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = query.bind(*bind);
    }
    let rows = query
        .fetch_all(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
    for row in &rows {
        let bucket = text(row, 2)?;
        let amount = number(row, 3)?;
        deltas.add_dated(&DatedFacts {
            path: text(row, 0)?,
            day: text(row, 1)?,
            amounts: vec![(fact, bucket, amount)],
        });
    }
    Ok(())
}

async fn hours(
    connection: &mut AnyConnection,
    org_unit_id: &str,
    day: &str,
    deltas: &mut Deltas,
) -> Result<(), ApiError> {
    let rows = sqlx::query(
        "SELECT o.path, h.service_date, CAST(h.minutes AS BIGINT), CAST(h.records AS BIGINT) \
         FROM hours_daily h JOIN org_units o ON o.id = h.org_unit_id \
         WHERE h.org_unit_id = $1 AND h.service_date = $2",
    )
    .bind(org_unit_id)
    .bind(day)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    add_hours(&rows, deltas)
}

fn add_hours(rows: &[AnyRow], deltas: &mut Deltas) -> Result<(), ApiError> {
    for row in rows {
        deltas.add_dated(&DatedFacts {
            path: text(row, 0)?,
            day: text(row, 1)?,
            amounts: vec![
                (Fact::ApprovedMinutes, String::new(), number(row, 2)?),
                (Fact::ServiceRecords, String::new(), number(row, 3)?),
            ],
        });
    }
    Ok(())
}

async fn volunteer(
    connection: &mut AnyConnection,
    id: &str,
) -> Result<Option<VolunteerFacts>, ApiError> {
    let row = sqlx::query(
        "SELECT CAST(status AS BIGINT), CAST(gender AS BIGINT), birth_date, registered_on \
         FROM volunteers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut facts = VolunteerFacts {
        status: number(&row, 0)?,
        gender: number(&row, 1)?,
        birth_date: text(&row, 2)?,
        registered_on: text(&row, 3)?,
        ..VolunteerFacts::default()
    };
    let paths = sqlx::query(
        "SELECT o.path FROM volunteers v JOIN org_units o ON o.id = v.registering_org_unit_id \
         WHERE v.id = $1 UNION SELECT o.path FROM volunteer_memberships m \
         JOIN org_units o ON o.id = m.org_unit_id WHERE m.volunteer_id = $1 AND m.active = 1",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    for row in &paths {
        facts.unit_paths.push(text(row, 0)?);
    }
    let granted = sqlx::query("SELECT granted_date FROM qualifications WHERE volunteer_id = $1")
        .bind(id)
        .fetch_all(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
    for row in &granted {
        facts.qualification_dates.push(text(row, 0)?);
    }
    let covers = sqlx::query(
        "SELECT p.org_unit_id, p.start_date, p.end_date, CAST(p.covers_subtree AS BIGINT), \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM policy_volunteers pv WHERE pv.policy_id = p.id \
         AND pv.volunteer_id = $1) THEN 1 ELSE 0 END AS BIGINT) \
         FROM insurance_policies p WHERE p.active = 1",
    )
    .bind(id)
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    for row in &covers {
        facts.covers.push(cover(row)?);
    }
    Ok(Some(facts))
}

fn cover(row: &AnyRow) -> Result<Cover, ApiError> {
    Ok(Cover {
        org_unit_id: text(row, 0)?,
        start_date: text(row, 1)?,
        end_date: text(row, 2)?,
        covers_subtree: number(row, 3)? == 1,
        names_volunteer: number(row, 4)? == 1,
    })
}

/// The sources located at `org_unit_id`: what a unit new to the replica starts counting.
pub async fn sources_at(
    connection: &mut AnyConnection,
    org_unit_id: &str,
) -> Result<Vec<Source>, ApiError> {
    let statements = [
        "SELECT id FROM volunteers WHERE registering_org_unit_id = $1 \
         UNION SELECT volunteer_id FROM volunteer_memberships WHERE org_unit_id = $1",
        "SELECT id FROM activities WHERE org_unit_id = $1",
        "SELECT id FROM star_ratings WHERE nominating_org_unit_id = $1",
        "SELECT id FROM commendations WHERE nominating_org_unit_id = $1",
        "SELECT service_date FROM hours_daily WHERE org_unit_id = $1",
    ];
    let mut sources = vec![Source::Unit(org_unit_id.to_string())];
    for (index, sql) in statements.into_iter().enumerate() {
        let rows = sqlx::query(sql)
            .bind(org_unit_id)
            .fetch_all(&mut *connection)
            .await
            .map_err(sql_error("tallies"))?;
        for row in &rows {
            let value = text(row, 0)?;
            sources.push(match index {
                0 => Source::Volunteer(value),
                1 => Source::Activity(value),
                2 => Source::StarRating(value),
                3 => Source::Commendation(value),
                _ => Source::Hours {
                    org_unit_id: org_unit_id.to_string(),
                    day: value,
                },
            });
        }
    }
    Ok(sources)
}

/// Adds `deltas` to the tally rows, many rows to a statement.
pub async fn write(connection: &mut AnyConnection, deltas: Deltas) -> Result<(), ApiError> {
    let rows = deltas.nonzero();
    for chunk in rows.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO tallies (subtree_id, fact, grain, period, bucket, value) VALUES ",
        );
        sql.push_str(&value_rows(connection, chunk.len(), 6));
        sql.push_str(
            " ON CONFLICT (subtree_id, fact, grain, period, bucket) \
             DO UPDATE SET value = tallies.value + excluded.value",
        );
        let mut query = sqlx::query(&sql);
        for (key, amount) in chunk {
            query = query
                .bind(key.subtree_id.as_str())
                .bind(key.fact.number())
                .bind(key.grain.number())
                .bind(key.period.as_str())
                .bind(key.bucket.as_str())
                .bind(*amount);
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(sql_error("tallies"))?;
    }
    Ok(())
}

/// Holds the tallies' lock until the transaction ends. A record's contribution is read
/// from rows other feeds write (an activity counts under its unit's path), so two feeds
/// applying at once on PostgreSQL, each blind to the other's uncommitted row (a unit, and
/// an activity at it), would both count nothing; holding this row, they take turns, and
/// the second reads what the first wrote. SQLite has a single writer already.
pub async fn lock(connection: &mut AnyConnection) -> Result<(), ApiError> {
    sqlx::query("UPDATE tally_state SET counted = counted")
        .execute(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
    Ok(())
}

/// Counts the tallies from the replica if they have never been counted (a database that
/// predates them), as `actor`. Returns whether it counted.
pub async fn ensure_counted(database: &Database, actor: &str) -> Result<bool, ApiError> {
    let mut transaction = database.begin(actor, "tallies").await?;
    let (counted,): (i64,) = sqlx::query_as("SELECT CAST(counted AS BIGINT) FROM tally_state")
        .fetch_one(transaction.conn())
        .await
        .map_err(sql_error("tallies"))?;
    if counted == 1 {
        return Ok(false);
    }
    rebuild(transaction.conn(), Recount::All).await?;
    sqlx::query("UPDATE tally_state SET counted = 1")
        .execute(transaction.conn())
        .await
        .map_err(sql_error("tallies"))?;
    transaction.commit().await?;
    Ok(true)
}

/// What a recount covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recount {
    /// Every tally.
    All,
    /// Insurance cover only: a policy changed, and with it possibly a whole subtree's.
    Cover,
}

/// Counts tallies again from the whole replica: for what moves too much to follow record
/// by record (a policy covering a subtree), and for data that predates the tallies.
pub async fn rebuild(connection: &mut AnyConnection, recount: Recount) -> Result<(), ApiError> {
    match recount {
        Recount::Cover => {
            sqlx::query("DELETE FROM tallies WHERE fact = $1")
                .bind(Fact::InsuredSpans.number())
                .execute(&mut *connection)
                .await
        }
        Recount::All => {
            sqlx::query("DELETE FROM tallies")
                .execute(&mut *connection)
                .await
        }
    }
    .map_err(sql_error("tallies"))?;
    let units =
        sqlx::query("SELECT id, path, CAST(tier AS BIGINT), CAST(status AS BIGINT) FROM org_units")
            .fetch_all(&mut *connection)
            .await
            .map_err(sql_error("tallies"))?;
    let mut paths = HashMap::with_capacity(units.len());
    let mut deltas = Deltas::default();
    for row in &units {
        let facts = UnitFacts {
            path: text(row, 1)?,
            tier: number(row, 2)?,
            status: number(row, 3)?,
        };
        if recount == Recount::All {
            deltas.add_unit(&facts);
        }
        paths.insert(text(row, 0)?, facts.path);
    }
    if recount == Recount::All {
        write(connection, deltas).await?;
        let families: [(String, Fact); 3] = [
            (
                format!(
                    "SELECT o.path, a.start_date, CAST(a.service_theme AS TEXT), \
                     CAST(COUNT(*) AS BIGINT) FROM activities a JOIN org_units o \
                     ON o.id = a.org_unit_id WHERE a.state IN {HELD_STATES} \
                     GROUP BY o.path, a.start_date, a.service_theme"
                ),
                Fact::Activities,
            ),
            (
                "SELECT o.path, s.award_date, CAST(s.stars AS TEXT), CAST(COUNT(*) AS BIGINT) \
                 FROM star_ratings s JOIN org_units o ON o.id = s.nominating_org_unit_id \
                 WHERE s.awarded = 1 GROUP BY o.path, s.award_date, s.stars"
                    .to_string(),
                Fact::StarRatings,
            ),
            (
                "SELECT o.path, c.award_date, '', CAST(COUNT(*) AS BIGINT) \
                 FROM commendations c JOIN org_units o ON o.id = c.nominating_org_unit_id \
                 WHERE c.awarded = 1 GROUP BY o.path, c.award_date"
                    .to_string(),
                Fact::Commendations,
            ),
        ];
        for (sql, fact) in &families {
            let mut deltas = Deltas::default();
            dated(connection, sql, &[], *fact, &mut deltas).await?;
            write(connection, deltas).await?;
        }
        let hours = sqlx::query(
            "SELECT o.path, h.service_date, CAST(h.minutes AS BIGINT), CAST(h.records AS BIGINT) \
             FROM hours_daily h JOIN org_units o ON o.id = h.org_unit_id",
        )
        .fetch_all(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
        let mut deltas = Deltas::default();
        add_hours(&hours, &mut deltas)?;
        write(connection, deltas).await?;
    }
    let volunteers = all_volunteers(connection, &paths).await?;
    let mut deltas = Deltas::default();
    for facts in volunteers.values() {
        match recount {
            Recount::Cover => deltas.add_volunteer_cover(facts),
            Recount::All => deltas.add_volunteer(facts),
        }
    }
    write(connection, deltas).await
}

async fn all_volunteers(
    connection: &mut AnyConnection,
    paths: &HashMap<String, String>,
) -> Result<HashMap<String, VolunteerFacts>, ApiError> {
    let rows = sqlx::query(
        "SELECT id, CAST(status AS BIGINT), CAST(gender AS BIGINT), birth_date, registered_on, \
         registering_org_unit_id FROM volunteers",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    let mut volunteers = HashMap::with_capacity(rows.len());
    for row in &rows {
        let mut facts = VolunteerFacts {
            status: number(row, 1)?,
            gender: number(row, 2)?,
            birth_date: text(row, 3)?,
            registered_on: text(row, 4)?,
            ..VolunteerFacts::default()
        };
        if let Some(path) = paths.get(&text(row, 5)?) {
            facts.unit_paths.push(path.clone());
        }
        volunteers.insert(text(row, 0)?, facts);
    }
    let memberships =
        sqlx::query("SELECT volunteer_id, org_unit_id FROM volunteer_memberships WHERE active = 1")
            .fetch_all(&mut *connection)
            .await
            .map_err(sql_error("tallies"))?;
    for row in &memberships {
        if let (Some(facts), Some(path)) = (
            volunteers.get_mut(&text(row, 0)?),
            paths.get(&text(row, 1)?),
        ) {
            facts.unit_paths.push(path.clone());
        }
    }
    let granted = sqlx::query("SELECT volunteer_id, granted_date FROM qualifications")
        .fetch_all(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
    for row in &granted {
        if let Some(facts) = volunteers.get_mut(&text(row, 0)?) {
            facts.qualification_dates.push(text(row, 1)?);
        }
    }
    let policies = sqlx::query(
        "SELECT id, org_unit_id, start_date, end_date, CAST(covers_subtree AS BIGINT) \
         FROM insurance_policies WHERE active = 1",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(sql_error("tallies"))?;
    let mut by_id = HashMap::new();
    for row in &policies {
        let cover = Cover {
            org_unit_id: text(row, 1)?,
            start_date: text(row, 2)?,
            end_date: text(row, 3)?,
            covers_subtree: number(row, 4)? == 1,
            names_volunteer: false,
        };
        by_id.insert(text(row, 0)?, cover);
    }
    // A covering policy reaches everyone it covers through their units; a named volunteer
    // gets the policy named.
    let covering: Vec<Cover> = by_id
        .values()
        .filter(|cover| cover.covers_subtree)
        .cloned()
        .collect();
    if !covering.is_empty() {
        for facts in volunteers.values_mut() {
            facts.covers.extend(covering.iter().cloned());
        }
    }
    let named = sqlx::query("SELECT policy_id, volunteer_id FROM policy_volunteers")
        .fetch_all(&mut *connection)
        .await
        .map_err(sql_error("tallies"))?;
    for row in &named {
        if let (Some(cover), Some(facts)) = (
            by_id.get(&text(row, 0)?),
            volunteers.get_mut(&text(row, 1)?),
        ) {
            facts.covers.push(Cover {
                names_volunteer: true,
                ..cover.clone()
            });
        }
    }
    Ok(volunteers)
}

/// A query's buckets (raw keys) and total, read from the tallies of the subtree rooted at
/// `subtree_id` (whose paths are `bounds`).
pub async fn figures(
    pool: &AnyPool,
    reading: &Reading,
    query: &Query,
    subtree_id: &str,
    bounds: (&str, &str),
) -> Result<(Vec<Row2>, i64), ApiError> {
    let mut rows = match reading {
        Reading::Teams => sums_by(pool, "bucket", subtree_id, Fact::Teams, Grain::Whole)
            .await?
            .into_iter()
            .map(|(bucket, value)| Row2 {
                keys: vec![bucket],
                value,
            })
            .collect(),
        Reading::Dated {
            fact,
            by_bucket,
            by_month,
            bucket_first,
        } => {
            // Volunteers count from their registration, whatever the period's first day.
            let start = if *fact == Fact::Volunteers {
                None
            } else {
                query.start
            };
            let windows = tallies::windows(start, query.end);
            let cells = dated_cells(pool, subtree_id, *fact, &windows).await?;
            let mut grouped: HashMap<Vec<String>, i64> = HashMap::new();
            for (month, bucket, value) in cells {
                let keys = match (*by_bucket, *by_month, *bucket_first) {
                    (true, true, true) => vec![bucket, month],
                    (true, true, false) => vec![month, bucket],
                    (true, false, _) => vec![bucket],
                    (false, true, _) => vec![month],
                    (false, false, _) => Vec::new(),
                };
                *grouped.entry(keys).or_insert(0) += value;
            }
            grouped
                .into_iter()
                .map(|(keys, value)| Row2 { keys, value })
                .collect()
        }
        Reading::VolunteersByAge => volunteers_by_age(pool, query, subtree_id, bounds).await?,
        Reading::Trained => {
            let windows = tallies::windows(query.start, query.end);
            let granted: i64 = dated_cells(pool, subtree_id, Fact::Qualifications, &windows)
                .await?
                .into_iter()
                .map(|(_, _, value)| value)
                .sum();
            let pairs = span_sum(
                pool,
                "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM tallies WHERE subtree_id = $1 \
                 AND fact = $2 AND grain = $3 AND period >= $4 AND bucket <= $5",
                subtree_id,
                Fact::QualificationPairs,
                (&query.start_text(), &query.end.to_iso()),
            )
            .await?;
            vec![Row2 {
                keys: Vec::new(),
                value: granted - pairs,
            }]
        }
        Reading::Insured => {
            let end = query.end.to_iso();
            let insured = span_sum(
                pool,
                "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM tallies WHERE subtree_id = $1 \
                 AND fact = $2 AND grain = $3 AND period <= $4 AND bucket >= $5",
                subtree_id,
                Fact::InsuredSpans,
                (&end, &end),
            )
            .await?;
            vec![Row2 {
                keys: Vec::new(),
                value: insured,
            }]
        }
    };
    let total = rows.iter().map(|row| row.value).sum();
    rows.retain(|row| !row.keys.is_empty() && row.value != 0);
    rows.sort_by(|a, b| a.keys.cmp(&b.keys));
    if query.dimensions.is_empty() {
        rows.clear();
    }
    Ok((rows, total))
}

/// A query broken down by unit (at `position` among its dimensions; `inner` is the query
/// without that dimension): each unit under the queried one from its own tallies, and
/// the queried unit's own facts (key `''`) from the replica, where they are few.
pub async fn figures_by_unit(
    pool: &AnyPool,
    (position, inner): (usize, &Query),
    subtree_id: &str,
    path: &str,
) -> Result<(Vec<Row2>, i64), ApiError> {
    let reading = tallies::reading(inner).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("the tallies do not answer {inner:?}"))
    })?;
    let bounds = egret_types::tree::subtree_bounds(path);
    let (_, total) = figures(pool, &reading, inner, subtree_id, (&bounds.0, &bounds.1)).await?;
    let children: Vec<(String, String)> =
        sqlx::query_as("SELECT id, path FROM org_units WHERE parent_id = $1")
            .bind(subtree_id)
            .fetch_all(pool)
            .await
            .map_err(sql_error("statistics"))?;
    let mut rows = Vec::new();
    let place = |key: &str, found: (Vec<Row2>, i64), rows: &mut Vec<Row2>| {
        let (found_rows, found_total) = found;
        if inner.dimensions.is_empty() {
            if found_total != 0 {
                rows.push(Row2 {
                    keys: vec![key.to_string()],
                    value: found_total,
                });
            }
            return;
        }
        for mut row in found_rows {
            row.keys.insert(position, key.to_string());
            rows.push(row);
        }
    };
    for (child_id, child_path) in &children {
        let child_bounds = egret_types::tree::subtree_bounds(child_path);
        let found = figures(
            pool,
            &reading,
            inner,
            child_id,
            (&child_bounds.0, &child_bounds.1),
        )
        .await?;
        place(child_id, found, &mut rows);
    }
    // The unit's own paths are [path, path + U+0001): every path below it continues
    // with an id, whose characters all sort after U+0001.
    let own_high = format!("{path}\u{1}");
    let own = Scope {
        bounds: (path, &own_high),
        root_path_len: path.len(),
    };
    place("", stats::run(pool, inner, &own).await?, &mut rows);
    rows.sort_by(|a, b| a.keys.cmp(&b.keys));
    Ok((rows, total))
}

/// The sums of a fact's rows of one grain under `subtree_id`, by `column` (`bucket` or
/// `period`).
async fn sums_by(
    pool: &AnyPool,
    column: &'static str,
    subtree_id: &str,
    fact: Fact,
    grain: Grain,
) -> Result<Vec<(String, i64)>, ApiError> {
    let rows = sqlx::query(&format!(
        "SELECT {column}, CAST(SUM(value) AS BIGINT) FROM tallies \
         WHERE subtree_id = $1 AND fact = $2 AND grain = $3 GROUP BY {column}"
    ))
    .bind(subtree_id)
    .bind(fact.number())
    .bind(grain.number())
    .fetch_all(pool)
    .await
    .map_err(sql_error("statistics"))?;
    rows.iter()
        .map(|row| Ok((text(row, 0)?, number(row, 1)?)))
        .collect()
}

/// (month, bucket, value) of a dated fact over `windows`.
async fn dated_cells(
    pool: &AnyPool,
    subtree_id: &str,
    fact: Fact,
    windows: &tallies::Windows,
) -> Result<Vec<(String, String, i64)>, ApiError> {
    let mut parts = Vec::new();
    let mut binds: Vec<String> = vec![subtree_id.to_string()];
    let param = |value: String, binds: &mut Vec<String>| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if let Some((first, past_last)) = &windows.months {
        let first = param(first.clone(), &mut binds);
        let past_last = param(past_last.clone(), &mut binds);
        parts.push(format!(
            "SELECT period, bucket, value FROM tallies WHERE subtree_id = $1 AND fact = {} \
             AND grain = {} AND period >= {first} AND period < {past_last}",
            fact.number(),
            Grain::Month.number()
        ));
    }
    for (first, last) in &windows.days {
        let first = param(first.clone(), &mut binds);
        let last = param(last.clone(), &mut binds);
        parts.push(format!(
            "SELECT period, bucket, value FROM tallies WHERE subtree_id = $1 AND fact = {} \
             AND grain = {} AND period >= {first} AND period <= {last}",
            fact.number(),
            Grain::Day.number()
        ));
    }
    let sql = format!(
        "SELECT SUBSTR(t.period, 1, 7) AS month, t.bucket, CAST(SUM(t.value) AS BIGINT) \
         FROM ({}) t GROUP BY SUBSTR(t.period, 1, 7), t.bucket",
        parts.join(" UNION ALL ")
    );
    let mut statement = sqlx::query(&sql);
    for bind in &binds {
        statement = statement.bind(bind.as_str());
    }
    let rows = statement
        .fetch_all(pool)
        .await
        .map_err(sql_error("statistics"))?;
    rows.iter()
        .map(|row| Ok((text(row, 0)?, text(row, 1)?, number(row, 2)?)))
        .collect()
}

async fn span_sum(
    pool: &AnyPool,
    sql: &str,
    subtree_id: &str,
    fact: Fact,
    (first, second): (&str, &str),
) -> Result<i64, ApiError> {
    let row = sqlx::query(sql)
        .bind(subtree_id)
        .bind(fact.number())
        .bind(Grain::Span.number())
        .bind(first)
        .bind(second)
        .fetch_one(pool)
        .await
        .map_err(sql_error("statistics"))?;
    number(&row, 0)
}

/// Active volunteers registered by the last day, by age band on it: whole birth months
/// from the tallies, and person by person those born in a month where a band begins and
/// those registered after the day (whom the birth-month tallies hold).
async fn volunteers_by_age(
    pool: &AnyPool,
    query: &Query,
    subtree_id: &str,
    (low, high): (&str, &str),
) -> Result<Vec<Row2>, ApiError> {
    debug_assert_eq!(query.metric, Metric::Volunteers);
    let bounds = tallies::band_bounds(query.end);
    let split = tallies::split_months(&bounds);
    let months = sums_by(
        pool,
        "period",
        subtree_id,
        Fact::VolunteersBorn,
        Grain::BirthMonth,
    )
    .await?;
    let mut bands: HashMap<&'static str, i64> = HashMap::new();
    for (month, value) in months {
        if split.contains(&month) {
            continue;
        }
        *bands
            .entry(tallies::band_of(&format!("{month}-01"), &bounds))
            .or_insert(0) += value;
    }
    let end = query.end.to_iso();
    // One indexed range per part: those registered after the day, and each split month.
    let serves = serves_in_subtree("$1", "$2");
    let mut binds = vec![low.to_string(), high.to_string(), end.clone()];
    let mut parts = vec![format!(
        "SELECT v.id, v.birth_date, v.registered_on FROM volunteers v WHERE v.status = 1 \
         AND v.registered_on > $3 AND ({serves})"
    )];
    for month in &split {
        binds.push(format!("{month}-01"));
        binds.push(format!("{month}-31"));
        parts.push(format!(
            "SELECT v.id, v.birth_date, v.registered_on FROM volunteers v WHERE v.status = 1 \
             AND v.birth_date >= ${} AND v.birth_date <= ${} AND ({serves})",
            binds.len() - 1,
            binds.len()
        ));
    }
    // UNION ALL and a set of ids here: SQLite would sort a UNION through a temporary file.
    let sql = parts.join(" UNION ALL ");
    let mut statement = sqlx::query(&sql);
    for bind in &binds {
        statement = statement.bind(bind.as_str());
    }
    let people = statement
        .fetch_all(pool)
        .await
        .map_err(sql_error("statistics"))?;
    let mut seen = std::collections::HashSet::new();
    for row in &people {
        if !seen.insert(text(row, 0)?) {
            continue;
        }
        let birth_date = text(row, 1)?;
        let registered_on = text(row, 2)?;
        let tallied = birth_date.len() >= 7 && !split.contains(&birth_date[..7]);
        let counts = registered_on <= end;
        if tallied && !counts {
            let month = &birth_date[..7];
            *bands
                .entry(tallies::band_of(&format!("{month}-01"), &bounds))
                .or_insert(0) -= 1;
        } else if !tallied && counts {
            *bands
                .entry(tallies::band_of(&birth_date, &bounds))
                .or_insert(0) += 1;
        }
    }
    Ok(bands
        .into_iter()
        .map(|(label, value)| Row2 {
            keys: vec![label.to_string()],
            value,
        })
        .collect())
}
