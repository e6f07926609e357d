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
use egret_runtime::assembly::Part;
use egret_runtime::config::service_channel;
use egret_runtime::keys;
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, SyncCredentials, TokenIssuer, Validate,
};
use egret_storage::{Database, Migrations};
use egret_sync::{Follower, ServiceLog};
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
                ServiceLog::new(
                    "registry",
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
                ServiceLog::new(
                    "activity",
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
                ServiceLog::new(
                    "recognition",
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
        let downward = egret_sync::downward::follower(
            "reporting",
            &settings.instance,
            database.clone(),
            app::downward::ReportingDownward,
            deadline,
        )?;
        Ok(Reporting::new(
            database,
            followers,
            settings.instance.id.clone(),
            reporting.clone(),
        )
        .with_downward(downward))
    }
}

impl Part for Reporting {
    type Settings = ReportingSettings;

    const NAME: &'static str = "reporting";

    fn peers(settings: &ReportingSettings) -> Vec<(&'static str, String)> {
        vec![
            (
                "reporting.registry_address",
                settings.registry_address.clone(),
            ),
            (
                "reporting.activity_address",
                settings.activity_address.clone(),
            ),
            (
                "reporting.recognition_address",
                settings.recognition_address.clone(),
            ),
        ]
    }

    async fn open(
        common: &Settings,
        settings: &ReportingSettings,
        own: SocketAddr,
    ) -> anyhow::Result<Self> {
        Reporting::open(common, settings, own).await
    }

    fn add_to(&self, host: &mut ServiceHost) {
        grpc::add_services(host, self.clone());
        egret_sync::serve_change_log(
            host,
            Self::NAME,
            self.instance_id(),
            self.database().clone(),
            app::upward::ReportingApplier,
            self.downward().cloned(),
        );
    }

    fn spawn_followers(
        &self,
        settings: &ReportingSettings,
        shutdown: &CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles =
            Reporting::spawn_followers(self, settings.poll_interval, shutdown.clone());
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
