//! Statistics as SQL: each metric is one FROM/WHERE shape over the replica (or the hours
//! rollup) restricted to a subtree by path range, each dimension one key expression.

use egret_runtime::ApiError;
use egret_storage::rows::sql_error;
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::stats::{AGE_BANDS, Dimension, Metric, Query, born_by};

/// A statement being built, with its binds in order.
struct Statement {
    text: String,
    binds: Vec<String>,
}

impl Statement {
    /// A placeholder for `value`.
    fn param(&mut self, value: impl Into<String>) -> String {
        self.binds.push(value.into());
        format!("${}", self.binds.len())
    }
}

/// The subtree and period every statement filters on.
pub struct Scope<'a> {
    /// `[low, high)` of the subtree's paths.
    pub bounds: (&'a str, &'a str),
    /// The root's path length: a unit's child-of-root id starts right after it.
    pub root_path_len: usize,
}

/// One grouped figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row2 {
    /// The raw keys, one per dimension.
    pub keys: Vec<String>,
    /// The figure.
    pub value: i64,
}

/// The activity states that count as held.
pub(crate) const HELD_STATES: &str = "('published', 'in_progress', 'completed')";

fn base(
    metric: Metric,
    query: &Query,
    scope: &Scope<'_>,
    statement: &mut Statement,
) -> (String, String) {
    let low = statement.param(scope.bounds.0);
    let high = statement.param(scope.bounds.1);
    let subtree = format!("o.path >= {low} AND o.path < {high}");
    let by_unit = query.dimensions.contains(&Dimension::OrgUnit)
        || query
            .filters
            .iter()
            .any(|(dimension, _)| *dimension == Dimension::OrgUnit);
    let start = query.start_text();
    let end = query.end.to_iso();
    let mut between = |column: &str| {
        let start = statement.param(start.clone());
        let end = statement.param(end.clone());
        format!("{column} >= {start} AND {column} <= {end}")
    };
    match metric {
        Metric::Teams => {
            let status = if query.dimensions.contains(&Dimension::OrgStatus) {
                ""
            } else {
                " AND o.status = 1"
            };
            (
                format!("FROM org_units o WHERE o.tier >= 2 AND {subtree}{status}"),
                "COUNT(DISTINCT o.id)".to_string(),
            )
        }
        Metric::Volunteers | Metric::InsuredVolunteers | Metric::NewVolunteers => {
            let registered = if metric == Metric::NewVolunteers {
                between("v.registered_on")
            } else {
                let end_param = statement.param(end.clone());
                format!("v.status = 1 AND v.registered_on <= {end_param}")
            };
            let insured = if metric == Metric::InsuredVolunteers {
                let on = statement.param(end);
                // Named on a policy in force, or serving in a unit that a policy in force
                // covers with its subtree. The covered units are one uncorrelated set
                // (a path range per policy), computed once, not per volunteer.
                let covered = format!(
                    "SELECT cu.id FROM insurance_policies p JOIN org_units po \
                     ON po.id = p.org_unit_id JOIN org_units cu ON cu.path >= po.path \
                     AND cu.path < po.path || '~' WHERE p.covers_subtree = 1 AND p.active = 1 \
                     AND p.start_date <= {on} AND p.end_date >= {on}"
                );
                format!(
                    " AND (EXISTS (SELECT 1 FROM policy_volunteers pv JOIN insurance_policies p \
                     ON p.id = pv.policy_id WHERE pv.volunteer_id = v.id AND p.active = 1 \
                     AND p.start_date <= {on} AND p.end_date >= {on}) \
                     OR v.registering_org_unit_id IN ({covered}) \
                     OR EXISTS (SELECT 1 FROM volunteer_memberships pm WHERE pm.volunteer_id = v.id \
                     AND pm.active = 1 AND pm.org_unit_id IN ({covered})))"
                )
            } else {
                String::new()
            };
            if by_unit {
                // Broken down or filtered by unit: a person counts once in each unit, so the
                // rows are (volunteer, unit) pairs.
                (
                    format!(
                        "FROM volunteer_units vu JOIN volunteers v ON v.id = vu.volunteer_id \
                         JOIN org_units o ON o.id = vu.org_unit_id WHERE {subtree} AND {registered}{insured}"
                    ),
                    "COUNT(DISTINCT v.id)".to_string(),
                )
            } else {
                // Otherwise each person is one row: no union of memberships to build and no
                // DISTINCT to count (the view costs seconds at 100,000 volunteers).
                (
                    format!(
                        "FROM volunteers v WHERE {registered}{insured} AND ({serves})",
                        serves = serves_in_subtree(low.as_str(), high.as_str())
                    ),
                    "COUNT(*)".to_string(),
                )
            }
        }
        Metric::Activities => {
            let period = between("a.start_date");
            (
                format!(
                    "FROM activities a JOIN org_units o ON o.id = a.org_unit_id \
                     WHERE {subtree} AND a.state IN {HELD_STATES} AND {period}"
                ),
                "COUNT(DISTINCT a.id)".to_string(),
            )
        }
        Metric::ApprovedMinutes | Metric::ServiceRecords => {
            let period = between("h.service_date");
            let column = if metric == Metric::ApprovedMinutes {
                "h.minutes"
            } else {
                "h.records"
            };
            (
                format!(
                    "FROM hours_daily h JOIN org_units o ON o.id = h.org_unit_id \
                     WHERE {subtree} AND {period}"
                ),
                format!("COALESCE(SUM({column}), 0)"),
            )
        }
        Metric::TrainedVolunteers => {
            let period = between("q.granted_date");
            if by_unit || query.dimensions.contains(&Dimension::Month) {
                (
                    format!(
                        "FROM qualifications q JOIN volunteer_units vu ON vu.volunteer_id = q.volunteer_id \
                         JOIN org_units o ON o.id = vu.org_unit_id WHERE {subtree} AND {period}"
                    ),
                    "COUNT(DISTINCT q.volunteer_id)".to_string(),
                )
            } else {
                // As for volunteers: one row per person, no view, no DISTINCT.
                (
                    format!(
                        "FROM volunteers v WHERE EXISTS (SELECT 1 FROM qualifications q \
                         WHERE q.volunteer_id = v.id AND {period}) AND ({serves})",
                        serves = serves_in_subtree(low.as_str(), high.as_str())
                    ),
                    "COUNT(*)".to_string(),
                )
            }
        }
        Metric::StarRatings => {
            let period = between("s.award_date");
            (
                format!(
                    "FROM star_ratings s JOIN org_units o ON o.id = s.nominating_org_unit_id \
                     WHERE {subtree} AND s.awarded = 1 AND {period}"
                ),
                "COUNT(DISTINCT s.id)".to_string(),
            )
        }
        Metric::Commendations => {
            let period = between("c.award_date");
            (
                format!(
                    "FROM commendations c JOIN org_units o ON o.id = c.nominating_org_unit_id \
                     WHERE {subtree} AND c.awarded = 1 AND {period}"
                ),
                "COUNT(DISTINCT c.id)".to_string(),
            )
        }
    }
}

