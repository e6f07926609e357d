//! Projects (项目).

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, Ordering, changed_concurrently, check_version, touch};
use egret_sync::RecordChanges;
use egret_sync::history::{mask_string_field, masked_changes, object};
use egret_types::identity::mask_phone;
use serde_json::Value;

use super::{Activity, Scope};
use crate::domain::access::{self, Action};
use crate::domain::{OrgUnit, Project, ProjectFields, ProjectStatus, names};
use crate::store::{self, projects::ProjectFilter};

/// The fields `ListProjects` sorts by.
pub use crate::store::projects::SORT_FIELDS as PROJECT_SORT_FIELDS;

const PROJECT_TYPE: &str = "egret.activity.v1.Project";

/// Which projects to list.
#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    /// The subtree's root; None for the caller's own unit.
    pub org_unit: Option<String>,
    /// Status filter.
    pub status: Option<ProjectStatus>,
    /// Funding source filter (0: any).
    pub funding_source: i32,
    /// The order.
    pub ordering: Ordering,
}

impl ProjectQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// Changes to a project; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    /// 项目名称.
    pub display_name: Option<String>,
    /// 项目简介.
    pub description: Option<String>,
    /// 服务主题.
    pub service_themes: Option<Vec<i32>>,
    /// 服务领域.
    pub service_fields: Option<Vec<i32>>,
    /// 服务对象.
    pub target_groups: Option<Vec<i32>>,
    /// 起始日期.
    pub start_date: Option<egret_types::CivilDate>,
    /// 结束日期.
    pub end_date: Option<egret_types::CivilDate>,
    /// 资金来源.
    pub funding_source: Option<i32>,
    /// 预算.
    pub budget_fen: Option<i64>,
    /// 合作社工机构 (Some(None) removes it).
    pub partner: Option<Option<crate::domain::Partner>>,
}

/// A project for the change log and history: social workers' phones masked.
fn payload(project: &Project) -> Value {
    let mut map = object(serde_json::to_value(project).expect("projects serialize"));
    if let Some(Value::Object(partner)) = map.get_mut("partner")
        && let Some(Value::Array(workers)) = partner.get_mut("social_workers")
    {
        for worker in workers.iter_mut() {
            if let Value::Object(worker) = worker {
                mask_string_field(worker, "phone", mask_phone);
            }
        }
    }
    Value::Object(map)
}

fn changes(before: &Project, after: &Project) -> Vec<egret_storage::FieldChange> {
    masked_changes(
        &payload(before),
        &payload(after),
        &[("partner", before.partner != after.partner)],
    )
}

fn check_period(
    start: egret_types::CivilDate,
    end: egret_types::CivilDate,
) -> Result<(), ApiError> {
    if end < start {
        return Err(ApiError::invalid(
            "project.end_date",
            "must not be before the start date",
            "结束日期不能早于起始日期",
        ));
    }
    Ok(())
}

