//! Forwarding each call to the service that owns it, by the call's path
//! (`/egret.activity.v1.ActivityService/CreateActivity` goes to the activity service).
//!
//! Bodies and trailers stream through untouched: the gateway never decodes a message, so a
//! new method or field in a service needs no change here, and a large export streams
//! without being held. Each service is reached over a few long-lived HTTP/2 connections
//! (`TCP_NODELAY`, pings while idle) that carry every call multiplexed.
//!
//! In `egret up` the services run in the gateway's own process, and a call goes to them
//! directly, through the same checks their listener applies, without a hop through the
//! network.
//!
//! A call to another process is retried only when the service cannot have started processing it (gRFC A6's
//! transparent retry): when no connection could be made, or when hyper hands the request
//! back unsent because the connection it was queued on closed first. A request that was
//! written, even in part, is never sent again: its body is streamed, not buffered, and the
//! service may have acted on it.

use egret_sync::SERVICE_HEADER;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use egret_runtime::server::parse_grpc_timeout;
use egret_runtime::{ApiError, Bilingual, Fallback, links};
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, Uri, Version};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

use crate::config::GatewaySettings;

/// Headers that claim who the caller is or where it came from. A client could forge them,
/// so the gateway drops them (and any `x-egret-…` header) and sets `x-forwarded-for` to
/// the address it really sees. Services still verify the bearer token themselves.
const IDENTITY_HEADERS: [&str; 10] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-client-ip",
    "x-remote-user",
    "x-user",
    "x-user-id",
    "x-principal",
];

/// The prefix of headers reserved for Egret's own processes.
const RESERVED_PREFIX: &str = "x-egret-";

/// A service behind the gateway, and how calls reach it.
pub struct Upstream {
    service: KnownService,
    authority: http::uri::Authority,
    link: Link,
}

enum Link {
    /// Another process, over HTTP/2 connections.
    Remote {
        slots: Box<[Slot]>,
        next: AtomicUsize,
        connect_timeout: Duration,
        attempts: u32,
    },
    /// The same process (`egret up`): the service's own checks and routes, called directly.
    Local(Fallback),
}

/// A service the gateway knows: its name, its proto package and how a person calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownService {
    /// The short name: `registry`, `activity`, `recognition`, `reporting`.
    pub name: &'static str,
    /// The proto package of its contracts: `egret.registry.v1`.
    pub package: &'static str,
    /// Its name in Chinese, for messages.
    pub zh_name: &'static str,
}

#[derive(Default)]
struct Slot {
    sender: Mutex<Option<SendRequest<Body>>>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn open_sender(&self) -> Option<SendRequest<Body>> {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|sender| !sender.is_closed())
            .cloned()
    }

    fn keep(&self, sender: SendRequest<Body>) {
        *self.sender.lock().unwrap_or_else(PoisonError::into_inner) = Some(sender);
    }
}

