//! The change-log server: `egret.sync.v1.ChangeLogService`, once per host, reading the log
//! of whichever service of the host the call names.
//!
//! A host may serve several services (`egret up` serves all four on one listener), and a
//! gRPC service name can be served only once per host, so the one server holds every
//! served service's database and picks by the `egret-service` request header.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::change_log_service_server::{ChangeLogService, ChangeLogServiceServer};
use egret_runtime::{ApiError, Principal, Role, ServiceHost};
use egret_storage::{Database, changelog};
use tonic::{Request, Response, Status};

use crate::wire;

/// The request header naming the service whose log a call reads.
pub const SERVICE_HEADER: &str = "egret-service";

/// The change logs served on one host, by service name.
#[derive(Clone, Default)]
pub struct ChangeLogs {
    logs: Arc<RwLock<BTreeMap<&'static str, Database>>>,
}

impl ChangeLogs {
    /// The database of the service a request names; with no name, the only one served.
    fn pick<T>(&self, request: &Request<T>) -> Result<Database, ApiError> {
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

/// Serves `database`'s change log as `service`'s on `host`.
pub fn serve_change_log(host: &mut ServiceHost, service: &'static str, database: Database) {
    let logs = host.shared(|host| {
        let logs = ChangeLogs::default();
        host.add_service(ChangeLogServiceServer::new(ChangeLogApi {
            logs: logs.clone(),
        }));
        logs
    });
    logs.logs
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(service, database);
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
        // A whole log is for the instance's own services, whose sync tokens name no unit;
        // a district's sync token is for its own subtree.
        if !principal.org_unit.is_empty() {
            return Err(ApiError::permission_denied(
                "a sync token for one unit's subtree cannot read a whole change log",
                "仅限某一组织范围的同步令牌不能读取整个变更日志",
            )
            .into());
        }
        let database = self.logs.pick(&request)?;
        let message = request.get_ref();
        let page =
            changelog::read_page(database.reader(), message.after_sequence, message.page_size)
                .await?;
        let changes = page
            .entries
            .iter()
            .map(wire::change)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(pb::ListChangesResponse {
            changes,
            last_sequence: page.last_sequence,
            head_sequence: page.head_sequence,
        }))
    }
}
