//! 志愿者报名: a woman registers herself through her team's link (`/join/{team}`), with no
//! sign-in. Her check digit, whether her document is already registered and whether her
//! username is taken are checked as she types (a dry run of the registration) and again
//! when she submits; then she is signed in, and her join application waits for the team.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::gateway::v1::RegisterVolunteerRequest;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};

use super::auth::{check_pre_session_csrf, pre_session_csrf, with_cookie};
use super::volunteers::NewVolunteer;
use super::{Layout, render, render_refused, session_cookie, set_cookie, valid_id};
use crate::AppState;
use crate::api::{Caller, Failure};
use crate::labels;
use crate::session::Flash;

/// The fields the form shows a message beside, by the request's field paths.
const FIELDS: [(&str, &str, &str); 9] = [
    ("username", "username", "用户名"),
    ("password", "password", "密码"),
    ("volunteer.display_name", "display_name", "姓名"),
    ("volunteer.id_type", "id_type", "证件类型"),
    ("volunteer.id_number", "id_number", "证件号码"),
    ("volunteer.birth_date", "birth_date", "出生日期"),
    ("volunteer.gender", "gender", "性别"),
    ("volunteer.phone", "phone", "手机"),
    ("volunteer.email", "email", "电子邮箱"),
];

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    layout: Layout,
    team: String,
    form: NewVolunteer,
    id_types: Vec<(i32, &'static str)>,
    failure: Failure,
}

impl JoinPage {
    fn summary(&self) -> String {
        let shown: Vec<&str> = FIELDS.iter().map(|(path, _, _)| *path).collect();
        let mut shown = shown;
        shown.extend(["confirm_password", "volunteer.skills"]);
        self.failure.summary(&shown)
    }
}

fn join_page(csrf: &str, team: &str, form: NewVolunteer, failure: Failure) -> Response {
    let refused = failure.code.is_some();
    render_refused(
        &JoinPage {
            layout: Layout::public("志愿者报名", csrf),
            team: team.to_string(),
            form,
            id_types: labels::ID_TYPES
                .iter()
                .map(|(id_type, label)| (*id_type as i32, *label))
                .collect(),
            failure,
        },
        refused,
    )
}

/// `GET /join/{team}`: the registration form for the team's link.
pub(crate) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(team): Path<String>,
) -> Response {
    if !valid_id(&team) {
        return super::error_page(&Failure::not_found("报名链接无效。"), None);
    }
    let (csrf, set) = pre_session_csrf(&state, &headers);
    let form = NewVolunteer {
        id_type: egret_proto::registry::v1::IdType::ResidentId as i32,
        ..NewVolunteer::default()
    };
    with_cookie(join_page(&csrf, &team, form, Failure::default()), set)
}

fn anonymous(parts: &Parts) -> Caller {
    Caller {
        access_token: None,
        peer: super::peer(parts),
    }
}

fn registration(
    team: &str,
    form: &NewVolunteer,
    validate_only: bool,
) -> Result<RegisterVolunteerRequest, Failure> {
    Ok(RegisterVolunteerRequest {
        username: form.username.trim().chars().take(256).collect(),
        password: form.password.chars().take(256).collect(),
        volunteer: Some(form.volunteer()?),
        team: format!("orgUnits/{team}"),
        validate_only,
    })
}

/// One line of the live check.
struct CheckLine {
    ok: bool,
    text: String,
}

#[derive(Template)]
#[template(path = "join_check.html")]
struct CheckFragment {
    lines: Vec<CheckLine>,
}

/// `POST /join/{team}/check` (htmx, as she types): the dry run's findings for the fields
/// she has filled in, and which of her document and username are free.
pub(crate) async fn check(
    State(state): State<AppState>,
    parts: Parts,
    Path(team): Path<String>,
    Form(form): Form<NewVolunteer>,
) -> Response {
    if let Err(refused) = check_pre_session_csrf(&state, &parts.headers, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&team) {
        return (StatusCode::NOT_FOUND, "报名链接无效。").into_response();
    }
    let filled = |name: &str| match name {
        "username" => !form.username.trim().is_empty(),
        "password" => !form.password.is_empty(),
        "display_name" => !form.display_name.trim().is_empty(),
        "id_number" => !form.id_number.trim().is_empty(),
        "birth_date" => !form.birth_date.is_empty(),
        "phone" => !form.phone.trim().is_empty(),
        "email" => !form.email.trim().is_empty(),
        "id_type" | "gender" => !form.id_number.trim().is_empty(),
        _ => false,
    };
    let failure = match registration(&team, &form, true) {
        Err(failure) => failure,
        Ok(request) => {
            let api = &state.api;
            match api
                .auth()
                .register_volunteer(api.request(&anonymous(&parts), request))
                .await
            {
                Ok(_) => Failure::default(),
                Err(status) => Failure::from(status),
            }
        }
    };
    let mut lines = Vec::new();
    if failure.code.is_some() && failure.fields.is_empty() {
        lines.push(CheckLine {
            ok: false,
            text: failure.message.clone(),
        });
    }
    for (path, name, label) in FIELDS {
        if !filled(name) {
            continue;
        }
        if let Some(message) = failure.for_field(path) {
            lines.push(CheckLine {
                ok: false,
                text: format!("{label}：{message}"),
            });
        } else if path == "volunteer.id_number"
            && failure.code != Some(tonic::Code::ResourceExhausted)
        {
            lines.push(CheckLine {
                ok: true,
                text: "证件号码格式正确，尚未登记。".to_string(),
            });
        } else if path == "username" && failure.code != Some(tonic::Code::ResourceExhausted) {
            lines.push(CheckLine {
                ok: true,
                text: "用户名可以使用。".to_string(),
            });
        }
    }
    render(&CheckFragment { lines })
}

/// `POST /join/{team}`: registers her, signs her in and sends her to her own page.
pub(crate) async fn register(
    State(state): State<AppState>,
    parts: Parts,
    Path(team): Path<String>,
    Form(form): Form<NewVolunteer>,
) -> Response {
    if let Err(refused) = check_pre_session_csrf(&state, &parts.headers, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&team) {
        return super::error_page(&Failure::not_found("报名链接无效。"), None);
    }
    let csrf = form.csrf.clone();
    if form.password != form.confirm_password {
        let failure = Failure::field("confirm_password", "两次输入的密码不一致。");
        return join_page(&csrf, &team, form, failure);
    }
    let request = match registration(&team, &form, false) {
        Ok(request) => request,
        Err(failure) => return join_page(&csrf, &team, form, failure),
    };
    let api = &state.api;
    let registered = api
        .auth()
        .register_volunteer(api.request(&anonymous(&parts), request))
        .await;
    let registered = match registered {
        Ok(registered) => registered.into_inner(),
        Err(status) => return join_page(&csrf, &team, form, status.into()),
    };
    let tokens = registered.session.unwrap_or_default();
    let session = state.sessions.create(&tokens);
    session.set_flash(Flash {
        notice: "注册成功。入队申请已提交，等待队伍审核。".to_string(),
        ..Flash::default()
    });
    tracing::info!("console self-registration");
    let mut response = Redirect::to("/me").into_response();
    let cookie = set_cookie(&state, session_cookie(&state), session.id(), None);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
