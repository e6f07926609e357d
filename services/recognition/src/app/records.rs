//! Change history and the change log.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{StoredChange, changelog};

use super::Recognition;
use crate::domain::access::{self, Action};

impl Recognition {
    /// The change history of one resource the caller may see.
    pub async fn list_change_records(
        &self,
        principal: &Principal,
        resource: &str,
        page: &PageRequest,
    ) -> Result<(Vec<StoredChange>, String), ApiError> {
        access::require(principal, Action::ReadHistory)?;
        let hidden = |_| ApiError::not_found(resource);
        match resource.split('/').collect::<Vec<_>>().as_slice() {
            ["ruleSets", id] => self
                .get_rule_set(principal, id, 0)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["starRatings", id] => self
                .get_star_rating(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["certificates", id] => self
                .get_certificate(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["benefits", id] => self
                .get_benefit(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["redemptions", id] => self
                .get_redemption(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["commendations", id] => self
                .get_commendation(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            ["teamStarRatings", id] => self
                .get_team_star_rating(principal, id)
                .await
                .map(drop)
                .map_err(hidden)?,
            _ => {
                return Err(ApiError::invalid(
                    "resource",
                    "must name a rule set, a star rating, a team star rating, a commendation, a certificate, a benefit or a redemption",
                    "必须是评定规则、星级评定、团队星级、嘉许、服务证明、回馈物品或兑换记录的资源名",
                ));
            }
        };
        changelog::history_page(self.database.reader(), resource, page).await
    }
}
