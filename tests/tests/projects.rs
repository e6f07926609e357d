//! Projects of the activity service, with the registry beside it: the activity service
//! checks subtrees against its replica of the registry's org tree.

use std::collections::HashSet;
use std::fmt::Debug;
use std::time::{Duration, Instant};

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{Backend, TestApp, both_backends, chinese_message, record_text, violated_fields};
use prost_types::FieldMask;
use tonic::{Code, Status};

both_backends!(
    project_lifecycle_in_a_new_team,
    create_and_get_with_every_field,
    request_id_makes_create_retries_safe,
    concurrent_retries_create_one_project,
    retry_after_the_unit_was_suspended,
    list_projects_by_subtree_filters_and_pages,
    projects_and_activities_sort_by_field,
    update_project_fields_by_mask,
    status_changes_follow_the_lifecycle,
    bad_input_names_the_field_and_writes_nothing,
    bad_updates_and_lists_name_the_field,
    new_and_suspended_units_via_the_replica,
    moving_a_sub_team_moves_its_projects,
    other_districts_see_nothing,
    roles_limit_what_callers_may_do,
    history_lists_every_change_masked,
    change_log_is_contiguous_and_masked,
);

fn date(year: i32, month: i32, day: i32) -> Option<common::Date> {
    Some(common::Date { year, month, day })
}

fn project_input(org_unit: &str) -> pb::Project {
    pb::Project {
        org_unit: org_unit.to_string(),
        display_name: "空巢老人关爱项目".to_string(),
        description: "政府购买服务".to_string(),
        service_themes: vec![common::ServiceTheme::Care as i32],
        service_fields: vec![common::ServiceField::ElderlyCare as i32],
        target_groups: vec![common::TargetGroup::ElderlyLivingAlone as i32],
        start_date: date(2027, 1, 1),
        end_date: date(2027, 12, 31),
        funding_source: pb::FundingSource::GovernmentPurchase as i32,
        budget_fen: 12_000_000,
        partner: Some(pb::PartnerOrganization {
            name: "厦门市某社工服务中心".to_string(),
            credit_code: String::new(),
            social_workers: vec![pb::SocialWorker {
                name: "李社工".to_string(),
                phone: "13812345678".to_string(),
                certificate_number: "SG-001".to_string(),
            }],
        }),
        ..Default::default()
    }
}

async fn project_lifecycle_in_a_new_team(app: TestApp) {
    let admin = app.admin();
    // A team created a moment ago is already known to the activity service.
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = app
        .projects(&staff)
        .create_project(pb::CreateProjectRequest {
            project: Some(project_input(&team.name)),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .project
        .expect("project");
    assert_eq!(created.status, pb::ProjectStatus::Planning as i32);
    assert_eq!(created.org_unit, team.name);
    let worker = &created.partner.as_ref().expect("partner").social_workers[0];
    assert_eq!(worker.phone, "138****5678");

    let activated = app
        .projects(&staff)
        .activate_project(pb::ActivateProjectRequest {
            name: created.name.clone(),
        })
        .await
        .expect("activates")
        .into_inner()
        .project
        .expect("project");
    assert_eq!(activated.status, pb::ProjectStatus::Active as i32);

    // Another district sees nothing.
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let outsider = app.token(&other.name, &[Role::Staff]);
    let status = app
        .projects(&outsider)
        .get_project(pb::GetProjectRequest {
            name: created.name.clone(),
        })
        .await
        .expect_err("other district");
    assert_eq!(status.code(), Code::NotFound);

    // Bad input names the field.
    let mut bad = project_input(&team.name);
    bad.end_date = date(2026, 1, 1);
    let status = app
        .projects(&staff)
        .create_project(pb::CreateProjectRequest {
            project: Some(bad),
            request_id: String::new(),
        })
        .await
        .expect_err("end before start");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["project.end_date"]);
    app.stop().await;
}

/// How long the background poll of the registry's change log may take to show a change to a
/// unit the replica already knows (it polls every 2 s).
const FEED_WAIT: Duration = Duration::from_secs(6);

/// The plaintext phones used in these tests; they must never leave the service unmasked.
const PLAIN_PHONES: [&str; 3] = ["13812345678", "13800005678", "13900001111"];

fn field_mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|path| path.to_string()).collect(),
    })
}

fn random_project_name() -> String {
    format!("projects/{}", uuid::Uuid::new_v4())
}

/// The failure of `result`, which must carry `code`.
fn expect_code<T: Debug>(result: Result<T, Status>, code: Code, what: &str) -> Status {
    match result {
        Ok(value) => panic!("{what}: expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{what}: {status:?}");
            status
        }
    }
}

/// INVALID_ARGUMENT naming exactly `fields`, with a Chinese message.
fn expect_invalid<T: Debug>(result: Result<T, Status>, fields: &[&str], what: &str) {
    let status = expect_code(result, Code::InvalidArgument, what);
    assert_eq!(violated_fields(&status), fields, "{what}: {status:?}");
    let message = chinese_message(&status).unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "{what}: no Chinese message in {status:?}"
    );
}

