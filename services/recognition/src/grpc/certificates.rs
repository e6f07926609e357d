//! `egret.recognition.v1.CertificateService`. VerifyCertificate, LookupCertificate and
//! GetVerificationKey are served without a token (see [`super::add_services`]).

use egret_proto::recognition::v1 as pb;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, metadata, optional_name, parse_name, text,
    timestamp, today,
};
use egret_runtime::{PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Recognition;
use crate::app::certificates::{IssueRequest, MAX_SERVICE_CONTENT};
use crate::domain::certificate::{self, Certificate, CertificateState};
use crate::domain::names;

/// The service implementation.
pub struct CertificateApi(pub Recognition);

/// The longest payload VerifyCertificate reads: a certificate's payload is a few KB.
const MAX_PAYLOAD_CHARS: usize = 16_000;

/// The longest serial number and verification code LookupCertificate reads, as typed.
const MAX_LOOKUP_CHARS: usize = 40;

/// The longest verification page address RenderCertificate prints in a QR code.
const MAX_VERIFICATION_URL_CHARS: usize = 200;

/// Checks RenderCertificate's `verification_url`: empty, or an `http://` or `https://`
/// address with a host, at most 200 characters, without spaces or characters that do not
/// belong in a URL.
fn verification_url(violations: &mut Violations, value: &str) -> Option<String> {
    const FIELD: &str = "verification_url";
    let url = text(violations, FIELD, value, MAX_VERIFICATION_URL_CHARS, false);
    if url.is_empty() {
        return None;
    }
    let lower = url.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let well_formed = host
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with(['/', '?', '#']))
        && url.chars().all(|character| {
            character.is_ascii_graphic()
                && !matches!(
                    character,
                    '"' | '<' | '>' | '\\' | '`' | '{' | '}' | '|' | '^' | '#'
                )
        });
    if !well_formed {
        violations.add(
            FIELD,
            "must be an http:// or https:// address, like https://egret.example/verify",
            "须为 http:// 或 https:// 开头的网址，例如 https://egret.example/verify",
        );
        return None;
    }
    Some(url)
}

/// Checks LookupCertificate's input: a serial number and a verification code as printed.
fn lookup_request(message: &pb::LookupCertificateRequest) -> Result<(String, String), Status> {
    let mut violations = Violations::new();
    let serial_number = text(
        &mut violations,
        "serial_number",
        &message.serial_number,
        MAX_LOOKUP_CHARS,
        true,
    )
    .to_ascii_uppercase();
    let typed = text(
        &mut violations,
        "verification_code",
        &message.verification_code,
        MAX_LOOKUP_CHARS,
        true,
    );
    let code = certificate::normalize_verification_code(&typed);
    // Empty, oversized or control characters have their violation already.
    let checked = !typed.is_empty()
        && typed.chars().count() <= MAX_LOOKUP_CHARS
        && !typed.chars().any(char::is_control);
    if code.is_none() && checked {
        violations.add(
            "verification_code",
            format!(
                "must be the {} letters and digits printed beside the serial number",
                certificate::VERIFICATION_CODE_LEN
            ),
            format!(
                "须为证书编号旁印的 {} 位字母和数字",
                certificate::VERIFICATION_CODE_LEN
            ),
        );
    }
    violations.into_result()?;
    Ok((serial_number, code.unwrap_or_default()))
}

fn state_to_wire(state: CertificateState) -> i32 {
    match state {
        CertificateState::Valid => pb::CertificateState::Valid as i32,
        CertificateState::Revoked => pb::CertificateState::Revoked as i32,
    }
}

