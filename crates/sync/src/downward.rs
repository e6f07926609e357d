//! The downward link: what the upstream (the city) owns and its districts need (the rule
//! sets in force, reporting years, the honours catalogue, targets, projects that district
//! teams join) comes down to each district's services, which pull it from the upstream's
//! gateway with the district's sync token, as they push upward; the upstream never dials
//! a district.
//!
//! At the upstream, `egret.sync.v1.DownwardService/PullChanges` reads the service's own log
//! and keeps the changes of [`DOWNWARD_PROJECTION`] for the calling district. At the
//! district, an ordinary [`Follower`] (feed [`FEED`]) reads them through
//! [`UpstreamLog`] and a service's sink writes them as read-only copies: their origin
//! stays the upstream's, so the district's own writes to them are refused as to any
//! record of another origin, and they never go back up (the pusher sends only the
//! district's own records).

use std::time::Duration;

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::downward_service_client::DownwardServiceClient;
use egret_proto::sync::v1::downward_service_server::DownwardService;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::config::{InstanceSettings, InstanceTier};
use egret_runtime::{ApiError, Principal, Role};
use egret_storage::{Database, WriteTx, changelog};
use futures::future::BoxFuture;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::follower::{ChangeSink, ChangeSource, FeedPage, Follower, upstream_error};
use crate::push::Grants;
use crate::server::{ChangeLogs, SERVICE_HEADER};
use crate::upward::{District, RecordApplier, write_copy};

/// The projection of the upstream's records that comes down: its own rule sets and
/// reporting years, and its own honours, targets and projects of the district's unit, a
/// unit below it, or (honours and projects) a unit above it. A record of a unit above the
/// district's comes down as held by the district's unit, the nearest unit the district
/// holds, so that every unit of the district sees it as one above it.
pub const DOWNWARD_PROJECTION: &str = "downward/v1";

/// The feed (its row in `feed_checkpoints`) a district's service follows the upstream by.
pub const FEED: &str = "upstream";

/// Where the records a kind comes down to.
enum Reach {
    /// Every district.
    Everywhere,
    /// Districts at, below or above this unit; `above` whether a unit above the district
    /// will do.
    Unit { id: String, above: bool },
}

fn reach(kind: &Kind) -> Option<Reach> {
    match kind {
        Kind::RuleSet(_) | Kind::ReportingYear(_) => Some(Reach::Everywhere),
        Kind::Honour(honour) => Some(Reach::Unit {
            id: honour.org_unit_id.clone(),
            above: true,
        }),
        Kind::Project(project) => Some(Reach::Unit {
            id: project.org_unit_id.clone(),
            above: true,
        }),
        // A target of a unit above the district's is that unit's business.
        Kind::Target(target) => Some(Reach::Unit {
            id: target.org_unit_id.clone(),
            above: false,
        }),
        _ => None,
    }
}

/// The resource types of [`DOWNWARD_PROJECTION`], read before decoding a change.
const DOWNWARD_TYPES: [&str; 5] = [
    "egret.recognition.v1.RuleSet",
    "egret.reporting.v1.ReportingYear",
    "egret.recognition.v1.Honour",
    "egret.activity.v1.Project",
    "egret.reporting.v1.Target",
];

fn rebase(kind: &mut Kind, district_unit: &str) {
    match kind {
        Kind::Honour(honour) => honour.org_unit_id = district_unit.to_string(),
        Kind::Project(project) => project.org_unit_id = district_unit.to_string(),
        _ => {}
    }
}

/// `change` as it comes down to `district` (whose unit's path here is in `district`), or
/// None when it is not for it.
async fn project_downward(
    database: &Database,
    district: &District,
    mut change: pb::Change,
) -> Result<Option<pb::Change>, ApiError> {
    let Some(kind) = change
        .record
        .as_mut()
        .and_then(|record| record.kind.as_mut())
    else {
        return Ok(None);
    };
    match reach(kind) {
        None => Ok(None),
        Some(Reach::Everywhere) => Ok(Some(change)),
        Some(Reach::Unit { id, above }) => {
            if above
                && id != district.org_unit_id
                && district.org_unit_path.contains(&format!("/{id}/"))
            {
                rebase(kind, &district.org_unit_id);
                return Ok(Some(change));
            }
            let within = crate::replica::unit(database.reader(), &id)
                .await?
                .is_some_and(|unit| unit.path.starts_with(&district.org_unit_path));
            Ok(within.then_some(change))
        }
    }
}

/// The server of `egret.sync.v1.DownwardService`, at the upstream.
pub(crate) struct DownwardApi {
    logs: ChangeLogs,
}

impl DownwardApi {
    pub(crate) fn new(logs: ChangeLogs) -> Self {
        Self { logs }
    }
}

