//! Long exports as jobs of the console: a task calls the export with the person's own
//! token and spools its chunks into an anonymous temporary file, keeping the progress the
//! chunks report, so that a page can show it and offer the file once it is whole.
//!
//! Jobs live in this process's memory, like sessions, and are bounded: a few running per
//! person and in all, a few kept per person and in all, a cap on each file's size, and a
//! finished job (with its file) is dropped a while after it ended. A job belongs to the
//! person who started it; to anyone else it does not exist. Its id is random and says
//! nothing of what it holds.

use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use egret_proto::reporting::v1::FileChunk;
use futures::{Stream, StreamExt as _};
use rand::RngCore;

use crate::api::Failure;

/// The chunks of an export, as a job reads them.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<FileChunk, tonic::Status>> + Send>>;

/// The bytes read from a spooled file at a time, for a download.
pub const READ_BYTES: usize = 64 * 1024;

/// How many jobs may run and be kept, how large a file may grow, and how long a finished
/// job is kept.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Jobs one person may have running at once.
    pub running_per_person: usize,
    /// Jobs running at once in all.
    pub running: usize,
    /// Jobs (running or ended) kept for one person; her oldest ended ones go first.
    pub kept_per_person: usize,
    /// Jobs kept in all; the oldest ended ones go first.
    pub kept: usize,
    /// The largest file a job may spool.
    pub file_bytes: u64,
    /// How long an ended job is kept.
    pub keep: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            running_per_person: 3,
            running: 16,
            kept_per_person: 10,
            kept: 64,
            file_bytes: 1 << 30,
            keep: Duration::from_secs(30 * 60),
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The export is being written.
    Running,
    /// The file is whole and may be downloaded.
    Finished,
    /// The export failed; the job says why.
    Failed,
}

/// Why a job was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The person has as many jobs running as she may.
    PersonBusy,
    /// The console has as many jobs running as it may.
    Busy,
}

impl Refused {
    /// What the page says, under `limits`.
    pub fn message(self, limits: &Limits) -> String {
        match self {
            Refused::PersonBusy => format!(
                "您已有 {} 个导出正在进行，请等其中一个完成后再开始新的导出。",
                limits.running_per_person
            ),
            Refused::Busy => "当前正在进行的导出较多，请稍后再试。".to_string(),
        }
    }
}

/// A job as a page shows it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The job's id.
    pub id: String,
    /// What is exported, in Chinese (`志愿者名册（XLSX）`).
    pub what: String,
    /// When it started.
    pub started: SystemTime,
    /// Where it stands.
    pub stage: Stage,
    /// Whether the export has sent its first chunk (so the total is known).
    pub counted: bool,
    /// The rows written so far.
    pub rows_written: i64,
    /// The rows counted at the start (0 when not counted).
    pub rows_total: i64,
    /// The bytes spooled so far.
    pub bytes: u64,
    /// The file's name, once known.
    pub file_name: String,
    /// Why it failed, in Chinese.
    pub failure: String,
}

/// A finished job's file, to download.
#[derive(Clone)]
pub struct Download {
    /// The spooled file.
    pub file: Arc<Mutex<File>>,
    /// Its size.
    pub bytes: u64,
    /// Its media type.
    pub content_type: String,
    /// Its name, sanitised.
    pub file_name: String,
}

struct Job {
    owner: String,
    what: String,
    started: SystemTime,
    state: Mutex<State>,
}

struct State {
    stage: Stage,
    counted: bool,
    rows_written: i64,
    rows_total: i64,
    bytes: u64,
    content_type: String,
    file_name: String,
    failure: String,
    ended: Option<Instant>,
    file: Option<Arc<Mutex<File>>>,
}

impl Job {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self, id: &str) -> Snapshot {
        let state = self.state();
        Snapshot {
            id: id.to_string(),
            what: self.what.clone(),
            started: self.started,
            stage: state.stage,
            counted: state.counted,
            rows_written: state.rows_written,
            rows_total: state.rows_total,
            bytes: state.bytes,
            file_name: state.file_name.clone(),
            failure: state.failure.clone(),
        }
    }

    fn is_running(&self) -> bool {
        self.state().stage == Stage::Running
    }

    /// When it ended; `None` while it runs.
    fn ended(&self) -> Option<Instant> {
        self.state().ended
    }
}

/// The export jobs of every person.
#[derive(Clone)]
pub struct ExportJobs {
    jobs: Arc<Mutex<HashMap<String, Arc<Job>>>>,
    limits: Arc<Limits>,
}

