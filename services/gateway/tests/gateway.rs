//! The gateway in front of real servers on ephemeral ports: a real registry on SQLite,
//! a port where nothing listens (a service that is down), and a bare HTTP/2 server that
//! answers every call with what it received (to see the headers the gateway passes on).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use egret_gateway::{Gateway, GatewaySettings, ServiceAddresses};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::registry::v1 as registry_pb;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::assembly::Assembly;
use egret_runtime::{CancellationToken, Principal, Role, Settings, TokenIssuer, keys};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A bare HTTP/2 server that answers every call with FAILED_PRECONDITION and a message
/// listing the headers it saw. A call with `x-test: hang-up` gets its stream reset instead.
struct Echo {
    calls: Arc<AtomicUsize>,
}

impl Echo {
    fn serve(listener: TcpListener) -> Self {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let counted = counted.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: http::Request<hyper::body::Incoming>| {
                            let counted = counted.clone();
                            async move {
                                if request.uri().path().starts_with("/grpc.health") {
                                    return Ok(trailers_only("0", ""));
                                }
                                counted.fetch_add(1, Ordering::SeqCst);
                                let header = |name: &str| {
                                    request
                                        .headers()
                                        .get(name)
                                        .and_then(|value| value.to_str().ok())
                                        .unwrap_or("absent")
                                        .to_string()
                                };
                                if header("x-test") == "hang-up" {
                                    return Err("hanging up");
                                }
                                let seen = format!(
                                    "timeout={} xff={} principal={} user={} auth={}",
                                    header("grpc-timeout"),
                                    header("x-forwarded-for"),
                                    header("x-egret-principal"),
                                    header("x-user"),
                                    header("authorization"),
                                );
                                Ok(trailers_only("9", &seen))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { calls }
    }
}

fn trailers_only(status: &str, message: &str) -> http::Response<http_body_util::Empty<Bytes>> {
    http::Response::builder()
        .header("content-type", "application/grpc")
        .header("grpc-status", status)
        .header("grpc-message", message)
        .body(http_body_util::Empty::new())
        .expect("response")
}

/// A port where nothing listens.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    listener.local_addr().expect("address")
}

struct Setup {
    channel: Channel,
    issuer: TokenIssuer,
    root: String,
    echo: Echo,
    late_address: SocketAddr,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
}

impl Setup {
    /// A registry on SQLite, the activity service down, the echo as the recognition
    /// service and, as the reporting service, a port nothing listens on yet.
    async fn start() -> Self {
        let data_dir = tempfile::tempdir().expect("tempdir");
        let common = Settings {
            data_dir: data_dir.path().to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Settings::default()
        };
        let shutdown = CancellationToken::new();

        let mut registry = Assembly::bind(&common).await.expect("registry binds");
        let registry_part = registry
            .add::<egret_registry::Registry>(&Default::default())
            .await
            .expect("registry opens");
        let root = registry_part
            .ensure_root(&common.instance.root_name)
            .await
            .expect("root")
            .id;
        let registry_address = registry.local_addr();
        tokio::spawn(registry.run_until_stopped(shutdown.clone()));

        let echo_listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let echo_address = echo_listener.local_addr().expect("address");
        let echo = Echo::serve(echo_listener);
        let late_address = closed_port().await;

        let settings = GatewaySettings {
            max_deadline: Duration::from_secs(2),
            health_interval: Duration::from_millis(100),
            attempts: 5,
            ..GatewaySettings::default()
        };
        let addresses = ServiceAddresses {
            registry: format!("http://{registry_address}"),
            activity: format!("http://{}", closed_port().await),
            recognition: format!("http://{echo_address}"),
            reporting: format!("http://{late_address}"),
        };
        let gateway = Gateway::bind(&common, &settings, &addresses)
            .await
            .expect("gateway binds");
        let address = gateway.local_addr();
        tokio::spawn(gateway.run_until_stopped(shutdown.clone()));
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("uri")
            .connect()
            .await
            .expect("connects");
        let issuer = TokenIssuer::new(
            keys::signing_key(data_dir.path()).expect("key"),
            common.instance.id.clone(),
        );
        Self {
            channel,
            issuer,
            root: format!("orgUnits/{root}"),
            echo,
            late_address,
            shutdown,
            _data_dir: data_dir,
        }
    }

    fn token(&self) -> String {
        self.issuer.issue(
            &Principal {
                subject: "tester".to_string(),
                org_unit: self.root.trim_start_matches("orgUnits/").to_string(),
                roles: [Role::Admin].into_iter().collect(),
                volunteer: None,
            },
            Duration::from_secs(60),
        )
    }

