//! The recognition service's own configuration section, `[recognition]`.

use std::time::Duration;

use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

/// `[recognition]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RecognitionSettings {
    /// The registry's gRPC address (`http://host:port`). Empty: this instance's own
    /// `listen` address, where `egret up` serves the registry too.
    pub registry_address: String,
    /// The activity service's gRPC address. Empty: this instance's own `listen` address.
    pub activity_address: String,
    /// The reporting service's gRPC address (annual reports, for team stars). Empty: this
    /// instance's own `listen` address.
    pub reporting_address: String,
    /// How often the registry's and the activity service's change logs are polled.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The deadline of each call to another service.
    #[serde(with = "humantime_serde")]
    pub upstream_deadline: Duration,
    /// The star-rating rule set in force on this instance (`national`, `fujian`, `xiamen`
    /// or one an admin created).
    pub rule_set: String,
    /// Reward points per approved hour of service.
    pub points_per_hour: i64,
    /// At most this many points per volunteer per service day.
    pub max_points_per_day: i64,
    /// The heading printed on service certificates.
    pub certificate_heading: String,
    /// Days of public notice (公示) of a commendation, for honours that do not set their own.
    pub notice_days: i32,
}

impl Default for RecognitionSettings {
    fn default() -> Self {
        Self {
            registry_address: String::new(),
            activity_address: String::new(),
            reporting_address: String::new(),
            poll_interval: Duration::from_secs(2),
            upstream_deadline: Duration::from_secs(5),
            rule_set: "xiamen".to_string(),
            points_per_hour: 10,
            max_points_per_day: 80,
            certificate_heading: "厦门市妇女联合会 · 鹭岛巾帼志愿联盟".to_string(),
            notice_days: 7,
        }
    }
}

impl RecognitionSettings {
    /// The addresses this service follows, with their keys: registry, activity, reporting.
    pub fn upstreams(&self) -> [(&'static str, &str); 3] {
        [
            ("recognition.registry_address", &self.registry_address),
            ("recognition.activity_address", &self.activity_address),
            ("recognition.reporting_address", &self.reporting_address),
        ]
    }

    /// Channels to the registry, the activity and the reporting service (an empty address
    /// is `own_address`).
    pub fn channels(
        &self,
        own_address: std::net::SocketAddr,
    ) -> Result<[tonic::transport::Channel; 3], ConfigError> {
        let [registry, activity, reporting] = self.upstreams();
        let channel = |(key, address): (&str, &str)| {
            egret_runtime::config::service_channel(key, address, own_address)
        };
        Ok([channel(registry)?, channel(activity)?, channel(reporting)?])
    }
}

impl Validate for RecognitionSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, address) in self.upstreams() {
            egret_runtime::config::check_service_address(key, address)?;
        }
        if self.poll_interval < Duration::from_millis(100) {
            return Err(ConfigError::invalid(
                "recognition.poll_interval",
                "must be at least 100ms",
            ));
        }
        if self.upstream_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "recognition.upstream_deadline",
                "must be more than zero",
            ));
        }
        if !crate::domain::rules::is_rule_set_id(&self.rule_set) {
            return Err(ConfigError::invalid(
                "recognition.rule_set",
                "must be a rule set id: 2 to 40 lowercase letters, digits and hyphens",
            ));
        }
        if !(0..=10_000).contains(&self.points_per_hour) {
            return Err(ConfigError::invalid(
                "recognition.points_per_hour",
                "must be between 0 and 10000",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_points_per_day) {
            return Err(ConfigError::invalid(
                "recognition.max_points_per_day",
                "must be between 1 and 1000000",
            ));
        }
        if !(0..=60).contains(&self.notice_days) {
            return Err(ConfigError::invalid(
                "recognition.notice_days",
                "must be between 0 and 60",
            ));
        }
        if self.certificate_heading.trim().is_empty() {
            return Err(ConfigError::invalid(
                "recognition.certificate_heading",
                "must not be empty",
            ));
        }
        Ok(())
    }
}
