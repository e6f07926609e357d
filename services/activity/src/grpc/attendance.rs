//! `egret.activity.v1.AttendanceService` and `egret.activity.v1.ServiceRecordService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, enum_value, metadata, optional_name,
    parse_name, text, timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use egret_types::CivilDate;
use tonic::{Request, Response, Status};

use crate::app::{Activity, DevicePosition, ImportRow, RecordQuery};
use crate::domain::attendance::{Attendance, MINUTES_PER_DAY, RecordState, ServiceRecord};
use crate::domain::names;

/// The attendance service implementation.
pub struct AttendanceApi(pub Activity);

/// The service-record service implementation.
pub struct ServiceRecordApi(pub Activity);

fn attendance_to_wire(attendance: &Attendance) -> pb::Attendance {
    pb::Attendance {
        name: names::attendance(&attendance.activity_id, &attendance.id),
        volunteer: names::volunteer(&attendance.volunteer_id),
        check_in_time: Some(timestamp(attendance.check_in_time)),
        check_out_time: (attendance.check_out_time != 0)
            .then(|| timestamp(attendance.check_out_time)),
        check_in_method: attendance.check_in_method,
        fence_result: attendance.fence_result,
        needs_review: attendance.needs_review,
        metadata: Some(metadata(&attendance.id, &attendance.meta)),
    }
}

fn record_to_wire(record: &ServiceRecord) -> pb::ServiceRecord {
    pb::ServiceRecord {
        name: names::service_record(&record.id),
        volunteer: names::volunteer(&record.volunteer_id),
        activity: if record.activity_id.is_empty() {
            String::new()
        } else {
            names::activity(&record.activity_id)
        },
        org_unit: names::org_unit(&record.org_unit_id),
        kind: record.kind as i32,
        description: record.description.clone(),
        reason: record.reason.clone(),
        minutes: record.minutes,
        service_date: Some(date_to_wire(record.service_date)),
        state: record.state as i32,
        needs_review: record.needs_review,
        reviewed_by: record.reviewed_by.clone(),
        review_comment: record.review_comment.clone(),
        platform_report_status: record.platform_report_status,
        metadata: Some(metadata(&record.id, &record.meta)),
    }
}

fn position(position: Option<&pb::DevicePosition>) -> Result<Option<DevicePosition>, ApiError> {
    let Some(position) = position else {
        return Ok(None);
    };
    let mut violations = Violations::new();
    if !(-90.0..=90.0).contains(&position.latitude) {
        violations.add(
            "position.latitude",
            "must be between -90 and 90",
            "纬度应在 -90 到 90 之间",
        );
    }
    if !(-180.0..=180.0).contains(&position.longitude) {
        violations.add(
            "position.longitude",
            "must be between -180 and 180",
            "经度应在 -180 到 180 之间",
        );
    }
    violations.into_result()?;
    Ok(Some(DevicePosition {
        latitude: position.latitude,
        longitude: position.longitude,
    }))
}

#[tonic::async_trait]
impl pb::attendance_service_server::AttendanceService for AttendanceApi {
    async fn get_check_in_code(
        &self,
        request: Request<pb::GetCheckInCodeRequest>,
    ) -> Result<Response<pb::GetCheckInCodeResponse>, Status> {
        let principal = Principal::of(&request)?;
        let activity = parse_name("activity", &request.get_ref().activity, "activities")?;
        let (code, expire) = self.0.check_in_code(&principal, activity).await?;
        Ok(Response::new(pb::GetCheckInCodeResponse {
            code,
            expire_time: Some(timestamp(expire)),
        }))
    }

