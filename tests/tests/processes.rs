//! The instance as production runs it: four service processes and the gateway, each an
//! operating-system process, one database (a schema each on PostgreSQL). Through the
//! gateway's address alone, one day of the federation; then the activity process crashes
//! and comes back, and the other services serve throughout.

use std::time::Duration;

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::recognition::v1 as recognition;
use egret_proto::registry::v1 as registry;
use egret_proto::reporting::v1 as reporting;
use egret_runtime::Role;
use egret_tests::{Backend, TestApp};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    if let Some(app) = TestApp::spawn_processes(Backend::Sqlite, "processes::sqlite").await {
        one_day_then_a_crash(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    if let Some(app) = TestApp::spawn_processes(Backend::Postgres, "processes::postgres").await {
        one_day_then_a_crash(app).await;
    }
}

fn today_minus(days: i64) -> Option<common::Date> {
    let day = egret_tests::days_before(egret_types::china_date(egret_types::now_micros()), days);
    Some(common::Date {
        year: day.year,
        month: day.month as i32,
        day: day.day as i32,
    })
}

async fn one_day_then_a_crash(mut app: TestApp) {
    // The gateway's first start makes the first admin once the registry answers, and
    // prints its one-time password; she signs in through the gateway's address.
    // Lines before it say where it listens and where the console is.
    let printed = (0..5)
        .map_while(|_| {
            app.processes()
                .next_line("gateway", Duration::from_secs(30))
        })
        .find(|line| line.starts_with("first sign-in: "))
        .expect("the gateway prints the first sign-in");
    let first_password = printed
        .strip_prefix("first sign-in: username admin, one-time password ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not a first sign-in: {printed}"))
        .to_string();
    app.auth()
        .change_password(gateway_pb::ChangePasswordRequest {
            username: "admin".to_string(),
            current_password: first_password,
            new_password: "管理员的新密码-2026".to_string(),
        })
        .await
        .expect("changes the one-time password");
    let session = app
        .auth()
        .sign_in(gateway_pb::SignInRequest {
            username: "admin".to_string(),
            password: "管理员的新密码-2026".to_string(),
        })
        .await
        .expect("signs in through the gateway process")
        .into_inner()
        .session
        .expect("session");
    let admin = session.access_token;
    let team = app
        .create_unit(
            &admin,
            &app.root,
            registry::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 41).await;
    app.register(&admin, &team.name, 42).await;
    let own = app.volunteer_token(&app.root, &volunteer.name);

    // An activity in an hour, published, with the volunteer signed up and approved.
    let activity = app
        .create_activity(&leader, &team.name, "社区敬老探访", 1)
        .await;
    app.publish_and_sign_up(&leader, &own, &activity, &volunteer.name)
        .await;

    // Check in with the organizer's code, check out, complete, correct and approve.
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
        .expect("a code")
        .into_inner()
        .code;
    app.attendance(&own)
        .check_in(pb::CheckInRequest {
            activity: activity.name.clone(),
            volunteer: volunteer.name.clone(),
            code,
            position: None,
        })
        .await
        .expect("checks in");
    app.attendance(&own)
        .check_out(pb::CheckOutRequest {
            activity: activity.name.clone(),
            volunteer: volunteer.name.clone(),
        })
        .await
        .expect("checks out");
    app.activities(&leader)
        .complete_activity(pb::CompleteActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("completes");
    let records = app
        .service_records(&leader)
        .list_service_records(pb::ListServiceRecordsRequest {
            activity: activity.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists records")
        .into_inner()
        .service_records;
    assert_eq!(records.len(), 1);
    app.service_records(&leader)
        .correct_service_record(pb::CorrectServiceRecordRequest {
            name: records[0].name.clone(),
            minutes: 150,
            reason: "签到记录核实".to_string(),
        })
        .await
        .expect("corrects");
    app.service_records(&leader)
        .approve_service_record(pb::ApproveServiceRecordRequest {
            name: records[0].name.clone(),
            comment: "核实".to_string(),
        })
        .await
        .expect("approves the hours");
    // Past service, entered in bulk: a hundred hours over the last days.
    app.import_whole_hours(&admin, &team.name, &volunteer.name, 100)
        .await;

    // Recognition follows the activity service's change log in its own process.
    let mut evaluation = None;
    for _ in 0..100 {
        let answer = app
            .star_ratings(&admin)
            .evaluate_volunteer(recognition::EvaluateVolunteerRequest {
                volunteer: volunteer.name.clone(),
                // The activity starts within the hour, which in China may be tomorrow.
                date: Some(egret_runtime::wire::date_to_wire(
                    egret_runtime::wire::today().add_days(1),
                )),
            })
            .await
            .expect("evaluates")
            .into_inner()
            .evaluation
            .expect("evaluation");
        if answer.approved_minutes == 150 + 100 * 60 {
            evaluation = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let evaluation = evaluation.expect("recognition sees every approved minute");
    assert!(evaluation.qualified_stars >= 1, "{evaluation:?}");

    let certificate = app
        .certificates(&admin)
        .issue_certificate(recognition::IssueCertificateRequest {
            volunteer: volunteer.name.clone(),
            period_start: today_minus(30),
            period_end: today_minus(0),
            person_in_charge: "王主任".to_string(),
            handler: "李经办".to_string(),
            handler_contact: "0592-2033990".to_string(),
            notes: "特此证明".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .expect("issues a certificate")
        .into_inner()
        .certificate
        .expect("certificate");
    assert!(certificate.service_minutes >= 150, "{certificate:?}");

    let overview = app
        .statistics(&admin)
        .get_overview(reporting::GetOverviewRequest {
            org_unit: app.root.clone(),
            catch_up: true,
            // The activity starts within the hour, which in China may be tomorrow.
            end_date: Some(egret_runtime::wire::date_to_wire(
                egret_runtime::wire::today().add_days(1),
            )),
            ..Default::default()
        })
        .await
        .expect("statistics")
        .into_inner();
    assert_eq!(overview.teams, 1);
    assert_eq!(overview.volunteers, 2);
    assert_eq!(overview.activities, 1);
    assert_eq!(overview.approved_minutes, 150 + 100 * 60);

    // The activity process crashes: its calls answer UNAVAILABLE, naming it, and the
    // registry keeps serving.
    app.processes().kill("activity");
    let get_activity = pb::GetActivityRequest {
        name: activity.name.clone(),
    };
    let status = app
        .activities(&leader)
        .get_activity(get_activity.clone())
        .await
        .expect_err("the activity service is down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("activity service"), "{status:?}");
    let unit = app
        .org_units(&admin)
        .get_org_unit(registry::GetOrgUnitRequest {
            name: team.name.clone(),
        })
        .await
        .expect("the registry still serves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(unit.name, team.name);
    let kept = app
        .certificates(&admin)
        .get_certificate(recognition::GetCertificateRequest {
            name: certificate.name.clone(),
        })
        .await
        .expect("recognition still serves its own records")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(kept.serial_number, certificate.serial_number);

    // It comes back on the same port, and the gateway finds it again.
    app.processes().restart("activity");
    let mut recovered = None;
    for _ in 0..100 {
        match app
            .activities(&leader)
            .get_activity(get_activity.clone())
            .await
        {
            Ok(answer) => {
                recovered = answer.into_inner().activity;
                break;
            }
            Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("the activity service serves again");
    assert_eq!(recovered.state, pb::ActivityState::Completed as i32);
    app.stop().await;
}
