//! The district's side of the upward link: each service's change log, pushed to the
//! upstream's gateway batch by batch (`egret.sync.v1.UpwardService/PushChanges`).
//!
//! The pusher reads the local log after the sequence the upstream acknowledged, keeps the
//! district's own records (copies of the upstream's never go back up) and pushes them
//! with the range they cover. It remembers no checkpoint of its own: the upstream's is the
//! truth, and a batch that does not follow it is refused with the sequence it expects, from
//! which the pusher resends. Delivery is at least once; the upstream applies idempotently.

use std::sync::Arc;
use std::time::Duration;

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::upward_service_client::UpwardServiceClient;
use egret_runtime::config::{InstanceSettings, UpwardProjection};
use egret_runtime::error::expected_sequence;
use egret_runtime::{ApiError, CancellationToken};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use crate::follower::{ChangeSource, upstream_error};
use crate::server::SERVICE_HEADER;
use crate::upstream::{self, Grant, LinkError};

/// Changes read from the local log per batch (the upstream takes at most 500).
const BATCH: i32 = 500;

/// The most bytes of changes one batch carries, beyond its first: half the upstream's
/// default message limit (`server.max_message_bytes`, 4 MiB), so that a batch of large
/// records (registration forms with long texts) still goes through.
const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// The longest run of `changes` from the first within `limit` bytes (the first always), and
/// the sequence the batch then covers: `last_sequence` when all fit, else the last kept
/// change's (the rest go in the next batch).
fn bounded(
    mut changes: Vec<pb::Change>,
    last_sequence: i64,
    limit: usize,
) -> (Vec<pb::Change>, i64) {
    let mut total = 0;
    for index in 0..changes.len() {
        total += prost::Message::encoded_len(&changes[index]);
        if total > limit && index > 0 {
            let last = changes[index - 1].sequence;
            changes.truncate(index);
            return (changes, last);
        }
    }
    (changes, last_sequence)
}

/// How long one push may take.
const PUSH_DEADLINE: Duration = Duration::from_secs(30);

/// A sync token is renewed when it has less than this left.
const RENEW_BEFORE: i64 = 60;

/// The district's sync tokens, shared by the pushers of all its services: renewed at the
/// upstream before they expire.
#[derive(Clone)]
pub struct Grants {
    instance: InstanceSettings,
    current: Arc<tokio::sync::Mutex<Option<Grant>>>,
}

impl Grants {
    /// Grants for the district `instance`.
    pub fn new(instance: InstanceSettings) -> Self {
        Self {
            instance,
            current: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// A token with at least a minute left.
    pub async fn token(&self) -> Result<String, LinkError> {
        let mut current = self.current.lock().await;
        let now = egret_types::now_micros() / 1_000_000;
        if let Some(grant) = current.as_ref()
            && grant.expire_seconds - now > RENEW_BEFORE
        {
            return Ok(grant.access_token.clone());
        }
        let grant = upstream::exchange(&self.instance).await?;
        let token = grant.access_token.clone();
        *current = Some(grant);
        Ok(token)
    }
}

/// Where one service's link stands, as this process last saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushStatus {
    /// The service.
    pub service: &'static str,
    /// The last sequence the upstream acknowledged.
    pub acknowledged_sequence: i64,
    /// The local log's head at the last read.
    pub head_sequence: i64,
    /// The last error; empty after a successful push.
    pub last_error: String,
    /// Since when pushes have failed without a success between; None after a success.
    pub failing_since: Option<std::time::Instant>,
    /// The sequence up to which the upstream last found its copies to agree with this
    /// instance's records ([`crate::tally`]).
    pub verified_sequence: i64,
    /// How they disagreed at the last tally; empty when they agreed.
    pub mismatch: String,
}

/// How long a link may fail before it is an alarm: a batch that refers to a unit still
/// on its way up the registry's link fails for a moment and goes through on a retry.
pub const ALARM_AFTER: Duration = Duration::from_secs(5);

impl PushStatus {
    /// Whether the link has failed for longer than [`ALARM_AFTER`], or the upstream's
    /// copies disagreed with this instance's records at the last tally.
    pub fn alarm(&self) -> bool {
        !self.mismatch.is_empty()
            || self
                .failing_since
                .is_some_and(|since| since.elapsed() >= ALARM_AFTER)
    }
}

/// The pusher of one service's log.
#[derive(Clone)]
pub struct Pusher {
    service: &'static str,
    instance_id: String,
    local: Arc<dyn ChangeSource>,
    upstream: UpwardServiceClient<Channel>,
    grants: Grants,
    status: Arc<std::sync::Mutex<PushStatus>>,
    tally_interval: Duration,
    last_tally: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    projection: UpwardProjection,
    legal_basis: String,
}

/// How often a caught-up pusher sends a tally of its records by default.
pub const TALLY_INTERVAL: Duration = Duration::from_secs(60);

impl Pusher {
    /// A pusher of `service`'s log, read from `local`, to the upstream at `upstream` (the
    /// upstream's gateway), for the district `instance_id`.
    pub fn new(
        service: &'static str,
        instance_id: impl Into<String>,
        local: impl ChangeSource,
        upstream: Channel,
        grants: Grants,
    ) -> Self {
        Self {
            service,
            instance_id: instance_id.into(),
            local: Arc::new(local),
            upstream: UpwardServiceClient::new(upstream),
            grants,
            status: Arc::new(std::sync::Mutex::new(PushStatus {
                service,
                ..PushStatus::default()
            })),
            tally_interval: TALLY_INTERVAL,
            last_tally: Arc::default(),
            projection: UpwardProjection::Minimal,
            legal_basis: String::new(),
        }
    }