    fn request<T>(&self, message: T, headers: &[(&'static str, &str)]) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {}", self.token()).parse().expect("ascii"),
        );
        for (name, value) in headers {
            request
                .metadata_mut()
                .insert(*name, value.parse().expect("ascii"));
        }
        request.set_timeout(Duration::from_secs(10));
        request
    }

    async fn health(&self, service: &str) -> i32 {
        HealthClient::new(self.channel.clone())
            .check(HealthCheckRequest {
                service: service.to_string(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What a call through the gateway should come back with.
struct TestCase {
    name: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    code: Code,
    message_has: &'static [&'static str],
}

#[track_caller]
fn check(case: &TestCase, result: Result<tonic::Response<()>, tonic::Status>) {
    let status = match result {
        Ok(_) => panic!(
            "{}: expected {:?}, the call succeeded",
            case.name, case.code
        ),
        Err(status) => status,
    };
    assert_eq!(status.code(), case.code, "{}: {status:?}", case.name);
    for part in case.message_has {
        assert!(
            status.message().contains(part),
            "{}: {:?} lacks {part:?}",
            case.name,
            status.message()
        );
    }
}

/// Calls `path` with an empty request and an empty expected response: the gateway never
/// decodes messages, so any path can be called this way.
async fn raw_call(
    channel: &Channel,
    path: &'static str,
    request: tonic::Request<()>,
) -> Result<tonic::Response<()>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|error| tonic::Status::unavailable(format!("channel not ready: {error}")))?;
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static(path),
        tonic_prost::ProstCodec::<Empty, Empty>::default(),
    )
    .await
    .map(|response| response.map(|_| ()))
}

/// The empty protobuf message.
type Empty = ();

#[tokio::test]
async fn calls_reach_their_service_or_a_precise_error() {
    let setup = Setup::start().await;
    let cases = [
        TestCase {
            name: "an unknown service",
            path: "/egret.unknown.v1.NothingService/Do",
            headers: &[],
            code: Code::Unimplemented,
            message_has: &["egret.unknown.v1.NothingService"],
        },
        TestCase {
            name: "a service that is down",
            path: "/egret.activity.v1.ActivityService/GetActivity",
            headers: &[],
            code: Code::Unavailable,
            message_has: &["activity service", "other services keep serving"],
        },
        TestCase {
            name: "the deadline is capped and identity headers are dropped",
            path: "/egret.recognition.v1.StarRatingService/GetStarRating",
            headers: &[
                ("x-egret-principal", "admin"),
                ("x-user", "someone-else"),
                ("x-forwarded-for", "10.9.8.7"),
            ],
            code: Code::FailedPrecondition,
            message_has: &[
                "xff=127.0.0.1 ",
                "principal=absent",
                "user=absent",
                "auth=Bearer ",
            ],
        },
        TestCase {
            name: "the shared change-log contract without a service named",
            path: "/egret.sync.v1.ChangeLogService/ListChanges",
            headers: &[],
            code: Code::InvalidArgument,
            message_has: &[
                "egret-service",
                "registry, activity, recognition, reporting",
            ],
        },
        TestCase {
            name: "the shared change-log contract naming no service of the instance",
            path: "/egret.sync.v1.ChangeLogService/ListChanges",
            headers: &[("egret-service", "payroll")],
            code: Code::InvalidArgument,
            message_has: &["egret-service", "\"payroll\""],
        },
        TestCase {
            name: "the shared change-log contract goes to the service named",
            path: "/egret.sync.v1.ChangeLogService/ListChanges",
            headers: &[("egret-service", "activity")],
            code: Code::Unavailable,
            message_has: &["activity service"],
        },
        TestCase {
            name: "a call the service dropped after receiving it is not retried",
            path: "/egret.recognition.v1.StarRatingService/GetStarRating",
            headers: &[("x-test", "hang-up")],
            code: Code::Unavailable,
            message_has: &["recognition service"],
        },
    ];
    for case in &cases {
        let before = setup.echo.calls.load(Ordering::SeqCst);
        let result = raw_call(&setup.channel, case.path, setup.request((), case.headers)).await;
        check(case, result);
        let after = setup.echo.calls.load(Ordering::SeqCst);
        if case.path.contains("recognition") {
            assert_eq!(after - before, 1, "{}: sent once", case.name);
        }
    }

    // The deadline the service sees is the caller's, cut to gateway.max_deadline (2s).
    let status = raw_call(
        &setup.channel,
        "/egret.recognition.v1.StarRatingService/GetStarRating",
        setup.request((), &[]),
    )
    .await
    .expect_err("the echo refuses");
    let timeout = status
        .message()
        .split_whitespace()
        .find_map(|part| part.strip_prefix("timeout="))
        .and_then(|value| value.strip_suffix('m'))
        .and_then(|value| value.parse::<u64>().ok())
        .expect("a timeout in milliseconds");
    assert!((1..=2000).contains(&timeout), "{timeout}");

    // The Chinese message names the service too.
    let status = raw_call(
        &setup.channel,
        "/egret.activity.v1.ActivityService/GetActivity",
        setup.request((), &[]),
    )
    .await
    .expect_err("down");
    let details = tonic_types::StatusExt::get_error_details(&status);
    let localized = details.localized_message().expect("a Chinese message");
    assert!(localized.message.contains("活动服务"), "{localized:?}");

    // The registry keeps serving while the activity service is down.
    let unit =
        registry_pb::org_unit_service_client::OrgUnitServiceClient::new(setup.channel.clone())
            .get_org_unit(setup.request(
                registry_pb::GetOrgUnitRequest {
                    name: setup.root.clone(),
                },
                &[],
            ))
            .await
            .expect("the registry answers through the gateway")
            .into_inner();
    assert_eq!(
        unit.org_unit.expect("unit").display_name,
        Settings::default().instance.root_name
    );

    // Typed clients see the same UNAVAILABLE.
    let down =
        activity_pb::activity_service_client::ActivityServiceClient::new(setup.channel.clone())
            .get_activity(setup.request(
                activity_pb::GetActivityRequest {
                    name: "activities/x".to_string(),
                },
                &[],
            ))
            .await
            .expect_err("down");
    assert_eq!(down.code(), Code::Unavailable);
}

#[tokio::test]
async fn a_change_log_is_read_through_the_gateway_with_typed_records() {
    let setup = Setup::start().await;
    let sync_token = setup.issuer.issue(
        &Principal {
            subject: "egret-test-sync".to_string(),
            org_unit: String::new(),
            roles: [Role::Sync].into_iter().collect(),
            volunteer: None,
        },
        Duration::from_secs(60),
    );
    let mut request = tonic::Request::new(sync_pb::ListChangesRequest {
        after_sequence: 0,
        page_size: 10,
        ..Default::default()
    });
    let metadata = request.metadata_mut();
    metadata.insert(
        "authorization",
        format!("Bearer {sync_token}").parse().expect("ascii"),
    );
    metadata.insert("egret-service", "registry".parse().expect("ascii"));
    let page =
        sync_pb::change_log_service_client::ChangeLogServiceClient::new(setup.channel.clone())
            .list_changes(request)
            .await
            .expect("the registry's log answers through the gateway")
            .into_inner();
    let first = page.changes.first().expect("the root's creation");
    assert_eq!(first.resource_name, setup.root);
    assert_eq!(first.resource_type, "egret.registry.v1.OrgUnit");
    let Some(sync_pb::record::Kind::OrgUnit(unit)) =
        first.record.as_ref().and_then(|record| record.kind.clone())
    else {
        panic!("the root comes as a typed org unit: {first:?}");
    };
    assert_eq!(unit.parent_id, None);
    assert_eq!(unit.tier, "corps");

    // Anyone else is refused, whatever service they name.
    let status =
        sync_pb::change_log_service_client::ChangeLogServiceClient::new(setup.channel.clone())
            .list_changes(setup.request(
                sync_pb::ListChangesRequest::default(),
                &[("egret-service", "registry")],
            ))
            .await
            .expect_err("an admin is not the sync role");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

#[tokio::test]
async fn a_call_waits_for_a_service_that_is_starting() {
    let setup = Setup::start().await;
    let late = setup.late_address;
    // The reporting service starts a moment after the call: the call was never sent, so
    // the gateway tries again and it succeeds.
    let starting = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(60)).await;
        Echo::serve(
            TcpListener::bind(late)
                .await
                .expect("the port is free again"),
        )
    });
    let result = raw_call(
        &setup.channel,
        "/egret.reporting.v1.StatisticsService/GetOverview",
        setup.request((), &[]),
    )
    .await;
    let echo = starting.await.expect("started");
    let status = result.expect_err("the echo refuses");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn health_answers_for_each_service_and_the_whole() {
    let setup = Setup::start().await;
    let serving = ServingStatus::Serving as i32;
    let not_serving = ServingStatus::NotServing as i32;
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses = vec![
            setup.health("registry").await,
            setup.health("egret.registry.v1.OrgUnitService").await,
            setup.health("activity").await,
            setup.health("egret.activity.v1.ActivityService").await,
            setup.health("").await,
            setup.health("gateway").await,
        ];
        if statuses[0] == serving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        statuses,
        // The whole is down with one service down; the gateway itself is alive.
        vec![
            serving,
            serving,
            not_serving,
            not_serving,
            not_serving,
            serving
        ]
    );
}

#[tokio::test]
async fn reflection_lists_every_service_of_the_instance() {
    let setup = Setup::start().await;
    use tonic_reflection::pb::v1 as reflection;
    let mut client =
        reflection::server_reflection_client::ServerReflectionClient::new(setup.channel.clone());
    let request = reflection::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            reflection::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a message")
        .expect("an answer");
    let Some(reflection::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("not a list: {answer:?}");
    };
    let names: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for package in [
        "egret.registry.v1.",
        "egret.activity.v1.",
        "egret.recognition.v1.",
        "egret.reporting.v1.",
    ] {
        assert!(
            names.iter().any(|name| name.starts_with(package)),
            "{package} in {names:?}"
        );
    }

    use tonic_reflection::pb::v1alpha as alpha;
    let mut client =
        alpha::server_reflection_client::ServerReflectionClient::new(setup.channel.clone());
    let request = alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha reflection answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a message")
        .expect("an answer");
    assert!(
        format!("{answer:?}").contains("egret.reporting.v1."),
        "{answer:?}"
    );
}
