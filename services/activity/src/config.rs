//! The activity service's own configuration section, `[activity]`.

use std::time::Duration;

use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

/// `[activity]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ActivitySettings {
    /// The registry's gRPC address (`http://host:port`). Empty: this instance's own
    /// `listen` address, where `egret up` serves the registry too.
    pub registry_address: String,
    /// How often the registry's change log is polled for org-tree changes.
    #[serde(with = "humantime_serde")]
    pub registry_poll_interval: Duration,
    /// The deadline of each call to the registry.
    #[serde(with = "humantime_serde")]
    pub registry_deadline: Duration,
    /// At most this many check-ins per volunteer per day (Guangdong i志愿 practice).
    pub max_check_ins_per_day: u32,
}

impl Default for ActivitySettings {
    fn default() -> Self {
        Self {
            registry_address: String::new(),
            registry_poll_interval: Duration::from_secs(2),
            registry_deadline: Duration::from_secs(5),
            max_check_ins_per_day: 3,
        }
    }
}

impl Validate for ActivitySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        egret_runtime::config::check_service_address(
            "activity.registry_address",
            &self.registry_address,
        )?;
        if self.registry_poll_interval < Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "activity.registry_poll_interval",
                "must be at least 100ms",
            ));
        }
        if self.registry_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "activity.registry_deadline",
                "must be more than zero",
            ));
        }
        if !(1..=24).contains(&self.max_check_ins_per_day) {
            return Err(ConfigError::invalid(
                "activity.max_check_ins_per_day",
                "must be between 1 and 24",
            ));
        }
        Ok(())
    }
}
