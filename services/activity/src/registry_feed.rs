//! Following the registry: the activity service keeps a replica of the org tree, read from
//! the registry's change log over gRPC (never from its database), so that every request
//! can check "is this unit in the caller's subtree" locally.
//!
//! The replica and its checkpoint are written in one transaction, so a crash never loses or
//! doubles an entry; entries apply idempotently (a unit's older version never overwrites a
//! newer one). A background task polls; a request that names a unit the replica does not
//! know yet catches up first, so a unit created a moment ago is found.

use std::sync::Arc;
use std::time::Duration;

use egret_proto::registry::v1::ListChangeLogEntriesRequest;
use egret_proto::registry::v1::registry_records_service_client::RegistryRecordsServiceClient;
use egret_runtime::{ApiError, CancellationToken, Principal, Role, TokenIssuer};
use egret_storage::Database;
use serde::Deserialize;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use egret_types::CivilDate;

use crate::domain::OrgUnit;
use crate::domain::sign_up::{Volunteer, VolunteerMembership};
use crate::store;

/// The feed's name in the checkpoint table.
const FEED: &str = "registry";
/// The registry's resource type of org units in its change log.
const ORG_UNIT_TYPE: &str = "egret.registry.v1.OrgUnit";
/// The registry's resource type of volunteers in its change log.
const VOLUNTEER_TYPE: &str = "egret.registry.v1.Volunteer";
/// The registry's resource type of memberships in its change log.
const MEMBERSHIP_TYPE: &str = "egret.registry.v1.Membership";
/// How many entries one call reads.
const PAGE_SIZE: i32 = 500;

/// Signs a short-lived sync token for every call and passes the trace context on.
#[derive(Clone)]
pub struct SyncCredentials {
    issuer: Arc<TokenIssuer>,
}

impl SyncCredentials {
    /// Credentials signed by the instance's key.
    pub fn new(issuer: TokenIssuer) -> Self {
        Self {
            issuer: Arc::new(issuer),
        }
    }
}

impl Interceptor for SyncCredentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let principal = Principal {
            subject: "egret-activity".to_string(),
            org_unit: String::new(),
            roles: [Role::Sync].into_iter().collect(),
            volunteer: None,
        };
        let token = self.issuer.issue(&principal, Duration::from_secs(300));
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::internal("token is not ASCII"))?;
        request.metadata_mut().insert("authorization", value);
        egret_runtime::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}

/// The registry's org-unit payload, as its change log carries it.
#[derive(Debug, Deserialize)]
struct OrgUnitPayload {
    id: String,
    parent_id: Option<String>,
    path: String,
    tier: String,
    display_name: String,
    status: String,
    meta: PayloadMeta,
}

#[derive(Debug, Deserialize)]
struct PayloadMeta {
    version: i64,
}

impl OrgUnitPayload {
    fn into_unit(self) -> Result<OrgUnit, String> {
        let tier = match self.tier.as_str() {
            "corps" => 1,
            "team" => 2,
            "sub_team" => 3,
            "squad" => 4,
            other => return Err(format!("unknown tier {other:?}")),
        };
        let status = match self.status.as_str() {
            "active" => 1,
            "suspended" => 2,
            "dissolved" => 3,
            "merged" => 4,
            other => return Err(format!("unknown status {other:?}")),
        };
        Ok(OrgUnit {
            id: self.id,
            parent_id: self.parent_id,
            path: self.path,
            tier,
            display_name: self.display_name,
            status,
            version: self.meta.version,
        })
    }
}

/// The registry's volunteer payload: only what recruitment needs is read (the payload
/// carries no plaintext personal data anyway).
#[derive(Debug, Deserialize)]
struct VolunteerPayload {
    id: String,
    display_name: String,
    birth_date: String,
    status: String,
    registering_org_unit_id: String,
    meta: PayloadMeta,
}

/// The registry's membership payload.
#[derive(Debug, Deserialize)]
struct MembershipPayload {
    id: String,
    volunteer_id: String,
    org_unit_id: String,
    state: String,
    meta: PayloadMeta,
}

impl VolunteerPayload {
    fn into_volunteer(self) -> Result<Volunteer, String> {
        let status = match self.status.as_str() {
            "active" => 1,
            "inactive" => 2,
            "withdrawn" => 3,
            other => return Err(format!("unknown status {other:?}")),
        };
        Ok(Volunteer {
            id: self.id,
            display_name: self.display_name,
            birth_date: CivilDate::parse_iso(&self.birth_date)
                .ok_or_else(|| format!("birth date {:?}", self.birth_date))?,
            status,
            registering_org_unit_id: self.registering_org_unit_id,
            version: self.meta.version,
        })
    }
}

