//! Records as they leave a service in the change log and the change history: JSON
//! payloads, and the field changes between two of them. Services mask personal data in
//! their payloads before these helpers see them.

use serde_json::{Map, Value};

use crate::FieldChange;

/// Replaces a non-empty string field with its masked form.
pub fn mask_string_field(object: &mut Map<String, Value>, field: &str, mask: fn(&str) -> String) {
    if let Some(Value::String(value)) = object.get_mut(field)
        && !value.is_empty()
    {
        *value = mask(value);
    }
}

/// The object a record serializes to (empty for anything else).
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The changes between two masked payloads, plus the fields in `raw_changed` whose real
/// values changed although their masked forms did not (`139****0021` to another
/// `139****0021`), listed with their masked values so that the history shows every change.
pub fn masked_changes(old: &Value, new: &Value, raw_changed: &[(&str, bool)]) -> Vec<FieldChange> {
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

/// A JSON value as history text: strings bare, nothing as empty.
pub fn as_text(value: &Value) -> String {
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

    #[test]
    fn raw_changes_that_mask_alike_are_kept() {
        let old = serde_json::json!({"phone": "139****0021"});
        let new = serde_json::json!({"phone": "139****0021"});
        assert!(masked_changes(&old, &new, &[("phone", false)]).is_empty());
        assert_eq!(
            masked_changes(&old, &new, &[("phone", true)]),
            vec![FieldChange::new("phone", "139****0021", "139****0021")]
        );
    }
}
