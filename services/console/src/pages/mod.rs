//! The pages: routes, the signed-in extractor, and what every page's layout needs.

mod accounts;
mod activities;
mod annual;
mod auth;
mod certificates;
mod exports;
mod home;
mod honours;
mod insurance;
mod join;
mod mine;
mod org;
mod points;
mod projects;
mod review;
mod sorting;
mod standing;
mod statistics;
mod sync;
mod training;
mod volunteers;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use egret_proto::gateway::v1::AccountRole;
use http::request::Parts;
use http::{HeaderMap, StatusCode, header};
use tonic::transport::server::TcpConnectInfo;

use crate::AppState;
use crate::api::{Caller, Failure};
use crate::session::{Session, same_token};

/// The largest form a page accepts.
const FORM_BYTES: usize = 64 * 1024;

/// Every route of the console.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(home::show))
        .route("/signin", get(auth::sign_in_page).post(auth::sign_in))
        .route(
            "/password",
            get(auth::password_page).post(auth::change_password),
        )
        .route("/signout", post(auth::sign_out))
        .route("/join/{team}", get(join::form).post(join::register))
        .route("/join/{team}/check", post(join::check))
        .route("/org", get(org::own))
        .route("/org/{id}", get(org::show))
        .route("/org/{id}/children", post(org::create_child))
        .route("/org/{id}/form", get(org::edit_form).post(org::update_form))
        .route("/org/{id}/history", get(org::show_history))
        .route("/org/{id}/print", get(org::print))
        .route("/org/{id}/status", post(org::change_status))
        .route(
            "/org/{id}/applications/{application}",
            post(org::decide_application),
        )
        .route(
            "/volunteers",
            get(volunteers::list).post(volunteers::create),
        )
        .route("/volunteers/search", post(volunteers::search))
        .route("/volunteers/lookup", post(volunteers::lookup))
        .route("/volunteers/new", get(volunteers::new_form))
        .route("/volunteers/{id}", get(volunteers::show))
        .route("/volunteers/{id}/reveal", post(volunteers::reveal))
        .route("/volunteers/{id}/stars", post(standing::nominate))
        .route(
            "/activities",
            get(activities::list).post(activities::create),
        )
        .route("/activities/new", get(activities::new_form))
        .route("/activities/{id}", get(activities::show))
        .route("/activities/{id}/state", post(activities::change_state))
        .route(
            "/activities/{id}/signups/{sign_up}",
            post(activities::decide_sign_up),
        )
        .route(
            "/activities/{id}/back-entries",
            post(activities::create_back_entry),
        )
        .route("/activities/{id}/code", get(activities::code))
        .route("/activities/{id}/code/digits", get(activities::code_digits))
        .route("/me", get(mine::show))
        .route("/me/activities/{id}", get(mine::activity))
        .route("/me/activities/{id}/{action}", post(mine::attend))
        .route("/projects", get(projects::list).post(projects::create))
        .route("/projects/{id}/{action}", post(projects::act))
        .route("/training", get(training::list).post(training::create))
        .route("/training/{id}", get(training::show))
        .route("/training/{id}/sessions", post(training::record_session))
        .route("/insurance", get(insurance::list).post(insurance::create))
        .route("/insurance/{id}/cancel", post(insurance::cancel))
        .route("/honours", get(honours::list).post(honours::create))
        .route(
            "/honours/nominate",
            get(honours::nominate_form).post(honours::nominate),
        )
        .route("/commendations/{id}", get(honours::show))
        .route("/commendations/{id}/{action}", post(honours::act))
        .route("/points", get(points::show))
        .route("/points/benefits", post(points::create_benefit))
        .route("/points/redeem", post(points::redeem))
        .route("/points/redemptions/{id}/{action}", post(points::act))
        .route("/statistics", get(statistics::show))
        .route("/statistics/chart.svg", get(statistics::chart))
        .route("/statistics/{file}", get(statistics::export))
        .route("/exports", get(exports::show).post(exports::start))
        .route("/exports/{id}", get(exports::job))
        .route("/exports/{id}/progress", get(exports::progress))
        .route("/exports/{id}/file", get(exports::file))
        .route("/review", get(review::show))
        .route("/review/records", post(review::decide_records))
        .route("/review/stars/{id}/{action}", post(review::decide_star))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/new", get(accounts::new_form))
        .route("/accounts/{id}/{action}", post(accounts::act))
        .route("/sync", get(sync::show))
        .route("/annual", get(annual::show).post(annual::open))
        .route(
            "/annual/{year}/{team}",
            get(annual::report).post(annual::act),
        )
        .route("/certificates", post(certificates::issue))
        .route("/certificates/{id}", get(certificates::show))
        .route("/certificates/{id}/page.svg", get(certificates::page))
        .route("/certificates/{id}/revoke", post(certificates::revoke))
        .route(
            "/verify",
            get(certificates::verify_page).post(certificates::verify),
        )
        .route("/assets/{*path}", get(crate::assets::serve))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(FORM_BYTES))
        .layer(axum::middleware::from_fn(crate::security::guard))
        .with_state(state)
}

