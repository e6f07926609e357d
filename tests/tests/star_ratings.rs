//! Star ratings end to end, with the registry and the activity service running: the
//! shipped rule sets at boundary hours, years since registration, nomination and approval
//! within quotas, the rule revision a star keeps, and the review a downward correction
//! forces.

use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1 as registry_pb;
use egret_runtime::Role;
use egret_runtime::wire::{date_to_wire as wire, today};
use egret_tests::{Backend, TestApp, both_backends, chinese_message, violated_fields};
use egret_types::CivilDate;

/// The same day `years` later (1 March for 29 February in a common year).
fn years_later(date: CivilDate, years: i32) -> CivilDate {
    CivilDate::new(date.year + years, date.month, date.day)
        .unwrap_or_else(|| CivilDate::new(date.year + years, 3, 1).expect("1 March"))
}

/// The current half-year period label, as the Xiamen and Fujian rules use.
fn this_half_year() -> String {
    let today = today();
    format!("{}-H{}", today.year, if today.month <= 6 { 1 } else { 2 })
}

async fn evaluate(app: &TestApp, volunteer: &str, date: Option<CivilDate>) -> pb::StarEvaluation {
    app.star_ratings(&app.admin())
        .evaluate_volunteer(pb::EvaluateVolunteerRequest {
            volunteer: volunteer.to_string(),
            date: date.map(wire),
        })
        .await
        .expect("evaluates")
        .into_inner()
        .evaluation
        .expect("evaluation")
}

async fn spawn_under(backend: Backend, test: &str, rule_set: &str) -> Option<TestApp> {
    let rule_set = rule_set.to_string();
    TestApp::spawn_with(backend, test, move |config| {
        config.recognition.rule_set = rule_set;
    })
    .await
}

/// 99 h and 100 h, 599 h and 600 h under one shipped rule set; `needs_two_years` says
/// whether 600 h need two years since registration (Xiamen) or not (national, Fujian).
async fn boundaries(app: TestApp, rule_set: &str, needs_two_years: bool) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "思明巾帼服务队")
        .await;
    let rules = app
        .rule_sets(&admin)
        .get_rules_in_force(pb::GetRulesInForceRequest::default())
        .await
        .expect("rules in force")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(rules.name, format!("ruleSets/{rule_set}"));
    assert!(rules.built_in);

    let first = app.register(&admin, &team.name, 11).await;
    app.import_whole_hours(&admin, &team.name, &first.name, 99)
        .await;
    let evaluation = evaluate(&app, &first.name, None).await;
    assert_eq!(evaluation.approved_minutes, 99 * 60);
    assert_eq!(evaluation.qualified_stars, 0, "99 h earn no star");
    assert_eq!(evaluation.rule_set, format!("ruleSets/{rule_set}"));
    assert!(!evaluation.levels[0].hours_met);
    // One minute short of 100 h is still short.
    app.import_hours(&admin, &team.name, &first.name, &[(200, 59)])
        .await;
    assert_eq!(evaluate(&app, &first.name, None).await.qualified_stars, 0);
    app.import_hours(&admin, &team.name, &first.name, &[(201, 1)])
        .await;
    let evaluation = evaluate(&app, &first.name, None).await;
    assert_eq!(evaluation.approved_minutes, 100 * 60);
    assert_eq!(evaluation.qualified_stars, 1, "100 h earn one star");

    let second = app.register(&admin, &team.name, 12).await;
    app.import_whole_hours(&admin, &team.name, &second.name, 599)
        .await;
    assert_eq!(evaluate(&app, &second.name, None).await.qualified_stars, 2);
    app.import_hours(&admin, &team.name, &second.name, &[(300, 60)])
        .await;
    let now = evaluate(&app, &second.name, None).await;
    assert_eq!(now.approved_minutes, 600 * 60);
    assert_eq!(now.years_registered, 0);
    let in_one_year = evaluate(&app, &second.name, Some(years_later(today(), 1))).await;
    let in_two_years = evaluate(&app, &second.name, Some(years_later(today(), 2))).await;
    assert_eq!(in_two_years.years_registered, 2);
    assert_eq!(in_two_years.qualified_stars, 3, "600 h and two years");
    if needs_two_years {
        assert_eq!(now.qualified_stars, 2, "600 h without two years");
        assert_eq!(in_one_year.qualified_stars, 2, "600 h and one year");
        assert!(now.levels[2].hours_met && !now.levels[2].years_met);
    } else {
        assert_eq!(now.qualified_stars, 3, "600 h need no years here");
        assert_eq!(in_one_year.qualified_stars, 3);
    }
    app.assert_tallies_recount().await;
    app.stop().await;
}

