//! The sync volume benchmark: a district on SQLite that was cut off while it registered
//! volunteers syncs its backlog to the city on PostgreSQL, beside PostgreSQL COPY of the
//! same rows on the same machine in the same run.
//!
//! `EGRET_TEST_POSTGRES_URL=… cargo bench -p egret-tests --bench sync_volume`
//! (after `cargo build --release --bins`: the city and the district are `egret up`
//! processes of the release build).
//!
//! - `EGRET_BENCH_CHANGES` (default 1,000,000): changes in the district's registry log, two
//!   per registration (the volunteer and the membership).
//!
//! It prints the sync's rate in changes a second, from the city's first applied batch
//! after the link returns to its checkpoint reaching the district's head (the district's
//! own followers caught up first, and the pusher's backoff from the outage left out);
//! then the rows the sync wrote at the city (the district's volunteers and memberships)
//! copied with `COPY … FROM STDIN` into empty tables of the same definition (indexes and
//! constraints included), and the ratio. The sync also writes the city's change log and
//! checkpoint in the same transactions; COPY writes only the rows.
//!
//! Speed is shown here, never asserted in a test.

use std::time::{Duration, Instant};

use egret_tests::{Backend, CityAndDistrict, Fault, fresh_storage};
use futures::TryStreamExt;
use sqlx::Connection;

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs this with no `--bench`: nothing to measure then.
    if !std::env::args().any(|argument| argument == "--bench") {
        println!(
            "sync volume benchmark: run it with `cargo bench -p egret-tests --bench sync_volume`"
        );
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(measure())
}

async fn measure() -> anyhow::Result<()> {
    let changes: u32 = std::env::var("EGRET_BENCH_CHANGES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let Some(city_storage) = fresh_storage(Backend::Postgres, "bench::sync_volume::city").await
    else {
        println!("sync volume benchmark: set EGRET_TEST_POSTGRES_URL for the city's PostgreSQL");
        return Ok(());
    };
    let Some(district_storage) =
        fresh_storage(Backend::Sqlite, "bench::sync_volume::district").await
    else {
        return Ok(());
    };
    let (city_db, city_dir, city_url) = city_storage;
    let (district_db, district_dir, district_url) = district_storage;
    let pair = CityAndDistrict::start(
        (city_dir, city_url.clone(), city_db),
        (district_dir, district_url, district_db),
        "1s",
    )
    .await;

    pair.link.set(Fault::CutAfter(0));
    let volunteers = changes / 2;
    let registering = Instant::now();
    pair.register_volunteers(volunteers).await;
    println!(
        "sync volume: {volunteers} registrations ({changes} changes) at the district on SQLite in {:.1?}",
        registering.elapsed()
    );
    // A district that registers over a week keeps its own followers (activity,
    // recognition and reporting reading the registry's log) up to date as it goes; here
    // they catch up first, so that only the sync is timed.
    let settling = Instant::now();
    district_settled(pair.dirs[1].path()).await?;
    println!(
        "sync volume: the district's own followers caught up {:.1?} later",
        settling.elapsed()
    );
    // Before the district's first push the city knows no head of its log.
    let (before, head) = pair.registry_link().await.unwrap_or((0, 0));

    // A pusher that failed while the link was down waits out its backoff (up to a minute)
    // before it tries again: the rate is timed from the first batch the city applies, and
    // counts the changes after it.
    let returned = Instant::now();
    pair.link.set(Fault::Pass);
    let target = head + i64::from(changes);
    let mut first: Option<(Instant, i64)> = None;
    loop {
        if let Some((acknowledged, head)) = pair.registry_link().await {
            if acknowledged > before && first.is_none() {
                first = Some((Instant::now(), acknowledged));
            }
            if acknowledged == head && head >= target {
                break;
            }
        }
        anyhow::ensure!(
            returned.elapsed() < Duration::from_secs(6 * 3600),
            "the city never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first_time, first_acknowledged) = first.expect("the city applied a batch");
    let synced = first_time.elapsed();
    let timed = target - first_acknowledged;
    let sync_rate = timed as f64 / synced.as_secs_f64();
    println!(
        "sync volume: district (SQLite) -> city (PostgreSQL): {changes} changes; the first batch \
         applied {:.1?} after the link returned, the {timed} after it in {synced:.1?}: {sync_rate:.0} changes/s",
        first_time - returned
    );

    let (copied, copy_time) = copy_same_rows(&city_url).await?;
    let copy_rate = copied as f64 / copy_time.as_secs_f64();
    println!(
        "sync volume: PostgreSQL COPY of the same {copied} rows in {copy_time:.1?}: {copy_rate:.0} rows/s; sync / COPY = {:.2} (goal: at least 0.5)",
        sync_rate / copy_rate
    );
    Ok(())
}

/// Waits until every follower of the district on SQLite under `data_dir` (each service's
/// `feed_checkpoints`) has applied the whole log it follows.
async fn district_settled(data_dir: &std::path::Path) -> anyhow::Result<()> {
    // One read-only connection per service's file, opened once.
    let mut connections = std::collections::HashMap::new();
    for service in ["registry", "activity", "recognition", "reporting"] {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data_dir.join(format!("{service}.db")))
            .read_only(true);
        connections.insert(
            service.to_string(),
            sqlx::SqliteConnection::connect_with(&options).await?,
        );
    }
    let started = Instant::now();
    loop {
        let mut heads = std::collections::HashMap::new();
        for (service, connection) in &mut connections {
            let (head,): (i64,) = sqlx::query_as("SELECT last_sequence FROM change_log_head")
                .fetch_one(connection)
                .await?;
            heads.insert(service.clone(), head);
        }
        let mut behind = Vec::new();
        for follower in ["activity", "recognition", "reporting"] {
            let checkpoints: Vec<(String, i64)> =
                sqlx::query_as("SELECT feed, last_sequence FROM feed_checkpoints")
                    .fetch_all(connections.get_mut(follower).expect("opened"))
                    .await?;
            for (feed, applied) in checkpoints {
                let head = heads.get(&feed).copied().unwrap_or_default();
                if applied < head {
                    behind.push(format!("{follower} of {feed}: {applied} of {head}"));
                }
            }
        }
        if behind.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "the district's followers never caught up: {behind:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Copies the district's volunteers and memberships the sync wrote into the city's
/// registry schema into empty tables of the same definition, with COPY; the rows and the
/// time the COPY FROM STDIN took (the rows are read out first, outside the time).
async fn copy_same_rows(city_url: &str) -> anyhow::Result<(u64, Duration)> {
    let mut connection = sqlx::PgConnection::connect(city_url).await?;
    let mut copied = 0;
    let mut time = Duration::ZERO;
    for table in ["volunteers", "memberships"] {
        sqlx::query(&format!(
            "CREATE TABLE public.copy_{table} (LIKE registry.{table} INCLUDING ALL)"
        ))
        .execute(&mut connection)
        .await?;
        let rows: Vec<_> = connection
            .copy_out_raw(&format!(
                "COPY (SELECT * FROM registry.{table} WHERE origin_instance = 'xm-siming') \
                 TO STDOUT"
            ))
            .await?
            .try_collect()
            .await?;
        let started = Instant::now();
        let mut copy = connection
            .copy_in_raw(&format!("COPY public.copy_{table} FROM STDIN"))
            .await?;
        for chunk in rows {
            copy.send(chunk).await?;
        }
        copied += copy.finish().await?;
        time += started.elapsed();
    }
    Ok((copied, time))
}
