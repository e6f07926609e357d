//! `egret.activity.v1.AttendanceService` and `egret.activity.v1.ServiceRecordService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::wire::{
    date_from_wire, date_to_wire, enum_value, metadata, parse_name, text, timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::{Activity, DevicePosition, RecordQuery};
use crate::domain::attendance::{Attendance, RecordState, ServiceRecord};
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
        activity: names::activity(&record.activity_id),
        org_unit: names::org_unit(&record.org_unit_id),
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
        let volunteer = if message.volunteer.is_empty() {
            None
        } else {
            Some(parse_name("volunteer", &message.volunteer, "volunteers")?)
        };
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
}
