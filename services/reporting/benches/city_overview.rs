//! The city overview at the alliance's scale (issue 5): how long `Reporting::overview`
//! takes for the corps over the last twelve months, on SQLite and (when
//! `EGRET_TEST_POSTGRES_URL` is set) on PostgreSQL, beside one direct SQL query that counts
//! the same headline figures from the raw replica tables (not the rollup).
//!
//! `cargo bench -p egret-reporting --bench city_overview`
//!
//! - `EGRET_BENCH_SCALE` (default 1.0): the factor on the alliance's counts (2,800 teams,
//!   100,000 volunteers, 2,000,000 service records).
//! - `EGRET_BENCH_RUNS` (default 5): timed runs of each, after one warm-up run.
//! - `EGRET_BENCH_DETAIL=1`: also times each statistics query the overview makes.
//! - `EGRET_BENCH_FRESH=1`: regenerates the SQLite file even if a cached one exists.
//! - `EGRET_BENCH_SQLITE=0`: skips SQLite (to measure PostgreSQL alone).
//! - `EGRET_BENCH_KEEP_POSTGRES=1`: keeps the generated PostgreSQL database (schema
//!   `reporting`) instead of dropping it, and prints its URL, for `EXPLAIN ANALYZE`.
//!
//! The SQLite database is cached under `target/egret-bench/`, keyed by scale and seed;
//! PostgreSQL gets a fresh database each time, dropped at the end, and is measured twice:
//! as the server is configured, then with `jit = off` for the database. Run as a test (without
//! `--bench`), it checks at a tiny scale on SQLite only that the figures agree.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use egret_reporting::app::statistics::{Overview, Reading};
use egret_reporting::bench_data::{self, Generated, Plan, ROOT_ID};
use egret_reporting::domain::stats::{Dimension, Metric, Query};
use egret_reporting::{Reporting, migrations};
use egret_runtime::config::DatabaseSettings;
use egret_runtime::{Principal, Role};
use egret_storage::testing::FreshPostgres;
use egret_storage::{Backend, Database};
use egret_types::CivilDate;
use sqlx::Row;

/// The headline figures both ways of counting produce.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Headline {
    teams: i64,
    volunteers: i64,
    activities: i64,
    approved_minutes: i64,
    service_records: i64,
    trained_volunteers: i64,
    insured_volunteers: i64,
    star_ratings: i64,
    commendations: i64,
}

impl Headline {
    fn of(overview: &Overview) -> Self {
        Self {
            teams: overview.teams,
            volunteers: overview.volunteers,
            activities: overview.activities,
            approved_minutes: overview.approved_minutes,
            service_records: overview.service_records,
            trained_volunteers: overview.trained_volunteers,
            insured_volunteers: overview.insured_volunteers,
            star_ratings: overview
                .star_ratings_by_stars
                .iter()
                .map(|row| row.value)
                .sum(),
            commendations: overview.commendations,
        }
    }
}

