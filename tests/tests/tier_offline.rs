//! A district offline for a week's worth of changes (`EGRET_OFFLINE_CHANGES`, 200,000 by
//! default) catches up when its link returns, on both engines; the test prints the rate.
//! A binary of its own, so that its load does not overlap the fault tests'.

use std::time::Duration;

use egret_proto::registry::v1 as pb;
use egret_tests::{Backend, CityAndDistrict, Egret, Fault, authed, fresh_storage};

async fn offline_catch_up(backend: Backend, name: &str) {
    let Some((city_db, city_dir, city_url)) =
        fresh_storage(backend, &format!("{name}::city")).await
    else {
        return;
    };
    let Some((district_db, district_dir, district_url)) =
        fresh_storage(backend, &format!("{name}::district")).await
    else {
        return;
    };
    let changes: u32 = std::env::var("EGRET_OFFLINE_CHANGES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200_000);
    let pair = CityAndDistrict::start(
        (city_dir, city_url, city_db),
        (district_dir, district_url, district_db),
        "100ms",
    )
    .await;
    // Offline: every connection to the city is cut at once.
    pair.link.set(Fault::CutAfter(0));
    let registering = std::time::Instant::now();
    // Each registration is two changes: the volunteer and its membership.
    let volunteers = changes / 2;
    pair.register_volunteers(volunteers).await;
    let registered = registering.elapsed();
    // Cut off, the district's push is an alarm, also in its metrics.
    eventually_metric(&pair.district, "egret_sync_push_alarm", REGISTRY_PUSH, 1.0).await;
    // The link returns; the city catches up.
    let returned = std::time::Instant::now();
    pair.link.set(Fault::Pass);
    let mut city_volunteers =
        pb::volunteer_service_client::VolunteerServiceClient::new(pair.city.channel());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1800);
    loop {
        let page = city_volunteers
            .list_volunteers(authed(
                pb::ListVolunteersRequest {
                    org_unit: pair.unit.clone(),
                    page_size: 1,
                    ..Default::default()
                },
                &pair.city_admin,
            ))
            .await;
        let link = pair.registry_link().await;
        if link
            .is_some_and(|(acknowledged, head)| acknowledged == head && head >= i64::from(changes))
        {
            assert!(page.is_ok());
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never caught up: {link:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let caught_up = returned.elapsed();
    println!(
        "offline catch-up: {changes} changes registered in {registered:.1?}, applied at the city {caught_up:.1?} after the link returned ({:.0} changes/s)",
        f64::from(changes) / caught_up.as_secs_f64()
    );
    // Every volunteer is at the city, once.
    let held = volunteers_at_city(&pair).await;
    assert_eq!(held, usize::try_from(volunteers).expect("fits"));
    // And the metrics say so on both sides.
    eventually_metric(&pair.district, "egret_sync_push_alarm", REGISTRY_PUSH, 0.0).await;
    let link = [("service", "registry"), ("origin", "xm-siming")];
    eventually_metric(&pair.city, "egret_sync_link_behind_changes", &link, 0.0).await;
    eventually_metric(&pair.city, "egret_sync_link_alarm", &link, 0.0).await;
}

const REGISTRY_PUSH: &[(&str, &str)] = &[("service", "registry")];

/// Waits (at most a minute) for `egret`'s metric `name` with `labels` to read `expected`.
async fn eventually_metric(egret: &Egret, name: &str, labels: &[(&str, &str)], expected: f64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let value = egret.metric(name, labels).await;
        if value == Some(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} {labels:?} is {value:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How many distinct volunteers the city's registry holds in the district's subtree, read
/// page by page; a volunteer listed twice fails the test. (The city's statistics of the
/// same records are the union test's subject in `tiers.rs`; here the city's reporting
/// would still be working through the backlog long after the registry holds it.)
async fn volunteers_at_city(pair: &CityAndDistrict) -> usize {
    let mut client = pb::volunteer_service_client::VolunteerServiceClient::new(pair.city.channel());
    let mut seen = std::collections::HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_volunteers(authed(
                pb::ListVolunteersRequest {
                    org_unit: pair.unit.clone(),
                    page_size: 500,
                    page_token,
                    ..Default::default()
                },
                &pair.city_admin,
            ))
            .await
            .expect("the city lists the district's volunteers")
            .into_inner();
        for volunteer in page.volunteers {
            assert!(
                seen.insert(volunteer.name.clone()),
                "{} listed twice",
                volunteer.name
            );
        }
        if page.next_page_token.is_empty() {
            return seen.len();
        }
        page_token = page.next_page_token;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_offline_catches_up_sqlite() {
    offline_catch_up(Backend::Sqlite, "tier_faults::offline::sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_offline_catches_up_postgres() {
    offline_catch_up(Backend::Postgres, "tier_faults::offline::postgres").await;
}
