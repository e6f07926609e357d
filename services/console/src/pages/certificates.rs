//! 证书: a volunteer's service certificates (志愿服务证明), issued for a period, revoked
//! by staff, printed as the A4 page the recognition service draws (with a QR code of this
//! instance's verification address); and 证书验证, public, which finds a certificate by its
//! serial number and verification code (as the QR code gives them), or checks its printed
//! text and signature, and shows only what it certifies.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::recognition::v1::{
    Certificate, CertificateState, GetCertificateRequest, IssueCertificateRequest,
    ListCertificatesRequest, LookupCertificateRequest, RenderCertificateRequest,
    RevokeCertificateRequest, VerifyCertificateRequest,
};
use http::request::Parts;
use http::{StatusCode, header};
use serde::Deserialize;

use super::{Layout, Signed, check_csrf, error_page, id_of, render, render_refused, valid_id};
use crate::AppState;
use crate::api::{Caller, Failure};
use crate::labels;

/// Certificates listed for one volunteer.
const CERTIFICATES_SHOWN: i32 = 100;
/// The longest printed text the verification form passes on.
const MAX_PAYLOAD_CHARS: usize = 8 * 1024;

/// A certificate as a list shows it.
pub(crate) struct CertificateRow {
    pub id: String,
    pub serial: String,
    pub period: String,
    pub hours: String,
    pub issuer: String,
    pub valid: bool,
}

impl CertificateRow {
    fn from_certificate(certificate: &Certificate) -> Self {
        Self {
            id: id_of(&certificate.name).to_string(),
            serial: certificate.serial_number.clone(),
            period: if certificate.activity_display_name.is_empty() {
                format!(
                    "{} 至 {}",
                    labels::date(certificate.period_start.as_ref()),
                    labels::date(certificate.period_end.as_ref())
                )
            } else {
                certificate.activity_display_name.clone()
            },
            hours: labels::hours(certificate.service_minutes),
            issuer: certificate.issuer_display_name.clone(),
            valid: certificate.state == CertificateState::Valid as i32,
        }
    }
}

/// The certificates of `volunteer` (`volunteers/{id}`), or the failure to list them.
pub(crate) async fn of_volunteer(
    state: &AppState,
    caller: &Caller,
    volunteer: &str,
) -> Result<Vec<CertificateRow>, Failure> {
    let api = &state.api;
    Ok(api
        .certificates()
        .list_certificates(api.request(
            caller,
            ListCertificatesRequest {
                volunteer: volunteer.to_string(),
                page_size: CERTIFICATES_SHOWN,
                page_token: String::new(),
            },
        ))
        .await?
        .into_inner()
        .certificates
        .iter()
        .map(CertificateRow::from_certificate)
        .collect())
}

/// The form that issues a certificate for a period.
#[derive(Deserialize, Default)]
pub(crate) struct IssueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    volunteer: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    period_start: String,
    #[serde(default)]
    period_end: String,
    #[serde(default)]
    person_in_charge: String,
    #[serde(default)]
    handler: String,
    #[serde(default)]
    handler_contact: String,
    #[serde(default)]
    back: String,
}