macro_rules! under_rule_set {
    ($name:ident, $rule_set:literal, $needs_two_years:literal) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = super::spawn_under(
                    egret_tests::Backend::Sqlite,
                    concat!(module_path!(), "::sqlite"),
                    $rule_set,
                )
                .await
                {
                    super::boundaries(app, $rule_set, $needs_two_years).await;
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = super::spawn_under(
                    egret_tests::Backend::Postgres,
                    concat!(module_path!(), "::postgres"),
                    $rule_set,
                )
                .await
                {
                    super::boundaries(app, $rule_set, $needs_two_years).await;
                }
            }
        }
    };
}

under_rule_set!(national_boundaries, "national", false);
under_rule_set!(fujian_boundaries, "fujian", false);
under_rule_set!(xiamen_boundaries, "xiamen", true);

/// Xiamen's rules with a quota of one 1★ award per team and period, approved by the team.
fn with_one_star_quota(mut rules: pb::RuleSet) -> pb::RuleSet {
    rules.star_thresholds[0].approving_tier = registry_pb::Tier::Team as i32;
    rules.quotas.retain(|quota| quota.stars != 1);
    rules.quotas.push(pb::StarQuota {
        stars: 1,
        max_awards: 1,
    });
    rules.effective_date = Some(wire(today()));
    rules
}

