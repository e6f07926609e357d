//! The recognition service of Egret: star-rating rule sets (星级评定), volunteer star
//! ratings, reward points (回馈, time bank) and service certificates (志愿服务证明).
//!
//! It owns its tables and reads hours and identities only through the registry's and the
//! activity service's gRPC contracts, following their change logs ([`feeds`]).
//!
//! Layers: [`grpc`] converts wire types, [`app`] holds the use cases and authorization,
//! [`domain`] the rules without I/O, [`store`] the SQL.

pub mod app;
pub mod config;
pub mod domain;
pub mod feeds;
pub mod grpc;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use egret_runtime::keys;
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, SyncCredentials, TokenIssuer,
    TokenVerifier, Validate,
};
use egret_storage::feed::{ActivityLog, Follower, RegistryLog, ReportingLog};
use egret_storage::{Database, Migrations};
use serde::Deserialize;
use tonic::transport::Channel;

pub use app::Recognition;
pub use config::RecognitionSettings;

/// The configuration of a stand-alone recognition process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[recognition]`.
    pub recognition: RecognitionSettings,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.recognition.validate()
    }
}

/// The recognition service's migrations, for both engines.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &store::SQLITE_MIGRATIONS,
        postgres: &store::POSTGRES_MIGRATIONS,
    }
}

impl Recognition {
    /// Opens the recognition database (migrating it, and adding the shipped rule sets) and
    /// prepares the followers of the registry and the activity service.
    pub async fn open(
        settings: &Settings,
        recognition: &RecognitionSettings,
        [registry, activity, reporting]: [Channel; 3],
    ) -> anyhow::Result<Self> {
        let database = Database::open(
            &settings.database,
            &settings.data_dir,
            "recognition",
            migrations(),
        )
        .await
        .context("opening the recognition database")?;
        app::seed_built_in_rule_sets(&database, &settings.instance.id).await?;
        let credentials = SyncCredentials::new(
            TokenIssuer::new(
                keys::signing_key(&settings.data_dir)?,
                settings.instance.id.clone(),
            ),
            feeds::ACTOR,
        );
        let registry = Follower::new(
            "registry",
            feeds::ACTOR,
            settings.instance.id.clone(),
            database.clone(),
            RegistryLog::new(registry, credentials.clone()),
            feeds::RegistrySink,
            recognition.upstream_deadline,
        );
        let activity = Follower::new(
            "activity",
            feeds::ACTOR,
            settings.instance.id.clone(),
            database.clone(),
            ActivityLog::new(activity, credentials.clone()),
            feeds::ActivitySink {
                rate: domain::PointsRate {
                    per_hour: recognition.points_per_hour,
                    daily_cap: recognition.max_points_per_day,
                },
            },
            recognition.upstream_deadline,
        );
        let reporting = Follower::new(
            "reporting",
            feeds::ACTOR,
            settings.instance.id.clone(),
            database.clone(),
            ReportingLog::new(reporting, credentials),
            feeds::ReportingSink,
            recognition.upstream_deadline,
        );
        Ok(Recognition::new(
            database,
            [registry, activity, reporting],
            settings.instance.id.clone(),
            recognition.clone(),
            keys::certificate_signing_key(&settings.data_dir)?,
        ))
    }

    /// Follows the registry and the activity service every `interval` until `shutdown`.
    pub fn spawn_followers(
        &self,
        interval: std::time::Duration,
        shutdown: CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.followers()
            .into_iter()
            .map(|follower| follower.clone().spawn(interval, shutdown.clone()))
            .collect()
    }
}

/// A stand-alone recognition server.
pub struct Application {
    host: ServiceHost,
    recognition: Recognition,
    poll_interval: std::time::Duration,
}

impl Application {
    /// Opens the database, binds the listener and assembles the services.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        // On its own, this process serves none of the services it follows.
        for (key, address) in config.recognition.upstreams() {
            if address.trim().is_empty() {
                return Err(ConfigError::invalid(
                    key,
                    "is required when the recognition service runs on its own (egret-recognition); set it to the service's address, like http://127.0.0.1:50051",
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
        let recognition = Recognition::open(
            &config.common,
            &config.recognition,
            config.recognition.channels(host.local_addr())?,
        )
        .await?;
        grpc::add_services(&mut host, recognition.clone());
        Ok(Self {
            host,
            recognition,
            poll_interval: config.recognition.poll_interval,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// Serves until `shutdown`, following the registry and the activity service meanwhile.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let followers = self
            .recognition
            .spawn_followers(self.poll_interval, shutdown.clone());
        let served = self.host.serve(shutdown).await;
        for follower in followers {
            let _ = follower.await;
        }
        self.recognition.database().close().await;
        served
    }
}
