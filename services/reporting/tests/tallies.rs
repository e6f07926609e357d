//! The tallies give exactly what the replica's own SQL counts: every metric, every
//! breakdown the tallies answer, over subtrees at each tier and periods that start and end
//! inside months, on a generated city (the benchmark's generator, small), on both engines.

use egret_reporting::bench_data::{self, Plan};
use egret_reporting::domain::stats::{Dimension, Metric, Query};
use egret_reporting::domain::tallies;
use egret_reporting::migrations;
use egret_reporting::store::stats::{self, Scope};
use egret_reporting::store::tallies as store_tallies;
use egret_runtime::config::DatabaseSettings;
use egret_storage::Database;
use egret_storage::testing::FreshPostgres;
use egret_types::CivilDate;

fn date(year: i32, month: u32, day: u32) -> CivilDate {
    CivilDate::new(year, month, day).unwrap()
}

/// Every query shape the tallies answer.
fn shapes() -> Vec<(Metric, Vec<Dimension>)> {
    use Dimension::*;
    vec![
        (Metric::Teams, vec![]),
        (Metric::Teams, vec![Tier]),
        (Metric::Volunteers, vec![]),
        (Metric::Volunteers, vec![Gender]),
        (Metric::Volunteers, vec![AgeBand]),
        (Metric::NewVolunteers, vec![Gender, Month]),
        (Metric::NewVolunteers, vec![Month]),
        (Metric::Activities, vec![ServiceTheme]),
        (Metric::Activities, vec![Month, ServiceTheme]),
        (Metric::ApprovedMinutes, vec![]),
        (Metric::ApprovedMinutes, vec![Month]),
        (Metric::ServiceRecords, vec![Month]),
        (Metric::TrainedVolunteers, vec![]),
        (Metric::InsuredVolunteers, vec![]),
        (Metric::StarRatings, vec![Stars]),
        (Metric::StarRatings, vec![Stars, Month]),
        (Metric::Commendations, vec![Month]),
        (Metric::Teams, vec![OrgUnit]),
        (Metric::Teams, vec![OrgUnit, Tier]),
        (Metric::Volunteers, vec![OrgUnit]),
        (Metric::Volunteers, vec![AgeBand, OrgUnit]),
        (Metric::Activities, vec![OrgUnit, Month]),
        (Metric::ApprovedMinutes, vec![OrgUnit]),
        (Metric::TrainedVolunteers, vec![OrgUnit]),
        (Metric::InsuredVolunteers, vec![OrgUnit]),
        (Metric::StarRatings, vec![Stars, OrgUnit]),
    ]
}

async fn compare(database: &Database) {
    bench_data::generate(database, &Plan::scaled(0.01))
        .await
        .expect("generating");
    store_tallies::ensure_counted(database, "test")
        .await
        .expect("counting");
    let pool = database.reader();
    // The root, a district, a team and a squad.
    let mut units: Vec<(String, String)> = Vec::new();
    for tier in 0..=4 {
        let unit: Option<(String, String)> = sqlx::query_as(
            "SELECT id, path FROM org_units WHERE tier = $1 ORDER BY path LIMIT 1 OFFSET 1",
        )
        .bind(tier)
        .fetch_optional(pool)
        .await
        .unwrap();
        let unit = match unit {
            Some(unit) => unit,
            None => sqlx::query_as("SELECT id, path FROM org_units WHERE tier = $1 LIMIT 1")
                .bind(tier)
                .fetch_optional(pool)
                .await
                .unwrap()
                .unwrap_or_default(),
        };
        if !unit.0.is_empty() {
            units.push(unit);
        }
    }
    assert!(units.len() >= 4, "units at each tier: {units:?}");
    let periods = [
        (None, date(2026, 10, 31)),
        (Some(date(2025, 11, 1)), date(2026, 10, 31)),
        (Some(date(2025, 11, 17)), date(2026, 3, 9)),
        (Some(date(2026, 2, 3)), date(2026, 2, 27)),
        // Before the last registrations: they are counted person by person.
        (Some(date(2024, 6, 15)), date(2025, 6, 14)),
        (None, date(2024, 2, 29)),
    ];
    let mut compared = 0;
    for (id, path) in &units {
        let (low, high) = egret_types::tree::subtree_bounds(path);
        let scope = Scope {
            bounds: (&low, &high),
            root_path_len: path.len(),
        };
        for (metric, dimensions) in shapes() {
            for (start, end) in periods {
                let query = Query::new(metric, dimensions.clone(), start, end).unwrap();
                let replica = stats::run(pool, &query, &scope).await.unwrap();
                let mut expected = replica.0.clone();
                expected.retain(|row| row.value != 0);
                let tallied = if let Some(reading) = tallies::reading(&query) {
                    store_tallies::figures(pool, &reading, &query, id, (&low, &high))
                        .await
                        .unwrap()
                } else {
                    let (position, inner) = tallies::by_unit(&query)
                        .unwrap_or_else(|| panic!("the tallies answer {query:?}"));
                    store_tallies::figures_by_unit(pool, (position, &inner), id, path)
                        .await
                        .unwrap()
                };
                assert_eq!(
                    (tallied.0, tallied.1),
                    (expected, replica.1),
                    "{metric:?} by {dimensions:?} from {start:?} to {end} under {path}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 500, "{compared} queries compared");
}

#[tokio::test]
async fn tallies_count_what_the_replica_counts_sqlite() {
    let directory = tempfile::tempdir().unwrap();
    let database = Database::open(
        &DatabaseSettings::default(),
        directory.path(),
        "reporting",
        migrations(),
    )
    .await
    .unwrap();
    compare(&database).await;
}

#[tokio::test]
async fn tallies_count_what_the_replica_counts_postgres() {
    let Some(fresh) = FreshPostgres::create("tallies_count_what_the_replica_counts").await else {
        return;
    };
    let settings = DatabaseSettings {
        url: fresh.url().to_string(),
        ..DatabaseSettings::default()
    };
    let directory = tempfile::tempdir().unwrap();
    let database = Database::open(&settings, directory.path(), "reporting", migrations())
        .await
        .unwrap();
    compare(&database).await;
}
