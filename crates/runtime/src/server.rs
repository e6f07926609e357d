//! Hosting gRPC services: health, reflection, authentication, deadlines, load shedding and
//! graceful shutdown, the same for every service.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::transport::Server;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::auth::{Gates, TokenVerifier};
use crate::config::ServerSettings;
use crate::error::{ApiError, Bilingual};
use crate::links;
use crate::telemetry;

/// Paths that need no token: health and reflection.
const PUBLIC_PREFIXES: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Paths exempt from load shedding, so that a busy server still answers its health checks.
const UNSHED_PREFIXES: [&str; 1] = ["/grpc.health.v1.Health/"];

/// The names of the services every host serves itself.
const HOST_SERVICES: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Where a host sends the calls to services it does not serve itself (the gateway's proxy).
pub type Fallback = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    Infallible,
>;

/// A gRPC server being assembled: services add their routes, then [`serve`](Self::serve)
/// runs them all behind one listener.
pub struct ServiceHost {
    listener: TcpListener,
    settings: ServerSettings,
    verifier: TokenVerifier,
    routes: RoutesBuilder,
    health: HealthReporter,
    served_names: Vec<&'static str>,
    public_methods: Vec<String>,
    gates: Vec<(&'static str, Gates)>,
    fallback: Option<Fallback>,
    web: Option<Fallback>,
    grpc_web: bool,
    permits: Arc<Semaphore>,
    shared: http::Extensions,
    companions: Vec<Companion>,
}

/// A task that runs beside a host's server: started when it serves, given the shutdown
/// token, and awaited once the server has drained.
type Companion = Box<dyn FnOnce(CancellationToken) -> tokio::task::JoinHandle<()> + Send>;

impl ServiceHost {
    /// Binds the listener (port 0 picks a free port) before any service is added, so a
    /// busy address fails early.
    pub async fn bind(
        address: SocketAddr,
        settings: ServerSettings,
        verifier: TokenVerifier,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .map_err(|error| anyhow::anyhow!("binding {address}: {error}"))?;
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(egret_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(egret_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        routes.add_service(reflection_v1);
        routes.add_service(reflection_v1alpha);
        Ok(Self {
            listener,
            permits: Arc::new(Semaphore::new(settings.concurrency_limit)),
            settings,
            verifier,
            routes,
            health,
            served_names: Vec::new(),
            public_methods: Vec::new(),
            gates: Vec::new(),
            fallback: None,
            web: None,
            grpc_web: false,
            shared: http::Extensions::new(),
            companions: Vec::new(),
        })
    }

    /// A value every service added to this host shares, made by `init` for the first one
    /// that asks (for example one server that several services register with).
    pub fn shared<T>(&mut self, init: impl FnOnce(&mut Self) -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        if let Some(value) = self.shared.get::<T>() {
            return value.clone();
        }
        let value = init(self);
        self.shared.insert(value.clone());
        value
    }

    /// Runs the task `start` spawns beside the server while it serves: started with the
    /// shutdown token when serving begins, awaited once the server has drained (a watch
    /// that reports into this host's health, say).
    pub fn spawn_while_serving(
        &mut self,
        start: impl FnOnce(CancellationToken) -> tokio::task::JoinHandle<()> + Send + 'static,
    ) {
        self.companions.push(Box::new(start));
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has an address")
    }

    /// The server bounds, for services that size their own limits (message sizes).
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }

    /// Where services add their generated servers.
    pub fn routes(&mut self) -> &mut RoutesBuilder {
        &mut self.routes
    }

    /// Serves `server` here with the host's message-size limit, and reports it SERVING in
    /// gRPC health.
    pub fn add_service<S>(&mut self, server: S)
    where
        S: egret_proto::MessageLimits
            + NamedService
            + Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.routes
            .add_service(server.with_message_limit(self.settings.max_message_bytes));
        self.report_serving(S::NAME);
    }

    /// Declares a service name to report as SERVING in gRPC health.
    pub fn report_serving(&mut self, service_name: &'static str) {
        self.served_names.push(service_name);
    }

    /// The health reporter, for a host whose statuses follow something else (the gateway
    /// reports the services behind it).
    pub fn health_reporter(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Sends every call to a service this host does not serve itself to `fallback`, as it
    /// arrived: no token check, deadline or concurrency limit here, since whatever answers
    /// behind the fallback applies its own.
    pub fn forward_others(&mut self, fallback: Fallback) {
        self.fallback = Some(fallback);
    }

    /// The services added so far as one in-process service, behind the same checks as on
    /// the listener (tokens, gates, deadlines, the concurrency limit it shares with the
    /// listener): for a gateway in the same process, which then forwards without a hop
    /// through the network.
    pub fn in_process(&self) -> Fallback {
        Fallback::new(
            self.guard_layer()
                .layer(self.routes.clone().routes().prepare()),
        )
    }

    /// Everything this host answers as one in-process service: its own services behind
    /// the same checks as on the listener, and the calls it forwards (see
    /// [`forward_others`](Self::forward_others)). For a web front in the same process,
    /// which calls the API as any client would, without a hop through the network.
    /// Call it once every service and the fallback are in place.
    pub fn in_process_all(&self) -> Fallback {
        let inner = self
            .guard_layer()
            .layer(self.routes.clone().routes().prepare());
        Fallback::new(tower::util::option_layer(self.front_layer()).layer(inner))
    }

    /// Answers every request that is not gRPC or gRPC-Web (a browser asking for a page)
    /// with `web`, on the same listener, over HTTP/1.1 or HTTP/2. `web` applies its own
    /// limits: the token check, deadline and concurrency limit are for gRPC calls.
    pub fn serve_web(&mut self, web: Fallback) {
        self.web = Some(web);
    }

    /// Calls to services this host does not serve go to the fallback, if there is one.
    fn front_layer(&self) -> Option<DivertLayer> {
        let local = HOST_SERVICES
            .iter()
            .chain(self.served_names.iter())
            .map(|name| (*name).to_string())
            .collect();
        self.fallback.clone().map(|to| DivertLayer {
            rule: Rule::NotServedHere(local),
            to,
        })
    }

    fn guard_layer(&self) -> GuardLayer {
        GuardLayer {
            state: Arc::new(GuardState {
                permits: self.permits.clone(),
                default_deadline: self.settings.default_deadline,
                max_deadline: self.settings.max_deadline,
                max_message_bytes: self.settings.max_message_bytes,
                verifier: self.verifier.clone(),
                public_methods: self.public_methods.clone(),
                gates: self.gates.clone(),
            }),
        }
    }

    /// Accepts gRPC-Web (HTTP/1.1 and HTTP/2) beside gRPC, for browsers.
    pub fn accept_grpc_web(&mut self) {
        self.grpc_web = true;
    }

    /// Declares a full method path (`/package.Service/Method`) callable without a token.
    pub fn allow_anonymous(&mut self, method_path: impl Into<String>) {
        self.public_methods.push(method_path.into());
    }

    /// Declares the gates of the services of a proto `package` (`egret.activity.v1`):
    /// checked on every call to them before the request is decoded.
    pub fn gate(&mut self, package: &'static str, gates: Gates) {
        self.gates.push((package, gates));
    }

    /// Serves until `shutdown` is cancelled, then reports NOT_SERVING, stops accepting,
    /// and waits up to the drain limit for requests in flight.
    pub async fn serve(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let companions: Vec<_> = std::mem::take(&mut self.companions)
            .into_iter()
            .map(|start| start(shutdown.clone()))
            .collect();
        let served = self.serve_routes(shutdown).await;
        for companion in companions {
            let _ = companion.await;
        }
        served
    }

    async fn serve_routes(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let address = self.local_addr();
        for name in &self.served_names {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let guard = self.guard_layer();
        let front = self.front_layer();
        let grpc_web = self.grpc_web.then(tonic_web::GrpcWebLayer::new);
        let web = self.web.clone().map(|to| DivertLayer {
            rule: Rule::NotGrpc,
            to,
        });
        let health = self.health.clone();
        let served_names = self.served_names.clone();
        let signal_token = shutdown.clone();
        let signal = async move {
            signal_token.cancelled().await;
            health
                .set_service_status("", ServingStatus::NotServing)
                .await;
            for name in served_names {
                health
                    .set_service_status(name, ServingStatus::NotServing)
                    .await;
            }
            tracing::info!(%address, "shutdown started, draining requests");
        };
        let router = Server::builder()
            .http2_keepalive_interval(Some(links::HTTP2_KEEPALIVE_INTERVAL))
            .http2_keepalive_timeout(Some(links::HTTP2_KEEPALIVE_TIMEOUT))
            .accept_http1(self.grpc_web || web.is_some())
            .layer(tower::util::option_layer(web))
            .layer(tower::util::option_layer(grpc_web))
            .layer(tower::util::option_layer(front))
            .layer(guard)
            .add_routes(self.routes.routes());
        let serving = router.serve_with_incoming_shutdown(links::incoming(self.listener), signal);
        tokio::pin!(serving);
        tracing::info!(%address, "serving grpc");
        tokio::select! {
            result = &mut serving => return result.map_err(Into::into),
            () = shutdown.cancelled() => {}
        }
        match tokio::time::timeout(self.settings.drain_timeout, serving).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => {
                tracing::warn!(
                    %address,
                    drain_timeout = ?self.settings.drain_timeout,
                    "drain limit reached, closing remaining requests"
                );
                Ok(())
            }
        }
    }
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut terminate =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(terminate) => terminate,
                    Err(error) => {
                        tracing::error!(%error, "cannot listen for SIGTERM");
                        let _ = ctrl_c.await;
                        cancel.cancel();
                        return;
                    }
                };
            tokio::select! {
                _ = ctrl_c => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        cancel.cancel();
    });
    token
}

tokio::task_local! {
    /// When the request being served must be answered by; set around every call, so that
    /// calls it makes to other services can pass the deadline on.
    static REQUEST_DEADLINE: tokio::time::Instant;
}

/// The time left to the deadline of the request this task serves, if it serves one.
pub fn remaining_deadline() -> Option<Duration> {
    REQUEST_DEADLINE
        .try_with(|ends| ends.saturating_duration_since(tokio::time::Instant::now()))
        .ok()
}

/// The deadline for a call made while serving a request: `limit`, or less when the request
/// being served has less time left.
pub fn outgoing_deadline(limit: Duration) -> Duration {
    remaining_deadline().map_or(limit, |remaining| remaining.min(limit))
}

/// Which requests a [`Divert`] sends elsewhere.
#[derive(Clone)]
enum Rule {
    /// Calls to services other than these (by name): the gateway's proxy.
    NotServedHere(Arc<[String]>),
    /// Requests that are not gRPC or gRPC-Web (by content type): the web console.
    NotGrpc,
}

impl Rule {
    fn applies<B>(&self, request: &http::Request<B>) -> bool {
        match self {
            Rule::NotServedHere(local) => {
                let service = request
                    .uri()
                    .path()
                    .strip_prefix('/')
                    .and_then(|rest| rest.split_once('/'))
                    .map_or("", |(service, _method)| service);
                !local.iter().any(|name| name == service)
            }
            Rule::NotGrpc => !is_grpc(request),
        }
    }
}

/// Whether `request` is a gRPC or gRPC-Web call (`application/grpc`, `application/grpc+proto`,
/// `application/grpc-web-text`, …) rather than a browser's page or form.
fn is_grpc<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"))
}