/// One query over the raw tables: memberships and registering units instead of the
/// `volunteer_units` view, `service_records` instead of the `hours_daily` rollup.
const DIRECT: &str = "\
SELECT
  (SELECT CAST(COUNT(*) AS BIGINT) FROM org_units o
    WHERE o.tier >= 2 AND o.status = 1 AND o.path >= :low AND o.path < :high) AS teams,
  (SELECT CAST(COUNT(*) AS BIGINT) FROM volunteers v
    WHERE v.status = 1 AND v.registered_on <= :end AND (
      EXISTS (SELECT 1 FROM org_units o WHERE o.id = v.registering_org_unit_id
              AND o.path >= :low AND o.path < :high)
      OR EXISTS (SELECT 1 FROM volunteer_memberships m JOIN org_units o ON o.id = m.org_unit_id
              WHERE m.volunteer_id = v.id AND m.active = 1
              AND o.path >= :low AND o.path < :high))) AS volunteers,
  (SELECT CAST(COUNT(*) AS BIGINT) FROM activities a JOIN org_units o ON o.id = a.org_unit_id
    WHERE o.path >= :low AND o.path < :high
    AND a.state IN ('published', 'in_progress', 'completed')
    AND a.start_date >= :start AND a.start_date <= :end) AS activities,
  r.approved_minutes,
  r.service_records,
  (SELECT CAST(COUNT(DISTINCT q.volunteer_id) AS BIGINT) FROM qualifications q
    WHERE q.granted_date >= :start AND q.granted_date <= :end AND (
      EXISTS (SELECT 1 FROM volunteers v JOIN org_units o ON o.id = v.registering_org_unit_id
              WHERE v.id = q.volunteer_id AND o.path >= :low AND o.path < :high)
      OR EXISTS (SELECT 1 FROM volunteer_memberships m JOIN org_units o ON o.id = m.org_unit_id
              WHERE m.volunteer_id = q.volunteer_id AND m.active = 1
              AND o.path >= :low AND o.path < :high))) AS trained_volunteers,
  (SELECT CAST(COUNT(*) AS BIGINT) FROM volunteers v
    WHERE v.status = 1 AND v.registered_on <= :end AND (
      EXISTS (SELECT 1 FROM org_units o WHERE o.id = v.registering_org_unit_id
              AND o.path >= :low AND o.path < :high)
      OR EXISTS (SELECT 1 FROM volunteer_memberships m JOIN org_units o ON o.id = m.org_unit_id
              WHERE m.volunteer_id = v.id AND m.active = 1
              AND o.path >= :low AND o.path < :high))
    AND (
      v.id IN (SELECT pv.volunteer_id FROM policy_volunteers pv
               JOIN insurance_policies p ON p.id = pv.policy_id
               WHERE p.active = 1 AND p.start_date <= :end AND p.end_date >= :end)
      OR v.registering_org_unit_id IN (SELECT u.id FROM insurance_policies p
               JOIN org_units po ON po.id = p.org_unit_id
               JOIN org_units u ON u.path >= po.path
                 AND u.path < SUBSTR(po.path, 1, LENGTH(po.path) - 1) || '0'
               WHERE p.covers_subtree = 1 AND p.active = 1
               AND p.start_date <= :end AND p.end_date >= :end)
      OR v.id IN (SELECT m.volunteer_id FROM volunteer_memberships m
               JOIN org_units u ON u.id = m.org_unit_id
               JOIN insurance_policies p ON p.covers_subtree = 1
               JOIN org_units po ON po.id = p.org_unit_id
               WHERE m.active = 1 AND p.active = 1
               AND p.start_date <= :end AND p.end_date >= :end
               AND u.path >= po.path
               AND u.path < SUBSTR(po.path, 1, LENGTH(po.path) - 1) || '0'))) AS insured_volunteers,
  (SELECT CAST(COUNT(*) AS BIGINT) FROM star_ratings s
    JOIN org_units o ON o.id = s.nominating_org_unit_id
    WHERE o.path >= :low AND o.path < :high AND s.awarded = 1
    AND s.award_date >= :start AND s.award_date <= :end) AS star_ratings,
  (SELECT CAST(COUNT(*) AS BIGINT) FROM commendations c
    JOIN org_units o ON o.id = c.nominating_org_unit_id
    WHERE o.path >= :low AND o.path < :high AND c.awarded = 1
    AND c.award_date >= :start AND c.award_date <= :end) AS commendations
FROM (SELECT CAST(COALESCE(SUM(sr.approved_minutes), 0) AS BIGINT) AS approved_minutes,
             CAST(COUNT(CASE WHEN sr.approved_minutes <> 0 THEN 1 END) AS BIGINT)
               AS service_records
      FROM service_records sr JOIN org_units o ON o.id = sr.org_unit_id
      WHERE o.path >= :low AND o.path < :high
      AND sr.service_date >= :start AND sr.service_date <= :end) r";

/// The direct query with its named values turned into numbered binds, in order.
fn direct_statement(values: &[(&str, &str)]) -> (String, Vec<String>) {
    let mut text = String::with_capacity(DIRECT.len());
    let mut binds = Vec::new();
    let mut rest = DIRECT;
    while let Some(at) = rest.find(':') {
        text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let length = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let name = &after[..length];
        let value = values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
            .unwrap_or_else(|| panic!("no value for :{name}"));
        binds.push(value.to_string());
        text.push_str(&format!("${}", binds.len()));
        rest = &after[length..];
    }
    text.push_str(rest);
    (text, binds)
}

