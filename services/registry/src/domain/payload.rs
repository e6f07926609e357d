//! What leaves the registry in the change log and the change history: records with
//! personal data minimised. The ID number appears only as its keyed hash
//! and masked; phones and emails only masked.

use egret_storage::FieldChange;
use egret_sync::history::{mask_string_field, masked_changes, object};
use serde_json::Value;

use super::identity::{mask_email, mask_phone};
use super::{OrgUnit, RegistrationForm, Volunteer};

/// An org unit, for sync and history (it holds no personal data).
pub fn org_unit(unit: &OrgUnit) -> Value {
    serde_json::to_value(unit).expect("org units serialize")
}

/// A registration form with phones and emails masked.
pub fn registration_form(form: &RegistrationForm) -> Value {
    let mut map = object(serde_json::to_value(form).expect("forms serialize"));
    mask_string_field(&mut map, "phone", mask_phone);
    mask_string_field(&mut map, "email", mask_email);
    if let Some(Value::Array(members)) = map.get_mut("key_members") {
        for member in members {
            if let Value::Object(member) = member {
                mask_string_field(member, "phone", mask_phone);
                mask_string_field(member, "email", mask_email);
            }
        }
    }
    Value::Object(map)
}

/// A volunteer: ID number as keyed hash and masked, contacts masked.
pub fn volunteer(volunteer: &Volunteer) -> Value {
    let mut map = object(serde_json::to_value(volunteer).expect("volunteers serialize"));
    mask_string_field(&mut map, "phone", mask_phone);
    mask_string_field(&mut map, "email", mask_email);
    if let Some(Value::Object(contact)) = map.get_mut("emergency_contact") {
        mask_string_field(contact, "phone", mask_phone);
    }
    Value::Object(map)
}

/// The masked changes between two versions of a volunteer.
pub fn volunteer_changes(before: &Volunteer, after: &Volunteer) -> Vec<FieldChange> {
    masked_changes(
        &volunteer(before),
        &volunteer(after),
        &[
            ("phone", before.phone != after.phone),
            ("email", before.email != after.email),
            (
                "emergency_contact",
                before.emergency_contact != after.emergency_contact,
            ),
        ],
    )
}

/// The masked changes between two versions of a registration form.
pub fn registration_form_changes(
    before: &RegistrationForm,
    after: &RegistrationForm,
) -> Vec<FieldChange> {
    masked_changes(
        &registration_form(before),
        &registration_form(after),
        &[
            ("phone", before.phone != after.phone),
            ("email", before.email != after.email),
            ("key_members", before.key_members != after.key_members),
        ],
    )
}

/// Any other record (memberships, join applications): no personal data.
pub fn plain<T: serde::Serialize>(record: &T) -> Value {
    serde_json::to_value(record).expect("registry records serialize")
}
