//! `egret.reporting.v1.ExportService`: requests checked and converted here; the chunks
//! the use cases produce are forwarded as they come.

use std::pin::Pin;

use egret_proto::common::v1 as common;
use egret_proto::reporting::v1 as pb;
use egret_runtime::wire::{date_from_wire, optional_name, today};
use egret_runtime::{ApiError, Principal, Violations};
use egret_types::CivilDate;
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::app::Reporting;
use crate::app::charts::{ChartRequest, ImageFormat};
use crate::app::exports::{Chunk, Chunks, Period};
use crate::app::statistics::Reading;
use crate::domain::exports::{Format, Layout};
use crate::domain::stats::{Dimension, Metric, Query};

/// The service implementation.
pub struct ExportApi(pub Reporting);

/// A stream of response messages.
type Chunked<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn forward<T: Send + 'static>(
    chunks: Chunks,
    wrap: fn(pb::FileChunk) -> T,
) -> Response<Chunked<T>> {
    let stream = futures::stream::unfold(chunks, move |mut chunks| async move {
        let item = chunks.recv().await?;
        let item = item
            .map(|chunk: Chunk| {
                wrap(pb::FileChunk {
                    data: chunk.data,
                    content_type: chunk.content_type,
                    file_name: chunk.file_name,
                    rows_written: chunk.rows_written,
                    rows_total: chunk.rows_total,
                })
            })
            .map_err(Status::from);
        Some((item, chunks))
    });
    Response::new(Box::pin(stream))
}

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

fn format(number: i32) -> Result<Format, ApiError> {
    match pb::ExportFormat::try_from(number) {
        Ok(pb::ExportFormat::Csv) => Ok(Format::Csv),
        Ok(pb::ExportFormat::Xlsx) => Ok(Format::Xlsx),
        _ => Err(ApiError::invalid(
            "format",
            "must be EXPORT_FORMAT_CSV or EXPORT_FORMAT_XLSX",
            "必须选择导出格式（CSV 或 XLSX）",
        )),
    }
}

fn layout(number: i32) -> Result<Layout, ApiError> {
    match pb::Layout::try_from(number) {
        Ok(pb::Layout::Unspecified) => Ok(Layout::Standard),
        Ok(pb::Layout::NationalPlatform) => Ok(Layout::NationalPlatform),
        Err(_) => Err(ApiError::invalid(
            "layout",
            "is not a known layout",
            "导出版式无效",
        )),
    }
}

fn metric(number: i32) -> Result<Metric, ApiError> {
    Metric::from_number(number)
        .ok_or_else(|| ApiError::invalid("metric", "is required", "必须选择统计指标"))
}

fn dimensions(numbers: &[i32]) -> Result<Vec<Dimension>, ApiError> {
    numbers
        .iter()
        .enumerate()
        .map(|(index, number)| {
            Dimension::from_number(*number).ok_or_else(|| {
                ApiError::invalid(
                    format!("dimensions[{index}]"),
                    "is not a known dimension",
                    "统计维度无效",
                )
            })
        })
        .collect()
}

#[tonic::async_trait]
impl pb::export_service_server::ExportService for ExportApi {
    type ExportStatisticsStream = Chunked<pb::ExportStatisticsResponse>;
    type ExportServiceRecordsStream = Chunked<pb::ExportServiceRecordsResponse>;
    type ExportVolunteersStream = Chunked<pb::ExportVolunteersResponse>;
    type ExportTeamsStream = Chunked<pb::ExportTeamsResponse>;

    async fn export_statistics(
        &self,
        request: Request<pb::ExportStatisticsRequest>,
    ) -> Result<Response<Self::ExportStatisticsStream>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let metric = metric(message.metric)?;
        let dimensions = dimensions(&message.dimensions)?;
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let format = format(message.format)?;
        let query = Query::new(metric, dimensions, start, end)?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let chunks = self
            .0
            .export_statistics(&principal, reading, &query, format)
            .await?;
        Ok(forward(chunks, |chunk| pb::ExportStatisticsResponse {
            chunk: Some(chunk),
        }))
    }

    async fn export_service_records(
        &self,
        request: Request<pb::ExportServiceRecordsRequest>,
    ) -> Result<Response<Self::ExportServiceRecordsStream>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let format = format(message.format)?;
        let layout = layout(message.layout)?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let period = Period {
            start: start.map(|start| start.to_iso()).unwrap_or_default(),
            end: end.to_iso(),
        };
        let chunks = self
            .0
            .export_service_records(&principal, reading, period, format, layout)
            .await?;
        Ok(forward(chunks, |chunk| pb::ExportServiceRecordsResponse {
            chunk: Some(chunk),
        }))
    }

    async fn export_volunteers(
        &self,
        request: Request<pb::ExportVolunteersRequest>,
    ) -> Result<Response<Self::ExportVolunteersStream>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let format = format(message.format)?;
        let layout = layout(message.layout)?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let chunks = self
            .0
            .export_volunteers(&principal, reading, format, layout)
            .await?;
        Ok(forward(chunks, |chunk| pb::ExportVolunteersResponse {
            chunk: Some(chunk),
        }))
    }

    async fn export_teams(
        &self,
        request: Request<pb::ExportTeamsRequest>,
    ) -> Result<Response<Self::ExportTeamsStream>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let format = format(message.format)?;
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let chunks = self.0.export_teams(&principal, reading, format).await?;
        Ok(forward(chunks, |chunk| pb::ExportTeamsResponse {
            chunk: Some(chunk),
        }))
    }

    async fn render_chart(
        &self,
        request: Request<pb::RenderChartRequest>,
    ) -> Result<Response<pb::RenderChartResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let metric = metric(message.metric)?;
        let dimension = match message.dimension {
            0 => None,
            number => Some(Dimension::from_number(number).ok_or_else(|| {
                ApiError::invalid("dimension", "is not a known dimension", "统计维度无效")
            })?),
        };
        let (start, end) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let format = match pb::ImageFormat::try_from(message.format) {
            Ok(pb::ImageFormat::Svg) => ImageFormat::Svg,
            Ok(pb::ImageFormat::Png) => ImageFormat::Png,
            _ => {
                return Err(ApiError::invalid(
                    "format",
                    "must be IMAGE_FORMAT_SVG or IMAGE_FORMAT_PNG",
                    "必须选择图片格式（SVG 或 PNG）",
                )
                .into());
            }
        };
        if message.title.chars().count() > 100 {
            return Err(ApiError::invalid(
                "title",
                "must be at most 100 characters",
                "标题最多 100 个字符",
            )
            .into());
        }
        let reading = Reading {
            org_unit_id: org_unit,
            catch_up: message.catch_up,
        };
        let image = self
            .0
            .render_chart(
                &principal,
                reading,
                ChartRequest {
                    metric,
                    dimension,
                    start,
                    end,
                    format,
                    title: message.title.clone(),
                },
            )
            .await?;
        Ok(Response::new(pb::RenderChartResponse {
            image: image.data,
            content_type: image.content_type.to_string(),
            file_name: image.file_name,
        }))
    }
}
