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
//! It prints the sync's rate in changes a second, from the link's return to the city's
//! checkpoint reaching the district's head; then the rows the sync wrote at the city
//! (the district's volunteers and memberships) copied with `COPY … FROM STDIN` into empty
//! tables of the same definition (indexes and constraints included), and the ratio. The
//! sync also writes the city's change log and checkpoint in the same transactions; COPY
//! writes only the rows.
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
    // Before the district's first push the city knows no head of its log.
    let head = pair.registry_link().await.map_or(0, |(_, head)| head);

    let returned = Instant::now();
    pair.link.set(Fault::Pass);
    let target = head + i64::from(changes);
    loop {
        if let Some((acknowledged, head)) = pair.registry_link().await
            && acknowledged == head
            && head >= target
        {
            break;
        }
        anyhow::ensure!(
            returned.elapsed() < Duration::from_secs(6 * 3600),
            "the city never caught up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let synced = returned.elapsed();
    let sync_rate = f64::from(changes) / synced.as_secs_f64();
    println!(
        "sync volume: district (SQLite) -> city (PostgreSQL): {changes} changes in {synced:.1?}: {sync_rate:.0} changes/s"
    );

    let (copied, copy_time) = copy_same_rows(&city_url).await?;
    let copy_rate = copied as f64 / copy_time.as_secs_f64();
    println!(
        "sync volume: PostgreSQL COPY of the same {copied} rows in {copy_time:.1?}: {copy_rate:.0} rows/s; sync / COPY = {:.2} (goal: at least 0.5)",
        sync_rate / copy_rate
    );
    Ok(())
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
