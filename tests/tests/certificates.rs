//! Service certificates (志愿服务证明): issued for approved hours, checked without a login
//! and offline with the instance's public key, revoked by hand and when the hours behind
//! them are corrected downward.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use egret_proto::activity::v1 as activity_pb;
use egret_proto::common::v1 as common;
use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{
    TestApp, both_backends, chinese_message, days_before, resident_id, violated_fields,
};
use tonic::{Code, Status};

both_backends!(
    issued_checked_and_revoked,
    refusals_and_other_districts,
    for_an_activity,
    looked_up_by_serial_and_code,
    printed_with_a_qr_code
);

fn date(days_ago: i64) -> Option<common::Date> {
    let day = days_before(egret_types::china_date(egret_types::now_micros()), days_ago);
    Some(common::Date {
        year: day.year,
        month: day.month as i32,
        day: day.day as i32,
    })
}

fn for_period(
    volunteer: &str,
    from_days_ago: i64,
    to_days_ago: i64,
) -> pb::IssueCertificateRequest {
    pb::IssueCertificateRequest {
        volunteer: volunteer.to_string(),
        period_start: date(from_days_ago),
        period_end: date(to_days_ago),
        person_in_charge: "王主任".to_string(),
        handler: "李经办".to_string(),
        handler_contact: "0592-2033990".to_string(),
        notes: "特此证明".to_string(),
        request_id: uuid::Uuid::new_v4().to_string(),
        ..Default::default()
    }
}

fn seconds_from_now(seconds: i64) -> Option<prost_types::Timestamp> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    Some(prost_types::Timestamp {
        seconds: now + seconds,
        nanos: 0,
    })
}

/// Checks a certificate the way someone holding only the paper and the public key would.
fn offline_check(public_key: &str, payload: &str, signature: &str) -> bool {
    let key: [u8; 32] = STANDARD
        .decode(public_key)
        .expect("base64 key")
        .try_into()
        .expect("32 bytes");
    let key = VerifyingKey::from_bytes(&key).expect("an Ed25519 key");
    let Ok(signature) = STANDARD.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&signature) else {
        return false;
    };
    key.verify(payload.as_bytes(), &signature).is_ok()
}

async fn verify(app: &TestApp, payload: &str, signature: &str) -> pb::VerifyCertificateResponse {
    app.certificates("")
        .verify_certificate(pb::VerifyCertificateRequest {
            signed_payload: payload.to_string(),
            signature: signature.to_string(),
        })
        .await
        .expect("verification needs no token")
        .into_inner()
}

/// Changes one character of `text` at `at` (to another base64 character).
fn change_one(text: &str, at: usize) -> String {
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ascii")
}