/// How many more registrations than people there are among the active volunteers serving
/// in `[low, high)` registered by `end`: volunteers carrying the same federation hash (one
/// person registered in several districts) are one person. Reads only the volunteers
/// marked shared, so it stays cheap however many volunteers there are.
pub async fn repeated_registrations<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    (low, high): (&str, &str),
    end: &str,
) -> Result<i64, ApiError> {
    let (repeated,): (i64,) = sqlx::query_as(&format!(
        "SELECT CAST(COUNT(*) - COUNT(DISTINCT v.person) AS BIGINT) FROM volunteers v \
         WHERE v.shared = 1 AND v.status = 1 AND v.registered_on <= $3 AND ({})",
        serves_in_subtree("$1", "$2")
    ))
    .bind(low)
    .bind(high)
    .bind(end)
    .fetch_one(executor)
    .await
    .map_err(sql_error("people"))?;
    Ok(repeated)
}

/// "The volunteer `v` serves in the subtree `[low, high)`": an active membership there, or
/// registered by a unit there (the registry's own rule).
pub(crate) fn serves_in_subtree(low: &str, high: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM volunteer_memberships sm JOIN org_units so ON so.id = sm.org_unit_id \
         WHERE sm.volunteer_id = v.id AND sm.active = 1 AND so.path >= {low} AND so.path < {high}) \
         OR EXISTS (SELECT 1 FROM org_units sr WHERE sr.id = v.registering_org_unit_id \
         AND sr.path >= {low} AND sr.path < {high})"
    )
}

