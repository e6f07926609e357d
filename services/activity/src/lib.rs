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
use egret_runtime::assembly::Part;
use egret_runtime::keys;
use egret_runtime::{CancellationToken, ConfigError, ServiceHost, Settings, TokenIssuer, Validate};
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
        let downward = egret_sync::downward::follower(
            "activity",
            &settings.instance,
            database.clone(),
            app::downward::ActivityDownward,
            activity.registry_deadline,
        )?;
        Ok(Activity::new(
            database,
            feed,
            settings.instance.id.clone(),
            cipher,
            activity.max_check_ins_per_day,
        )
        .with_downward(downward))
    }
}

impl Part for Activity {
    type Settings = ActivitySettings;

    const NAME: &'static str = "activity";

    fn peers(settings: &ActivitySettings) -> Vec<(&'static str, String)> {
        vec![(
            "activity.registry_address",
            settings.registry_address.clone(),
        )]
    }

    async fn open(
        common: &Settings,
        settings: &ActivitySettings,
        own: SocketAddr,
    ) -> anyhow::Result<Self> {
        let registry = egret_runtime::config::service_channel(
            "activity.registry_address",
            &settings.registry_address,
            own,
        )?;
        Activity::open(common, settings, registry).await
    }

    fn add_to(&self, host: &mut ServiceHost) {
        grpc::add_services(host, self.clone());
        egret_sync::serve_change_log(
            host,
            Self::NAME,
            self.instance_id(),
            self.database().clone(),
            app::upward::ActivityApplier,
            self.downward().cloned(),
        );
    }

    fn spawn_followers(
        &self,
        settings: &ActivitySettings,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = vec![
            self.feed()
                .clone()
                .spawn(settings.registry_poll_interval, shutdown.clone()),
        ];
        handles.extend(egret_sync::downward::spawn_tier_tasks(
            self.downward(),
            settings.registry_poll_interval,
            shutdown,
        ));
        handles
    }

    async fn close(&self) {
        self.database().close().await;
    }
}
