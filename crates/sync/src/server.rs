//! The servers of the sync contract, once per host: `egret.sync.v1.ChangeLogService`
//! reads the log of whichever service of the host the call names, and
//! `egret.sync.v1.UpwardService` applies a district's batch to it, and
//! `egret.sync.v1.DownwardService` serves a district what comes down to it.
//!
//! A host may serve several services (`egret up` serves all four on one listener), and a
//! gRPC service name can be served only once per host, so the one server holds every
//! served service's database and picks by the `egret-service` request header.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::change_log_service_server::{ChangeLogService, ChangeLogServiceServer};
use egret_proto::sync::v1::downward_service_server::DownwardServiceServer;
use egret_proto::sync::v1::upward_service_server::UpwardServiceServer;
use egret_runtime::config::UpwardProjection;
use egret_runtime::{ApiError, Principal, Role, ServiceHost};
use egret_storage::{Database, changelog};
use tonic::{Request, Response, Status};

use crate::downward::DownwardApi;
use crate::upward::{RecordApplier, UpwardApi};
use crate::wire;

/// The request header naming the service whose log a call reads.
pub const SERVICE_HEADER: &str = "egret-service";

/// One service's log and what applies a district's records to it.
#[derive(Clone)]
pub(crate) struct ServedLog {
    pub(crate) database: Database,
    pub(crate) applier: Arc<dyn RecordApplier>,
    /// This instance's id: the origin of its own records.
    pub(crate) instance_id: String,
    pub(crate) tallies: crate::tally::TallyCache,
    /// At a district, the feed of what comes down from the upstream.
    pub(crate) downward: Option<crate::Follower>,
}

/// The change logs served on one host, by service name.
#[derive(Clone, Default)]
pub struct ChangeLogs {
    logs: Arc<RwLock<BTreeMap<&'static str, ServedLog>>>,
}

impl ChangeLogs {
    /// Each served service's database, by name.
    pub(crate) fn databases(&self) -> Vec<(&'static str, Database)> {
        self.logs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(service, served)| (*service, served.database.clone()))
            .collect()
    }

    /// The log of the service a request names; with no name, the only one served.
    pub(crate) fn pick<T>(&self, request: &Request<T>) -> Result<ServedLog, ApiError> {
        let logs = self
            .logs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let named = request
            .metadata()
            .get(SERVICE_HEADER)
            .map(|value| value.to_str().unwrap_or_default().trim());
        let database = match named {
            Some(name) => logs.get(name),
            None if logs.len() == 1 => logs.values().next(),
            None => None,
        };
        database.cloned().ok_or_else(|| {
            let served = logs.keys().copied().collect::<Vec<_>>().join(", ");
            ApiError::invalid(
                SERVICE_HEADER,
                format!(
                    "must name the service whose change log to read; this address serves {served}"
                ),
                format!(
                    "请求头 {SERVICE_HEADER} 须指明要读取哪个服务的变更日志，本地址提供：{served}"
                ),
            )
        })
    }
}

/// Serves `database`'s change log as `service`'s on `host` of the instance `instance_id`,
/// with `applier` applying the records districts push to it, and the upstream's side of
/// the downward link; at a district, `downward` is the service's feed from the upstream,
/// whose state `DownwardService/GetPullStatus` reports.
pub fn serve_change_log(
    host: &mut ServiceHost,
    service: &'static str,
    instance_id: &str,
    database: Database,
    applier: impl RecordApplier,
    downward: Option<crate::Follower>,
) {
    let logs = host.shared(|host| {
        host.gate("egret.sync.v1", gate);
        let logs = ChangeLogs::default();
        host.add_service(ChangeLogServiceServer::new(ChangeLogApi {
            logs: logs.clone(),
        }));
        host.add_service(UpwardServiceServer::new(UpwardApi::new(logs.clone())));
        host.add_service(DownwardServiceServer::new(DownwardApi::new(logs.clone())));
        let watched = logs.clone();
        let health = host.health_reporter();
        host.spawn_while_serving(move |shutdown| {
            crate::upward::spawn_link_watch(watched, health, shutdown)
        });
        logs
    });
    logs.logs
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(
            service,
            ServedLog {
                database,
                applier: Arc::new(applier),
                instance_id: instance_id.to_string(),
                tallies: crate::tally::TallyCache::default(),
                downward,
            },
        );
}

