//! Change history, the audit log and the change log.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{StoredChange, changelog};

use super::{Registry, Scope};
use crate::domain::AuditEntry;
use crate::domain::access::{self, Action};
use crate::store;

impl Registry {
    /// Writes an audit entry for an unmasked read, committed before the data is returned
    /// so that no reveal goes unrecorded.
    pub(super) async fn audit(
        &self,
        principal: &Principal,
        scope: &Scope,
        resource_name: &str,
        fields: &[&str],
        method: &str,
    ) -> Result<(), ApiError> {
        let mut transaction = self.begin(principal).await?;
        let entry = AuditEntry {
            id: egret_storage::new_id(),
            actor: principal.subject.clone(),
            actor_org_unit_id: principal.org_unit.clone(),
            resource_name: resource_name.to_string(),
            fields: fields.iter().map(|field| field.to_string()).collect(),
            method: method.to_string(),
            read_time: transaction.now(),
        };
        store::insert_audit_entry(transaction.conn(), &entry, &scope.root.path).await?;
        transaction.commit().await?;
        tracing::info!(actor = %principal.subject, resource = %resource_name, method, "personal data revealed");
        Ok(())
    }

    /// Lists unmasked reads by principals in the admin's subtree, newest first.
    pub async fn list_audit_entries(
        &self,
        principal: &Principal,
        resource: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<AuditEntry>, String), ApiError> {
        access::require(principal, Action::ReadAuditLog)?;
        let scope = self.scope(principal).await?;
        let (low, high) = scope.bounds();
        let mut entries = store::list_audit_entries(
            self.database.reader(),
            (&low, &high),
            resource,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut entries, |entry| entry.id.clone());
        Ok((entries, next))
    }

    /// The change history of one resource the caller may see.
    pub async fn list_change_records(
        &self,
        principal: &Principal,
        resource: &str,
        page: &PageRequest,
    ) -> Result<(Vec<StoredChange>, String), ApiError> {
        access::require(principal, Action::ReadHistory)?;
        let scope = self.scope(principal).await?;
        self.ensure_resource_visible(principal, &scope, resource)
            .await?;
        changelog::history_page(self.database.reader(), resource, page).await
    }

    /// NOT_FOUND unless `resource` names a registry resource in the caller's subtree.
    async fn ensure_resource_visible(
        &self,
        principal: &Principal,
        scope: &Scope,
        resource: &str,
    ) -> Result<(), ApiError> {
        let parts: Vec<&str> = resource.split('/').collect();
        match parts.as_slice() {
            ["orgUnits", unit]
            | ["orgUnits", unit, "registrationForm"]
            | ["orgUnits", unit, "memberships", _]
            | ["orgUnits", unit, "joinApplications", _] => {
                self.visible_unit(self.database.reader(), scope, unit).await.map(drop)
            }
            ["volunteers", volunteer] => self
                .visible_volunteer(principal, scope, volunteer)
                .await
                .map(drop),
            _ => Err(ApiError::invalid(
                "resource",
                "must name an org unit, registration form, volunteer, membership or join application",
                "必须是组织、登记表、志愿者、成员关系或入队申请的资源名",
            )),
        }
        .map_err(|error| match error {
            ApiError::NotFound(_) => ApiError::not_found(resource),
            other => other,
        })
    }
}