/// The key expression of a dimension (and a join it needs), for `metric`.
fn key(
    dimension: Dimension,
    metric: Metric,
    query: &Query,
    scope: &Scope<'_>,
    statement: &mut Statement,
) -> (String, &'static str) {
    let month_of = |column: &str| format!("SUBSTR({column}, 1, 7)");
    match dimension {
        Dimension::OrgUnit => (
            format!("SUBSTR(o.path, {}, 36)", scope.root_path_len + 1),
            "",
        ),
        Dimension::Tier => ("CAST(o.tier AS TEXT)".to_string(), ""),
        Dimension::TeamLevel => ("CAST(o.level AS TEXT)".to_string(), ""),
        Dimension::OrgStatus => ("CAST(o.status AS TEXT)".to_string(), ""),
        Dimension::TeamCategory => (
            "CAST(tc.category AS TEXT)".to_string(),
            " JOIN org_unit_categories tc ON tc.org_unit_id = o.id",
        ),
        Dimension::Gender => ("CAST(v.gender AS TEXT)".to_string(), ""),
        Dimension::AgeBand => {
            let mut case = String::from("CASE");
            for window in AGE_BANDS.windows(2) {
                let (label, _) = window[0];
                let (_, next_age) = window[1];
                let bound = statement.param(born_by(query.end, next_age).to_iso());
                case.push_str(&format!(" WHEN v.birth_date > {bound} THEN '{label}'"));
            }
            case.push_str(&format!(" ELSE '{}' END", AGE_BANDS[AGE_BANDS.len() - 1].0));
            (case, "")
        }
        Dimension::ServiceTheme => ("CAST(a.service_theme AS TEXT)".to_string(), ""),
        Dimension::ServiceField => ("CAST(a.service_field AS TEXT)".to_string(), ""),
        Dimension::TargetGroup => (
            "CAST(tg.target_group AS TEXT)".to_string(),
            " JOIN activity_target_groups tg ON tg.activity_id = a.id",
        ),
        Dimension::Stars => ("CAST(s.stars AS TEXT)".to_string(), ""),
        Dimension::Month => (
            match metric {
                Metric::NewVolunteers => month_of("v.registered_on"),
                Metric::Activities => month_of("a.start_date"),
                Metric::ApprovedMinutes | Metric::ServiceRecords => month_of("h.service_date"),
                Metric::TrainedVolunteers => month_of("q.granted_date"),
                Metric::StarRatings => month_of("s.award_date"),
                Metric::Commendations => month_of("c.award_date"),
                // Checked away by Query::new.
                Metric::Teams | Metric::Volunteers | Metric::InsuredVolunteers => "''".to_string(),
            },
            "",
        ),
    }
}

/// Runs a query: its buckets (keys raw: numbers, ids, months, band labels) and its total.
pub async fn run(
    pool: &AnyPool,
    query: &Query,
    scope: &Scope<'_>,
) -> Result<(Vec<Row2>, i64), ApiError> {
    if query.dimensions.is_empty() {
        return Ok((Vec::new(), figure(pool, query, scope).await?));
    }
    let rows = grouped(pool, query, scope).await?;
    // Where every fact falls in exactly one bucket the total is their sum; a unit, a team
    // category or a target group can hold the same fact twice, so those count again.
    let partitions = query.dimensions.iter().all(|dimension| {
        !matches!(
            dimension,
            Dimension::OrgUnit | Dimension::TeamCategory | Dimension::TargetGroup
        )
    });
    let total = if partitions {
        rows.iter().map(|row| row.value).sum()
    } else {
        figure(pool, query, scope).await?
    };
    Ok((rows, total))
}

