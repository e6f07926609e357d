//! Volunteers: real-name registration, masked reads, audited reveals.

use egret_runtime::{ApiError, Bilingual, PageRequest, Principal, Violation};
use egret_storage::{Operation, Ordering, WriteTx};
use egret_sync::RecordChanges;

use super::members::MEMBERSHIP_TYPE;
use super::{Registry, Scope};
use crate::domain::access::{self, Action};
use crate::domain::identity::{IdentityDocument, mask_id_number};
use crate::domain::numbering::SchemeValues;
use crate::domain::{
    EmergencyContact, IdType, Membership, MembershipState, NewVolunteer, OrgStatus, OrgUnit,
    RegistrationCheck, Volunteer, VolunteerStatus, china_date, document_registered, names, payload,
};
use crate::store::{self, volunteers::VolunteerFilter};

/// The fields `ListVolunteers` sorts by.
pub use crate::store::volunteers::SORT_FIELDS as VOLUNTEER_SORT_FIELDS;
use egret_storage::{changed_concurrently, check_version, touch};

const VOLUNTEER_TYPE: &str = "egret.registry.v1.Volunteer";

/// Which volunteers to list.
#[derive(Debug, Clone, Default)]
pub struct VolunteerQuery {
    /// The subtree's root; None for the caller's own unit.
    pub org_unit: Option<String>,
    /// Status filter.
    pub status: Option<VolunteerStatus>,
    /// Exact skill.
    pub skill: String,
    /// Name substring.
    pub name_contains: String,
    /// Exact volunteer number.
    pub volunteer_number: String,
    /// The order.
    pub ordering: Ordering,
}

impl VolunteerQuery {
    /// The filters as text, to bind page tokens to them.
    pub fn fingerprint(&self) -> String {
        format!("{self:?}")
    }
}

/// Changes to a volunteer; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VolunteerPatch {
    /// 姓名.
    pub display_name: Option<String>,
    /// 手机.
    pub phone: Option<String>,
    /// 邮箱.
    pub email: Option<String>,
    /// 技能.
    pub skills: Option<Vec<String>>,
    /// 服务领域.
    pub service_fields: Option<Vec<i32>>,
    /// 服务主题.
    pub service_themes: Option<Vec<i32>>,
    /// 可服务时间.
    pub availability: Option<Vec<i32>>,
    /// 紧急联系人.
    pub emergency_contact: Option<EmergencyContact>,
    /// Status.
    pub status: Option<VolunteerStatus>,
}

impl VolunteerPatch {
    /// Fields a volunteer may not change about itself.
    fn touches_staff_fields(&self) -> bool {
        self.display_name.is_some() || self.status.is_some()
    }
}

/// A volunteer as a caller may see it.
#[derive(Debug, Clone)]
pub struct VolunteerView {
    /// The record.
    pub volunteer: Volunteer,
    /// The plaintext ID number, only on an audited reveal.
    pub revealed_id_number: Option<String>,
}

impl VolunteerView {
    fn masked(volunteer: Volunteer) -> Self {
        Self {
            volunteer,
            revealed_id_number: None,
        }
    }
}

fn id_type_key(id_type: IdType) -> &'static str {
    match id_type {
        IdType::ResidentId => "resident_id",
        IdType::HkMacaoPermit => "hk_macao_permit",
        IdType::TaiwanPermit => "taiwan_permit",
        IdType::HmtResidencePermit => "hmt_residence_permit",
        IdType::Passport => "passport",
    }
}

fn already_registered() -> ApiError {
    ApiError::AlreadyExists {
        resource: "volunteer".to_string(),
        reason: Bilingual::new(
            "a volunteer with this identity document is already registered; ask the unit that registered them to add a membership, or let the volunteer apply to join",
            "该证件的志愿者已注册，请通过入队申请或由原登记组织添加成员关系",
        ),
    }
}

/// How a newly registered volunteer joins the unit that registers her.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    /// At once, as its member (primary membership): staff and leaders registering her.
    Member,
    /// Through a join application the unit's leaders decide: a volunteer registering
    /// herself.
    Pending,
}

