//! `egret.activity.v1.ActivityRecordsService`.

use egret_proto::activity::v1 as pb;

use crate::app::Activity;

egret_storage::records_api!(
    RecordsApi,
    Activity,
    pb,
    pb::activity_records_service_server::ActivityRecordsService
);
