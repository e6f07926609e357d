//! Exports of a subtree as CSV or XLSX files that stream: each checks the caller's roles
//! and subtree before anything is sent, then a task counts the rows, reads them page by
//! page (a keyset, [`PAGE_ROWS`] at a time) and hands each chunk to the caller as soon as
//! it is written.
//!
//! CSV is written straight into chunks. XLSX is written with `rust_xlsxwriter` in its
//! constant-memory mode (each finished row goes to a temporary file in a temporary
//! directory that is deleted afterwards); at the end the workbook is zipped straight into
//! the chunks, so no whole file is ever held in memory.
//!
//! Every chunk says how many rows are written of how many: the first is sent once the rows
//! are counted, another at least every [`PAGE_ROWS`] rows (with no data when nothing is
//! buffered, as for a workbook, which sends no byte before it is finished), and the last
//! says how many rows the file holds. The total is the count at the start: rows added or
//! removed meanwhile are exported or not as the pages find them, so the last count may
//! differ from it.

use std::future::Future;
use std::io::Write;

use egret_runtime::{ApiError, Bilingual, Principal};
use rust_xlsxwriter::{Workbook, XlsxError};
use tokio::sync::mpsc;

use super::Reporting;
use super::statistics::Reading;
use crate::domain::access::{self, Action};
use crate::domain::exports::{
    Cell, Format, Layout, NATIONAL_SERVICE_RECORD_COLUMNS, NATIONAL_VOLUNTEER_COLUMNS,
    SERVICE_RECORD_COLUMNS, TEAM_COLUMNS, VOLUNTEER_COLUMNS, category_label, csv_line,
    dimension_name, file_name, hours, id_type_label, key_label, level_label, mask_name,
    metric_name, record_state_label, shows_names,
};
use crate::domain::stats::{Dimension, Query};
use crate::domain::{OrgUnit, names};
use crate::store::exports::{self as rows, Subtree};

/// Rows read per query.
pub const PAGE_ROWS: i64 = 1000;
/// The size a chunk is sent at.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// The most rows an XLSX sheet holds.
const XLSX_MAX_ROWS: u32 = 1_048_576;

/// One piece of an exported file, with the export's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    /// The next bytes; may be empty (a chunk of progress only).
    pub data: Vec<u8>,
    /// The media type, in the first chunk only.
    pub content_type: String,
    /// The file name, in the first chunk only.
    pub file_name: String,
    /// The data rows written so far (the header not counted).
    pub rows_written: i64,
    /// The data rows counted when the export started.
    pub rows_total: i64,
}

/// The chunks of an export as they are produced; an error ends it.
pub type Chunks = mpsc::Receiver<Result<Chunk, ApiError>>;

fn internal(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{what}: {error}"))
}

fn xlsx_error(error: XlsxError) -> ApiError {
    internal("writing the workbook", error)
}

fn gone() -> ApiError {
    ApiError::Unavailable(Bilingual::new(
        "the caller stopped reading the export",
        "调用方已停止读取导出文件",
    ))
}

/// Where an export's chunks go; the first carries the media type and file name, each the
/// progress as of its data.
struct Output {
    sender: mpsc::Sender<Result<Chunk, ApiError>>,
    header: Option<(String, String)>,
    rows_total: i64,
    /// The rows the chunks sent so far have reported.
    reported: i64,
}

impl Output {
    fn chunk(&mut self, data: Vec<u8>, rows_written: i64) -> Chunk {
        let (content_type, file_name) = self.header.take().unwrap_or_default();
        self.reported = rows_written;
        Chunk {
            data,
            content_type,
            file_name,
            rows_written,
            rows_total: self.rows_total,
        }
    }

    fn first_sent(&self) -> bool {
        self.header.is_none()
    }

    async fn send(&mut self, data: Vec<u8>, rows_written: i64) -> Result<(), ApiError> {
        let chunk = self.chunk(data, rows_written);
        self.sender.send(Ok(chunk)).await.map_err(|_| gone())
    }
}