/// The session cookie's name: `__Host-` when cookies are `Secure`, so no other path or
/// subdomain can set it.
fn session_cookie(state: &AppState) -> &'static str {
    if state.settings.secure_cookies {
        "__Host-egret_session"
    } else {
        "egret_session"
    }
}

/// The pre-sign-in CSRF cookie (double submit).
fn csrf_cookie(state: &AppState) -> &'static str {
    if state.settings.secure_cookies {
        "__Host-egret_csrf"
    } else {
        "egret_csrf"
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure behind TLS.
fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(max_age) = max_age {
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    if state.settings.secure_cookies {
        cookie.push_str("; Secure");
    }
    cookie
}

/// The value of cookie `name` in `headers`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The browser's address, as the listener saw it.
fn peer(parts: &Parts) -> Option<std::net::SocketAddr> {
    parts
        .extensions
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
}

/// A signed-in person: her session and a caller with a current token. A request without
/// one is sent to the sign-in page.
pub(crate) struct Signed {
    session: Arc<Session>,
    caller: Caller,
}

impl Signed {
    fn layout(&self, title: &str, section: &'static str) -> Layout {
        Layout::signed(title, section, &self.session)
    }
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let is_htmx = parts.headers.contains_key("hx-request");
        let Some(session) =
            cookie(&parts.headers, session_cookie(state)).and_then(|id| state.sessions.get(id))
        else {
            return Err(to_sign_in(is_htmx));
        };
        match session.caller(&state.api, peer(parts)).await {
            Ok(caller) => Ok(Self { session, caller }),
            Err(failure) if failure.is_unauthenticated() => {
                state.sessions.remove(session.id());
                Err(to_sign_in(is_htmx))
            }
            Err(failure) => Err(error_page(&failure, None)),
        }
    }
}

fn to_sign_in(is_htmx: bool) -> Response {
    if is_htmx {
        return (StatusCode::OK, [("hx-redirect", "/signin")]).into_response();
    }
    Redirect::to("/signin").into_response()
}

/// A form whose CSRF token is missing or not this session's (or cookie's): refused.
pub(crate) struct StaleForm;

impl IntoResponse for StaleForm {
    fn into_response(self) -> Response {
        (StatusCode::FORBIDDEN, "表单已过期，请刷新页面后重试。").into_response()
    }
}

/// Checks a form's CSRF token against the session's.
fn check_csrf(session: &Session, token: &str) -> Result<(), StaleForm> {
    if same_token(&session.csrf, token) {
        return Ok(());
    }
    Err(StaleForm)
}

/// A decision on something waiting (a join application, a sign-up): `approve` or
/// `reject`.
#[derive(serde::Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub decision: String,
}

/// A menu entry.
pub(crate) struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub section: &'static str,
}

/// What the frame of every page shows.
pub(crate) struct Layout {
    pub title: String,
    pub section: &'static str,
    pub csrf: String,
    pub person_name: String,
    pub person_roles: String,
    pub nav: Vec<NavItem>,
    /// Whether the person manages records (admin or staff): what the page offers.
    pub is_staff: bool,
    /// Whether the person runs a team's work (staff, or a team leader).
    pub is_leader: bool,
}

