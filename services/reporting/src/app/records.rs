//! Change history and the change log.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{StoredChange, changelog};

use super::Reporting;
use crate::domain::access::{self, Action};

impl Reporting {
    /// The change history of a reporting year or a team's annual report the caller may see.
    pub async fn list_change_records(
        &self,
        principal: &Principal,
        resource: &str,
        page: &PageRequest,
    ) -> Result<(Vec<StoredChange>, String), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        match resource.split('/').collect::<Vec<_>>().as_slice() {
            ["reportingYears", year] if year.parse::<i32>().is_ok() => {}
            ["orgUnits", unit, "annualReports", year] if year.parse::<i32>().is_ok() => {
                self.unit_in_scope(principal, Some(unit))
                    .await
                    .map_err(|_| ApiError::not_found(resource))?;
            }
            _ => {
                return Err(ApiError::invalid(
                    "resource",
                    "must name a reporting year or an annual report",
                    "必须是年报年度或年报的资源名",
                ));
            }
        }
        changelog::history_page(self.database.reader(), resource, page).await
    }
}
