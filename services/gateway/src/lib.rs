//! The gateway of Egret: the one address of an instance.
//!
//! Every gRPC call to an instance arrives here and is forwarded by its path to the service
//! that owns it ([`proxy`]); health and reflection answer for the whole instance
//! ([`health`]); browsers speak gRPC-Web on the same port. The gateway does not check
//! bearer tokens on forwarded calls: every service verifies each token itself, so the
//! gateway is not the only lock, and a call pays for one signature check, not two.
//!
//! This crate stands above the services and is the one place that knows all of them:
//! [`Instance`] assembles a whole instance in one process (`egret up`), and [`Gateway`]
//! alone fronts services that run as processes of their own (`egret-gateway`).

pub mod accounts;
pub mod cli;
pub mod config;
pub mod enrollments;
pub mod health;
pub mod proxy;

use egret_runtime::config::{InstanceSettings, InstanceTier};
use egret_sync::ServiceLog;
use egret_sync::downward::PullWatch;
use egret_sync::push::{Grants, Pusher};
use egret_sync::upstream::LinkError;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use egret_activity::{Activity, ActivitySettings};
use egret_recognition::{Recognition, RecognitionSettings};
use egret_registry::{Registry, RegistrySettings};
use egret_reporting::{Reporting, ReportingSettings};
use egret_runtime::assembly::Assembly;
use egret_runtime::{
    CancellationToken, ConfigError, Fallback, ServiceHost, Settings, TokenIssuer, TokenVerifier,
    Validate, keys,
};
use egret_storage::{Database, Migrations};
use serde::Deserialize;

pub use accounts::Accounts;
pub use cli::{Cli, Command, run};
pub use config::{GatewaySettings, ServiceAddresses};
pub use proxy::{KnownService, Proxy, Upstream};

/// Every service of an instance, in the order the gateway routes and reports them.
pub const SERVICES: [KnownService; 4] = [
    KnownService {
        name: "registry",
        package: "egret.registry.v1",
        zh_name: "登记服务",
    },
    KnownService {
        name: "activity",
        package: "egret.activity.v1",
        zh_name: "活动服务",
    },
    KnownService {
        name: "recognition",
        package: "egret.recognition.v1",
        zh_name: "表彰服务",
    },
    KnownService {
        name: "reporting",
        package: "egret.reporting.v1",
        zh_name: "统计服务",
    },
];

/// The configuration of a stand-alone gateway process (`egret-gateway`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GatewayConfig {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[gateway]`.
    pub gateway: GatewaySettings,
}

impl Validate for GatewayConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.gateway.validate()?;
        for (key, address) in self.gateway.services.named() {
            if address.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    "is required when the gateway runs on its own (egret-gateway); set it to the service's address, like http://127.0.0.1:50052",
                ));
            }
        }
        Ok(())
    }
}

/// The configuration of a whole instance in one process: shared settings and each
/// service's section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EgretConfig {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[gateway]`.
    pub gateway: GatewaySettings,
    /// `[registry]`.
    pub registry: RegistrySettings,
    /// `[activity]`.
    pub activity: ActivitySettings,
    /// `[recognition]`.
    pub recognition: RecognitionSettings,
    /// `[reporting]`.
    pub reporting: ReportingSettings,
}

impl Validate for EgretConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.gateway.validate()?;
        for (key, address) in self.gateway.services.named() {
            if !address.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    "is for egret-gateway in front of separate service processes; egret up runs every service itself, so leave it empty",
                ));
            }
        }
        self.registry.validate()?;
        self.activity.validate()?;
        self.recognition.validate()?;
        self.reporting.validate()
    }
}

/// The gateway: one listener that forwards every call to its service, and people's
/// accounts.
pub struct Gateway {
    host: ServiceHost,
    upstreams: Vec<Arc<Upstream>>,
    settings: GatewaySettings,
    accounts: Accounts,
    links: enrollments::grpc::Links,
    metrics: Option<egret_runtime::metrics::Endpoint>,
}

