//! Charts of a subtree's figures: a monthly series as a line, a breakdown as bars, drawn as
//! SVG and, for PNG, rasterised with resvg (pure Rust). Fonts are the system's, loaded once;
//! without a CJK font the title's glyphs are left out and the chart still renders.

use std::sync::{Arc, OnceLock};

use egret_runtime::{ApiError, Principal};
use egret_types::CivilDate;
use resvg::{tiny_skia, usvg};

use super::Reporting;
use super::statistics::Reading;
use crate::domain::access::{self, Action};
use crate::domain::charts::{self, Chart, ChartKind};
use crate::domain::exports::{dimension_name, key_label, metric_name};
use crate::domain::names;
use crate::domain::stats::{Dimension, Metric, Query};
use crate::store::exports as rows;

/// The image format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// SVG.
    Svg,
    /// PNG.
    Png,
}

/// What to draw.
#[derive(Debug, Clone)]
pub struct ChartRequest {
    /// What to count.
    pub metric: Metric,
    /// None for a monthly series; a dimension for bars.
    pub dimension: Option<Dimension>,
    /// The first day (required for a series).
    pub start: Option<CivilDate>,
    /// The last day.
    pub end: CivilDate,
    /// SVG or PNG.
    pub format: ImageFormat,
    /// The title; empty for one made from the metric.
    pub title: String,
}

/// A rendered chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The bytes.
    pub data: Vec<u8>,
    /// The media type.
    pub content_type: &'static str,
    /// A file name.
    pub file_name: String,
}

fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut database = usvg::fontdb::Database::new();
            database.load_system_fonts();
            Arc::new(database)
        })
        .clone()
}

/// Rasterises an SVG document to PNG with the system's fonts.
pub fn png(svg: &str) -> Result<Vec<u8>, ApiError> {
    png_with(svg, fonts())
}

/// Rasterises an SVG document to PNG with `fonts` (text without a matching font is left
/// out, not an error).
fn png_with(svg: &str, fonts: Arc<usvg::fontdb::Database>) -> Result<Vec<u8>, ApiError> {
    let broken = |what: &str, error: String| ApiError::Internal(anyhow::anyhow!("{what}: {error}"));
    let options = usvg::Options {
        fontdb: fonts,
        ..usvg::Options::default()
    };
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|error| broken("parsing the chart", error.to_string()))?;
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| broken("allocating the chart", "empty size".to_string()))?;
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    pixmap
        .encode_png()
        .map_err(|error| broken("encoding the chart", error.to_string()))
}

impl Reporting {
    /// Draws a chart of the subtree's figures.
    pub async fn render_chart(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        request: ChartRequest,
    ) -> Result<Image, ApiError> {
        access::require(principal, Action::Export)?;
        let (kind, points, title) = match request.dimension {
            None => {
                let Some(start) = request.start else {
                    return Err(ApiError::invalid(
                        "start_date",
                        "is required for a monthly series",
                        "按月统计图必须填写开始日期",
                    ));
                };
                let points = self
                    .monthly_series(principal, reading, request.metric, (start, request.end))
                    .await?;
                (
                    ChartKind::Line,
                    points,
                    format!("{}按月统计", metric_name(request.metric)),
                )
            }
            Some(dimension) => {
                let query =
                    Query::new(request.metric, vec![dimension], request.start, request.end)?;
                let (_, buckets, _) = self.query_statistics(principal, reading, &query).await?;
                let keys: Vec<String> = buckets.iter().map(|row| row.keys[0].clone()).collect();
                let unit_names = if dimension == Dimension::OrgUnit {
                    rows::unit_names(self.database.reader(), &keys).await?
                } else {
                    Default::default()
                };
                let points = buckets
                    .into_iter()
                    .map(|row| {
                        let raw = &row.keys[0];
                        let label = if dimension == Dimension::OrgUnit {
                            unit_names
                                .get(raw)
                                .cloned()
                                .unwrap_or_else(|| names::org_unit(raw))
                        } else {
                            key_label(dimension, raw)
                        };
                        (label, row.value)
                    })
                    .collect();
                (
                    ChartKind::Bars,
                    points,
                    format!(
                        "{}（按{}）",
                        metric_name(request.metric),
                        dimension_name(dimension)
                    ),
                )
            }
        };
        let title = if request.title.trim().is_empty() {
            title
        } else {
            request.title.trim().to_string()
        };
        let svg = charts::svg(&Chart {
            title,
            kind,
            points,
        });
        match request.format {
            ImageFormat::Svg => Ok(Image {
                data: svg.into_bytes(),
                content_type: "image/svg+xml",
                file_name: "chart.svg".to_string(),
            }),
            ImageFormat::Png => {
                let data = tokio::task::spawn_blocking(move || png(&svg))
                    .await
                    .map_err(|error| ApiError::Internal(anyhow::anyhow!("drawing: {error}")))??;
                Ok(Image {
                    data,
                    content_type: "image/png",
                    file_name: "chart.png".to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_rasterise_to_png() {
        let svg = charts::svg(&Chart {
            title: "服务时长（分钟）按月统计".to_string(),
            kind: ChartKind::Line,
            points: vec![("2026-01".to_string(), 30), ("2026-02".to_string(), 90)],
        });
        let data = png(&svg).expect("renders");
        assert!(data.starts_with(b"\x89PNG\r\n\x1a\n"));
        // A machine without any font (let alone a CJK one) still gets its chart.
        let bare = png_with(&svg, Arc::new(usvg::fontdb::Database::new())).expect("renders");
        assert!(bare.starts_with(b"\x89PNG\r\n\x1a\n"));
    }
}
