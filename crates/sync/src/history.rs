//! What a change records besides the record itself: the field changes the change history
//! (动态管理) shows, worked out from the records' serde forms with personal data masked,
//! and the history's pages as every service's `ListChangeRecords` answers them.

use std::future::Future;

use egret_proto::common::v1::ChangeRecord;
use egret_runtime::{ApiError, PageRequest};
use egret_storage::{ChangeDraft, FieldChange, Operation, StoredChange, WriteTx};
use serde_json::{Map, Value};

use crate::{record, wire};

/// One page of a resource's change history: the page request is parsed here, `list` reads
/// the changes of the resource the caller may see, and they are rendered as change records
/// with the next page's token.
pub async fn page<F, Fut>(
    page_size: i32,
    page_token: &str,
    resource: &str,
    list: F,
) -> Result<(Vec<ChangeRecord>, String), ApiError>
where
    F: FnOnce(PageRequest) -> Fut,
    Fut: Future<Output = Result<(Vec<StoredChange>, String), ApiError>>,
{
    let page = PageRequest::standard(page_size, page_token, resource)?;
    let (changes, next_page_token) = list(page).await?;
    Ok((
        changes.iter().map(wire::change_record).collect(),
        next_page_token,
    ))
}

/// Recording changes in a [`WriteTx`]: the record is encoded in its sync contract, and the
/// change appended to the change log on commit.
pub trait RecordChanges {
    /// Records a change whose field changes are the differences between the masked
    /// records `before` (None for a creation) and `after`.
    fn record_diff(
        &mut self,
        resource_type: &'static str,
        resource_name: String,
        operation: Operation,
        before: Option<&Value>,
        after: Value,
        reason: &str,
    ) -> Result<(), ApiError>;

    /// Records a change with field changes the caller worked out (for records whose
    /// masked forms can hide a change of personal data).
    fn record_with_changes(
        &mut self,
        resource_type: &'static str,
        resource_name: String,
        operation: Operation,
        after: Value,
        field_changes: Vec<FieldChange>,
        reason: &str,
    ) -> Result<(), ApiError>;
}

impl RecordChanges for WriteTx {
    fn record_diff(
        &mut self,
        resource_type: &'static str,
        resource_name: String,
        operation: Operation,
        before: Option<&Value>,
        after: Value,
        reason: &str,
    ) -> Result<(), ApiError> {
        let field_changes = field_changes(before, &after);
        self.record_with_changes(
            resource_type,
            resource_name,
            operation,
            after,
            field_changes,
            reason,
        )
    }

    fn record_with_changes(
        &mut self,
        resource_type: &'static str,
        resource_name: String,
        operation: Operation,
        after: Value,
        field_changes: Vec<FieldChange>,
        reason: &str,
    ) -> Result<(), ApiError> {
        let payload = record::encode(resource_type, &after)?;
        self.record(ChangeDraft {
            resource_type,
            resource_name,
            operation,
            payload,
            field_changes,
            reason: reason.to_string(),
        });
        Ok(())
    }
}

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