fn certificate_to_wire(certificate: &Certificate) -> pb::Certificate {
    pb::Certificate {
        name: names::certificate(&certificate.id),
        serial_number: certificate.serial_number.clone(),
        volunteer: names::volunteer(&certificate.volunteer_id),
        volunteer_display_name: certificate.volunteer_display_name.clone(),
        id_type: certificate.id_type.clone(),
        id_number_masked: certificate.id_number_masked.clone(),
        volunteer_number: certificate.volunteer_number.clone(),
        period_start: Some(date_to_wire(certificate.period_start)),
        period_end: Some(date_to_wire(certificate.period_end)),
        activity: if certificate.activity_id.is_empty() {
            String::new()
        } else {
            names::activity(&certificate.activity_id)
        },
        activity_display_name: certificate.activity_display_name.clone(),
        service_minutes: certificate.service_minutes,
        service_content: certificate.service_content.clone(),
        issuer_org_unit: names::org_unit(&certificate.issuer_org_unit_id),
        issuer_display_name: certificate.issuer_display_name.clone(),
        person_in_charge: certificate.person_in_charge.clone(),
        handler: certificate.handler.clone(),
        handler_contact: certificate.handler_contact.clone(),
        issue_date: Some(date_to_wire(certificate.issue_date)),
        notes: certificate.notes.clone(),
        state: state_to_wire(certificate.state),
        revocation_reason: certificate.revocation_reason.clone(),
        revoke_time: (certificate.revoke_time > 0).then(|| timestamp(certificate.revoke_time)),
        signed_payload: certificate.signed_payload.clone(),
        signature: certificate.signature.clone(),
        key_id: certificate.key_id.clone(),
        metadata: Some(metadata(&certificate.id, &certificate.meta)),
        verification_code: certificate.verification_code(),
    }
}

/// Checks IssueCertificate's input: a period or an activity (not both), real dates in
/// order and not in the future, and bounded free text.
fn issue_request(message: &pb::IssueCertificateRequest) -> Result<IssueRequest, Status> {
    let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
    let activity = optional_name("activity", &message.activity, "activities")?;
    let issuer = optional_name("issuer_org_unit", &message.issuer_org_unit, "orgUnits")?;
    check_request_id(&message.request_id)?;
    let mut violations = Violations::new();
    let start = date_from_wire(
        &mut violations,
        "period_start",
        message.period_start.as_ref(),
    );
    let end = date_from_wire(&mut violations, "period_end", message.period_end.as_ref());
    let period = match (activity, start, end) {
        (Some(_), None, None) => None,
        (Some(_), _, _) => {
            violations.add(
                "activity",
                "give either a period or an activity, not both",
                "服务期间与活动只能指定其一",
            );
            None
        }
        (None, Some(start), Some(end)) => {
            if end < start {
                violations.add(
                    "period_end",
                    "must not be before period_start",
                    "结束日期不能早于开始日期",
                );
            } else if end > today() {
                violations.add(
                    "period_end",
                    "must not be in the future",
                    "结束日期不能晚于今天",
                );
            }
            Some((start, end))
        }
        (None, start, end) => {
            // A date that is set but not real has its violation already.
            let unset = |date: Option<&egret_proto::common::v1::Date>| {
                date.is_none_or(|date| *date == egret_proto::common::v1::Date::default())
            };
            if start.is_none() && unset(message.period_start.as_ref()) {
                violations.add(
                    "period_start",
                    "is required unless an activity is given",
                    "请指定服务期间开始日期或活动",
                );
            }
            if end.is_none() && unset(message.period_end.as_ref()) {
                violations.add(
                    "period_end",
                    "is required unless an activity is given",
                    "请指定服务期间结束日期或活动",
                );
            }
            None
        }
    };
    let request = IssueRequest {
        volunteer_id: volunteer.to_string(),
        period,
        activity_id: activity.map(str::to_string),
        issuer_org_unit_id: issuer.map(str::to_string),
        person_in_charge: text(
            &mut violations,
            "person_in_charge",
            &message.person_in_charge,
            50,
            false,
        ),
        handler: text(&mut violations, "handler", &message.handler, 50, false),
        handler_contact: text(
            &mut violations,
            "handler_contact",
            &message.handler_contact,
            50,
            false,
        ),
        notes: text(&mut violations, "notes", &message.notes, 200, false),
        service_content: text(
            &mut violations,
            "service_content",
            &message.service_content,
            MAX_SERVICE_CONTENT,
            false,
        ),
        request_id: message.request_id.clone(),
    };
    violations.into_result()?;
    Ok(request)
}

