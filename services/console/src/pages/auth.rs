//! 登录, 修改密码, 退出.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::gateway::v1::{ChangePasswordRequest, SignInRequest, SignOutRequest};
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use serde::Deserialize;

use super::{Layout, Signed, check_csrf, cookie, csrf_cookie, render, session_cookie, set_cookie};
use crate::AppState;
use crate::api::{Caller, Failure};
use crate::session::{random_token, same_token};

/// The longest username or password a form passes on; the gateway bounds them too.
const MAX_CREDENTIAL_CHARS: usize = 256;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    layout: Layout,
    username: String,
    notice: String,
    failure: Failure,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    username: String,
    notice: String,
    failure: Failure,
}

impl PasswordPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "username",
            "current_password",
            "new_password",
            "confirm_password",
        ])
    }
}

/// The pre-sign-in CSRF token: the cookie's, or a new one to set.
pub(super) fn pre_session_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, csrf_cookie(state)).filter(|token| token.len() == 43) {
        Some(token) => (token.to_string(), None),
        None => {
            let token = random_token();
            let set = set_cookie(state, csrf_cookie(state), &token, None);
            (token, Some(set))
        }
    }
}

pub(super) fn with_cookie(mut response: Response, set: Option<String>) -> Response {
    if let Some(set) = set
        && let Ok(value) = set.parse()
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /signin`.
pub(crate) async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, set) = pre_session_csrf(&state, &headers);
    let page = SignInPage {
        layout: Layout::public("登录", &csrf),
        username: String::new(),
        notice: String::new(),
        failure: Failure::default(),
    };
    with_cookie(render(&page), set)
}

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Refuses a signed-out form whose token is not its cookie's.
pub(super) fn check_pre_session_csrf(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), super::StaleForm> {
    match cookie(headers, csrf_cookie(state)) {
        Some(expected) if same_token(expected, token) => Ok(()),
        _ => Err(super::StaleForm),
    }
}

fn anonymous(parts: &Parts) -> Caller {
    Caller {
        access_token: None,
        peer: super::peer(parts),
    }
}

/// `POST /signin`.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Err(refused) = check_pre_session_csrf(&state, &parts.headers, &form.csrf) {
        return refused.into_response();
    }
    let username = bounded(form.username.trim());
    let result = sign_in_as(&state, &anonymous(&parts), &username, &form.password).await;
    match result {
        Ok(response) => response,
        Err(failure) if failure.code == Some(tonic::Code::FailedPrecondition) => {
            render(&PasswordPage {
                layout: Layout::public("修改密码", &form.csrf),
                username,
                notice: "首次登录或密码已被重置：请先设置新密码。".to_string(),
                failure: Failure::default(),
            })
        }
        Err(failure) => {
            let mut response = render(&SignInPage {
                layout: Layout::public("登录", &form.csrf),
                username,
                notice: String::new(),
                failure,
            });
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_CREDENTIAL_CHARS).collect()
}

/// Signs in, holds the session and answers a redirect to the home page with its cookie.
async fn sign_in_as(
    state: &AppState,
    caller: &Caller,
    username: &str,
    password: &str,
) -> Result<Response, Failure> {
    let request = SignInRequest {
        username: username.to_string(),
        password: bounded(password),
    };
    let tokens = state
        .api
        .auth()
        .sign_in(state.api.request(caller, request))
        .await?
        .into_inner()
        .session
        .unwrap_or_default();
    let session = state.sessions.create(&tokens);
    tracing::info!("console sign-in");
    let mut response = Redirect::to("/").into_response();
    let cookie = set_cookie(state, session_cookie(state), session.id(), None);
    if let Ok(value) = cookie.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /password`.
pub(crate) async fn password_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (csrf, set) = pre_session_csrf(&state, &headers);
    let username = cookie(&headers, session_cookie(&state))
        .and_then(|id| state.sessions.get(id))
        .map(|session| session.person.username.clone())
        .unwrap_or_default();
    let page = PasswordPage {
        layout: Layout::public("修改密码", &csrf),
        username,
        notice: String::new(),
        failure: Failure::default(),
    };
    with_cookie(render(&page), set)
}

/// The change-password form.
#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /password`: changes the password, then signs in with the new one.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Err(refused) = check_pre_session_csrf(&state, &parts.headers, &form.csrf) {
        return refused.into_response();
    }
    let username = bounded(form.username.trim());
    let page = |failure: Failure| {
        let mut response = render(&PasswordPage {
            layout: Layout::public("修改密码", &form.csrf),
            username: username.clone(),
            notice: String::new(),
            failure,
        });
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response
    };
    if form.new_password != form.confirm_password {
        return page(Failure::field(
            "confirm_password",
            "两次输入的新密码不一致。",
        ));
    }
    let caller = anonymous(&parts);
    let request = ChangePasswordRequest {
        username: username.clone(),
        current_password: bounded(&form.current_password),
        new_password: bounded(&form.new_password),
    };
    if let Err(status) = state
        .api
        .auth()
        .change_password(state.api.request(&caller, request))
        .await
    {
        return page(status.into());
    }
    // Every sign-in of the account ended with the change: this browser's too.
    if let Some(id) = cookie(&parts.headers, session_cookie(&state)) {
        state.sessions.remove(id);
    }
    match sign_in_as(&state, &caller, &username, &form.new_password).await {
        Ok(response) => response,
        Err(failure) => page(failure),
    }
}

/// The sign-out form.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /signout`: ends the sign-in at the gateway and here.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let request = SignOutRequest {
        refresh_token: signed.session.refresh_token().await,
    };
    if let Err(status) = state
        .api
        .auth()
        .sign_out(state.api.request(&signed.caller, request))
        .await
    {
        tracing::warn!(code = ?status.code(), "sign-out at the gateway failed");
    }
    state.sessions.remove(signed.session.id());
    let mut response = Redirect::to("/signin").into_response();
    let cleared = set_cookie(&state, session_cookie(&state), "", Some(0));
    if let Ok(value) = cleared.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