/// Only the sync role reaches the sync contract, but for the state of the links, which
/// staff read; the servers check more (whose token it is) once they know which log is
/// asked for.
fn gate(method: &str) -> Option<egret_runtime::Gate> {
    if method == "DownwardService/GetPullStatus" {
        return Some(egret_runtime::Gate {
            roles: &[Role::Admin, Role::Staff, Role::Viewer, Role::Sync],
            volunteer_for_itself: false,
            action: "reading the state of sync links",
        });
    }
    if method == "UpwardService/ListUpstreamLinks" {
        return Some(egret_runtime::Gate {
            roles: &[Role::Admin, Role::Staff, Role::Viewer],
            volunteer_for_itself: false,
            action: "reading the state of sync links",
        });
    }
    Some(egret_runtime::Gate {
        roles: &[Role::Sync],
        volunteer_for_itself: false,
        action: "syncing change logs",
    })
}

struct ChangeLogApi {
    logs: ChangeLogs,
}

#[tonic::async_trait]
impl ChangeLogService for ChangeLogApi {
    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(&[Role::Sync], "reading the change log")?;
        let served = self.logs.pick(&request)?;
        let database = served.database.clone();
        // A whole log is for the instance's own services and operators, never a district's
        // link, whose token is for its own subtree.
        if crate::upward::district_of(&principal).is_some() {
            return Err(ApiError::permission_denied(
                "a district's sync token cannot read a whole change log",
                "区级实例的同步令牌不能读取整个变更日志",
            )
            .into());
        }
        let message = request.get_ref();
        let full = match message.projection.as_str() {
            "" => false,
            name => match UpwardProjection::parse(name) {
                Some(projection) => projection == UpwardProjection::Full,
                None => {
                    return Err(ApiError::invalid(
                        "projection",
                        format!("{name:?} is not a projection: use minimal/v1 or full/v1"),
                        format!("{name:?} 不是可用的投影：请使用 minimal/v1 或 full/v1"),
                    )
                    .into());
                }
            },
        };
        let page =
            changelog::read_page(database.reader(), message.after_sequence, message.page_size)
                .await?;
        let mut changes = page
            .entries
            .iter()
            .map(wire::change)
            .collect::<Result<Vec<_>, _>>()?;
        if full {
            served
                .applier
                .disclose(&database, &principal, &mut changes)
                .await?;
        }
        Ok(Response::new(pb::ListChangesResponse {
            changes,
            last_sequence: page.last_sequence,
            head_sequence: page.head_sequence,
        }))
    }

    async fn tally_records(
        &self,
        request: Request<pb::TallyRecordsRequest>,
    ) -> Result<Response<pb::TallyRecordsResponse>, Status> {
        let principal = Principal::of(&request)?;
        principal.require_any(&[Role::Sync], "counting records")?;
        if crate::upward::district_of(&principal).is_some() {
            return Err(ApiError::permission_denied(
                "a district's sync token cannot count an instance's records",
                "区级实例的同步令牌不能统计本实例的记录",
            )
            .into());
        }
        let served = self.logs.pick(&request)?;
        if let Some(tally) = served.tallies.fresh() {
            return Ok(Response::new(pb::TallyRecordsResponse {
                tally: Some(tally),
            }));
        }
        let tally = crate::tally::own_tally(
            &served.database,
            served.applier.tallied(),
            &served.instance_id,
        )
        .await?
        .ok_or_else(|| {
            ApiError::Unavailable(egret_runtime::Bilingual::new(
                "writes kept moving the log's head while counting; try again",
                "统计期间日志持续写入，请稍后重试",
            ))
        })?;
        served.tallies.keep(&tally);
        Ok(Response::new(pb::TallyRecordsResponse {
            tally: Some(tally),
        }))
    }
}
