//! The reporting service of Egret: statistics by tier and period, the annual report (年报)
//! workflow; targets and exports follow.
//!
//! It reads no other service's database: it follows the registry's, the activity
//! service's and the recognition service's change logs ([`feeds`]) into a replica of what
//! it counts and a daily rollup of approved hours, and says how far behind each feed is.
//!
//! Layers: [`grpc`] converts wire types, [`app`] holds the use cases and authorization,
//! [`domain`] the rules without I/O, [`store`] the SQL.

pub mod app;
pub mod bench_data;
pub mod config;
pub mod domain;
pub mod feeds;
pub mod grpc;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use egret_runtime::config::service_channel;
use egret_runtime::keys;
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, SyncCredentials, TokenIssuer,
    TokenVerifier, Validate,
};
use egret_storage::feed::{ActivityLog, Follower, RecognitionLog, RegistryLog};
use egret_storage::{Database, Migrations};
use serde::Deserialize;

pub use app::Reporting;
pub use config::ReportingSettings;

/// The configuration of a stand-alone reporting process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[reporting]`.
    pub reporting: ReportingSettings,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.reporting.validate()
    }
}

/// The reporting service's migrations, for both engines.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &store::SQLITE_MIGRATIONS,
        postgres: &store::POSTGRES_MIGRATIONS,
    }
}

impl Reporting {
    /// Opens the reporting database (migrating it) and prepares the followers of the
    /// registry, the activity service and the recognition service, which reach them at
    /// their configured addresses (empty: `own_address`).
    pub async fn open(
        settings: &Settings,
        reporting: &ReportingSettings,
        own_address: SocketAddr,
    ) -> anyhow::Result<Self> {
        let database = Database::open(
            &settings.database,
            &settings.data_dir,
            "reporting",
            migrations(),
        )
        .await
        .context("opening the reporting database")?;
        store::tallies::ensure_counted(&database, feeds::ACTOR)
            .await
            .context("counting the reporting tallies")?;
        let credentials = SyncCredentials::new(
            TokenIssuer::new(
                keys::signing_key(&settings.data_dir)?,
                settings.instance.id.clone(),
            ),
            feeds::ACTOR,
        );
        let channel = |key: &str, address: &str| service_channel(key, address, own_address);
        let instance = settings.instance.id.clone();
        let deadline = reporting.upstream_deadline;
        let followers = vec![
            Follower::new(
                "registry",
                feeds::ACTOR,
                instance.clone(),
                database.clone(),
                RegistryLog::new(
                    channel("reporting.registry_address", &reporting.registry_address)?,
                    credentials.clone(),
                ),
                feeds::RegistrySink,
                deadline,
            ),
            Follower::new(
                "activity",
                feeds::ACTOR,
                instance.clone(),
                database.clone(),
                ActivityLog::new(
                    channel("reporting.activity_address", &reporting.activity_address)?,
                    credentials.clone(),
                ),
                feeds::ActivitySink,
                deadline,
            ),
            Follower::new(
                "recognition",
                feeds::ACTOR,
                instance,
                database.clone(),
                RecognitionLog::new(
                    channel(
                        "reporting.recognition_address",
                        &reporting.recognition_address,
                    )?,
                    credentials,
                ),
                feeds::RecognitionSink,
                deadline,
            ),
        ];
        Ok(Reporting::new(
            database,
            followers,
            settings.instance.id.clone(),
            reporting.clone(),
        ))
    }
}

/// A stand-alone reporting server.
pub struct Application {
    host: ServiceHost,
    reporting: Reporting,
    poll_interval: std::time::Duration,
}

impl Application {
    /// Opens the database, binds the listener and assembles the services.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        // On its own, this process serves none of the services it follows.
        for (key, address) in [
            (
                "reporting.registry_address",
                &config.reporting.registry_address,
            ),
            (
                "reporting.activity_address",
                &config.reporting.activity_address,
            ),
            (
                "reporting.recognition_address",
                &config.reporting.recognition_address,
            ),
        ] {
            if address.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    "is required when the reporting service runs on its own (egret-reporting); set it to the service's address, like http://127.0.0.1:50051",
                )
                .into());
            }
        }
        let verifier = TokenVerifier::new(
            keys::verifying_key(&config.common.data_dir, &config.common.auth)?,
            config.common.instance.id.clone(),
        );
        let mut host =
            ServiceHost::bind(config.common.listen, config.common.server.clone(), verifier).await?;
        let reporting =
            Reporting::open(&config.common, &config.reporting, host.local_addr()).await?;
        grpc::add_services(&mut host, reporting.clone());
        Ok(Self {
            host,
            reporting,
            poll_interval: config.reporting.poll_interval,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// Serves until `shutdown`, following the other services meanwhile.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let followers = self
            .reporting
            .spawn_followers(self.poll_interval, shutdown.clone());
        let served = self.host.serve(shutdown).await;
        for follower in followers {
            let _ = follower.await;
        }
        self.reporting.database().close().await;
        served
    }
}
