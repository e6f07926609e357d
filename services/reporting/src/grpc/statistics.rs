//! `egret.reporting.v1.StatisticsService`.

use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_proto::reporting::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{date_from_wire, date_to_wire, optional_name, timestamp, today};
use egret_runtime::{ApiError, Principal, Violations};
use egret_types::CivilDate;
use tonic::{Request, Response, Status};

use crate::app::Reporting;
use crate::app::statistics::Reading;
use crate::domain::names;
use crate::domain::stats::{Dimension, Metric, Query};
use crate::store::stats::Row2;

/// The service implementation.
pub struct StatisticsApi(pub Reporting);

/// An enum's wire name without its prefix, lower case (`TIER_TEAM` → `team`); the number
/// itself when the enum does not know it.
fn label(name: Option<&str>, prefix: &str, raw: &str) -> String {
    name.map_or_else(
        || raw.to_string(),
        |name| name.trim_start_matches(prefix).to_ascii_lowercase(),
    )
}

fn key_label(dimension: Dimension, raw: &str) -> String {
    let number: i32 = raw.parse().unwrap_or(-1);
    match dimension {
        Dimension::OrgUnit => names::org_unit(raw),
        Dimension::Tier => label(
            registry::Tier::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "TIER_",
            raw,
        ),
        Dimension::TeamLevel => label(
            registry::TeamLevel::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "TEAM_LEVEL_",
            raw,
        ),
        Dimension::TeamCategory => label(
            registry::TeamCategory::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "TEAM_CATEGORY_",
            raw,
        ),
        Dimension::OrgStatus => label(
            registry::OrgUnitStatus::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "ORG_UNIT_STATUS_",
            raw,
        ),
        Dimension::Gender => label(
            registry::Gender::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "GENDER_",
            raw,
        ),
        Dimension::ServiceTheme => label(
            common::ServiceTheme::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "SERVICE_THEME_",
            raw,
        ),
        Dimension::ServiceField => label(
            common::ServiceField::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "SERVICE_FIELD_",
            raw,
        ),
        Dimension::TargetGroup => label(
            common::TargetGroup::try_from(number)
                .ok()
                .map(|v| v.as_str_name()),
            "TARGET_GROUP_",
            raw,
        ),
        Dimension::AgeBand | Dimension::Month | Dimension::Stars => raw.to_string(),
    }
}