/// `POST /certificates`: issues a certificate, then shows it.
pub(crate) async fn issue(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<IssueForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&form.volunteer) {
        return error_page(
            &Failure::field("volunteer", "请选择志愿者。"),
            Some(&signed),
        );
    }
    let dates = (
        super::org::parse_date_input(form.period_start.trim()),
        super::org::parse_date_input(form.period_end.trim()),
    );
    let (Ok(period_start), Ok(period_end)) = dates else {
        return error_page(
            &Failure::field("period_start", "日期格式应为 年-月-日。"),
            Some(&signed),
        );
    };
    let api = &state.api;
    let issued = api
        .certificates()
        .issue_certificate(api.request(
            &signed.caller,
            IssueCertificateRequest {
                volunteer: format!("volunteers/{}", form.volunteer),
                period_start,
                period_end,
                person_in_charge: form.person_in_charge.chars().take(50).collect(),
                handler: form.handler.chars().take(50).collect(),
                handler_contact: form.handler_contact.chars().take(50).collect(),
                request_id: form.request_id.chars().take(64).collect(),
                ..IssueCertificateRequest::default()
            },
        ))
        .await;
    match issued {
        Ok(issued) => {
            let certificate = issued.into_inner().certificate.unwrap_or_default();
            Redirect::to(&format!("/certificates/{}", id_of(&certificate.name))).into_response()
        }
        Err(status) => {
            let failure = Failure::from(status);
            let back = if form.back == "mine" {
                "/me".to_string()
            } else {
                format!("/volunteers/{}", form.volunteer)
            };
            let mut response = render(&IssueFailed {
                layout: signed.layout("开具证明", ""),
                failure,
                back,
            });
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

#[derive(Template)]
#[template(path = "certificate_failed.html")]
struct IssueFailed {
    layout: Layout,
    failure: Failure,
    back: String,
}

#[derive(Template)]
#[template(path = "certificate.html")]
struct CertificatePage {
    layout: Layout,
    row: CertificateRow,
    certificate: Certificate,
    can_revoke: bool,
    failure: Failure,
}

async fn certificate_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    failure: Failure,
) -> Response {
    if !valid_id(id) {
        return error_page(&not_found(), Some(signed));
    }
    let api = &state.api;
    let certificate = api
        .certificates()
        .get_certificate(api.request(
            &signed.caller,
            GetCertificateRequest {
                name: format!("certificates/{id}"),
            },
        ))
        .await;
    let certificate = match certificate {
        Ok(certificate) => certificate.into_inner().certificate.unwrap_or_default(),
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let bad = failure.code.is_some();
    render_refused(
        &CertificatePage {
            layout: signed.layout(&format!("证明 {}", certificate.serial_number), ""),
            row: CertificateRow::from_certificate(&certificate),
            can_revoke: signed.session.person.is_staff()
                && certificate.state == CertificateState::Valid as i32,
            certificate,
            failure,
        },
        bad,
    )
}

fn not_found() -> Failure {
    Failure::not_found("未找到该证明。")
}

/// `GET /certificates/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    certificate_page(&state, &signed, &id, Failure::default()).await
}

/// `GET /certificates/{id}/page.svg`: the A4 page to print or keep.
pub(crate) async fn page(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    headers: http::HeaderMap,
) -> Response {
    if !valid_id(&id) {
        return (StatusCode::NOT_FOUND, "未找到该证明。").into_response();
    }
    let api = &state.api;
    let rendered = api
        .certificates()
        .render_certificate(api.request(
            &signed.caller,
            RenderCertificateRequest {
                name: format!("certificates/{id}"),
                verification_url: verification_url(&state, &headers),
            },
        ))
        .await;
    match rendered {
        Ok(rendered) => {
            let rendered = rendered.into_inner();
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "image/svg+xml; charset=utf-8".to_string(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"certificate-{id}.svg\""),
                    ),
                ],
                rendered.content,
            )
                .into_response()
        }
        Err(status) => (StatusCode::BAD_REQUEST, Failure::from(status).message).into_response(),
    }
}

/// The public verification page's address on this instance, as the browser reached it,
/// for the QR code on the printed page; empty when the `Host` header is not a plain host.
fn verification_url(state: &AppState, headers: &http::HeaderMap) -> String {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 100
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
    else {
        return String::new();
    };
    let scheme = if state.settings.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}/verify")
}

/// The revocation form.
#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /certificates/{id}/revoke`.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<RevokeForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let api = &state.api;
    let revoked = api
        .certificates()
        .revoke_certificate(api.request(
            &signed.caller,
            RevokeCertificateRequest {
                name: format!("certificates/{id}"),
                reason: form.reason.chars().take(200).collect(),
            },
        ))
        .await;
    match revoked {
        Ok(_) => Redirect::to(&format!("/certificates/{id}")).into_response(),
        Err(status) => certificate_page(&state, &signed, &id, status.into()).await,
    }
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage {
    layout: Layout,
    serial: String,
    code: String,
    payload: String,
    signature: String,
    checked: bool,
    valid: bool,
    reason: String,
    facts: Vec<(String, String)>,
    failure: Failure,
}

/// The query of `/verify`: a certificate's serial number and verification code, as its
/// QR code or the form gives them.
#[derive(Deserialize, Default)]
pub(crate) struct LookupQuery {
    #[serde(default)]
    serial: String,
    #[serde(default)]
    code: String,
}