    async fn check_in(
        &self,
        request: Request<pb::CheckInRequest>,
    ) -> Result<Response<pb::CheckInResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("activity", &message.activity, "activities")?;
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let position = position(message.position.as_ref())?;
        let attendance = self
            .0
            .check_in(
                &principal,
                activity,
                volunteer,
                message.code.trim(),
                position,
            )
            .await?;
        Ok(Response::new(pb::CheckInResponse {
            attendance: Some(attendance_to_wire(&attendance)),
        }))
    }

    async fn check_out(
        &self,
        request: Request<pb::CheckOutRequest>,
    ) -> Result<Response<pb::CheckOutResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("activity", &message.activity, "activities")?;
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let attendance = self.0.check_out(&principal, activity, volunteer).await?;
        Ok(Response::new(pb::CheckOutResponse {
            attendance: Some(attendance_to_wire(&attendance)),
        }))
    }

    async fn list_attendances(
        &self,
        request: Request<pb::ListAttendancesRequest>,
    ) -> Result<Response<pb::ListAttendancesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("parent", &message.parent, "activities")?;
        let volunteer = optional_name("volunteer", &message.volunteer, "volunteers")?;
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &format!("{activity}{volunteer:?}"),
        )?;
        let (attendances, next_page_token) = self
            .0
            .list_attendances(&principal, activity, volunteer, &page)
            .await?;
        Ok(Response::new(pb::ListAttendancesResponse {
            attendances: attendances.iter().map(attendance_to_wire).collect(),
            next_page_token,
        }))
    }
}

/// A period of service dates, each end optional.
fn period(
    start: Option<&egret_proto::common::v1::Date>,
    end: Option<&egret_proto::common::v1::Date>,
) -> Result<(Option<CivilDate>, Option<CivilDate>), ApiError> {
    let mut violations = Violations::new();
    let from = date_from_wire(&mut violations, "start_date", start);
    let to = date_from_wire(&mut violations, "end_date", end);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        violations.add(
            "end_date",
            "must not be before start_date",
            "结束日期不能早于开始日期",
        );
    }
    violations.into_result()?;
    Ok((from, to))
}

impl ServiceRecordApi {
    async fn review(
        &self,
        principal: Principal,
        name: &str,
        target: RecordState,
        comment: &str,
        required: bool,
    ) -> Result<pb::ServiceRecord, Status> {
        let id = parse_name("name", name, "serviceRecords")?;
        let mut violations = Violations::new();
        let comment = text(&mut violations, "comment", comment, 500, required);
        violations.into_result()?;
        let record = self
            .0
            .review_service_record(&principal, id, target, &comment)
            .await?;
        Ok(record_to_wire(&record))
    }
}

