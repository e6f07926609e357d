//! At the city: a district's registry records, pushed up its link, written as read-only
//! copies (their origin stays the district's) and recorded in the city's own change log,
//! so that the city's lists, followers and statistics take them in like any change.
//!
//! A district's tree hangs under its enrolled unit: the district's paths start at that
//! unit (`/D/…`), the city's at its own root (`/C/…/D/…`), so every path is rebased. Org
//! units and registration forms are taken; the other registry records (volunteers,
//! memberships, join applications) are refused for now, so the link waits for them rather
//! than skipping past.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::ApiError;
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::follower::{corrupt, record};
use egret_sync::upward::{District, RecordApplier, not_taken, outside};
use egret_types::{CivilDate, Meta};
use futures::future::BoxFuture;

use crate::domain::{KeyMember, OrgStatus, OrgUnit, RegistrationForm, Tier, names, payload};
use crate::store;

/// Applies a district's org units and registration forms.
pub struct RegistryApplier;

impl RecordApplier for RegistryApplier {
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

/// The district's unit here, whose subtree the district's records belong in.
async fn district_unit(
    transaction: &mut WriteTx,
    district: &District,
) -> Result<OrgUnit, ApiError> {
    store::org::get_org_unit(transaction.conn(), &district.org_unit_id)
        .await?
        .ok_or_else(|| {
            ApiError::failed_precondition(
                format!(
                    "orgUnits/{}, the unit of instance {}, no longer exists here",
                    district.org_unit_id, district.instance_id
                ),
                format!(
                    "实例 {} 所属的组织 orgUnits/{} 已不存在",
                    district.instance_id, district.org_unit_id
                ),
            )
        })
}

async fn apply_unit(
    transaction: &mut WriteTx,
    district: &District,
    change: &pb::Change,
    unit: pb::OrgUnit,
) -> Result<(), ApiError> {
    let name = names::org_unit(&unit.id);
    let anchor = district_unit(transaction, district).await?;
    // The district's paths start at its unit: `/D/…/X/`.
    let below = unit
        .path
        .strip_prefix(&format!("/{}/", district.org_unit_id))
        .filter(|rest| !rest.is_empty() && unit.id != district.org_unit_id)
        .ok_or_else(|| outside(district, &name))?;
    let copy = OrgUnit {
        path: format!("{}{below}", anchor.path),
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
