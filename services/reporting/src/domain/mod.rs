//! The reporting service's rules, without I/O: what statistics count and how they break
//! down, and who may read them.

pub mod access;
pub mod annual;
pub mod charts;
pub mod exports;
pub mod stats;
pub mod tallies;
pub mod targets;

pub use egret_sync::replica::OrgUnit;

/// Resource names.
pub mod names {
    /// `orgUnits/{id}`.
    pub fn org_unit(id: &str) -> String {
        format!("orgUnits/{id}")
    }

    /// `orgUnits/{org_unit}/annualReports/{year}`.
    pub fn annual_report(org_unit_id: &str, year: i32) -> String {
        format!("orgUnits/{org_unit_id}/annualReports/{year}")
    }
}
