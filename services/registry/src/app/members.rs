//! Memberships and join applications.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;

use super::{Registry, Scope};
use crate::domain::access::{self, Action};
use crate::domain::{
    JoinApplication, JoinState, Membership, MembershipState, OrgStatus, OrgUnit, Volunteer,
    VolunteerStatus, china_date, names, payload,
};
use crate::store::{self, members::MembershipFilter};
use egret_storage::{changed_concurrently, touch};

pub(super) const MEMBERSHIP_TYPE: &str = "egret.registry.v1.Membership";
const JOIN_APPLICATION_TYPE: &str = "egret.registry.v1.JoinApplication";

/// Which memberships to list.
#[derive(Debug, Clone, Default)]
pub struct MembershipQuery {
    /// One unit, or None for every unit in the caller's subtree (`orgUnits/-`).
    pub org_unit: Option<String>,
    /// One volunteer.
    pub volunteer: Option<String>,
    /// State filter.
    pub state: Option<MembershipState>,
}

impl MembershipQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// A new join application.
#[derive(Debug, Clone)]
pub struct NewJoinApplication {
    /// The unit to join.
    pub org_unit_id: String,
    /// The applicant.
    pub volunteer_id: String,
    /// Why.
    pub message: String,
}

/// The unit and record ids of `orgUnits/{unit}/{collection}/{id}`.
fn nested_ids(name: &str) -> (&str, &str) {
    let mut parts = name.split('/').skip(1).step_by(2);
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    )
}

/// Writes a membership after `change` if it is still at its version, and records the
/// change for the history and the change log.
async fn save_membership(
    transaction: &mut WriteTx,
    membership: &mut Membership,
    operation: Operation,
    reason: &str,
    change: impl FnOnce(&mut Membership),
) -> Result<(), ApiError> {
    let before = payload::plain(&*membership);
    change(membership);
    touch(&mut membership.meta, transaction.now());
    if !store::members::update_membership(transaction.conn(), membership).await? {
        return Err(changed_concurrently("membership"));
    }
    transaction.record_diff(
        MEMBERSHIP_TYPE,
        names::membership(&membership.org_unit_id, &membership.id),
        operation,
        Some(&before),
        payload::plain(&*membership),
        reason,
    )?;
    Ok(())
}

/// Makes `membership` its volunteer's primary one. The old primary is cleared first: the
/// database allows one active primary per volunteer at any moment.
async fn make_primary(
    transaction: &mut WriteTx,
    membership: &mut Membership,
    reason: &str,
) -> Result<(), ApiError> {
    let others =
        store::members::active_memberships_of(transaction.conn(), &membership.volunteer_id).await?;
    for mut other in others {
        if other.primary && other.id != membership.id {
            save_membership(
                transaction,
                &mut other,
                Operation::Update,
                reason,
                |other| {
                    other.primary = false;
                },
            )
            .await?;
        }
    }
    save_membership(
        transaction,
        membership,
        Operation::Update,
        reason,
        |membership| {
            membership.primary = true;
        },
    )
    .await
}

fn active_volunteer_required(volunteer: &Volunteer) -> Result<(), ApiError> {
    if volunteer.status == VolunteerStatus::Active {
        return Ok(());
    }
    Err(ApiError::failed_precondition(
        format!(
            "the volunteer is {}; only active volunteers join units",
            volunteer.status.name_en()
        ),
        "该志愿者当前不是正常状态，不能加入组织",
    ))
}

/// The volunteer's active memberships, or FAILED_PRECONDITION when one is of `unit`.
async fn not_yet_member(
    transaction: &mut WriteTx,
    volunteer_id: &str,
    unit: &OrgUnit,
) -> Result<Vec<Membership>, ApiError> {
    let current = store::members::active_memberships_of(transaction.conn(), volunteer_id).await?;
    if current
        .iter()
        .any(|membership| membership.org_unit_id == unit.id)
    {
        return Err(ApiError::failed_precondition(
            "the volunteer is already a member of this unit",
            "该志愿者已是本组织成员",
        ));
    }
    Ok(current)
}

fn active_unit_required(unit: &OrgUnit) -> Result<(), ApiError> {
    if unit.status == OrgStatus::Active {
        return Ok(());
    }
    Err(ApiError::failed_precondition(
        format!(
            "{} is {}; members join active units only",
            unit.display_name,
            unit.status.name_en()
        ),
        format!(
            "{} 处于{}状态，只能加入正常状态的组织",
            unit.display_name,
            unit.status.name_zh()
        ),
    ))
}

