//! At the city: a district's registry records, pushed up its link, written as read-only
//! copies (their origin stays the district's) and recorded in the city's own change log,
//! so that the city's lists, followers and statistics take them in like any change.
//!
//! A district's tree hangs under its enrolled unit: the district's paths start at that
//! unit (`/D/…`), the city's at its own root (`/C/…/D/…`), so every path is rebased.
//!
//! A volunteer comes up minimised by default (`minimal/v1`): masked ID number, masked
//! contacts, and the ID number's hash under the federation key; the city never holds the
//! number, so its copy has no sealed number and cannot be revealed at the city. A district
//! configured to send full records (`full/v1`, with a legal basis the city records) sends
//! the plaintext number as well, which the city seals under its own data key at once, and
//! unmasked contacts: such a copy can be revealed at the city, audited there. Either way
//! the copy's lookup hash is a placeholder naming the record, never a hash of the number,
//! so one person registered in two districts is two records at the city (matched by the
//! federation hash), and the city cannot look a district's volunteer up by ID number.
//!
//! At the district, the same applier fills a page of its own log with the personal data of
//! `full/v1` for its upward link ([`RecordApplier::disclose`]), auditing every record so
//! read.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::keys::PersonalDataCipher;
use egret_runtime::{ApiError, Principal};
use egret_storage::{Database, Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::follower::{corrupt, record};
use egret_sync::upward::{
    District, RecordApplier, newer, not_taken, operation, outside, serde_form,
};
use egret_types::{CivilDate, Meta};
use std::collections::HashMap;

use futures::future::BoxFuture;

use crate::domain::{
    AuditEntry, JoinApplication, KeyMember, Membership, OrgStatus, OrgUnit, RegistrationForm, Tier,
    Volunteer, names, payload,
};
use crate::store;

/// Applies a district's registry records at the city; at a district, discloses what
/// `full/v1` sends.
pub struct RegistryApplier {
    /// Seals the ID numbers of full copies at the city; opens the instance's own for its
    /// upward link.
    pub cipher: PersonalDataCipher,
    /// Whether this instance is configured to send full records upward.
    pub sends_full: bool,
}

/// The personal fields `full/v1` adds to a volunteer, as audited.
const VOLUNTEER_FIELDS: &[&str] = &["id_number", "phone", "email", "emergency_contact.phone"];

/// The personal fields `full/v1` adds to a registration form, as audited.
const FORM_FIELDS: &[&str] = &["phone", "email", "key_members"];

/// How an upward disclosure appears in the audit log.
const DISCLOSURE_METHOD: &str = "egret.sync.v1.ChangeLogService/ListChanges full/v1";

impl RecordApplier for RegistryApplier {
    fn tallied(&self) -> egret_sync::tally::Tallied {
        &[
            ("egret.registry.v1.OrgUnit", "org_units"),
            ("egret.registry.v1.RegistrationForm", "registration_forms"),
            ("egret.registry.v1.Volunteer", "volunteers"),
            ("egret.registry.v1.Membership", "memberships"),
            ("egret.registry.v1.JoinApplication", "join_applications"),
        ]
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.apply_all(transaction, district, std::slice::from_ref(change))
    }

    fn apply_all<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        changes: &'a [pb::Change],
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let mut batch = Batch::read(transaction, changes).await?;
            for change in changes {
                match record(change)? {
                    Kind::Volunteer(volunteer) => {
                        let sealed = if volunteer.id_number.is_empty() {
                            Vec::new()
                        } else {
                            self.cipher
                                .encrypt(&volunteer.id_number)
                                .map_err(ApiError::Internal)?
                        };
                        batch
                            .volunteer(transaction, district, change, sealed)
                            .await?;
                    }
                    Kind::Membership(_) => batch.membership(transaction, district, change).await?,
                    kind => {
                        // The rarer kinds go one by one, after the rows waiting to be
                        // written, which they may refer to.
                        batch.write(transaction).await?;
                        match kind {
                            Kind::OrgUnit(unit) => {
                                batch.units.clear();
                                apply_unit(transaction, district, change, unit).await?;
                            }
                            Kind::RegistrationForm(form) => {
                                apply_form(transaction, district, change, form).await?;
                            }
                            Kind::JoinApplication(_) => {
                                apply_application(transaction, district, change).await?;
                            }
                            _ => return Err(not_taken(change)),
                        }
                    }
                }
            }
            batch.write(transaction).await
        })
    }

    fn disclose<'a>(
        &'a self,
        database: &'a Database,
        principal: &'a Principal,
        changes: &'a mut [pb::Change],
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            if !self.sends_full {
                return Err(ApiError::failed_precondition(
                    "this instance is not configured to send full records upward (instance.upward_projection = \"full/v1\" with instance.legal_basis)",
                    "本实例未配置向上级发送完整记录（instance.upward_projection = \"full/v1\" 并填写 instance.legal_basis）",
                ));
            }
            let held = held_volunteers(database, changes).await?;
            let mut disclosed = Vec::new();
            for change in changes.iter_mut() {
                let Some(kind) = change
                    .record
                    .as_mut()
                    .and_then(|record| record.kind.as_mut())
                else {
                    continue;
                };
                let read = match kind {
                    Kind::Volunteer(volunteer) => {
                        disclose_volunteer(&self.cipher, &held, volunteer)?
                            .then(|| (names::volunteer(&volunteer.id), VOLUNTEER_FIELDS))
                    }
                    Kind::RegistrationForm(form) => disclose_form(database, form)
                        .await?
                        .then(|| (names::registration_form(&form.org_unit_id), FORM_FIELDS)),
                    _ => None,
                };
                disclosed.extend(read);
            }
            audit_disclosures(database, principal, &disclosed).await
        })
    }
}