/// Sends the requests its rule picks to another service, the rest on inward.
#[derive(Clone)]
struct DivertLayer {
    rule: Rule,
    to: Fallback,
}

impl<S> Layer<S> for DivertLayer {
    type Service = Divert<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Divert {
            inner,
            rule: self.rule.clone(),
            to: self.to.clone(),
        }
    }
}

#[derive(Clone)]
struct Divert<S> {
    inner: S,
    rule: Rule,
    to: Fallback,
}

impl<S> Service<http::Request<tonic::body::Body>> for Divert<S>
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if self.rule.applies(&request) {
            let mut to = self.to.clone();
            return Box::pin(async move { to.call(request).await });
        }
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        Box::pin(inner.call(request))
    }
}

struct GuardState {
    permits: Arc<Semaphore>,
    default_deadline: Duration,
    max_deadline: Duration,
    max_message_bytes: usize,
    verifier: TokenVerifier,
    public_methods: Vec<String>,
    gates: Vec<(&'static str, Gates)>,
}

impl GuardState {
    /// The gate of the method at `path` (`/egret.activity.v1.ActivityService/CreateActivity`).
    fn gate(&self, path: &str) -> Option<crate::Gate> {
        let path = path.strip_prefix('/')?;
        self.gates.iter().find_map(|(package, gates)| {
            let method = path.strip_prefix(package)?.strip_prefix('.')?;
            gates(method)
        })
    }
}

/// Authentication, the deadline, the concurrency limit and the request span, applied to
/// every call before it reaches a service.
#[derive(Clone)]
struct GuardLayer {
    state: Arc<GuardState>,
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
struct Guard<S> {
    inner: S,
    state: Arc<GuardState>,
}

/// Parses a `grpc-timeout` header value (up to 8 digits and a unit).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount.checked_mul(3600)?),
        "M" => Duration::from_secs(amount.checked_mul(60)?),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Guard<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        // The ready service is the one to call; keep a fresh clone for the next call.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        let path = request.uri().path().to_string();
        let span = tracing::info_span!("grpc", rpc.method = %path, otel.kind = "server");
        telemetry::set_parent_from_headers(&span, request.headers());

