//! `egret.activity.v1.TrainingService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{
    check_request_id, date_to_wire, enum_value, metadata, optional_name, parse_name, text,
    timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use super::activities::micros;
use crate::app::{Activity, CourseFields};
use crate::domain::names;
use crate::domain::training::{Course, Qualification, TrainingSession};

/// The service implementation.
pub struct TrainingApi(pub Activity);

/// The most volunteers one completion call records.
const MAX_COMPLETIONS: usize = 500;

fn course_to_wire(course: &Course) -> pb::Course {
    pb::Course {
        name: names::course(&course.id),
        org_unit: names::org_unit(&course.org_unit_id),
        display_name: course.display_name.clone(),
        kind: course.kind,
        description: course.description.clone(),
        qualification: course.qualification.clone(),
        qualification_valid_days: course.qualification_valid_days,
        metadata: Some(metadata(&course.id, &course.meta)),
    }
}

fn session_to_wire(session: &TrainingSession) -> pb::TrainingSession {
    pb::TrainingSession {
        name: names::training_session(&session.course_id, &session.id),
        start_time: Some(timestamp(session.start_time)),
        end_time: Some(timestamp(session.end_time)),
        location: session.location.clone(),
        metadata: Some(metadata(&session.id, &session.meta)),
    }
}

fn qualification_to_wire(qualification: &Qualification) -> pb::Qualification {
    pb::Qualification {
        name: names::qualification(&qualification.id),
        volunteer: names::volunteer(&qualification.volunteer_id),
        qualification: qualification.qualification.clone(),
        session: names::training_session(&qualification.course_id, &qualification.session_id),
        granted_date: Some(date_to_wire(qualification.granted_date)),
        expire_date: qualification.expire_date.map(date_to_wire),
        metadata: Some(metadata(&qualification.id, &qualification.meta)),
    }
}

/// `courses/{course}/sessions/{session}` as (course id, session id).
fn session_name<'a>(field: &str, name: &'a str) -> Result<(&'a str, &'a str), ApiError> {
    match name.split('/').collect::<Vec<_>>().as_slice() {
        ["courses", course, "sessions", session]
            if egret_runtime::wire::is_id(course) && egret_runtime::wire::is_id(session) =>
        {
            Ok((course, session))
        }
        _ => Err(ApiError::invalid(
            field,
            format!(
                "must be a resource name like courses/{{course}}/sessions/{{session}}, got {}",
                quote(name)
            ),
            "资源名格式应为 courses/{course}/sessions/{session}",
        )),
    }
}

#[tonic::async_trait]
impl pb::training_service_server::TrainingService for TrainingApi {
    async fn create_course(
        &self,
        request: Request<pb::CreateCourseRequest>,
    ) -> Result<Response<pb::CreateCourseResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        check_request_id(&message.request_id)?;
        let Some(course) = &message.course else {
            return Err(ApiError::invalid("course", "is required", "不能为空").into());
        };
        let org_unit = parse_name("course.org_unit", &course.org_unit, "orgUnits")?;
        let mut violations = Violations::new();
        let kind = enum_value(&mut violations, "course.kind", course.kind, |value| {
            pb::CourseKind::try_from(value).is_ok()
        });
        if kind == 0 {
            violations.add("course.kind", "is required", "必须选择课程类别");
        }
        if !(0..=3660).contains(&course.qualification_valid_days) {
            violations.add(
                "course.qualification_valid_days",
                "must be between 0 and 3660",
                "有效天数应在 0 到 3660 之间",
            );
        }
        let fields = CourseFields {
            display_name: text(
                &mut violations,
                "course.display_name",
                &course.display_name,
                100,
                true,
            ),
            kind,
            description: text(
                &mut violations,
                "course.description",
                &course.description,
                2000,
                false,
            ),
            qualification: text(
                &mut violations,
                "course.qualification",
                &course.qualification,
                50,
                false,
            ),
            qualification_valid_days: course.qualification_valid_days,
        };
        violations.into_result()?;
        let created = self
            .0
            .create_course(&principal, org_unit, fields, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateCourseResponse {
            course: Some(course_to_wire(&created)),
        }))
    }

    async fn get_course(
        &self,
        request: Request<pb::GetCourseRequest>,
    ) -> Result<Response<pb::GetCourseResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "courses")?;
        let course = self.0.get_course(&principal, id).await?;
        Ok(Response::new(pb::GetCourseResponse {
            course: Some(course_to_wire(&course)),
        }))
    }

    async fn list_courses(
        &self,
        request: Request<pb::ListCoursesRequest>,
    ) -> Result<Response<pb::ListCoursesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &format!("{org_unit:?}"),
        )?;
        let (courses, next_page_token) = self.0.list_courses(&principal, org_unit, &page).await?;
        Ok(Response::new(pb::ListCoursesResponse {
            courses: courses.iter().map(course_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_training_session(
        &self,
        request: Request<pb::CreateTrainingSessionRequest>,
    ) -> Result<Response<pb::CreateTrainingSessionResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let course = parse_name("parent", &message.parent, "courses")?;
        check_request_id(&message.request_id)?;
        let Some(session) = &message.training_session else {
            return Err(ApiError::invalid("training_session", "is required", "不能为空").into());
        };
        let mut violations = Violations::new();
        let start_time = micros(
            &mut violations,
            "training_session.start_time",
            session.start_time.as_ref(),
        );
        let end_time = micros(
            &mut violations,
            "training_session.end_time",
            session.end_time.as_ref(),
        );
        let location = text(
            &mut violations,
            "training_session.location",
            &session.location,
            200,
            false,
        );
        violations.into_result()?;
        let created = self
            .0
            .create_session(
                &principal,
                course,
                start_time,
                end_time,
                location,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateTrainingSessionResponse {
            training_session: Some(session_to_wire(&created)),
        }))
    }

    async fn record_training_completion(
        &self,
        request: Request<pb::RecordTrainingCompletionRequest>,
    ) -> Result<Response<pb::RecordTrainingCompletionResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let (course, session) = session_name("session", &message.session)?;
        if message.volunteers.is_empty() || message.volunteers.len() > MAX_COMPLETIONS {
            return Err(ApiError::invalid(
                "volunteers",
                format!("must name 1 to {MAX_COMPLETIONS} volunteers"),
                format!("应列出 1 到 {MAX_COMPLETIONS} 名志愿者"),
            )
            .into());
        }
        let mut volunteers = Vec::with_capacity(message.volunteers.len());
        for (index, name) in message.volunteers.iter().enumerate() {
            volunteers
                .push(parse_name(&format!("volunteers[{index}]"), name, "volunteers")?.to_string());
        }
        let granted = self
            .0
            .record_completion(&principal, course, session, &volunteers)
            .await?;
        Ok(Response::new(pb::RecordTrainingCompletionResponse {
            qualifications: granted.iter().map(qualification_to_wire).collect(),
        }))
    }

    async fn list_qualifications(
        &self,
        request: Request<pb::ListQualificationsRequest>,
    ) -> Result<Response<pb::ListQualificationsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let page = PageRequest::standard(message.page_size, &message.page_token, volunteer)?;
        let (qualifications, next_page_token) = self
            .0
            .list_qualifications(&principal, volunteer, &page)
            .await?;
        Ok(Response::new(pb::ListQualificationsResponse {
            qualifications: qualifications.iter().map(qualification_to_wire).collect(),
            next_page_token,
        }))
    }
}
