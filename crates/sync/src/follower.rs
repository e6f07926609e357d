//! Following another service's change log over gRPC (never its database): the one way a
//! service keeps a local replica of what another owns.
//!
//! A [`Follower`] reads pages from a [`ChangeSource`] and hands each entry to a
//! [`ChangeSink`] inside one [`WriteTx`] that also moves the feed's checkpoint, so a crash
//! never loses or doubles an entry. Sinks apply idempotently (an older version never
//! overwrites a newer one), because a page may be read twice by two processes; the
//! checkpoint's compare-and-set makes only one of them commit it.
//!
//! The checkpoint lives in the following service's `feed_checkpoints` table
//! (`feed TEXT PRIMARY KEY, last_sequence BIGINT`), which its migrations create; a feed
//! without a row starts at 0.

use std::sync::Arc;
use std::time::Duration;

use egret_proto::sync::v1::change_log_service_client::ChangeLogServiceClient;
use egret_proto::sync::v1::record::Kind;
use egret_proto::sync::v1::{Change, ListChangesRequest};
use egret_runtime::{ApiError, Bilingual, CancellationToken, SyncCredentials};
use egret_storage::rows::sql_error;
use egret_storage::{Database, WriteTx};
use futures::future::BoxFuture;
use sqlx::{Any, Executor};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::server::SERVICE_HEADER;

/// How many entries one read asks for.
const PAGE_SIZE: i32 = 500;

/// One page of another service's change log.
#[derive(Debug, Clone, Default)]
pub struct FeedPage {
    /// The entries, in sequence order.
    pub entries: Vec<Change>,
    /// The sequence to resume after.
    pub last_sequence: i64,
    /// The highest sequence committed when the page was read.
    pub head_sequence: i64,
}

/// Where a feed reads from: another service's `egret.sync.v1.ChangeLogService`.
pub trait ChangeSource: Send + Sync + 'static {
    /// Entries after `after`, at most `page_size`, within `deadline`.
    fn read(
        &self,
        after: i64,
        page_size: i32,
        deadline: Duration,
    ) -> BoxFuture<'_, Result<FeedPage, ApiError>>;

    /// The tally of the records the source's owner holds of its own making
    /// (`TallyRecords`), within `deadline`; None from a source that cannot count.
    fn tally(
        &self,
        _deadline: Duration,
    ) -> BoxFuture<'_, Result<Option<egret_proto::sync::v1::RecordTally>, ApiError>> {
        Box::pin(async { Ok(None) })
    }
}

/// What a feed does with each entry, inside the transaction that moves its checkpoint.
pub trait ChangeSink: Send + Sync + 'static {
    /// Applies one entry; entries of types the sink does not follow are ignored.
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Runs first in each page's transaction, before any entry is applied: where sinks of
    /// several feeds derive figures from each other's rows, this is where they serialize.
    fn begin<'a>(&'a self, _transaction: &'a mut WriteTx) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Maps a failed call to the upstream service to what our caller sees.
pub fn upstream_error(service: &str, status: &tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown => ApiError::Unavailable(Bilingual::new(
            format!("the {service} service is unreachable: {}", status.message()),
            format!("暂时无法连接 {service} 服务"),
        )),
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ApiError::DeadlineExceeded(format!("the {service} service did not answer in time"))
        }
        code => ApiError::Internal(anyhow::anyhow!(
            "reading the {service} service's change log: {code:?} {}",
            status.message()
        )),
    }
}

/// One service's change log, read over `egret.sync.v1.ChangeLogService` with the sync
/// role.
#[derive(Clone)]
pub struct ServiceLog {
    client: ChangeLogServiceClient<InterceptedService<Channel, SyncCredentials>>,
    service: &'static str,
    projection: &'static str,
}

impl ServiceLog {
    /// The log of `service` (`registry`, `activity`, …) at the other end of `channel`.
    pub fn new(service: &'static str, channel: Channel, credentials: SyncCredentials) -> Self {
        Self {
            client: ChangeLogServiceClient::with_interceptor(channel, credentials),
            service,
            projection: "",
        }
    }

    /// The log read in `projection` (`ListChangesRequest.projection`): a district's upward
    /// link sending full records reads `full/v1`.
    pub fn with_projection(mut self, projection: &'static str) -> Self {
        self.projection = projection;
        self
    }

