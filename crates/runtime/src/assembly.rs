//! Assembling a process from services. Each service is a [`Part`]: it opens from its
//! settings, adds its gRPC services to a host and may run followers in the background. An
//! [`Assembly`] binds one listener and serves every part added to it, so a process that
//! runs one service and a process that runs all four differ only in how many times they
//! call [`Assembly::add`].

use std::future::Future;
use std::net::SocketAddr;

use futures::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Settings};
use crate::keys;
use crate::{ServiceHost, TokenVerifier};

/// A service a process can be assembled from.
pub trait Part: Clone + Send + Sync + 'static {
    /// The service's own configuration section.
    type Settings: Clone + Send + Sync + 'static;

    /// The short name (`activity`), for messages.
    const NAME: &'static str;

    /// The configuration keys of the other services this one calls, with their values.
    /// Empty values mean "on this very listener", so each is required when the service
    /// runs on its own.
    fn peers(_settings: &Self::Settings) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Opens the database and the links to other services; `own` is the address of the
    /// host the service will be served on.
    fn open(
        common: &Settings,
        settings: &Self::Settings,
        own: SocketAddr,
    ) -> impl Future<Output = anyhow::Result<Self>> + Send;

    /// Adds the service's gRPC services to `host`.
    fn add_to(&self, host: &mut ServiceHost);

    /// Starts what runs beside the server (followers of other services' change logs)
    /// until `shutdown`.
    fn spawn_followers(
        &self,
        _settings: &Self::Settings,
        _shutdown: &CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        Vec::new()
    }

    /// Closes the database, once the host has drained.
    fn close(&self) -> impl Future<Output = ()> + Send;
}

type Starter = Box<dyn FnOnce(&CancellationToken) -> Vec<JoinHandle<()>> + Send>;
type Closer = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// One listener and the services served on it.
pub struct Assembly {
    host: ServiceHost,
    common: Settings,
    starters: Vec<Starter>,
    closers: Vec<Closer>,
}

impl Assembly {
    /// Binds `common.listen` (port 0 picks a free port), with the instance's token key.
    pub async fn bind(common: &Settings) -> anyhow::Result<Self> {
        Self::bind_at(common, common.listen).await
    }

    /// Binds `address` instead of `common.listen`.
    pub async fn bind_at(common: &Settings, address: SocketAddr) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::new(
            keys::verifying_key(&common.data_dir, &common.auth)?,
            common.instance.id.clone(),
        );
        let host = ServiceHost::bind(address, common.server.clone(), verifier).await?;
        Ok(Self {
            host,
            common: common.clone(),
            starters: Vec::new(),
            closers: Vec::new(),
        })
    }

    /// Opens `P` and serves it here.
    pub async fn add<P: Part>(&mut self, settings: &P::Settings) -> anyhow::Result<P> {
        let part = P::open(&self.common, settings, self.host.local_addr()).await?;
        part.add_to(&mut self.host);
        let follower = part.clone();
        let follower_settings = settings.clone();
        self.starters.push(Box::new(move |shutdown| {
            follower.spawn_followers(&follower_settings, shutdown)
        }));
        let closing = part.clone();
        self.closers.push(Box::new(move || {
            Box::pin(async move { closing.close().await })
        }));
        Ok(part)
    }

    /// Opens `P` as the only service of this process: every other service it calls must
    /// have its address configured.
    pub async fn add_alone<P: Part>(&mut self, settings: &P::Settings) -> anyhow::Result<P> {
        for (key, address) in P::peers(settings) {
            if address.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "is required when the {} service runs on its own; set it to the other service's address, like http://127.0.0.1:50051",
                        P::NAME
                    ),
                )
                .into());
            }
        }
        self.add(settings).await
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The host, for what is served beside the parts.
    pub fn host(&mut self) -> &mut ServiceHost {
        &mut self.host
    }

    /// Serves until `shutdown`, with every part's followers running; then drains, waits
    /// for the followers and closes the databases.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let followers: Vec<JoinHandle<()>> = self
            .starters
            .into_iter()
            .flat_map(|start| start(&shutdown))
            .collect();
        let served = self.host.serve(shutdown).await;
        for follower in followers {
            let _ = follower.await;
        }
        for close in self.closers {
            close().await;
        }
        served
    }
}

/// Runs `P` as a process of its own (the `egret-<service>` binaries): telemetry, one
/// listener, a line on stdout saying where it listens, and service until `shutdown`.
pub async fn serve_alone<P: Part>(
    common: &Settings,
    settings: &P::Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _telemetry = crate::telemetry::init(&common.telemetry)?;
    let mut assembly = Assembly::bind(common).await?;
    let metrics = crate::metrics::Endpoint::bind(&common.metrics).await?;
    assembly.add_alone::<P>(settings).await?;
    println!("egret-{} listening on {}", P::NAME, assembly.local_addr());
    let metrics = metrics.map(|metrics| {
        println!("metrics at http://{}/metrics", metrics.local_addr());
        metrics.spawn(shutdown.clone())
    });
    let served = assembly.run_until_stopped(shutdown).await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    served
}
