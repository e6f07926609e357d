//! The reporting service's rules, without I/O: what statistics count and how they break
//! down, and who may read them.

pub mod access;
pub mod stats;

pub use egret_storage::replica::OrgUnit;

/// Resource names.
pub mod names {
    /// `orgUnits/{id}`.
    pub fn org_unit(id: &str) -> String {
        format!("orgUnits/{id}")
    }
}
