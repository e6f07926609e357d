//! Following the registry and the activity service: the recognition service keeps a replica
//! of the org tree, volunteers and memberships (registry) and of activities and service
//! records (activity), read from their change logs over gRPC.
//!
//! When a service record's approved minutes change, the same transaction that applies it
//! also moves reward points, flags stars the hours no longer support and revokes
//! certificates built on the reversed hours: all or nothing with the checkpoint, so a crash
//! never applies a change twice or loses it.

use egret_proto::sync::v1::{self as pb, Change, record::Kind};
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::follower::{self, ChangeSink};
use egret_sync::replica;
use egret_types::{CivilDate, china_date};
use futures::future::BoxFuture;

use crate::app;
use crate::domain::{HoursChange, PointsRate, ServiceRecord, Volunteer};
use crate::store;

/// The actor of every change the feeds make.
pub const ACTOR: &str = "egret-recognition";

/// Applies the registry's org units, volunteers and memberships.
pub struct RegistrySink;

impl ChangeSink for RegistrySink {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(entry)? {
                Kind::OrgUnit(unit) => replica::apply_unit(transaction, entry, &unit).await,
                Kind::Membership(membership) => {
                    replica::apply_membership(transaction, &membership).await
                }
                Kind::Volunteer(payload) => {
                    let volunteer = Volunteer {
                        status: replica::volunteer_status_number(&payload.status)
                            .map_err(|error| follower::corrupt(entry, error))?,
                        registered_on: china_date(
                            payload.meta.as_ref().map_or(0, |meta| meta.create_time),
                        ),
                        id: payload.id,
                        volunteer_number: payload.volunteer_number,
                        display_name: payload.display_name,
                        id_type: payload.id_type,
                        id_number_masked: payload.id_number_masked,
                        registering_org_unit_id: payload.registering_org_unit_id,
                        version: replica::version(payload.meta.as_ref()),
                    };
                    store::replica::upsert_volunteer(transaction.conn(), &volunteer).await
                }
                _ => Ok(()),
            }
        })
    }
}

/// Applies the activity service's activities and service records, and what follows from
/// changed hours.
pub struct ActivitySink {
    /// How hours become points.
    pub rate: PointsRate,
}

impl ChangeSink for ActivitySink {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            match follower::record(entry)? {
                Kind::Activity(payload) => {
                    store::replica::upsert_activity(
                        transaction.conn(),
                        &store::replica::ActivityRow {
                            id: payload.id,
                            org_unit_id: payload.org_unit_id,
                            display_name: payload.display_name,
                            state: payload.state,
                            start_time: payload.start_time,
                            version: replica::version(payload.meta.as_ref()),
                        },
                    )
                    .await
                }
                Kind::ServiceRecord(payload) => {
                    self.apply_record(transaction, entry, payload).await
                }
                Kind::Project(payload) => {
                    store::replica::upsert_project(
                        transaction.conn(),
                        &store::replica::ProjectRow {
                            id: payload.id,
                            org_unit_id: payload.org_unit_id,
                            display_name: payload.display_name,
                            version: replica::version(payload.meta.as_ref()),
                        },
                    )
                    .await
                }
                Kind::Evaluation(payload) => {
                    // Team stars count the beneficiaries' feedback, not volunteers' own.
                    if payload.evaluator_kind != 1 {
                        return Ok(());
                    }
                    store::replica::upsert_evaluation(
                        transaction.conn(),
                        (
                            &payload.id,
                            &payload.activity_id,
                            payload.rating,
                            replica::version(payload.meta.as_ref()),
                        ),
                    )
                    .await
                }
                _ => Ok(()),
            }
        })
    }
}

impl ActivitySink {
    async fn apply_record(
        &self,
        transaction: &mut WriteTx,
        entry: &Change,
        payload: pb::ServiceRecord,
    ) -> Result<(), ApiError> {
        let before = store::replica::service_record(transaction.conn(), &payload.id).await?;
        if before
            .as_ref()
            .is_some_and(|known| known.version >= replica::version(payload.meta.as_ref()))
        {
            // Seen already: applying it again must change nothing.
            return Ok(());
        }
        let service_date = CivilDate::parse_iso(&payload.service_date).ok_or_else(|| {
            follower::corrupt(entry, format!("service date {:?}", payload.service_date))
        })?;
        let record = ServiceRecord {
            approved_minutes: if payload.state == "approved" {
                payload.minutes
            } else {
                0
            },
            id: payload.id,
            volunteer_id: payload.volunteer_id,
            activity_id: payload.activity_id,
            org_unit_id: payload.org_unit_id,
            description: payload.description,
            service_date,
            version: replica::version(payload.meta.as_ref()),
        };
        store::replica::put_service_record(transaction.conn(), &record).await?;
        let change = HoursChange {
            record_id: record.id.clone(),
            volunteer_id: record.volunteer_id.clone(),
            before: before.map(|known| (known.service_date, known.approved_minutes)),
            after: (record.service_date, record.approved_minutes),
        };
        if change.before == Some(change.after) || (change.before.is_none() && change.after.1 == 0) {
            return Ok(());
        }
        app::stars::follow_hours(transaction, &change).await?;
        app::rewards::follow_hours(transaction, self.rate, &change).await?;
        app::certificates::follow_hours(transaction, &change).await
    }
}

/// Applies the reporting service's annual reports: whether a team submitted its year's
/// report, for team stars.
pub struct ReportingSink;

impl ChangeSink for ReportingSink {
    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        entry: &'a Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let Kind::AnnualReport(payload) = follower::record(entry)? else {
                return Ok(());
            };
            store::replica::upsert_annual_report(
                transaction.conn(),
                &payload.org_unit_id,
                payload.year,
                matches!(payload.state.as_str(), "submitted" | "approved"),
                replica::version(payload.meta.as_ref()),
            )
            .await
        })
    }
}
