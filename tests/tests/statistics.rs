//! Reporting end to end, with every service running: figures equal counts made directly
//! from what the test created, after creates, membership and status changes, corrections
//! and records for past months arriving late; one person in two teams counted once; the
//! rollup right after a restart mid-feed.

use egret_proto::activity::v1 as activity_pb;
use egret_proto::registry::v1 as registry_pb;
use egret_proto::reporting::v1 as pb;
use egret_runtime::Role;
use egret_runtime::wire::{date_to_wire as wire, today};
use egret_tests::{Backend, TestApp, both_backends, days_before, violated_fields};
use egret_types::CivilDate;

fn month_of(date: CivilDate) -> String {
    format!("{:04}-{:02}", date.year, date.month)
}

async fn query(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    metric: pb::Metric,
    dimensions: &[pb::Dimension],
) -> pb::QueryStatisticsResponse {
    app.statistics(token)
        .query_statistics(pb::QueryStatisticsRequest {
            org_unit: org_unit.to_string(),
            metric: metric as i32,
            dimensions: dimensions
                .iter()
                .map(|dimension| *dimension as i32)
                .collect(),
            catch_up: true,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("{metric:?} by {dimensions:?}: {status:?}"))
        .into_inner()
}

fn bucket(response: &pb::QueryStatisticsResponse, keys: &[&str]) -> i64 {
    response
        .buckets
        .iter()
        .find(|bucket| bucket.keys == keys)
        .map_or(0, |bucket| bucket.value)
}

async fn figures_match_the_data(app: TestApp) {
    let admin = app.admin();
    let team_a = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "思明巾帼服务队")
        .await;
    let sub_a = app
        .create_unit(
            &admin,
            &team_a.name,
            registry_pb::Tier::SubTeam,
            "思明一分队",
        )
        .await;
    let team_b = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "湖里巾帼服务队")
        .await;
    let first = app.register(&admin, &team_a.name, 61).await;
    let second = app.register(&admin, &sub_a.name, 62).await;
    let third = app.register(&admin, &team_b.name, 63).await;
    // The first volunteer serves in team B too: one person, two teams.
    app.memberships(&admin)
        .create_membership(registry_pb::CreateMembershipRequest {
            parent: team_b.name.clone(),
            volunteer: first.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("joins team B");

    let today = today();
    let first_records = app
        .import_hours(&admin, &team_a.name, &first.name, &[(1, 120), (2, 60)])
        .await;
    app.import_hours(&admin, &sub_a.name, &second.name, &[(1, 45)])
        .await;
    app.import_hours(&admin, &team_b.name, &third.name, &[(3, 30)])
        .await;
    // A correction: 120 become 90, through review again.
    app.service_records(&admin)
        .correct_service_record(activity_pb::CorrectServiceRecordRequest {
            name: first_records[0].name.clone(),
            minutes: 90,
            reason: "签退时间有误".to_string(),
        })
        .await
        .expect("corrects");
    app.service_records(&admin)
        .approve_service_record(activity_pb::ApproveServiceRecordRequest {
            name: first_records[0].name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves again");
    // A record of a past month arrives late, after everything else.
    let long_ago = days_before(today, 70);
    app.import_hours(&admin, &team_b.name, &third.name, &[(70, 200)])
        .await;
    // Team B is suspended.
    app.org_units(&admin)
        .suspend_org_unit(registry_pb::SuspendOrgUnitRequest {
            name: team_b.name.clone(),
            reason: "整改".to_string(),
        })
        .await
        .expect("suspends");

    // Insurance: team A's subtree is covered (the first and the second volunteer); the
    // third is named on a policy of team B; a cancelled or future policy covers nobody.
    let policy = |org_unit: &str, number: &str, covers_subtree, insured: Vec<String>, from: i64| {
        activity_pb::CreateInsurancePolicyRequest {
            insurance_policy: Some(activity_pb::InsurancePolicy {
                org_unit: org_unit.to_string(),
                insurer: "中国人寿".to_string(),
                policy_number: number.to_string(),
                cover: "意外身故、意外医疗".to_string(),
                sum_insured_fen: 50_000_000,
                start_date: Some(wire(today.add_days(from))),
                end_date: Some(wire(today.add_days(from + 365))),
                covers_subtree,
                insured_volunteers: insured,
                ..Default::default()
            }),
            request_id: String::new(),
        }
    };
    app.insurance(&admin)
        .create_insurance_policy(policy(&team_a.name, "P-A", true, Vec::new(), -1))
        .await
        .expect("a subtree policy");
    app.insurance(&admin)
        .create_insurance_policy(policy(
            &team_b.name,
            "P-B",
            false,
            vec![third.name.clone()],
            -1,
        ))
        .await
        .expect("a named policy");
    app.insurance(&admin)
        .create_insurance_policy(policy(&app.root, "P-LATER", true, Vec::new(), 30))
        .await
        .expect("a policy from next month");

    let viewer = app.token(&app.root, &[Role::Viewer]);
    let insured = query(&app, &viewer, "", pb::Metric::InsuredVolunteers, &[]).await;
    assert_eq!(insured.total, 3);
    let insured_in_b = query(
        &app,
        &viewer,
        &team_b.name,
        pb::Metric::InsuredVolunteers,
        &[],
    )
    .await;
    assert_eq!(
        insured_in_b.total, 2,
        "the third by name, the first through team A's policy"
    );
    // Teams: A and its sub-team are active, B suspended.
    let teams = query(&app, &viewer, "", pb::Metric::Teams, &[pb::Dimension::Tier]).await;
    assert_eq!(teams.total, 2);
    assert_eq!(bucket(&teams, &["team"]), 1);
    assert_eq!(bucket(&teams, &["sub_team"]), 1);
    let by_status = query(
        &app,
        &viewer,
        "",
        pb::Metric::Teams,
        &[pb::Dimension::OrgStatus],
    )
    .await;
    assert_eq!(by_status.total, 3);
    assert_eq!(bucket(&by_status, &["active"]), 2);
    assert_eq!(bucket(&by_status, &["suspended"]), 1);

    // Volunteers: three people; by unit, A counts the first and the second (its
    // sub-team), B the first and the third; the total counts the first once.
    let volunteers = query(
        &app,
        &viewer,
        "",
        pb::Metric::Volunteers,
        &[pb::Dimension::OrgUnit],
    )
    .await;
    assert_eq!(volunteers.total, 3);
    assert_eq!(bucket(&volunteers, &[&team_a.name]), 2);
    assert_eq!(bucket(&volunteers, &[&team_b.name]), 2);
    let in_b = query(&app, &viewer, &team_b.name, pb::Metric::Volunteers, &[]).await;
    assert_eq!(in_b.total, 2);
    let by_gender = query(
        &app,
        &viewer,
        "",
        pb::Metric::Volunteers,
        &[pb::Dimension::Gender],
    )
    .await;
    let expected_female = [&first, &second, &third]
        .iter()
        .filter(|volunteer| volunteer.gender == registry_pb::Gender::Female as i32)
        .count() as i64;
    assert_eq!(bucket(&by_gender, &["female"]), expected_female);
    assert_eq!(
        by_gender
            .buckets
            .iter()
            .map(|bucket| bucket.value)
            .sum::<i64>(),
        3
    );

    // Hours: 90 + 60 + 45 + 30 + 200 approved minutes in five records.
    let minutes = query(
        &app,
        &viewer,
        "",
        pb::Metric::ApprovedMinutes,
        &[pb::Dimension::OrgUnit],
    )
    .await;
    assert_eq!(minutes.total, 90 + 60 + 45 + 30 + 200);
    assert_eq!(bucket(&minutes, &[&team_a.name]), 90 + 60 + 45);
    assert_eq!(bucket(&minutes, &[&team_b.name]), 30 + 200);
    let records = query(&app, &viewer, "", pb::Metric::ServiceRecords, &[]).await;
    assert_eq!(records.total, 5);
    let by_month = query(
        &app,
        &viewer,
        "",
        pb::Metric::ApprovedMinutes,
        &[pb::Dimension::Month],
    )
    .await;
    assert_eq!(bucket(&by_month, &[&month_of(long_ago)]), 200);
    let series = app
        .statistics(&viewer)
        .get_monthly_series(pb::GetMonthlySeriesRequest {
            metric: pb::Metric::ApprovedMinutes as i32,
            start_date: Some(wire(days_before(today, 100))),
            end_date: Some(wire(today)),
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("series")
        .into_inner()
        .points;
    assert!(series.len() >= 4, "{series:?}");
    assert_eq!(
        series.iter().map(|point| point.value).sum::<i64>(),
        90 + 60 + 45 + 30 + 200
    );
    // Filters: team A's minutes by month, and the female volunteers of the whole tree.
    let filtered = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: pb::Metric::ApprovedMinutes as i32,
            dimensions: vec![pb::Dimension::Month as i32],
            filters: vec![pb::Filter {
                dimension: pb::Dimension::OrgUnit as i32,
                values: vec![team_a.name.clone()],
            }],
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(filtered.total, 90 + 60 + 45);
    assert_eq!(
        filtered
            .buckets
            .iter()
            .map(|bucket| bucket.value)
            .sum::<i64>(),
        90 + 60 + 45
    );
    let women = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: pb::Metric::Volunteers as i32,
            filters: vec![pb::Filter {
                dimension: pb::Dimension::Gender as i32,
                values: vec!["female".to_string()],
            }],
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("women")
        .into_inner();
    assert_eq!(women.total, expected_female);
    let status = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: pb::Metric::Volunteers as i32,
            filters: vec![pb::Filter {
                dimension: pb::Dimension::Gender as i32,
                values: vec!["unknown".to_string()],
            }],
            ..Default::default()
        })
        .await
        .expect_err("not a gender");
    assert_eq!(violated_fields(&status), ["filters[0].values[0]"]);

    // A period that leaves the late record out.
    let recent = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: pb::Metric::ApprovedMinutes as i32,
            start_date: Some(wire(days_before(today, 10))),
            end_date: Some(wire(today)),
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("recent")
        .into_inner();
    assert_eq!(recent.total, 90 + 60 + 45 + 30);

    let overview = app
        .statistics(&viewer)
        .get_overview(pb::GetOverviewRequest {
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("overview")
        .into_inner();
    assert_eq!(overview.teams, 2);
    assert_eq!(overview.volunteers, 3);
    assert_eq!(overview.approved_minutes, 425);
    assert_eq!(overview.service_records, 5);
    assert_eq!(
        overview
            .volunteers_by_age_band
            .iter()
            .map(|bucket| bucket.value)
            .sum::<i64>(),
        3
    );

    // A team sees its own subtree only; another unit's is unknown to it.
    let leader_b = app.token(&team_b.name, &[Role::TeamLeader]);
    let status = app
        .statistics(&leader_b)
        .query_statistics(pb::QueryStatisticsRequest {
            org_unit: team_a.name.clone(),
            metric: pb::Metric::Volunteers as i32,
            ..Default::default()
        })
        .await
        .expect_err("another team");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let volunteer = app.volunteer_token(&team_a.name, &first.name);
    let status = app
        .statistics(&volunteer)
        .get_overview(pb::GetOverviewRequest::default())
        .await
        .expect_err("volunteers read their own figures elsewhere");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    // Bad queries name the field.
    let status = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest {
            metric: pb::Metric::Teams as i32,
            dimensions: vec![pb::Dimension::Gender as i32],
            ..Default::default()
        })
        .await
        .expect_err("gender of teams");
    assert_eq!(violated_fields(&status), ["dimensions[0]"]);
    let status = app
        .statistics(&viewer)
        .query_statistics(pb::QueryStatisticsRequest::default())
        .await
        .expect_err("no metric");
    assert_eq!(violated_fields(&status), ["metric"]);

    let feeds = app
        .statistics(&viewer)
        .get_feed_status(pb::GetFeedStatusRequest::default())
        .await
        .expect("feed status")
        .into_inner()
        .feeds;
    assert_eq!(
        feeds
            .iter()
            .map(|feed| feed.feed.as_str())
            .collect::<Vec<_>>(),
        ["registry", "activity", "recognition"]
    );
    for feed in &feeds {
        assert!(
            feed.applied_sequence > 0 || feed.feed == "recognition",
            "{feed:?}"
        );
        assert_eq!(feed.lag, 0, "{feed:?}");
        assert!(feed.last_error.is_empty(), "{feed:?}");
    }
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn restart_mid_feed(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "集美巾帼服务队")
        .await;
    let volunteer = app.register(&admin, &team.name, 71).await;
    app.import_hours(&admin, &team.name, &volunteer.name, &[(1, 100), (2, 50)])
        .await;
    // Another reporting process on the same database applies the first part and stops.
    let config = app.config().clone();
    let other = egret_reporting::Reporting::open(&config.common, &config.reporting, app.address)
        .await
        .expect("a second reporting process opens");
    other.catch_up().await.expect("applies the first part");
    let applied = other.followers()[1]
        .status()
        .await
        .expect("status")
        .applied_sequence;
    assert!(
        applied > 0,
        "the other process applied the activity feed's first part"
    );
    other.database().close().await;
    // More arrives, including a correction of what the other process applied.
    let more = app
        .import_hours(&admin, &team.name, &volunteer.name, &[(3, 70)])
        .await;
    app.service_records(&admin)
        .correct_service_record(activity_pb::CorrectServiceRecordRequest {
            name: more[0].name.clone(),
            minutes: 20,
            reason: "更正".to_string(),
        })
        .await
        .expect("corrects");
    app.service_records(&admin)
        .approve_service_record(activity_pb::ApproveServiceRecordRequest {
            name: more[0].name.clone(),
            comment: String::new(),
        })
        .await
        .expect("approves");
    // The instance's own process resumes from the checkpoint the other left.
    let viewer = app.token(&app.root, &[Role::Viewer]);
    let minutes = query(&app, &viewer, &team.name, pb::Metric::ApprovedMinutes, &[]).await;
    assert_eq!(
        minutes.total,
        100 + 50 + 20,
        "nothing lost, nothing doubled"
    );
    let records = query(&app, &viewer, &team.name, pb::Metric::ServiceRecords, &[]).await;
    assert_eq!(records.total, 3);
    // And a third process that catches up again changes nothing.
    let third = egret_reporting::Reporting::open(&config.common, &config.reporting, app.address)
        .await
        .expect("a third reporting process opens");
    third.catch_up().await.expect("nothing left to apply");
    third.database().close().await;
    let again = query(&app, &viewer, &team.name, pb::Metric::ApprovedMinutes, &[]).await;
    assert_eq!(again.total, 170);
    app.assert_tallies_recount().await;
    app.stop().await;
}

both_backends!(figures_match_the_data);

/// An instance whose own reporting process polls only when asked, so that the test decides
/// who applies which part of the feed.
async fn without_polling(backend: Backend, name: &str) -> Option<TestApp> {
    TestApp::spawn_with(backend, name, |config| {
        config.reporting.poll_interval = std::time::Duration::from_secs(3600);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_feed_sqlite() {
    if let Some(app) = without_polling(Backend::Sqlite, "restart_mid_feed::sqlite").await {
        restart_mid_feed(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_feed_postgres() {
    if let Some(app) = without_polling(Backend::Postgres, "restart_mid_feed::postgres").await {
        restart_mid_feed(app).await;
    }
}
