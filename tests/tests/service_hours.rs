//! The whole path: an activity published, a volunteer signed up and approved, checked in
//! with the organizer's code, the activity completed, hours approved and totalled.

use std::time::{SystemTime, UNIX_EPOCH};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, violated_fields};
use tonic::Code;

both_backends!(
    from_publication_to_approved_hours,
    back_entries_corrections_and_imports
);

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

    // Starts in an hour and lasts three; an activity may be started up to two hours early.
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
                start_time: seconds_from_now(3600),
                end_time: seconds_from_now(3600 + 3 * 3600),
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
    app.publish_and_sign_up(&leader, &own, &activity, &volunteer.name)
        .await;

    // Attendance is taken only once the activity is under way.
    let status = app
        .attendance(&leader)
        .get_check_in_code(pb::GetCheckInCodeRequest {
            activity: activity.name.clone(),
        })
        .await
        .expect_err("not started");
    assert_eq!(status.code(), Code::FailedPrecondition);
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

    // The volunteer forgets to check out, and the activity is completed before its
    // scheduled end: the attendance is closed at the completion, not at the end still in the
    // future, and flagged. No time that has not happened is credited.
    let completed_at = seconds_from_now(0).expect("now").seconds;
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
    let check_out = attendances[0].check_out_time.expect("closed").seconds;
    assert!(
        (completed_at - 5..=completed_at + 5).contains(&check_out),
        "closed at the completion ({completed_at}), not the scheduled end: {check_out}"
    );

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
    assert_eq!(record.minutes, 0, "the activity's start has not come yet");

    // The organizer corrects the flagged record to the time really served.
    let record = app
        .service_records(&leader)
        .correct_service_record(pb::CorrectServiceRecordRequest {
            name: record.name.clone(),
            minutes: 175,
            reason: "签到记录核实".to_string(),
        })
        .await
        .expect("corrects")
        .into_inner()
        .service_record
        .expect("record");
    let record = &record;
    assert_eq!(record.minutes, 175);
    assert_eq!(record.state, pb::ServiceRecordState::Submitted as i32);
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
    assert_eq!(hours(outsider.clone()).await.approved_minutes, 0);

    // Evaluations: the volunteer who served rates once (anonymously); an organizer enters a
    // beneficiary's rating; a volunteer who did not serve cannot rate.
    let rate = |volunteer: &str, kind: pb::EvaluatorKind, rating: i32, anonymous: bool| {
        pb::CreateEvaluationRequest {
            parent: activity.name.clone(),
            evaluation: Some(pb::Evaluation {
                evaluator_kind: kind as i32,
                volunteer: volunteer.to_string(),
                anonymous,
                rating,
                comment: "很有收获".to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        }
    };
    let mine = app
        .evaluations(&own)
        .create_evaluation(rate(&volunteer.name, pb::EvaluatorKind::Volunteer, 5, true))
        .await
        .expect("rates")
        .into_inner()
        .evaluation
        .expect("evaluation");
    assert_eq!(mine.volunteer, "", "anonymous");
    let status = app
        .evaluations(&own)
        .create_evaluation(rate(
            &volunteer.name,
            pb::EvaluatorKind::Volunteer,
            4,
            false,
        ))
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::AlreadyExists);
    app.evaluations(&leader)
        .create_evaluation(rate("", pb::EvaluatorKind::Beneficiary, 4, false))
        .await
        .expect("a beneficiary's rating");
    let status = app
        .evaluations(&leader)
        .create_evaluation(rate("", pb::EvaluatorKind::Beneficiary, 6, false))
        .await
        .expect_err("out of range");
    assert_eq!(violated_fields(&status), ["evaluation.rating"]);
    let bystander = app.register(&admin, &team.name, 12).await;
    let status = app
        .evaluations(&app.volunteer_token(&app.root, &bystander.name))
        .create_evaluation(rate(
            &bystander.name,
            pb::EvaluatorKind::Volunteer,
            1,
            false,
        ))
        .await
        .expect_err("did not serve");
    assert_eq!(status.code(), Code::FailedPrecondition);
    for request in [
        pb::GetEvaluationSummaryRequest {
            activity: activity.name.clone(),
            ..Default::default()
        },
        pb::GetEvaluationSummaryRequest {
            org_unit: team.name.clone(),
            ..Default::default()
        },
    ] {
        let summary = app
            .evaluations(&leader)
            .get_evaluation_summary(request)
            .await
            .expect("summary")
            .into_inner();
        assert_eq!(summary.evaluation_count, 2);
        assert!(
            (summary.average_rating - 4.5).abs() < 1e-9,
            "{}",
            summary.average_rating
        );
    }
    let status = app
        .evaluations(&outsider)
        .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
            activity: activity.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("other district");
    assert_eq!(status.code(), Code::NotFound);
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn completed_activity(app: &TestApp, token: &str, team: &str) -> pb::Activity {
    let activity = app
        .activities(token)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.to_string(),
                display_name: "社区义诊".to_string(),
                service_theme: common::ServiceTheme::Care as i32,
                site: Some(pb::ServiceSite {
                    display_name: "社区卫生服务站".to_string(),
                    address: "湖里区".to_string(),
                    kind: pb::SiteKind::Community as i32,
                    check_in_fence: None,
                }),
                start_time: seconds_from_now(3600),
                end_time: seconds_from_now(3600 + 3600),
                risk_level: pb::RiskLevel::Low as i32,
                positions: vec![pb::Position {
                    role: "导诊".to_string(),
                    headcount: 3,
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
    app.activities(token)
        .publish_activity(pb::PublishActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("publishes");
    app.activities(token)
        .start_activity(pb::StartActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("starts");
    app.activities(token)
        .complete_activity(pb::CompleteActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("completes")
        .into_inner()
        .activity
        .expect("activity")
}

async fn back_entries_corrections_and_imports(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 41).await;
    let other = app.register(&admin, &team.name, 42).await;
    let activity = completed_activity(&app, &leader, &team.name).await;

    // A back-entry needs a reason and fits the activity's length.
    let back_entry = |minutes: i64, reason: &str| pb::CreateBackEntryRequest {
        activity: activity.name.clone(),
        volunteer: volunteer.name.clone(),
        minutes,
        description: "现场导诊".to_string(),
        reason: reason.to_string(),
        request_id: String::new(),
    };
    let status = app
        .service_records(&leader)
        .create_back_entry(back_entry(30, ""))
        .await
        .expect_err("no reason");
    assert_eq!(violated_fields(&status), ["reason"]);
    let status = app
        .service_records(&leader)
        .create_back_entry(back_entry(61, "忘记签到"))
        .await
        .expect_err("too long");
    assert_eq!(violated_fields(&status), ["minutes"]);
    let record = app
        .service_records(&leader)
        .create_back_entry(back_entry(50, "忘记签到"))
        .await
        .expect("requests")
        .into_inner()
        .service_record
        .expect("record");
    assert_eq!(record.kind, pb::ServiceRecordKind::BackEntry as i32);
    assert_eq!(record.state, pb::ServiceRecordState::Submitted as i32);

    // The unit itself cannot approve its back-entry; the city can.
    let status = app
        .service_records(&leader)
        .approve_service_record(pb::ApproveServiceRecordRequest {
            name: record.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("own unit");
    assert_eq!(status.code(), Code::PermissionDenied);
    app.service_records(&admin)
        .approve_service_record(pb::ApproveServiceRecordRequest {
            name: record.name.clone(),
            comment: "情况属实".to_string(),
        })
        .await
        .expect("the city approves");

    // A correction goes back to review and keeps the history.
    let corrected = app
        .service_records(&admin)
        .correct_service_record(pb::CorrectServiceRecordRequest {
            name: record.name.clone(),
            minutes: 40,
            reason: "核减".to_string(),
        })
        .await
        .expect("corrects")
        .into_inner()
        .service_record
        .expect("record");
    assert_eq!(corrected.minutes, 40);
    assert_eq!(corrected.state, pb::ServiceRecordState::Submitted as i32);
    let history = app
        .activity_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: record.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    let last = history.last().expect("history");
    assert_eq!(last.reason, "核减");
    let minutes = last
        .field_changes
        .iter()
        .find(|change| change.field == "minutes")
        .expect("minutes changed");
    assert_eq!(
        (minutes.old_value.as_str(), minutes.new_value.as_str()),
        ("50", "40")
    );
    app.service_records(&admin)
        .approve_service_record(pb::ApproveServiceRecordRequest {
            name: record.name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves again");

    // Reporting status.
    let updated = app
        .service_records(&admin)
        .set_platform_report_status(pb::SetPlatformReportStatusRequest {
            names: vec![record.name.clone()],
            platform_report_status: pb::PlatformReportStatus::Reported as i32,
        })
        .await
        .expect("marks")
        .into_inner()
        .updated_count;
    assert_eq!(updated, 1);

    // An import: a bad row refuses the whole batch; the retry with the fixed rows and the
    // same request id imports once; a second retry imports nothing more.
    let request_id = "0197a8c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f".to_string();
    let row = |volunteer: &str, minutes: i64| pb::ImportServiceRecordRow {
        volunteer: volunteer.to_string(),
        service_date: Some(common::Date {
            year: 2020,
            month: 5,
            day: 1,
        }),
        minutes,
        description: "旧系统迁移".to_string(),
    };
    let import = |rows: Vec<pb::ImportServiceRecordRow>| pb::ImportServiceRecordsRequest {
        org_unit: team.name.clone(),
        rows,
        request_id: request_id.clone(),
    };
    let status = app
        .service_records(&admin)
        .import_service_records(import(vec![row(&volunteer.name, 120), row(&other.name, 0)]))
        .await
        .expect_err("bad row");
    assert_eq!(violated_fields(&status), ["rows[1].minutes"]);
    let first = app
        .service_records(&admin)
        .import_service_records(import(vec![
            row(&volunteer.name, 120),
            row(&other.name, 60),
        ]))
        .await
        .expect("imports")
        .into_inner()
        .service_records;
    assert_eq!(first.len(), 2);
    let again = app
        .service_records(&admin)
        .import_service_records(import(vec![
            row(&volunteer.name, 120),
            row(&other.name, 60),
        ]))
        .await
        .expect("retry")
        .into_inner()
        .service_records;
    assert_eq!(
        again
            .iter()
            .map(|record| record.name.clone())
            .collect::<Vec<_>>(),
        first
            .iter()
            .map(|record| record.name.clone())
            .collect::<Vec<_>>()
    );

    // Totals: 40 back-entered + 120 + 60 imported, three records, two volunteers.
    let totals = app
        .service_records(&admin)
        .get_org_unit_hours(pb::GetOrgUnitHoursRequest {
            org_unit: team.name.clone(),
            ..Default::default()
        })
        .await
        .expect("totals")
        .into_inner();
    assert_eq!(
        (
            totals.approved_minutes,
            totals.record_count,
            totals.volunteer_count
        ),
        (220, 3, 2)
    );
    let since_2021 = app
        .service_records(&admin)
        .get_org_unit_hours(pb::GetOrgUnitHoursRequest {
            org_unit: team.name.clone(),
            start_date: Some(common::Date {
                year: 2021,
                month: 1,
                day: 1,
            }),
            ..Default::default()
        })
        .await
        .expect("totals")
        .into_inner();
    assert_eq!(since_2021.approved_minutes, 40);
    app.assert_tallies_recount().await;
    app.stop().await;
}
