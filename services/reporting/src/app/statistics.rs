//! Statistics of a subtree: the overview, general queries and monthly series, read from the
//! replica and the hours rollup.

use egret_runtime::{ApiError, Principal};
use egret_types::CivilDate;

use super::Reporting;
use crate::domain::OrgUnit;
use crate::domain::access::{self, Action};
use crate::domain::stats::{Dimension, Metric, Query, months};
use crate::domain::tallies;
use crate::store::stats::{self, Row2, Scope};
use crate::store::tallies as store_tallies;

/// What a statistics request names besides the metric.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The subtree's root; None for the caller's unit.
    pub org_unit_id: Option<&'a str>,
    /// Apply all upstream changes first.
    pub catch_up: bool,
}

/// The dashboard figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// Teams by tier.
    pub teams_by_tier: Vec<Row2>,
    /// Teams.
    pub teams: i64,
    /// Unique volunteers.
    pub volunteers: i64,
    /// By gender.
    pub volunteers_by_gender: Vec<Row2>,
    /// By age band.
    pub volunteers_by_age_band: Vec<Row2>,
    /// Activities.
    pub activities: i64,
    /// By theme.
    pub activities_by_theme: Vec<Row2>,
    /// Approved minutes.
    pub approved_minutes: i64,
    /// Approved records.
    pub service_records: i64,
    /// Volunteers trained.
    pub trained_volunteers: i64,
    /// Volunteers insured.
    pub insured_volunteers: i64,
    /// Stars awarded by level.
    pub star_ratings_by_stars: Vec<Row2>,
    /// Commendations awarded.
    pub commendations: i64,
    /// Distinct people among `volunteers` (see `store::stats::repeated_registrations`).
    pub people: i64,
}

impl Reporting {
    async fn prepare(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
    ) -> Result<OrgUnit, ApiError> {
        access::require(principal, Action::ReadStatistics)?;
        let unit = self.unit_in_scope(principal, reading.org_unit_id).await?;
        if reading.catch_up {
            self.catch_up().await?;
        }
        Ok(unit)
    }

    async fn repeated_registrations(
        &self,
        unit: &OrgUnit,
        end: CivilDate,
    ) -> Result<i64, ApiError> {
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        stats::repeated_registrations(self.database.reader(), (&low, &high), &end.to_iso()).await
    }

    pub(crate) async fn run(
        &self,
        unit: &OrgUnit,
        query: &Query,
    ) -> Result<(Vec<Row2>, i64), ApiError> {
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        let scope = Scope {
            bounds: (&low, &high),
            root_path_len: unit.path.len(),
        };
        let pool = self.database.reader();
        let (mut rows, total) = if let Some(reading) = tallies::reading(query) {
            store_tallies::figures(pool, &reading, query, &unit.id, (&low, &high)).await?
        } else if let Some((position, inner)) = tallies::by_unit(query) {
            store_tallies::figures_by_unit(pool, (position, &inner), &unit.id, &unit.path).await?
        } else {
            stats::run(pool, query, &scope).await?
        };
        // Facts recorded at the queried unit itself group under its own id.
        if query.dimensions.contains(&Dimension::OrgUnit) {
            let position = query
                .dimensions
                .iter()
                .position(|dimension| *dimension == Dimension::OrgUnit)
                .unwrap_or(0);
            for row in &mut rows {
                if row.keys[position].is_empty() {
                    row.keys[position] = unit.id.clone();
                }
            }
        }
        Ok((rows, total))
    }

    /// A metric by up to two dimensions. Returns the unit queried, the buckets (raw keys)
    /// and the total.
    pub async fn query_statistics(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        query: &Query,
    ) -> Result<(OrgUnit, Vec<Row2>, i64), ApiError> {
        let unit = self.prepare(principal, reading).await?;
        let (rows, total) = self.run(&unit, query).await?;
        Ok((unit, rows, total))
    }

    /// A metric month by month, zero-filled.
    pub async fn monthly_series(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        metric: Metric,
        (start, end): (CivilDate, CivilDate),
    ) -> Result<Vec<(String, i64)>, ApiError> {
        if !metric.has_series() {
            return Err(ApiError::invalid(
                "metric",
                "must be activities, approved minutes, service records, new volunteers, trained volunteers, star ratings or commendations",
                "该指标没有按月序列",
            ));
        }
        let all = months(start, end);
        if all.len() > 120 {
            return Err(ApiError::invalid(
                "end_date",
                "must be at most 120 months after start_date",
                "最多查询 120 个月",
            ));
        }
        let unit = self.prepare(principal, reading).await?;
        let query = Query::new(metric, vec![Dimension::Month], Some(start), end)?;
        let (rows, _) = self.run(&unit, &query).await?;
        Ok(all
            .into_iter()
            .map(|month| {
                let value = rows
                    .iter()
                    .find(|row| row.keys[0] == month)
                    .map_or(0, |row| row.value);
                (month, value)
            })
            .collect())
    }

    /// The dashboard figures of a subtree for a period.
    pub async fn overview(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        (start, end): (Option<CivilDate>, CivilDate),
    ) -> Result<(OrgUnit, Overview), ApiError> {
        let unit = self.prepare(principal, reading).await?;
        let query =
            |metric, dimensions: &[Dimension]| Query::new(metric, dimensions.to_vec(), start, end);
        let teams_query = query(Metric::Teams, &[Dimension::Tier])?;
        let gender_query = query(Metric::Volunteers, &[Dimension::Gender])?;
        let age_query = query(Metric::Volunteers, &[Dimension::AgeBand])?;
        let activities_query = query(Metric::Activities, &[Dimension::ServiceTheme])?;
        let minutes_query = query(Metric::ApprovedMinutes, &[])?;
        let records_query = query(Metric::ServiceRecords, &[])?;
        let trained_query = query(Metric::TrainedVolunteers, &[])?;
        let insured_query = query(Metric::InsuredVolunteers, &[])?;
        let stars_query = query(Metric::StarRatings, &[Dimension::Stars])?;
        let commendations_query = query(Metric::Commendations, &[])?;
        // The ten figures are independent reads: asked at once, they take the reader pool's
        // connections side by side instead of ten round trips in a row.
        let (
            (teams_by_tier, teams),
            (volunteers_by_gender, volunteers),
            (volunteers_by_age_band, _),
            (activities_by_theme, activities),
            (_, approved_minutes),
            (_, service_records),
            (_, trained_volunteers),
            (_, insured_volunteers),
            (star_ratings_by_stars, _),
            (_, commendations),
            repeated_registrations,
        ) = futures::try_join!(
            self.run(&unit, &teams_query),
            self.run(&unit, &gender_query),
            self.run(&unit, &age_query),
            self.run(&unit, &activities_query),
            self.run(&unit, &minutes_query),
            self.run(&unit, &records_query),
            self.run(&unit, &trained_query),
            self.run(&unit, &insured_query),
            self.run(&unit, &stars_query),
            self.run(&unit, &commendations_query),
            self.repeated_registrations(&unit, end),
        )?;
        Ok((
            unit,
            Overview {
                teams_by_tier,
                teams,
                volunteers,
                volunteers_by_gender,
                volunteers_by_age_band,
                activities,
                activities_by_theme,
                approved_minutes,
                service_records,
                trained_volunteers,
                insured_volunteers,
                star_ratings_by_stars,
                commendations,
                people: volunteers - repeated_registrations,
            },
        ))
    }
}
