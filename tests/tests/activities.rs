//! Activities of the activity service, with the registry beside it.

use std::time::{SystemTime, UNIX_EPOCH};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{
    TestApp, both_backends, chinese_message, in_hours, record_text, violated_fields,
};
use tonic::{Code, Status};

both_backends!(
    activity_lifecycle,
    create_standalone_and_within_a_project,
    list_filters_and_pages,
    update_masks_positions_and_versions,
    lifecycle_transitions_and_their_rules,
    refused_for_suspended_units_and_ended_projects,
    bad_input_names_every_field,
    other_districts_see_nothing,
    roles_limit_functions,
    change_history_of_an_activity,
    change_log_lists_projects_and_activities,
    district_manages_its_activity_in_a_city_project,
    social_workers_lead_within_their_project,
);

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

// ---------------------------------------------------------------------------------------
// Helpers.

const PROJECT_TYPE: &str = "egret.activity.v1.Project";
const ACTIVITY_TYPE: &str = "egret.activity.v1.Activity";

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A timestamp `minutes` from now.
fn in_minutes(minutes: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: now_seconds() + minutes * 60,
        nanos: 0,
    })
}

/// The calendar date in China (UTC+8) `hours` from now.
fn china_date_in_hours(hours: i64) -> Option<common::Date> {
    let days = (now_seconds() + hours * 3600 + 8 * 3600).div_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Some(common::Date {
        year: year as i32,
        month: month as i32,
        day: day as i32,
    })
}

/// A project of `org_unit` from `from_hours` to `to_hours` from now (China dates).
fn project_input(org_unit: &str, from_hours: i64, to_hours: i64) -> pb::Project {
    pb::Project {
        org_unit: org_unit.to_string(),
        display_name: "空巢老人关爱项目".to_string(),
        description: "政府购买服务".to_string(),
        service_themes: vec![common::ServiceTheme::Care as i32],
        service_fields: vec![common::ServiceField::ElderlyCare as i32],
        target_groups: vec![common::TargetGroup::ElderlyLivingAlone as i32],
        start_date: china_date_in_hours(from_hours),
        end_date: china_date_in_hours(to_hours),
        funding_source: pb::FundingSource::GovernmentPurchase as i32,
        budget_fen: 5_000_000,
        ..Default::default()
    }
}

