//! Targets end to end: the founding document's defaults for the root, targets set per unit
//! and year, and progress counted from the registry's data (one person in two teams once).

use egret_proto::registry::v1 as registry_pb;
use egret_proto::reporting::v1 as pb;
use egret_runtime::Role;
use egret_runtime::wire::today;
use egret_tests::{TestApp, both_backends, violated_fields};

async fn team(app: &TestApp, name: &str, level: registry_pb::TeamLevel) -> registry_pb::OrgUnit {
    app.org_units(&app.admin())
        .create_org_unit(registry_pb::CreateOrgUnitRequest {
            parent: app.root.clone(),
            org_unit: Some(registry_pb::OrgUnit {
                tier: registry_pb::Tier::Team as i32,
                display_name: name.to_string(),
                level: level as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("creates a team")
        .into_inner()
        .org_unit
        .expect("unit")
}

async fn progress(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    year: i32,
) -> pb::GetTargetProgressResponse {
    // Progress reads the replica: let the feeds catch up first.
    app.statistics(token)
        .get_overview(pb::GetOverviewRequest {
            catch_up: true,
            ..Default::default()
        })
        .await
        .expect("catches up");
    app.targets(token)
        .get_target_progress(pb::GetTargetProgressRequest {
            org_unit: org_unit.to_string(),
            year,
        })
        .await
        .expect("progress")
        .into_inner()
}

fn level(progress: &[pb::TargetProgress], level: registry_pb::TeamLevel) -> pb::TargetProgress {
    progress
        .iter()
        .find(|found| {
            found
                .target
                .as_ref()
                .is_some_and(|target| target.team_level == level as i32)
        })
        .cloned()
        .unwrap_or_else(|| panic!("{level:?} in {progress:?}"))
}

async fn targets_and_progress(app: TestApp) {
    let admin = app.admin();
    let year = today().year;
    let siming = team(&app, "思明巾帼服务队", registry_pb::TeamLevel::District).await;
    let huli = team(&app, "湖里巾帼服务队", registry_pb::TeamLevel::District).await;
    let city = team(&app, "市直巾帼服务队", registry_pb::TeamLevel::Municipal).await;
    let first = app.register(&admin, &siming.name, 91).await;
    app.register(&admin, &siming.name, 92).await;
    app.register(&admin, &city.name, 93).await;
    app.memberships(&admin)
        .create_membership(registry_pb::CreateMembershipRequest {
            parent: huli.name.clone(),
            volunteer: first.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("joins a second district team");

    // With nothing set, the root has the founding document's targets.
    let viewer = app.token(&app.root, &[Role::Viewer]);
    let defaults = progress(&app, &viewer, "", year).await;
    let district = level(&defaults.progress, registry_pb::TeamLevel::District);
    let target = district.target.as_ref().expect("target");
    assert!(target.default);
    assert_eq!((target.teams, target.volunteers), (2_000, 70_000));
    assert_eq!(
        (district.teams, district.volunteers),
        (2, 2),
        "one person in two teams counts once"
    );
    assert_eq!(district.teams_permille, 1);
    let municipal = level(&defaults.progress, registry_pb::TeamLevel::Municipal);
    assert_eq!((municipal.teams, municipal.volunteers), (1, 1));

    // A target set for the year replaces the default of its level only.
    let staff = app.token(&app.root, &[Role::Staff]);
    let set =
        |org_unit: &str, level: registry_pb::TeamLevel, teams, volunteers| pb::SetTargetRequest {
            target: Some(pb::Target {
                org_unit: org_unit.to_string(),
                year,
                team_level: level as i32,
                teams,
                volunteers,
                ..Default::default()
            }),
        };
    let saved = app
        .targets(&staff)
        .set_target(set("", registry_pb::TeamLevel::Municipal, 2, 4))
        .await
        .expect("sets")
        .into_inner()
        .target
        .expect("target");
    assert_eq!(saved.name, format!("{}/targets/{year}-municipal", app.root));
    assert!(!saved.default);
    let again = app
        .targets(&staff)
        .set_target(set("", registry_pb::TeamLevel::Municipal, 2, 5))
        .await
        .expect("replaces")
        .into_inner()
        .target
        .expect("target");
    assert_eq!(again.metadata.expect("metadata").version, 2);
    app.targets(&staff)
        .set_target(set(&siming.name, registry_pb::TeamLevel::District, 1, 3))
        .await
        .expect("a team's own target");
    let now = progress(&app, &viewer, "", year).await;
    let municipal = level(&now.progress, registry_pb::TeamLevel::Municipal);
    assert!(!municipal.target.as_ref().expect("target").default);
    assert_eq!(
        (municipal.teams_permille, municipal.volunteers_permille),
        (500, 200)
    );
    assert!(
        level(&now.progress, registry_pb::TeamLevel::District)
            .target
            .expect("target")
            .default
    );
    assert_eq!(now.units.len(), 1);
    assert_eq!(
        now.units[0].target.as_ref().expect("target").org_unit,
        siming.name
    );
    assert_eq!((now.units[0].teams, now.units[0].volunteers), (1, 2));
    assert_eq!(now.units[0].volunteers_permille, 666);

    let listed = app
        .targets(&viewer)
        .list_targets(pb::ListTargetsRequest {
            year,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .targets;
    assert_eq!(listed.len(), 2);

    // Leaders do not set targets; bad input names the field; other teams are unknown.
    let leader = app.token(&huli.name, &[Role::TeamLeader]);
    let status = app
        .targets(&leader)
        .set_target(set("", registry_pb::TeamLevel::District, 1, 1))
        .await
        .expect_err("leaders read targets");
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    let status = app
        .targets(&staff)
        .set_target(set("", registry_pb::TeamLevel::Unspecified, -1, 1))
        .await
        .expect_err("bad target");
    assert_eq!(
        violated_fields(&status),
        ["target.team_level", "target.teams"]
    );
    let huli_staff = app.token(&huli.name, &[Role::Staff]);
    let status = app
        .targets(&huli_staff)
        .get_target_progress(pb::GetTargetProgressRequest {
            org_unit: siming.name.clone(),
            year,
        })
        .await
        .expect_err("another team");
    assert_eq!(status.code(), tonic::Code::NotFound);
    app.stop().await;
}

both_backends!(targets_and_progress);