/// A filter value in bucket-key form back to the raw key, or None when it names nothing.
fn raw_key(dimension: Dimension, value: &str) -> Option<String> {
    let number = |prefix: &str, lookup: fn(&str) -> Option<i32>| {
        lookup(&format!("{prefix}{}", value.to_ascii_uppercase())).map(|number| number.to_string())
    };
    match dimension {
        Dimension::OrgUnit => value
            .strip_prefix("orgUnits/")
            .filter(|id| egret_runtime::wire::is_id(id))
            .map(str::to_string),
        Dimension::Tier => number("TIER_", |name| {
            registry::Tier::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::TeamLevel => number("TEAM_LEVEL_", |name| {
            registry::TeamLevel::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::TeamCategory => number("TEAM_CATEGORY_", |name| {
            registry::TeamCategory::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::OrgStatus => number("ORG_UNIT_STATUS_", |name| {
            registry::OrgUnitStatus::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::Gender => number("GENDER_", |name| {
            registry::Gender::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::ServiceTheme => number("SERVICE_THEME_", |name| {
            common::ServiceTheme::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::ServiceField => number("SERVICE_FIELD_", |name| {
            common::ServiceField::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::TargetGroup => number("TARGET_GROUP_", |name| {
            common::TargetGroup::from_str_name(name).map(|v| v as i32)
        }),
        Dimension::AgeBand => crate::domain::stats::AGE_BANDS
            .iter()
            .any(|(label, _)| *label == value)
            .then(|| value.to_string()),
        Dimension::Month => (value.len() == 7
            && CivilDate::parse_iso(&format!("{value}-01")).is_some())
        .then(|| value.to_string()),
        Dimension::Stars => value
            .parse::<u8>()
            .ok()
            .filter(|stars| (1..=5).contains(stars))
            .map(|stars| stars.to_string()),
    }
}

fn filters(filters: &[pb::Filter]) -> Result<Vec<(Dimension, Vec<String>)>, ApiError> {
    let mut violations = Violations::new();
    let mut parsed = Vec::with_capacity(filters.len());
    for (index, filter) in filters.iter().enumerate() {
        let Some(dimension) = Dimension::from_number(filter.dimension) else {
            violations.add(
                format!("filters[{index}].dimension"),
                "is not a known dimension",
                "筛选维度无效",
            );
            continue;
        };
        let mut values = Vec::with_capacity(filter.values.len());
        for (position, value) in filter.values.iter().enumerate() {
            match raw_key(dimension, value) {
                Some(raw) => values.push(raw),
                None => violations.add(
                    format!("filters[{index}].values[{position}]"),
                    format!("{} is not a value of {dimension:?}", quote(value)),
                    "筛选值无效",
                ),
            }
        }
        parsed.push((dimension, values));
    }
    violations.into_result()?;
    Ok(parsed)
}

fn buckets(dimensions: &[Dimension], rows: &[Row2]) -> Vec<pb::Bucket> {
    rows.iter()
        .map(|row| pb::Bucket {
            keys: row
                .keys
                .iter()
                .zip(dimensions)
                .map(|(raw, dimension)| key_label(*dimension, raw))
                .collect(),
            value: row.value,
        })
        .collect()
}

/// The period of a request: an optional start, and an end that defaults to today.
fn period(
    start: Option<&common::Date>,
    end: Option<&common::Date>,
) -> Result<(Option<CivilDate>, CivilDate), ApiError> {
    let mut violations = Violations::new();
    let start = date_from_wire(&mut violations, "start_date", start);
    let end = date_from_wire(&mut violations, "end_date", end);
    violations.into_result()?;
    let end = end.unwrap_or_else(today);
    if start.is_some_and(|start| start > end) {
        return Err(ApiError::invalid(
            "end_date",
            "must not be before start_date",
            "结束日期不能早于开始日期",
        ));
    }
    Ok((start, end))
}

fn metric(number: i32) -> Result<Metric, ApiError> {
    Metric::from_number(number)
        .ok_or_else(|| ApiError::invalid("metric", "is required", "必须选择统计指标"))
}

#[tonic::async_trait]
impl pb::statistics_service_server::StatisticsService for StatisticsApi {
    async fn get_overview(
        &self,
        request: Request<pb::GetOverviewRequest>,
    ) -> Result<Response<pb::GetOverviewResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let (unit, overview) = self.0.overview(&principal, reading, (start, end)).await?;
        Ok(Response::new(pb::GetOverviewResponse {
            org_unit: names::org_unit(&unit.id),
            teams_by_tier: buckets(&[Dimension::Tier], &overview.teams_by_tier),
            teams: overview.teams,
            volunteers: overview.volunteers,
            volunteers_by_gender: buckets(&[Dimension::Gender], &overview.volunteers_by_gender),
            volunteers_by_age_band: buckets(
                &[Dimension::AgeBand],
                &overview.volunteers_by_age_band,
            ),
            activities: overview.activities,
            activities_by_theme: buckets(&[Dimension::ServiceTheme], &overview.activities_by_theme),
            approved_minutes: overview.approved_minutes,
            service_records: overview.service_records,
            trained_volunteers: overview.trained_volunteers,
            insured_volunteers: overview.insured_volunteers,
            star_ratings_by_stars: buckets(&[Dimension::Stars], &overview.star_ratings_by_stars),
            commendations: overview.commendations,
            people: overview.people,
            start_date: start.map(date_to_wire),
            end_date: Some(date_to_wire(end)),
        }))
    }

    async fn query_statistics(
        &self,
        request: Request<pb::QueryStatisticsRequest>,
    ) -> Result<Response<pb::QueryStatisticsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let metric = metric(message.metric)?;
        let mut dimensions = Vec::with_capacity(message.dimensions.len());
        for (index, number) in message.dimensions.iter().enumerate() {
            dimensions.push(Dimension::from_number(*number).ok_or_else(|| {
                ApiError::invalid(
                    format!("dimensions[{index}]"),
                    "is not a known dimension",
                    "统计维度无效",
                )
            })?);
        }
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let query =
            Query::new(metric, dimensions, start, end)?.with_filters(filters(&message.filters)?)?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let (_, rows, total) = self.0.query_statistics(&principal, reading, &query).await?;
        Ok(Response::new(pb::QueryStatisticsResponse {
            buckets: buckets(&query.dimensions, &rows),
            total,
        }))
    }

    async fn get_monthly_series(
        &self,
        request: Request<pb::GetMonthlySeriesRequest>,
    ) -> Result<Response<pb::GetMonthlySeriesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let metric = metric(message.metric)?;
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let Some(start) = start else {
            return Err(ApiError::invalid("start_date", "is required", "必须填写开始日期").into());
        };
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let points = self
            .0
            .monthly_series(&principal, reading, metric, (start, end))
            .await?;
        Ok(Response::new(pb::GetMonthlySeriesResponse {
            points: points
                .into_iter()
                .map(|(month, value)| pb::MonthPoint { month, value })
                .collect(),
        }))
    }

    async fn get_feed_status(
        &self,
        request: Request<pb::GetFeedStatusRequest>,
    ) -> Result<Response<pb::GetFeedStatusResponse>, Status> {
        let principal = Principal::of(&request)?;
        let statuses = self.0.feed_status(&principal).await?;
        Ok(Response::new(pb::GetFeedStatusResponse {
            feeds: statuses
                .into_iter()
                .map(|status| pb::FeedStatus {
                    feed: status.feed.to_string(),
                    applied_sequence: status.applied_sequence,
                    head_sequence: status.head_sequence,
                    lag: status.head_sequence - status.applied_sequence,
                    last_caught_up_time: (status.last_caught_up_micros > 0)
                        .then(|| timestamp(status.last_caught_up_micros)),
                    last_error: status.last_error,
                })
                .collect(),
        }))
    }
}