impl Registry {
    fn id_number_hash(&self, document: &IdentityDocument) -> String {
        self.cipher
            .lookup_hash(id_type_key(document.id_type), &document.number)
    }

    /// The volunteer if the principal may see it (itself, or in its subtree), else
    /// NOT_FOUND.
    pub(super) async fn visible_volunteer(
        &self,
        principal: &Principal,
        scope: &Scope,
        id: &str,
    ) -> Result<Volunteer, ApiError> {
        let not_found = || ApiError::not_found(names::volunteer(id));
        if !access::is_self(principal, id) {
            access::require(principal, Action::ReadVolunteers)?;
            let (low, high) = scope.bounds();
            if !store::volunteers::visible_in(self.database.reader(), id, (&low, &high)).await? {
                return Err(not_found());
            }
        }
        store::volunteers::get(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)
    }

    /// Gets a volunteer, masked unless `reveal` (admin or staff; audited).
    pub async fn get_volunteer(
        &self,
        principal: &Principal,
        id: &str,
        reveal: bool,
    ) -> Result<VolunteerView, ApiError> {
        if reveal {
            access::require(principal, Action::RevealPersonalData)?;
        }
        let scope = self.scope(principal).await?;
        let volunteer = self.visible_volunteer(principal, &scope, id).await?;
        if !reveal {
            return Ok(VolunteerView::masked(volunteer));
        }
        let sealed = store::volunteers::sealed_id_number(self.database.reader(), id).await?;
        if volunteer.meta.origin_instance != self.instance_id && sealed.is_empty() {
            // A copy of another instance's volunteer sent minimised: its personal data
            // stayed there.
            return Err(ApiError::failed_precondition(
                format!(
                    "{} belongs to instance {}, which alone holds the ID number and contacts; reveal them there",
                    names::volunteer(id),
                    volunteer.meta.origin_instance
                ),
                format!(
                    "{} 属于实例 {}，证件号码与联系方式只保存在该实例，请在该实例查看",
                    names::volunteer(id),
                    volunteer.meta.origin_instance
                ),
            ));
        }
        let id_number = self.cipher.decrypt(&sealed).map_err(ApiError::Internal)?;
        self.audit(
            principal,
            &scope,
            &names::volunteer(id),
            &["id_number", "phone", "emergency_contact.phone"],
            "GetVolunteer",
        )
        .await?;
        Ok(VolunteerView {
            volunteer,
            revealed_id_number: Some(id_number),
        })
    }

    /// Lists volunteers visible in a subtree, masked.
    pub async fn list_volunteers(
        &self,
        principal: &Principal,
        query: &VolunteerQuery,
        page: &PageRequest,
    ) -> Result<(Vec<Volunteer>, String), ApiError> {
        access::require(principal, Action::ReadVolunteers)?;
        let root = match &query.org_unit {
            Some(id) => self.scope_and_unit(principal, id).await?.1,
            None => self.scope(principal).await?.root,
        };
        let filter = VolunteerFilter {
            bounds: crate::domain::org::subtree_bounds(&root.path),
            status: query.status.map_or(0, |status| status as i64),
            skill: query.skill.clone(),
            name_contains: query.name_contains.clone(),
            volunteer_number: query.volunteer_number.clone(),
        };
        let mut volunteers = store::volunteers::list(
            self.database.reader(),
            &filter,
            query.ordering,
            page.after.as_deref(),
            page.fetch_limit(),
            self.list_probe_limit,
        )
        .await?;
        let next = page.finish(&mut volunteers, |(_, key)| key.clone());
        Ok((
            volunteers
                .into_iter()
                .map(|(volunteer, _)| volunteer)
                .collect(),
            next,
        ))
    }

