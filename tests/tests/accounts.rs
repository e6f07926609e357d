//! People's accounts at the gateway: the first admin's one-time password, sign-in, refresh
//! tokens that rotate and revoke their sign-in when reused, sign-out, password changes,
//! admin RPCs within the admin's subtree, the change history, the audit log and the
//! throttle on failed sign-ins; self-registration and its checks (`validate_only`).

use egret_proto::gateway::v1 as pb;
use egret_proto::registry::v1 as registry;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, violated_fields, volunteer_input};
use tonic::Code;

both_backends!(
    people_sign_in_and_admins_manage_accounts,
    volunteers_register_themselves,
    registrations_are_checked_without_being_made
);

const ADMIN_PASSWORD: &str = "鹭岛巾帼-admin-2026";

async fn sign_in(
    app: &TestApp,
    username: &str,
    password: &str,
) -> Result<pb::Session, tonic::Status> {
    app.auth()
        .sign_in(pb::SignInRequest {
            username: username.to_string(),
            password: password.to_string(),
        })
        .await
        .map(|response| response.into_inner().session.expect("session"))
}

async fn change_password(
    app: &TestApp,
    username: &str,
    current: &str,
    new: &str,
) -> Result<pb::Account, tonic::Status> {
    app.auth()
        .change_password(pb::ChangePasswordRequest {
            username: username.to_string(),
            current_password: current.to_string(),
            new_password: new.to_string(),
        })
        .await
        .map(|response| response.into_inner().account.expect("account"))
}

async fn refresh(app: &TestApp, token: &str) -> Result<pb::Session, tonic::Status> {
    app.auth()
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: token.to_string(),
        })
        .await
        .map(|response| response.into_inner().session.expect("session"))
}

/// What a refused call should come back with.
struct Refusal {
    case: &'static str,
    code: Code,
    fields: &'static [&'static str],
}

#[track_caller]
fn check<T: std::fmt::Debug>(expected: &Refusal, result: Result<T, tonic::Status>) {
    let status = result.expect_err(expected.case);
    assert_eq!(
        status.code(),
        expected.code,
        "{}: {status:?}",
        expected.case
    );
    if !expected.fields.is_empty() {
        assert_eq!(
            violated_fields(&status),
            expected.fields,
            "{}",
            expected.case
        );
    }
}