impl ExportJobs {
    /// No jobs yet, bounded by `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            jobs: Arc::default(),
            limits: Arc::new(limits),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Starts a job for `owner` (her username) exporting `what`: a task awaits `call` (the
    /// export's call, made with her own token) and spools the chunks it answers. Refused
    /// when she, or the console, has as many jobs running as it may.
    pub fn start<F>(&self, owner: &str, what: &str, call: F) -> Result<String, Refused>
    where
        F: Future<Output = Result<ChunkStream, tonic::Status>> + Send + 'static,
    {
        let id = new_job_id();
        let job = Arc::new(Job {
            owner: owner.to_string(),
            what: what.chars().take(100).collect(),
            started: SystemTime::now(),
            state: Mutex::new(State {
                stage: Stage::Running,
                counted: false,
                rows_written: 0,
                rows_total: 0,
                bytes: 0,
                content_type: String::new(),
                file_name: String::new(),
                failure: String::new(),
                ended: None,
                file: None,
            }),
        });
        {
            let mut jobs = self.lock();
            self.sweep(&mut jobs);
            let running = jobs.values().filter(|job| job.is_running()).count();
            let running_hers = jobs
                .values()
                .filter(|job| job.owner == owner && job.is_running())
                .count();
            if running_hers >= self.limits.running_per_person {
                return Err(Refused::PersonBusy);
            }
            if running >= self.limits.running {
                return Err(Refused::Busy);
            }
            // Room for the new one: her oldest ended jobs go first, then anyone's.
            evict_ended(&mut jobs, Some(owner), self.limits.kept_per_person);
            evict_ended(&mut jobs, None, self.limits.kept);
            jobs.insert(id.clone(), job.clone());
        }
        let registry = self.clone();
        tokio::spawn(async move {
            let limit = registry.limits.file_bytes;
            // A panic in the spooling ends the job as failed rather than leave it running.
            let spooled = tokio::spawn(spool(job.clone(), call, limit))
                .await
                .unwrap_or_else(|_| Err("导出意外中断，请重新导出。".to_string()));
            {
                let mut state = job.state();
                match spooled {
                    Ok(file) => {
                        state.stage = Stage::Finished;
                        state.file = Some(Arc::new(Mutex::new(file)));
                    }
                    Err(failure) => {
                        state.stage = Stage::Failed;
                        state.failure = failure;
                    }
                }
                state.ended = Some(Instant::now());
            }
            // Kept a while for the download, then dropped with its file.
            tokio::time::sleep(registry.limits.keep).await;
            let mut jobs = registry.lock();
            registry.sweep(&mut jobs);
        });
        Ok(id)
    }

    /// `owner`'s job `id`; none when there is no such job or it is someone else's.
    pub fn get(&self, owner: &str, id: &str) -> Option<Snapshot> {
        let mut jobs = self.lock();
        self.sweep(&mut jobs);
        jobs.get(id)
            .filter(|job| job.owner == owner)
            .map(|job| job.snapshot(id))
    }

    /// `owner`'s jobs, the newest first.
    pub fn list(&self, owner: &str) -> Vec<Snapshot> {
        let mut jobs = self.lock();
        self.sweep(&mut jobs);
        let mut hers: Vec<Snapshot> = jobs
            .iter()
            .filter(|(_, job)| job.owner == owner)
            .map(|(id, job)| job.snapshot(id))
            .collect();
        hers.sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.id.cmp(&b.id)));
        hers
    }

    /// The file of `owner`'s finished job `id`.
    pub fn download(&self, owner: &str, id: &str) -> Option<Download> {
        let mut jobs = self.lock();
        self.sweep(&mut jobs);
        let job = jobs.get(id).filter(|job| job.owner == owner)?;
        let state = job.state();
        let file = state.file.clone()?;
        Some(Download {
            file,
            bytes: state.bytes,
            content_type: state.content_type.clone(),
            file_name: state.file_name.clone(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops the jobs that ended longer ago than they are kept.
    fn sweep(&self, jobs: &mut HashMap<String, Arc<Job>>) {
        let keep = self.limits.keep;
        jobs.retain(|_, job| job.ended().is_none_or(|ended| ended.elapsed() < keep));
    }
}

/// Drops the oldest ended jobs (of `owner`, or anyone's) until fewer than `kept` remain.
fn evict_ended(jobs: &mut HashMap<String, Arc<Job>>, owner: Option<&str>, kept: usize) {
    let mine = |job: &Job| owner.is_none_or(|owner| job.owner == owner);
    loop {
        let held = jobs.values().filter(|job| mine(job)).count();
        if held < kept {
            return;
        }
        let oldest = jobs
            .iter()
            .filter(|(_, job)| mine(job))
            .filter_map(|(id, job)| job.ended().map(|ended| (ended, id.clone())))
            .min();
        let Some((_, id)) = oldest else {
            // All running: bounded by the running limits.
            return;
        };
        jobs.remove(&id);
    }
}

/// Calls the export and writes its chunks to an anonymous temporary file (unlinked at once,
/// so it goes with the process), keeping the progress on `job`; the file once whole, or
/// why it is not, in Chinese.
async fn spool<F>(job: Arc<Job>, call: F, limit: u64) -> Result<File, String>
where
    F: Future<Output = Result<ChunkStream, tonic::Status>> + Send + 'static,
{
    let mut file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|_| no_file())?
        .map_err(|error| {
            tracing::error!(%error, "an export's temporary file could not be created");
            no_file()
        })?;
    let mut chunks = call.await.map_err(|status| Failure::from(status).message)?;
    let mut first = true;
    let mut bytes: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|status| Failure::from(status).message)?;
        bytes = bytes.saturating_add(chunk.data.len() as u64);
        if bytes > limit {
            return Err(format!(
                "导出文件超过 {} 的上限，已停止。请缩小范围（如缩短服务记录的时间段）后重新导出。",
                size(limit)
            ));
        }
        if !chunk.data.is_empty() {
            let data = chunk.data;
            file = tokio::task::spawn_blocking(move || file.write_all(&data).map(|()| file))
                .await
                .map_err(|_| no_file())?
                .map_err(|error| {
                    tracing::error!(%error, "an export could not be written to its temporary file");
                    "导出文件写入失败，请稍后重试。".to_string()
                })?;
        }
        let mut state = job.state();
        if first {
            state.content_type = safe_content_type(&chunk.content_type);
            state.file_name = safe_file_name(&chunk.file_name);
            first = false;
        }
        state.counted = true;
        state.rows_written = state.rows_written.max(chunk.rows_written);
        state.rows_total = chunk.rows_total.max(0);
        state.bytes = bytes;
    }
    if first {
        return Err("导出没有返回任何内容，请稍后重试。".to_string());
    }
    Ok(file)
}

