//! What every Egret server does, whatever the service: health, reflection (v1 and
//! v1alpha), authentication, deadlines, message-size limits and graceful shutdown.

use std::time::Duration;

use egret_proto::registry::v1 as pb;
use egret_runtime::Role;
use egret_tests::{Backend, TestApp, both_backends};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const REGISTRY_SERVICES: [&str; 4] = [
    "egret.registry.v1.OrgUnitService",
    "egret.registry.v1.VolunteerService",
    "egret.registry.v1.MembershipService",
    "egret.registry.v1.RegistryRecordsService",
];

const ACTIVITY_SERVICES: [&str; 9] = [
    "egret.activity.v1.ProjectService",
    "egret.activity.v1.ActivityService",
    "egret.activity.v1.SignUpService",
    "egret.activity.v1.AttendanceService",
    "egret.activity.v1.ServiceRecordService",
    "egret.activity.v1.InsuranceService",
    "egret.activity.v1.TrainingService",
    "egret.activity.v1.EvaluationService",
    "egret.activity.v1.ActivityRecordsService",
];

const RECOGNITION_SERVICES: [&str; 6] = [
    "egret.recognition.v1.RuleSetService",
    "egret.recognition.v1.StarRatingService",
    "egret.recognition.v1.CertificateService",
    "egret.recognition.v1.RewardService",
    "egret.recognition.v1.CommendationService",
    "egret.recognition.v1.RecognitionRecordsService",
];

const REPORTING_SERVICES: [&str; 5] = [
    "egret.reporting.v1.TargetService",
    "egret.reporting.v1.StatisticsService",
    "egret.reporting.v1.ExportService",
    "egret.reporting.v1.AnnualReportService",
    "egret.reporting.v1.ReportingRecordsService",
];

both_backends!(
    health_goes_not_serving_on_shutdown,
    unauthenticated_calls_are_refused
);

