//! The registry's use cases: each loads what it needs, checks the caller's roles and
//! subtree, applies the domain rules and writes through one transaction.

mod members;
mod org;
mod records;
pub mod upward;
mod volunteers;

use egret_runtime::keys::PersonalDataCipher;
use egret_runtime::{ApiError, Principal};
use egret_storage::{Database, Operation, WriteTx};
use egret_sync::RecordChanges;

pub use members::{MembershipQuery, NewJoinApplication};
pub use org::{FormPatch, FormView, ORG_SORT_FIELDS, OrgPatch, OrgQuery};
pub use volunteers::{
    Joining, VOLUNTEER_SORT_FIELDS, VolunteerPatch, VolunteerQuery, VolunteerView,
};

use crate::config::Schemes;
use crate::domain::org::{in_subtree, subtree_bounds};
use crate::domain::{Meta, OrgUnit, names, payload};
use crate::store;

/// The corps is the city's: its level is municipal (wire number of TEAM_LEVEL_MUNICIPAL).
const MUNICIPAL_LEVEL: i32 = 3;

/// The registry service's state, shared by every RPC.
#[derive(Debug, Clone)]
pub struct Registry {
    database: Database,
    cipher: PersonalDataCipher,
    instance_id: String,
    schemes: Schemes,
    /// `registry.list_probe_limit`: where volunteer listings switch plans.
    list_probe_limit: i64,
    /// Whether this instance sends full records upward (`instance.upward_projection`).
    sends_full: bool,
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
        in_subtree(&unit.path, &self.root.path)
    }
}

impl Registry {
    /// The registry over an opened database.
    pub fn new(
        database: Database,
        cipher: PersonalDataCipher,
        instance_id: impl Into<String>,
        schemes: Schemes,
        list_probe_limit: i64,
    ) -> Self {
        Self {
            database,
            cipher,
            instance_id: instance_id.into(),
            schemes,
            list_probe_limit,
            sends_full: false,
        }
    }

    /// The registry, sending full records upward when `projection` says so.
    pub fn with_upward_projection(
        mut self,
        projection: egret_runtime::config::UpwardProjection,
    ) -> Self {
        self.sends_full = projection == egret_runtime::config::UpwardProjection::Full;
        self
    }

    /// What applies a district's records here, and discloses this instance's own to its
    /// upward link.
    pub fn upward_applier(&self) -> upward::RegistryApplier {
        upward::RegistryApplier {
            cipher: self.cipher.clone(),
            sends_full: self.sends_full,
        }
    }

    /// The database, for tests and tools.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The instance this registry serves.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Creates the root org unit on first start; returns the root either way.
    pub async fn ensure_root(&self, display_name: &str) -> Result<OrgUnit, ApiError> {
        if let Some(root) = store::org::get_root(self.database.reader()).await? {
            return Ok(root);
        }
        let mut transaction = self.database.begin("egret", &self.instance_id).await?;
        // Another process may have created it between the read and the write.
        if let Some(root) = store::org::get_root(transaction.conn()).await? {
            return Ok(root);
        }
        let id = egret_storage::new_id();
        let root = OrgUnit {
            path: format!("/{id}/"),
            id,
            parent_id: None,
            tier: crate::domain::Tier::Corps,
            display_name: display_name.to_string(),
            level: MUNICIPAL_LEVEL,
            categories: vec![],
            service_fields: vec![],
            service_themes: vec![],
            status: crate::domain::OrgStatus::Active,
            merged_into: None,
            meta: transaction.new_meta(),
        };
        let inserted = store::org::insert_org_unit(transaction.conn(), &root).await;
        if let Err(ApiError::AlreadyExists { .. }) = inserted {
            // Another process created the root first: use that one.
            drop(transaction);
            return store::org::get_root(self.database.reader())
                .await?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the root org unit vanished")));
        }
        inserted?;
        transaction.record_diff(
            "egret.registry.v1.OrgUnit",
            names::org_unit(&root.id),
            Operation::Create,
            None,
            payload::org_unit(&root),
            "",
        )?;
        transaction.commit().await?;
        tracing::info!(org_unit = %root.id, "created the root org unit");
        Ok(root)
    }