/// The gateway's migrations, for both engines.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &accounts::store::SQLITE_MIGRATIONS,
        postgres: &accounts::store::POSTGRES_MIGRATIONS,
    }
}

/// Opens the gateway's database (its accounts), migrating it.
pub async fn open_accounts(
    common: &Settings,
    settings: &GatewaySettings,
    registry: &str,
) -> anyhow::Result<Accounts> {
    let database = Database::open(&common.database, &common.data_dir, "gateway", migrations())
        .await
        .context("opening the gateway database")?;
    let issuer = TokenIssuer::new(
        keys::signing_key(&common.data_dir)?,
        common.instance.id.clone(),
    );
    let registry = egret_runtime::config::service_channel(
        "gateway.services.registry",
        registry,
        common.listen,
    )?;
    Ok(Accounts::new(
        database,
        issuer,
        common.instance.id.clone(),
        registry,
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    ))
}

impl Gateway {
    /// Binds `common.listen` and prepares a proxy to each service at its address, in
    /// other processes.
    pub async fn bind(
        common: &Settings,
        settings: &GatewaySettings,
        addresses: &ServiceAddresses,
    ) -> anyhow::Result<Self> {
        let mut upstreams = Vec::new();
        for (service, (key, address)) in SERVICES.into_iter().zip(addresses.named()) {
            let uri = egret_runtime::config::parse_service_address(key, address)?;
            upstreams.push(Arc::new(Upstream::remote(service, &uri, settings)?));
        }
        Self::bind_to(common, settings, upstreams).await
    }

