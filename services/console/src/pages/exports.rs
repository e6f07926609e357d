//! 导出: the long exports (志愿者名册, 服务记录, 队伍登记表) as jobs of the console, each
//! with a page whose progress bar follows the rows the reporting service has written (htmx
//! polls a fragment every second until the job ends), then a link to the file.
//!
//! The jobs are the console's own ([`crate::export_jobs`]): the export is called with the
//! person's own token, so the reporting service decides what she may export; a job's id is
//! random, and another person's job answers exactly as one that does not exist.

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::common::v1::Date;
use egret_proto::reporting::v1::{
    ExportFormat, ExportServiceRecordsRequest, ExportTeamsRequest, ExportVolunteersRequest,
    FileChunk, Layout as ExportLayout,
};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use http::{HeaderMap, StatusCode, header};

use super::{Layout, Posted, Signed, error_page, render, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::export_jobs::{ChunkStream, Download, Limits, Snapshot, Stage, read_at, size};

/// The deadline of an export's call until its first answer: the reporting service may catch
/// up with the other services first, which can take longer than a page's call. The rows
/// then stream for as long as they take.
const EXPORT_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// What may be exported: (form value, Chinese name).
const WHATS: [(&str, &str); 3] = [
    ("volunteers", "志愿者名册"),
    ("service_records", "服务记录"),
    ("teams", "队伍登记表"),
];

/// The column layouts: (form value, Chinese name).
const LAYOUTS: [(&str, &str); 2] = [
    ("standard", "本系统格式"),
    ("national", "中国志愿服务网导入模板"),
];

/// The file formats: (form value, name).
const FORMATS: [(&str, &str); 2] = [("xlsx", "XLSX"), ("csv", "CSV")];

/// The fields of the form, for the summary above it.
const FIELDS: [&str; 5] = ["what", "layout", "format", "start", "end"];

/// A job as the pages show it.
pub(crate) struct JobView {
    id: String,
    what: String,
    started: String,
    stage: &'static str,
    running: bool,
    finished: bool,
    failed: bool,
    /// The progress bar's value and maximum; none while the rows are being counted.
    bar: Option<(i64, i64)>,
    rows: String,
    size: String,
    file_name: String,
    failure: String,
}

impl JobView {
    fn of(job: &Snapshot) -> Self {
        let running = job.stage == Stage::Running;
        let finished = job.stage == Stage::Finished;
        // Rows added while it ran may take the count past the total.
        let most = job.rows_total.max(job.rows_written);
        let bar = if finished {
            Some((most.max(1), most.max(1)))
        } else if job.counted && most > 0 {
            Some((job.rows_written, most))
        } else {
            None
        };
        let rows = if !job.counted && running {
            "正在统计行数……".to_string()
        } else {
            format!(
                "已写入 {} / {} 行",
                thousands(job.rows_written),
                thousands(job.rows_total)
            )
        };
        Self {
            id: job.id.clone(),
            what: job.what.clone(),
            started: crate::labels::china_time(Some(&prost_types::Timestamp::from(job.started))),
            stage: match job.stage {
                Stage::Running => "进行中",
                Stage::Finished => "已完成",
                Stage::Failed => "失败",
            },
            running,
            finished,
            failed: job.stage == Stage::Failed,
            bar,
            rows,
            size: size(job.bytes),
            file_name: job.file_name.clone(),
            failure: job.failure.clone(),
        }
    }

    /// The bar's percentage, for a browser that draws no `<progress>`.
    fn percent(&self) -> i64 {
        match self.bar {
            Some((value, max)) if max > 0 => value.saturating_mul(100) / max,
            _ => 0,
        }
    }
}

/// `1234567` → `1,234,567`.
fn thousands(number: i64) -> String {
    let digits = number.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        grouped.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[derive(Template)]
#[template(path = "exports.html")]
struct ExportsPage {
    layout: Layout,
    whats: Vec<(&'static str, &'static str)>,
    layouts: Vec<(&'static str, &'static str)>,
    formats: Vec<(&'static str, &'static str)>,
    form: Posted,
    failure: Failure,
    jobs: Vec<JobView>,
    keep_minutes: u64,
    max_size: String,
}

impl ExportsPage {
    fn summary(&self) -> String {
        self.failure.summary(&FIELDS)
    }

    /// The posted value of `key`, or `default` on a form shown for the first time.
    fn chosen(&self, key: &str, default: &str) -> String {
        match self.form.get(key) {
            "" => default.to_string(),
            value => value.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "export_job.html")]
struct JobPage {
    layout: Layout,
    job: JobView,
    keep_minutes: u64,
}

#[derive(Template)]
#[template(path = "export_progress.html")]
struct ProgressFragment {
    job: JobView,
}

fn keep_minutes(limits: &Limits) -> u64 {
    limits.keep.as_secs() / 60
}

fn exports_page(
    state: &AppState,
    signed: &Signed,
    form: Posted,
    failure: Failure,
    status: StatusCode,
) -> Response {
    let jobs = state
        .exports
        .list(&signed.session.person.username)
        .iter()
        .map(JobView::of)
        .collect();
    let limits = state.exports.limits();
    let mut response = render(&ExportsPage {
        layout: signed.layout("导出", "exports"),
        whats: WHATS.to_vec(),
        layouts: LAYOUTS.to_vec(),
        formats: FORMATS.to_vec(),
        form,
        failure,
        jobs,
        keep_minutes: keep_minutes(limits),
        max_size: size(limits.file_bytes),
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// `GET /exports`: the form and the person's jobs.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    exports_page(
        &state,
        &signed,
        Posted::default(),
        Failure::default(),
        StatusCode::OK,
    )
}

/// What the form asks for, checked.
struct Choice {
    what: &'static str,
    what_name: &'static str,
    national: bool,
    format: ExportFormat,
    format_name: &'static str,
    start: Option<Date>,
    end: Option<Date>,
}

impl Choice {
    /// The job's name on its pages: what, the period, the layout and the format.
    fn label(&self) -> String {
        let mut label = self.what_name.to_string();
        if self.what == "service_records" {
            let day = |date: Option<&Date>, none: &str| {
                date.map_or_else(
                    || none.to_string(),
                    |date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day),
                )
            };
            label.push_str(&format!(
                " {} 至 {}",
                day(self.start.as_ref(), "最早"),
                day(self.end.as_ref(), "今天")
            ));
        }
        if self.national {
            label.push_str("（中国志愿服务网导入模板）");
        }
        label.push_str(&format!("（{}）", self.format_name));
        label
    }
}

/// Reads the form; a failure names each field that is wrong.
fn read_form(form: &Posted) -> Result<Choice, Failure> {
    let mut failure = Failure::default();
    let mut wrong = |field: &str, message: &str| {
        failure.code = Some(tonic::Code::InvalidArgument);
        failure.message = "请检查标出的内容。".to_string();
        failure
            .fields
            .insert(field.to_string(), message.to_string());
    };
    let what = WHATS.iter().find(|(value, _)| *value == form.get("what"));
    if what.is_none() {
        wrong("what", "请选择导出内容。");
    }
    let national = match form.get("layout") {
        "" | "standard" => false,
        "national" => true,
        _ => {
            wrong("layout", "请选择版式。");
            false
        }
    };
    if national && form.get("what") == "teams" {
        wrong(
            "layout",
            "队伍登记表只有本系统格式，没有中国志愿服务网导入模板。",
        );
    }
    let format = FORMATS
        .iter()
        .find(|(value, _)| *value == form.get("format"));
    if format.is_none() {
        wrong("format", "请选择文件格式。");
    }
    // A period is only a service-record export's: left in the form for another, it is
    // not read.
    let is_records = form.get("what") == "service_records";
    let mut start = None;
    let mut end = None;
    if is_records {
        start = form.date("start").unwrap_or_else(|()| {
            wrong("start", "日期格式应为 年-月-日。");
            None
        });
        end = form.date("end").unwrap_or_else(|()| {
            wrong("end", "日期格式应为 年-月-日。");
            None
        });
    }
    if let (Some(start), Some(end)) = (&start, &end)
        && (start.year, start.month, start.day) > (end.year, end.month, end.day)
    {
        wrong("end", "结束日期不能早于开始日期。");
    }
    let (Some((what, what_name)), Some((format, format_name)), None) = (what, format, failure.code)
    else {
        return Err(failure);
    };
    Ok(Choice {
        what,
        what_name,
        national,
        format: if *format == "csv" {
            ExportFormat::Csv
        } else {
            ExportFormat::Xlsx
        },
        format_name,
        start,
        end,
    })
}

/// The chunks of an export's answer, whichever export's messages carry them.
fn chunks<M: Send + 'static>(
    answer: Result<tonic::Response<tonic::Streaming<M>>, tonic::Status>,
    chunk: fn(M) -> Option<FileChunk>,
) -> Result<ChunkStream, tonic::Status> {
    let stream = answer?.into_inner();
    Ok(Box::pin(stream.map(move |message| {
        message.map(|message| chunk(message).unwrap_or_default())
    })))
}

/// The export's call as the signed-in person, to be awaited by the job: its chunks, or
/// why it was refused.
fn export_call(
    state: &AppState,
    signed: &Signed,
    choice: &Choice,
) -> BoxFuture<'static, Result<ChunkStream, tonic::Status>> {
    let api = state.api.clone();
    let org_unit = signed.session.person.org_unit.clone();
    let format = choice.format as i32;
    let layout = if choice.national {
        ExportLayout::NationalPlatform
    } else {
        ExportLayout::Unspecified
    } as i32;
    let caller = &signed.caller;
    match choice.what {
        "service_records" => {
            let mut request = api.request(
                caller,
                ExportServiceRecordsRequest {
                    org_unit,
                    start_date: choice.start,
                    end_date: choice.end,
                    format,
                    layout,
                    catch_up: true,
                },
            );
            request.set_timeout(EXPORT_CALL_TIMEOUT);
            Box::pin(async move {
                chunks(
                    api.statistics_exports()
                        .export_service_records(request)
                        .await,
                    |message| message.chunk,
                )
            })
        }
        "teams" => {
            let mut request = api.request(
                caller,
                ExportTeamsRequest {
                    org_unit,
                    format,
                    catch_up: true,
                },
            );
            request.set_timeout(EXPORT_CALL_TIMEOUT);
            Box::pin(async move {
                chunks(
                    api.statistics_exports().export_teams(request).await,
                    |message| message.chunk,
                )
            })
        }
        _ => {
            let mut request = api.request(
                caller,
                ExportVolunteersRequest {
                    org_unit,
                    format,
                    layout,
                    catch_up: true,
                },
            );
            request.set_timeout(EXPORT_CALL_TIMEOUT);
            Box::pin(async move {
                chunks(
                    api.statistics_exports().export_volunteers(request).await,
                    |message| message.chunk,
                )
            })
        }
    }
}

/// `POST /exports`: starts a job, then shows its page.
pub(crate) async fn start(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let choice = match read_form(&form) {
        Ok(choice) => choice,
        Err(failure) => {
            return exports_page(&state, &signed, form, failure, StatusCode::BAD_REQUEST);
        }
    };
    let call = export_call(&state, &signed, &choice);
    match state
        .exports
        .start(&signed.session.person.username, &choice.label(), call)
    {
        Ok(id) => Redirect::to(&format!("/exports/{id}")).into_response(),
        Err(refused) => {
            let failure = Failure {
                code: Some(tonic::Code::ResourceExhausted),
                message: refused.message(state.exports.limits()),
                ..Failure::default()
            };
            exports_page(
                &state,
                &signed,
                form,
                failure,
                StatusCode::TOO_MANY_REQUESTS,
            )
        }
    }
}

/// The person's job `id`; none for an unknown id and for another person's job alike.
fn her_job(state: &AppState, signed: &Signed, id: &str) -> Option<Snapshot> {
    if !valid_id(id) {
        return None;
    }
    state.exports.get(&signed.session.person.username, id)
}

/// What an unknown job, or another person's, answers.
fn no_such_job(signed: &Signed) -> Response {
    error_page(
        &Failure::not_found("未找到该导出任务，或它已过期。"),
        Some(signed),
    )
}

/// `GET /exports/{id}`: the job's progress, then its file.
pub(crate) async fn job(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let Some(job) = her_job(&state, &signed, &id) else {
        return no_such_job(&signed);
    };
    render_refused(
        &JobPage {
            layout: signed.layout("导出任务", "exports"),
            job: JobView::of(&job),
            keep_minutes: keep_minutes(state.exports.limits()),
        },
        false,
    )
}

/// `GET /exports/{id}/progress`: the progress alone, for the page's polling; without htmx,
/// the page.
pub(crate) async fn progress(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(job) = her_job(&state, &signed, &id) else {
        return no_such_job(&signed);
    };
    if !headers.contains_key("hx-request") {
        return Redirect::to(&format!("/exports/{id}")).into_response();
    }
    render(&ProgressFragment {
        job: JobView::of(&job),
    })
}

/// `GET /exports/{id}/file`: the finished job's file, read back from its spool; before it is
/// finished, the job's page.
pub(crate) async fn file(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if her_job(&state, &signed, &id).is_none() {
        return no_such_job(&signed);
    }
    let Some(download) = state.exports.download(&signed.session.person.username, &id) else {
        return Redirect::to(&format!("/exports/{id}")).into_response();
    };
    let Download {
        file,
        bytes,
        content_type,
        file_name,
    } = download;
    let body = futures::stream::unfold(Some(0u64), move |offset| {
        let file = file.clone();
        async move {
            let offset = offset?;
            if offset >= bytes {
                return None;
            }
            match read_at(file, offset).await {
                Ok(data) if data.is_empty() => None,
                Ok(data) => {
                    let next = offset + data.len() as u64;
                    Some((Ok(data), Some(next)))
                }
                Err(error) => {
                    tracing::error!(%error, "an export's spooled file could not be read");
                    Some((Err(error), None))
                }
            }
        }
    });
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::CONTENT_LENGTH, bytes.to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Posted {
        Posted(
            pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        )
    }

    #[test]
    fn the_form_is_checked_field_by_field() {
        let choice = read_form(&form(&[
            ("what", "service_records"),
            ("layout", "national"),
            ("format", "csv"),
            ("start", "2026-01-01"),
            ("end", "2026-06-30"),
        ]))
        .expect("a good form");
        assert_eq!(choice.format, ExportFormat::Csv);
        assert_eq!(
            choice.label(),
            "服务记录 2026-01-01 至 2026-06-30（中国志愿服务网导入模板）（CSV）"
        );
        let choice = choice_of(&[
            ("what", "volunteers"),
            ("format", "xlsx"),
            ("start", "2026-01-01"),
        ]);
        assert_eq!(choice.start, None, "a period only for service records");
        assert_eq!(choice.label(), "志愿者名册（XLSX）");

        let failure = read_form(&form(&[
            ("what", "teams"),
            ("layout", "national"),
            ("format", "pdf"),
            ("start", "2026-07-01"),
            ("end", "2026-06-30"),
        ]))
        .err()
        .expect("refused");
        assert!(failure.at("layout").contains("队伍登记表"));
        assert!(!failure.at("format").is_empty());
        assert!(failure.at("end").is_empty(), "no period for teams");
        assert!(failure.at("what").is_empty());
        let failure = read_form(&form(&[
            ("what", "service_records"),
            ("format", "csv"),
            ("start", "2026-07-01"),
            ("end", "2026-06-30"),
        ]))
        .err()
        .expect("refused");
        assert!(!failure.at("end").is_empty());
        assert!(
            read_form(&form(&[
                ("what", "service_records"),
                ("format", "csv"),
                ("start", "2026-xx-01"),
            ]))
            .err()
            .is_some_and(|failure| !failure.at("start").is_empty())
        );
        let failure = read_form(&form(&[("what", "everything"), ("format", "csv")]))
            .err()
            .expect("refused");
        assert!(!failure.at("what").is_empty());
    }

    fn choice_of(pairs: &[(&str, &str)]) -> Choice {
        read_form(&form(pairs)).unwrap_or_else(|failure| panic!("{:?}", failure.fields))
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-5000), "-5,000");
    }

    #[test]
    fn the_bar_reaches_its_maximum_when_finished() {
        let job = Snapshot {
            id: "ab".to_string(),
            what: "志愿者名册（XLSX）".to_string(),
            started: std::time::SystemTime::now(),
            stage: Stage::Running,
            counted: false,
            rows_written: 0,
            rows_total: 0,
            bytes: 0,
            file_name: String::new(),
            failure: String::new(),
        };
        let view = JobView::of(&job);
        assert_eq!(view.bar, None, "counting");
        assert_eq!(view.rows, "正在统计行数……");
        let view = JobView::of(&Snapshot {
            counted: true,
            rows_written: 1000,
            rows_total: 5000,
            ..job.clone()
        });
        assert_eq!(view.bar, Some((1000, 5000)));
        assert_eq!(view.rows, "已写入 1,000 / 5,000 行");
        assert_eq!(view.percent(), 20);
        let view = JobView::of(&Snapshot {
            stage: Stage::Finished,
            counted: true,
            rows_written: 5000,
            rows_total: 5000,
            ..job.clone()
        });
        assert_eq!(view.bar, Some((5000, 5000)));
        let view = JobView::of(&Snapshot {
            stage: Stage::Finished,
            counted: true,
            ..job
        });
        assert_eq!(view.bar, Some((1, 1)), "an empty file is whole too");
        assert_eq!(view.rows, "已写入 0 / 0 行");
    }

    #[test]
    fn the_fragment_is_polled_until_the_job_ends() {
        let running = Snapshot {
            id: "0123456789abcdef0123456789abcdef".to_string(),
            what: "服务记录（CSV）".to_string(),
            started: std::time::SystemTime::now(),
            stage: Stage::Running,
            counted: true,
            rows_written: 1000,
            rows_total: 5000,
            bytes: 4096,
            file_name: String::new(),
            failure: String::new(),
        };
        let html = ProgressFragment {
            job: JobView::of(&running),
        }
        .render()
        .expect("renders");
        assert!(html.contains(
            r#"hx-get="/exports/0123456789abcdef0123456789abcdef/progress" hx-trigger="every 1s" hx-swap="outerHTML""#
        ));
        assert!(html.contains(r#"value="1000" max="5000""#), "{html}");
        assert!(html.contains("已写入 1,000 / 5,000 行"));
        assert!(!html.contains("/file"));
        let html = ProgressFragment {
            job: JobView::of(&Snapshot {
                stage: Stage::Finished,
                rows_written: 5000,
                file_name: "service-records-20261231.csv".to_string(),
                ..running.clone()
            }),
        }
        .render()
        .expect("renders");
        assert!(!html.contains("hx-trigger"), "{html}");
        assert!(html.contains(r#"value="5000" max="5000""#));
        assert!(html.contains(r#"href="/exports/0123456789abcdef0123456789abcdef/file""#));
        let html = ProgressFragment {
            job: JobView::of(&Snapshot {
                stage: Stage::Failed,
                failure: "您没有权限进行此操作。".to_string(),
                ..running
            }),
        }
        .render()
        .expect("renders");
        assert!(!html.contains("hx-trigger"));
        assert!(html.contains("导出失败：您没有权限进行此操作。"));
    }
}