    /// A call to the service's log: named by the header, with what is left of the
    /// caller's own deadline, at most `deadline`.
    fn request<T>(&self, message: T, deadline: Duration) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            SERVICE_HEADER,
            tonic::metadata::MetadataValue::from_static(self.service),
        );
        request.set_timeout(egret_runtime::server::outgoing_deadline(deadline));
        request
    }
}

impl ChangeSource for ServiceLog {
    fn read(
        &self,
        after: i64,
        page_size: i32,
        deadline: Duration,
    ) -> BoxFuture<'_, Result<FeedPage, ApiError>> {
        Box::pin(async move {
            let request = self.request(
                ListChangesRequest {
                    after_sequence: after,
                    page_size,
                    projection: self.projection.to_string(),
                },
                deadline,
            );
            let page = self
                .client
                .clone()
                .list_changes(request)
                .await
                .map_err(|status| upstream_error(self.service, &status))?
                .into_inner();
            Ok(FeedPage {
                entries: page.changes,
                last_sequence: page.last_sequence,
                head_sequence: page.head_sequence,
            })
        })
    }

    fn tally(
        &self,
        deadline: Duration,
    ) -> BoxFuture<'_, Result<Option<egret_proto::sync::v1::RecordTally>, ApiError>> {
        Box::pin(async move {
            let request = self.request(egret_proto::sync::v1::TallyRecordsRequest {}, deadline);
            let answer = self
                .client
                .clone()
                .tally_records(request)
                .await
                .map_err(|status| upstream_error(self.service, &status))?;
            Ok(answer.into_inner().tally)
        })
    }
}

/// How far a follower has come, as last seen by this process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerStatus {
    /// The feed's name.
    pub feed: &'static str,
    /// The last sequence applied (from the checkpoint).
    pub applied_sequence: i64,
    /// The head the upstream reported at the last read; 0 before the first.
    pub head_sequence: i64,
    /// When the follower last reached the head it saw (microseconds), 0 before.
    pub last_caught_up_micros: i64,
    /// The last error; empty after a successful read.
    pub last_error: String,
    /// Since when catching up has failed without a success between (microseconds); 0
    /// after a success.
    pub failing_since_micros: i64,
}

/// A follower of one feed.
#[derive(Clone)]
pub struct Follower {
    feed: &'static str,
    actor: &'static str,
    origin: String,
    database: Database,
    source: Arc<dyn ChangeSource>,
    sink: Arc<dyn ChangeSink>,
    deadline: Duration,
    // After a failure the next try waits twice as long as the last, up to this.
    max_wait: Duration,
    // One catch-up at a time in this process: concurrent ones would only race for the
    // checkpoint.
    running: Arc<tokio::sync::Mutex<()>>,
    status: Arc<std::sync::Mutex<FollowerStatus>>,
}

impl Follower {
    /// A follower of the feed named `feed` (its row in `feed_checkpoints`), writing as
    /// `actor` on the instance `origin` (records a sink creates are made here).
    pub fn new(
        feed: &'static str,
        actor: &'static str,
        origin: impl Into<String>,
        database: Database,
        source: impl ChangeSource,
        sink: impl ChangeSink,
        deadline: Duration,
    ) -> Self {
        Self {
            feed,
            actor,
            origin: origin.into(),
            database,
            source: Arc::new(source),
            sink: Arc::new(sink),
            deadline,
            max_wait: Duration::ZERO,
            running: Arc::new(tokio::sync::Mutex::new(())),
            status: Arc::new(std::sync::Mutex::new(FollowerStatus {
                feed,
                ..FollowerStatus::default()
            })),
        }
    }

