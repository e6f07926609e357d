//! Tiers: a city instance enrolls a district federation's instance, which takes the
//! enrolled unit, under the same id, as its root — two real instances over real gRPC, on
//! SQLite and PostgreSQL.

use egret_gateway::{EgretConfig, Instance};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::recognition::v1 as recognition_pb;
use egret_proto::registry::v1 as pb;
use egret_proto::reporting::v1 as reporting_pb;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{
    TestApp, both_backends, chinese_message, district_config, violated_fields, volunteer_input,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;

both_backends!(
    a_district_takes_its_enrolled_unit_as_root,
    bad_enrollments_name_the_field,
    wrong_and_revoked_enrollments_are_refused_on_both_sides,
    a_districts_units_reach_the_city_as_read_only_copies,
    pushed_batches_are_checked,
    a_districts_volunteers_reach_the_city_minimised,
    a_district_with_a_legal_basis_sends_full_records,
    a_districts_activities_hours_and_certificates_reach_the_city,
    the_citys_figures_are_the_union_of_its_own_and_the_districts,
    what_the_city_owns_comes_down_to_its_districts,
    a_tally_proves_each_link_and_a_stray_copy_is_an_alarm,
);

/// Polls `check` until it answers Some, for at most 60 s (the district pushes every
/// `gateway.push_interval`, 1 s by default).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn unit_at(app: &TestApp, name: &str) -> Option<pb::OrgUnit> {
    app.org_units(&app.admin())
        .get_org_unit(pb::GetOrgUnitRequest {
            name: name.to_string(),
        })
        .await
        .ok()
        .and_then(|response| response.into_inner().org_unit)
}

/// The city's registry link from `origin`, as staff see it.
async fn link_of(city: &TestApp, origin: &str) -> Option<sync_pb::UpstreamLink> {
    service_link_of(city, "registry", origin).await
}

/// The city's link of `service` from `origin`, as staff see it.
async fn service_link_of(
    city: &TestApp,
    service: &'static str,
    origin: &str,
) -> Option<sync_pb::UpstreamLink> {
    let mut request = tonic::Request::new(sync_pb::ListUpstreamLinksRequest::default());
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", city.token(&city.root, &[Role::Viewer]))
            .parse()
            .expect("ascii"),
    );
    request
        .metadata_mut()
        .insert("egret-service", service.parse().expect("ascii"));
    sync_pb::upward_service_client::UpwardServiceClient::new(city.channel.clone())
        .list_upstream_links(request)
        .await
        .expect("staff read the links")
        .into_inner()
        .links
        .into_iter()
        .find(|link| link.origin_instance == origin)
}

