//! 项目与活动: activities of the person's subtree, a new activity with its position, its
//! page with publishing, starting and completing, the sign-ups to decide, attendance, and
//! the check-in code screen for the leader's phone.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    Activity, ActivityState, ApproveSignUpRequest, CancelActivityRequest, CompleteActivityRequest,
    CreateActivityRequest, CreateBackEntryRequest, GetActivityRequest, GetCheckInCodeRequest,
    ListActivitiesRequest, ListAttendancesRequest, ListSignUpsRequest, Position,
    PublishActivityRequest, RejectSignUpRequest, RiskLevel, ServiceSite, SiteKind,
    StartActivityRequest,
};
use egret_proto::common::v1::ServiceTheme;
use egret_proto::registry::v1::Tier;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::sorting::{Column, SortHeader, Sorting};
use super::{
    DecisionForm, Layout, Signed, check_csrf, error_page, id_of, render, render_refused, valid_id,
};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Activities on one page of the list.
const ACTIVITIES_PAGE: i32 = 50;
/// Sign-ups and attendances shown on an activity's page.
const PEOPLE_SHOWN: i32 = 200;

/// An activity as a list or page shows it.
pub(crate) struct ActivityView {
    pub id: String,
    pub display_name: String,
    pub state: &'static str,
    pub state_value: i32,
    pub start: String,
    pub end: String,
    pub site: String,
    pub positions: Vec<PositionView>,
}

/// A position of an activity.
pub(crate) struct PositionView {
    pub id: String,
    pub role: String,
    pub headcount: i32,
}

impl ActivityView {
    pub(crate) fn from_activity(activity: &Activity) -> Self {
        Self {
            id: id_of(&activity.name).to_string(),
            display_name: activity.display_name.clone(),
            state: labels::activity_state(activity.state),
            state_value: activity.state,
            start: labels::china_time(activity.start_time.as_ref()),
            end: labels::china_time(activity.end_time.as_ref()),
            site: activity
                .site
                .as_ref()
                .map(|site| format!("{} {}", site.display_name, site.address))
                .unwrap_or_default(),
            positions: activity
                .positions
                .iter()
                .map(|position| PositionView {
                    id: position.position_id.clone(),
                    role: position.role.clone(),
                    headcount: position.headcount,
                })
                .collect(),
        }
    }

    /// Whether it is recruiting.
    pub fn is_published(&self) -> bool {
        self.state_value == ActivityState::Published as i32
    }

    /// Whether attendance is being taken.
    pub fn is_in_progress(&self) -> bool {
        self.state_value == ActivityState::InProgress as i32
    }

    /// Whether it is still a draft.
    pub fn is_draft(&self) -> bool {
        self.state_value == ActivityState::Draft as i32
    }
}

#[derive(Template)]
#[template(path = "activities.html")]
struct ListPage {
    layout: Layout,
    activities: Vec<ActivityView>,
    states: Vec<(i32, &'static str)>,
    state: i32,
    sort: String,
    headers: Vec<SortHeader>,
    next_page: String,
    failure: Failure,
}

/// The query of the list: a state tab, an order and the next page.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    state: i32,
    #[serde(default)]
    sort: String,
}

/// The list's columns.
const COLUMNS: [Column; 4] = [
    Column {
        field: "display_name",
        label: "活动",
    },
    Column {
        field: "start_time",
        label: "开始",
    },
    Column {
        field: "",
        label: "结束",
    },
    Column {
        field: "",
        label: "状态",
    },
];

/// `GET /activities`: the activities of the person's subtree, newest first as listed.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    let api = &state.api;
    let states = labels::choices(
        &[
            ActivityState::Draft,
            ActivityState::Published,
            ActivityState::InProgress,
            ActivityState::Completed,
            ActivityState::Cancelled,
        ],
        labels::activity_state,
    );
    let tab = if states.iter().any(|(value, _)| *value == query.state) {
        query.state
    } else {
        0
    };
    let sorting = Sorting::parse(&query.sort, &COLUMNS);
    let listed = api
        .activities()
        .list_activities(api.request(
            &signed.caller,
            ListActivitiesRequest {
                org_unit: signed.session.person.org_unit.clone(),
                state: tab,
                page_size: ACTIVITIES_PAGE,
                page_token: query.after.chars().take(1024).collect(),
                order_by: sorting.order_by(),
                ..ListActivitiesRequest::default()
            },
        ))
        .await;
    let (activities, next_page, failure) = match listed {
        Ok(listed) => {
            let listed = listed.into_inner();
            (
                listed
                    .activities
                    .iter()
                    .map(ActivityView::from_activity)
                    .collect(),
                listed.next_page_token,
                Failure::default(),
            )
        }
        Err(status) => (Vec::new(), String::new(), status.into()),
    };
    render(&ListPage {
        layout: signed.layout("活动", "activities"),
        activities,
        states,
        state: tab,
        sort: sorting.order_by(),
        headers: sorting.headers(&COLUMNS, &format!("/activities?state={tab}&")),
        next_page,
        failure,
    })
}