async fn create_project(app: &TestApp, token: &str, project: pb::Project) -> pb::Project {
    app.projects(token)
        .create_project(pb::CreateProjectRequest {
            project: Some(project),
            request_id: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("creating a project: {status:?}"))
        .into_inner()
        .project
        .expect("project")
}

fn position(role: &str, headcount: i32) -> pb::Position {
    pb::Position {
        role: role.to_string(),
        headcount,
        ..Default::default()
    }
}

async fn try_create(
    app: &TestApp,
    token: &str,
    activity: pb::Activity,
    request_id: &str,
) -> Result<pb::Activity, Status> {
    app.activities(token)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(activity),
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn create(app: &TestApp, token: &str, activity: pb::Activity) -> pb::Activity {
    try_create(app, token, activity, "")
        .await
        .unwrap_or_else(|status| panic!("creating an activity: {status:?}"))
}

async fn get(app: &TestApp, token: &str, name: &str) -> Result<pb::Activity, Status> {
    app.activities(token)
        .get_activity(pb::GetActivityRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn update(
    app: &TestApp,
    token: &str,
    activity: pb::Activity,
    paths: &[&str],
    expected_version: i64,
) -> Result<pb::Activity, Status> {
    app.activities(token)
        .update_activity(pb::UpdateActivityRequest {
            activity: Some(activity),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|path| path.to_string()).collect(),
            }),
            expected_version,
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn publish(app: &TestApp, token: &str, name: &str) -> Result<pb::Activity, Status> {
    app.activities(token)
        .publish_activity(pb::PublishActivityRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn start(app: &TestApp, token: &str, name: &str) -> Result<pb::Activity, Status> {
    app.activities(token)
        .start_activity(pb::StartActivityRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn complete(app: &TestApp, token: &str, name: &str) -> Result<pb::Activity, Status> {
    app.activities(token)
        .complete_activity(pb::CompleteActivityRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn cancel(
    app: &TestApp,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::Activity, Status> {
    app.activities(token)
        .cancel_activity(pb::CancelActivityRequest {
            name: name.to_string(),
            reason: reason.to_string(),
        })
        .await
        .map(|response| response.into_inner().activity.expect("activity"))
}

async fn list(
    app: &TestApp,
    token: &str,
    request: pb::ListActivitiesRequest,
) -> Result<pb::ListActivitiesResponse, Status> {
    app.activities(token)
        .list_activities(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Every page of a listing, following the tokens; the names in order.
async fn list_names(app: &TestApp, token: &str, request: pb::ListActivitiesRequest) -> Vec<String> {
    let mut names = Vec::new();
    let mut page_token = String::new();
    for _ in 0..100 {
        let page = list(
            app,
            token,
            pb::ListActivitiesRequest {
                page_token: page_token.clone(),
                ..request.clone()
            },
        )
        .await
        .unwrap_or_else(|status| panic!("listing activities: {status:?}"));
        if request.page_size > 0 {
            assert!(page.activities.len() <= request.page_size as usize);
        }
        names.extend(page.activities.into_iter().map(|activity| activity.name));
        if page.next_page_token.is_empty() {
            return names;
        }
        page_token = page.next_page_token;
    }
    panic!("the listing never ended");
}

async fn history(
    app: &TestApp,
    token: &str,
    resource: &str,
) -> Result<Vec<common::ChangeRecord>, Status> {
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .activity_records(token)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: resource.to_string(),
                page_size: 2,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        assert!(page.change_records.len() <= 2);
        records.extend(page.change_records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        page_token = page.next_page_token;
    }
}

/// The change log's head sequence.
async fn log_head(app: &TestApp) -> i64 {
    let sync = app.token(&app.root, &[Role::Sync]);
    app.change_log("activity", &sync)
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 0,
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("reads the change log")
        .into_inner()
        .head_sequence
}

/// The error of `result`, which must have failed with `code`.
#[track_caller]
fn failed<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// INVALID_ARGUMENT naming exactly `fields`, with a Chinese message.
#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, Status>, fields: &[&str]) {
    let status = failed(result, Code::InvalidArgument);
    let mut found = violated_fields(&status);
    found.sort();
    let mut wanted: Vec<String> = fields.iter().map(|field| field.to_string()).collect();
    wanted.sort();
    assert_eq!(found, wanted, "{status:?}");
    let message = chinese_message(&status).unwrap_or_default();
    assert!(!message.trim().is_empty(), "no Chinese message: {status:?}");
}

fn fence(activity: &mut pb::Activity) -> &mut pb::CheckInFence {
    activity
        .site
        .as_mut()
        .expect("site")
        .check_in_fence
        .as_mut()
        .expect("fence")
}

fn field_change<'a>(
    changes: &'a [common::FieldChange],
    field: &str,
) -> Option<&'a common::FieldChange> {
    changes.iter().find(|change| change.field == field)
}

fn random_name(collection: &str) -> String {
    format!("{collection}/{}", uuid::Uuid::new_v4())
}

// ---------------------------------------------------------------------------------------
// Success paths.

async fn create_standalone_and_within_a_project(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let street = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "莲前街道")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);

    // Standalone, with a request id.
    let request_id = uuid::Uuid::new_v4().to_string();
    let input = activity_input(&team.name, 48);
    let created = try_create(&app, &staff, input.clone(), &request_id)
        .await
        .expect("creates");
    assert!(created.name.starts_with("activities/"), "{}", created.name);
    assert_eq!(created.org_unit, team.name);
    assert_eq!(created.project, "");
    assert_eq!(created.display_name, input.display_name);
    assert_eq!(created.description, input.description);
    assert_eq!(created.service_theme, input.service_theme);
    assert_eq!(created.service_field, input.service_field);
    assert_eq!(created.target_groups, input.target_groups);
    assert_eq!(created.site, input.site);
    assert_eq!(created.start_time, input.start_time);
    assert_eq!(created.end_time, input.end_time);
    assert_eq!(created.risk_level, pb::RiskLevel::Low as i32);
    assert_eq!(created.state, pb::ActivityState::Draft as i32);
    assert_eq!(created.positions.len(), 1);
    assert_eq!(created.positions[0].role, "陪伴员");
    assert_eq!(created.positions[0].headcount, 10);
    assert_eq!(created.positions[0].required_skills, ["沟通"]);
    assert_eq!(created.positions[0].minimum_age, 18);
    assert!(!created.positions[0].position_id.is_empty());
    let metadata = created.metadata.clone().expect("metadata");
    assert_eq!(metadata.version, 1);
    assert_eq!(
        format!("activities/{}", metadata.uid),
        created.name,
        "the uid is the name's id"
    );
    assert!(!metadata.origin_instance.is_empty());
    assert!(metadata.create_time.is_some());

    // A retry with the same request id returns the same activity and makes no second one.
    let mut retried_input = input.clone();
    retried_input.display_name = "重试时改了名字".to_string();
    let retried = try_create(&app, &staff, retried_input, &request_id)
        .await
        .expect("a retry succeeds");
    assert_eq!(retried, created);
    let names = list_names(&app, &staff, pb::ListActivitiesRequest::default()).await;
    assert_eq!(names, vec![created.name.clone()]);

    // Get returns what Create returned.
    let fetched = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(fetched, created);

    // Within a project of the team, for the team itself and for a unit below it.
    let project = create_project(&app, &staff, project_input(&team.name, -48, 30 * 24)).await;
    let mut own = activity_input(&team.name, 24);
    own.project = project.name.clone();
    let own = create(&app, &staff, own).await;
    assert_eq!(own.project, project.name);
    assert_eq!(own.org_unit, team.name);

    let mut below = activity_input(&street.name, 72);
    below.project = project.name.clone();
    let below = create(&app, &staff, below).await;
    assert_eq!(below.project, project.name);
    assert_eq!(below.org_unit, street.name);
    assert_eq!(get(&app, &staff, &below.name).await.expect("gets"), below);

    // The street's own staff and team leader may file theirs under the team's project too
    // when they can see it: the admin can.
    let mut by_admin = activity_input(&street.name, 96);
    by_admin.project = project.name.clone();
    let by_admin = create(&app, &admin, by_admin).await;
    assert_eq!(by_admin.project, project.name);

    // An activated project takes activities as well.
    app.projects(&staff)
        .activate_project(pb::ActivateProjectRequest {
            name: project.name.clone(),
        })
        .await
        .expect("activates");
    let mut active = activity_input(&team.name, 120);
    active.project = project.name.clone();
    assert_eq!(create(&app, &staff, active).await.project, project.name);
    app.stop().await;
}

async fn list_filters_and_pages(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let street = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "莲前街道")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let project = create_project(&app, &staff, project_input(&team.name, -48, 30 * 24)).await;

    // Seven activities in the team's subtree, created in this order.
    let mut names = Vec::new();
    for (unit, hours, in_project) in [
        (&team.name, 24, false),
        (&team.name, 48, true),
        (&street.name, 72, false),
        (&team.name, 96, false),
        (&street.name, 120, true),
        (&street.name, 144, false),
        (&team.name, 168, false),
    ] {
        let mut input = activity_input(unit, hours);
        if in_project {
            input.project = project.name.clone();
        }
        names.push(create(&app, &staff, input).await.name);
    }
    // One elsewhere.
    let elsewhere = create(&app, &admin, activity_input(&other.name, 24)).await;
    for name in [&names[0], &names[4]] {
        publish(&app, &staff, name).await.expect("publishes");
    }

    // The caller's subtree by default, oldest first.
    let all = list_names(&app, &staff, pb::ListActivitiesRequest::default()).await;
    assert_eq!(all, names);
    assert!(!all.contains(&elsewhere.name));

    // Pages of two: each activity exactly once.
    let paged = list_names(
        &app,
        &staff,
        pb::ListActivitiesRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(paged, names);
    let first = list(
        &app,
        &staff,
        pb::ListActivitiesRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    assert_eq!(first.activities.len(), 2);
    assert!(!first.next_page_token.is_empty());

    // A token is bound to its filters.
    assert_invalid(
        list(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                page_size: 2,
                state: pb::ActivityState::Draft as i32,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await,
        &["page_token"],
    );
    assert_invalid(
        list(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                page_size: 2,
                org_unit: street.name.clone(),
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        )
        .await,
        &["page_token"],
    );
    // The same filters continue.
    let second = list(
        &app,
        &staff,
        pb::ListActivitiesRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("second page");
    assert_eq!(
        second
            .activities
            .iter()
            .map(|activity| activity.name.clone())
            .collect::<Vec<_>>(),
        names[2..4]
    );

    // org_unit: the street's subtree.
    let streets = list_names(
        &app,
        &staff,
        pb::ListActivitiesRequest {
            org_unit: street.name.clone(),
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        streets,
        [names[2].clone(), names[4].clone(), names[5].clone()]
    );
    // The street's own staff sees just those by default.
    let street_staff = app.token(&street.name, &[Role::Staff]);
    assert_eq!(
        list_names(&app, &street_staff, pb::ListActivitiesRequest::default()).await,
        streets
    );
    // The admin lists the other district, the team's staff may not.
    assert_eq!(
        list_names(
            &app,
            &admin,
            pb::ListActivitiesRequest {
                org_unit: other.name.clone(),
                ..Default::default()
            },
        )
        .await,
        vec![elsewhere.name.clone()]
    );
    failed(
        list(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                org_unit: other.name.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::NotFound,
    );

    // project.
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                project: project.name.clone(),
                ..Default::default()
            },
        )
        .await,
        [names[1].clone(), names[4].clone()]
    );
    // state.
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                state: pb::ActivityState::Published as i32,
                ..Default::default()
            },
        )
        .await,
        [names[0].clone(), names[4].clone()]
    );
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                state: pb::ActivityState::Draft as i32,
                page_size: 2,
                ..Default::default()
            },
        )
        .await,
        [
            names[1].clone(),
            names[2].clone(),
            names[3].clone(),
            names[5].clone(),
            names[6].clone()
        ]
    );
    assert!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                state: pb::ActivityState::Cancelled as i32,
                ..Default::default()
            },
        )
        .await
        .is_empty()
    );
    // start_after.
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                start_after: in_hours(100),
                ..Default::default()
            },
        )
        .await,
        names[4..].to_vec()
    );
    // "After" includes an activity starting at that very time.
    let fifth = get(&app, &staff, &names[4]).await.expect("gets");
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                start_after: fifth.start_time,
                ..Default::default()
            },
        )
        .await,
        names[4..].to_vec()
    );
    // Combined: drafts of the street starting after 100 hours, in pages of two.
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                org_unit: street.name.clone(),
                state: pb::ActivityState::Draft as i32,
                start_after: in_hours(100),
                page_size: 2,
                ..Default::default()
            },
        )
        .await,
        [names[5].clone()]
    );
    // The project's activities of the street only.
    assert_eq!(
        list_names(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                org_unit: street.name.clone(),
                project: project.name.clone(),
                ..Default::default()
            },
        )
        .await,
        [names[4].clone()]
    );
    app.stop().await;
}