    /// The root of a district instance: on first start the unit its enrollment names,
    /// fetched from the upstream (the city), under the same id, as a read-only copy of the
    /// city's record; after that the root it holds, without dialling.
    pub async fn ensure_district_root(
        &self,
        instance: &egret_runtime::config::InstanceSettings,
    ) -> Result<OrgUnit, anyhow::Error> {
        if let Some(root) = store::org::get_root(self.database.reader()).await? {
            return Ok(root);
        }
        let grant = egret_sync::upstream::exchange(instance).await?;
        let unit = &grant.org_unit;
        let id = unit
            .name
            .strip_prefix("orgUnits/")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| anyhow::anyhow!("the upstream named no unit: {:?}", unit.name))?
            .to_string();
        let tier = crate::domain::Tier::from_number(i64::from(unit.tier))
            .ok_or_else(|| anyhow::anyhow!("the upstream's unit has no tier"))?;
        let metadata = unit.metadata.clone().unwrap_or_default();
        let mut transaction = self
            .database
            .begin("egret", &grant.upstream_instance_id)
            .await?;
        let mut meta = transaction.new_meta();
        meta.version = metadata.version.max(1);
        let root = OrgUnit {
            path: format!("/{id}/"),
            id,
            parent_id: None,
            tier,
            display_name: unit.display_name.clone(),
            level: unit.level,
            categories: unit.categories.clone(),
            service_fields: unit.service_fields.clone(),
            service_themes: unit.service_themes.clone(),
            status: crate::domain::OrgStatus::Active,
            merged_into: None,
            meta,
        };
        store::org::insert_org_unit(transaction.conn(), &root).await?;
        transaction.record_diff(
            "egret.registry.v1.OrgUnit",
            names::org_unit(&root.id),
            Operation::Create,
            None,
            payload::org_unit(&root),
            "enrolled",
        )?;
        transaction.commit().await?;
        tracing::info!(
            org_unit = %root.id,
            upstream = %grant.upstream_instance_id,
            "took the enrolled unit as this district instance's root"
        );
        Ok(root)
    }

    /// The subtree the principal acts in. A principal whose unit no longer exists may do
    /// nothing.
    async fn scope(&self, principal: &Principal) -> Result<Scope, ApiError> {
        match store::org::get_org_unit(self.database.reader(), &principal.org_unit).await? {
            Some(root) => Ok(Scope { root }),
            None => Err(unknown_token_unit()),
        }
    }

    /// The principal's scope and a unit in it, read in one statement (see
    /// [`Self::visible_unit`] for the answer when it is outside).
    async fn scope_and_unit(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(Scope, OrgUnit), ApiError> {
        let (own, asked) =
            store::org::get_org_unit_pair(self.database.reader(), (&principal.org_unit, id))
                .await?;
        let Some(root) = own else {
            return Err(unknown_token_unit());
        };
        let scope = Scope { root };
        match asked {
            Some(unit) if scope.contains(&unit) => Ok((scope, unit)),
            _ => Err(ApiError::not_found(names::org_unit(id))),
        }
    }

    /// A unit the principal may see, or NOT_FOUND (the same answer as for a unit that does
    /// not exist, so ids outside the subtree reveal nothing).
    async fn visible_unit(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        scope: &Scope,
        id: &str,
    ) -> Result<OrgUnit, ApiError> {
        match store::org::get_org_unit(executor, id).await? {
            Some(unit) if scope.contains(&unit) => Ok(unit),
            _ => Err(ApiError::not_found(names::org_unit(id))),
        }
    }

    /// Refuses changes to records made on another instance.
    /// Refuses changes to records made on another instance.
    fn ensure_origin(&self, meta: &Meta, resource: &str) -> Result<(), ApiError> {
        egret_storage::ensure_origin(meta, &self.instance_id, resource)
    }

    async fn begin(&self, principal: &Principal) -> Result<WriteTx, ApiError> {
        self.database
            .begin(&principal.subject, &self.instance_id)
            .await
    }
}

fn unknown_token_unit() -> ApiError {
    ApiError::permission_denied(
        "the org unit in your token does not exist on this instance",
        "令牌中的组织在本实例中不存在",
    )
}
