//! What leaves the registry in the change log and the change history: records with
//! personal data minimised (DESIGN.md §6, §7). The ID number appears only as its keyed hash
//! and masked; phones and emails only masked.

use egret_storage::FieldChange;
use serde_json::{Map, Value};

use super::identity::mask_phone;
use super::{OrgUnit, RegistrationForm, Volunteer};

/// Masks an email: the first character of the local part, then `***@domain`.
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.split_once('@') else {
        return if email.is_empty() {
            String::new()
        } else {
            "***".to_string()
        };
    };
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

fn mask_string_field(object: &mut Map<String, Value>, field: &str, mask: fn(&str) -> String) {
    if let Some(Value::String(value)) = object.get_mut(field)
        && !value.is_empty()
    {
        *value = mask(value);
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

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

/// The changes between two masked payloads, plus the fields in `raw_changed` whose real
/// values changed although their masked forms did not (`139****0021` to another
/// `139****0021`), listed with their masked values so that the history shows every change.
fn masked_changes(old: &Value, new: &Value, raw_changed: &[(&str, bool)]) -> Vec<FieldChange> {
    let mut changes = field_changes(Some(old), new);
    for (field, changed) in raw_changed {
        if *changed && !changes.iter().any(|change| change.field == *field) {
            changes.push(FieldChange::new(
                *field,
                as_text(&old[*field]),
                as_text(&new[*field]),
            ));
        }
    }
    changes
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

fn as_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The fields that differ between two payloads (top-level, bookkeeping left out); with no
/// `before`, every non-empty field of `after`.
pub fn field_changes(before: Option<&Value>, after: &Value) -> Vec<FieldChange> {
    let empty = Map::new();
    let before = before.and_then(Value::as_object).unwrap_or(&empty);
    let Some(after) = after.as_object() else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    for (field, new_value) in after {
        if field == "meta" {
            continue;
        }
        let old_text = before.get(field).map(as_text).unwrap_or_default();
        let new_text = as_text(new_value);
        let unset = matches!(new_text.as_str(), "" | "[]" | "0" | "{}");
        if old_text != new_text && !(before.is_empty() && unset) {
            changes.push(FieldChange::new(field.clone(), old_text, new_text));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_mask() {
        assert_eq!(mask_email("zhang.san@example.cn"), "z***@example.cn");
        assert_eq!(mask_email(""), "");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn changes_list_only_differences() {
        let before = serde_json::json!({"a": "x", "b": [1], "meta": {"version": 1}});
        let after = serde_json::json!({"a": "y", "b": [1], "meta": {"version": 2}});
        assert_eq!(
            field_changes(Some(&before), &after),
            vec![FieldChange::new("a", "x", "y")]
        );
        let created = field_changes(None, &serde_json::json!({"a": "x", "b": [], "c": 0}));
        assert_eq!(created, vec![FieldChange::new("a", "", "x")]);
    }
}