async fn update_masks_positions_and_versions(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let mut input = activity_input(&team.name, 48);
    input.positions = vec![position("陪伴员", 10), position("讲解员", 3)];
    let created = create(&app, &staff, input).await;
    let companion_id = created.positions[0].position_id.clone();
    let guide_id = created.positions[1].position_id.clone();
    assert_ne!(companion_id, guide_id);
    let version = created.metadata.as_ref().expect("metadata").version;

    // Every maskable field at once.
    let new_site = pb::ServiceSite {
        display_name: "思明区图书馆".to_string(),
        address: "厦门市思明区体育路".to_string(),
        kind: pb::SiteKind::Library as i32,
        check_in_fence: None,
    };
    let change = pb::Activity {
        name: created.name.clone(),
        display_name: "图书馆导读".to_string(),
        description: "为留守儿童导读绘本".to_string(),
        service_theme: common::ServiceTheme::Civility as i32,
        service_field: common::ServiceField::HardshipRelief as i32,
        target_groups: vec![
            common::TargetGroup::SpringBudGirls as i32,
            common::TargetGroup::PoorWomenAndFamilies as i32,
        ],
        site: Some(new_site.clone()),
        start_time: in_hours(72),
        end_time: in_hours(75),
        risk_level: pb::RiskLevel::Medium as i32,
        positions: vec![
            pb::Position {
                role: "讲解员".to_string(),
                headcount: 5,
                required_qualifications: vec!["讲解员培训".to_string()],
                minimum_age: 16,
                ..Default::default()
            },
            pb::Position {
                // A caller cannot choose a position id.
                position_id: companion_id.clone(),
                role: "摄影".to_string(),
                headcount: 1,
                ..Default::default()
            },
        ],
        // Neither can it move the activity or change its state.
        org_unit: app.root.clone(),
        state: pb::ActivityState::Completed as i32,
        ..Default::default()
    };
    let updated = update(
        &app,
        &staff,
        change.clone(),
        &[
            "display_name",
            "description",
            "service_theme",
            "service_field",
            "target_groups",
            "site",
            "start_time",
            "end_time",
            "risk_level",
            "positions",
        ],
        version,
    )
    .await
    .expect("updates");
    assert_eq!(updated.name, created.name);
    assert_eq!(updated.org_unit, team.name);
    assert_eq!(updated.state, pb::ActivityState::Draft as i32);
    assert_eq!(updated.display_name, change.display_name);
    assert_eq!(updated.description, change.description);
    assert_eq!(updated.service_theme, change.service_theme);
    assert_eq!(updated.service_field, change.service_field);
    assert_eq!(updated.target_groups, change.target_groups);
    assert_eq!(updated.site, Some(new_site));
    assert_eq!(updated.start_time, change.start_time);
    assert_eq!(updated.end_time, change.end_time);
    assert_eq!(updated.risk_level, pb::RiskLevel::Medium as i32);
    assert_eq!(updated.positions.len(), 2);
    assert_eq!(updated.positions[0].role, "讲解员");
    assert_eq!(updated.positions[0].headcount, 5);
    assert_eq!(updated.positions[0].required_qualifications, ["讲解员培训"]);
    assert_eq!(updated.positions[0].minimum_age, 16);
    assert_eq!(
        updated.positions[0].position_id, guide_id,
        "a kept role keeps its id"
    );
    assert_eq!(updated.positions[1].role, "摄影");
    let photographer_id = updated.positions[1].position_id.clone();
    assert!(!photographer_id.is_empty());
    assert_ne!(photographer_id, companion_id, "a new role gets a new id");
    assert_ne!(photographer_id, guide_id);
    let updated_meta = updated.metadata.clone().expect("metadata");
    assert_eq!(updated_meta.version, version + 1);
    let seconds = |time: Option<prost_types::Timestamp>| time.expect("time").seconds;
    assert!(
        seconds(updated_meta.update_time)
            >= seconds(created.metadata.clone().expect("metadata").update_time)
    );
    assert_eq!(
        get(&app, &staff, &created.name).await.expect("gets"),
        updated
    );

    // Only the masked fields change; the others may carry anything.
    let only_description = update(
        &app,
        &staff,
        pb::Activity {
            name: created.name.clone(),
            description: "改为线上导读".to_string(),
            ..Default::default()
        },
        &["description"],
        0,
    )
    .await
    .expect("updates the description");
    assert_eq!(only_description.description, "改为线上导读");
    assert_eq!(only_description.display_name, updated.display_name);
    assert_eq!(only_description.site, updated.site);
    assert_eq!(only_description.positions, updated.positions);
    assert_eq!(only_description.start_time, updated.start_time);
    let current = only_description.metadata.clone().expect("metadata").version;
    assert_eq!(current, version + 2);

    // Editing positions again: ids of kept roles survive, a dropped role's id is gone.
    let repositioned = update(
        &app,
        &staff,
        pb::Activity {
            name: created.name.clone(),
            positions: vec![position("摄影", 2), position("陪伴员", 4)],
            ..Default::default()
        },
        &["positions"],
        current,
    )
    .await
    .expect("updates positions");
    assert_eq!(repositioned.positions[0].position_id, photographer_id);
    assert_ne!(repositioned.positions[1].position_id, companion_id);
    assert_ne!(repositioned.positions[1].position_id, guide_id);
    assert_eq!(repositioned.positions[0].headcount, 2);

    // A stale version is refused with ABORTED, and nothing changes.
    let status = failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: created.name.clone(),
                display_name: "迟到的修改".to_string(),
                ..Default::default()
            },
            &["display_name"],
            version,
        )
        .await,
        Code::Aborted,
    );
    assert!(status.message().contains(&created.name), "{status:?}");
    let after = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(after, repositioned);

    // Fields that are not maskable are refused.
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: created.name.clone(),
                ..Default::default()
            },
            &["state"],
            0,
        )
        .await,
        &["update_mask.paths[0]"],
    );
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: created.name.clone(),
                display_name: "改名".to_string(),
                ..Default::default()
            },
            &["display_name", "org_unit", "project"],
            0,
        )
        .await,
        &["update_mask.paths[1]", "update_mask.paths[2]"],
    );
    assert_eq!(get(&app, &staff, &created.name).await.expect("gets"), after);
    app.stop().await;
}

