//! Insurance (保险): policies, coverage, and the cover that risky activities need.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, changed_concurrently, touch};
use egret_sync::RecordChanges;
use egret_types::{CivilDate, china_date};

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::activity::{Activity, requires_cover};
use crate::domain::insurance::{InsurancePolicy, PolicyFields, PolicyState};
use crate::domain::names;
use crate::store;

const POLICY_TYPE: &str = "egret.activity.v1.InsurancePolicy";

impl Service {
    async fn visible_policy(&self, scope: &Scope, id: &str) -> Result<InsurancePolicy, ApiError> {
        let not_found = || ApiError::not_found(names::insurance_policy(id));
        let mut connection = self
            .database
            .reader()
            .acquire()
            .await
            .map_err(|error| egret_storage::convert_sqlx_err(error, "insurance policy"))?;
        let policy = store::insurance::get(&mut connection, id)
            .await?
            .ok_or_else(not_found)?;
        self.visible_unit(scope, &policy.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(policy)
    }

    /// Registers a policy held by a unit of the caller's subtree.
    pub async fn create_policy(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        fields: PolicyFields,
        request_id: &str,
    ) -> Result<InsurancePolicy, ApiError> {
        access::require(principal, Action::ManageInsurance)?;
        if fields.end_date < fields.start_date {
            return Err(ApiError::invalid(
                "insurance_policy.end_date",
                "must not be before the start date",
                "终保日期不能早于起保日期",
            ));
        }
        let scope = self.scope(principal).await?;
        let unit = self.visible_unit(&scope, org_unit_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateInsurancePolicy", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("insurancePolicies/");
            return self.visible_policy(&scope, id).await;
        }
        let policy = InsurancePolicy {
            id: egret_storage::new_id(),
            org_unit_id: unit.id.clone(),
            insurer: fields.insurer,
            policy_number: fields.policy_number,
            cover: fields.cover,
            sum_insured_fen: fields.sum_insured_fen,
            start_date: fields.start_date,
            end_date: fields.end_date,
            covers_subtree: fields.covers_subtree,
            insured_volunteers: fields.insured_volunteers,
            state: PolicyState::Active,
            meta: transaction.new_meta(),
        };
        store::insurance::insert(transaction.conn(), &policy).await?;
        let name = names::insurance_policy(&policy.id);
        transaction.record_diff(
            POLICY_TYPE,
            name.clone(),
            Operation::Create,
            None,
            serde_json::to_value(&policy).expect("policies serialize"),
            "",
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(policy)
    }

    /// Gets a policy.
    pub async fn get_policy(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<InsurancePolicy, ApiError> {
        access::require(principal, Action::ReadInsurance)?;
        let scope = self.scope(principal).await?;
        self.visible_policy(&scope, id).await
    }

    /// Lists policies held in a subtree; with `expiring_within_days`, the active ones that
    /// end within that many days from today.
    pub async fn list_policies(
        &self,
        principal: &Principal,
        org_unit: Option<&str>,
        expiring_within_days: u32,
        page: &PageRequest,
    ) -> Result<(Vec<InsurancePolicy>, String), ApiError> {
        access::require(principal, Action::ReadInsurance)?;
        let scope = self.scope(principal).await?;
        let root = match org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        let (low, high) = crate::domain::subtree_bounds(&root.path);
        let now = egret_types::now_micros();
        let today = china_date(now).to_iso();
        let horizon =
            china_date(now + i64::from(expiring_within_days) * 86_400 * 1_000_000).to_iso();
        let expiring = (expiring_within_days > 0).then_some((today.as_str(), horizon.as_str()));
        let mut connection = self
            .database
            .reader()
            .acquire()
            .await
            .map_err(|error| egret_storage::convert_sqlx_err(error, "insurance policies"))?;
        let mut policies = store::insurance::list(
            &mut connection,
            (&low, &high),
            expiring,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut policies, |policy| policy.id.clone());
        Ok((policies, next))
    }

    /// Cancels a policy.
    pub async fn cancel_policy(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
    ) -> Result<InsurancePolicy, ApiError> {
        access::require(principal, Action::ManageInsurance)?;
        let scope = self.scope(principal).await?;
        let mut policy = self.visible_policy(&scope, id).await?;
        let name = names::insurance_policy(id);
        self.ensure_origin(&policy.meta, &name)?;
        if policy.state == PolicyState::Cancelled {
            return Err(ApiError::failed_precondition(
                format!("{name} is already cancelled"),
                format!("{name} 已注销"),
            ));
        }
        let before = serde_json::to_value(&policy).expect("policies serialize");
        let mut transaction = self.begin(principal).await?;
        policy.state = PolicyState::Cancelled;
        touch(&mut policy.meta, transaction.now());
        if !store::insurance::update_state(transaction.conn(), &policy).await? {
            return Err(changed_concurrently(&name));
        }
        transaction.record_diff(
            POLICY_TYPE,
            name,
            Operation::Update,
            Some(&before),
            serde_json::to_value(&policy).expect("policies serialize"),
            reason,
        )?;
        transaction.commit().await?;
        Ok(policy)
    }

    /// The policy covering `activity` for its whole period: for `volunteer`, one that names
    /// the volunteer or covers the activity's unit; without, one that covers the unit.
    pub(super) async fn cover_for(
        &self,
        activity: &Activity,
        volunteer_id: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        let unit = self
            .feed
            .unit(&activity.org_unit_id)
            .await?
            .ok_or_else(|| ApiError::not_found(names::org_unit(&activity.org_unit_id)))?;
        let first_day: CivilDate = china_date(activity.start_time);
        let last_day: CivilDate = china_date(activity.end_time);
        store::insurance::covering_policy(
            self.database.reader(),
            &unit.path,
            &first_day.to_iso(),
            &last_day.to_iso(),
            volunteer_id,
        )
        .await
    }

    /// FAILED_PRECONDITION naming who is uncovered, when `activity` needs cover and has
    /// none (for `volunteer`, or for the activity's unit as a whole).
    pub(super) async fn require_cover(
        &self,
        activity: &Activity,
        volunteer: Option<(&str, &str)>,
    ) -> Result<(), ApiError> {
        if !requires_cover(activity.risk_level) {
            return Ok(());
        }
        if self
            .cover_for(activity, volunteer.map(|(id, _)| id))
            .await?
            .is_some()
        {
            return Ok(());
        }
        let activity_name = names::activity(&activity.id);
        Err(match volunteer {
            Some((id, display_name)) => ApiError::failed_precondition(
                format!(
                    "volunteer {display_name} ({}) has no accident insurance covering the whole of {activity_name}",
                    names::volunteer(id)
                ),
                format!("志愿者 {display_name} 没有覆盖 {activity_name} 全程的意外保险"),
            ),
            None => ApiError::failed_precondition(
                format!(
                    "{activity_name} needs accident insurance covering its whole period (《志愿服务条例》), and no policy covers org unit {}",
                    names::org_unit(&activity.org_unit_id)
                ),
                format!(
                    "{activity_name} 的风险等级要求活动全程有意外保险，但组织 {} 没有有效保单",
                    names::org_unit(&activity.org_unit_id)
                ),
            ),
        })
    }

    /// Whether a volunteer (or, with none, the activity's unit) is covered for an activity.
    pub async fn check_coverage(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        access::require(principal, Action::ReadInsurance)?;
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        self.cover_for(&activity, volunteer_id).await
    }
}
