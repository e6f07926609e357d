//! On PostgreSQL, the lookups every request makes are index lookups. A plan, not a timing:
//! with sequential scans priced out (`enable_seqscan = off`), a lookup that an index can
//! serve uses it, and one that no index can serve (a join comparing a column in another
//! collation than its index) still scans the table, which this test refuses.

use egret_storage::Database;
use egret_sync::replica::SERVES_IN_SQL;
use egret_tests::{Backend, TestApp};
use sqlx::Row;

struct TestCase {
    service: &'static str,
    migrations: egret_storage::Migrations,
}

#[track_caller]
fn check_plan(service: &str, plan: &str) {
    for table in ["volunteers", "volunteer_memberships", "org_units"] {
        assert!(
            !plan.contains(&format!("Seq Scan on {table}")),
            "{service}: the check that a volunteer serves in a subtree scans {table}:\n{plan}"
        );
    }
    // Without a usable index the planner reads all memberships through another index
    // (active = 1) and hashes them: the volunteer's id must be the index condition.
    assert!(
        plan.lines()
            .any(|line| line.contains("Index Cond:") && line.contains("volunteer_id =")),
        "{service}: the volunteer's memberships are not found by the volunteer's id:\n{plan}"
    );
}

#[tokio::test]
async fn serving_checks_are_index_lookups_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres, "serving_checks_are_index_lookups").await
    else {
        return;
    };
    let cases = [
        TestCase {
            service: "activity",
            migrations: egret_activity::migrations(),
        },
        TestCase {
            service: "recognition",
            migrations: egret_recognition::migrations(),
        },
    ];
    for case in cases {
        let database = Database::open(
            &app.config().common.database,
            &app.config().common.data_dir,
            case.service,
            case.migrations,
        )
        .await
        .expect("opening the service's database");
        let mut connection = database.reader().acquire().await.expect("a connection");
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *connection)
            .await
            .expect("pricing out sequential scans");
        let rows = sqlx::query(&format!(
            "EXPLAIN {}",
            SERVES_IN_SQL
                .replace("$1", "'00000000-0000-4000-8000-000000000001'")
                .replace("$2", "'/a/'")
                .replace("$3", "'/a0'")
        ))
        .fetch_all(&mut *connection)
        .await
        .expect("explaining the check");
        let plan: Vec<String> = rows
            .iter()
            .map(|row| row.try_get::<String, _>(0).expect("a plan line"))
            .collect();
        check_plan(case.service, &plan.join("\n"));
        drop(connection);
        database.close().await;
    }
    app.stop().await;
}
