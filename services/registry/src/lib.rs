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

use egret_runtime::config::InstanceTier;
use std::net::SocketAddr;

use anyhow::Context;
use egret_runtime::assembly::Part;
use egret_runtime::keys::PersonalDataCipher;
use egret_runtime::{ConfigError, ServiceHost, Settings, Validate};
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
        )
        .with_upward_projection(settings.instance.upward_projection);
        match settings.instance.tier {
            InstanceTier::City => {
                registry
                    .ensure_root(&settings.instance.root_name)
                    .await
                    .map_err(|error| anyhow::anyhow!("creating the root org unit: {error}"))?;
            }
            InstanceTier::District => {
                registry
                    .ensure_district_root(&settings.instance)
                    .await
                    .context("taking the enrolled unit as the root")?;
            }
        }
        Ok(registry)
    }
}

impl Part for Registry {
    type Settings = RegistrySettings;

    const NAME: &'static str = "registry";

    async fn open(
        common: &Settings,
        settings: &RegistrySettings,
        _own: SocketAddr,
    ) -> anyhow::Result<Self> {
        Registry::open(common, settings).await
    }

    fn add_to(&self, host: &mut ServiceHost) {
        grpc::add_services(host, self.clone());
        egret_sync::serve_change_log(
            host,
            Self::NAME,
            self.instance_id(),
            self.database().clone(),
            self.upward_applier(),
            None,
        );
    }

    async fn close(&self) {
        self.database().close().await;
    }
}
