//! Activities (活动).

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, Ordering, changed_concurrently, check_version, touch};
use egret_sync::RecordChanges;
use egret_types::china_date;
use serde_json::Value;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::activity::{
    Activity, ActivityFields, ActivityState, Position, ServiceSite, assign_position_ids,
    check_period, check_publishable,
};
use crate::domain::{Project, names};
use crate::store::{self, activities::ActivityFilter};

/// The fields `ListActivities` sorts by.
pub use crate::store::activities::SORT_FIELDS as ACTIVITY_SORT_FIELDS;

const ACTIVITY_TYPE: &str = "egret.activity.v1.Activity";

/// How long before its start an activity may be started.
const EARLY_START_MICROS: i64 = 2 * 3600 * 1_000_000;

/// Which activities to list.
#[derive(Debug, Clone, Default)]
pub struct ActivityQuery {
    /// The subtree's root; None for the caller's own unit.
    pub org_unit: Option<String>,
    /// Only this project.
    pub project: Option<String>,
    /// State filter.
    pub state: Option<ActivityState>,
    /// Only activities starting at or after this time (microseconds; 0 for any).
    pub start_after: i64,
    /// The order.
    pub ordering: Ordering,
}

impl ActivityQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// Changes to an activity; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ActivityPatch {
    /// 活动名称.
    pub display_name: Option<String>,
    /// 活动内容.
    pub description: Option<String>,
    /// 服务主题.
    pub service_theme: Option<i32>,
    /// 服务领域.
    pub service_field: Option<i32>,
    /// 服务对象.
    pub target_groups: Option<Vec<i32>>,
    /// 服务地点.
    pub site: Option<ServiceSite>,
    /// 开始时间.
    pub start_time: Option<i64>,
    /// 结束时间.
    pub end_time: Option<i64>,
    /// 风险等级.
    pub risk_level: Option<i32>,
    /// 招募岗位.
    pub positions: Option<Vec<Position>>,
    /// 社工带队.
    pub social_worker_leads: Option<Vec<String>>,
}

fn payload(activity: &Activity) -> Value {
    serde_json::to_value(activity).expect("activities serialize")
}

/// INVALID_ARGUMENT unless the activity's days lie within the project's period.
fn check_within_project(project: &Project, start_time: i64, end_time: i64) -> Result<(), ApiError> {
    if china_date(start_time) < project.start_date || china_date(end_time) > project.end_date {
        return Err(ApiError::invalid(
            "activity.start_time",
            format!(
                "the activity must take place within the project's period, {} to {}",
                project.start_date, project.end_date
            ),
            format!(
                "活动时间必须在项目期间（{} 至 {}）内",
                project.start_date, project.end_date
            ),
        ));
    }
    Ok(())
}

/// INVALID_ARGUMENT unless every lead is a social worker of the activity's project's
/// partner organization (社工+志愿者).
fn check_leads(leads: &[String], project: Option<&Project>) -> Result<(), ApiError> {
    if leads.is_empty() {
        return Ok(());
    }
    let Some(project) = project else {
        return Err(ApiError::invalid(
            "activity.social_worker_leads",
            "only an activity within a project with a partner organization has social workers to lead it",
            "只有属于有合作社工机构的项目的活动可以指定社工带队",
        ));
    };
    let workers: Vec<&str> = project
        .partner
        .iter()
        .flat_map(|partner| {
            partner
                .social_workers
                .iter()
                .map(|worker| worker.name.as_str())
        })
        .collect();
    let mut violations = egret_runtime::Violations::new();
    for (index, lead) in leads.iter().enumerate() {
        if !workers.contains(&lead.as_str()) {
            violations.add(
                format!("activity.social_worker_leads[{index}]"),
                "is not a social worker of the project's partner organization",
                "不是该项目合作社工机构的社工",
            );
        }
    }
    violations.into_result()
}

