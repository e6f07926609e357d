//! 统计: a metric by up to two dimensions, one filter and a period, as a table with the
//! reporting service's chart beside it, and downloads in CSV and XLSX (small: streamed
//! straight through; the long exports are jobs with a progress bar, on 导出).
//!
//! The query travels in the URL: it names metrics, dimensions and dates, never a person.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use egret_proto::common::v1::Date;
use egret_proto::reporting::v1::{
    Dimension, ExportFormat, ExportStatisticsRequest, Filter, ImageFormat, Metric,
    QueryStatisticsRequest, RenderChartRequest,
};
use futures::StreamExt as _;
use http::{StatusCode, header};
use serde::Deserialize;

use super::{Layout, Signed, render_refused};
use crate::AppState;
use crate::api::Failure;

/// The metrics the page offers, with their Chinese names.
const METRICS: [(Metric, &str); 10] = [
    (Metric::Teams, "服务队数"),
    (Metric::Volunteers, "志愿者人数"),
    (Metric::NewVolunteers, "新增志愿者"),
    (Metric::Activities, "活动数"),
    (Metric::ApprovedMinutes, "服务时长（分钟）"),
    (Metric::ServiceRecords, "服务记录数"),
    (Metric::TrainedVolunteers, "参加培训人数"),
    (Metric::InsuredVolunteers, "参保人数"),
    (Metric::StarRatings, "星级评定"),
    (Metric::Commendations, "表彰"),
];

/// The dimensions the page offers, with their Chinese names.
const DIMENSIONS: [(Dimension, &str); 12] = [
    (Dimension::OrgUnit, "下级组织"),
    (Dimension::Month, "月份"),
    (Dimension::Tier, "层级"),
    (Dimension::TeamLevel, "队伍级别"),
    (Dimension::TeamCategory, "队伍类别"),
    (Dimension::OrgStatus, "组织状态"),
    (Dimension::AgeBand, "年龄段"),
    (Dimension::Gender, "性别"),
    (Dimension::ServiceTheme, "服务主题"),
    (Dimension::ServiceField, "服务领域"),
    (Dimension::TargetGroup, "服务对象"),
    (Dimension::Stars, "星级"),
];

/// The query, from the form's fields (all optional).
#[derive(Deserialize, Default, Clone)]
pub(crate) struct StatisticsQuery {
    #[serde(default)]
    metric: i32,
    #[serde(default)]
    first: i32,
    #[serde(default)]
    second: i32,
    #[serde(default)]
    filter: i32,
    #[serde(default)]
    filter_values: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
}

impl StatisticsQuery {
    fn metric(&self) -> Metric {
        match Metric::try_from(self.metric) {
            Ok(Metric::Unspecified) | Err(_) => Metric::Volunteers,
            Ok(metric) => metric,
        }
    }

    fn dimensions(&self) -> Vec<i32> {
        [self.first, self.second]
            .into_iter()
            .filter(|dimension| *dimension != 0 && Dimension::try_from(*dimension).is_ok())
            .collect()
    }

    fn filters(&self) -> Vec<Filter> {
        let values: Vec<String> = self
            .filter_values
            .split([',', '，', '、'])
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(|value| value.chars().take(100).collect())
            .take(50)
            .collect();
        if self.filter == 0 || values.is_empty() {
            return Vec::new();
        }
        vec![Filter {
            dimension: self.filter,
            values,
        }]
    }

    /// The query string that repeats this query (for the chart and the downloads).
    fn query_string(&self) -> String {
        let encode = |text: &str| -> String {
            text.bytes()
                .map(|byte| match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (byte as char).to_string()
                    }
                    _ => format!("%{byte:02X}"),
                })
                .collect()
        };
        format!(
            "metric={}&first={}&second={}&filter={}&filter_values={}&start={}&end={}",
            self.metric() as i32,
            self.first,
            self.second,
            self.filter,
            encode(&self.filter_values),
            encode(&self.start),
            encode(&self.end)
        )
    }
}