/// The volunteers of a page of changes as held, each with its sealed number, read in two
/// statements for the page.
async fn held_volunteers(
    database: &Database,
    changes: &[pb::Change],
) -> Result<HashMap<String, (Volunteer, Vec<u8>)>, ApiError> {
    let mut ids: Vec<&str> = changes
        .iter()
        .filter_map(|change| match change.record.as_ref()?.kind.as_ref()? {
            Kind::Volunteer(volunteer) => Some(volunteer.id.as_str()),
            _ => None,
        })
        .collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    ids.sort_unstable();
    ids.dedup();
    let mut connection = database
        .reader()
        .acquire()
        .await
        .map_err(|error| egret_storage::convert_sqlx_err(error, "volunteer"))?;
    let mut sealed = store::volunteers::sealed_id_numbers(&mut connection, &ids).await?;
    Ok(store::volunteers::get_many(&mut connection, &ids)
        .await?
        .into_iter()
        .filter_map(|volunteer| {
            let number = sealed.remove(&volunteer.id)?;
            Some((volunteer.id.clone(), (volunteer, number)))
        })
        .collect())
}

/// Fills in a volunteer's ID number, and its contacts when the change is of the version
/// held (an older change goes with masked contacts: a later one carries the latest);
/// false for a volunteer no longer held.
fn disclose_volunteer(
    cipher: &PersonalDataCipher,
    held: &HashMap<String, (Volunteer, Vec<u8>)>,
    volunteer: &mut pb::Volunteer,
) -> Result<bool, ApiError> {
    let Some((held, sealed)) = held.get(&volunteer.id) else {
        return Ok(false);
    };
    volunteer.id_number = cipher.decrypt(sealed).map_err(ApiError::Internal)?;
    if Some(held.meta.version) == volunteer.meta.as_ref().map(|meta| meta.version) {
        volunteer.phone.clone_from(&held.phone);
        volunteer.email.clone_from(&held.email);
        if let Some(contact) = volunteer.emergency_contact.as_mut() {
            contact.phone.clone_from(&held.emergency_contact.phone);
        }
    }
    Ok(true)
}

