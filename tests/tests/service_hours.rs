//! The whole path: an activity published, a volunteer signed up and approved, checked in
//! with the organizer's code, the activity completed, hours approved and totalled.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, violated_fields};
use tonic::Code;

both_backends!(from_publication_to_approved_hours);

fn seconds_from_now(seconds: i64) -> Option<prost_types::Timestamp> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    Some(prost_types::Timestamp {
        seconds: now + seconds,
        nanos: 0,
    })
}

async fn from_publication_to_approved_hours(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 11).await;
    let own = app.volunteer_token(&app.root, &volunteer.name);

    // Starts in two seconds and lasts three hours, at a fenced site.
    let activity = app
        .activities(&leader)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.name.clone(),
                display_name: "图书馆导读".to_string(),
                service_theme: common::ServiceTheme::Civility as i32,
                site: Some(pb::ServiceSite {
                    display_name: "市图书馆".to_string(),
                    address: "厦门市思明区体育路".to_string(),
                    kind: pb::SiteKind::Library as i32,
                    check_in_fence: Some(pb::CheckInFence {
                        latitude: 24.4798,
                        longitude: 118.0894,
                        radius_meters: 300,
                    }),
                }),
                start_time: seconds_from_now(2),
                end_time: seconds_from_now(2 + 3 * 3600),
                risk_level: pb::RiskLevel::Low as i32,
                positions: vec![pb::Position {
                    role: "导读员".to_string(),
                    headcount: 2,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .activity
        .expect("activity");
    app.activities(&leader)
        .publish_activity(pb::PublishActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("publishes");
    let sign_up = app
        .sign_ups(&own)
        .create_sign_up(pb::CreateSignUpRequest {
            parent: activity.name.clone(),
            sign_up: Some(pb::SignUp {
                volunteer: volunteer.name.clone(),
                position_id: activity.positions[0].position_id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("signs up")
        .into_inner()
        .sign_up
        .expect("sign-up");
    app.sign_ups(&leader)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: sign_up.name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves");

    // Attendance is taken only once the activity is under way.
    let status = app
        .attendance(&leader)
        .get_check_in_code(pb::GetCheckInCodeRequest {
            activity: activity.name.clone(),
        })
        .await
        .expect_err("not started");
    assert_eq!(status.code(), Code::FailedPrecondition);
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.activities(&leader)
        .start_activity(pb::StartActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("starts");
    let code = app
        .attendance(&leader)
        .get_check_in_code(pb::GetCheckInCodeRequest {
            activity: activity.name.clone(),
        })
        .await
        .expect("code")
        .into_inner()
        .code;
    assert_eq!(code.len(), 6);

    let check_in = |code: &str, latitude: f64| pb::CheckInRequest {
        activity: activity.name.clone(),
        volunteer: volunteer.name.clone(),
        code: code.to_string(),
        position: Some(pb::DevicePosition {
            latitude,
            longitude: 118.0894,
        }),
    };
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let status = app
        .attendance(&own)
        .check_in(check_in(wrong, 24.4798))
        .await
        .expect_err("wrong code");
    assert_eq!(violated_fields(&status), ["code"]);
    let status = app
        .attendance(&own)
        .check_in(check_in(&code, 24.60))
        .await
        .expect_err("outside");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let attendance = app
        .attendance(&own)
        .check_in(check_in(&code, 24.4800))
        .await
        .expect("checks in")
        .into_inner()
        .attendance
        .expect("attendance");
    assert_eq!(attendance.fence_result, pb::FenceResult::Inside as i32);
    let status = app
        .attendance(&own)
        .check_in(check_in(&code, 24.4800))
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // The volunteer forgets to check out: completing closes the attendance at the end and
    // flags it; the record counts the time from check-in to the activity's end.
    app.activities(&leader)
        .complete_activity(pb::CompleteActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("completes");
    let attendances = app
        .attendance(&leader)
        .list_attendances(pb::ListAttendancesRequest {
            parent: activity.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .attendances;
    assert_eq!(attendances.len(), 1);
    assert!(attendances[0].needs_review);
    assert!(attendances[0].check_out_time.is_some());

    let records = app
        .service_records(&leader)
        .list_service_records(pb::ListServiceRecordsRequest {
            activity: activity.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .service_records;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.state, pb::ServiceRecordState::Submitted as i32);
    assert!(record.needs_review);
    assert!((175..=180).contains(&record.minutes), "{}", record.minutes);
    assert_eq!(
        record.platform_report_status,
        pb::PlatformReportStatus::NotReported as i32
    );

    // Nothing counts before approval.
    let hours = |token: String| {
        let app = &app;
        let volunteer = volunteer.name.clone();
        async move {
            app.service_records(&token)
                .get_volunteer_hours(pb::GetVolunteerHoursRequest {
                    volunteer,
                    ..Default::default()
                })
                .await
                .expect("totals")
                .into_inner()
        }
    };
    assert_eq!(hours(own.clone()).await.approved_minutes, 0);
    app.service_records(&leader)
        .approve_service_record(pb::ApproveServiceRecordRequest {
            name: record.name.clone(),
            comment: "核实".to_string(),
        })
        .await
        .expect("approves");
    let totals = hours(own.clone()).await;
    assert_eq!(totals.approved_minutes, record.minutes);
    assert_eq!(totals.record_count, 1);
    assert_eq!(hours(leader.clone()).await.approved_minutes, record.minutes);
    let status = app
        .service_records(&leader)
        .reject_service_record(pb::RejectServiceRecordRequest {
            name: record.name.clone(),
            comment: "重复".to_string(),
        })
        .await
        .expect_err("already reviewed");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Another district sees none of it.
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let outsider = app.token(&other.name, &[Role::Staff]);
    let status = app
        .service_records(&outsider)
        .get_service_record(pb::GetServiceRecordRequest {
            name: record.name.clone(),
        })
        .await
        .expect_err("other district");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(hours(outsider).await.approved_minutes, 0);
    app.stop().await;
}