        let public = PUBLIC_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
            || state.public_methods.contains(&path);
        match bearer_token(request.headers()).map(|token| state.verifier.verify(token)) {
            Some(Ok(principal)) => {
                if let Some(gate) = state.gate(&path)
                    && let Err(refused) = principal.require_gate(&gate)
                {
                    return reject(refused);
                }
                request.extensions_mut().insert(principal);
            }
            Some(Err(why)) if !public => {
                let _entered = span.enter();
                tracing::info!(reason = %why, "refused token");
                return reject(ApiError::Unauthenticated(why));
            }
            None if !public => {
                return reject(ApiError::Unauthenticated(
                    "a bearer token is required (authorization: Bearer …)".to_string(),
                ));
            }
            _ => {}
        }

        let permit = if UNSHED_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            None
        } else {
            match state.permits.clone().try_acquire_owned() {
                Ok(permit) => Some(permit),
                Err(_) => {
                    return reject(ApiError::ResourceExhausted(Bilingual::new(
                        "the server is at its concurrency limit; retry with backoff",
                        "服务器繁忙，请稍后重试",
                    )));
                }
            }
        };

        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map_or(state.default_deadline, |asked| {
                asked.min(state.max_deadline)
            });

        Box::pin(
            async move {
                let _permit = permit;
                let ends = tokio::time::Instant::now() + deadline;
                let call = REQUEST_DEADLINE.scope(ends, inner.call(request));
                // A call that finishes in the same wake-up as its timer would pass `timeout`
                // (it polls the call first): the answer of a call past its deadline is late
                // whatever made it so, and the client is told so.
                match tokio::time::timeout(deadline, call).await {
                    Ok(result) if tokio::time::Instant::now() <= ends => {
                        result.map(|response| message_too_large(response, state.max_message_bytes))
                    }
                    _ => {
                        tracing::info!(?deadline, "deadline exceeded");
                        Ok(tonic::Status::from(ApiError::DeadlineExceeded(format!(
                            "the request took longer than its deadline of {deadline:?}"
                        )))
                        .into_http())
                    }
                }
            }
            .instrument(span),
        )
    }
}

