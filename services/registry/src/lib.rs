//! The registry service of Egret (鹭岛巾帼志愿联盟): the org tree (corps → team → sub-team →
//! squad), registration forms (登记表), real-name volunteers, memberships, join applications,
//! change history (动态管理) and the audit log of unmasked reads.
//!
//! Layers: [`grpc`] converts wire types, [`app`] holds the use cases and authorization,
//! [`domain`] the rules without I/O, [`store`] the SQL.

pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod store;

use std::net::SocketAddr;

use anyhow::Context;
use egret_runtime::keys::{self, PersonalDataCipher};
use egret_runtime::{
    CancellationToken, ConfigError, ServiceHost, Settings, TokenVerifier, Validate,
};
use egret_storage::{Database, Migrations};
use serde::Deserialize;

pub use app::Registry;
pub use config::RegistrySettings;

/// The configuration of a stand-alone registry process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Shared settings.
    #[serde(flatten)]
    pub common: Settings,
    /// `[registry]`.
    pub registry: RegistrySettings,
}

impl Validate for Config {
    fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.registry.validate()
    }
}

/// The registry's migrations, for both engines.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: &store::SQLITE_MIGRATIONS,
        postgres: &store::POSTGRES_MIGRATIONS,
    }
}

impl Registry {
    /// Opens the registry's database (migrating it), loads the personal-data keys and
    /// makes sure the root org unit exists.
    pub async fn open(settings: &Settings, registry: &RegistrySettings) -> anyhow::Result<Self> {
        let database = Database::open(
            &settings.database,
            &settings.data_dir,
            "registry",
            migrations(),
        )
        .await
        .context("opening the registry database")?;
        let cipher = PersonalDataCipher::load(&settings.data_dir, &settings.keys)?;
        let schemes = registry.schemes()?;
        let registry = Registry::new(
            database,
            cipher,
            settings.instance.id.clone(),
            schemes,
            registry.list_probe_limit,
        );
        registry
            .ensure_root(&settings.instance.root_name)
            .await
            .map_err(|error| anyhow::anyhow!("creating the root org unit: {error}"))?;
        Ok(registry)
    }
}

/// A stand-alone registry server.
pub struct Application {
    host: ServiceHost,
    registry: Registry,
}

impl Application {
    /// Opens the database, binds the listener and assembles the services.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let registry = Registry::open(&config.common, &config.registry).await?;
        let verifier = TokenVerifier::new(
            keys::verifying_key(&config.common.data_dir, &config.common.auth)?,
            config.common.instance.id.clone(),
        );
        let mut host =
            ServiceHost::bind(config.common.listen, config.common.server.clone(), verifier).await?;
        grpc::add_services(&mut host, registry.clone());
        Ok(Self { host, registry })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.host.local_addr()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The registry behind the server.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Serves until `shutdown` is cancelled, then drains and closes the database.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let served = self.host.serve(shutdown).await;
        self.registry.database().close().await;
        served
    }
}
