//! Team star ratings (团队星级): yearly, from the criteria of the rules in force, with every
//! criterion's value and threshold kept beside the stars.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::Operation;
use egret_sync::RecordChanges;
use egret_types::CivilDate;

use super::Recognition;
use crate::domain::access::{self, Action};
use crate::domain::names;
use crate::domain::rules;
use crate::domain::stars::TeamStarRating;
use crate::store;

const TEAM_STAR_RATING_TYPE: &str = "egret.recognition.v1.TeamStarRating";

/// Microseconds at the start of `date` in China (UTC+8).
fn china_midnight(date: CivilDate) -> i64 {
    (date.to_days() * 86_400 - 8 * 3600) * 1_000_000
}

impl Recognition {
    /// A team's standing for `year`, not stored.
    pub async fn evaluate_team(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        year: i32,
    ) -> Result<TeamStarRating, ApiError> {
        access::require(principal, Action::ReadStars)?;
        self.team_evaluation(principal, org_unit_id, year).await
    }

    async fn team_evaluation(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        year: i32,
    ) -> Result<TeamStarRating, ApiError> {
        let scope = self.scope(principal).await?;
        let unit = self.visible_unit(&scope, org_unit_id).await?;
        if unit.tier < 2 {
            return Err(ApiError::invalid(
                "org_unit",
                "must be a team, sub-team or squad: the corps is not rated",
                "应为服务队、分队或小队，总队不参与团队星级评定",
            ));
        }
        let today = egret_runtime::wire::today();
        if !(2000..=today.year).contains(&year) {
            return Err(ApiError::invalid(
                "year",
                format!("must be between 2000 and {}", today.year),
                format!("年份应在 2000 到 {} 之间", today.year),
            ));
        }
        self.catch_up().await?;
        // Whether the year's annual report was submitted comes from the reporting service.
        self.reporting.catch_up().await?;
        let first = CivilDate::new(year, 1, 1).expect("a real date");
        let last = CivilDate::new(year, 12, 31).expect("a real date");
        let rule_set = self.rules_in_force(last.min(today)).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut connection = self
            .database
            .reader()
            .acquire()
            .await
            .map_err(egret_storage::rows::sql_error("connection"))?;
        let facts = store::replica::team_year(
            &mut connection,
            &unit.id,
            year,
            (&low, &high),
            (china_midnight(first), china_midnight(last.add_days(1))),
        )
        .await?;
        let (stars, levels) = rules::evaluate_team(&rule_set.rules, &facts);
        Ok(TeamStarRating {
            id: String::new(),
            org_unit_id: unit.id,
            year,
            stars,
            rule_set_id: rule_set.id,
            rule_set_revision: rule_set.revision,
            levels,
            rated_by: String::new(),
            meta: egret_types::Meta {
                origin_instance: self.instance_id.clone(),
                version: 0,
                create_time: 0,
                update_time: 0,
            },
        })
    }

    /// Rates a team for a year that has ended; rating again replaces the rating.
    pub async fn rate_team(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        year: i32,
        request_id: &str,
    ) -> Result<TeamStarRating, ApiError> {
        access::require(principal, Action::ApproveStars)?;
        if year >= egret_runtime::wire::today().year {
            return Err(ApiError::invalid(
                "year",
                "has not ended: a team is rated once its year is over",
                "该年度尚未结束，年度结束后才能评定",
            ));
        }
        let evaluation = self.team_evaluation(principal, org_unit_id, year).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction.claim_request("RateTeam", request_id).await? {
            drop(transaction);
            let id = existing.trim_start_matches("teamStarRatings/");
            return store::team_stars::get(self.database.reader(), id)
                .await?
                .ok_or_else(|| ApiError::not_found(existing.clone()));
        }
        let before = store::team_stars::get_for(transaction.conn(), org_unit_id, year).await?;
        let now = transaction.now();
        let rating = TeamStarRating {
            id: before
                .as_ref()
                .map_or_else(egret_storage::new_id, |before| before.id.clone()),
            rated_by: principal.subject.clone(),
            meta: egret_types::Meta {
                origin_instance: self.instance_id.clone(),
                version: before.as_ref().map_or(1, |before| before.meta.version + 1),
                create_time: before
                    .as_ref()
                    .map_or(now, |before| before.meta.create_time),
                update_time: now,
            },
            ..evaluation
        };
        let name = names::team_star_rating(&rating.id);
        let expected = before.as_ref().map_or(0, |before| before.meta.version);
        if !store::team_stars::put(transaction.conn(), &rating, expected).await? {
            return Err(egret_storage::changed_concurrently(&name));
        }
        transaction.record_diff(
            TEAM_STAR_RATING_TYPE,
            name.clone(),
            if before.is_some() {
                Operation::Update
            } else {
                Operation::Create
            },
            before
                .as_ref()
                .map(|before| serde_json::to_value(before).expect("ratings serialize"))
                .as_ref(),
            serde_json::to_value(&rating).expect("ratings serialize"),
            &format!("rated {} stars for {year}", rating.stars),
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(rating)
    }

    /// A team star rating of a team in the caller's subtree.
    pub async fn get_team_star_rating(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<TeamStarRating, ApiError> {
        access::require(principal, Action::ReadStars)?;
        let not_found = || ApiError::not_found(names::team_star_rating(id));
        let rating = store::team_stars::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        let scope = self.scope(principal).await?;
        self.visible_unit(&scope, &rating.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(rating)
    }

    /// Team star ratings of a subtree.
    pub async fn list_team_star_ratings(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        year: i32,
        page: &PageRequest,
    ) -> Result<(Vec<TeamStarRating>, String), ApiError> {
        access::require(principal, Action::ReadStars)?;
        let scope = self.scope(principal).await?;
        let unit = self.unit_or_own(&scope, org_unit_id).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut rows = store::team_stars::list(
            self.database.reader(),
            (&low, &high),
            year,
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |rating| rating.id.clone());
        Ok((rows, token))
    }
}
