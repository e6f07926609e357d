//! Activities of the activity service, with the registry beside it.

use std::time::{SystemTime, UNIX_EPOCH};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, violated_fields};
use tonic::Code;

both_backends!(activity_lifecycle);

/// A timestamp `hours` from now.
fn in_hours(hours: i64) -> Option<prost_types::Timestamp> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    Some(prost_types::Timestamp {
        seconds: now + hours * 3600,
        nanos: 0,
    })
}

fn activity_input(org_unit: &str, start_hours: i64) -> pb::Activity {
    pb::Activity {
        org_unit: org_unit.to_string(),
        display_name: "社区空巢老人探访".to_string(),
        description: "上门陪伴、健康咨询".to_string(),
        service_theme: common::ServiceTheme::Care as i32,
        service_field: common::ServiceField::ElderlyCare as i32,
        target_groups: vec![common::TargetGroup::ElderlyLivingAlone as i32],
        site: Some(pb::ServiceSite {
            display_name: "莲前街道妇女之家".to_string(),
            address: "厦门市思明区莲前街道".to_string(),
            kind: pb::SiteKind::WomensHome as i32,
            check_in_fence: Some(pb::CheckInFence {
                latitude: 24.48,
                longitude: 118.11,
                radius_meters: 300,
            }),
        }),
        start_time: in_hours(start_hours),
        end_time: in_hours(start_hours + 3),
        risk_level: pb::RiskLevel::Low as i32,
        positions: vec![pb::Position {
            role: "陪伴员".to_string(),
            headcount: 10,
            required_skills: vec!["沟通".to_string()],
            minimum_age: 18,
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn activity_lifecycle(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let created = app
        .activities(&leader)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(activity_input(&team.name, 48)),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .activity
        .expect("activity");
    assert_eq!(created.state, pb::ActivityState::Draft as i32);
    assert!(!created.positions[0].position_id.is_empty());

    let published = app
        .activities(&leader)
        .publish_activity(pb::PublishActivityRequest {
            name: created.name.clone(),
        })
        .await
        .expect("publishes")
        .into_inner()
        .activity
        .expect("activity");
    assert_eq!(published.state, pb::ActivityState::Published as i32);

    // Only future activities are published.
    let past = app
        .activities(&leader)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(activity_input(&team.name, -5)),
            request_id: String::new(),
        })
        .await
        .expect("a draft of the past is allowed")
        .into_inner()
        .activity
        .expect("activity");
    let status = app
        .activities(&leader)
        .publish_activity(pb::PublishActivityRequest {
            name: past.name.clone(),
        })
        .await
        .expect_err("past");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Risky activities need cover.
    let mut risky = activity_input(&team.name, 24);
    risky.risk_level = pb::RiskLevel::High as i32;
    let risky = app
        .activities(&leader)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(risky),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .activity
        .expect("activity");
    let status = app
        .activities(&leader)
        .publish_activity(pb::PublishActivityRequest {
            name: risky.name.clone(),
        })
        .await
        .expect_err("no cover");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&team.name),
        "{}",
        status.message()
    );

    let mut bad = activity_input(&team.name, 24);
    bad.end_time = bad.start_time;
    let status = app
        .activities(&leader)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(bad),
            request_id: String::new(),
        })
        .await
        .expect_err("end at start");
    assert_eq!(violated_fields(&status), ["activity.end_time"]);
    app.stop().await;
}
