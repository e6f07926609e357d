//! Following the registry: the activity service keeps a replica of the org tree, read from
//! the registry's change log over gRPC (never from its database), so that every request
//! can check "is this unit in the caller's subtree" locally.
//!
//! The replica and its checkpoint are written in one transaction, so a crash never loses or
//! doubles an entry; entries apply idempotently (a unit's older version never overwrites a
//! newer one). A background task polls; a request that names a unit the replica does not
//! know yet catches up first, so a unit created a moment ago is found.

use std::time::Duration;

use egret_proto::common::v1::ChangeLogEntry;
use egret_runtime::{ApiError, CancellationToken, SyncCredentials};
use egret_storage::contracts::{MEMBERSHIP_TYPE, ORG_UNIT_TYPE, VOLUNTEER_TYPE, VolunteerPayload};
use egret_storage::feed::{self, ChangeSink, Follower, RegistryLog};
use egret_storage::replica;
use egret_storage::{Database, WriteTx};
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
        entry: &'a ChangeLogEntry,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match entry.resource_type.as_str() {
                ORG_UNIT_TYPE => replica::apply_unit(transaction, entry).await,
                VOLUNTEER_TYPE => {
                    let volunteer: VolunteerPayload = feed::payload(entry)?;
                    let volunteer = Volunteer {
                        status: volunteer
                            .status_number()
                            .map_err(|error| feed::corrupt(entry, error))?,
                        birth_date: CivilDate::parse_iso(&volunteer.birth_date).ok_or_else(
                            || {
                                feed::corrupt(
                                    entry,
                                    format!("birth date {:?}", volunteer.birth_date),
                                )
                            },
                        )?,
                        id: volunteer.id,
                        display_name: volunteer.display_name,
                        registering_org_unit_id: volunteer.registering_org_unit_id,
                        version: volunteer.meta.version,
                    };
                    store::volunteers::upsert(transaction.conn(), &volunteer).await
                }
                MEMBERSHIP_TYPE => replica::apply_membership(transaction, entry).await,
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
            RegistryLog::new(channel, credentials),
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
