//! The registry's own configuration section, `[registry]`.

use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

use crate::domain::numbering::Scheme;
use crate::store::volunteers::LIST_PROBE_LIMIT;

/// `[registry]`: numbering schemes (see [`crate::domain::numbering`]) and how volunteer
/// listings are planned.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RegistrySettings {
    /// 档案编号, for teams and sub-teams.
    pub archive_number_scheme: String,
    /// 队伍编号, for teams and sub-teams.
    pub team_number_scheme: String,
    /// 志愿者编号.
    pub volunteer_number_scheme: String,
    /// A subtree with fewer candidate rows (active memberships plus registrations) than
    /// this is listed from its own units, a larger one by walking all volunteers in id
    /// order; 0 always walks. Only speed depends on it, never the answer.
    pub list_probe_limit: i64,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        Self {
            archive_number_scheme: "{instance}-DA-{year}-{seq:5}".to_string(),
            team_number_scheme: "{instance}-{tier}{seq:5}".to_string(),
            volunteer_number_scheme: "{instance}V{seq:8}".to_string(),
            list_probe_limit: LIST_PROBE_LIMIT,
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
        if self.list_probe_limit < 0 {
            return Err(ConfigError::invalid(
                "registry.list_probe_limit",
                "must not be negative",
            ));
        }
        self.schemes().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_probe_limit_is_refused_by_name() {
        let settings = RegistrySettings {
            list_probe_limit: -1,
            ..RegistrySettings::default()
        };
        match settings.validate() {
            Err(ConfigError::Invalid { key, .. }) => assert_eq!(key, "registry.list_probe_limit"),
            other => panic!("expected the key to be named, got {other:?}"),
        }
        let always_walk = RegistrySettings {
            list_probe_limit: 0,
            ..RegistrySettings::default()
        };
        assert!(always_walk.validate().is_ok());
    }
}