impl Registry {
    /// Lists memberships.
    pub async fn list_memberships(
        &self,
        principal: &Principal,
        query: &MembershipQuery,
        page: &PageRequest,
    ) -> Result<(Vec<Membership>, String), ApiError> {
        let own = query
            .volunteer
            .as_deref()
            .is_some_and(|volunteer| access::is_self(principal, volunteer));
        if !own {
            access::require(principal, Action::ReadVolunteers)?;
        }
        let scope = self.scope(principal).await?;
        let mut filter = MembershipFilter {
            volunteer_id: query.volunteer.clone().unwrap_or_default(),
            state: query.state.map_or(0, |state| state as i64),
            ..MembershipFilter::default()
        };
        match &query.org_unit {
            Some(id) => {
                let unit = self
                    .visible_unit(self.database.reader(), &scope, id)
                    .await?;
                filter.bounds = crate::domain::org::subtree_bounds(&unit.path);
                filter.org_unit_id = unit.id;
            }
            // A volunteer sees all of its own memberships, wherever they are.
            None if own => filter.bounds = (String::new(), "~".to_string()),
            None => filter.bounds = scope.bounds(),
        }
        let mut memberships = store::members::list_memberships(
            self.database.reader(),
            &filter,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut memberships, |membership| membership.id.clone());
        Ok((memberships, next))
    }

    /// Adds a volunteer to a unit; the first active membership becomes primary.
    pub(super) async fn add_membership(
        &self,
        transaction: &mut WriteTx,
        unit: &OrgUnit,
        volunteer_id: &str,
        volunteer_display_name: &str,
        reason: &str,
    ) -> Result<Membership, ApiError> {
        let current = not_yet_member(transaction, volunteer_id, unit).await?;
        let membership = Membership {
            id: egret_storage::new_id(),
            org_unit_id: unit.id.clone(),
            volunteer_id: volunteer_id.to_string(),
            volunteer_display_name: volunteer_display_name.to_string(),
            primary: current.is_empty(),
            state: MembershipState::Active,
            joined_on: china_date(transaction.now()),
            ended_on: None,
            meta: transaction.new_meta(),
        };
        store::members::insert_membership(transaction.conn(), &membership).await?;
        transaction.record_diff(
            MEMBERSHIP_TYPE,
            names::membership(&unit.id, &membership.id),
            Operation::Create,
            None,
            payload::plain(&membership),
            reason,
        )?;
        Ok(membership)
    }

    /// Adds a volunteer the caller can see to a unit in its subtree.
    pub async fn create_membership(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        volunteer_id: &str,
        request_id: &str,
    ) -> Result<Membership, ApiError> {
        access::require(principal, Action::ManageMembers)?;
        let scope = self.scope(principal).await?;
        let volunteer = self
            .visible_volunteer(principal, &scope, volunteer_id)
            .await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateMembership", request_id)
            .await?
        {
            drop(transaction);
            let (unit_id, id) = nested_ids(&existing);
            return self
                .visible_membership(&scope, principal, unit_id, id)
                .await;
        }
        let unit = self
            .visible_unit(transaction.conn(), &scope, org_unit_id)
            .await?;
        active_unit_required(&unit)?;
        active_volunteer_required(&volunteer)?;
        let membership = self
            .add_membership(
                &mut transaction,
                &unit,
                &volunteer.id,
                &volunteer.display_name,
                "",
            )
            .await?;
        transaction
            .finish_request(request_id, &names::membership(&unit.id, &membership.id))
            .await?;
        transaction.commit().await?;
        Ok(membership)
    }