async fn direct(
    database: &Database,
    root_path: &str,
    period: (CivilDate, CivilDate),
) -> anyhow::Result<Headline> {
    let (low, high) = egret_types::tree::subtree_bounds(root_path);
    let (start, end) = (period.0.to_iso(), period.1.to_iso());
    let (text, binds) = direct_statement(&[
        ("low", &low),
        ("high", &high),
        ("start", &start),
        ("end", &end),
    ]);
    let mut query = sqlx::query(&text);
    for bind in binds {
        query = query.bind(bind);
    }
    let row = query
        .fetch_one(database.reader())
        .await
        .context("the direct query")?;
    let get = |name: &str| {
        row.try_get::<i64, _>(name)
            .with_context(|| name.to_string())
    };
    Ok(Headline {
        teams: get("teams")?,
        volunteers: get("volunteers")?,
        activities: get("activities")?,
        approved_minutes: get("approved_minutes")?,
        service_records: get("service_records")?,
        trained_volunteers: get("trained_volunteers")?,
        insured_volunteers: get("insured_volunteers")?,
        star_ratings: get("star_ratings")?,
        commendations: get("commendations")?,
    })
}

fn admin() -> Principal {
    Principal {
        subject: "bench".to_string(),
        org_unit: ROOT_ID.to_string(),
        roles: [Role::Admin].into_iter().collect(),
        volunteer: None,
    }
}

/// The twelve whole months ending on the data's last day.
fn period(plan: &Plan) -> (CivilDate, CivilDate) {
    let next = plan.last_day.add_days(1);
    let start = CivilDate::new(next.year - 1, next.month, next.day).expect("a real date");
    (start, plan.last_day)
}

fn milliseconds(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
}

