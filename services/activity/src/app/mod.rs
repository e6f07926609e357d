//! The activity service's use cases: each checks the caller's roles and subtree (against
//! the replica of the registry's org tree), applies the domain rules and writes through
//! one transaction.

mod activities;
mod attendance;
pub mod downward;
mod evaluations;
mod insurance;
mod projects;
mod records;
mod service_records;
mod sign_ups;
mod training;
pub mod upward;

use egret_runtime::keys::PersonalDataCipher;
use egret_runtime::{ApiError, Principal};
use egret_storage::{Database, WriteTx};
use egret_types::Meta;

pub use activities::{ACTIVITY_SORT_FIELDS, ActivityPatch, ActivityQuery};
pub use attendance::DevicePosition;
pub use evaluations::{NewEvaluation, SummaryOf};
pub use projects::{PROJECT_SORT_FIELDS, ProjectPatch, ProjectQuery};
pub use service_records::{ImportRow, RecordQuery};
pub use sign_ups::SignUpQuery;
pub use training::CourseFields;

use crate::domain::access;
use crate::domain::{OrgUnit, names, subtree_bounds};
use crate::registry_feed::RegistryFeed;

/// The activity service's state, shared by every RPC.
#[derive(Clone)]
pub struct Activity {
    database: Database,
    feed: RegistryFeed,
    instance_id: String,
    downward: Option<egret_sync::Follower>,
    cipher: PersonalDataCipher,
    max_check_ins_per_day: u32,
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

impl Activity {
    /// The service over an opened database and a feed of the registry.
    pub fn new(
        database: Database,
        feed: RegistryFeed,
        instance_id: impl Into<String>,
        cipher: PersonalDataCipher,
        max_check_ins_per_day: u32,
    ) -> Self {
        Self {
            database,
            feed,
            instance_id: instance_id.into(),
            downward: None,
            cipher,
            max_check_ins_per_day,
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

    /// The registry feed.
    pub fn feed(&self) -> &RegistryFeed {
        &self.feed
    }

    async fn scope(&self, principal: &Principal) -> Result<Scope, ApiError> {
        match self.feed.unit(&principal.org_unit).await? {
            Some(root) => Ok(Scope { root }),
            None => Err(ApiError::permission_denied(
                "the org unit in your token does not exist on this instance",
                "令牌中的组织在本实例中不存在",
            )),
        }
    }

    /// A unit the caller may see, or NOT_FOUND exactly as for a unit that does not exist.
    async fn visible_unit(&self, scope: &Scope, id: &str) -> Result<OrgUnit, ApiError> {
        match self.feed.unit(id).await? {
            Some(unit) if scope.contains(&unit) => Ok(unit),
            _ => Err(ApiError::not_found(names::org_unit(id))),
        }
    }

    /// Like [`visible_unit`](Self::visible_unit), after catching up with the registry:
    /// for writes, so that a unit suspended a moment ago takes nothing new.
    async fn current_unit(&self, scope: &Scope, id: &str) -> Result<OrgUnit, ApiError> {
        self.feed.catch_up().await?;
        self.visible_unit(scope, id).await
    }

    /// The volunteer `id`, current as of now, if the caller may act for it: the volunteer
    /// itself, or one serving in the caller's subtree. NOT_FOUND otherwise, exactly as for
    /// an unknown volunteer, so ids of other districts reveal nothing.
    async fn volunteer_for(
        &self,
        principal: &Principal,
        scope: &Scope,
        id: &str,
    ) -> Result<crate::domain::sign_up::Volunteer, ApiError> {
        let not_found = || ApiError::not_found(names::volunteer(id));
        let volunteer = self
            .feed
            .current_volunteer(id)
            .await?
            .ok_or_else(not_found)?;
        if access::is_self(principal, id) {
            return Ok(volunteer);
        }
        let (low, high) = scope.bounds();
        if !crate::store::volunteers::serves_in(self.database.reader(), id, (&low, &high)).await? {
            return Err(not_found());
        }
        Ok(volunteer)
    }

    fn ensure_origin(&self, meta: &Meta, resource: &str) -> Result<(), ApiError> {
        egret_storage::ensure_origin(meta, &self.instance_id, resource)
    }

    async fn begin(&self, principal: &Principal) -> Result<WriteTx, ApiError> {
        self.database
            .begin(&principal.subject, &self.instance_id)
            .await
    }
}