/// Fills in a registration form's contacts when the change is of the version held.
async fn disclose_form(
    database: &Database,
    form: &mut pb::RegistrationForm,
) -> Result<bool, ApiError> {
    let Some(held) = store::org::get_form(database.reader(), &form.org_unit_id).await? else {
        return Ok(false);
    };
    if Some(held.meta.version) != form.meta.as_ref().map(|meta| meta.version)
        || held.key_members.len() != form.key_members.len()
    {
        return Ok(false);
    }
    form.phone = held.phone;
    form.email = held.email;
    for (member, held) in form.key_members.iter_mut().zip(held.key_members) {
        member.phone = held.phone;
        member.email = held.email;
    }
    Ok(true)
}

/// Records each disclosed record in the audit log, as the upward link's read.
async fn audit_disclosures(
    database: &Database,
    principal: &Principal,
    disclosed: &[(String, &[&str])],
) -> Result<(), ApiError> {
    if disclosed.is_empty() {
        return Ok(());
    }
    let root = store::org::get_root(database.reader())
        .await?
        .map(|root| root.path)
        .unwrap_or_default();
    let mut transaction = database.begin(&principal.subject, "").await?;
    let read_time = transaction.now();
    for (resource_name, fields) in disclosed {
        let entry = AuditEntry {
            id: egret_storage::new_id(),
            actor: principal.subject.clone(),
            actor_org_unit_id: principal.org_unit.clone(),
            resource_name: resource_name.clone(),
            fields: fields.iter().map(|field| field.to_string()).collect(),
            method: DISCLOSURE_METHOD.to_string(),
            read_time,
        };
        store::insert_audit_entry(transaction.conn(), &entry, &root).await?;
    }
    transaction.commit().await?;
    tracing::info!(
        actor = %principal.subject,
        records = disclosed.len(),
        "personal data read for the upward link"
    );
    Ok(())
}

fn meta(change: &pb::Change, meta: Option<pb::Meta>) -> Result<Meta, ApiError> {
    let meta = meta.ok_or_else(|| corrupt(change, "it carries no bookkeeping"))?;
    Ok(Meta {
        origin_instance: meta.origin_instance,
        version: meta.version,
        create_time: meta.create_time,
        update_time: meta.update_time,
    })
}

fn numbers(change: &pb::Change, values: Vec<i64>) -> Result<Vec<i32>, ApiError> {
    values
        .into_iter()
        .map(|value| i32::try_from(value).map_err(|_| corrupt(change, "a number out of range")))
        .collect()
}

async fn apply_unit(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
    unit: pb::OrgUnit,
) -> Result<(), ApiError> {
    let name = names::org_unit(&unit.id);
    // The district's paths start at its unit: `/D/…/X/`.
    let below = unit
        .path
        .strip_prefix(&format!("/{}/", district.org_unit_id))
        .filter(|rest| !rest.is_empty() && unit.id != district.org_unit_id)
        .ok_or_else(|| outside(district, &name))?;
    let copy = OrgUnit {
        path: format!("{}{below}", district.org_unit_path),
        tier: Tier::from_name(&unit.tier)
            .ok_or_else(|| corrupt(change, format!("tier {:?}", unit.tier)))?,
        status: OrgStatus::from_name(&unit.status)
            .ok_or_else(|| corrupt(change, format!("status {:?}", unit.status)))?,
        level: i32::try_from(unit.level).map_err(|_| corrupt(change, "level out of range"))?,
        categories: numbers(change, unit.categories)?,
        service_fields: numbers(change, unit.service_fields)?,
        service_themes: numbers(change, unit.service_themes)?,
        parent_id: Some(unit.parent_id.ok_or_else(|| outside(district, &name))?),
        merged_into: unit.merged_into,
        display_name: unit.display_name,
        meta: meta(change, unit.meta)?,
        id: unit.id,
    };
    let held = store::org::get_org_unit(transaction.conn(), &copy.id).await?;
    if let Some(held) = &held {
        if held.meta.origin_instance != district.instance_id {
            return Err(outside(district, &name));
        }
        if held.meta.version >= copy.meta.version {
            return Ok(());
        }
    }
    store::org::put_copy(transaction.conn(), &copy).await?;
    transaction.record_diff(
        "egret.registry.v1.OrgUnit",
        name,
        if held.is_some() {
            Operation::Update
        } else {
            Operation::Create
        },
        held.as_ref().map(payload::org_unit).as_ref(),
        payload::org_unit(&copy),
        &change.reason,
    )
}

