//! Following the registry: the activity service keeps a replica of the org tree, read from
//! the registry's change log over gRPC (never from its database), so that every request
//! can check "is this unit in the caller's subtree" locally.
//!
//! The replica and its checkpoint are written in one transaction, so a crash never loses or
//! doubles an entry; entries apply idempotently (a unit's older version never overwrites a
//! newer one). A background task polls; a request that names a unit the replica does not
//! know yet catches up first, so a unit created a moment ago is found.

use std::time::Duration;

use egret_proto::sync::v1::Change;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::{ApiError, CancellationToken, SyncCredentials};
use egret_storage::{Database, WriteTx};
use egret_sync::follower::{self, ChangeSink, Follower, ServiceLog};
use egret_sync::replica;
use egret_types::CivilDate;
use futures::future::BoxFuture;
use tonic::transport::Channel;

use crate::domain::OrgUnit;
use crate::domain::sign_up::Volunteer;
use crate::store;

/// Writes the registry's org units, volunteers and memberships into the replica.
struct ReplicaSink;

impl ChangeSink for ReplicaSink {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        change: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(change)? {
                Kind::OrgUnit(unit) => replica::apply_unit(transaction, change, &unit).await,
                Kind::Volunteer(volunteer) => {
                    let corrupt = |error| follower::corrupt(change, error);
                    let volunteer = Volunteer {
                        status: replica::volunteer_status_number(&volunteer.status)
                            .map_err(corrupt)?,
                        birth_date: CivilDate::parse_iso(&volunteer.birth_date).ok_or_else(
                            || corrupt(format!("birth date {:?}", volunteer.birth_date)),
                        )?,
                        id: volunteer.id.clone(),
                        display_name: volunteer.display_name.clone(),
                        registering_org_unit_id: volunteer.registering_org_unit_id.clone(),
                        version: replica::version(volunteer.meta.as_ref()),
                    };
                    store::volunteers::upsert(transaction.conn(), &volunteer).await
                }
                Kind::Membership(membership) => {
                    replica::apply_membership(transaction, &membership).await
                }
                _ => Ok(()),
            }
        })
    }
}

/// The follower of the registry's change log.
#[derive(Clone)]
pub struct RegistryFeed {
    database: Database,
    follower: Follower,
}

impl RegistryFeed {
    /// A feed over `channel` (the registry's address), writing into `database`.
    pub fn new(
        database: Database,
        channel: Channel,
        credentials: SyncCredentials,
        deadline: Duration,
    ) -> Self {
        // The replica creates no records of its own, so no origin is stamped.
        let follower = Follower::new(
            "registry",
            "egret-activity",
            "",
            database.clone(),
            ServiceLog::new("registry", channel, credentials),
            ReplicaSink,
            deadline,
        );
        Self { database, follower }
    }

    /// Applies every registry change committed so far.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        self.follower.catch_up().await
    }

    /// The replicated unit `id`, catching up with the registry once when it is not known
    /// yet.
    pub async fn unit(&self, id: &str) -> Result<Option<OrgUnit>, ApiError> {
        if let Some(unit) = replica::unit(self.database.reader(), id).await? {
            return Ok(Some(unit));
        }
        self.catch_up().await?;
        replica::unit(self.database.reader(), id).await
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
        self.follower.spawn(interval, shutdown)
    }
}