async fn lifecycle_transitions_and_their_rules(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);

    // Soon: published, started within two hours of its start, completed.
    let soon = create(&app, &staff, activity_input(&team.name, 1)).await;
    let published = publish(&app, &staff, &soon.name).await.expect("publishes");
    assert_eq!(published.state, pb::ActivityState::Published as i32);
    assert_eq!(published.metadata.as_ref().expect("metadata").version, 2);
    let status = failed(
        publish(&app, &staff, &soon.name).await,
        Code::FailedPrecondition,
    );
    assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
    let started = start(&app, &staff, &soon.name).await.expect("starts");
    assert_eq!(started.state, pb::ActivityState::InProgress as i32);
    // In progress: neither editable nor publishable.
    failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: soon.name.clone(),
                display_name: "改名".to_string(),
                ..Default::default()
            },
            &["display_name"],
            0,
        )
        .await,
        Code::FailedPrecondition,
    );
    let completed = complete(&app, &staff, &soon.name).await.expect("completes");
    assert_eq!(completed.state, pb::ActivityState::Completed as i32);
    assert_eq!(
        get(&app, &staff, &soon.name).await.expect("gets"),
        completed
    );

    // A completed activity cannot be cancelled, restarted or edited.
    failed(
        cancel(&app, &staff, &soon.name, "补充取消").await,
        Code::FailedPrecondition,
    );
    failed(
        start(&app, &staff, &soon.name).await,
        Code::FailedPrecondition,
    );
    failed(
        complete(&app, &staff, &soon.name).await,
        Code::FailedPrecondition,
    );
    failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: soon.name.clone(),
                display_name: "事后改名".to_string(),
                ..Default::default()
            },
            &["display_name"],
            0,
        )
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        get(&app, &staff, &soon.name).await.expect("gets"),
        completed
    );

    // Starting is allowed from two hours before the start, not earlier.
    let mut near_input = activity_input(&team.name, 0);
    near_input.start_time = in_minutes(110);
    near_input.end_time = in_minutes(240);
    let near = create(&app, &staff, near_input).await;
    publish(&app, &staff, &near.name).await.expect("publishes");
    assert_eq!(
        start(&app, &staff, &near.name).await.expect("starts").state,
        pb::ActivityState::InProgress as i32
    );
    // An activity in progress may be cancelled.
    let cancelled = cancel(&app, &staff, &near.name, "场地临时关闭")
        .await
        .expect("cancels");
    assert_eq!(cancelled.state, pb::ActivityState::Cancelled as i32);

    let mut later_input = activity_input(&team.name, 0);
    later_input.start_time = in_minutes(130);
    later_input.end_time = in_minutes(250);
    let later = create(&app, &staff, later_input).await;
    publish(&app, &staff, &later.name).await.expect("publishes");
    let status = failed(
        start(&app, &staff, &later.name).await,
        Code::FailedPrecondition,
    );
    assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
    assert_eq!(
        get(&app, &staff, &later.name).await.expect("gets").state,
        pb::ActivityState::Published as i32
    );

    // Completing a draft or a published activity, starting a draft: refused.
    let draft = create(&app, &staff, activity_input(&team.name, 24)).await;
    failed(
        complete(&app, &staff, &draft.name).await,
        Code::FailedPrecondition,
    );
    failed(
        start(&app, &staff, &draft.name).await,
        Code::FailedPrecondition,
    );
    failed(
        complete(&app, &staff, &later.name).await,
        Code::FailedPrecondition,
    );

    // Cancelling needs a reason.
    assert_invalid(cancel(&app, &staff, &later.name, "").await, &["reason"]);
    assert_invalid(cancel(&app, &staff, &later.name, "   ").await, &["reason"]);
    assert_eq!(
        get(&app, &staff, &later.name).await.expect("gets").state,
        pb::ActivityState::Published as i32
    );
    let cancelled = cancel(&app, &staff, &later.name, "暴雨预警")
        .await
        .expect("cancels a published activity");
    assert_eq!(cancelled.state, pb::ActivityState::Cancelled as i32);
    // A cancelled activity is over: no edits, no publishing, no second cancel.
    failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: later.name.clone(),
                display_name: "恢复".to_string(),
                ..Default::default()
            },
            &["display_name"],
            0,
        )
        .await,
        Code::FailedPrecondition,
    );
    failed(
        publish(&app, &staff, &later.name).await,
        Code::FailedPrecondition,
    );
    failed(
        cancel(&app, &staff, &later.name, "再次取消").await,
        Code::FailedPrecondition,
    );
    // A draft may be cancelled.
    assert_eq!(
        cancel(&app, &staff, &draft.name, "计划调整")
            .await
            .expect("cancels a draft")
            .state,
        pb::ActivityState::Cancelled as i32
    );

    // Only future activities are published.
    let past = create(&app, &staff, activity_input(&team.name, -5)).await;
    let status = failed(
        publish(&app, &staff, &past.name).await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains(&past.name), "{status:?}");

    // A position is needed.
    let mut empty = activity_input(&team.name, 24);
    empty.positions.clear();
    let empty = create(&app, &staff, empty).await;
    failed(
        publish(&app, &staff, &empty.name).await,
        Code::FailedPrecondition,
    );
    assert_eq!(
        get(&app, &staff, &empty.name).await.expect("gets").state,
        pb::ActivityState::Draft as i32
    );

    // Medium and high risk need insurance, which does not exist yet: the refusal names the
    // unit.
    for risk in [pb::RiskLevel::Medium, pb::RiskLevel::High] {
        let mut risky = activity_input(&team.name, 24);
        risky.risk_level = risk as i32;
        let risky = create(&app, &staff, risky).await;
        let status = failed(
            publish(&app, &staff, &risky.name).await,
            Code::FailedPrecondition,
        );
        assert!(status.message().contains(&team.name), "{status:?}");
        assert!(
            chinese_message(&status).is_some_and(|message| message.contains(&team.name)),
            "{status:?}"
        );
        assert_eq!(
            get(&app, &staff, &risky.name).await.expect("gets").state,
            pb::ActivityState::Draft as i32
        );
    }

    // A published activity stays in the future, keeps a position and needs no cover.
    let open = create(&app, &staff, activity_input(&team.name, 24)).await;
    let open = publish(&app, &staff, &open.name).await.expect("publishes");
    let version = open.metadata.as_ref().expect("metadata").version;
    let status = failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: open.name.clone(),
                start_time: in_hours(-2),
                end_time: in_hours(1),
                ..Default::default()
            },
            &["start_time", "end_time"],
            version,
        )
        .await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains(&open.name), "{status:?}");
    failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: open.name.clone(),
                ..Default::default()
            },
            &["positions"],
            version,
        )
        .await,
        Code::FailedPrecondition,
    );
    failed(
        update(
            &app,
            &staff,
            pb::Activity {
                name: open.name.clone(),
                risk_level: pb::RiskLevel::High as i32,
                ..Default::default()
            },
            &["risk_level"],
            version,
        )
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(get(&app, &staff, &open.name).await.expect("gets"), open);
    // Moving it later is fine.
    let moved = update(
        &app,
        &staff,
        pb::Activity {
            name: open.name.clone(),
            start_time: in_hours(30),
            end_time: in_hours(33),
            ..Default::default()
        },
        &["start_time", "end_time"],
        version,
    )
    .await
    .expect("moves a published activity later");
    assert_eq!(moved.state, pb::ActivityState::Published as i32);
    app.stop().await;
}

async fn refused_for_suspended_units_and_ended_projects(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let street = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "莲前街道")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);

    // Closed and cancelled projects take no new activities.
    let closed = create_project(&app, &staff, project_input(&team.name, -48, 30 * 24)).await;
    app.projects(&staff)
        .activate_project(pb::ActivateProjectRequest {
            name: closed.name.clone(),
        })
        .await
        .expect("activates");
    app.projects(&staff)
        .close_project(pb::CloseProjectRequest {
            name: closed.name.clone(),
            reason: "项目结项".to_string(),
        })
        .await
        .expect("closes");
    let cancelled = create_project(&app, &staff, project_input(&team.name, -48, 30 * 24)).await;
    app.projects(&staff)
        .cancel_project(pb::CancelProjectRequest {
            name: cancelled.name.clone(),
            reason: "资金未到位".to_string(),
        })
        .await
        .expect("cancels");
    for project in [&closed, &cancelled] {
        let mut input = activity_input(&team.name, 24);
        input.project = project.name.clone();
        let status = failed(
            try_create(&app, &staff, input, "").await,
            Code::FailedPrecondition,
        );
        assert!(status.message().contains(&project.name), "{status:?}");
        assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
    }

    // A suspended unit creates no activities.
    app.org_units(&admin)
        .suspend_org_unit(registry::SuspendOrgUnitRequest {
            name: street.name.clone(),
            reason: "停队整顿".to_string(),
        })
        .await
        .expect("suspends");
    // Naming a unit the activity service has not seen yet makes it catch up with the
    // registry, suspension included.
    let fresh = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    list(
        &app,
        &admin,
        pb::ListActivitiesRequest {
            org_unit: fresh.name.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("lists the fresh unit");
    let status = failed(
        try_create(&app, &staff, activity_input(&street.name, 24), "").await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("莲前街道"), "{status:?}");
    assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));

    // Nothing was written.
    assert!(
        list_names(&app, &staff, pb::ListActivitiesRequest::default())
            .await
            .is_empty()
    );
    // The team itself still may.
    create(&app, &staff, activity_input(&team.name, 24)).await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Bad input.