async fn apply_form(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
    form: pb::RegistrationForm,
) -> Result<(), ApiError> {
    let name = names::registration_form(&form.org_unit_id);
    // The form's unit came up first (its change precedes the form's) and is the
    // district's own.
    let unit = store::org::get_org_unit(transaction.conn(), &form.org_unit_id).await?;
    if unit.is_none_or(|unit| unit.meta.origin_instance != district.instance_id) {
        return Err(outside(district, &name));
    }
    let founded_on = match form.founded_on.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            CivilDate::parse_iso(text)
                .ok_or_else(|| corrupt(change, format!("founding date {text:?}")))?,
        ),
    };
    let copy = RegistrationForm {
        org_unit_id: form.org_unit_id,
        archive_number: form.archive_number,
        team_number: form.team_number,
        leader_name: form.leader_name,
        host_unit: form.host_unit,
        declared_member_count: form.declared_member_count,
        founded_on,
        phone: form.phone,
        email: form.email,
        address: form.address,
        key_members: form
            .key_members
            .into_iter()
            .map(|member| KeyMember {
                name: member.name,
                position: member.position,
                phone: member.phone,
                workplace: member.workplace,
                email: member.email,
            })
            .collect(),
        service_features: form.service_features,
        awards: form.awards,
        meta: meta(change, form.meta)?,
    };
    let held = store::org::get_form(transaction.conn(), &copy.org_unit_id).await?;
    if let Some(held) = &held {
        if held.meta.origin_instance != district.instance_id {
            return Err(outside(district, &name));
        }
        if held.meta.version >= copy.meta.version {
            return Ok(());
        }
    }
    store::org::put_copy_form(transaction.conn(), &copy).await?;
    transaction.record_diff(
        "egret.registry.v1.RegistrationForm",
        name,
        if held.is_some() {
            Operation::Update
        } else {
            Operation::Create
        },
        held.as_ref().map(payload::registration_form).as_ref(),
        payload::registration_form(&copy),
        &change.reason,
    )
}

/// Whether `unit_id` lies in the district's subtree here.
async fn within(
    transaction: &mut WriteTx,
    district: &District,
    unit_id: &str,
) -> Result<bool, ApiError> {
    Ok(store::org::get_org_unit(transaction.conn(), unit_id)
        .await?
        .is_some_and(|unit| unit.path.starts_with(&district.org_unit_path)))
}

/// A batch's volunteers and memberships: what they refer to, read for the whole batch at
/// once and kept as the batch applies, and their rows, written many to a statement. The
/// checks and the log are those of one change at a time.
#[derive(Default)]
struct Batch {
    /// Units by id; None where none is held.
    units: HashMap<String, Option<OrgUnit>>,
    /// Volunteers by id as the batch leaves them; None where none is held.
    volunteers: HashMap<String, Option<Volunteer>>,
    /// Memberships by id as the batch leaves them.
    memberships: HashMap<String, Option<Membership>>,
    /// Volunteers to write, each once, with their sealed numbers.
    volunteer_rows: Vec<(Volunteer, Vec<u8>)>,
    membership_rows: Vec<Membership>,
}