    /// The pusher, sending its records in `projection` (by default `minimal/v1`); with
    /// `full/v1`, `local` must read the log in the same projection
    /// ([`crate::ServiceLog::with_projection`]), and `legal_basis` goes with every batch.
    pub fn with_projection(mut self, projection: UpwardProjection, legal_basis: &str) -> Self {
        self.projection = projection;
        self.legal_basis = match projection {
            UpwardProjection::Full => legal_basis.trim().to_string(),
            UpwardProjection::Minimal => String::new(),
        };
        self
    }

    /// The pusher, sending a tally of the service's records at most every `interval`
    /// while it is caught up (by default [`TALLY_INTERVAL`]).
    pub fn with_tally_interval(mut self, interval: Duration) -> Self {
        self.tally_interval = interval;
        self
    }

    /// A tally of the local records, when the link was caught up at the last push and the
    /// last tally is `tally_interval` old. A failure only postpones it.
    async fn due_tally(&self) -> Option<pb::RecordTally> {
        let status = self.status();
        if status.acknowledged_sequence < status.head_sequence {
            return None;
        }
        {
            let mut last = self
                .last_tally
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|last| last.elapsed() < self.tally_interval) {
                return None;
            }
            *last = Some(std::time::Instant::now());
        }
        match self.local.tally(PUSH_DEADLINE).await {
            Ok(tally) => {
                tracing::debug!(service = self.service, sequence = ?tally.as_ref().map(|tally| tally.sequence), "took a tally");
                tally
            }
            Err(error) => {
                tracing::debug!(service = self.service, %error, "no tally this time");
                None
            }
        }
    }

