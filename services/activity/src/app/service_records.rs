//! Service records (服务记录): review and approved hours.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, changed_concurrently, touch};
use egret_types::CivilDate;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::attendance::{RecordState, ServiceRecord};
use crate::domain::names;
use crate::store::{self, attendance::RecordFilter};

const SERVICE_RECORD_TYPE: &str = "egret.activity.v1.ServiceRecord";

/// Which records to list.
#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    /// The subtree's root; None for the caller's own unit.
    pub org_unit: Option<String>,
    /// One volunteer.
    pub volunteer: Option<String>,
    /// One activity.
    pub activity: Option<String>,
    /// State filter.
    pub state: Option<RecordState>,
}

impl RecordQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

impl Service {
    async fn visible_record(
        &self,
        principal: &Principal,
        scope: &Scope,
        id: &str,
    ) -> Result<ServiceRecord, ApiError> {
        let not_found = || ApiError::not_found(names::service_record(id));
        let record = store::attendance::get_record(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if access::is_self(principal, &record.volunteer_id) {
            return Ok(record);
        }
        access::require(principal, Action::ReadServiceRecords)?;
        self.visible_unit(scope, &record.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(record)
    }

    /// Gets a service record (a volunteer gets its own).
    pub async fn get_service_record(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<ServiceRecord, ApiError> {
        let scope = self.scope(principal).await?;
        self.visible_record(principal, &scope, id).await
    }

    /// Lists records of activities organized in a subtree.
    pub async fn list_service_records(
        &self,
        principal: &Principal,
        query: &RecordQuery,
        page: &PageRequest,
    ) -> Result<(Vec<ServiceRecord>, String), ApiError> {
        access::require(principal, Action::ReadServiceRecords)?;
        let scope = self.scope(principal).await?;
        let root = match &query.org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        let filter = RecordFilter {
            bounds: crate::domain::subtree_bounds(&root.path),
            volunteer_id: query.volunteer.clone().unwrap_or_default(),
            activity_id: query.activity.clone().unwrap_or_default(),
            state: query.state.map_or(0, |state| state as i64),
        };
        let mut records = store::attendance::list_records(
            self.database.reader(),
            &filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut records, |record| record.id.clone());
        Ok((records, next))
    }

    /// Approves or rejects a submitted record.
    pub async fn review_service_record(
        &self,
        principal: &Principal,
        id: &str,
        target: RecordState,
        comment: &str,
    ) -> Result<ServiceRecord, ApiError> {
        access::require(principal, Action::ReviewServiceRecords)?;
        let scope = self.scope(principal).await?;
        let mut record = self.visible_record(principal, &scope, id).await?;
        let name = names::service_record(id);
        self.ensure_origin(&record.meta, &name)?;
        record.state.check_review(&name)?;
        let before = serde_json::to_value(&record).expect("records serialize");
        let mut transaction = self.begin(principal).await?;
        record.state = target;
        record.reviewed_by = principal.subject.clone();
        record.review_comment = comment.to_string();
        touch(&mut record.meta, transaction.now());
        if !store::attendance::update_record(transaction.conn(), &record).await? {
            return Err(changed_concurrently(&name));
        }
        transaction.record_diff(
            SERVICE_RECORD_TYPE,
            name,
            Operation::Update,
            Some(&before),
            serde_json::to_value(&record).expect("records serialize"),
            comment,
        );
        transaction.commit().await?;
        Ok(record)
    }

    /// A volunteer's approved minutes and record count in a period: all of them for the
    /// volunteer itself, those of activities in the caller's subtree for anyone else.
    pub async fn volunteer_hours(
        &self,
        principal: &Principal,
        volunteer_id: &str,
        from: Option<CivilDate>,
        to: Option<CivilDate>,
    ) -> Result<(i64, i64), ApiError> {
        let own = access::is_self(principal, volunteer_id);
        if !own {
            access::require(principal, Action::ReadServiceRecords)?;
        }
        let scope = self.scope(principal).await?;
        let (low, high) = if own {
            (String::new(), "~".to_string())
        } else {
            scope.bounds()
        };
        let iso = |date: Option<CivilDate>| date.map(|date| date.to_iso()).unwrap_or_default();
        store::attendance::approved_totals(
            self.database.reader(),
            volunteer_id,
            (&low, &high),
            &iso(from),
            &iso(to),
        )
        .await
    }
}
