//! Faults between a district and the city, in the spirit of Jepsen: the district keeps
//! writing while its link to the city is cut mid-batch, slowed down, replayed (every
//! batch delivered twice), and while either process is killed with SIGKILL and restarted.
//! After each fault, a set check: every write the district acknowledged (units, volunteers
//! and hours, over the registry's and the activity service's links) is at the city exactly
//! once, at its latest version, and nothing else is.
//!
//! Ten faults in the default run; `EGRET_FAULTS=100` runs a hundred. A district offline
//! for a week's worth of changes (`EGRET_OFFLINE_CHANGES`, 200,000 by default) catches
//! up when its link returns.

use std::collections::BTreeMap;
use std::time::Duration;

use egret_proto::registry::v1 as pb;
use egret_proto::sync::v1 as sync_pb;
use egret_tests::{Backend, CityAndDistrict, Fault, authed, fresh_storage};
use prost_types::FieldMask;
use tonic::transport::Channel;

/// The units under `root` (itself left out) by name: display name and version.
async fn units(
    channel: &Channel,
    token: &str,
    root: &str,
) -> Option<BTreeMap<String, (String, i64)>> {
    let mut client = pb::org_unit_service_client::OrgUnitServiceClient::new(channel.clone());
    let mut found = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_org_units(authed(
                pb::ListOrgUnitsRequest {
                    ancestor: root.to_string(),
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .ok()?
            .into_inner();
        for unit in page.org_units {
            if unit.name == root {
                continue;
            }
            let version = unit.metadata.as_ref().map_or(0, |meta| meta.version);
            // Exactly once: a name listed twice would be a double.
            assert!(
                found
                    .insert(unit.name.clone(), (unit.display_name, version))
                    .is_none(),
                "{} listed twice",
                unit.name
            );
        }
        if page.next_page_token.is_empty() {
            return Some(found);
        }
        page_token = page.next_page_token;
    }
}

/// The volunteers serving under `root` by name: display name and version.
async fn volunteers(
    channel: &Channel,
    token: &str,
    root: &str,
) -> Option<BTreeMap<String, (String, i64)>> {
    let mut client = pb::volunteer_service_client::VolunteerServiceClient::new(channel.clone());
    let mut found = BTreeMap::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_volunteers(authed(
                pb::ListVolunteersRequest {
                    org_unit: root.to_string(),
                    page_size: 500,
                    page_token: page_token.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .ok()?
            .into_inner();
        for volunteer in page.volunteers {
            let version = volunteer.metadata.as_ref().map_or(0, |meta| meta.version);
            assert!(
                found
                    .insert(volunteer.name.clone(), (volunteer.display_name, version))
                    .is_none(),
                "{} listed twice",
                volunteer.name
            );
        }
        if page.next_page_token.is_empty() {
            return Some(found);
        }
        page_token = page.next_page_token;
    }
}

/// The approved minutes and service records of `root`'s subtree, as `instance`'s
/// statistics count them once caught up.
async fn hours(channel: &Channel, token: &str, root: &str) -> Option<(i64, i64)> {
    let overview =
        egret_proto::reporting::v1::statistics_service_client::StatisticsServiceClient::new(
            channel.clone(),
        )
        .get_overview(authed(
            egret_proto::reporting::v1::GetOverviewRequest {
                org_unit: root.to_string(),
                catch_up: true,
                ..Default::default()
            },
            token,
        ))
        .await
        .ok()?
        .into_inner();
    Some((overview.approved_minutes, overview.service_records))
}

/// Everything the set check compares: units, volunteers, and hours.
type Written = (
    BTreeMap<String, (String, i64)>,
    BTreeMap<String, (String, i64)>,
    (i64, i64),
);

async fn everything(channel: &Channel, token: &str, root: &str) -> Option<Written> {
    Some((
        units(channel, token, root).await?,
        volunteers(channel, token, root).await?,
        hours(channel, token, root).await?,
    ))
}

/// What the district writes in one round: a new sub-team, and a new name for an older one.
async fn write_round(
    district: &Channel,
    token: &str,
    root: &str,
    round: usize,
    written: &mut Vec<String>,
) {
    let mut client = pb::org_unit_service_client::OrgUnitServiceClient::new(district.clone());
    let created = client
        .create_org_unit(authed(
            pb::CreateOrgUnitRequest {
                parent: root.to_string(),
                org_unit: Some(pb::OrgUnit {
                    tier: pb::Tier::SubTeam as i32,
                    level: pb::TeamLevel::District as i32,
                    display_name: format!("第{round}分队 {}", written.len()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("the district writes while its link is faulty")
        .into_inner()
        .org_unit
        .expect("unit");
    // A volunteer registered in it (the registry's log), with an hour of service (the
    // activity service's log).
    let seed = 100 + written.len() as u32;
    let volunteer = pb::volunteer_service_client::VolunteerServiceClient::new(district.clone())
        .create_volunteer(authed(
            pb::CreateVolunteerRequest {
                org_unit: created.name.clone(),
                volunteer: Some(pb::Volunteer {
                    display_name: format!("志愿者{seed}"),
                    id_type: pb::IdType::ResidentId as i32,
                    id_number: resident_id(seed),
                    phone: format!("139{seed:08}"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("the district registers while its link is faulty")
        .into_inner()
        .volunteer
        .expect("volunteer");
    let day = egret_tests::days_before(egret_runtime::wire::today(), 1);
    egret_proto::activity::v1::service_record_service_client::ServiceRecordServiceClient::new(
        district.clone(),
    )
    .import_service_records(authed(
        egret_proto::activity::v1::ImportServiceRecordsRequest {
            org_unit: created.name.clone(),
            rows: vec![egret_proto::activity::v1::ImportServiceRecordRow {
                volunteer: volunteer.name,
                service_date: Some(egret_runtime::wire::date_to_wire(day)),
                minutes: 60,
                description: "一小时服务".to_string(),
            }],
            request_id: uuid::Uuid::new_v4().to_string(),
        },
        token,
    ))
    .await
    .expect("the district imports hours while its link is faulty");
    written.push(created.name);
    let renamed = &written[round / 2];
    client
        .update_org_unit(authed(
            pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: renamed.clone(),
                    display_name: format!("第{round}次改名的分队 {}", renamed.len()),
                    ..Default::default()
                }),
                update_mask: Some(FieldMask {
                    paths: vec!["display_name".to_string()],
                }),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("the district renames its own unit");
}

#[derive(Debug, Clone, Copy)]
enum Injected {
    CutMidBatch,
    Slow,
    Replayed,
    DistrictKilled,
    CityKilled,
}

const FAULTS: [Injected; 5] = [
    Injected::CutMidBatch,
    Injected::Slow,
    Injected::Replayed,
    Injected::DistrictKilled,
    Injected::CityKilled,
];

async fn faults_lose_and_double_nothing(backend: Backend, name: &str) {
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
    let rounds: usize = std::env::var("EGRET_FAULTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);

    let CityAndDistrict {
        mut city,
        mut district,
        link,
        unit,
        city_admin,
        district_admin,
        // Kept to the end: dropping them removes the data.
        dirs: _dirs,
        databases: _databases,
    } = CityAndDistrict::start(
        (city_dir, city_url, city_db),
        (district_dir, district_url, district_db),
        "100ms",
    )
    .await;
    let mut written = Vec::new();
    for round in 0..rounds {
        let fault = FAULTS[round % FAULTS.len()];
        write_round(
            &district.channel(),
            &district_admin,
            &district.root,
            round,
            &mut written,
        )
        .await;
        match fault {
            Injected::CutMidBatch => {
                // Cut the connections a few hundred bytes in, while the district writes on.
                link.set(Fault::CutAfter(300));
                write_round(
                    &district.channel(),
                    &district_admin,
                    &district.root,
                    round,
                    &mut written,
                )
                .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                link.set(Fault::Pass);
            }
            Injected::Slow => {
                link.set(Fault::Delay(Duration::from_millis(150)));
                write_round(
                    &district.channel(),
                    &district_admin,
                    &district.root,
                    round,
                    &mut written,
                )
                .await;
                tokio::time::sleep(Duration::from_millis(800)).await;
                link.set(Fault::Pass);
            }
            Injected::Replayed => {
                // Close the open connections, then deliver all they carried a second time.
                link.cut_now();
                tokio::time::sleep(Duration::from_millis(300)).await;
                link.set(Fault::Pass);
                assert!(link.replay_recorded().await > 0, "something to replay");
            }
            Injected::DistrictKilled => {
                write_round(
                    &district.channel(),
                    &district_admin,
                    &district.root,
                    round,
                    &mut written,
                )
                .await;
                district.kill();
                district.restart();
            }
            Injected::CityKilled => {
                write_round(
                    &district.channel(),
                    &district_admin,
                    &district.root,
                    round,
                    &mut written,
                )
                .await;
                city.kill();
                tokio::time::sleep(Duration::from_millis(300)).await;
                city.restart();
            }
        }
        // The set check, once the link has caught up.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let at_district = everything(&district.channel(), &district_admin, &district.root)
                .await
                .expect("the district answers");
            let at_city = everything(&city.channel(), &city_admin, &unit).await;
            if at_city.as_ref() == Some(&at_district) {
                let (units, volunteers, (minutes, records)) = &at_district;
                let acknowledged = written.len();
                assert_eq!(units.len(), acknowledged, "every acknowledged unit");
                assert_eq!(
                    volunteers.len(),
                    acknowledged,
                    "every acknowledged volunteer"
                );
                assert_eq!(
                    (*minutes, *records),
                    (60 * acknowledged as i64, acknowledged as i64),
                    "every acknowledged hour"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after {fault:?} (round {round}) the city never matched the district:\ndistrict {at_district:#?}\ncity {at_city:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A distinct valid resident ID for every `seed` below ten million.
fn resident_id(seed: u32) -> String {
    let birth = egret_types::CivilDate::new(1950, 1, 1)
        .expect("a date")
        .add_days(i64::from(seed % 18_000));
    let first17 = format!(
        "350203{:04}{:02}{:02}{:03}",
        birth.year,
        birth.month,
        birth.day,
        seed / 18_000
    );
    let check = egret_tests::gb11643_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

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
    let mut client =
        pb::volunteer_service_client::VolunteerServiceClient::new(pair.district.channel());
    // Each registration is two changes: the volunteer and its membership.
    let volunteers = changes / 2;
    let mut seed = 0;
    while seed < volunteers {
        let rows = (volunteers - seed).min(1000);
        let requests = (seed..seed + rows)
            .map(|seed| pb::CreateVolunteerRequest {
                volunteer: Some(pb::Volunteer {
                    display_name: format!("志愿者{seed}"),
                    id_type: pb::IdType::ResidentId as i32,
                    id_number: resident_id(seed),
                    phone: format!("139{seed:08}"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let mut request = authed(
            pb::BatchCreateVolunteersRequest {
                org_unit: pair.district.root.clone(),
                requests,
                request_id: String::new(),
            },
            &pair.district_admin,
        );
        request.set_timeout(Duration::from_secs(60));
        client
            .batch_create_volunteers(request)
            .await
            .expect("the district registers while offline");
        seed += rows;
    }
    let registered = registering.elapsed();
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
        let link = link_state(&pair).await;
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
    // Every volunteer is at the city.
    let count = count_at_city(&pair, u64::from(volunteers)).await;
    assert_eq!(count, u64::from(volunteers));
}

/// The registry link's (acknowledged, head) at the city.
async fn link_state(pair: &CityAndDistrict) -> Option<(i64, i64)> {
    let mut request = authed(
        sync_pb::ListUpstreamLinksRequest::default(),
        &pair.city_admin,
    );
    request
        .metadata_mut()
        .insert("egret-service", "registry".parse().expect("ascii"));
    let links = sync_pb::upward_service_client::UpwardServiceClient::new(pair.city.channel())
        .list_upstream_links(request)
        .await
        .ok()?
        .into_inner()
        .links;
    links
        .first()
        .map(|link| (link.acknowledged_sequence, link.head_sequence))
}

/// The district's volunteers at the city, counted by the city's statistics once they
/// count `expected` (the city's reporting follows its registry's log on its own pace,
/// which a backlog of 100,000 registrations keeps busy for a while), or after 20 minutes.
async fn count_at_city(pair: &CityAndDistrict, expected: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1200);
    loop {
        let counted =
            egret_proto::reporting::v1::statistics_service_client::StatisticsServiceClient::new(
                pair.city.channel(),
            )
            .get_overview(authed(
                egret_proto::reporting::v1::GetOverviewRequest {
                    org_unit: pair.unit.clone(),
                    ..Default::default()
                },
                &pair.city_admin,
            ))
            .await
            .map(|overview| u64::try_from(overview.into_inner().volunteers).unwrap_or_default());
        if let Ok(counted) = counted
            && (counted == expected || tokio::time::Instant::now() >= deadline)
        {
            return counted;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the city's statistics never answered: {counted:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_double_nothing_sqlite() {
    faults_lose_and_double_nothing(Backend::Sqlite, "tier_faults::sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_double_nothing_postgres() {
    faults_lose_and_double_nothing(Backend::Postgres, "tier_faults::postgres").await;
}