    /// The people registered at more than one instance, as seen from the caller's subtree:
    /// each with its records, by the hash of its ID number under the federation key.
    pub async fn list_shared_volunteers(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> Result<(Vec<(String, Vec<Volunteer>)>, String), ApiError> {
        access::require(principal, Action::ReadVolunteers)?;
        let root = self.scope(principal).await?.root;
        let bounds = crate::domain::org::subtree_bounds(&root.path);
        let bounds = (bounds.0.as_str(), bounds.1.as_str());
        let mut hashes = store::volunteers::shared_federation_hashes(
            self.database.reader(),
            bounds,
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut hashes, String::clone);
        let mut people = Vec::with_capacity(hashes.len());
        for hash in hashes {
            let volunteers =
                store::volunteers::by_federation_hash(self.database.reader(), bounds, &hash)
                    .await?;
            people.push((hash, volunteers));
        }
        Ok((people, next))
    }

    /// Finds a volunteer by identity document, if visible.
    pub async fn lookup_volunteer(
        &self,
        principal: &Principal,
        document: &IdentityDocument,
    ) -> Result<Volunteer, ApiError> {
        access::require(principal, Action::RegisterVolunteers)?;
        let scope = self.scope(principal).await?;
        let hash = self.id_number_hash(document);
        let not_found = || ApiError::not_found("volunteer with this identity document");
        let Some(id) = store::volunteers::find_by_hash(self.database.reader(), &hash).await? else {
            return Err(not_found());
        };
        self.visible_volunteer(principal, &scope, &id)
            .await
            .map_err(|_| not_found())
    }

    async fn registering_unit(
        &self,
        executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
        scope: &Scope,
        org_unit_id: &str,
    ) -> Result<OrgUnit, ApiError> {
        let unit = self.visible_unit(executor, scope, org_unit_id).await?;
        if unit.status != OrgStatus::Active {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} is {}; volunteers register with an active unit",
                    unit.display_name,
                    unit.status.name_en()
                ),
                format!(
                    "{} 处于{}状态，只能在正常状态的组织登记志愿者",
                    unit.display_name,
                    unit.status.name_zh()
                ),
            ));
        }
        Ok(unit)
    }

    /// Inserts new volunteers, each with its primary membership in `unit`, inside
    /// `transaction`: their numbers drawn at once and many rows to a statement.
    async fn insert_volunteers(
        &self,
        transaction: &mut WriteTx,
        unit: &OrgUnit,
        rows: Vec<(NewVolunteer, String)>,
        joins: Joining,
    ) -> Result<Vec<Volunteer>, ApiError> {
        let values = SchemeValues {
            instance: &self.instance_id,
            year: china_date(transaction.now()).year,
            tier: "",
        };
        let rendered = self.schemes.volunteer.render(values);
        let count = rows.len() as i64;
        let last = store::next_counters(
            transaction.conn(),
            &format!("volunteer:{}", rendered.prefix),
            count,
        )
        .await?;
        let mut volunteers = Vec::with_capacity(rows.len());
        let mut memberships = Vec::with_capacity(rows.len());
        for (offset, (new_volunteer, id_number_hash)) in rows.into_iter().enumerate() {
            let sealed = self
                .cipher
                .encrypt(&new_volunteer.document.number)
                .map_err(ApiError::Internal)?;
            let id_number_federation_hash = self
                .cipher
                .federation_hash(
                    id_type_key(new_volunteer.document.id_type),
                    &new_volunteer.document.number,
                )
                .unwrap_or_default();
            let volunteer = Volunteer {
                id_number_federation_hash,
                id: egret_storage::new_id(),
                volunteer_number: rendered.number(last - count + 1 + offset as i64),
                display_name: new_volunteer.display_name,
                id_type: new_volunteer.document.id_type,
                id_number_hash,
                id_number_masked: mask_id_number(&new_volunteer.document.number),
                birth_date: new_volunteer.birth_date,
                gender: new_volunteer.gender,
                phone: new_volunteer.phone,
                email: new_volunteer.email,
                skills: new_volunteer.skills,
                service_fields: new_volunteer.service_fields,
                service_themes: new_volunteer.service_themes,
                availability: new_volunteer.availability,
                emergency_contact: new_volunteer.emergency_contact,
                status: VolunteerStatus::Active,
                registering_org_unit_id: unit.id.clone(),
                meta: transaction.new_meta(),
            };
            // A volunteer new to the registry has no membership yet: this one is primary.
            memberships.push(Membership {
                id: egret_storage::new_id(),
                org_unit_id: unit.id.clone(),
                volunteer_id: volunteer.id.clone(),
                volunteer_display_name: volunteer.display_name.clone(),
                primary: true,
                state: MembershipState::Active,
                joined_on: china_date(transaction.now()),
                ended_on: None,
                meta: transaction.new_meta(),
            });
            volunteers.push((volunteer, sealed));
        }
        store::volunteers::insert_many(transaction.conn(), &volunteers)
            .await
            .map_err(|error| match error {
                ApiError::AlreadyExists { .. } => already_registered(),
                other => other,
            })?;
        for (volunteer, _) in &volunteers {
            transaction.record_diff(
                VOLUNTEER_TYPE,
                names::volunteer(&volunteer.id),
                Operation::Create,
                None,
                payload::volunteer(volunteer),
                "",
            )?;
        }
        if joins == Joining::Pending {
            return Ok(volunteers
                .into_iter()
                .map(|(volunteer, _)| volunteer)
                .collect());
        }
        store::members::insert_memberships(transaction.conn(), &memberships).await?;
        for membership in &memberships {
            transaction.record_diff(
                MEMBERSHIP_TYPE,
                names::membership(&unit.id, &membership.id),
                Operation::Create,
                None,
                payload::plain(membership),
                "",
            )?;
        }
        Ok(volunteers
            .into_iter()
            .map(|(volunteer, _)| volunteer)
            .collect())
    }

    /// Registers a volunteer with `org_unit_id`: as its member (primary membership), or,
    /// when `joins` is pending (self-registration), with a join application to it that the
    /// unit's leaders decide. Returns the volunteer and the application it opened.
    pub async fn create_volunteer(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        new_volunteer: NewVolunteer,
        joins: Joining,
        request_id: &str,
    ) -> Result<(Volunteer, Option<crate::domain::JoinApplication>), ApiError> {
        access::require(principal, Action::RegisterVolunteers)?;
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateVolunteer", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.trim_start_matches("volunteers/").to_string();
            let volunteer = self.visible_volunteer(principal, &scope, &id).await?;
            return Ok((volunteer, None));
        }
        let unit = self
            .registering_unit(transaction.conn(), &scope, org_unit_id)
            .await?;
        let hash = self.id_number_hash(&new_volunteer.document);
        if store::volunteers::find_by_hash(transaction.conn(), &hash)
            .await?
            .is_some()
        {
            return Err(already_registered());
        }
        let volunteer = self
            .insert_volunteers(&mut transaction, &unit, vec![(new_volunteer, hash)], joins)
            .await?
            .pop()
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no volunteer inserted")))?;
        let application = match joins {
            Joining::Member => None,
            Joining::Pending => Some(
                super::members::open_application(
                    &mut transaction,
                    &unit.id,
                    &volunteer.id,
                    String::new(),
                )
                .await?,
            ),
        };
        transaction
            .finish_request(request_id, &names::volunteer(&volunteer.id))
            .await?;
        transaction.commit().await?;
        Ok((volunteer, application))
    }

    /// Checks a registration with `org_unit_id` without making it (`validate_only`): as
    /// [`Self::create_volunteer`] checks it, in the same order, but every problem with the
    /// record comes back in one INVALID_ARGUMENT: the fields' violations and, whenever the
    /// document itself is valid, a document registered already. Reads only: no request id
    /// is claimed and nothing is written.
    pub async fn check_volunteer(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        check: RegistrationCheck,
    ) -> Result<(), ApiError> {
        access::require(principal, Action::RegisterVolunteers)?;
        let scope = self.scope(principal).await?;
        if check.violations.is_empty() {
            // A real call refuses bad fields before it looks at the unit.
            self.registering_unit(self.database.reader(), &scope, org_unit_id)
                .await?;
        }
        let registered = match &check.document {
            Some(document) => {
                let hash = self.id_number_hash(document);
                store::volunteers::find_by_hash(self.database.reader(), &hash)
                    .await?
                    .is_some()
            }
            None => false,
        };
        let violations = check.with_registered_document(registered);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(violations))
        }
    }

    /// Registers many volunteers: every row is checked first, and either all are
    /// registered or none (INVALID_ARGUMENT naming each bad row's field).
    pub async fn batch_create_volunteers(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        rows: Vec<NewVolunteer>,
        request_id: &str,
    ) -> Result<Vec<Volunteer>, ApiError> {
        access::require(principal, Action::RegisterVolunteers)?;
        let scope = self.scope(principal).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("BatchCreateVolunteers", request_id)
            .await?
        {
            drop(transaction);
            let mut volunteers = Vec::new();
            for name in existing.split(',').filter(|name| !name.is_empty()) {
                let id = name.trim_start_matches("volunteers/");
                volunteers.push(self.visible_volunteer(principal, &scope, id).await?);
            }
            return Ok(volunteers);
        }
        let unit = self
            .registering_unit(transaction.conn(), &scope, org_unit_id)
            .await?;
        let hashes: Vec<String> = rows
            .iter()
            .map(|row| self.id_number_hash(&row.document))
            .collect();
        let registered = store::volunteers::existing_hashes(transaction.conn(), &hashes).await?;
        let mut violations = Vec::new();
        for (index, hash) in hashes.iter().enumerate() {
            let field = format!("requests[{index}].volunteer.id_number");
            if let Some(first) = hashes[..index].iter().position(|earlier| earlier == hash) {
                violations.push(Violation::new(
                    field,
                    format!("is the same person as requests[{first}]"),
                    format!("与第 {first} 行是同一证件"),
                ));
            } else if registered.contains(hash) {
                violations.push(document_registered(field));
            }
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations));
        }
        let volunteers = self
            .insert_volunteers(
                &mut transaction,
                &unit,
                rows.into_iter().zip(hashes).collect(),
                Joining::Member,
            )
            .await?;
        let created: Vec<String> = volunteers
            .iter()
            .map(|volunteer| names::volunteer(&volunteer.id))
            .collect();
        transaction
            .finish_request(request_id, &created.join(","))
            .await?;
        transaction.commit().await?;
        Ok(volunteers)
    }

    /// Updates a volunteer. Volunteers may update their own contact details and
    /// preferences, not their name or status.
    pub async fn update_volunteer(
        &self,
        principal: &Principal,
        id: &str,
        patch: VolunteerPatch,
        expected_version: i64,
    ) -> Result<Volunteer, ApiError> {
        if access::is_self(principal, id) {
            if patch.touches_staff_fields() {
                return Err(ApiError::permission_denied(
                    "volunteers cannot change their own name or status; ask your team",
                    "志愿者不能自行修改姓名或状态，请联系所在队伍",
                ));
            }
        } else {
            access::require(principal, Action::EditVolunteers)?;
        }
        let scope = self.scope(principal).await?;
        let mut volunteer = self.visible_volunteer(principal, &scope, id).await?;
        let name = names::volunteer(id);
        self.ensure_origin(&volunteer.meta, &name)?;
        check_version(&name, expected_version, volunteer.meta.version)?;
        let mut transaction = self.begin(principal).await?;
        let before = volunteer.clone();
        let VolunteerPatch {
            display_name,
            phone,
            email,
            skills,
            service_fields,
            service_themes,
            availability,
            emergency_contact,
            status,
        } = patch;
        if let Some(value) = display_name {
            volunteer.display_name = value;
        }
        if let Some(value) = phone {
            volunteer.phone = value;
        }
        if let Some(value) = email {
            volunteer.email = value;
        }
        if let Some(value) = skills {
            volunteer.skills = value;
        }
        if let Some(value) = service_fields {
            volunteer.service_fields = value;
        }
        if let Some(value) = service_themes {
            volunteer.service_themes = value;
        }
        if let Some(value) = availability {
            volunteer.availability = value;
        }
        if let Some(value) = emergency_contact {
            volunteer.emergency_contact = value;
        }
        if let Some(value) = status {
            volunteer.status = value;
        }
        touch(&mut volunteer.meta, transaction.now());
        if !store::volunteers::update(transaction.conn(), &volunteer).await? {
            return Err(changed_concurrently(&name));
        }
        let changes = payload::volunteer_changes(&before, &volunteer);
        transaction.record_with_changes(
            VOLUNTEER_TYPE,
            name,
            Operation::Update,
            payload::volunteer(&volunteer),
            changes,
            "",
        )?;
        transaction.commit().await?;
        Ok(volunteer)
    }
}
