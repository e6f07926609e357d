//! Commendations (嘉许) and team star ratings end to end: nomination through the team,
//! review and public notice at the awarding unit, objections, no award before the notice
//! ends, awards listed on the recipients' records; team stars explained criterion by
//! criterion.

use egret_proto::activity::v1 as activity_pb;
use egret_proto::common::v1 as common;
use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1 as registry_pb;
use egret_runtime::Role;
use egret_runtime::wire::{date_to_wire as wire, today};
use egret_tests::{TestApp, both_backends, chinese_message, violated_fields};
use egret_types::CivilDate;

async fn create_honour(
    app: &TestApp,
    token: &str,
    display_name: &str,
    recipient_kind: pb::RecipientKind,
    notice_days: Option<i32>,
) -> pb::Honour {
    app.commendations(token)
        .create_honour(pb::CreateHonourRequest {
            honour: Some(pb::Honour {
                display_name: display_name.to_string(),
                category: pb::HonourCategory::OutstandingVolunteer as i32,
                level: registry_pb::TeamLevel::Municipal as i32,
                recipient_kind: recipient_kind as i32,
                notice_days,
                description: "鹭岛巾帼志愿联盟年度嘉许".to_string(),
                ..Default::default()
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("creating {display_name}: {status:?}"))
        .into_inner()
        .honour
        .expect("honour")
}

fn nomination(honour: &str, recipient: &str) -> pb::NominateCommendationRequest {
    pb::NominateCommendationRequest {
        honour: honour.to_string(),
        recipient: recipient.to_string(),
        year: today().year,
        citation: "常年服务独居老人，累计服务六百小时".to_string(),
        org_unit: String::new(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

async fn nomination_notice_and_award(app: TestApp) {
    let admin = app.admin();
    let root_staff = app.token(&app.root, &[Role::Staff]);
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "思明巾帼服务队")
        .await;
    let other = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "同安巾帼服务队")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let team_staff = app.token(&team.name, &[Role::Staff]);
    let volunteer = app.register(&admin, &team.name, 41).await;
    let outsider = app.register(&admin, &other.name, 42).await;

    // Bad honours name their fields.
    let status = app
        .commendations(&root_staff)
        .create_honour(pb::CreateHonourRequest {
            honour: Some(pb::Honour {
                display_name: "优秀巾帼志愿者".to_string(),
                recipient_kind: pb::RecipientKind::Volunteer as i32,
                level: registry_pb::TeamLevel::Municipal as i32,
                notice_days: Some(99),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("bad honour");
    assert_eq!(
        violated_fields(&status),
        ["honour.category", "honour.notice_days"]
    );
    assert!(chinese_message(&status).is_some());
    let honour = create_honour(
        &app,
        &root_staff,
        "优秀巾帼志愿者",
        pb::RecipientKind::Volunteer,
        None,
    )
    .await;
    assert_eq!(honour.notice_days, Some(7), "the instance's default notice");
    let listed = app
        .commendations(&leader)
        .list_honours(pb::ListHonoursRequest::default())
        .await
        .expect("a team sees its ancestors' honours")
        .into_inner()
        .honours;
    assert_eq!(listed.len(), 1);

    // Nomination through the team.
    let status = app
        .commendations(&leader)
        .nominate_commendation(nomination(&honour.name, &team.name))
        .await
        .expect_err("a unit is not a volunteer");
    assert_eq!(violated_fields(&status), ["recipient"]);
    let status = app
        .commendations(&leader)
        .nominate_commendation(nomination(&honour.name, &outsider.name))
        .await
        .expect_err("another team's volunteer");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = app
        .commendations(&leader)
        .nominate_commendation(pb::NominateCommendationRequest {
            citation: String::new(),
            year: 0,
            ..nomination(&honour.name, &volunteer.name)
        })
        .await
        .expect_err("no citation, no year");
    assert_eq!(violated_fields(&status), ["citation", "year"]);
    let request = nomination(&honour.name, &volunteer.name);
    let nominated = app
        .commendations(&leader)
        .nominate_commendation(request.clone())
        .await
        .expect("nominates")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(nominated.state, pb::CommendationState::Nominated as i32);
    assert_eq!(nominated.recipient_display_name, volunteer.display_name);
    assert_eq!(nominated.honour_display_name, "优秀巾帼志愿者");
    let retried = app
        .commendations(&leader)
        .nominate_commendation(request)
        .await
        .expect("retry")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(retried.name, nominated.name);
    let status = app
        .commendations(&leader)
        .nominate_commendation(nomination(&honour.name, &volunteer.name))
        .await
        .expect_err("twice");
    assert_eq!(status.code(), tonic::Code::AlreadyExists);

    // Review belongs to the awarding unit (the corps), not the team.
    let approve = pb::ApproveCommendationRequest {
        name: nominated.name.clone(),
        comment: "事迹属实".to_string(),
    };
    let status = app
        .commendations(&leader)
        .approve_commendation(approve.clone())
        .await
        .expect_err("leaders do not review");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = app
        .commendations(&team_staff)
        .approve_commendation(approve.clone())
        .await
        .expect_err("the team does not award the corps' honour");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let on_notice = app
        .commendations(&root_staff)
        .approve_commendation(approve)
        .await
        .expect("passes review")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(on_notice.state, pb::CommendationState::OnNotice as i32);
    assert_eq!(on_notice.notice_start_date, Some(wire(today())));
    assert_eq!(on_notice.notice_end_date, Some(wire(today().add_days(6))));

    // No award before the notice ends.
    let status = app
        .commendations(&root_staff)
        .award_commendation(pb::AwardCommendationRequest {
            name: nominated.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("still on notice");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(
        status.message().contains(&today().add_days(7).to_string()),
        "{}",
        status.message()
    );
    assert!(chinese_message(&status).is_some_and(|message| message.contains("公示")));

    let objected = app
        .commendations(&root_staff)
        .record_objection(pb::RecordObjectionRequest {
            name: nominated.name.clone(),
            content: "服务时长与实际不符".to_string(),
        })
        .await
        .expect("records an objection")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(objected.objections.len(), 1);
    let withdrawn = app
        .commendations(&root_staff)
        .withdraw_commendation(pb::WithdrawCommendationRequest {
            name: nominated.name.clone(),
            comment: "异议属实".to_string(),
        })
        .await
        .expect("withdraws")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(withdrawn.state, pb::CommendationState::Withdrawn as i32);
    let status = app
        .commendations(&root_staff)
        .award_commendation(pb::AwardCommendationRequest {
            name: nominated.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("withdrawn");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    // An honour without public notice is awarded at review, and listed on the team's record.
    let model_team = create_honour(
        &app,
        &root_staff,
        "巾帼志愿服务示范队",
        pb::RecipientKind::Team,
        Some(0),
    )
    .await;
    let team_commendation = app
        .commendations(&leader)
        .nominate_commendation(nomination(&model_team.name, &team.name))
        .await
        .expect("nominates the team")
        .into_inner()
        .commendation
        .expect("commendation");
    let awarded = app
        .commendations(&root_staff)
        .approve_commendation(pb::ApproveCommendationRequest {
            name: team_commendation.name.clone(),
            comment: String::new(),
        })
        .await
        .expect("passes review")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(awarded.state, pb::CommendationState::Awarded as i32);
    assert!(awarded.award_time.is_some());
    let record = app
        .commendations(&team_staff)
        .list_commendations(pb::ListCommendationsRequest {
            recipient: team.name.clone(),
            state: pb::CommendationState::Awarded as i32,
            ..Default::default()
        })
        .await
        .expect("the team's honours")
        .into_inner()
        .commendations;
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].name, awarded.name);
    // Another district sees neither the team's record nor the commendation.
    let other_staff = app.token(&other.name, &[Role::Staff]);
    let status = app
        .commendations(&other_staff)
        .list_commendations(pb::ListCommendationsRequest {
            recipient: team.name.clone(),
            ..Default::default()
        })
        .await
        .expect_err("other team");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = app
        .commendations(&other_staff)
        .get_commendation(pb::GetCommendationRequest {
            name: awarded.name.clone(),
        })
        .await
        .expect_err("other team");
    assert_eq!(status.code(), tonic::Code::NotFound);
    // The volunteer sees its own record of honours.
    let own = app
        .commendations(&app.volunteer_token(&team.name, &volunteer.name))
        .list_commendations(pb::ListCommendationsRequest {
            recipient: volunteer.name.clone(),
            ..Default::default()
        })
        .await
        .expect("own record")
        .into_inner()
        .commendations;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].state, pb::CommendationState::Withdrawn as i32);
    let history = app
        .recognition_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: nominated.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    assert_eq!(
        history.len(),
        4,
        "nominated, on notice, objection, withdrawn"
    );
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn projects_are_commended_too(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "湖里巾帼服务队")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let today = today();
    let project = app
        .projects(&staff)
        .create_project(activity_pb::CreateProjectRequest {
            project: Some(activity_pb::Project {
                org_unit: team.name.clone(),
                display_name: "空巢老人关爱项目".to_string(),
                description: "政府购买服务".to_string(),
                service_themes: vec![common::ServiceTheme::Care as i32],
                service_fields: vec![common::ServiceField::ElderlyCare as i32],
                target_groups: vec![common::TargetGroup::ElderlyLivingAlone as i32],
                start_date: Some(wire(today)),
                end_date: Some(wire(today.add_days(90))),
                funding_source: activity_pb::FundingSource::GovernmentPurchase as i32,
                budget_fen: 5_000_000,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates a project")
        .into_inner()
        .project
        .expect("project");
    let honour = app
        .commendations(&admin)
        .create_honour(pb::CreateHonourRequest {
            honour: Some(pb::Honour {
                display_name: "优秀巾帼志愿服务项目".to_string(),
                category: pb::HonourCategory::ExcellentProject as i32,
                level: registry_pb::TeamLevel::Municipal as i32,
                recipient_kind: pb::RecipientKind::Project as i32,
                notice_days: Some(5),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates")
        .into_inner()
        .honour
        .expect("honour");
    let nominated = app
        .commendations(&staff)
        .nominate_commendation(nomination(&honour.name, &project.name))
        .await
        .expect("nominates the project")
        .into_inner()
        .commendation
        .expect("commendation");
    assert_eq!(nominated.recipient, project.name);
    assert_eq!(nominated.recipient_display_name, "空巢老人关爱项目");
    let listed = app
        .commendations(&staff)
        .list_commendations(pb::ListCommendationsRequest {
            recipient: project.name.clone(),
            ..Default::default()
        })
        .await
        .expect("the project's record")
        .into_inner()
        .commendations;
    assert_eq!(listed.len(), 1);
    app.assert_tallies_recount().await;
    app.stop().await;
}

/// Xiamen's rules with small team criteria for the first levels, in force since 2000 so
/// that they judge last year too.
async fn small_team_criteria(app: &TestApp) {
    let admin = app.admin();
    let mut rules = app
        .rule_sets(&admin)
        .get_rule_set(pb::GetRuleSetRequest {
            name: "ruleSets/xiamen".to_string(),
            revision: 0,
        })
        .await
        .expect("xiamen")
        .into_inner()
        .rule_set
        .expect("rule set");
    rules.effective_date = Some(wire(CivilDate::new(2000, 1, 1).unwrap()));
    rules.team_star_criteria[0].min_active_members = 2;
    rules.team_star_criteria[0].min_service_hours = 30;
    rules.team_star_criteria[0].min_activities = 0;
    rules.team_star_criteria[1].min_active_members = 2;
    rules.team_star_criteria[1].min_service_hours = 50;
    rules.team_star_criteria[1].min_activities = 0;
    rules.team_star_criteria[1].min_evaluation_average = 0.0;
    app.rule_sets(&admin)
        .revise_rule_set(pb::ReviseRuleSetRequest {
            rule_set: Some(rules),
            expected_revision: 1,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("revises");
}

async fn team_stars_are_explained(app: TestApp) {
    let admin = app.admin();
    small_team_criteria(&app).await;
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "集美巾帼服务队")
        .await;
    let sub_team = app
        .create_unit(&admin, &team.name, registry_pb::Tier::SubTeam, "集美一分队")
        .await;
    let first = app.register(&admin, &team.name, 51).await;
    let second = app.register(&admin, &sub_team.name, 52).await;
    let today = today();
    let last_year = today.year - 1;
    let mid_last_year = CivilDate::new(last_year, 6, 1).unwrap();
    let days_ago = today.to_days() - mid_last_year.to_days();
    // Last year: 20 h + 20 h in the team's subtree; this year's hours do not count.
    app.import_hours(&admin, &team.name, &first.name, &[(days_ago, 20 * 60)])
        .await;
    app.import_hours(
        &admin,
        &sub_team.name,
        &second.name,
        &[(days_ago + 1, 20 * 60), (1, 60)],
    )
    .await;

    let staff = app.token(&app.root, &[Role::Staff]);
    let evaluation = app
        .star_ratings(&staff)
        .evaluate_team(pb::EvaluateTeamRequest {
            org_unit: team.name.clone(),
            year: last_year,
        })
        .await
        .expect("evaluates")
        .into_inner()
        .evaluation
        .expect("evaluation");
    assert_eq!(evaluation.stars, 1, "40 h reach 1★ (30 h), not 2★ (50 h)");
    assert_eq!(evaluation.rule_set_revision, 2);
    assert!(evaluation.name.is_empty(), "an evaluation is not stored");
    let criterion = |level: usize, name: &str| {
        evaluation.levels[level]
            .criteria
            .iter()
            .find(|check| check.criterion == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} at level {}", level + 1))
    };
    let members = criterion(0, "active_members");
    assert_eq!(
        (members.value, members.threshold, members.met),
        (2.0, 2.0, true)
    );
    let hours = criterion(1, "service_hours");
    assert_eq!(
        (hours.value, hours.threshold, hours.met),
        (40.0, 50.0, false)
    );
    assert!(!evaluation.levels[1].met);
    let report = criterion(2, "annual_report_submitted");
    assert_eq!(
        (report.value, report.threshold, report.met),
        (0.0, 1.0, false)
    );

    let status = app
        .star_ratings(&staff)
        .rate_team(pb::RateTeamRequest {
            org_unit: team.name.clone(),
            year: today.year,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("this year has not ended");
    assert_eq!(violated_fields(&status), ["year"]);
    let status = app
        .star_ratings(&staff)
        .evaluate_team(pb::EvaluateTeamRequest {
            org_unit: app.root.clone(),
            year: last_year,
        })
        .await
        .expect_err("the corps is not rated");
    assert_eq!(violated_fields(&status), ["org_unit"]);
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let status = app
        .star_ratings(&leader)
        .rate_team(pb::RateTeamRequest {
            org_unit: team.name.clone(),
            year: last_year,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("a team does not rate itself");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let rated = app
        .star_ratings(&staff)
        .rate_team(pb::RateTeamRequest {
            org_unit: team.name.clone(),
            year: last_year,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("rates")
        .into_inner()
        .team_star_rating
        .expect("rating");
    assert_eq!(rated.stars, 1);
    assert_eq!(rated.org_unit_display_name, "集美巾帼服务队");
    assert_eq!(rated.levels, evaluation.levels);
    // More of last year's hours arrive late; rating again replaces the rating.
    app.import_hours(&admin, &team.name, &first.name, &[(days_ago + 2, 10 * 60)])
        .await;
    let again = app
        .star_ratings(&staff)
        .rate_team(pb::RateTeamRequest {
            org_unit: team.name.clone(),
            year: last_year,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("rates again")
        .into_inner()
        .team_star_rating
        .expect("rating");
    assert_eq!(again.name, rated.name);
    assert_eq!(again.stars, 2);
    assert_eq!(again.metadata.expect("metadata").version, 2);
    let listed = app
        .star_ratings(&leader)
        .list_team_star_ratings(pb::ListTeamStarRatingsRequest {
            year: last_year,
            ..Default::default()
        })
        .await
        .expect("the team reads its rating")
        .into_inner()
        .team_star_ratings;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].stars, 2);
    app.assert_tallies_recount().await;
    app.stop().await;
}

both_backends!(
    nomination_notice_and_award,
    projects_are_commended_too,
    team_stars_are_explained
);
