//! Service records (服务记录): review and approved hours.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx, changed_concurrently, touch};
use egret_sync::RecordChanges;
use egret_types::CivilDate;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::activity::ActivityState;
use crate::domain::attendance::{RecordKind, RecordState, ServiceRecord};
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

/// Writes a record after `change` if it is still at its version, and records the change
/// with `reason` for the history and the change log.
async fn save_record(
    transaction: &mut WriteTx,
    record: &mut ServiceRecord,
    reason: &str,
    change: impl FnOnce(&mut ServiceRecord),
) -> Result<(), ApiError> {
    let name = names::service_record(&record.id);
    let before = serde_json::to_value(&*record).expect("records serialize");
    change(record);
    touch(&mut record.meta, transaction.now());
    if !store::attendance::update_record(transaction.conn(), record).await? {
        return Err(changed_concurrently(&name));
    }
    transaction.record_diff(
        SERVICE_RECORD_TYPE,
        name,
        Operation::Update,
        Some(&before),
        serde_json::to_value(&*record).expect("records serialize"),
        reason,
    )?;
    Ok(())
}

impl Service {
    async fn visible_record(
        &self,
        principal: &Principal,
        scope: &Scope,
        id: &str,
    ) -> Result<ServiceRecord, ApiError> {
        let not_found = || ApiError::not_found(names::service_record(id));
        access::require_unless_volunteer(principal, Action::ReadServiceRecords)?;
        let record = store::attendance::get_record(self.database.reader(), id)
            .await?
            .filter(|record| {
                access::may_read_owned(principal, Action::ReadServiceRecords, &record.volunteer_id)
            })
            .ok_or_else(not_found)?;
        if access::is_self(principal, &record.volunteer_id) {
            return Ok(record);
        }
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
        if record.kind == RecordKind::BackEntry && principal.org_unit == record.org_unit_id {
            return Err(ApiError::permission_denied(
                "a back-entry is reviewed by a unit above the activity's unit",
                "补录记录须由活动所属组织的上级组织审核",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        let reviewer = principal.subject.clone();
        save_record(&mut transaction, &mut record, comment, |record| {
            record.state = target;
            record.reviewed_by = reviewer;
            record.review_comment = comment.to_string();
        })
        .await?;
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

/// A row of an import (validated).
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// The volunteer's id.
    pub volunteer_id: String,
    /// 服务日期.
    pub service_date: CivilDate,
    /// Minutes.
    pub minutes: i64,
    /// 服务内容.
    pub description: String,
}

impl Service {
    /// Approved minutes, records and distinct volunteers of a subtree in a period.
    pub async fn org_unit_hours(
        &self,
        principal: &Principal,
        org_unit: Option<&str>,
        from: Option<CivilDate>,
        to: Option<CivilDate>,
    ) -> Result<(i64, i64, i64), ApiError> {
        access::require(principal, Action::ReadServiceRecords)?;
        let scope = self.scope(principal).await?;
        let root = match org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        let (low, high) = crate::domain::subtree_bounds(&root.path);
        let iso = |date: Option<CivilDate>| date.map(|date| date.to_iso()).unwrap_or_default();
        store::attendance::unit_totals(self.database.reader(), (&low, &high), &iso(from), &iso(to))
            .await
    }

    /// Requests a back-entry (补录) of past service at a completed activity: by the
    /// volunteer itself or an organizer, with a reason; a unit above approves it.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_back_entry(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: &str,
        minutes: i64,
        description: &str,
        reason: &str,
        request_id: &str,
    ) -> Result<ServiceRecord, ApiError> {
        if !access::is_self(principal, volunteer_id) {
            access::require(principal, Action::ManageSignUps)?;
        }
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        if activity.state != ActivityState::Completed {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is {}; back-entries are for completed activities",
                    names::activity(activity_id),
                    activity.state.name_en()
                ),
                format!(
                    "{} {}，只有已完成的活动可以补录",
                    names::activity(activity_id),
                    activity.state.name_zh()
                ),
            ));
        }
        let length = (activity.end_time - activity.start_time) / 60_000_000;
        if minutes > length {
            return Err(ApiError::invalid(
                "minutes",
                format!("must not exceed the activity's length, {length} minutes"),
                format!("补录时长不能超过活动时长 {length} 分钟"),
            ));
        }
        self.volunteer_for(principal, &scope, volunteer_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateBackEntry", request_id)
            .await?
        {
            drop(transaction);
            return self
                .visible_record(
                    principal,
                    &scope,
                    existing.trim_start_matches("serviceRecords/"),
                )
                .await;
        }
        let record = ServiceRecord {
            id: egret_storage::new_id(),
            volunteer_id: volunteer_id.to_string(),
            activity_id: activity.id.clone(),
            org_unit_id: activity.org_unit_id.clone(),
            kind: RecordKind::BackEntry,
            description: description.to_string(),
            reason: reason.to_string(),
            minutes,
            service_date: egret_types::china_date(activity.start_time),
            state: RecordState::Submitted,
            needs_review: false,
            reviewed_by: String::new(),
            review_comment: String::new(),
            platform_report_status: 1,
            meta: transaction.new_meta(),
        };
        store::attendance::insert_record(transaction.conn(), &record).await?;
        let name = names::service_record(&record.id);
        transaction.record_diff(
            SERVICE_RECORD_TYPE,
            name.clone(),
            Operation::Create,
            None,
            serde_json::to_value(&record).expect("records serialize"),
            reason,
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(record)
    }

    /// Corrects a record's minutes: it goes back to review; the history keeps both values
    /// and the reason.
    pub async fn correct_service_record(
        &self,
        principal: &Principal,
        id: &str,
        minutes: i64,
        reason: &str,
    ) -> Result<ServiceRecord, ApiError> {
        access::require(principal, Action::ReviewServiceRecords)?;
        let scope = self.scope(principal).await?;
        let mut record = self.visible_record(principal, &scope, id).await?;
        let name = names::service_record(id);
        self.ensure_origin(&record.meta, &name)?;
        let mut transaction = self.begin(principal).await?;
        save_record(&mut transaction, &mut record, reason, |record| {
            record.minutes = minutes;
            record.reason = reason.to_string();
            record.state = RecordState::Submitted;
            record.reviewed_by.clear();
            record.review_comment.clear();
        })
        .await?;
        transaction.commit().await?;
        Ok(record)
    }

    /// Sets the platform report status of records the caller may see: all of them, or
    /// none when any is not found.
    pub async fn set_report_status(
        &self,
        principal: &Principal,
        ids: &[String],
        status: i32,
    ) -> Result<i64, ApiError> {
        access::require(principal, Action::ManageServiceRecords)?;
        let scope = self.scope(principal).await?;
        let mut records: Vec<ServiceRecord> = Vec::with_capacity(ids.len());
        for id in ids {
            // A record named twice changes once (a second copy would fail its version check).
            if records.iter().any(|record| &record.id == id) {
                continue;
            }
            records.push(self.visible_record(principal, &scope, id).await?);
        }
        let mut transaction = self.begin(principal).await?;
        let mut updated = 0;
        for mut record in records {
            if record.platform_report_status == status {
                continue;
            }
            save_record(&mut transaction, &mut record, "", |record| {
                record.platform_report_status = status;
            })
            .await?;
            updated += 1;
        }
        transaction.commit().await?;
        Ok(updated)
    }

    /// Imports approved records from an earlier system: every row checked first, then all
    /// written in one transaction; a retry with the same request id returns the first
    /// import's records and writes nothing.
    pub async fn import_service_records(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        rows: Vec<ImportRow>,
        request_id: &str,
    ) -> Result<Vec<ServiceRecord>, ApiError> {
        access::require(principal, Action::ManageServiceRecords)?;
        let scope = self.scope(principal).await?;
        let unit = self.current_unit(&scope, org_unit_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("ImportServiceRecords", request_id)
            .await?
        {
            drop(transaction);
            let mut records = Vec::new();
            for name in existing.split(',').filter(|name| !name.is_empty()) {
                records.push(
                    self.visible_record(
                        principal,
                        &scope,
                        name.trim_start_matches("serviceRecords/"),
                    )
                    .await?,
                );
            }
            return Ok(records);
        }
        let mut violations = egret_runtime::Violations::new();
        // Only volunteers serving in the caller's subtree: an id from elsewhere is refused
        // exactly as an unknown one.
        let (low, high) = scope.bounds();
        for (index, row) in rows.iter().enumerate() {
            if !store::volunteers::serves_in(transaction.conn(), &row.volunteer_id, (&low, &high))
                .await?
            {
                violations.add(
                    format!("rows[{index}].volunteer"),
                    "is not a registered volunteer",
                    "不是已登记的志愿者",
                );
            }
        }
        violations.into_result()?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let record = ServiceRecord {
                id: egret_storage::new_id(),
                volunteer_id: row.volunteer_id,
                activity_id: String::new(),
                org_unit_id: unit.id.clone(),
                kind: RecordKind::Imported,
                description: row.description,
                reason: String::new(),
                minutes: row.minutes,
                service_date: row.service_date,
                state: RecordState::Approved,
                needs_review: false,
                reviewed_by: principal.subject.clone(),
                review_comment: "imported".to_string(),
                platform_report_status: 1,
                meta: transaction.new_meta(),
            };
            store::attendance::insert_record(transaction.conn(), &record).await?;
            transaction.record_diff(
                SERVICE_RECORD_TYPE,
                names::service_record(&record.id),
                Operation::Create,
                None,
                serde_json::to_value(&record).expect("records serialize"),
                "imported",
            )?;
            records.push(record);
        }
        let created: Vec<String> = records
            .iter()
            .map(|record| names::service_record(&record.id))
            .collect();
        transaction
            .finish_request(request_id, &created.join(","))
            .await?;
        transaction.commit().await?;
        Ok(records)
    }
}
