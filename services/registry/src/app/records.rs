//! Change history, the audit log and the change log.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{StoredChange, changelog};

use super::{Registry, Scope};
use crate::domain::AuditEntry;
use crate::domain::access::{self, Action};
use crate::store;

/// A page of the change log.
#[derive(Debug, Clone)]
pub struct ChangeLogPage {
    /// The entries, in order.
    pub entries: Vec<StoredChange>,
    /// Where to resume.
    pub last_sequence: i64,
    /// The highest committed sequence when read.
    pub head_sequence: i64,
}

/// The largest change-log page.
pub const MAX_CHANGE_LOG_PAGE: u32 = 1000;

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
        let after = match page.after.as_deref() {
            Some(text) => text.parse::<i64>().map_err(|_| {
                ApiError::invalid("page_token", "is not a token of this list", "分页令牌无效")
            })?,
            None => 0,
        };
        let mut changes =
            changelog::history(self.database.reader(), resource, after, page.fetch_limit()).await?;
        let next = page.finish(&mut changes, |change| change.sequence.to_string());
        Ok((changes, next))
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

    /// Reads the change log after `after_sequence` (the sync role only).
    pub async fn list_change_log(
        &self,
        principal: &Principal,
        after_sequence: i64,
        page_size: i32,
    ) -> Result<ChangeLogPage, ApiError> {
        access::require(principal, Action::ReadChangeLog)?;
        if after_sequence < 0 {
            return Err(ApiError::invalid(
                "after_sequence",
                "must not be negative",
                "起始序号不能为负数",
            ));
        }
        let page = PageRequest::parse(page_size, "", "", 100, MAX_CHANGE_LOG_PAGE)?;
        // Read the head first: every entry up to it is committed, so a page that ends
        // before it means more is waiting.
        let head_sequence = changelog::head(self.database.reader()).await?;
        let entries =
            changelog::read_after(self.database.reader(), after_sequence, i64::from(page.size))
                .await?;
        let last_sequence = entries
            .last()
            .map_or(after_sequence, |entry| entry.sequence);
        Ok(ChangeLogPage {
            entries,
            last_sequence,
            head_sequence: head_sequence.max(last_sequence),
        })
    }
}