fn no_file() -> String {
    "无法创建导出的临时文件，请稍后重试。".to_string()
}

/// A file name fit for a `Content-Disposition` header: letters, digits, `-`, `_` and `.`,
/// at most 100 characters, not starting with a dot; `export` when nothing is left.
pub fn safe_file_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(100)
        .collect();
    // No leading dot: not a hidden file, nor a way up.
    let name = name.trim_start_matches('.');
    if name.trim_matches('.').is_empty() {
        return "export".to_string();
    }
    name.to_string()
}

/// The media type to send a file with: the service's when it is a plain, bounded one.
fn safe_content_type(content_type: &str) -> String {
    let plain = !content_type.is_empty()
        && content_type.len() <= 200
        && content_type
            .bytes()
            .all(|b| b.is_ascii_graphic() || b == b' ');
    if plain {
        content_type.to_string()
    } else {
        "application/octet-stream".to_string()
    }
}

/// 128 random bits in hex: a job's id.
fn new_job_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Up to [`READ_BYTES`] of `file` from `offset`; empty at its end.
pub async fn read_at(file: Arc<Mutex<File>>, offset: u64) -> std::io::Result<Vec<u8>> {
    tokio::task::spawn_blocking(move || {
        let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
        file.seek(SeekFrom::Start(offset))?;
        let mut buffer = Vec::with_capacity(READ_BYTES);
        (&mut *file)
            .take(READ_BYTES as u64)
            .read_to_end(&mut buffer)?;
        Ok(buffer)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A size in bytes as people read it: `512 B`, `12.3 KB`, `1.0 GB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(data: &[u8], rows_written: i64, rows_total: i64) -> FileChunk {
        FileChunk {
            data: data.to_vec(),
            rows_written,
            rows_total,
            ..FileChunk::default()
        }
    }

    /// An export that answers `chunks`, the first naming the file.
    fn answering(
        mut chunks: Vec<Result<FileChunk, tonic::Status>>,
    ) -> impl Future<Output = Result<ChunkStream, tonic::Status>> + Send + 'static {
        if let Some(Ok(first)) = chunks.first_mut() {
            first.content_type = "text/csv; charset=utf-8".to_string();
            first.file_name = "volunteers-20260101.csv".to_string();
        }
        async move { Ok(Box::pin(futures::stream::iter(chunks)) as ChunkStream) }
    }

    /// An export that never answers: a job that stays running.
    fn hanging() -> impl Future<Output = Result<ChunkStream, tonic::Status>> + Send + 'static {
        futures::future::pending()
    }

    async fn settled(jobs: &ExportJobs, owner: &str, id: &str) -> Snapshot {
        for _ in 0..500 {
            let snapshot = jobs.get(owner, id).expect("her job");
            if snapshot.stage != Stage::Running {
                return snapshot;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the job did not end");
    }

    async fn whole(download: &Download) -> Vec<u8> {
        let mut data = Vec::new();
        loop {
            let read = read_at(download.file.clone(), data.len() as u64)
                .await
                .expect("reads");
            if read.is_empty() {
                return data;
            }
            data.extend_from_slice(&read);
        }
    }

    #[tokio::test]
    async fn a_job_spools_its_chunks_with_their_progress() {
        let jobs = ExportJobs::new(Limits::default());
        let id = jobs
            .start(
                "li.na",
                "志愿者名册（CSV）",
                answering(vec![
                    Ok(chunk(b"\xef\xbb\xbfa,b\r\n", 0, 3)),
                    Ok(chunk(b"", 2, 3)),
                    Ok(chunk(b"1,2\r\n3,4\r\n5,6\r\n", 3, 3)),
                ]),
            )
            .expect("starts");
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        let snapshot = settled(&jobs, "li.na", &id).await;
        assert_eq!(snapshot.stage, Stage::Finished);
        assert_eq!((snapshot.rows_written, snapshot.rows_total), (3, 3));
        assert_eq!(snapshot.file_name, "volunteers-20260101.csv");
        let download = jobs.download("li.na", &id).expect("the file");
        assert_eq!(download.content_type, "text/csv; charset=utf-8");
        assert_eq!(download.bytes, 23);
        assert_eq!(
            whole(&download).await,
            b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4\r\n5,6\r\n"
        );
        assert_eq!(jobs.list("li.na").len(), 1);
    }

    #[tokio::test]
    async fn another_persons_job_does_not_exist_for_her() {
        let jobs = ExportJobs::new(Limits::default());
        let id = jobs
            .start(
                "li.na",
                "队伍登记表（CSV）",
                answering(vec![Ok(chunk(b"x", 1, 1))]),
            )
            .expect("starts");
        settled(&jobs, "li.na", &id).await;
        assert!(jobs.get("wang.fang", &id).is_none());
        assert!(jobs.download("wang.fang", &id).is_none());
        assert!(jobs.list("wang.fang").is_empty());
        assert!(
            jobs.get("li.na", "0123456789abcdef0123456789abcdef")
                .is_none()
        );
        assert!(jobs.download("li.na", &id).is_some());
    }

    #[tokio::test]
    async fn running_jobs_are_bounded_per_person_and_in_all() {
        let jobs = ExportJobs::new(Limits {
            running_per_person: 3,
            running: 4,
            ..Limits::default()
        });
        for _ in 0..3 {
            jobs.start("li.na", "服务记录（CSV）", hanging())
                .expect("within her bound");
        }
        assert_eq!(
            jobs.start("li.na", "服务记录（CSV）", hanging()),
            Err(Refused::PersonBusy)
        );
        jobs.start("wang.fang", "服务记录（CSV）", hanging())
            .expect("another person's first");
        assert_eq!(
            jobs.start("chen.jing", "服务记录（CSV）", hanging()),
            Err(Refused::Busy)
        );
        assert!(
            Refused::PersonBusy
                .message(&Limits::default())
                .contains("3 个")
        );

        // An ended job makes room.
        let jobs = ExportJobs::new(Limits {
            running_per_person: 1,
            ..Limits::default()
        });
        let id = jobs
            .start(
                "li.na",
                "服务记录（CSV）",
                answering(vec![Ok(chunk(b"x", 1, 1))]),
            )
            .expect("starts");
        settled(&jobs, "li.na", &id).await;
        jobs.start("li.na", "服务记录（CSV）", hanging())
            .expect("her first has ended");
    }

    #[tokio::test]
    async fn a_file_over_the_cap_fails_the_job() {
        let jobs = ExportJobs::new(Limits {
            file_bytes: 10,
            ..Limits::default()
        });
        let id = jobs
            .start(
                "li.na",
                "服务记录（CSV）",
                answering(vec![Ok(chunk(b"123456", 1, 2)), Ok(chunk(b"789012", 2, 2))]),
            )
            .expect("starts");
        let snapshot = settled(&jobs, "li.na", &id).await;
        assert_eq!(snapshot.stage, Stage::Failed);
        assert!(snapshot.failure.contains("上限"), "{}", snapshot.failure);
        assert!(jobs.download("li.na", &id).is_none(), "no partial file");
    }

    #[tokio::test]
    async fn a_failed_call_says_why_in_chinese() {
        let jobs = ExportJobs::new(Limits::default());
        let refused = async { Err::<ChunkStream, _>(tonic::Status::permission_denied("no")) };
        let id = jobs
            .start("li.na", "志愿者名册（XLSX）", refused)
            .expect("starts");
        let snapshot = settled(&jobs, "li.na", &id).await;
        assert_eq!(snapshot.stage, Stage::Failed);
        assert_eq!(snapshot.failure, "您没有权限进行此操作。");
        // A stream that breaks off fails too, keeping no file.
        let broken = answering(vec![
            Ok(chunk(b"a", 0, 5)),
            Err(tonic::Status::unavailable("gone")),
        ]);
        let id = jobs
            .start("li.na", "志愿者名册（CSV）", broken)
            .expect("starts");
        let snapshot = settled(&jobs, "li.na", &id).await;
        assert_eq!(snapshot.stage, Stage::Failed);
        assert_eq!(snapshot.failure, "服务暂时不可用，请稍后重试。");
        assert!(jobs.download("li.na", &id).is_none());
        let empty = answering(Vec::new());
        let id = jobs
            .start("li.na", "志愿者名册（CSV）", empty)
            .expect("starts");
        assert_eq!(settled(&jobs, "li.na", &id).await.stage, Stage::Failed);
    }

    #[tokio::test]
    async fn ended_jobs_are_dropped_after_a_while_and_beyond_the_bound() {
        let jobs = ExportJobs::new(Limits {
            keep: Duration::from_millis(100),
            ..Limits::default()
        });
        let id = jobs
            .start(
                "li.na",
                "队伍登记表（CSV）",
                answering(vec![Ok(chunk(b"x", 1, 1))]),
            )
            .expect("starts");
        settled(&jobs, "li.na", &id).await;
        assert!(jobs.download("li.na", &id).is_some());
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            jobs.get("li.na", &id).is_none(),
            "dropped once kept long enough"
        );
        assert!(jobs.list("li.na").is_empty());

        // Beyond her bound, her oldest ended job goes; running ones stay.
        let jobs = ExportJobs::new(Limits {
            kept_per_person: 2,
            ..Limits::default()
        });
        let first = jobs
            .start(
                "li.na",
                "队伍登记表（CSV）",
                answering(vec![Ok(chunk(b"x", 1, 1))]),
            )
            .expect("starts");
        settled(&jobs, "li.na", &first).await;
        let running = jobs
            .start("li.na", "服务记录（CSV）", hanging())
            .expect("starts");
        let third = jobs
            .start("li.na", "志愿者名册（CSV）", hanging())
            .expect("starts");
        assert!(
            jobs.get("li.na", &first).is_none(),
            "the oldest ended one went"
        );
        assert!(jobs.get("li.na", &running).is_some());
        assert!(jobs.get("li.na", &third).is_some());
        assert_eq!(jobs.list("li.na").len(), 2);
    }

    #[test]
    fn file_names_and_sizes() {
        assert_eq!(
            safe_file_name("volunteers-2026.xlsx"),
            "volunteers-2026.xlsx"
        );
        assert_eq!(safe_file_name("../\"x\r\n.csv"), "x.csv");
        assert_eq!(safe_file_name("名册"), "export");
        assert_eq!(safe_file_name(&"a".repeat(300)).len(), 100);
        assert_eq!(
            safe_content_type("text/csv\r\nx: y"),
            "application/octet-stream"
        );
        assert_eq!(size(512), "512 B");
        assert_eq!(size(12_595), "12.3 KB");
        assert_eq!(size(1 << 30), "1.0 GB");
    }
}
