//! The tier benchmark: how long a change made at a district takes to reach the city's
//! statistics while the district is busy.
//!
//! `cargo bench -p egret-tests --bench tiers`
//!
//! It starts a city and an enrolled district, each an `egret up` process (both on SQLite,
//! then the city on a fresh PostgreSQL database when `EGRET_TEST_POSTGRES_URL` is set), the
//! district pushing every `gateway.push_interval` as shipped (1 s). While writers register
//! volunteers at the district back to back, each probe imports an hour of service at the
//! district and times how long until the district's own statistics count it (the baseline:
//! the same feeds, without the link) and until the city's do, polling both every 20 ms
//! without asking them to catch up.
//!
//! - `EGRET_BENCH_PROBES` (default 20): probes, one after another.
//! - `EGRET_BENCH_WRITERS` (default 4): concurrent writers, each registering batches of 20.
//!
//! Speed is shown here, never asserted in a test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use egret_proto::activity::v1 as activity_pb;
use egret_proto::reporting::v1 as reporting_pb;
use egret_tests::{Backend, CityAndDistrict, Egret, authed, fresh_storage};

const BATCH: u32 = 20;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs this with no `--bench`: nothing to measure then.
    if !std::env::args().any(|argument| argument == "--bench") {
        println!("tier benchmark: run it with `cargo bench -p egret-tests --bench tiers`");
        return Ok(());
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            measure(Backend::Sqlite).await;
            measure(Backend::Postgres).await;
        });
    Ok(())
}

async fn approved_minutes(instance: &Egret, token: &str, unit: &str) -> i64 {
    reporting_pb::statistics_service_client::StatisticsServiceClient::new(instance.channel())
        .get_overview(authed(
            reporting_pb::GetOverviewRequest {
                org_unit: unit.to_string(),
                catch_up: false,
                ..Default::default()
            },
            token,
        ))
        .await
        .map(|response| response.into_inner().approved_minutes)
        .unwrap_or(-1)
}

async fn measure(city_backend: Backend) {
    let Some((city_db, city_dir, city_url)) =
        fresh_storage(city_backend, "bench::tiers::city").await
    else {
        return;
    };
    let (district_db, district_dir, district_url) =
        fresh_storage(Backend::Sqlite, "bench::tiers::district")
            .await
            .expect("SQLite needs no configuration");
    let tiers = Arc::new(
        CityAndDistrict::start(
            (city_dir, city_url, city_db),
            (district_dir, district_url, district_db),
            "1s",
        )
        .await,
    );
    let probes = env_number("EGRET_BENCH_PROBES", 20);
    let writers = env_number("EGRET_BENCH_WRITERS", 4);
    let probe = tiers.register(0..1).await.remove(0);

    let stop = Arc::new(AtomicBool::new(false));
    let next_seed = Arc::new(AtomicU32::new(1_000));
    let started = Instant::now();
    let load: Vec<_> = (0..writers)
        .map(|_| {
            let (tiers, stop, next_seed) = (tiers.clone(), stop.clone(), next_seed.clone());
            tokio::spawn(async move {
                let mut written = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let first = next_seed.fetch_add(BATCH, Ordering::Relaxed);
                    written += tiers.register(first..first + BATCH).await.len() as u64;
                }
                written
            })
        })
        .collect();

    let mut to_district = Vec::new();
    let mut to_city = Vec::new();
    let mut activity = activity_pb::service_record_service_client::ServiceRecordServiceClient::new(
        tiers.district.channel(),
    );
    for index in 0..probes {
        let expected = 60 * (index as i64 + 1);
        let day = egret_tests::days_before(egret_runtime::wire::today(), index as i64 + 1);
        activity
            .import_service_records(authed(
                activity_pb::ImportServiceRecordsRequest {
                    org_unit: tiers.district.root.clone(),
                    rows: vec![activity_pb::ImportServiceRecordRow {
                        volunteer: probe.name.clone(),
                        service_date: Some(egret_runtime::wire::date_to_wire(day)),
                        minutes: 60,
                        description: "a probe".to_string(),
                    }],
                    request_id: uuid::Uuid::new_v4().to_string(),
                },
                &tiers.district_admin,
            ))
            .await
            .expect("the district imports the probe's hour");
        let written = Instant::now();
        let mut at_district = None;
        loop {
            if at_district.is_none()
                && approved_minutes(&tiers.district, &tiers.district_admin, &tiers.unit).await
                    >= expected
            {
                at_district = Some(written.elapsed());
            }
            if approved_minutes(&tiers.city, &tiers.city_admin, &tiers.unit).await >= expected {
                to_city.push(written.elapsed());
                to_district.push(at_district.unwrap_or_else(|| written.elapsed()));
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(120),
                "probe {index} never reached the city"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut registered = 0;
    for writer in load {
        registered += writer.await.expect("a writer");
    }
    let rate = registered as f64 / started.elapsed().as_secs_f64();

    println!(
        "tier latency: city on {city_backend:?}, district on Sqlite, push interval 1 s, \
         {writers} writers registering {rate:.0} volunteers/s at the district, {probes} probes"
    );
    let district = summary(&mut to_district);
    let city = summary(&mut to_city);
    println!(
        "  to the district's own statistics (baseline): p50 {:.2} s, max {:.2} s",
        district.0, district.1
    );
    println!(
        "  to the city's statistics:                    p50 {:.2} s, max {:.2} s (p50 x{:.1} the baseline)",
        city.0,
        city.1,
        city.0 / district.0.max(0.001)
    );
}

/// (p50, max) in seconds.
fn summary(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let p50 = times[times.len() / 2].as_secs_f64();
    let max = times.last().map_or(0.0, Duration::as_secs_f64);
    (p50, max)
}