    /// The membership `orgUnits/{org_unit_id}/memberships/{id}`: the id under another
    /// unit names nothing.
    async fn visible_membership(
        &self,
        scope: &Scope,
        principal: &Principal,
        org_unit_id: &str,
        id: &str,
    ) -> Result<Membership, ApiError> {
        let not_found = || ApiError::not_found(format!("membership {id}"));
        let membership = store::members::get_membership(self.database.reader(), id)
            .await?
            .filter(|membership| membership.org_unit_id == org_unit_id)
            .ok_or_else(not_found)?;
        if access::is_self(principal, &membership.volunteer_id) {
            return Ok(membership);
        }
        self.visible_unit(self.database.reader(), scope, &membership.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(membership)
    }

    /// Makes a membership the volunteer's primary one.
    pub async fn set_primary_membership(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        id: &str,
    ) -> Result<Membership, ApiError> {
        let scope = self.scope(principal).await?;
        let mut membership = self
            .visible_membership(&scope, principal, org_unit_id, id)
            .await?;
        if !access::is_self(principal, &membership.volunteer_id) {
            access::require(principal, Action::ManageMembers)?;
        }
        if membership.state != MembershipState::Active {
            return Err(ApiError::failed_precondition(
                "only an active membership can be primary",
                "只有有效的成员关系可以设为主要所属组织",
            ));
        }
        if membership.primary {
            return Ok(membership);
        }
        let mut transaction = self.begin(principal).await?;
        make_primary(&mut transaction, &mut membership, "").await?;
        transaction.commit().await?;
        Ok(membership)
    }

    /// Ends a membership inside `transaction`; a primary passes to the volunteer's oldest
    /// other active membership.
    pub(super) async fn end_membership_in(
        &self,
        transaction: &mut WriteTx,
        mut membership: Membership,
        reason: &str,
    ) -> Result<Membership, ApiError> {
        let was_primary = membership.primary;
        let ended_on = china_date(transaction.now());
        save_membership(
            transaction,
            &mut membership,
            Operation::Delete,
            reason,
            |membership| {
                membership.state = MembershipState::Ended;
                membership.primary = false;
                membership.ended_on = Some(ended_on);
            },
        )
        .await?;
        if was_primary {
            let remaining =
                store::members::active_memberships_of(transaction.conn(), &membership.volunteer_id)
                    .await?;
            if let Some(mut next) = remaining.into_iter().next() {
                save_membership(transaction, &mut next, Operation::Update, reason, |next| {
                    next.primary = true;
                })
                .await?;
            }
        }
        Ok(membership)
    }

    /// Ends a membership (the volunteer leaves, or is removed by the unit).
    pub async fn end_membership(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        id: &str,
        reason: &str,
    ) -> Result<Membership, ApiError> {
        let scope = self.scope(principal).await?;
        let membership = self
            .visible_membership(&scope, principal, org_unit_id, id)
            .await?;
        if !access::is_self(principal, &membership.volunteer_id) {
            access::require(principal, Action::ManageMembers)?;
        }
        if membership.state == MembershipState::Ended {
            return Err(ApiError::failed_precondition(
                "the membership has already ended",
                "该成员关系已结束",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        let ended = self
            .end_membership_in(&mut transaction, membership, reason)
            .await?;
        transaction.commit().await?;
        Ok(ended)
    }

    /// Moves the active memberships of a merged unit to the unit it merged into.
    pub(super) async fn transfer_members(
        &self,
        transaction: &mut WriteTx,
        from: &OrgUnit,
        into: &OrgUnit,
        reason: &str,
    ) -> Result<(), ApiError> {
        let reason = if reason.is_empty() {
            format!("merged into {}", into.display_name)
        } else {
            reason.to_string()
        };
        for membership in
            store::members::active_memberships_in(transaction.conn(), &from.id).await?
        {
            let volunteer_id = membership.volunteer_id.clone();
            let display_name = membership.volunteer_display_name.clone();
            let was_primary = membership.primary;
            self.end_membership_in(transaction, membership, &reason)
                .await?;
            let already = store::members::active_memberships_of(transaction.conn(), &volunteer_id)
                .await?
                .into_iter()
                .find(|membership| membership.org_unit_id == into.id);
            let target = match already {
                Some(existing) => existing,
                None => {
                    self.add_membership(transaction, into, &volunteer_id, &display_name, &reason)
                        .await?
                }
            };
            if was_primary && !target.primary {
                // The primary went elsewhere when the old one ended; it belongs with the
                // unit the member was merged into.
                let mut target = target;
                make_primary(transaction, &mut target, &reason).await?;
            }
        }
        Ok(())
    }

    /// A volunteer applies to join a unit (or staff apply on its behalf).
    pub async fn create_join_application(
        &self,
        principal: &Principal,
        application: NewJoinApplication,
        request_id: &str,
    ) -> Result<JoinApplication, ApiError> {
        if !access::is_self(principal, &application.volunteer_id) {
            access::require(principal, Action::ManageMembers)?;
        }
        let scope = self.scope(principal).await?;
        let volunteer = self
            .visible_volunteer(principal, &scope, &application.volunteer_id)
            .await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateJoinApplication", request_id)
            .await?
        {
            drop(transaction);
            let (unit_id, id) = nested_ids(&existing);
            return self.get_join_application(principal, unit_id, id).await;
        }
        let unit = self
            .visible_unit(transaction.conn(), &scope, &application.org_unit_id)
            .await?;
        active_unit_required(&unit)?;
        active_volunteer_required(&volunteer)?;
        not_yet_member(&mut transaction, &volunteer.id, &unit).await?;
        let join_application = open_application(
            &mut transaction,
            &unit.id,
            &volunteer.id,
            application.message,
        )
        .await?;
        let name = names::join_application(&unit.id, &join_application.id);
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(join_application)
    }

    /// Gets a join application (the applicant, or readers of the unit).
    /// The application `orgUnits/{org_unit_id}/joinApplications/{id}`.
    pub async fn get_join_application(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        id: &str,
    ) -> Result<JoinApplication, ApiError> {
        let not_found = || ApiError::not_found(format!("join application {id}"));
        let application = store::members::get_application(self.database.reader(), id)
            .await?
            .filter(|application| application.org_unit_id == org_unit_id)
            .ok_or_else(not_found)?;
        if access::is_self(principal, &application.volunteer_id) {
            return Ok(application);
        }
        access::require(principal, Action::ReadVolunteers)?;
        let scope = self.scope(principal).await?;
        self.visible_unit(self.database.reader(), &scope, &application.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(application)
    }

    /// Lists a unit's join applications.
    pub async fn list_join_applications(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        state: Option<JoinState>,
        page: &PageRequest,
    ) -> Result<(Vec<JoinApplication>, String), ApiError> {
        access::require(principal, Action::ReadVolunteers)?;
        let scope = self.scope(principal).await?;
        let unit = self
            .visible_unit(self.database.reader(), &scope, org_unit_id)
            .await?;
        let mut applications = store::members::list_applications(
            self.database.reader(),
            &unit.id,
            state.map_or(0, |state| state as i64),
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut applications, |application| application.id.clone());
        Ok((applications, next))
    }

    /// Approves, rejects or withdraws a pending application.
    pub async fn decide_join_application(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        id: &str,
        decision: JoinState,
        comment: &str,
    ) -> Result<JoinApplication, ApiError> {
        let mut application = self
            .get_join_application(principal, org_unit_id, id)
            .await?;
        match decision {
            JoinState::Withdrawn if access::is_self(principal, &application.volunteer_id) => {}
            _ => access::require(principal, Action::ManageMembers)?,
        }
        if application.state != JoinState::Pending {
            return Err(ApiError::failed_precondition(
                format!("the application is already {}", application.state.name_en()),
                "该申请已处理，不能再次处理",
            ));
        }
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        let before = payload::plain(&application);
        if decision == JoinState::Approved {
            let unit = self
                .visible_unit(transaction.conn(), &scope, &application.org_unit_id)
                .await?;
            active_unit_required(&unit)?;
            let volunteer = store::volunteers::get(transaction.conn(), &application.volunteer_id)
                .await?
                .ok_or_else(|| ApiError::not_found(names::volunteer(&application.volunteer_id)))?;
            let membership = self
                .add_membership(
                    &mut transaction,
                    &unit,
                    &volunteer.id,
                    &volunteer.display_name,
                    comment,
                )
                .await?;
            application.membership_id = membership.id;
        }
        application.state = decision;
        application.decided_by = principal.subject.clone();
        application.decision_comment = comment.to_string();
        touch(&mut application.meta, transaction.now());
        if !store::members::update_application(transaction.conn(), &application).await? {
            return Err(changed_concurrently("join application"));
        }
        transaction.record_diff(
            JOIN_APPLICATION_TYPE,
            names::join_application(&application.org_unit_id, &application.id),
            Operation::Update,
            Some(&before),
            payload::plain(&application),
            comment,
        )?;
        transaction.commit().await?;
        Ok(application)
    }
}

/// Opens a pending join application of `volunteer_id` to `unit_id`, recorded in the change
/// log.
pub(super) async fn open_application(
    transaction: &mut WriteTx,
    unit_id: &str,
    volunteer_id: &str,
    message: String,
) -> Result<JoinApplication, ApiError> {
    let join_application = JoinApplication {
        id: egret_storage::new_id(),
        org_unit_id: unit_id.to_string(),
        volunteer_id: volunteer_id.to_string(),
        message,
        state: JoinState::Pending,
        decided_by: String::new(),
        decision_comment: String::new(),
        membership_id: String::new(),
        meta: transaction.new_meta(),
    };
    store::members::insert_application(transaction.conn(), &join_application).await?;
    transaction.record_diff(
        JOIN_APPLICATION_TYPE,
        names::join_application(unit_id, &join_application.id),
        Operation::Create,
        None,
        payload::plain(&join_application),
        "",
    )?;
    Ok(join_application)
}