async fn nomination_approval_and_quota(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "湖里巾帼服务队")
        .await;
    let other_team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "集美巾帼服务队")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let team_staff = app.token(&team.name, &[Role::Staff]);
    let other_staff = app.token(&other_team.name, &[Role::Staff]);

    let xiamen = app
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
    assert_eq!(xiamen.revision, 1);
    let revised = app
        .rule_sets(&admin)
        .revise_rule_set(pb::ReviseRuleSetRequest {
            rule_set: Some(with_one_star_quota(xiamen.clone())),
            expected_revision: 1,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("revises")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(revised.revision, 2);
    // A team's staff may not change the instance's rules.
    let status = app
        .rule_sets(&team_staff)
        .revise_rule_set(pb::ReviseRuleSetRequest {
            rule_set: Some(with_one_star_quota(xiamen.clone())),
            expected_revision: 2,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("staff cannot revise");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    let first = app.register(&admin, &team.name, 21).await;
    let second = app.register(&admin, &team.name, 22).await;
    let short = app.register(&admin, &team.name, 23).await;
    for volunteer in [&first, &second] {
        app.import_whole_hours(&admin, &team.name, &volunteer.name, 100)
            .await;
    }
    app.import_whole_hours(&admin, &team.name, &short.name, 99)
        .await;

    let nominate = |volunteer: &str, stars: i32, period: String| pb::NominateStarRatingRequest {
        volunteer: volunteer.to_string(),
        stars,
        period,
        org_unit: String::new(),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    // Too few hours: refused with the numbers, in both languages.
    let status = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&short.name, 1, this_half_year()))
        .await
        .expect_err("99 h");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(
        status.message().contains("99 h 0 min"),
        "{}",
        status.message()
    );
    assert!(chinese_message(&status).is_some());
    // Bad input names the fields.
    let status = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&first.name, 0, this_half_year()))
        .await
        .expect_err("zero stars");
    assert_eq!(violated_fields(&status), ["stars"]);
    let status = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&first.name, 1, today().year.to_string()))
        .await
        .expect_err("a year is not a half-year");
    assert_eq!(violated_fields(&status), ["period"]);
    // An unknown volunteer is not found (after a catch-up with the registry, which must not
    // wait for a transaction the nomination holds).
    let unknown = format!("volunteers/{}", uuid::Uuid::new_v4());
    let status = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&unknown, 1, this_half_year()))
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), tonic::Code::NotFound);
    // Another team cannot nominate this team's volunteers: they are unknown to it.
    let status = app
        .star_ratings(&other_staff)
        .nominate_star_rating(nominate(&first.name, 1, this_half_year()))
        .await
        .expect_err("other team");
    assert_eq!(status.code(), tonic::Code::NotFound);

    let request = nominate(&first.name, 1, this_half_year());
    let first_nomination = app
        .star_ratings(&leader)
        .nominate_star_rating(request.clone())
        .await
        .expect("nominates")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(
        first_nomination.state,
        pb::StarRatingState::Nominated as i32
    );
    assert_eq!(first_nomination.approving_org_unit, team.name);
    assert_eq!(first_nomination.rule_set_revision, 2);
    assert_eq!(first_nomination.volunteer_display_name, first.display_name);
    // A retry with the same request id is the same nomination.
    let retried = app
        .star_ratings(&leader)
        .nominate_star_rating(request)
        .await
        .expect("retry")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(retried.name, first_nomination.name);
    // A second live nomination of the same level and period is refused.
    let status = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&first.name, 1, this_half_year()))
        .await
        .expect_err("twice");
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
    let second_nomination = app
        .star_ratings(&leader)
        .nominate_star_rating(nominate(&second.name, 1, this_half_year()))
        .await
        .expect("nominates")
        .into_inner()
        .star_rating
        .expect("rating");

    // Team leaders nominate; staff approve.
    let approve = |name: &str| pb::ApproveStarRatingRequest {
        name: name.to_string(),
        comment: "符合条件".to_string(),
    };
    let status = app
        .star_ratings(&leader)
        .approve_star_rating(approve(&first_nomination.name))
        .await
        .expect_err("leader cannot approve");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = app
        .star_ratings(&other_staff)
        .approve_star_rating(approve(&first_nomination.name))
        .await
        .expect_err("another team's staff");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let awarded = app
        .star_ratings(&team_staff)
        .approve_star_rating(approve(&first_nomination.name))
        .await
        .expect("approves")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(awarded.state, pb::StarRatingState::Awarded as i32);
    assert!(awarded.award_time.is_some());
    // The quota of one is used up.
    let status = app
        .star_ratings(&team_staff)
        .approve_star_rating(approve(&second_nomination.name))
        .await
        .expect_err("quota");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    assert!(status.message().contains("quota"), "{}", status.message());
    let rejected = app
        .star_ratings(&team_staff)
        .reject_star_rating(pb::RejectStarRatingRequest {
            name: second_nomination.name.clone(),
            comment: "名额已满".to_string(),
        })
        .await
        .expect("rejects")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(rejected.state, pb::StarRatingState::Rejected as i32);

    // A later revision changes nothing about the star awarded under revision 2.
    let mut stricter = with_one_star_quota(xiamen);
    stricter.star_thresholds[0].min_hours = 150;
    stricter.star_thresholds[1].min_hours = 350;
    let third = app
        .rule_sets(&admin)
        .revise_rule_set(pb::ReviseRuleSetRequest {
            rule_set: Some(stricter),
            expected_revision: 2,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("revises again")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(third.revision, 3);
    let kept = app
        .star_ratings(&team_staff)
        .get_star_rating(pb::GetStarRatingRequest {
            name: awarded.name.clone(),
        })
        .await
        .expect("gets")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(kept.rule_set_revision, 2);
    assert_eq!(kept.state, pb::StarRatingState::Awarded as i32);
    let old = app
        .rule_sets(&admin)
        .get_rule_set(pb::GetRuleSetRequest {
            name: "ruleSets/xiamen".to_string(),
            revision: 2,
        })
        .await
        .expect("revision 2 is kept")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(old.star_thresholds[0].min_hours, 100);
    let revisions = app
        .rule_sets(&admin)
        .list_rule_set_revisions(pb::ListRuleSetRevisionsRequest {
            name: "ruleSets/xiamen".to_string(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(
        revisions
            .rule_sets
            .iter()
            .map(|rule_set| rule_set.revision)
            .collect::<Vec<_>>(),
        [3, 2]
    );
    assert!(!revisions.next_page_token.is_empty());

    // The volunteer sees its own star; the list of the team shows both decisions.
    let own = app
        .star_ratings(&app.volunteer_token(&team.name, &first.name))
        .list_star_ratings(pb::ListStarRatingsRequest {
            volunteer: first.name.clone(),
            ..Default::default()
        })
        .await
        .expect("own list")
        .into_inner()
        .star_ratings;
    assert_eq!(own.len(), 1);
    let listed = app
        .star_ratings(&team_staff)
        .list_star_ratings(pb::ListStarRatingsRequest::default())
        .await
        .expect("team list")
        .into_inner()
        .star_ratings;
    assert_eq!(listed.len(), 2);
    let history = app
        .recognition_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: awarded.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    assert_eq!(history.len(), 2, "nominated, then awarded");
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn downward_correction_flags_a_star(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "海沧巾帼服务队")
        .await;
    let volunteer = app.register(&admin, &team.name, 31).await;
    let records = app
        .import_whole_hours(&admin, &team.name, &volunteer.name, 100)
        .await;
    let staff = app.token(&app.root, &[Role::Staff]);
    let nomination = app
        .star_ratings(&staff)
        .nominate_star_rating(pb::NominateStarRatingRequest {
            volunteer: volunteer.name.clone(),
            stars: 1,
            period: this_half_year(),
            org_unit: team.name.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("nominates")
        .into_inner()
        .star_rating
        .expect("rating");
    let awarded = app
        .star_ratings(&staff)
        .approve_star_rating(pb::ApproveStarRatingRequest {
            name: nomination.name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves")
        .into_inner()
        .star_rating
        .expect("rating");
    assert!(!awarded.review_required);

    // 24 h become 23 h: the record goes back to review and the star is no longer supported.
    app.service_records(&admin)
        .correct_service_record(egret_proto::activity::v1::CorrectServiceRecordRequest {
            name: records[0].name.clone(),
            minutes: 23 * 60,
            reason: "签到记录有误".to_string(),
        })
        .await
        .expect("corrects");
    // Evaluating catches up with the activity service.
    let evaluation = evaluate(&app, &volunteer.name, None).await;
    assert_eq!(evaluation.approved_minutes, 76 * 60);
    assert_eq!(
        evaluation.awarded_stars, 1,
        "the star is not removed silently"
    );
    let flagged = app
        .star_ratings(&staff)
        .list_star_ratings(pb::ListStarRatingsRequest {
            review_required: true,
            ..Default::default()
        })
        .await
        .expect("lists flagged")
        .into_inner()
        .star_ratings;
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].name, awarded.name);
    assert_eq!(flagged[0].state, pb::StarRatingState::Awarded as i32);
    assert!(
        flagged[0].review_reason.contains(&records[0].name),
        "{}",
        flagged[0].review_reason
    );

    let status = app
        .star_ratings(&staff)
        .resolve_star_rating_review(pb::ResolveStarRatingReviewRequest {
            name: awarded.name.clone(),
            revoke: true,
            comment: String::new(),
        })
        .await
        .expect_err("a reason is required");
    assert_eq!(violated_fields(&status), ["comment"]);
    let revoked = app
        .star_ratings(&staff)
        .resolve_star_rating_review(pb::ResolveStarRatingReviewRequest {
            name: awarded.name.clone(),
            revoke: true,
            comment: "时长更正后不足 100 小时".to_string(),
        })
        .await
        .expect("revokes")
        .into_inner()
        .star_rating
        .expect("rating");
    assert_eq!(revoked.state, pb::StarRatingState::Revoked as i32);
    assert!(!revoked.review_required);
    assert_eq!(evaluate(&app, &volunteer.name, None).await.awarded_stars, 0);
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn rule_sets_are_checked_and_listed(app: TestApp) {
    let admin = app.admin();
    let listed = app
        .rule_sets(&admin)
        .list_rule_sets(pb::ListRuleSetsRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .rule_sets;
    let names: Vec<_> = listed
        .iter()
        .map(|rule_set| rule_set.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["ruleSets/fujian", "ruleSets/national", "ruleSets/xiamen"]
    );
    let national = &listed[1];
    assert_eq!(
        national
            .star_thresholds
            .iter()
            .map(|threshold| threshold.min_hours)
            .collect::<Vec<_>>(),
        [100, 300, 600, 1000, 1500]
    );

    let mut beijing = national.clone();
    beijing.display_name = "北京市志愿者星级认定".to_string();
    beijing.jurisdiction = "beijing".to_string();
    for (threshold, hours) in beijing
        .star_thresholds
        .iter_mut()
        .zip([100, 200, 500, 800, 1000])
    {
        threshold.min_hours = hours;
    }
    let mut bad = beijing.clone();
    bad.star_thresholds[1].min_hours = 50;
    bad.review_period = 0;
    let status = app
        .rule_sets(&admin)
        .create_rule_set(pb::CreateRuleSetRequest {
            rule_set: Some(bad),
            rule_set_id: "beijing".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("bad rules");
    assert_eq!(violated_fields(&status), ["rule_set.review_period"]);
    let mut bad = beijing.clone();
    bad.star_thresholds[1].min_hours = 50;
    let status = app
        .rule_sets(&admin)
        .create_rule_set(pb::CreateRuleSetRequest {
            rule_set: Some(bad),
            rule_set_id: "beijing".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("bad rules");
    assert_eq!(
        violated_fields(&status),
        ["rule_set.star_thresholds[1].min_hours"]
    );
    let status = app
        .rule_sets(&admin)
        .create_rule_set(pb::CreateRuleSetRequest {
            rule_set: Some(beijing.clone()),
            rule_set_id: "Bei Jing".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("bad id");
    assert_eq!(violated_fields(&status), ["rule_set_id"]);
    let created = app
        .rule_sets(&admin)
        .create_rule_set(pb::CreateRuleSetRequest {
            rule_set: Some(beijing.clone()),
            rule_set_id: "beijing".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect("creates")
        .into_inner()
        .rule_set
        .expect("rule set");
    assert_eq!(created.revision, 1);
    assert!(!created.built_in);
    let status = app
        .rule_sets(&admin)
        .create_rule_set(pb::CreateRuleSetRequest {
            rule_set: Some(beijing),
            rule_set_id: "beijing".to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("exists");
    assert_eq!(status.code(), tonic::Code::AlreadyExists);
    // A stale revision is refused.
    let status = app
        .rule_sets(&admin)
        .revise_rule_set(pb::ReviseRuleSetRequest {
            rule_set: Some(created.clone()),
            expected_revision: 7,
            request_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .expect_err("stale");
    assert_eq!(status.code(), tonic::Code::Aborted);
    let status = app
        .rule_sets(&admin)
        .get_rule_set(pb::GetRuleSetRequest {
            name: "ruleSets/shanghai".to_string(),
            revision: 0,
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), tonic::Code::NotFound);
    app.stop().await;
}

both_backends!(
    nomination_approval_and_quota,
    downward_correction_flags_a_star,
    rule_sets_are_checked_and_listed
);
