//! The shared service runtime of Egret: every service is configured, observed, hosted,
//! authenticated and fails the same way through this crate.

pub mod assembly;
pub mod auth;
pub mod config;
pub mod error;
pub mod keys;
pub mod links;
pub mod metrics;
pub mod pagination;
pub mod server;
pub mod telemetry;
pub mod wire;

pub use auth::{Gate, Gates, Principal, Role, SyncCredentials, TokenIssuer, TokenVerifier};
pub use config::{ConfigError, Settings, Validate};
pub use error::{ApiError, Bilingual, Violation, Violations};
pub use pagination::PageRequest;
pub use server::{Fallback, ServiceHost, shutdown_on_signals};
pub use tokio_util::sync::CancellationToken;
