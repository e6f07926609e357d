//! `egret.recognition.v1.RecognitionRecordsService`.

use egret_proto::recognition::v1 as pb;

use crate::app::Recognition;

egret_storage::records_api!(
    RecordsApi,
    Recognition,
    pb,
    pb::recognition_records_service_server::RecognitionRecordsService
);
