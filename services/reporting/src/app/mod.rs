//! The reporting service's use cases: each checks the caller's roles and subtree (against
//! the replica of the registry's org tree) and reads the replica and rollups.

pub mod annual;
pub mod charts;
pub mod downward;
pub mod exports;
mod records;
pub mod statistics;
pub mod targets;
pub mod upward;

use egret_runtime::{ApiError, Principal};
use egret_storage::Database;
use egret_sync::follower::{Follower, FollowerStatus};
use egret_sync::replica;

use crate::domain::{OrgUnit, names};

/// The reporting service's state, shared by every RPC.
#[derive(Clone)]
pub struct Reporting {
    database: Database,
    followers: Vec<Follower>,
    instance_id: String,
    downward: Option<egret_sync::Follower>,
    settings: std::sync::Arc<crate::config::ReportingSettings>,
}

impl Reporting {
    /// The service over an opened database and its followers, on the instance
    /// `instance_id`, with its `[reporting]` settings.
    pub fn new(
        database: Database,
        followers: Vec<Follower>,
        instance_id: impl Into<String>,
        settings: crate::config::ReportingSettings,
    ) -> Self {
        Self {
            database,
            followers,
            instance_id: instance_id.into(),
            downward: None,
            settings: std::sync::Arc::new(settings),
        }
    }

    async fn begin(&self, principal: &Principal) -> Result<egret_storage::WriteTx, ApiError> {
        self.database
            .begin(&principal.subject, &self.instance_id)
            .await
    }

    /// The database, for tests and tools.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The instance this service runs in.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The service with `downward`, the feed from the upstream (a district's).
    pub fn with_downward(mut self, downward: Option<egret_sync::Follower>) -> Self {
        self.downward = downward;
        self
    }

    /// The feed from the upstream, at a district.
    pub fn downward(&self) -> Option<&egret_sync::Follower> {
        self.downward.as_ref()
    }

    /// The followers of the registry, the activity and the recognition service.
    pub fn followers(&self) -> &[Follower] {
        &self.followers
    }

    /// Applies everything the followed services have committed.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        for follower in &self.followers {
            follower.catch_up().await?;
        }
        Ok(())
    }

    /// How far each feed has come.
    pub async fn feed_status(
        &self,
        principal: &Principal,
    ) -> Result<Vec<FollowerStatus>, ApiError> {
        crate::domain::access::require(principal, crate::domain::access::Action::ReadStatistics)?;
        let mut statuses = Vec::with_capacity(self.followers.len());
        for follower in &self.followers {
            statuses.push(follower.status().await?);
        }
        Ok(statuses)
    }

    /// Follows every feed every `interval` until `shutdown`.
    pub fn spawn_followers(
        &self,
        interval: std::time::Duration,
        shutdown: egret_runtime::CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.followers
            .iter()
            .map(|follower| follower.clone().spawn(interval, shutdown.clone()))
            .collect()
    }

    async fn unit(&self, id: &str) -> Result<Option<OrgUnit>, ApiError> {
        if let Some(unit) = replica::unit(self.database.reader(), id).await? {
            return Ok(Some(unit));
        }
        if let Some(registry) = self.followers.first() {
            registry.catch_up().await?;
        }
        replica::unit(self.database.reader(), id).await
    }

    /// The unit `id` (or the caller's own) if it lies in the caller's subtree; NOT_FOUND
    /// exactly as for an unknown unit otherwise.
    async fn unit_in_scope(
        &self,
        principal: &Principal,
        id: Option<&str>,
    ) -> Result<OrgUnit, ApiError> {
        let Some(root) = self.unit(&principal.org_unit).await? else {
            return Err(ApiError::permission_denied(
                "the org unit in your token does not exist on this instance",
                "令牌中的组织在本实例中不存在",
            ));
        };
        let Some(id) = id else {
            return Ok(root);
        };
        match self.unit(id).await? {
            Some(unit) if unit.path.starts_with(&root.path) => Ok(unit),
            _ => Err(ApiError::not_found(names::org_unit(id))),
        }
    }
}
