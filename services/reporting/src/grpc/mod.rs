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

use crate::app::Reporting;

/// Adds the reporting service's gRPC services to a host, with the gates of its writes.
pub fn add_services(host: &mut ServiceHost, reporting: Reporting) {
    host.gate("egret.reporting.v1", crate::domain::access::gate);
    host.add_service(TargetServiceServer::new(targets::TargetApi(
        reporting.clone(),
    )));
    host.add_service(AnnualReportServiceServer::new(annual::AnnualReportApi(
        reporting.clone(),
    )));
    host.add_service(ReportingRecordsServiceServer::new(records::RecordsApi(
        reporting.clone(),
    )));
    host.add_service(ExportServiceServer::new(exports::ExportApi(
        reporting.clone(),
    )));
    host.add_service(StatisticsServiceServer::new(statistics::StatisticsApi(
        reporting,
    )));
}