#[tonic::async_trait]
impl DownwardService for DownwardApi {
    async fn pull_changes(
        &self,
        request: Request<pb::PullChangesRequest>,
    ) -> Result<Response<pb::PullChangesResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(&[Role::Sync], "pulling changes downward")?;
        let served = self.logs.pick(&request)?;
        let district = crate::upward::calling_district(
            &principal,
            &served,
            ("pulls changes downward", "向下拉取变更"),
        )
        .await?;
        let message = request.get_ref();
        let page = changelog::read_page(
            served.database.reader(),
            message.after_sequence,
            message.page_size,
        )
        .await?;
        let mut changes = Vec::new();
        for entry in &page.entries {
            // Only the upstream's own records, never a district's copy.
            if entry.origin_instance != served.instance_id
                || !DOWNWARD_TYPES.contains(&entry.resource_type.as_str())
            {
                continue;
            }
            let change = crate::wire::change(entry)?;
            if let Some(change) = project_downward(&served.database, &district, change).await? {
                changes.push(change);
            }
        }
        Ok(Response::new(pb::PullChangesResponse {
            changes,
            last_sequence: page.last_sequence,
            head_sequence: page.head_sequence,
            projection: DOWNWARD_PROJECTION.to_string(),
        }))
    }

    async fn get_pull_status(
        &self,
        request: Request<pb::GetPullStatusRequest>,
    ) -> Result<Response<pb::GetPullStatusResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(
            &[Role::Admin, Role::Staff, Role::Viewer, Role::Sync],
            "reading the state of sync links",
        )?;
        let served = self.logs.pick(&request)?;
        let Some(follower) = served.downward else {
            // At a city, or the registry, of which nothing comes down.
            return Err(ApiError::not_found("a feed from an upstream").into());
        };
        let status = follower.status().await?;
        Ok(Response::new(pb::GetPullStatusResponse {
            status: Some(pull_status(&status, egret_types::now_micros())),
        }))
    }
}

/// How long pulls may fail before it is an alarm, as for the push.
const ALARM_AFTER_MICROS: i64 = crate::push::ALARM_AFTER.as_micros() as i64;

/// The wire form of a downward feed's `status` at `now` (microseconds).
fn pull_status(status: &crate::FollowerStatus, now: i64) -> pb::PullStatus {
    let failing_for = (status.failing_since_micros > 0)
        .then(|| now.saturating_sub(status.failing_since_micros).max(0));
    pb::PullStatus {
        applied_sequence: status.applied_sequence,
        head_sequence: status.head_sequence,
        caught_up_time: (status.last_caught_up_micros > 0)
            .then(|| egret_runtime::wire::timestamp(status.last_caught_up_micros)),
        last_error: status.last_error.clone(),
        failing_for: failing_for.map(|micros| prost_types::Duration {
            seconds: micros / 1_000_000,
            nanos: ((micros % 1_000_000) * 1_000) as i32,
        }),
        alarm: failing_for.is_some_and(|micros| micros >= ALARM_AFTER_MICROS),
    }
}

