//! A deterministic generator of reporting data at the alliance's scale (issue 5): 2,800
//! teams, 100,000 volunteers, 2 million service records, with the rest in proportion.
//!
//! It fills a reporting database's replica tables directly, as the feeds would have left
//! them, with batched multi-row INSERTs inside one transaction (small prepared batches on
//! SQLite, batches near PostgreSQL's bind limit there), and then computes the hours rollup
//! from the generated service records, so the rollup agrees with them exactly.
//!
//! The same [`Plan`] (scale and seed) always yields the same rows on either engine. Service
//! records belong to activities (a record's unit and day are its activity's), which is what
//! makes the daily rollup much smaller than the records it sums.

use egret_runtime::ApiError;
use egret_storage::rows::sql_error;
use egret_storage::{Backend, Database};
use egret_types::CivilDate;
use sqlx::AnyConnection;

/// The id of the generated corps (the root unit).
pub const ROOT_ID: &str = "00000001-0000-4000-8000-000000000000";

/// The version of what [`generate`] writes: a cache of generated data is only good for the
/// same version, plan and seed.
pub const VERSION: u32 = 2;

/// The actor of the generator's transaction.
const ACTOR: &str = "egret-bench-data";

/// How much to generate and from which seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The factor applied to the alliance's counts (1.0 is full scale).
    pub scale: f64,
    /// The seed of the pseudo-random sequence.
    pub seed: u64,
    /// The last day any generated fact falls on; activities and records span the three
    /// years up to it, registrations and qualifications five.
    pub last_day: CivilDate,
    /// District-level parents under the corps (tier 1).
    pub districts: usize,
    /// Teams (tier 2); sub-teams and squads (tiers 3 and 4) come in proportion.
    pub teams: usize,
    /// Volunteers.
    pub volunteers: usize,
    /// Activities.
    pub activities: usize,
    /// Service records.
    pub service_records: usize,
    /// Qualifications granted.
    pub qualifications: usize,
    /// Insurance policies.
    pub insurance_policies: usize,
    /// Star ratings nominated.
    pub star_ratings: usize,
    /// Commendations nominated.
    pub commendations: usize,
}

impl Plan {
    /// The alliance's scale times `scale` (at least one of everything).
    pub fn scaled(scale: f64) -> Self {
        let count = |full: f64| ((full * scale).round() as usize).max(1);
        Self {
            scale,
            seed: 0x5eed_2026,
            last_day: CivilDate::new(2026, 10, 31).expect("a real date"),
            districts: count(20.0).max(2),
            teams: count(2_800.0),
            volunteers: count(100_000.0),
            activities: count(150_000.0),
            service_records: count(2_000_000.0),
            qualifications: count(30_000.0),
            insurance_policies: count(12.0).max(3),
            star_ratings: count(20_000.0),
            commendations: count(6_000.0),
        }
    }

    /// Full scale.
    pub fn alliance() -> Self {
        Self::scaled(1.0)
    }
}

/// How many rows each table received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// `org_units` (corps, districts, teams, sub-teams, squads).
    pub org_units: u64,
    /// Of which teams, sub-teams and squads (tier 2 to 4).
    pub teams: u64,
    /// `org_unit_categories`.
    pub org_unit_categories: u64,
    /// `volunteers`.
    pub volunteers: u64,
    /// `volunteer_memberships`.
    pub volunteer_memberships: u64,
    /// `activities`.
    pub activities: u64,
    /// `activity_target_groups`.
    pub activity_target_groups: u64,
    /// `service_records`.
    pub service_records: u64,
    /// `hours_daily`.
    pub hours_daily: u64,
    /// `qualifications`.
    pub qualifications: u64,
    /// `insurance_policies`.
    pub insurance_policies: u64,
    /// `policy_volunteers`.
    pub policy_volunteers: u64,
    /// `star_ratings`.
    pub star_ratings: u64,
    /// `commendations`.
    pub commendations: u64,
}

