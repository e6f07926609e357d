//! Targets and progress against them.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::Operation;
use egret_sync::RecordChanges;
use egret_types::Meta;

use super::Reporting;
use crate::domain::OrgUnit;
use crate::domain::access::{self, Action};
use crate::domain::names;
use crate::domain::targets::{Target, permille};
use crate::store;

const TARGET_TYPE: &str = "egret.reporting.v1.Target";

/// A target and what has been reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    /// The target.
    pub target: Target,
    /// Active teams of the level now.
    pub teams: i64,
    /// Unique volunteers serving in them now.
    pub volunteers: i64,
    /// Teams, thousandths of the target.
    pub teams_permille: i64,
    /// Volunteers, thousandths of the target.
    pub volunteers_permille: i64,
}

/// `orgUnits/{org_unit}/targets/{year}-{level}`.
pub fn target_name(target: &Target) -> String {
    let level = match target.team_level {
        1 => "national",
        2 => "provincial",
        3 => "municipal",
        _ => "district",
    };
    format!(
        "{}/targets/{}-{level}",
        names::org_unit(&target.org_unit_id),
        target.year
    )
}

impl Reporting {
    /// Sets a unit's target for a year and level; setting it again replaces it.
    pub async fn set_target(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        (year, team_level): (i32, i32),
        (teams, volunteers): (i64, i64),
    ) -> Result<Target, ApiError> {
        access::require(principal, Action::SetTargets)?;
        Self::check_year_of_target(year)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let mut transaction = self.begin(principal).await?;
        let before = store::targets::get(transaction.conn(), &unit.id, year, team_level).await?;
        if let Some(before) = &before {
            // A target that came down from the city is the city's to change.
            egret_storage::ensure_origin(&before.meta, &self.instance_id, &target_name(before))?;
        }
        let now = transaction.now();
        let target = Target {
            id: before
                .as_ref()
                .map_or_else(egret_storage::new_id, |before| before.id.clone()),
            org_unit_id: unit.id.clone(),
            year,
            team_level,
            teams,
            volunteers,
            meta: Meta {
                origin_instance: self.instance_id.clone(),
                version: before.as_ref().map_or(1, |before| before.meta.version + 1),
                create_time: before
                    .as_ref()
                    .map_or(now, |before| before.meta.create_time),
                update_time: now,
            },
        };
        let name = target_name(&target);
        let expected = before.as_ref().map_or(0, |before| before.meta.version);
        if !store::targets::put(transaction.conn(), &target, expected).await? {
            return Err(egret_storage::changed_concurrently(&name));
        }
        let json = |target: &Target| serde_json::to_value(target).expect("targets serialize");
        transaction.record_diff(
            TARGET_TYPE,
            name,
            if before.is_some() {
                Operation::Update
            } else {
                Operation::Create
            },
            before.as_ref().map(json).as_ref(),
            json(&target),
            "",
        )?;
        transaction.commit().await?;
        Ok(target)
    }

    fn check_year_of_target(year: i32) -> Result<(), ApiError> {
        let this_year = egret_runtime::wire::today().year;
        if (2000..=this_year + 10).contains(&year) {
            return Ok(());
        }
        Err(ApiError::invalid(
            "target.year",
            format!("must be between 2000 and {}", this_year + 10),
            format!("年度应在 2000 到 {} 之间", this_year + 10),
        ))
    }

    /// Targets of a year set in a subtree.
    pub async fn list_targets(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        year: i32,
        page: &PageRequest,
    ) -> Result<(Vec<Target>, String), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let mut rows = store::targets::list(
            self.database.reader(),
            (&low, &high),
            year,
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |target| target.id.clone());
        Ok((rows, token))
    }

    /// The configured default targets of the root unit for `year`.
    fn default_targets(&self, root: &OrgUnit, year: i32) -> Vec<Target> {
        self.settings
            .default_targets
            .iter()
            .filter_map(|default| {
                Some(Target {
                    id: String::new(),
                    org_unit_id: root.id.clone(),
                    year,
                    team_level: default.level_number()?,
                    teams: default.teams,
                    volunteers: default.volunteers,
                    meta: Meta {
                        origin_instance: self.instance_id.clone(),
                        version: 0,
                        create_time: 0,
                        update_time: 0,
                    },
                })
            })
            .collect()
    }

    async fn reach(&self, target: Target) -> Result<Reached, ApiError> {
        let unit = egret_sync::replica::unit(self.database.reader(), &target.org_unit_id)
            .await?
            .ok_or_else(|| ApiError::not_found(names::org_unit(&target.org_unit_id)))?;
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let (teams, volunteers) =
            store::targets::reached(self.database.reader(), (&low, &high), target.team_level)
                .await?;
        Ok(Reached {
            teams_permille: permille(teams, target.teams),
            volunteers_permille: permille(volunteers, target.volunteers),
            target,
            teams,
            volunteers,
        })
    }

    /// Progress of a unit (the configured defaults for the root's levels that have no target
    /// set for the year) and of the units directly under it.
    pub async fn target_progress(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        year: i32,
    ) -> Result<(Vec<Reached>, Vec<Reached>), ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        let unit = self.unit_in_scope(principal, org_unit_id).await?;
        let mut own = store::targets::of_unit(self.database.reader(), &unit.id, year).await?;
        if unit.parent_id.is_none() {
            // The root's levels without a target of their own take the configured default.
            let defaults: Vec<Target> = self
                .default_targets(&unit, year)
                .into_iter()
                .filter(|default| !own.iter().any(|set| set.team_level == default.team_level))
                .collect();
            own.extend(defaults);
            own.sort_by_key(|target| target.team_level);
        }
        let children = store::targets::of_children(self.database.reader(), &unit.id, year).await?;
        let mut unit_progress = Vec::with_capacity(own.len());
        for target in own {
            unit_progress.push(self.reach(target).await?);
        }
        let mut child_progress = Vec::with_capacity(children.len());
        for target in children {
            child_progress.push(self.reach(target).await?);
        }
        Ok((unit_progress, child_progress))
    }
}