async fn people_sign_in_and_admins_manage_accounts(app: TestApp) {
    let first = app
        .first_admin_password()
        .expect("the first start prints the admin's one-time password")
        .to_string();

    // The one-time password only allows changing it.
    check(
        &Refusal {
            case: "a one-time password signs nobody in",
            code: Code::FailedPrecondition,
            fields: &[],
        },
        sign_in(&app, "admin", &first).await,
    );
    check(
        &Refusal {
            case: "a new password too short",
            code: Code::InvalidArgument,
            fields: &["new_password"],
        },
        change_password(&app, "admin", &first, "short").await,
    );
    let admin_account = change_password(&app, "Admin", &first, ADMIN_PASSWORD)
        .await
        .expect("changes the one-time password");
    assert!(!admin_account.password_change_required);

    // A wrong password and an unknown username answer alike.
    let wrong_password = sign_in(&app, "admin", "not-the-password")
        .await
        .expect_err("wrong");
    let unknown = sign_in(&app, "nobody-here", "not-the-password")
        .await
        .expect_err("unknown");
    assert_eq!(wrong_password.code(), Code::Unauthenticated);
    assert_eq!(wrong_password.code(), unknown.code());
    assert_eq!(wrong_password.message(), unknown.message());

    // The access token is today's bearer token: every service takes it.
    let session = sign_in(&app, "admin", ADMIN_PASSWORD)
        .await
        .expect("signs in");
    let admin = session.access_token.clone();
    let root = app
        .org_units(&admin)
        .get_org_unit(registry::GetOrgUnitRequest {
            name: app.root.clone(),
        })
        .await
        .expect("the registry accepts the access token")
        .into_inner()
        .org_unit
        .expect("root");
    assert_eq!(root.name, app.root);

    // Refresh tokens rotate; presenting a spent one ends the whole sign-in.
    let second = refresh(&app, &session.refresh_token)
        .await
        .expect("refreshes");
    assert_ne!(second.refresh_token, session.refresh_token);
    check(
        &Refusal {
            case: "a spent refresh token",
            code: Code::Unauthenticated,
            fields: &[],
        },
        refresh(&app, &session.refresh_token).await,
    );
    check(
        &Refusal {
            case: "the token after a reused one is revoked too",
            code: Code::Unauthenticated,
            fields: &[],
        },
        refresh(&app, &second.refresh_token).await,
    );
    let third = sign_in(&app, "admin", ADMIN_PASSWORD)
        .await
        .expect("signs in");
    app.auth()
        .sign_out(pb::SignOutRequest {
            refresh_token: third.refresh_token.clone(),
        })
        .await
        .expect("signs out");
    check(
        &Refusal {
            case: "a signed-out refresh token",
            code: Code::Unauthenticated,
            fields: &[],
        },
        refresh(&app, &third.refresh_token).await,
    );

    // The admin makes a team and a staff account in it.
    let team = app
        .create_unit(
            &admin,
            &app.root,
            registry::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let create =
        |username: &str, roles: Vec<pb::AccountRole>, volunteer: &str| pb::CreateAccountRequest {
            account: Some(pb::Account {
                username: username.to_string(),
                display_name: "陈芳".to_string(),
                org_unit: team.name.clone(),
                roles: roles.into_iter().map(|role| role as i32).collect(),
                volunteer: volunteer.to_string(),
                ..Default::default()
            }),
        };
    for (case, request, fields) in [
        (
            "a bad username",
            create("x", vec![pb::AccountRole::Staff], ""),
            &["account.username"][..],
        ),
        (
            "no role",
            create("chen.fang", vec![], ""),
            &["account.roles"][..],
        ),
        (
            "a volunteer account without its volunteer",
            create("chen.fang", vec![pb::AccountRole::Volunteer], ""),
            &["account.volunteer"][..],
        ),
    ] {
        check(
            &Refusal {
                case,
                code: Code::InvalidArgument,
                fields,
            },
            app.accounts(&admin).create_account(request).await,
        );
    }
    let created = app
        .accounts(&admin)
        .create_account(create("Chen.Fang", vec![pb::AccountRole::Staff], ""))
        .await
        .expect("creates")
        .into_inner();
    let staff_account = created.account.expect("account");
    assert_eq!(staff_account.username, "chen.fang");
    assert!(staff_account.password_change_required);
    check(
        &Refusal {
            case: "a taken username",
            code: Code::AlreadyExists,
            fields: &[],
        },
        app.accounts(&admin)
            .create_account(create("chen.fang", vec![pb::AccountRole::Viewer], ""))
            .await,
    );
    change_password(
        &app,
        "chen.fang",
        &created.one_time_password,
        "陈芳的新密码-2026",
    )
    .await
    .expect("the staff member sets her password");
    let staff = sign_in(&app, "chen.fang", "陈芳的新密码-2026")
        .await
        .expect("signs in")
        .access_token;
    check(
        &Refusal {
            case: "staff do not manage accounts",
            code: Code::PermissionDenied,
            fields: &[],
        },
        app.accounts(&staff)
            .list_accounts(pb::ListAccountsRequest::default())
            .await,
    );

    // An admin of the team sees the team's accounts only.
    let team_admin = app.token(&team.name, &[Role::Admin]);
    let listed = app
        .accounts(&team_admin)
        .list_accounts(pb::ListAccountsRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .accounts;
    assert_eq!(
        listed
            .iter()
            .map(|account| account.username.as_str())
            .collect::<Vec<_>>(),
        ["chen.fang"]
    );
    check(
        &Refusal {
            case: "the root's admin is outside the team",
            code: Code::NotFound,
            fields: &[],
        },
        app.accounts(&team_admin)
            .get_account(pb::GetAccountRequest {
                name: admin_account.name.clone(),
            })
            .await,
    );
    let everyone = app
        .accounts(&admin)
        .list_accounts(pb::ListAccountsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert_eq!(everyone.accounts.len(), 1);
    assert!(
        !everyone.next_page_token.is_empty(),
        "two accounts, pages of one"
    );
    // By username unless asked otherwise; descending reverses it, page by page.
    let mut orders = Vec::new();
    for order_by in ["", "username desc", "display_name"] {
        let mut usernames = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = app
                .accounts(&admin)
                .list_accounts(pb::ListAccountsRequest {
                    page_size: 1,
                    page_token,
                    order_by: order_by.to_string(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|status| panic!("listing by {order_by:?}: {status:?}"))
                .into_inner();
            usernames.extend(page.accounts.into_iter().map(|account| account.username));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        orders.push(usernames);
    }
    let mut by_username = orders[0].clone();
    by_username.sort();
    assert_eq!(orders[0], by_username);
    assert!(orders[0].len() >= 2, "{orders:?}");
    let mut descending = orders[1].clone();
    descending.reverse();
    assert_eq!(descending, orders[0]);
    check(
        &Refusal {
            case: "an order by a field accounts do not sort by",
            code: Code::InvalidArgument,
            fields: &["order_by"],
        },
        app.accounts(&admin)
            .list_accounts(pb::ListAccountsRequest {
                order_by: "password_hash".to_string(),
                ..Default::default()
            })
            .await,
    );

    // Disabled, it cannot sign in; enabled again, it can; a reset needs a new password.
    app.accounts(&team_admin)
        .disable_account(pb::DisableAccountRequest {
            name: staff_account.name.clone(),
        })
        .await
        .expect("disables");
    check(
        &Refusal {
            case: "a disabled account",
            code: Code::Unauthenticated,
            fields: &[],
        },
        sign_in(&app, "chen.fang", "陈芳的新密码-2026").await,
    );
    app.accounts(&team_admin)
        .enable_account(pb::EnableAccountRequest {
            name: staff_account.name.clone(),
        })
        .await
        .expect("enables");
    sign_in(&app, "chen.fang", "陈芳的新密码-2026")
        .await
        .expect("signs in again");
    let reset = app
        .accounts(&admin)
        .reset_password(pb::ResetPasswordRequest {
            name: staff_account.name.clone(),
        })
        .await
        .expect("resets")
        .into_inner();
    check(
        &Refusal {
            case: "the old password after a reset",
            code: Code::Unauthenticated,
            fields: &[],
        },
        sign_in(&app, "chen.fang", "陈芳的新密码-2026").await,
    );
    check(
        &Refusal {
            case: "a reset password must be changed",
            code: Code::FailedPrecondition,
            fields: &[],
        },
        sign_in(&app, "chen.fang", &reset.one_time_password).await,
    );

    // Every change is in the account's history (never a password), every event in the
    // audit log.
    let changes = app
        .accounts(&admin)
        .list_account_changes(pb::ListAccountChangesRequest {
            name: staff_account.name.clone(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .change_records;
    let reasons: Vec<&str> = changes
        .iter()
        .map(|change| change.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "",
            "password_changed",
            "account_disabled",
            "account_enabled",
            "password_reset"
        ]
    );
    let history = format!("{changes:?}");
    assert!(
        !history.contains("argon2"),
        "no password hash in the history"
    );
    let audit = app
        .accounts(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    for event in [
        "account_created",
        "sign_in",
        "sign_in_failed",
        "refresh_token_reused",
        "sign_out",
        "password_changed",
        "account_disabled",
        "password_reset",
    ] {
        assert!(
            audit.iter().any(|entry| entry.event == event),
            "{event} in {:?}",
            audit.iter().map(|entry| &entry.event).collect::<Vec<_>>()
        );
    }
    assert!(
        audit.iter().any(|entry| entry.event == "sign_in_failed"
            && entry.username == "nobody-here"
            && entry.account.is_empty()),
        "an unknown username is audited too"
    );

    // Repeated failures make sign-in wait: this address has failed three times above, so
    // a few more guesses at any username bring the wait, for every username it tries.
    let mut refused_after = None;
    for attempt in 1..=5 {
        let status = sign_in(&app, "ghost", "guessing-again")
            .await
            .expect_err("wrong");
        if status.code() == Code::ResourceExhausted {
            refused_after = Some(attempt);
            break;
        }
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    assert!(
        refused_after.is_some(),
        "the throttle answers RESOURCE_EXHAUSTED"
    );
    check(
        &Refusal {
            case: "the address waits, whatever the username",
            code: Code::ResourceExhausted,
            fields: &[],
        },
        sign_in(&app, "admin", ADMIN_PASSWORD).await,
    );
    app.stop().await;
}

async fn volunteers_register_themselves(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(
            &admin,
            &app.root,
            registry::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let other_team = app
        .create_unit(
            &admin,
            &app.root,
            registry::Tier::Team,
            "湖里区妇联巾帼志愿服务队",
        )
        .await;
    let register = |username: &str, volunteer: registry::Volunteer| pb::RegisterVolunteerRequest {
        username: username.to_string(),
        password: "我的志愿者密码-2026".to_string(),
        volunteer: Some(volunteer),
        team: team.name.clone(),
        validate_only: false,
    };
    let registered = app
        .auth()
        .register_volunteer(register("lin.meihua", volunteer_input(51)))
        .await
        .expect("registers herself")
        .into_inner();
    let volunteer = registered.volunteer.expect("her record");
    assert!(
        volunteer.id_number.contains('*'),
        "masked: {}",
        volunteer.id_number
    );
    assert!(!registered.join_application.is_empty());
    let own = registered.session.expect("signed in").access_token;

    // Refused exactly as when staff register: a person registered before, a bad ID.
    let mut bad_id = volunteer_input(52);
    bad_id.id_number = "350203199001011235".to_string();
    for (case, request, code, fields) in [
        (
            "the same person again",
            register("lin.again", volunteer_input(51)),
            Code::AlreadyExists,
            &[][..],
        ),
        (
            "a wrong check digit",
            register("lin.bad", bad_id),
            Code::InvalidArgument,
            &["volunteer.id_number"][..],
        ),
        (
            "a short password",
            pb::RegisterVolunteerRequest {
                password: "short".to_string(),
                ..register("lin.short", volunteer_input(53))
            },
            Code::InvalidArgument,
            &["password"][..],
        ),
    ] {
        check(
            &Refusal { case, code, fields },
            app.auth().register_volunteer(request).await,
        );
    }
    check(
        &Refusal {
            case: "a refused registration makes no account",
            code: Code::Unauthenticated,
            fields: &[],
        },
        sign_in(&app, "lin.again", "我的志愿者密码-2026").await,
    );

    // Her membership waits for the team's leaders.
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let pending = app
        .memberships(&leader)
        .list_join_applications(registry::ListJoinApplicationsRequest {
            parent: team.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists applications")
        .into_inner()
        .join_applications;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].name, registered.join_application);
    let memberships = |token: String| {
        let app = &app;
        let volunteer = volunteer.name.clone();
        async move {
            app.memberships(&token)
                .list_memberships(registry::ListMembershipsRequest {
                    parent: "orgUnits/-".to_string(),
                    volunteer,
                    ..Default::default()
                })
                .await
                .expect("lists memberships")
                .into_inner()
                .memberships
        }
    };
    assert!(
        memberships(admin.clone()).await.is_empty(),
        "no membership before approval"
    );
    app.memberships(&leader)
        .approve_join_application(registry::ApproveJoinApplicationRequest {
            name: registered.join_application.clone(),
            comment: "欢迎".to_string(),
        })
        .await
        .expect("the leader approves");
    let joined = memberships(admin.clone()).await;
    assert_eq!(joined.len(), 1);
    assert!(joined[0].primary);

    // Signed in, she acts for herself anywhere: she applies to another district's team.
    app.memberships(&own)
        .create_join_application(registry::CreateJoinApplicationRequest {
            parent: other_team.name.clone(),
            join_application: Some(registry::JoinApplication {
                volunteer: volunteer.name.clone(),
                message: "想去湖里区服务".to_string(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("applies to a team outside the one she registered with");
    check(
        &Refusal {
            case: "a volunteer reads nobody else",
            code: Code::PermissionDenied,
            fields: &[],
        },
        app.volunteers(&own)
            .list_volunteers(registry::ListVolunteersRequest::default())
            .await,
    );

    // Registrations from one address are bounded: three were tried above.
    for attempt in 0..2 {
        let _ = app
            .auth()
            .register_volunteer(register(
                &format!("extra.{attempt}"),
                volunteer_input(60 + attempt),
            ))
            .await;
    }
    check(
        &Refusal {
            case: "a sixth registration within the hour",
            code: Code::ResourceExhausted,
            fields: &[],
        },
        app.auth()
            .register_volunteer(register("one.more", volunteer_input(70)))
            .await,
    );
    app.assert_tallies_recount().await;
    app.stop().await;
}

/// A check (`validate_only`) of a registration, at the gateway or at the registry.
#[derive(Clone)]
enum Check {
    /// AuthService/RegisterVolunteer, as the register-myself form asks.
    Register(pb::RegisterVolunteerRequest),
    /// VolunteerService/CreateVolunteer, as staff ask, with this token.
    Create(String, registry::CreateVolunteerRequest),
}

/// One check and what it must answer: OK, or the code and, for INVALID_ARGUMENT, every
/// violated field in order.
struct TestCase {
    case: &'static str,
    check: Check,
    expected: Result<(), (Code, &'static [&'static str])>,
}

/// Makes a check; an answer that is not empty is a failure here.
async fn run_check(app: &TestApp, check: &Check) -> Result<(), tonic::Status> {
    match check.clone() {
        Check::Register(request) => {
            let response = app.auth().register_volunteer(request).await?.into_inner();
            assert_eq!(
                response,
                pb::RegisterVolunteerResponse::default(),
                "a check answers nothing"
            );
        }
        Check::Create(token, request) => {
            let response = app
                .volunteers(&token)
                .create_volunteer(request)
                .await?
                .into_inner();
            assert_eq!(
                response,
                registry::CreateVolunteerResponse::default(),
                "a check answers nothing"
            );
        }
    }
    Ok(())
}

#[track_caller]
fn check_validation(case: &TestCase, result: Result<(), tonic::Status>) {
    use tonic_types::StatusExt;
    let name = case.case;
    match (&case.expected, result) {
        (Ok(()), Ok(())) => {}
        (Ok(()), Err(status)) => panic!("{name}: expected OK, got {status:?}"),
        (Err((code, _)), Ok(())) => panic!("{name}: expected {code:?}, got OK"),
        (Err((code, fields)), Err(status)) => {
            assert_eq!(status.code(), *code, "{name}: {status:?}");
            assert_eq!(violated_fields(&status), *fields, "{name}: {status:?}");
            // Every violation, the gateway's and the registry's alike, in both languages.
            let details = status.get_error_details();
            for violation in details
                .bad_request()
                .map(|bad_request| bad_request.field_violations.clone())
                .unwrap_or_default()
            {
                assert!(!violation.description.is_empty(), "{name}: {violation:?}");
                let chinese = violation
                    .localized_message
                    .as_ref()
                    .filter(|message| message.locale == "zh-CN")
                    .map(|message| message.message.clone())
                    .unwrap_or_default();
                assert!(!chinese.is_empty(), "{name}: no Chinese in {violation:?}");
            }
        }
    }
}

async fn registrations_are_checked_without_being_made(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(
            &admin,
            &app.root,
            registry::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let register = |username: &str, volunteer: registry::Volunteer| pb::RegisterVolunteerRequest {
        username: username.to_string(),
        password: "我的志愿者密码-2026".to_string(),
        volunteer: Some(volunteer),
        team: team.name.clone(),
        validate_only: false,
    };
    let dry_run = |username: &str, volunteer: registry::Volunteer| pb::RegisterVolunteerRequest {
        validate_only: true,
        ..register(username, volunteer)
    };
    // One registration for real (one of the address's five): her username and document
    // are taken from now on.
    app.auth()
        .register_volunteer(register("lin.meihua", volunteer_input(51)))
        .await
        .expect("registers herself");

    let mut bad_id = volunteer_input(52);
    bad_id.id_number = "350203199001011235".to_string();
    let unnamed_registered = registry::Volunteer {
        display_name: String::new(),
        ..volunteer_input(51)
    };
    let bad_fields = registry::Volunteer {
        display_name: String::new(),
        phone: "12".to_string(),
        ..volunteer_input(54)
    };
    let cases = [
        TestCase {
            case: "a valid registration",
            check: Check::Register(dry_run("chen.xiaoyu", volunteer_input(80))),
            expected: Ok(()),
        },
        TestCase {
            case: "a wrong check digit",
            check: Check::Register(dry_run("lin.bad", bad_id.clone())),
            expected: Err((Code::InvalidArgument, &["volunteer.id_number"])),
        },
        TestCase {
            case: "a document registered before, as a violation rather than ALREADY_EXISTS",
            check: Check::Register(dry_run("lin.again", volunteer_input(51))),
            expected: Err((Code::InvalidArgument, &["volunteer.id_number"])),
        },
        TestCase {
            case: "a document registered before, with another field refused",
            check: Check::Register(dry_run("lin.again", unnamed_registered.clone())),
            expected: Err((
                Code::InvalidArgument,
                &["volunteer.id_number", "volunteer.display_name"],
            )),
        },
        TestCase {
            case: "a username taken, with the registry's violations",
            check: Check::Register(dry_run("Lin.Meihua", bad_fields.clone())),
            expected: Err((
                Code::InvalidArgument,
                &["username", "volunteer.display_name", "volunteer.phone"],
            )),
        },
        TestCase {
            case: "a username taken and a document registered before",
            check: Check::Register(dry_run("lin.meihua", volunteer_input(51))),
            expected: Err((Code::InvalidArgument, &["username", "volunteer.id_number"])),
        },
        TestCase {
            case: "a malformed username and a short password, the record checked all the same",
            check: Check::Register(pb::RegisterVolunteerRequest {
                password: "short".to_string(),
                ..dry_run("ab", bad_id.clone())
            }),
            expected: Err((
                Code::InvalidArgument,
                &["username", "password", "volunteer.id_number"],
            )),
        },
        TestCase {
            case: "a team that does not exist",
            check: Check::Register(pb::RegisterVolunteerRequest {
                team: "orgUnits/0196a7c2-0000-7000-8000-000000000001".to_string(),
                ..dry_run("chen.xiaoyu", volunteer_input(80))
            }),
            expected: Err((Code::NotFound, &[])),
        },
        TestCase {
            case: "staff check a registration",
            check: Check::Create(
                admin.clone(),
                registry::CreateVolunteerRequest {
                    org_unit: team.name.clone(),
                    volunteer: Some(volunteer_input(81)),
                    request_id: "0196a7c2-3f4e-7a1b-9c2d-5e6f7a8b9c0d".to_string(),
                    pending_membership: false,
                    validate_only: true,
                },
            ),
            expected: Ok(()),
        },
        TestCase {
            case: "staff check a registered document with another field refused",
            check: Check::Create(
                admin.clone(),
                registry::CreateVolunteerRequest {
                    org_unit: team.name.clone(),
                    volunteer: Some(unnamed_registered.clone()),
                    validate_only: true,
                    ..Default::default()
                },
            ),
            expected: Err((
                Code::InvalidArgument,
                &["volunteer.id_number", "volunteer.display_name"],
            )),
        },
        TestCase {
            case: "a volunteer may not check registrations",
            check: Check::Create(
                app.volunteer_token(&team.name, "someone"),
                registry::CreateVolunteerRequest {
                    org_unit: team.name.clone(),
                    volunteer: Some(volunteer_input(82)),
                    validate_only: true,
                    ..Default::default()
                },
            ),
            expected: Err((Code::PermissionDenied, &[])),
        },
    ];
    for case in &cases {
        check_validation(case, run_check(&app, &case.check).await);
    }

    // The checks wrote nothing: no join application besides hers, and the username and
    // the document checked are free to register for real.
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let pending = app
        .memberships(&leader)
        .list_join_applications(registry::ListJoinApplicationsRequest {
            parent: team.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists applications")
        .into_inner()
        .join_applications;
    assert_eq!(pending.len(), 1, "only the real registration applied");
    let registered = app
        .auth()
        .register_volunteer(register("chen.xiaoyu", volunteer_input(80)))
        .await
        .expect("registers for real what was checked")
        .into_inner();
    assert!(registered.session.is_some());
    // Nor did the staff's check claim its request id.
    let created = app
        .volunteers(&admin)
        .create_volunteer(registry::CreateVolunteerRequest {
            org_unit: team.name.clone(),
            volunteer: Some(volunteer_input(81)),
            request_id: "0196a7c2-3f4e-7a1b-9c2d-5e6f7a8b9c0d".to_string(),
            pending_membership: false,
            validate_only: false,
        })
        .await
        .expect("registers for real with the request id of the check")
        .into_inner()
        .volunteer
        .expect("the new volunteer");
    assert_eq!(created.display_name, volunteer_input(81).display_name);

    // Checks have a budget of their own: many more than five from this address, then a
    // real registration (the third) is still admitted.
    for attempt in 0..12 {
        let case = TestCase {
            case: "a check as she types",
            check: Check::Register(dry_run(
                &format!("typing.{attempt}"),
                volunteer_input(90 + attempt),
            )),
            expected: Ok(()),
        };
        check_validation(&case, run_check(&app, &case.check).await);
    }
    app.auth()
        .register_volunteer(register("typing.done", volunteer_input(100)))
        .await
        .expect("checks used up no registration");
    // And real registrations are still bounded: three so far, two more, then refused.
    for attempt in 0..2 {
        app.auth()
            .register_volunteer(register(
                &format!("extra.{attempt}"),
                volunteer_input(110 + attempt),
            ))
            .await
            .expect("within the five");
    }
    check(
        &Refusal {
            case: "a sixth registration within the hour",
            code: Code::ResourceExhausted,
            fields: &[],
        },
        app.auth()
            .register_volunteer(register("one.more", volunteer_input(120)))
            .await,
    );
    app.assert_tallies_recount().await;
    app.stop().await;
}
