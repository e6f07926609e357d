//! At a district: the city's rule sets (the rules in force) and its honours catalogue,
//! pulled down the downward link (`egret_sync::downward`) as read-only copies. An honour of
//! a unit above the district's comes down as held by the district's root, so that every
//! unit of the district may nominate for it.

use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::downward::{not_taken, write_downward};
use egret_sync::upward::{District, RecordApplier, serde_form, write_copy};
use futures::future::BoxFuture;

use crate::domain::commendation::Honour;
use crate::domain::names;
use crate::domain::rules::RuleSet;
use crate::store;

egret_sync::copied_record! {
    RuleSet: "egret.recognition.v1.RuleSet", |rule_set| names::rule_set(&rule_set.id),
        held: |connection, rule_set| store::rules::get(connection, &rule_set.id, rule_set.revision),
        put: store::rules::put_copy;
}

/// Applies the upstream's rule sets and honours.
pub struct RecognitionDownward;

impl RecordApplier for RecognitionDownward {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        upstream: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match change.resource_type.as_str() {
                "egret.recognition.v1.RuleSet" => {
                    let copy: RuleSet = serde_form(change)?;
                    let held =
                        store::rules::get(transaction.conn(), &copy.id, copy.revision).await?;
                    // The first revision of a rule set shipped with Egret is the same at
                    // every instance, each holding it as its own.
                    if held.is_some_and(|held| held.built_in && held.revision == 1) {
                        return Ok(());
                    }
                    write_copy(transaction, upstream, change, copy).await
                }
                "egret.recognition.v1.Honour" => {
                    write_downward::<Honour>(transaction, upstream, change).await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}