    /// The follower, backing off after failures up to `max_wait` between tries (by default
    /// it tries again every interval): for a source across a link that may be down for
    /// days.
    pub fn with_backoff(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// How far the follower has come: the checkpoint as stored, and what the last read saw.
    pub async fn status(&self) -> Result<FollowerStatus, ApiError> {
        let applied_sequence = checkpoint(self.database.reader(), self.feed).await?;
        let mut status = self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        status.applied_sequence = applied_sequence;
        status.head_sequence = status.head_sequence.max(applied_sequence);
        Ok(status)
    }

    fn note(&self, update: impl FnOnce(&mut FollowerStatus)) {
        update(
            &mut self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// The feed's name.
    pub fn feed(&self) -> &'static str {
        self.feed
    }

    /// Applies every change the source had committed when called.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        let result = self.catch_up_once().await;
        match &result {
            Ok(()) => self.note(|status| {
                status.last_error.clear();
                status.last_caught_up_micros = egret_storage::now_micros();
                status.failing_since_micros = 0;
            }),
            Err(error) => {
                let error = error.to_string();
                self.note(|status| {
                    status.last_error = error;
                    if status.failing_since_micros == 0 {
                        status.failing_since_micros = egret_storage::now_micros();
                    }
                });
            }
        }
        result
    }

    async fn catch_up_once(&self) -> Result<(), ApiError> {
        let _running = self.running.lock().await;
        loop {
            let after = checkpoint(self.database.reader(), self.feed).await?;
            let page = self.source.read(after, PAGE_SIZE, self.deadline).await?;
            self.note(|status| status.head_sequence = page.head_sequence);
            // A filtered source (the upstream's downward link) may send a page with no
            // entries that still moves the checkpoint on.
            if page.entries.is_empty() && page.last_sequence <= after {
                return Ok(());
            }
            let mut transaction = self.database.begin(self.actor, &self.origin).await?;
            self.sink.begin(&mut transaction).await?;
            for entry in &page.entries {
                self.sink.apply(&mut transaction, entry).await?;
            }
            if !advance_checkpoint(transaction.conn(), self.feed, after, page.last_sequence).await?
            {
                // Another process applied these first; start again from its checkpoint.
                continue;
            }
            transaction.commit().await?;
            tracing::debug!(
                feed = self.feed,
                last_sequence = page.last_sequence,
                head = page.head_sequence,
                "applied upstream changes"
            );
            if page.last_sequence >= page.head_sequence {
                return Ok(());
            }
        }
    }

    /// Catches up every `interval` until `shutdown`.
    pub fn spawn(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut wait = interval;
            loop {
                match self.catch_up().await {
                    Ok(()) => wait = interval,
                    Err(error) => {
                        tracing::warn!(feed = self.feed, %error, "following a change log failed; retrying");
                        // A wait for a record on its way (a unit not yet at the upstream)
                        // passes in a moment: the backoff starts only once the failures
                        // have lasted long enough to be an alarm.
                        let failing_since = self
                            .status
                            .lock()
                            .map_or(0, |status| status.failing_since_micros);
                        let failing_for = egret_storage::now_micros() - failing_since;
                        wait = if failing_for < crate::push::ALARM_AFTER.as_micros() as i64 {
                            interval
                        } else {
                            (wait * 2).min(self.max_wait).max(interval)
                        };
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }
}

/// The last sequence of `feed` applied.
pub async fn checkpoint<'e, E>(executor: E, feed: &str) -> Result<i64, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT last_sequence FROM feed_checkpoints WHERE feed = $1")
            .bind(feed)
            .fetch_optional(executor)
            .await
            .map_err(sql_error("feed checkpoint"))?;
    Ok(row.map_or(0, |(last,)| last))
}

/// Moves the checkpoint from `expected` to `last_sequence`; false when another reader had
/// already moved it.
async fn advance_checkpoint<'e, E>(
    executor: E,
    feed: &str,
    expected: i64,
    last_sequence: i64,
) -> Result<bool, ApiError>
where
    E: Executor<'e, Database = Any>,
{
    // A feed without a row yet (one a later release added) starts at 0.
    let result = sqlx::query(
        "INSERT INTO feed_checkpoints (feed, last_sequence) VALUES ($1, $3) \
         ON CONFLICT (feed) DO UPDATE SET last_sequence = excluded.last_sequence \
         WHERE feed_checkpoints.last_sequence = $2",
    )
    .bind(feed)
    .bind(expected)
    .bind(last_sequence)
    .execute(executor)
    .await
    .map_err(sql_error("feed checkpoint"))?;
    Ok(result.rows_affected() == 1)
}

/// The record a change carries (a copy, for a sink to take apart), or an internal error
/// naming the change.
pub fn record(change: &Change) -> Result<Kind, ApiError> {
    change
        .record
        .as_ref()
        .and_then(|record| record.kind.clone())
        .ok_or_else(|| corrupt(change, "it carries no record"))
}

/// The internal error for a change that does not make sense.
pub fn corrupt(change: &Change, error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(
        "change {} of {} does not parse: {error}",
        change.sequence,
        change.resource_name
    ))
}
