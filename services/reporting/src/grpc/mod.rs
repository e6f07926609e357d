//! The reporting service's gRPC surface: conversions between wire and domain types only.

mod statistics;

use egret_proto::reporting::v1::statistics_service_server::StatisticsServiceServer;
use egret_runtime::ServiceHost;
use tonic::server::NamedService;

use crate::app::Reporting;

/// Adds the reporting service's gRPC services to a host, with its message-size limit.
pub fn add_services(host: &mut ServiceHost, reporting: Reporting) {
    let limit = host.settings().max_message_bytes;
    host.routes().add_service(
        StatisticsServiceServer::new(statistics::StatisticsApi(reporting))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<StatisticsServiceServer<statistics::StatisticsApi> as NamedService>::NAME);
}
