//! 培训: the courses of the person's subtree, a new course, and a session of a course
//! with the members who completed it (each gains the course's qualification).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use egret_proto::activity::v1::{
    Course, CourseKind, CreateCourseRequest, CreateTrainingSessionRequest, GetCourseRequest,
    ListCoursesRequest, RecordTrainingCompletionRequest, TrainingSession,
};
use egret_proto::registry::v1::{ListVolunteersRequest, Tier};
use serde::Deserialize;

use super::org::UnitChoice;
use super::{
    Layout, Posted, Signed, after_action, error_page, id_of, noted, render_refused, valid_id,
};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Courses on one page.
const COURSES_PAGE: i32 = 50;
/// Members a session's form offers to mark as completed.
const MEMBERS_SHOWN: i32 = 200;

/// The kinds a new course may have, in the order the form offers them.
const KINDS: [CourseKind; 4] = [
    CourseKind::ServicePurpose,
    CourseKind::ServiceSkills,
    CourseKind::Safety,
    CourseKind::Other,
];

struct CourseRow {
    id: String,
    display_name: String,
    kind: &'static str,
    qualification: String,
    valid_days: String,
}

fn row(course: &Course) -> CourseRow {
    CourseRow {
        id: id_of(&course.name).to_string(),
        display_name: course.display_name.clone(),
        kind: labels::course_kind(course.kind),
        qualification: course.qualification.clone(),
        valid_days: if course.qualification_valid_days > 0 {
            format!("{} 天", course.qualification_valid_days)
        } else {
            "长期".to_string()
        },
    }
}

#[derive(Template)]
#[template(path = "training.html")]
struct TrainingPage {
    layout: Layout,
    courses: Vec<CourseRow>,
    next_page: String,
    units: Vec<UnitChoice>,
    kinds: Vec<(i32, &'static str)>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl TrainingPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "course.org_unit",
            "course.display_name",
            "course.kind",
            "course.qualification",
            "course.qualification_valid_days",
            "course.description",
        ])
    }
}

/// The list's next page.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    after: String,
}

async fn training_page(
    state: &AppState,
    signed: &Signed,
    after: &str,
    form: Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let mut failures = flash.failures;
    let api = &state.api;
    let listed = api
        .training()
        .list_courses(api.request(
            &signed.caller,
            ListCoursesRequest {
                org_unit: signed.session.person.org_unit.clone(),
                page_size: COURSES_PAGE,
                page_token: after.chars().take(1024).collect(),
            },
        ))
        .await;
    let (courses, next_page) = noted(
        listed.map(|listed| {
            let listed = listed.into_inner();
            (
                listed.courses.iter().map(row).collect(),
                listed.next_page_token,
            )
        }),
        &mut failures,
    );
    let units = super::org::unit_choices(state, signed, Tier::Unspecified).await;
    let refused = failure.code.is_some();
    render_refused(
        &TrainingPage {
            layout: signed.layout("培训", "training"),
            courses,
            next_page,
            units,
            kinds: labels::choices(&KINDS, labels::course_kind),
            request_id: form.request_id_or_new(),
            form,
            notice: flash.notice,
            failures,
            failure,
        },
        refused,
    )
}

/// `GET /training`.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    training_page(
        &state,
        &signed,
        &query.after,
        Posted::default(),
        Failure::default(),
    )
    .await
}

/// `POST /training`: a new course.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let Some(valid_days) = form
        .number("valid_days")
        .or_else(|| form.get("valid_days").is_empty().then_some(0))
    else {
        let failure = Failure::field("course.qualification_valid_days", "请填写天数");
        return training_page(&state, &signed, "", form, failure).await;
    };
    let course = Course {
        org_unit: form.name("org_unit", "orgUnits"),
        display_name: form.get("display_name").to_string(),
        kind: form.number("kind").unwrap_or_default() as i32,
        description: form.get("description").to_string(),
        qualification: form.get("qualification").to_string(),
        qualification_valid_days: i32::try_from(valid_days).unwrap_or(i32::MAX),
        ..Course::default()
    };
    let api = &state.api;
    let created = api
        .training()
        .create_course(api.request(
            &signed.caller,
            CreateCourseRequest {
                course: Some(course),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(created) => {
            let id = created
                .into_inner()
                .course
                .map(|course| id_of(&course.name).to_string())
                .unwrap_or_default();
            after_action(&signed, Ok(()), "课程已创建。", &format!("/training/{id}"))
        }
        Err(status) => training_page(&state, &signed, "", form, status.into()).await,
    }
}

/// A member the session form offers.
struct Member {
    id: String,
    display_name: String,
    number: String,
}

#[derive(Template)]
#[template(path = "course.html")]
struct CoursePage {
    layout: Layout,
    id: String,
    course: CourseRow,
    description: String,
    members: Vec<Member>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl CoursePage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "training_session.start_time",
            "training_session.end_time",
            "training_session.location",
        ])
    }

    fn chosen(&self, id: &str) -> bool {
        self.form
            .all("volunteer", MEMBERS_SHOWN as usize)
            .contains(&id)
    }
}

