//! Tiers: a city instance enrolls a district federation's instance, which takes the
//! enrolled unit, under the same id, as its root — two real instances over real gRPC, on
//! SQLite and PostgreSQL.

use egret_gateway::{EgretConfig, Instance};
use egret_proto::gateway::v1 as gateway_pb;
use egret_proto::registry::v1 as pb;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, chinese_message, district_config, violated_fields};
use prost_types::FieldMask;
use tonic::Code;

both_backends!(
    a_district_takes_its_enrolled_unit_as_root,
    bad_enrollments_name_the_field,
    wrong_and_revoked_enrollments_are_refused_on_both_sides,
);

/// The district federation of Siming, a team under the city's root.
async fn siming(city: &TestApp) -> pb::OrgUnit {
    city.create_unit(&city.admin(), &city.root, pb::Tier::Team, "思明区妇联")
        .await
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