/// The overview of `root` at `app`, up to a week ahead: activities start hours from now,
/// which in China may be tomorrow already. A busy database is retried with backoff, as
/// the answer asks.
async fn overview(app: &TestApp, root: &str) -> reporting_pb::GetOverviewResponse {
    let ahead = egret_runtime::wire::today().add_days(7);
    let mut wait = std::time::Duration::from_millis(100);
    loop {
        let answer = app
            .statistics(&app.admin())
            .get_overview(reporting_pb::GetOverviewRequest {
                org_unit: root.to_string(),
                catch_up: true,
                end_date: Some(egret_runtime::wire::date_to_wire(ahead)),
                ..Default::default()
            })
            .await;
        match answer {
            Err(status)
                if status.code() == Code::ResourceExhausted
                    && wait < std::time::Duration::from_secs(5) =>
            {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            answer => return answer.expect("statistics").into_inner(),
        }
    }
}

async fn teams(app: &TestApp, root: &str) -> i64 {
    overview(app, root).await.teams
}

/// The district federation of Siming, a team under the city's root.
async fn siming(city: &TestApp) -> pb::OrgUnit {
    city.create_unit(&city.admin(), &city.root, pb::Tier::Team, "思明区妇联")
        .await
}

/// A district federation: a team under the city's root named `display_name`, enrolled as
/// `instance_id`, and its instance started.
async fn enrolled_district(
    city: &TestApp,
    display_name: &str,
    instance_id: &str,
) -> (pb::OrgUnit, TestApp) {
    let unit = city
        .create_unit(&city.admin(), &city.root, pb::Tier::Team, display_name)
        .await;
    let credential = city.enroll(instance_id, &unit.name).await;
    let district = city
        .spawn_district(
            &format!("{}::{instance_id}", module_path!()),
            instance_id,
            &credential,
        )
        .await
        .expect("the city's backend is configured");
    (unit, district)
}

/// A district configuration that is never started by `TestApp` (for starts that must
/// fail): SQLite in a fresh directory.
fn district(
    city: &TestApp,
    instance_id: &str,
    credential: &str,
) -> (EgretConfig, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let mut config = egret_tests::test_config(data_dir.path(), "");
    district_config(
        &mut config,
        instance_id,
        &format!("http://{}", city.address),
        credential,
    );
    (config, data_dir)
}

#[track_caller]
fn assert_refused(result: &anyhow::Result<Instance>, needles: &[&str]) {
    let Err(error) = result else {
        panic!("the district started; expected a refusal naming {needles:?}");
    };
    let text = format!("{error:#}");
    for needle in needles {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
}

async fn a_district_takes_its_enrolled_unit_as_root(city: TestApp) {
    let unit = siming(&city).await;
    let credential = city.enroll("xm-siming", &unit.name).await;
    assert!(
        credential.starts_with("egret-enrollment.xm-siming."),
        "{credential}"
    );

    let district = city
        .spawn_district(
            &format!("{}::district", module_path!()),
            "xm-siming",
            &credential,
        )
        .await
        .expect("the city's backend is configured");
    assert_eq!(district.root, unit.name, "the same unit, under the same id");
    let root = district
        .org_units(&district.admin())
        .get_org_unit(pb::GetOrgUnitRequest {
            name: district.root.clone(),
        })
        .await
        .expect("the district's root")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(root.display_name, "思明区妇联");
    assert_eq!(root.tier, pb::Tier::Team as i32);
    assert_eq!(
        root.metadata
            .as_ref()
            .map(|meta| meta.origin_instance.as_str()),
        Some("xm"),
        "the root is the city's record"
    );

    // What the district registers is its own and nests under the root.
    let squad_parent = district
        .create_unit(
            &district.admin(),
            &district.root,
            pb::Tier::SubTeam,
            "莲前街道分队",
        )
        .await;
    assert_eq!(
        squad_parent
            .metadata
            .as_ref()
            .map(|meta| meta.origin_instance.as_str()),
        Some("xm-siming")
    );
    assert_eq!(
        squad_parent.ancestors,
        vec![unit.name.clone(), squad_parent.name.clone()]
    );

    // The root is the city's: the district may not change it.
    let refused = district
        .org_units(&district.admin())
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: district.root.clone(),
                display_name: "改名".to_string(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".to_string()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("the root belongs to the city");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("instance xm"), "{refused:?}");

    // A restart keeps the root (and checks the enrollment again).
    let listed = city
        .enrollments(&city.admin())
        .list_enrollments(gateway_pb::ListEnrollmentsRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .enrollments;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "enrollments/xm-siming");
    assert_eq!(listed[0].org_unit, unit.name);
    assert_eq!(listed[0].state, gateway_pb::EnrollmentState::Active as i32);
    district.stop().await;
    city.stop().await;
}

struct TestCase {
    name: &'static str,
    instance_id: &'static str,
    org_unit: String,
    token: String,
    code: Code,
    field: Option<&'static str>,
}

#[track_caller]
fn check(
    case: &TestCase,
    result: Result<tonic::Response<gateway_pb::CreateEnrollmentResponse>, tonic::Status>,
) {
    let status = match result {
        Ok(response) => panic!(
            "{}: enrolled {:?}",
            case.name,
            response.into_inner().enrollment
        ),
        Err(status) => status,
    };
    assert_eq!(status.code(), case.code, "{}: {status:?}", case.name);
    if let Some(field) = case.field {
        assert_eq!(
            violated_fields(&status),
            vec![field.to_string()],
            "{}",
            case.name
        );
        assert!(
            chinese_message(&status).is_some(),
            "{}: no Chinese",
            case.name
        );
    }
}

async fn bad_enrollments_name_the_field(city: TestApp) {
    let unit = siming(&city).await;
    city.enroll("xm-siming", &unit.name).await;
    let other = city
        .create_unit(&city.admin(), &city.root, pb::Tier::Team, "湖里区妇联")
        .await;
    let admin = city.admin();
    let cases = [
        TestCase {
            name: "an instance id with capitals",
            instance_id: "XM-Huli",
            org_unit: other.name.clone(),
            token: admin.clone(),
            code: Code::InvalidArgument,
            field: Some("enrollment.instance_id"),
        },
        TestCase {
            name: "the city's own id",
            instance_id: "xm",
            org_unit: other.name.clone(),
            token: admin.clone(),
            code: Code::InvalidArgument,
            field: Some("enrollment.instance_id"),
        },
        TestCase {
            name: "no unit",
            instance_id: "xm-huli",
            org_unit: String::new(),
            token: admin.clone(),
            code: Code::InvalidArgument,
            field: Some("enrollment.org_unit"),
        },
        TestCase {
            name: "a unit that does not exist",
            instance_id: "xm-huli",
            org_unit: "orgUnits/0190aaaa-0000-7000-8000-000000000000".to_string(),
            token: admin.clone(),
            code: Code::NotFound,
            field: None,
        },
        TestCase {
            name: "the root",
            instance_id: "xm-huli",
            org_unit: city.root.clone(),
            token: admin.clone(),
            code: Code::FailedPrecondition,
            field: None,
        },
        TestCase {
            name: "an instance id enrolled already",
            instance_id: "xm-siming",
            org_unit: other.name.clone(),
            token: admin.clone(),
            code: Code::AlreadyExists,
            field: None,
        },
        TestCase {
            name: "a unit with an active enrollment",
            instance_id: "xm-siming-2",
            org_unit: unit.name.clone(),
            token: admin.clone(),
            code: Code::AlreadyExists,
            field: None,
        },
        TestCase {
            name: "staff may not enroll",
            instance_id: "xm-huli",
            org_unit: other.name.clone(),
            token: city.token(&city.root, &[Role::Staff]),
            code: Code::PermissionDenied,
            field: None,
        },
        TestCase {
            name: "a district's admin may not enroll a unit outside it",
            instance_id: "xm-huli",
            org_unit: other.name.clone(),
            token: city.token(&unit.name, &[Role::Admin]),
            code: Code::NotFound,
            field: None,
        },
    ];
    for case in &cases {
        let result = city
            .enrollments(&case.token)
            .create_enrollment(gateway_pb::CreateEnrollmentRequest {
                enrollment: Some(gateway_pb::Enrollment {
                    instance_id: case.instance_id.to_string(),
                    org_unit: case.org_unit.clone(),
                    ..Default::default()
                }),
            })
            .await;
        check(case, result);
    }
    city.stop().await;
}

async fn wrong_and_revoked_enrollments_are_refused_on_both_sides(city: TestApp) {
    let unit = siming(&city).await;
    let credential = city.enroll("xm-siming", &unit.name).await;

    // A credential for another instance id is refused before anything is sent.
    let (config, _dir) = district(&city, "xm-huli", &credential);
    assert_refused(
        &Instance::build(config).await,
        &["instance.enrollment", "xm-siming", "xm-huli"],
    );
    // A credential whose secret is wrong is refused by the city.
    let forged = format!("egret-enrollment.xm-siming.{}", "A".repeat(43));
    let (config, _dir) = district(&city, "xm-siming", &forged);
    assert_refused(
        &Instance::build(config).await,
        &[
            "refused the enrollment",
            "no enrollment of instance xm-siming",
        ],
    );
    // A credential that is not one.
    let (config, _dir) = district(&city, "xm-siming", "hunter2");
    assert_refused(&Instance::build(config).await, &["instance.enrollment"]);

    // The grant's sync token is for the district's subtree: it reads no whole change log.
    let grant = city
        .enrollments("")
        .issue_sync_token(gateway_pb::IssueSyncTokenRequest {
            credential: credential.clone(),
        })
        .await
        .expect("the credential is good")
        .into_inner();
    assert_eq!(grant.instance_id, "xm-siming");
    assert_eq!(grant.upstream_instance_id, "xm");
    assert_eq!(
        grant.org_unit.map(|unit| unit.name),
        Some(unit.name.clone())
    );
    let read = city
        .change_log("registry", &grant.access_token)
        .list_changes(sync_pb::ListChangesRequest::default())
        .await
        .expect_err("a district's token reads no whole log");
    assert_eq!(read.code(), Code::PermissionDenied, "{read:?}");

    // Revoked: the city refuses the credential, and the district does not start.
    let revoked = city
        .enrollments(&city.admin())
        .revoke_enrollment(gateway_pb::RevokeEnrollmentRequest {
            name: "enrollments/xm-siming".to_string(),
        })
        .await
        .expect("revokes")
        .into_inner()
        .enrollment
        .expect("enrollment");
    assert_eq!(revoked.state, gateway_pb::EnrollmentState::Revoked as i32);
    assert!(revoked.revoke_time.is_some());
    let status = city
        .enrollments("")
        .issue_sync_token(gateway_pb::IssueSyncTokenRequest {
            credential: credential.clone(),
        })
        .await
        .expect_err("revoked");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(chinese_message(&status).is_some_and(|text| text.contains("撤销")));
    let (config, _dir) = district(&city, "xm-siming", &credential);
    assert_refused(
        &Instance::build(config).await,
        &["refused the enrollment", "revoked"],
    );
    // The unit may be enrolled anew once its enrollment is revoked.
    let again = city.enroll("xm-siming-2", &unit.name).await;
    assert!(again.starts_with("egret-enrollment.xm-siming-2."));
    city.stop().await;
}

async fn a_districts_units_reach_the_city_as_read_only_copies(city: TestApp) {
    let unit = siming(&city).await;
    let credential = city.enroll("xm-siming", &unit.name).await;
    let district = city
        .spawn_district(
            &format!("{}::district", module_path!()),
            "xm-siming",
            &credential,
        )
        .await
        .expect("the city's backend is configured");
    let street = district
        .create_unit(
            &district.admin(),
            &district.root,
            pb::Tier::SubTeam,
            "莲前街道分队",
        )
        .await;

    let copy = eventually("the district's sub-team at the city", || {
        unit_at(&city, &street.name)
    })
    .await;
    assert_eq!(copy.display_name, "莲前街道分队");
    assert_eq!(
        copy.ancestors,
        vec![city.root.clone(), unit.name.clone(), street.name.clone()],
        "nested under the enrolled unit in the city's tree"
    );
    assert_eq!(
        copy.metadata
            .as_ref()
            .map(|meta| meta.origin_instance.as_str()),
        Some("xm-siming")
    );
    let form = city
        .org_units(&city.admin())
        .get_registration_form(pb::GetRegistrationFormRequest {
            name: format!("{}/registrationForm", street.name),
            reveal_personal_data: false,
        })
        .await
        .expect("its registration form came too")
        .into_inner()
        .registration_form
        .expect("form");
    assert!(form.archive_number.starts_with("XM-SIMING-"), "{form:?}");
    assert_eq!(
        form.metadata
            .as_ref()
            .map(|meta| meta.origin_instance.as_str()),
        Some("xm-siming")
    );

    // The link proves it is caught up: the district's head is applied.
    let link = eventually("the link caught up", || async {
        link_of(&city, "xm-siming").await.filter(|link| {
            link.state == sync_pb::LinkState::Ok as i32 && link.acknowledged_sequence > 0
        })
    })
    .await;
    assert_eq!(link.acknowledged_sequence, link.head_sequence, "{link:?}");
    assert_eq!(link.service, "registry");
    assert!(link.heartbeat_time.is_some());

    // The city counts it, as the district does.
    let at_city = teams(&city, &unit.name).await;
    assert_eq!(at_city, teams(&district, &district.root).await);
    assert_eq!(at_city, 2, "the district's unit and its sub-team");

    // Only the district changes it: the city's write names the owner.
    let refused = city
        .org_units(&city.admin())
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: street.name.clone(),
                display_name: "市里改名".to_string(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".to_string()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("a district's record is read-only at the city");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("xm-siming"), "{refused:?}");

    // A change at the district follows.
    district
        .org_units(&district.admin())
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: street.name.clone(),
                display_name: "莲前街道巾帼志愿分队".to_string(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".to_string()],
            }),
            ..Default::default()
        })
        .await
        .expect("the district renames its own unit");
    eventually("the new name at the city", || async {
        unit_at(&city, &street.name)
            .await
            .filter(|copy| copy.display_name == "莲前街道巾帼志愿分队")
    })
    .await;

    // The district's health and its status of each link say whether they work: an alarm
    // once the city is gone.
    assert_eq!(
        upstream_health(&district).await,
        ServingStatus::Serving as i32
    );
    let links = eventually("every link caught up", || async {
        Some(upstream_status(&district).await).filter(|links| {
            links
                .iter()
                .all(|link| !link.alarm && link.acknowledged_sequence == link.head_sequence)
        })
    })
    .await;
    let mut services: Vec<&str> = links.iter().map(|link| link.service.as_str()).collect();
    services.sort_unstable();
    assert_eq!(
        services,
        ["activity", "recognition", "registry", "reporting"]
    );
    city.stop().await;
    eventually("the alarm at the district", || async {
        (upstream_health(&district).await == ServingStatus::NotServing as i32).then_some(())
    })
    .await;
    // (The first alarm may be a pull's; each push's follows.)
    eventually("every push in alarm", || async {
        let links = upstream_status(&district).await;
        links
            .iter()
            .all(|link| link.alarm && !link.last_error.is_empty() && link.failing_for.is_some())
            .then_some(())
    })
    .await;
    // What comes down fails too, and says so.
    let links = eventually("the downward alarm at the district", || async {
        let links = upstream_status(&district).await;
        links
            .iter()
            .filter_map(|link| link.downward.as_ref())
            .all(|pull| pull.alarm && !pull.last_error.is_empty() && pull.failing_for.is_some())
            .then_some(links)
    })
    .await;
    assert_eq!(
        links.iter().filter(|link| link.downward.is_some()).count(),
        3,
        "{links:?}"
    );
    // Staff read it; a volunteer may not.
    let refused = district
        .enrollments(&district.volunteer_token(&district.root, "volunteers/someone"))
        .get_upstream_status(gateway_pb::GetUpstreamStatusRequest {})
        .await
        .expect_err("volunteers do not read the links");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    district.stop().await;
}

/// The district's links as its staff see them.
async fn upstream_status(district: &TestApp) -> Vec<gateway_pb::ServiceLink> {
    district
        .enrollments(&district.token(&district.root, &[Role::Staff]))
        .get_upstream_status(gateway_pb::GetUpstreamStatusRequest {})
        .await
        .expect("staff read the links")
        .into_inner()
        .links
}

async fn upstream_health(district: &TestApp) -> i32 {
    health(district, egret_gateway::UPSTREAM_HEALTH).await
}

/// The health status of `name` at `app`; UNKNOWN (0) before it is reported.
async fn health(app: &TestApp, name: &str) -> i32 {
    tonic_health::pb::health_client::HealthClient::new(app.channel.clone())
        .check(tonic_health::pb::HealthCheckRequest {
            service: name.to_string(),
        })
        .await
        .map_or(0, |answer| answer.into_inner().status)
}

/// A change of an org unit as a district would push it.
fn unit_change(sequence: i64, origin: &str, id: &str, path: &str, parent: &str) -> sync_pb::Change {
    sync_pb::Change {
        sequence,
        resource_name: format!("orgUnits/{id}"),
        resource_type: "egret.registry.v1.OrgUnit".to_string(),
        operation: egret_proto::common::v1::ChangeOperation::Create as i32,
        origin_instance: origin.to_string(),
        record: Some(sync_pb::Record {
            kind: Some(sync_pb::record::Kind::OrgUnit(sync_pb::OrgUnit {
                id: id.to_string(),
                parent_id: Some(parent.to_string()),
                path: path.to_string(),
                tier: "sub_team".to_string(),
                status: "active".to_string(),
                display_name: format!("分队 {sequence}"),
                level: 4,
                meta: Some(sync_pb::Meta {
                    origin_instance: origin.to_string(),
                    version: 1,
                    create_time: 1,
                    update_time: 1,
                }),
                ..Default::default()
            })),
        }),
        ..Default::default()
    }
}

/// A district's legal basis for sending full records.
const LEGAL_BASIS: &str =
    "《个人信息保护法》第十三条第一款第一项：志愿者登记时书面同意其信息报送市妇联";

/// A volunteer change at sequence 4 of xm-siming's registry log.
fn volunteer_change(volunteer: sync_pb::Volunteer) -> sync_pb::Change {
    sync_pb::Change {
        sequence: 4,
        origin_instance: "xm-siming".to_string(),
        resource_type: "egret.registry.v1.Volunteer".to_string(),
        record: Some(sync_pb::Record {
            kind: Some(sync_pb::record::Kind::Volunteer(volunteer)),
        }),
        ..Default::default()
    }
}

struct PushCase {
    name: &'static str,
    token: String,
    batch: sync_pb::PushChangesRequest,
    code: Code,
    message_has: &'static str,
}

async fn pushed_batches_are_checked(city: TestApp) {
    let unit = siming(&city).await;
    let other = city
        .create_unit(&city.admin(), &city.root, pb::Tier::Team, "湖里区妇联")
        .await;
    let credential = city.enroll("xm-siming", &unit.name).await;
    let token = city
        .enrollments("")
        .issue_sync_token(gateway_pb::IssueSyncTokenRequest { credential })
        .await
        .expect("a sync token")
        .into_inner()
        .access_token;
    let district_id = unit.name.trim_start_matches("orgUnits/").to_string();
    let other_id = other.name.trim_start_matches("orgUnits/").to_string();
    let new_id = || egret_storage::new_id();
    let push = |token: &str, batch: sync_pb::PushChangesRequest| {
        let mut request = tonic::Request::new(batch);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
        request
            .metadata_mut()
            .insert("egret-service", "registry".parse().expect("ascii"));
        let channel = city.channel.clone();
        async move {
            sync_pb::upward_service_client::UpwardServiceClient::new(channel)
                .push_changes(request)
                .await
        }
    };

    // A good batch applies once; sent again, it is refused with where to go on.
    let first = new_id();
    let good = sync_pb::PushChangesRequest {
        after_sequence: 0,
        last_sequence: 3,
        changes: vec![unit_change(
            2,
            "xm-siming",
            &first,
            &format!("/{district_id}/{first}/"),
            &district_id,
        )],
        head_sequence: 3,
        projection: "minimal/v1".to_string(),
        ..Default::default()
    };
    let answer = push(&token, good.clone())
        .await
        .expect("applies")
        .into_inner();
    assert_eq!(answer.acknowledged_sequence, 3);
    let again = push(&token, good).await.expect_err("a duplicate");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert_eq!(egret_runtime::error::expected_sequence(&again), Some(3));
    let copy = unit_at(&city, &format!("orgUnits/{first}"))
        .await
        .expect("applied");
    assert_eq!(copy.ancestors.len(), 3, "{copy:?}");

    let batch = |changes: Vec<sync_pb::Change>| sync_pb::PushChangesRequest {
        after_sequence: 3,
        last_sequence: 10,
        changes,
        head_sequence: 10,
        projection: "minimal/v1".to_string(),
        ..Default::default()
    };
    let x = new_id();
    let cases = [
        PushCase {
            name: "a gap",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                after_sequence: 7,
                ..batch(vec![])
            },
            code: Code::FailedPrecondition,
            message_has: "after sequence 3",
        },
        PushCase {
            name: "another instance's record",
            token: token.clone(),
            batch: batch(vec![unit_change(
                4,
                "xm",
                &x,
                &format!("/{district_id}/{x}/"),
                &district_id,
            )]),
            code: Code::PermissionDenied,
            message_has: "pushes only its own records",
        },
        PushCase {
            name: "a unit outside the district",
            token: token.clone(),
            batch: batch(vec![unit_change(
                4,
                "xm-siming",
                &x,
                &format!("/{other_id}/{x}/"),
                &other_id,
            )]),
            code: Code::PermissionDenied,
            message_has: "outside the subtree",
        },
        PushCase {
            name: "the enrolled unit itself",
            token: token.clone(),
            batch: batch(vec![unit_change(
                4,
                "xm-siming",
                &district_id,
                &format!("/{district_id}/"),
                &district_id,
            )]),
            code: Code::PermissionDenied,
            message_has: "outside the subtree",
        },
        PushCase {
            name: "out of order",
            token: token.clone(),
            batch: batch(vec![
                unit_change(
                    6,
                    "xm-siming",
                    &x,
                    &format!("/{district_id}/{x}/"),
                    &district_id,
                ),
                unit_change(
                    5,
                    "xm-siming",
                    &new_id(),
                    &format!("/{district_id}/{x}/"),
                    &district_id,
                ),
            ]),
            code: Code::InvalidArgument,
            message_has: "changes",
        },
        PushCase {
            name: "a tally past the batch",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                tally: Some(sync_pb::RecordTally {
                    sequence: 11,
                    kinds: vec![],
                }),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "tally",
        },
        PushCase {
            name: "a tally with a negative count",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                tally: Some(sync_pb::RecordTally {
                    sequence: 10,
                    kinds: vec![sync_pb::KindTally {
                        resource_type: "egret.registry.v1.OrgUnit".to_string(),
                        records: -1,
                        version_sum: 0,
                    }],
                }),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "tally",
        },
        PushCase {
            name: "a kind the registry does not take (an activity in its log)",
            token: token.clone(),
            batch: batch(vec![sync_pb::Change {
                sequence: 4,
                origin_instance: "xm-siming".to_string(),
                resource_type: "egret.activity.v1.Activity".to_string(),
                record: Some(sync_pb::Record {
                    kind: Some(sync_pb::record::Kind::Activity(Default::default())),
                }),
                ..Default::default()
            }]),
            code: Code::Unimplemented,
            message_has: "egret.activity.v1.Activity",
        },
        PushCase {
            name: "a field outside the upward projection",
            token: token.clone(),
            batch: batch(vec![sync_pb::Change {
                sequence: 4,
                origin_instance: "xm-siming".to_string(),
                resource_type: "egret.registry.v1.Volunteer".to_string(),
                record: Some(sync_pb::Record {
                    kind: Some(sync_pb::record::Kind::Volunteer(sync_pb::Volunteer {
                        id_number_hash: "a district's own lookup hash".to_string(),
                        ..Default::default()
                    })),
                }),
                ..Default::default()
            }]),
            code: Code::InvalidArgument,
            message_has: "outside the upward projection",
        },
        PushCase {
            name: "a plaintext ID number in minimal/v1",
            token: token.clone(),
            batch: batch(vec![volunteer_change(sync_pb::Volunteer {
                id_number: volunteer_input(61).id_number,
                ..Default::default()
            })]),
            code: Code::InvalidArgument,
            message_has: "changes[0].record.volunteer.id_number",
        },
        PushCase {
            name: "an unmasked phone in minimal/v1",
            token: token.clone(),
            batch: batch(vec![volunteer_change(sync_pb::Volunteer {
                phone: volunteer_input(61).phone,
                ..Default::default()
            })]),
            code: Code::InvalidArgument,
            message_has: "changes[0].record.volunteer.phone",
        },
        PushCase {
            name: "a key member's unmasked phone in minimal/v1",
            token: token.clone(),
            batch: batch(vec![sync_pb::Change {
                sequence: 4,
                origin_instance: "xm-siming".to_string(),
                resource_type: "egret.registry.v1.RegistrationForm".to_string(),
                record: Some(sync_pb::Record {
                    kind: Some(sync_pb::record::Kind::RegistrationForm(
                        sync_pb::RegistrationForm {
                            phone: "138****8000".to_string(),
                            key_members: vec![sync_pb::registration_form::KeyMember {
                                phone: "13800138000".to_string(),
                                ..Default::default()
                            }],
                            ..Default::default()
                        },
                    )),
                }),
                ..Default::default()
            }]),
            code: Code::InvalidArgument,
            message_has: "changes[0].record.registration_form.key_members[0].phone",
        },
        PushCase {
            name: "full records without a legal basis",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                projection: "full/v1".to_string(),
                legal_basis: "  ".to_string(),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "legal_basis",
        },
        PushCase {
            name: "a legal basis over 500 characters",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                projection: "full/v1".to_string(),
                legal_basis: "依".repeat(501),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "legal_basis",
        },
        PushCase {
            name: "a legal basis with minimal records",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                legal_basis: LEGAL_BASIS.to_string(),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "legal_basis",
        },
        PushCase {
            name: "another projection",
            token: token.clone(),
            batch: sync_pb::PushChangesRequest {
                projection: "everything/v0".to_string(),
                ..batch(vec![])
            },
            code: Code::InvalidArgument,
            message_has: "projection",
        },
        PushCase {
            name: "the city's own sync token",
            token: city.token("", &[Role::Sync]),
            batch: batch(vec![]),
            code: Code::PermissionDenied,
            message_has: "enrolled district",
        },
        PushCase {
            name: "an admin",
            token: city.admin(),
            batch: batch(vec![]),
            code: Code::PermissionDenied,
            message_has: "",
        },
    ];
    for case in &cases {
        let status = push(&case.token, case.batch.clone())
            .await
            .expect_err(case.name);
        assert_eq!(status.code(), case.code, "{}: {status:?}", case.name);
        assert!(
            status.message().contains(case.message_has),
            "{}: {status:?}",
            case.name
        );
    }
    // Nothing of the refused batches was applied, and the checkpoint did not move.
    assert!(unit_at(&city, &format!("orgUnits/{x}")).await.is_none());
    let link = link_of(&city, "xm-siming").await.expect("the link");
    assert_eq!(link.projection, "minimal/v1", "{link:?}");
    let after = push(
        &token,
        sync_pb::PushChangesRequest {
            projection: "full/v1".to_string(),
            legal_basis: LEGAL_BASIS.to_string(),
            ..batch(vec![])
        },
    )
    .await
    .expect("the checkpoint is still 3");
    assert_eq!(after.into_inner().acknowledged_sequence, 10);
    // The city records what the district sends, and on what basis.
    let link = link_of(&city, "xm-siming").await.expect("the link");
    assert_eq!(
        (link.projection.as_str(), link.legal_basis.as_str()),
        ("full/v1", LEGAL_BASIS)
    );
    city.stop().await;
}

