//! Recruitment and records, the gaps the other files leave: the daily check-in bound and
//! the attendance preconditions, the finer sign-up rules (states, names, filters, paging,
//! retries, the waiting list, a concurrent burst), district isolation and role limits on
//! every RPC of the sign-up, attendance, service-record, insurance, training and evaluation
//! services, the service-record rules (back-entries, reviews, periods, report status,
//! imports), insurance and training edges, and the change history of sign-ups and records.

use std::time::{SystemTime, UNIX_EPOCH};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{Backend, TestApp, both_backends, violated_fields};
use tonic::{Code, Status};

both_backends!(
    sign_ups_need_a_published_activity_and_good_names,
    sign_up_lists_filter_page_and_retry,
    waiting_list_moves_only_when_a_place_frees,
    concurrent_sign_ups_respect_the_headcount,
    districts_do_not_see_each_other,
    roles_limit_what_each_principal_does,
    service_record_rules,
    insurance_coverage_and_policies,
    qualifications_expire_and_sessions_must_end,
    change_history_of_sign_ups_and_records,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn at(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// Midnight of today in Xiamen (UTC+8), in Unix seconds.
fn china_midnight_today() -> i64 {
    (now_seconds() + 8 * HOUR).div_euclid(DAY) * DAY - 8 * HOUR
}

/// The China calendar date `days` from today.
fn days_from_today(days: i64) -> common::Date {
    let micros = egret_types::now_micros() + days * DAY * 1_000_000;
    let date = egret_types::china_date(micros);
    common::Date {
        year: date.year,
        month: date.month as i32,
        day: date.day as i32,
    }
}

fn random_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn id_of(name: &str) -> &str {
    name.rsplit('/').next().expect("a resource name")
}

fn position(role: &str, headcount: i32) -> pb::Position {
    pb::Position {
        role: role.to_string(),
        headcount,
        ..Default::default()
    }
}

/// Creates a draft activity of `team` over `[start, end)` (Unix seconds).
async fn draft_with(
    app: &TestApp,
    token: &str,
    team: &str,
    start: i64,
    end: i64,
    positions: Vec<pb::Position>,
) -> pb::Activity {
    app.activities(token)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.to_string(),
                display_name: format!("活动 {start}"),
                service_theme: common::ServiceTheme::Care as i32,
                site: Some(pb::ServiceSite {
                    display_name: "妇女之家".to_string(),
                    address: "思明区".to_string(),
                    kind: pb::SiteKind::WomensHome as i32,
                    check_in_fence: None,
                }),
                start_time: at(start),
                end_time: at(end),
                risk_level: pb::RiskLevel::Low as i32,
                positions,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("creating an activity: {status:?}"))
        .into_inner()
        .activity
        .expect("activity")
}

/// A draft starting `start_minutes` from now and lasting `minutes`, one position.
async fn draft(
    app: &TestApp,
    token: &str,
    team: &str,
    start_minutes: i64,
    minutes: i64,
    headcount: i32,
) -> pb::Activity {
    let start = now_seconds() + start_minutes * 60;
    draft_with(
        app,
        token,
        team,
        start,
        start + minutes * 60,
        vec![position("服务员", headcount)],
    )
    .await
}

async fn publish(app: &TestApp, token: &str, activity: &pb::Activity) {
    app.activities(token)
        .publish_activity(pb::PublishActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .unwrap_or_else(|status| panic!("publishing: {status:?}"));
}

/// Starts an activity (at most two hours early, so tests need not wait for the start).
async fn start(app: &TestApp, token: &str, activity: &pb::Activity) {
    app.activities(token)
        .start_activity(pb::StartActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .unwrap_or_else(|status| panic!("starting: {status:?}"));
}

async fn complete(app: &TestApp, token: &str, activity: &pb::Activity) {
    app.activities(token)
        .complete_activity(pb::CompleteActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .unwrap_or_else(|status| panic!("completing: {status:?}"));
}

/// A published activity starting `start_minutes` from now.
async fn published(
    app: &TestApp,
    token: &str,
    team: &str,
    start_minutes: i64,
    minutes: i64,
    headcount: i32,
) -> pb::Activity {
    let activity = draft(app, token, team, start_minutes, minutes, headcount).await;
    publish(app, token, &activity).await;
    activity
}

/// A completed activity of `team` (started early, completed at once).
async fn completed(app: &TestApp, token: &str, team: &str, start_minutes: i64) -> pb::Activity {
    let activity = published(app, token, team, start_minutes, 60, 5).await;
    start(app, token, &activity).await;
    complete(app, token, &activity).await;
    activity
}

async fn sign_up_at(
    app: &TestApp,
    token: &str,
    activity: &pb::Activity,
    position: usize,
    volunteer: &str,
    request_id: &str,
) -> Result<pb::SignUp, Status> {
    app.sign_ups(token)
        .create_sign_up(pb::CreateSignUpRequest {
            parent: activity.name.clone(),
            sign_up: Some(pb::SignUp {
                volunteer: volunteer.to_string(),
                position_id: activity.positions[position].position_id.clone(),
                ..Default::default()
            }),
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| response.into_inner().sign_up.expect("sign-up"))
}

async fn sign_up(
    app: &TestApp,
    token: &str,
    activity: &pb::Activity,
    volunteer: &str,
) -> Result<pb::SignUp, Status> {
    sign_up_at(app, token, activity, 0, volunteer, "").await
}

async fn approve(app: &TestApp, token: &str, sign_up: &str) -> pb::SignUp {
    app.sign_ups(token)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: sign_up.to_string(),
            comment: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("approving {sign_up}: {status:?}"))
        .into_inner()
        .sign_up
        .expect("sign-up")
}

async fn get_sign_up(app: &TestApp, token: &str, name: &str) -> pb::SignUp {
    app.sign_ups(token)
        .get_sign_up(pb::GetSignUpRequest {
            name: name.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("getting {name}: {status:?}"))
        .into_inner()
        .sign_up
        .expect("sign-up")
}

/// The sign-ups as they are now.
async fn current(app: &TestApp, token: &str, sign_ups: &[pb::SignUp]) -> Vec<pb::SignUp> {
    let mut now = Vec::new();
    for sign_up in sign_ups {
        now.push(get_sign_up(app, token, &sign_up.name).await);
    }
    now
}

async fn list_sign_ups(
    app: &TestApp,
    token: &str,
    request: pb::ListSignUpsRequest,
) -> pb::ListSignUpsResponse {
    app.sign_ups(token)
        .list_sign_ups(request)
        .await
        .unwrap_or_else(|status| panic!("listing sign-ups: {status:?}"))
        .into_inner()
}

async fn check_in(
    app: &TestApp,
    token: &str,
    activity: &pb::Activity,
    volunteer: &str,
    code: &str,
) -> Result<pb::Attendance, Status> {
    app.attendance(token)
        .check_in(pb::CheckInRequest {
            activity: activity.name.clone(),
            volunteer: volunteer.to_string(),
            code: code.to_string(),
            position: None,
        })
        .await
        .map(|response| response.into_inner().attendance.expect("attendance"))
}

async fn check_out(
    app: &TestApp,
    token: &str,
    activity: &pb::Activity,
    volunteer: &str,
) -> Result<pb::Attendance, Status> {
    app.attendance(token)
        .check_out(pb::CheckOutRequest {
            activity: activity.name.clone(),
            volunteer: volunteer.to_string(),
        })
        .await
        .map(|response| response.into_inner().attendance.expect("attendance"))
}

#[allow(clippy::too_many_arguments)]
async fn back_entry(
    app: &TestApp,
    token: &str,
    activity: &str,
    volunteer: &str,
    minutes: i64,
    reason: &str,
    request_id: &str,
) -> Result<pb::ServiceRecord, Status> {
    app.service_records(token)
        .create_back_entry(pb::CreateBackEntryRequest {
            activity: activity.to_string(),
            volunteer: volunteer.to_string(),
            minutes,
            description: "现场服务".to_string(),
            reason: reason.to_string(),
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| response.into_inner().service_record.expect("record"))
}

async fn get_record(app: &TestApp, token: &str, name: &str) -> pb::ServiceRecord {
    app.service_records(token)
        .get_service_record(pb::GetServiceRecordRequest {
            name: name.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("getting {name}: {status:?}"))
        .into_inner()
        .service_record
        .expect("record")
}

async fn review(
    app: &TestApp,
    token: &str,
    name: &str,
    approve: bool,
    comment: &str,
) -> Result<pb::ServiceRecord, Status> {
    let mut client = app.service_records(token);
    if approve {
        client
            .approve_service_record(pb::ApproveServiceRecordRequest {
                name: name.to_string(),
                comment: comment.to_string(),
            })
            .await
            .map(|response| response.into_inner().service_record.expect("record"))
    } else {
        client
            .reject_service_record(pb::RejectServiceRecordRequest {
                name: name.to_string(),
                comment: comment.to_string(),
            })
            .await
            .map(|response| response.into_inner().service_record.expect("record"))
    }
}

async fn volunteer_hours(app: &TestApp, token: &str, volunteer: &str) -> (i64, i64) {
    let totals = app
        .service_records(token)
        .get_volunteer_hours(pb::GetVolunteerHoursRequest {
            volunteer: volunteer.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("hours of {volunteer}: {status:?}"))
        .into_inner();
    (totals.approved_minutes, totals.record_count)
}

async fn unit_hours(app: &TestApp, token: &str, unit: &str) -> (i64, i64, i64) {
    let totals = app
        .service_records(token)
        .get_org_unit_hours(pb::GetOrgUnitHoursRequest {
            org_unit: unit.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("hours of {unit}: {status:?}"))
        .into_inner();
    (
        totals.approved_minutes,
        totals.record_count,
        totals.volunteer_count,
    )
}

fn import_row(volunteer: &str, date: common::Date, minutes: i64) -> pb::ImportServiceRecordRow {
    pb::ImportServiceRecordRow {
        volunteer: volunteer.to_string(),
        service_date: Some(date),
        minutes,
        description: "旧系统迁移".to_string(),
    }
}

fn may_2020() -> common::Date {
    common::Date {
        year: 2020,
        month: 5,
        day: 1,
    }
}

async fn import(
    app: &TestApp,
    token: &str,
    unit: &str,
    rows: Vec<pb::ImportServiceRecordRow>,
    request_id: &str,
) -> Result<Vec<pb::ServiceRecord>, Status> {
    app.service_records(token)
        .import_service_records(pb::ImportServiceRecordsRequest {
            org_unit: unit.to_string(),
            rows,
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| response.into_inner().service_records)
}

#[allow(clippy::too_many_arguments)]
fn policy_request(
    unit: &str,
    number: &str,
    covers_subtree: bool,
    insured: Vec<String>,
    start_days: i64,
    end_days: i64,
) -> pb::CreateInsurancePolicyRequest {
    pb::CreateInsurancePolicyRequest {
        insurance_policy: Some(pb::InsurancePolicy {
            org_unit: unit.to_string(),
            insurer: "中国人寿".to_string(),
            policy_number: number.to_string(),
            cover: "意外身故、意外医疗".to_string(),
            sum_insured_fen: 50_000_000,
            start_date: Some(days_from_today(start_days)),
            end_date: Some(days_from_today(end_days)),
            covers_subtree,
            insured_volunteers: insured,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn create_policy(
    app: &TestApp,
    token: &str,
    request: pb::CreateInsurancePolicyRequest,
) -> pb::InsurancePolicy {
    app.insurance(token)
        .create_insurance_policy(request)
        .await
        .unwrap_or_else(|status| panic!("creating a policy: {status:?}"))
        .into_inner()
        .insurance_policy
        .expect("policy")
}

async fn coverage(app: &TestApp, token: &str, activity: &str, volunteer: &str) -> (bool, String) {
    let response = app
        .insurance(token)
        .check_coverage(pb::CheckCoverageRequest {
            activity: activity.to_string(),
            volunteer: volunteer.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("checking coverage: {status:?}"))
        .into_inner();
    (response.covered, response.insurance_policy)
}

async fn create_course(
    app: &TestApp,
    token: &str,
    unit: &str,
    qualification: &str,
    valid_days: i32,
) -> pb::Course {
    app.training(token)
        .create_course(pb::CreateCourseRequest {
            course: Some(pb::Course {
                org_unit: unit.to_string(),
                display_name: format!("{qualification}培训 {valid_days}"),
                kind: pb::CourseKind::ServiceSkills as i32,
                qualification: qualification.to_string(),
                qualification_valid_days: valid_days,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("creating a course: {status:?}"))
        .into_inner()
        .course
        .expect("course")
}

async fn create_session(
    app: &TestApp,
    token: &str,
    course: &str,
    start: i64,
    end: i64,
) -> pb::TrainingSession {
    app.training(token)
        .create_training_session(pb::CreateTrainingSessionRequest {
            parent: course.to_string(),
            training_session: Some(pb::TrainingSession {
                start_time: at(start),
                end_time: at(end),
                location: "区妇联".to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("creating a session: {status:?}"))
        .into_inner()
        .training_session
        .expect("session")
}

async fn complete_training(
    app: &TestApp,
    token: &str,
    session: &str,
    volunteers: &[&str],
) -> Result<Vec<pb::Qualification>, Status> {
    app.training(token)
        .record_training_completion(pb::RecordTrainingCompletionRequest {
            session: session.to_string(),
            volunteers: volunteers.iter().map(|name| name.to_string()).collect(),
        })
        .await
        .map(|response| response.into_inner().qualifications)
}

async fn history(app: &TestApp, token: &str, resource: &str) -> Vec<common::ChangeRecord> {
    app.activity_records(token)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: resource.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("history of {resource}: {status:?}"))
        .into_inner()
        .change_records
}

/// The (old, new) values of `field` in a change, if it changed.
fn field_change(change: &common::ChangeRecord, field: &str) -> Option<(String, String)> {
    change
        .field_changes
        .iter()
        .find(|candidate| candidate.field == field)
        .map(|found| (found.old_value.clone(), found.new_value.clone()))
}

fn pair(old: &str, new: &str) -> Option<(String, String)> {
    Some((old.to_string(), new.to_string()))
}

fn expect_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, what: &str) -> Status {
    match result {
        Ok(value) => panic!("{what}: expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{what}: {status:?}");
            status
        }
    }
}

fn expect_invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str], what: &str) {
    let status = expect_code(result, Code::InvalidArgument, what);
    assert_eq!(violated_fields(&status), fields, "{what}: {status:?}");
}

/// `found` (about another district's resource) fails exactly like `missing` (about a
/// random id): NOT_FOUND with the same message once the ids are swapped.
fn assert_hidden(
    what: &str,
    found: Result<(), Status>,
    missing: Result<(), Status>,
    swaps: &[(&str, &str)],
) {
    let found = expect_code(found, Code::NotFound, &format!("{what} (other district)"));
    let missing = expect_code(missing, Code::NotFound, &format!("{what} (random id)"));
    let mut expected = missing.message().to_string();
    for (random, real) in swaps {
        expected = expected.replace(random, real);
    }
    assert_eq!(found.message(), expected, "{what}: messages differ");
}

// ---------------------------------------------------------------------------------------
// 1. Attendance: the daily bound and the preconditions
// ---------------------------------------------------------------------------------------

mod check_ins_are_bounded {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::check_ins_are_bounded(
            Backend::Sqlite,
            "recruitment_and_records::check_ins_are_bounded::sqlite",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::check_ins_are_bounded(
            Backend::Postgres,
            "recruitment_and_records::check_ins_are_bounded::postgres",
        )
        .await;
    }
}

async fn check_ins_are_bounded(backend: Backend, test_name: &str) {
    let Some(app) = TestApp::spawn_with(backend, test_name, |config| {
        config.activity.max_check_ins_per_day = 2;
    })
    .await
    else {
        return;
    };
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let regular = app.register(&admin, &team.name, 101).await;
    let pending = app.register(&admin, &team.name, 102).await;
    let stranger = app.register(&admin, &team.name, 103).await;
    let self_checker = app.register(&admin, &team.name, 104).await;
    let own = app.volunteer_token(&app.root, &self_checker.name);

    // A draft takes no attendance, nor does a published activity that has not started.
    let unpublished = draft(&app, &leader, &team.name, 30, 120, 5).await;
    let activity = published(&app, &leader, &team.name, 30, 180, 5).await;
    for (what, target) in [("draft", &unpublished), ("published", &activity)] {
        expect_code(
            check_in(&app, &leader, target, &regular.name, "").await,
            Code::FailedPrecondition,
            &format!("check-in at a {what} activity"),
        );
        expect_code(
            check_out(&app, &leader, target, &regular.name).await,
            Code::FailedPrecondition,
            &format!("check-out at a {what} activity"),
        );
        expect_code(
            app.attendance(&leader)
                .get_check_in_code(pb::GetCheckInCodeRequest {
                    activity: target.name.clone(),
                })
                .await,
            Code::FailedPrecondition,
            &format!("code of a {what} activity"),
        );
    }

    for volunteer in [&regular, &self_checker] {
        let signed = sign_up(&app, &leader, &activity, &volunteer.name)
            .await
            .expect("signs up");
        approve(&app, &leader, &signed.name).await;
    }
    sign_up(&app, &leader, &activity, &pending.name)
        .await
        .expect("signs up, stays pending");
    start(&app, &leader, &activity).await;

    // Not checked in: no check-out. No approved sign-up: no check-in.
    expect_code(
        check_out(&app, &leader, &activity, &regular.name).await,
        Code::FailedPrecondition,
        "check-out without check-in",
    );
    expect_code(
        check_in(&app, &leader, &activity, &pending.name, "").await,
        Code::FailedPrecondition,
        "pending sign-up",
    );
    expect_code(
        check_in(&app, &leader, &activity, &stranger.name, "").await,
        Code::FailedPrecondition,
        "no sign-up",
    );

    // A volunteer checks itself in only with the current code; not someone else.
    expect_invalid(
        check_in(&app, &own, &activity, &self_checker.name, "").await,
        &["code"],
        "self check-in without a code",
    );
    let code = app
        .attendance(&leader)
        .get_check_in_code(pb::GetCheckInCodeRequest {
            activity: activity.name.clone(),
        })
        .await
        .expect("code")
        .into_inner()
        .code;
    assert_eq!(code.len(), 6, "{code}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    expect_invalid(
        check_in(&app, &own, &activity, &self_checker.name, wrong).await,
        &["code"],
        "self check-in with a wrong code",
    );
    expect_code(
        check_in(&app, &own, &activity, &regular.name, &code).await,
        Code::PermissionDenied,
        "checking someone else in",
    );
    let mine = check_in(&app, &own, &activity, &self_checker.name, &code)
        .await
        .expect("self check-in with the code");
    assert_eq!(mine.check_in_method, pb::CheckInMethod::Code as i32);
    check_out(&app, &own, &activity, &self_checker.name)
        .await
        .expect("checks itself out");

    // The organizer needs no code. Two pairs a day, then no more.
    for round in 1..=2 {
        let attendance = check_in(&app, &leader, &activity, &regular.name, "")
            .await
            .unwrap_or_else(|status| panic!("check-in {round}: {status:?}"));
        assert_eq!(
            attendance.check_in_method,
            pb::CheckInMethod::Organizer as i32
        );
        assert!(attendance.check_out_time.is_none());
        if round == 1 {
            // Checked in already: a second open check-in is refused.
            let status = check_in(&app, &leader, &activity, &regular.name, "")
                .await
                .expect_err("already checked in");
            assert!(
                matches!(
                    status.code(),
                    Code::AlreadyExists | Code::FailedPrecondition
                ),
                "{status:?}"
            );
        }
        let closed = check_out(&app, &leader, &activity, &regular.name)
            .await
            .unwrap_or_else(|status| panic!("check-out {round}: {status:?}"));
        assert!(closed.check_out_time.is_some());
    }
    let status = expect_code(
        check_in(&app, &leader, &activity, &regular.name, "").await,
        Code::FailedPrecondition,
        "third check-in of the day",
    );
    assert!(status.message().contains('2'), "{}", status.message());
    expect_code(
        check_out(&app, &leader, &activity, &regular.name).await,
        Code::FailedPrecondition,
        "check-out after the refused check-in",
    );

    let listed = app
        .attendance(&leader)
        .list_attendances(pb::ListAttendancesRequest {
            parent: activity.name.clone(),
            volunteer: regular.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .attendances;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|attendance| {
        attendance.volunteer == regular.name && attendance.check_out_time.is_some()
    }));
    let all = app
        .attendance(&leader)
        .list_attendances(pb::ListAttendancesRequest {
            parent: activity.name.clone(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(all.attendances.len(), 2);
    assert!(!all.next_page_token.is_empty());

    // Once completed, attendance is closed.
    complete(&app, &leader, &activity).await;
    expect_code(
        check_in(&app, &leader, &activity, &self_checker.name, "").await,
        Code::FailedPrecondition,
        "check-in at a completed activity",
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 2. Sign-ups
// ---------------------------------------------------------------------------------------

async fn sign_ups_need_a_published_activity_and_good_names(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 201).await;

    let unpublished = draft(&app, &leader, &team.name, 600, 60, 5).await;
    expect_code(
        sign_up(&app, &leader, &unpublished, &volunteer.name).await,
        Code::FailedPrecondition,
        "sign-up to a draft",
    );
    let done = completed(&app, &leader, &team.name, 30).await;
    expect_code(
        sign_up(&app, &leader, &done, &volunteer.name).await,
        Code::FailedPrecondition,
        "sign-up to a completed activity",
    );
    let cancelled = published(&app, &leader, &team.name, 900, 60, 5).await;
    app.activities(&leader)
        .cancel_activity(pb::CancelActivityRequest {
            name: cancelled.name.clone(),
            reason: "天气原因".to_string(),
        })
        .await
        .expect("cancels");
    expect_code(
        sign_up(&app, &leader, &cancelled, &volunteer.name).await,
        Code::FailedPrecondition,
        "sign-up to a cancelled activity",
    );

    let activity = published(&app, &leader, &team.name, 1200, 60, 5).await;
    let request = |parent: &str, volunteer: &str, position_id: &str, request_id: &str| {
        pb::CreateSignUpRequest {
            parent: parent.to_string(),
            sign_up: Some(pb::SignUp {
                volunteer: volunteer.to_string(),
                position_id: position_id.to_string(),
                ..Default::default()
            }),
            request_id: request_id.to_string(),
        }
    };
    let position_id = activity.positions[0].position_id.clone();
    let cases = [
        (
            request(&activity.name, &volunteer.name, "no-such-position", ""),
            "sign_up.position_id",
        ),
        (
            request(&activity.name, &volunteer.name, "", ""),
            "sign_up.position_id",
        ),
        (
            request("activities/not-an-id", &volunteer.name, &position_id, ""),
            "parent",
        ),
        (
            request(
                &format!("projects/{}", id_of(&activity.name)),
                &volunteer.name,
                &position_id,
                "",
            ),
            "parent",
        ),
        (
            request(&activity.name, "volunteers/42", &position_id, ""),
            "sign_up.volunteer",
        ),
        (
            request(
                &activity.name,
                &format!("orgUnits/{}", id_of(&volunteer.name)),
                &position_id,
                "",
            ),
            "sign_up.volunteer",
        ),
        (
            request(
                &activity.name,
                &volunteer.name,
                &position_id,
                "again-please",
            ),
            "request_id",
        ),
    ];
    for (request, field) in cases {
        let what = format!("{request:?}");
        expect_invalid(
            app.sign_ups(&leader).create_sign_up(request).await,
            &[field],
            &what,
        );
    }
    let status = expect_code(
        app.sign_ups(&leader)
            .create_sign_up(pb::CreateSignUpRequest {
                parent: activity.name.clone(),
                sign_up: None,
                request_id: String::new(),
            })
            .await,
        Code::InvalidArgument,
        "no sign-up",
    );
    assert_eq!(violated_fields(&status), ["sign_up"]);

    for name in [
        "activities/x/signUps/y".to_string(),
        format!("{}/signUps", activity.name),
        format!("{}/attendances/{}", activity.name, random_id()),
        format!("signUps/{}", random_id()),
    ] {
        expect_invalid(
            app.sign_ups(&leader)
                .get_sign_up(pb::GetSignUpRequest { name: name.clone() })
                .await,
            &["name"],
            &format!("get {name}"),
        );
        expect_invalid(
            app.sign_ups(&leader)
                .approve_sign_up(pb::ApproveSignUpRequest {
                    name: name.clone(),
                    comment: String::new(),
                })
                .await,
            &["name"],
            &format!("approve {name}"),
        );
    }
    expect_invalid(
        app.sign_ups(&leader)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: activity.name.clone(),
                volunteer: "volunteer-1".to_string(),
                ..Default::default()
            })
            .await,
        &["volunteer"],
        "list with a bad volunteer",
    );
    expect_invalid(
        app.sign_ups(&leader)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: "activities".to_string(),
                ..Default::default()
            })
            .await,
        &["parent"],
        "list with a bad parent",
    );
    expect_invalid(
        app.sign_ups(&leader)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: "activities/-".to_string(),
                ..Default::default()
            })
            .await,
        &["parent"],
        "every activity's sign-ups",
    );
    expect_invalid(
        app.sign_ups(&leader)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: activity.name.clone(),
                state: 99,
                ..Default::default()
            })
            .await,
        &["state"],
        "an unknown state",
    );

    // Nothing above made a sign-up; a valid one still goes through.
    assert!(
        list_sign_ups(
            &app,
            &leader,
            pb::ListSignUpsRequest {
                parent: activity.name.clone(),
                ..Default::default()
            }
        )
        .await
        .sign_ups
        .is_empty()
    );
    sign_up(&app, &leader, &activity, &volunteer.name)
        .await
        .expect("a valid sign-up");
    app.stop().await;
}

async fn sign_up_lists_filter_page_and_retry(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let viewer = app.token(&team.name, &[Role::Viewer]);
    let mut volunteers = Vec::new();
    for seed in 211..=215 {
        volunteers.push(app.register(&admin, &team.name, seed).await);
    }
    let begin = now_seconds() + 2 * DAY;
    let activity = draft_with(
        &app,
        &leader,
        &team.name,
        begin,
        begin + 3 * HOUR,
        vec![position("引导员", 2), position("讲解员", 3)],
    )
    .await;
    publish(&app, &leader, &activity).await;
    let guide = activity.positions[0].position_id.clone();
    let docent = activity.positions[1].position_id.clone();
    assert_ne!(guide, docent);

    // Three to the guides (the third waits), two to the docents; the first one with a
    // request id, retried.
    let request_id = random_id();
    let first = sign_up_at(
        &app,
        &leader,
        &activity,
        0,
        &volunteers[0].name,
        &request_id,
    )
    .await
    .expect("first");
    let retried = sign_up_at(
        &app,
        &leader,
        &activity,
        0,
        &volunteers[0].name,
        &request_id,
    )
    .await
    .expect("retry returns the sign-up");
    assert_eq!(retried.name, first.name);
    assert_eq!(retried.state, pb::SignUpState::Pending as i32);
    let mut made = vec![first];
    for (index, position) in [(1, 0), (2, 0), (3, 1), (4, 1)] {
        made.push(
            sign_up_at(
                &app,
                &leader,
                &activity,
                position,
                &volunteers[index].name,
                "",
            )
            .await
            .expect("signs up"),
        );
    }
    assert_eq!(made[2].state, pb::SignUpState::Waitlisted as i32);
    assert_eq!(made[2].waitlist_position, 1);
    assert_eq!(made[3].state, pb::SignUpState::Pending as i32);
    approve(&app, &leader, &made[0].name).await;

    let names = |sign_ups: &[pb::SignUp]| {
        sign_ups
            .iter()
            .map(|sign_up| sign_up.name.clone())
            .collect::<Vec<_>>()
    };
    let of = |indexes: &[usize]| {
        indexes
            .iter()
            .map(|index| made[*index].name.clone())
            .collect::<Vec<_>>()
    };
    let query =
        |volunteer: &str, position_id: &str, state: pb::SignUpState| pb::ListSignUpsRequest {
            parent: activity.name.clone(),
            volunteer: volunteer.to_string(),
            position_id: position_id.to_string(),
            state: state as i32,
            ..Default::default()
        };
    let everything =
        list_sign_ups(&app, &viewer, query("", "", pb::SignUpState::Unspecified)).await;
    assert_eq!(
        names(&everything.sign_ups),
        of(&[0, 1, 2, 3, 4]),
        "retry made none"
    );
    assert!(everything.next_page_token.is_empty());
    let cases = [
        (query("", "", pb::SignUpState::Pending), of(&[1, 3, 4])),
        (query("", "", pb::SignUpState::Approved), of(&[0])),
        (query("", "", pb::SignUpState::Waitlisted), of(&[2])),
        (query("", "", pb::SignUpState::Cancelled), vec![]),
        (
            query("", &guide, pb::SignUpState::Unspecified),
            of(&[0, 1, 2]),
        ),
        (query("", &docent, pb::SignUpState::Pending), of(&[3, 4])),
        (
            query(&volunteers[3].name, "", pb::SignUpState::Unspecified),
            of(&[3]),
        ),
        (
            query(&volunteers[3].name, &guide, pb::SignUpState::Unspecified),
            vec![],
        ),
        (
            query("", "no-such-position", pb::SignUpState::Unspecified),
            vec![],
        ),
    ];
    for (request, expected) in cases {
        let what = format!("{request:?}");
        assert_eq!(
            names(&list_sign_ups(&app, &viewer, request).await.sign_ups),
            expected,
            "{what}"
        );
    }
    let waiting = list_sign_ups(&app, &viewer, query("", "", pb::SignUpState::Waitlisted)).await;
    assert_eq!(waiting.sign_ups[0].waitlist_position, 1);
    assert_eq!(
        waiting.sign_ups[0].volunteer_display_name,
        volunteers[2].display_name
    );

    // Pages of two over five: 2, 2, 1, oldest first, no repeats.
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_sign_ups(
            &app,
            &viewer,
            pb::ListSignUpsRequest {
                parent: activity.name.clone(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await;
        pages.push(names(&page.sign_ups));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
        assert!(pages.len() < 5, "paging does not end");
    }
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 1],
        "{pages:?}"
    );
    assert_eq!(pages.concat(), of(&[0, 1, 2, 3, 4]));

    // A page token belongs to its filters.
    let first_page = list_sign_ups(
        &app,
        &viewer,
        pb::ListSignUpsRequest {
            parent: activity.name.clone(),
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let status = expect_code(
        app.sign_ups(&viewer)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: activity.name.clone(),
                state: pb::SignUpState::Pending as i32,
                page_size: 2,
                page_token: first_page.next_page_token.clone(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "a token with other filters",
    );
    assert_eq!(violated_fields(&status), ["page_token"]);

    // A volunteer lists its own across activities; not someone else's.
    let own = app.volunteer_token(&app.root, &volunteers[3].name);
    let mine = list_sign_ups(
        &app,
        &own,
        pb::ListSignUpsRequest {
            parent: "activities/-".to_string(),
            volunteer: volunteers[3].name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(names(&mine.sign_ups), of(&[3]));
    expect_code(
        app.sign_ups(&own)
            .list_sign_ups(pb::ListSignUpsRequest {
                parent: "activities/-".to_string(),
                volunteer: volunteers[4].name.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "someone else's sign-ups",
    );
    expect_code(
        app.sign_ups(&own)
            .get_sign_up(pb::GetSignUpRequest {
                name: made[4].name.clone(),
            })
            .await,
        // Answered as for an id that does not exist: a volunteer learns nothing of others.
        Code::NotFound,
        "someone else's sign-up",
    );
    assert_eq!(
        get_sign_up(&app, &own, &made[3].name).await.name,
        made[3].name
    );
    app.stop().await;
}

async fn waiting_list_moves_only_when_a_place_frees(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "集美区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let mut volunteers = Vec::new();
    for seed in 221..=225 {
        volunteers.push(app.register(&admin, &team.name, seed).await);
    }
    let activity = published(&app, &leader, &team.name, 2 * 24 * 60, 120, 1).await;
    let mut made = Vec::new();
    for volunteer in &volunteers {
        made.push(
            sign_up(&app, &leader, &activity, &volunteer.name)
                .await
                .expect("signs up"),
        );
    }
    assert_eq!(made[0].state, pb::SignUpState::Pending as i32);
    assert_eq!(
        made.iter()
            .map(|sign_up| sign_up.waitlist_position)
            .collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    let state_of = |sign_ups: &[pb::SignUp]| {
        sign_ups
            .iter()
            .map(|sign_up| {
                (
                    pb::SignUpState::try_from(sign_up.state).expect("state"),
                    sign_up.waitlist_position,
                )
            })
            .collect::<Vec<_>>()
    };
    use pb::SignUpState::{Cancelled, Pending, Rejected, Waitlisted};

    // Cancelling or rejecting a waitlisted sign-up frees no place: nobody moves up, the
    // ones behind close ranks.
    let cancelled = app
        .sign_ups(&leader)
        .cancel_sign_up(pb::CancelSignUpRequest {
            name: made[1].name.clone(),
            reason: "改期".to_string(),
        })
        .await
        .expect("cancels a waitlisted one")
        .into_inner()
        .sign_up
        .expect("sign-up");
    assert_eq!(cancelled.state, Cancelled as i32);
    assert_eq!(cancelled.waitlist_position, 0);
    assert_eq!(
        state_of(&current(&app, &leader, &made).await),
        [
            (Pending, 0),
            (Cancelled, 0),
            (Waitlisted, 1),
            (Waitlisted, 2),
            (Waitlisted, 3)
        ]
    );
    app.sign_ups(&leader)
        .reject_sign_up(pb::RejectSignUpRequest {
            name: made[3].name.clone(),
            comment: "不符合要求".to_string(),
        })
        .await
        .expect("rejects a waitlisted one");
    assert_eq!(
        state_of(&current(&app, &leader, &made).await),
        [
            (Pending, 0),
            (Cancelled, 0),
            (Waitlisted, 1),
            (Rejected, 0),
            (Waitlisted, 2)
        ]
    );

    // Rejecting the pending one frees its place: the oldest waitlisted moves up.
    app.sign_ups(&leader)
        .reject_sign_up(pb::RejectSignUpRequest {
            name: made[0].name.clone(),
            comment: "岗位调整".to_string(),
        })
        .await
        .expect("rejects the pending one");
    assert_eq!(
        state_of(&current(&app, &leader, &made).await),
        [
            (Rejected, 0),
            (Cancelled, 0),
            (Pending, 0),
            (Rejected, 0),
            (Waitlisted, 1)
        ]
    );

    // A decided sign-up does not change again; the place stays taken.
    for (name, what) in [(&made[0].name, "rejected"), (&made[1].name, "cancelled")] {
        expect_code(
            app.sign_ups(&leader)
                .approve_sign_up(pb::ApproveSignUpRequest {
                    name: name.clone(),
                    comment: String::new(),
                })
                .await,
            Code::FailedPrecondition,
            &format!("approving a {what} sign-up"),
        );
        expect_code(
            app.sign_ups(&leader)
                .cancel_sign_up(pb::CancelSignUpRequest {
                    name: name.clone(),
                    reason: String::new(),
                })
                .await,
            Code::FailedPrecondition,
            &format!("cancelling a {what} sign-up"),
        );
    }
    // The one cancelled may sign up again, behind the others.
    let again = sign_up(&app, &leader, &activity, &volunteers[1].name)
        .await
        .expect("signs up again after cancelling");
    assert_eq!(again.state, Waitlisted as i32);
    assert_eq!(again.waitlist_position, 2);
    app.stop().await;
}

async fn concurrent_sign_ups_respect_the_headcount(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "海沧区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let mut volunteers = Vec::new();
    for seed in 231..=238 {
        volunteers.push(app.register(&admin, &team.name, seed).await);
    }
    let activity = published(&app, &leader, &team.name, 3 * 24 * 60, 120, 3).await;
    let mut tasks = Vec::new();
    for volunteer in &volunteers {
        let mut client = app.sign_ups(&leader);
        let request = pb::CreateSignUpRequest {
            parent: activity.name.clone(),
            sign_up: Some(pb::SignUp {
                volunteer: volunteer.name.clone(),
                position_id: activity.positions[0].position_id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        tasks.push(tokio::spawn(
            async move { client.create_sign_up(request).await },
        ));
    }
    let mut made = Vec::new();
    for task in tasks {
        made.push(
            task.await
                .expect("task")
                .unwrap_or_else(|status| panic!("a concurrent sign-up: {status:?}"))
                .into_inner()
                .sign_up
                .expect("sign-up"),
        );
    }
    let count = |sign_ups: &[pb::SignUp], state: pb::SignUpState| {
        sign_ups
            .iter()
            .filter(|sign_up| sign_up.state == state as i32)
            .count()
    };
    assert_eq!(count(&made, pb::SignUpState::Pending), 3, "{made:#?}");
    assert_eq!(count(&made, pb::SignUpState::Waitlisted), 5, "{made:#?}");
    let mut answered: Vec<i32> = made
        .iter()
        .filter(|sign_up| sign_up.state == pb::SignUpState::Waitlisted as i32)
        .map(|sign_up| sign_up.waitlist_position)
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, [1, 2, 3, 4, 5], "positions as answered");

    let stored = list_sign_ups(
        &app,
        &leader,
        pb::ListSignUpsRequest {
            parent: activity.name.clone(),
            ..Default::default()
        },
    )
    .await
    .sign_ups;
    assert_eq!(stored.len(), 8);
    assert_eq!(count(&stored, pb::SignUpState::Pending), 3);
    // Oldest first: the three places went to the first three, the waiting list follows.
    assert_eq!(
        stored
            .iter()
            .map(|sign_up| (sign_up.state, sign_up.waitlist_position))
            .collect::<Vec<_>>(),
        [
            (pb::SignUpState::Pending as i32, 0),
            (pb::SignUpState::Pending as i32, 0),
            (pb::SignUpState::Pending as i32, 0),
            (pb::SignUpState::Waitlisted as i32, 1),
            (pb::SignUpState::Waitlisted as i32, 2),
            (pb::SignUpState::Waitlisted as i32, 3),
            (pb::SignUpState::Waitlisted as i32, 4),
            (pb::SignUpState::Waitlisted as i32, 5),
        ]
    );
    let mut people: Vec<&str> = stored
        .iter()
        .map(|sign_up| sign_up.volunteer.as_str())
        .collect();
    people.sort_unstable();
    people.dedup();
    assert_eq!(people.len(), 8, "every volunteer once");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 3. Districts and roles
// ---------------------------------------------------------------------------------------

/// Two districts, each with an activity and sign-ups, records, a policy and a course.
struct Districts {
    a: registry::OrgUnit,
    b: registry::OrgUnit,
    volunteer_a: registry::Volunteer,
    other_a: registry::Volunteer,
    volunteer_b: registry::Volunteer,
    /// A's published activity with a pending sign-up of `volunteer_a`.
    activity_a: pb::Activity,
    sign_up_a: pb::SignUp,
    /// A's completed activity with a submitted back-entry of `volunteer_a`.
    completed_a: pb::Activity,
    record_a: pb::ServiceRecord,
    policy_a: pb::InsurancePolicy,
    course_a: pb::Course,
    session_a: pb::TrainingSession,
    /// B's activity in progress, `volunteer_b` approved and checked in.
    activity_b: pb::Activity,
    sign_up_b: pb::SignUp,
    /// B's completed activity with a submitted back-entry and a beneficiary's rating.
    completed_b: pb::Activity,
    record_b: pb::ServiceRecord,
    imported_b: pb::ServiceRecord,
    policy_b: pb::InsurancePolicy,
    course_b: pb::Course,
    session_b: pb::TrainingSession,
}

async fn districts(app: &TestApp) -> Districts {
    let admin = app.admin();
    let a = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let b = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader_a = app.token(&a.name, &[Role::TeamLeader]);
    let staff_a = app.token(&a.name, &[Role::Staff]);
    let leader_b = app.token(&b.name, &[Role::TeamLeader]);
    let staff_b = app.token(&b.name, &[Role::Staff]);
    let volunteer_a = app.register(&admin, &a.name, 301).await;
    let other_a = app.register(&admin, &a.name, 302).await;
    let volunteer_b = app.register(&admin, &b.name, 303).await;

    let activity_a = published(app, &leader_a, &a.name, 30, 120, 5).await;
    let sign_up_a = sign_up(app, &leader_a, &activity_a, &volunteer_a.name)
        .await
        .expect("A signs up");
    let completed_a = completed(app, &leader_a, &a.name, 100).await;
    let record_a = back_entry(
        app,
        &leader_a,
        &completed_a.name,
        &volunteer_a.name,
        30,
        "忘记签到",
        "",
    )
    .await
    .expect("A's back-entry");
    let policy_a = create_policy(
        app,
        &staff_a,
        policy_request(&a.name, "A-1", true, vec![], -1, 30),
    )
    .await;
    let course_a = create_course(app, &staff_a, &a.name, "心理疏导员", 365).await;
    let now = now_seconds();
    let session_a = create_session(app, &staff_a, &course_a.name, now - 3 * HOUR, now - HOUR).await;

    let activity_b = published(app, &leader_b, &b.name, 30, 120, 5).await;
    let sign_up_b = sign_up(app, &leader_b, &activity_b, &volunteer_b.name)
        .await
        .expect("B signs up");
    approve(app, &leader_b, &sign_up_b.name).await;
    start(app, &leader_b, &activity_b).await;
    check_in(app, &leader_b, &activity_b, &volunteer_b.name, "")
        .await
        .expect("B checks in");
    let completed_b = completed(app, &leader_b, &b.name, 100).await;
    let record_b = back_entry(
        app,
        &leader_b,
        &completed_b.name,
        &volunteer_b.name,
        30,
        "忘记签到",
        "",
    )
    .await
    .expect("B's back-entry");
    let imported_b = import(
        app,
        &admin,
        &b.name,
        vec![import_row(&volunteer_b.name, may_2020(), 120)],
        &random_id(),
    )
    .await
    .expect("imports into B")
    .remove(0);
    app.evaluations(&leader_b)
        .create_evaluation(pb::CreateEvaluationRequest {
            parent: completed_b.name.clone(),
            evaluation: Some(pb::Evaluation {
                evaluator_kind: pb::EvaluatorKind::Beneficiary as i32,
                rating: 5,
                comment: "很好".to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("B's rating");
    let policy_b = create_policy(
        app,
        &staff_b,
        policy_request(&b.name, "B-1", true, vec![], -1, 30),
    )
    .await;
    let course_b = create_course(app, &staff_b, &b.name, "急救员", 365).await;
    let session_b = create_session(app, &staff_b, &course_b.name, now - 3 * HOUR, now - HOUR).await;
    complete_training(app, &staff_b, &session_b.name, &[&volunteer_b.name])
        .await
        .expect("B trains");
    Districts {
        a,
        b,
        volunteer_a,
        other_a,
        volunteer_b,
        activity_a,
        sign_up_a,
        completed_a,
        record_a,
        policy_a,
        course_a,
        session_a,
        activity_b,
        sign_up_b,
        completed_b,
        record_b,
        imported_b,
        policy_b,
        course_b,
        session_b,
    }
}

async fn districts_do_not_see_each_other(app: TestApp) {
    isolation(&app).await;
    app.stop().await;
}

async fn isolation(app: &TestApp) {
    let d = districts(app).await;
    let staff = app.token(&d.a.name, &[Role::Staff]);
    let admin_a = app.token(&d.a.name, &[Role::Admin]);

    // Random stand-ins, and the swaps that make a random message the real one.
    let random_activity = random_id();
    let random_sign_up = random_id();
    let random_record = random_id();
    let random_unit = random_id();
    let random_policy = random_id();
    let random_course = random_id();
    let random_session = random_id();
    let activity_b = id_of(&d.activity_b.name).to_string();
    let completed_b = id_of(&d.completed_b.name).to_string();
    let sign_up_b = id_of(&d.sign_up_b.name).to_string();
    let record_b = id_of(&d.record_b.name).to_string();
    let unit_b = id_of(&d.b.name).to_string();
    let policy_b = id_of(&d.policy_b.name).to_string();
    let course_b = id_of(&d.course_b.name).to_string();
    let session_b = id_of(&d.session_b.name).to_string();
    let activities = [
        (random_activity.as_str(), activity_b.as_str()),
        (random_sign_up.as_str(), sign_up_b.as_str()),
    ];
    let completed_swap = [(random_activity.as_str(), completed_b.as_str())];
    let records = [(random_record.as_str(), record_b.as_str())];
    let units = [(random_unit.as_str(), unit_b.as_str())];
    let policies = [(random_policy.as_str(), policy_b.as_str())];
    let courses = [
        (random_course.as_str(), course_b.as_str()),
        (random_session.as_str(), session_b.as_str()),
    ];
    let activity_name = |id: &str| format!("activities/{id}");
    let sign_up_name = |activity: &str, id: &str| format!("activities/{activity}/signUps/{id}");

    // SignUpService.
    let position_id = d.activity_b.positions[0].position_id.clone();
    let create_sign_up = |activity: String| {
        let mut client = app.sign_ups(&staff);
        let request = pb::CreateSignUpRequest {
            parent: activity,
            sign_up: Some(pb::SignUp {
                volunteer: d.volunteer_a.name.clone(),
                position_id: position_id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        };
        async move { client.create_sign_up(request).await.map(drop) }
    };
    assert_hidden(
        "CreateSignUp",
        create_sign_up(d.activity_b.name.clone()).await,
        create_sign_up(activity_name(&random_activity)).await,
        &activities,
    );
    let sign_up_calls = |name: String, call: u8| {
        let mut client = app.sign_ups(&staff);
        async move {
            match call {
                0 => client
                    .get_sign_up(pb::GetSignUpRequest { name })
                    .await
                    .map(drop),
                1 => client
                    .approve_sign_up(pb::ApproveSignUpRequest {
                        name,
                        comment: String::new(),
                    })
                    .await
                    .map(drop),
                2 => client
                    .reject_sign_up(pb::RejectSignUpRequest {
                        name,
                        comment: "不合适".to_string(),
                    })
                    .await
                    .map(drop),
                _ => client
                    .cancel_sign_up(pb::CancelSignUpRequest {
                        name,
                        reason: "取消".to_string(),
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "GetSignUp"),
        (1, "ApproveSignUp"),
        (2, "RejectSignUp"),
        (3, "CancelSignUp"),
    ] {
        assert_hidden(
            what,
            sign_up_calls(d.sign_up_b.name.clone(), call).await,
            sign_up_calls(sign_up_name(&random_activity, &random_sign_up), call).await,
            &activities,
        );
        // B's sign-up id under A's activity is no better.
        expect_code(
            sign_up_calls(sign_up_name(id_of(&d.activity_a.name), &sign_up_b), call).await,
            Code::NotFound,
            &format!("{what} of B's sign-up under A's activity"),
        );
    }
    let list_sign_ups = |parent: String| {
        let mut client = app.sign_ups(&staff);
        async move {
            client
                .list_sign_ups(pb::ListSignUpsRequest {
                    parent,
                    ..Default::default()
                })
                .await
                .map(drop)
        }
    };
    assert_hidden(
        "ListSignUps",
        list_sign_ups(d.activity_b.name.clone()).await,
        list_sign_ups(activity_name(&random_activity)).await,
        &activities,
    );
    // B's sign-up is untouched.
    assert_eq!(
        get_sign_up(app, &app.admin(), &d.sign_up_b.name)
            .await
            .state,
        pb::SignUpState::Approved as i32
    );

    // AttendanceService (B's activity is in progress).
    let attendance_calls = |activity: String, call: u8| {
        let mut client = app.attendance(&staff);
        let volunteer = d.volunteer_b.name.clone();
        async move {
            match call {
                0 => client
                    .get_check_in_code(pb::GetCheckInCodeRequest { activity })
                    .await
                    .map(drop),
                1 => client
                    .check_in(pb::CheckInRequest {
                        activity,
                        volunteer,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
                2 => client
                    .check_out(pb::CheckOutRequest {
                        activity,
                        volunteer,
                    })
                    .await
                    .map(drop),
                _ => client
                    .list_attendances(pb::ListAttendancesRequest {
                        parent: activity,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "GetCheckInCode"),
        (1, "CheckIn"),
        (2, "CheckOut"),
        (3, "ListAttendances"),
    ] {
        assert_hidden(
            what,
            attendance_calls(d.activity_b.name.clone(), call).await,
            attendance_calls(activity_name(&random_activity), call).await,
            &activities,
        );
    }
    let open = app
        .attendance(&app.admin())
        .list_attendances(pb::ListAttendancesRequest {
            parent: d.activity_b.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .attendances;
    assert_eq!(open.len(), 1);
    assert!(open[0].check_out_time.is_none(), "still checked in");

    // ServiceRecordService.
    let record_calls = |name: String, call: u8| {
        let mut client = app.service_records(&staff);
        async move {
            match call {
                0 => client
                    .get_service_record(pb::GetServiceRecordRequest { name })
                    .await
                    .map(drop),
                1 => client
                    .approve_service_record(pb::ApproveServiceRecordRequest {
                        name,
                        comment: String::new(),
                    })
                    .await
                    .map(drop),
                2 => client
                    .reject_service_record(pb::RejectServiceRecordRequest {
                        name,
                        comment: "不实".to_string(),
                    })
                    .await
                    .map(drop),
                3 => client
                    .correct_service_record(pb::CorrectServiceRecordRequest {
                        name,
                        minutes: 1,
                        reason: "核减".to_string(),
                    })
                    .await
                    .map(drop),
                _ => client
                    .set_platform_report_status(pb::SetPlatformReportStatusRequest {
                        names: vec![name],
                        platform_report_status: pb::PlatformReportStatus::Reported as i32,
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "GetServiceRecord"),
        (1, "ApproveServiceRecord"),
        (2, "RejectServiceRecord"),
        (3, "CorrectServiceRecord"),
        (4, "SetPlatformReportStatus"),
    ] {
        assert_hidden(
            what,
            record_calls(d.record_b.name.clone(), call).await,
            record_calls(format!("serviceRecords/{random_record}"), call).await,
            &records,
        );
    }
    let untouched = get_record(app, &app.admin(), &d.record_b.name).await;
    assert_eq!(
        (
            untouched.state,
            untouched.minutes,
            untouched.platform_report_status
        ),
        (
            pb::ServiceRecordState::Submitted as i32,
            30,
            pb::PlatformReportStatus::NotReported as i32
        )
    );
    let unit_calls = |unit: String, call: u8| {
        let mut client = app.service_records(&staff);
        let volunteer = d.volunteer_a.name.clone();
        async move {
            match call {
                0 => client
                    .list_service_records(pb::ListServiceRecordsRequest {
                        org_unit: unit,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
                1 => client
                    .get_org_unit_hours(pb::GetOrgUnitHoursRequest {
                        org_unit: unit,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
                _ => client
                    .import_service_records(pb::ImportServiceRecordsRequest {
                        org_unit: unit,
                        rows: vec![import_row(&volunteer, may_2020(), 60)],
                        request_id: random_id(),
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "ListServiceRecords"),
        (1, "GetOrgUnitHours"),
        (2, "ImportServiceRecords"),
    ] {
        assert_hidden(
            what,
            unit_calls(d.b.name.clone(), call).await,
            unit_calls(format!("orgUnits/{random_unit}"), call).await,
            &units,
        );
    }
    let back_entry_of = |activity: String| {
        let staff = staff.clone();
        let volunteer = d.volunteer_b.name.clone();
        async move {
            back_entry(app, &staff, &activity, &volunteer, 10, "补录", "")
                .await
                .map(drop)
        }
    };
    assert_hidden(
        "CreateBackEntry",
        back_entry_of(d.completed_b.name.clone()).await,
        back_entry_of(activity_name(&random_activity)).await,
        &completed_swap,
    );
    // Filters naming B's things find nothing of B's; B's volunteer has no hours here.
    for request in [
        pb::ListServiceRecordsRequest {
            volunteer: d.volunteer_b.name.clone(),
            ..Default::default()
        },
        pb::ListServiceRecordsRequest {
            activity: d.completed_b.name.clone(),
            ..Default::default()
        },
    ] {
        let found = app
            .service_records(&staff)
            .list_service_records(request)
            .await
            .expect("lists")
            .into_inner()
            .service_records;
        assert!(found.is_empty(), "{found:?}");
    }
    assert_eq!(
        volunteer_hours(app, &staff, &d.volunteer_b.name).await,
        (0, 0)
    );
    assert_eq!(
        volunteer_hours(
            app,
            &app.token(&d.b.name, &[Role::Staff]),
            &d.volunteer_b.name
        )
        .await,
        (d.imported_b.minutes, 1),
        "B sees its own"
    );
    assert_eq!(unit_hours(app, &admin_a, "").await, (0, 0, 0));

    // InsuranceService.
    let policy_calls = |name: String, call: u8| {
        let mut client = app.insurance(&staff);
        async move {
            match call {
                0 => client
                    .get_insurance_policy(pb::GetInsurancePolicyRequest { name })
                    .await
                    .map(drop),
                _ => client
                    .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
                        name,
                        reason: "退保".to_string(),
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [(0, "GetInsurancePolicy"), (1, "CancelInsurancePolicy")] {
        assert_hidden(
            what,
            policy_calls(d.policy_b.name.clone(), call).await,
            policy_calls(format!("insurancePolicies/{random_policy}"), call).await,
            &policies,
        );
    }
    let insurance_units = |unit: String, call: u8| {
        let mut client = app.insurance(&staff);
        async move {
            match call {
                0 => client
                    .create_insurance_policy(policy_request(&unit, "A-X", true, vec![], 0, 10))
                    .await
                    .map(drop),
                _ => client
                    .list_insurance_policies(pb::ListInsurancePoliciesRequest {
                        org_unit: unit,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [(0, "CreateInsurancePolicy"), (1, "ListInsurancePolicies")] {
        assert_hidden(
            what,
            insurance_units(d.b.name.clone(), call).await,
            insurance_units(format!("orgUnits/{random_unit}"), call).await,
            &units,
        );
    }
    let check = |activity: String| {
        let mut client = app.insurance(&staff);
        async move {
            client
                .check_coverage(pb::CheckCoverageRequest {
                    activity,
                    volunteer: String::new(),
                })
                .await
                .map(drop)
        }
    };
    assert_hidden(
        "CheckCoverage",
        check(d.activity_b.name.clone()).await,
        check(activity_name(&random_activity)).await,
        &activities,
    );
    let own_policies = app
        .insurance(&staff)
        .list_insurance_policies(pb::ListInsurancePoliciesRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .insurance_policies;
    assert_eq!(
        own_policies
            .iter()
            .map(|policy| policy.name.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&d.policy_a.name)
    );
    assert_eq!(
        app.insurance(&app.admin())
            .get_insurance_policy(pb::GetInsurancePolicyRequest {
                name: d.policy_b.name.clone(),
            })
            .await
            .expect("gets")
            .into_inner()
            .insurance_policy
            .expect("policy")
            .state,
        pb::InsurancePolicyState::Active as i32
    );

    // TrainingService.
    let course_calls = |course: String, session: String, call: u8| {
        let mut client = app.training(&staff);
        let volunteer = d.volunteer_a.name.clone();
        let now = now_seconds();
        async move {
            match call {
                0 => client
                    .get_course(pb::GetCourseRequest { name: course })
                    .await
                    .map(drop),
                1 => client
                    .create_training_session(pb::CreateTrainingSessionRequest {
                        parent: course,
                        training_session: Some(pb::TrainingSession {
                            start_time: at(now + DAY),
                            end_time: at(now + DAY + HOUR),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .map(drop),
                _ => client
                    .record_training_completion(pb::RecordTrainingCompletionRequest {
                        session,
                        volunteers: vec![volunteer],
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "GetCourse"),
        (1, "CreateTrainingSession"),
        (2, "RecordTrainingCompletion"),
    ] {
        assert_hidden(
            what,
            course_calls(d.course_b.name.clone(), d.session_b.name.clone(), call).await,
            course_calls(
                format!("courses/{random_course}"),
                format!("courses/{random_course}/sessions/{random_session}"),
                call,
            )
            .await,
            &courses,
        );
    }
    let training_units = |unit: String, call: u8| {
        let mut client = app.training(&staff);
        async move {
            match call {
                0 => client
                    .create_course(pb::CreateCourseRequest {
                        course: Some(pb::Course {
                            org_unit: unit,
                            display_name: "越界课程".to_string(),
                            kind: pb::CourseKind::Safety as i32,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .map(drop),
                _ => client
                    .list_courses(pb::ListCoursesRequest {
                        org_unit: unit,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [(0, "CreateCourse"), (1, "ListCourses")] {
        assert_hidden(
            what,
            training_units(d.b.name.clone(), call).await,
            training_units(format!("orgUnits/{random_unit}"), call).await,
            &units,
        );
    }
    let own_courses = app
        .training(&staff)
        .list_courses(pb::ListCoursesRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .courses;
    assert_eq!(
        own_courses
            .iter()
            .map(|course| course.name.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&d.course_a.name)
    );
    let qualifications = app
        .training(&staff)
        .list_qualifications(pb::ListQualificationsRequest {
            volunteer: d.volunteer_b.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .qualifications;
    assert!(qualifications.is_empty(), "{qualifications:?}");

    // EvaluationService (B's completed activity has a rating).
    let evaluation_calls = |activity: String, call: u8| {
        let mut client = app.evaluations(&staff);
        async move {
            match call {
                0 => client
                    .create_evaluation(pb::CreateEvaluationRequest {
                        parent: activity,
                        evaluation: Some(pb::Evaluation {
                            evaluator_kind: pb::EvaluatorKind::Beneficiary as i32,
                            rating: 1,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .map(drop),
                1 => client
                    .list_evaluations(pb::ListEvaluationsRequest {
                        parent: activity,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
                _ => client
                    .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
                        activity,
                        ..Default::default()
                    })
                    .await
                    .map(drop),
            }
        }
    };
    for (call, what) in [
        (0, "CreateEvaluation"),
        (1, "ListEvaluations"),
        (2, "GetEvaluationSummary of an activity"),
    ] {
        assert_hidden(
            what,
            evaluation_calls(d.completed_b.name.clone(), call).await,
            evaluation_calls(activity_name(&random_activity), call).await,
            &completed_swap,
        );
    }
    let unit_summary = |unit: String| {
        let mut client = app.evaluations(&staff);
        async move {
            client
                .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
                    org_unit: unit,
                    ..Default::default()
                })
                .await
                .map(drop)
        }
    };
    assert_hidden(
        "GetEvaluationSummary of a unit",
        unit_summary(d.b.name.clone()).await,
        unit_summary(format!("orgUnits/{random_unit}")).await,
        &units,
    );
    let root_summary = app
        .evaluations(&app.admin())
        .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
            activity: d.completed_b.name.clone(),
            ..Default::default()
        })
        .await
        .expect("the city sees it")
        .into_inner();
    assert_eq!(root_summary.evaluation_count, 1, "A's rating was refused");

    // ActivityRecordsService: the history of B's things is hidden too.
    for (real, random, swaps) in [
        (
            d.sign_up_b.name.clone(),
            sign_up_name(&random_activity, &random_sign_up),
            &activities[..],
        ),
        (
            d.record_b.name.clone(),
            format!("serviceRecords/{random_record}"),
            &records[..],
        ),
        (
            d.policy_b.name.clone(),
            format!("insurancePolicies/{random_policy}"),
            &policies[..],
        ),
        (
            d.activity_b.name.clone(),
            activity_name(&random_activity),
            &activities[..],
        ),
    ] {
        let list = |resource: String| {
            let mut client = app.activity_records(&staff);
            async move {
                client
                    .list_change_records(pb::ListChangeRecordsRequest {
                        resource,
                        ..Default::default()
                    })
                    .await
                    .map(drop)
            }
        };
        assert_hidden(
            &format!("ListChangeRecords of {real}"),
            list(real.clone()).await,
            list(random).await,
            swaps,
        );
    }

    // A's own things stay visible to A.
    get_sign_up(app, &staff, &d.sign_up_a.name).await;
    get_record(app, &staff, &d.record_a.name).await;
}

async fn roles_limit_what_each_principal_does(app: TestApp) {
    roles(&app).await;
    app.stop().await;
}

async fn roles(app: &TestApp) {
    let d = districts(app).await;
    let viewer = app.token(&d.a.name, &[Role::Viewer]);
    let leader = app.token(&d.a.name, &[Role::TeamLeader]);
    let own = app.volunteer_token(&app.root, &d.volunteer_a.name);
    let sync = app.token(&app.root, &[Role::Sync]);
    let denied = |result: Result<(), Status>, what: &str| {
        expect_code(result, Code::PermissionDenied, what);
    };

    // A viewer reads but does not decide.
    get_sign_up(app, &viewer, &d.sign_up_a.name).await;
    denied(
        app.sign_ups(&viewer)
            .approve_sign_up(pb::ApproveSignUpRequest {
                name: d.sign_up_a.name.clone(),
                comment: String::new(),
            })
            .await
            .map(drop),
        "a viewer approving a sign-up",
    );
    denied(
        sign_up(app, &viewer, &d.activity_a, &d.other_a.name)
            .await
            .map(drop),
        "a viewer signing someone up",
    );
    get_record(app, &viewer, &d.record_a.name).await;
    denied(
        review(app, &viewer, &d.record_a.name, true, "")
            .await
            .map(drop),
        "a viewer approving a record",
    );
    denied(
        review(app, &viewer, &d.record_a.name, false, "不实")
            .await
            .map(drop),
        "a viewer rejecting a record",
    );

    // A team leader does not register or cancel insurance, nor import records.
    denied(
        app.insurance(&leader)
            .create_insurance_policy(policy_request(&d.a.name, "A-2", true, vec![], 0, 30))
            .await
            .map(drop),
        "a team leader registering a policy",
    );
    denied(
        app.insurance(&leader)
            .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
                name: d.policy_a.name.clone(),
                reason: "退保".to_string(),
            })
            .await
            .map(drop),
        "a team leader cancelling a policy",
    );
    denied(
        import(
            app,
            &leader,
            &d.a.name,
            vec![import_row(&d.volunteer_a.name, may_2020(), 60)],
            &random_id(),
        )
        .await
        .map(drop),
        "a team leader importing records",
    );

    // A volunteer sees its own hours and qualifications, not another's.
    assert_eq!(
        volunteer_hours(app, &own, &d.volunteer_a.name).await,
        (0, 0)
    );
    for other in [&d.other_a.name, &d.volunteer_b.name] {
        denied(
            app.service_records(&own)
                .get_volunteer_hours(pb::GetVolunteerHoursRequest {
                    volunteer: other.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "a volunteer reading another's hours",
        );
        denied(
            app.training(&own)
                .list_qualifications(pb::ListQualificationsRequest {
                    volunteer: other.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
            "a volunteer reading another's qualifications",
        );
    }
    app.training(&own)
        .list_qualifications(pb::ListQualificationsRequest {
            volunteer: d.volunteer_a.name.clone(),
            ..Default::default()
        })
        .await
        .expect("its own qualifications");
    denied(
        app.service_records(&own)
            .list_service_records(pb::ListServiceRecordsRequest::default())
            .await
            .map(drop),
        "a volunteer listing records",
    );
    denied(
        app.service_records(&own)
            .get_org_unit_hours(pb::GetOrgUnitHoursRequest::default())
            .await
            .map(drop),
        "a volunteer totalling a unit",
    );
    denied(
        app.attendance(&own)
            .get_check_in_code(pb::GetCheckInCodeRequest {
                activity: d.activity_a.name.clone(),
            })
            .await
            .map(drop),
        "a volunteer showing the check-in code",
    );
    denied(
        app.insurance(&own)
            .check_coverage(pb::CheckCoverageRequest {
                activity: d.activity_a.name.clone(),
                volunteer: d.volunteer_a.name.clone(),
            })
            .await
            .map(drop),
        "a volunteer checking coverage",
    );
    denied(
        app.activity_records(&own)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: d.sign_up_a.name.clone(),
                ..Default::default()
            })
            .await
            .map(drop),
        "a volunteer reading change history",
    );

    // The sync role does nothing here but read the change log.
    let sync_calls: Vec<(&str, Result<(), Status>)> = vec![
        (
            "CreateSignUp",
            sign_up(app, &sync, &d.activity_a, &d.other_a.name)
                .await
                .map(drop),
        ),
        (
            "GetSignUp",
            app.sign_ups(&sync)
                .get_sign_up(pb::GetSignUpRequest {
                    name: d.sign_up_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "ListSignUps",
            app.sign_ups(&sync)
                .list_sign_ups(pb::ListSignUpsRequest {
                    parent: d.activity_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ApproveSignUp",
            app.sign_ups(&sync)
                .approve_sign_up(pb::ApproveSignUpRequest {
                    name: d.sign_up_a.name.clone(),
                    comment: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "RejectSignUp",
            app.sign_ups(&sync)
                .reject_sign_up(pb::RejectSignUpRequest {
                    name: d.sign_up_a.name.clone(),
                    comment: "同步".to_string(),
                })
                .await
                .map(drop),
        ),
        (
            "CancelSignUp",
            app.sign_ups(&sync)
                .cancel_sign_up(pb::CancelSignUpRequest {
                    name: d.sign_up_a.name.clone(),
                    reason: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "GetCheckInCode",
            app.attendance(&sync)
                .get_check_in_code(pb::GetCheckInCodeRequest {
                    activity: d.activity_b.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "CheckIn",
            check_in(app, &sync, &d.activity_b, &d.volunteer_b.name, "")
                .await
                .map(drop),
        ),
        (
            "CheckOut",
            check_out(app, &sync, &d.activity_b, &d.volunteer_b.name)
                .await
                .map(drop),
        ),
        (
            "ListAttendances",
            app.attendance(&sync)
                .list_attendances(pb::ListAttendancesRequest {
                    parent: d.activity_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetServiceRecord",
            app.service_records(&sync)
                .get_service_record(pb::GetServiceRecordRequest {
                    name: d.record_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "ListServiceRecords",
            app.service_records(&sync)
                .list_service_records(pb::ListServiceRecordsRequest::default())
                .await
                .map(drop),
        ),
        (
            "ApproveServiceRecord",
            review(app, &sync, &d.record_a.name, true, "")
                .await
                .map(drop),
        ),
        (
            "RejectServiceRecord",
            review(app, &sync, &d.record_a.name, false, "同步")
                .await
                .map(drop),
        ),
        (
            "GetVolunteerHours",
            app.service_records(&sync)
                .get_volunteer_hours(pb::GetVolunteerHoursRequest {
                    volunteer: d.volunteer_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetOrgUnitHours",
            app.service_records(&sync)
                .get_org_unit_hours(pb::GetOrgUnitHoursRequest::default())
                .await
                .map(drop),
        ),
        (
            "CreateBackEntry",
            back_entry(
                app,
                &sync,
                &d.completed_a.name,
                &d.other_a.name,
                10,
                "同步",
                "",
            )
            .await
            .map(drop),
        ),
        (
            "CorrectServiceRecord",
            app.service_records(&sync)
                .correct_service_record(pb::CorrectServiceRecordRequest {
                    name: d.record_a.name.clone(),
                    minutes: 1,
                    reason: "同步".to_string(),
                })
                .await
                .map(drop),
        ),
        (
            "SetPlatformReportStatus",
            app.service_records(&sync)
                .set_platform_report_status(pb::SetPlatformReportStatusRequest {
                    names: vec![d.record_a.name.clone()],
                    platform_report_status: pb::PlatformReportStatus::Reported as i32,
                })
                .await
                .map(drop),
        ),
        (
            "ImportServiceRecords",
            import(
                app,
                &sync,
                &d.a.name,
                vec![import_row(&d.volunteer_a.name, may_2020(), 60)],
                &random_id(),
            )
            .await
            .map(drop),
        ),
        (
            "CreateInsurancePolicy",
            app.insurance(&sync)
                .create_insurance_policy(policy_request(&d.a.name, "S-1", true, vec![], 0, 30))
                .await
                .map(drop),
        ),
        (
            "GetInsurancePolicy",
            app.insurance(&sync)
                .get_insurance_policy(pb::GetInsurancePolicyRequest {
                    name: d.policy_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "ListInsurancePolicies",
            app.insurance(&sync)
                .list_insurance_policies(pb::ListInsurancePoliciesRequest::default())
                .await
                .map(drop),
        ),
        (
            "CancelInsurancePolicy",
            app.insurance(&sync)
                .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
                    name: d.policy_a.name.clone(),
                    reason: "同步".to_string(),
                })
                .await
                .map(drop),
        ),
        (
            "CheckCoverage",
            app.insurance(&sync)
                .check_coverage(pb::CheckCoverageRequest {
                    activity: d.activity_a.name.clone(),
                    volunteer: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "CreateCourse",
            app.training(&sync)
                .create_course(pb::CreateCourseRequest {
                    course: Some(pb::Course {
                        org_unit: d.a.name.clone(),
                        display_name: "同步课程".to_string(),
                        kind: pb::CourseKind::Other as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "GetCourse",
            app.training(&sync)
                .get_course(pb::GetCourseRequest {
                    name: d.course_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "ListCourses",
            app.training(&sync)
                .list_courses(pb::ListCoursesRequest::default())
                .await
                .map(drop),
        ),
        (
            "CreateTrainingSession",
            app.training(&sync)
                .create_training_session(pb::CreateTrainingSessionRequest {
                    parent: d.course_a.name.clone(),
                    training_session: Some(pb::TrainingSession {
                        start_time: at(now_seconds() + DAY),
                        end_time: at(now_seconds() + DAY + HOUR),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "RecordTrainingCompletion",
            complete_training(app, &sync, &d.session_a.name, &[&d.volunteer_a.name])
                .await
                .map(drop),
        ),
        (
            "ListQualifications",
            app.training(&sync)
                .list_qualifications(pb::ListQualificationsRequest {
                    volunteer: d.volunteer_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "CreateEvaluation",
            app.evaluations(&sync)
                .create_evaluation(pb::CreateEvaluationRequest {
                    parent: d.completed_a.name.clone(),
                    evaluation: Some(pb::Evaluation {
                        evaluator_kind: pb::EvaluatorKind::Beneficiary as i32,
                        rating: 3,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "ListEvaluations",
            app.evaluations(&sync)
                .list_evaluations(pb::ListEvaluationsRequest {
                    parent: d.completed_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetEvaluationSummary",
            app.evaluations(&sync)
                .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
                    org_unit: d.a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ListChangeRecords",
            app.activity_records(&sync)
                .list_change_records(pb::ListChangeRecordsRequest {
                    resource: d.record_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
    ];
    for (what, result) in sync_calls {
        denied(result, &format!("sync: {what}"));
    }
    app.change_log("activity", &sync)
        .list_changes(sync_pb::ListChangesRequest::default())
        .await
        .expect("sync reads the change log");

    // Nothing changed under all those refusals.
    assert_eq!(
        get_sign_up(app, &viewer, &d.sign_up_a.name).await.state,
        pb::SignUpState::Pending as i32
    );
    let record = get_record(app, &viewer, &d.record_a.name).await;
    assert_eq!(
        (record.state, record.minutes),
        (pb::ServiceRecordState::Submitted as i32, 30)
    );

    // No token at all: UNAUTHENTICATED on every service.
    let anonymous: Vec<(&str, Result<(), Status>)> = vec![
        (
            "GetSignUp",
            app.sign_ups("")
                .get_sign_up(pb::GetSignUpRequest {
                    name: d.sign_up_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "CreateSignUp",
            sign_up(app, "", &d.activity_a, &d.other_a.name)
                .await
                .map(drop),
        ),
        (
            "CheckIn",
            check_in(app, "", &d.activity_b, &d.volunteer_b.name, "123456")
                .await
                .map(drop),
        ),
        (
            "ListAttendances",
            app.attendance("")
                .list_attendances(pb::ListAttendancesRequest {
                    parent: d.activity_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetServiceRecord",
            app.service_records("")
                .get_service_record(pb::GetServiceRecordRequest {
                    name: d.record_a.name.clone(),
                })
                .await
                .map(drop),
        ),
        (
            "GetVolunteerHours",
            app.service_records("")
                .get_volunteer_hours(pb::GetVolunteerHoursRequest {
                    volunteer: d.volunteer_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ListInsurancePolicies",
            app.insurance("")
                .list_insurance_policies(pb::ListInsurancePoliciesRequest::default())
                .await
                .map(drop),
        ),
        (
            "CheckCoverage",
            app.insurance("")
                .check_coverage(pb::CheckCoverageRequest {
                    activity: d.activity_a.name.clone(),
                    volunteer: String::new(),
                })
                .await
                .map(drop),
        ),
        (
            "ListCourses",
            app.training("")
                .list_courses(pb::ListCoursesRequest::default())
                .await
                .map(drop),
        ),
        (
            "ListQualifications",
            app.training("")
                .list_qualifications(pb::ListQualificationsRequest {
                    volunteer: d.volunteer_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ListEvaluations",
            app.evaluations("")
                .list_evaluations(pb::ListEvaluationsRequest {
                    parent: d.completed_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "GetEvaluationSummary",
            app.evaluations("")
                .get_evaluation_summary(pb::GetEvaluationSummaryRequest {
                    activity: d.completed_b.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
        (
            "ListChangeRecords",
            app.activity_records("")
                .list_change_records(pb::ListChangeRecordsRequest {
                    resource: d.sign_up_a.name.clone(),
                    ..Default::default()
                })
                .await
                .map(drop),
        ),
    ];
    for (what, result) in anonymous {
        expect_code(result, Code::Unauthenticated, &format!("no token: {what}"));
    }
}

// ---------------------------------------------------------------------------------------
// 4. Service records
// ---------------------------------------------------------------------------------------

async fn service_record_rules(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let staff = app.token(&team.name, &[Role::Staff]);
    let first = app.register(&admin, &team.name, 401).await;
    let second = app.register(&admin, &team.name, 402).await;
    let outsider = app.register(&admin, &other.name, 403).await;

    // Back-entries are for completed activities only.
    let activity = draft(&app, &leader, &team.name, 60, 60, 5).await;
    let attempt = || {
        back_entry(
            &app,
            &leader,
            &activity.name,
            &first.name,
            50,
            "忘记签到",
            "",
        )
    };
    expect_code(
        attempt().await,
        Code::FailedPrecondition,
        "back-entry, draft",
    );
    publish(&app, &leader, &activity).await;
    expect_code(
        attempt().await,
        Code::FailedPrecondition,
        "back-entry, published",
    );
    start(&app, &leader, &activity).await;
    expect_code(
        attempt().await,
        Code::FailedPrecondition,
        "back-entry, in progress",
    );
    complete(&app, &leader, &activity).await;

    // One record per volunteer and activity; a retry with the request id is no second one.
    let request_id = random_id();
    let record = back_entry(
        &app,
        &leader,
        &activity.name,
        &first.name,
        50,
        "忘记签到",
        &request_id,
    )
    .await
    .expect("back-entry");
    let retried = back_entry(
        &app,
        &leader,
        &activity.name,
        &first.name,
        50,
        "忘记签到",
        &request_id,
    )
    .await
    .expect("retry");
    assert_eq!(retried.name, record.name);
    expect_code(
        back_entry(&app, &leader, &activity.name, &first.name, 20, "又忘了", "").await,
        Code::AlreadyExists,
        "second back-entry",
    );
    let second_record = back_entry(&app, &leader, &activity.name, &second.name, 30, "漏记", "")
        .await
        .expect("another volunteer's back-entry");

    // Nothing counts before approval.
    assert_eq!(volunteer_hours(&app, &staff, &first.name).await, (0, 0));
    assert_eq!(unit_hours(&app, &staff, &team.name).await, (0, 0, 0));

    // Rejection needs a comment; the city decides.
    expect_invalid(
        review(&app, &admin, &record.name, false, "  ").await,
        &["comment"],
        "rejection without a comment",
    );
    let approved = review(&app, &admin, &record.name, true, "")
        .await
        .expect("approves");
    assert_eq!(approved.state, pb::ServiceRecordState::Approved as i32);
    let rejected = review(&app, &admin, &second_record.name, false, "材料不全")
        .await
        .expect("rejects");
    assert_eq!(rejected.state, pb::ServiceRecordState::Rejected as i32);
    assert_eq!(rejected.review_comment, "材料不全");
    expect_code(
        review(&app, &admin, &second_record.name, true, "").await,
        Code::FailedPrecondition,
        "approving a rejected record",
    );
    assert_eq!(volunteer_hours(&app, &staff, &first.name).await, (50, 1));
    assert_eq!(volunteer_hours(&app, &staff, &second.name).await, (0, 0));
    assert_eq!(unit_hours(&app, &staff, &team.name).await, (50, 1, 1));

    // Periods must not run backwards.
    let day = |year, month, day| Some(common::Date { year, month, day });
    expect_invalid(
        app.service_records(&staff)
            .get_volunteer_hours(pb::GetVolunteerHoursRequest {
                volunteer: first.name.clone(),
                start_date: day(2024, 5, 2),
                end_date: day(2024, 5, 1),
            })
            .await,
        &["end_date"],
        "volunteer hours, end before start",
    );
    expect_invalid(
        app.service_records(&staff)
            .get_org_unit_hours(pb::GetOrgUnitHoursRequest {
                org_unit: team.name.clone(),
                start_date: day(2024, 5, 2),
                end_date: day(2024, 5, 1),
            })
            .await,
        &["end_date"],
        "unit hours, end before start",
    );
    let one_day = app
        .service_records(&staff)
        .get_volunteer_hours(pb::GetVolunteerHoursRequest {
            volunteer: first.name.clone(),
            start_date: Some(days_from_today(-400)),
            end_date: Some(days_from_today(400)),
        })
        .await
        .expect("a period around today")
        .into_inner();
    assert_eq!(one_day.approved_minutes, 50);

    // Reporting status: all or nothing within the caller's subtree.
    let elsewhere = import(
        &app,
        &admin,
        &other.name,
        vec![import_row(&outsider.name, may_2020(), 90)],
        &random_id(),
    )
    .await
    .expect("imports elsewhere")
    .remove(0);
    let mark = |names: Vec<String>, status: pb::PlatformReportStatus| {
        let mut client = app.service_records(&staff);
        async move {
            client
                .set_platform_report_status(pb::SetPlatformReportStatusRequest {
                    names,
                    platform_report_status: status as i32,
                })
                .await
                .map(|response| response.into_inner().updated_count)
        }
    };
    expect_code(
        mark(
            vec![
                record.name.clone(),
                elsewhere.name.clone(),
                second_record.name.clone(),
            ],
            pb::PlatformReportStatus::Reported,
        )
        .await,
        Code::NotFound,
        "one record outside the subtree",
    );
    for name in [&record.name, &second_record.name] {
        assert_eq!(
            get_record(&app, &staff, name).await.platform_report_status,
            pb::PlatformReportStatus::NotReported as i32,
            "{name} unchanged"
        );
    }
    assert_eq!(
        get_record(&app, &admin, &elsewhere.name)
            .await
            .platform_report_status,
        pb::PlatformReportStatus::NotReported as i32
    );
    expect_invalid(
        mark(vec![], pb::PlatformReportStatus::Reported).await,
        &["names"],
        "no names",
    );
    expect_invalid(
        mark(
            vec![record.name.clone()],
            pb::PlatformReportStatus::Unspecified,
        )
        .await,
        &["platform_report_status"],
        "no status",
    );
    expect_invalid(
        mark(
            vec![record.name.clone(), "serviceRecords/x".to_string()],
            pb::PlatformReportStatus::Reported,
        )
        .await,
        &["names[1]"],
        "a bad name",
    );
    assert_eq!(
        mark(
            vec![record.name.clone(), second_record.name.clone()],
            pb::PlatformReportStatus::Pending,
        )
        .await
        .expect("marks both"),
        2
    );
    assert_eq!(
        mark(vec![record.name.clone()], pb::PlatformReportStatus::Pending)
            .await
            .expect("marks again"),
        0,
        "no change, no count"
    );
    // The same record named twice changes once.
    let twice = mark(
        vec![record.name.clone(), record.name.clone()],
        pb::PlatformReportStatus::Reported,
    )
    .await;
    assert_eq!(twice.expect("the same record twice"), 1);
    assert_eq!(
        get_record(&app, &staff, &record.name)
            .await
            .platform_report_status,
        pb::PlatformReportStatus::Reported as i32
    );

    // Imports: a request id is required, rows are checked, the batch is bounded.
    let good = || {
        vec![
            import_row(&first.name, may_2020(), 120),
            import_row(
                &second.name,
                common::Date {
                    year: 2021,
                    month: 3,
                    day: 8,
                },
                60,
            ),
        ]
    };
    expect_invalid(
        import(&app, &staff, &team.name, good(), "").await,
        &["request_id"],
        "import without a request id",
    );
    expect_invalid(
        import(
            &app,
            &staff,
            &team.name,
            vec![import_row(&first.name, days_from_today(1), 60)],
            &random_id(),
        )
        .await,
        &["rows[0].service_date"],
        "a future date",
    );
    expect_invalid(
        import(
            &app,
            &staff,
            &team.name,
            vec![import_row(
                &format!("volunteers/{}", random_id()),
                may_2020(),
                60,
            )],
            &random_id(),
        )
        .await,
        &["rows[0].volunteer"],
        "an unknown volunteer",
    );
    expect_invalid(
        import(
            &app,
            &staff,
            &team.name,
            (0..1001)
                .map(|_| import_row(&first.name, may_2020(), 1))
                .collect(),
            &random_id(),
        )
        .await,
        &["rows"],
        "1001 rows",
    );
    // A refused batch does not use up its request id.
    let import_id = random_id();
    let mut refused = good();
    refused[1].volunteer = format!("volunteers/{}", random_id());
    expect_invalid(
        import(&app, &staff, &team.name, refused, &import_id).await,
        &["rows[1].volunteer"],
        "an unknown volunteer in the second row",
    );
    assert_eq!(unit_hours(&app, &staff, &team.name).await, (50, 1, 1));
    let imported = import(&app, &staff, &team.name, good(), &import_id)
        .await
        .expect("imports");
    assert_eq!(imported.len(), 2);
    assert!(imported.iter().all(|record| {
        record.kind == pb::ServiceRecordKind::Imported as i32
            && record.state == pb::ServiceRecordState::Approved as i32
            && record.org_unit == team.name
    }));
    assert_eq!(unit_hours(&app, &staff, &team.name).await, (230, 3, 2));
    let again = import(&app, &staff, &team.name, good(), &import_id)
        .await
        .expect("retry");
    assert_eq!(
        again
            .iter()
            .map(|record| record.name.clone())
            .collect::<Vec<_>>(),
        imported
            .iter()
            .map(|record| record.name.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(unit_hours(&app, &staff, &team.name).await, (230, 3, 2));
    assert_eq!(volunteer_hours(&app, &staff, &first.name).await, (170, 2));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 5. Insurance and training
// ---------------------------------------------------------------------------------------

async fn insurance_coverage_and_policies(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "同安区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "翔安区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let named = app.register(&admin, &team.name, 501).await;
    let unnamed = app.register(&admin, &team.name, 502).await;
    let begin = now_seconds() + DAY;
    let activity = draft_with(
        &app,
        &staff,
        &team.name,
        begin,
        begin + 3 * HOUR,
        vec![position("引导员", 5)],
    )
    .await;
    assert_eq!(
        coverage(&app, &staff, &activity.name, "").await,
        (false, String::new())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &named.name).await,
        (false, String::new())
    );

    // A policy naming one volunteer covers that volunteer only, not the unit.
    let by_name = create_policy(
        &app,
        &staff,
        policy_request(&team.name, "N-1", false, vec![named.name.clone()], -1, 30),
    )
    .await;
    assert_eq!(
        coverage(&app, &staff, &activity.name, &named.name).await,
        (true, by_name.name.clone())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &unnamed.name).await,
        (false, String::new())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, "").await,
        (false, String::new())
    );

    // Cover of another unit, or one that starts after the activity, does not count.
    create_policy(
        &app,
        &admin,
        policy_request(&other.name, "O-1", true, vec![], -1, 30),
    )
    .await;
    let late = create_policy(
        &app,
        &staff,
        policy_request(&team.name, "L-1", true, vec![], 5, 30),
    )
    .await;
    assert_eq!(
        coverage(&app, &staff, &activity.name, "").await,
        (false, String::new())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &unnamed.name).await,
        (false, String::new())
    );

    // A subtree policy over the activity covers the unit and everyone in it.
    let short = create_policy(
        &app,
        &staff,
        policy_request(&team.name, "S-1", true, vec![], -1, 3),
    )
    .await;
    assert_eq!(
        coverage(&app, &staff, &activity.name, "").await,
        (true, short.name.clone())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &unnamed.name).await,
        (true, short.name.clone())
    );
    assert!(coverage(&app, &staff, &activity.name, &named.name).await.0);

    // Expiring soon: active, ending between today and the horizon.
    let expired = create_policy(
        &app,
        &staff,
        policy_request(&team.name, "E-1", true, vec![], -10, -1),
    )
    .await;
    let dropped = create_policy(
        &app,
        &staff,
        policy_request(&team.name, "D-1", true, vec![], -1, 2),
    )
    .await;
    expect_invalid(
        app.insurance(&staff)
            .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
                name: dropped.name.clone(),
                reason: " ".to_string(),
            })
            .await,
        &["reason"],
        "cancelling without a reason",
    );
    let cancelled = app
        .insurance(&staff)
        .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
            name: dropped.name.clone(),
            reason: "退保".to_string(),
        })
        .await
        .expect("cancels")
        .into_inner()
        .insurance_policy
        .expect("policy");
    assert_eq!(cancelled.state, pb::InsurancePolicyState::Cancelled as i32);
    expect_code(
        app.insurance(&staff)
            .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
                name: dropped.name.clone(),
                reason: "退保".to_string(),
            })
            .await,
        Code::FailedPrecondition,
        "cancelling twice",
    );
    let listed = |days: i32| {
        let mut client = app.insurance(&staff);
        async move {
            client
                .list_insurance_policies(pb::ListInsurancePoliciesRequest {
                    expiring_within_days: days,
                    ..Default::default()
                })
                .await
                .map(|response| {
                    response
                        .into_inner()
                        .insurance_policies
                        .into_iter()
                        .map(|policy| policy.name)
                        .collect::<Vec<_>>()
                })
        }
    };
    assert_eq!(
        listed(7).await.expect("expiring"),
        std::slice::from_ref(&short.name)
    );
    assert_eq!(
        listed(0).await.expect("all"),
        [
            by_name.name.clone(),
            late.name.clone(),
            short.name.clone(),
            expired.name.clone(),
            dropped.name.clone()
        ],
        "the other unit's policy is not listed"
    );
    assert_eq!(listed(60).await.expect("expiring").len(), 3);
    expect_invalid(listed(-1).await, &["expiring_within_days"], "negative days");
    expect_invalid(
        listed(3661).await,
        &["expiring_within_days"],
        "too many days",
    );

    // Cancelled, the subtree policy no longer covers; the named one still does.
    app.insurance(&staff)
        .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
            name: short.name.clone(),
            reason: "停保".to_string(),
        })
        .await
        .expect("cancels");
    assert_eq!(
        coverage(&app, &staff, &activity.name, "").await,
        (false, String::new())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &unnamed.name).await,
        (false, String::new())
    );
    assert_eq!(
        coverage(&app, &staff, &activity.name, &named.name).await,
        (true, by_name.name.clone())
    );
    let history = history(&app, &staff, &short.name).await;
    assert_eq!(history.last().expect("history").reason, "停保");
    app.stop().await;
}

async fn qualifications_expire_and_sessions_must_end(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "集美区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let one_day = app.register(&admin, &team.name, 601).await;
    let two_days = app.register(&admin, &team.name, 602).await;
    let three_days = app.register(&admin, &team.name, 603).await;

    // Sessions yesterday 09:00–11:00 in Xiamen; the activity tomorrow 10:00–12:00.
    let midnight = china_midnight_today();
    let yesterday = days_from_today(-1);
    let today = days_from_today(0);
    let tomorrow = days_from_today(1);
    let mut granted = Vec::new();
    for (valid_days, volunteer) in [(1, &one_day), (2, &two_days), (3, &three_days)] {
        let course = create_course(&app, &staff, &team.name, "急救员", valid_days).await;
        let session = create_session(
            &app,
            &staff,
            &course.name,
            midnight - DAY + 9 * HOUR,
            midnight - DAY + 11 * HOUR,
        )
        .await;
        let qualifications = complete_training(&app, &staff, &session.name, &[&volunteer.name])
            .await
            .expect("records");
        assert_eq!(qualifications.len(), 1);
        assert_eq!(qualifications[0].granted_date, Some(yesterday));
        assert_eq!(qualifications[0].volunteer, volunteer.name);
        assert_eq!(qualifications[0].session, session.name);
        granted.push(qualifications[0].expire_date);
    }
    // Valid through the session's day + valid days - 1.
    assert_eq!(granted, [Some(yesterday), Some(today), Some(tomorrow)]);

    let activity = draft_with(
        &app,
        &staff,
        &team.name,
        midnight + DAY + 10 * HOUR,
        midnight + DAY + 12 * HOUR,
        vec![pb::Position {
            role: "医疗志愿者".to_string(),
            headcount: 5,
            required_qualifications: vec!["急救员".to_string()],
            ..Default::default()
        }],
    )
    .await;
    publish(&app, &staff, &activity).await;
    for (volunteer, what) in [
        (&one_day, "expired yesterday"),
        (&two_days, "expires today"),
    ] {
        let status = expect_code(
            sign_up(&app, &staff, &activity, &volunteer.name).await,
            Code::FailedPrecondition,
            what,
        );
        assert!(status.message().contains("急救员"), "{}", status.message());
    }
    sign_up(&app, &staff, &activity, &three_days.name)
        .await
        .expect("valid through the activity's last day");

    // Completion is recorded once the session has ended.
    let course = create_course(&app, &staff, &team.name, "心理疏导员", 0).await;
    let now = now_seconds();
    let running = create_session(&app, &staff, &course.name, now - HOUR, now + HOUR).await;
    expect_code(
        complete_training(&app, &staff, &running.name, &[&one_day.name]).await,
        Code::FailedPrecondition,
        "a session still running",
    );
    let ended = create_session(&app, &staff, &course.name, now - 3 * HOUR, now - 2 * HOUR).await;
    let forever = complete_training(&app, &staff, &ended.name, &[&one_day.name])
        .await
        .expect("records");
    assert_eq!(forever.len(), 1);
    assert_eq!(forever[0].expire_date, None, "0 days: no expiry");

    // A course granting nothing records completion with nothing granted.
    let plain = create_course(&app, &staff, &team.name, "", 0).await;
    let session = create_session(&app, &staff, &plain.name, now - 3 * HOUR, now - 2 * HOUR).await;
    let nothing = complete_training(&app, &staff, &session.name, &[&two_days.name])
        .await
        .expect("records");
    assert!(nothing.is_empty(), "{nothing:?}");
    let held = app
        .training(&staff)
        .list_qualifications(pb::ListQualificationsRequest {
            volunteer: two_days.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .qualifications;
    assert_eq!(held.len(), 1, "only the first-aid grant: {held:?}");

    // Bad requests name their fields.
    expect_invalid(
        complete_training(&app, &staff, &session.name, &[]).await,
        &["volunteers"],
        "nobody",
    );
    expect_invalid(
        complete_training(&app, &staff, &plain.name, &[&two_days.name]).await,
        &["session"],
        "a course instead of a session",
    );
    expect_code(
        complete_training(
            &app,
            &staff,
            &session.name,
            &[&format!("volunteers/{}", random_id())],
        )
        .await,
        Code::NotFound,
        "an unknown volunteer",
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 6. Change history
// ---------------------------------------------------------------------------------------

async fn change_history_of_sign_ups_and_records(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let viewer = app.token(&team.name, &[Role::Viewer]);
    let first = app.register(&admin, &team.name, 701).await;
    let second = app.register(&admin, &team.name, 702).await;

    // A sign-up approved and then cancelled; the one waiting moves up.
    let activity = published(&app, &leader, &team.name, 2 * 24 * 60, 120, 1).await;
    let mine = sign_up(&app, &leader, &activity, &first.name)
        .await
        .expect("signs up");
    let waiting = sign_up(&app, &leader, &activity, &second.name)
        .await
        .expect("waits");
    app.sign_ups(&leader)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: mine.name.clone(),
            comment: "欢迎".to_string(),
        })
        .await
        .expect("approves");
    app.sign_ups(&leader)
        .cancel_sign_up(pb::CancelSignUpRequest {
            name: mine.name.clone(),
            reason: "临时有事".to_string(),
        })
        .await
        .expect("cancels");
    let changes = history(&app, &viewer, &mine.name).await;
    assert_eq!(changes.len(), 3, "{changes:#?}");
    assert!(
        changes
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence),
        "oldest first"
    );
    assert!(
        changes
            .iter()
            .all(|change| change.resource_name == mine.name)
    );
    assert_eq!(
        changes
            .iter()
            .map(|change| change.operation)
            .collect::<Vec<_>>(),
        [
            common::ChangeOperation::Create as i32,
            common::ChangeOperation::Update as i32,
            common::ChangeOperation::Update as i32
        ]
    );
    assert_eq!(field_change(&changes[0], "state"), pair("", "pending"));
    assert_eq!(
        field_change(&changes[1], "state"),
        pair("pending", "approved")
    );
    assert_eq!(field_change(&changes[1], "comment"), pair("", "欢迎"));
    assert_eq!(changes[1].reason, "欢迎");
    assert_eq!(
        field_change(&changes[2], "state"),
        pair("approved", "cancelled")
    );
    assert_eq!(changes[2].reason, "临时有事");
    assert!(changes.iter().all(|change| !change.actor.is_empty()));
    assert!(changes.iter().all(|change| change.change_time.is_some()));
    let moved = history(&app, &viewer, &waiting.name).await;
    assert_eq!(moved.len(), 2, "{moved:#?}");
    assert_eq!(field_change(&moved[0], "state"), pair("", "waitlisted"));
    assert_eq!(
        field_change(&moved[1], "state"),
        pair("waitlisted", "pending")
    );
    assert!(!moved[1].reason.is_empty(), "why it moved up");
    // Paging the history.
    let page = app
        .activity_records(&viewer)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: mine.name.clone(),
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("pages")
        .into_inner();
    assert_eq!(page.change_records.len(), 2);
    let rest = app
        .activity_records(&viewer)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: mine.name.clone(),
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await
        .expect("pages")
        .into_inner();
    assert_eq!(
        rest.change_records
            .iter()
            .map(|change| change.sequence)
            .collect::<Vec<_>>(),
        [changes[2].sequence]
    );

    // A service record: requested, approved, corrected, rejected.
    let done = completed(&app, &leader, &team.name, 30).await;
    let record = back_entry(&app, &leader, &done.name, &first.name, 50, "忘记签到", "")
        .await
        .expect("back-entry");
    review(&app, &admin, &record.name, true, "属实")
        .await
        .expect("approves");
    app.service_records(&admin)
        .correct_service_record(pb::CorrectServiceRecordRequest {
            name: record.name.clone(),
            minutes: 40,
            reason: "核减".to_string(),
        })
        .await
        .expect("corrects");
    review(&app, &admin, &record.name, false, "证明不足")
        .await
        .expect("rejects");
    let changes = history(&app, &viewer, &record.name).await;
    assert_eq!(changes.len(), 4, "{changes:#?}");
    assert!(
        changes
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence),
        "oldest first"
    );
    assert_eq!(
        changes
            .iter()
            .map(|change| change.reason.as_str())
            .collect::<Vec<_>>(),
        ["忘记签到", "属实", "核减", "证明不足"]
    );
    assert_eq!(field_change(&changes[0], "minutes"), pair("", "50"));
    assert_eq!(field_change(&changes[0], "state"), pair("", "submitted"));
    assert_eq!(
        field_change(&changes[1], "state"),
        pair("submitted", "approved")
    );
    assert_eq!(field_change(&changes[1], "minutes"), None);
    assert_eq!(field_change(&changes[2], "minutes"), pair("50", "40"));
    assert_eq!(
        field_change(&changes[2], "state"),
        pair("approved", "submitted")
    );
    assert_eq!(
        field_change(&changes[3], "state"),
        pair("submitted", "rejected")
    );
    assert_eq!(field_change(&changes[3], "minutes"), None);

    // Only names of supported resources; unknown ones are not found.
    expect_invalid(
        app.activity_records(&viewer)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: format!("volunteers/{}", random_id()),
                ..Default::default()
            })
            .await,
        &["resource"],
        "a volunteer's history here",
    );
    expect_code(
        app.activity_records(&viewer)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: format!("serviceRecords/{}", random_id()),
                ..Default::default()
            })
            .await,
        Code::NotFound,
        "an unknown record",
    );
    app.stop().await;
}
