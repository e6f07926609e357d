//! Org units and registration forms.

use egret_runtime::{ApiError, Bilingual, PageRequest, Principal};
use egret_storage::{Operation, Ordering, WriteTx};
use egret_sync::RecordChanges;

use super::Registry;
use crate::domain::access::{self, Action};
use crate::domain::numbering::SchemeValues;
use crate::domain::org::{check_merge, check_move, check_placement, check_transition, child_path};
use crate::domain::{
    CivilDate, KeyMember, NewOrgUnit, OrgStatus, OrgUnit, RegistrationForm, Tier, china_date,
    names, payload,
};
use crate::store::{self, org::OrgFilter};

/// The fields `ListOrgUnits` sorts by.
pub use crate::store::org::SORT_FIELDS as ORG_SORT_FIELDS;
use egret_storage::{changed_concurrently, check_version, touch};

const ORG_UNIT_TYPE: &str = "egret.registry.v1.OrgUnit";
const FORM_TYPE: &str = "egret.registry.v1.RegistrationForm";

/// Which units to list.
#[derive(Debug, Clone, Default)]
pub struct OrgQuery {
    /// The subtree's root; None for the caller's own unit.
    pub ancestor: Option<String>,
    /// Only direct children of the ancestor.
    pub children_only: bool,
    /// Tier filter.
    pub tier: Option<Tier>,
    /// Status filter.
    pub status: Option<OrgStatus>,
    /// Level filter (0: any).
    pub level: i32,
    /// Category filter (0: any).
    pub category: i32,
    /// Name substring.
    pub name_contains: String,
    /// The order.
    pub ordering: Ordering,
}

impl OrgQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// Changes to an org unit; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    /// 队伍名称.
    pub display_name: Option<String>,
    /// 队伍级别.
    pub level: Option<i32>,
    /// 类别.
    pub categories: Option<Vec<i32>>,
    /// 服务领域.
    pub service_fields: Option<Vec<i32>>,
    /// 服务主题.
    pub service_themes: Option<Vec<i32>>,
}

/// Changes to a registration form; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct FormPatch {
    /// 负责人.
    pub leader_name: Option<String>,
    /// 单位名称.
    pub host_unit: Option<String>,
    /// 成员人数.
    pub declared_member_count: Option<i64>,
    /// 成立时间.
    pub founded_on: Option<Option<CivilDate>>,
    /// 联系电话.
    pub phone: Option<String>,
    /// 邮箱.
    pub email: Option<String>,
    /// 联系地址.
    pub address: Option<String>,
    /// 主要骨干.
    pub key_members: Option<Vec<KeyMember>>,
    /// 服务特色.
    pub service_features: Option<String>,
    /// 获奖情况.
    pub awards: Option<String>,
}

/// A form with what is shown beside it.
#[derive(Debug, Clone)]
pub struct FormView {
    /// The form.
    pub form: RegistrationForm,
    /// Its unit (team name and level come from it).
    pub unit: OrgUnit,
    /// Distinct active members in the unit's subtree.
    pub counted_member_count: i64,
    /// Whether phones may be shown unmasked.
    pub revealed: bool,
}

impl Registry {
    /// Gets a unit in the caller's subtree.
    pub async fn get_org_unit(&self, principal: &Principal, id: &str) -> Result<OrgUnit, ApiError> {
        access::require(principal, Action::ReadOrgUnits)?;
        let (_, unit) = self.scope_and_unit(principal, id).await?;
        Ok(unit)
    }

    /// Lists units of a subtree.
    pub async fn list_org_units(
        &self,
        principal: &Principal,
        query: &OrgQuery,
        page: &PageRequest,
    ) -> Result<(Vec<OrgUnit>, String), ApiError> {
        access::require(principal, Action::ReadOrgUnits)?;
        let ancestor = match &query.ancestor {
            Some(id) => self.scope_and_unit(principal, id).await?.1,
            None => self.scope(principal).await?.root,
        };
        let filter = OrgFilter {
            bounds: crate::domain::org::subtree_bounds(&ancestor.path),
            parent_id: query.children_only.then(|| ancestor.id.clone()),
            tier: query.tier.map_or(0, |tier| tier as i64),
            status: query.status.map_or(0, |status| status as i64),
            level: i64::from(query.level),
            category: i64::from(query.category),
            name_contains: query.name_contains.clone(),
        };
        let mut units = store::org::list_org_units(
            self.database.reader(),
            &filter,
            query.ordering,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut units, |(_, key)| key.clone());
        Ok((units.into_iter().map(|(unit, _)| unit).collect(), next))
    }

