//! A volunteer's own pages (我的): her record, hours and sign-ups, the activities open to
//! sign up for, and checking in and out with the leader's code on her phone.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    ActivityState, CheckInRequest, CheckOutRequest, CreateSignUpRequest, ListActivitiesRequest,
    ListSignUpsRequest, SignUp,
};
use egret_proto::registry::v1::GetVolunteerRequest;
use http::StatusCode;
use serde::Deserialize;

use super::activities::{ActivityView, get_activity};
use super::{Layout, Signed, check_csrf, error_page, render, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;
use crate::session::Flash;

/// Activities open for sign-up shown at once.
const OPEN_SHOWN: i32 = 50;
/// Her sign-ups shown at once.
const SIGN_UPS_SHOWN: i32 = 50;

/// One of her sign-ups.
struct MySignUp {
    activity_id: String,
    activity: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "mine.html")]
struct MinePage {
    layout: Layout,
    display_name: String,
    number: String,
    phone: String,
    hours: String,
    minutes: i64,
    records: i64,
    sign_ups: Vec<MySignUp>,
    open: Vec<ActivityView>,
    id: String,
    certificates: Vec<super::certificates::CertificateRow>,
    certificates_failure: String,
    request_id: String,
    can_reveal: bool,
    failures: Vec<String>,
    standing: String,
    notice: String,
}

fn no_volunteer() -> Failure {
    Failure {
        code: Some(tonic::Code::PermissionDenied),
        message: "此账户没有关联志愿者。".to_string(),
        ..Failure::default()
    }
}

/// `GET /me`.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let volunteer = signed.session.person.volunteer.clone();
    if volunteer.is_empty() {
        return error_page(&no_volunteer(), Some(&signed));
    }
    let api = &state.api;
    let caller = &signed.caller;
    let flash = signed.session.take_flash();
    let mut failures = flash.failures;
    let record = api
        .volunteers()
        .get_volunteer(api.request(
            caller,
            GetVolunteerRequest {
                name: volunteer.clone(),
                reveal_personal_data: false,
            },
        ))
        .await
        .map(|answer| answer.into_inner().volunteer.unwrap_or_default());
    let record = match record {
        Ok(record) => record,
        Err(status) => return error_page(&status.into(), Some(&signed)),
    };
    let sign_ups = api
        .sign_ups()
        .list_sign_ups(api.request(
            caller,
            ListSignUpsRequest {
                parent: "activities/-".to_string(),
                volunteer: volunteer.clone(),
                page_size: SIGN_UPS_SHOWN,
                ..ListSignUpsRequest::default()
            },
        ))
        .await
        .map(|listed| listed.into_inner().sign_ups);
    let sign_ups: Vec<SignUp> = match sign_ups {
        Ok(sign_ups) => sign_ups,
        Err(status) => {
            failures.push(Failure::from(status).message);
            Vec::new()
        }
    };
    let mut mine = Vec::new();
    for sign_up in &sign_ups {
        let activity_id = sign_up
            .name
            .strip_prefix("activities/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default()
            .to_string();
        let activity = get_activity(&state, &signed, &activity_id)
            .await
            .map(|activity| activity.display_name)
            .unwrap_or_default();
        mine.push(MySignUp {
            activity_id,
            activity,
            state: labels::sign_up_state(sign_up.state),
        });
    }
    let open = api
        .activities()
        .list_activities(api.request(
            caller,
            ListActivitiesRequest {
                state: ActivityState::Published as i32,
                page_size: OPEN_SHOWN,
                ..ListActivitiesRequest::default()
            },
        ))
        .await;
    let open = match open {
        Ok(open) => open
            .into_inner()
            .activities
            .iter()
            .map(ActivityView::from_activity)
            .collect(),
        Err(status) => {
            failures.push(Failure::from(status).message);
            Vec::new()
        }
    };
    let (certificates, certificates_failure) =
        match super::certificates::of_volunteer(&state, caller, &volunteer).await {
            Ok(rows) => (rows, String::new()),
            Err(failure) => (Vec::new(), failure.message),
        };
    // Her hours come from the standing's one read; the page shows them above it.
    let mut standing = super::standing::standing(&state, &signed, &volunteer).await;
    standing.show_hours = false;
    let (minutes, records) = (standing.minutes, standing.records);
    let standing = standing.render().unwrap_or_default();
    render(&MinePage {
        layout: signed.layout("我的", "mine"),
        notice: flash.notice,
        standing,
        id: super::id_of(&volunteer).to_string(),
        certificates,
        certificates_failure,
        request_id: uuid::Uuid::new_v4().to_string(),
        can_reveal: false,
        display_name: record.display_name,
        number: record.volunteer_number,
        phone: record.phone,
        hours: labels::hours(minutes),
        minutes,
        records,
        sign_ups: mine,
        open,
        failures,
    })
}