impl Batch {
    /// Reads what the volunteers and memberships of `changes` refer to: their units, the
    /// volunteers, the memberships.
    async fn read(transaction: &mut WriteTx, changes: &[pb::Change]) -> Result<Self, ApiError> {
        let mut unit_ids = Vec::new();
        let mut volunteer_ids = Vec::new();
        let mut membership_ids = Vec::new();
        for change in changes {
            match change
                .record
                .as_ref()
                .and_then(|record| record.kind.as_ref())
            {
                Some(Kind::Volunteer(volunteer)) => {
                    unit_ids.push(volunteer.registering_org_unit_id.as_str());
                    volunteer_ids.push(volunteer.id.as_str());
                }
                Some(Kind::Membership(membership)) => {
                    unit_ids.push(membership.org_unit_id.as_str());
                    volunteer_ids.push(membership.volunteer_id.as_str());
                    membership_ids.push(membership.id.as_str());
                }
                _ => {}
            }
        }
        let mut batch = Batch::default();
        for ids in [&mut unit_ids, &mut volunteer_ids, &mut membership_ids] {
            ids.sort_unstable();
            ids.dedup();
        }
        if !unit_ids.is_empty() {
            batch.units = absent(&unit_ids);
            for unit in store::org::get_org_units(transaction.conn(), &unit_ids).await? {
                batch.units.insert(unit.id.clone(), Some(unit));
            }
        }
        if !volunteer_ids.is_empty() {
            batch.volunteers = absent(&volunteer_ids);
            for volunteer in store::volunteers::get_many(transaction.conn(), &volunteer_ids).await?
            {
                batch
                    .volunteers
                    .insert(volunteer.id.clone(), Some(volunteer));
            }
        }
        if !membership_ids.is_empty() {
            batch.memberships = absent(&membership_ids);
            for membership in
                store::members::get_memberships(transaction.conn(), &membership_ids).await?
            {
                batch
                    .memberships
                    .insert(membership.id.clone(), Some(membership));
            }
        }
        Ok(batch)
    }

    /// Whether `unit_id` lies in the district's subtree here.
    async fn within(
        &mut self,
        transaction: &mut WriteTx,
        district: &District,
        unit_id: &str,
    ) -> Result<bool, ApiError> {
        let unit = match self.units.get(unit_id) {
            Some(unit) => unit.clone(),
            None => {
                let unit = store::org::get_org_unit(transaction.conn(), unit_id).await?;
                self.units.insert(unit_id.to_string(), unit.clone());
                unit
            }
        };
        Ok(unit.is_some_and(|unit| unit.path.starts_with(&district.org_unit_path)))
    }

    async fn held_volunteer(
        &mut self,
        transaction: &mut WriteTx,
        id: &str,
    ) -> Result<Option<Volunteer>, ApiError> {
        if let Some(held) = self.volunteers.get(id) {
            return Ok(held.clone());
        }
        self.write(transaction).await?;
        let held = store::volunteers::get(transaction.conn(), id).await?;
        self.volunteers.insert(id.to_string(), held.clone());
        Ok(held)
    }

    async fn volunteer(
        &mut self,
        transaction: &mut WriteTx,
        district: &District,
        change: &pb::Change,
        sealed: Vec<u8>,
    ) -> Result<(), ApiError> {
        let copy: Volunteer = serde_form(change)?;
        let name = names::volunteer(&copy.id);
        if !self
            .within(transaction, district, &copy.registering_org_unit_id)
            .await?
        {
            return Err(outside(district, &name));
        }
        let held = self.held_volunteer(transaction, &copy.id).await?;
        if !newer(
            held.as_ref().map(|held| &held.meta),
            copy.meta.version,
            district,
            &name,
        )? {
            return Ok(());
        }
        transaction.record_with_changes(
            "egret.registry.v1.Volunteer",
            name,
            operation(held.is_some()),
            payload::volunteer(&copy),
            held.as_ref()
                .map(|held| payload::volunteer_changes(held, &copy))
                .unwrap_or_else(|| {
                    egret_sync::history::field_changes(None, &payload::volunteer(&copy))
                }),
            &change.reason,
        )?;
        self.volunteers.insert(copy.id.clone(), Some(copy.clone()));
        // A later version in the same batch replaces the row waiting to be written.
        self.volunteer_rows
            .retain(|(waiting, _)| waiting.id != copy.id);
        self.volunteer_rows.push((copy, sealed));
        Ok(())
    }

