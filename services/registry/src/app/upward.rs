//! At the city: a district's registry records, pushed up its link, written as read-only
//! copies (their origin stays the district's) and recorded in the city's own change log,
//! so that the city's lists, followers and statistics take them in like any change.
//!
//! A district's tree hangs under its enrolled unit: the district's paths start at that
//! unit (`/D/…`), the city's at its own root (`/C/…/D/…`), so every path is rebased.
//!
//! A volunteer comes up minimised: masked ID number, masked contacts, and the ID number's
//! hash under the federation key; the city never holds the number, so its copy has no
//! sealed number and cannot be revealed or looked up by number at the city.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::ApiError;
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::follower::{corrupt, record};
use egret_sync::upward::{
    District, RecordApplier, newer, not_taken, operation, outside, serde_form,
};
use egret_types::{CivilDate, Meta};
use futures::future::BoxFuture;

use crate::domain::{
    JoinApplication, KeyMember, Membership, OrgStatus, OrgUnit, RegistrationForm, Tier, Volunteer,
    names, payload,
};
use crate::store;

/// Applies a district's org units and registration forms.
pub struct RegistryApplier;

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
        Box::pin(async move {
            match record(change)? {
                Kind::OrgUnit(unit) => apply_unit(transaction, district, change, unit).await,
                Kind::RegistrationForm(form) => {
                    apply_form(transaction, district, change, form).await
                }
                Kind::Volunteer(_) => apply_volunteer(transaction, district, change).await,
                Kind::Membership(_) => apply_membership(transaction, district, change).await,
                Kind::JoinApplication(_) => apply_application(transaction, district, change).await,
                _ => Err(not_taken(change)),
            }
        })
    }
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

async fn apply_volunteer(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
) -> Result<(), ApiError> {
    let copy: Volunteer = serde_form(change)?;
    let name = names::volunteer(&copy.id);
    if !within(transaction, district, &copy.registering_org_unit_id).await? {
        return Err(outside(district, &name));
    }
    let held = store::volunteers::get(transaction.conn(), &copy.id).await?;
    if !newer(
        held.as_ref().map(|held| &held.meta),
        copy.meta.version,
        district,
        &name,
    )? {
        return Ok(());
    }
    store::volunteers::put_copy(transaction.conn(), &copy).await?;
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
    )
}

async fn apply_membership(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
) -> Result<(), ApiError> {
    let copy: Membership = serde_form(change)?;
    let name = names::membership(&copy.org_unit_id, &copy.id);
    let volunteer = store::volunteers::get(transaction.conn(), &copy.volunteer_id).await?;
    if !within(transaction, district, &copy.org_unit_id).await?
        || volunteer.is_none_or(|volunteer| volunteer.meta.origin_instance != district.instance_id)
    {
        return Err(outside(district, &name));
    }
    let held = store::members::get_membership(transaction.conn(), &copy.id).await?;
    if !newer(
        held.as_ref().map(|held| &held.meta),
        copy.meta.version,
        district,
        &name,
    )? {
        return Ok(());
    }
    store::members::put_copy_membership(transaction.conn(), &copy).await?;
    transaction.record_diff(
        "egret.registry.v1.Membership",
        name,
        operation(held.is_some()),
        held.as_ref().map(payload::plain).as_ref(),
        payload::plain(&copy),
        &change.reason,
    )
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