/// A date input's value, or none when empty; an error names the field.
fn date(text: &str, field: &str) -> Result<Option<Date>, Failure> {
    super::org::parse_date_input(text.trim())
        .map_err(|()| Failure::field(field, "日期格式应为 年-月-日。"))
}

impl StatisticsQuery {
    /// The period's first and last days, or the failure naming the bad one.
    fn period(&self) -> Result<(Option<Date>, Option<Date>), Failure> {
        Ok((
            date(&self.start, "start_date")?,
            date(&self.end, "end_date")?,
        ))
    }
}

struct Row {
    keys: Vec<String>,
    value: i64,
}

#[derive(Template)]
#[template(path = "statistics.html")]
struct StatisticsPage {
    layout: Layout,
    query: StatisticsQuery,
    metrics: Vec<(i32, &'static str)>,
    dimensions: Vec<(i32, &'static str)>,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
    total: i64,
    asked: bool,
    query_string: String,
    chart: bool,
    failure: Failure,
}

fn dimension_name(dimension: i32) -> &'static str {
    DIMENSIONS
        .iter()
        .find(|(known, _)| *known as i32 == dimension)
        .map_or("—", |(_, name)| name)
}

/// The Chinese for a bucket key the reporting service gives in English.
fn key_label(key: &str) -> String {
    let label = match key {
        "corps" => "总队",
        "team" => "服务队",
        "sub_team" => "分队",
        "squad" => "小队",
        "national" => "国家级",
        "provincial" => "省级",
        "municipal" => "市级",
        "district" => "区级",
        "female" => "女",
        "male" => "男",
        "care" => "关爱",
        "rights" => "维权",
        "civility" => "文明",
        "entrepreneurship_employment" => "创业就业",
        "active" => "正常",
        "suspended" => "暂停",
        "dissolved" => "已解散",
        "merged" => "已合并",
        "under_18" => "18岁以下",
        "18_35" => "18–35岁",
        "36_45" => "36–45岁",
        "46_55" => "46–55岁",
        "56_65" => "56–65岁",
        "over_65" => "65岁以上",
        "unknown" | "" => "未填写",
        _ => return key.to_string(),
    };
    label.to_string()
}

/// `GET /statistics`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<StatisticsQuery>,
) -> Response {
    let asked = query.metric != 0;
    let mut rows = Vec::new();
    let mut total = 0;
    let mut failure = Failure::default();
    let dimensions = query.dimensions();
    if asked {
        match query.period() {
            Err(error) => failure = error,
            Ok((start_date, end_date)) => {
                let api = &state.api;
                let answer = api
                    .statistics()
                    .query_statistics(api.request(
                        &signed.caller,
                        QueryStatisticsRequest {
                            org_unit: signed.session.person.org_unit.clone(),
                            metric: query.metric() as i32,
                            dimensions: dimensions.clone(),
                            start_date,
                            end_date,
                            catch_up: false,
                            filters: query.filters(),
                        },
                    ))
                    .await;
                match answer {
                    Ok(answer) => {
                        let answer = answer.into_inner();
                        total = answer.total;
                        let mut units = std::collections::HashMap::new();
                        for bucket in &answer.buckets {
                            let mut keys = Vec::new();
                            for key in &bucket.keys {
                                if !key.starts_with("orgUnits/") {
                                    keys.push(key_label(key));
                                    continue;
                                }
                                if !units.contains_key(key) {
                                    let name = super::org::display_name(&state, &signed, key).await;
                                    units.insert(key.clone(), name);
                                }
                                keys.push(units.get(key).cloned().unwrap_or_default());
                            }
                            rows.push(Row {
                                keys,
                                value: bucket.value,
                            });
                        }
                    }
                    Err(status) => failure = status.into(),
                }
            }
        }
    }
    let headers = dimensions
        .iter()
        .map(|dimension| dimension_name(*dimension))
        .collect();
    let chart =
        asked && failure.code.is_none() && (!dimensions.is_empty() || !query.start.is_empty());
    render_refused(
        &StatisticsPage {
            layout: signed.layout("统计", "statistics"),
            query_string: query.query_string(),
            query,
            metrics: METRICS
                .iter()
                .map(|(metric, name)| (*metric as i32, *name))
                .collect(),
            dimensions: DIMENSIONS
                .iter()
                .map(|(dimension, name)| (*dimension as i32, *name))
                .collect(),
            headers,
            rows,
            total,
            asked,
            chart,
            failure: failure.clone(),
        },
        failure.code.is_some(),
    )
}

