//! Insurance: risky activities are published only with cover for their whole period, and a
//! volunteer is approved onto one only when covered; the refusal names who is uncovered.

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, in_hours, violated_fields};
use tonic::Code;

both_backends!(cover_gates_risky_activities);

fn days_from_today(days: i64) -> Option<common::Date> {
    let micros = egret_types::now_micros() + days * 86_400 * 1_000_000;
    let date = egret_types::china_date(micros);
    Some(common::Date {
        year: date.year,
        month: date.month as i32,
        day: date.day as i32,
    })
}

fn policy(
    org_unit: &str,
    number: &str,
    covers_subtree: bool,
    insured: Vec<String>,
    end_days: i64,
) -> pb::CreateInsurancePolicyRequest {
    pb::CreateInsurancePolicyRequest {
        insurance_policy: Some(pb::InsurancePolicy {
            org_unit: org_unit.to_string(),
            insurer: "中国人寿".to_string(),
            policy_number: number.to_string(),
            cover: "意外身故、意外医疗".to_string(),
            sum_insured_fen: 50_000_000,
            start_date: days_from_today(-1),
            end_date: days_from_today(end_days),
            covers_subtree,
            insured_volunteers: insured,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

async fn cover_gates_risky_activities(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "海沧区")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let covered = app.register(&admin, &team.name, 21).await;
    let uncovered = app.register(&admin, &team.name, 22).await;

    let risky = app
        .activities(&staff)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.name.clone(),
                display_name: "防台风转移群众".to_string(),
                service_theme: common::ServiceTheme::Care as i32,
                site: Some(pb::ServiceSite {
                    display_name: "海沧街道".to_string(),
                    address: "海沧区".to_string(),
                    kind: pb::SiteKind::Community as i32,
                    check_in_fence: None,
                }),
                start_time: in_hours(24),
                end_time: in_hours(30),
                risk_level: pb::RiskLevel::High as i32,
                positions: vec![pb::Position {
                    role: "转移引导".to_string(),
                    headcount: 5,
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
    let publisher = app.activities(&staff);
    let publish = || {
        let mut client = publisher.clone();
        let name = risky.name.clone();
        async move {
            client
                .publish_activity(pb::PublishActivityRequest { name })
                .await
        }
    };
    let status = publish().await.expect_err("no cover");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&team.name),
        "{}",
        status.message()
    );

    // A policy naming one volunteer does not cover the activity as a whole.
    app.insurance(&staff)
        .create_insurance_policy(policy(
            &team.name,
            "P-1",
            false,
            vec![covered.name.clone()],
            30,
        ))
        .await
        .expect("named policy");
    assert_eq!(
        publish().await.expect_err("still no cover").code(),
        Code::FailedPrecondition
    );

    // A subtree policy that ends before the activity does not either.
    let short = app
        .insurance(&staff)
        .create_insurance_policy(policy(&team.name, "P-2", true, vec![], 0))
        .await
        .expect("short policy")
        .into_inner()
        .insurance_policy
        .expect("policy");
    assert_eq!(
        publish().await.expect_err("ends too soon").code(),
        Code::FailedPrecondition
    );
    let expiring = app
        .insurance(&staff)
        .list_insurance_policies(pb::ListInsurancePoliciesRequest {
            expiring_within_days: 7,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .insurance_policies;
    assert_eq!(
        expiring
            .iter()
            .map(|policy| policy.name.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&short.name)
    );

    // The same policy number twice is refused; a bad policy names its fields.
    let status = app
        .insurance(&staff)
        .create_insurance_policy(policy(&team.name, "P-2", true, vec![], 30))
        .await
        .expect_err("duplicate number");
    assert_eq!(status.code(), Code::AlreadyExists);
    let status = app
        .insurance(&staff)
        .create_insurance_policy(policy(
            &team.name,
            "P-3",
            true,
            vec![covered.name.clone()],
            30,
        ))
        .await
        .expect_err("both kinds");
    assert_eq!(
        violated_fields(&status),
        ["insurance_policy.covers_subtree"]
    );

    // A subtree policy over the whole period: publishable.
    let whole = app
        .insurance(&staff)
        .create_insurance_policy(policy(&app.root, "P-4", true, vec![], 30))
        .await;
    assert_eq!(
        whole
            .expect_err("the root is above the staff's unit")
            .code(),
        Code::NotFound
    );
    let whole = app
        .insurance(&admin)
        .create_insurance_policy(policy(&app.root, "P-4", true, vec![], 30))
        .await
        .expect("city-wide policy")
        .into_inner()
        .insurance_policy
        .expect("policy");
    publish().await.expect("publishes with cover");
    let coverage = app
        .insurance(&staff)
        .check_coverage(pb::CheckCoverageRequest {
            activity: risky.name.clone(),
            volunteer: uncovered.name.clone(),
        })
        .await
        .expect("checks")
        .into_inner();
    assert!(coverage.covered);
    assert_eq!(coverage.insurance_policy, whole.name);

    // Once the city-wide policy is cancelled, only the named volunteer can be approved.
    app.insurance(&admin)
        .cancel_insurance_policy(pb::CancelInsurancePolicyRequest {
            name: whole.name.clone(),
            reason: "退保".to_string(),
        })
        .await
        .expect("cancels");
    let mut sign_ups = Vec::new();
    for volunteer in [&covered, &uncovered] {
        let sign_up = app
            .sign_ups(&staff)
            .create_sign_up(pb::CreateSignUpRequest {
                parent: risky.name.clone(),
                sign_up: Some(pb::SignUp {
                    volunteer: volunteer.name.clone(),
                    position_id: risky.positions[0].position_id.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("signs up")
            .into_inner()
            .sign_up
            .expect("sign-up");
        sign_ups.push(sign_up);
    }
    app.sign_ups(&staff)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: sign_ups[0].name.clone(),
            comment: String::new(),
        })
        .await
        .expect("the named volunteer is covered");
    let status = app
        .sign_ups(&staff)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: sign_ups[1].name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("uncovered");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains(&uncovered.display_name),
        "{}",
        status.message()
    );
    app.assert_tallies_recount().await;
    app.stop().await;
}