async fn bad_input_names_every_field(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let project = create_project(&app, &staff, project_input(&team.name, -48, 10 * 24)).await;
    let others_project =
        create_project(&app, &admin, project_input(&other.name, -48, 10 * 24)).await;
    let street = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "莲前街道")
        .await;
    let street_project =
        create_project(&app, &admin, project_input(&street.name, -48, 10 * 24)).await;
    let existing = create(&app, &staff, activity_input(&team.name, 48)).await;
    let names_before = list_names(&app, &admin, pb::ListActivitiesRequest::default()).await;
    let head_before = log_head(&app).await;

    let with = |change: &dyn Fn(&mut pb::Activity)| {
        let mut activity = activity_input(&team.name, 48);
        change(&mut activity);
        activity
    };
    // 1999-12-31T20:00:00Z and 2300-01-01T00:00:00Z.
    let before_2000 = Some(prost_types::Timestamp {
        seconds: 946_670_400,
        nanos: 0,
    });
    let after_2200 = Some(prost_types::Timestamp {
        seconds: 10_413_792_000,
        nanos: 0,
    });
    let cases: Vec<(&str, pb::Activity, Vec<&str>)> = vec![
        (
            "no display name",
            with(&|activity| activity.display_name.clear()),
            vec!["activity.display_name"],
        ),
        (
            "a blank display name",
            with(&|activity| activity.display_name = "   ".to_string()),
            vec!["activity.display_name"],
        ),
        (
            "a display name too long",
            with(&|activity| activity.display_name = "长".repeat(101)),
            vec!["activity.display_name"],
        ),
        (
            "no service theme",
            with(&|activity| activity.service_theme = 0),
            vec!["activity.service_theme"],
        ),
        (
            "an unknown service theme",
            with(&|activity| activity.service_theme = 999),
            vec!["activity.service_theme"],
        ),
        (
            "no risk level",
            with(&|activity| activity.risk_level = 0),
            vec!["activity.risk_level"],
        ),
        (
            "no site",
            with(&|activity| activity.site = None),
            vec!["activity.site"],
        ),
        (
            "no site kind",
            with(&|activity| activity.site.as_mut().expect("site").kind = 0),
            vec!["activity.site.kind"],
        ),
        (
            "no site address",
            with(&|activity| activity.site.as_mut().expect("site").address.clear()),
            vec!["activity.site.address"],
        ),
        (
            "an end at the start",
            with(&|activity| activity.end_time = activity.start_time),
            vec!["activity.end_time"],
        ),
        (
            "an end before the start",
            with(&|activity| activity.end_time = in_hours(47)),
            vec!["activity.end_time"],
        ),
        (
            "longer than 31 days",
            with(&|activity| activity.end_time = in_hours(48 + 31 * 24 + 1)),
            vec!["activity.end_time"],
        ),
        (
            "no start time",
            with(&|activity| activity.start_time = None),
            vec!["activity.start_time"],
        ),
        (
            "a start before 2000",
            with(&|activity| activity.start_time = before_2000),
            vec!["activity.start_time"],
        ),
        (
            "times after 2200",
            with(&|activity| {
                activity.start_time = after_2200;
                activity.end_time = after_2200.map(|time| prost_types::Timestamp {
                    seconds: time.seconds + 3600,
                    nanos: 0,
                });
            }),
            vec!["activity.start_time", "activity.end_time"],
        ),
        (
            "a fence latitude of 91",
            with(&|activity| fence(activity).latitude = 91.0),
            vec!["activity.site.check_in_fence.latitude"],
        ),
        (
            "a fence longitude of -181",
            with(&|activity| fence(activity).longitude = -181.0),
            vec!["activity.site.check_in_fence.longitude"],
        ),
        (
            "a fence radius of 5",
            with(&|activity| fence(activity).radius_meters = 5),
            vec!["activity.site.check_in_fence.radius_meters"],
        ),
        (
            "two positions with one role",
            with(&|activity| {
                activity.positions = vec![position("陪伴员", 2), position(" 陪伴员 ", 3)]
            }),
            vec!["activity.positions[1].role"],
        ),
        (
            "a position without a role",
            with(&|activity| activity.positions[0].role.clear()),
            vec!["activity.positions[0].role"],
        ),
        (
            "a headcount of 0",
            with(&|activity| activity.positions[0].headcount = 0),
            vec!["activity.positions[0].headcount"],
        ),
        (
            "a minimum age of 130",
            with(&|activity| activity.positions[0].minimum_age = 130),
            vec!["activity.positions[0].minimum_age"],
        ),
        (
            "an empty skill",
            with(&|activity| activity.positions[0].required_skills = vec![String::new()]),
            vec!["activity.positions[0].required_skills[0]"],
        ),
        (
            "an unknown target group",
            with(&|activity| activity.target_groups = vec![0]),
            vec!["activity.target_groups[0]"],
        ),
        (
            "several bad fields",
            with(&|activity| {
                activity.display_name.clear();
                activity.risk_level = 0;
                activity.site.as_mut().expect("site").kind = 0;
                fence(activity).latitude = 91.0;
                activity.positions[0].headcount = 0;
            }),
            vec![
                "activity.display_name",
                "activity.risk_level",
                "activity.site.kind",
                "activity.site.check_in_fence.latitude",
                "activity.positions[0].headcount",
            ],
        ),
        (
            "several bad fields and an end before the start",
            with(&|activity| {
                activity.display_name.clear();
                activity.end_time = in_hours(47);
            }),
            vec!["activity.display_name", "activity.end_time"],
        ),
        (
            "outside the project's period",
            with(&|activity| {
                activity.project = project.name.clone();
                activity.start_time = in_hours(20 * 24);
                activity.end_time = in_hours(20 * 24 + 3);
            }),
            vec!["activity.start_time"],
        ),
        (
            "ending after the project",
            with(&|activity| {
                activity.project = project.name.clone();
                activity.start_time = in_hours(9 * 24);
                activity.end_time = in_hours(12 * 24);
            }),
            vec!["activity.start_time"],
        ),
        (
            "51 positions",
            with(&|activity| {
                activity.positions = (0..51)
                    .map(|index| position(&format!("岗位{index}"), 1))
                    .collect()
            }),
            vec!["activity.positions"],
        ),
        (
            "a malformed org unit",
            with(&|activity| activity.org_unit = "思明区".to_string()),
            vec!["activity.org_unit"],
        ),
        (
            "an org unit that is not a UUID",
            with(&|activity| activity.org_unit = "orgUnits/siming".to_string()),
            vec!["activity.org_unit"],
        ),
        (
            "a malformed project",
            with(&|activity| activity.project = "projects/1".to_string()),
            vec!["activity.project"],
        ),
        (
            "a project named as an activity",
            with(&|activity| activity.project = existing.name.clone()),
            vec!["activity.project"],
        ),
    ];
    for (case, activity, fields) in cases {
        let result = try_create(&app, &staff, activity, "").await;
        assert!(result.is_err(), "{case}: accepted");
        assert_invalid(result, &fields);
    }

    // A project of another branch of the tree, even for someone who sees both.
    let mut foreign = activity_input(&team.name, 48);
    foreign.project = others_project.name.clone();
    assert_invalid(
        try_create(&app, &admin, foreign, "").await,
        &["activity.project"],
    );
    // A project of a unit below the activity's is another branch too.
    let mut upward = activity_input(&team.name, 48);
    upward.project = street_project.name.clone();
    assert_invalid(
        try_create(&app, &staff, upward, "").await,
        &["activity.project"],
    );

    // No activity at all.
    assert_invalid(
        app.activities(&staff)
            .create_activity(pb::CreateActivityRequest {
                activity: None,
                request_id: String::new(),
            })
            .await,
        &["activity"],
    );
    // A request id that is not a UUID.
    assert_invalid(
        try_create(&app, &staff, activity_input(&team.name, 48), "retry-1").await,
        &["request_id"],
    );
    // A refused request does not use up its request id.
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut refused = activity_input(&team.name, 48);
    refused.display_name.clear();
    assert_invalid(
        try_create(&app, &staff, refused, &request_id).await,
        &["activity.display_name"],
    );
    let mut refused_later = activity_input(&team.name, 48);
    refused_later.project = project.name.clone();
    refused_later.start_time = in_hours(20 * 24);
    refused_later.end_time = in_hours(20 * 24 + 3);
    assert_invalid(
        try_create(&app, &staff, refused_later, &request_id).await,
        &["activity.start_time"],
    );

    // A reason too long.
    assert_invalid(
        cancel(&app, &staff, &existing.name, &"因".repeat(501)).await,
        &["reason"],
    );

    // Names elsewhere.
    for name in [
        "",
        "activities/abc",
        "activities",
        &random_name("orgUnits"),
        "activities/ 0",
    ] {
        assert_invalid(get(&app, &staff, name).await, &["name"]);
        assert_invalid(publish(&app, &staff, name).await, &["name"]);
        assert_invalid(start(&app, &staff, name).await, &["name"]);
        assert_invalid(complete(&app, &staff, name).await, &["name"]);
        assert_invalid(cancel(&app, &staff, name, "原因").await, &["name"]);
        assert_invalid(
            update(
                &app,
                &staff,
                pb::Activity {
                    name: name.to_string(),
                    display_name: "改名".to_string(),
                    ..Default::default()
                },
                &["display_name"],
                0,
            )
            .await,
            &["activity.name"],
        );
    }
    assert_invalid(
        list(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                org_unit: "思明区".to_string(),
                ..Default::default()
            },
        )
        .await,
        &["org_unit"],
    );
    assert_invalid(
        list(
            &app,
            &staff,
            pb::ListActivitiesRequest {
                project: existing.name.clone(),
                ..Default::default()
            },
        )
        .await,
        &["project"],
    );
    // Bad list parameters.
    for (request, field) in [
        (
            pb::ListActivitiesRequest {
                page_size: 501,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListActivitiesRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListActivitiesRequest {
                page_token: "garbage".to_string(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::ListActivitiesRequest {
                state: 99,
                ..Default::default()
            },
            "state",
        ),
        (
            pb::ListActivitiesRequest {
                start_after: before_2000,
                ..Default::default()
            },
            "start_after",
        ),
    ] {
        assert_invalid(list(&app, &staff, request).await, &[field]);
    }
    // 500 is allowed.
    list(
        &app,
        &staff,
        pb::ListActivitiesRequest {
            page_size: 500,
            ..Default::default()
        },
    )
    .await
    .expect("500 a page");

    // Updates: an empty or missing mask, bad values, several at once.
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: existing.name.clone(),
                display_name: "改名".to_string(),
                ..Default::default()
            },
            &[],
            0,
        )
        .await,
        &["update_mask"],
    );
    assert_invalid(
        app.activities(&staff)
            .update_activity(pb::UpdateActivityRequest {
                activity: Some(pb::Activity {
                    name: existing.name.clone(),
                    ..Default::default()
                }),
                update_mask: None,
                expected_version: 0,
            })
            .await,
        &["update_mask"],
    );
    assert_invalid(
        app.activities(&staff)
            .update_activity(pb::UpdateActivityRequest {
                activity: None,
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".to_string()],
                }),
                expected_version: 0,
            })
            .await,
        &["activity"],
    );
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: existing.name.clone(),
                positions: vec![position("陪伴员", 0), position("陪伴员", 1)],
                site: None,
                risk_level: 0,
                ..Default::default()
            },
            &["display_name", "positions", "site", "risk_level"],
            0,
        )
        .await,
        &[
            "activity.display_name",
            "activity.positions[0].headcount",
            "activity.positions[1].role",
            "activity.site",
            "activity.risk_level",
        ],
    );
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: existing.name.clone(),
                end_time: in_hours(40),
                ..Default::default()
            },
            &["end_time"],
            0,
        )
        .await,
        &["activity.end_time"],
    );
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: existing.name.clone(),
                end_time: in_hours(48 + 32 * 24),
                ..Default::default()
            },
            &["end_time"],
            0,
        )
        .await,
        &["activity.end_time"],
    );

    // History parameters.
    assert_invalid(
        app.activity_records(&staff)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: "volunteers/abc".to_string(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        &["resource"],
    );
    assert_invalid(
        app.activity_records(&staff)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: existing.name.clone(),
                page_size: 501,
                page_token: String::new(),
            })
            .await,
        &["page_size"],
    );

    // Nothing was written by any refusal.
    assert_eq!(
        list_names(&app, &admin, pb::ListActivitiesRequest::default()).await,
        names_before
    );
    assert_eq!(log_head(&app).await, head_before);
    assert_eq!(
        get(&app, &staff, &existing.name).await.expect("gets"),
        existing
    );

    // The refused request id is still free.
    let created = try_create(&app, &staff, activity_input(&team.name, 48), &request_id)
        .await
        .expect("creates with the request id a refusal did not use");
    assert_eq!(created.display_name, "社区空巢老人探访");
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Authorization.