impl Upstream {
    /// A service in another process at `address` (`http://host:port`); connections open
    /// on first use.
    pub fn remote(
        service: KnownService,
        address: &Uri,
        settings: &GatewaySettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            service,
            authority: authority(address)?,
            link: Link::Remote {
                slots: (0..settings.connections_per_service.max(1))
                    .map(|_| Slot::default())
                    .collect(),
                next: AtomicUsize::new(0),
                connect_timeout: settings.connect_timeout,
                attempts: settings.attempts,
            },
        })
    }

    /// A service in this process, called through `local`; `address` is where the same
    /// service listens, for health checks.
    pub fn local(service: KnownService, address: &Uri, local: Fallback) -> anyhow::Result<Self> {
        Ok(Self {
            service,
            authority: authority(address)?,
            link: Link::Local(local),
        })
    }

    /// The service this upstream is.
    pub fn service(&self) -> KnownService {
        self.service
    }

    /// The `host:port` it is reached at.
    pub fn authority(&self) -> &str {
        self.authority.as_str()
    }

    async fn sender(
        &self,
        slot: &Slot,
        connect_timeout: Duration,
    ) -> Result<SendRequest<Body>, String> {
        if let Some(sender) = slot.open_sender() {
            return Ok(sender);
        }
        // One caller connects while the others wait for its connection.
        let _connecting = slot.connecting.lock().await;
        if let Some(sender) = slot.open_sender() {
            return Ok(sender);
        }
        let sender = self.connect(connect_timeout).await?;
        slot.keep(sender.clone());
        Ok(sender)
    }

    async fn connect(&self, connect_timeout: Duration) -> Result<SendRequest<Body>, String> {
        let stream =
            tokio::time::timeout(connect_timeout, TcpStream::connect(self.authority.as_str()))
                .await
                .map_err(|_| format!("connecting took over {connect_timeout:?}"))?
                .map_err(|error| format!("cannot connect: {error}"))?;
        stream
            .set_nodelay(true)
            .map_err(|error| format!("setting TCP_NODELAY: {error}"))?;
        let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(links::HTTP2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(links::HTTP2_KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| format!("HTTP/2 handshake failed: {error}"))?;
        let name = self.service.name;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(service = name, %error, "connection to service closed");
            }
        });
        tracing::debug!(service = name, address = %self.authority, "connected to service");
        Ok(sender)
    }

    /// Forwards `request` and answers with the service's response, or with UNAVAILABLE
    /// naming the service, or DEADLINE_EXCEEDED once `ends` passes.
    pub async fn forward(&self, mut request: Request<Body>, ends: Instant) -> Response<Body> {
        let (slots, next, connect_timeout, attempts) = match &self.link {
            Link::Local(local) => {
                set_grpc_timeout(request.headers_mut(), ends);
                return match tokio::time::timeout_at(ends, local.clone().oneshot(request)).await {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => deadline_exceeded(self.service),
                };
            }
            Link::Remote {
                slots,
                next,
                connect_timeout,
                attempts,
            } => (slots, next, *connect_timeout, *attempts),
        };
        let slot = &slots[next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        let target = Uri::builder()
            .scheme("http")
            .authority(self.authority.clone())
            .path_and_query(
                request
                    .uri()
                    .path_and_query()
                    .map_or("/", |path| path.as_str()),
            )
            .build();
        match target {
            Ok(target) => *request.uri_mut() = target,
            Err(error) => return status(ApiError::Internal(error.into())),
        }
        *request.version_mut() = Version::HTTP_2;
        let mut attempt = 0;
        loop {
            attempt += 1;
            set_grpc_timeout(request.headers_mut(), ends);
            let why = match tokio::time::timeout_at(ends, self.sender(slot, connect_timeout)).await
            {
                Err(_) => return deadline_exceeded(self.service),
                Ok(Err(connect_error)) => connect_error,
                Ok(Ok(mut sender)) => {
                    match tokio::time::timeout_at(ends, sender.try_send_request(request)).await {
                        Err(_) => return deadline_exceeded(self.service),
                        Ok(Ok(response)) => return response.map(Body::new),
                        Ok(Err(mut error)) => match error.take_message() {
                            Some(unsent) => {
                                request = unsent;
                                format!("the connection closed: {}", error.error())
                            }
                            None => {
                                return self.unavailable(format!(
                                    "the call failed on its way: {}",
                                    error.error()
                                ));
                            }
                        },
                    }
                }
            };
            tracing::debug!(service = self.service.name, attempt, reason = %why, "call not sent");
            let pause = backoff(attempt);
            if attempt >= attempts || Instant::now() + pause >= ends {
                return self.unavailable(why);
            }
            tokio::time::sleep(pause).await;
        }
    }

    fn unavailable(&self, why: String) -> Response<Body> {
        tracing::info!(service = self.service.name, reason = %why, "service unavailable");
        status(ApiError::Unavailable(Bilingual::new(
            format!(
                "the {} service at {} does not answer ({why}); the other services keep serving",
                self.service.name, self.authority
            ),
            format!("{}暂时无法访问，其他服务不受影响", self.service.zh_name),
        )))
    }
}

fn authority(address: &Uri) -> anyhow::Result<http::uri::Authority> {
    address
        .authority()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{address} has no host and port"))
}

/// How long to wait before attempt `attempt + 1`.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(25 << attempt.min(4))
}

fn set_grpc_timeout(headers: &mut http::HeaderMap, ends: Instant) {
    let remaining = ends.saturating_duration_since(Instant::now());
    // Whole milliseconds, rounded up so a short deadline does not become zero; eight
    // digits is the protocol's limit.
    let millis = remaining.as_micros().div_ceil(1000).clamp(1, 99_999_999);
    if let Ok(value) = HeaderValue::from_str(&format!("{millis}m")) {
        headers.insert("grpc-timeout", value);
    }
}

