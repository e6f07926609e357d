//! Prometheus metrics of the process, served on an address of their own
//! (`metrics.address`), never on the public gRPC port: a scrape sees figures only, and
//! no label carries personal data (services, districts' instance ids, link states).
//!
//! Metrics register in the process's default registry, where they are defined (for
//! example the sync links' in `egret-sync`); this module serves whatever is registered, in
//! the Prometheus text format, at `GET /metrics`.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::Encoder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The metrics endpoint, bound before the process serves anything.
pub struct Endpoint {
    listener: TcpListener,
}

impl Endpoint {
    /// Binds `settings.address`; None when it is empty (no metrics served).
    pub async fn bind(settings: &crate::config::MetricsSettings) -> anyhow::Result<Option<Self>> {
        let Some(address) = settings.address()? else {
            return Ok(None);
        };
        let listener = TcpListener::bind(address).await.map_err(|error| {
            anyhow::anyhow!("metrics.address: cannot listen on {address}: {error}")
        })?;
        Ok(Some(Self { listener }))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves scrapes until `shutdown`.
    pub fn spawn(self, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    () = shutdown.cancelled() => return,
                    accepted = self.listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(error) => {
                            tracing::debug!(%error, "accepting a metrics scrape failed");
                            continue;
                        }
                    },
                };
                tokio::spawn(async move {
                    let served = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(answer))
                        .await;
                    if let Err(error) = served {
                        tracing::debug!(%error, "a metrics scrape failed");
                    }
                });
            }
        })
    }
}

async fn answer(
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let response = hyper::Response::builder();
    if request.method() != hyper::Method::GET || request.uri().path() != "/metrics" {
        return Ok(response
            .status(hyper::StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(
                b"metrics are at GET /metrics\n",
            )))
            .expect("a static response"));
    }
    let encoder = prometheus::TextEncoder::new();
    let mut body = Vec::new();
    if let Err(error) = encoder.encode(&prometheus::gather(), &mut body) {
        tracing::warn!(%error, "encoding the metrics failed");
        return Ok(response
            .status(hyper::StatusCode::INTERNAL_SERVER_ERROR)
            .body(Full::new(Bytes::from_static(
                b"encoding the metrics failed\n",
            )))
            .expect("a static response"));
    }
    Ok(response
        .header(hyper::header::CONTENT_TYPE, encoder.format_type())
        .body(Full::new(Bytes::from(body)))
        .expect("a text response"))
}
