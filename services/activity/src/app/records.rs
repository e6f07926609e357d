//! Change history and the change log.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{StoredChange, changelog};

use super::Activity;
use crate::domain::access::{self, Action};

impl Activity {
    /// The change history of one resource the caller may see.
    pub async fn list_change_records(
        &self,
        principal: &Principal,
        resource: &str,
        page: &PageRequest,
    ) -> Result<(Vec<StoredChange>, String), ApiError> {
        access::require(principal, Action::ReadHistory)?;
        let scope = self.scope(principal).await?;
        match resource.split('/').collect::<Vec<_>>().as_slice() {
            ["projects", id] => self
                .visible_project(&scope, id)
                .await
                .map(drop)
                .map_err(|_| ApiError::not_found(resource))?,
            ["activities", id] => self
                .visible_activity(&scope, id)
                .await
                .map(drop)
                .map_err(|_| ApiError::not_found(resource))?,
            ["insurancePolicies", id] => self
                .get_policy(principal, id)
                .await
                .map(drop)
                .map_err(|_| ApiError::not_found(resource))?,
            ["serviceRecords", id] => self
                .get_service_record(principal, id)
                .await
                .map(drop)
                .map_err(|_| ApiError::not_found(resource))?,
            ["activities", activity, "signUps", id] => self
                .get_sign_up(principal, activity, id)
                .await
                .map(drop)
                .map_err(|_| ApiError::not_found(resource))?,
            _ => {
                return Err(ApiError::invalid(
                    "resource",
                    "must name a project, an activity, a sign-up or a service record",
                    "必须是项目、活动、报名或服务记录的资源名",
                ));
            }
        };
        changelog::history_page(self.database.reader(), resource, page).await
    }
}