    /// Binds `common.listen` in front of `upstreams`.
    pub async fn bind_to(
        common: &Settings,
        settings: &GatewaySettings,
        upstreams: Vec<Arc<Upstream>>,
    ) -> anyhow::Result<Self> {
        let verifier = TokenVerifier::new(
            keys::verifying_key(&common.data_dir, &common.auth)?,
            common.instance.id.clone(),
        );
        let mut host = ServiceHost::bind(common.listen, common.server.clone(), verifier).await?;
        let metrics = egret_runtime::metrics::Endpoint::bind(&common.metrics).await?;
        let registry = upstreams
            .iter()
            .find(|upstream| upstream.service().name == "registry")
            .map(|upstream| format!("http://{}", upstream.authority()))
            .context("the gateway needs the registry among its upstreams")?;
        let accounts = open_accounts(common, settings, &registry).await?;
        let links = links(
            &common.instance,
            settings.tally_interval,
            &upstreams,
            &accounts,
            host.local_addr(),
        )?;
        accounts::grpc::add_services(&mut host, accounts.clone());
        enrollments::grpc::add_services(
            &mut host,
            enrollments::Enrollments::new(accounts.clone()),
            links.clone(),
        );
        let proxy = Proxy::new(
            upstreams.clone(),
            common.server.default_deadline,
            settings.max_deadline,
        );
        host.forward_others(Fallback::new(proxy));
        host.accept_grpc_web();
        if settings.console.enabled {
            // The console calls the API through this same stack, as any client would.
            let api = host.in_process_all();
            host.serve_web(egret_console::service(&settings.console, api));
        }
        Ok(Self {
            host,
            upstreams,
            settings: settings.clone(),
            accounts,
            links,
            metrics,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The address of the process's Prometheus metrics (`metrics.address`), if served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .map(egret_runtime::metrics::Endpoint::local_addr)
    }

    /// Serves until `shutdown`, keeping the services' health current meanwhile.
    pub async fn run_until_stopped(mut self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let metrics = self
            .metrics
            .take()
            .map(|metrics| metrics.spawn(shutdown.clone()));
        let watch = health::spawn_watch(
            &self.upstreams,
            self.host.health_reporter(),
            self.settings.health_interval,
            shutdown.clone(),
        )
        .await?;
        let pushers = self.spawn_pushers(&shutdown);
        let served = self.host.serve(shutdown).await;
        let _ = watch.await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        for pusher in pushers {
            let _ = pusher.await;
        }
        self.accounts.database().close().await;
        served
    }

    /// At a district, runs the pushers and keeps [`UPSTREAM_HEALTH`] current with them.
    fn spawn_pushers(&self, shutdown: &CancellationToken) -> Vec<tokio::task::JoinHandle<()>> {
        if self.links.pushers.is_empty() {
            return Vec::new();
        }
        let mut handles: Vec<_> = self
            .links
            .pushers
            .iter()
            .map(|pusher| {
                pusher
                    .clone()
                    .spawn(self.settings.push_interval, shutdown.clone())
            })
            .collect();
        handles.push(tokio::spawn(report_links(
            self.links.clone(),
            self.host.health_reporter(),
            self.settings.push_interval,
            shutdown.clone(),
        )));
        handles
    }

    /// People's accounts.
    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }
}

/// At a district, one pusher per service: it reads the service's log where the gateway
/// reaches the service (`local`, this gateway's own address when they share it), and
/// pushes to the city; and the watch of each service's feed from the city. None at a
/// city.
fn links(
    instance: &InstanceSettings,
    tally_interval: std::time::Duration,
    upstreams: &[Arc<Upstream>],
    accounts: &Accounts,
    local: SocketAddr,
) -> anyhow::Result<enrollments::grpc::Links> {
    let mut links = enrollments::grpc::Links {
        upstream: instance.upstream.clone(),
        ..Default::default()
    };
    if instance.tier != InstanceTier::District {
        return Ok(links);
    }
    let city =
        egret_runtime::config::parse_service_address("instance.upstream", &instance.upstream)?;
    let city =
        egret_runtime::links::endpoint(tonic::transport::Endpoint::from(city)).connect_lazy();
    let grants = Grants::new(instance.clone());
    let credentials =
        egret_runtime::SyncCredentials::new(accounts.issuer().clone(), "egret-gateway");
    for upstream in upstreams {
        let service = upstream.service().name;
        let channel = egret_runtime::config::service_channel(
            "gateway.services",
            &format!("http://{}", upstream.authority()),
            local,
        )?;
        links.pushers.push(
            Pusher::new(
                service,
                instance.id.clone(),
                ServiceLog::new(service, channel.clone(), credentials.clone())
                    .with_projection(instance.upward_projection.as_str()),
                city.clone(),
                grants.clone(),
            )
            .with_tally_interval(tally_interval)
            .with_projection(instance.upward_projection, &instance.legal_basis),
        );
        links
            .pulls
            .push(PullWatch::new(service, channel, credentials.clone()));
    }
    Ok(links)
}

/// The health name of a district's links to the city: SERVING while every link works
/// both ways, NOT_SERVING (an alarm) while a push or a pull fails, or the city's copies
/// disagree with the district's tally.
pub const UPSTREAM_HEALTH: &str = "upstream";

/// Keeps [`UPSTREAM_HEALTH`] current with the links' state until `shutdown`.
async fn report_links(
    links: enrollments::grpc::Links,
    reporter: tonic_health::server::HealthReporter,
    interval: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut failing = None;
    loop {
        let statuses = links.statuses().await;
        for link in &statuses {
            egret_sync::metrics::note_push(
                &link.service,
                link.alarm,
                link.head_sequence - link.acknowledged_sequence,
            );
            if let Some(pull) = &link.downward {
                egret_sync::metrics::note_pull(
                    &link.service,
                    pull.alarm,
                    pull.head_sequence - pull.applied_sequence,
                );
            }
        }
        let errors: Vec<String> = statuses
            .iter()
            .filter(|link| enrollments::grpc::is_alarm(link))
            .map(|link| {
                let pull = link.downward.as_ref().filter(|pull| pull.alarm);
                format!(
                    "{}: {}",
                    link.service,
                    [
                        link.last_error.as_str(),
                        link.mismatch.as_str(),
                        pull.map_or("", |pull| pull.last_error.as_str()),
                    ]
                    .into_iter()
                    .filter(|error| !error.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ")
                )
            })
            .collect();
        let now_failing = !errors.is_empty();
        if failing != Some(now_failing) {
            let status = if now_failing {
                tracing::warn!(errors = %errors.join("; "), "the link to the city fails");
                tonic_health::ServingStatus::NotServing
            } else {
                tonic_health::ServingStatus::Serving
            };
            reporter.set_service_status(UPSTREAM_HEALTH, status).await;
            failing = Some(now_failing);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Checks, at a district's start, that the city still accepts its enrollment and that it
/// names the unit this data directory holds. A city that cannot be reached is no reason
/// not to start: a district works on its own and syncs when the link returns.
async fn check_enrollment(instance: &InstanceSettings, root_id: &str) -> anyhow::Result<()> {
    match egret_sync::upstream::exchange(instance).await {
        Ok(grant) => {
            let enrolled = grant.org_unit.name.trim_start_matches("orgUnits/");
            anyhow::ensure!(
                enrolled == root_id,
                "instance.enrollment is for unit orgUnits/{enrolled}, but this data directory \
                 holds the instance of orgUnits/{root_id}; use the data directory of that \
                 enrollment or a new one"
            );
            Ok(())
        }
        Err(error @ LinkError::Unreachable { .. }) => {
            tracing::warn!(%error, "starting without the upstream; sync resumes when it answers");
            Ok(())
        }
        Err(error) => Err(anyhow::anyhow!("{error}")),
    }
}

/// A whole instance in one process (`egret up`): the gateway on the instance's address,
/// calling the four services in-process, and the services' own loopback listener, where
/// they call each other.
pub struct Instance {
    services: Assembly,
    gateway: Gateway,
    registry: Registry,
    activity: Activity,
    recognition: Recognition,
    reporting: Reporting,
    config: EgretConfig,
    root: egret_registry::domain::OrgUnit,
    first_admin_password: Option<String>,
}

impl Instance {
    /// Opens every service's database (creating the root unit and keys on first start) and
    /// binds both listeners.
    pub async fn build(config: EgretConfig) -> anyhow::Result<Self> {
        // Only the gateway faces the network; the services share one loopback listener,
        // where they also call each other.
        let inside = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut services = Assembly::bind_at(&config.common, inside).await?;
        let registry = services.add::<Registry>(&config.registry).await?;
        let activity = services.add::<Activity>(&config.activity).await?;
        let recognition = services.add::<Recognition>(&config.recognition).await?;
        let reporting = services.add::<Reporting>(&config.reporting).await?;
        // The gateway calls them in-process; their listener serves the calls they make
        // to each other and the gateway's health checks.
        let address: http::Uri = format!("http://{}", services.local_addr()).parse()?;
        let local = services.host().in_process();
        let upstreams = SERVICES
            .into_iter()
            .map(|service| Upstream::local(service, &address, local.clone()).map(Arc::new))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let gateway = Gateway::bind_to(&config.common, &config.gateway, upstreams).await?;
        let root = registry
            .ensure_root(&config.common.instance.root_name)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        if config.common.instance.tier == InstanceTier::District {
            check_enrollment(&config.common.instance, &root.id).await?;
        }
        let first_admin_password = gateway
            .accounts()
            .ensure_first_admin(&root.id)
            .await
            .map_err(|error| anyhow::anyhow!("creating the first admin account: {error}"))?;
        Ok(Self {
            services,
            gateway,
            registry,
            activity,
            recognition,
            reporting,
            config,
            root,
            first_admin_password,
        })
    }

    /// The one-time password of the first admin account, when this start created it.
    pub fn first_admin_password(&self) -> Option<&str> {
        self.first_admin_password.as_deref()
    }

    /// The address of the instance's Prometheus metrics (`metrics.address`), if served.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.gateway.metrics_addr()
    }

    /// People's accounts.
    pub fn accounts(&self) -> &Accounts {
        self.gateway.accounts()
    }

    /// The instance's address: the gateway's.
    pub fn local_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// The address the services listen on behind the gateway.
    pub fn services_addr(&self) -> SocketAddr {
        self.services.local_addr()
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The activity service.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The recognition service.
    pub fn recognition(&self) -> &Recognition {
        &self.recognition
    }

    /// The reporting service.
    pub fn reporting(&self) -> &Reporting {
        &self.reporting
    }

    /// Serves until `shutdown`: the gateway drains first, then the services behind it.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let behind = CancellationToken::new();
        let services = tokio::spawn(self.services.run_until_stopped(behind.clone()));
        let served = self.gateway.run_until_stopped(shutdown).await;
        behind.cancel();
        let stopped = services
            .await
            .map_err(|error| anyhow::anyhow!("the services' task failed: {error}"))?;
        served.and(stopped)
    }

    /// The lines `egret up` prints once it listens.
    pub fn banner(&self) -> String {
        let root = &self.root;
        let data_dir = self.config.common.data_dir.display();
        let first_admin = self
            .first_admin_password
            .as_ref()
            .map_or(String::new(), |password| {
                format!("\n{}", first_sign_in(password))
            });
        let console = if self.config.gateway.console.enabled {
            format!("\nconsole in a browser: http://{}/", self.local_addr())
        } else {
            String::new()
        };
        format!(
            "egret listening on {address}{console}\n\
             services behind the gateway: {services}\n\
             instance: {instance} ({tier:?}), data directory: {data_dir}\n\
             root org unit: orgUnits/{root_id} {root_name}{first_admin}{metrics}\n\
             a token for the root: egret token --data-dir {data_dir} --role admin",
            metrics = self.metrics_addr().map_or(String::new(), |metrics| format!(
                "\nmetrics at http://{metrics}/metrics"
            )),
            address = self.local_addr(),
            services = self.services_addr(),
            instance = self.config.common.instance.id,
            tier = self.config.common.instance.tier,
            root_id = root.id,
            root_name = root.display_name,
        )
    }
}

/// Runs the gateway as a process of its own: telemetry, the listener, a line on stdout
/// saying where it listens, and service until `shutdown`.
pub async fn serve_alone(
    config: &GatewayConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let _telemetry = egret_runtime::telemetry::init(&config.common.telemetry)?;
    let gateway = Gateway::bind(&config.common, &config.gateway, &config.gateway.services).await?;
    println!("egret-gateway listening on {}", gateway.local_addr());
    if config.gateway.console.enabled {
        println!("console in a browser: http://{}/", gateway.local_addr());
    }
    if let Some(metrics) = gateway.metrics_addr() {
        println!("metrics at http://{metrics}/metrics");
    }
    let first_admin = tokio::spawn(first_admin_when_ready(
        gateway.accounts().clone(),
        shutdown.clone(),
    ));
    let served = gateway.run_until_stopped(shutdown).await;
    first_admin.abort();
    served
}

/// On a gateway's first start in front of separate services: once the registry answers,
/// creates the first admin at its root and prints the one-time password, once.
async fn first_admin_when_ready(accounts: Accounts, shutdown: CancellationToken) {
    loop {
        match accounts.root_from_registry().await {
            Ok(Some(root)) => {
                match accounts.ensure_first_admin(&root).await {
                    Ok(Some(password)) => println!("{}", first_sign_in(&password)),
                    Ok(None) => {}
                    Err(error) => tracing::error!(%error, "cannot create the first admin account"),
                }
                return;
            }
            Ok(None) => tracing::info!("the registry has no root unit yet"),
            Err(status) => {
                tracing::info!(code = ?status.code(), message = status.message(), "waiting for the registry")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// The line that shows the first admin's one-time password.
fn first_sign_in(password: &str) -> String {
    format!(
        "first sign-in: username {}, one-time password {password} (shown only now: sign in and change it)",
        accounts::app::FIRST_ADMIN
    )
}