/// A small deterministic generator (SplitMix64): the same sequence on every platform.
#[derive(Debug, Clone)]
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` > 0).
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index chosen by `weights`.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut pick = self.below(total);
        for (index, weight) in weights.iter().enumerate() {
            if pick < *weight {
                return index;
            }
            pick -= weight;
        }
        weights.len() - 1
    }
}

/// A UUID-shaped id (36 characters, like the registry's), unique per kind and number.
fn id(kind: u32, number: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{number:012x}")
}

/// A value of a generated row.
enum Value {
    Text(String),
    Int(i64),
    Null,
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_string())
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Self {
        Value::Int(number)
    }
}

/// Rows of one table gathered into multi-row INSERTs.
struct Inserter {
    table: &'static str,
    columns: &'static [&'static str],
    rows_per_statement: usize,
    pending: Vec<Value>,
    written: u64,
    /// The statement for a full batch, built once so the prepared statement is reused.
    full: String,
}

impl Inserter {
    fn new(backend: Backend, table: &'static str, columns: &'static [&'static str]) -> Self {
        let rows_per_statement = match backend {
            // Small statements, prepared once and reused (sqlx caches them per connection).
            Backend::Sqlite => 256,
            // As many rows as PostgreSQL's 65,535 binds allow, less a margin.
            Backend::Postgres => 60_000 / columns.len(),
        };
        let full = statement(table, columns, rows_per_statement);
        Self {
            table,
            columns,
            rows_per_statement,
            pending: Vec::with_capacity(rows_per_statement * columns.len()),
            written: 0,
            full,
        }
    }

    async fn add<const N: usize>(
        &mut self,
        connection: &mut AnyConnection,
        row: [Value; N],
    ) -> Result<(), ApiError> {
        debug_assert_eq!(N, self.columns.len());
        self.pending.extend(row);
        if self.pending.len() >= self.rows_per_statement * self.columns.len() {
            self.flush(connection).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, connection: &mut AnyConnection) -> Result<(), ApiError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows = self.pending.len() / self.columns.len();
        let partial;
        let text = if rows == self.rows_per_statement {
            &self.full
        } else {
            partial = statement(self.table, self.columns, rows);
            &partial
        };
        let mut query = sqlx::query(text);
        for value in std::mem::take(&mut self.pending) {
            query = match value {
                Value::Text(text) => query.bind(text),
                Value::Int(number) => query.bind(number),
                Value::Null => query.bind(None::<String>),
            };
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(sql_error(self.table))?;
        self.written += rows as u64;
        self.pending = Vec::with_capacity(self.rows_per_statement * self.columns.len());
        Ok(())
    }

    /// Writes what is pending and returns how many rows were written in all.
    async fn finish(mut self, connection: &mut AnyConnection) -> Result<u64, ApiError> {
        self.flush(connection).await?;
        Ok(self.written)
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), …` for `rows` rows.
fn statement(table: &str, columns: &[&str], rows: usize) -> String {
    let mut text = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut number = 0;
    for row in 0..rows {
        if row > 0 {
            text.push_str(", ");
        }
        text.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                text.push_str(", ");
            }
            number += 1;
            text.push_str(&format!("${number}"));
        }
        text.push(')');
    }
    text
}

/// A generated unit, as far as later tables need it.
struct Unit {
    id: String,
    path: String,
    tier: i64,
    active: bool,
}

/// A generated activity, as far as its service records need it.
struct Held {
    id: String,
    unit: usize,
    day: String,
}