impl Layout {
    /// The frame of a page for someone signed out.
    fn public(title: &str, csrf: &str) -> Self {
        Self {
            title: title.to_string(),
            section: "",
            csrf: csrf.to_string(),
            person_name: String::new(),
            person_roles: String::new(),
            nav: Vec::new(),
            is_staff: false,
            is_leader: false,
        }
    }

    fn signed(title: &str, section: &'static str, session: &Session) -> Self {
        let person = &session.person;
        let mut nav = vec![NavItem {
            href: "/",
            label: "首页",
            section: "home",
        }];
        let manages = person.is_staff()
            || person.has(AccountRole::TeamLeader)
            || person.has(AccountRole::Viewer);
        if manages {
            nav.push(NavItem {
                href: "/org",
                label: "组织架构",
                section: "org",
            });
            nav.push(NavItem {
                href: "/volunteers",
                label: "志愿者",
                section: "volunteers",
            });
            nav.push(NavItem {
                href: "/activities",
                label: "活动",
                section: "activities",
            });
            nav.push(NavItem {
                href: "/projects",
                label: "项目",
                section: "projects",
            });
            nav.push(NavItem {
                href: "/training",
                label: "培训",
                section: "training",
            });
            nav.push(NavItem {
                href: "/insurance",
                label: "保险",
                section: "insurance",
            });
            nav.push(NavItem {
                href: "/honours",
                label: "表彰",
                section: "honours",
            });
        }
        if manages || !person.volunteer.is_empty() {
            nav.push(NavItem {
                href: "/points",
                label: "积分",
                section: "points",
            });
        }
        if manages {
            nav.push(NavItem {
                href: "/statistics",
                label: "统计",
                section: "statistics",
            });
            // The roles the reporting service lets export; it decides, the menu only offers.
            nav.push(NavItem {
                href: "/exports",
                label: "导出",
                section: "exports",
            });
        }
        if manages {
            nav.push(NavItem {
                href: "/annual",
                label: "年报",
                section: "annual",
            });
        }
        if person.is_staff() || person.has(AccountRole::TeamLeader) {
            nav.push(NavItem {
                href: "/review",
                label: "审核",
                section: "review",
            });
        }
        if person.is_staff() || person.has(AccountRole::Viewer) {
            nav.push(NavItem {
                href: "/sync",
                label: "同步",
                section: "sync",
            });
        }
        if person.has(AccountRole::Admin) {
            nav.push(NavItem {
                href: "/accounts",
                label: "账户",
                section: "accounts",
            });
        }
        if !person.volunteer.is_empty() {
            nav.push(NavItem {
                href: "/me",
                label: "我的",
                section: "mine",
            });
        }
        Self {
            title: title.to_string(),
            section,
            csrf: session.csrf.clone(),
            person_name: if person.display_name.is_empty() {
                person.username.clone()
            } else {
                person.display_name.clone()
            },
            person_roles: person
                .roles
                .iter()
                .map(|role| crate::labels::role(*role))
                .collect::<Vec<_>>()
                .join("、"),
            nav,
            is_staff: person.is_staff(),
            is_leader: person.is_staff() || person.has(AccountRole::TeamLeader),
        }
    }

    /// Whether a person is signed in on this page.
    pub fn signed_in(&self) -> bool {
        !self.person_name.is_empty()
    }
}

/// Renders `template`, or an error page when it cannot be rendered.
fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page could not be rendered");
            (StatusCode::INTERNAL_SERVER_ERROR, "页面生成失败。").into_response()
        }
    }
}

