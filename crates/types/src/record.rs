//! What every stored record carries, whatever the service.

use serde::{Deserialize, Serialize};

/// Bookkeeping every record carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The instance where the record was made; only it may change the record.
    pub origin_instance: String,
    /// Incremented on every change.
    pub version: i64,
    /// Microseconds since the epoch.
    pub create_time: i64,
    /// Microseconds since the epoch.
    pub update_time: i64,
}