/// Writes into chunks from blocking code (the workbook's zip writer), once every row is
/// written.
struct ChunkWriter {
    output: Output,
    buffer: Vec<u8>,
    rows_written: i64,
}

impl ChunkWriter {
    fn send_buffer(&mut self) -> std::io::Result<()> {
        let data = std::mem::take(&mut self.buffer);
        let chunk = self.output.chunk(data, self.rows_written);
        self.output
            .sender
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "caller gone"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A sheet being written, and how many data rows it holds.
struct Sheet {
    file: SheetFile,
    rows_written: i64,
}

/// The file a sheet is written to.
enum SheetFile {
    Csv {
        buffer: Vec<u8>,
    },
    Xlsx {
        workbook: Box<Workbook>,
        row: u32,
        // Holds the workbook's temporary files; removed when dropped.
        directory: tempfile::TempDir,
    },
}

impl Sheet {
    fn new(format: Format, title: &str) -> Result<Self, ApiError> {
        Ok(Self {
            file: SheetFile::new(format, title)?,
            rows_written: 0,
        })
    }

    /// The header row, which no progress counts.
    fn header(&mut self, cells: &[Cell]) -> Result<(), ApiError> {
        self.file.row(cells)
    }

    /// A data row.
    fn row(&mut self, cells: &[Cell]) -> Result<(), ApiError> {
        self.file.row(cells)?;
        self.rows_written += 1;
        Ok(())
    }

    /// Sends what a CSV has gathered once it reaches a chunk, and the progress once
    /// [`PAGE_ROWS`] rows have been written since it was last sent (with no data when
    /// nothing is buffered, as for a workbook).
    async fn flush(&mut self, output: &mut Output) -> Result<(), ApiError> {
        let full = matches!(&self.file, SheetFile::Csv { buffer } if buffer.len() >= CHUNK_BYTES);
        if full || self.rows_written - output.reported >= PAGE_ROWS {
            self.send(output).await?;
        }
        Ok(())
    }

    /// Sends what is buffered (perhaps nothing) with the progress: the first chunk, once
    /// the rows are counted.
    async fn send(&mut self, output: &mut Output) -> Result<(), ApiError> {
        let data = match &mut self.file {
            SheetFile::Csv { buffer } => std::mem::take(buffer),
            SheetFile::Xlsx { .. } => Vec::new(),
        };
        output.send(data, self.rows_written).await
    }

    /// Sends the rest; the last chunk carries the rows the file holds.
    async fn finish(self, mut output: Output) -> Result<(), ApiError> {
        let rows_written = self.rows_written;
        match self.file {
            SheetFile::Csv { buffer } => {
                if !buffer.is_empty() || !output.first_sent() || output.reported != rows_written {
                    output.send(buffer, rows_written).await?;
                }
                Ok(())
            }
            SheetFile::Xlsx {
                mut workbook,
                directory,
                ..
            } => {
                let saved = tokio::task::spawn_blocking(move || {
                    let mut writer = ChunkWriter {
                        output,
                        buffer: Vec::with_capacity(CHUNK_BYTES),
                        rows_written,
                    };
                    workbook.save_to_writer(&mut writer).map_err(xlsx_error)?;
                    writer.send_buffer().map_err(|_| gone())
                })
                .await
                .map_err(|error| internal("saving the workbook", error))?;
                drop(directory);
                saved
            }
        }
    }
}

impl SheetFile {
    fn new(format: Format, title: &str) -> Result<Self, ApiError> {
        match format {
            Format::Csv => Ok(SheetFile::Csv {
                buffer: "\u{feff}".as_bytes().to_vec(),
            }),
            Format::Xlsx => {
                let directory = tempfile::Builder::new()
                    .prefix("egret-export-")
                    .tempdir()
                    .map_err(|error| internal("creating a temporary directory", error))?;
                let mut workbook = Box::new(Workbook::new());
                workbook.set_tempdir(directory.path()).map_err(xlsx_error)?;
                workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(xlsx_error)?
                    .set_name(title)
                    .map_err(xlsx_error)?;
                Ok(SheetFile::Xlsx {
                    workbook,
                    row: 0,
                    directory,
                })
            }
        }
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), ApiError> {
        match self {
            SheetFile::Csv { buffer } => {
                buffer.extend_from_slice(csv_line(cells).as_bytes());
                Ok(())
            }
            SheetFile::Xlsx { workbook, row, .. } => {
                if *row >= XLSX_MAX_ROWS {
                    return Err(ApiError::ResourceExhausted(egret_runtime::Bilingual::new(
                        "the export has more rows than an XLSX sheet holds; export CSV instead",
                        "导出行数超过 XLSX 工作表上限，请改为导出 CSV",
                    )));
                }
                let sheet = workbook.worksheet_from_index(0).map_err(xlsx_error)?;
                for (column, cell) in cells.iter().enumerate() {
                    let column =
                        u16::try_from(column).map_err(|error| internal("column", error))?;
                    match cell {
                        Cell::Text(text) => sheet.write_string(*row, column, text.as_str()),
                        Cell::Int(number) => sheet.write_number(*row, column, *number as f64),
                        Cell::Number(number) => sheet.write_number(*row, column, *number),
                    }
                    .map_err(xlsx_error)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }
}

/// Starts `job` on its own task; its chunks and its error (if any) go to the receiver.
fn spawn<F, Fut>(format: Format, file_name: String, job: F) -> Chunks
where
    F: FnOnce(Output) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel(4);
    let errors = sender.clone();
    let output = Output {
        sender,
        header: Some((format.content_type().to_string(), file_name)),
        rows_total: 0,
        reported: 0,
    };
    tokio::spawn(async move {
        if let Err(error) = job(output).await {
            if let ApiError::Internal(cause) = &error {
                tracing::error!(error = %cause, "an export failed");
            }
            let _ = errors.send(Err(error)).await;
        }
    });
    receiver
}

fn texts(headers: &[&str]) -> Vec<Cell> {
    headers.iter().map(|header| Cell::text(*header)).collect()
}

fn compact(date: &str) -> String {
    date.replace('-', "")
}

/// The period of a record export, as stored text.
#[derive(Debug, Clone)]
pub struct Period {
    /// The first day, `YYYY-MM-DD`; '' for no lower bound.
    pub start: String,
    /// The last day, `YYYY-MM-DD`.
    pub end: String,
}

impl Reporting {
    /// The export's subtree, after checking the caller may export it.
    async fn export_scope(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
    ) -> Result<(OrgUnit, Subtree), ApiError> {
        access::require(principal, Action::Export)?;
        let unit = self.unit_in_scope(principal, reading.org_unit_id).await?;
        if reading.catch_up {
            self.catch_up().await?;
        }
        let (low, high) = egret_types::tree::subtree_bounds(&unit.path);
        Ok((unit, Subtree { low, high }))
    }

    /// A statistics query as a sheet: a column per dimension (org units by name, other keys
    /// in Chinese), the figure, and a last row with the total.
    pub async fn export_statistics(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        query: &Query,
        format: Format,
    ) -> Result<Chunks, ApiError> {
        access::require(principal, Action::Export)?;
        let (unit, buckets, total) = self.query_statistics(principal, reading, query).await?;
        let org_ids: Vec<String> = match query
            .dimensions
            .iter()
            .position(|dimension| *dimension == Dimension::OrgUnit)
        {
            Some(position) => buckets
                .iter()
                .map(|bucket| bucket.keys[position].clone())
                .collect(),
            None => Vec::new(),
        };
        let unit_names = rows::unit_names(self.database.reader(), &org_ids).await?;
        let dimensions = query.dimensions.clone();
        let metric = query.metric;
        let detail = format!(
            "{}{}",
            query
                .start
                .map(|start| format!("{}-", compact(&start.to_iso())))
                .unwrap_or_default(),
            compact(&query.end.to_iso())
        );
        let name = file_name("statistics", &detail, format);
        Ok(spawn(format, name, move |mut output| async move {
            // A row per bucket and the total's.
            output.rows_total = i64::try_from(buckets.len()).unwrap_or(i64::MAX - 1) + 1;
            let mut sheet = Sheet::new(format, "统计")?;
            let mut header: Vec<Cell> = if dimensions.is_empty() {
                vec![Cell::text(dimension_name(Dimension::OrgUnit))]
            } else {
                dimensions
                    .iter()
                    .map(|dimension| Cell::text(dimension_name(*dimension)))
                    .collect()
            };
            header.push(Cell::text(metric_name(metric)));
            sheet.header(&header)?;
            sheet.send(&mut output).await?;
            for bucket in &buckets {
                let mut cells: Vec<Cell> = bucket
                    .keys
                    .iter()
                    .zip(&dimensions)
                    .map(|(raw, dimension)| {
                        Cell::Text(match dimension {
                            Dimension::OrgUnit => unit_names
                                .get(raw)
                                .cloned()
                                .unwrap_or_else(|| names::org_unit(raw)),
                            other => key_label(*other, raw),
                        })
                    })
                    .collect();
                cells.push(Cell::Int(bucket.value));
                sheet.row(&cells)?;
                sheet.flush(&mut output).await?;
            }
            // The total: under the dimensions' columns, or for the unit when there is none.
            let mut last = if dimensions.is_empty() {
                vec![Cell::text(unit.display_name.as_str())]
            } else {
                vec![Cell::text("合计")]
            };
            for _ in 1..dimensions.len() {
                last.push(Cell::text(""));
            }
            last.push(Cell::Int(total));
            sheet.row(&last)?;
            sheet.finish(output).await
        }))
    }

    /// The subtree's service records in a period. Names appear only for the roles that
    /// manage the subtree; ID numbers are always masked.
    pub async fn export_service_records(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        period: Period,
        format: Format,
        layout: Layout,
    ) -> Result<Chunks, ApiError> {
        let (_, subtree) = self.export_scope(principal, reading).await?;
        let show_names = shows_names(principal);
        let pool = self.database.reader().clone();
        let detail = format!(
            "{}{}",
            if period.start.is_empty() {
                String::new()
            } else {
                format!("{}-", compact(&period.start))
            },
            compact(&period.end)
        );
        let stem = match layout {
            Layout::Standard => "service-records",
            Layout::NationalPlatform => "service-records-national-platform",
        };
        let name = file_name(stem, &detail, format);
        Ok(spawn(format, name, move |mut output| async move {
            let national = layout == Layout::NationalPlatform;
            output.rows_total = rows::count_service_records(
                &pool,
                &subtree,
                (&period.start, &period.end),
                national,
            )
            .await?;
            let mut sheet = Sheet::new(format, "服务记录")?;
            sheet.header(&texts(if national {
                &NATIONAL_SERVICE_RECORD_COLUMNS
            } else {
                &SERVICE_RECORD_COLUMNS
            }))?;
            sheet.send(&mut output).await?;
            let mut after = String::new();
            let mut number = 0i64;
            loop {
                let page = rows::service_records_page(
                    &pool,
                    &subtree,
                    (&period.start, &period.end),
                    national,
                    &after,
                    PAGE_ROWS,
                )
                .await?;
                for row in &page {
                    number += 1;
                    let name = if show_names {
                        row.volunteer_name.clone()
                    } else {
                        mask_name(&row.volunteer_name)
                    };
                    let cells = if national {
                        vec![
                            Cell::Int(number),
                            Cell::Text(name),
                            Cell::text(id_type_label(&row.id_type)),
                            Cell::text(row.id_number_masked.as_str()),
                            Cell::text(row.volunteer_number.as_str()),
                            Cell::text(row.service_date.as_str()),
                            Cell::Number(hours(row.minutes)),
                            Cell::text(row.description.as_str()),
                            Cell::text(row.activity_name.as_str()),
                            Cell::text(row.org_unit_name.as_str()),
                        ]
                    } else {
                        vec![
                            Cell::text(row.id.as_str()),
                            Cell::text(row.volunteer_number.as_str()),
                            Cell::Text(name),
                            Cell::text(row.id_number_masked.as_str()),
                            Cell::text(row.service_date.as_str()),
                            Cell::Number(hours(row.minutes)),
                            Cell::Int(row.minutes),
                            Cell::text(row.description.as_str()),
                            Cell::text(row.activity_name.as_str()),
                            Cell::text(row.org_unit_name.as_str()),
                            Cell::text(record_state_label(&row.state)),
                        ]
                    };
                    sheet.row(&cells)?;
                    sheet.flush(&mut output).await?;
                }
                match page.last() {
                    Some(last) if page.len() as i64 == PAGE_ROWS => after = last.id.clone(),
                    _ => break,
                }
            }
            sheet.finish(output).await
        }))
    }

    /// The active volunteers serving in the subtree, each once, masked.
    pub async fn export_volunteers(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        format: Format,
        layout: Layout,
    ) -> Result<Chunks, ApiError> {
        let (_, subtree) = self.export_scope(principal, reading).await?;
        let show_names = shows_names(principal);
        let pool = self.database.reader().clone();
        let stem = match layout {
            Layout::Standard => "volunteers",
            Layout::NationalPlatform => "volunteers-national-platform",
        };
        let name = file_name(stem, "", format);
        Ok(spawn(format, name, move |mut output| async move {
            output.rows_total = rows::count_volunteers(&pool, &subtree).await?;
            let mut sheet = Sheet::new(format, "志愿者")?;
            let national = layout == Layout::NationalPlatform;
            sheet.header(&texts(if national {
                &NATIONAL_VOLUNTEER_COLUMNS
            } else {
                &VOLUNTEER_COLUMNS
            }))?;
            sheet.send(&mut output).await?;
            let mut after = String::new();
            let mut number = 0i64;
            loop {
                let page = rows::volunteers_page(&pool, &subtree, &after, PAGE_ROWS).await?;
                for row in &page {
                    number += 1;
                    let name = if show_names {
                        row.display_name.clone()
                    } else {
                        mask_name(&row.display_name)
                    };
                    let gender = key_label(Dimension::Gender, &row.gender.to_string());
                    let cells = if national {
                        vec![
                            Cell::Int(number),
                            Cell::Text(name),
                            Cell::text(id_type_label(&row.id_type)),
                            Cell::text(row.id_number_masked.as_str()),
                            Cell::Text(gender),
                            Cell::text(row.birth_date.as_str()),
                            Cell::text(row.volunteer_number.as_str()),
                            Cell::text(row.org_unit_name.as_str()),
                            Cell::text(row.registered_on.as_str()),
                            Cell::Number(hours(row.minutes)),
                        ]
                    } else {
                        vec![
                            Cell::text(row.volunteer_number.as_str()),
                            Cell::Text(name),
                            Cell::text(id_type_label(&row.id_type)),
                            Cell::text(row.id_number_masked.as_str()),
                            Cell::Text(gender),
                            Cell::text(row.birth_date.as_str()),
                            Cell::text(row.registered_on.as_str()),
                            Cell::text(row.org_unit_name.as_str()),
                            Cell::Number(hours(row.minutes)),
                        ]
                    };
                    sheet.row(&cells)?;
                    sheet.flush(&mut output).await?;
                }
                match page.last() {
                    Some(last) if page.len() as i64 == PAGE_ROWS => after = last.id.clone(),
                    _ => break,
                }
            }
            sheet.finish(output).await
        }))
    }

    /// The subtree's teams and sub-teams in the registration-form layout, contacts masked.
    pub async fn export_teams(
        &self,
        principal: &Principal,
        reading: Reading<'_>,
        format: Format,
    ) -> Result<Chunks, ApiError> {
        let (_, subtree) = self.export_scope(principal, reading).await?;
        let pool = self.database.reader().clone();
        let name = file_name("teams", "", format);
        Ok(spawn(format, name, move |mut output| async move {
            output.rows_total = rows::count_teams(&pool, &subtree).await?;
            let mut sheet = Sheet::new(format, "队伍登记表")?;
            sheet.header(&texts(&TEAM_COLUMNS))?;
            sheet.send(&mut output).await?;
            let mut after = String::new();
            loop {
                let page = rows::teams_page(&pool, &subtree, &after, PAGE_ROWS).await?;
                let categories = match page.last() {
                    Some(last) => rows::categories_between(&pool, &after, &last.id).await?,
                    None => Default::default(),
                };
                for row in &page {
                    let labels = categories
                        .get(&row.id)
                        .map(|numbers| {
                            numbers
                                .iter()
                                .map(|number| category_label(*number))
                                .collect::<Vec<_>>()
                                .join("、")
                        })
                        .unwrap_or_default();
                    sheet.row(&[
                        Cell::text(row.archive_number.as_str()),
                        Cell::text(row.team_number.as_str()),
                        Cell::text(row.display_name.as_str()),
                        Cell::text(row.leader_name.as_str()),
                        Cell::text(row.host_unit.as_str()),
                        Cell::Int(row.declared_member_count),
                        Cell::text(level_label(&row.level.to_string()).unwrap_or("")),
                        Cell::text(row.founded_on.as_str()),
                        Cell::text(row.phone_masked.as_str()),
                        Cell::text(row.email_masked.as_str()),
                        Cell::text(row.address.as_str()),
                        Cell::Text(labels),
                        Cell::Text(key_label(Dimension::Tier, &row.tier.to_string())),
                        Cell::Text(key_label(Dimension::OrgStatus, &row.status.to_string())),
                    ])?;
                    sheet.flush(&mut output).await?;
                }
                match page.last() {
                    Some(last) if page.len() as i64 == PAGE_ROWS => after = last.id.clone(),
                    _ => break,
                }
            }
            sheet.finish(output).await
        }))
    }
}

#[cfg(test)]
mod tests {
    use egret_runtime::Role;
    use egret_runtime::config::DatabaseSettings;
    use egret_storage::Database;

    use super::*;

    const ROOT: &str = "0190a000-0000-7000-8000-000000000001";

    async fn seeded(records: usize) -> (tempfile::TempDir, Reporting) {
        let directory = tempfile::tempdir().expect("a directory");
        let database = Database::open(
            &DatabaseSettings::default(),
            directory.path(),
            "reporting",
            crate::migrations(),
        )
        .await
        .expect("opens");
        let mut transaction = database.begin("test", "test").await.expect("begins");
        sqlx::query(
            "INSERT INTO org_units (id, parent_id, path, tier, display_name, status, level, \
             version) VALUES ($1, NULL, $2, 1, '总队', 1, 0, 1)",
        )
        .bind(ROOT)
        .bind(format!("/{ROOT}/"))
        .execute(&mut *transaction.conn())
        .await
        .expect("a root");
        for index in 0..records {
            sqlx::query(
                "INSERT INTO service_records (id, org_unit_id, service_date, approved_minutes, \
                 version, volunteer_id, activity_id, description, minutes, state) \
                 VALUES ($1, $2, '2026-01-15', 60, 1, '', '', $3, 60, 'approved')",
            )
            .bind(format!("record-{index:05}"))
            .bind(ROOT)
            .bind("关爱空巢老人上门探访，陪伴聊天、打扫卫生")
            .execute(&mut *transaction.conn())
            .await
            .expect("a record");
        }
        transaction.commit().await.expect("commits");
        (
            directory,
            Reporting::new(
                database,
                Vec::new(),
                "test",
                crate::config::ReportingSettings::default(),
            ),
        )
    }

    fn admin() -> Principal {
        Principal {
            subject: "tester".to_string(),
            org_unit: ROOT.to_string(),
            roles: [Role::Admin].into_iter().collect(),
            volunteer: None,
        }
    }

    async fn drain(mut chunks: Chunks) -> Vec<Chunk> {
        let mut all = Vec::new();
        while let Some(chunk) = chunks.recv().await {
            all.push(chunk.expect("no error"));
        }
        all
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn large_exports_stream_page_by_page() {
        let records = 2 * PAGE_ROWS as usize + 500;
        let (_directory, reporting) = seeded(records).await;
        let reading = Reading {
            org_unit_id: None,
            catch_up: false,
        };
        let period = Period {
            start: String::new(),
            end: "2026-12-31".to_string(),
        };
        let chunks = drain(
            reporting
                .export_service_records(
                    &admin(),
                    reading,
                    period.clone(),
                    Format::Csv,
                    Layout::Standard,
                )
                .await
                .expect("starts"),
        )
        .await;
        assert!(chunks.len() >= 3, "{} chunks", chunks.len());
        assert_eq!(chunks[0].content_type, "text/csv; charset=utf-8");
        assert!(chunks[1..].iter().all(|chunk| chunk.file_name.is_empty()));
        assert!(
            chunks[..chunks.len() - 1]
                .iter()
                .all(|chunk| chunk.data.len() <= CHUNK_BYTES + 1024)
        );
        let text = String::from_utf8(chunks.concat_data()).expect("UTF-8");
        let ids: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|line| line.split(',').next().expect("an id"))
            .collect();
        assert_eq!(ids.len(), records);
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "each once, in order"
        );
        assert_progress(&chunks, records as i64);

        let chunks = drain(
            reporting
                .export_service_records(&admin(), reading, period, Format::Xlsx, Layout::Standard)
                .await
                .expect("starts"),
        )
        .await;
        assert!(chunks[0].file_name.ends_with(".xlsx"));
        assert!(chunks.concat_data().starts_with(b"PK"), "a zip");
        assert_progress(&chunks, records as i64);
        // The workbook sends no byte before it is finished: its progress comes alone.
        let alone: Vec<i64> = chunks
            .iter()
            .filter(|chunk| chunk.data.is_empty() && chunk.rows_written < records as i64)
            .map(|chunk| chunk.rows_written)
            .collect();
        assert_eq!(alone, [0, PAGE_ROWS, 2 * PAGE_ROWS]);
        reporting.database().close().await;
    }

    /// Every chunk carries the total; the rows written never go back, come at least every
    /// page, and end at `rows`.
    #[track_caller]
    fn assert_progress(chunks: &[Chunk], rows: i64) {
        assert!(chunks.iter().all(|chunk| chunk.rows_total == rows));
        assert_eq!(chunks[0].rows_written, 0, "the first chunk once counted");
        assert!(
            chunks
                .windows(2)
                .all(|pair| pair[0].rows_written <= pair[1].rows_written
                    && pair[1].rows_written - pair[0].rows_written <= PAGE_ROWS),
            "{:?}",
            chunks
                .iter()
                .map(|chunk| chunk.rows_written)
                .collect::<Vec<_>>()
        );
        assert_eq!(chunks.last().map(|chunk| chunk.rows_written), Some(rows));
    }

    trait Concat {
        fn concat_data(&self) -> Vec<u8>;
    }

    impl Concat for Vec<Chunk> {
        fn concat_data(&self) -> Vec<u8> {
            self.iter().flat_map(|chunk| chunk.data.clone()).collect()
        }
    }
}