async fn health_goes_not_serving_on_shutdown(app: TestApp) {
    let mut health = HealthClient::new(app.channel.clone());
    for service in REGISTRY_SERVICES
        .into_iter()
        .chain(ACTIVITY_SERVICES)
        .chain(RECOGNITION_SERVICES)
        .chain(REPORTING_SERVICES)
        .chain([""])
    {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .unwrap_or_else(|status| panic!("health of {service:?}: {status:?}"))
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
    }
    let mut watch = health
        .watch(HealthCheckRequest {
            service: REGISTRY_SERVICES[0].to_string(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.next().await.expect("first status").expect("ok");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    app.shutdown_token().cancel();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("a status change arrives")
        .expect("stream item")
        .expect("ok");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    drop(watch);
    app.stop().await;
}

async fn unauthenticated_calls_are_refused(app: TestApp) {
    let request = || pb::GetOrgUnitRequest {
        name: app.root.clone(),
    };
    let status = app
        .org_units("")
        .get_org_unit(request())
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(egret_tests::chinese_message(&status).is_some());
    let status = app
        .org_units("garbage")
        .get_org_unit(request())
        .await
        .expect_err("bad token");
    assert_eq!(status.code(), Code::Unauthenticated);
    // A token of another instance's key does not verify here.
    let other = TestApp::spawn(Backend::Sqlite, "other instance")
        .await
        .expect("sqlite");
    let foreign = other.token(&app.root, &[Role::Admin]);
    let status = app
        .org_units(&foreign)
        .get_org_unit(request())
        .await
        .expect_err("foreign token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let unit = app
        .org_units(&app.admin())
        .get_org_unit(request())
        .await
        .expect("valid token")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(unit.name, app.root);
    other.stop().await;
    app.stop().await;
}

/// Lists the services a server reflects, through the given reflection version's client
/// (the two versions have the same shape but distinct generated types).
macro_rules! list_services {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = ServerReflectionClient::new($channel)
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .expect(concat!("reflection ", stringify!($version)))
            .into_inner();
        match responses
            .next()
            .await
            .expect("a response")
            .expect("ok")
            .message_response
        {
            Some(MessageResponse::ListServicesResponse(list)) => list
                .service
                .into_iter()
                .map(|service| service.name)
                .collect::<Vec<_>>(),
            other => panic!("unexpected {other:?}"),
        }
    }};
}

#[tokio::test]
async fn reflection_lists_egret_services_on_v1_and_v1alpha() {
    let app = TestApp::spawn(Backend::Sqlite, "reflection")
        .await
        .expect("sqlite");
    let v1 = list_services!(v1, app.channel.clone());
    let v1alpha = list_services!(v1alpha, app.channel.clone());
    for service in REGISTRY_SERVICES
        .into_iter()
        .chain(ACTIVITY_SERVICES)
        .chain(RECOGNITION_SERVICES)
        .chain(REPORTING_SERVICES)
    {
        assert!(
            v1.iter().any(|name| name == service),
            "v1 lists {service}: {v1:?}"
        );
        assert!(
            v1alpha.iter().any(|name| name == service),
            "v1alpha lists {service}: {v1alpha:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn requests_past_their_deadline_fail_and_write_nothing() {
    let app = TestApp::spawn_with(Backend::Sqlite, "deadline", |config| {
        config.common.server.default_deadline = Duration::from_micros(1);
    })
    .await
    .expect("sqlite");
    let create = pb::CreateOrgUnitRequest {
        parent: app.root.clone(),
        org_unit: Some(pb::OrgUnit {
            tier: pb::Tier::Team as i32,
            display_name: "超时的队伍".to_string(),
            level: pb::TeamLevel::District as i32,
            ..Default::default()
        }),
        request_id: "0197a8c4-1a2b-7c3d-8e4f-000000000001".to_string(),
    };
    let status = app
        .org_units(&app.admin())
        .create_org_unit(create.clone())
        .await
        .expect_err("the default deadline is one microsecond");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    // The deadline may fall before the commit (nothing written) or while the commit is
    // already on its way (the whole unit written): never anything half-written. A client
    // that retries with the same request id and a longer deadline gets exactly one unit.
    let mut retry = tonic::Request::new(create);
    retry.set_timeout(Duration::from_secs(10));
    let created = app
        .org_units(&app.admin())
        .create_org_unit(retry)
        .await
        .expect("with its own deadline")
        .into_inner()
        .org_unit
        .expect("unit");
    let mut list = tonic::Request::new(pb::ListOrgUnitsRequest {
        children_only: true,
        ..Default::default()
    });
    list.set_timeout(Duration::from_secs(10));
    let units = app
        .org_units(&app.admin())
        .list_org_units(list)
        .await
        .expect("with its own deadline")
        .into_inner()
        .org_units;
    let named: Vec<_> = units
        .iter()
        .filter(|unit| unit.display_name == "超时的队伍")
        .collect();
    assert_eq!(named.len(), 1, "{units:?}");
    assert_eq!(named[0].name, created.name);
    let form_name = format!("{}/registrationForm", created.name);
    let mut form = tonic::Request::new(pb::GetRegistrationFormRequest {
        name: form_name,
        reveal_personal_data: false,
    });
    form.set_timeout(Duration::from_secs(10));
    let form = app
        .org_units(&app.admin())
        .get_registration_form(form)
        .await
        .expect("the unit came with its form: nothing half-written")
        .into_inner()
        .registration_form
        .expect("form");
    assert!(!form.archive_number.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let app = TestApp::spawn_with(Backend::Sqlite, "message size", |config| {
        config.common.server.max_message_bytes = 2048;
    })
    .await
    .expect("sqlite");
    let status = app
        .org_units(&app.admin())
        .create_org_unit(pb::CreateOrgUnitRequest {
            parent: app.root.clone(),
            org_unit: Some(pb::OrgUnit {
                tier: pb::Tier::Team as i32,
                display_name: "队".repeat(4000),
                level: pb::TeamLevel::District as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("too large");
    // gRPC's code for a message over the limit, not the codec's OUT_OF_RANGE.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("2048 bytes"), "{status:?}");
    app.stop().await;
}

/// A call that sends `input` where a resource name belongs.
struct LongInputCase {
    rpc: &'static str,
    call: fn(TestApp, String) -> BoxedCall,
}

type BoxedCall = std::pin::Pin<
    Box<dyn std::future::Future<Output = (TestApp, Result<(), tonic::Status>)> + Send>,
>;

/// Checks that a long input is refused as INVALID_ARGUMENT with only a prefix of it quoted,
/// so the error fits in the header limits of every common client (8–16 KiB).
#[track_caller]
fn check_long_input_error(case: &LongInputCase, status: &tonic::Status, input: &str) {
    use tonic_types::StatusExt;
    assert_eq!(
        status.code(),
        Code::InvalidArgument,
        "{}: {status:?}",
        case.rpc
    );
    let details = status.get_error_details();
    let zh = details
        .localized_message()
        .map(|message| message.message.clone())
        .unwrap_or_default();
    let violations = details
        .bad_request()
        .map(|bad_request| format!("{:?}", bad_request.field_violations))
        .unwrap_or_default();
    let echoed: String = input.chars().take(100).collect();
    for (what, text) in [
        ("message", status.message()),
        ("zh", zh.as_str()),
        ("violations", violations.as_str()),
    ] {
        assert!(
            !text.contains(&echoed),
            "{}: {what} echoes the input",
            case.rpc
        );
    }
    let trailer_bytes = status.message().len() + status.details().len() * 4 / 3;
    assert!(trailer_bytes < 4096, "{}: {trailer_bytes} bytes", case.rpc);
}

#[tokio::test]
async fn long_inputs_are_quoted_not_echoed() {
    let cases = [
        LongInputCase {
            rpc: "GetOrgUnit",
            call: |app, name| {
                Box::pin(async move {
                    let result = app
                        .org_units(&app.admin())
                        .get_org_unit(pb::GetOrgUnitRequest { name })
                        .await
                        .map(drop);
                    (app, result)
                })
            },
        },
        LongInputCase {
            rpc: "SuspendOrgUnit",
            call: |app, name| {
                Box::pin(async move {
                    let result = app
                        .org_units(&app.admin())
                        .suspend_org_unit(pb::SuspendOrgUnitRequest {
                            name,
                            reason: "停止活动".to_string(),
                        })
                        .await
                        .map(drop);
                    (app, result)
                })
            },
        },
        LongInputCase {
            rpc: "CreateVolunteer",
            call: |app, org_unit| {
                Box::pin(async move {
                    let result = app
                        .volunteers(&app.admin())
                        .create_volunteer(pb::CreateVolunteerRequest {
                            org_unit,
                            volunteer: Some(egret_tests::volunteer_input(7)),
                            request_id: String::new(),
                            pending_membership: false,
                            validate_only: false,
                        })
                        .await
                        .map(drop);
                    (app, result)
                })
            },
        },
        LongInputCase {
            rpc: "CreateActivity",
            call: |app, org_unit| {
                Box::pin(async move {
                    let result = app
                        .activities(&app.admin())
                        .create_activity(egret_proto::activity::v1::CreateActivityRequest {
                            activity: Some(egret_proto::activity::v1::Activity {
                                org_unit,
                                display_name: "活动".to_string(),
                                ..Default::default()
                            }),
                            request_id: String::new(),
                        })
                        .await
                        .map(drop);
                    (app, result)
                })
            },
        },
    ];
    let mut app = TestApp::spawn(Backend::Sqlite, "long inputs")
        .await
        .expect("sqlite");
    for case in &cases {
        for input in [
            format!("orgUnits/{}", "x".repeat(5000)),
            format!("orgUnits/{}", "鹭".repeat(5000)),
        ] {
            let (returned, result) = (case.call)(app, input.clone()).await;
            app = returned;
            let status = result.expect_err("refused");
            check_long_input_error(case, &status, &input);
        }
    }
    app.stop().await;
}