fn deadline_exceeded(service: KnownService) -> Response<Body> {
    status(ApiError::DeadlineExceeded(format!(
        "the {} service did not answer within the call's deadline",
        service.name
    )))
}

fn status(error: ApiError) -> Response<Body> {
    tonic::Status::from(error).into_http()
}

/// The package of the contracts every service serves alike; calls to it name their
/// service in the `egret-service` header.
const SHARED_PACKAGE: &str = "egret.sync.";

/// The gateway's forwarding service: routes each call to its upstream by proto package.
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<ProxyInner>,
}

struct ProxyInner {
    upstreams: Vec<Arc<Upstream>>,
    default_deadline: Duration,
    max_deadline: Duration,
}

impl Proxy {
    /// A proxy to `upstreams`; a call that brings no deadline gets `default_deadline`, and
    /// none may ask for more than `max_deadline`.
    pub fn new(
        upstreams: Vec<Arc<Upstream>>,
        default_deadline: Duration,
        max_deadline: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(ProxyInner {
                upstreams,
                default_deadline,
                max_deadline,
            }),
        }
    }

    /// The upstream that owns the called method: by proto package, or for the change-log
    /// contract every service shares (`egret.sync.v1`), by the `egret-service` header.
    fn route(&self, request: &Request<Body>) -> Result<&Arc<Upstream>, ApiError> {
        let path = request.uri().path();
        let service = path
            .strip_prefix('/')
            .and_then(|rest| rest.split('/').next())
            .unwrap_or(path);
        if service.starts_with(SHARED_PACKAGE) {
            return self.route_by_header(request);
        }
        self.inner
            .upstreams
            .iter()
            .find(|upstream| {
                service
                    .strip_prefix(upstream.service.package)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
            .ok_or_else(|| {
                ApiError::Unimplemented(Bilingual::new(
                    format!("this instance serves no service named {service:?}"),
                    format!("本实例没有名为 {service:?} 的服务"),
                ))
            })
    }

    fn route_by_header(&self, request: &Request<Body>) -> Result<&Arc<Upstream>, ApiError> {
        let named = request
            .headers()
            .get(SERVICE_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .unwrap_or_default();
        if let Some(upstream) = self
            .inner
            .upstreams
            .iter()
            .find(|upstream| upstream.service.name == named)
        {
            return Ok(upstream);
        }
        let served = self
            .inner
            .upstreams
            .iter()
            .map(|upstream| upstream.service.name)
            .collect::<Vec<_>>()
            .join(", ");
        Err(ApiError::invalid(
            SERVICE_HEADER,
            format!("must name one of this instance's services ({served}); got {named:?}"),
            format!("请求头 {SERVICE_HEADER} 须指明本实例的一个服务（{served}），收到 {named:?}"),
        ))
    }

    async fn dispatch(self, mut request: Request<Body>) -> Response<Body> {
        let upstream = match self.route(&request) {
            Ok(upstream) => upstream.clone(),
            Err(error) => return status(error),
        };
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| value.to_str().ok())
            .and_then(parse_grpc_timeout)
            .map_or(self.inner.default_deadline, |asked| {
                asked.min(self.inner.max_deadline)
            });
        let ends = Instant::now() + deadline;
        strip_identity_headers(&mut request);
        upstream.forward(request, ends).await
    }
}

/// Drops the headers a client could use to pose as someone or somewhere else, and says
/// where the call really came from.
fn strip_identity_headers(request: &mut Request<Body>) {
    let peer = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr);
    let headers = request.headers_mut();
    for name in IDENTITY_HEADERS {
        headers.remove(name);
    }
    let reserved: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(RESERVED_PREFIX))
        .cloned()
        .collect();
    for name in reserved {
        headers.remove(&name);
    }
    if let Some(peer) = peer
        && let Ok(value) = HeaderValue::from_str(&peer.ip().to_string())
    {
        headers.insert("x-forwarded-for", value);
    }
}

impl tower::Service<Request<Body>> for Proxy {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let proxy = self.clone();
        Box::pin(async move { Ok(proxy.dispatch(request).await) })
    }
}
