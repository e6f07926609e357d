//! The recognition service's gRPC surface: conversions between wire and domain types only.

mod certificates;
mod commendations;
mod records;
mod rewards;
mod rules;
mod stars;

use egret_proto::recognition::v1::{
    certificate_service_server::CertificateServiceServer,
    commendation_service_server::CommendationServiceServer,
    recognition_records_service_server::RecognitionRecordsServiceServer,
    reward_service_server::RewardServiceServer, rule_set_service_server::RuleSetServiceServer,
    star_rating_service_server::StarRatingServiceServer,
};
use egret_runtime::ServiceHost;
use tonic::server::NamedService;

use crate::app::Recognition;

/// Adds the recognition service's gRPC services to a host, with the gates of its writes.
pub fn add_services(host: &mut ServiceHost, recognition: Recognition) {
    host.gate("egret.recognition.v1", crate::domain::access::gate);
    host.add_service(RuleSetServiceServer::new(rules::RuleSetApi(
        recognition.clone(),
    )));
    host.add_service(StarRatingServiceServer::new(stars::StarRatingApi(
        recognition.clone(),
    )));
    host.add_service(CertificateServiceServer::new(certificates::CertificateApi(
        recognition.clone(),
    )));
    // Anyone holding a printed certificate may check it.
    let certificate_service =
        <CertificateServiceServer<certificates::CertificateApi> as NamedService>::NAME;
    for method in [
        "VerifyCertificate",
        "LookupCertificate",
        "GetVerificationKey",
    ] {
        host.allow_anonymous(format!("/{certificate_service}/{method}"));
    }
    host.add_service(RewardServiceServer::new(rewards::RewardApi(
        recognition.clone(),
    )));
    host.add_service(CommendationServiceServer::new(
        commendations::CommendationApi(recognition.clone()),
    ));
    host.add_service(RecognitionRecordsServiceServer::new(records::RecordsApi(
        recognition,
    )));
}
