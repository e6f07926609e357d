//! The activity service's gRPC surface: conversions between wire and domain types only.

mod activities;
mod attendance;
mod evaluations;
mod insurance;
mod projects;
mod records;
mod sign_ups;
mod training;

use egret_proto::activity::v1::{
    activity_records_service_server::ActivityRecordsServiceServer,
    activity_service_server::ActivityServiceServer,
    attendance_service_server::AttendanceServiceServer,
    evaluation_service_server::EvaluationServiceServer,
    insurance_service_server::InsuranceServiceServer, project_service_server::ProjectServiceServer,
    service_record_service_server::ServiceRecordServiceServer,
    sign_up_service_server::SignUpServiceServer, training_service_server::TrainingServiceServer,
};
use egret_runtime::ServiceHost;

use crate::app::Activity;

/// Adds the activity service's gRPC services to a host, with the gates of its writes.
pub fn add_services(host: &mut ServiceHost, activity: Activity) {
    host.gate("egret.activity.v1", crate::domain::access::gate);
    host.add_service(ProjectServiceServer::new(projects::ProjectApi(
        activity.clone(),
    )));
    host.add_service(ActivityServiceServer::new(activities::ActivityApi(
        activity.clone(),
    )));
    host.add_service(SignUpServiceServer::new(sign_ups::SignUpApi(
        activity.clone(),
    )));
    host.add_service(AttendanceServiceServer::new(attendance::AttendanceApi(
        activity.clone(),
    )));
    host.add_service(ServiceRecordServiceServer::new(
        attendance::ServiceRecordApi(activity.clone()),
    ));
    host.add_service(InsuranceServiceServer::new(insurance::InsuranceApi(
        activity.clone(),
    )));
    host.add_service(TrainingServiceServer::new(training::TrainingApi(
        activity.clone(),
    )));
    host.add_service(EvaluationServiceServer::new(evaluations::EvaluationApi(
        activity.clone(),
    )));
    host.add_service(ActivityRecordsServiceServer::new(records::RecordsApi(
        activity,
    )));
}