async fn course_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    form: Posted,
    failure: Failure,
) -> Response {
    if !valid_id(id) {
        return error_page(&Failure::not_found("未找到该课程。"), Some(signed));
    }
    let flash = signed.session.take_flash();
    let api = &state.api;
    let course = api
        .training()
        .get_course(api.request(
            &signed.caller,
            GetCourseRequest {
                name: format!("courses/{id}"),
            },
        ))
        .await
        .map(|answer| answer.into_inner().course.unwrap_or_default());
    let course = match course {
        Ok(course) => course,
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let mut failures = flash.failures;
    let members = api
        .volunteers()
        .list_volunteers(api.request(
            &signed.caller,
            ListVolunteersRequest {
                org_unit: course.org_unit.clone(),
                page_size: MEMBERS_SHOWN,
                ..ListVolunteersRequest::default()
            },
        ))
        .await;
    let members = match members {
        Ok(listed) => listed
            .into_inner()
            .volunteers
            .into_iter()
            .map(|volunteer| Member {
                id: id_of(&volunteer.name).to_string(),
                display_name: volunteer.display_name,
                number: volunteer.volunteer_number,
            })
            .collect(),
        Err(status) => {
            failures.push(Failure::from(status).message);
            Vec::new()
        }
    };
    let refused = failure.code.is_some();
    render_refused(
        &CoursePage {
            layout: signed.layout(&course.display_name, "training"),
            id: id.to_string(),
            description: course.description.clone(),
            course: row(&course),
            members,
            request_id: form.request_id_or_new(),
            form,
            notice: flash.notice,
            failures,
            failure,
        },
        refused,
    )
}

/// `GET /training/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    course_page(&state, &signed, &id, Posted::default(), Failure::default()).await
}

/// `POST /training/{id}/sessions`: a session held, and the members who completed it.
pub(crate) async fn record_session(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&Failure::not_found("未找到该课程。"), Some(&signed));
    }
    let start_time = labels::parse_china_local(form.get("start"));
    let end_time = labels::parse_china_local(form.get("end"));
    if start_time.is_none() || end_time.is_none() {
        let field = if start_time.is_none() {
            "training_session.start_time"
        } else {
            "training_session.end_time"
        };
        let failure = Failure::field(field, "请填写日期和时间");
        return course_page(&state, &signed, &id, form, failure).await;
    }
    let volunteers: Vec<String> = form
        .all("volunteer", MEMBERS_SHOWN as usize)
        .into_iter()
        .filter(|volunteer| valid_id(volunteer))
        .map(|volunteer| format!("volunteers/{volunteer}"))
        .collect();
    let api = &state.api;
    let session = api
        .training()
        .create_training_session(api.request(
            &signed.caller,
            CreateTrainingSessionRequest {
                parent: format!("courses/{id}"),
                training_session: Some(TrainingSession {
                    start_time,
                    end_time,
                    location: form.get("location").to_string(),
                    ..TrainingSession::default()
                }),
                request_id: form.request_id(),
            },
        ))
        .await;
    let session = match session {
        Ok(session) => session.into_inner().training_session.unwrap_or_default(),
        Err(status) => return course_page(&state, &signed, &id, form, status.into()).await,
    };
    let back = format!("/training/{id}");
    if volunteers.is_empty() {
        return after_action(&signed, Ok(()), "已登记本期培训。", &back);
    }
    let count = volunteers.len();
    let completed = api
        .training()
        .record_training_completion(api.request(
            &signed.caller,
            RecordTrainingCompletionRequest {
                session: session.name,
                volunteers,
            },
        ))
        .await;
    match completed {
        Ok(_) => after_action(
            &signed,
            Ok(()),
            &format!("已登记本期培训，{count} 名志愿者完成培训并取得资格。"),
            &back,
        ),
        Err(status) => course_page(&state, &signed, &id, form, status.into()).await,
    }
}