fn registry_error(status: tonic::Status) -> ApiError {
    match status.code() {
        tonic::Code::Unavailable | tonic::Code::Unknown => {
            ApiError::Unavailable(format!("the registry is unreachable: {}", status.message()))
        }
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => {
            ApiError::DeadlineExceeded("the registry did not answer in time".to_string())
        }
        code => ApiError::Internal(anyhow::anyhow!(
            "reading the registry's change log: {code:?} {}",
            status.message()
        )),
    }
}

/// The follower of the registry's change log.
#[derive(Clone)]
pub struct RegistryFeed {
    database: Database,
    client: RegistryRecordsServiceClient<InterceptedService<Channel, SyncCredentials>>,
    deadline: Duration,
    // One catch-up at a time in this process: concurrent ones would only race for the
    // checkpoint.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl RegistryFeed {
    /// A feed over `channel` (the registry's address), writing into `database`.
    pub fn new(
        database: Database,
        channel: Channel,
        credentials: SyncCredentials,
        deadline: Duration,
    ) -> Self {
        Self {
            database,
            client: RegistryRecordsServiceClient::with_interceptor(channel, credentials),
            deadline,
            running: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Applies every registry change committed so far.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        let _running = self.running.lock().await;
        loop {
            let after = store::org::checkpoint(self.database.reader(), FEED).await?;
            let mut request = tonic::Request::new(ListChangeLogEntriesRequest {
                after_sequence: after,
                page_size: PAGE_SIZE,
            });
            // The registry gets what is left of the caller's own deadline, at most ours.
            request.set_timeout(egret_runtime::server::outgoing_deadline(self.deadline));
            let page = self
                .client
                .clone()
                .list_change_log_entries(request)
                .await
                .map_err(registry_error)?
                .into_inner();
            if page.entries.is_empty() {
                return Ok(());
            }
            let mut transaction = self.database.begin("egret-activity", "").await?;
            for entry in &page.entries {
                let corrupt = |error: String| {
                    ApiError::Internal(anyhow::anyhow!(
                        "registry change {} does not parse: {error}",
                        entry.sequence
                    ))
                };
                match entry.resource_type.as_str() {
                    ORG_UNIT_TYPE => {
                        let unit = serde_json::from_str::<OrgUnitPayload>(&entry.payload_json)
                            .map_err(|error| error.to_string())
                            .and_then(OrgUnitPayload::into_unit)
                            .map_err(corrupt)?;
                        store::org::upsert(transaction.conn(), &unit).await?;
                    }
                    VOLUNTEER_TYPE => {
                        let volunteer =
                            serde_json::from_str::<VolunteerPayload>(&entry.payload_json)
                                .map_err(|error| error.to_string())
                                .and_then(VolunteerPayload::into_volunteer)
                                .map_err(corrupt)?;
                        store::volunteers::upsert(transaction.conn(), &volunteer).await?;
                    }
                    MEMBERSHIP_TYPE => {
                        let membership =
                            serde_json::from_str::<MembershipPayload>(&entry.payload_json)
                                .map_err(|error| corrupt(error.to_string()))?;
                        store::volunteers::upsert_membership(
                            transaction.conn(),
                            &VolunteerMembership {
                                id: membership.id,
                                volunteer_id: membership.volunteer_id,
                                org_unit_id: membership.org_unit_id,
                                active: membership.state == "active",
                                version: membership.meta.version,
                            },
                        )
                        .await?;
                    }
                    _ => {}
                }
            }
            if !store::org::advance_checkpoint(transaction.conn(), FEED, after, page.last_sequence)
                .await?
            {
                // Another process applied these first; start again from its checkpoint.
                continue;
            }
            transaction.commit().await?;
            tracing::debug!(
                last_sequence = page.last_sequence,
                head = page.head_sequence,
                "applied registry changes"
            );
            if page.last_sequence >= page.head_sequence {
                return Ok(());
            }
        }
    }

    /// The replicated unit `id`, catching up with the registry once when it is not known
    /// yet.
    pub async fn unit(&self, id: &str) -> Result<Option<OrgUnit>, ApiError> {
        if let Some(unit) = store::org::get(self.database.reader(), id).await? {
            return Ok(Some(unit));
        }
        self.catch_up().await?;
        store::org::get(self.database.reader(), id).await
    }

    /// The replicated volunteer `id` as of now: the replica catches up with the registry
    /// first, so a volunteer deactivated a moment ago is seen as such, and an unreachable
    /// registry answers UNAVAILABLE rather than a stale yes.
    pub async fn current_volunteer(&self, id: &str) -> Result<Option<Volunteer>, ApiError> {
        self.catch_up().await?;
        store::volunteers::get(self.database.reader(), id).await
    }

    /// Polls the registry every `interval` until `shutdown`.
    pub fn spawn(
        self,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.catch_up().await {
                    tracing::warn!(%error, "following the registry failed; retrying");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}
