//! The recognition service's use cases: each checks the caller's roles and subtree (against
//! the replica of the registry's org tree), applies the domain rules and writes through
//! one transaction.

pub mod certificates;
pub mod commendations;
pub mod downward;
mod records;
pub mod rewards;
pub mod rules;
pub mod stars;
mod team_stars;
pub mod upward;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use egret_runtime::{ApiError, Principal};
use egret_storage::{Database, WriteTx};
use egret_sync::follower::Follower;
use egret_sync::replica;

use crate::config::RecognitionSettings;
use crate::domain::access;
use crate::domain::{OrgUnit, Volunteer, names, subtree_bounds};

pub use rules::seed_built_in_rule_sets;
pub use stars::StarQuery;

/// The recognition service's state, shared by every RPC.
#[derive(Clone)]
pub struct Recognition {
    database: Database,
    registry: Follower,
    activity: Follower,
    reporting: Follower,
    instance_id: String,
    downward: Option<egret_sync::Follower>,
    settings: Arc<RecognitionSettings>,
    certificate_key: Arc<SigningKey>,
}

/// The part of the tree a principal acts in.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The principal's org unit.
    pub root: OrgUnit,
}

impl Scope {
    /// `[low, high)` of the subtree's paths.
    pub fn bounds(&self) -> (String, String) {
        subtree_bounds(&self.root.path)
    }

    /// Whether a unit lies in the subtree.
    pub fn contains(&self, unit: &OrgUnit) -> bool {
        unit.path.starts_with(&self.root.path)
    }
}

impl Recognition {
    /// The service over an opened database and followers of the registry, the activity
    /// service and the reporting service.
    pub fn new(
        database: Database,
        [registry, activity, reporting]: [Follower; 3],
        instance_id: impl Into<String>,
        settings: RecognitionSettings,
        certificate_key: SigningKey,
    ) -> Self {
        Self {
            database,
            registry,
            activity,
            reporting,
            instance_id: instance_id.into(),
            downward: None,
            settings: Arc::new(settings),
            certificate_key: Arc::new(certificate_key),
        }
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

    /// The followers of the registry, the activity service and the reporting service.
    pub fn followers(&self) -> [&Follower; 3] {
        [&self.registry, &self.activity, &self.reporting]
    }

    /// Applies everything the registry and the activity service have committed: before a
    /// decision that counts hours, so that an hour approved a moment ago counts.
    pub async fn catch_up(&self) -> Result<(), ApiError> {
        self.registry.catch_up().await?;
        self.activity.catch_up().await
    }

    async fn unit(&self, id: &str) -> Result<Option<OrgUnit>, ApiError> {
        if let Some(unit) = replica::unit(self.database.reader(), id).await? {
            return Ok(Some(unit));
        }
        self.registry.catch_up().await?;
        replica::unit(self.database.reader(), id).await
    }

    async fn scope(&self, principal: &Principal) -> Result<Scope, ApiError> {
        match self.unit(&principal.org_unit).await? {
            Some(root) => Ok(Scope { root }),
            None => Err(ApiError::permission_denied(
                "the org unit in your token does not exist on this instance",
                "令牌中的组织在本实例中不存在",
            )),
        }
    }

    /// A unit the caller may see, or NOT_FOUND exactly as for a unit that does not exist.
    async fn visible_unit(&self, scope: &Scope, id: &str) -> Result<OrgUnit, ApiError> {
        match self.unit(id).await? {
            Some(unit) if scope.contains(&unit) => Ok(unit),
            _ => Err(ApiError::not_found(names::org_unit(id))),
        }
    }

    /// The unit `id` if given, else the caller's own; either must be in the subtree.
    async fn unit_or_own(&self, scope: &Scope, id: Option<&str>) -> Result<OrgUnit, ApiError> {
        match id {
            Some(id) => self.visible_unit(scope, id).await,
            None => Ok(scope.root.clone()),
        }
    }

    /// The volunteer `id` if the caller may act for it: the volunteer itself, or one
    /// serving in the caller's subtree. NOT_FOUND otherwise, exactly as for an unknown
    /// volunteer, so ids of other districts reveal nothing.
    async fn volunteer_for(
        &self,
        principal: &Principal,
        scope: &Scope,
        id: &str,
    ) -> Result<Volunteer, ApiError> {
        let not_found = || ApiError::not_found(names::volunteer(id));
        let mut found = crate::store::replica::volunteer(self.database.reader(), id).await?;
        if found.is_none() {
            self.registry.catch_up().await?;
            found = crate::store::replica::volunteer(self.database.reader(), id).await?;
        }
        let volunteer = found.ok_or_else(not_found)?;
        if access::is_self(principal, id) {
            return Ok(volunteer);
        }
        let (low, high) = scope.bounds();
        if !replica::serves_in(self.database.reader(), id, (&low, &high)).await? {
            return Err(not_found());
        }
        Ok(volunteer)
    }

    async fn begin(&self, principal: &Principal) -> Result<WriteTx, ApiError> {
        self.database
            .begin(&principal.subject, &self.instance_id)
            .await
    }
}

impl Recognition {
    /// A unit's name as replicated ('' when the replica does not know it).
    pub async fn unit_display_name(&self, id: &str) -> Result<String, ApiError> {
        Ok(replica::unit(self.database.reader(), id)
            .await?
            .map(|unit| unit.display_name)
            .unwrap_or_default())
    }

    /// A volunteer's name as replicated ('' when the replica does not know it).
    pub async fn volunteer_display_name(&self, volunteer_id: &str) -> Result<String, ApiError> {
        Ok(
            crate::store::replica::volunteer(self.database.reader(), volunteer_id)
                .await?
                .map(|volunteer| volunteer.display_name)
                .unwrap_or_default(),
        )
    }
}