async fn issued_checked_and_revoked(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 31).await;
    let records = app
        .import_hours(
            &admin,
            &team.name,
            &volunteer.name,
            &[(5, 120), (3, 90), (40, 600)],
        )
        .await;
    assert_eq!(records.len(), 3);

    // Staff of the team issue one for the last ten days: the two recent records count.
    let request = for_period(&volunteer.name, 10, 0);
    let certificate = app
        .certificates(&staff)
        .issue_certificate(request.clone())
        .await
        .expect("issues")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(certificate.service_minutes, 210);
    assert_eq!(certificate.state, pb::CertificateState::Valid as i32);
    assert_eq!(certificate.volunteer, volunteer.name);
    assert_eq!(certificate.volunteer_display_name, "志愿者31");
    assert_eq!(certificate.id_number_masked, volunteer.id_number);
    assert!(certificate.id_number_masked.contains('*'));
    assert_eq!(certificate.issuer_org_unit, team.name);
    assert_eq!(certificate.issuer_display_name, "思明区");
    assert_eq!(certificate.handler, "李经办");
    let year = egret_types::china_date(egret_types::now_micros()).year;
    assert!(
        certificate
            .serial_number
            .ends_with(&format!("-{year}-000001")),
        "{}",
        certificate.serial_number
    );
    assert!(!certificate.signed_payload.contains(&resident_id(31)));

    // A retry with the same request id answers with the same certificate.
    let again = app
        .certificates(&staff)
        .issue_certificate(request)
        .await
        .expect("retry")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(again.name, certificate.name);
    assert_eq!(again.serial_number, certificate.serial_number);

    // Anyone checks it without a token, by RPC and offline with the public key.
    let checked = verify(&app, &certificate.signed_payload, &certificate.signature).await;
    assert!(checked.valid, "{}", checked.reason);
    assert_eq!(checked.state, pb::CertificateState::Valid as i32);
    assert_eq!(checked.serial_number, certificate.serial_number);
    let key = app
        .certificates("")
        .get_verification_key(pb::GetVerificationKeyRequest {})
        .await
        .expect("the key needs no token")
        .into_inner();
    assert_eq!(key.key_id, certificate.key_id);
    assert!(key.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(offline_check(
        &key.public_key,
        &certificate.signed_payload,
        &certificate.signature
    ));

    // One changed byte of the payload, or of the signature, fails both checks.
    let forged = certificate
        .signed_payload
        .replace("\"service_minutes\":210", "\"service_minutes\":910");
    assert_ne!(forged, certificate.signed_payload);
    assert!(!offline_check(
        &key.public_key,
        &forged,
        &certificate.signature
    ));
    let checked = verify(&app, &forged, &certificate.signature).await;
    assert!(!checked.valid);
    assert!(checked.reason.contains("signature"), "{}", checked.reason);
    let bad_signature = change_one(&certificate.signature, 10);
    assert!(!offline_check(
        &key.public_key,
        &certificate.signed_payload,
        &bad_signature
    ));
    assert!(
        !verify(&app, &certificate.signed_payload, &bad_signature)
            .await
            .valid
    );

    // The printable page.
    let page = app
        .certificates(&staff)
        .render_certificate(pb::RenderCertificateRequest {
            name: certificate.name.clone(),
            ..Default::default()
        })
        .await
        .expect("renders")
        .into_inner();
    assert_eq!(page.content_type, "image/svg+xml");
    for expected in [
        "厦门市妇女联合会 · 鹭岛巾帼志愿联盟",
        "志愿服务证明",
        "志愿者31",
        certificate.serial_number.as_str(),
        volunteer.id_number.as_str(),
        "3 小时 30 分钟",
        "王主任",
        "李经办",
        "0592-2033990",
    ] {
        assert!(page.content.contains(expected), "missing {expected}");
    }
    assert!(!page.content.contains(&resident_id(31)));

    // The volunteer issues its own for the older record; the registering unit issues it.
    let own = app.volunteer_token(&app.root, &volunteer.name);
    let second = app
        .certificates(&own)
        .issue_certificate(for_period(&volunteer.name, 60, 30))
        .await
        .expect("issues its own")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(second.service_minutes, 600);
    assert_eq!(second.issuer_org_unit, team.name);
    assert!(second.serial_number.ends_with(&format!("-{year}-000002")));
    let mine = app
        .certificates(&own)
        .list_certificates(pb::ListCertificatesRequest {
            volunteer: volunteer.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists its own")
        .into_inner()
        .certificates;
    let names: Vec<&str> = mine.iter().map(|found| found.name.as_str()).collect();
    assert_eq!(names, [second.name.as_str(), certificate.name.as_str()]);

    // Paging: newest first, one at a time.
    let first_page = app
        .certificates(&staff)
        .list_certificates(pb::ListCertificatesRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(first_page.certificates.len(), 1);
    assert_eq!(first_page.certificates[0].name, second.name);
    let next_page = app
        .certificates(&staff)
        .list_certificates(pb::ListCertificatesRequest {
            page_size: 1,
            page_token: first_page.next_page_token,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(next_page.certificates.len(), 1);
    assert_eq!(next_page.certificates[0].name, certificate.name);

    // Staff revoke the second by hand; it no longer verifies.
    let status = app
        .certificates(&staff)
        .revoke_certificate(pb::RevokeCertificateRequest {
            name: second.name.clone(),
            reason: "  ".to_string(),
        })
        .await
        .expect_err("a reason is required");
    assert_eq!(violated_fields(&status), ["reason"]);
    let status = app
        .certificates(&own)
        .revoke_certificate(pb::RevokeCertificateRequest {
            name: second.name.clone(),
            reason: "不要了".to_string(),
        })
        .await
        .expect_err("a volunteer does not revoke");
    assert_eq!(status.code(), Code::PermissionDenied);
    let revoked = app
        .certificates(&staff)
        .revoke_certificate(pb::RevokeCertificateRequest {
            name: second.name.clone(),
            reason: "出具有误".to_string(),
        })
        .await
        .expect("revokes")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(revoked.state, pb::CertificateState::Revoked as i32);
    assert_eq!(revoked.revocation_reason, "出具有误");
    assert!(revoked.revoke_time.is_some());
    let checked = verify(&app, &second.signed_payload, &second.signature).await;
    assert!(!checked.valid);
    assert_eq!(checked.state, pb::CertificateState::Revoked as i32);
    assert!(checked.reason.contains("revoked"), "{}", checked.reason);
    let status = app
        .certificates(&staff)
        .revoke_certificate(pb::RevokeCertificateRequest {
            name: second.name.clone(),
            reason: "再次".to_string(),
        })
        .await
        .expect_err("already revoked");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(chinese_message(&status).is_some());

    // A downward correction of a covered record revokes the first one through the feed.
    app.service_records(&admin)
        .correct_service_record(activity_pb::CorrectServiceRecordRequest {
            name: records[0].name.clone(),
            minutes: 60,
            reason: "核减".to_string(),
        })
        .await
        .expect("corrects");
    let mut checked = verify(&app, &certificate.signed_payload, &certificate.signature).await;
    for _ in 0..50 {
        if !checked.valid {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        checked = verify(&app, &certificate.signed_payload, &certificate.signature).await;
    }
    assert!(!checked.valid, "the feed revoked the certificate");
    assert_eq!(checked.state, pb::CertificateState::Revoked as i32);
    assert!(checked.reason.contains("revoked"), "{}", checked.reason);
    let found = app
        .certificates(&staff)
        .get_certificate(pb::GetCertificateRequest {
            name: certificate.name.clone(),
        })
        .await
        .expect("gets")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(found.state, pb::CertificateState::Revoked as i32);
    assert!(
        found.revocation_reason.contains(&records[0].name),
        "{}",
        found.revocation_reason
    );
    // The revoked page says so.
    let page = app
        .certificates(&own)
        .render_certificate(pb::RenderCertificateRequest {
            name: certificate.name.clone(),
            ..Default::default()
        })
        .await
        .expect("renders its own")
        .into_inner();
    assert!(page.content.contains("已撤销"));

    // The history shows issue and revocation.
    let history = app
        .recognition_records(&staff)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: certificate.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].reason, "issued");
    assert!(
        history[1].reason.starts_with("revoked"),
        "{}",
        history[1].reason
    );
}

async fn refusals_and_other_districts(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let outsider = app.token(&other.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 41).await;
    let stranger = app.register(&admin, &other.name, 42).await;
    app.import_hours(&admin, &team.name, &volunteer.name, &[(2, 60)])
        .await;

    // No approved hours in the period: refused in both languages.
    let status = app
        .certificates(&staff)
        .issue_certificate(for_period(&volunteer.name, 100, 50))
        .await
        .expect_err("no hours");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(chinese_message(&status).is_some());

    // Bad input names the field.
    for (request, field) in [
        (for_period("volunteers/nobody", 10, 0), "volunteer"),
        (for_period(&volunteer.name, 0, 10), "period_end"),
        (
            pb::IssueCertificateRequest {
                period_start: None,
                ..for_period(&volunteer.name, 10, 0)
            },
            "period_start",
        ),
        (
            pb::IssueCertificateRequest {
                activity: format!("activities/{}", uuid::Uuid::new_v4()),
                ..for_period(&volunteer.name, 10, 0)
            },
            "activity",
        ),
        (
            pb::IssueCertificateRequest {
                period_end: Some(common::Date {
                    year: 2026,
                    month: 2,
                    day: 30,
                }),
                ..for_period(&volunteer.name, 10, 0)
            },
            "period_end",
        ),
        (
            pb::IssueCertificateRequest {
                handler: "经".repeat(51),
                ..for_period(&volunteer.name, 10, 0)
            },
            "handler",
        ),
        (
            pb::IssueCertificateRequest {
                request_id: "again".to_string(),
                ..for_period(&volunteer.name, 10, 0)
            },
            "request_id",
        ),
    ] {
        let status = app
            .certificates(&staff)
            .issue_certificate(request)
            .await
            .expect_err("invalid");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(violated_fields(&status), [field]);
    }
    let status = app
        .certificates("")
        .verify_certificate(pb::VerifyCertificateRequest::default())
        .await
        .expect_err("nothing to verify");
    assert_eq!(violated_fields(&status), ["signed_payload", "signature"]);
    let checked = verify(&app, "{\"format\":\"x\"}", "bm90IGEgc2lnbmF0dXJl").await;
    assert!(!checked.valid);
    assert_eq!(checked.state, pb::CertificateState::Unspecified as i32);

    // Everything else needs a token.
    let status = app
        .certificates("")
        .list_certificates(pb::ListCertificatesRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);

    // Another district neither issues for the team's volunteers nor sees their certificates.
    let status = app
        .certificates(&outsider)
        .issue_certificate(for_period(&volunteer.name, 10, 0))
        .await
        .expect_err("not its volunteer");
    assert_eq!(status.code(), Code::NotFound);
    let certificate = app
        .certificates(&staff)
        .issue_certificate(pb::IssueCertificateRequest {
            service_content: "社区图书馆导读".to_string(),
            ..for_period(&volunteer.name, 10, 0)
        })
        .await
        .expect("issues")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(certificate.service_content, "社区图书馆导读");
    for status in [
        app.certificates(&outsider)
            .get_certificate(pb::GetCertificateRequest {
                name: certificate.name.clone(),
            })
            .await
            .expect_err("other district"),
        app.certificates(&outsider)
            .render_certificate(pb::RenderCertificateRequest {
                name: certificate.name.clone(),
                ..Default::default()
            })
            .await
            .expect_err("other district"),
        app.certificates(&outsider)
            .revoke_certificate(pb::RevokeCertificateRequest {
                name: certificate.name.clone(),
                reason: "越权".to_string(),
            })
            .await
            .expect_err("other district"),
        app.certificates(&app.volunteer_token(&app.root, &stranger.name))
            .get_certificate(pb::GetCertificateRequest {
                name: certificate.name.clone(),
            })
            .await
            .expect_err("another volunteer"),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    let listed = app
        .certificates(&outsider)
        .list_certificates(pb::ListCertificatesRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .certificates;
    assert!(listed.is_empty());

    // A volunteer issues only its own.
    let status = app
        .certificates(&app.volunteer_token(&app.root, &stranger.name))
        .issue_certificate(for_period(&volunteer.name, 10, 0))
        .await
        .expect_err("someone else's");
    assert_eq!(status.code(), Code::PermissionDenied);
    // And a stranger's own issue is refused for want of hours, not for access.
    let status = app
        .certificates(&app.volunteer_token(&app.root, &stranger.name))
        .issue_certificate(for_period(&stranger.name, 10, 0))
        .await
        .expect_err("no hours");
    assert_eq!(status.code(), Code::FailedPrecondition);
}

async fn for_an_activity(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 51).await;
    let own = app.volunteer_token(&app.root, &volunteer.name);

    // An activity held and completed, and a back-entry of 50 minutes the city approves.
    let activity = app
        .activities(&leader)
        .create_activity(activity_pb::CreateActivityRequest {
            activity: Some(activity_pb::Activity {
                org_unit: team.name.clone(),
                display_name: "社区义诊".to_string(),
                service_theme: common::ServiceTheme::Care as i32,
                site: Some(activity_pb::ServiceSite {
                    display_name: "社区卫生服务站".to_string(),
                    address: "湖里区".to_string(),
                    kind: activity_pb::SiteKind::Community as i32,
                    check_in_fence: None,
                }),
                start_time: seconds_from_now(3600),
                end_time: seconds_from_now(2 * 3600),
                risk_level: activity_pb::RiskLevel::Low as i32,
                positions: vec![activity_pb::Position {
                    role: "导诊".to_string(),
                    headcount: 3,
                    ..Default::default()
                }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .activity
        .expect("activity");
    let by_name = || activity.name.clone();
    app.activities(&leader)
        .publish_activity(activity_pb::PublishActivityRequest { name: by_name() })
        .await
        .expect("publishes");
    app.activities(&leader)
        .start_activity(activity_pb::StartActivityRequest { name: by_name() })
        .await
        .expect("starts");
    app.activities(&leader)
        .complete_activity(activity_pb::CompleteActivityRequest { name: by_name() })
        .await
        .expect("completes");
    let record = app
        .service_records(&leader)
        .create_back_entry(activity_pb::CreateBackEntryRequest {
            activity: by_name(),
            volunteer: volunteer.name.clone(),
            minutes: 50,
            description: "现场导诊".to_string(),
            reason: "忘记签到".to_string(),
            request_id: String::new(),
        })
        .await
        .expect("requests")
        .into_inner()
        .service_record
        .expect("record");
    let issue = pb::IssueCertificateRequest {
        volunteer: volunteer.name.clone(),
        activity: by_name(),
        ..Default::default()
    };
    // Nothing approved yet.
    let status = app
        .certificates(&own)
        .issue_certificate(issue.clone())
        .await
        .expect_err("not approved yet");
    assert_eq!(status.code(), Code::FailedPrecondition);
    app.service_records(&admin)
        .approve_service_record(activity_pb::ApproveServiceRecordRequest {
            name: record.name.clone(),
            comment: "情况属实".to_string(),
        })
        .await
        .expect("the city approves");

    // Approved a moment ago, it counts at once.
    let certificate = app
        .certificates(&own)
        .issue_certificate(issue)
        .await
        .expect("issues")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(certificate.activity, activity.name);
    assert_eq!(certificate.activity_display_name, "社区义诊");
    assert_eq!(certificate.service_content, "社区义诊");
    assert_eq!(certificate.service_minutes, 50);
    assert_eq!(certificate.issuer_org_unit, team.name);
    assert_eq!(certificate.period_start, certificate.period_end);
    assert!(
        verify(&app, &certificate.signed_payload, &certificate.signature)
            .await
            .valid
    );
    let page = app
        .certificates(&own)
        .render_certificate(pb::RenderCertificateRequest {
            name: certificate.name.clone(),
            ..Default::default()
        })
        .await
        .expect("renders")
        .into_inner();
    assert!(page.content.contains("参加“社区义诊”志愿服务"));

    let status = app
        .certificates(&own)
        .issue_certificate(pb::IssueCertificateRequest {
            volunteer: volunteer.name.clone(),
            activity: format!("activities/{}", uuid::Uuid::new_v4()),
            ..Default::default()
        })
        .await
        .expect_err("no such activity");
    assert_eq!(status.code(), Code::NotFound);
}

/// What a LookupCertificate call should answer.
#[derive(Debug)]
enum Expected {
    /// Valid, with this certificate's serial number and signed payload.
    Valid(pb::Certificate),
    /// Found but revoked.
    Revoked(pb::Certificate),
    /// NOT_FOUND, whatever the reason.
    NotFound,
    /// INVALID_ARGUMENT naming this field.
    Invalid(&'static str),
}

/// One LookupCertificate call.
struct TestCase {
    what: &'static str,
    serial_number: String,
    verification_code: String,
    expected: Expected,
}

/// Checks one answer of LookupCertificate against its case; returns the English and
/// Chinese messages of a NOT_FOUND, so that the caller can compare them across cases.
#[track_caller]
fn check_lookup(
    case: &TestCase,
    answer: Result<pb::LookupCertificateResponse, Status>,
) -> Option<(String, Option<String>)> {
    let what = case.what;
    match (&case.expected, answer) {
        (Expected::Valid(certificate), Ok(found)) => {
            assert!(found.valid, "{what}: {}", found.reason);
            assert_eq!(found.state, pb::CertificateState::Valid as i32, "{what}");
            assert_eq!(found.reason, "", "{what}");
            assert_eq!(found.serial_number, certificate.serial_number, "{what}");
            assert_eq!(found.signed_payload, certificate.signed_payload, "{what}");
            None
        }
        (Expected::Revoked(certificate), Ok(found)) => {
            assert!(!found.valid, "{what}");
            assert_eq!(found.state, pb::CertificateState::Revoked as i32, "{what}");
            assert!(found.reason.contains("revoked"), "{what}: {}", found.reason);
            assert!(found.reason.contains("撤销"), "{what}: {}", found.reason);
            assert_eq!(found.serial_number, certificate.serial_number, "{what}");
            assert_eq!(found.signed_payload, certificate.signed_payload, "{what}");
            None
        }
        (Expected::NotFound, Err(status)) => {
            assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
            assert!(
                status
                    .message()
                    .contains("serial number and verification code"),
                "{what}: {}",
                status.message()
            );
            let chinese = chinese_message(&status);
            assert!(
                chinese.as_deref().is_some_and(|zh| zh.contains("未找到")),
                "{what}: {chinese:?}"
            );
            Some((status.message().to_string(), chinese))
        }
        (Expected::Invalid(field), Err(status)) => {
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
            assert_eq!(violated_fields(&status), [*field], "{what}");
            assert!(chinese_message(&status).is_some(), "{what}");
            None
        }
        (expected, answer) => panic!("{what}: expected {expected:?}, got {answer:?}"),
    }
}

/// Issues a certificate for the volunteer's last ten days.
async fn issue_recent(app: &TestApp, token: &str, volunteer: &str) -> pb::Certificate {
    app.certificates(token)
        .issue_certificate(for_period(volunteer, 10, 0))
        .await
        .expect("issues")
        .into_inner()
        .certificate
        .expect("certificate")
}

/// `ABCDE12345` as someone might type it: `abcde 12-345`.
fn typed_casually(code: &str) -> String {
    let lower = code.to_lowercase();
    format!(" {} {}-{} ", &lower[..5], &lower[5..7], &lower[7..])
}

async fn looked_up_by_serial_and_code(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 61).await;
    app.import_hours(&admin, &team.name, &volunteer.name, &[(5, 120), (3, 90)])
        .await;
    let valid = issue_recent(&app, &staff, &volunteer.name).await;
    let revoked = issue_recent(&app, &staff, &volunteer.name).await;
    for certificate in [&valid, &revoked] {
        let code = &certificate.verification_code;
        assert_eq!(code.len(), 10, "{code}");
        assert!(
            code.chars().all(|character| character.is_ascii_digit()
                || (character.is_ascii_uppercase() && !"ILOU".contains(character))),
            "{code}"
        );
    }
    assert_ne!(valid.verification_code, revoked.verification_code);
    // The code is the same wherever the certificate is read.
    let fetched = app
        .certificates(&staff)
        .get_certificate(pb::GetCertificateRequest {
            name: valid.name.clone(),
        })
        .await
        .expect("gets")
        .into_inner()
        .certificate
        .expect("certificate");
    assert_eq!(fetched.verification_code, valid.verification_code);
    app.certificates(&staff)
        .revoke_certificate(pb::RevokeCertificateRequest {
            name: revoked.name.clone(),
            reason: "出具有误".to_string(),
        })
        .await
        .expect("revokes");

    // A serial number after the last one issued: the next one anyone would try.
    let (prefix, number) = valid.serial_number.rsplit_once('-').expect("a serial");
    let unknown_serial = format!(
        "{prefix}-{:06}",
        number.parse::<u32>().expect("a number") + 7
    );
    let case = |what, serial: &str, code: &str, expected| TestCase {
        what,
        serial_number: serial.to_string(),
        verification_code: code.to_string(),
        expected,
    };
    let cases = [
        case(
            "as printed",
            &valid.serial_number,
            &valid.verification_code,
            Expected::Valid(valid.clone()),
        ),
        case(
            "typed in lower case with spaces and dashes",
            &format!(" {} ", valid.serial_number.to_lowercase()),
            &typed_casually(&valid.verification_code),
            Expected::Valid(valid.clone()),
        ),
        case(
            "revoked",
            &revoked.serial_number,
            &revoked.verification_code,
            Expected::Revoked(revoked.clone()),
        ),
        case(
            "another certificate's code",
            &valid.serial_number,
            &revoked.verification_code,
            Expected::NotFound,
        ),
        case(
            "a wrong code",
            &valid.serial_number,
            "0000000000",
            Expected::NotFound,
        ),
        case(
            "an unknown serial number",
            &unknown_serial,
            &valid.verification_code,
            Expected::NotFound,
        ),
        case(
            "no serial number",
            "  ",
            &valid.verification_code,
            Expected::Invalid("serial_number"),
        ),
        case(
            "no code",
            &valid.serial_number,
            "",
            Expected::Invalid("verification_code"),
        ),
        case(
            "an oversized serial number",
            &"X".repeat(41),
            &valid.verification_code,
            Expected::Invalid("serial_number"),
        ),
        case(
            "an oversized code",
            &valid.serial_number,
            &"A".repeat(41),
            Expected::Invalid("verification_code"),
        ),
        case(
            "a code too short",
            &valid.serial_number,
            &valid.verification_code[..9],
            Expected::Invalid("verification_code"),
        ),
        case(
            "a code with a letter Crockford leaves out",
            &valid.serial_number,
            &format!("{}U", &valid.verification_code[..9]),
            Expected::Invalid("verification_code"),
        ),
    ];
    let mut not_found = Vec::new();
    for case in &cases {
        // Public: no token at all.
        let answer = app
            .certificates("")
            .lookup_certificate(pb::LookupCertificateRequest {
                serial_number: case.serial_number.clone(),
                verification_code: case.verification_code.clone(),
            })
            .await
            .map(tonic::Response::into_inner);
        if let Some(messages) = check_lookup(case, answer) {
            not_found.push((case.what, messages));
        }
    }
    // An unknown serial number and a wrong code read exactly alike.
    assert_eq!(not_found.len(), 3);
    for (what, messages) in &not_found {
        assert_eq!(*messages, not_found[0].1, "{what} and {}", not_found[0].0);
    }

    // A token changes nothing: the answer is the public one.
    let answer = app
        .certificates(&staff)
        .lookup_certificate(pb::LookupCertificateRequest {
            serial_number: valid.serial_number.clone(),
            verification_code: valid.verification_code.clone(),
        })
        .await
        .map(tonic::Response::into_inner);
    check_lookup(&cases[0], answer);
}

/// RenderCertificate with a verification page's address.
async fn render_with_link(
    app: &TestApp,
    token: &str,
    name: &str,
    verification_url: String,
) -> Result<String, Status> {
    app.certificates(token)
        .render_certificate(pb::RenderCertificateRequest {
            name: name.to_string(),
            verification_url,
        })
        .await
        .map(|page| page.into_inner().content)
}

async fn printed_with_a_qr_code(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 62).await;
    app.import_hours(&admin, &team.name, &volunteer.name, &[(2, 60)])
        .await;
    let certificate = issue_recent(&app, &staff, &volunteer.name).await;
    let render = |verification_url: &str| {
        render_with_link(
            &app,
            &staff,
            &certificate.name,
            verification_url.to_string(),
        )
    };

    // With the verification page's address: the QR code, the code and the address.
    let page = render("https://egret.example/verify")
        .await
        .expect("renders");
    let numbers = format!(
        "证书编号 {}    验证码 {}",
        certificate.serial_number, certificate.verification_code
    );
    assert!(page.contains(&numbers), "{page}");
    assert!(page.contains("扫码或访问 https://egret.example/verify 验证"));
    let modules = page
        .lines()
        .skip_while(|line| !line.contains("id=\"verification-qr\""))
        .take_while(|line| *line != "</g>")
        .filter(|line| line.starts_with("<rect"))
        .count();
    assert!(modules > 50, "{modules} rectangles in the QR code");

    // Without it: the code still prints beside the serial number, with no QR code.
    let page = render("").await.expect("renders");
    assert!(page.contains(&numbers));
    assert!(!page.contains("verification-qr"));

    // Only a web address of bounded length.
    for bad in [
        "javascript:x".to_string(),
        "ftp://egret.example/verify".to_string(),
        "https://".to_string(),
        "https://egret.example/verify page".to_string(),
        "https://egret.example/verify#top".to_string(),
        format!("https://egret.example/{}", "v".repeat(180)),
    ] {
        let status = render(&bad).await.expect_err("a bad address");
        assert_eq!(status.code(), Code::InvalidArgument, "{bad}: {status:?}");
        assert_eq!(violated_fields(&status), ["verification_url"], "{bad}");
        assert!(chinese_message(&status).is_some(), "{bad}");
    }
}