#[tonic::async_trait]
impl pb::certificate_service_server::CertificateService for CertificateApi {
    async fn issue_certificate(
        &self,
        request: Request<pb::IssueCertificateRequest>,
    ) -> Result<Response<pb::IssueCertificateResponse>, Status> {
        let principal = Principal::of(&request)?;
        let issue = issue_request(request.get_ref())?;
        let certificate = self.0.issue_certificate(&principal, &issue).await?;
        Ok(Response::new(pb::IssueCertificateResponse {
            certificate: Some(certificate_to_wire(&certificate)),
        }))
    }

    async fn get_certificate(
        &self,
        request: Request<pb::GetCertificateRequest>,
    ) -> Result<Response<pb::GetCertificateResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "certificates")?;
        let certificate = self.0.get_certificate(&principal, id).await?;
        Ok(Response::new(pb::GetCertificateResponse {
            certificate: Some(certificate_to_wire(&certificate)),
        }))
    }

    async fn list_certificates(
        &self,
        request: Request<pb::ListCertificatesRequest>,
    ) -> Result<Response<pb::ListCertificatesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let volunteer = optional_name("volunteer", &message.volunteer, "volunteers")?;
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &message.volunteer)?;
        let (certificates, next_page_token) = self
            .0
            .list_certificates(&principal, volunteer, &page)
            .await?;
        Ok(Response::new(pb::ListCertificatesResponse {
            certificates: certificates.iter().map(certificate_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn revoke_certificate(
        &self,
        request: Request<pb::RevokeCertificateRequest>,
    ) -> Result<Response<pb::RevokeCertificateResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "certificates")?;
        let mut violations = Violations::new();
        let reason = text(&mut violations, "reason", &message.reason, 500, true);
        violations.into_result()?;
        let certificate = self.0.revoke_certificate(&principal, id, &reason).await?;
        Ok(Response::new(pb::RevokeCertificateResponse {
            certificate: Some(certificate_to_wire(&certificate)),
        }))
    }

    async fn render_certificate(
        &self,
        request: Request<pb::RenderCertificateRequest>,
    ) -> Result<Response<pb::RenderCertificateResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "certificates")?;
        let mut violations = Violations::new();
        let url = verification_url(&mut violations, &message.verification_url);
        violations.into_result()?;
        let content = self
            .0
            .render_certificate(&principal, id, url.as_deref())
            .await?;
        Ok(Response::new(pb::RenderCertificateResponse {
            content_type: "image/svg+xml".to_string(),
            content,
        }))
    }

    async fn verify_certificate(
        &self,
        request: Request<pb::VerifyCertificateRequest>,
    ) -> Result<Response<pb::VerifyCertificateResponse>, Status> {
        // Public: no principal is required, and none is used.
        let message = request.get_ref();
        let mut violations = Violations::new();
        let payload = text(
            &mut violations,
            "signed_payload",
            &message.signed_payload,
            MAX_PAYLOAD_CHARS,
            true,
        );
        let signature = text(&mut violations, "signature", &message.signature, 200, true);
        violations.into_result()?;
        let verification = self.0.verify_certificate(&payload, &signature).await?;
        Ok(Response::new(pb::VerifyCertificateResponse {
            valid: verification.valid,
            reason: verification.reason,
            state: verification.state.map_or(0, state_to_wire),
            serial_number: verification.serial_number,
            signed_payload: verification.signed_payload,
        }))
    }

    async fn lookup_certificate(
        &self,
        request: Request<pb::LookupCertificateRequest>,
    ) -> Result<Response<pb::LookupCertificateResponse>, Status> {
        // Public: no principal is required, and none is used.
        let (serial_number, code) = lookup_request(request.get_ref())?;
        let found = self.0.lookup_certificate(&serial_number, &code).await?;
        Ok(Response::new(pb::LookupCertificateResponse {
            valid: found.valid,
            state: found.state.map_or(0, state_to_wire),
            reason: found.reason,
            serial_number: found.serial_number,
            signed_payload: found.signed_payload,
        }))
    }

    async fn get_verification_key(
        &self,
        _request: Request<pb::GetVerificationKeyRequest>,
    ) -> Result<Response<pb::GetVerificationKeyResponse>, Status> {
        let key = self.0.verification_key();
        Ok(Response::new(pb::GetVerificationKeyResponse {
            instance: key.instance,
            key_id: key.key_id,
            public_key: key.public_key,
            public_key_pem: key.public_key_pem,
        }))
    }
}