impl Service {
    pub(super) async fn visible_activity(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Activity, ApiError> {
        let not_found = || ApiError::not_found(names::activity(id));
        let activity = store::activities::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        self.visible_unit(scope, &activity.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(activity)
    }

    /// Gets an activity in the caller's subtree.
    pub async fn get_activity(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Activity, ApiError> {
        access::require(principal, Action::ReadActivities)?;
        let scope = self.scope(principal).await?;
        self.visible_activity(&scope, id).await
    }

    /// Lists activities of a subtree.
    pub async fn list_activities(
        &self,
        principal: &Principal,
        query: &ActivityQuery,
        page: &PageRequest,
    ) -> Result<(Vec<Activity>, String), ApiError> {
        access::require(principal, Action::ReadActivities)?;
        let scope = self.scope(principal).await?;
        let root = match &query.org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        if let Some(project) = &query.project {
            self.visible_project(&scope, project).await?;
        }
        let filter = ActivityFilter {
            bounds: crate::domain::subtree_bounds(&root.path),
            project_id: query.project.clone().unwrap_or_default(),
            state: query.state.map_or(0, |state| state as i64),
            start_after: query.start_after,
        };
        let mut activities = store::activities::list(
            self.database.reader(),
            &filter,
            query.ordering,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut activities, |(_, key)| key.clone());
        Ok((
            activities
                .into_iter()
                .map(|(activity, _)| activity)
                .collect(),
            next,
        ))
    }

    /// Checks that an activity of `org_unit_path` over `[start, end]` fits project `id`:
    /// the project is open, owned by the unit or one above it, and its period holds the
    /// activity's dates.
    async fn check_project(
        &self,
        scope: &Scope,
        project_id: &str,
        org_unit_path: &str,
        start_time: i64,
        end_time: i64,
    ) -> Result<(), ApiError> {
        let (project, owner) = self.project_to_join(scope, project_id).await?;
        let name = names::project(project_id);
        if project.status.is_final() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{name} is {}; it takes no new activities",
                    project.status.name_en()
                ),
                format!("{name} 已{}，不能再添加活动", project.status.name_zh()),
            ));
        }
        if !org_unit_path.starts_with(&owner.path) {
            return Err(ApiError::invalid(
                "activity.project",
                "belongs to another unit; an activity joins a project of its own unit or of a unit above it",
                "该项目属于其他组织，活动只能归入本组织或上级组织的项目",
            ));
        }
        check_within_project(&project, start_time, end_time)
    }

    /// Creates an activity (a draft) of an active unit in the caller's subtree.
    pub async fn create_activity(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        project_id: Option<&str>,
        fields: ActivityFields,
        request_id: &str,
    ) -> Result<Activity, ApiError> {
        access::require(principal, Action::ManageActivities)?;
        check_period(fields.start_time, fields.end_time)?;
        let scope = self.scope(principal).await?;
        let unit = self.current_unit(&scope, org_unit_id).await?;
        if !unit.is_active() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is not active; activities belong to active units",
                    unit.display_name
                ),
                format!("{} 不是正常状态，不能新建活动", unit.display_name),
            ));
        }
        if let Some(project_id) = project_id {
            self.check_project(
                &scope,
                project_id,
                &unit.path,
                fields.start_time,
                fields.end_time,
            )
            .await?;
        }
        let project = match project_id {
            Some(id) => store::projects::get(self.database.reader(), id).await?,
            None => None,
        };
        check_leads(&fields.social_worker_leads, project.as_ref())?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateActivity", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("activities/");
            return self.visible_activity(&scope, id).await;
        }
        let activity = Activity {
            id: egret_storage::new_id(),
            org_unit_id: unit.id.clone(),
            project_id: project_id.map(str::to_string),
            display_name: fields.display_name,
            description: fields.description,
            service_theme: fields.service_theme,
            service_field: fields.service_field,
            target_groups: fields.target_groups,
            site: fields.site,
            start_time: fields.start_time,
            end_time: fields.end_time,
            risk_level: fields.risk_level,
            positions: assign_position_ids(&[], fields.positions),
            social_worker_leads: fields.social_worker_leads,
            state: ActivityState::Draft,
            meta: transaction.new_meta(),
        };
        store::activities::insert(transaction.conn(), &activity).await?;
        transaction.record_diff(
            ACTIVITY_TYPE,
            names::activity(&activity.id),
            Operation::Create,
            None,
            payload(&activity),
            "",
        )?;
        transaction
            .finish_request(request_id, &names::activity(&activity.id))
            .await?;
        transaction.commit().await?;
        Ok(activity)
    }

    /// Updates a draft or published activity. A published one must still start in the
    /// future and keep its insurance cover.
    pub async fn update_activity(
        &self,
        principal: &Principal,
        id: &str,
        patch: ActivityPatch,
        expected_version: i64,
    ) -> Result<Activity, ApiError> {
        access::require(principal, Action::ManageActivities)?;
        let scope = self.scope(principal).await?;
        let mut activity = self.visible_activity(&scope, id).await?;
        let name = names::activity(id);
        self.ensure_origin(&activity.meta, &name)?;
        check_version(&name, expected_version, activity.meta.version)?;
        if !activity.state.is_editable() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{name} is {} and can no longer change",
                    activity.state.name_en()
                ),
                format!("{name} {}，不能再修改", activity.state.name_zh()),
            ));
        }
        let before = payload(&activity);
        let ActivityPatch {
            display_name,
            description,
            service_theme,
            service_field,
            target_groups,
            site,
            start_time,
            end_time,
            risk_level,
            positions,
            social_worker_leads,
        } = patch;
        if let Some(value) = display_name {
            activity.display_name = value;
        }
        if let Some(value) = description {
            activity.description = value;
        }
        if let Some(value) = service_theme {
            activity.service_theme = value;
        }
        if let Some(value) = service_field {
            activity.service_field = value;
        }
        if let Some(value) = target_groups {
            activity.target_groups = value;
        }
        if let Some(value) = site {
            activity.site = value;
        }
        if let Some(value) = start_time {
            activity.start_time = value;
        }
        if let Some(value) = end_time {
            activity.end_time = value;
        }
        if let Some(value) = risk_level {
            activity.risk_level = value;
        }
        if let Some(value) = positions {
            activity.positions = assign_position_ids(&activity.positions, value);
        }
        if let Some(value) = social_worker_leads {
            let project = match &activity.project_id {
                Some(id) => store::projects::get(self.database.reader(), id).await?,
                None => None,
            };
            check_leads(&value, project.as_ref())?;
            activity.social_worker_leads = value;
        }
        check_period(activity.start_time, activity.end_time)?;
        // The activity already belongs to its project (whose unit may lie above the
        // caller's subtree): only a new period is checked against the project's.
        if let Some(project_id) = &activity.project_id
            && (start_time.is_some() || end_time.is_some())
        {
            let project = store::projects::get(self.database.reader(), project_id)
                .await?
                .ok_or_else(|| ApiError::not_found(names::project(project_id)))?;
            check_within_project(&project, activity.start_time, activity.end_time)?;
        }
        let mut transaction = self.begin(principal).await?;
        if activity.state == ActivityState::Published {
            check_publishable(&activity, transaction.now(), &name)?;
            self.require_cover(&activity, None).await?;
        }
        touch(&mut activity.meta, transaction.now());
        if !store::activities::update(transaction.conn(), &activity).await? {
            return Err(changed_concurrently(&name));
        }
        transaction.record_diff(
            ACTIVITY_TYPE,
            name,
            Operation::Update,
            Some(&before),
            payload(&activity),
            "",
        )?;
        transaction.commit().await?;
        Ok(activity)
    }

    /// Publishes, starts, completes or cancels an activity.
    pub async fn change_activity_state(
        &self,
        principal: &Principal,
        id: &str,
        target: ActivityState,
        reason: &str,
    ) -> Result<Activity, ApiError> {
        access::require(principal, Action::ManageActivities)?;
        let scope = self.scope(principal).await?;
        let mut activity = self.visible_activity(&scope, id).await?;
        let name = names::activity(id);
        self.ensure_origin(&activity.meta, &name)?;
        activity.state.check_transition(target, &name)?;
        let mut transaction = self.begin(principal).await?;
        let now = transaction.now();
        match target {
            ActivityState::Published => {
                check_publishable(&activity, now, &name)?;
                self.require_cover(&activity, None).await?;
            }
            ActivityState::InProgress if now < activity.start_time - EARLY_START_MICROS => {
                return Err(ApiError::failed_precondition(
                    format!(
                        "{name} starts more than two hours from now; start it closer to its start time"
                    ),
                    format!("{name} 距开始还有两小时以上，请临近开始时再开始活动"),
                ));
            }
            _ => {}
        }
        let before = payload(&activity);
        activity.state = target;
        touch(&mut activity.meta, now);
        if !store::activities::update(transaction.conn(), &activity).await? {
            return Err(changed_concurrently(&name));
        }
        if target == ActivityState::Completed {
            self.close_attendance(&mut transaction, &activity).await?;
        }
        transaction.record_diff(
            ACTIVITY_TYPE,
            name,
            Operation::Update,
            Some(&before),
            payload(&activity),
            reason,
        )?;
        transaction.commit().await?;
        Ok(activity)
    }
}
