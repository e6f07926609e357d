//! The gateway's configuration section, `[gateway]`.

use std::time::Duration;

use egret_runtime::{ConfigError, Validate};
use serde::Deserialize;

/// `[gateway]`: where the services are and how calls reach them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    /// Each service's address, `http://host:port`. `egret up` runs every service in its
    /// own process and leaves these empty; `egret-gateway` needs all four.
    pub services: ServiceAddresses,
    /// The longest deadline a call may ask for; a longer `grpc-timeout` is cut to this.
    #[serde(with = "humantime_serde")]
    pub max_deadline: Duration,
    /// How long one attempt to connect to a service may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How many times a call that never reached its service is tried before the gateway
    /// answers UNAVAILABLE.
    pub attempts: u32,
    /// HTTP/2 connections kept to each service; calls are spread over them.
    pub connections_per_service: usize,
    /// How often the gateway asks each service for its health.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// At a district: how often the gateway pushes its services' change logs to the city
    /// once caught up (a failing link waits longer, up to a minute).
    #[serde(with = "humantime_serde")]
    pub push_interval: Duration,
    /// At a district: how often, while caught up, the gateway sends the city a tally of
    /// each service's records, which the city compares with its copies.
    #[serde(with = "humantime_serde")]
    pub tally_interval: Duration,
    /// How long an access token from SignIn or RefreshToken stays valid.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// How long a refresh token stays valid (a sign-in lasts at most this long unused).
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// `[gateway.console]`: the web console on the gateway's address.
    pub console: egret_console::ConsoleSettings,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            services: ServiceAddresses::default(),
            max_deadline: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(1),
            attempts: 3,
            connections_per_service: 2,
            health_interval: Duration::from_secs(2),
            push_interval: Duration::from_secs(1),
            tally_interval: egret_sync::push::TALLY_INTERVAL,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            console: egret_console::ConsoleSettings::default(),
        }
    }
}

impl Validate for GatewaySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, address) in self.services.named() {
            if !address.is_empty() {
                egret_runtime::config::parse_service_address(key, address)?;
            }
        }
        if self.max_deadline.is_zero() {
            return Err(ConfigError::invalid(
                "gateway.max_deadline",
                "must be more than zero",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "gateway.connect_timeout",
                "must be more than zero",
            ));
        }
        if !(1..=10).contains(&self.attempts) {
            return Err(ConfigError::invalid(
                "gateway.attempts",
                "must be between 1 and 10",
            ));
        }
        if !(1..=64).contains(&self.connections_per_service) {
            return Err(ConfigError::invalid(
                "gateway.connections_per_service",
                "must be between 1 and 64",
            ));
        }
        if self.health_interval < Duration::from_millis(50) {
            return Err(ConfigError::invalid(
                "gateway.health_interval",
                "must be at least 50ms",
            ));
        }
        if !(Duration::from_millis(50)..=Duration::from_secs(3600)).contains(&self.push_interval) {
            return Err(ConfigError::invalid(
                "gateway.push_interval",
                "must be between 50ms and 1h",
            ));
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&self.tally_interval)
        {
            return Err(ConfigError::invalid(
                "gateway.tally_interval",
                "must be between 1s and 24h",
            ));
        }
        if !(Duration::from_secs(60)..=Duration::from_secs(24 * 3600))
            .contains(&self.access_token_ttl)
        {
            return Err(ConfigError::invalid(
                "gateway.access_token_ttl",
                "must be between 1m and 24h",
            ));
        }
        if self.refresh_token_ttl <= self.access_token_ttl
            || self.refresh_token_ttl > Duration::from_secs(365 * 24 * 3600)
        {
            return Err(ConfigError::invalid(
                "gateway.refresh_token_ttl",
                "must be longer than gateway.access_token_ttl and at most 365 days",
            ));
        }
        self.console.validate()
    }
}

/// `[gateway.services]`: the address of each service.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceAddresses {
    /// The registry.
    pub registry: String,
    /// The activity service.
    pub activity: String,
    /// The recognition service.
    pub recognition: String,
    /// The reporting service.
    pub reporting: String,
}

impl ServiceAddresses {
    /// Every address with its configuration key.
    pub fn named(&self) -> [(&'static str, &str); 4] {
        [
            ("gateway.services.registry", &self.registry),
            ("gateway.services.activity", &self.activity),
            ("gateway.services.recognition", &self.recognition),
            ("gateway.services.reporting", &self.reporting),
        ]
    }
}
