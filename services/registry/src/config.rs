//! The registry's own configuration section, `[registry]`.

use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::numbering::Scheme;

/// `[registry]`: numbering schemes (see [`crate::domain::numbering`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RegistrySettings {
    /// 档案编号, for teams and sub-teams.
    pub archive_number_scheme: String,
    /// 队伍编号, for teams and sub-teams.
    pub team_number_scheme: String,
    /// 志愿者编号.
    pub volunteer_number_scheme: String,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            archive_number_scheme: "{instance}-DA-{year}-{seq:5}".to_string(),
            team_number_scheme: "{instance}-{tier}{seq:5}".to_string(),
            volunteer_number_scheme: "{instance}V{seq:8}".to_string(),
        }
    }
}

/// The parsed schemes.
#[derive(Debug, Clone)]
pub struct Schemes {
    /// 档案编号.
    pub archive: Scheme,
    /// 队伍编号.
    pub team: Scheme,
    /// 志愿者编号.
    pub volunteer: Scheme,
}

impl RegistrySettings {
    /// Parses the schemes; the error names the key.
    pub fn schemes(&self) -> Result<Schemes, ConfigError> {
        let parse = |key: &str, template: &str| {
            Scheme::parse(template).map_err(|message| ConfigError::invalid(key, message))
        };
        Ok(Schemes {
            archive: parse(
                "registry.archive_number_scheme",
                &self.archive_number_scheme,
            )?,
            team: parse("registry.team_number_scheme", &self.team_number_scheme)?,
            volunteer: parse(
                "registry.volunteer_number_scheme",
                &self.volunteer_number_scheme,
            )?,
        })
    }
}

impl Validate for RegistrySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.schemes().map(drop)
    }
}
