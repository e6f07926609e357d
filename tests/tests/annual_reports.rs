//! The annual-report workflow (年报) end to end: a year opened with a deadline, a team's
//! report with figures from the data, returned and submitted again, approved by the unit
//! above; progress, dormant teams, the compiled report, and team stars that see the report.

use egret_proto::recognition::v1 as recognition_pb;
use egret_proto::registry::v1 as registry_pb;
use egret_proto::reporting::v1 as pb;
use egret_runtime::Role;
use egret_runtime::wire::{date_to_wire as wire, today};
use egret_tests::{TestApp, both_backends, violated_fields};
use egret_types::CivilDate;

fn report<T>(
    response: tonic::Response<T>,
    pick: impl FnOnce(T) -> Option<pb::AnnualReport>,
) -> pb::AnnualReport {
    pick(response.into_inner()).expect("report")
}

async fn annual_report_workflow(app: TestApp) {
    let admin = app.admin();
    let today = today();
    let year = today.year - 1;
    let team = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "思明巾帼服务队")
        .await;
    let idle = app
        .create_unit(&admin, &app.root, registry_pb::Tier::Team, "翔安巾帼服务队")
        .await;
    let volunteer = app.register(&admin, &team.name, 81).await;
    let mid_year = CivilDate::new(year, 6, 1).unwrap();
    let days_ago = today.to_days() - mid_year.to_days();
    app.import_hours(
        &admin,
        &team.name,
        &volunteer.name,
        &[(days_ago, 300), (days_ago + 1, 120)],
    )
    .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let team_staff = app.token(&team.name, &[Role::Staff]);
    let root_staff = app.token(&app.root, &[Role::Staff]);
    let name = format!("{}/annualReports/{year}", team.name);

    // Before anything is written the team sees a draft with its figures filled in.
    let draft = report(
        app.annual_reports(&leader)
            .get_annual_report(pb::GetAnnualReportRequest { name: name.clone() })
            .await
            .expect("a draft"),
        |response| response.annual_report,
    );
    assert_eq!(draft.state, pb::AnnualReportState::Draft as i32);
    assert!(draft.metadata.is_none(), "not stored yet");
    let figures = draft.figures.expect("figures");
    assert_eq!(figures.approved_minutes, 420);
    assert_eq!(figures.service_records, 2);
    // Registered this year, the volunteer was no member at last year's end: hours imported
    // for last year count, membership does not.
    assert_eq!(figures.members, 0);
    let status = app
        .annual_reports(&leader)
        .get_annual_report(pb::GetAnnualReportRequest {
            name: format!("{}/annualReports/{year}", idle.name),
        })
        .await
        .expect_err("another team's report");
    assert_eq!(status.code(), tonic::Code::NotFound);
    let status = app
        .annual_reports(&leader)
        .get_annual_report(pb::GetAnnualReportRequest {
            name: format!("{}/annualReports/last", team.name),
        })
        .await
        .expect_err("not a year");
    assert_eq!(violated_fields(&status), ["name"]);

    let write = |highlights: &str, plans: &str, paths: &[&str]| pb::UpdateAnnualReportRequest {
        annual_report: Some(pb::AnnualReport {
            name: name.clone(),
            highlights: highlights.to_string(),
            plans: plans.to_string(),
            service_features: "关爱独居老人".to_string(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|path| path.to_string()).collect(),
        }),
        expected_version: 0,
    };
    app.annual_reports(&leader)
        .update_annual_report(write(
            "全年开展助老服务",
            "",
            &["highlights", "service_features"],
        ))
        .await
        .expect("writes the narrative");
    // The year is not open yet.
    let submit = pb::SubmitAnnualReportRequest { name: name.clone() };
    let status = app
        .annual_reports(&leader)
        .submit_annual_report(submit.clone())
        .await
        .expect_err("the year is not open");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
    let open = pb::OpenReportingYearRequest {
        year,
        deadline: Some(wire(today.add_days(30))),
    };
    let status = app
        .annual_reports(&leader)
        .open_reporting_year(open)
        .await
        .expect_err("only the root's admin opens a year");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    app.annual_reports(&admin)
        .open_reporting_year(open)
        .await
        .expect("opens the year");

    let submitted = report(
        app.annual_reports(&leader)
            .submit_annual_report(submit.clone())
            .await
            .expect("submits"),
        |response| response.annual_report,
    );
    assert_eq!(submitted.state, pb::AnnualReportState::Submitted as i32);
    assert!(submitted.submit_time.is_some());
    // The team cannot review itself.
    let status = app
        .annual_reports(&team_staff)
        .approve_annual_report(pb::ApproveAnnualReportRequest {
            name: name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("own report");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = app
        .annual_reports(&root_staff)
        .return_annual_report(pb::ReturnAnnualReportRequest {
            name: name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("a return says why");
    assert_eq!(violated_fields(&status), ["comment"]);
    let returned = report(
        app.annual_reports(&root_staff)
            .return_annual_report(pb::ReturnAnnualReportRequest {
                name: name.clone(),
                comment: "请补充来年计划".to_string(),
            })
            .await
            .expect("returns"),
        |response| response.annual_report,
    );
    assert_eq!(returned.state, pb::AnnualReportState::Returned as i32);
    assert_eq!(returned.review_comment, "请补充来年计划");

    app.annual_reports(&leader)
        .update_annual_report(write("", "扩大服务范围", &["plans"]))
        .await
        .expect("corrects");
    app.annual_reports(&leader)
        .submit_annual_report(submit)
        .await
        .expect("submits again");
    let approved = report(
        app.annual_reports(&root_staff)
            .approve_annual_report(pb::ApproveAnnualReportRequest {
                name: name.clone(),
                comment: "同意".to_string(),
            })
            .await
            .expect("approves"),
        |response| response.annual_report,
    );
    assert_eq!(approved.state, pb::AnnualReportState::Approved as i32);
    assert_eq!(approved.plans, "扩大服务范围");
    assert_eq!(approved.highlights, "全年开展助老服务");
    let status = app
        .annual_reports(&leader)
        .update_annual_report(write("改动", "", &["highlights"]))
        .await
        .expect_err("approved reports stay as they are");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);

    // Progress: two teams, one approved, none overdue before the deadline.
    let progress = app
        .annual_reports(&root_staff)
        .get_reporting_progress(pb::GetReportingProgressRequest {
            org_unit: String::new(),
            year,
        })
        .await
        .expect("progress")
        .into_inner();
    let total = progress.total.expect("total");
    assert_eq!((total.teams, total.approved, total.overdue), (2, 1, 0));
    let by_team = |unit: &str| {
        progress
            .units
            .iter()
            .find(|progress| progress.org_unit == unit)
            .cloned()
            .unwrap_or_else(|| panic!("{unit} in {:?}", progress.units))
    };
    assert_eq!(by_team(&team.name).approved, 1);
    assert_eq!(by_team(&idle.name).approved, 0);
    assert_eq!(progress.deadline, Some(wire(today.add_days(30))));

    let compiled = app
        .annual_reports(&admin)
        .get_compiled_report(pb::GetCompiledReportRequest {
            org_unit: String::new(),
            year,
        })
        .await
        .expect("compiled")
        .into_inner();
    assert_eq!(compiled.teams, 2);
    assert_eq!(compiled.approved_reports, 1);
    assert_eq!(compiled.reported.expect("reported").approved_minutes, 420);
    assert_eq!(compiled.counted.expect("counted").approved_minutes, 420);
    assert_eq!(compiled.approved[0].highlights, "全年开展助老服务");

    // The idle team has done nothing in two years; the other served last year.
    let dormant = app
        .annual_reports(&root_staff)
        .list_dormant_teams(pb::ListDormantTeamsRequest {
            months: 24,
            ..Default::default()
        })
        .await
        .expect("dormant teams")
        .into_inner()
        .teams;
    assert_eq!(
        dormant
            .iter()
            .map(|team| team.org_unit.as_str())
            .collect::<Vec<_>>(),
        [idle.name.as_str()]
    );
    assert!(dormant[0].last_active_date.is_none());

    let history = app
        .reporting_records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    assert_eq!(
        history.len(),
        6,
        "written, submitted, returned, written, submitted, approved"
    );

    // Team stars see the submitted report, through the reporting service's change log.
    let evaluation = app
        .star_ratings(&root_staff)
        .evaluate_team(recognition_pb::EvaluateTeamRequest {
            org_unit: team.name.clone(),
            year,
        })
        .await
        .expect("evaluates the team")
        .into_inner()
        .evaluation
        .expect("evaluation");
    let report_check = evaluation.levels[2]
        .criteria
        .iter()
        .find(|check| check.criterion == "annual_report_submitted")
        .expect("criterion");
    assert_eq!(report_check.value, 1.0);
    assert!(report_check.met);
    app.stop().await;
}

both_backends!(annual_report_workflow);