async fn create(
    app: &TestApp,
    token: &str,
    project: pb::Project,
    request_id: &str,
) -> Result<pb::Project, Status> {
    app.projects(token)
        .create_project(pb::CreateProjectRequest {
            project: Some(project),
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

/// A valid project named `display_name` of `org_unit`, created as `token`.
async fn new_project(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    display_name: &str,
) -> pb::Project {
    let mut input = project_input(org_unit);
    input.display_name = display_name.to_string();
    create(app, token, input, "")
        .await
        .unwrap_or_else(|status| panic!("creating {display_name}: {status:?}"))
}

async fn get(app: &TestApp, token: &str, name: &str) -> Result<pb::Project, Status> {
    app.projects(token)
        .get_project(pb::GetProjectRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

async fn update(
    app: &TestApp,
    token: &str,
    project: pb::Project,
    paths: &[&str],
    expected_version: i64,
) -> Result<pb::Project, Status> {
    app.projects(token)
        .update_project(pb::UpdateProjectRequest {
            project: Some(project),
            update_mask: field_mask(paths),
            expected_version,
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

async fn activate(app: &TestApp, token: &str, name: &str) -> Result<pb::Project, Status> {
    app.projects(token)
        .activate_project(pb::ActivateProjectRequest {
            name: name.to_string(),
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

async fn close(
    app: &TestApp,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::Project, Status> {
    app.projects(token)
        .close_project(pb::CloseProjectRequest {
            name: name.to_string(),
            reason: reason.to_string(),
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

async fn cancel(
    app: &TestApp,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::Project, Status> {
    app.projects(token)
        .cancel_project(pb::CancelProjectRequest {
            name: name.to_string(),
            reason: reason.to_string(),
        })
        .await
        .map(|response| response.into_inner().project.expect("project in response"))
}

async fn list_page(
    app: &TestApp,
    token: &str,
    request: pb::ListProjectsRequest,
) -> Result<pb::ListProjectsResponse, Status> {
    app.projects(token)
        .list_projects(request)
        .await
        .map(tonic::Response::into_inner)
}

/// Every project `request` lists, page by page.
async fn list_all(
    app: &TestApp,
    token: &str,
    request: pb::ListProjectsRequest,
) -> Vec<pb::Project> {
    let mut projects = Vec::new();
    let mut page_token = String::new();
    for _ in 0..100 {
        let page = list_page(
            app,
            token,
            pb::ListProjectsRequest {
                page_token: page_token.clone(),
                ..request.clone()
            },
        )
        .await
        .unwrap_or_else(|status| panic!("listing {request:?}: {status:?}"));
        projects.extend(page.projects);
        if page.next_page_token.is_empty() {
            return projects;
        }
        page_token = page.next_page_token;
    }
    panic!("listing {request:?} never ended");
}

/// The names `request` lists.
async fn listed(app: &TestApp, token: &str, request: pb::ListProjectsRequest) -> Vec<String> {
    list_all(app, token, request)
        .await
        .into_iter()
        .map(|project| project.name)
        .collect()
}

fn in_unit(org_unit: &str) -> pb::ListProjectsRequest {
    pb::ListProjectsRequest {
        org_unit: org_unit.to_string(),
        ..Default::default()
    }
}

async fn history(
    app: &TestApp,
    token: &str,
    name: &str,
) -> Result<Vec<common::ChangeRecord>, Status> {
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .activity_records(token)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: name.to_string(),
                page_size: 2,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        assert!(page.change_records.len() <= 2, "page_size is honoured");
        records.extend(page.change_records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        page_token = page.next_page_token;
    }
}

fn sync_token(app: &TestApp) -> String {
    app.token(&app.root, &[Role::Sync])
}

/// The whole change log of the activity service.
async fn change_log(app: &TestApp) -> Vec<sync_pb::Change> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .change_log("activity", &sync_token(app))
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence: after,
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("reads the change log")
            .into_inner();
        if page.changes.is_empty() {
            assert_eq!(page.last_sequence, after);
            return entries;
        }
        after = page.last_sequence;
        entries.extend(page.changes);
    }
}

/// The highest sequence of the activity service's change log.
async fn log_head(app: &TestApp) -> i64 {
    app.change_log("activity", &sync_token(app))
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

fn assert_no_plain_phone(text: &str, what: &str) {
    for phone in PLAIN_PHONES {
        assert!(!text.contains(phone), "{what} shows {phone}: {text}");
    }
}

async fn suspend(app: &TestApp, unit: &str) {
    app.org_units(&app.admin())
        .suspend_org_unit(registry::SuspendOrgUnitRequest {
            name: unit.to_string(),
            reason: "整顿".to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("suspending {unit}: {status:?}"));
}

async fn create_and_get_with_every_field(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let input = pb::Project {
        // Output-only fields a caller sends are ignored.
        name: random_project_name(),
        status: pb::ProjectStatus::Closed as i32,
        org_unit: team.name.clone(),
        display_name: "  巾帼暖心·空巢老人关爱项目  ".to_string(),
        description: "政府购买服务，为辖区空巢老人提供上门探访。".to_string(),
        service_themes: vec![
            common::ServiceTheme::Care as i32,
            common::ServiceTheme::Rights as i32,
        ],
        service_fields: vec![
            common::ServiceField::ElderlyCare as i32,
            common::ServiceField::MedicalAid as i32,
        ],
        target_groups: vec![
            common::TargetGroup::ElderlyLivingAlone as i32,
            common::TargetGroup::CommunityResidents as i32,
        ],
        start_date: date(2027, 2, 1),
        end_date: date(2028, 1, 31),
        funding_source: pb::FundingSource::GovernmentPurchase as i32,
        budget_fen: 12_345_678,
        partner: Some(pb::PartnerOrganization {
            name: "厦门市某社工服务中心".to_string(),
            credit_code: "91350200MA2Y000001".to_string(),
            social_workers: vec![
                pb::SocialWorker {
                    name: "李社工".to_string(),
                    phone: "13812345678".to_string(),
                    certificate_number: "SG-001".to_string(),
                },
                pb::SocialWorker {
                    name: "王社工".to_string(),
                    phone: "138-0000-5678".to_string(),
                    certificate_number: String::new(),
                },
                pb::SocialWorker {
                    name: "张社工".to_string(),
                    phone: String::new(),
                    certificate_number: String::new(),
                },
            ],
        }),
        metadata: None,
    };
    let created = create(&app, &staff, input.clone(), "")
        .await
        .expect("creates with every field");
    let id = created.name.strip_prefix("projects/").expect("projects/…");
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{}", created.name);
    assert_ne!(created.name, input.name, "a sent name is ignored");
    assert_eq!(created.org_unit, team.name);
    assert_eq!(created.display_name, "巾帼暖心·空巢老人关爱项目", "trimmed");
    assert_eq!(created.description, input.description);
    assert_eq!(created.service_themes, input.service_themes);
    assert_eq!(created.service_fields, input.service_fields);
    assert_eq!(created.target_groups, input.target_groups);
    assert_eq!(created.start_date, input.start_date);
    assert_eq!(created.end_date, input.end_date);
    assert_eq!(created.funding_source, input.funding_source);
    assert_eq!(created.budget_fen, 12_345_678);
    assert_eq!(
        created.status,
        pb::ProjectStatus::Planning as i32,
        "a sent status is ignored"
    );
    let partner = created.partner.clone().expect("partner");
    assert_eq!(partner.name, "厦门市某社工服务中心");
    assert_eq!(partner.credit_code, "91350200MA2Y000001");
    let workers: Vec<(&str, &str, &str)> = partner
        .social_workers
        .iter()
        .map(|worker| {
            (
                worker.name.as_str(),
                worker.phone.as_str(),
                worker.certificate_number.as_str(),
            )
        })
        .collect();
    assert_eq!(
        workers,
        [
            ("李社工", "138****5678", "SG-001"),
            ("王社工", "138****5678", ""),
            ("张社工", "", ""),
        ]
    );
    let metadata = created.metadata.clone().expect("metadata");
    assert_eq!(metadata.uid, id);
    assert_eq!(metadata.version, 1);
    assert!(!metadata.origin_instance.is_empty());
    assert!(metadata.create_time.is_some());
    assert_eq!(metadata.create_time, metadata.update_time);

    // Read back: the same, phones still masked, for the staff, a viewer above and the admin.
    assert_eq!(
        get(&app, &staff, &created.name).await.expect("gets"),
        created
    );
    let viewer = app.token(&app.root, &[Role::Viewer]);
    assert_eq!(
        get(&app, &viewer, &created.name)
            .await
            .expect("viewer gets"),
        created
    );
    assert_eq!(
        get(&app, &admin, &created.name).await.expect("admin gets"),
        created
    );

    // A project without a partner, budget or tags.
    let bare = create(
        &app,
        &staff,
        pb::Project {
            org_unit: team.name.clone(),
            display_name: "自筹小项目".to_string(),
            start_date: date(2027, 5, 1),
            end_date: date(2027, 5, 1),
            funding_source: pb::FundingSource::SelfFunded as i32,
            ..Default::default()
        },
        "",
    )
    .await
    .expect("creates a bare project (one-day period)");
    assert_eq!(bare.partner, None);
    assert_eq!(bare.budget_fen, 0);
    assert!(bare.service_themes.is_empty());
    // An empty partner message is no partner.
    let mut empty_partner = project_input(&team.name);
    empty_partner.partner = Some(pb::PartnerOrganization::default());
    let created_empty = create(&app, &staff, empty_partner, "")
        .await
        .expect("an empty partner is no partner");
    assert_eq!(created_empty.partner, None);
    assert_eq!(
        listed(&app, &staff, Default::default()).await,
        [created.name, bare.name, created_empty.name]
    );
    app.stop().await;
}

async fn request_id_makes_create_retries_safe(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let request_id = uuid::Uuid::new_v4().to_string();
    let first = create(&app, &staff, project_input(&team.name), &request_id)
        .await
        .expect("creates");
    let head = log_head(&app).await;
    let again = create(&app, &staff, project_input(&team.name), &request_id)
        .await
        .expect("a retry succeeds");
    assert_eq!(again, first, "a retry returns the same project");
    // Even a retry whose body differs returns what the first call made.
    let mut changed = project_input(&team.name);
    changed.display_name = "另一个项目".to_string();
    let third = create(&app, &staff, changed, &request_id)
        .await
        .expect("a changed retry succeeds");
    assert_eq!(third.name, first.name);
    assert_eq!(third.display_name, first.display_name);
    assert_eq!(log_head(&app).await, head, "retries write nothing");
    assert_eq!(
        listed(&app, &staff, Default::default()).await,
        [first.name.as_str()],
        "one project only"
    );

    // A new request id is a new project.
    let other = create(
        &app,
        &staff,
        project_input(&team.name),
        &uuid::Uuid::new_v4().to_string(),
    )
    .await
    .expect("creates another");
    assert_ne!(other.name, first.name);
    // No request id: every call creates.
    let plain1 = create(&app, &staff, project_input(&team.name), "")
        .await
        .expect("creates");
    let plain2 = create(&app, &staff, project_input(&team.name), "")
        .await
        .expect("creates");
    assert_ne!(plain1.name, plain2.name);
    assert_eq!(listed(&app, &staff, Default::default()).await.len(), 4);
    let creates = change_log(&app)
        .await
        .into_iter()
        .filter(|entry| entry.operation == common::ChangeOperation::Create as i32)
        .count();
    assert_eq!(creates, 4, "one CREATE per project");
    app.stop().await;
}

async fn concurrent_retries_create_one_project(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let request_id = uuid::Uuid::new_v4().to_string();
    let attempts = (0..4).map(|_| create(&app, &staff, project_input(&team.name), &request_id));
    let results = futures::future::join_all(attempts).await;
    let names: HashSet<String> = results
        .into_iter()
        .map(|result| result.expect("every concurrent retry succeeds").name)
        .collect();
    assert_eq!(
        names.len(),
        1,
        "every retry answers the same project: {names:?}"
    );
    assert_eq!(
        listed(&app, &staff, Default::default()).await.len(),
        1,
        "one project only"
    );
    assert_eq!(log_head(&app).await, 1);
    app.stop().await;
}

async fn retry_after_the_unit_was_suspended(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let request_id = uuid::Uuid::new_v4().to_string();
    let first = create(&app, &staff, project_input(&team.name), &request_id)
        .await
        .expect("creates");
    suspend(&app, &team.name).await;
    refused_until_the_replica_knows(&app, &staff, &team.name).await;
    // (Until the feed brought the suspension, other calls may have created projects.)
    let existing = listed(&app, &staff, Default::default()).await;
    // The first call succeeded, so its retry answers the same, whatever happened since.
    let again = create(&app, &staff, project_input(&team.name), &request_id)
        .await
        .expect("a retry of a call that succeeded succeeds");
    assert_eq!(again, first);
    // A refused request leaves its id unused: asking again is refused again, not answered
    // with a half-made claim.
    let refused_id = uuid::Uuid::new_v4().to_string();
    for _ in 0..2 {
        expect_code(
            create(&app, &staff, project_input(&team.name), &refused_id).await,
            Code::FailedPrecondition,
            "a new request in a suspended unit",
        );
    }
    assert_eq!(listed(&app, &staff, Default::default()).await, existing);
    app.stop().await;
}

async fn list_projects_by_subtree_filters_and_pages(app: TestApp) {
    use pb::FundingSource::{Federation, GovernmentPurchase, SelfFunded, SocialDonation};
    let admin = app.admin();
    let team_a = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let sub_a = app
        .create_unit(&admin, &team_a.name, registry::Tier::SubTeam, "鹭江街道")
        .await;
    let team_b = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let empty = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "集美区")
        .await;
    let staff_a = app.token(&team_a.name, &[Role::Staff]);
    let staff_sub = app.token(&sub_a.name, &[Role::Staff]);
    let staff_b = app.token(&team_b.name, &[Role::Staff]);
    let plan = [
        (&team_a.name, &staff_a, GovernmentPurchase),
        (&sub_a.name, &staff_sub, Federation),
        (&team_b.name, &staff_b, SocialDonation),
        (&team_a.name, &staff_a, SelfFunded),
        (&sub_a.name, &staff_sub, GovernmentPurchase),
        (&team_b.name, &staff_b, GovernmentPurchase),
        (&team_a.name, &staff_a, Federation),
    ];
    let mut names = Vec::new();
    for (index, (unit, token, funding)) in plan.iter().enumerate() {
        let mut input = project_input(unit);
        input.display_name = format!("项目{index}");
        input.funding_source = *funding as i32;
        names.push(create(&app, token, input, "").await.expect("creates").name);
    }
    let p = |indexes: &[usize]| -> Vec<String> {
        indexes.iter().map(|index| names[*index].clone()).collect()
    };
    activate(&app, &staff_a, &names[0])
        .await
        .expect("activates 0");
    activate(&app, &staff_a, &names[4])
        .await
        .expect("activates 4 (in the sub-team)");
    activate(&app, &staff_b, &names[5])
        .await
        .expect("activates 5");
    cancel(&app, &staff_a, &names[3], "经费未到位")
        .await
        .expect("cancels 3");
    activate(&app, &staff_a, &names[6])
        .await
        .expect("activates 6");
    close(&app, &staff_a, &names[6], "")
        .await
        .expect("closes 6");

    // The caller's subtree by default, oldest first.
    assert_eq!(
        listed(&app, &admin, Default::default()).await,
        p(&[0, 1, 2, 3, 4, 5, 6])
    );
    assert_eq!(
        listed(&app, &staff_a, Default::default()).await,
        p(&[0, 1, 3, 4, 6])
    );
    assert_eq!(
        listed(&app, &staff_sub, Default::default()).await,
        p(&[1, 4])
    );
    assert_eq!(listed(&app, &staff_b, Default::default()).await, p(&[2, 5]));
    assert!(
        listed(
            &app,
            &app.token(&empty.name, &[Role::Staff]),
            Default::default()
        )
        .await
        .is_empty()
    );
    // A sub-unit of the caller's subtree.
    assert_eq!(
        listed(&app, &staff_a, in_unit(&sub_a.name)).await,
        p(&[1, 4])
    );
    assert_eq!(
        listed(&app, &admin, in_unit(&team_a.name)).await,
        p(&[0, 1, 3, 4, 6])
    );
    assert_eq!(
        listed(&app, &staff_a, in_unit(&team_a.name)).await,
        p(&[0, 1, 3, 4, 6])
    );
    // Units outside the subtree, and units that do not exist, are not found alike.
    for (token, unit) in [
        (&staff_sub, team_a.name.clone()),
        (&staff_a, team_b.name.clone()),
        (&staff_a, app.root.clone()),
        (&staff_a, format!("orgUnits/{}", uuid::Uuid::new_v4())),
    ] {
        expect_code(
            list_page(&app, token, in_unit(&unit)).await,
            Code::NotFound,
            &format!("listing {unit}"),
        );
    }

    // Status and funding source filters, alone and together.
    let by_status = |status: pb::ProjectStatus| pb::ListProjectsRequest {
        status: status as i32,
        ..Default::default()
    };
    assert_eq!(
        listed(&app, &admin, by_status(pb::ProjectStatus::Planning)).await,
        p(&[1, 2])
    );
    assert_eq!(
        listed(&app, &admin, by_status(pb::ProjectStatus::Active)).await,
        p(&[0, 4, 5])
    );
    assert_eq!(
        listed(&app, &admin, by_status(pb::ProjectStatus::Closed)).await,
        p(&[6])
    );
    assert_eq!(
        listed(&app, &admin, by_status(pb::ProjectStatus::Cancelled)).await,
        p(&[3])
    );
    let by_funding = |funding: pb::FundingSource| pb::ListProjectsRequest {
        funding_source: funding as i32,
        ..Default::default()
    };
    assert_eq!(
        listed(&app, &admin, by_funding(GovernmentPurchase)).await,
        p(&[0, 4, 5])
    );
    assert_eq!(
        listed(&app, &admin, by_funding(Federation)).await,
        p(&[1, 6])
    );
    assert_eq!(listed(&app, &admin, by_funding(SelfFunded)).await, p(&[3]));
    assert_eq!(
        listed(&app, &staff_a, by_funding(SocialDonation)).await,
        p(&[])
    );
    assert_eq!(
        listed(
            &app,
            &staff_a,
            pb::ListProjectsRequest {
                status: pb::ProjectStatus::Active as i32,
                funding_source: GovernmentPurchase as i32,
                ..Default::default()
            }
        )
        .await,
        p(&[0, 4])
    );
    assert_eq!(
        listed(
            &app,
            &admin,
            pb::ListProjectsRequest {
                org_unit: sub_a.name.clone(),
                status: pb::ProjectStatus::Planning as i32,
                ..Default::default()
            }
        )
        .await,
        p(&[1])
    );

    // Pages of two: every project exactly once, in order.
    let mut pages = Vec::new();
    let mut seen = Vec::new();
    let mut page_token = String::new();
    let mut first_token = String::new();
    loop {
        let page = list_page(
            &app,
            &admin,
            pb::ListProjectsRequest {
                page_size: 2,
                page_token: page_token.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("lists a page");
        pages.push(page.projects.len());
        seen.extend(page.projects.into_iter().map(|project| project.name));
        if page.next_page_token.is_empty() {
            break;
        }
        if first_token.is_empty() {
            first_token = page.next_page_token.clone();
        }
        page_token = page.next_page_token;
        assert!(pages.len() < 10, "pages never end");
    }
    assert_eq!(pages, [2, 2, 2, 1]);
    assert_eq!(seen, p(&[0, 1, 2, 3, 4, 5, 6]));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    // Exactly two at the end leaves no empty extra page behind a token.
    let active_pages = list_page(
        &app,
        &admin,
        pb::ListProjectsRequest {
            status: pb::ProjectStatus::Active as i32,
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .expect("first active page");
    assert_eq!(
        active_pages
            .projects
            .iter()
            .map(|project| project.name.clone())
            .collect::<Vec<_>>(),
        p(&[0, 4])
    );
    let rest = list_page(
        &app,
        &admin,
        pb::ListProjectsRequest {
            status: pb::ProjectStatus::Active as i32,
            page_size: 2,
            page_token: active_pages.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await
    .expect("second active page");
    assert_eq!(rest.projects.len(), 1);
    assert_eq!(rest.projects[0].name, names[5]);
    assert!(rest.next_page_token.is_empty());
    let exact = list_page(
        &app,
        &staff_b,
        pb::ListProjectsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .expect("a full single page");
    assert_eq!(exact.projects.len(), 2);
    assert!(
        exact.next_page_token.is_empty(),
        "no token when nothing follows"
    );

    // Tokens are bound to the filters they were issued for.
    assert!(!first_token.is_empty());
    for (what, request) in [
        ("status", by_status(pb::ProjectStatus::Active)),
        ("funding_source", by_funding(GovernmentPurchase)),
        ("org_unit", in_unit(&team_a.name)),
    ] {
        expect_invalid(
            list_page(
                &app,
                &admin,
                pb::ListProjectsRequest {
                    page_size: 2,
                    page_token: first_token.clone(),
                    ..request
                },
            )
            .await,
            &["page_token"],
            &format!("a token reused with another {what}"),
        );
    }
    expect_invalid(
        list_page(
            &app,
            &admin,
            pb::ListProjectsRequest {
                page_token: "bm90IGEgdG9rZW4".to_string(),
                ..Default::default()
            },
        )
        .await,
        &["page_token"],
        "a made-up token",
    );
    // The same token with the same filters goes on.
    let second = list_page(
        &app,
        &admin,
        pb::ListProjectsRequest {
            page_size: 2,
            page_token: first_token,
            ..Default::default()
        },
    )
    .await
    .expect("the token goes on");
    assert_eq!(
        second
            .projects
            .into_iter()
            .map(|project| project.name)
            .collect::<Vec<_>>(),
        p(&[2, 3])
    );
    app.stop().await;
}

/// The names of `items` in the order of `key`, ties by name (the id), reversed when
/// `descending`: the order a sorted listing gives.
fn in_order<T, K: Ord>(
    items: &[T],
    name: impl Fn(&T) -> String,
    key: impl Fn(&T) -> K,
    descending: bool,
) -> Vec<String> {
    let mut keyed: Vec<(K, String)> = items.iter().map(|item| (key(item), name(item))).collect();
    keyed.sort();
    if descending {
        keyed.reverse();
    }
    keyed.into_iter().map(|(_, name)| name).collect()
}

async fn projects_and_activities_sort_by_field(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let mut projects = Vec::new();
    for (display_name, budget_fen, month) in [
        ("乙项目", 300, 5),
        ("甲项目", 100, 3),
        ("丙项目", 200, 4),
        ("甲项目", 100, 6),
    ] {
        let mut input = project_input(&team.name);
        input.display_name = display_name.to_string();
        input.budget_fen = budget_fen;
        input.start_date = date(2027, month, 1);
        projects.push(
            create(&app, &admin, input, "")
                .await
                .unwrap_or_else(|status| panic!("creating {display_name}: {status:?}")),
        );
    }
    let name = |project: &pb::Project| project.name.clone();
    let start = |project: &pb::Project| {
        let date = project.start_date.unwrap_or_default();
        (date.year, date.month, date.day)
    };
    struct TestCase {
        order_by: &'static str,
        expected: Vec<String>,
    }
    let cases = [
        TestCase {
            order_by: "",
            expected: projects.iter().map(name).collect(),
        },
        TestCase {
            order_by: "display_name",
            expected: in_order(
                &projects,
                name,
                |project| project.display_name.clone(),
                false,
            ),
        },
        TestCase {
            order_by: "display_name desc",
            expected: in_order(
                &projects,
                name,
                |project| project.display_name.clone(),
                true,
            ),
        },
        TestCase {
            order_by: "budget desc",
            expected: in_order(&projects, name, |project| project.budget_fen, true),
        },
        TestCase {
            order_by: "start_date",
            expected: in_order(&projects, name, start, false),
        },
    ];
    for case in &cases {
        let listed = listed(
            &app,
            &leader,
            pb::ListProjectsRequest {
                page_size: 1,
                order_by: case.order_by.to_string(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(listed, case.expected, "order_by {:?}", case.order_by);
    }
    // Code point order: 丙 (U+4E19) before 乙 (U+4E59) before 甲 (U+7532).
    let first = list_page(
        &app,
        &leader,
        pb::ListProjectsRequest {
            page_size: 1,
            order_by: "display_name".to_string(),
            ..Default::default()
        },
    )
    .await
    .expect("first page");
    assert_eq!(first.projects[0].display_name, "丙项目");
    // A token belongs to its order.
    let status = list_page(
        &app,
        &leader,
        pb::ListProjectsRequest {
            page_size: 1,
            order_by: "budget".to_string(),
            page_token: first.next_page_token,
            ..Default::default()
        },
    )
    .await
    .expect_err("token of another order");
    assert_eq!(violated_fields(&status), ["page_token"]);
    for order_by in ["funding_source", "budget upwards", "budget, display_name"] {
        let status = list_page(
            &app,
            &leader,
            pb::ListProjectsRequest {
                order_by: order_by.to_string(),
                ..Default::default()
            },
        )
        .await
        .expect_err("unknown order");
        assert_eq!(violated_fields(&status), ["order_by"], "{order_by:?}");
        assert!(chinese_message(&status).is_some_and(|message| message.contains("排序")));
    }

    let mut activities = Vec::new();
    for (display_name, start_hours) in [("探访空巢老人", 30), ("义诊", 10), ("垃圾分类宣传", 20)]
    {
        activities.push(
            app.create_activity(&leader, &team.name, display_name, start_hours)
                .await,
        );
    }
    let name = |activity: &pb::Activity| activity.name.clone();
    let starts = |activity: &pb::Activity| {
        let time = activity.start_time.unwrap_or_default();
        (time.seconds, time.nanos)
    };
    let cases = [
        TestCase {
            order_by: "start_time",
            expected: in_order(&activities, name, starts, false),
        },
        TestCase {
            order_by: "start_time desc",
            expected: in_order(&activities, name, starts, true),
        },
        TestCase {
            order_by: "display_name",
            expected: in_order(
                &activities,
                name,
                |activity| activity.display_name.clone(),
                false,
            ),
        },
    ];
    for case in &cases {
        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = app
                .activities(&leader)
                .list_activities(pb::ListActivitiesRequest {
                    page_size: 2,
                    page_token,
                    order_by: case.order_by.to_string(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("listing by {:?}: {status:?}", case.order_by))
                .into_inner();
            listed.extend(page.activities.into_iter().map(|activity| activity.name));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(listed, case.expected, "order_by {:?}", case.order_by);
    }
    let status = app
        .activities(&leader)
        .list_activities(pb::ListActivitiesRequest {
            order_by: "state".to_string(),
            ..Default::default()
        })
        .await
        .expect_err("unknown order");
    assert_eq!(violated_fields(&status), ["order_by"]);
    app.stop().await;
}

async fn update_project_fields_by_mask(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = create(&app, &staff, project_input(&team.name), "")
        .await
        .expect("creates");
    let version = |project: &pb::Project| project.metadata.as_ref().expect("metadata").version;
    assert_eq!(version(&created), 1);

    // Only the masked field changes, whatever else the request carries.
    let mut request = project_input(&team.name);
    request.name = created.name.clone();
    request.display_name = "  巾帼关爱行动  ".to_string();
    request.description = "不应生效".to_string();
    request.budget_fen = 1;
    request.partner = None;
    let renamed = update(&app, &staff, request, &["display_name"], 0)
        .await
        .expect("updates the name");
    assert_eq!(renamed.display_name, "巾帼关爱行动");
    assert_eq!(
        pb::Project {
            display_name: created.display_name.clone(),
            metadata: None,
            ..renamed.clone()
        },
        pb::Project {
            metadata: None,
            ..created.clone()
        },
        "nothing else changed"
    );
    assert_eq!(version(&renamed), 2);
    let renamed_metadata = renamed.metadata.clone().expect("metadata");
    assert_eq!(
        renamed_metadata.create_time,
        created.metadata.clone().expect("metadata").create_time
    );

    // Every maskable field at once.
    let all = pb::Project {
        name: created.name.clone(),
        org_unit: String::new(),
        display_name: "巾帼助学项目".to_string(),
        description: "改为助学".to_string(),
        service_themes: vec![common::ServiceTheme::Civility as i32],
        service_fields: vec![
            common::ServiceField::Education as i32,
            common::ServiceField::Orphans as i32,
        ],
        target_groups: vec![common::TargetGroup::SpringBudGirls as i32],
        start_date: date(2027, 3, 1),
        end_date: date(2028, 2, 29),
        funding_source: pb::FundingSource::SocialDonation as i32,
        budget_fen: 0,
        partner: Some(pb::PartnerOrganization {
            name: "某某社会工作事务所".to_string(),
            credit_code: String::new(),
            social_workers: vec![
                pb::SocialWorker {
                    name: "陈社工".to_string(),
                    phone: "13900001111".to_string(),
                    certificate_number: "SG-100".to_string(),
                },
                pb::SocialWorker {
                    name: "林社工".to_string(),
                    phone: String::new(),
                    certificate_number: String::new(),
                },
            ],
        }),
        status: pb::ProjectStatus::Closed as i32,
        metadata: None,
    };
    let updated = update(
        &app,
        &staff,
        all.clone(),
        &[
            "display_name",
            "description",
            "service_themes",
            "service_fields",
            "target_groups",
            "start_date",
            "end_date",
            "funding_source",
            "budget_fen",
            "partner",
        ],
        2,
    )
    .await
    .expect("updates every field");
    assert_eq!(updated.display_name, all.display_name);
    assert_eq!(updated.description, all.description);
    assert_eq!(updated.service_themes, all.service_themes);
    assert_eq!(updated.service_fields, all.service_fields);
    assert_eq!(updated.target_groups, all.target_groups);
    assert_eq!(updated.start_date, all.start_date);
    assert_eq!(updated.end_date, all.end_date);
    assert_eq!(updated.funding_source, all.funding_source);
    assert_eq!(updated.budget_fen, 0);
    let partner = updated.partner.clone().expect("partner");
    assert_eq!(partner.name, "某某社会工作事务所");
    assert_eq!(partner.social_workers.len(), 2);
    assert_eq!(partner.social_workers[0].phone, "139****1111");
    assert_eq!(partner.social_workers[1].phone, "");
    assert_eq!(updated.org_unit, team.name, "the unit never changes");
    assert_eq!(
        updated.status,
        pb::ProjectStatus::Planning as i32,
        "status is output only"
    );
    assert_eq!(version(&updated), 3);
    assert_eq!(
        get(&app, &staff, &created.name).await.expect("gets"),
        updated
    );

    // A stale expected version is ABORTED and changes nothing.
    let mut stale = updated.clone();
    stale.display_name = "过期的修改".to_string();
    expect_code(
        update(&app, &staff, stale.clone(), &["display_name"], 2).await,
        Code::Aborted,
        "stale version",
    );
    expect_code(
        update(&app, &staff, stale.clone(), &["display_name"], 99).await,
        Code::Aborted,
        "future version",
    );
    assert_eq!(
        get(&app, &staff, &created.name).await.expect("gets"),
        updated
    );
    let fresh = update(&app, &staff, stale, &["display_name"], 3)
        .await
        .expect("the current version updates");
    assert_eq!(fresh.display_name, "过期的修改");
    assert_eq!(version(&fresh), 4);

    // Clearing lists and the budget, then removing the partner.
    let cleared = update(
        &app,
        &staff,
        pb::Project {
            name: created.name.clone(),
            ..Default::default()
        },
        &["service_themes", "description", "budget_fen"],
        0,
    )
    .await
    .expect("clears");
    assert!(cleared.service_themes.is_empty());
    assert_eq!(cleared.description, "");
    assert_eq!(
        cleared.service_fields, all.service_fields,
        "unmasked lists stay"
    );
    assert!(cleared.partner.is_some(), "unmasked partner stays");
    let without_partner = update(
        &app,
        &staff,
        pb::Project {
            name: created.name.clone(),
            partner: None,
            ..Default::default()
        },
        &["partner"],
        0,
    )
    .await
    .expect("removes the partner");
    assert_eq!(without_partner.partner, None);
    let read = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(read.partner, None);
    assert_eq!(read, without_partner);
    // And adding one back.
    let with_partner = update(
        &app,
        &staff,
        pb::Project {
            name: created.name.clone(),
            partner: project_input(&team.name).partner,
            ..Default::default()
        },
        &["partner"],
        0,
    )
    .await
    .expect("adds a partner");
    assert_eq!(
        with_partner.partner.expect("partner").social_workers[0].phone,
        "138****5678"
    );

    // Moving only the start past the end is refused.
    expect_code(
        update(
            &app,
            &staff,
            pb::Project {
                name: created.name.clone(),
                start_date: date(2029, 1, 1),
                ..Default::default()
            },
            &["start_date"],
            0,
        )
        .await,
        Code::InvalidArgument,
        "start after the end",
    );
    let last = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(last.start_date, date(2027, 3, 1));
    assert_eq!(version(&last), 7);
    app.stop().await;
}

async fn status_changes_follow_the_lifecycle(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let first = new_project(&app, &staff, &team.name, "项目甲").await;
    let name = first.name.clone();
    let status =
        |project: &pb::Project| pb::ProjectStatus::try_from(project.status).expect("status");

    // PLANNING: cannot close.
    let refused = expect_code(
        close(&app, &staff, &name, "").await,
        Code::FailedPrecondition,
        "closing a planned project",
    );
    assert!(chinese_message(&refused).is_some_and(|message| !message.is_empty()));
    // PLANNING → ACTIVE.
    let active = activate(&app, &staff, &name).await.expect("activates");
    assert_eq!(status(&active), pb::ProjectStatus::Active);
    assert_eq!(active.metadata.as_ref().expect("metadata").version, 2);
    expect_code(
        activate(&app, &staff, &name).await,
        Code::FailedPrecondition,
        "activating twice",
    );
    // Still updatable while active.
    let mut renamed = active.clone();
    renamed.display_name = "项目甲（实施中）".to_string();
    update(&app, &staff, renamed, &["display_name"], 0)
        .await
        .expect("an active project updates");
    // ACTIVE → CLOSED.
    let closed = close(&app, &staff, &name, "项目按期完成")
        .await
        .expect("closes");
    assert_eq!(status(&closed), pb::ProjectStatus::Closed);
    assert_eq!(closed.display_name, "项目甲（实施中）");
    for (what, result) in [
        (
            "activating a closed project",
            activate(&app, &staff, &name).await,
        ),
        ("closing twice", close(&app, &staff, &name, "").await),
        (
            "cancelling a closed project",
            cancel(&app, &staff, &name, "").await,
        ),
    ] {
        expect_code(result, Code::FailedPrecondition, what);
    }
    let mut late = closed.clone();
    late.display_name = "结项后修改".to_string();
    let refused = expect_code(
        update(&app, &staff, late, &["display_name"], 0).await,
        Code::FailedPrecondition,
        "updating a closed project",
    );
    assert!(chinese_message(&refused).is_some_and(|message| !message.is_empty()));
    assert_eq!(
        get(&app, &staff, &name).await.expect("gets"),
        closed,
        "nothing changed"
    );

    // PLANNING → CANCELLED.
    let second = new_project(&app, &staff, &team.name, "项目乙").await;
    let cancelled = cancel(&app, &staff, &second.name, "经费未落实")
        .await
        .expect("cancels");
    assert_eq!(status(&cancelled), pb::ProjectStatus::Cancelled);
    for (what, result) in [
        (
            "activating a cancelled project",
            activate(&app, &staff, &second.name).await,
        ),
        (
            "closing a cancelled project",
            close(&app, &staff, &second.name, "").await,
        ),
        (
            "cancelling twice",
            cancel(&app, &staff, &second.name, "").await,
        ),
    ] {
        expect_code(result, Code::FailedPrecondition, what);
    }
    let mut late = cancelled.clone();
    late.budget_fen = 5;
    expect_code(
        update(&app, &staff, late, &["budget_fen"], 0).await,
        Code::FailedPrecondition,
        "updating a cancelled project",
    );
    assert_eq!(
        get(&app, &staff, &second.name).await.expect("gets"),
        cancelled
    );

    // ACTIVE → CANCELLED.
    let third = new_project(&app, &staff, &team.name, "项目丙").await;
    activate(&app, &staff, &third.name)
        .await
        .expect("activates");
    let cancelled = cancel(&app, &staff, &third.name, "")
        .await
        .expect("cancels an active one");
    assert_eq!(status(&cancelled), pb::ProjectStatus::Cancelled);

    // Status changes of projects that do not exist.
    let missing = random_project_name();
    for (what, result) in [
        ("activate", activate(&app, &staff, &missing).await),
        ("close", close(&app, &staff, &missing, "").await),
        ("cancel", cancel(&app, &staff, &missing, "").await),
    ] {
        expect_code(result, Code::NotFound, what);
    }
    app.stop().await;
}

async fn bad_input_names_the_field_and_writes_nothing(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let valid = || project_input(&team.name);
    let worker = |name: &str, phone: &str| pb::SocialWorker {
        name: name.to_string(),
        phone: phone.to_string(),
        certificate_number: String::new(),
    };
    let with_workers = |workers: Vec<pb::SocialWorker>| {
        let mut project = valid();
        project.partner = Some(pb::PartnerOrganization {
            name: "厦门市某社工服务中心".to_string(),
            credit_code: String::new(),
            social_workers: workers,
        });
        project
    };
    let cases: Vec<(&str, pb::Project, Vec<&str>)> = vec![
        (
            "no display name",
            pb::Project {
                display_name: String::new(),
                ..valid()
            },
            vec!["project.display_name"],
        ),
        (
            "a blank display name",
            pb::Project {
                display_name: " \u{3000} ".to_string(),
                ..valid()
            },
            vec!["project.display_name"],
        ),
        (
            "a display name of 101 characters",
            pb::Project {
                display_name: "项".repeat(101),
                ..valid()
            },
            vec!["project.display_name"],
        ),
        (
            "no start date",
            pb::Project {
                start_date: None,
                ..valid()
            },
            vec!["project.start_date"],
        ),
        (
            "a zero start date",
            pb::Project {
                start_date: date(0, 0, 0),
                ..valid()
            },
            vec!["project.start_date"],
        ),
        (
            "no end date",
            pb::Project {
                end_date: None,
                ..valid()
            },
            vec!["project.end_date"],
        ),
        (
            "an impossible date",
            pb::Project {
                start_date: date(2027, 2, 30),
                ..valid()
            },
            vec!["project.start_date"],
        ),
        (
            "the end before the start",
            pb::Project {
                start_date: date(2027, 6, 2),
                end_date: date(2027, 6, 1),
                ..valid()
            },
            vec!["project.end_date"],
        ),
        (
            "no funding source",
            pb::Project {
                funding_source: 0,
                ..valid()
            },
            vec!["project.funding_source"],
        ),
        (
            "an unknown funding source",
            pb::Project {
                funding_source: 99,
                ..valid()
            },
            vec!["project.funding_source"],
        ),
        (
            "a negative budget",
            pb::Project {
                budget_fen: -1,
                ..valid()
            },
            vec!["project.budget_fen"],
        ),
        (
            "an unknown service theme",
            pb::Project {
                service_themes: vec![99],
                ..valid()
            },
            vec!["project.service_themes[0]"],
        ),
        (
            "an unspecified service field",
            pb::Project {
                service_fields: vec![common::ServiceField::Education as i32, 0],
                ..valid()
            },
            vec!["project.service_fields[1]"],
        ),
        (
            "a repeated target group",
            pb::Project {
                target_groups: vec![5, 5],
                ..valid()
            },
            vec!["project.target_groups[1]"],
        ),
        (
            "a social worker without a name",
            with_workers(vec![worker("", "13812345678")]),
            vec!["project.partner.social_workers[0].name"],
        ),
        (
            "a social worker with a bad phone",
            with_workers(vec![worker("李社工", "12345")]),
            vec!["project.partner.social_workers[0].phone"],
        ),
        (
            "a bad phone of the second social worker",
            with_workers(vec![
                worker("李社工", "13812345678"),
                worker("王社工", "电话"),
            ]),
            vec!["project.partner.social_workers[1].phone"],
        ),
        (
            "a partner without a name",
            pb::Project {
                partner: Some(pb::PartnerOrganization {
                    name: String::new(),
                    credit_code: String::new(),
                    social_workers: vec![worker("李社工", "")],
                }),
                ..valid()
            },
            vec!["project.partner.name"],
        ),
        (
            "a malformed org unit",
            pb::Project {
                org_unit: "teams/思明".to_string(),
                ..valid()
            },
            vec!["project.org_unit"],
        ),
        (
            "an org unit that is no UUID",
            pb::Project {
                org_unit: "orgUnits/siming".to_string(),
                ..valid()
            },
            vec!["project.org_unit"],
        ),
        (
            "no org unit",
            pb::Project {
                org_unit: String::new(),
                ..valid()
            },
            vec!["project.org_unit"],
        ),
        (
            "several problems at once",
            pb::Project {
                display_name: String::new(),
                budget_fen: -5,
                ..valid()
            },
            vec!["project.display_name", "project.budget_fen"],
        ),
    ];
    for (what, project, fields) in cases {
        expect_invalid(create(&app, &staff, project, "").await, &fields, what);
    }
    expect_invalid(
        app.projects(&staff)
            .create_project(pb::CreateProjectRequest {
                project: None,
                request_id: String::new(),
            })
            .await,
        &["project"],
        "no project",
    );
    expect_invalid(
        create(&app, &staff, valid(), "retry-1").await,
        &["request_id"],
        "a request id that is no UUID",
    );
    // An invalid body with a request id does not burn the id.
    let request_id = uuid::Uuid::new_v4().to_string();
    expect_invalid(
        create(
            &app,
            &staff,
            pb::Project {
                budget_fen: -1,
                ..valid()
            },
            &request_id,
        )
        .await,
        &["project.budget_fen"],
        "a bad body with a request id",
    );
    // Nothing was written.
    assert!(listed(&app, &admin, Default::default()).await.is_empty());
    assert_eq!(log_head(&app).await, 0, "no change was logged");
    // The request id is still free for the corrected request.
    let created = create(&app, &staff, valid(), &request_id)
        .await
        .expect("the corrected request creates");
    assert_eq!(
        listed(&app, &admin, Default::default()).await,
        [created.name]
    );
    app.stop().await;
}

async fn bad_updates_and_lists_name_the_field(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = create(&app, &staff, project_input(&team.name), "")
        .await
        .expect("creates");
    let head = log_head(&app).await;
    let named = |project: pb::Project| pb::Project {
        name: created.name.clone(),
        ..project
    };

    expect_invalid(
        update(&app, &staff, named(project_input(&team.name)), &[], 0).await,
        &["update_mask"],
        "an empty update mask",
    );
    expect_invalid(
        app.projects(&staff)
            .update_project(pb::UpdateProjectRequest {
                project: Some(named(project_input(&team.name))),
                update_mask: None,
                expected_version: 0,
            })
            .await,
        &["update_mask"],
        "no update mask",
    );
    for path in ["status", "org_unit", "name", "metadata", "partner.name"] {
        expect_invalid(
            update(
                &app,
                &staff,
                named(project_input(&team.name)),
                &["display_name", path],
                0,
            )
            .await,
            &["update_mask.paths[1]"],
            &format!("masking {path}"),
        );
    }
    expect_invalid(
        app.projects(&staff)
            .update_project(pb::UpdateProjectRequest {
                project: None,
                update_mask: field_mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
        &["project"],
        "no project",
    );
    for bad_name in [
        "",
        "projects/1",
        "activities/0190c3e2-0000-7000-8000-000000000000",
    ] {
        expect_invalid(
            update(
                &app,
                &staff,
                pb::Project {
                    name: bad_name.to_string(),
                    ..project_input(&team.name)
                },
                &["display_name"],
                0,
            )
            .await,
            &["project.name"],
            &format!("updating {bad_name:?}"),
        );
    }
    let update_cases: Vec<(&str, pb::Project, &[&str], &str)> = vec![
        (
            "an empty display name",
            pb::Project {
                display_name: String::new(),
                ..Default::default()
            },
            &["display_name"],
            "project.display_name",
        ),
        (
            "a negative budget",
            pb::Project {
                budget_fen: -100,
                ..Default::default()
            },
            &["budget_fen"],
            "project.budget_fen",
        ),
        (
            "a bad theme",
            pb::Project {
                service_themes: vec![42],
                ..Default::default()
            },
            &["service_themes"],
            "project.service_themes[0]",
        ),
        (
            "no funding source",
            pb::Project::default(),
            &["funding_source"],
            "project.funding_source",
        ),
        (
            "no end date",
            pb::Project::default(),
            &["end_date"],
            "project.end_date",
        ),
        (
            "the end before the start",
            pb::Project {
                end_date: date(2026, 12, 31),
                ..Default::default()
            },
            &["end_date"],
            "project.end_date",
        ),
        (
            "a social worker's bad phone",
            pb::Project {
                partner: Some(pb::PartnerOrganization {
                    name: "社工机构".to_string(),
                    credit_code: String::new(),
                    social_workers: vec![pb::SocialWorker {
                        name: "李社工".to_string(),
                        phone: "1381234567".to_string(),
                        certificate_number: String::new(),
                    }],
                }),
                ..Default::default()
            },
            &["partner"],
            "project.partner.social_workers[0].phone",
        ),
    ];
    for (what, project, paths, field) in update_cases {
        expect_invalid(
            update(&app, &staff, named(project), paths, 0).await,
            &[field],
            what,
        );
    }
    let unchanged = get(&app, &staff, &created.name).await.expect("gets");
    assert_eq!(unchanged, created, "no refused update changed anything");
    assert_eq!(log_head(&app).await, head, "no refused update was logged");

    // Names and reasons of the other RPCs.
    expect_invalid(
        get(&app, &staff, "projects/abc").await,
        &["name"],
        "getting a bad name",
    );
    expect_invalid(get(&app, &staff, "").await, &["name"], "getting no name");
    expect_invalid(
        activate(&app, &staff, "project/x").await,
        &["name"],
        "activating a bad name",
    );
    expect_invalid(
        close(&app, &staff, &created.name, &"因".repeat(501)).await,
        &["reason"],
        "a reason of 501 characters",
    );
    expect_invalid(
        cancel(&app, &staff, &created.name, "原因\u{0007}").await,
        &["reason"],
        "a reason with a control character",
    );

    // List arguments.
    let list_cases = [
        (
            "page_size 501",
            pb::ListProjectsRequest {
                page_size: 501,
                ..Default::default()
            },
            "page_size",
        ),
        (
            "a negative page_size",
            pb::ListProjectsRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            "an unknown status",
            pb::ListProjectsRequest {
                status: 9,
                ..Default::default()
            },
            "status",
        ),
        (
            "an unknown funding source",
            pb::ListProjectsRequest {
                funding_source: 9,
                ..Default::default()
            },
            "funding_source",
        ),
        (
            "a malformed org unit",
            pb::ListProjectsRequest {
                org_unit: "orgUnits/".to_string(),
                ..Default::default()
            },
            "org_unit",
        ),
    ];
    for (what, request, field) in list_cases {
        expect_invalid(list_page(&app, &staff, request).await, &[field], what);
    }
    let page = list_page(
        &app,
        &staff,
        pb::ListProjectsRequest {
            page_size: 500,
            ..Default::default()
        },
    )
    .await
    .expect("page_size 500 is allowed");
    assert_eq!(page.projects.len(), 1);

    // History arguments.
    expect_invalid(
        app.activity_records(&staff)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: created.name.clone(),
                page_size: 501,
                page_token: String::new(),
            })
            .await,
        &["page_size"],
        "history page_size 501",
    );
    expect_invalid(
        app.activity_records(&staff)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: team.name.clone(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        &["resource"],
        "history of something that is no project",
    );
    assert_eq!(log_head(&app).await, head);
    app.stop().await;
}

async fn new_and_suspended_units_via_the_replica(app: TestApp) {
    let admin = app.admin();
    // A whole branch created a moment ago: the replica catches up on demand, for the unit
    // a project names and for the unit a token names.
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "海沧区")
        .await;
    let sub_team = app
        .create_unit(&admin, &team.name, registry::Tier::SubTeam, "新阳街道")
        .await;
    let squad = app
        .create_unit(&admin, &sub_team.name, registry::Tier::Squad, "巾帼小队")
        .await;
    let in_squad = new_project(&app, &admin, &squad.name, "小队项目").await;
    assert_eq!(in_squad.org_unit, squad.name);
    let later_squad = app
        .create_unit(
            &admin,
            &sub_team.name,
            registry::Tier::Squad,
            "second squad",
        )
        .await;
    let squad_staff = app.token(&later_squad.name, &[Role::Staff]);
    let own = new_project(&app, &squad_staff, &later_squad.name, "小队自建项目").await;
    assert_eq!(
        listed(&app, &squad_staff, Default::default()).await,
        [own.name.as_str()]
    );
    assert_eq!(
        listed(
            &app,
            &app.token(&team.name, &[Role::Viewer]),
            Default::default()
        )
        .await,
        [in_squad.name.clone(), own.name.clone()]
    );

    // A unit suspended before the activity service ever saw it: refused at once (allowing
    // only for a background poll that happened to fall between creation and suspension).
    let suspended = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "停用队")
        .await;
    suspend(&app, &suspended.name).await;
    refused_until_the_replica_knows(&app, &admin, &suspended.name).await;
    let status = expect_code(
        create(&app, &admin, project_input(&suspended.name), "").await,
        Code::FailedPrecondition,
        "a suspended unit",
    );
    assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
    // Its own staff cannot create there either.
    let suspended_staff = app.token(&suspended.name, &[Role::Staff]);
    expect_code(
        create(&app, &suspended_staff, project_input(&suspended.name), "").await,
        Code::FailedPrecondition,
        "a suspended unit's own staff",
    );

    // A unit the replica already knows as active, suspended afterwards: refused once the
    // feed has brought the suspension.
    let known = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "翔安区")
        .await;
    let known_staff = app.token(&known.name, &[Role::Staff]);
    let before = new_project(&app, &known_staff, &known.name, "停用前的项目").await;
    suspend(&app, &known.name).await;
    refused_until_the_replica_knows(&app, &known_staff, &known.name).await;
    // Its projects can still be read.
    assert_eq!(
        get(&app, &known_staff, &before.name)
            .await
            .expect("reads")
            .name,
        before.name
    );
    // After resuming, projects may be created again.
    app.org_units(&admin)
        .resume_org_unit(registry::ResumeOrgUnitRequest {
            name: known.name.clone(),
            reason: String::new(),
        })
        .await
        .expect("resumes");
    let deadline = Instant::now() + FEED_WAIT;
    loop {
        match create(&app, &known_staff, project_input(&known.name), "").await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert!(Instant::now() < deadline, "the resumption never arrived");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// Creates projects in `unit` until the service refuses with FAILED_PRECONDITION (at
/// once for a unit the replica did not know; after the next poll for one it knew as
/// active), then checks that the refusal wrote nothing.
async fn refused_until_the_replica_knows(app: &TestApp, token: &str, unit: &str) {
    // Counted through the admin's whole list, which does not make the replica catch up.
    let count = || async {
        list_all(app, &app.admin(), Default::default())
            .await
            .into_iter()
            .filter(|project| project.org_unit == unit)
            .count()
    };
    let before = count().await;
    let deadline = Instant::now() + FEED_WAIT;
    let mut created = 0;
    loop {
        let head = log_head(app).await;
        match create(app, token, project_input(unit), "").await {
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
                assert!(chinese_message(&status).is_some_and(|message| !message.is_empty()));
                assert_eq!(log_head(app).await, head, "a refusal writes nothing");
                assert_eq!(count().await, before + created, "a refusal writes nothing");
                return;
            }
            Ok(_) => {
                created += 1;
                assert!(
                    Instant::now() < deadline,
                    "projects are still created in suspended {unit}"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn moving_a_sub_team_moves_its_projects(app: TestApp) {
    let admin = app.admin();
    let from = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let to = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let sub_team = app
        .create_unit(&admin, &from.name, registry::Tier::SubTeam, "鹭江街道")
        .await;
    let squad = app
        .create_unit(&admin, &sub_team.name, registry::Tier::Squad, "巾帼小队")
        .await;
    let from_staff = app.token(&from.name, &[Role::Staff]);
    let to_staff = app.token(&to.name, &[Role::Staff]);
    let stays = new_project(&app, &from_staff, &from.name, "留在思明的项目").await;
    let moving = new_project(&app, &from_staff, &sub_team.name, "分队项目").await;
    let in_squad = new_project(&app, &from_staff, &squad.name, "小队项目").await;
    assert_eq!(
        listed(&app, &from_staff, Default::default()).await,
        [
            stays.name.clone(),
            moving.name.clone(),
            in_squad.name.clone()
        ]
    );
    expect_code(
        get(&app, &to_staff, &moving.name).await,
        Code::NotFound,
        "before the move",
    );

    app.org_units(&admin)
        .move_org_unit(registry::MoveOrgUnitRequest {
            name: sub_team.name.clone(),
            new_parent: to.name.clone(),
        })
        .await
        .expect("moves");

    // The feed is eventually consistent: wait until the move has arrived.
    let deadline = Instant::now() + FEED_WAIT;
    loop {
        let new_sees = get(&app, &to_staff, &moving.name).await.is_ok();
        let old_sees = get(&app, &from_staff, &moving.name).await.is_ok();
        if new_sees && !old_sees {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the move never reached the activity service (new team sees: {new_sees}, old \
             team sees: {old_sees})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The old team: not found, for the sub-team's project and its squad's.
    for name in [&moving.name, &in_squad.name] {
        expect_code(
            get(&app, &from_staff, name).await,
            Code::NotFound,
            "old team reads",
        );
        expect_code(
            activate(&app, &from_staff, name).await,
            Code::NotFound,
            "old team activates",
        );
        expect_code(
            update(
                &app,
                &from_staff,
                get(&app, &admin, name).await.expect("admin reads"),
                &["display_name"],
                0,
            )
            .await,
            Code::NotFound,
            "old team updates",
        );
    }
    assert_eq!(
        listed(&app, &from_staff, Default::default()).await,
        [stays.name.as_str()]
    );
    expect_code(
        list_page(&app, &from_staff, in_unit(&sub_team.name)).await,
        Code::NotFound,
        "old team lists the moved sub-team",
    );
    expect_code(
        create(&app, &from_staff, project_input(&sub_team.name), "").await,
        Code::NotFound,
        "old team creates in the moved sub-team",
    );
    // The new team: sees and manages both, down to the squad.
    assert_eq!(
        get(&app, &to_staff, &in_squad.name)
            .await
            .expect("new team reads the squad's")
            .name,
        in_squad.name
    );
    assert_eq!(
        listed(&app, &to_staff, Default::default()).await,
        [moving.name.clone(), in_squad.name.clone()]
    );
    assert_eq!(
        listed(&app, &to_staff, in_unit(&squad.name)).await,
        [in_squad.name.as_str()]
    );
    activate(&app, &to_staff, &moving.name)
        .await
        .expect("new team activates");
    let created = new_project(&app, &to_staff, &squad.name, "迁移后新建").await;
    assert_eq!(created.org_unit, squad.name);
    // The project still belongs to the sub-team itself.
    assert_eq!(
        get(&app, &admin, &moving.name)
            .await
            .expect("reads")
            .org_unit,
        sub_team.name
    );
    app.stop().await;
}

async fn other_districts_see_nothing(app: TestApp) {
    let admin = app.admin();
    let district_a = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let district_b = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff_a = app.token(&district_a.name, &[Role::Staff, Role::TeamLeader]);
    let staff_b = app.token(&district_b.name, &[Role::Staff]);
    let theirs = new_project(&app, &staff_b, &district_b.name, "湖里区的项目").await;
    let head = log_head(&app).await;
    let missing = random_project_name();

    for (name, what) in [
        (&theirs.name, "district B's project"),
        (&missing, "a random project"),
    ] {
        let mut body = project_input(&district_b.name);
        body.name = name.clone();
        let outcomes = [
            ("GetProject", get(&app, &staff_a, name).await.map(drop)),
            (
                "UpdateProject",
                update(&app, &staff_a, body, &["display_name"], 0)
                    .await
                    .map(drop),
            ),
            (
                "UpdateProject with a version",
                update(
                    &app,
                    &staff_a,
                    pb::Project {
                        name: name.clone(),
                        ..project_input(&district_b.name)
                    },
                    &["display_name"],
                    7,
                )
                .await
                .map(drop),
            ),
            (
                "ActivateProject",
                activate(&app, &staff_a, name).await.map(drop),
            ),
            (
                "CloseProject",
                close(&app, &staff_a, name, "").await.map(drop),
            ),
            (
                "CancelProject",
                cancel(&app, &staff_a, name, "").await.map(drop),
            ),
            (
                "ListChangeRecords",
                history(&app, &staff_a, name).await.map(drop),
            ),
        ];
        for (rpc, result) in outcomes {
            let status = expect_code(result, Code::NotFound, &format!("{rpc} of {what}"));
            // Nothing in the answer tells where the project is.
            assert!(
                !status.message().contains(&district_b.name)
                    && !status.message().contains("湖里区"),
                "{rpc}: {status:?}"
            );
        }
    }
    let message = |result: Result<pb::Project, Status>, name: &str| {
        let status = expect_code(result, Code::NotFound, "get");
        status.message().replace(name, "projects/…")
    };
    assert_eq!(
        message(get(&app, &staff_a, &theirs.name).await, &theirs.name),
        message(get(&app, &staff_a, &missing).await, &missing),
        "the same answer for another district's project and a missing one"
    );
    // Listing or creating in district B.
    expect_code(
        list_page(&app, &staff_a, in_unit(&district_b.name)).await,
        Code::NotFound,
        "listing district B",
    );
    expect_code(
        create(&app, &staff_a, project_input(&district_b.name), "").await,
        Code::NotFound,
        "creating in district B",
    );
    assert!(listed(&app, &staff_a, Default::default()).await.is_empty());
    // District B's project is untouched and nothing was logged.
    assert_eq!(
        get(&app, &staff_b, &theirs.name).await.expect("B reads"),
        theirs
    );
    assert_eq!(log_head(&app).await, head);
    app.stop().await;
}

async fn roles_limit_what_callers_may_do(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let project = new_project(&app, &staff, &team.name, "项目").await;

    // A viewer reads but never writes.
    let viewer = app.token(&team.name, &[Role::Viewer]);
    assert_eq!(
        get(&app, &viewer, &project.name)
            .await
            .expect("viewer reads"),
        project
    );
    assert_eq!(
        listed(&app, &viewer, Default::default()).await,
        [project.name.as_str()]
    );
    assert_eq!(
        history(&app, &viewer, &project.name)
            .await
            .expect("viewer reads history")
            .len(),
        1
    );
    let head = log_head(&app).await;
    let denied = |result: Result<pb::Project, Status>, what: &str| {
        let status = expect_code(result, Code::PermissionDenied, what);
        assert!(
            chinese_message(&status).is_some_and(|message| !message.is_empty()),
            "{what}"
        );
    };
    denied(
        create(&app, &viewer, project_input(&team.name), "").await,
        "viewer creates",
    );
    denied(
        update(&app, &viewer, project.clone(), &["display_name"], 0).await,
        "viewer updates",
    );
    denied(
        activate(&app, &viewer, &project.name).await,
        "viewer activates",
    );
    denied(
        close(&app, &viewer, &project.name, "").await,
        "viewer closes",
    );
    denied(
        cancel(&app, &viewer, &project.name, "").await,
        "viewer cancels",
    );
    // A volunteer reads projects but does not manage them, nor read histories.
    let volunteer = app.volunteer_token(&team.name, &uuid::Uuid::new_v4().to_string());
    assert_eq!(
        get(&app, &volunteer, &project.name)
            .await
            .expect("volunteer reads")
            .name,
        project.name
    );
    denied(
        create(&app, &volunteer, project_input(&team.name), "").await,
        "volunteer creates",
    );
    expect_code(
        history(&app, &volunteer, &project.name).await,
        Code::PermissionDenied,
        "volunteer reads history",
    );
    assert_eq!(log_head(&app).await, head, "refusals wrote nothing");

    // A team leader creates and manages in its own team, not elsewhere.
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let led = new_project(&app, &leader, &team.name, "负责人的项目").await;
    activate(&app, &leader, &led.name)
        .await
        .expect("leader activates");
    let mut renamed = led.clone();
    renamed.display_name = "负责人改名".to_string();
    update(&app, &leader, renamed, &["display_name"], 0)
        .await
        .expect("leader updates");
    expect_code(
        create(&app, &leader, project_input(&other.name), "").await,
        Code::NotFound,
        "leader creates in another team",
    );

    // The sync role reads change logs, nothing else.
    let sync = sync_token(&app);
    denied(
        get(&app, &sync, &project.name).await,
        "sync reads a project",
    );
    expect_code(
        list_page(&app, &sync, Default::default()).await,
        Code::PermissionDenied,
        "sync lists projects",
    );
    denied(
        create(&app, &sync, project_input(&team.name), "").await,
        "sync creates",
    );
    expect_code(
        history(&app, &sync, &project.name).await,
        Code::PermissionDenied,
        "sync reads history",
    );
    // Only the sync role reads the change log.
    for (who, token) in [("admin", &admin), ("staff", &staff), ("viewer", &viewer)] {
        expect_code(
            app.change_log("activity", token)
                .list_changes(sync_pb::ListChangesRequest {
                    after_sequence: 0,
                    page_size: 10,
                    ..Default::default()
                })
                .await,
            Code::PermissionDenied,
            &format!("{who} reads the change log"),
        );
    }

    // No token.
    expect_code(
        get(&app, "", &project.name).await,
        Code::Unauthenticated,
        "get without a token",
    );
    expect_code(
        list_page(&app, "", Default::default()).await,
        Code::Unauthenticated,
        "list without a token",
    );
    expect_code(
        create(&app, "", project_input(&team.name), "").await,
        Code::Unauthenticated,
        "create without a token",
    );
    expect_code(
        history(&app, "", &project.name).await,
        Code::Unauthenticated,
        "history without a token",
    );
    // A token that is no token.
    expect_code(
        get(&app, "not.a.token", &project.name).await,
        Code::Unauthenticated,
        "a forged token",
    );

    // A token whose org unit does not exist.
    let ghost = app.token(
        &format!("orgUnits/{}", uuid::Uuid::new_v4()),
        &[Role::Admin],
    );
    denied(get(&app, &ghost, &project.name).await, "a ghost unit reads");
    expect_code(
        list_page(&app, &ghost, Default::default()).await,
        Code::PermissionDenied,
        "a ghost unit lists",
    );
    denied(
        create(&app, &ghost, project_input(&team.name), "").await,
        "a ghost unit creates",
    );
    denied(
        activate(&app, &ghost, &project.name).await,
        "a ghost unit activates",
    );
    let before = log_head(&app).await;
    assert_eq!(
        get(&app, &staff, &project.name).await.expect("reads"),
        project
    );
    assert_eq!(log_head(&app).await, before);
    app.stop().await;
}

fn field_names(record: &common::ChangeRecord) -> Vec<&str> {
    let mut names: Vec<&str> = record
        .field_changes
        .iter()
        .map(|change| change.field.as_str())
        .collect();
    names.sort_unstable();
    names
}

fn field_change<'a>(record: &'a common::ChangeRecord, field: &str) -> &'a common::FieldChange {
    record
        .field_changes
        .iter()
        .find(|change| change.field == field)
        .unwrap_or_else(|| panic!("no change of {field} in {record:?}"))
}

async fn history_lists_every_change_masked(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = create(&app, &staff, project_input(&team.name), "")
        .await
        .expect("creates");
    let name = created.name.clone();
    let mut edit = created.clone();
    edit.display_name = "空巢老人关爱项目（二期）".to_string();
    edit.budget_fen = 15_000_000;
    edit.description = "不在掩码里".to_string();
    update(&app, &staff, edit, &["display_name", "budget_fen"], 0)
        .await
        .expect("updates");
    // A new phone that masks like the old one is still a change.
    let mut phone = project_input(&team.name);
    phone.name = name.clone();
    phone.partner.as_mut().expect("partner").social_workers[0].phone = "13800005678".to_string();
    let rephoned = update(&app, &staff, phone, &["partner"], 0)
        .await
        .expect("changes the phone");
    assert_eq!(
        rephoned.partner.expect("partner").social_workers[0].phone,
        "138****5678"
    );
    activate(&app, &staff, &name).await.expect("activates");
    close(&app, &staff, &name, "项目按期完成，成效良好")
        .await
        .expect("closes");

    let records = history(&app, &staff, &name)
        .await
        .expect("reads the history");
    let operations: Vec<i32> = records.iter().map(|record| record.operation).collect();
    let create_op = common::ChangeOperation::Create as i32;
    let update_op = common::ChangeOperation::Update as i32;
    assert_eq!(
        operations,
        [create_op, update_op, update_op, update_op, update_op]
    );
    for record in &records {
        assert_eq!(record.resource_name, name);
        assert!(!record.actor.is_empty(), "{record:?}");
        assert!(record.change_time.is_some(), "{record:?}");
        assert_no_plain_phone(&format!("{record:?}"), "the history");
    }
    assert!(
        records
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence),
        "oldest first"
    );
    // CREATE lists the fields given.
    let first = &records[0];
    for field in [
        "display_name",
        "description",
        "service_themes",
        "start_date",
        "end_date",
        "funding_source",
        "budget_fen",
        "partner",
    ] {
        assert!(
            field_names(first).contains(&field),
            "{field} missing from {first:?}"
        );
    }
    assert_eq!(
        field_change(first, "display_name").new_value,
        "空巢老人关爱项目"
    );
    assert!(
        field_change(first, "partner")
            .new_value
            .contains("138****5678")
    );
    // The update: the masked fields only.
    assert_eq!(field_names(&records[1]), ["budget_fen", "display_name"]);
    let budget = field_change(&records[1], "budget_fen");
    assert_eq!(
        (budget.old_value.as_str(), budget.new_value.as_str()),
        ("12000000", "15000000")
    );
    let display = field_change(&records[1], "display_name");
    assert_eq!(display.old_value, "空巢老人关爱项目");
    assert_eq!(display.new_value, "空巢老人关爱项目（二期）");
    // The phone change, recorded although old and new look alike masked.
    assert_eq!(field_names(&records[2]), ["partner"]);
    let partner = field_change(&records[2], "partner");
    assert!(partner.old_value.contains("138****5678"), "{partner:?}");
    assert!(partner.new_value.contains("138****5678"), "{partner:?}");
    // The status changes, with the close reason.
    assert_eq!(field_names(&records[3]), ["status"]);
    assert_eq!(records[3].reason, "");
    assert_eq!(field_names(&records[4]), ["status"]);
    let closing = field_change(&records[4], "status");
    assert_ne!(closing.old_value, closing.new_value);
    assert!(
        closing.new_value.to_lowercase().contains("closed"),
        "{closing:?}"
    );
    assert_eq!(records[4].reason, "项目按期完成，成效良好");

    // A viewer above reads the same history; a cancellation keeps its reason.
    let viewer = app.token(&app.root, &[Role::Viewer]);
    assert_eq!(
        history(&app, &viewer, &name).await.expect("viewer reads"),
        records
    );
    let other = new_project(&app, &staff, &team.name, "另一项目").await;
    cancel(&app, &staff, &other.name, "合作方退出")
        .await
        .expect("cancels");
    let other_records = history(&app, &staff, &other.name).await.expect("reads");
    assert_eq!(other_records.len(), 2);
    assert_eq!(other_records[1].reason, "合作方退出");
    assert_eq!(
        history(&app, &staff, &name).await.expect("reads").len(),
        5,
        "histories are per project"
    );
    // A project that does not exist has no history to read.
    expect_code(
        history(&app, &staff, &random_project_name()).await,
        Code::NotFound,
        "history of a missing project",
    );
    app.stop().await;
}

async fn change_log_is_contiguous_and_masked(app: TestApp) {
    let admin = app.admin();
    let team_a = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let team_b = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff_a = app.token(&team_a.name, &[Role::Staff]);
    let staff_b = app.token(&team_b.name, &[Role::Staff]);
    let mut names = Vec::new();
    for (token, unit) in [
        (&staff_a, &team_a),
        (&staff_b, &team_b),
        (&staff_a, &team_a),
    ] {
        names.push(
            create(&app, token, project_input(&unit.name), "")
                .await
                .expect("creates")
                .name,
        );
    }
    let mut phone = project_input(&team_b.name);
    phone.name = names[1].clone();
    phone.partner.as_mut().expect("partner").social_workers[0].phone = "13800005678".to_string();
    update(&app, &staff_b, phone, &["partner"], 0)
        .await
        .expect("updates");
    activate(&app, &staff_a, &names[0])
        .await
        .expect("activates");
    // Concurrent writers still leave no gap.
    let writes = (0..6).map(|index| {
        let app = &app;
        let token = if index % 2 == 0 { &staff_a } else { &staff_b };
        let unit = if index % 2 == 0 {
            &team_a.name
        } else {
            &team_b.name
        };
        async move {
            create(app, token, project_input(unit), "")
                .await
                .expect("creates")
                .name
        }
    });
    names.extend(futures::future::join_all(writes).await);

    let entries = change_log(&app).await;
    let sequences: Vec<i64> = entries.iter().map(|entry| entry.sequence).collect();
    assert_eq!(
        sequences,
        (1..=11).collect::<Vec<i64>>(),
        "contiguous from 1"
    );
    for name in &names {
        assert!(
            entries.iter().any(|entry| &entry.resource_name == name
                && entry.operation == common::ChangeOperation::Create as i32),
            "{name} is missing from the change log"
        );
    }
    for entry in &entries {
        assert_eq!(entry.resource_type, "egret.activity.v1.Project");
        assert!(!entry.origin_instance.is_empty());
        assert!(!entry.actor.is_empty());
        assert!(entry.change_time.is_some());
        assert!(
            record_text(entry).starts_with("Some("),
            "{}",
            record_text(entry)
        );
        assert!(
            record_text(entry).contains("138****5678"),
            "{}",
            record_text(entry)
        );
        assert_no_plain_phone(&record_text(entry), "a change-log payload");
        assert_no_plain_phone(
            &format!("{:?}", entry.field_changes),
            "change-log field changes",
        );
    }
    let phone_change = &entries[3];
    assert_eq!(phone_change.resource_name, names[1]);
    assert_eq!(
        phone_change.operation,
        common::ChangeOperation::Update as i32
    );
    assert_eq!(
        phone_change
            .field_changes
            .iter()
            .map(|change| change.field.as_str())
            .collect::<Vec<_>>(),
        ["partner"]
    );

    // Pages resume after a sequence.
    let page = app
        .change_log("activity", &sync_token(&app))
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 2,
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("reads a page")
        .into_inner();
    assert_eq!(
        page.changes
            .iter()
            .map(|entry| entry.sequence)
            .collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(page.last_sequence, 4);
    assert_eq!(page.head_sequence, 11);
    assert_eq!(page.changes, entries[2..4]);
    let end = app
        .change_log("activity", &sync_token(&app))
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 11,
            page_size: 0,
            ..Default::default()
        })
        .await
        .expect("reads past the end")
        .into_inner();
    assert!(end.changes.is_empty());
    assert_eq!((end.last_sequence, end.head_sequence), (11, 11));
    expect_invalid(
        app.change_log("activity", &sync_token(&app))
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence: 0,
                page_size: 1001,
                ..Default::default()
            })
            .await,
        &["page_size"],
        "a change-log page of 1001",
    );
    expect_invalid(
        app.change_log("activity", &sync_token(&app))
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence: -1,
                page_size: 10,
                ..Default::default()
            })
            .await,
        &["after_sequence"],
        "a negative sequence",
    );
    // Other roles never read it.
    expect_code(
        app.change_log("activity", &staff_a)
            .list_changes(sync_pb::ListChangesRequest::default())
            .await,
        Code::PermissionDenied,
        "staff reads the change log",
    );
    app.stop().await;
}

mod registry_unreachable {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::registry_unreachable(Backend::Sqlite, "projects::registry_unreachable::sqlite")
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::registry_unreachable(
            Backend::Postgres,
            "projects::registry_unreachable::postgres",
        )
        .await;
    }
}

/// The activity service of this instance follows a registry that does not answer.
async fn registry_unreachable(backend: Backend, test_name: &str) {
    let Some(app) = TestApp::spawn_with(backend, test_name, |config| {
        config.activity.registry_address = "http://127.0.0.1:1".to_string();
    })
    .await
    else {
        return;
    };
    let admin = app.admin();
    // The registry of this instance itself works: units can be made there.
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let unavailable = |status: &Status, what: &str| {
        assert!(
            matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded),
            "{what}: {status:?}"
        );
    };
    // Twice: a second request after a failed catch-up fails the same way, as fast.
    let calls = [
        ("GetProject as admin", 0),
        ("CreateProject", 1),
        ("CreateProject with a request id", 2),
        ("ListProjects", 3),
        ("ListProjects of a unit", 4),
        ("UpdateProject", 5),
        ("ActivateProject", 6),
        ("ListChangeRecords", 7),
    ];
    for (what, call) in calls.into_iter().chain(calls) {
        let started = Instant::now();
        let result: Result<(), Status> = match call {
            0 => get(&app, &admin, &random_project_name()).await.map(drop),
            1 => create(&app, &staff, project_input(&team.name), "")
                .await
                .map(drop),
            2 => create(
                &app,
                &admin,
                project_input(&team.name),
                &uuid::Uuid::new_v4().to_string(),
            )
            .await
            .map(drop),
            3 => list_page(&app, &admin, Default::default()).await.map(drop),
            4 => list_page(&app, &admin, in_unit(&team.name)).await.map(drop),
            5 => update(
                &app,
                &staff,
                pb::Project {
                    name: random_project_name(),
                    ..project_input(&team.name)
                },
                &["display_name"],
                0,
            )
            .await
            .map(drop),
            6 => activate(&app, &staff, &random_project_name())
                .await
                .map(drop),
            _ => history(&app, &admin, &random_project_name())
                .await
                .map(drop),
        };
        let elapsed = started.elapsed();
        let status = result.expect_err(what);
        unavailable(&status, what);
        assert!(elapsed < Duration::from_secs(6), "{what} took {elapsed:?}");
    }
    // Nothing was written: the change log (which needs no org unit) is empty.
    let log = app
        .change_log("activity", &sync_token(&app))
        .list_changes(sync_pb::ListChangesRequest::default())
        .await
        .expect("the change log reads without the registry")
        .into_inner();
    assert!(log.changes.is_empty());
    assert_eq!(log.head_sequence, 0);
    app.stop().await;
}
