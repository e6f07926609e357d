//! Socket and HTTP/2 options of every connection an Egret process accepts or opens.
//!
//! `TCP_NODELAY` is set on both ends. Without it a small response written after another
//! small write waits for the peer's delayed ACK (Nagle's algorithm), which costs about
//! 40 ms per call on Linux; services call each other over the same kind of link, so each
//! hop would pay it again. Service links are long-lived, so HTTP/2 pings and TCP keepalives
//! find a dead peer (a restarted pod, a dropped NAT entry) instead of waiting for the next
//! call to time out.

use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Endpoint;
use tonic::transport::server::TcpIncoming;

/// How often an HTTP/2 ping checks an otherwise quiet connection.
pub const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// How long a ping may go unanswered before the connection is closed.
pub const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle time before the kernel starts probing a TCP connection.
pub const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// How long an outgoing channel waits for a connection to be established.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The accepted connections of `listener`, each with `TCP_NODELAY` and TCP keepalives set.
pub fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(TCP_KEEPALIVE))
}

/// An endpoint for a long-lived link to another service: `TCP_NODELAY`, TCP keepalives,
/// HTTP/2 pings while idle and a bounded connect time.
pub fn endpoint(endpoint: Endpoint) -> Endpoint {
    endpoint
        .tcp_nodelay(true)
        .tcp_keepalive(Some(TCP_KEEPALIVE))
        .http2_keep_alive_interval(HTTP2_KEEPALIVE_INTERVAL)
        .keep_alive_timeout(HTTP2_KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true)
        .connect_timeout(CONNECT_TIMEOUT)
}