async fn volunteer_at(app: &TestApp, name: &str) -> Option<pb::Volunteer> {
    app.volunteers(&app.admin())
        .get_volunteer(pb::GetVolunteerRequest {
            name: name.to_string(),
            ..Default::default()
        })
        .await
        .ok()
        .and_then(|response| response.into_inner().volunteer)
}

async fn a_districts_volunteers_reach_the_city_minimised(city: TestApp) {
    let (siming_unit, siming) = enrolled_district(&city, "思明区妇联", "xm-siming").await;
    let (huli_unit, huli) = enrolled_district(&city, "湖里区妇联", "xm-huli").await;

    // The same person registers in both districts; another only in one.
    let both = volunteer_input(41);
    let in_siming = siming.register(&siming.admin(), &siming.root, 41).await;
    let in_huli = huli.register(&huli.admin(), &huli.root, 41).await;
    let other = siming.register(&siming.admin(), &siming.root, 42).await;

    for (name, district) in [
        (&in_siming.name, "xm-siming"),
        (&in_huli.name, "xm-huli"),
        (&other.name, "xm-siming"),
    ] {
        let copy = eventually("the district's volunteer at the city", || {
            volunteer_at(&city, name)
        })
        .await;
        assert_eq!(
            copy.metadata
                .as_ref()
                .map(|meta| meta.origin_instance.as_str()),
            Some(district)
        );
        assert!(copy.id_number.contains('*'), "masked at the city: {copy:?}");
    }
    let copy = volunteer_at(&city, &in_siming.name).await.expect("held");
    assert_eq!(copy.display_name, both.display_name);
    assert!(!copy.phone.contains(&both.phone), "{copy:?}");

    // The city's figures for each district are the district's own.
    for (unit, district) in [(&siming_unit, &siming), (&huli_unit, &huli)] {
        let at_city = overview(&city, &unit.name).await;
        let at_district = overview(district, &district.root).await;
        assert_eq!(
            (at_city.teams, at_city.volunteers),
            (at_district.teams, at_district.volunteers),
            "{}",
            unit.display_name
        );
    }
    assert_eq!(overview(&city, &siming_unit.name).await.volunteers, 2);
    // Over the whole tree the registrations are the districts' sum, and the person
    // registered in both counts once among the people.
    let whole = overview(&city, &city.root).await;
    assert_eq!((whole.volunteers, whole.people), (3, 2), "{whole:?}");
    assert_eq!(overview(&huli, &huli.root).await.people, 1);

    // The city lists the person registered in both districts, masked, and no one else.
    let shared = |token: String| {
        let city = &city;
        async move {
            city.volunteers(&token)
                .list_shared_volunteers(pb::ListSharedVolunteersRequest::default())
                .await
                .expect("lists")
                .into_inner()
                .people
        }
    };
    let people = shared(city.admin()).await;
    assert_eq!(people.len(), 1, "{people:?}");
    let mut names: Vec<&str> = people[0]
        .volunteers
        .iter()
        .map(|volunteer| volunteer.name.as_str())
        .collect();
    names.sort_unstable();
    let mut expected = vec![in_siming.name.as_str(), in_huli.name.as_str()];
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(people[0].person.len(), 16);
    assert!(
        people[0]
            .volunteers
            .iter()
            .all(|volunteer| volunteer.id_number.contains('*'))
    );
    // Seen from one district's subtree, the person is registered once.
    assert!(
        shared(city.token(&siming_unit.name, &[Role::Viewer]))
            .await
            .is_empty()
    );

    // A district not configured for full records reads its own log only as logged.
    let sync = siming.token(&siming.root, &[Role::Sync]);
    for (projection, code) in [
        ("full/v1", Code::FailedPrecondition),
        ("everything/v0", Code::InvalidArgument),
    ] {
        let refused = siming
            .change_log("registry", &sync)
            .list_changes(sync_pb::ListChangesRequest {
                projection: projection.to_string(),
                ..Default::default()
            })
            .await
            .expect_err(projection);
        assert_eq!(refused.code(), code, "{projection}: {refused:?}");
    }
    let link = link_of(&city, "xm-siming").await.expect("the link");
    assert_eq!(
        (link.projection.as_str(), link.legal_basis.as_str()),
        ("minimal/v1", "")
    );

    // The city holds no ID number to reveal, and says where it is.
    let refused = city
        .volunteers(&city.admin())
        .get_volunteer(pb::GetVolunteerRequest {
            name: in_siming.name.clone(),
            reveal_personal_data: true,
        })
        .await
        .expect_err("the number stayed in the district");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("xm-siming"), "{refused:?}");

    // The city's change log carries the federation hash, the same for the same person in
    // both districts, and no lookup hash and no plaintext anywhere.
    let log = city
        .change_log("registry", &city.token(&city.root, &[Role::Sync]))
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 0,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("the city's registry log")
        .into_inner()
        .changes;
    let federation_hash = |name: &str| {
        log.iter()
            .filter(|change| change.resource_name == name)
            .find_map(|change| match change.record.as_ref()?.kind.as_ref()? {
                sync_pb::record::Kind::Volunteer(volunteer) => Some(volunteer.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name} in the city's log"))
    };
    let (a, b, c) = (
        federation_hash(&in_siming.name),
        federation_hash(&in_huli.name),
        federation_hash(&other.name),
    );
    assert!(!a.id_number_federation_hash.is_empty());
    assert_eq!(
        a.id_number_federation_hash, b.id_number_federation_hash,
        "one person"
    );
    assert_ne!(a.id_number_federation_hash, c.id_number_federation_hash);
    for volunteer in [&a, &b, &c] {
        assert!(volunteer.id_number_hash.is_empty(), "{volunteer:?}");
    }
    for change in &log {
        let text = egret_tests::record_text(change);
        for person in [volunteer_input(41), volunteer_input(42)] {
            assert!(!text.contains(&person.id_number), "plaintext ID in {text}");
            assert!(!text.contains(&person.phone), "plaintext phone in {text}");
        }
    }
    // Nor in any file of the city's (SQLite keeps everything under the data directory).
    if city.backend == egret_tests::Backend::Sqlite {
        let mut files = vec![city.data_dir().to_path_buf()];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(
                    std::fs::read_dir(&path)
                        .expect("dir")
                        .map(|entry| entry.expect("entry").path()),
                );
                continue;
            }
            let bytes = std::fs::read(&path).expect("file");
            for person in [volunteer_input(41), volunteer_input(42)] {
                let found = bytes
                    .windows(person.id_number.len())
                    .any(|window| window == person.id_number.as_bytes());
                assert!(!found, "plaintext ID in {}", path.display());
            }
        }
    }
    siming.stop().await;
    huli.stop().await;
    city.stop().await;
}