/// The statement of a query: its keys (when `grouped`), the filters as IN lists, and the
/// metric's FROM/WHERE with every join the keys and filters need.
fn assemble(query: &Query, scope: &Scope<'_>, grouped: bool) -> (Statement, usize) {
    let mut statement = Statement {
        text: String::new(),
        binds: Vec::new(),
    };
    let mut keys = Vec::new();
    let mut joins = String::new();
    let add_join = |join: &'static str, joins: &mut String| {
        if !joins.contains(join) {
            joins.push_str(join);
        }
    };
    if grouped {
        for dimension in &query.dimensions {
            let (expression, join) = key(*dimension, query.metric, query, scope, &mut statement);
            keys.push(expression);
            add_join(join, &mut joins);
        }
    }
    let mut conditions = String::new();
    for (dimension, values) in &query.filters {
        let (expression, join) = key(*dimension, query.metric, query, scope, &mut statement);
        add_join(join, &mut joins);
        let placeholders: Vec<String> = values
            .iter()
            .map(|value| statement.param(value.clone()))
            .collect();
        conditions.push_str(&format!(
            " AND {expression} IN ({})",
            placeholders.join(", ")
        ));
    }
    let (from, value) = base(query.metric, query, scope, &mut statement);
    // The joins go before WHERE; the filters after the metric's own conditions.
    let (from_part, where_part) = from.split_once(" WHERE ").expect("every base has a WHERE");
    statement.text = if keys.is_empty() {
        format!(
            "SELECT CAST({value} AS BIGINT) AS value {from_part}{joins} WHERE {where_part}{conditions}"
        )
    } else {
        let selected: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(index, expression)| format!("{expression} AS k{index}"))
            .collect();
        let group: Vec<String> = (0..keys.len()).map(|index| format!("k{index}")).collect();
        format!(
            "SELECT {}, CAST({value} AS BIGINT) AS value {from_part}{joins} WHERE {where_part}{conditions} \
             GROUP BY {} ORDER BY {}",
            selected.join(", "),
            group.join(", "),
            group.join(", ")
        )
    };
    (statement, keys.len())
}

async fn figure(pool: &AnyPool, query: &Query, scope: &Scope<'_>) -> Result<i64, ApiError> {
    let (statement, _) = assemble(query, scope, false);
    let row = bind_all(&statement)
        .fetch_one(pool)
        .await
        .map_err(sql_error("statistics"))?;
    row.try_get::<i64, _>("value")
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("statistics value: {error}")))
}

async fn grouped(pool: &AnyPool, query: &Query, scope: &Scope<'_>) -> Result<Vec<Row2>, ApiError> {
    let (statement, keys) = assemble(query, scope, true);
    let rows = bind_all(&statement)
        .fetch_all(pool)
        .await
        .map_err(sql_error("statistics"))?;
    rows.iter().map(|row| decode(row, keys)).collect()
}

fn decode(row: &AnyRow, keys: usize) -> Result<Row2, ApiError> {
    let broken =
        |error: sqlx::Error| ApiError::Internal(anyhow::anyhow!("statistics row: {error}"));
    let mut values = Vec::with_capacity(keys);
    for index in 0..keys {
        let key: Option<String> = row.try_get(index).map_err(broken)?;
        values.push(key.unwrap_or_default());
    }
    Ok(Row2 {
        keys: values,
        value: row.try_get::<i64, _>("value").map_err(broken)?,
    })
}

fn bind_all(
    statement: &Statement,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    let mut query = sqlx::query(&statement.text);
    for bind in &statement.binds {
        query = query.bind(bind.as_str());
    }
    query
}