/// `GET /statistics/chart.svg`: the reporting service's chart of the query's first
/// dimension, or month by month without one.
pub(crate) async fn chart(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<StatisticsQuery>,
) -> Response {
    let Ok((start_date, end_date)) = query.period() else {
        return (StatusCode::BAD_REQUEST, "日期格式有误。").into_response();
    };
    let api = &state.api;
    let answer = api
        .statistics_exports()
        .render_chart(api.request(
            &signed.caller,
            RenderChartRequest {
                org_unit: signed.session.person.org_unit.clone(),
                metric: query.metric() as i32,
                dimension: query.dimensions().first().copied().unwrap_or_default(),
                start_date,
                end_date,
                format: ImageFormat::Svg as i32,
                title: String::new(),
                catch_up: false,
            },
        ))
        .await;
    match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            (
                [(header::CONTENT_TYPE, "image/svg+xml".to_string())],
                answer.image,
            )
                .into_response()
        }
        Err(status) => (StatusCode::BAD_REQUEST, Failure::from(status).message).into_response(),
    }
}

/// `GET /statistics/export.{csv|xlsx}`: the query's figures as a file, streamed from the
/// reporting service as it writes them.
pub(crate) async fn export(
    State(state): State<AppState>,
    signed: Signed,
    Path(format): Path<String>,
    Query(query): Query<StatisticsQuery>,
) -> Response {
    let format = match format.as_str() {
        "export.csv" => ExportFormat::Csv,
        "export.xlsx" => ExportFormat::Xlsx,
        _ => return (StatusCode::NOT_FOUND, "未找到").into_response(),
    };
    let Ok((start_date, end_date)) = query.period() else {
        return (StatusCode::BAD_REQUEST, "日期格式有误。").into_response();
    };
    let api = &state.api;
    let stream = api
        .statistics_exports()
        .export_statistics(api.request(
            &signed.caller,
            ExportStatisticsRequest {
                org_unit: signed.session.person.org_unit.clone(),
                metric: query.metric() as i32,
                dimensions: query.dimensions(),
                start_date,
                end_date,
                catch_up: false,
                format: format as i32,
            },
        ))
        .await;
    let mut stream = match stream {
        Ok(stream) => stream.into_inner(),
        Err(status) => {
            return (StatusCode::BAD_REQUEST, Failure::from(status).message).into_response();
        }
    };
    // The first chunk names the file; the rest stream through as they come.
    let first = match stream.message().await {
        Ok(Some(first)) => first.chunk.unwrap_or_default(),
        Ok(None) => return (StatusCode::BAD_GATEWAY, "导出为空。").into_response(),
        Err(status) => {
            return (StatusCode::BAD_REQUEST, Failure::from(status).message).into_response();
        }
    };
    let content_type = first.content_type.clone();
    let file_name = crate::export_jobs::safe_file_name(&first.file_name);
    let rest = futures::stream::unfold(stream, |mut stream| async move {
        match stream.message().await {
            Ok(Some(chunk)) => Some((
                Ok::<_, std::io::Error>(chunk.chunk.unwrap_or_default().data),
                stream,
            )),
            Ok(None) => None,
            Err(status) => Some((
                Err(std::io::Error::other(status.message().to_string())),
                stream,
            )),
        }
    });
    let body = futures::stream::once(async move { Ok(first.data) }).chain(rest);
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}
