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
}

impl Default for ReportingSettings {
    fn default() -> Self {
        Self {
            registry_address: String::new(),
            activity_address: String::new(),
            recognition_address: String::new(),
            poll_interval: Duration::from_secs(2),
            upstream_deadline: Duration::from_secs(5),
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
        Ok(())
    }
}