    /// Where the link stands.
    pub fn status(&self) -> PushStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn note(&self, update: impl FnOnce(&mut PushStatus)) {
        update(
            &mut self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// Pushes until the upstream holds everything the local log had when called.
    pub async fn push(&self) -> Result<(), ApiError> {
        let result = self.push_all().await;
        match &result {
            Ok(()) => self.note(|status| {
                status.last_error.clear();
                status.failing_since = None;
            }),
            Err(error) => {
                let error = error.to_string();
                self.note(|status| {
                    status.last_error = error;
                    status
                        .failing_since
                        .get_or_insert_with(std::time::Instant::now);
                });
            }
        }
        result
    }

    async fn push_all(&self) -> Result<(), ApiError> {
        let mut tally = self.due_tally().await;
        // The page after the batch in flight, read while the upstream applies that batch,
        // so that reading here and applying there overlap; used only if the upstream
        // acknowledges the batch, from the sequence it was read after.
        let mut read_ahead: Option<(i64, crate::follower::FeedPage)> = None;
        loop {
            let after = self.status().acknowledged_sequence;
            let page = match read_ahead.take() {
                Some((read_after, page)) if read_after == after => page,
                _ => self.local.read(after, BATCH, PUSH_DEADLINE).await?,
            };
            // Even with nothing new, the push goes: it is the heartbeat that proves to the
            // upstream that the district's head is applied.
            self.note(|status| status.head_sequence = page.head_sequence);
            let (changes, last_sequence) = bounded(
                page.entries
                    .into_iter()
                    .filter(|change| change.origin_instance == self.instance_id)
                    .filter_map(project_upward)
                    .collect(),
                page.last_sequence,
                MAX_BATCH_BYTES,
            );
            let token = self.grants.token().await.map_err(link_error)?;
            // The upstream compares a tally only with its checkpoint at the same sequence:
            // it goes with the batch that ends there, or not at all.
            let tally = tally
                .take_if(|tally| tally.sequence <= last_sequence)
                .filter(|tally| tally.sequence == last_sequence);
            let mut request = tonic::Request::new(pb::PushChangesRequest {
                after_sequence: after,
                last_sequence,
                changes,
                head_sequence: page.head_sequence,
                projection: self.projection.as_str().to_string(),
                tally,
                legal_basis: self.legal_basis.clone(),
            });
            request.set_timeout(PUSH_DEADLINE);
            let metadata = request.metadata_mut();
            metadata.insert(SERVICE_HEADER, MetadataValue::from_static(self.service));
            metadata.insert(
                "authorization",
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| ApiError::Internal(anyhow::anyhow!("the token is not ASCII")))?,
            );
            let mut upstream = self.upstream.clone();
            let answer = if last_sequence < page.head_sequence {
                let (answer, next) = tokio::join!(
                    upstream.push_changes(request),
                    self.local.read(last_sequence, BATCH, PUSH_DEADLINE)
                );
                // A failed read ahead is read again in the next round.
                read_ahead = next.ok().map(|next| (last_sequence, next));
                answer
            } else {
                upstream.push_changes(request).await
            };
            match answer {
                Ok(answer) => {
                    let answer = answer.into_inner();
                    let acknowledged = answer.acknowledged_sequence;
                    self.note(|status| {
                        status.acknowledged_sequence = acknowledged;
                        status.verified_sequence = answer.verified_sequence;
                        status.mismatch = answer.mismatch;
                    });
                    if acknowledged >= page.head_sequence {
                        return Ok(());
                    }
                }
                Err(status) => match expected_sequence(&status) {
                    // The upstream holds another point of the log: go on from there.
                    Some(expected) if expected != after => {
                        self.note(|status| status.acknowledged_sequence = expected);
                    }
                    _ => return Err(push_error(self.service, &status)),
                },
            }
        }
    }

    /// Pushes every `interval` until `shutdown`; after a failure, waits longer each time
    /// (up to a minute).
    pub fn spawn(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut wait = interval;
            loop {
                match self.push().await {
                    Ok(()) => wait = interval,
                    Err(error) => {
                        tracing::warn!(service = self.service, %error, "pushing upward failed; retrying");
                        wait = (wait * 2).min(Duration::from_secs(60)).max(interval);
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

/// What of a district's records goes up, in either projection
/// ([`UpwardProjection`]): its own records. The change log already holds no plaintext ID
/// number and only masked contacts; what it holds beyond that for the district's own use
/// (the ID number's hash under the district's lookup key, which the city could match
/// against nothing and should not hold) is dropped here. Some records stay at the district
/// altogether: rule sets, reporting years and targets (those in force are the city's and
/// come down, and a district's own would clash with the city's keys) and the points
/// ledger (postings, benefits, redemptions: a district's own scheme, which no city figure
/// counts). With `full/v1` the service reading its log has filled in the personal data
/// (`ListChangesRequest.projection`).
/// A change as it goes up; None for one that stays.
pub fn project_upward(mut change: pb::Change) -> Option<pb::Change> {
    match change
        .record
        .as_mut()
        .and_then(|record| record.kind.as_mut())
    {
        Some(pb::record::Kind::Volunteer(volunteer)) => volunteer.id_number_hash.clear(),
        Some(
            pb::record::Kind::RuleSet(_)
            | pb::record::Kind::Posting(_)
            | pb::record::Kind::Benefit(_)
            | pb::record::Kind::Redemption(_)
            | pb::record::Kind::ReportingYear(_)
            | pb::record::Kind::Target(_),
        ) => return None,
        _ => {}
    }
    Some(change)
}

pub(crate) fn link_error(error: LinkError) -> ApiError {
    match error {
        LinkError::Unreachable { .. } => ApiError::Unavailable(egret_runtime::Bilingual::new(
            error.to_string(),
            "暂时无法连接上级实例",
        )),
        other => ApiError::permission_denied(other.to_string(), "上级实例拒绝了本实例的接入凭据"),
    }
}

fn push_error(service: &str, status: &tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::PermissionDenied
        | tonic::Code::Unimplemented
        | tonic::Code::InvalidArgument
        | tonic::Code::FailedPrecondition => {
            ApiError::FailedPrecondition(egret_runtime::Bilingual::new(
                format!(
                    "the upstream refused the {service} service's batch: {:?} {}",
                    status.code(),
                    status.message()
                ),
                format!("上级实例拒绝了 {service} 服务的同步批次"),
            ))
        }
        _ => upstream_error(&format!("upstream's {service}"), status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(sequence: i64, reason_bytes: usize) -> pb::Change {
        pb::Change {
            sequence,
            reason: "x".repeat(reason_bytes),
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_is_bounded_by_bytes_and_covers_only_what_it_carries() {
        struct TestCase {
            sizes: &'static [usize],
            limit: usize,
            kept: usize,
            last_sequence: i64,
        }
        let cases = [
            TestCase {
                sizes: &[10, 10, 10],
                limit: 1000,
                kept: 3,
                last_sequence: 9,
            },
            TestCase {
                sizes: &[400, 400, 400],
                limit: 1000,
                kept: 2,
                last_sequence: 2,
            },
            TestCase {
                sizes: &[5000, 10],
                limit: 1000,
                kept: 1,
                last_sequence: 1,
            },
            TestCase {
                sizes: &[],
                limit: 1000,
                kept: 0,
                last_sequence: 9,
            },
        ];
        for case in &cases {
            let changes = case
                .sizes
                .iter()
                .enumerate()
                .map(|(index, size)| change(index as i64 + 1, *size))
                .collect();
            let (kept, last) = bounded(changes, 9, case.limit);
            assert_eq!(
                (kept.len(), last),
                (case.kept, case.last_sequence),
                "{:?}",
                case.sizes
            );
        }
    }
}