    async fn membership(
        &mut self,
        transaction: &mut WriteTx,
        district: &District,
        change: &pb::Change,
    ) -> Result<(), ApiError> {
        let mut copy: Membership = serde_form(change)?;
        let name = names::membership(&copy.org_unit_id, &copy.id);
        let volunteer = self.held_volunteer(transaction, &copy.volunteer_id).await?;
        if !self
            .within(transaction, district, &copy.org_unit_id)
            .await?
            || volunteer
                .as_ref()
                .is_none_or(|volunteer| volunteer.meta.origin_instance != district.instance_id)
        {
            return Err(outside(district, &name));
        }
        let held = match self.memberships.get(&copy.id) {
            Some(held) => held.clone(),
            None => {
                self.write(transaction).await?;
                store::members::get_membership(transaction.conn(), &copy.id).await?
            }
        };
        if !newer(
            held.as_ref().map(|held| &held.meta),
            copy.meta.version,
            district,
            &name,
        )? {
            return Ok(());
        }
        transaction.record_diff(
            "egret.registry.v1.Membership",
            name,
            operation(held.is_some()),
            held.as_ref().map(payload::plain).as_ref(),
            payload::plain(&copy),
            &change.reason,
        )?;
        if let Some(volunteer) = volunteer {
            copy.volunteer_display_name = volunteer.display_name;
        }
        self.memberships.insert(copy.id.clone(), Some(copy.clone()));
        self.membership_rows.retain(|waiting| waiting.id != copy.id);
        self.membership_rows.push(copy);
        Ok(())
    }

    /// Writes the rows waiting: volunteers first, which memberships refer to.
    async fn write(&mut self, transaction: &mut WriteTx) -> Result<(), ApiError> {
        if !self.volunteer_rows.is_empty() {
            store::volunteers::put_copies(transaction.conn(), &self.volunteer_rows).await?;
            self.volunteer_rows.clear();
        }
        if !self.membership_rows.is_empty() {
            store::members::put_copy_memberships(transaction.conn(), &self.membership_rows).await?;
            self.membership_rows.clear();
        }
        Ok(())
    }
}

/// Each of `ids` as not held, until read.
fn absent<T>(ids: &[&str]) -> HashMap<String, Option<T>> {
    ids.iter().map(|id| (id.to_string(), None)).collect()
}

async fn apply_application(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
) -> Result<(), ApiError> {
    let copy: JoinApplication = serde_form(change)?;
    let name = names::join_application(&copy.org_unit_id, &copy.id);
    let volunteer = store::volunteers::get(transaction.conn(), &copy.volunteer_id).await?;
    if !within(transaction, district, &copy.org_unit_id).await?
        || volunteer.is_none_or(|volunteer| volunteer.meta.origin_instance != district.instance_id)
    {
        return Err(outside(district, &name));
    }
    let held = store::members::get_application(transaction.conn(), &copy.id).await?;
    if !newer(
        held.as_ref().map(|held| &held.meta),
        copy.meta.version,
        district,
        &name,
    )? {
        return Ok(());
    }
    store::members::put_copy_application(transaction.conn(), &copy).await?;
    transaction.record_diff(
        "egret.registry.v1.JoinApplication",
        name,
        operation(held.is_some()),
        held.as_ref().map(payload::plain).as_ref(),
        payload::plain(&copy),
        &change.reason,
    )
}
