//! `egret.reporting.v1.ReportingRecordsService`.

use egret_proto::reporting::v1 as pb;

use crate::app::Reporting;

egret_storage::records_api!(
    RecordsApi,
    Reporting,
    pb,
    pb::reporting_records_service_server::ReportingRecordsService
);