/// Renders a page that answers a form: 400 Bad Request when the form was refused.
fn render_refused(template: &impl Template, refused: bool) -> Response {
    let mut response = render(template);
    if refused {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    message: String,
}

/// A page that says why a call failed; with the person's frame when she is signed in.
fn error_page(failure: &Failure, signed: Option<&Signed>) -> Response {
    let status = match failure.code {
        Some(tonic::Code::NotFound) => StatusCode::NOT_FOUND,
        Some(tonic::Code::PermissionDenied) => StatusCode::FORBIDDEN,
        Some(tonic::Code::InvalidArgument) => StatusCode::BAD_REQUEST,
        Some(tonic::Code::Unavailable | tonic::Code::DeadlineExceeded) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let layout = signed.map_or_else(
        || Layout::public("出错了", ""),
        |signed| signed.layout("出错了", ""),
    );
    let mut response = render(&ErrorPage {
        layout,
        message: failure.message.clone(),
    });
    *response.status_mut() = status;
    response
}

async fn not_found(signed: Option<Signed>) -> Response {
    let failure = Failure::not_found("页面不存在。");
    error_page(&failure, signed.as_ref())
}

impl axum::extract::OptionalFromRequestParts<AppState> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// The id of a resource name (`orgUnits/{id}` → `{id}`).
fn id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Whether a path segment can be an id: letters, digits and `-`, bounded, so nothing
/// else is ever put into a resource name.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A posted form read as its pairs: for forms with repeated fields (checkboxes) or many
/// optional ones.
#[derive(serde::Deserialize, Default)]
#[serde(transparent)]
pub(crate) struct Posted(Vec<(String, String)>);

impl Posted {
    /// The first value of `key`, trimmed; empty when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(name, _)| name == key)
            .map_or("", |(_, value)| value.trim())
    }

    /// Whether nothing was posted: a form shown for the first time.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every value of `key`, at most `max`.
    pub fn all(&self, key: &str, max: usize) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(name, _)| name == key)
            .map(|(_, value)| value.trim())
            .take(max)
            .collect()
    }

    /// Refused unless the form carries the session's CSRF token.
    pub fn check(&self, session: &Session) -> Result<(), StaleForm> {
        check_csrf(session, self.get("csrf"))
    }

    /// `collection/{id}` for the id posted as `key`, or empty when it is no id.
    pub fn name(&self, key: &str, collection: &str) -> String {
        let id = self.get(key);
        if valid_id(id) {
            format!("{collection}/{id}")
        } else {
            String::new()
        }
    }

    /// The form's request id (see [`new_request_id`]), bounded.
    pub fn request_id(&self) -> String {
        self.get("request_id").chars().take(64).collect()
    }

    /// The request id to render into a form shown again: the posted one, so a form
    /// refused after part of it was done finishes that part when sent again.
    pub fn request_id_or_new(&self) -> String {
        let posted = self.request_id();
        if posted.is_empty() {
            return new_request_id();
        }
        posted
    }

    /// The date posted as `key` (`2026-12-07`): `Ok(None)` when empty, `Err` when
    /// malformed.
    pub fn date(&self, key: &str) -> Result<Option<egret_proto::common::v1::Date>, ()> {
        org::parse_date_input(self.get(key))
    }

    /// The value of `key` as a whole number; `None` when empty or not a number.
    pub fn number(&self, key: &str) -> Option<i64> {
        self.get(key).parse().ok()
    }
}

/// Ends a form that changes something (PRG): on success the next page shows `notice`; on
/// failure it shows the failure's message. Either way the browser is sent to `back`.
fn after_action<T>(
    signed: &Signed,
    result: Result<T, tonic::Status>,
    notice: &str,
    back: &str,
) -> Response {
    let flash = match result {
        Ok(_) => crate::session::Flash {
            notice: notice.to_string(),
            ..crate::session::Flash::default()
        },
        Err(status) => crate::session::Flash {
            failures: vec![Failure::from(status).message],
            ..crate::session::Flash::default()
        },
    };
    signed.session.set_flash(flash);
    Redirect::to(back).into_response()
}

/// The answer of a read a page shows, or (when it failed) the default, with the failure's
/// message noted for the top of the page: one part of a page failing leaves the rest.
fn noted<T: Default>(result: Result<T, tonic::Status>, failures: &mut Vec<String>) -> T {
    result.unwrap_or_else(|status| {
        failures.push(Failure::from(status).message);
        T::default()
    })
}

/// A request id for a form that creates something, rendered into the form: sending the
/// same form twice creates one record.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
