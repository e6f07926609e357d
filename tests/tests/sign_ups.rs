//! Recruitment: sign-ups with capacity and a waiting list, decisions, cancellations, and
//! the checks a volunteer must pass (active in the registry, old enough, not double-booked).

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, in_hours, violated_fields};
use tonic::Code;

both_backends!(
    waiting_list_moves_up,
    volunteers_are_checked,
    volunteers_sign_themselves_up,
    organizers_act_for_their_own_volunteers,
);

/// Publishes an activity of `team` from `start_hours` for three hours, with one position of
/// `headcount` places and an optional minimum age.
async fn published(
    app: &TestApp,
    token: &str,
    team: &str,
    start_hours: i64,
    headcount: i32,
    minimum_age: i32,
) -> pb::Activity {
    let activity = app
        .activities(token)
        .create_activity(pb::CreateActivityRequest {
            activity: Some(pb::Activity {
                org_unit: team.to_string(),
                display_name: format!("活动 {start_hours}"),
                service_theme: common::ServiceTheme::Care as i32,
                site: Some(pb::ServiceSite {
                    display_name: "妇女之家".to_string(),
                    address: "思明区".to_string(),
                    kind: pb::SiteKind::WomensHome as i32,
                    check_in_fence: None,
                }),
                start_time: in_hours(start_hours),
                end_time: in_hours(start_hours + 3),
                risk_level: pb::RiskLevel::Low as i32,
                positions: vec![pb::Position {
                    role: "陪伴员".to_string(),
                    headcount,
                    minimum_age,
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
    app.activities(token)
        .publish_activity(pb::PublishActivityRequest {
            name: activity.name.clone(),
        })
        .await
        .expect("publishes")
        .into_inner()
        .activity
        .expect("activity")
}

async fn sign_up(
    app: &TestApp,
    token: &str,
    activity: &pb::Activity,
    volunteer: &str,
) -> Result<pb::SignUp, tonic::Status> {
    app.sign_ups(token)
        .create_sign_up(pb::CreateSignUpRequest {
            parent: activity.name.clone(),
            sign_up: Some(pb::SignUp {
                volunteer: volunteer.to_string(),
                position_id: activity.positions[0].position_id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|response| response.into_inner().sign_up.expect("sign-up"))
}

async fn get(app: &TestApp, token: &str, name: &str) -> pb::SignUp {
    app.sign_ups(token)
        .get_sign_up(pb::GetSignUpRequest {
            name: name.to_string(),
        })
        .await
        .expect("gets")
        .into_inner()
        .sign_up
        .expect("sign-up")
}

async fn waiting_list_moves_up(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let activity = published(&app, &leader, &team.name, 48, 1, 0).await;
    let first = app.register(&admin, &team.name, 1).await;
    let second = app.register(&admin, &team.name, 2).await;
    let third = app.register(&admin, &team.name, 3).await;

    let a = sign_up(&app, &leader, &activity, &first.name)
        .await
        .expect("first");
    assert_eq!(a.state, pb::SignUpState::Pending as i32);
    let b = sign_up(&app, &leader, &activity, &second.name)
        .await
        .expect("second");
    assert_eq!(b.state, pb::SignUpState::Waitlisted as i32);
    assert_eq!(b.waitlist_position, 1);
    let c = sign_up(&app, &leader, &activity, &third.name)
        .await
        .expect("third");
    assert_eq!(c.waitlist_position, 2);

    // A second sign-up of the same volunteer is refused.
    let status = sign_up(&app, &leader, &activity, &first.name)
        .await
        .expect_err("twice");
    assert_eq!(status.code(), Code::AlreadyExists);

    // Waitlisted sign-ups cannot be approved: capacity holds.
    let status = app
        .sign_ups(&leader)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: b.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("over capacity");
    assert_eq!(status.code(), Code::FailedPrecondition);

    let approved = app
        .sign_ups(&leader)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: a.name.clone(),
            comment: "欢迎".to_string(),
        })
        .await
        .expect("approves")
        .into_inner()
        .sign_up
        .expect("sign-up");
    assert_eq!(approved.state, pb::SignUpState::Approved as i32);

    // Cancelling the approved one moves the oldest waitlisted up.
    app.sign_ups(&leader)
        .cancel_sign_up(pb::CancelSignUpRequest {
            name: a.name.clone(),
            reason: "临时有事".to_string(),
        })
        .await
        .expect("cancels");
    assert_eq!(
        get(&app, &leader, &b.name).await.state,
        pb::SignUpState::Pending as i32
    );
    let still_waiting = get(&app, &leader, &c.name).await;
    assert_eq!(still_waiting.state, pb::SignUpState::Waitlisted as i32);
    assert_eq!(still_waiting.waitlist_position, 1);

    // Rejection needs a comment.
    let status = app
        .sign_ups(&leader)
        .reject_sign_up(pb::RejectSignUpRequest {
            name: b.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("no comment");
    assert_eq!(violated_fields(&status), ["comment"]);
    app.sign_ups(&leader)
        .reject_sign_up(pb::RejectSignUpRequest {
            name: b.name.clone(),
            comment: "岗位已满".to_string(),
        })
        .await
        .expect("rejects");
    assert_eq!(
        get(&app, &leader, &c.name).await.state,
        pb::SignUpState::Pending as i32
    );
    app.stop().await;
}

async fn volunteers_are_checked(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let volunteer = app.register(&admin, &team.name, 4).await;

    // Double booking: two overlapping activities.
    let morning = published(&app, &leader, &team.name, 24, 5, 0).await;
    let overlapping = published(&app, &leader, &team.name, 25, 5, 0).await;
    sign_up(&app, &leader, &morning, &volunteer.name)
        .await
        .expect("first booking");
    let status = sign_up(&app, &leader, &overlapping, &volunteer.name)
        .await
        .expect_err("double booked");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let later = published(&app, &leader, &team.name, 30, 5, 0).await;
    sign_up(&app, &leader, &later, &volunteer.name)
        .await
        .expect("no overlap");

    // Minimum age: resident_id(seed) puts births in 1960–1999, so 100 is out of reach.
    let elders_only = published(&app, &leader, &team.name, 72, 5, 100).await;
    let status = sign_up(&app, &leader, &elders_only, &volunteer.name)
        .await
        .expect_err("too young");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // A volunteer made inactive in the registry can no longer sign up.
    let inactive = app.register(&admin, &team.name, 5).await;
    app.volunteers(&admin)
        .update_volunteer(registry::UpdateVolunteerRequest {
            volunteer: Some(registry::Volunteer {
                name: inactive.name.clone(),
                status: registry::VolunteerStatus::Inactive as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect("deactivates");
    let status = sign_up(&app, &leader, &later, &inactive.name)
        .await
        .expect_err("inactive");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // An unknown volunteer is not found.
    let status = sign_up(
        &app,
        &leader,
        &later,
        "volunteers/01a2249c-0000-7000-8000-000000000000",
    )
    .await
    .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    app.stop().await;
}

async fn volunteers_sign_themselves_up(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "集美区")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let activity = published(&app, &leader, &team.name, 24, 3, 0).await;
    let volunteer = app.register(&admin, &team.name, 6).await;
    let other = app.register(&admin, &team.name, 7).await;
    let own = app.volunteer_token(&app.root, &volunteer.name);

    let mine = sign_up(&app, &own, &activity, &volunteer.name)
        .await
        .expect("signs itself up");
    let status = sign_up(&app, &own, &activity, &other.name)
        .await
        .expect_err("someone else");
    assert_eq!(status.code(), Code::PermissionDenied);
    let listed = app
        .sign_ups(&own)
        .list_sign_ups(pb::ListSignUpsRequest {
            parent: "activities/-".to_string(),
            volunteer: volunteer.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists its own")
        .into_inner()
        .sign_ups;
    assert_eq!(listed.len(), 1);
    let status = app
        .sign_ups(&own)
        .approve_sign_up(pb::ApproveSignUpRequest {
            name: mine.name.clone(),
            comment: String::new(),
        })
        .await
        .expect_err("cannot approve itself");
    assert_eq!(status.code(), Code::PermissionDenied);
    let cancelled = app
        .sign_ups(&own)
        .cancel_sign_up(pb::CancelSignUpRequest {
            name: mine.name.clone(),
            reason: String::new(),
        })
        .await
        .expect("cancels its own")
        .into_inner()
        .sign_up
        .expect("sign-up");
    assert_eq!(cancelled.state, pb::SignUpState::Cancelled as i32);
    app.stop().await;
}

/// An organizer signs up only volunteers serving in its subtree; another district's
/// volunteer is answered as unknown, though she may sign herself up.
async fn organizers_act_for_their_own_volunteers(app: TestApp) {
    let admin = app.admin();
    let siming = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "思明区")
        .await;
    let huli = app
        .create_unit(&admin, &app.root, registry::Tier::Team, "湖里区")
        .await;
    let leader = app.token(&siming.name, &[Role::TeamLeader]);
    let activity = published(&app, &leader, &siming.name, 24, 5, 0).await;
    let neighbour = app.register(&admin, &huli.name, 8).await;
    let status = sign_up(&app, &leader, &activity, &neighbour.name)
        .await
        .expect_err("another district's volunteer");
    assert_eq!(status.code(), Code::NotFound);
    let unknown = sign_up(
        &app,
        &leader,
        &activity,
        "volunteers/01a2249c-0000-7000-8000-000000000000",
    )
    .await
    .expect_err("unknown");
    assert_eq!(
        status.message().replace(&neighbour.name, ""),
        unknown
            .message()
            .replace("volunteers/01a2249c-0000-7000-8000-000000000000", "")
    );
    // Once she joins a Siming team, the leader may act for her.
    app.memberships(&admin)
        .create_membership(registry::CreateMembershipRequest {
            parent: siming.name.clone(),
            volunteer: neighbour.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("joins");
    sign_up(&app, &leader, &activity, &neighbour.name)
        .await
        .expect("now a member");
    // She can always sign herself up.
    let other_activity = published(&app, &leader, &siming.name, 48, 5, 0).await;
    let stranger = app.register(&admin, &huli.name, 9).await;
    sign_up(
        &app,
        &app.volunteer_token(&app.root, &stranger.name),
        &other_activity,
        &stranger.name,
    )
    .await
    .expect("signs herself up");
    app.stop().await;
}