/// Both refused with NOT_FOUND, and alike but for the names.
#[track_caller]
fn assert_hidden<T: std::fmt::Debug>(
    theirs: Result<T, Status>,
    unknown: Result<T, Status>,
    their_name: &str,
    unknown_name: &str,
) {
    let theirs = failed(theirs, Code::NotFound);
    let unknown = failed(unknown, Code::NotFound);
    assert_eq!(
        theirs.message().replace(their_name, "X"),
        unknown.message().replace(unknown_name, "X"),
        "{theirs:?} / {unknown:?}"
    );
    assert_eq!(
        chinese_message(&theirs).map(|message| message.replace(their_name, "X")),
        chinese_message(&unknown).map(|message| message.replace(unknown_name, "X")),
    );
    assert_eq!(violated_fields(&theirs), violated_fields(&unknown));
}

async fn other_districts_see_nothing(app: TestApp) {
    let admin = app.admin();
    let siming = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let huli = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let ours = app.token(&siming.name, &[Role::Staff]);
    let our_admin = app.token(&siming.name, &[Role::Admin]);
    let theirs_token = app.token(&huli.name, &[Role::Staff]);
    let theirs = create(&app, &theirs_token, activity_input(&huli.name, 48)).await;
    let their_project =
        create_project(&app, &theirs_token, project_input(&huli.name, -48, 30 * 24)).await;
    let unknown = random_name("activities");
    let unknown_unit = random_name("orgUnits");
    let unknown_project = random_name("projects");

    for token in [&ours, &our_admin] {
        let (their, other) = (theirs.name.as_str(), unknown.as_str());
        assert_hidden(
            get(&app, token, their).await,
            get(&app, token, other).await,
            their,
            other,
        );
        let renamed = |name: &str| pb::Activity {
            name: name.to_string(),
            display_name: "越权修改".to_string(),
            ..Default::default()
        };
        assert_hidden(
            update(&app, token, renamed(their), &["display_name"], 0).await,
            update(&app, token, renamed(other), &["display_name"], 0).await,
            their,
            other,
        );
        assert_hidden(
            publish(&app, token, their).await,
            publish(&app, token, other).await,
            their,
            other,
        );
        assert_hidden(
            start(&app, token, their).await,
            start(&app, token, other).await,
            their,
            other,
        );
        assert_hidden(
            complete(&app, token, their).await,
            complete(&app, token, other).await,
            their,
            other,
        );
        assert_hidden(
            cancel(&app, token, their, "越权取消").await,
            cancel(&app, token, other, "越权取消").await,
            their,
            other,
        );
        assert_hidden(
            history(&app, token, their).await,
            history(&app, token, other).await,
            their,
            other,
        );
        // Listing their unit or their project.
        assert_hidden(
            list(
                &app,
                token,
                pb::ListActivitiesRequest {
                    org_unit: huli.name.clone(),
                    ..Default::default()
                },
            )
            .await,
            list(
                &app,
                token,
                pb::ListActivitiesRequest {
                    org_unit: unknown_unit.clone(),
                    ..Default::default()
                },
            )
            .await,
            &huli.name,
            &unknown_unit,
        );
        assert_hidden(
            list(
                &app,
                token,
                pb::ListActivitiesRequest {
                    project: their_project.name.clone(),
                    ..Default::default()
                },
            )
            .await,
            list(
                &app,
                token,
                pb::ListActivitiesRequest {
                    project: unknown_project.clone(),
                    ..Default::default()
                },
            )
            .await,
            &their_project.name,
            &unknown_project,
        );
        // Creating for their unit or within their project.
        assert_hidden(
            try_create(&app, token, activity_input(&huli.name, 48), "").await,
            try_create(&app, token, activity_input(&unknown_unit, 48), "").await,
            &huli.name,
            &unknown_unit,
        );
        let mut in_their_project = activity_input(&siming.name, 48);
        in_their_project.project = their_project.name.clone();
        let mut in_unknown_project = activity_input(&siming.name, 48);
        in_unknown_project.project = unknown_project.clone();
        assert_hidden(
            try_create(&app, token, in_their_project, "").await,
            try_create(&app, token, in_unknown_project, "").await,
            &their_project.name,
            &unknown_project,
        );
        // Their activity is not in our listings.
        assert!(
            list_names(&app, token, pb::ListActivitiesRequest::default())
                .await
                .is_empty()
        );
    }

    // Nothing of theirs changed.
    assert_eq!(
        get(&app, &theirs_token, &theirs.name).await.expect("gets"),
        theirs
    );
    assert_eq!(
        history(&app, &theirs_token, &theirs.name)
            .await
            .expect("history")
            .len(),
        1
    );
    assert_eq!(
        list_names(&app, &theirs_token, pb::ListActivitiesRequest::default()).await,
        vec![theirs.name.clone()]
    );
    app.stop().await;
}