impl Activity {
    pub(super) async fn visible_project(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Project, ApiError> {
        let not_found = || ApiError::not_found(names::project(id));
        let project = store::projects::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        self.visible_unit(scope, &project.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(project)
    }

    /// A project an activity of the caller's may join, with the unit that owns it: one of
    /// a unit in the caller's subtree or above it.
    pub(super) async fn project_to_join(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(Project, OrgUnit), ApiError> {
        let not_found = || ApiError::not_found(names::project(id));
        let project = store::projects::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        let owner = self
            .feed
            .unit(&project.org_unit_id)
            .await?
            .filter(|owner| scope.contains(owner) || scope.root.path.starts_with(&owner.path))
            .ok_or_else(not_found)?;
        Ok((project, owner))
    }

    /// Gets a project in the caller's subtree.
    pub async fn get_project(&self, principal: &Principal, id: &str) -> Result<Project, ApiError> {
        access::require(principal, Action::ReadProjects)?;
        let scope = self.scope(principal).await?;
        self.visible_project(&scope, id).await
    }

    /// Lists projects of a subtree.
    pub async fn list_projects(
        &self,
        principal: &Principal,
        query: &ProjectQuery,
        page: &PageRequest,
    ) -> Result<(Vec<Project>, String), ApiError> {
        access::require(principal, Action::ReadProjects)?;
        let scope = self.scope(principal).await?;
        let root = match &query.org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        let filter = ProjectFilter {
            bounds: crate::domain::subtree_bounds(&root.path),
            status: query.status.map_or(0, |status| status as i64),
            funding_source: i64::from(query.funding_source),
        };
        let mut projects = store::projects::list(
            self.database.reader(),
            &filter,
            query.ordering,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut projects, |(_, key)| key.clone());
        Ok((
            projects.into_iter().map(|(project, _)| project).collect(),
            next,
        ))
    }

    /// Creates a project of an active unit in the caller's subtree (status PLANNING).
    pub async fn create_project(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        fields: ProjectFields,
        request_id: &str,
    ) -> Result<Project, ApiError> {
        access::require(principal, Action::ManageProjects)?;
        check_period(fields.start_date, fields.end_date)?;
        let scope = self.scope(principal).await?;
        let unit = self.current_unit(&scope, org_unit_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateProject", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("projects/");
            return self.visible_project(&scope, id).await;
        }
        // Checked after the claim: a retry of a request that succeeded answers the same
        // project even if the unit has been suspended since. Refusing rolls the claim back.
        if !unit.is_active() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is not active; projects belong to active units",
                    unit.display_name
                ),
                format!("{} 不是正常状态，不能新建项目", unit.display_name),
            ));
        }
        let project = Project {
            id: egret_storage::new_id(),
            org_unit_id: unit.id.clone(),
            display_name: fields.display_name,
            description: fields.description,
            service_themes: fields.service_themes,
            service_fields: fields.service_fields,
            target_groups: fields.target_groups,
            start_date: fields.start_date,
            end_date: fields.end_date,
            funding_source: fields.funding_source,
            budget_fen: fields.budget_fen,
            partner: fields.partner,
            status: ProjectStatus::Planning,
            meta: transaction.new_meta(),
        };
        store::projects::insert(transaction.conn(), &project).await?;
        transaction.record_diff(
            PROJECT_TYPE,
            names::project(&project.id),
            Operation::Create,
            None,
            payload(&project),
            "",
        )?;
        transaction
            .finish_request(request_id, &names::project(&project.id))
            .await?;
        transaction.commit().await?;
        Ok(project)
    }

    /// Updates a project's fields.
    pub async fn update_project(
        &self,
        principal: &Principal,
        id: &str,
        patch: ProjectPatch,
        expected_version: i64,
    ) -> Result<Project, ApiError> {
        access::require(principal, Action::ManageProjects)?;
        let scope = self.scope(principal).await?;
        let mut project = self.visible_project(&scope, id).await?;
        let name = names::project(id);
        self.ensure_origin(&project.meta, &name)?;
        check_version(&name, expected_version, project.meta.version)?;
        if project.status.is_final() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{name} is {} and can no longer change",
                    project.status.name_en()
                ),
                format!("{name} 已{}，不能再修改", project.status.name_zh()),
            ));
        }
        let before = project.clone();
        let ProjectPatch {
            display_name,
            description,
            service_themes,
            service_fields,
            target_groups,
            start_date,
            end_date,
            funding_source,
            budget_fen,
            partner,
        } = patch;
        if let Some(value) = display_name {
            project.display_name = value;
        }
        if let Some(value) = description {
            project.description = value;
        }
        if let Some(value) = service_themes {
            project.service_themes = value;
        }
        if let Some(value) = service_fields {
            project.service_fields = value;
        }
        if let Some(value) = target_groups {
            project.target_groups = value;
        }
        if let Some(value) = start_date {
            project.start_date = value;
        }
        if let Some(value) = end_date {
            project.end_date = value;
        }
        if let Some(value) = funding_source {
            project.funding_source = value;
        }
        if let Some(value) = budget_fen {
            project.budget_fen = value;
        }
        if let Some(value) = partner {
            project.partner = value;
        }
        check_period(project.start_date, project.end_date)?;
        let mut transaction = self.begin(principal).await?;
        touch(&mut project.meta, transaction.now());
        if !store::projects::update(transaction.conn(), &project).await? {
            return Err(changed_concurrently(&name));
        }
        transaction.record_with_changes(
            PROJECT_TYPE,
            name,
            Operation::Update,
            payload(&project),
            changes(&before, &project),
            "",
        )?;
        transaction.commit().await?;
        Ok(project)
    }

    /// Activates, closes or cancels a project.
    pub async fn change_project_status(
        &self,
        principal: &Principal,
        id: &str,
        target: ProjectStatus,
        reason: &str,
    ) -> Result<Project, ApiError> {
        access::require(principal, Action::ManageProjects)?;
        let scope = self.scope(principal).await?;
        let mut project = self.visible_project(&scope, id).await?;
        let name = names::project(id);
        self.ensure_origin(&project.meta, &name)?;
        project.status.check_transition(target, &name)?;
        let before = project.clone();
        let mut transaction = self.begin(principal).await?;
        project.status = target;
        touch(&mut project.meta, transaction.now());
        if !store::projects::update(transaction.conn(), &project).await? {
            return Err(changed_concurrently(&name));
        }
        transaction.record_with_changes(
            PROJECT_TYPE,
            name,
            Operation::Update,
            payload(&project),
            changes(&before, &project),
            reason,
        )?;
        transaction.commit().await?;
        Ok(project)
    }
}