/// The new-activity form, also shown again with its errors.
#[derive(Deserialize, Default)]
pub(crate) struct NewActivity {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    org_unit: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    site_name: String,
    #[serde(default)]
    site_address: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    headcount: String,
    #[serde(default)]
    project: String,
}

#[derive(Template)]
#[template(path = "activity_new.html")]
struct NewPage {
    layout: Layout,
    units: Vec<super::org::UnitChoice>,
    projects: Vec<super::org::UnitChoice>,
    form: NewActivity,
    failure: Failure,
}

impl NewPage {
    fn error(&self, field: &str) -> &str {
        self.failure
            .fields
            .iter()
            .find(|(name, _)| {
                *name == field
                    || name
                        .strip_prefix(field)
                        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
            .map_or("", |(_, message)| message.as_str())
    }

    fn summary(&self) -> String {
        self.failure.summary(&[
            "activity.org_unit",
            "activity.project",
            "activity.display_name",
            "activity.description",
            "activity.site",
            "activity.start_time",
            "activity.end_time",
            "activity.positions",
        ])
    }
}

async fn new_page(
    state: &AppState,
    signed: &Signed,
    form: NewActivity,
    failure: Failure,
) -> Response {
    let bad = failure.code.is_some();
    render_refused(
        &NewPage {
            layout: signed.layout("新建活动", "activities"),
            units: super::org::unit_choices(state, signed, Tier::Unspecified).await,
            projects: super::projects::open_projects(state, signed).await,
            form,
            failure,
        },
        bad,
    )
}

/// The query of the new-activity form: the unit it is for.
#[derive(Deserialize, Default)]
pub(crate) struct NewQuery {
    #[serde(default)]
    unit: String,
}

/// `GET /activities/new`.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<NewQuery>,
) -> Response {
    let form = NewActivity {
        request_id: uuid::Uuid::new_v4().to_string(),
        org_unit: query.unit,
        headcount: "10".to_string(),
        ..NewActivity::default()
    };
    new_page(&state, &signed, form, Failure::default()).await
}

/// `POST /activities`: a draft activity with one position.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<NewActivity>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let start = labels::parse_china_local(&form.start);
    let end = labels::parse_china_local(&form.end);
    let mut failure = Failure::default();
    if start.is_none() {
        failure = Failure::field("activity.start_time", "请填写开始时间。");
    } else if end.is_none() {
        failure = Failure::field("activity.end_time", "请填写结束时间。");
    }
    let headcount = form.headcount.trim().parse::<i32>();
    if headcount.is_err() {
        failure = Failure::field("activity.positions", "招募人数请填写整数。");
    }
    if failure.code.is_some() {
        return new_page(&state, &signed, form, failure).await;
    }
    let activity = Activity {
        org_unit: if valid_id(&form.org_unit) {
            format!("orgUnits/{}", form.org_unit)
        } else {
            String::new()
        },
        project: if valid_id(&form.project) {
            format!("projects/{}", form.project)
        } else {
            String::new()
        },
        display_name: form.display_name.trim().to_string(),
        description: form.description.trim().to_string(),
        service_theme: ServiceTheme::Care as i32,
        site: Some(ServiceSite {
            display_name: form.site_name.trim().to_string(),
            address: form.site_address.trim().to_string(),
            kind: SiteKind::Community as i32,
            check_in_fence: None,
        }),
        start_time: start,
        end_time: end,
        risk_level: RiskLevel::Low as i32,
        positions: vec![Position {
            role: form.role.trim().to_string(),
            headcount: headcount.unwrap_or_default(),
            ..Position::default()
        }],
        ..Activity::default()
    };
    let api = &state.api;
    let created = api
        .activities()
        .create_activity(api.request(
            &signed.caller,
            CreateActivityRequest {
                activity: Some(activity),
                request_id: form.request_id.chars().take(64).collect(),
            },
        ))
        .await;
    match created {
        Ok(created) => {
            let activity = created.into_inner().activity.unwrap_or_default();
            Redirect::to(&format!("/activities/{}", id_of(&activity.name))).into_response()
        }
        Err(status) => new_page(&state, &signed, form, status.into()).await,
    }
}

/// A sign-up as the activity's page lists it.
struct SignUpRow {
    id: String,
    volunteer: String,
    state: &'static str,
    decidable: bool,
    waitlist_position: i32,
}

