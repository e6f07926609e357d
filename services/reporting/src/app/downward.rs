//! At a district: the reporting years the city opened and the city's targets for the
//! district's units, pulled down the downward link (`egret_sync::downward`) as read-only
//! copies.

use egret_proto::sync::v1 as pb;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::downward::{not_taken, write_downward};
use egret_sync::upward::{District, RecordApplier};
use futures::future::BoxFuture;

use crate::app::targets::target_name;
use crate::domain::annual::ReportingYear;
use crate::domain::targets::Target;
use crate::store;

egret_sync::copied_record! {
    ReportingYear: "egret.reporting.v1.ReportingYear", |year| format!("reportingYears/{}", year.year),
        held: |connection, year| store::annual::year(connection, year.year),
        put: store::annual::put_copy_year;
    Target: "egret.reporting.v1.Target", |target| target_name(target),
        held: |connection, target| {
            store::targets::get(connection, &target.org_unit_id, target.year, target.team_level)
        },
        put: store::targets::put_copy;
}

/// Applies the upstream's reporting years and targets.
pub struct ReportingDownward;

impl RecordApplier for ReportingDownward {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        upstream: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match change.resource_type.as_str() {
                "egret.reporting.v1.ReportingYear" => {
                    write_downward::<ReportingYear>(transaction, upstream, change).await
                }
                "egret.reporting.v1.Target" => {
                    write_downward::<Target>(transaction, upstream, change).await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}