/// Egret's errors never use OUT_OF_RANGE (see `ApiError`): in the headers of a response
/// it comes from tonic's codec refusing a request message over the size limit. gRPC's code
/// for a message over the limit is RESOURCE_EXHAUSTED, with a message that says which limit.
fn message_too_large<ResBody: Default>(
    response: http::Response<ResBody>,
    max_message_bytes: usize,
) -> http::Response<ResBody> {
    let out_of_range = response
        .headers()
        .get("grpc-status")
        .is_some_and(|status| status.as_bytes() == b"11");
    if !out_of_range {
        return response;
    }
    tonic::Status::from(ApiError::ResourceExhausted(Bilingual::new(
        format!("the request message is larger than the limit of {max_message_bytes} bytes"),
        format!("请求消息超过 {max_message_bytes} 字节的上限"),
    )))
    .into_http()
}

fn reject<ResBody, E>(error: ApiError) -> BoxFuture<'static, Result<http::Response<ResBody>, E>>
where
    ResBody: Default + Send + 'static,
    E: Send + 'static,
{
    let response = tonic::Status::from(error).into_http();
    Box::pin(async move { Ok(response) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_parse() {
        assert_eq!(parse_grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
    }
}

#[cfg(test)]
mod guard_tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use ed25519_dalek::SigningKey;
    use tower::{Layer, Service, ServiceExt};

    use super::*;
    use crate::auth::{Principal, Role, TokenIssuer};

    fn guard(limit: usize, default_deadline: Duration) -> (GuardLayer, TokenIssuer) {
        let key = SigningKey::from_bytes(&[5; 32]);
        let layer = GuardLayer {
            state: Arc::new(GuardState {
                permits: Arc::new(Semaphore::new(limit)),
                default_deadline,
                max_deadline: Duration::from_secs(60),
                max_message_bytes: 4096,
                verifier: TokenVerifier::new(key.verifying_key(), "xm"),
                public_methods: vec!["/egret.test.v1.Public/Open".to_string()],
                gates: vec![("egret.test.v1", test_gates)],
            }),
        };
        (layer, TokenIssuer::new(key, "xm"))
    }

    fn test_gates(method: &str) -> Option<crate::Gate> {
        (method == "Writes/Write").then_some(crate::Gate {
            roles: &[Role::Staff],
            volunteer_for_itself: true,
            action: "writing",
        })
    }

    #[tokio::test]
    async fn gates_refuse_before_the_service_sees_the_request() {
        let (layer, issuer) = guard(4, Duration::from_secs(5));
        let service = layer.layer(sleeper(Duration::ZERO));
        let write = "/egret.test.v1.Writes/Write";
        for (roles, allowed) in [
            (vec![Role::Viewer], false),
            (vec![Role::Sync], false),
            (vec![Role::Staff], true),
            (vec![Role::Viewer, Role::Volunteer], true),
        ] {
            let token = issuer.issue(
                &Principal {
                    subject: "t".to_string(),
                    org_unit: "root".to_string(),
                    roles: roles.iter().copied().collect(),
                    volunteer: roles
                        .contains(&Role::Volunteer)
                        .then(|| "01a2249c-bb2a-7266-9666-54bd0a9641e3".to_string()),
                },
                Duration::from_secs(60),
            );
            let response = service
                .clone()
                .oneshot(request(write, Some(&token), None))
                .await
                .expect("response");
            let expected = (!allowed).then_some(tonic::Code::PermissionDenied as i32);
            assert_eq!(grpc_status(&response), expected, "{roles:?}");
        }
        // Methods without a gate are the service's to decide.
        let response = service
            .clone()
            .oneshot(request(
                "/egret.test.v1.Writes/Read",
                Some(&token(&issuer)),
                None,
            ))
            .await
            .expect("response");
        assert_eq!(grpc_status(&response), None);
    }

    fn token(issuer: &TokenIssuer) -> String {
        issuer.issue(
            &Principal {
                subject: "t".to_string(),
                org_unit: "root".to_string(),
                roles: [Role::Viewer].into_iter().collect(),
                volunteer: None,
            },
            Duration::from_secs(60),
        )
    }

    fn request(path: &str, token: Option<&str>, timeout: Option<&str>) -> http::Request<()> {
        let mut builder = http::Request::builder().uri(format!("http://x{path}"));
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if let Some(timeout) = timeout {
            builder = builder.header("grpc-timeout", timeout);
        }
        builder.body(()).expect("request")
    }

    fn grpc_status(response: &http::Response<String>) -> Option<i32> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
    }

    /// An inner service that sleeps `delay`, then answers 200 with the principal's subject.
    fn sleeper(
        delay: Duration,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(move |request: http::Request<()>| async move {
            tokio::time::sleep(delay).await;
            let subject = request
                .extensions()
                .get::<Principal>()
                .map(|principal| principal.subject.clone())
                .unwrap_or_default();
            Ok::<_, Infallible>(http::Response::new(subject))
        })
    }

    #[tokio::test]
    async fn tokens_are_required_except_on_public_paths() {
        let (layer, issuer) = guard(4, Duration::from_secs(5));
        let service = layer.layer(sleeper(Duration::ZERO));
        let response = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", None, None))
            .await
            .expect("response");
        assert_eq!(
            grpc_status(&response),
            Some(tonic::Code::Unauthenticated as i32)
        );
        let response = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some("nope"), None))
            .await
            .expect("response");
        assert_eq!(
            grpc_status(&response),
            Some(tonic::Code::Unauthenticated as i32)
        );
        let response = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some(&token(&issuer)), None))
            .await
            .expect("response");
        assert_eq!(response.body(), "t");
        for public in ["/grpc.health.v1.Health/Check", "/egret.test.v1.Public/Open"] {
            let response = service
                .clone()
                .oneshot(request(public, None, None))
                .await
                .expect("response");
            assert_eq!(grpc_status(&response), None, "{public}");
        }
    }

    #[tokio::test]
    async fn deadlines_are_enforced() {
        let (layer, issuer) = guard(4, Duration::from_millis(50));
        let service = layer.layer(sleeper(Duration::from_millis(500)));
        let token = token(&issuer);
        let response = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some(&token), None))
            .await
            .expect("response");
        assert_eq!(
            grpc_status(&response),
            Some(tonic::Code::DeadlineExceeded as i32)
        );
        // A longer deadline asked by the client is honoured.
        let response = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some(&token), Some("2S")))
            .await
            .expect("response");
        assert_eq!(response.body(), "t");
    }

    #[tokio::test]
    async fn the_remaining_deadline_is_visible_to_the_handler() {
        let (layer, issuer) = guard(4, Duration::from_secs(5));
        let service = layer.layer(tower::service_fn(|_request: http::Request<()>| async {
            let remaining = outgoing_deadline(Duration::from_secs(60));
            Ok::<_, Infallible>(http::Response::new(format!("{}", remaining.as_millis())))
        }));
        let response = service
            .oneshot(request(
                "/egret.x.v1.S/M",
                Some(&token(&issuer)),
                Some("800m"),
            ))
            .await
            .expect("response");
        let remaining: u128 = response.body().parse().expect("millis");
        assert!((1..=800).contains(&remaining), "{remaining}");
        assert_eq!(
            outgoing_deadline(Duration::from_secs(3)),
            Duration::from_secs(3),
            "outside a request"
        );
    }

    #[tokio::test]
    async fn excess_load_is_shed_but_health_is_not() {
        let (layer, issuer) = guard(1, Duration::from_secs(5));
        let service = layer.layer(sleeper(Duration::from_millis(300)));
        let token = token(&issuer);
        let first = tokio::spawn(service.clone().oneshot(request(
            "/egret.x.v1.S/M",
            Some(&token),
            None,
        )));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let second = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some(&token), None))
            .await
            .expect("response");
        assert_eq!(
            grpc_status(&second),
            Some(tonic::Code::ResourceExhausted as i32)
        );
        let health = service
            .clone()
            .oneshot(request("/grpc.health.v1.Health/Check", None, None))
            .await
            .expect("response");
        assert_eq!(grpc_status(&health), None);
        let first = first.await.expect("task").expect("response");
        assert_eq!(first.body(), "t");
        let third = service
            .clone()
            .oneshot(request("/egret.x.v1.S/M", Some(&token), None))
            .await
            .expect("response");
        assert_eq!(third.body(), "t");
    }
}