#[tonic::async_trait]
impl pb::service_record_service_server::ServiceRecordService for ServiceRecordApi {
    async fn get_service_record(
        &self,
        request: Request<pb::GetServiceRecordRequest>,
    ) -> Result<Response<pb::GetServiceRecordResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "serviceRecords")?;
        let record = self.0.get_service_record(&principal, id).await?;
        Ok(Response::new(pb::GetServiceRecordResponse {
            service_record: Some(record_to_wire(&record)),
        }))
    }

    async fn list_service_records(
        &self,
        request: Request<pb::ListServiceRecordsRequest>,
    ) -> Result<Response<pb::ListServiceRecordsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let optional =
            |field: &str, value: &str, collection: &str| -> Result<Option<String>, ApiError> {
                if value.is_empty() {
                    return Ok(None);
                }
                parse_name(field, value, collection).map(|id| Some(id.to_string()))
            };
        let mut violations = Violations::new();
        let state = enum_value(&mut violations, "state", message.state, |value| {
            pb::ServiceRecordState::try_from(value).is_ok()
        });
        violations.into_result()?;
        let query = RecordQuery {
            org_unit: optional("org_unit", &message.org_unit, "orgUnits")?,
            volunteer: optional("volunteer", &message.volunteer, "volunteers")?,
            activity: optional("activity", &message.activity, "activities")?,
            state: RecordState::from_number(i64::from(state)),
        };
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (records, next_page_token) = self
            .0
            .list_service_records(&principal, &query, &page)
            .await?;
        Ok(Response::new(pb::ListServiceRecordsResponse {
            service_records: records.iter().map(record_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn approve_service_record(
        &self,
        request: Request<pb::ApproveServiceRecordRequest>,
    ) -> Result<Response<pb::ApproveServiceRecordResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let record = self
            .review(
                principal,
                &message.name,
                RecordState::Approved,
                &message.comment,
                false,
            )
            .await?;
        Ok(Response::new(pb::ApproveServiceRecordResponse {
            service_record: Some(record),
        }))
    }

    async fn reject_service_record(
        &self,
        request: Request<pb::RejectServiceRecordRequest>,
    ) -> Result<Response<pb::RejectServiceRecordResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let record = self
            .review(
                principal,
                &message.name,
                RecordState::Rejected,
                &message.comment,
                true,
            )
            .await?;
        Ok(Response::new(pb::RejectServiceRecordResponse {
            service_record: Some(record),
        }))
    }

    async fn get_volunteer_hours(
        &self,
        request: Request<pb::GetVolunteerHoursRequest>,
    ) -> Result<Response<pb::GetVolunteerHoursResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let mut violations = Violations::new();
        let from = date_from_wire(&mut violations, "start_date", message.start_date.as_ref());
        let to = date_from_wire(&mut violations, "end_date", message.end_date.as_ref());
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            violations.add(
                "end_date",
                "must not be before start_date",
                "结束日期不能早于开始日期",
            );
        }
        violations.into_result()?;
        let (approved_minutes, record_count) = self
            .0
            .volunteer_hours(&principal, volunteer, from, to)
            .await?;
        Ok(Response::new(pb::GetVolunteerHoursResponse {
            approved_minutes,
            record_count,
        }))
    }

    async fn get_org_unit_hours(
        &self,
        request: Request<pb::GetOrgUnitHoursRequest>,
    ) -> Result<Response<pb::GetOrgUnitHoursResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let (from, to) = period(message.start_date.as_ref(), message.end_date.as_ref())?;
        let (approved_minutes, record_count, volunteer_count) = self
            .0
            .org_unit_hours(&principal, org_unit, from, to)
            .await?;
        Ok(Response::new(pb::GetOrgUnitHoursResponse {
            approved_minutes,
            record_count,
            volunteer_count,
        }))
    }

    async fn create_back_entry(
        &self,
        request: Request<pb::CreateBackEntryRequest>,
    ) -> Result<Response<pb::CreateBackEntryResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("activity", &message.activity, "activities")?;
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        check_request_id(&message.request_id)?;
        let mut violations = Violations::new();
        if !(1..=MINUTES_PER_DAY * 31).contains(&message.minutes) {
            violations.add("minutes", "must be at least 1", "补录时长至少 1 分钟");
        }
        let description = text(
            &mut violations,
            "description",
            &message.description,
            500,
            false,
        );
        let reason = text(&mut violations, "reason", &message.reason, 500, true);
        violations.into_result()?;
        let record = self
            .0
            .create_back_entry(
                &principal,
                activity,
                volunteer,
                message.minutes,
                &description,
                &reason,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateBackEntryResponse {
            service_record: Some(record_to_wire(&record)),
        }))
    }

    async fn correct_service_record(
        &self,
        request: Request<pb::CorrectServiceRecordRequest>,
    ) -> Result<Response<pb::CorrectServiceRecordResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "serviceRecords")?;
        let mut violations = Violations::new();
        if !(0..=MINUTES_PER_DAY * 31).contains(&message.minutes) {
            violations.add(
                "minutes",
                "must be between 0 and 44640 (31 days)",
                "时长超出范围",
            );
        }
        let reason = text(&mut violations, "reason", &message.reason, 500, true);
        violations.into_result()?;
        let record = self
            .0
            .correct_service_record(&principal, id, message.minutes, &reason)
            .await?;
        Ok(Response::new(pb::CorrectServiceRecordResponse {
            service_record: Some(record_to_wire(&record)),
        }))
    }

    async fn set_platform_report_status(
        &self,
        request: Request<pb::SetPlatformReportStatusRequest>,
    ) -> Result<Response<pb::SetPlatformReportStatusResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        if message.names.is_empty() || message.names.len() > 1000 {
            return Err(ApiError::invalid(
                "names",
                "must name 1 to 1000 records",
                "应列出 1 到 1000 条记录",
            )
            .into());
        }
        let mut violations = Violations::new();
        let status = enum_value(
            &mut violations,
            "platform_report_status",
            message.platform_report_status,
            |value| pb::PlatformReportStatus::try_from(value).is_ok(),
        );
        if status == 0 {
            violations.add("platform_report_status", "is required", "必须指定上报状态");
        }
        violations.into_result()?;
        let mut ids = Vec::with_capacity(message.names.len());
        for (index, name) in message.names.iter().enumerate() {
            ids.push(parse_name(&format!("names[{index}]"), name, "serviceRecords")?.to_string());
        }
        let updated_count = self.0.set_report_status(&principal, &ids, status).await?;
        Ok(Response::new(pb::SetPlatformReportStatusResponse {
            updated_count,
        }))
    }

    async fn import_service_records(
        &self,
        request: Request<pb::ImportServiceRecordsRequest>,
    ) -> Result<Response<pb::ImportServiceRecordsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("org_unit", &message.org_unit, "orgUnits")?;
        if message.request_id.is_empty() {
            return Err(ApiError::invalid(
                "request_id",
                "is required: it makes a retried import safe",
                "导入必须提供请求编号，以便安全重试",
            )
            .into());
        }
        check_request_id(&message.request_id)?;
        if message.rows.is_empty() || message.rows.len() > 1000 {
            return Err(
                ApiError::invalid("rows", "must hold 1 to 1000 rows", "每批 1 到 1000 行").into(),
            );
        }
        let today = egret_runtime::wire::today();
        let mut violations = Violations::new();
        let mut rows = Vec::with_capacity(message.rows.len());
        for (index, row) in message.rows.iter().enumerate() {
            let field = |name: &str| format!("rows[{index}].{name}");
            let volunteer = match parse_name(&field("volunteer"), &row.volunteer, "volunteers") {
                Ok(id) => id.to_string(),
                Err(ApiError::InvalidArgument(found)) => {
                    violations.extend(found);
                    String::new()
                }
                Err(other) => return Err(other.into()),
            };
            let service_date = date_from_wire(
                &mut violations,
                &field("service_date"),
                row.service_date.as_ref(),
            );
            if service_date.is_none() && row.service_date.as_ref().is_none_or(|date| date.year == 0)
            {
                violations.add(field("service_date"), "is required", "不能为空");
            }
            if service_date.is_some_and(|date| date > today) {
                violations.add(
                    field("service_date"),
                    "must not be in the future",
                    "服务日期不能晚于今天",
                );
            }
            if !(1..=MINUTES_PER_DAY).contains(&row.minutes) {
                violations.add(
                    field("minutes"),
                    "must be between 1 and 1440",
                    "时长应在 1 到 1440 分钟之间",
                );
            }
            let description = text(
                &mut violations,
                &field("description"),
                &row.description,
                500,
                true,
            );
            if let Some(service_date) = service_date {
                rows.push(ImportRow {
                    volunteer_id: volunteer,
                    service_date,
                    minutes: row.minutes,
                    description,
                });
            }
        }
        violations.into_result()?;
        let records = self
            .0
            .import_service_records(&principal, org_unit, rows, &message.request_id)
            .await?;
        Ok(Response::new(pb::ImportServiceRecordsResponse {
            service_records: records.iter().map(record_to_wire).collect(),
        }))
    }
}