/// The unmasked reads of `resource` at `app`, as its root admin sees them.
async fn audit_entries(app: &TestApp, resource: &str) -> Vec<pb::AuditEntry> {
    app.records(&app.admin())
        .list_audit_entries(pb::ListAuditEntriesRequest {
            resource: resource.to_string(),
            ..Default::default()
        })
        .await
        .expect("the admin reads the audit log")
        .into_inner()
        .audit_entries
}

async fn a_district_with_a_legal_basis_sends_full_records(city: TestApp) {
    let unit = city
        .create_unit(&city.admin(), &city.root, pb::Tier::Team, "集美区妇联")
        .await;
    let credential = city.enroll("xm-jimei", &unit.name).await;
    let jimei = city
        .spawn_district_with(
            &format!("{}::xm-jimei", module_path!()),
            "xm-jimei",
            &credential,
            |config| {
                config.common.instance.upward_projection =
                    egret_runtime::config::UpwardProjection::Full;
                config.common.instance.legal_basis = LEGAL_BASIS.to_string();
            },
        )
        .await
        .expect("the city's backend is configured");
    let person = volunteer_input(71);
    let volunteer = jimei.register(&jimei.admin(), &jimei.root, 71).await;

    // The copy at the city is masked for anyone who looks, as any record is.
    let copy = eventually("the district's volunteer at the city", || {
        volunteer_at(&city, &volunteer.name)
    })
    .await;
    assert!(copy.id_number.contains('*'), "{copy:?}");
    assert!(!copy.phone.contains(&person.phone), "{copy:?}");
    // The city recorded the choice and its basis.
    let link = link_of(&city, "xm-jimei").await.expect("the link");
    assert_eq!(
        (link.projection.as_str(), link.legal_basis.as_str()),
        ("full/v1", LEGAL_BASIS)
    );
    // City staff with the right reveal the number and contacts, audited at the city.
    let revealed = city
        .volunteers(&city.admin())
        .get_volunteer(pb::GetVolunteerRequest {
            name: volunteer.name.clone(),
            reveal_personal_data: true,
        })
        .await
        .expect("a full copy is revealed at the city")
        .into_inner()
        .volunteer
        .expect("the volunteer");
    assert_eq!(
        (revealed.id_number.as_str(), revealed.phone.as_str()),
        (person.id_number.as_str(), person.phone.as_str())
    );
    let at_city = audit_entries(&city, &volunteer.name).await;
    assert!(
        at_city.iter().any(|entry| entry.method == "GetVolunteer"),
        "{at_city:?}"
    );
    // The district audited the read of its link that sent them up.
    let at_district = audit_entries(&jimei, &volunteer.name).await;
    let sent = at_district
        .iter()
        .find(|entry| entry.method.contains("full/v1"))
        .unwrap_or_else(|| panic!("the upward read is audited: {at_district:?}"));
    assert!(
        sent.fields.iter().any(|field| field == "id_number"),
        "{sent:?}"
    );

    // Still, no plaintext goes into the city's own change log, which its services and
    // other readers follow.
    let log = city
        .change_log("registry", &city.token(&city.root, &[Role::Sync]))
        .list_changes(sync_pb::ListChangesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("the city's registry log")
        .into_inner()
        .changes;
    for change in &log {
        let text = egret_tests::record_text(change);
        assert!(!text.contains(&person.id_number), "plaintext ID in {text}");
        assert!(!text.contains(&person.phone), "plaintext phone in {text}");
    }
    jimei.stop().await;
    city.stop().await;
}

/// The figures of an overview that the districts' records make up.
fn figures(overview: &reporting_pb::GetOverviewResponse) -> [(&'static str, i64); 8] {
    [
        ("teams", overview.teams),
        ("volunteers", overview.volunteers),
        ("activities", overview.activities),
        ("approved_minutes", overview.approved_minutes),
        ("service_records", overview.service_records),
        ("trained_volunteers", overview.trained_volunteers),
        ("insured_volunteers", overview.insured_volunteers),
        ("commendations", overview.commendations),
    ]
}

async fn a_districts_activities_hours_and_certificates_reach_the_city(city: TestApp) {
    let siming_unit = siming(&city).await;
    let credential = city.enroll("xm-siming", &siming_unit.name).await;
    let siming = city
        .spawn_district(module_path!(), "xm-siming", &credential)
        .await
        .expect("the city's backend is configured");
    let admin = siming.admin();
    let team = siming
        .create_unit(
            &admin,
            &siming.root,
            pb::Tier::SubTeam,
            "曾厝垵巾帼服务分队",
        )
        .await;
    let volunteer = siming.register(&admin, &team.name, 51).await;
    let leader = siming.token(&team.name, &[Role::TeamLeader]);
    let own = siming.volunteer_token(&siming.root, &volunteer.name);
    let activity = siming
        .create_activity(&leader, &team.name, "社区敬老探访", 1)
        .await;
    let sign_up = siming
        .publish_and_sign_up(&leader, &own, &activity, &volunteer.name)
        .await;
    let records = siming
        .import_hours(&admin, &team.name, &volunteer.name, &[(3, 150), (2, 90)])
        .await;

    // The activity, the sign-up and the hours reach the city as the district's copies.
    let copy = eventually("the district's activity at the city", || {
        let city = &city;
        let name = activity.name.clone();
        async move {
            city.activities(&city.admin())
                .get_activity(activity_pb::GetActivityRequest { name })
                .await
                .ok()
                .map(|response| response.into_inner().activity.expect("activity"))
                .filter(|copy| copy.state == activity_pb::ActivityState::Published as i32)
        }
    })
    .await;
    assert_eq!(copy.display_name, "社区敬老探访");
    assert_eq!(
        copy.metadata
            .as_ref()
            .map(|meta| meta.origin_instance.as_str()),
        Some("xm-siming")
    );
    let at_district =
        eventually("the district's figures count the hours", || {
            let siming = &siming;
            async move {
                Some(overview(siming, &siming.root).await).filter(|at| at.approved_minutes == 240)
            }
        })
        .await;
    let at_city = eventually("the city's figures equal the district's", || {
        let (city, unit, expected) = (&city, &siming_unit.name, figures(&at_district));
        async move {
            let at_city = overview(city, unit).await;
            (figures(&at_city) == expected).then_some(at_city)
        }
    })
    .await;
    assert_eq!(at_city.activities, 1);
    assert_eq!(at_city.service_records, records.len() as i64);
    let held = city
        .sign_ups(&city.admin())
        .get_sign_up(activity_pb::GetSignUpRequest {
            name: sign_up.name.clone(),
        })
        .await
        .expect("the sign-up's copy")
        .into_inner()
        .sign_up
        .expect("sign-up");
    assert_eq!(held.volunteer, volunteer.name);

    // A certificate the district issues checks out at the city, under the district's
    // signature, until the district revokes it.
    let staff = siming.token(&team.name, &[Role::Staff]);
    let day = |days_ago| {
        let day = egret_tests::days_before(egret_runtime::wire::today(), days_ago);
        Some(egret_runtime::wire::date_to_wire(day))
    };
    let certificate = siming
        .certificates(&staff)
        .issue_certificate(recognition_pb::IssueCertificateRequest {
            volunteer: volunteer.name.clone(),
            period_start: day(10),
            period_end: day(0),
            person_in_charge: "王主任".to_string(),
            handler: "李经办".to_string(),
            handler_contact: "0592-2033990".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .expect("the district issues a certificate")
        .into_inner()
        .certificate
        .expect("certificate");
    assert!(certificate.serial_number.starts_with("XM-SIMING-"));
    let check_at_city = |signature: String| {
        let (city, payload) = (&city, certificate.signed_payload.clone());
        async move {
            city.certificates("")
                .verify_certificate(recognition_pb::VerifyCertificateRequest {
                    signed_payload: payload,
                    signature,
                })
                .await
                .expect("verification needs no token")
                .into_inner()
        }
    };
    let checked = eventually("the certificate checks out at the city", || {
        let check = check_at_city(certificate.signature.clone());
        async move { Some(check.await).filter(|checked| checked.valid) }
    })
    .await;
    assert_eq!(checked.serial_number, certificate.serial_number);
    let mut forged = certificate.signature.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    let forged = check_at_city(String::from_utf8(forged).expect("ascii")).await;
    assert!(!forged.valid, "{forged:?}");
    siming
        .certificates(&staff)
        .revoke_certificate(recognition_pb::RevokeCertificateRequest {
            name: certificate.name.clone(),
            reason: "开具有误".to_string(),
        })
        .await
        .expect("the district revokes it");
    let revoked = eventually("the revocation at the city", || {
        let check = check_at_city(certificate.signature.clone());
        async move {
            Some(check.await)
                .filter(|checked| checked.state == recognition_pb::CertificateState::Revoked as i32)
        }
    })
    .await;
    assert!(!revoked.valid);

    // The district's annual report (its unit is a team of the city's corps) reaches the
    // city as written.
    let year = egret_runtime::wire::today().year - 1;
    let report_name = format!("{}/annualReports/{year}", siming.root);
    siming
        .annual_reports(&siming.token(&siming.root, &[Role::TeamLeader]))
        .update_annual_report(reporting_pb::UpdateAnnualReportRequest {
            annual_report: Some(reporting_pb::AnnualReport {
                name: report_name.clone(),
                highlights: "全年开展助老服务".to_string(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["highlights".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect("the team writes its report");
    let report = eventually("the annual report at the city", || {
        let (city, name) = (&city, report_name.clone());
        async move {
            city.annual_reports(&city.admin())
                .get_annual_report(reporting_pb::GetAnnualReportRequest { name })
                .await
                .ok()
                .and_then(|response| response.into_inner().annual_report)
                .filter(|report| report.metadata.is_some())
        }
    })
    .await;
    assert_eq!(report.highlights, "全年开展助老服务");

    // The copies are read-only at the city, which names their owner.
    let refused = city
        .activities(&city.admin())
        .cancel_activity(activity_pb::CancelActivityRequest {
            name: activity.name.clone(),
            reason: "试图在市级实例取消".to_string(),
        })
        .await
        .expect_err("the activity is the district's");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(refused.message().contains("xm-siming"), "{refused:?}");
}

/// Every figure of an overview, each bucket of each breakdown as its own figure.
fn all_figures(
    overview: &reporting_pb::GetOverviewResponse,
) -> std::collections::BTreeMap<String, i64> {
    let mut all: std::collections::BTreeMap<String, i64> = figures(overview)
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    all.insert("people".to_string(), overview.people);
    for (name, buckets) in [
        ("teams_by_tier", &overview.teams_by_tier),
        ("volunteers_by_gender", &overview.volunteers_by_gender),
        ("volunteers_by_age_band", &overview.volunteers_by_age_band),
        ("activities_by_theme", &overview.activities_by_theme),
        ("star_ratings_by_stars", &overview.star_ratings_by_stars),
    ] {
        for bucket in buckets {
            *all.entry(format!("{name}/{}", bucket.keys.join("/")))
                .or_default() += bucket.value;
        }
    }
    all
}

/// Some work at `app` under `unit`: a team of `tier`, two volunteers (seeds `seed` and
/// `seed + 1`), a published activity, and hours.
async fn some_work(app: &TestApp, unit: &str, tier: pb::Tier, seed: u32, minutes: i64) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, unit, tier, &format!("服务队{seed}"))
        .await;
    let first = app.register(&admin, &team.name, seed).await;
    app.register(&admin, &team.name, seed + 1).await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let activity = app
        .create_activity(&leader, &team.name, "社区敬老探访", 2)
        .await;
    app.activities(&leader)
        .publish_activity(activity_pb::PublishActivityRequest {
            name: activity.name,
        })
        .await
        .expect("publishes");
    app.import_hours(&admin, &team.name, &first.name, &[(4, minutes), (2, 30)])
        .await;
}

/// The overview of `unit` at `app` once it counts `minutes` approved minutes.
async fn settled(app: &TestApp, unit: &str, minutes: i64) -> reporting_pb::GetOverviewResponse {
    eventually("the part's own figures", || async move {
        Some(overview(app, unit).await).filter(|at| at.approved_minutes == minutes)
    })
    .await
}

async fn the_citys_figures_are_the_union_of_its_own_and_the_districts(city: TestApp) {
    let (_, siming) = enrolled_district(&city, "思明区妇联", "xm-siming").await;
    let (_, huli) = enrolled_district(&city, "湖里区妇联", "xm-huli").await;
    let own_unit = city
        .create_unit(
            &city.admin(),
            &city.root,
            pb::Tier::Team,
            "市直机关巾帼服务队",
        )
        .await;
    some_work(&city, &own_unit.name, pb::Tier::SubTeam, 61, 100).await;
    some_work(&siming, &siming.root, pb::Tier::SubTeam, 63, 200).await;
    some_work(&siming, &siming.root, pb::Tier::SubTeam, 65, 300).await;
    some_work(&huli, &huli.root, pb::Tier::SubTeam, 67, 400).await;

    // Each part's own figures, once its own reporting has counted them.
    let parts = [
        settled(&city, &own_unit.name, 130).await,
        settled(&siming, &siming.root, 560).await,
        settled(&huli, &huli.root, 430).await,
    ];
    let mut union = std::collections::BTreeMap::<String, i64>::new();
    for part in &parts {
        for (name, value) in all_figures(part) {
            *union.entry(name).or_default() += value;
        }
    }
    union.retain(|_, value| *value != 0);
    let whole = eventually("the city's figures equal the union", || {
        let (city, union) = (&city, &union);
        async move {
            let mut whole = all_figures(&overview(city, &city.root).await);
            whole.retain(|_, value| *value != 0);
            (whole == *union).then_some(whole)
        }
    })
    .await;
    for (figure, expected) in [
        ("approved_minutes", 130 + 560 + 430),
        ("activities", 4),
        ("people", 8),
    ] {
        assert_eq!(whole.get(figure), Some(&expected), "{figure}: {whole:?}");
    }
}

/// A project of the city's `org_unit` over the next 90 days.
async fn city_project(city: &TestApp, org_unit: &str, display_name: &str) -> activity_pb::Project {
    let today = egret_runtime::wire::today();
    city.projects(&city.admin())
        .create_project(activity_pb::CreateProjectRequest {
            project: Some(activity_pb::Project {
                org_unit: org_unit.to_string(),
                display_name: display_name.to_string(),
                description: "巾帼志愿服务全市联动".to_string(),
                service_themes: vec![egret_proto::common::v1::ServiceTheme::Care as i32],
                service_fields: vec![egret_proto::common::v1::ServiceField::ElderlyCare as i32],
                target_groups: vec![
                    egret_proto::common::v1::TargetGroup::ElderlyLivingAlone as i32,
                ],
                funding_source: activity_pb::FundingSource::GovernmentPurchase as i32,
                budget_fen: 5_000_000,
                start_date: Some(egret_runtime::wire::date_to_wire(today)),
                end_date: Some(egret_runtime::wire::date_to_wire(today.add_days(90))),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the city creates a project")
        .into_inner()
        .project
        .expect("project")
}

fn city_target(org_unit: &str, year: i32, teams: i64) -> reporting_pb::SetTargetRequest {
    reporting_pb::SetTargetRequest {
        target: Some(reporting_pb::Target {
            org_unit: org_unit.to_string(),
            year,
            team_level: pb::TeamLevel::Municipal as i32,
            teams,
            volunteers: teams * 10,
            ..Default::default()
        }),
    }
}

async fn targets_at(app: &TestApp, year: i32) -> Vec<reporting_pb::Target> {
    app.targets(&app.admin())
        .list_targets(reporting_pb::ListTargetsRequest {
            year,
            ..Default::default()
        })
        .await
        .expect("lists targets")
        .into_inner()
        .targets
}

/// The rules in force, reporting years, the honours catalogue, targets and projects the
/// city owns come down to a district as read-only copies; nothing of another district's
/// does, and nothing goes back up.
async fn what_the_city_owns_comes_down_to_its_districts(city: TestApp) {
    let admin = city.admin();
    let (siming_unit, siming) = enrolled_district(&city, "思明区妇联", "xm-siming").await;
    let huli = city
        .create_unit(&admin, &city.root, pb::Tier::Team, "湖里区妇联")
        .await;
    let today = egret_runtime::wire::today();
    let year = today.year;

    // At the city: a revision of the rules, a reporting year, an honour and a project of
    // its root, a project of another district, and targets for both districts.
    let xiamen = city
        .rule_sets(&admin)
        .get_rule_set(recognition_pb::GetRuleSetRequest {
            name: "ruleSets/xiamen".to_string(),
            revision: 0,
        })
        .await
        .expect("xiamen")
        .into_inner()
        .rule_set
        .expect("rule set");
    let revised = city
        .rule_sets(&admin)
        .revise_rule_set(recognition_pb::ReviseRuleSetRequest {
            rule_set: Some(recognition_pb::RuleSet {
                display_name: "厦门市巾帼志愿者星级评定办法（修订）".to_string(),
                effective_date: Some(egret_runtime::wire::date_to_wire(today)),
                ..xiamen.clone()
            }),
            expected_revision: xiamen.revision,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("the city revises its rules")
        .into_inner()
        .rule_set
        .expect("rule set");
    city.annual_reports(&admin)
        .open_reporting_year(reporting_pb::OpenReportingYearRequest {
            year,
            deadline: Some(egret_runtime::wire::date_to_wire(today.add_days(30))),
        })
        .await
        .expect("the city opens the year");
    let honour = city
        .commendations(&admin)
        .create_honour(recognition_pb::CreateHonourRequest {
            honour: Some(recognition_pb::Honour {
                display_name: "鹭岛巾帼志愿服务之星".to_string(),
                category: recognition_pb::HonourCategory::OutstandingVolunteer as i32,
                level: pb::TeamLevel::Municipal as i32,
                recipient_kind: recognition_pb::RecipientKind::Volunteer as i32,
                notice_days: Some(5),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("the city creates an honour")
        .into_inner()
        .honour
        .expect("honour");
    // Another district's project first: once the root's arrives, it would have too.
    let huli_project = city_project(&city, &huli.name, "湖里巾帼助老").await;
    let project = city_project(&city, &city.root, "巾帼暖鹭岛").await;
    for (unit, teams) in [(&huli.name, 7), (&siming_unit.name, 5)] {
        city.targets(&admin)
            .set_target(city_target(unit, year, teams))
            .await
            .expect("the city sets a target");
    }

    // At the district, each service's feed in the city's order of that service: Siming's
    // target, the honour and the root's project come last in theirs.
    let targets = eventually("the city's target at the district", || {
        let siming = &siming;
        async move { Some(targets_at(siming, year).await).filter(|targets| !targets.is_empty()) }
    })
    .await;
    assert_eq!(
        targets.len(),
        1,
        "only the district's own target: {targets:?}"
    );
    assert_eq!(targets[0].org_unit, siming.root);
    assert_eq!(targets[0].teams, 5);
    eventually("the city's honour at the district", || {
        let (siming, honour) = (&siming, &honour.name);
        async move {
            siming
                .commendations(&siming.admin())
                .list_honours(recognition_pb::ListHonoursRequest::default())
                .await
                .ok()
                .filter(|listed| {
                    listed
                        .get_ref()
                        .honours
                        .iter()
                        .any(|listed| &listed.name == honour)
                })
        }
    })
    .await;
    let in_force = siming
        .rule_sets(&siming.admin())
        .get_rules_in_force(recognition_pb::GetRulesInForceRequest { date: None })
        .await
        .expect("the rules in force")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(
        (in_force.revision, in_force.display_name.as_str()),
        (revised.revision, revised.display_name.as_str())
    );
    let years = siming
        .annual_reports(&siming.admin())
        .list_reporting_years(reporting_pb::ListReportingYearsRequest::default())
        .await
        .expect("lists years")
        .into_inner()
        .reporting_years;
    assert!(years.iter().any(|listed| listed.year == year), "{years:?}");
    let honours = siming
        .commendations(&siming.admin())
        .list_honours(recognition_pb::ListHonoursRequest::default())
        .await
        .expect("lists honours")
        .into_inner()
        .honours;
    assert!(
        honours.iter().any(|listed| listed.name == honour.name),
        "{honours:?}"
    );
    let copy = eventually("the city's project at the district", || {
        let (siming, name) = (&siming, project.name.clone());
        async move {
            siming
                .projects(&siming.admin())
                .get_project(activity_pb::GetProjectRequest { name })
                .await
                .ok()
                .and_then(|response| response.into_inner().project)
        }
    })
    .await;
    // Held by the district's root, the nearest unit it holds, with the city's origin.
    assert_eq!(copy.org_unit, siming.root);
    let origin = copy
        .metadata
        .as_ref()
        .map(|meta| meta.origin_instance.clone())
        .unwrap_or_default();
    assert_eq!(
        origin,
        project.metadata.as_ref().expect("metadata").origin_instance
    );
    let status = siming
        .projects(&siming.admin())
        .get_project(activity_pb::GetProjectRequest {
            name: huli_project.name.clone(),
        })
        .await
        .expect_err("another district's project stays away");
    assert_eq!(status.code(), Code::NotFound);

    // A team of the district files an activity under the city's project; it goes up.
    let team = siming
        .create_unit(
            &siming.admin(),
            &siming.root,
            pb::Tier::SubTeam,
            "鼓浪屿巾帼服务分队",
        )
        .await;
    let leader = siming.token(&team.name, &[Role::TeamLeader]);
    let mut activity = siming
        .create_activity(&leader, &team.name, "全市联动敬老日", 1)
        .await;
    activity.project = project.name.clone();
    let joined = siming
        .activities(&leader)
        .create_activity(activity_pb::CreateActivityRequest {
            activity: Some(activity_pb::Activity {
                name: String::new(),
                ..activity
            }),
            request_id: String::new(),
        })
        .await
        .expect("a district team joins the city's project")
        .into_inner()
        .activity
        .expect("activity");
    eventually(
        "the district's activity of the city's project at the city",
        || {
            let (city, name, project) = (&city, joined.name.clone(), &project.name);
            async move {
                city.activities(&city.admin())
                    .get_activity(activity_pb::GetActivityRequest { name })
                    .await
                    .ok()
                    .filter(|copy| {
                        copy.get_ref()
                            .activity
                            .as_ref()
                            .is_some_and(|copy| &copy.project == project)
                    })
            }
        },
    )
    .await;

    // Read-only at the district: each write names the owner.
    let district_admin = siming.admin();
    let refusals: Vec<(&str, Result<(), tonic::Status>)> = vec![
        (
            "update the city's project",
            siming
                .projects(&district_admin)
                .update_project(activity_pb::UpdateProjectRequest {
                    project: Some(activity_pb::Project {
                        display_name: "改名".to_string(),
                        ..copy.clone()
                    }),
                    update_mask: Some(FieldMask {
                        paths: vec!["display_name".to_string()],
                    }),
                    expected_version: 0,
                })
                .await
                .map(drop),
        ),
        (
            "revise the rules",
            siming
                .rule_sets(&district_admin)
                .revise_rule_set(recognition_pb::ReviseRuleSetRequest {
                    rule_set: Some(in_force.clone()),
                    expected_revision: in_force.revision,
                    request_id: uuid::Uuid::new_v4().to_string(),
                })
                .await
                .map(drop),
        ),
        (
            "open a reporting year",
            siming
                .annual_reports(&district_admin)
                .open_reporting_year(reporting_pb::OpenReportingYearRequest {
                    year: year + 1,
                    deadline: Some(egret_runtime::wire::date_to_wire(today.add_days(400))),
                })
                .await
                .map(drop),
        ),
        (
            "change the city's target",
            siming
                .targets(&district_admin)
                .set_target(city_target(&siming.root, year, 9))
                .await
                .map(drop),
        ),
    ];
    for (what, result) in refusals {
        let status = result.expect_err(what);
        assert_eq!(
            status.code(),
            Code::FailedPrecondition,
            "{what}: {status:?}"
        );
        assert!(chinese_message(&status).is_some(), "{what}: {status:?}");
    }

    // Nothing that came down goes back up: every link of the district keeps up.
    eventually("the district's links keep up", || {
        let siming = &siming;
        async move {
            let links = upstream_status(siming).await;
            links
                .iter()
                .all(|link| {
                    link.last_error.is_empty() && link.acknowledged_sequence == link.head_sequence
                })
                .then_some(())
        }
    })
    .await;
    // And the district's staff see each service's feed from the city caught up; the
    // registry takes nothing from it.
    let links = eventually("every feed from the city caught up", || {
        let siming = &siming;
        async move {
            let links = upstream_status(siming).await;
            links
                .iter()
                .filter_map(|link| link.downward.as_ref())
                .all(|pull| {
                    pull.last_error.is_empty()
                        && pull.caught_up_time.is_some()
                        && pull.applied_sequence == pull.head_sequence
                })
                .then_some(links)
        }
    })
    .await;
    let mut pulling: Vec<&str> = links
        .iter()
        .filter(|link| link.downward.is_some())
        .map(|link| link.service.as_str())
        .collect();
    pulling.sort_unstable();
    assert_eq!(pulling, ["activity", "recognition", "reporting"]);
    assert!(
        links
            .iter()
            .filter_map(|link| link.downward.as_ref())
            .all(|pull| pull.applied_sequence > 0 && !pull.alarm),
        "{links:?}"
    );
}

/// Runs `statement` on the city's own registry database, as a fault would.
async fn tamper(city: &TestApp, statement: &str) {
    let config = city.config();
    let database = egret_storage::Database::open(
        &config.common.database,
        &config.common.data_dir,
        "registry",
        egret_registry::migrations(),
    )
    .await
    .expect("opening the city's registry database");
    let mut transaction = database.begin("test", "test").await.expect("begins");
    sqlx::query(statement)
        .execute(transaction.conn())
        .await
        .expect("tampers");
    transaction.commit().await.expect("commits");
    database.close().await;
}

async fn a_tally_proves_each_link_and_a_stray_copy_is_an_alarm(city: TestApp) {
    // No district, no alarm.
    eventually("the city's health of the districts' links", || async {
        (health(&city, egret_sync::upward::DISTRICTS_HEALTH).await == ServingStatus::Serving as i32)
            .then_some(())
    })
    .await;
    let (_, siming) = enrolled_district(&city, "思明区妇联", "xm-siming").await;
    let admin = siming.admin();
    let team = siming
        .create_unit(&admin, &siming.root, pb::Tier::SubTeam, "鼓浪屿巾帼分队")
        .await;
    siming.register(&admin, &team.name, 61).await;
    siming.register(&admin, &team.name, 62).await;

    // Every service's link is proven by a tally at the district's head, not assumed.
    for service in ["registry", "activity", "recognition", "reporting"] {
        let link = eventually("a tally that agrees at the district's head", || async {
            service_link_of(&city, service, "xm-siming")
                .await
                .filter(|link| {
                    link.tally_time.is_some()
                        && link.verified_sequence == link.head_sequence
                        && link.acknowledged_sequence == link.head_sequence
                })
        })
        .await;
        assert_eq!(
            (link.state(), link.mismatch.as_str()),
            (sync_pb::LinkState::Ok, ""),
            "{service}: {link:?}"
        );
    }

    // A copy at the city that is not what the district holds (here one volunteer's
    // version, as a lost or doubled write would leave it) is an alarm on both sides.
    tamper(
        &city,
        "UPDATE volunteers SET version = version + 1 WHERE id IN \
         (SELECT MIN(id) FROM volunteers WHERE origin_instance = 'xm-siming')",
    )
    .await;
    let link = eventually("the mismatch at the city", || async {
        link_of(&city, "xm-siming")
            .await
            .filter(|link| link.state() == sync_pb::LinkState::Mismatched)
    })
    .await;
    assert_eq!(
        link.mismatch,
        "egret.registry.v1.Volunteer: the district has 2 (versions 2), here 2 (versions 3)"
    );
    let at_district = eventually("the mismatch at the district", || async {
        upstream_status(&siming)
            .await
            .into_iter()
            .find(|link| link.service == "registry" && link.alarm)
    })
    .await;
    assert_eq!(at_district.mismatch, link.mismatch);
    eventually("the district's upstream health in alarm", || async {
        (upstream_health(&siming).await == ServingStatus::NotServing as i32).then_some(())
    })
    .await;
    eventually(
        "the city's health of the districts' links in alarm",
        || async {
            (health(&city, egret_sync::upward::DISTRICTS_HEALTH).await
                == ServingStatus::NotServing as i32)
                .then_some(())
        },
    )
    .await;

    // Put right, the next tally clears the alarm.
    tamper(
        &city,
        "UPDATE volunteers SET version = version - 1 WHERE id IN \
         (SELECT MIN(id) FROM volunteers WHERE origin_instance = 'xm-siming')",
    )
    .await;
    eventually("the link proven again", || async {
        link_of(&city, "xm-siming")
            .await
            .filter(|link| link.state() == sync_pb::LinkState::Ok && link.mismatch.is_empty())
    })
    .await;
    eventually("the district's upstream health back", || async {
        (upstream_health(&siming).await == ServingStatus::Serving as i32).then_some(())
    })
    .await;
    eventually("the city's health of the districts' links back", || async {
        (health(&city, egret_sync::upward::DISTRICTS_HEALTH).await == ServingStatus::Serving as i32)
            .then_some(())
    })
    .await;
    siming.stop().await;
}
