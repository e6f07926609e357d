//! At the city: a district's annual reports, pushed up its link, written as read-only
//! copies (their origin stays the district's) and recorded in the city's own change log.
//!
//! Reporting years and targets stay at the district (see `egret_sync::push`): those in
//! force are the city's and come down; a batch that carries them is refused.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::follower::record;
use egret_sync::upward::{District, RecordApplier, not_taken, write_copy_within};
use futures::future::BoxFuture;

use crate::domain::annual::AnnualReport;
use crate::domain::names;
use crate::store;

egret_sync::copied_record! {
    AnnualReport: "egret.reporting.v1.AnnualReport",
        |report| names::annual_report(&report.org_unit_id, report.year),
        held: |connection, report| store::annual::report_by_id(connection, &report.id),
        put: store::annual::put_copy;
}

/// Applies a district's annual reports.
pub struct ReportingApplier;

impl RecordApplier for ReportingApplier {
    fn tallied(&self) -> egret_sync::tally::Tallied {
        &[("egret.reporting.v1.AnnualReport", "annual_reports")]
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match record(change)? {
                Kind::AnnualReport(_) => {
                    write_copy_within(transaction, district, change, |copy: &AnnualReport| {
                        &copy.org_unit_id
                    })
                    .await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}
