//! The activity service of Egret: projects (项目) now; activities, recruitment (招募),
//! attendance, service records (服务记录), training, insurance and evaluations follow.
//!
//! It owns its tables and reaches the registry only through the registry's gRPC contract:
//! it follows the registry's change log to keep a replica of the org tree
//! ([`registry_feed`]), against which every request's subtree is checked.
//!
//! Layers: [`grpc`] converts wire types, [`app`] holds the use cases and authorization,
//! [`domain`] the rules without I/O, [`store`] the SQL.

pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod registry_feed;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use egret_runtime::keys;
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, TokenIssuer, TokenVerifier, Validate,
};
use egret_storage::{Database, Migrations};
use serde::Deserialize;
use tonic::transport::Channel;

pub use app::Activity;
pub use config::ActivitySettings;
pub use registry_feed::RegistryFeed;

/// The configuration of a stand-alone activity process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[activity]`.
    pub activity: ActivitySettings,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.activity.validate()
    }
}

/// The activity service's migrations, for both engines.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &store::SQLITE_MIGRATIONS,
        postgres: &store::POSTGRES_MIGRATIONS,
    }
}

impl Activity {
    /// Opens the activity database (migrating it) and prepares the registry feed; the feed
    /// signs its sync tokens with the instance's key.
    pub async fn open(
        settings: &Settings,
        activity: &ActivitySettings,
        registry: Channel,
    ) -> anyhow::Result<Self> {
        let database = Database::open(
            &settings.database,
            &settings.data_dir,
            "activity",
            migrations(),
        )
        .await
        .context("opening the activity database")?;
        let issuer = TokenIssuer::new(
            keys::signing_key(&settings.data_dir)?,
            settings.instance.id.clone(),
        );
        let feed = RegistryFeed::new(
            database.clone(),
            registry,
            egret_runtime::SyncCredentials::new(issuer, "egret-activity"),
            activity.registry_deadline,
        );
        // Check-in codes are keyed hashes under the instance's lookup key.
        let cipher = keys::PersonalDataCipher::load(&settings.data_dir, &settings.keys)?;
        Ok(Activity::new(
            database,
            feed,
            settings.instance.id.clone(),
            cipher,
            activity.max_check_ins_per_day,
        ))
    }
}

/// A stand-alone activity server.
pub struct Application {
    host: ServiceHost,
    activity: Activity,
    poll_interval: std::time::Duration,
}

impl Application {
    /// Opens the database, binds the listener and assembles the services.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        // On its own, this process serves no registry: it must be told where one is.
        if config.activity.registry_address.trim().is_empty() {
            return Err(ConfigError::invalid(
                "activity.registry_address",
                "is required when the activity service runs on its own (egret-activity); set it to the registry's address, like http://127.0.0.1:50051",
            )
            .into());
        }
        let verifier = TokenVerifier::new(
            keys::verifying_key(&config.common.data_dir, &config.common.auth)?,
            config.common.instance.id.clone(),
        );
        let mut host =
            ServiceHost::bind(config.common.listen, config.common.server.clone(), verifier).await?;
        let channel = egret_runtime::config::service_channel(
            "activity.registry_address",
            &config.activity.registry_address,
            host.local_addr(),
        )?;
        let activity = Activity::open(&config.common, &config.activity, channel).await?;
        grpc::add_services(&mut host, activity.clone());
        Ok(Self {
            host,
            activity,
            poll_interval: config.activity.registry_poll_interval,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// Serves until `shutdown`, following the registry meanwhile.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let follower = self
            .activity
            .feed()
            .clone()
            .spawn(self.poll_interval, shutdown.clone());
        let served = self.host.serve(shutdown).await;
        let _ = follower.await;
        self.activity.database().close().await;
        served
    }
}
