//! Faults between a district and the city, in the spirit of Jepsen: the district keeps
//! writing while its link to the city is cut mid-batch, slowed down, replayed (every
//! batch delivered twice), and while either process is killed with SIGKILL and restarted.
//! After each fault, a set check: every write the district acknowledged (units, volunteers
//! and hours, over the registry's and the activity service's links) is at the city exactly
//! once, at its latest version, and nothing else is; and at the end every service's link
//! is proven by a tally of all its kinds of record at the district's head.
//!
//! Ten faults in the default run; `EGRET_FAULTS=100` runs a hundred. The week offline is
//! in `tier_offline.rs`, a binary of its own so that its load does not overlap these.

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
/// statistics count them now (the set check polls until they match).
async fn hours(channel: &Channel, token: &str, root: &str) -> Option<(i64, i64)> {
    let overview =
        egret_proto::reporting::v1::statistics_service_client::StatisticsServiceClient::new(
            channel.clone(),
        )
        .get_overview(authed(
            egret_proto::reporting::v1::GetOverviewRequest {
                org_unit: root.to_string(),
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
                    id_number: egret_tests::wide_resident_id(seed),
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
        // A read that fails (a busy machine, a process restarting) is tried again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            let at_district =
                everything(&district.channel(), &district_admin, &district.root).await;
            let at_city = everything(&city.channel(), &city_admin, &unit).await;
            // Every acknowledged unit, volunteer and hour, at the district and the city
            // alike (the statistics are read as they stand, so they are awaited too).
            let acknowledged = written.len();
            let complete = |(units, volunteers, hours): &Written| {
                units.len() == acknowledged
                    && volunteers.len() == acknowledged
                    && *hours == (60 * acknowledged as i64, acknowledged as i64)
            };
            if let Some(at_district) = at_district.as_ref()
                && complete(at_district)
                && at_city.as_ref() == Some(at_district)
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after {fault:?} (round {round}) the city never matched the district:\ndistrict {at_district:#?}\ncity {at_city:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // And every kind of record of every service, by the links' own tallies: each link is
    // proven at the district's head, its copies agreeing in number and versions.
    for service in ["registry", "activity", "recognition", "reporting"] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut request = authed(sync_pb::ListUpstreamLinksRequest::default(), &city_admin);
            request
                .metadata_mut()
                .insert("egret-service", service.parse().expect("ascii"));
            let link = sync_pb::upward_service_client::UpwardServiceClient::new(city.channel())
                .list_upstream_links(request)
                .await
                .ok()
                .and_then(|links| links.into_inner().links.into_iter().next());
            if let Some(link) = &link
                && link.verified_sequence == link.head_sequence
                && link.acknowledged_sequence == link.head_sequence
            {
                assert!(link.mismatch.is_empty(), "{service}: {link:?}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the {service} link was never proven by a tally: {link:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_double_nothing_sqlite() {
    faults_lose_and_double_nothing(Backend::Sqlite, "tier_faults::sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_lose_and_double_nothing_postgres() {
    faults_lose_and_double_nothing(Backend::Postgres, "tier_faults::postgres").await;
}