#[derive(Template)]
#[template(path = "my_activity.html")]
struct MyActivityPage {
    layout: Layout,
    activity: ActivityView,
    signed_up: String,
    notice: String,
    failure: Failure,
}

impl MyActivityPage {
    fn code_error(&self) -> &str {
        self.failure.for_field("code").unwrap_or("")
    }
}

async fn activity_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    notice: &str,
    failure: Failure,
) -> Response {
    let activity = match get_activity(state, signed, id).await {
        Ok(activity) => activity,
        Err(failure) => return error_page(&failure, Some(signed)),
    };
    let api = &state.api;
    let signed_up = api
        .sign_ups()
        .list_sign_ups(api.request(
            &signed.caller,
            ListSignUpsRequest {
                parent: activity.name.clone(),
                volunteer: signed.session.person.volunteer.clone(),
                page_size: 5,
                ..ListSignUpsRequest::default()
            },
        ))
        .await
        .ok()
        .and_then(|listed| listed.into_inner().sign_ups.into_iter().next())
        .map(|sign_up| labels::sign_up_state(sign_up.state).to_string())
        .unwrap_or_default();
    let bad = failure.code.is_some();
    render_refused(
        &MyActivityPage {
            layout: signed.layout(&activity.display_name, "mine"),
            activity: ActivityView::from_activity(&activity),
            signed_up,
            notice: notice.to_string(),
            failure,
        },
        bad,
    )
}

/// `GET /me/activities/{id}`.
pub(crate) async fn activity(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let notice = signed.session.take_flash().notice;
    activity_page(&state, &signed, &id, &notice, Failure::default()).await
}

/// Her sign-up, check-in or check-out.
#[derive(Deserialize)]
pub(crate) struct AttendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    code: String,
}

/// `POST /me/activities/{id}/{action}`: `signup`, `checkin` or `checkout`.
pub(crate) async fn attend(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<AttendForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let volunteer = signed.session.person.volunteer.clone();
    if volunteer.is_empty() {
        return error_page(&no_volunteer(), Some(&signed));
    }
    if !valid_id(&id) {
        return error_page(&Failure::not_found("未找到该活动。"), Some(&signed));
    }
    let activity = format!("activities/{id}");
    let api = &state.api;
    let caller = &signed.caller;
    let (result, notice) = match action.as_str() {
        "signup" => (
            api.sign_ups()
                .create_sign_up(api.request(
                    caller,
                    CreateSignUpRequest {
                        parent: activity,
                        sign_up: Some(SignUp {
                            volunteer,
                            position_id: form.position.chars().take(64).collect(),
                            ..SignUp::default()
                        }),
                        request_id: String::new(),
                    },
                ))
                .await
                .map(drop),
            "报名已提交。",
        ),
        "checkin" => (
            api.attendance()
                .check_in(api.request(
                    caller,
                    CheckInRequest {
                        activity,
                        volunteer,
                        code: form.code.trim().chars().take(16).collect(),
                        position: None,
                    },
                ))
                .await
                .map(drop),
            "签到成功。",
        ),
        "checkout" => (
            api.attendance()
                .check_out(api.request(
                    caller,
                    CheckOutRequest {
                        activity,
                        volunteer,
                    },
                ))
                .await
                .map(drop),
            "签退成功。",
        ),
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(()) => {
            signed.session.set_flash(Flash {
                notice: notice.to_string(),
                ..Flash::default()
            });
            Redirect::to(&format!("/me/activities/{id}")).into_response()
        }
        Err(status) => activity_page(&state, &signed, &id, "", status.into()).await,
    }
}