/// The state of a district service's downward feed, read from the service over
/// `DownwardService/GetPullStatus` with the sync role: what the district's gateway shows.
#[derive(Clone)]
pub struct PullWatch {
    service: &'static str,
    client: DownwardServiceClient<
        tonic::service::interceptor::InterceptedService<Channel, egret_runtime::SyncCredentials>,
    >,
    // Set once the service answered that it pulls nothing (the registry): it is not asked
    // again, since that holds for the life of the process.
    pulls_nothing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl PullWatch {
    /// The downward feed of `service` at the other end of `channel`.
    pub fn new(
        service: &'static str,
        channel: Channel,
        credentials: egret_runtime::SyncCredentials,
    ) -> Self {
        Self {
            service,
            client: DownwardServiceClient::with_interceptor(channel, credentials),
            pulls_nothing: std::sync::Arc::default(),
        }
    }

    /// The service.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The feed's state; None where the service pulls nothing.
    pub async fn status(&self) -> Result<Option<pb::PullStatus>, ApiError> {
        use std::sync::atomic::Ordering;
        if self.pulls_nothing.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut request = Request::new(pb::GetPullStatusRequest {});
        request
            .metadata_mut()
            .insert(SERVICE_HEADER, MetadataValue::from_static(self.service));
        request.set_timeout(Duration::from_secs(5));
        match self.client.clone().get_pull_status(request).await {
            Ok(answer) => Ok(answer.into_inner().status),
            Err(status) if status.code() == tonic::Code::NotFound => {
                self.pulls_nothing.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(status) => Err(upstream_error(self.service, &status)),
        }
    }
}

/// The upstream's log of one service, read at its gateway with the district's sync token:
/// the source of a district service's [`FEED`].
#[derive(Clone)]
pub struct UpstreamLog {
    service: &'static str,
    client: DownwardServiceClient<Channel>,
    grants: Grants,
}

impl UpstreamLog {
    /// `service`'s log at the upstream of the district `instance`.
    pub fn new(service: &'static str, instance: &InstanceSettings) -> anyhow::Result<Self> {
        let address =
            egret_runtime::config::parse_service_address("instance.upstream", &instance.upstream)?;
        let channel = egret_runtime::links::endpoint(tonic::transport::Endpoint::from(address))
            .connect_lazy();
        Ok(Self {
            service,
            client: DownwardServiceClient::new(channel),
            grants: Grants::new(instance.clone()),
        })
    }
}

impl ChangeSource for UpstreamLog {
    fn read(
        &self,
        after: i64,
        page_size: i32,
        deadline: Duration,
    ) -> BoxFuture<'_, Result<FeedPage, ApiError>> {
        Box::pin(async move {
            let token = self.grants.token().await.map_err(crate::push::link_error)?;
            let mut request = Request::new(pb::PullChangesRequest {
                after_sequence: after,
                page_size,
            });
            request.set_timeout(deadline);
            let metadata = request.metadata_mut();
            metadata.insert(SERVICE_HEADER, MetadataValue::from_static(self.service));
            metadata.insert(
                "authorization",
                format!("Bearer {token}")
                    .parse()
                    .map_err(|_| ApiError::Internal(anyhow::anyhow!("the token is not ASCII")))?,
            );
            let page = self
                .client
                .clone()
                .pull_changes(request)
                .await
                .map_err(|status| upstream_error(&format!("upstream's {}", self.service), &status))?
                .into_inner();
            if page.projection != DOWNWARD_PROJECTION {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the upstream sends projection {:?}; this instance takes {DOWNWARD_PROJECTION}",
                    page.projection
                )));
            }
            Ok(FeedPage {
                entries: page.changes,
                last_sequence: page.last_sequence,
                head_sequence: page.head_sequence,
            })
        })
    }
}

struct DownwardSink<A> {
    applier: A,
}

impl<A: RecordApplier> ChangeSink for DownwardSink<A> {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            // The copy's change in this log is the upstream's, as it logged it: the
            // pusher leaves it here, and the district's followers take it as any change.
            transaction.set_origin(&entry.origin_instance);
            let upstream = District {
                instance_id: entry.origin_instance.clone(),
                org_unit_id: String::new(),
                org_unit_path: String::new(),
            };
            self.applier.apply(transaction, &upstream, entry).await
        })
    }
}

/// The follower that takes `service`'s records from the upstream into `database`, with
/// `applier` (given the upstream's instance as the `District` the records come from); None
/// unless `instance` is a district.
pub fn follower(
    service: &'static str,
    instance: &InstanceSettings,
    database: Database,
    applier: impl RecordApplier,
    deadline: Duration,
) -> anyhow::Result<Option<Follower>> {
    if instance.tier != InstanceTier::District {
        return Ok(None);
    }
    Ok(Some(
        Follower::new(
            FEED,
            "sync:upstream",
            instance.id.clone(),
            database,
            UpstreamLog::new(service, instance)?,
            DownwardSink { applier },
            deadline,
        )
        // A district may be cut off from the city for days.
        .with_backoff(Duration::from_secs(60)),
    ))
}

/// Writes `copy`, the upstream's record, over the one held here (see
/// [`write_copy`]): a held record of another origin is refused, an as new one skipped.
pub async fn write_downward<T: crate::upward::CopiedRecord>(
    transaction: &mut WriteTx,
    upstream: &District,
    change: &pb::Change,
) -> Result<(), ApiError> {
    let copy: T = crate::upward::serde_form(change)?;
    write_copy(transaction, upstream, change, copy).await
}

/// The refusal of a kind a district's service does not take from the upstream.
pub fn not_taken(change: &pb::Change) -> ApiError {
    ApiError::Unimplemented(egret_runtime::Bilingual::new(
        format!(
            "this instance does not take {} records from its upstream; the feed waits at sequence {}",
            change.resource_type, change.sequence
        ),
        format!(
            "本实例不接收上级实例的 {} 记录，同步停在序号 {}",
            change.resource_type, change.sequence
        ),
    ))
}

/// Starts `downward`, a service's feed from the upstream (at a district), every
/// `interval` until `shutdown`; nothing at an upstream, where the districts' links are
/// watched by the host that serves their logs.
pub fn spawn_tier_tasks(
    downward: Option<&Follower>,
    interval: Duration,
    shutdown: &egret_runtime::CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    downward
        .cloned()
        .map(|follower| follower.spawn(interval, shutdown.clone()))
        .into_iter()
        .collect()
}
