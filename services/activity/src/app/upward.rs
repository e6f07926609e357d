//! At the city: a district's projects, activities, sign-ups, attendance, hours, training,
//! insurance and evaluations, pushed up its link, written as read-only copies (their origin
//! stays the district's) and recorded in the city's own change log, so that the city's
//! lists, followers and statistics take them in like any change.
//!
//! Each record must hang off the district's subtree: through its unit, which reaches this
//! service through the registry feed, or through an activity or course the district pushed
//! earlier on this same link.

use egret_proto::sync::v1 as pb;
use egret_proto::sync::v1::record::Kind;
use egret_runtime::ApiError;
use egret_storage::WriteTx;
use egret_sync::follower::record;
use egret_sync::upward::{
    District, RecordApplier, not_taken, require_owned, serde_form, write_copy, write_copy_within,
};
use futures::future::BoxFuture;

use crate::domain::activity::Activity;
use crate::domain::attendance::{Attendance, ServiceRecord};
use crate::domain::evaluation::Evaluation;
use crate::domain::insurance::InsurancePolicy;
use crate::domain::sign_up::SignUp;
use crate::domain::training::{Course, Qualification, TrainingSession};
use crate::domain::{Project, names};
use crate::store;

egret_sync::copied_record! {
    Project: "egret.activity.v1.Project", |project| names::project(&project.id),
        held: |connection, project| store::projects::get(connection, &project.id),
        put: store::projects::put_copy;
    Activity: "egret.activity.v1.Activity", |activity| names::activity(&activity.id),
        held: |connection, activity| store::activities::get(connection, &activity.id),
        put: store::activities::put_copy;
    SignUp: "egret.activity.v1.SignUp",
        |sign_up| names::sign_up(&sign_up.activity_id, &sign_up.id),
        held: |connection, sign_up| store::sign_ups::get(connection, &sign_up.id),
        put: store::sign_ups::put_copy;
    Attendance: "egret.activity.v1.Attendance",
        |attendance| names::attendance(&attendance.activity_id, &attendance.id),
        held: |connection, attendance| store::attendance::get_attendance(connection, &attendance.id),
        put: store::attendance::put_copy_attendance;
    ServiceRecord: "egret.activity.v1.ServiceRecord", |record| names::service_record(&record.id),
        held: |connection, record| store::attendance::get_record(connection, &record.id),
        put: store::attendance::put_copy_record;
    Evaluation: "egret.activity.v1.Evaluation",
        |evaluation| format!("{}/evaluations/{}", names::activity(&evaluation.activity_id), evaluation.id),
        held: |connection, evaluation| store::evaluations::get(connection, &evaluation.id),
        put: store::evaluations::put_copy;
    InsurancePolicy: "egret.activity.v1.InsurancePolicy",
        |policy| names::insurance_policy(&policy.id),
        held: |connection, policy| store::insurance::get(connection, &policy.id),
        put: store::insurance::put_copy;
    Course: "egret.activity.v1.Course", |course| names::course(&course.id),
        held: |connection, course| store::training::get_course(connection, &course.id),
        put: store::training::put_copy_course;
    TrainingSession: "egret.activity.v1.TrainingSession",
        |session| names::training_session(&session.course_id, &session.id),
        held: |connection, session| store::training::get_session(connection, &session.id),
        put: store::training::put_copy_session;
    Qualification: "egret.activity.v1.Qualification",
        |qualification| names::qualification(&qualification.id),
        held: |connection, qualification| store::training::get_qualification(connection, &qualification.id),
        put: store::training::put_copy_qualification;
}

/// Applies a district's activity records.
pub struct ActivityApplier;

impl RecordApplier for ActivityApplier {
    fn tallied(&self) -> egret_sync::tally::Tallied {
        &[
            ("egret.activity.v1.Project", "projects"),
            ("egret.activity.v1.Activity", "activities"),
            ("egret.activity.v1.ServiceRecord", "service_records"),
            ("egret.activity.v1.InsurancePolicy", "insurance_policies"),
            ("egret.activity.v1.Course", "courses"),
            ("egret.activity.v1.SignUp", "sign_ups"),
            ("egret.activity.v1.Attendance", "attendances"),
            ("egret.activity.v1.Evaluation", "evaluations"),
            ("egret.activity.v1.TrainingSession", "training_sessions"),
            ("egret.activity.v1.Qualification", "qualifications"),
        ]
    }

    fn apply<'a>(
        &'a self,
        transaction: &'a mut WriteTx,
        district: &'a District,
        change: &'a pb::Change,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let name = &change.resource_name;
            match record(change)? {
                Kind::Project(_) => {
                    write_copy_within(transaction, district, change, |copy: &Project| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::Activity(_) => {
                    write_copy_within(transaction, district, change, |copy: &Activity| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::ServiceRecord(_) => {
                    write_copy_within(transaction, district, change, |copy: &ServiceRecord| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::InsurancePolicy(_) => {
                    write_copy_within(transaction, district, change, |copy: &InsurancePolicy| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::Course(_) => {
                    write_copy_within(transaction, district, change, |copy: &Course| {
                        &copy.org_unit_id
                    })
                    .await
                }
                Kind::SignUp(_) => {
                    let copy: SignUp = serde_form(change)?;
                    activity_owned(transaction, district, name, &copy.activity_id).await?;
                    write_copy(transaction, district, change, copy).await
                }
                Kind::Attendance(_) => {
                    let copy: Attendance = serde_form(change)?;
                    activity_owned(transaction, district, name, &copy.activity_id).await?;
                    write_copy(transaction, district, change, copy).await
                }
                Kind::Evaluation(_) => {
                    let copy: Evaluation = serde_form(change)?;
                    activity_owned(transaction, district, name, &copy.activity_id).await?;
                    write_copy(transaction, district, change, copy).await
                }
                Kind::TrainingSession(_) => {
                    let copy: TrainingSession = serde_form(change)?;
                    course_owned(transaction, district, name, &copy.course_id).await?;
                    write_copy(transaction, district, change, copy).await
                }
                Kind::Qualification(_) => {
                    let copy: Qualification = serde_form(change)?;
                    course_owned(transaction, district, name, &copy.course_id).await?;
                    write_copy(transaction, district, change, copy).await
                }
                _ => Err(not_taken(change)),
            }
        })
    }
}

async fn activity_owned(
    transaction: &mut WriteTx,
    district: &District,
    resource: &str,
    activity_id: &str,
) -> Result<(), ApiError> {
    let activity = store::activities::get(transaction.conn(), activity_id).await?;
    require_owned(
        activity.as_ref().map(|activity| &activity.meta),
        district,
        resource,
        &names::activity(activity_id),
    )
}

async fn course_owned(
    transaction: &mut WriteTx,
    district: &District,
    resource: &str,
    course_id: &str,
) -> Result<(), ApiError> {
    let course = store::training::get_course(transaction.conn(), course_id).await?;
    require_owned(
        course.as_ref().map(|course| &course.meta),
        district,
        resource,
        &names::course(course_id),
    )
}
