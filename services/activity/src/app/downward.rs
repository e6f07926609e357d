//! At a district: the city's projects that the district's teams join, pulled down the
//! downward link (`egret_sync::downward`) as read-only copies. A project of a unit above
//! the district's comes down as held by the district's root, so that every team of the
//! district may file activities under it.

use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::downward::{not_taken, write_downward};
use egret_sync::upward::{District, RecordApplier};
use futures::future::BoxFuture;

use crate::domain::Project;

/// Applies the upstream's projects.
pub struct ActivityDownward;

impl RecordApplier for ActivityDownward {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        upstream: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match change.resource_type.as_str() {
                "egret.activity.v1.Project" => {
                    write_downward::<Project>(transaction, upstream, change).await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}
