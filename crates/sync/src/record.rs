//! Records as the change log carries them: `egret.sync.v1.Record`, one typed message per
//! kind of resource.
//!
//! Services describe a changed record by its serde form, with personal data already
//! minimised (the same form the change history diffs). [`encode`] checks it against the
//! record's message in the contract and refuses any field the contract does not name, so a
//! record that strays from the contract fails the write that makes it instead of reaching
//! another service or another instance. Readers decode the generated message types.

use std::collections::HashMap;
use std::sync::LazyLock;

use egret_proto::sync::v1::Record;
use egret_runtime::ApiError;
use prost::Message;
use prost_reflect::{
    DescriptorPool, DeserializeOptions, DynamicMessage, FieldDescriptor, MessageDescriptor,
    SerializeOptions,
};

const RECORD: &str = "egret.sync.v1.Record";

struct Contract {
    record: MessageDescriptor,
    // `OrgUnit` → the `org_unit` field of the oneof.
    fields: HashMap<String, FieldDescriptor>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    let pool = DescriptorPool::decode(egret_proto::FILE_DESCRIPTOR_SET)
        .expect("the compiled descriptor set decodes");
    let record = pool
        .get_message_by_name(RECORD)
        .expect("egret.sync.v1.Record is compiled in");
    let fields = record
        .fields()
        .filter_map(|field| {
            let name = field.kind().as_message()?.name().to_string();
            Some((name, field))
        })
        .collect();
    Contract { record, fields }
});

/// The record message of a resource type: `egret.registry.v1.OrgUnit` is carried as
/// `egret.sync.v1.OrgUnit` (resource names are unique across services).
fn record_field(resource_type: &str) -> Option<&'static FieldDescriptor> {
    let name = resource_type.rsplit('.').next()?;
    CONTRACT.fields.get(name)
}

/// Encodes `record` (a resource's serde form) as an `egret.sync.v1.Record`, refusing any
/// field outside the record's message.
pub fn encode(resource_type: &str, record: &serde_json::Value) -> Result<Vec<u8>, ApiError> {
    let Some(field) = record_field(resource_type) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "{resource_type} has no message in egret.sync.v1.Record"
        )));
    };
    let descriptor = field
        .kind()
        .as_message()
        .expect("record fields are messages")
        .clone();
    let message = DynamicMessage::deserialize_with_options(
        descriptor,
        record,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|error| {
        ApiError::Internal(anyhow::anyhow!(
            "{resource_type} does not fit its sync contract: {error}"
        ))
    })?;
    let mut wrapper = DynamicMessage::new(CONTRACT.record.clone());
    wrapper.set_field(field, prost_reflect::Value::Message(message));
    Ok(wrapper.encode_to_vec())
}

/// A record in its owner's serde form (the inverse of [`encode`]), for a service that
/// writes another instance's record into its own tables.
pub fn serde_form<T: serde::de::DeserializeOwned>(record: &Record) -> Result<T, ApiError> {
    let corrupt =
        |error: String| ApiError::Internal(anyhow::anyhow!("a record does not read back: {error}"));
    let dynamic =
        DynamicMessage::decode(CONTRACT.record.clone(), record.encode_to_vec().as_slice())
            .map_err(|error| corrupt(error.to_string()))?;
    let (_, value) = dynamic
        .fields()
        .next()
        .ok_or_else(|| corrupt("it is empty".to_string()))?;
    let message = value
        .as_message()
        .ok_or_else(|| corrupt("it is not a message".to_string()))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false);
    let json = message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|error| corrupt(error.to_string()))?;
    serde_json::from_value(json).map_err(|error| corrupt(error.to_string()))
}

/// Decodes an encoded record.
pub fn decode(bytes: &[u8]) -> Result<Record, ApiError> {
    Record::decode(bytes).map_err(|error| {
        ApiError::Internal(anyhow::anyhow!(
            "a change-log record does not decode: {error}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use egret_proto::sync::v1::record::Kind;
    use serde_json::json;

    use super::*;

    fn unit() -> serde_json::Value {
        json!({
            "categories": [2],
            "display_name": "思明区妇联",
            "id": "u1",
            "level": 3,
            "merged_into": null,
            "meta": {"create_time": 1, "origin_instance": "xm", "update_time": 2, "version": 3},
            "parent_id": null,
            "path": "/u1/",
            "service_fields": [],
            "service_themes": [],
            "status": "active",
            "tier": "corps"
        })
    }

    #[test]
    fn a_record_round_trips_into_its_typed_message() {
        let bytes = encode("egret.registry.v1.OrgUnit", &unit()).expect("encodes");
        let Some(Kind::OrgUnit(decoded)) = decode(&bytes).expect("decodes").kind else {
            panic!("an org unit decodes as an org unit");
        };
        assert_eq!(decoded.id, "u1");
        assert_eq!(decoded.parent_id, None, "null stays absent");
        assert_eq!(decoded.categories, vec![2]);
        assert_eq!(decoded.meta.map(|meta| meta.version), Some(3));
    }

    #[test]
    fn a_record_reads_back_in_its_serde_form() {
        let bytes = encode("egret.registry.v1.OrgUnit", &unit()).expect("encodes");
        let back: serde_json::Value = serde_form(&decode(&bytes).expect("decodes")).expect("reads");
        assert_eq!(back["id"], "u1");
        assert_eq!(back["meta"]["version"], 3, "numbers stay numbers");
        assert_eq!(back["categories"], json!([2]));
        assert!(back.get("parent_id").is_none_or(serde_json::Value::is_null));
    }

    #[test]
    fn a_field_outside_the_contract_is_refused() {
        let mut record = unit();
        record["id_number"] = json!("350203199001011234");
        let error = encode("egret.registry.v1.OrgUnit", &record).expect_err("refused");
        assert!(error.to_string().contains("id_number"), "{error}");
    }

    #[test]
    fn a_kind_without_a_message_is_refused() {
        let error = encode("egret.registry.v1.Unknown", &unit()).expect_err("refused");
        assert!(
            error.to_string().contains("egret.registry.v1.Unknown"),
            "{error}"
        );
    }

    #[test]
    fn every_record_message_is_reachable_by_its_resource_type() {
        for field in CONTRACT.record.fields() {
            let message = field
                .kind()
                .as_message()
                .expect("message")
                .name()
                .to_string();
            assert!(
                record_field(&format!("egret.any.v1.{message}")).is_some(),
                "{message}"
            );
        }
    }
}
