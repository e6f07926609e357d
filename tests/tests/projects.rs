//! Projects of the activity service, with the registry beside it: the activity service
//! checks subtrees against its replica of the registry's org tree.

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, violated_fields};
use tonic::Code;

both_backends!(project_lifecycle_in_a_new_team);

fn date(year: i32, month: i32, day: i32) -> Option<common::Date> {
    Some(common::Date { year, month, day })
}

fn project_input(org_unit: &str) -> pb::Project {
    pb::Project {
        org_unit: org_unit.to_string(),
        display_name: "空巢老人关爱项目".to_string(),
        description: "政府购买服务".to_string(),
        service_themes: vec![common::ServiceTheme::Care as i32],
        service_fields: vec![common::ServiceField::ElderlyCare as i32],
        target_groups: vec![common::TargetGroup::ElderlyLivingAlone as i32],
        start_date: date(2027, 1, 1),
        end_date: date(2027, 12, 31),
        funding_source: pb::FundingSource::GovernmentPurchase as i32,
        budget_fen: 12_000_000,
        partner: Some(pb::PartnerOrganization {
            name: "厦门市某社工服务中心".to_string(),
            credit_code: String::new(),
            social_workers: vec![pb::SocialWorker {
                name: "李社工".to_string(),
                phone: "13812345678".to_string(),
                certificate_number: "SG-001".to_string(),
            }],
        }),
        ..Default::default()
    }
}

async fn project_lifecycle_in_a_new_team(app: TestApp) {
    let admin = app.admin();
    // A team created a moment ago is already known to the activity service.
    let team = app.create_unit(&admin, &app.root, registry::Tier::Team, "思明区").await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = app
        .projects(&staff)
        .create_project(pb::CreateProjectRequest {
            project: Some(project_input(&team.name)),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .project
        .expect("project");
    assert_eq!(created.status, pb::ProjectStatus::Planning as i32);
    assert_eq!(created.org_unit, team.name);
    let worker = &created.partner.as_ref().expect("partner").social_workers[0];
    assert_eq!(worker.phone, "138****5678");

    let activated = app
        .projects(&staff)
        .activate_project(pb::ActivateProjectRequest { name: created.name.clone() })
        .await
        .expect("activates")
        .into_inner()
        .project
        .expect("project");
    assert_eq!(activated.status, pb::ProjectStatus::Active as i32);

    // Another district sees nothing.
    let other = app.create_unit(&admin, &app.root, registry::Tier::Team, "湖里区").await;
    let outsider = app.token(&other.name, &[Role::Staff]);
    let status = app
        .projects(&outsider)
        .get_project(pb::GetProjectRequest { name: created.name.clone() })
        .await
        .expect_err("other district");
    assert_eq!(status.code(), Code::NotFound);

    // Bad input names the field.
    let mut bad = project_input(&team.name);
    bad.end_date = date(2026, 1, 1);
    let status = app
        .projects(&staff)
        .create_project(pb::CreateProjectRequest { project: Some(bad), request_id: String::new() })
        .await
        .expect_err("end before start");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["project.end_date"]);
    app.stop().await;
}