    /// Creates a unit under `parent_id`; a team or sub-team gets its registration form with
    /// archive and team numbers.
    pub async fn create_org_unit(
        &self,
        principal: &Principal,
        parent_id: &str,
        new_unit: NewOrgUnit,
        request_id: &str,
    ) -> Result<OrgUnit, ApiError> {
        access::require(principal, Action::ManageOrgUnits)?;
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateOrgUnit", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("orgUnits/");
            return self.visible_unit(self.database.reader(), &scope, id).await;
        }
        store::org::lock_tree(transaction.conn()).await?;
        let parent = self
            .visible_unit(transaction.conn(), &scope, parent_id)
            .await?;
        check_placement(new_unit.tier, &parent, "org_unit.tier")?;
        if store::org::sibling_name_taken(
            transaction.conn(),
            &parent.id,
            &new_unit.display_name,
            "",
        )
        .await?
        {
            return Err(duplicate_name(&new_unit.display_name, &parent.display_name));
        }
        let id = egret_storage::new_id();
        let unit = OrgUnit {
            path: child_path(&parent.path, &id),
            id,
            parent_id: Some(parent.id.clone()),
            tier: new_unit.tier,
            display_name: new_unit.display_name,
            level: new_unit.level,
            categories: new_unit.categories,
            service_fields: new_unit.service_fields,
            service_themes: new_unit.service_themes,
            status: OrgStatus::Active,
            merged_into: None,
            meta: transaction.new_meta(),
        };
        store::org::insert_org_unit(transaction.conn(), &unit).await?;
        transaction.record_diff(
            ORG_UNIT_TYPE,
            names::org_unit(&unit.id),
            Operation::Create,
            None,
            payload::org_unit(&unit),
            "",
        )?;
        if unit.tier.has_registration_form() {
            let form = self.new_form(&mut transaction, &unit).await?;
            store::org::insert_form(transaction.conn(), &form).await?;
            transaction.record_diff(
                FORM_TYPE,
                names::registration_form(&unit.id),
                Operation::Create,
                None,
                payload::registration_form(&form),
                "",
            )?;
        }
        transaction
            .finish_request(request_id, &names::org_unit(&unit.id))
            .await?;
        transaction.commit().await?;
        Ok(unit)
    }

    async fn new_form(
        &self,
        transaction: &mut WriteTx,
        unit: &OrgUnit,
    ) -> Result<RegistrationForm, ApiError> {
        let values = SchemeValues {
            instance: &self.instance_id,
            year: china_date(transaction.now()).year,
            tier: if unit.tier == Tier::Team { "T" } else { "S" },
        };
        let archive = self.schemes.archive.render(values);
        let archive_value =
            store::next_counter(transaction.conn(), &format!("archive:{}", archive.prefix)).await?;
        let team = self.schemes.team.render(values);
        let team_value =
            store::next_counter(transaction.conn(), &format!("team:{}", team.prefix)).await?;
        Ok(RegistrationForm {
            org_unit_id: unit.id.clone(),
            archive_number: archive.number(archive_value),
            team_number: team.number(team_value),
            leader_name: String::new(),
            host_unit: String::new(),
            declared_member_count: 0,
            founded_on: None,
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            key_members: Vec::new(),
            service_features: String::new(),
            awards: String::new(),
            meta: transaction.new_meta(),
        })
    }

    /// Updates a unit's descriptive fields.
    pub async fn update_org_unit(
        &self,
        principal: &Principal,
        id: &str,
        patch: OrgPatch,
        expected_version: i64,
    ) -> Result<OrgUnit, ApiError> {
        access::require(principal, Action::ManageOrgUnits)?;
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        let mut unit = self.visible_unit(transaction.conn(), &scope, id).await?;
        let name = names::org_unit(id);
        self.ensure_origin(&unit.meta, &name)?;
        check_version(&name, expected_version, unit.meta.version)?;
        if unit.status.is_final() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is {} and can no longer change",
                    unit.display_name,
                    unit.status.name_en()
                ),
                format!(
                    "{} 已{}，不能再修改",
                    unit.display_name,
                    unit.status.name_zh()
                ),
            ));
        }
        if let Some(display_name) = &patch.display_name
            && let Some(parent_id) = &unit.parent_id
            && store::org::sibling_name_taken(transaction.conn(), parent_id, display_name, &unit.id)
                .await?
        {
            return Err(duplicate_name(display_name, "its parent"));
        }
        save_org_unit(&mut transaction, &mut unit, "", |unit| {
            let OrgPatch {
                display_name,
                level,
                categories,
                service_fields,
                service_themes,
            } = patch;
            if let Some(value) = display_name {
                unit.display_name = value;
            }
            if let Some(value) = level {
                unit.level = value;
            }
            if let Some(value) = categories {
                unit.categories = value;
            }
            if let Some(value) = service_fields {
                unit.service_fields = value;
            }
            if let Some(value) = service_themes {
                unit.service_themes = value;
            }
        })
        .await?;
        transaction.commit().await?;
        Ok(unit)
    }

    /// Moves a unit and its subtree under a new parent.
    pub async fn move_org_unit(
        &self,
        principal: &Principal,
        id: &str,
        new_parent_id: &str,
    ) -> Result<OrgUnit, ApiError> {
        let (scope, mut transaction, mut unit) = self.begin_restructure(principal, id).await?;
        let new_parent = self
            .visible_unit(transaction.conn(), &scope, new_parent_id)
            .await?;
        check_move(&unit, &new_parent)?;
        if unit.parent_id.as_deref() == Some(new_parent.id.as_str()) {
            return Ok(unit);
        }
        if store::org::sibling_name_taken(
            transaction.conn(),
            &new_parent.id,
            &unit.display_name,
            &unit.id,
        )
        .await?
        {
            return Err(duplicate_name(&unit.display_name, &new_parent.display_name));
        }
        let old_path = unit.path.clone();
        save_org_unit(&mut transaction, &mut unit, "", |unit| {
            unit.path = child_path(&new_parent.path, &unit.id);
            unit.parent_id = Some(new_parent.id.clone());
        })
        .await?;
        let now = transaction.now();
        store::org::move_subtree(transaction.conn(), &old_path, &unit.path, now).await?;
        // The units below moved too: each gets its own change, so that a reader of the
        // change log never has to work out paths the log does not show.
        for moved in store::org::subtree(transaction.conn(), &unit.path).await? {
            if moved.id == unit.id {
                continue;
            }
            let mut before = moved.clone();
            before.path = format!("{old_path}{}", &moved.path[unit.path.len()..]);
            before.meta.version -= 1;
            transaction.record_diff(
                ORG_UNIT_TYPE,
                names::org_unit(&moved.id),
                Operation::Update,
                Some(&payload::org_unit(&before)),
                payload::org_unit(&moved),
                "",
            )?;
        }
        transaction.commit().await?;
        Ok(unit)
    }

    /// Suspends, resumes, dissolves or merges a unit. Merging moves the unit's active
    /// memberships to the target.
    pub async fn change_org_status(
        &self,
        principal: &Principal,
        id: &str,
        target: OrgStatus,
        merge_into: Option<&str>,
        reason: &str,
    ) -> Result<OrgUnit, ApiError> {
        let (scope, mut transaction, mut unit) = self.begin_restructure(principal, id).await?;
        let merge_target = match merge_into {
            Some(target_id) => {
                let target_unit = self
                    .visible_unit(transaction.conn(), &scope, target_id)
                    .await?;
                check_merge(&unit, &target_unit)?;
                Some(target_unit)
            }
            None => {
                check_transition(&unit, target)?;
                None
            }
        };
        if target.is_final() && store::org::has_live_children(transaction.conn(), &unit.id).await? {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} still has active or suspended units under it; dissolve, merge or move them first",
                    unit.display_name
                ),
                format!(
                    "{} 下仍有正常或暂停状态的组织，请先解散、合并或移走",
                    unit.display_name
                ),
            ));
        }
        let merged_into = merge_target
            .as_ref()
            .map(|target_unit| target_unit.id.clone());
        save_org_unit(&mut transaction, &mut unit, reason, |unit| {
            unit.status = target;
            unit.merged_into = merged_into;
        })
        .await?;
        if let Some(target_unit) = &merge_target {
            self.transfer_members(&mut transaction, &unit, target_unit, reason)
                .await?;
        }
        if target == OrgStatus::Dissolved {
            // A dissolved unit has no members; their records stay, ended, in its history.
            let reason = if reason.is_empty() {
                format!("{} dissolved", unit.display_name)
            } else {
                reason.to_string()
            };
            for membership in
                store::members::active_memberships_in(transaction.conn(), &unit.id).await?
            {
                self.end_membership_in(&mut transaction, membership, &reason)
                    .await?;
            }
        }
        transaction.commit().await?;
        Ok(unit)
    }

    /// Starts a move or status change of unit `id`: the tree locked, the unit in the
    /// caller's subtree, below the caller's own unit, and made on this instance.
    async fn begin_restructure(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(super::Scope, WriteTx, OrgUnit), ApiError> {
        access::require(principal, Action::ManageOrgUnits)?;
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        store::org::lock_tree(transaction.conn()).await?;
        let unit = self.visible_unit(transaction.conn(), &scope, id).await?;
        if !access::may_restructure(principal, &unit.id) {
            return Err(own_unit_refusal());
        }
        self.ensure_origin(&unit.meta, &names::org_unit(id))?;
        Ok((scope, transaction, unit))
    }

    /// Gets a unit's registration form.
    pub async fn get_registration_form(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        reveal: bool,
    ) -> Result<FormView, ApiError> {
        access::require(principal, Action::ReadOrgUnits)?;
        if reveal {
            access::require(principal, Action::RevealPersonalData)?;
        }
        let scope = self.scope(principal).await?;
        let unit = self
            .visible_unit(self.database.reader(), &scope, org_unit_id)
            .await?;
        let form = self.form_of(&unit).await?;
        let (low, high) = crate::domain::org::subtree_bounds(&unit.path);
        let counted_member_count =
            store::org::count_members(self.database.reader(), (&low, &high)).await?;
        if reveal {
            self.audit(
                principal,
                &scope,
                &names::registration_form(&unit.id),
                &["phone", "key_members.phone"],
                "GetRegistrationForm",
            )
            .await?;
        }
        Ok(FormView {
            form,
            unit,
            counted_member_count,
            revealed: reveal,
        })
    }

    async fn form_of(&self, unit: &OrgUnit) -> Result<RegistrationForm, ApiError> {
        if !unit.tier.has_registration_form() {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is a {}; only teams and sub-teams have a registration form",
                    unit.display_name,
                    unit.tier.name_en()
                ),
                format!(
                    "{} 是{}，只有服务队和分队有登记表",
                    unit.display_name,
                    unit.tier.name_zh()
                ),
            ));
        }
        store::org::get_form(self.database.reader(), &unit.id)
            .await?
            .ok_or_else(|| ApiError::not_found(names::registration_form(&unit.id)))
    }

    /// Updates a registration form.
    pub async fn update_registration_form(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        patch: FormPatch,
        expected_version: i64,
    ) -> Result<FormView, ApiError> {
        access::require(principal, Action::EditRegistrationForms)?;
        let scope = self.scope(principal).await?;
        let unit = self
            .visible_unit(self.database.reader(), &scope, org_unit_id)
            .await?;
        let name = names::registration_form(&unit.id);
        let mut form = self.form_of(&unit).await?;
        self.ensure_origin(&form.meta, &name)?;
        check_version(&name, expected_version, form.meta.version)?;
        let mut transaction = self.begin(principal).await?;
        let before = form.clone();
        let FormPatch {
            leader_name,
            host_unit,
            declared_member_count,
            founded_on,
            phone,
            email,
            address,
            key_members,
            service_features,
            awards,
        } = patch;
        if let Some(value) = leader_name {
            form.leader_name = value;
        }
        if let Some(value) = host_unit {
            form.host_unit = value;
        }
        if let Some(value) = declared_member_count {
            form.declared_member_count = value;
        }
        if let Some(value) = founded_on {
            form.founded_on = value;
        }
        if let Some(value) = phone {
            form.phone = value;
        }
        if let Some(value) = email {
            form.email = value;
        }
        if let Some(value) = address {
            form.address = value;
        }
        if let Some(value) = key_members {
            form.key_members = value;
        }
        if let Some(value) = service_features {
            form.service_features = value;
        }
        if let Some(value) = awards {
            form.awards = value;
        }
        touch(&mut form.meta, transaction.now());
        if !store::org::update_form(transaction.conn(), &form).await? {
            return Err(changed_concurrently(&name));
        }
        let changes = payload::registration_form_changes(&before, &form);
        transaction.record_with_changes(
            FORM_TYPE,
            name,
            Operation::Update,
            payload::registration_form(&form),
            changes,
            "",
        )?;
        transaction.commit().await?;
        let (low, high) = crate::domain::org::subtree_bounds(&unit.path);
        let counted_member_count =
            store::org::count_members(self.database.reader(), (&low, &high)).await?;
        Ok(FormView {
            form,
            unit,
            counted_member_count,
            revealed: false,
        })
    }
}

/// Writes a unit after `change` if it is still at its version, and records the change.
async fn save_org_unit(
    transaction: &mut WriteTx,
    unit: &mut OrgUnit,
    reason: &str,
    change: impl FnOnce(&mut OrgUnit),
) -> Result<(), ApiError> {
    let before = payload::org_unit(unit);
    change(unit);
    touch(&mut unit.meta, transaction.now());
    let name = names::org_unit(&unit.id);
    if !store::org::update_org_unit(transaction.conn(), unit).await? {
        return Err(changed_concurrently(&name));
    }
    transaction.record_diff(
        ORG_UNIT_TYPE,
        name,
        Operation::Update,
        Some(&before),
        payload::org_unit(unit),
        reason,
    )?;
    Ok(())
}

fn duplicate_name(display_name: &str, parent: &str) -> ApiError {
    ApiError::AlreadyExists {
        resource: format!("org unit {display_name:?}"),
        reason: Bilingual::new(
            format!("{parent} already has an active unit with this name"),
            format!("{parent} 下已有同名的组织"),
        ),
    }
}

fn own_unit_refusal() -> ApiError {
    ApiError::permission_denied(
        "your own unit's place and status are managed by the unit above it",
        "本组织的隶属关系和状态由上级组织管理",
    )
}
