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
use tonic::server::NamedService;

use crate::app::Activity;

/// Adds the activity service's gRPC services to a host, with its message-size limit
/// and the gates of its writes.
pub fn add_services(host: &mut ServiceHost, activity: Activity) {
    host.gate("egret.activity.v1", crate::domain::access::gate);
    let limit = host.settings().max_message_bytes;
    host.routes().add_service(
        ProjectServiceServer::new(projects::ProjectApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        ActivityServiceServer::new(activities::ActivityApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        SignUpServiceServer::new(sign_ups::SignUpApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        AttendanceServiceServer::new(attendance::AttendanceApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        ServiceRecordServiceServer::new(attendance::ServiceRecordApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        InsuranceServiceServer::new(insurance::InsuranceApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        TrainingServiceServer::new(training::TrainingApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        EvaluationServiceServer::new(evaluations::EvaluationApi(activity.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.routes().add_service(
        ActivityRecordsServiceServer::new(records::RecordsApi(activity))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<ProjectServiceServer<projects::ProjectApi> as NamedService>::NAME);
    host.report_serving(<ActivityServiceServer<activities::ActivityApi> as NamedService>::NAME);
    host.report_serving(<SignUpServiceServer<sign_ups::SignUpApi> as NamedService>::NAME);
    host.report_serving(<AttendanceServiceServer<attendance::AttendanceApi> as NamedService>::NAME);
    host.report_serving(
        <ServiceRecordServiceServer<attendance::ServiceRecordApi> as NamedService>::NAME,
    );
    host.report_serving(<InsuranceServiceServer<insurance::InsuranceApi> as NamedService>::NAME);
    host.report_serving(<TrainingServiceServer<training::TrainingApi> as NamedService>::NAME);
    host.report_serving(
        <EvaluationServiceServer<evaluations::EvaluationApi> as NamedService>::NAME,
    );
    host.report_serving(<ActivityRecordsServiceServer<records::RecordsApi> as NamedService>::NAME);
}