async fn roles_limit_functions(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let street = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "莲前街道")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;

    // A team leader manages its own team's activities and those of the units below.
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let mine = create(&app, &leader, activity_input(&team.name, 48)).await;
    let mine = update(
        &app,
        &leader,
        pb::Activity {
            name: mine.name.clone(),
            display_name: "队长改的名字".to_string(),
            ..Default::default()
        },
        &["display_name"],
        1,
    )
    .await
    .expect("the leader updates");
    let mine = publish(&app, &leader, &mine.name)
        .await
        .expect("the leader publishes");
    let below = create(&app, &leader, activity_input(&street.name, 48)).await;
    assert_eq!(
        cancel(&app, &leader, &below.name, "人手不足")
            .await
            .expect("the leader cancels below")
            .state,
        pb::ActivityState::Cancelled as i32
    );
    // Another team's leader and the leader of a unit below see none of it.
    for token in [
        app.token(&other.name, &[Role::TeamLeader]),
        app.token(&street.name, &[Role::TeamLeader]),
    ] {
        failed(get(&app, &token, &mine.name).await, Code::NotFound);
        failed(
            cancel(&app, &token, &mine.name, "越权").await,
            Code::NotFound,
        );
        failed(
            try_create(&app, &token, activity_input(&team.name, 48), "").await,
            Code::NotFound,
        );
    }
    // The street's leader manages the street's own.
    let street_leader = app.token(&street.name, &[Role::TeamLeader]);
    let streets = create(&app, &street_leader, activity_input(&street.name, 72)).await;
    publish(&app, &street_leader, &streets.name)
        .await
        .expect("the street's leader publishes");

    // Viewers and volunteers read but do not manage.
    let readers = [
        app.token(&team.name, &[Role::Viewer]),
        app.volunteer_token(&team.name, &random_name("volunteers")),
    ];
    for (index, token) in readers.iter().enumerate() {
        assert_eq!(get(&app, token, &mine.name).await.expect("reads"), mine);
        let names = list_names(&app, token, pb::ListActivitiesRequest::default()).await;
        assert_eq!(
            names,
            [mine.name.clone(), below.name.clone(), streets.name.clone()]
        );
        let denied = [
            try_create(&app, token, activity_input(&team.name, 48), "").await,
            publish(&app, token, &mine.name).await,
            start(&app, token, &mine.name).await,
            complete(&app, token, &mine.name).await,
            cancel(&app, token, &mine.name, "无权取消").await,
            update(
                &app,
                token,
                pb::Activity {
                    name: mine.name.clone(),
                    display_name: "无权修改".to_string(),
                    ..Default::default()
                },
                &["display_name"],
                0,
            )
            .await,
        ];
        for result in denied {
            let status = failed(result, Code::PermissionDenied);
            assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
        }
        // The viewer reads the history, volunteers do not.
        let records = history(&app, token, &mine.name).await;
        if index == 0 {
            assert_eq!(records.expect("the viewer reads history").len(), 3);
        } else {
            failed(records, Code::PermissionDenied);
        }
    }

    // The sync role reads change logs only.
    let sync = app.token(&app.root, &[Role::Sync]);
    failed(get(&app, &sync, &mine.name).await, Code::PermissionDenied);
    failed(
        list(&app, &sync, pb::ListActivitiesRequest::default()).await,
        Code::PermissionDenied,
    );
    failed(
        try_create(&app, &sync, activity_input(&team.name, 48), "").await,
        Code::PermissionDenied,
    );
    failed(
        update(
            &app,
            &sync,
            pb::Activity {
                name: mine.name.clone(),
                display_name: "同步改名".to_string(),
                ..Default::default()
            },
            &["display_name"],
            0,
        )
        .await,
        Code::PermissionDenied,
    );
    failed(
        publish(&app, &sync, &mine.name).await,
        Code::PermissionDenied,
    );
    failed(start(&app, &sync, &mine.name).await, Code::PermissionDenied);
    failed(
        complete(&app, &sync, &mine.name).await,
        Code::PermissionDenied,
    );
    failed(
        cancel(&app, &sync, &mine.name, "同步取消").await,
        Code::PermissionDenied,
    );
    failed(
        history(&app, &sync, &mine.name).await,
        Code::PermissionDenied,
    );

    // No token, or a forged one.
    for token in ["", "not-a-token"] {
        failed(get(&app, token, &mine.name).await, Code::Unauthenticated);
        failed(
            list(&app, token, pb::ListActivitiesRequest::default()).await,
            Code::Unauthenticated,
        );
        failed(
            try_create(&app, token, activity_input(&team.name, 48), "").await,
            Code::Unauthenticated,
        );
        failed(
            update(
                &app,
                token,
                pb::Activity {
                    name: mine.name.clone(),
                    display_name: "匿名改名".to_string(),
                    ..Default::default()
                },
                &["display_name"],
                0,
            )
            .await,
            Code::Unauthenticated,
        );
        failed(
            publish(&app, token, &mine.name).await,
            Code::Unauthenticated,
        );
        failed(start(&app, token, &mine.name).await, Code::Unauthenticated);
        failed(
            complete(&app, token, &mine.name).await,
            Code::Unauthenticated,
        );
        failed(
            cancel(&app, token, &mine.name, "匿名取消").await,
            Code::Unauthenticated,
        );
        failed(
            history(&app, token, &mine.name).await,
            Code::Unauthenticated,
        );
    }

    // Nothing the refused callers tried was done.
    assert_eq!(get(&app, &leader, &mine.name).await.expect("gets"), mine);
    assert_eq!(
        list_names(&app, &admin, pb::ListActivitiesRequest::default()).await,
        [mine.name.clone(), below.name.clone(), streets.name.clone()]
    );
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// History and the change log.

async fn change_history_of_an_activity(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = create(&app, &staff, activity_input(&team.name, 48)).await;
    let unrelated = create(&app, &staff, activity_input(&team.name, 72)).await;
    update(
        &app,
        &staff,
        pb::Activity {
            name: created.name.clone(),
            display_name: "图书馆导读".to_string(),
            ..Default::default()
        },
        &["display_name"],
        1,
    )
    .await
    .expect("updates");
    publish(&app, &staff, &created.name)
        .await
        .expect("publishes");
    let admin_of_team = app.token(&team.name, &[Role::Admin]);
    cancel(&app, &admin_of_team, &created.name, "暴雨预警，活动取消")
        .await
        .expect("cancels");

    let records = history(&app, &staff, &created.name).await.expect("history");
    let operations: Vec<i32> = records.iter().map(|record| record.operation).collect();
    assert_eq!(
        operations,
        [
            common::ChangeOperation::Create as i32,
            common::ChangeOperation::Update as i32,
            common::ChangeOperation::Update as i32,
            common::ChangeOperation::Update as i32,
        ]
    );
    for pair in records.windows(2) {
        assert!(pair[0].sequence < pair[1].sequence, "{records:?}");
    }
    for record in &records {
        assert_eq!(record.resource_name, created.name);
        assert!(record.change_time.is_some());
    }
    assert_eq!(records[0].actor, "tester-staff");
    assert_eq!(records[3].actor, "tester-admin");

    let create = &records[0];
    let name = field_change(&create.field_changes, "display_name").expect("display_name");
    assert_eq!(
        (name.old_value.as_str(), name.new_value.as_str()),
        ("", "社区空巢老人探访")
    );
    let state = field_change(&create.field_changes, "state").expect("state");
    assert!(state.new_value.contains("draft"), "{state:?}");
    assert_eq!(create.reason, "");

    let renamed = &records[1];
    let name = field_change(&renamed.field_changes, "display_name").expect("display_name");
    assert_eq!(
        (name.old_value.as_str(), name.new_value.as_str()),
        ("社区空巢老人探访", "图书馆导读")
    );
    assert!(field_change(&renamed.field_changes, "state").is_none());
    assert!(field_change(&renamed.field_changes, "site").is_none());

    let published = &records[2];
    let state = field_change(&published.field_changes, "state").expect("state");
    assert!(state.old_value.contains("draft"), "{state:?}");
    assert!(state.new_value.contains("published"), "{state:?}");
    assert!(field_change(&published.field_changes, "display_name").is_none());

    let cancelled = &records[3];
    let state = field_change(&cancelled.field_changes, "state").expect("state");
    assert!(state.old_value.contains("published"), "{state:?}");
    assert!(state.new_value.contains("cancelled"), "{state:?}");
    assert_eq!(cancelled.reason, "暴雨预警，活动取消");

    // One activity's history is its own.
    let others = history(&app, &staff, &unrelated.name)
        .await
        .expect("history");
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].resource_name, unrelated.name);

    // An unknown activity has no history to show.
    failed(
        history(&app, &staff, &random_name("activities")).await,
        Code::NotFound,
    );
    app.stop().await;
}

