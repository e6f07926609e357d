//! The reporting service's own configuration section, `[reporting]`.

use std::time::Duration;

use egret_runtime::config::check_service_address;
use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

/// `[reporting]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReportingSettings {
    /// The registry's gRPC address; empty: this instance's own `listen` address.
    pub registry_address: String,
    /// The activity service's gRPC address; empty: this instance's own.
    pub activity_address: String,
    /// The recognition service's gRPC address; empty: this instance's own.
    pub recognition_address: String,
    /// How often the three change logs are polled.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The deadline of each call to another service.
    #[serde(with = "humantime_serde")]
    pub upstream_deadline: Duration,
    /// A team with no activity and no service for this many months is listed as dormant.
    pub dormant_months: i32,
    /// The root unit's targets for any year that has none set: city level ~800 teams /
    /// ~30,000 people, district level ~2,000 teams / ~70,000 people (the founding document).
    pub default_targets: Vec<DefaultTarget>,
}

/// `[[reporting.default_targets]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DefaultTarget {
    /// `national`, `provincial`, `municipal` or `district`.
    pub team_level: String,
    /// Active teams of that level.
    pub teams: i64,
    /// Unique volunteers serving in them.
    pub volunteers: i64,
}

impl DefaultTarget {
    /// The level's wire number, if the name is one.
    pub fn level_number(&self) -> Option<i32> {
        match self.team_level.as_str() {
            "national" => Some(1),
            "provincial" => Some(2),
            "municipal" => Some(3),
            "district" => Some(4),
            _ => None,
        }
    }
}

impl Default for ReportingSettings {
    fn default() -> Self {
        Self {
            registry_address: String::new(),
            activity_address: String::new(),
            recognition_address: String::new(),
            poll_interval: Duration::from_secs(2),
            upstream_deadline: Duration::from_secs(5),
            dormant_months: 6,
            default_targets: vec![
                DefaultTarget {
                    team_level: "municipal".to_string(),
                    teams: 800,
                    volunteers: 30_000,
                },
                DefaultTarget {
                    team_level: "district".to_string(),
                    teams: 2_000,
                    volunteers: 70_000,
                },
            ],
        }
    }
}

impl Validate for ReportingSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        check_service_address("reporting.registry_address", &self.registry_address)?;
        check_service_address("reporting.activity_address", &self.activity_address)?;
        check_service_address("reporting.recognition_address", &self.recognition_address)?;
        if self.poll_interval < Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "reporting.poll_interval",
                "must be at least 100ms",
            ));
        }
        if self.upstream_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "reporting.upstream_deadline",
                "must be more than zero",
            ));
        }
        for target in &self.default_targets {
            if target.level_number().is_none() {
                return Err(ConfigError::invalid(
                    "reporting.default_targets.team_level",
                    "must be national, provincial, municipal or district",
                ));
            }
            if target.teams < 0 || target.volunteers < 0 {
                return Err(ConfigError::invalid(
                    "reporting.default_targets",
                    "teams and volunteers must not be negative",
                ));
            }
        }
        if !(1..=60).contains(&self.dormant_months) {
            return Err(ConfigError::invalid(
                "reporting.dormant_months",
                "must be between 1 and 60",
            ));
        }
        Ok(())
    }
}