/// `GET /verify`: public; with `serial` and `code`, the certificate they name.
pub(crate) async fn verify_page(
    State(state): State<AppState>,
    parts: Parts,
    Query(query): Query<LookupQuery>,
) -> Response {
    let (csrf, set) = super::auth::pre_session_csrf(&state, &parts.headers);
    let mut page = VerifyPage {
        layout: Layout::public("证书验证", &csrf),
        serial: query.serial.trim().chars().take(40).collect(),
        code: query.code.trim().chars().take(40).collect(),
        payload: String::new(),
        signature: String::new(),
        checked: false,
        valid: false,
        reason: String::new(),
        facts: Vec::new(),
        failure: Failure::default(),
    };
    if !page.serial.is_empty() || !page.code.is_empty() {
        let caller = Caller {
            access_token: None,
            peer: super::peer(&parts),
        };
        let api = &state.api;
        let answer = api
            .certificates()
            .lookup_certificate(api.request(
                &caller,
                LookupCertificateRequest {
                    serial_number: page.serial.clone(),
                    verification_code: page.code.clone(),
                },
            ))
            .await;
        match answer {
            Ok(answer) => {
                let answer = answer.into_inner();
                page.checked = true;
                page.valid = answer.valid;
                page.reason = answer.reason;
                if answer.valid {
                    page.facts = printed_facts(&answer.signed_payload);
                }
            }
            // The same answer for a serial that does not exist and a wrong code.
            Err(status) if status.code() == tonic::Code::NotFound => {
                page.failure = Failure::not_found(
                    "未找到该编号与验证码对应的证明。请核对证明上的编号和验证码。",
                );
            }
            Err(status) => page.failure = status.into(),
        }
    }
    let refused = page.failure.code.is_some();
    let mut response = super::render_refused(&page, refused);
    if page.failure.code == Some(tonic::Code::NotFound) {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    super::auth::with_cookie(response, set)
}

/// The verification form.
#[derive(Deserialize)]
pub(crate) struct VerifyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    payload: String,
    #[serde(default)]
    signature: String,
}

/// The printed fields of a verified payload worth showing, in Chinese, in print order.
fn printed_facts(payload: &str) -> Vec<(String, String)> {
    const FIELDS: [(&str, &str); 11] = [
        ("serial_number", "证明编号"),
        ("volunteer_name", "姓名"),
        ("id_number_masked", "证件号码"),
        ("volunteer_number", "志愿者编号"),
        ("period_start", "服务起始日期"),
        ("period_end", "服务截止日期"),
        ("activity", "活动"),
        ("service_minutes", "服务时长（分钟）"),
        ("service_content", "服务内容"),
        ("issuer", "出具单位"),
        ("issue_date", "出具日期"),
    ];
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(payload)
    else {
        return Vec::new();
    };
    FIELDS
        .iter()
        .filter_map(|(key, label)| {
            let value = fields.get(*key)?;
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => return None,
                other => other.to_string(),
            };
            (!text.is_empty()).then(|| ((*label).to_string(), text))
        })
        .collect()
}

/// `POST /verify`: checks a certificate's printed text and signature.
pub(crate) async fn verify(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<VerifyForm>,
) -> Response {
    if let Err(refused) = super::auth::check_pre_session_csrf(&state, &parts.headers, &form.csrf) {
        return refused.into_response();
    }
    let payload: String = form
        .payload
        .trim()
        .chars()
        .take(MAX_PAYLOAD_CHARS)
        .collect();
    let signature: String = form.signature.trim().chars().take(200).collect();
    let caller = Caller {
        access_token: None,
        peer: super::peer(&parts),
    };
    let api = &state.api;
    let answer = api
        .certificates()
        .verify_certificate(api.request(
            &caller,
            VerifyCertificateRequest {
                signed_payload: payload.clone(),
                signature: signature.clone(),
            },
        ))
        .await;
    let mut page = VerifyPage {
        layout: Layout::public("证书验证", &form.csrf),
        serial: String::new(),
        code: String::new(),
        payload,
        signature,
        checked: false,
        valid: false,
        reason: String::new(),
        facts: Vec::new(),
        failure: Failure::default(),
    };
    match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            page.checked = true;
            page.valid = answer.valid;
            page.reason = answer.reason;
            if answer.valid {
                page.facts = printed_facts(&answer.signed_payload);
            }
        }
        Err(status) => page.failure = status.into(),
    }
    render(&page)
}