/// Median and minimum of the runs.
fn summary(times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    let median = if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2
    };
    format!(
        "median {}, min {} (runs: {})",
        milliseconds(median),
        milliseconds(sorted[0]),
        sorted
            .iter()
            .map(|time| format!("{:.0}", time.as_secs_f64() * 1_000.0))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Times the overview and the direct query on one engine; false when they disagree.
async fn measure(
    engine: &str,
    database: &Database,
    plan: &Plan,
    runs: usize,
) -> anyhow::Result<bool> {
    let began = Instant::now();
    if egret_reporting::store::tallies::ensure_counted(database, egret_reporting::feeds::ACTOR)
        .await
        .map_err(|error| anyhow::anyhow!("counting the tallies: {error:?}"))?
    {
        println!(
            "[{engine}] tallies counted from the replica in {}",
            milliseconds(began.elapsed())
        );
    }
    let reporting = Reporting::new(
        database.clone(),
        vec![],
        "bench",
        egret_reporting::ReportingSettings::default(),
    );
    let principal = admin();
    let reading = Reading {
        org_unit_id: None,
        catch_up: false,
    };
    let (start, end) = period(plan);
    println!("[{engine}] period {start} .. {end}, {runs} runs after a warm-up");
    let mut overview_times = Vec::new();
    let mut found = None;
    for run in 0..=runs {
        let began = Instant::now();
        let (unit, overview) = reporting
            .overview(&principal, reading, (Some(start), end))
            .await
            .map_err(|error| anyhow::anyhow!("overview: {error:?}"))?;
        let took = began.elapsed();
        if run == 0 {
            println!("[{engine}] overview warm-up {}", milliseconds(took));
            found = Some((unit, overview));
        } else {
            overview_times.push(took);
        }
    }
    let (unit, overview) = found.expect("one run at least");
    println!(
        "[{engine}] overview ({}):    {}",
        unit.display_name,
        summary(&overview_times)
    );
    let mut direct_times = Vec::new();
    let mut counted = None;
    for run in 0..=runs {
        let began = Instant::now();
        let headline = direct(database, &unit.path, (start, end)).await?;
        let took = began.elapsed();
        if run == 0 {
            println!("[{engine}] direct SQL warm-up {}", milliseconds(took));
            counted = Some(headline);
        } else {
            direct_times.push(took);
        }
    }
    println!("[{engine}] direct SQL query: {}", summary(&direct_times));
    let from_overview = Headline::of(&overview);
    let counted = counted.expect("one run at least");
    println!("[{engine}] overview figures:   {from_overview:?}");
    println!("[{engine}] direct figures:     {counted:?}");
    println!(
        "[{engine}] breakdowns: teams by tier {:?}; volunteers by gender {:?}; by age band {:?}",
        overview
            .teams_by_tier
            .iter()
            .map(|row| (row.keys[0].as_str(), row.value))
            .collect::<Vec<_>>(),
        overview
            .volunteers_by_gender
            .iter()
            .map(|row| (row.keys[0].as_str(), row.value))
            .collect::<Vec<_>>(),
        overview
            .volunteers_by_age_band
            .iter()
            .map(|row| (row.keys[0].as_str(), row.value))
            .collect::<Vec<_>>(),
    );
    let agree = from_overview == counted;
    println!(
        "[{engine}] figures {}",
        if agree { "AGREE" } else { "DISAGREE" }
    );
    if std::env::var("EGRET_BENCH_DETAIL").is_ok_and(|value| value == "1") {
        detail(engine, &reporting, &principal, (start, end)).await?;
    }
    Ok(agree)
}

/// Times each statistics query the overview makes, once each after a warm-up.
async fn detail(
    engine: &str,
    reporting: &Reporting,
    principal: &Principal,
    (start, end): (CivilDate, CivilDate),
) -> anyhow::Result<()> {
    let reading = Reading {
        org_unit_id: None,
        catch_up: false,
    };
    let parts: [(Metric, &[Dimension]); 10] = [
        (Metric::Teams, &[Dimension::Tier]),
        (Metric::Volunteers, &[Dimension::Gender]),
        (Metric::Volunteers, &[Dimension::AgeBand]),
        (Metric::Activities, &[Dimension::ServiceTheme]),
        (Metric::ApprovedMinutes, &[]),
        (Metric::ServiceRecords, &[]),
        (Metric::TrainedVolunteers, &[]),
        (Metric::InsuredVolunteers, &[]),
        (Metric::StarRatings, &[Dimension::Stars]),
        (Metric::Commendations, &[]),
    ];
    for (metric, dimensions) in parts {
        let query = Query::new(metric, dimensions.to_vec(), Some(start), end)
            .map_err(|error| anyhow::anyhow!("{error:?}"))?;
        let mut times = Vec::new();
        for _ in 0..3 {
            let began = Instant::now();
            reporting
                .query_statistics(principal, reading, &query)
                .await
                .map_err(|error| anyhow::anyhow!("{metric:?}: {error:?}"))?;
            times.push(began.elapsed());
        }
        println!(
            "[{engine}]   {metric:?} by {dimensions:?}: {}",
            milliseconds(*times[1..].iter().min().expect("two runs"))
        );
    }
    Ok(())
}

fn print_generated(engine: &str, generated: &Generated, took: Duration) {
    println!(
        "[{engine}] generated in {:.1} s: {} org units ({} teams, sub-teams and squads), \
         {} categories, {} volunteers, {} memberships, {} activities, {} target groups, \
         {} service records, {} hours_daily rows, {} qualifications, {} policies \
         ({} named volunteers), {} star ratings, {} commendations",
        took.as_secs_f64(),
        generated.org_units,
        generated.teams,
        generated.org_unit_categories,
        generated.volunteers,
        generated.volunteer_memberships,
        generated.activities,
        generated.activity_target_groups,
        generated.service_records,
        generated.hours_daily,
        generated.qualifications,
        generated.insurance_policies,
        generated.policy_volunteers,
        generated.star_ratings,
        generated.commendations,
    );
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// The cached SQLite database for `plan`, generated first if there is none.
async fn sqlite(plan: &Plan, cache: bool) -> anyhow::Result<Database> {
    let directory = if cache {
        target_dir().join(format!(
            "egret-bench/city-overview-v{}-scale-{}-seed-{:x}",
            bench_data::VERSION,
            plan.scale,
            plan.seed
        ))
    } else {
        std::env::temp_dir().join(format!("egret-bench-city-overview-{}", std::process::id()))
    };
    let marker = directory.join("generated.txt");
    let fresh = std::env::var("EGRET_BENCH_FRESH").is_ok_and(|value| value == "1");
    if cache && !fresh && marker.exists() {
        let database = Database::open(
            &DatabaseSettings::default(),
            &directory,
            "reporting",
            migrations(),
        )
        .await?;
        println!(
            "[SQLite] reusing {} ({})",
            directory.join("reporting.db").display(),
            std::fs::read_to_string(&marker)?.trim()
        );
        return Ok(database);
    }
    if directory.exists() {
        std::fs::remove_dir_all(&directory)
            .with_context(|| format!("removing {}", directory.display()))?;
    }
    let database = Database::open(
        &DatabaseSettings::default(),
        &directory,
        "reporting",
        migrations(),
    )
    .await?;
    let began = Instant::now();
    let generated = bench_data::generate(&database, plan)
        .await
        .map_err(|error| anyhow::anyhow!("generating: {error:?}"))?;
    let took = began.elapsed();
    print_generated("SQLite", &generated, took);
    std::fs::write(
        &marker,
        format!("generated in {:.1} s: {generated:?}\n", took.as_secs_f64()),
    )?;
    Ok(database)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; run as a test, this is a quick check at a tiny scale.
    let benchmarking = std::env::args().any(|argument| argument == "--bench");
    let scale: f64 = match std::env::var("EGRET_BENCH_SCALE") {
        Ok(text) => text.parse().context("EGRET_BENCH_SCALE must be a number")?,
        Err(_) if benchmarking => 1.0,
        Err(_) => 0.001,
    };
    let runs: usize = match std::env::var("EGRET_BENCH_RUNS") {
        Ok(text) => text.parse().context("EGRET_BENCH_RUNS must be a count")?,
        Err(_) if benchmarking => 5,
        Err(_) => 1,
    };
    anyhow::ensure!(scale > 0.0 && runs > 0, "scale and runs must be positive");
    let plan = Plan::scaled(scale);
    println!(
        "city overview benchmark: scale {scale} ({} districts, {} teams, {} volunteers, \
         {} activities, {} service records, {} qualifications, {} policies, {} star ratings, \
         {} commendations; seed {:#x}; data up to {})",
        plan.districts,
        plan.teams,
        plan.volunteers,
        plan.activities,
        plan.service_records,
        plan.qualifications,
        plan.insurance_policies,
        plan.star_ratings,
        plan.commendations,
        plan.seed,
        plan.last_day,
    );
    let mut agree = true;

    if std::env::var("EGRET_BENCH_SQLITE").map_or(true, |value| value != "0") {
        let database = sqlite(&plan, benchmarking).await?;
        agree &= measure("SQLite", &database, &plan, runs).await?;
        database.close().await;
    }
    if !benchmarking {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("egret-bench-city-overview-{}", std::process::id())),
        );
    }

    if benchmarking && let Some(fresh) = FreshPostgres::create("city_overview").await {
        let settings = DatabaseSettings {
            url: fresh.url().to_string(),
            ..DatabaseSettings::default()
        };
        let database = Database::open(&settings, &target_dir(), "reporting", migrations()).await?;
        assert_eq!(database.backend(), Backend::Postgres);
        let began = Instant::now();
        let generated = bench_data::generate(&database, &plan)
            .await
            .map_err(|error| anyhow::anyhow!("generating: {error:?}"))?;
        let took = began.elapsed();
        print_generated("PostgreSQL", &generated, took);
        // What autovacuum would soon do in production: statistics for the planner.
        let began = Instant::now();
        sqlx::query("ANALYZE").execute(database.reader()).await?;
        println!("[PostgreSQL] ANALYZE {}", milliseconds(began.elapsed()));
        agree &= measure("PostgreSQL", &database, &plan, runs).await?;
        // PostgreSQL compiles expensive plans with LLVM (jit, on by default); at this scale
        // that compilation can cost more than the query. Measure again without it.
        let (name,): (String,) = sqlx::query_as("SELECT CAST(current_database() AS TEXT)")
            .fetch_one(database.reader())
            .await?;
        sqlx::query(&format!("ALTER DATABASE {name} SET jit = off"))
            .execute(database.reader())
            .await?;
        database.close().await;
        let database = Database::open(&settings, &target_dir(), "reporting", migrations()).await?;
        agree &= measure("PostgreSQL, jit = off", &database, &plan, runs).await?;
        database.close().await;
        if std::env::var("EGRET_BENCH_KEEP_POSTGRES").is_ok_and(|value| value == "1") {
            println!("[PostgreSQL] kept {}", fresh.url());
            std::mem::forget(fresh);
        } else {
            drop(fresh);
        }
    }
    anyhow::ensure!(agree, "the overview and the direct query disagree");
    Ok(())
}
