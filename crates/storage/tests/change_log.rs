//! The change log under many concurrent writers, on SQLite and PostgreSQL: a reader that
//! keeps resuming after the last sequence it saw sees every committed change exactly once,
//! and rolled-back transactions leave no trace.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use egret_runtime::config::DatabaseSettings;
use egret_storage::testing::FreshPostgres;
use egret_storage::{ChangeDraft, Database, Migrations, Operation, changelog};
use sqlx::migrate::Migrator;

static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

fn migrations() -> Migrations {
    Migrations {
        sqlite: &NO_MIGRATIONS,
        postgres: &NO_MIGRATIONS,
    }
}

async fn open(url: &str, data_dir: &Path) -> Database {
    let settings = DatabaseSettings {
        url: url.to_string(),
        max_connections: 16,
        ..DatabaseSettings::default()
    };
    Database::open(&settings, data_dir, "storagetest", migrations())
        .await
        .expect("database opens")
}

fn draft(writer: usize, index: usize) -> ChangeDraft {
    ChangeDraft {
        resource_type: "test.Thing",
        resource_name: format!("things/{writer}-{index}"),
        operation: Operation::Create,
        payload: Vec::new(),
        field_changes: vec![],
        reason: String::new(),
    }
}

async fn concurrent_writers_never_skip(database: Database) {
    const WRITERS: usize = 12;
    const TRANSACTIONS: usize = 25;
    let done = Arc::new(AtomicBool::new(false));

    // A reader polls while the writers commit, resuming after the last sequence it saw:
    // the pattern sync and reporting use.
    let reader_database = database.clone();
    let reader_done = done.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last = 0;
        loop {
            let finished = reader_done.load(Ordering::SeqCst);
            let page = changelog::read_after(reader_database.reader(), last, 50)
                .await
                .expect("read");
            if let Some(change) = page.last() {
                last = change.sequence;
            }
            let empty = page.is_empty();
            seen.extend(
                page.into_iter()
                    .map(|change| (change.sequence, change.resource_name)),
            );
            if finished && empty {
                return seen;
            }
            tokio::task::yield_now().await;
        }
    });

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let database = database.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for index in 0..TRANSACTIONS {
                let mut transaction = database.begin("tester", "xm").await.expect("begin");
                transaction.record(draft(writer, index));
                if index % 5 == 4 {
                    transaction.record(draft(writer, index + 1000));
                }
                if index % 7 == 3 {
                    // Dropped without commit: rolled back, must leave no trace.
                    drop(transaction);
                    continue;
                }
                transaction.commit().await.expect("commit");
                committed.push(format!("things/{writer}-{index}"));
                if index % 5 == 4 {
                    committed.push(format!("things/{writer}-{}", index + 1000));
                }
            }
            committed
        }));
    }
    let mut expected = BTreeSet::new();
    for writer in writers {
        expected.extend(writer.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("reader");

    let sequences: Vec<i64> = seen.iter().map(|(sequence, _)| *sequence).collect();
    let contiguous: Vec<i64> = (1..=sequences.len() as i64).collect();
    assert_eq!(
        sequences, contiguous,
        "sequences in order, without gaps or repeats"
    );
    let names: BTreeSet<String> = seen.into_iter().map(|(_, name)| name).collect();
    assert_eq!(
        names, expected,
        "every committed change seen, nothing rolled back"
    );
    assert_eq!(
        changelog::head(database.reader()).await.expect("head"),
        expected.len() as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_change_log_under_concurrent_writers() {
    let directory = tempfile::tempdir().expect("tempdir");
    concurrent_writers_never_skip(open("", directory.path()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_change_log_under_concurrent_writers() {
    let Some(postgres) =
        FreshPostgres::create("postgres_change_log_under_concurrent_writers").await
    else {
        return;
    };
    let directory = tempfile::tempdir().expect("tempdir");
    concurrent_writers_never_skip(open(postgres.url(), directory.path()).await).await;
}

#[tokio::test]
async fn history_lists_one_resource() {
    let directory = tempfile::tempdir().expect("tempdir");
    let database = open("", directory.path()).await;
    for index in 0..3 {
        let mut transaction = database.begin("tester", "xm").await.expect("begin");
        transaction.record(draft(0, 0));
        transaction.record(draft(1, index));
        transaction.commit().await.expect("commit");
    }
    let history = changelog::history(database.reader(), "things/0-0", 0, 10)
        .await
        .expect("history");
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|change| change.actor == "tester"));
    let after = changelog::history(database.reader(), "things/0-0", history[0].sequence, 10)
        .await
        .expect("history");
    assert_eq!(after.len(), 2);
}
