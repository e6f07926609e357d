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
use egret_runtime::assembly::Part;
use egret_runtime::keys;
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, SyncCredentials, TokenIssuer, Validate,
};
use egret_storage::{Database, Migrations};
use egret_sync::{Follower, ServiceLog};
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
            ServiceLog::new("registry", registry, credentials.clone()),
            feeds::RegistrySink,
            recognition.upstream_deadline,
        );
        let activity = Follower::new(
            "activity",
            feeds::ACTOR,
            settings.instance.id.clone(),
            database.clone(),
            ServiceLog::new("activity", activity, credentials.clone()),
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
            ServiceLog::new("reporting", reporting, credentials),
            feeds::ReportingSink,
            recognition.upstream_deadline,
        );
        let downward = egret_sync::downward::follower(
            "recognition",
            &settings.instance,
            database.clone(),
            app::downward::RecognitionDownward,
            recognition.upstream_deadline,
        )?;
        Ok(Recognition::new(
            database,
            [registry, activity, reporting],
            settings.instance.id.clone(),
            recognition.clone(),
            keys::certificate_signing_key(&settings.data_dir)?,
        )
        .with_downward(downward))
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

impl Part for Recognition {
    type Settings = RecognitionSettings;

    const NAME: &'static str = "recognition";

    fn peers(settings: &RecognitionSettings) -> Vec<(&'static str, String)> {
        settings
            .upstreams()
            .into_iter()
            .map(|(key, address)| (key, address.to_string()))
            .collect()
    }

    async fn open(
        common: &Settings,
        settings: &RecognitionSettings,
        own: SocketAddr,
    ) -> anyhow::Result<Self> {
        Recognition::open(common, settings, settings.channels(own)?).await
    }

    fn add_to(&self, host: &mut ServiceHost) {
        grpc::add_services(host, self.clone());
        egret_sync::serve_change_log(
            host,
            Self::NAME,
            self.instance_id(),
            self.database().clone(),
            app::upward::RecognitionApplier,
            self.downward().cloned(),
        );
    }

    fn spawn_followers(
        &self,
        settings: &RecognitionSettings,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles =
            Recognition::spawn_followers(self, settings.poll_interval, shutdown.clone());
        handles.extend(egret_sync::downward::spawn_tier_tasks(
            self.downward(),
            settings.poll_interval,
            shutdown,
        ));
        handles
    }

    async fn close(&self) {
        self.database().close().await;
    }
}