async fn change_log_lists_projects_and_activities(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let sync = app.token(&app.root, &[Role::Sync]);
    let start_head = log_head(&app).await;

    let project = create_project(&app, &staff, project_input(&team.name, -48, 30 * 24)).await;
    let mut input = activity_input(&team.name, 48);
    input.project = project.name.clone();
    let activity = create(&app, &staff, input).await;
    update(
        &app,
        &staff,
        pb::Activity {
            name: activity.name.clone(),
            display_name: "图书馆导读".to_string(),
            ..Default::default()
        },
        &["display_name"],
        0,
    )
    .await
    .expect("updates");
    app.projects(&staff)
        .activate_project(pb::ActivateProjectRequest {
            name: project.name.clone(),
        })
        .await
        .expect("activates");
    publish(&app, &staff, &activity.name)
        .await
        .expect("publishes");
    cancel(&app, &staff, &activity.name, "暴雨预警")
        .await
        .expect("cancels");
    let standalone = create(&app, &staff, activity_input(&team.name, 72)).await;

    // Read everything in small pages.
    let mut entries = Vec::new();
    let mut after = 0;
    let head = loop {
        let page = app
            .change_log("activity", &sync)
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence: after,
                page_size: 3,
                ..Default::default()
            })
            .await
            .expect("reads the change log")
            .into_inner();
        assert!(page.changes.len() <= 3);
        if page.changes.is_empty() {
            assert_eq!(page.last_sequence, after);
            break page.head_sequence;
        }
        assert_eq!(
            page.last_sequence,
            page.changes.last().expect("entry").sequence
        );
        after = page.last_sequence;
        entries.extend(page.changes);
    };
    // Contiguous, from the start, in order.
    let sequences: Vec<i64> = entries.iter().map(|entry| entry.sequence).collect();
    let expected: Vec<i64> = (1..=head).collect();
    assert_eq!(sequences, expected);
    assert_eq!(head, start_head + 7);

    let ours: Vec<(&str, &str, i32)> = entries
        .iter()
        .filter(|entry| entry.sequence > start_head)
        .map(|entry| {
            (
                entry.resource_type.as_str(),
                entry.resource_name.as_str(),
                entry.operation,
            )
        })
        .collect();
    let create = common::ChangeOperation::Create as i32;
    let change = common::ChangeOperation::Update as i32;
    assert_eq!(
        ours,
        [
            (PROJECT_TYPE, project.name.as_str(), create),
            (ACTIVITY_TYPE, activity.name.as_str(), create),
            (ACTIVITY_TYPE, activity.name.as_str(), change),
            (PROJECT_TYPE, project.name.as_str(), change),
            (ACTIVITY_TYPE, activity.name.as_str(), change),
            (ACTIVITY_TYPE, activity.name.as_str(), change),
            (ACTIVITY_TYPE, standalone.name.as_str(), create),
        ]
    );
    for entry in entries.iter().filter(|entry| entry.sequence > start_head) {
        assert!(!entry.origin_instance.is_empty());
        assert!(entry.change_time.is_some());
        assert_eq!(entry.actor, "tester-staff");
        let id = entry.resource_name.split('/').nth(1).expect("id");
        assert!(
            record_text(entry).starts_with("Some(") && record_text(entry).contains(id),
            "{entry:?}"
        );
    }
    let published = &entries[(start_head + 4) as usize];
    assert!(
        record_text(published).contains("published"),
        "{published:?}"
    );
    let state = field_change(&published.field_changes, "state").expect("state");
    assert!(state.new_value.contains("published"));

    // Reading from the head gives nothing and stays there.
    let page = app
        .change_log("activity", &sync)
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: head,
            page_size: 0,
            ..Default::default()
        })
        .await
        .expect("reads at the head")
        .into_inner();
    assert!(page.changes.is_empty());
    assert_eq!(page.last_sequence, head);
    assert_eq!(page.head_sequence, head);

    // Only the sync role reads the change log.
    for token in [admin.clone(), staff.clone(), String::new()] {
        let status = app
            .change_log("activity", &token)
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence: 0,
                page_size: 10,
                ..Default::default()
            })
            .await
            .expect_err("not the sync role");
        let code = if token.is_empty() {
            Code::Unauthenticated
        } else {
            Code::PermissionDenied
        };
        assert_eq!(status.code(), code, "{status:?}");
    }
    app.stop().await;
}

async fn district_manages_its_activity_in_a_city_project(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    // The city's project holds the district's activity: a project of a unit above it.
    let project = create_project(&app, &admin, project_input(&app.root, -48, 10 * 24)).await;
    let mut input = activity_input(&team.name, 48);
    input.project = project.name.clone();
    let created = create(&app, &admin, input).await;
    assert_eq!(created.project, project.name);
    assert_eq!(created.org_unit, team.name);

    // The district sees and manages it, though it cannot read the city's project.
    let fetched = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(fetched, created);
    let described = update(
        &app,
        &staff,
        pb::Activity {
            name: created.name.clone(),
            description: "增加健康讲座".to_string(),
            ..Default::default()
        },
        &["description"],
        1,
    )
    .await
    .expect("the district updates its activity");
    assert_eq!(described.description, "增加健康讲座");
    let new_start = in_hours(96);
    let moved = update(
        &app,
        &staff,
        pb::Activity {
            name: created.name.clone(),
            start_time: new_start,
            end_time: in_hours(99),
            ..Default::default()
        },
        &["start_time", "end_time"],
        2,
    )
    .await
    .expect("the district moves it within the project's period");
    assert_eq!(moved.start_time, new_start);
    // Not out of the project's period.
    assert_invalid(
        update(
            &app,
            &staff,
            pb::Activity {
                name: created.name.clone(),
                start_time: in_hours(20 * 24),
                end_time: in_hours(20 * 24 + 3),
                ..Default::default()
            },
            &["start_time", "end_time"],
            3,
        )
        .await,
        &["activity.start_time"],
    );
    let published = publish(&app, &staff, &created.name)
        .await
        .expect("the district publishes it");
    assert_eq!(published.project, project.name);
    assert_eq!(published.metadata.expect("metadata").version, 4);
    app.stop().await;
}

/// 社工+志愿者: a social worker of the project's partner organization may lead an activity of
/// the project; anyone else, or an activity outside a project, is refused by field.
async fn social_workers_lead_within_their_project(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let mut project = project_input(&team.name, 0, 24 * 30);
    project.partner = Some(pb::PartnerOrganization {
        name: "厦门市某社工服务中心".to_string(),
        credit_code: String::new(),
        social_workers: vec![pb::SocialWorker {
            name: "李社工".to_string(),
            phone: String::new(),
            certificate_number: String::new(),
        }],
    });
    let project = create_project(&app, &staff, project).await;
    let mut within = activity_input(&team.name, 48);
    within.project = project.name.clone();
    within.social_worker_leads = vec!["李社工".to_string()];
    let created = app
        .activities(&staff)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(within.clone()),
            request_id: String::new(),
        })
        .await
        .expect("a partner's social worker leads")
        .into_inner()
        .activity
        .expect("activity");
    assert_eq!(created.social_worker_leads, ["李社工"]);

    within.social_worker_leads = vec!["李社工".to_string(), "王某".to_string()];
    let status = app
        .activities(&staff)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(within),
            request_id: String::new(),
        })
        .await
        .expect_err("not a partner's social worker");
    assert_eq!(
        violated_fields(&status),
        ["activity.social_worker_leads[1]"]
    );

    let mut standalone = activity_input(&team.name, 48);
    standalone.social_worker_leads = vec!["李社工".to_string()];
    let status = app
        .activities(&staff)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(standalone),
            request_id: String::new(),
        })
        .await
        .expect_err("no project");
    assert_eq!(violated_fields(&status), ["activity.social_worker_leads"]);
    app.stop().await;
}