/// An attendance as the activity's page lists it.
struct AttendanceRow {
    volunteer: String,
    check_in: String,
    check_out: String,
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    activity: ActivityView,
    unit_name: String,
    sign_ups: Vec<SignUpRow>,
    attendances: Vec<AttendanceRow>,
    failure: Failure,
    notice: String,
    failures: Vec<String>,
    /// The volunteers a back-entry may be asked for: those taken on, once it completed.
    back_entry_volunteers: Vec<super::org::UnitChoice>,
    back_entry: super::Posted,
    request_id: String,
}

impl ActivityPage {}

pub(crate) async fn get_activity(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<Activity, Failure> {
    if !valid_id(id) {
        return Err(not_found());
    }
    let api = &state.api;
    Ok(api
        .activities()
        .get_activity(api.request(
            &signed.caller,
            GetActivityRequest {
                name: format!("activities/{id}"),
            },
        ))
        .await?
        .into_inner()
        .activity
        .unwrap_or_default())
}

fn not_found() -> Failure {
    Failure::not_found("未找到该活动。")
}

async fn activity_page(state: &AppState, signed: &Signed, id: &str, failure: Failure) -> Response {
    back_entry_page(state, signed, id, super::Posted::default(), failure).await
}

async fn back_entry_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    back_entry: super::Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let activity = match get_activity(state, signed, id).await {
        Ok(activity) => activity,
        Err(failure) => return error_page(&failure, Some(signed)),
    };
    let api = &state.api;
    let sign_ups = api
        .sign_ups()
        .list_sign_ups(api.request(
            &signed.caller,
            ListSignUpsRequest {
                parent: activity.name.clone(),
                page_size: PEOPLE_SHOWN,
                ..ListSignUpsRequest::default()
            },
        ))
        .await
        .map(|listed| listed.into_inner().sign_ups)
        .unwrap_or_default();
    let attendances = api
        .attendance()
        .list_attendances(api.request(
            &signed.caller,
            ListAttendancesRequest {
                parent: activity.name.clone(),
                page_size: PEOPLE_SHOWN,
                ..ListAttendancesRequest::default()
            },
        ))
        .await
        .map(|listed| listed.into_inner().attendances)
        .unwrap_or_default();
    let names: std::collections::HashMap<String, String> = sign_ups
        .iter()
        .map(|sign_up| {
            (
                sign_up.volunteer.clone(),
                sign_up.volunteer_display_name.clone(),
            )
        })
        .collect();
    let completed = activity.state == egret_proto::activity::v1::ActivityState::Completed as i32;
    let back_entry_volunteers = if completed {
        sign_ups
            .iter()
            .filter(|sign_up| {
                sign_up.state == egret_proto::activity::v1::SignUpState::Approved as i32
            })
            .map(|sign_up| super::org::UnitChoice {
                id: id_of(&sign_up.volunteer).to_string(),
                display_name: sign_up.volunteer_display_name.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let sign_ups = sign_ups
        .iter()
        .map(|sign_up| {
            use egret_proto::activity::v1::SignUpState;
            let state = SignUpState::try_from(sign_up.state).unwrap_or_default();
            SignUpRow {
                id: sign_up
                    .name
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                volunteer: sign_up.volunteer_display_name.clone(),
                state: labels::sign_up_state(sign_up.state),
                decidable: matches!(state, SignUpState::Pending | SignUpState::Waitlisted),
                waitlist_position: sign_up.waitlist_position,
            }
        })
        .collect();
    let attendances = attendances
        .iter()
        .map(|attendance| AttendanceRow {
            volunteer: names
                .get(&attendance.volunteer)
                .cloned()
                .unwrap_or_else(|| attendance.volunteer.clone()),
            check_in: labels::china_time(attendance.check_in_time.as_ref()),
            check_out: labels::china_time(attendance.check_out_time.as_ref()),
        })
        .collect();
    let unit_name = super::org::display_name(state, signed, &activity.org_unit).await;
    let bad = failure.code.is_some();
    render_refused(
        &ActivityPage {
            layout: signed.layout(&activity.display_name, "activities"),
            activity: ActivityView::from_activity(&activity),
            unit_name,
            sign_ups,
            attendances,
            failure,
            notice: flash.notice,
            failures: flash.failures,
            back_entry_volunteers,
            request_id: back_entry.request_id_or_new(),
            back_entry,
        },
        bad,
    )
}

/// `POST /activities/{id}/back-entries`: asks for a back-entry (补录) of a volunteer's
/// service at the completed activity, for a unit above to review.
pub(crate) async fn create_back_entry(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<super::Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let Some(minutes) = form.number("minutes") else {
        let failure = Failure::field("minutes", "请填写分钟数");
        return back_entry_page(&state, &signed, &id, form, failure).await;
    };
    let api = &state.api;
    let created = api
        .service_records()
        .create_back_entry(api.request(
            &signed.caller,
            CreateBackEntryRequest {
                activity: format!("activities/{id}"),
                volunteer: form.name("volunteer", "volunteers"),
                minutes,
                description: form.get("description").chars().take(2000).collect(),
                reason: form.get("reason").chars().take(2000).collect(),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(_) => super::after_action(
            &signed,
            Ok(()),
            "已提交补录，等待上级组织审核。",
            &format!("/activities/{id}"),
        ),
        Err(status) => back_entry_page(&state, &signed, &id, form, status.into()).await,
    }
}

/// `GET /activities/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    activity_page(&state, &signed, &id, Failure::default()).await
}

/// A form that changes an activity's state.
#[derive(Deserialize)]
pub(crate) struct StateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    reason: String,
}

/// `POST /activities/{id}/state`: publish, start, complete or cancel.
pub(crate) async fn change_state(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<StateForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = format!("activities/{id}");
    let api = &state.api;
    let client = api.activities();
    let caller = &signed.caller;
    let result = match form.target.as_str() {
        "publish" => {
            let mut client = client;
            client
                .publish_activity(api.request(caller, PublishActivityRequest { name }))
                .await
                .map(drop)
        }
        "start" => {
            let mut client = client;
            client
                .start_activity(api.request(caller, StartActivityRequest { name }))
                .await
                .map(drop)
        }
        "complete" => {
            let mut client = client;
            client
                .complete_activity(api.request(caller, CompleteActivityRequest { name }))
                .await
                .map(drop)
        }
        "cancel" => {
            let mut client = client;
            client
                .cancel_activity(api.request(
                    caller,
                    CancelActivityRequest {
                        name,
                        reason: form.reason.chars().take(500).collect(),
                    },
                ))
                .await
                .map(drop)
        }
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/activities/{id}")).into_response(),
        Err(status) => activity_page(&state, &signed, &id, status.into()).await,
    }
}

/// `POST /activities/{id}/signups/{sign_up}`: approve or reject.
pub(crate) async fn decide_sign_up(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, sign_up)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) || !valid_id(&sign_up) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = format!("activities/{id}/signUps/{sign_up}");
    let api = &state.api;
    let result = match form.decision.as_str() {
        "approve" => api
            .sign_ups()
            .approve_sign_up(api.request(
                &signed.caller,
                ApproveSignUpRequest {
                    name,
                    comment: String::new(),
                },
            ))
            .await
            .map(drop),
        "reject" => api
            .sign_ups()
            .reject_sign_up(api.request(
                &signed.caller,
                RejectSignUpRequest {
                    name,
                    comment: String::new(),
                },
            ))
            .await
            .map(drop),
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(()) => Redirect::to(&format!("/activities/{id}")).into_response(),
        Err(status) => activity_page(&state, &signed, &id, status.into()).await,
    }
}

#[derive(Template)]
#[template(path = "check_in_code.html")]
struct CodePage {
    layout: Layout,
    activity: ActivityView,
    digits: Digits,
}

#[derive(Template)]
#[template(path = "check_in_digits.html")]
struct Digits {
    id: String,
    code: String,
    expires: String,
    failure: String,
}

async fn digits(state: &AppState, signed: &Signed, id: &str) -> Digits {
    let api = &state.api;
    let answer = api
        .attendance()
        .get_check_in_code(api.request(
            &signed.caller,
            GetCheckInCodeRequest {
                activity: format!("activities/{id}"),
            },
        ))
        .await;
    match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            Digits {
                id: id.to_string(),
                code: answer.code,
                expires: labels::china_time(answer.expire_time.as_ref()),
                failure: String::new(),
            }
        }
        Err(status) => Digits {
            id: id.to_string(),
            code: String::new(),
            expires: String::new(),
            failure: Failure::from(status).message,
        },
    }
}

/// `GET /activities/{id}/code`: the current check-in code in large digits; the digits
/// refresh themselves (htmx) well within each minute's code.
pub(crate) async fn code(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let activity = match get_activity(&state, &signed, &id).await {
        Ok(activity) => activity,
        Err(failure) => return error_page(&failure, Some(&signed)),
    };
    let digits = digits(&state, &signed, &id).await;
    render(&CodePage {
        layout: signed.layout("签到码", "activities"),
        activity: ActivityView::from_activity(&activity),
        digits,
    })
}

/// `GET /activities/{id}/code/digits`: the digits alone, for the screen's refresh.
pub(crate) async fn code_digits(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let digits = digits(&state, &signed, &id).await;
    if headers.contains_key("hx-request") {
        return render(&digits);
    }
    Redirect::to(&format!("/activities/{id}/code")).into_response()
}
