//! Memberships, join applications, the change history (动态管理) and the change log, end to
//! end over real gRPC clients, plus the cross-district refusals (a principal acts only within its subtree, and only as its roles allow).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as pb;
use egret_proto::sync::v1 as sync_pb;
use egret_runtime::Role;
use egret_tests::{
    TestApp, both_backends, chinese_message, record_text, resident_id, violated_fields,
    volunteer_input,
};
use tonic::Code;

both_backends!(
    membership_lifecycle,
    join_applications,
    org_unit_change_history,
    volunteer_change_history_is_masked,
    change_log_is_complete_ordered_and_minimised,
    change_log_under_concurrent_writers,
    change_log_access_and_bounds,
    other_districts_are_not_found,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The status of a call that must fail with `code`.
fn expect_code<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    what: &str,
) -> tonic::Status {
    match result {
        Ok(response) => panic!("{what}: expected {code:?}, got {:?}", response.into_inner()),
        Err(status) => {
            assert_eq!(status.code(), code, "{what}: {status:?}");
            status
        }
    }
}

/// The status of a call that must fail with INVALID_ARGUMENT naming `field`.
fn expect_invalid<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
    field: &str,
    what: &str,
) {
    let status = expect_code(result, Code::InvalidArgument, what);
    let fields = violated_fields(&status);
    assert!(
        fields.iter().any(|violated| violated == field),
        "{what}: expected a violation of {field}, got {fields:?}"
    );
    assert!(
        chinese_message(&status).is_some(),
        "{what}: a zh-CN message is expected: {status:?}"
    );
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn random_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Every membership of a listing, following page tokens.
async fn list_memberships(
    app: &TestApp,
    token: &str,
    parent: &str,
    volunteer: &str,
    state: pb::MembershipState,
) -> Vec<pb::Membership> {
    let mut client = app.memberships(token);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_memberships(pb::ListMembershipsRequest {
                parent: parent.to_string(),
                volunteer: volunteer.to_string(),
                state: state as i32,
                page_size: 2,
                page_token: page_token.clone(),
            })
            .await
            .unwrap_or_else(|status| panic!("listing memberships of {parent}: {status:?}"))
            .into_inner();
        assert!(page.memberships.len() <= 2, "page size respected");
        all.extend(page.memberships);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// Every join application of a unit in `state`.
async fn list_applications(
    app: &TestApp,
    token: &str,
    parent: &str,
    state: pb::JoinApplicationState,
) -> Vec<pb::JoinApplication> {
    app.memberships(token)
        .list_join_applications(pb::ListJoinApplicationsRequest {
            parent: parent.to_string(),
            state: state as i32,
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("listing applications of {parent}: {status:?}"))
        .into_inner()
        .join_applications
}

async fn apply(
    app: &TestApp,
    token: &str,
    parent: &str,
    volunteer: &str,
    request_id: &str,
) -> Result<pb::JoinApplication, tonic::Status> {
    app.memberships(token)
        .create_join_application(pb::CreateJoinApplicationRequest {
            parent: parent.to_string(),
            join_application: Some(pb::JoinApplication {
                volunteer: volunteer.to_string(),
                message: "我想加入贵队参加服务".to_string(),
                ..Default::default()
            }),
            request_id: request_id.to_string(),
        })
        .await
        .map(|response| {
            response
                .into_inner()
                .join_application
                .expect("application in response")
        })
}

async fn get_application(app: &TestApp, token: &str, name: &str) -> pb::JoinApplication {
    app.memberships(token)
        .get_join_application(pb::GetJoinApplicationRequest {
            name: name.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("getting {name}: {status:?}"))
        .into_inner()
        .join_application
        .expect("application in response")
}

async fn approve(
    app: &TestApp,
    token: &str,
    name: &str,
    comment: &str,
) -> Result<tonic::Response<pb::ApproveJoinApplicationResponse>, tonic::Status> {
    app.memberships(token)
        .approve_join_application(pb::ApproveJoinApplicationRequest {
            name: name.to_string(),
            comment: comment.to_string(),
        })
        .await
}

async fn reject(
    app: &TestApp,
    token: &str,
    name: &str,
    comment: &str,
) -> Result<tonic::Response<pb::RejectJoinApplicationResponse>, tonic::Status> {
    app.memberships(token)
        .reject_join_application(pb::RejectJoinApplicationRequest {
            name: name.to_string(),
            comment: comment.to_string(),
        })
        .await
}

async fn withdraw(
    app: &TestApp,
    token: &str,
    name: &str,
) -> Result<tonic::Response<pb::WithdrawJoinApplicationResponse>, tonic::Status> {
    app.memberships(token)
        .withdraw_join_application(pb::WithdrawJoinApplicationRequest {
            name: name.to_string(),
        })
        .await
}

/// The whole change history of `resource`, in pages of `page_size`.
async fn history(
    app: &TestApp,
    token: &str,
    resource: &str,
    page_size: i32,
) -> Vec<common::ChangeRecord> {
    let mut client = app.records(token);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: resource.to_string(),
                page_size,
                page_token: page_token.clone(),
            })
            .await
            .unwrap_or_else(|status| panic!("history of {resource}: {status:?}"))
            .into_inner();
        if page_size > 0 {
            assert!(
                page.change_records.len() <= page_size as usize,
                "page of {} > {page_size}",
                page.change_records.len()
            );
        }
        all.extend(page.change_records);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// Reads the change log from `after` until caught up, in pages of `page_size`; checks every
/// page's own invariants on the way.
async fn read_change_log(
    app: &TestApp,
    token: &str,
    after: i64,
    page_size: i32,
) -> Vec<sync_pb::Change> {
    let mut client = app.change_log("registry", token);
    let mut all = Vec::new();
    let mut after_sequence = after;
    loop {
        let page = client
            .list_changes(sync_pb::ListChangesRequest {
                after_sequence,
                page_size,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|status| panic!("change log after {after_sequence}: {status:?}"))
            .into_inner();
        assert!(
            page.changes.len() <= page_size as usize,
            "a page holds at most {page_size}"
        );
        let expected_last = page
            .changes
            .last()
            .map_or(after_sequence, |entry| entry.sequence);
        assert_eq!(page.last_sequence, expected_last, "last_sequence");
        assert!(
            page.head_sequence >= page.last_sequence,
            "head {} behind last {}",
            page.head_sequence,
            page.last_sequence
        );
        if page.changes.is_empty() {
            assert_eq!(
                page.last_sequence, page.head_sequence,
                "an empty page means caught up"
            );
        }
        all.extend(page.changes);
        after_sequence = page.last_sequence;
        if page.last_sequence == page.head_sequence {
            return all;
        }
    }
}

/// Asserts `entries` are numbered `first, first+1, …` without gaps or repeats.
fn assert_contiguous(entries: &[sync_pb::Change], first: i64) {
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(
            entry.sequence,
            first + index as i64,
            "entry {index} ({}) breaks the sequence",
            entry.resource_name
        );
    }
}

fn field_change<'a>(
    changes: &'a [common::FieldChange],
    field: &str,
) -> Option<&'a common::FieldChange> {
    changes.iter().find(|change| change.field == field)
}

async fn update_display_name(app: &TestApp, token: &str, name: &str, display_name: &str) {
    app.org_units(token)
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: name.to_string(),
                display_name: display_name.to_string(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .unwrap_or_else(|status| panic!("renaming {name}: {status:?}"));
}

async fn suspend(app: &TestApp, token: &str, name: &str, reason: &str) {
    app.org_units(token)
        .suspend_org_unit(pb::SuspendOrgUnitRequest {
            name: name.to_string(),
            reason: reason.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("suspending {name}: {status:?}"));
}

/// The one membership of `volunteer` in `unit`.
async fn membership_in(app: &TestApp, unit: &str, volunteer: &str) -> pb::Membership {
    let memberships = list_memberships(
        app,
        &app.admin(),
        unit,
        volunteer,
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(
        memberships.len(),
        1,
        "{volunteer} in {unit}: {memberships:?}"
    );
    memberships.into_iter().next().expect("one membership")
}

// ---------------------------------------------------------------------------------------
// 1. Memberships
// ---------------------------------------------------------------------------------------

async fn membership_lifecycle(app: TestApp) {
    let admin = app.admin();
    let first = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区青年志愿服务队")
        .await;
    let second = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区助老服务队")
        .await;
    let volunteer = app.register(&admin, &first.name, 1).await;
    let bystander = app.register(&admin, &second.name, 2).await;

    // Registration makes an active, primary membership in the registering unit.
    let in_first = list_memberships(
        &app,
        &admin,
        &first.name,
        "",
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(in_first.len(), 1, "{in_first:?}");
    let original = in_first[0].clone();
    assert_eq!(original.volunteer, volunteer.name);
    assert_eq!(original.volunteer_display_name, volunteer.display_name);
    assert!(
        original.primary,
        "registration makes the primary membership"
    );
    assert_eq!(original.state, pb::MembershipState::Active as i32);
    assert!(
        original
            .name
            .starts_with(&format!("{}/memberships/", first.name)),
        "{}",
        original.name
    );
    assert!(original.joined_on.is_some(), "joined_on set");
    assert!(original.ended_on.is_none(), "not ended");

    // A second unit, directly; retrying with the same request id gives the same membership.
    let retry_id = request_id();
    let create = |request_id: String| {
        let mut client = app.memberships(&admin);
        let parent = second.name.clone();
        let volunteer = volunteer.name.clone();
        async move {
            client
                .create_membership(pb::CreateMembershipRequest {
                    parent,
                    volunteer,
                    request_id,
                })
                .await
        }
    };
    let added = create(retry_id.clone())
        .await
        .expect("adding to a second unit")
        .into_inner()
        .membership
        .expect("membership");
    assert!(!added.primary, "a second membership is not primary");
    assert_eq!(added.state, pb::MembershipState::Active as i32);
    assert!(
        added
            .name
            .starts_with(&format!("{}/memberships/", second.name))
    );
    let retried = create(retry_id)
        .await
        .expect("retrying with the same request id")
        .into_inner()
        .membership
        .expect("membership");
    assert_eq!(
        retried.name, added.name,
        "a retry returns the same membership"
    );

    // Adding the same volunteer again is refused, with or without a fresh request id.
    expect_code(
        create(request_id()).await,
        Code::FailedPrecondition,
        "adding a member twice",
    );
    expect_code(
        create(String::new()).await,
        Code::FailedPrecondition,
        "adding a member twice without a request id",
    );
    let in_second = list_memberships(
        &app,
        &admin,
        &second.name,
        "",
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(
        in_second.len(),
        2,
        "the retry and the refusals added nothing: {in_second:?}"
    );
    assert_eq!(
        in_second
            .iter()
            .filter(|membership| membership.volunteer == volunteer.name)
            .count(),
        1
    );

    // Every unit of the volunteer, and only its memberships.
    let everywhere = list_memberships(
        &app,
        &admin,
        "orgUnits/-",
        &volunteer.name,
        pb::MembershipState::Unspecified,
    )
    .await;
    let names: HashSet<&str> = everywhere
        .iter()
        .map(|membership| membership.name.as_str())
        .collect();
    assert_eq!(
        names,
        HashSet::from([original.name.as_str(), added.name.as_str()]),
        "{everywhere:?}"
    );
    assert!(
        everywhere
            .iter()
            .all(|membership| membership.volunteer == volunteer.name)
    );
    let primaries = |memberships: &[pb::Membership]| -> Vec<String> {
        memberships
            .iter()
            .filter(|membership| membership.primary)
            .map(|membership| membership.name.clone())
            .collect()
    };
    assert_eq!(primaries(&everywhere), vec![original.name.clone()]);

    // The primary moves: exactly one primary afterwards.
    let moved = app
        .memberships(&admin)
        .set_primary_membership(pb::SetPrimaryMembershipRequest {
            name: added.name.clone(),
        })
        .await
        .expect("setting the primary")
        .into_inner()
        .membership
        .expect("membership");
    assert!(moved.primary);
    assert_eq!(moved.name, added.name);
    let everywhere = list_memberships(
        &app,
        &admin,
        "orgUnits/-",
        &volunteer.name,
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(primaries(&everywhere), vec![added.name.clone()]);
    // Setting it again changes nothing.
    app.memberships(&admin)
        .set_primary_membership(pb::SetPrimaryMembershipRequest {
            name: added.name.clone(),
        })
        .await
        .expect("setting the primary again");
    let everywhere = list_memberships(
        &app,
        &admin,
        "orgUnits/-",
        &volunteer.name,
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(primaries(&everywhere), vec![added.name.clone()]);

    // Ending the primary passes it to the remaining membership.
    let ended = app
        .memberships(&admin)
        .end_membership(pb::EndMembershipRequest {
            name: added.name.clone(),
            reason: "工作调动".to_string(),
        })
        .await
        .expect("ending the primary")
        .into_inner()
        .membership
        .expect("membership");
    assert_eq!(ended.state, pb::MembershipState::Ended as i32);
    assert!(!ended.primary, "an ended membership is not primary");
    assert!(ended.ended_on.is_some(), "ended_on set");
    let everywhere = list_memberships(
        &app,
        &admin,
        "orgUnits/-",
        &volunteer.name,
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(everywhere.len(), 2, "ended memberships are kept");
    assert_eq!(primaries(&everywhere), vec![original.name.clone()]);
    let listed_end = everywhere
        .iter()
        .find(|membership| membership.name == added.name)
        .expect("ended membership listed");
    assert_eq!(listed_end.state, pb::MembershipState::Ended as i32);
    assert_eq!(listed_end.ended_on, ended.ended_on);
    let active = list_memberships(
        &app,
        &admin,
        "orgUnits/-",
        &volunteer.name,
        pb::MembershipState::Active,
    )
    .await;
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].name, original.name);
    assert!(active[0].primary);

    // The ending and the hand-over are in the histories, with the reason.
    let ended_history = history(&app, &admin, &added.name, 0).await;
    let last = ended_history
        .last()
        .expect("history of the ended membership");
    assert_eq!(last.operation, common::ChangeOperation::Delete as i32);
    assert_eq!(last.reason, "工作调动");
    let original_history = history(&app, &admin, &original.name, 0).await;
    let last = original_history.last().expect("history of the original");
    assert_eq!(last.operation, common::ChangeOperation::Update as i32);
    assert!(
        field_change(&last.field_changes, "primary").is_some(),
        "{last:?}"
    );

    // An ended membership cannot end again nor become primary.
    expect_code(
        app.memberships(&admin)
            .end_membership(pb::EndMembershipRequest {
                name: added.name.clone(),
                reason: String::new(),
            })
            .await,
        Code::FailedPrecondition,
        "ending twice",
    );
    expect_code(
        app.memberships(&admin)
            .set_primary_membership(pb::SetPrimaryMembershipRequest {
                name: added.name.clone(),
            })
            .await,
        Code::FailedPrecondition,
        "an ended membership as primary",
    );

    // A membership is found by its whole name: the same id under another unit does not
    // exist.
    let id = original.name.rsplit('/').next().expect("id");
    for wrong in [
        format!("{}/memberships/{id}", second.name),
        format!("orgUnits/{}/memberships/{id}", random_id()),
    ] {
        expect_code(
            app.memberships(&admin)
                .set_primary_membership(pb::SetPrimaryMembershipRequest {
                    name: wrong.clone(),
                })
                .await,
            Code::NotFound,
            &format!("making {wrong} primary"),
        );
        expect_code(
            app.memberships(&admin)
                .end_membership(pb::EndMembershipRequest {
                    name: wrong.clone(),
                    reason: String::new(),
                })
                .await,
            Code::NotFound,
            &format!("ending {wrong}"),
        );
    }
    let still = membership_in(&app, &first.name, &volunteer.name).await;
    assert_eq!(still.state, pb::MembershipState::Active as i32);
    assert!(still.primary);

    // The bystander's membership was not touched.
    let theirs = membership_in(&app, &second.name, &bystander.name).await;
    assert!(theirs.primary);
    assert_eq!(theirs.state, pb::MembershipState::Active as i32);
    app.assert_tallies_recount().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 2. Join applications
// ---------------------------------------------------------------------------------------

async fn join_applications(app: TestApp) {
    let admin = app.admin();
    let home = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "集美区巾帼志愿服务队")
        .await;
    let target = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "海沧区环保志愿服务队")
        .await;
    let other = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "同安区助学志愿服务队")
        .await;
    let applicant = app.register(&admin, &home.name, 11).await;
    let second = app.register(&admin, &home.name, 12).await;
    let applicant_token = app.volunteer_token(&app.root, &applicant.name);
    let second_token = app.volunteer_token(&app.root, &second.name);
    let leader = app.token(&target.name, &[Role::TeamLeader]);

    // The volunteer applies; a retry with the same request id gives the same application.
    let retry_id = request_id();
    let application = apply(
        &app,
        &applicant_token,
        &target.name,
        &applicant.name,
        &retry_id,
    )
    .await
    .expect("applying");
    assert_eq!(application.state, pb::JoinApplicationState::Pending as i32);
    assert_eq!(application.volunteer, applicant.name);
    assert!(application.membership.is_empty());
    assert!(
        application
            .name
            .starts_with(&format!("{}/joinApplications/", target.name)),
        "{}",
        application.name
    );
    let retried = apply(
        &app,
        &applicant_token,
        &target.name,
        &applicant.name,
        &retry_id,
    )
    .await
    .expect("retrying the application");
    assert_eq!(retried.name, application.name);

    // A second pending application to the same unit is refused.
    expect_code(
        apply(
            &app,
            &applicant_token,
            &target.name,
            &applicant.name,
            &request_id(),
        )
        .await
        .map(tonic::Response::new),
        Code::AlreadyExists,
        "a second pending application",
    );

    // The applicant reads its own application.
    let own = get_application(&app, &applicant_token, &application.name).await;
    assert_eq!(own.name, application.name);
    assert_eq!(own.state, pb::JoinApplicationState::Pending as i32);
    assert_eq!(own.message, "我想加入贵队参加服务");

    // The leader sees it among the pending ones, and not among the approved.
    let pending = list_applications(
        &app,
        &leader,
        &target.name,
        pb::JoinApplicationState::Pending,
    )
    .await;
    assert_eq!(
        pending
            .iter()
            .map(|application| application.name.as_str())
            .collect::<Vec<_>>(),
        vec![application.name.as_str()]
    );
    assert!(
        list_applications(
            &app,
            &leader,
            &target.name,
            pb::JoinApplicationState::Approved
        )
        .await
        .is_empty()
    );

    // The volunteer cannot approve its own application.
    expect_code(
        approve(&app, &applicant_token, &application.name, "").await,
        Code::PermissionDenied,
        "self-approval",
    );

    // The leader approves: a membership in the target unit exists.
    let approved = approve(&app, &leader, &application.name, "欢迎加入")
        .await
        .expect("approving")
        .into_inner()
        .join_application
        .expect("application");
    assert_eq!(approved.state, pb::JoinApplicationState::Approved as i32);
    assert_eq!(approved.decided_by, "tester-team_leader");
    assert_eq!(approved.decision_comment, "欢迎加入");
    assert!(
        approved
            .membership
            .starts_with(&format!("{}/memberships/", target.name)),
        "membership set: {approved:?}"
    );
    let membership = membership_in(&app, &target.name, &applicant.name).await;
    assert_eq!(membership.name, approved.membership);
    assert_eq!(membership.state, pb::MembershipState::Active as i32);
    assert!(
        !membership.primary,
        "the home unit stays the volunteer's primary"
    );
    let listed_by_leader = list_memberships(
        &app,
        &leader,
        &target.name,
        &applicant.name,
        pb::MembershipState::Active,
    )
    .await;
    assert_eq!(listed_by_leader.len(), 1);
    let approved_list = list_applications(
        &app,
        &leader,
        &target.name,
        pb::JoinApplicationState::Approved,
    )
    .await;
    assert_eq!(approved_list.len(), 1);
    assert_eq!(approved_list[0].membership, approved.membership);

    // A decided application cannot be decided again.
    expect_code(
        approve(&app, &leader, &application.name, "").await,
        Code::FailedPrecondition,
        "approving twice",
    );
    expect_code(
        reject(&app, &leader, &application.name, "改变主意").await,
        Code::FailedPrecondition,
        "rejecting an approved application",
    );
    expect_code(
        withdraw(&app, &applicant_token, &application.name).await,
        Code::FailedPrecondition,
        "withdrawing an approved application",
    );
    // A member cannot apply to its own unit.
    expect_code(
        apply(
            &app,
            &applicant_token,
            &target.name,
            &applicant.name,
            &request_id(),
        )
        .await
        .map(tonic::Response::new),
        Code::FailedPrecondition,
        "applying as a member",
    );

    // Rejection needs a comment.
    let to_reject = apply(&app, &second_token, &target.name, &second.name, "")
        .await
        .expect("second volunteer applies");
    expect_invalid(
        reject(&app, &leader, &to_reject.name, "").await,
        "comment",
        "rejecting without comment",
    );
    expect_invalid(
        reject(&app, &leader, &to_reject.name, "   ").await,
        "comment",
        "rejecting with a blank comment",
    );
    assert_eq!(
        get_application(&app, &second_token, &to_reject.name)
            .await
            .state,
        pb::JoinApplicationState::Pending as i32,
        "a refused rejection leaves the application pending"
    );
    let rejected = reject(&app, &leader, &to_reject.name, "本期名额已满")
        .await
        .expect("rejecting")
        .into_inner()
        .join_application
        .expect("application");
    assert_eq!(rejected.state, pb::JoinApplicationState::Rejected as i32);
    assert_eq!(rejected.decision_comment, "本期名额已满");
    assert!(rejected.membership.is_empty());
    assert!(
        list_memberships(
            &app,
            &admin,
            &target.name,
            &second.name,
            pb::MembershipState::Unspecified
        )
        .await
        .is_empty(),
        "no membership after a rejection"
    );
    expect_code(
        approve(&app, &leader, &to_reject.name, "").await,
        Code::FailedPrecondition,
        "approving a rejected application",
    );

    // After a rejection the volunteer may apply again, and withdraw.
    let to_withdraw = apply(&app, &second_token, &target.name, &second.name, "")
        .await
        .expect("applying again after a rejection");
    let withdrawn = withdraw(&app, &second_token, &to_withdraw.name)
        .await
        .expect("withdrawing")
        .into_inner()
        .join_application
        .expect("application");
    assert_eq!(withdrawn.state, pb::JoinApplicationState::Withdrawn as i32);
    expect_code(
        approve(&app, &leader, &to_withdraw.name, "").await,
        Code::FailedPrecondition,
        "approving a withdrawn application",
    );
    expect_code(
        withdraw(&app, &second_token, &to_withdraw.name).await,
        Code::FailedPrecondition,
        "withdrawing twice",
    );
    let by_state = |state| list_applications(&app, &leader, &target.name, state);
    assert_eq!(
        by_state(pb::JoinApplicationState::Rejected)
            .await
            .into_iter()
            .map(|application| application.name)
            .collect::<Vec<_>>(),
        vec![to_reject.name.clone()]
    );
    assert_eq!(
        by_state(pb::JoinApplicationState::Withdrawn)
            .await
            .into_iter()
            .map(|application| application.name)
            .collect::<Vec<_>>(),
        vec![to_withdraw.name.clone()]
    );
    assert!(by_state(pb::JoinApplicationState::Pending).await.is_empty());
    let everything = by_state(pb::JoinApplicationState::Unspecified).await;
    assert_eq!(
        everything
            .iter()
            .map(|application| application.name.as_str())
            .collect::<Vec<_>>(),
        vec![
            application.name.as_str(),
            to_reject.name.as_str(),
            to_withdraw.name.as_str()
        ],
        "oldest first"
    );

    // Another volunteer cannot withdraw (nor read) someone else's application. The service
    // refuses by role (a volunteer may not read other volunteers): PERMISSION_DENIED.
    let elsewhere = apply(&app, &applicant_token, &other.name, &applicant.name, "")
        .await
        .expect("applying elsewhere");
    let status = withdraw(&app, &second_token, &elsewhere.name)
        .await
        .expect_err("withdrawing someone else's application");
    assert!(
        matches!(status.code(), Code::PermissionDenied | Code::NotFound),
        "{status:?}"
    );
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    expect_code(
        app.memberships(&second_token)
            .get_join_application(pb::GetJoinApplicationRequest {
                name: elsewhere.name.clone(),
            })
            .await,
        Code::PermissionDenied,
        "reading someone else's application",
    );
    assert_eq!(
        get_application(&app, &applicant_token, &elsewhere.name)
            .await
            .state,
        pb::JoinApplicationState::Pending as i32,
        "the refused withdrawal changed nothing"
    );
    // An application is found by its whole name, not by its id under any unit.
    let id = elsewhere.name.rsplit('/').next().expect("id");
    let misplaced = format!("{}/joinApplications/{id}", target.name);
    expect_code(
        app.memberships(&applicant_token)
            .get_join_application(pb::GetJoinApplicationRequest {
                name: misplaced.clone(),
            })
            .await,
        Code::NotFound,
        "an application under the wrong unit",
    );
    expect_code(
        approve(&app, &leader, &misplaced, "").await,
        Code::NotFound,
        "approving through another unit's name",
    );
    expect_code(
        withdraw(&app, &applicant_token, &misplaced).await,
        Code::NotFound,
        "withdrawing through another unit's name",
    );
    // The leader of the target unit does not see applications to another unit.
    expect_code(
        app.memberships(&leader)
            .get_join_application(pb::GetJoinApplicationRequest {
                name: elsewhere.name.clone(),
            })
            .await,
        Code::NotFound,
        "a leader reading another unit's application",
    );
    expect_code(
        approve(&app, &leader, &elsewhere.name, "").await,
        Code::NotFound,
        "a leader approving another unit's application",
    );
    let withdrawn = withdraw(&app, &applicant_token, &elsewhere.name)
        .await
        .expect("the applicant withdraws")
        .into_inner()
        .join_application
        .expect("application");
    assert_eq!(withdrawn.state, pb::JoinApplicationState::Withdrawn as i32);
    assert!(withdrawn.decided_by.starts_with("volunteer-"));
    app.assert_tallies_recount().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 3. Change history
// ---------------------------------------------------------------------------------------

async fn org_unit_change_history(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "翔安区文明实践服务队")
        .await;
    update_display_name(&app, &admin, &team.name, "翔安区新时代文明实践服务队").await;
    suspend(&app, &admin, &team.name, "年度考核不合格，暂停整改").await;

    let records = history(&app, &admin, &team.name, 0).await;
    let operations: Vec<i32> = records.iter().map(|record| record.operation).collect();
    assert_eq!(
        operations,
        vec![
            common::ChangeOperation::Create as i32,
            common::ChangeOperation::Update as i32,
            common::ChangeOperation::Update as i32,
        ],
        "{records:?}"
    );
    assert!(
        records
            .windows(2)
            .all(|pair| pair[0].sequence < pair[1].sequence),
        "oldest first"
    );
    for record in &records {
        assert_eq!(record.resource_name, team.name);
        assert_eq!(record.actor, "tester-admin");
        assert!(record.change_time.is_some());
    }
    let created = field_change(&records[0].field_changes, "display_name").expect("created name");
    assert_eq!(created.old_value, "");
    assert_eq!(created.new_value, "翔安区文明实践服务队");
    let renamed = &records[1];
    let change = field_change(&renamed.field_changes, "display_name").expect("rename recorded");
    assert_eq!(change.old_value, "翔安区文明实践服务队");
    assert_eq!(change.new_value, "翔安区新时代文明实践服务队");
    assert!(
        field_change(&renamed.field_changes, "status").is_none(),
        "only what changed: {renamed:?}"
    );
    let suspended = &records[2];
    let status = field_change(&suspended.field_changes, "status").expect("status change");
    assert!(
        !status.old_value.is_empty() && status.old_value != status.new_value,
        "{status:?}"
    );
    assert!(status.old_value.contains("active"), "{status:?}");
    assert!(status.new_value.contains("suspended"), "{status:?}");
    assert_eq!(suspended.reason, "年度考核不合格，暂停整改");
    assert!(field_change(&suspended.field_changes, "display_name").is_none());

    // The actor is the principal that made the change.
    let staff = app.token(&app.root, &[Role::Staff]);
    update_display_name(&app, &staff, &team.name, "翔安区文明实践服务队（二）").await;
    let records = history(&app, &admin, &team.name, 0).await;
    assert_eq!(records.len(), 4);
    assert_eq!(records[3].actor, "tester-staff");

    // A viewer may read the history too.
    let viewer = app.token(&app.root, &[Role::Viewer]);
    assert_eq!(history(&app, &viewer, &team.name, 0).await, records);

    // A long history pages completely.
    for round in 0..9 {
        update_display_name(
            &app,
            &admin,
            &team.name,
            &format!("翔安区服务队第{round}版"),
        )
        .await;
    }
    let all = history(&app, &admin, &team.name, 500).await;
    assert_eq!(all.len(), 13, "{all:?}");
    let paged = history(&app, &admin, &team.name, 2).await;
    assert_eq!(paged, all, "pages of 2 give the same history");
    let sequences: HashSet<i64> = paged.iter().map(|record| record.sequence).collect();
    assert_eq!(sequences.len(), paged.len(), "no repeats");
    for (round, record) in all[4..].iter().enumerate() {
        let change = field_change(&record.field_changes, "display_name").expect("rename");
        assert_eq!(change.new_value, format!("翔安区服务队第{round}版"));
    }

    // The registration form's history is its own resource.
    let form = history(&app, &admin, &format!("{}/registrationForm", team.name), 0).await;
    assert_eq!(form.len(), 1);
    assert_eq!(form[0].operation, common::ChangeOperation::Create as i32);

    // A page token belongs to its resource.
    let other = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "另一支服务队")
        .await;
    let first_page = app
        .records(&admin)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: team.name.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .expect("first page")
        .into_inner();
    assert!(!first_page.next_page_token.is_empty());
    expect_invalid(
        app.records(&admin)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: other.name.clone(),
                page_size: 2,
                page_token: first_page.next_page_token,
            })
            .await,
        "page_token",
        "a page token of another resource",
    );
    expect_invalid(
        app.records(&admin)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: "activities/123".to_string(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        "resource",
        "an unknown kind of resource",
    );
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn volunteer_change_history_is_masked(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区应急救援队")
        .await;
    let seed = 21;
    let volunteer = app.register(&admin, &team.name, seed).await;
    let old_phone = volunteer_input(seed).phone;
    let new_phone = "13712345678".to_string();
    let id_number = resident_id(seed);
    app.volunteers(&admin)
        .update_volunteer(pb::UpdateVolunteerRequest {
            volunteer: Some(pb::Volunteer {
                name: volunteer.name.clone(),
                phone: new_phone.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["phone".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect("updating the phone");

    let records = history(&app, &admin, &volunteer.name, 0).await;
    assert_eq!(
        records
            .iter()
            .map(|record| record.operation)
            .collect::<Vec<_>>(),
        vec![
            common::ChangeOperation::Create as i32,
            common::ChangeOperation::Update as i32
        ],
        "{records:?}"
    );
    let phone = field_change(&records[1].field_changes, "phone").expect("phone change");
    for value in [&phone.old_value, &phone.new_value] {
        assert!(value.contains("****"), "masked: {phone:?}");
        assert!(!value.contains(&old_phone), "no plaintext phone: {phone:?}");
        assert!(!value.contains(&new_phone), "no plaintext phone: {phone:?}");
    }
    assert!(phone.old_value.ends_with(&old_phone[7..]), "{phone:?}");
    assert!(phone.new_value.ends_with("5678"), "{phone:?}");
    assert_ne!(phone.old_value, phone.new_value);
    assert_eq!(
        records[1].field_changes.len(),
        1,
        "only the phone changed: {:?}",
        records[1].field_changes
    );
    for record in &records {
        for change in &record.field_changes {
            for value in [&change.old_value, &change.new_value] {
                assert!(!value.contains(&id_number), "plaintext ID in {change:?}");
                assert!(!value.contains(&old_phone), "plaintext phone in {change:?}");
                assert!(!value.contains(&new_phone), "plaintext phone in {change:?}");
            }
        }
    }

    // A new number that masks the same as the old one is still a recorded change.
    let same_mask = "13700005678".to_string();
    app.volunteers(&admin)
        .update_volunteer(pb::UpdateVolunteerRequest {
            volunteer: Some(pb::Volunteer {
                name: volunteer.name.clone(),
                phone: same_mask.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["phone".to_string()],
            }),
            expected_version: 0,
        })
        .await
        .expect("updating the phone again");
    let records = history(&app, &admin, &volunteer.name, 0).await;
    assert_eq!(records.len(), 3);
    let phone = field_change(&records[2].field_changes, "phone")
        .unwrap_or_else(|| panic!("a phone change is recorded: {:?}", records[2]));
    assert!(phone.old_value.contains("****") && phone.new_value.contains("****"));
    assert!(!phone.new_value.contains(&same_mask), "{phone:?}");
    assert!(!phone.old_value.contains(&new_phone), "{phone:?}");

    // The same changes in the change log carry minimised payloads.
    let sync = app.token(&app.root, &[Role::Sync]);
    let log = read_change_log(&app, &sync, 0, 100).await;
    let entries: Vec<&sync_pb::Change> = log
        .iter()
        .filter(|entry| entry.resource_name == volunteer.name)
        .collect();
    assert_eq!(entries.len(), 3);
    for entry in entries {
        assert!(!record_text(entry).contains(&same_mask), "plaintext phone");
        assert_eq!(entry.resource_type, "egret.registry.v1.Volunteer");
        assert!(record_text(entry).contains("id_number_hash: \""));
        assert!(!record_text(entry).contains(&id_number), "plaintext ID");
        assert!(!record_text(entry).contains(&old_phone), "plaintext phone");
        assert!(!record_text(entry).contains(&new_phone), "plaintext phone");
        assert!(record_text(entry).contains("****"), "masked phone");
    }
    app.assert_tallies_recount().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 4. Change log
// ---------------------------------------------------------------------------------------

async fn change_log_is_complete_ordered_and_minimised(app: TestApp) {
    let admin = app.admin();
    let sync = app.token(&app.root, &[Role::Sync]);
    // (resource name, operation) of the main writes, in the order they were made.
    let mut expected: Vec<(String, common::ChangeOperation)> = Vec::new();
    use common::ChangeOperation::{Create, Update};

    let first = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "甲服务队")
        .await;
    expected.push((first.name.clone(), Create));
    expected.push((format!("{}/registrationForm", first.name), Create));
    let second = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "乙服务队")
        .await;
    expected.push((second.name.clone(), Create));
    let squad = app
        .create_unit(&admin, &first.name, pb::Tier::SubTeam, "甲一分队")
        .await;
    expected.push((squad.name.clone(), Create));
    update_display_name(&app, &admin, &second.name, "乙服务队（更名）").await;
    expected.push((second.name.clone(), Update));
    app.org_units(&admin)
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: squad.name.clone(),
            new_parent: second.name.clone(),
        })
        .await
        .expect("moving the sub-team");
    expected.push((squad.name.clone(), Update));
    suspend(&app, &admin, &first.name, "停队整顿").await;
    expected.push((first.name.clone(), Update));

    let single = app.register(&admin, &second.name, 31).await;
    expected.push((single.name.clone(), Create));
    let batch = app
        .volunteers(&admin)
        .batch_create_volunteers(pb::BatchCreateVolunteersRequest {
            org_unit: second.name.clone(),
            requests: [32, 33]
                .into_iter()
                .map(|seed| pb::CreateVolunteerRequest {
                    org_unit: String::new(),
                    volunteer: Some(volunteer_input(seed)),
                    request_id: String::new(),
                    pending_membership: false,
                    validate_only: false,
                })
                .collect(),
            request_id: request_id(),
        })
        .await
        .expect("batch registration")
        .into_inner()
        .volunteers;
    assert_eq!(batch.len(), 2);
    for volunteer in &batch {
        expected.push((volunteer.name.clone(), Create));
    }
    let added = app
        .memberships(&admin)
        .create_membership(pb::CreateMembershipRequest {
            parent: squad.name.clone(),
            volunteer: single.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("adding a membership")
        .into_inner()
        .membership
        .expect("membership");
    expected.push((added.name.clone(), Create));
    let applicant = &batch[0];
    let application = apply(
        &app,
        &app.volunteer_token(&app.root, &applicant.name),
        &squad.name,
        &applicant.name,
        "",
    )
    .await
    .expect("applying");
    expected.push((application.name.clone(), Create));
    let approved = approve(&app, &admin, &application.name, "")
        .await
        .expect("approving")
        .into_inner()
        .join_application
        .expect("application");
    expected.push((approved.membership.clone(), Create));
    expected.push((application.name.clone(), Update));

    // The sync role reads everything in pages of 7.
    let log = read_change_log(&app, &sync, 0, 7).await;
    assert!(!log.is_empty());
    assert_contiguous(&log, 1);
    assert_eq!(log[0].resource_name, app.root, "the root came first");
    let head = log.last().expect("entries").sequence;
    let again = app
        .change_log("registry", &sync)
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: head,
            page_size: 7,
            ..Default::default()
        })
        .await
        .expect("reading at the head")
        .into_inner();
    assert!(again.changes.is_empty());
    assert_eq!(again.last_sequence, head);
    assert_eq!(again.head_sequence, head);
    // The default page size reads the same log.
    let by_default = app
        .change_log("registry", &sync)
        .list_changes(sync_pb::ListChangesRequest {
            after_sequence: 0,
            page_size: 0,
            ..Default::default()
        })
        .await
        .expect("default page size")
        .into_inner();
    assert_eq!(by_default.changes, log, "one default page holds everything");
    // Resuming in the middle gives the rest.
    let tail = read_change_log(&app, &sync, 5, 3).await;
    assert_eq!(tail, log[5..].to_vec());

    // Every write appears, in the order made.
    let seen: Vec<(String, i32)> = log
        .iter()
        .map(|entry| (entry.resource_name.clone(), entry.operation))
        .collect();
    let mut position = 0;
    for (name, operation) in &expected {
        let found = seen[position..]
            .iter()
            .position(|(seen_name, seen_operation)| {
                seen_name == name && *seen_operation == *operation as i32
            })
            .unwrap_or_else(|| {
                panic!(
                    "{name} {operation:?} missing or out of order after entry {position}: {seen:?}"
                )
            });
        position += found + 1;
    }
    let touched: HashSet<&str> = log
        .iter()
        .map(|entry| entry.resource_name.as_str())
        .collect();
    for name in [
        &first.name,
        &second.name,
        &squad.name,
        &single.name,
        &batch[0].name,
        &batch[1].name,
        &added.name,
        &application.name,
        &approved.membership,
    ] {
        assert!(touched.contains(name.as_str()), "{name} in the change log");
    }
    // Registration also logs the primary memberships.
    for volunteer in [&single, &batch[0], &batch[1]] {
        let primary = membership_in(&app, &second.name, &volunteer.name).await;
        assert!(touched.contains(primary.name.as_str()), "{}", primary.name);
    }

    // Entries say who, where and what.
    for entry in &log {
        assert!(!entry.resource_type.is_empty());
        assert!(!entry.origin_instance.is_empty());
        assert!(entry.change_time.is_some());
        assert_ne!(entry.operation, common::ChangeOperation::Unspecified as i32);
    }
    let application_entry = log
        .iter()
        .find(|entry| {
            entry.resource_name == application.name
                && entry.operation == common::ChangeOperation::Create as i32
        })
        .expect("application created");
    assert_eq!(
        application_entry.actor,
        format!("volunteer-{}", applicant.name),
        "the volunteer applied itself"
    );
    assert_eq!(
        application_entry.resource_type,
        "egret.registry.v1.JoinApplication"
    );
    let suspension = log
        .iter()
        .rfind(|entry| entry.resource_name == first.name)
        .expect("suspension");
    assert_eq!(suspension.actor, "tester-admin");
    assert!(field_change(&suspension.field_changes, "status").is_some());

    // Volunteer payloads are minimised.
    for (volunteer, seed) in [(&single, 31), (&batch[0], 32), (&batch[1], 33)] {
        let input = volunteer_input(seed);
        let entry = log
            .iter()
            .find(|entry| entry.resource_name == volunteer.name)
            .expect("volunteer entry");
        assert_eq!(entry.resource_type, "egret.registry.v1.Volunteer");
        assert_eq!(entry.operation, common::ChangeOperation::Create as i32);
        let payload = &record_text(entry);
        assert!(payload.contains("id_number_hash: \""), "{payload}");
        assert!(
            payload.contains(&format!("139****{}", &input.phone[7..])),
            "masked phone in {payload}"
        );
        assert!(
            !payload.contains(&input.id_number),
            "plaintext ID in {payload}"
        );
        assert!(
            !payload.contains(&input.phone),
            "plaintext phone in {payload}"
        );
        assert!(
            !payload.contains(&input.email),
            "plaintext email in {payload}"
        );
        for change in &entry.field_changes {
            assert!(!change.new_value.contains(&input.id_number));
            assert!(!change.new_value.contains(&input.phone));
        }
    }
    // Nothing in the whole log carries a plaintext ID number or phone.
    for seed in [31, 32, 33] {
        let input = volunteer_input(seed);
        for entry in &log {
            assert!(!record_text(entry).contains(&input.id_number));
            assert!(!record_text(entry).contains(&input.phone));
        }
    }
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn change_log_under_concurrent_writers(app: TestApp) {
    const WRITERS: u32 = 6;
    const WRITES: u32 = 10;
    let admin = app.admin();
    let sync = app.token(&app.root, &[Role::Sync]);
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "并发测试服务队")
        .await;
    let start = read_change_log(&app, &sync, 0, 1000).await;
    let start_sequence = start.last().expect("entries so far").sequence;

    // The reader follows the log from where it stands until the writers are done and it has
    // caught up.
    let done = Arc::new(AtomicBool::new(false));
    // Two readers: one in small pages, mostly behind; one in large pages, mostly at the head
    // while commits land.
    let readers: Vec<_> = [5, 200]
        .into_iter()
        .map(|page_size| {
            let mut client = app.change_log("registry", &sync);
            let done = done.clone();
            tokio::spawn(async move {
                let mut seen: Vec<sync_pb::Change> = Vec::new();
                let mut after_sequence = start_sequence;
                let mut polls = 0u32;
                let mut while_writing = 0usize;
                loop {
                    // Read the flag before the page: a page read after the writers finished
                    // reaches the final head.
                    let finished = done.load(Ordering::SeqCst);
                    let page = client
                        .list_changes(sync_pb::ListChangesRequest {
                            after_sequence,
                            page_size,
                            ..Default::default()
                        })
                        .await
                        .expect("polling the change log")
                        .into_inner();
                    polls += 1;
                    assert_eq!(
                        page.last_sequence,
                        page.changes
                            .last()
                            .map_or(after_sequence, |entry| entry.sequence)
                    );
                    for entry in &page.changes {
                        assert_eq!(
                            entry.sequence,
                            after_sequence + 1,
                            "the reader got {} after {after_sequence}",
                            entry.sequence
                        );
                        after_sequence = entry.sequence;
                    }
                    if !finished {
                        while_writing += page.changes.len();
                    }
                    seen.extend(page.changes);
                    if finished && page.last_sequence == page.head_sequence {
                        return (seen, polls, while_writing);
                    }
                    if page.last_sequence == page.head_sequence {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            })
        })
        .collect();

    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let mut org_units = app.org_units(&admin);
            let mut volunteers = app.volunteers(&admin);
            let parent = team.name.clone();
            tokio::spawn(async move {
                let mut created = Vec::new();
                for index in 0..WRITES {
                    if index % 2 == 0 {
                        let unit = org_units
                            .create_org_unit(pb::CreateOrgUnitRequest {
                                parent: parent.clone(),
                                org_unit: Some(pb::OrgUnit {
                                    tier: pb::Tier::SubTeam as i32,
                                    display_name: format!("并发分队{writer}-{index}"),
                                    level: pb::TeamLevel::District as i32,
                                    ..Default::default()
                                }),
                                request_id: String::new(),
                            })
                            .await
                            .unwrap_or_else(|status| {
                                panic!("writer {writer} unit {index}: {status:?}")
                            })
                            .into_inner()
                            .org_unit
                            .expect("unit");
                        created.push(unit.name);
                    } else {
                        let seed = 1000 + writer * WRITES + index;
                        let volunteer = volunteers
                            .create_volunteer(pb::CreateVolunteerRequest {
                                org_unit: parent.clone(),
                                volunteer: Some(volunteer_input(seed)),
                                request_id: String::new(),
                                pending_membership: false,
                                validate_only: false,
                            })
                            .await
                            .unwrap_or_else(|status| {
                                panic!("writer {writer} volunteer {index}: {status:?}")
                            })
                            .into_inner()
                            .volunteer
                            .expect("volunteer");
                        created.push(volunteer.name);
                    }
                }
                created
            })
        })
        .collect();
    let mut created = Vec::new();
    for writer in writers {
        created.extend(writer.await.expect("writer task"));
    }
    done.store(true, Ordering::SeqCst);
    let full = read_change_log(&app, &sync, 0, 1000).await;
    assert_contiguous(&full, 1);
    let after_start: Vec<sync_pb::Change> = full[start_sequence as usize..].to_vec();
    let mut seen = Vec::new();
    for reader in readers {
        let (entries, polls, while_writing) = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("the reader catches up")
            .expect("reader task");
        assert!(
            polls > 1 && while_writing > 0,
            "the reader read while the writers wrote ({polls} polls, {while_writing} entries)"
        );
        assert_eq!(
            entries.len(),
            after_start.len(),
            "the reader saw every entry exactly once"
        );
        assert_eq!(entries, after_start, "the reader saw the log as it is");
        seen = entries;
    }
    // Units bring a registration form, volunteers a primary membership: two entries each.
    assert_eq!(
        after_start.len(),
        (WRITERS * WRITES * 2) as usize,
        "every write logged"
    );
    let touched: HashSet<&str> = seen
        .iter()
        .map(|entry| entry.resource_name.as_str())
        .collect();
    assert_eq!(created.len(), (WRITERS * WRITES) as usize);
    for name in &created {
        assert!(touched.contains(name.as_str()), "{name} in the change log");
    }
    // Each transaction's entries are adjacent: a unit's form right after the unit.
    for (index, entry) in seen.iter().enumerate() {
        if entry.resource_type == "egret.registry.v1.OrgUnit" {
            assert_eq!(
                seen[index + 1].resource_name,
                format!("{}/registrationForm", entry.resource_name)
            );
        }
    }
    app.assert_tallies_recount().await;
    app.stop().await;
}

async fn change_log_access_and_bounds(app: TestApp) {
    let admin = app.admin();
    let sync = app.token(&app.root, &[Role::Sync]);
    let request = |after_sequence, page_size| sync_pb::ListChangesRequest {
        after_sequence,
        page_size,
        ..Default::default()
    };

    // Only the sync role reads the change log.
    for (token, who) in [
        (admin.clone(), "admin"),
        (app.token(&app.root, &[Role::Staff]), "staff"),
        (app.token(&app.root, &[Role::Viewer]), "viewer"),
    ] {
        expect_code(
            app.change_log("registry", &token)
                .list_changes(request(0, 10))
                .await,
            Code::PermissionDenied,
            who,
        );
    }
    expect_code(
        app.change_log("registry", "")
            .list_changes(request(0, 10))
            .await,
        Code::Unauthenticated,
        "no token",
    );
    // …and nothing else.
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "同步角色测试队")
        .await;
    expect_code(
        app.memberships(&sync)
            .list_memberships(pb::ListMembershipsRequest {
                parent: team.name.clone(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
        "sync listing memberships",
    );
    expect_code(
        app.records(&sync)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: team.name.clone(),
                page_size: 0,
                page_token: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "sync reading the change history",
    );

    let page = app
        .change_log("registry", &sync)
        .list_changes(request(0, 1000))
        .await
        .expect("the sync role reads")
        .into_inner();
    assert!(page.changes.len() >= 3, "root, team and form");
    assert_eq!(page.last_sequence, page.head_sequence);

    // Bounds.
    expect_invalid(
        app.change_log("registry", &sync)
            .list_changes(request(-1, 10))
            .await,
        "after_sequence",
        "a negative after_sequence",
    );
    expect_invalid(
        app.change_log("registry", &sync)
            .list_changes(request(0, 1001))
            .await,
        "page_size",
        "a page of 1001",
    );
    expect_invalid(
        app.change_log("registry", &sync)
            .list_changes(request(0, -1))
            .await,
        "page_size",
        "a negative page size",
    );
    let one = app
        .change_log("registry", &sync)
        .list_changes(request(0, 1))
        .await
        .expect("a page of one")
        .into_inner();
    assert_eq!(one.changes.len(), 1);
    assert_eq!(one.last_sequence, 1);
    assert!(one.head_sequence > 1);
    // Beyond the head: nothing, and the reader stays where it was.
    let beyond = app
        .change_log("registry", &sync)
        .list_changes(request(page.head_sequence + 100, 10))
        .await
        .expect("reading beyond the head")
        .into_inner();
    assert!(beyond.changes.is_empty());
    assert_eq!(beyond.last_sequence, page.head_sequence + 100);
    app.assert_tallies_recount().await;
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 5. Authorization across districts
// ---------------------------------------------------------------------------------------

async fn other_districts_are_not_found(app: TestApp) {
    let admin = app.admin();
    let district_a = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "A区志愿服务队")
        .await;
    let district_b = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "B区志愿服务队")
        .await;
    let b_squad = app
        .create_unit(&admin, &district_b.name, pb::Tier::SubTeam, "B区一分队")
        .await;
    let volunteer_a = app.register(&admin, &district_a.name, 41).await;
    let volunteer_b = app.register(&admin, &district_b.name, 42).await;
    let membership_b = membership_in(&app, &district_b.name, &volunteer_b.name).await;
    let application_b = apply(
        &app,
        &app.volunteer_token(&app.root, &volunteer_b.name),
        &b_squad.name,
        &volunteer_b.name,
        "",
    )
    .await
    .expect("B volunteer applies in B");

    let staff_a = app.token(&district_a.name, &[Role::Staff]);
    let random_unit = format!("orgUnits/{}", random_id());
    let random_membership = format!("{random_unit}/memberships/{}", random_id());
    let random_application = format!("{random_unit}/joinApplications/{}", random_id());
    let random_volunteer = format!("volunteers/{}", random_id());

    // Control: A's staff works in A.
    let own = list_memberships(
        &app,
        &staff_a,
        &district_a.name,
        "",
        pb::MembershipState::Unspecified,
    )
    .await;
    assert_eq!(own.len(), 1);
    assert!(
        !history(&app, &staff_a, &district_a.name, 0)
            .await
            .is_empty()
    );
    assert!(
        !history(&app, &staff_a, &volunteer_a.name, 0)
            .await
            .is_empty()
    );

    // Each call on B's data answers exactly as for an id that does not exist.
    let mut memberships = app.memberships(&staff_a);
    let list = |parent: &str| pb::ListMembershipsRequest {
        parent: parent.to_string(),
        ..Default::default()
    };
    for parent in [&district_b.name, &b_squad.name, &random_unit] {
        expect_code(
            memberships.list_memberships(list(parent)).await,
            Code::NotFound,
            &format!("listing memberships of {parent}"),
        );
        expect_code(
            memberships
                .list_join_applications(pb::ListJoinApplicationsRequest {
                    parent: parent.to_string(),
                    ..Default::default()
                })
                .await,
            Code::NotFound,
            &format!("listing applications of {parent}"),
        );
    }
    // The wildcard listing of B's volunteer is empty, not a leak.
    let leaked = list_memberships(
        &app,
        &staff_a,
        "orgUnits/-",
        &volunteer_b.name,
        pb::MembershipState::Unspecified,
    )
    .await;
    assert!(leaked.is_empty(), "{leaked:?}");
    let everything = list_memberships(
        &app,
        &staff_a,
        "orgUnits/-",
        "",
        pb::MembershipState::Unspecified,
    )
    .await;
    assert!(
        everything
            .iter()
            .all(|membership| membership.name.starts_with(&district_a.name)),
        "{everything:?}"
    );

    for (parent, volunteer) in [
        (&district_b.name, &volunteer_a.name),
        (&district_a.name, &volunteer_b.name),
        (&district_b.name, &volunteer_b.name),
        (&random_unit, &volunteer_a.name),
        (&district_a.name, &random_volunteer),
    ] {
        expect_code(
            memberships
                .create_membership(pb::CreateMembershipRequest {
                    parent: parent.clone(),
                    volunteer: volunteer.clone(),
                    request_id: request_id(),
                })
                .await,
            Code::NotFound,
            &format!("adding {volunteer} to {parent}"),
        );
    }
    for name in [&membership_b.name, &random_membership] {
        expect_code(
            memberships
                .set_primary_membership(pb::SetPrimaryMembershipRequest { name: name.clone() })
                .await,
            Code::NotFound,
            &format!("making {name} primary"),
        );
        expect_code(
            memberships
                .end_membership(pb::EndMembershipRequest {
                    name: name.clone(),
                    reason: "越权".to_string(),
                })
                .await,
            Code::NotFound,
            &format!("ending {name}"),
        );
    }
    for name in [&application_b.name, &random_application] {
        expect_code(
            memberships
                .get_join_application(pb::GetJoinApplicationRequest { name: name.clone() })
                .await,
            Code::NotFound,
            &format!("getting {name}"),
        );
        expect_code(
            approve(&app, &staff_a, name, "").await,
            Code::NotFound,
            &format!("approving {name}"),
        );
        expect_code(
            reject(&app, &staff_a, name, "不符合条件").await,
            Code::NotFound,
            &format!("rejecting {name}"),
        );
    }
    for resource in [
        district_b.name.clone(),
        b_squad.name.clone(),
        format!("{}/registrationForm", district_b.name),
        volunteer_b.name.clone(),
        membership_b.name.clone(),
        application_b.name.clone(),
        random_unit.clone(),
        random_volunteer.clone(),
        random_membership.clone(),
    ] {
        expect_code(
            app.records(&staff_a)
                .list_change_records(pb::ListChangeRecordsRequest {
                    resource: resource.clone(),
                    page_size: 0,
                    page_token: String::new(),
                })
                .await,
            Code::NotFound,
            &format!("history of {resource}"),
        );
    }

    // Nothing in B changed.
    let after = membership_in(&app, &district_b.name, &volunteer_b.name).await;
    assert!(after.primary);
    assert_eq!(after.state, pb::MembershipState::Active as i32);
    assert_eq!(
        get_application(&app, &admin, &application_b.name)
            .await
            .state,
        pb::JoinApplicationState::Pending as i32
    );

    // The audit log is for admins only.
    expect_code(
        app.records(&staff_a)
            .list_audit_entries(pb::ListAuditEntriesRequest::default())
            .await,
        Code::PermissionDenied,
        "staff reading the audit log",
    );
    app.records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .expect("the admin reads the audit log");

    // A viewer of B reads but cannot decide or add.
    let viewer_b = app.token(&district_b.name, &[Role::Viewer]);
    assert_eq!(
        get_application(&app, &viewer_b, &application_b.name)
            .await
            .state,
        pb::JoinApplicationState::Pending as i32
    );
    expect_code(
        approve(&app, &viewer_b, &application_b.name, "").await,
        Code::PermissionDenied,
        "a viewer approving",
    );
    expect_code(
        reject(&app, &viewer_b, &application_b.name, "不同意").await,
        Code::PermissionDenied,
        "a viewer rejecting",
    );
    expect_code(
        app.memberships(&viewer_b)
            .create_membership(pb::CreateMembershipRequest {
                parent: b_squad.name.clone(),
                volunteer: volunteer_b.name.clone(),
                request_id: String::new(),
            })
            .await,
        Code::PermissionDenied,
        "a viewer adding a member",
    );

    // B's own leader may approve.
    let leader_b = app.token(&district_b.name, &[Role::TeamLeader]);
    let approved = approve(&app, &leader_b, &application_b.name, "")
        .await
        .expect("B's leader approves")
        .into_inner()
        .join_application
        .expect("application");
    assert_eq!(approved.state, pb::JoinApplicationState::Approved as i32);
    app.assert_tallies_recount().await;
    app.stop().await;
}