/// Fills the replica tables of `database` (freshly migrated, empty) according to `plan`,
/// in one transaction, and returns the row counts.
pub async fn generate(database: &Database, plan: &Plan) -> Result<Generated, ApiError> {
    let backend = database.backend();
    let mut random = Random(plan.seed);
    let mut generated = Generated::default();
    let mut transaction = database.begin(ACTOR, "bench").await?;
    let connection = transaction.conn();
    let last = plan.last_day.to_days();
    let day = |days: i64| CivilDate::from_days(days).to_iso();

    // The org tree: the corps, its districts, teams, sub-teams and squads.
    let mut units: Vec<Unit> = Vec::new();
    let mut org_units = Inserter::new(
        backend,
        "org_units",
        &[
            "id",
            "parent_id",
            "path",
            "tier",
            "display_name",
            "status",
            "level",
            "version",
        ],
    );
    let mut categories =
        Inserter::new(backend, "org_unit_categories", &["org_unit_id", "category"]);
    let root_path = format!("/{ROOT_ID}/");
    org_units
        .add(
            connection,
            [
                ROOT_ID.into(),
                Value::Null,
                root_path.clone().into(),
                1.into(),
                "志愿者总队".into(),
                1.into(),
                0.into(),
                1.into(),
            ],
        )
        .await?;
    units.push(Unit {
        id: ROOT_ID.to_string(),
        path: root_path,
        tier: 1,
        active: true,
    });
    let mut number = 0u64;
    let mut new_unit = |random: &mut Random, parent: usize, tier: i64, units: &mut Vec<Unit>| {
        number += 1;
        let unit_id = id(1, number);
        let path = format!("{}{unit_id}/", units[parent].path);
        let status = if tier == 1 {
            1
        } else {
            [1, 2, 3, 4][random.weighted(&[94, 3, 2, 1])]
        };
        units.push(Unit {
            id: unit_id,
            path,
            tier,
            active: status == 1,
        });
        (units.len() - 1, status)
    };
    let unit_row = |units: &Vec<Unit>, index: usize, parent: usize, status: i64, level| {
        let unit = &units[index];
        let name = match unit.tier {
            1 => format!("区志愿者分队 {index}"),
            2 => format!("志愿服务队 {index}"),
            3 => format!("服务分队 {index}"),
            _ => format!("服务小组 {index}"),
        };
        [
            Value::from(unit.id.as_str()),
            units[parent].id.as_str().into(),
            unit.path.as_str().into(),
            unit.tier.into(),
            name.into(),
            status.into(),
            Value::Int(level),
            1.into(),
        ]
    };
    let mut districts = Vec::with_capacity(plan.districts);
    for _ in 0..plan.districts {
        let (index, status) = new_unit(&mut random, 0, 1, &mut units);
        districts.push(index);
        let row = unit_row(&units, index, 0, status, 0);
        org_units.add(connection, row).await?;
    }
    for team in 0..plan.teams {
        let district = districts[team % districts.len()];
        let mut parents = vec![(district, 2)];
        while let Some((parent, tier)) = parents.pop() {
            let (index, status) = new_unit(&mut random, parent, tier, &mut units);
            let level = [1, 2, 3][random.weighted(&[60, 30, 10])];
            let row = unit_row(&units, index, parent, status, level);
            org_units.add(connection, row).await?;
            let first = random.between(1, 8);
            categories
                .add(connection, [units[index].id.as_str().into(), first.into()])
                .await?;
            if random.chance(30) {
                let second = first % 8 + 1;
                categories
                    .add(connection, [units[index].id.as_str().into(), second.into()])
                    .await?;
            }
            // About 0.7 sub-teams per team and 0.45 squads per sub-team.
            let children = match tier {
                2 if random.chance(35) => random.between(1, 3),
                3 if random.chance(30) => random.between(1, 2),
                _ => 0,
            };
            for _ in 0..children {
                parents.push((index, tier + 1));
            }
        }
    }
    generated.org_units = org_units.finish(connection).await?;
    generated.org_unit_categories = categories.finish(connection).await?;
    // Teams, sub-teams and squads: where volunteers register and activities happen.
    let teams: Vec<usize> = (0..units.len())
        .filter(|index| units[*index].tier >= 2)
        .collect();
    let active_teams: Vec<usize> = teams
        .iter()
        .copied()
        .filter(|index| units[*index].active)
        .collect();
    generated.teams = teams.len() as u64;
    let pick =
        |random: &mut Random, among: &[usize]| among[random.below(among.len() as u64) as usize];

    // Volunteers over five years of registrations, with their memberships.
    let mut volunteers = Inserter::new(
        backend,
        "volunteers",
        &[
            "id",
            "status",
            "registering_org_unit_id",
            "registered_on",
            "birth_date",
            "gender",
            "version",
        ],
    );
    let mut memberships = Inserter::new(
        backend,
        "volunteer_memberships",
        &["id", "volunteer_id", "org_unit_id", "active", "version"],
    );
    let mut registered = Vec::with_capacity(plan.volunteers);
    let mut membership_number = 0u64;
    for number in 0..plan.volunteers as u64 {
        let volunteer_id = id(2, number);
        let unit = pick(&mut random, &active_teams);
        let on = last - random.between(0, 5 * 365 - 1);
        registered.push(on);
        let age = [(14, 17), (18, 35), (36, 45), (46, 55), (56, 65), (66, 80)]
            [random.weighted(&[6, 48, 18, 13, 10, 5])];
        let born = on - random.between(age.0, age.1) * 365 - random.between(0, 364);
        let status = [1, 2, 3][random.weighted(&[93, 5, 2])];
        let gender = [1, 2, 0][random.weighted(&[52, 46, 2])];
        volunteers
            .add(
                connection,
                [
                    volunteer_id.as_str().into(),
                    Value::Int(status),
                    units[unit].id.as_str().into(),
                    day(on).into(),
                    day(born).into(),
                    Value::Int(gender),
                    1.into(),
                ],
            )
            .await?;
        let mut joined = vec![(unit, !random.chance(3))];
        if random.chance(15) {
            let other = pick(&mut random, &active_teams);
            if other != unit {
                joined.push((other, random.chance(90)));
            }
        }
        for (unit, active) in joined {
            membership_number += 1;
            memberships
                .add(
                    connection,
                    [
                        id(3, membership_number).into(),
                        volunteer_id.as_str().into(),
                        units[unit].id.as_str().into(),
                        Value::Int(i64::from(active)),
                        1.into(),
                    ],
                )
                .await?;
        }
    }
    generated.volunteers = volunteers.finish(connection).await?;
    generated.volunteer_memberships = memberships.finish(connection).await?;

    // Activities over three years, with their target groups.
    let mut activities = Inserter::new(
        backend,
        "activities",
        &[
            "id",
            "org_unit_id",
            "state",
            "start_date",
            "service_theme",
            "service_field",
            "version",
        ],
    );
    let mut target_groups = Inserter::new(
        backend,
        "activity_target_groups",
        &["activity_id", "target_group"],
    );
    let mut held = Vec::with_capacity(plan.activities);
    for number in 0..plan.activities as u64 {
        let activity_id = id(4, number);
        let unit = pick(&mut random, &active_teams);
        let start = last - random.between(0, 3 * 365 - 1);
        let state = [
            "completed",
            "in_progress",
            "published",
            "cancelled",
            "draft",
        ][random.weighted(&[72, 6, 7, 8, 7])];
        if matches!(state, "completed" | "in_progress") {
            held.push(Held {
                id: activity_id.clone(),
                unit,
                day: day(start),
            });
        }
        activities
            .add(
                connection,
                [
                    activity_id.as_str().into(),
                    units[unit].id.as_str().into(),
                    state.into(),
                    day(start).into(),
                    Value::Int(random.between(1, 12)),
                    Value::Int(random.between(1, 15)),
                    1.into(),
                ],
            )
            .await?;
        let first = random.between(1, 9);
        for offset in 0..random.between(1, 3) {
            target_groups
                .add(
                    connection,
                    [
                        activity_id.as_str().into(),
                        ((first + offset - 1) % 9 + 1).into(),
                    ],
                )
                .await?;
        }
    }
    generated.activities = activities.finish(connection).await?;
    generated.activity_target_groups = target_groups.finish(connection).await?;

    // Service records of held activities: the activity's unit and day, a random volunteer;
    // 80% approved, the rest submitted or rejected.
    let mut records = Inserter::new(
        backend,
        "service_records",
        &[
            "id",
            "org_unit_id",
            "service_date",
            "approved_minutes",
            "version",
            "volunteer_id",
            "activity_id",
            "minutes",
            "state",
        ],
    );
    if !held.is_empty() {
        for number in 0..plan.service_records as u64 {
            let activity = &held[random.below(held.len() as u64) as usize];
            let minutes = random.between(1, 16) * 30;
            let state = ["approved", "submitted", "rejected"][random.weighted(&[80, 10, 10])];
            let approved_minutes = if state == "approved" { minutes } else { 0 };
            let volunteer = random.below(plan.volunteers as u64);
            records
                .add(
                    connection,
                    [
                        id(5, number).into(),
                        units[activity.unit].id.as_str().into(),
                        activity.day.as_str().into(),
                        Value::Int(approved_minutes),
                        1.into(),
                        id(2, volunteer).into(),
                        activity.id.as_str().into(),
                        Value::Int(minutes),
                        state.into(),
                    ],
                )
                .await?;
        }
    }
    generated.service_records = records.finish(connection).await?;
    // The rollup, computed from the records exactly as the feed keeps it: approved records
    // only, by unit and day.
    generated.hours_daily = sqlx::query(
        "INSERT INTO hours_daily (org_unit_id, service_date, minutes, records) \
         SELECT org_unit_id, service_date, SUM(approved_minutes), COUNT(*) \
         FROM service_records WHERE approved_minutes <> 0 GROUP BY org_unit_id, service_date",
    )
    .execute(&mut *connection)
    .await
    .map_err(sql_error("hours_daily"))?
    .rows_affected();

    // Qualifications granted between registration and the last day.
    let mut qualifications = Inserter::new(
        backend,
        "qualifications",
        &["id", "volunteer_id", "granted_date", "version"],
    );
    for number in 0..plan.qualifications as u64 {
        let volunteer = random.below(plan.volunteers as u64);
        let on = registered[volunteer as usize];
        let granted = random.between(on, last);
        qualifications
            .add(
                connection,
                [
                    id(6, number).into(),
                    id(2, volunteer).into(),
                    day(granted).into(),
                    1.into(),
                ],
            )
            .await?;
    }
    generated.qualifications = qualifications.finish(connection).await?;

    // A few insurance policies: one in three covers a district's or a team's whole subtree,
    // the others name their volunteers. One-year terms, some of them over by the last day.
    let mut policies = Inserter::new(
        backend,
        "insurance_policies",
        &[
            "id",
            "org_unit_id",
            "start_date",
            "end_date",
            "covers_subtree",
            "active",
            "version",
        ],
    );
    let mut insured = Inserter::new(backend, "policy_volunteers", &["policy_id", "volunteer_id"]);
    let named = ((2_000.0 * plan.scale).round() as u64).max(1);
    for number in 0..plan.insurance_policies as u64 {
        let policy_id = id(7, number);
        let covers_subtree = number % 3 == 0;
        let unit = if covers_subtree && number % 2 == 0 {
            pick(&mut random, &districts)
        } else {
            pick(&mut random, &active_teams)
        };
        let start = last - random.between(0, 500);
        policies
            .add(
                connection,
                [
                    policy_id.as_str().into(),
                    units[unit].id.as_str().into(),
                    day(start).into(),
                    day(start + 364).into(),
                    Value::Int(i64::from(covers_subtree)),
                    Value::Int(i64::from(random.chance(90))),
                    1.into(),
                ],
            )
            .await?;
        if !covers_subtree {
            // Distinct volunteers: a run with a random stride through all of them.
            let count = named.min(plan.volunteers as u64);
            let stride = plan.volunteers as u64 / count;
            let offset = random.below(stride.max(1));
            for step in 0..count {
                insured
                    .add(
                        connection,
                        [
                            policy_id.as_str().into(),
                            id(2, offset + step * stride).into(),
                        ],
                    )
                    .await?;
            }
        }
    }
    generated.insurance_policies = policies.finish(connection).await?;
    generated.policy_volunteers = insured.finish(connection).await?;

    // Star ratings and commendations nominated by teams over three years, most awarded.
    let mut stars = Inserter::new(
        backend,
        "star_ratings",
        &[
            "id",
            "nominating_org_unit_id",
            "stars",
            "awarded",
            "award_date",
            "version",
        ],
    );
    for number in 0..plan.star_ratings as u64 {
        let unit = pick(&mut random, &teams);
        let level = 1 + random.weighted(&[40, 25, 18, 11, 6]) as i64;
        let awarded = random.chance(75);
        let on = if awarded {
            day(last - random.between(0, 3 * 365 - 1))
        } else {
            String::new()
        };
        stars
            .add(
                connection,
                [
                    id(8, number).into(),
                    units[unit].id.as_str().into(),
                    level.into(),
                    Value::Int(i64::from(awarded)),
                    on.into(),
                    1.into(),
                ],
            )
            .await?;
    }
    generated.star_ratings = stars.finish(connection).await?;
    let mut commendations = Inserter::new(
        backend,
        "commendations",
        &[
            "id",
            "nominating_org_unit_id",
            "awarded",
            "award_date",
            "version",
        ],
    );
    for number in 0..plan.commendations as u64 {
        let unit = pick(&mut random, &teams);
        let awarded = random.chance(70);
        let on = if awarded {
            day(last - random.between(0, 3 * 365 - 1))
        } else {
            String::new()
        };
        commendations
            .add(
                connection,
                [
                    id(9, number).into(),
                    units[unit].id.as_str().into(),
                    Value::Int(i64::from(awarded)),
                    on.into(),
                    1.into(),
                ],
            )
            .await?;
    }
    generated.commendations = commendations.finish(connection).await?;
    transaction.commit().await?;
    Ok(generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_fixed() {
        let mut first = Random(7);
        let mut second = Random(7);
        let drawn: Vec<u64> = (0..5).map(|_| first.below(1_000)).collect();
        assert_eq!(
            drawn,
            (0..5).map(|_| second.below(1_000)).collect::<Vec<_>>()
        );
        assert!(drawn.iter().all(|value| *value < 1_000));
    }

    #[test]
    fn ids_look_like_the_registrys() {
        assert_eq!(id(1, 0), ROOT_ID);
        assert_eq!(id(5, 1_999_999).len(), 36);
    }

    #[test]
    fn statements_number_their_binds() {
        assert_eq!(
            statement("t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
    }

    #[test]
    fn scale_shrinks_every_count() {
        let small = Plan::scaled(0.01);
        assert_eq!(small.teams, 28);
        assert_eq!(small.service_records, 20_000);
        assert_eq!(Plan::alliance().volunteers, 100_000);
    }
}
