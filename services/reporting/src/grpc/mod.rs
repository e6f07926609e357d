//! The reporting service's gRPC surface: conversions between wire and domain types only.

mod annual;
mod exports;
mod records;
mod statistics;
mod targets;

use egret_proto::reporting::v1::annual_report_service_server::AnnualReportServiceServer;
use egret_proto::reporting::v1::export_service_server::ExportServiceServer;
use egret_proto::reporting::v1::reporting_records_service_server::ReportingRecordsServiceServer;
use egret_proto::reporting::v1::statistics_service_server::StatisticsServiceServer;
use egret_proto::reporting::v1::target_service_server::TargetServiceServer;
use egret_runtime::ServiceHost;
use tonic::server::NamedService;

use crate::app::Reporting;

/// Adds the reporting service's gRPC services to a host, with its message-size limit
/// and the gates of its writes.
pub fn add_services(host: &mut ServiceHost, reporting: Reporting) {
    host.gate("egret.reporting.v1", crate::domain::access::gate);
    let limit = host.settings().max_message_bytes;
    host.routes().add_service(
        TargetServiceServer::new(targets::TargetApi(reporting.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<TargetServiceServer<targets::TargetApi> as NamedService>::NAME);
    host.routes().add_service(
        AnnualReportServiceServer::new(annual::AnnualReportApi(reporting.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<AnnualReportServiceServer<annual::AnnualReportApi> as NamedService>::NAME);
    host.routes().add_service(
        ReportingRecordsServiceServer::new(records::RecordsApi(reporting.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<ReportingRecordsServiceServer<records::RecordsApi> as NamedService>::NAME);
    host.routes().add_service(
        ExportServiceServer::new(exports::ExportApi(reporting.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<ExportServiceServer<exports::ExportApi> as NamedService>::NAME);
    host.routes().add_service(
        StatisticsServiceServer::new(statistics::StatisticsApi(reporting))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
    );
    host.report_serving(<StatisticsServiceServer<statistics::StatisticsApi> as NamedService>::NAME);
}
