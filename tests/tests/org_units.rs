//! OrgUnitService end to end: the org tree (corps → team → sub-team → squad), its status
//! lifecycle, registration forms, subtree isolation between districts, roles and the
//! change history — over real gRPC, on SQLite and PostgreSQL.

use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as pb;
use egret_runtime::Role;
use egret_tests::{TestApp, both_backends, chinese_message, violated_fields};
use prost_types::FieldMask;
use tonic::{Code, Status};

both_backends!(
    get_and_list_org_units,
    list_pages_and_filters_by_name,
    create_units_at_every_tier_and_retry_safely,
    update_org_unit_with_mask_and_version,
    move_sub_team_carries_its_squads,
    suspend_resume_and_dissolve,
    merge_moves_active_memberships,
    registration_form_takes_every_field_and_masks_phones,
    registration_form_numbers_and_member_count,
    revealing_personal_data_is_audited,
    bad_input_is_invalid_argument,
    bad_moves_name_new_parent,
    bad_form_input_names_the_field,
    state_rules_are_failed_precondition,
    other_district_is_not_found,
    roles_without_rights_are_denied,
    own_unit_cannot_be_restructured,
    calls_without_token_are_unauthenticated,
    org_unit_change_history_lists_operations_in_order,
    form_change_history_masks_phones,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|path| path.to_string()).collect(),
    })
}

fn has_chinese(text: &str) -> bool {
    text.chars()
        .any(|character| ('\u{4e00}'..='\u{9fff}').contains(&character))
}

/// The error of a call that must fail.
fn failure<T: std::fmt::Debug>(result: Result<tonic::Response<T>, Status>) -> Status {
    match result {
        Ok(response) => panic!("expected an error, got {:?}", response.into_inner()),
        Err(status) => status,
    }
}

/// Asserts the code and a Chinese localized message.
#[track_caller]
fn assert_code(status: &Status, code: Code) {
    assert_eq!(status.code(), code, "{status:?}");
    let zh = chinese_message(status).unwrap_or_else(|| panic!("no zh-CN message: {status:?}"));
    assert!(has_chinese(&zh), "not Chinese: {zh:?}");
}

/// Asserts INVALID_ARGUMENT naming `field`, with a Chinese message.
#[track_caller]
fn assert_invalid(status: &Status, field: &str) {
    assert_code(status, Code::InvalidArgument);
    let fields = violated_fields(status);
    assert!(
        fields.iter().any(|violated| violated == field),
        "expected a violation of {field}, got {fields:?}: {status:?}"
    );
}

/// Asserts that refusing a hidden unit looks exactly like refusing an unknown one.
#[track_caller]
fn assert_same_not_found(hidden: &Status, hidden_id: &str, unknown: &Status, unknown_id: &str) {
    assert_eq!(hidden.code(), Code::NotFound, "hidden: {hidden:?}");
    assert_eq!(unknown.code(), Code::NotFound, "unknown: {unknown:?}");
    assert_eq!(
        hidden.message().replace(hidden_id, "ID"),
        unknown.message().replace(unknown_id, "ID"),
        "the refusals differ"
    );
    assert_eq!(
        chinese_message(hidden).map(|text| text.replace(hidden_id, "ID")),
        chinese_message(unknown).map(|text| text.replace(unknown_id, "ID")),
    );
}

fn id_of(name: &str) -> &str {
    name.trim_start_matches("orgUnits/")
}

fn unknown_unit() -> String {
    format!("orgUnits/{}", uuid::Uuid::now_v7())
}

fn spec(
    tier: pb::Tier,
    display_name: &str,
    level: pb::TeamLevel,
    categories: &[pb::TeamCategory],
) -> pb::OrgUnit {
    pb::OrgUnit {
        tier: tier as i32,
        display_name: display_name.to_string(),
        level: level as i32,
        categories: categories.iter().map(|category| *category as i32).collect(),
        ..Default::default()
    }
}

fn create_request(parent: &str, unit: pb::OrgUnit) -> pb::CreateOrgUnitRequest {
    pb::CreateOrgUnitRequest {
        parent: parent.to_string(),
        org_unit: Some(unit),
        request_id: String::new(),
    }
}

async fn create(app: &TestApp, token: &str, parent: &str, unit: pb::OrgUnit) -> pb::OrgUnit {
    let display_name = unit.display_name.clone();
    app.org_units(token)
        .create_org_unit(create_request(parent, unit))
        .await
        .unwrap_or_else(|status| panic!("creating {display_name}: {status:?}"))
        .into_inner()
        .org_unit
        .expect("unit in response")
}

async fn get(app: &TestApp, token: &str, name: &str) -> pb::OrgUnit {
    app.org_units(token)
        .get_org_unit(pb::GetOrgUnitRequest {
            name: name.to_string(),
        })
        .await
        .unwrap_or_else(|status| panic!("getting {name}: {status:?}"))
        .into_inner()
        .org_unit
        .expect("unit in response")
}

async fn list(app: &TestApp, token: &str, request: pb::ListOrgUnitsRequest) -> Vec<pb::OrgUnit> {
    let response = app
        .org_units(token)
        .list_org_units(request.clone())
        .await
        .unwrap_or_else(|status| panic!("listing {request:?}: {status:?}"))
        .into_inner();
    assert!(response.next_page_token.is_empty(), "one page expected");
    response.org_units
}

fn display_names(units: &[pb::OrgUnit]) -> Vec<&str> {
    units
        .iter()
        .map(|unit| unit.display_name.as_str())
        .collect()
}

fn form_name(unit: &pb::OrgUnit) -> String {
    format!("{}/registrationForm", unit.name)
}

async fn get_form(
    app: &TestApp,
    token: &str,
    unit: &pb::OrgUnit,
    reveal: bool,
) -> Result<pb::RegistrationForm, Status> {
    app.org_units(token)
        .get_registration_form(pb::GetRegistrationFormRequest {
            name: form_name(unit),
            reveal_personal_data: reveal,
        })
        .await
        .map(|response| {
            response
                .into_inner()
                .registration_form
                .expect("form in response")
        })
}

async fn update_form(
    app: &TestApp,
    token: &str,
    form: pb::RegistrationForm,
    paths: &[&str],
) -> Result<pb::RegistrationForm, Status> {
    app.org_units(token)
        .update_registration_form(pb::UpdateRegistrationFormRequest {
            registration_form: Some(form),
            update_mask: mask(paths),
            expected_version: 0,
        })
        .await
        .map(|response| {
            response
                .into_inner()
                .registration_form
                .expect("form in response")
        })
}

async fn suspend(
    app: &TestApp,
    token: &str,
    name: &str,
    reason: &str,
) -> Result<pb::OrgUnit, Status> {
    app.org_units(token)
        .suspend_org_unit(pb::SuspendOrgUnitRequest {
            name: name.to_string(),
            reason: reason.to_string(),
        })
        .await
        .map(|response| response.into_inner().org_unit.expect("unit in response"))
}

async fn change_records(app: &TestApp, token: &str, resource: &str) -> Vec<common::ChangeRecord> {
    let response = app
        .records(token)
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: resource.to_string(),
            page_size: 0,
            page_token: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("history of {resource}: {status:?}"))
        .into_inner();
    assert!(response.next_page_token.is_empty());
    response.change_records
}

fn field_change<'a>(record: &'a common::ChangeRecord, field: &str) -> &'a common::FieldChange {
    record
        .field_changes
        .iter()
        .find(|change| change.field == field)
        .unwrap_or_else(|| panic!("no change of {field} in {record:?}"))
}

/// Two districts (teams) under the root: 思明区 with a sub-team, 湖里区 with two sub-teams
/// (the second suspended).
struct Districts {
    siming: pb::OrgUnit,
    siming_sub: pb::OrgUnit,
    huli: pb::OrgUnit,
    huli_sub: pb::OrgUnit,
    huli_sub_suspended: pb::OrgUnit,
}

async fn districts(app: &TestApp) -> Districts {
    let admin = app.admin();
    let siming = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let huli = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区")
        .await;
    let siming_sub = app
        .create_unit(&admin, &siming.name, pb::Tier::SubTeam, "鹭江街道分队")
        .await;
    let huli_sub = app
        .create_unit(&admin, &huli.name, pb::Tier::SubTeam, "殿前街道分队")
        .await;
    let huli_sub_suspended = app
        .create_unit(&admin, &huli.name, pb::Tier::SubTeam, "禾山街道分队")
        .await;
    suspend(app, &admin, &huli_sub_suspended.name, "换届")
        .await
        .expect("suspends");
    Districts {
        siming,
        siming_sub,
        huli,
        huli_sub,
        huli_sub_suspended,
    }
}

fn full_form(unit: &pb::OrgUnit) -> pb::RegistrationForm {
    pb::RegistrationForm {
        name: form_name(unit),
        leader_name: "陈丽华".to_string(),
        host_unit: "厦门市思明区妇女联合会".to_string(),
        declared_member_count: 120,
        founded_on: Some(common::Date {
            year: 2015,
            month: 3,
            day: 8,
        }),
        phone: "13812345678".to_string(),
        email: "siming@example.cn".to_string(),
        address: "厦门市思明区湖滨南路100号".to_string(),
        key_members: (0..6)
            .map(|index| pb::KeyMember {
                name: format!("骨干{index}"),
                position: if index == 0 { "队长" } else { "副队长" }.to_string(),
                phone: format!("1390000{index:04}"),
                workplace: format!("思明区第{index}中学"),
                email: format!("k{index}@example.cn"),
            })
            .collect(),
        service_features: "关爱留守儿童，助老助残，家庭教育讲座".to_string(),
        awards: "2019年全国巾帼文明岗；2021年福建省三八红旗集体".to_string(),
        ..Default::default()
    }
}

const ALL_FORM_FIELDS: [&str; 10] = [
    "leader_name",
    "host_unit",
    "declared_member_count",
    "founded_on",
    "phone",
    "email",
    "address",
    "key_members",
    "service_features",
    "awards",
];

// ---------------------------------------------------------------------------------------
// 1. Success paths
// ---------------------------------------------------------------------------------------

async fn get_and_list_org_units(app: TestApp) {
    use pb::TeamCategory::{Community, Grassroots, Professional};
    let admin = app.admin();
    let a = create(
        &app,
        &admin,
        &app.root,
        spec(
            pb::Tier::Team,
            "思明区巾帼志愿服务队",
            pb::TeamLevel::Provincial,
            &[Professional, Community],
        ),
    )
    .await;
    let b = create(
        &app,
        &admin,
        &app.root,
        spec(
            pb::Tier::Team,
            "湖里区巾帼志愿服务队",
            pb::TeamLevel::District,
            &[Grassroots],
        ),
    )
    .await;
    let a1 = create(
        &app,
        &admin,
        &a.name,
        spec(
            pb::Tier::SubTeam,
            "鼓浪屿街道分队",
            pb::TeamLevel::District,
            &[Community],
        ),
    )
    .await;
    let a1x = create(
        &app,
        &admin,
        &a1.name,
        spec(
            pb::Tier::Squad,
            "龙头社区小队",
            pb::TeamLevel::Unspecified,
            &[],
        ),
    )
    .await;

    // GetOrgUnit returns what CreateOrgUnit returned.
    let got = get(&app, &admin, &a1.name).await;
    assert_eq!(got, a1);
    assert!(got.name.starts_with("orgUnits/"));
    assert_eq!(got.parent, a.name);
    assert_eq!(got.tier, pb::Tier::SubTeam as i32);
    assert_eq!(got.display_name, "鼓浪屿街道分队");
    assert_eq!(got.level, pb::TeamLevel::District as i32);
    assert_eq!(got.categories, vec![Community as i32]);
    assert_eq!(got.status, pb::OrgUnitStatus::Active as i32);
    assert!(got.merged_into.is_empty());
    assert_eq!(got.ancestors[..2], [app.root.clone(), a.name.clone()]);
    assert!(!got.ancestors.contains(&b.name));
    let metadata = got.metadata.expect("metadata");
    assert_eq!(metadata.uid, id_of(&a1.name));
    assert_eq!(metadata.version, 1);
    assert!(!metadata.origin_instance.is_empty());
    assert!(metadata.create_time.is_some());
    let squad = get(&app, &admin, &a1x.name).await;
    assert_eq!(squad.parent, a1.name);
    assert_eq!(squad.tier, pb::Tier::Squad as i32);
    assert_eq!(
        squad.ancestors[..3],
        [app.root.clone(), a.name.clone(), a1.name.clone()]
    );
    let root = get(&app, &admin, &app.root).await;
    assert!(root.parent.is_empty());
    assert_eq!(root.tier, pb::Tier::Corps as i32);

    // Default: the caller's own subtree, the root included, in creation order.
    let all = list(&app, &admin, pb::ListOrgUnitsRequest::default()).await;
    assert_eq!(
        all.iter()
            .map(|unit| unit.name.as_str())
            .collect::<Vec<_>>(),
        vec![
            app.root.as_str(),
            a.name.as_str(),
            b.name.as_str(),
            a1.name.as_str(),
            a1x.name.as_str()
        ]
    );

    // A subtree includes its root.
    let subtree = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: a.name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        display_names(&subtree),
        vec!["思明区巾帼志愿服务队", "鼓浪屿街道分队", "龙头社区小队"]
    );

    // Only direct children.
    let children = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: app.root.clone(),
            children_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        display_names(&children),
        vec!["思明区巾帼志愿服务队", "湖里区巾帼志愿服务队"]
    );
    let children_of_a = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: a.name.clone(),
            children_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&children_of_a), vec!["鼓浪屿街道分队"]);

    // Tier.
    let sub_teams = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            tier: pb::Tier::SubTeam as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&sub_teams), vec!["鼓浪屿街道分队"]);
    let teams = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            tier: pb::Tier::Team as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(teams.len(), 2);

    // Level.
    let provincial = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            level: pb::TeamLevel::Provincial as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&provincial), vec!["思明区巾帼志愿服务队"]);
    let district = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            level: pb::TeamLevel::District as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        display_names(&district),
        vec!["湖里区巾帼志愿服务队", "鼓浪屿街道分队"]
    );

    // Category: an exact element of the list.
    let community = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            category: Community as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        display_names(&community),
        vec!["思明区巾帼志愿服务队", "鼓浪屿街道分队"]
    );
    let grassroots = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            category: Grassroots as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&grassroots), vec!["湖里区巾帼志愿服务队"]);
    let federation_office = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            category: pb::TeamCategory::FederationOffice as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(federation_office.is_empty());

    // Name.
    let named = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            display_name_contains: "湖里".to_string(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&named), vec!["湖里区巾帼志愿服务队"]);

    // Status.
    suspend(&app, &admin, &b.name, "整顿")
        .await
        .expect("suspends");
    let suspended = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            status: pb::OrgUnitStatus::Suspended as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&suspended), vec!["湖里区巾帼志愿服务队"]);
    let active_teams = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            status: pb::OrgUnitStatus::Active as i32,
            tier: pb::Tier::Team as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&active_teams), vec!["思明区巾帼志愿服务队"]);

    // Filters combine with the subtree.
    let combined = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: b.name.clone(),
            category: Community as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(combined.is_empty());
    app.stop().await;
}

async fn list_pages_and_filters_by_name(app: TestApp) {
    let admin = app.admin();
    let mut created = Vec::new();
    for index in 0..5 {
        created.push(
            app.create_unit(
                &admin,
                &app.root,
                pb::Tier::Team,
                &format!("第{index}服务队"),
            )
            .await
            .name,
        );
    }
    // A name filter with LIKE wildcards matches them literally.
    app.create_unit(&admin, &app.root, pb::Tier::Team, "百分之百_队")
        .await;
    // Latin letters match as written, on every engine.
    app.create_unit(&admin, &app.root, pb::Tier::Team, "ABC社区站")
        .await;
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let response = app
            .org_units(&admin)
            .list_org_units(pb::ListOrgUnitsRequest {
                ancestor: app.root.clone(),
                children_only: true,
                display_name_contains: "服务队".to_string(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("lists")
            .into_inner();
        assert!(response.org_units.len() <= 2);
        seen.extend(response.org_units.into_iter().map(|unit| unit.name));
        pages += 1;
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    assert_eq!(seen, created);
    assert_eq!(pages, 3);

    // A token belongs to its filters.
    let first = app
        .org_units(&admin)
        .list_org_units(pb::ListOrgUnitsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let status = failure(
        app.org_units(&admin)
            .list_org_units(pb::ListOrgUnitsRequest {
                page_size: 1,
                tier: pb::Tier::Team as i32,
                page_token: first.next_page_token,
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "page_token");

    // Sorted by name, page by page: code point order ("A" < "百" < "第"), ties by id;
    // descending reverses it; a token belongs to its order.
    let by_name = |order_by: &str| pb::ListOrgUnitsRequest {
        ancestor: app.root.clone(),
        children_only: true,
        page_size: 2,
        order_by: order_by.to_string(),
        ..Default::default()
    };
    let mut expected = vec![
        "ABC社区站".to_string(),
        "百分之百_队".to_string(),
        "第0服务队".to_string(),
        "第1服务队".to_string(),
        "第2服务队".to_string(),
        "第3服务队".to_string(),
        "第4服务队".to_string(),
    ];
    for order_by in ["display_name", "display_name desc"] {
        let mut names = Vec::new();
        let mut token = String::new();
        loop {
            let response = app
                .org_units(&admin)
                .list_org_units(pb::ListOrgUnitsRequest {
                    page_token: token.clone(),
                    ..by_name(order_by)
                })
                .await
                .unwrap_or_else(|status| panic!("listing by {order_by}: {status:?}"))
                .into_inner();
            names.extend(response.org_units.into_iter().map(|unit| unit.display_name));
            if response.next_page_token.is_empty() {
                break;
            }
            token = response.next_page_token;
        }
        assert_eq!(names, expected, "{order_by}");
        expected.reverse();
    }
    let first = app
        .org_units(&admin)
        .list_org_units(by_name("display_name"))
        .await
        .expect("lists")
        .into_inner();
    let status = failure(
        app.org_units(&admin)
            .list_org_units(pb::ListOrgUnitsRequest {
                page_token: first.next_page_token,
                ..by_name("create_time")
            })
            .await,
    );
    assert_invalid(&status, "page_token");
    let status = failure(app.org_units(&admin).list_org_units(by_name("tier")).await);
    assert_invalid(&status, "order_by");

    for (text, expected) in [
        ("%", 0),
        ("_", 1),
        ("百分之百_", 1),
        ("第3", 1),
        ("ABC", 1),
        ("abc", 0),
    ] {
        let found = list(
            &app,
            &admin,
            pb::ListOrgUnitsRequest {
                display_name_contains: text.to_string(),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(found.len(), expected, "{text:?}: {found:?}");
    }
    app.stop().await;
}

async fn create_units_at_every_tier_and_retry_safely(app: TestApp) {
    let admin = app.admin();
    let team = create(
        &app,
        &admin,
        &app.root,
        pb::OrgUnit {
            service_fields: vec![
                common::ServiceField::ElderlyCare as i32,
                common::ServiceField::Education as i32,
            ],
            service_themes: vec![common::ServiceTheme::Care as i32],
            ..spec(
                pb::Tier::Team,
                "  思明区妇联巾帼志愿服务队  ",
                pb::TeamLevel::District,
                &[pb::TeamCategory::FederationOffice],
            )
        },
    )
    .await;
    assert_eq!(team.display_name, "思明区妇联巾帼志愿服务队", "trimmed");
    assert_eq!(team.parent, app.root);
    assert_eq!(team.tier, pb::Tier::Team as i32);
    assert_eq!(team.status, pb::OrgUnitStatus::Active as i32);
    assert_eq!(
        team.service_fields,
        vec![
            common::ServiceField::ElderlyCare as i32,
            common::ServiceField::Education as i32
        ]
    );
    assert_eq!(team.service_themes, vec![common::ServiceTheme::Care as i32]);
    assert_eq!(
        team.categories,
        vec![pb::TeamCategory::FederationOffice as i32]
    );

    let sub_team = create(
        &app,
        &admin,
        &team.name,
        spec(
            pb::Tier::SubTeam,
            "中华街道分队",
            pb::TeamLevel::District,
            &[],
        ),
    )
    .await;
    assert_eq!(sub_team.parent, team.name);
    assert_eq!(sub_team.tier, pb::Tier::SubTeam as i32);

    // A squad needs no level.
    let squad = create(
        &app,
        &admin,
        &sub_team.name,
        spec(
            pb::Tier::Squad,
            "新华社区小队",
            pb::TeamLevel::Unspecified,
            &[],
        ),
    )
    .await;
    assert_eq!(squad.parent, sub_team.name);
    assert_eq!(squad.tier, pb::Tier::Squad as i32);
    assert_eq!(squad.level, 0);

    // Teams and sub-teams get a form, squads do not.
    assert!(get_form(&app, &admin, &team, false).await.is_ok());
    assert!(get_form(&app, &admin, &sub_team, false).await.is_ok());

    // A retry with the same request id returns the same unit and creates nothing.
    let request_id = uuid::Uuid::new_v4().to_string();
    let request = pb::CreateOrgUnitRequest {
        parent: sub_team.name.clone(),
        org_unit: Some(spec(
            pb::Tier::Squad,
            "大同社区小队",
            pb::TeamLevel::Unspecified,
            &[],
        )),
        request_id: request_id.clone(),
    };
    let first = app
        .org_units(&admin)
        .create_org_unit(request.clone())
        .await
        .expect("creates")
        .into_inner()
        .org_unit
        .expect("unit");
    let second = app
        .org_units(&admin)
        .create_org_unit(request.clone())
        .await
        .expect("retry succeeds")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(second.name, first.name);
    assert_eq!(second.display_name, "大同社区小队");
    let squads = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: sub_team.name.clone(),
            children_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&squads), vec!["新华社区小队", "大同社区小队"]);
    let history = change_records(&app, &admin, &first.name).await;
    assert_eq!(history.len(), 1, "created once: {history:?}");

    // Without the request id, the same name under the same parent is taken.
    let status = failure(
        app.org_units(&admin)
            .create_org_unit(pb::CreateOrgUnitRequest {
                request_id: String::new(),
                ..request
            })
            .await,
    );
    assert_code(&status, Code::AlreadyExists);
    let squads = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: sub_team.name.clone(),
            children_only: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(squads.len(), 2);

    // A staff member of the team creates under its own team.
    let staff = app.token(&team.name, &[Role::Staff]);
    let by_staff = create(
        &app,
        &staff,
        &team.name,
        spec(
            pb::Tier::SubTeam,
            "筼筜街道分队",
            pb::TeamLevel::District,
            &[],
        ),
    )
    .await;
    assert_eq!(by_staff.parent, team.name);
    app.stop().await;
}

async fn update_org_unit_with_mask_and_version(app: TestApp) {
    let admin = app.admin();
    let team = create(
        &app,
        &admin,
        &app.root,
        spec(
            pb::Tier::Team,
            "集美区巾帼志愿服务队",
            pb::TeamLevel::District,
            &[pb::TeamCategory::Community],
        ),
    )
    .await;
    assert_eq!(team.metadata.as_ref().expect("metadata").version, 1);

    // Only the masked field changes, whatever else the message carries.
    let updated = app
        .org_units(&admin)
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: team.name.clone(),
                display_name: "集美区妇联巾帼志愿服务队".to_string(),
                level: pb::TeamLevel::National as i32,
                categories: vec![],
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
            expected_version: 1,
        })
        .await
        .expect("updates")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(updated.display_name, "集美区妇联巾帼志愿服务队");
    assert_eq!(updated.level, pb::TeamLevel::District as i32);
    assert_eq!(updated.categories, vec![pb::TeamCategory::Community as i32]);
    assert_eq!(updated.metadata.as_ref().expect("metadata").version, 2);
    assert_eq!(get(&app, &admin, &team.name).await, updated);

    // Every updatable field.
    let updated = app
        .org_units(&admin)
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: team.name.clone(),
                level: pb::TeamLevel::Municipal as i32,
                categories: vec![
                    pb::TeamCategory::RedBannerCollective as i32,
                    pb::TeamCategory::Professional as i32,
                ],
                service_fields: vec![common::ServiceField::Disability as i32],
                service_themes: vec![
                    common::ServiceTheme::Rights as i32,
                    common::ServiceTheme::Civility as i32,
                ],
                ..Default::default()
            }),
            update_mask: mask(&["level", "categories", "service_fields", "service_themes"]),
            expected_version: 2,
        })
        .await
        .expect("updates")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(updated.display_name, "集美区妇联巾帼志愿服务队");
    assert_eq!(updated.level, pb::TeamLevel::Municipal as i32);
    assert_eq!(
        updated.categories,
        vec![
            pb::TeamCategory::RedBannerCollective as i32,
            pb::TeamCategory::Professional as i32
        ]
    );
    assert_eq!(
        updated.service_fields,
        vec![common::ServiceField::Disability as i32]
    );
    assert_eq!(
        updated.service_themes,
        vec![
            common::ServiceTheme::Rights as i32,
            common::ServiceTheme::Civility as i32
        ]
    );
    assert_eq!(updated.metadata.as_ref().expect("metadata").version, 3);
    // The form shows the unit's name and level.
    let form = get_form(&app, &admin, &team, false).await.expect("form");
    assert_eq!(form.team_name, "集美区妇联巾帼志愿服务队");
    assert_eq!(form.team_level, pb::TeamLevel::Municipal as i32);

    // A stale version is refused and changes nothing.
    let status = failure(
        app.org_units(&admin)
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: team.name.clone(),
                    display_name: "过期的名称".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 1,
            })
            .await,
    );
    assert_code(&status, Code::Aborted);
    let current = get(&app, &admin, &team.name).await;
    assert_eq!(current.display_name, "集美区妇联巾帼志愿服务队");
    assert_eq!(current.metadata.expect("metadata").version, 3);

    // The name of a live sibling is taken.
    let other = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "海沧区巾帼志愿服务队")
        .await;
    let status = failure(
        app.org_units(&admin)
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: other.name.clone(),
                    display_name: "集美区妇联巾帼志愿服务队".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::AlreadyExists);
    app.stop().await;
}

async fn move_sub_team_carries_its_squads(app: TestApp) {
    let admin = app.admin();
    let from = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let to = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区")
        .await;
    let sub_team = app
        .create_unit(&admin, &from.name, pb::Tier::SubTeam, "江头街道分队")
        .await;
    let squad1 = app
        .create_unit(&admin, &sub_team.name, pb::Tier::Squad, "一小队")
        .await;
    let squad2 = app
        .create_unit(&admin, &sub_team.name, pb::Tier::Squad, "二小队")
        .await;
    assert!(squad1.ancestors.contains(&from.name));
    // A member in a squad counts for the team above it, wherever the squad goes.
    app.register(&admin, &squad1.name, 31).await;
    let count = |unit: pb::OrgUnit| {
        let admin = admin.clone();
        let app = &app;
        async move {
            get_form(app, &admin, &unit, false)
                .await
                .expect("form")
                .counted_member_count
        }
    };
    assert_eq!(count(from.clone()).await, 1);
    assert_eq!(count(to.clone()).await, 0);

    let moved = app
        .org_units(&admin)
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: sub_team.name.clone(),
            new_parent: to.name.clone(),
        })
        .await
        .expect("moves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(moved.name, sub_team.name);
    assert_eq!(moved.parent, to.name);
    assert_eq!(moved.ancestors[..2], [app.root.clone(), to.name.clone()]);
    assert!(!moved.ancestors.contains(&from.name));
    assert_eq!(moved.metadata.as_ref().expect("metadata").version, 2);
    assert_eq!(get(&app, &admin, &sub_team.name).await.parent, to.name);

    for squad in [&squad1, &squad2] {
        let squad = get(&app, &admin, &squad.name).await;
        assert_eq!(squad.parent, sub_team.name, "the squad's parent stays");
        assert_eq!(
            squad.ancestors[..3],
            [app.root.clone(), to.name.clone(), sub_team.name.clone()]
        );
        assert!(!squad.ancestors.contains(&from.name), "{squad:?}");
        // Its new place is a change of its own record, in its history and the change log.
        assert_eq!(squad.metadata.as_ref().expect("metadata").version, 2);
        let history = change_records(&app, &admin, &squad.name).await;
        let last = history.last().expect("history");
        assert_eq!(last.operation, common::ChangeOperation::Update as i32);
        let path = field_change(last, "path");
        assert!(
            path.old_value.contains(&from.name["orgUnits/".len()..]),
            "{path:?}"
        );
        assert!(
            path.new_value.contains(&to.name["orgUnits/".len()..]),
            "{path:?}"
        );
    }

    // Subtree listings follow the move.
    let under_from = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: from.name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&under_from), vec!["思明区"]);
    let under_to = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: to.name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        display_names(&under_to),
        vec!["湖里区", "江头街道分队", "一小队", "二小队"]
    );

    // The old district's staff no longer sees it; the new district's staff does.
    let from_staff = app.token(&from.name, &[Role::Staff]);
    let status = failure(
        app.org_units(&from_staff)
            .get_org_unit(pb::GetOrgUnitRequest {
                name: squad1.name.clone(),
            })
            .await,
    );
    assert_eq!(status.code(), Code::NotFound);
    let to_staff = app.token(&to.name, &[Role::Staff]);
    assert_eq!(
        get(&app, &to_staff, &squad2.name).await.parent,
        sub_team.name
    );

    assert_eq!(count(from.clone()).await, 0);
    assert_eq!(count(to.clone()).await, 1);
    assert_eq!(count(sub_team.clone()).await, 1);

    // The new parent may not already hold a live unit of the same name.
    let namesake = app
        .create_unit(&admin, &from.name, pb::Tier::SubTeam, "江头街道分队")
        .await;
    let status = failure(
        app.org_units(&admin)
            .move_org_unit(pb::MoveOrgUnitRequest {
                name: namesake.name.clone(),
                new_parent: to.name.clone(),
            })
            .await,
    );
    assert_code(&status, Code::AlreadyExists);
    assert_eq!(get(&app, &admin, &namesake.name).await.parent, from.name);

    // Moving a unit where it already is changes nothing.
    let same = app
        .org_units(&admin)
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: sub_team.name.clone(),
            new_parent: to.name.clone(),
        })
        .await
        .expect("no-op move")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(same.parent, to.name);

    // A squad moves to another sub-team.
    let other_sub = app
        .create_unit(&admin, &from.name, pb::Tier::SubTeam, "莲前街道分队")
        .await;
    let moved_squad = app
        .org_units(&admin)
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: squad2.name.clone(),
            new_parent: other_sub.name.clone(),
        })
        .await
        .expect("moves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(
        moved_squad.ancestors[..3],
        [app.root.clone(), from.name.clone(), other_sub.name.clone()]
    );
    app.stop().await;
}

async fn suspend_resume_and_dissolve(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "同安区")
        .await;
    let suspended = suspend(&app, &admin, &team.name, "负责人调离")
        .await
        .expect("suspends");
    assert_eq!(suspended.status, pb::OrgUnitStatus::Suspended as i32);
    assert_eq!(suspended.metadata.as_ref().expect("metadata").version, 2);
    assert_eq!(
        get(&app, &admin, &team.name).await.status,
        pb::OrgUnitStatus::Suspended as i32
    );

    let resumed = app
        .org_units(&admin)
        .resume_org_unit(pb::ResumeOrgUnitRequest {
            name: team.name.clone(),
            reason: "新负责人到任".to_string(),
        })
        .await
        .expect("resumes")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(resumed.status, pb::OrgUnitStatus::Active as i32);
    assert_eq!(resumed.metadata.as_ref().expect("metadata").version, 3);

    // Dissolving needs no live units below; dissolved children do not count.
    let sub_team = app
        .create_unit(&admin, &team.name, pb::Tier::SubTeam, "五显镇分队")
        .await;
    // A member of the dissolved sub-team keeps the record, ended; her primary passes to her
    // other unit.
    let member = app.register(&admin, &sub_team.name, 77).await;
    app.memberships(&admin)
        .create_membership(pb::CreateMembershipRequest {
            parent: team.name.clone(),
            volunteer: member.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("second membership");
    let dissolved_sub = app
        .org_units(&admin)
        .dissolve_org_unit(pb::DissolveOrgUnitRequest {
            name: sub_team.name.clone(),
            reason: "人员不足".to_string(),
        })
        .await
        .expect("dissolves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(dissolved_sub.status, pb::OrgUnitStatus::Dissolved as i32);
    let memberships = app
        .memberships(&admin)
        .list_memberships(pb::ListMembershipsRequest {
            parent: "orgUnits/-".to_string(),
            volunteer: member.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .memberships;
    let in_sub_team = memberships
        .iter()
        .find(|membership| membership.name.starts_with(&sub_team.name))
        .expect("membership in the dissolved sub-team");
    assert_eq!(in_sub_team.state, pb::MembershipState::Ended as i32);
    assert!(in_sub_team.ended_on.is_some());
    let in_team = memberships
        .iter()
        .find(|membership| membership.name.starts_with(&team.name))
        .expect("membership in the team");
    assert_eq!(in_team.state, pb::MembershipState::Active as i32);
    assert!(in_team.primary, "the primary passed on");
    let dissolved = app
        .org_units(&admin)
        .dissolve_org_unit(pb::DissolveOrgUnitRequest {
            name: team.name.clone(),
            reason: "撤并".to_string(),
        })
        .await
        .expect("dissolves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(dissolved.status, pb::OrgUnitStatus::Dissolved as i32);
    let listed = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            status: pb::OrgUnitStatus::Dissolved as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&listed), vec!["同安区", "五显镇分队"]);

    // A dissolved unit's name is free again.
    let again = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "同安区")
        .await;
    assert_ne!(again.name, team.name);

    // A suspended unit can be dissolved too.
    let paused = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "翔安区")
        .await;
    suspend(&app, &admin, &paused.name, "")
        .await
        .expect("suspends");
    let ended = app
        .org_units(&admin)
        .dissolve_org_unit(pb::DissolveOrgUnitRequest {
            name: paused.name.clone(),
            reason: String::new(),
        })
        .await
        .expect("dissolves")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(ended.status, pb::OrgUnitStatus::Dissolved as i32);
    app.stop().await;
}

async fn merge_moves_active_memberships(app: TestApp) {
    let admin = app.admin();
    let target = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let merged = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "鼓浪屿区")
        .await;
    let volunteer = app.register(&admin, &merged.name, 7).await;
    let staying = app.register(&admin, &target.name, 8).await;

    let result = app
        .org_units(&admin)
        .merge_org_unit(pb::MergeOrgUnitRequest {
            name: merged.name.clone(),
            into: target.name.clone(),
            reason: "区划调整".to_string(),
        })
        .await
        .expect("merges")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(result.status, pb::OrgUnitStatus::Merged as i32);
    assert_eq!(result.merged_into, target.name);
    let reread = get(&app, &admin, &merged.name).await;
    assert_eq!(reread.status, pb::OrgUnitStatus::Merged as i32);
    assert_eq!(reread.merged_into, target.name);
    assert_eq!(
        get(&app, &admin, &target.name).await.status,
        pb::OrgUnitStatus::Active as i32
    );

    let memberships = app
        .memberships(&admin)
        .list_memberships(pb::ListMembershipsRequest {
            parent: target.name.clone(),
            state: pb::MembershipState::Active as i32,
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .memberships;
    let mut volunteers: Vec<&str> = memberships
        .iter()
        .map(|membership| membership.volunteer.as_str())
        .collect();
    volunteers.sort_unstable();
    let mut expected = vec![volunteer.name.as_str(), staying.name.as_str()];
    expected.sort_unstable();
    assert_eq!(volunteers, expected);
    let moved = memberships
        .iter()
        .find(|membership| membership.volunteer == volunteer.name)
        .expect("moved membership");
    assert!(
        moved
            .name
            .starts_with(&format!("{}/memberships/", target.name))
    );
    assert_eq!(moved.state, pb::MembershipState::Active as i32);
    assert!(moved.primary, "the primary membership moves as primary");

    let old = app
        .memberships(&admin)
        .list_memberships(pb::ListMembershipsRequest {
            parent: merged.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists")
        .into_inner()
        .memberships;
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].volunteer, volunteer.name);
    assert_eq!(old[0].state, pb::MembershipState::Ended as i32);

    // The target's form counts the moved member.
    let form = get_form(&app, &admin, &target, false).await.expect("form");
    assert_eq!(form.counted_member_count, 2);

    // A merged unit is final.
    let status = failure(
        app.org_units(&admin)
            .resume_org_unit(pb::ResumeOrgUnitRequest {
                name: merged.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    app.stop().await;
}

async fn registration_form_takes_every_field_and_masks_phones(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(
            &admin,
            &app.root,
            pb::Tier::Team,
            "思明区妇联巾帼志愿服务队",
        )
        .await;
    let blank = get_form(&app, &admin, &team, false).await.expect("form");
    assert_eq!(blank.name, form_name(&team));
    assert_eq!(blank.team_name, "思明区妇联巾帼志愿服务队");
    assert_eq!(blank.team_level, pb::TeamLevel::District as i32);
    assert!(blank.leader_name.is_empty());
    assert!(blank.key_members.is_empty());
    assert_eq!(blank.metadata.as_ref().expect("metadata").version, 1);

    let input = full_form(&team);
    let updated = update_form(&app, &admin, input.clone(), &ALL_FORM_FIELDS)
        .await
        .expect("updates");
    let check = |form: &pb::RegistrationForm| {
        assert_eq!(form.name, form_name(&team));
        assert_eq!(form.leader_name, "陈丽华");
        assert_eq!(form.host_unit, "厦门市思明区妇女联合会");
        assert_eq!(form.declared_member_count, 120);
        assert_eq!(
            form.founded_on,
            Some(common::Date {
                year: 2015,
                month: 3,
                day: 8
            })
        );
        assert_eq!(form.email, "siming@example.cn");
        assert_eq!(form.address, "厦门市思明区湖滨南路100号");
        assert_eq!(form.service_features, input.service_features);
        assert_eq!(form.awards, input.awards);
        assert_eq!(form.team_name, "思明区妇联巾帼志愿服务队");
        assert_eq!(form.key_members.len(), 6);
        for (index, (got, sent)) in form.key_members.iter().zip(&input.key_members).enumerate() {
            assert_eq!(got.name, sent.name, "row {index}");
            assert_eq!(got.position, sent.position, "row {index}");
            assert_eq!(got.workplace, sent.workplace, "row {index}");
            assert_eq!(got.email, sent.email, "row {index}");
        }
        assert!(!form.archive_number.is_empty());
        assert!(!form.team_number.is_empty());
    };
    check(&updated);
    assert_eq!(updated.metadata.as_ref().expect("metadata").version, 2);
    // Masked in the update's answer.
    assert_eq!(updated.phone, "138****5678");
    for member in &updated.key_members {
        assert!(member.phone.contains("****"), "{member:?}");
        assert!(member.phone.starts_with("139"));
    }

    // Masked for every reader that does not ask (and may not see them).
    let staff = app.token(&team.name, &[Role::Staff]);
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let viewer = app.token(&app.root, &[Role::Viewer]);
    for token in [&admin, &staff, &leader, &viewer] {
        let form = get_form(&app, token, &team, false).await.expect("reads");
        check(&form);
        assert!(form.phone.contains("****"), "{}", form.phone);
        assert_ne!(form.phone, "13812345678");
        for (member, sent) in form.key_members.iter().zip(&input.key_members) {
            assert!(member.phone.contains("****"), "{member:?}");
            assert_ne!(member.phone, sent.phone);
            assert_eq!(member.phone.len(), sent.phone.len());
        }
    }

    // Unmasked for an admin who asks.
    let revealed = get_form(&app, &admin, &team, true).await.expect("reveals");
    check(&revealed);
    assert_eq!(revealed.phone, "13812345678");
    for (member, sent) in revealed.key_members.iter().zip(&input.key_members) {
        assert_eq!(member.phone, sent.phone);
    }

    // A partial update changes only what the mask names.
    let partial = update_form(
        &app,
        &leader,
        pb::RegistrationForm {
            name: form_name(&team),
            awards: "2023年全国三八红旗集体".to_string(),
            leader_name: "不应写入".to_string(),
            ..Default::default()
        },
        &["awards"],
    )
    .await
    .expect("a team leader edits its own form");
    assert_eq!(partial.awards, "2023年全国三八红旗集体");
    assert_eq!(partial.leader_name, "陈丽华");
    assert_eq!(partial.key_members.len(), 6);
    assert_eq!(partial.declared_member_count, 120);

    // Phones are stored normalized.
    update_form(
        &app,
        &staff,
        pb::RegistrationForm {
            name: form_name(&team),
            phone: " 138-1234 5678 ".to_string(),
            ..Default::default()
        },
        &["phone"],
    )
    .await
    .expect("staff edits the form");
    let normalized = get_form(&app, &staff, &team, true).await.expect("reveals");
    assert_eq!(normalized.phone, "13812345678");

    // Clearing fields through the mask.
    let cleared = update_form(
        &app,
        &admin,
        pb::RegistrationForm {
            name: form_name(&team),
            ..Default::default()
        },
        &["phone", "founded_on", "key_members"],
    )
    .await
    .expect("clears");
    assert!(cleared.phone.is_empty());
    assert!(cleared.founded_on.is_none());
    assert!(cleared.key_members.is_empty());
    assert_eq!(cleared.leader_name, "陈丽华");

    // A stale version is refused.
    let status = failure(
        app.org_units(&admin)
            .update_registration_form(pb::UpdateRegistrationFormRequest {
                registration_form: Some(pb::RegistrationForm {
                    name: form_name(&team),
                    leader_name: "过期".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["leader_name"]),
                expected_version: 2,
            })
            .await,
    );
    assert_code(&status, Code::Aborted);
    let current = get_form(&app, &admin, &team, false).await.expect("form");
    assert_eq!(current.leader_name, "陈丽华");
    assert_eq!(current.metadata.expect("metadata").version, 5);
    app.stop().await;
}

async fn registration_form_numbers_and_member_count(app: TestApp) {
    let admin = app.admin();
    let team1 = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let team2 = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区")
        .await;
    let sub_team = app
        .create_unit(&admin, &team1.name, pb::Tier::SubTeam, "嘉莲街道分队")
        .await;
    let squad = app
        .create_unit(&admin, &sub_team.name, pb::Tier::Squad, "瑞景社区小队")
        .await;

    let form1 = get_form(&app, &admin, &team1, false).await.expect("form");
    let form2 = get_form(&app, &admin, &team2, false).await.expect("form");
    let form3 = get_form(&app, &admin, &sub_team, false)
        .await
        .expect("form");
    for form in [&form1, &form2, &form3] {
        assert!(!form.archive_number.is_empty(), "{form:?}");
        assert!(!form.team_number.is_empty(), "{form:?}");
    }
    assert_ne!(form1.archive_number, form2.archive_number);
    assert_ne!(form1.team_number, form2.team_number);
    assert_ne!(form1.archive_number, form3.archive_number);
    assert_ne!(form1.team_number, form3.team_number);
    assert_ne!(form2.team_number, form3.team_number);
    // Numbers are assigned once: an update keeps them.
    let updated = update_form(
        &app,
        &admin,
        pb::RegistrationForm {
            name: form_name(&team1),
            archive_number: "伪造".to_string(),
            team_number: "伪造".to_string(),
            leader_name: "林美玲".to_string(),
            ..Default::default()
        },
        &["leader_name"],
    )
    .await
    .expect("updates");
    assert_eq!(updated.archive_number, form1.archive_number);
    assert_eq!(updated.team_number, form1.team_number);

    for form in [&form1, &form2, &form3] {
        assert_eq!(form.counted_member_count, 0);
    }

    // v1, v2 in the team; v3 in the sub-team; v4 in the squad; v1 also joins the sub-team.
    let v1 = app.register(&admin, &team1.name, 11).await;
    app.register(&admin, &team1.name, 12).await;
    app.register(&admin, &sub_team.name, 13).await;
    app.register(&admin, &squad.name, 14).await;
    app.memberships(&admin)
        .create_membership(pb::CreateMembershipRequest {
            parent: sub_team.name.clone(),
            volunteer: v1.name.clone(),
            request_id: String::new(),
        })
        .await
        .expect("adds a second membership");
    // One in the other district.
    app.register(&admin, &team2.name, 15).await;

    let counted = |form: &pb::RegistrationForm| form.counted_member_count;
    let form1 = get_form(&app, &admin, &team1, false).await.expect("form");
    assert_eq!(counted(&form1), 4, "distinct volunteers in the subtree");
    let form3 = get_form(&app, &admin, &sub_team, false)
        .await
        .expect("form");
    assert_eq!(counted(&form3), 3);
    let form2 = get_form(&app, &admin, &team2, false).await.expect("form");
    assert_eq!(counted(&form2), 1);
    // The declared count is the form's own.
    let declared = update_form(
        &app,
        &admin,
        pb::RegistrationForm {
            name: form_name(&team1),
            declared_member_count: 80,
            ..Default::default()
        },
        &["declared_member_count"],
    )
    .await
    .expect("updates");
    assert_eq!(declared.declared_member_count, 80);
    assert_eq!(declared.counted_member_count, 4);
    app.stop().await;
}

async fn revealing_personal_data_is_audited(app: TestApp) {
    let admin = app.admin();
    let Districts { siming, huli, .. } = districts(&app).await;
    update_form(&app, &admin, full_form(&siming), &ALL_FORM_FIELDS)
        .await
        .expect("updates");
    let audit = |token: String, resource: String| {
        let client = app.records(&token);
        async move {
            let mut client = client;
            client
                .list_audit_entries(pb::ListAuditEntriesRequest {
                    resource,
                    page_size: 0,
                    page_token: String::new(),
                })
                .await
        }
    };
    let before = audit(admin.clone(), String::new())
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert!(before.is_empty(), "{before:?}");

    // Masked reads are not audited.
    get_form(&app, &admin, &siming, false).await.expect("reads");
    assert!(
        audit(admin.clone(), String::new())
            .await
            .expect("lists")
            .into_inner()
            .audit_entries
            .is_empty()
    );

    // Two reveals: the admin, then the district's staff.
    let staff = app.token(&siming.name, &[Role::Staff]);
    let by_admin = get_form(&app, &admin, &siming, true)
        .await
        .expect("reveals");
    assert_eq!(by_admin.phone, "13812345678");
    let by_staff = get_form(&app, &staff, &siming, true)
        .await
        .expect("reveals");
    assert_eq!(by_staff.phone, "13812345678");
    assert_eq!(by_staff.key_members[5].phone, "13900000005");

    let entries = audit(admin.clone(), form_name(&siming))
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert_eq!(entries.len(), 2, "{entries:?}");
    for entry in &entries {
        assert!(entry.name.starts_with("auditEntries/"), "{entry:?}");
        assert_eq!(entry.resource_name, form_name(&siming));
        assert_eq!(entry.method, "GetRegistrationForm");
        assert!(
            entry.fields.iter().any(|field| field == "phone"),
            "{entry:?}"
        );
        assert!(entry.read_time.is_some());
    }
    // Newest first.
    assert_eq!(entries[0].actor_org_unit, siming.name);
    assert_eq!(entries[1].actor_org_unit, app.root);
    assert_ne!(entries[0].actor, entries[1].actor);
    assert!(!entries[0].actor.is_empty());

    // Unfiltered, the admin sees the same two; a filter on another resource finds none.
    let all = audit(admin.clone(), String::new())
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert_eq!(all.len(), 2);
    let none = audit(admin.clone(), form_name(&huli))
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert!(none.is_empty());

    // A district admin sees the reads made in its district, not the root admin's.
    let siming_admin = app.token(&siming.name, &[Role::Admin]);
    let district = audit(siming_admin, String::new())
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert_eq!(district.len(), 1, "{district:?}");
    assert_eq!(district[0].actor_org_unit, siming.name);
    let huli_admin = app.token(&huli.name, &[Role::Admin]);
    assert!(
        audit(huli_admin, String::new())
            .await
            .expect("lists")
            .into_inner()
            .audit_entries
            .is_empty()
    );

    // Only admins read the audit log.
    for roles in [
        &[Role::Staff][..],
        &[Role::TeamLeader],
        &[Role::Viewer],
        &[Role::Sync],
    ] {
        let token = app.token(&app.root, roles);
        let status = failure(audit(token, String::new()).await);
        assert_code(&status, Code::PermissionDenied);
    }
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 2. Bad input → INVALID_ARGUMENT
// ---------------------------------------------------------------------------------------

async fn bad_input_is_invalid_argument(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let mut client = app.org_units(&admin);

    // A squad directly under the corps.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(pb::Tier::Squad, "越级小队", pb::TeamLevel::Unspecified, &[]),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");
    // A team under a team, a sub-team under the corps.
    let status = failure(
        client
            .create_org_unit(create_request(
                &team.name,
                spec(pb::Tier::Team, "越级队", pb::TeamLevel::District, &[]),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(pb::Tier::SubTeam, "越级分队", pb::TeamLevel::District, &[]),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");
    // A second corps.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(pb::Tier::Corps, "第二总队", pb::TeamLevel::Municipal, &[]),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");
    // No tier.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(
                    pb::Tier::Unspecified,
                    "无层级",
                    pb::TeamLevel::District,
                    &[],
                ),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");

    // Missing display name (blank counts as missing).
    for name in ["", "   "] {
        let status = failure(
            client
                .create_org_unit(create_request(
                    &app.root,
                    spec(pb::Tier::Team, name, pb::TeamLevel::District, &[]),
                ))
                .await,
        );
        assert_invalid(&status, "org_unit.display_name");
    }
    // Too long.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(
                    pb::Tier::Team,
                    &"长".repeat(101),
                    pb::TeamLevel::District,
                    &[],
                ),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.display_name");

    // Missing level for a team and a sub-team.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                spec(pb::Tier::Team, "无级别队", pb::TeamLevel::Unspecified, &[]),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.level");
    let status = failure(
        client
            .create_org_unit(create_request(
                &team.name,
                spec(
                    pb::Tier::SubTeam,
                    "无级别分队",
                    pb::TeamLevel::Unspecified,
                    &[],
                ),
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.level");

    // Bad enum values.
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                pb::OrgUnit {
                    level: 99,
                    ..spec(pb::Tier::Team, "坏级别", pb::TeamLevel::District, &[])
                },
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.level");
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                pb::OrgUnit {
                    categories: vec![pb::TeamCategory::Community as i32, 99],
                    service_fields: vec![0],
                    service_themes: vec![
                        common::ServiceTheme::Care as i32,
                        common::ServiceTheme::Care as i32,
                    ],
                    ..spec(pb::Tier::Team, "坏类别", pb::TeamLevel::District, &[])
                },
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.categories[1]");
    assert_invalid(&status, "org_unit.service_fields[0]");
    assert_invalid(&status, "org_unit.service_themes[1]");
    let status = failure(
        client
            .create_org_unit(create_request(
                &app.root,
                pb::OrgUnit {
                    tier: 42,
                    ..spec(pb::Tier::Team, "坏层级2", pb::TeamLevel::District, &[])
                },
            ))
            .await,
    );
    assert_invalid(&status, "org_unit.tier");
    let status = failure(
        client
            .list_org_units(pb::ListOrgUnitsRequest {
                tier: 99,
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "tier");
    let status = failure(
        client
            .list_org_units(pb::ListOrgUnitsRequest {
                status: 9,
                level: -1,
                category: 77,
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "status");
    assert_invalid(&status, "level");
    assert_invalid(&status, "category");
    let status = failure(
        client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: team.name.clone(),
                    level: 12,
                    ..Default::default()
                }),
                update_mask: mask(&["level"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "org_unit.level");

    // Page sizes.
    let status = failure(
        client
            .list_org_units(pb::ListOrgUnitsRequest {
                page_size: 501,
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "page_size");
    let status = failure(
        client
            .list_org_units(pb::ListOrgUnitsRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "page_size");
    let status = failure(
        client
            .list_org_units(pb::ListOrgUnitsRequest {
                page_token: "not-a-token".to_string(),
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "page_token");
    let full_page = client
        .list_org_units(pb::ListOrgUnitsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("500 is allowed")
        .into_inner();
    assert_eq!(full_page.org_units.len(), 2);

    // Malformed resource names.
    let bad_names = [
        String::new(),
        "orgUnits/".to_string(),
        "orgUnits/abc".to_string(),
        "orgUnits/../../etc".to_string(),
        format!("volunteers/{}", id_of(&team.name)),
        id_of(&team.name).to_string(),
        format!("{}/registrationForm", team.name),
        format!("{}' OR '1'='1", team.name),
    ];
    for bad in &bad_names {
        let status = failure(
            client
                .get_org_unit(pb::GetOrgUnitRequest { name: bad.clone() })
                .await,
        );
        assert_invalid(&status, "name");
        let status = failure(
            client
                .create_org_unit(create_request(
                    bad,
                    spec(pb::Tier::Team, "坏上级", pb::TeamLevel::District, &[]),
                ))
                .await,
        );
        assert_invalid(&status, "parent");
        let status = failure(
            client
                .suspend_org_unit(pb::SuspendOrgUnitRequest {
                    name: bad.clone(),
                    reason: String::new(),
                })
                .await,
        );
        assert_invalid(&status, "name");
        let status = failure(
            client
                .move_org_unit(pb::MoveOrgUnitRequest {
                    name: team.name.clone(),
                    new_parent: bad.clone(),
                })
                .await,
        );
        assert_invalid(&status, "new_parent");
        let status = failure(
            client
                .merge_org_unit(pb::MergeOrgUnitRequest {
                    name: team.name.clone(),
                    into: bad.clone(),
                    reason: String::new(),
                })
                .await,
        );
        assert_invalid(&status, "into");
        let status = failure(
            client
                .update_org_unit(pb::UpdateOrgUnitRequest {
                    org_unit: Some(pb::OrgUnit {
                        name: bad.clone(),
                        display_name: "名称".to_string(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["display_name"]),
                    expected_version: 0,
                })
                .await,
        );
        assert_invalid(&status, "org_unit.name");
        if !bad.is_empty() {
            let status = failure(
                client
                    .list_org_units(pb::ListOrgUnitsRequest {
                        ancestor: bad.clone(),
                        ..Default::default()
                    })
                    .await,
            );
            assert_invalid(&status, "ancestor");
        }
    }
    for bad in [
        team.name.clone(),
        format!("{}/registrationform", team.name),
        "orgUnits/abc/registrationForm".to_string(),
        format!("{}/registrationForm/x", team.name),
        "registrationForm".to_string(),
    ] {
        let status = failure(
            client
                .get_registration_form(pb::GetRegistrationFormRequest {
                    name: bad.clone(),
                    reveal_personal_data: false,
                })
                .await,
        );
        assert_invalid(&status, "name");
        let status = failure(
            client
                .update_registration_form(pb::UpdateRegistrationFormRequest {
                    registration_form: Some(pb::RegistrationForm {
                        name: bad.clone(),
                        leader_name: "陈丽华".to_string(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["leader_name"]),
                    expected_version: 0,
                })
                .await,
        );
        assert_invalid(&status, "registration_form.name");
    }
    let status = failure(
        app.records(&admin)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: "projects/1".to_string(),
                ..Default::default()
            })
            .await,
    );
    assert_invalid(&status, "resource");

    // A request id must be a UUID.
    let status = failure(
        client
            .create_org_unit(pb::CreateOrgUnitRequest {
                request_id: "retry-1".to_string(),
                ..create_request(
                    &app.root,
                    spec(pb::Tier::Team, "重试队", pb::TeamLevel::District, &[]),
                )
            })
            .await,
    );
    assert_invalid(&status, "request_id");
    // The message itself is required.
    let status = failure(
        client
            .create_org_unit(pb::CreateOrgUnitRequest {
                parent: app.root.clone(),
                org_unit: None,
                request_id: String::new(),
            })
            .await,
    );
    assert_invalid(&status, "org_unit");

    // Empty and unknown update masks.
    for update_mask in [None, mask(&[])] {
        let status = failure(
            client
                .update_org_unit(pb::UpdateOrgUnitRequest {
                    org_unit: Some(pb::OrgUnit {
                        name: team.name.clone(),
                        display_name: "新名称".to_string(),
                        ..Default::default()
                    }),
                    update_mask: update_mask.clone(),
                    expected_version: 0,
                })
                .await,
        );
        assert_invalid(&status, "update_mask");
        let status = failure(
            client
                .update_registration_form(pb::UpdateRegistrationFormRequest {
                    registration_form: Some(pb::RegistrationForm {
                        name: form_name(&team),
                        leader_name: "陈丽华".to_string(),
                        ..Default::default()
                    }),
                    update_mask,
                    expected_version: 0,
                })
                .await,
        );
        assert_invalid(&status, "update_mask");
    }
    let status = failure(
        client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: team.name.clone(),
                    parent: app.root.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name", "parent"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "update_mask.paths[1]");
    let status = failure(
        client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: team.name.clone(),
                    tier: pb::Tier::SubTeam as i32,
                    ..Default::default()
                }),
                update_mask: mask(&["tier"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "update_mask.paths[0]");
    let status = failure(
        client
            .update_registration_form(pb::UpdateRegistrationFormRequest {
                registration_form: Some(pb::RegistrationForm {
                    name: form_name(&team),
                    archive_number: "X-1".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["archive_number"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "update_mask.paths[0]");
    // Clearing the display name.
    let status = failure(
        client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: team.name.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "org_unit.display_name");

    // Nothing was created or changed by any refused call.
    let units = list(&app, &admin, pb::ListOrgUnitsRequest::default()).await;
    assert_eq!(units.len(), 2, "{units:?}");
    let current = get(&app, &admin, &team.name).await;
    assert_eq!(current.display_name, "思明区");
    assert_eq!(current.metadata.expect("metadata").version, 1);
    app.stop().await;
}

async fn bad_moves_name_new_parent(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let other_team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区")
        .await;
    let sub_team = app
        .create_unit(&admin, &team.name, pb::Tier::SubTeam, "开元街道分队")
        .await;
    let other_sub = app
        .create_unit(&admin, &other_team.name, pb::Tier::SubTeam, "江头街道分队")
        .await;
    let squad = app
        .create_unit(&admin, &sub_team.name, pb::Tier::Squad, "小队")
        .await;
    let mut client = app.org_units(&admin);
    let cases = [
        // Under its own descendant (and under a grandchild).
        (&team, &sub_team),
        (&team, &squad),
        // Under itself.
        (&sub_team, &sub_team),
        // Breaking the tier rule.
        (&sub_team, &other_sub),
        (&sub_team, &squad),
        (&squad, &other_team),
        (&team, &other_team),
    ];
    for (unit, new_parent) in cases {
        let status = failure(
            client
                .move_org_unit(pb::MoveOrgUnitRequest {
                    name: unit.name.clone(),
                    new_parent: new_parent.name.clone(),
                })
                .await,
        );
        assert_invalid(&status, "new_parent");
        assert_eq!(violated_fields(&status), vec!["new_parent".to_string()]);
    }
    let status = failure(
        client
            .move_org_unit(pb::MoveOrgUnitRequest {
                name: sub_team.name.clone(),
                new_parent: app.root.clone(),
            })
            .await,
    );
    assert_invalid(&status, "new_parent");

    // The tree is unchanged.
    assert_eq!(get(&app, &admin, &team.name).await.parent, app.root);
    assert_eq!(get(&app, &admin, &sub_team.name).await.parent, team.name);
    assert_eq!(get(&app, &admin, &squad.name).await.parent, sub_team.name);
    let subtree = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: team.name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(subtree.len(), 3);
    app.stop().await;
}

async fn bad_form_input_names_the_field(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let mut client = app.org_units(&admin);
    let update = |form: pb::RegistrationForm, paths: &[&str]| {
        let request = pb::UpdateRegistrationFormRequest {
            registration_form: Some(form),
            update_mask: mask(paths),
            expected_version: 0,
        };
        let mut client = client.clone();
        async move { client.update_registration_form(request).await }
    };
    let base = || pb::RegistrationForm {
        name: form_name(&team),
        ..Default::default()
    };

    for phone in ["12345", "电话号码", "138-1234-567", "23812345678"] {
        let status = failure(
            update(
                pb::RegistrationForm {
                    phone: phone.to_string(),
                    ..base()
                },
                &["phone"],
            )
            .await,
        );
        assert_invalid(&status, "registration_form.phone");
    }
    let status = failure(
        update(
            pb::RegistrationForm {
                email: "not-an-email".to_string(),
                ..base()
            },
            &["email"],
        )
        .await,
    );
    assert_invalid(&status, "registration_form.email");

    let mut rows = full_form(&team).key_members;
    rows[2].name = "  ".to_string();
    rows[4].phone = "abc".to_string();
    let status = failure(
        update(
            pb::RegistrationForm {
                key_members: rows,
                ..base()
            },
            &["key_members"],
        )
        .await,
    );
    assert_invalid(&status, "registration_form.key_members[2].name");
    assert_invalid(&status, "registration_form.key_members[4].phone");
    assert_eq!(violated_fields(&status).len(), 2, "{status:?}");

    let too_many: Vec<pb::KeyMember> = (0..101)
        .map(|index| pb::KeyMember {
            name: format!("骨干{index}"),
            ..Default::default()
        })
        .collect();
    let status = failure(
        update(
            pb::RegistrationForm {
                key_members: too_many,
                ..base()
            },
            &["key_members"],
        )
        .await,
    );
    assert_invalid(&status, "registration_form.key_members");

    let status = failure(
        update(
            pb::RegistrationForm {
                declared_member_count: -1,
                ..base()
            },
            &["declared_member_count"],
        )
        .await,
    );
    assert_invalid(&status, "registration_form.declared_member_count");
    for founded_on in [
        common::Date {
            year: 2023,
            month: 2,
            day: 30,
        },
        common::Date {
            year: 9999,
            month: 1,
            day: 1,
        },
    ] {
        let status = failure(
            update(
                pb::RegistrationForm {
                    founded_on: Some(founded_on),
                    ..base()
                },
                &["founded_on"],
            )
            .await,
        );
        assert_invalid(&status, "registration_form.founded_on");
    }
    let status = failure(
        update(
            pb::RegistrationForm {
                leader_name: "长".repeat(51),
                address: "地址\u{0}".to_string(),
                ..base()
            },
            &["leader_name", "address"],
        )
        .await,
    );
    assert_invalid(&status, "registration_form.leader_name");
    assert_invalid(&status, "registration_form.address");
    let status = failure(
        client
            .update_registration_form(pb::UpdateRegistrationFormRequest {
                registration_form: None,
                update_mask: mask(&["leader_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_invalid(&status, "registration_form");

    // Nothing changed.
    let form = get_form(&app, &admin, &team, false).await.expect("form");
    assert_eq!(form.metadata.expect("metadata").version, 1);
    assert!(form.phone.is_empty());
    assert!(form.key_members.is_empty());
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 3. State rules → FAILED_PRECONDITION
// ---------------------------------------------------------------------------------------

async fn state_rules_are_failed_precondition(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let other_team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区")
        .await;
    let sub_team = app
        .create_unit(&admin, &team.name, pb::Tier::SubTeam, "厦港街道分队")
        .await;
    let squad = app
        .create_unit(&admin, &sub_team.name, pb::Tier::Squad, "沙坡尾小队")
        .await;
    let mut client = app.org_units(&admin);

    // Dissolving (or merging) a unit with active children.
    let status = failure(
        client
            .dissolve_org_unit(pb::DissolveOrgUnitRequest {
                name: team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .merge_org_unit(pb::MergeOrgUnitRequest {
                name: team.name.clone(),
                into: other_team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    // Suspended children count as live too.
    suspend(&app, &admin, &squad.name, "")
        .await
        .expect("suspends");
    let status = failure(
        client
            .dissolve_org_unit(pb::DissolveOrgUnitRequest {
                name: sub_team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    assert_eq!(
        get(&app, &admin, &sub_team.name).await.status,
        pb::OrgUnitStatus::Active as i32
    );

    // Resuming an active unit; suspending a suspended one.
    let status = failure(
        client
            .resume_org_unit(pb::ResumeOrgUnitRequest {
                name: team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        suspend(&app, &admin, &squad.name, "")
            .await
            .map(tonic::Response::new),
    );
    assert_code(&status, Code::FailedPrecondition);

    // Adding under a suspended unit, or moving under one.
    suspend(&app, &admin, &other_team.name, "整顿")
        .await
        .expect("suspends");
    let status = failure(
        client
            .create_org_unit(create_request(
                &other_team.name,
                spec(pb::Tier::SubTeam, "新分队", pb::TeamLevel::District, &[]),
            ))
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .move_org_unit(pb::MoveOrgUnitRequest {
                name: sub_team.name.clone(),
                new_parent: other_team.name.clone(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    // Merging into a suspended unit.
    let lone = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "集美区")
        .await;
    let status = failure(
        client
            .merge_org_unit(pb::MergeOrgUnitRequest {
                name: lone.name.clone(),
                into: other_team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);

    // Merging into a different tier, or into itself, names `into`.
    let lone_sub = app
        .create_unit(&admin, &lone.name, pb::Tier::SubTeam, "集美分队")
        .await;
    let status = failure(
        client
            .merge_org_unit(pb::MergeOrgUnitRequest {
                name: lone_sub.name.clone(),
                into: team.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_invalid(&status, "into");
    let status = failure(
        client
            .merge_org_unit(pb::MergeOrgUnitRequest {
                name: lone_sub.name.clone(),
                into: lone_sub.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_invalid(&status, "into");
    assert_eq!(
        get(&app, &admin, &lone_sub.name).await.status,
        pb::OrgUnitStatus::Active as i32
    );

    // A registration form on a squad.
    let status = failure(
        client
            .get_registration_form(pb::GetRegistrationFormRequest {
                name: form_name(&squad),
                reveal_personal_data: false,
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .update_registration_form(pb::UpdateRegistrationFormRequest {
                registration_form: Some(pb::RegistrationForm {
                    name: form_name(&squad),
                    leader_name: "陈丽华".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["leader_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    // The corps has none either.
    let root = get(&app, &admin, &app.root).await;
    let status = failure(
        client
            .get_registration_form(pb::GetRegistrationFormRequest {
                name: form_name(&root),
                reveal_personal_data: false,
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);

    // The root's status is not the root admin's to change (nor anyone's).
    let status = failure(
        suspend(&app, &admin, &app.root, "")
            .await
            .map(tonic::Response::new),
    );
    assert_code(&status, Code::PermissionDenied);

    // A dissolved unit is final: no resume, no update, no children, no move.
    let dissolved = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "翔安区")
        .await;
    client
        .dissolve_org_unit(pb::DissolveOrgUnitRequest {
            name: dissolved.name.clone(),
            reason: String::new(),
        })
        .await
        .expect("dissolves");
    let status = failure(
        client
            .resume_org_unit(pb::ResumeOrgUnitRequest {
                name: dissolved.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .dissolve_org_unit(pb::DissolveOrgUnitRequest {
                name: dissolved.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: dissolved.name.clone(),
                    display_name: "复活".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .create_org_unit(create_request(
                &dissolved.name,
                spec(pb::Tier::SubTeam, "遗留分队", pb::TeamLevel::District, &[]),
            ))
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .merge_org_unit(pb::MergeOrgUnitRequest {
                name: lone.name.clone(),
                into: dissolved.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    let status = failure(
        client
            .move_org_unit(pb::MoveOrgUnitRequest {
                name: lone_sub.name.clone(),
                new_parent: dissolved.name.clone(),
            })
            .await,
    );
    assert_code(&status, Code::FailedPrecondition);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 4. Authorization
// ---------------------------------------------------------------------------------------

async fn other_district_is_not_found(app: TestApp) {
    let admin = app.admin();
    let Districts {
        siming,
        siming_sub,
        huli,
        huli_sub,
        huli_sub_suspended,
    } = districts(&app).await;
    let staff = app.token(&siming.name, &[Role::Staff]);
    let mut client = app.org_units(&staff);
    let mut records = app.records(&staff);
    let unknown = unknown_unit();
    let unknown_id = id_of(&unknown);
    let hidden_id = id_of(&huli_sub.name);

    // The same calls, once on the other district's unit and once on an unknown id.
    macro_rules! compare {
        ($target:expr, $hidden_id:expr, |$name:ident| $call:expr) => {{
            let hidden = {
                let $name: String = $target.clone();
                failure($call)
            };
            let missing = {
                let $name: String = unknown.clone();
                failure($call)
            };
            assert_same_not_found(&hidden, $hidden_id, &missing, unknown_id);
        }};
    }

    compare!(huli_sub.name, hidden_id, |name| client
        .get_org_unit(pb::GetOrgUnitRequest { name })
        .await);
    compare!(huli.name, id_of(&huli.name), |name| client
        .get_org_unit(pb::GetOrgUnitRequest { name })
        .await);
    compare!(app.root, id_of(&app.root), |name| client
        .get_org_unit(pb::GetOrgUnitRequest { name })
        .await);
    compare!(huli.name, id_of(&huli.name), |ancestor| client
        .list_org_units(pb::ListOrgUnitsRequest {
            ancestor,
            ..Default::default()
        })
        .await);
    compare!(app.root, id_of(&app.root), |ancestor| client
        .list_org_units(pb::ListOrgUnitsRequest {
            ancestor,
            children_only: true,
            ..Default::default()
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |parent| client
        .create_org_unit(create_request(
            &parent,
            spec(pb::Tier::SubTeam, "渗透分队", pb::TeamLevel::District, &[]),
        ))
        .await);
    compare!(huli_sub.name, hidden_id, |name| client
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name,
                display_name: "被篡改".to_string(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
            expected_version: 0,
        })
        .await);
    compare!(huli_sub.name, hidden_id, |name| client
        .move_org_unit(pb::MoveOrgUnitRequest {
            name,
            new_parent: siming.name.clone(),
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |new_parent| client
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: siming_sub.name.clone(),
            new_parent,
        })
        .await);
    compare!(huli_sub.name, hidden_id, |name| client
        .suspend_org_unit(pb::SuspendOrgUnitRequest {
            name,
            reason: String::new(),
        })
        .await);
    compare!(
        huli_sub_suspended.name,
        id_of(&huli_sub_suspended.name),
        |name| client
            .resume_org_unit(pb::ResumeOrgUnitRequest {
                name,
                reason: String::new(),
            })
            .await
    );
    compare!(huli_sub.name, hidden_id, |name| client
        .dissolve_org_unit(pb::DissolveOrgUnitRequest {
            name,
            reason: String::new(),
        })
        .await);
    compare!(huli_sub.name, hidden_id, |name| client
        .merge_org_unit(pb::MergeOrgUnitRequest {
            name,
            into: siming_sub.name.clone(),
            reason: String::new(),
        })
        .await);
    compare!(huli_sub.name, hidden_id, |into| client
        .merge_org_unit(pb::MergeOrgUnitRequest {
            name: siming_sub.name.clone(),
            into,
            reason: String::new(),
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |name| client
        .get_registration_form(pb::GetRegistrationFormRequest {
            name: format!("{name}/registrationForm"),
            reveal_personal_data: false,
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |name| client
        .get_registration_form(pb::GetRegistrationFormRequest {
            name: format!("{name}/registrationForm"),
            reveal_personal_data: true,
        })
        .await);
    compare!(huli_sub.name, hidden_id, |name| client
        .update_registration_form(pb::UpdateRegistrationFormRequest {
            registration_form: Some(pb::RegistrationForm {
                name: format!("{name}/registrationForm"),
                leader_name: "被篡改".to_string(),
                ..Default::default()
            }),
            update_mask: mask(&["leader_name"]),
            expected_version: 0,
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |resource| records
        .list_change_records(pb::ListChangeRecordsRequest {
            resource,
            ..Default::default()
        })
        .await);
    compare!(huli.name, id_of(&huli.name), |name| records
        .list_change_records(pb::ListChangeRecordsRequest {
            resource: format!("{name}/registrationForm"),
            ..Default::default()
        })
        .await);

    // The default listing is the district's own subtree.
    let own = list(&app, &staff, pb::ListOrgUnitsRequest::default()).await;
    let own_names: Vec<&str> = own.iter().map(|unit| unit.name.as_str()).collect();
    assert_eq!(
        own_names,
        vec![siming.name.as_str(), siming_sub.name.as_str()]
    );
    let sub_teams = list(
        &app,
        &staff,
        pb::ListOrgUnitsRequest {
            tier: pb::Tier::SubTeam as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(display_names(&sub_teams), vec!["鹭江街道分队"]);
    let by_name = list(
        &app,
        &staff,
        pb::ListOrgUnitsRequest {
            display_name_contains: "湖里".to_string(),
            ..Default::default()
        },
    )
    .await;
    assert!(by_name.is_empty());

    // The other district is untouched, and the own district still works.
    let untouched = get(&app, &admin, &huli_sub.name).await;
    assert_eq!(untouched.display_name, "殿前街道分队");
    assert_eq!(untouched.parent, huli.name);
    assert_eq!(untouched.status, pb::OrgUnitStatus::Active as i32);
    assert_eq!(untouched.metadata.expect("metadata").version, 1);
    assert_eq!(
        get(&app, &admin, &huli_sub_suspended.name).await.status,
        pb::OrgUnitStatus::Suspended as i32
    );
    let huli_form = get_form(&app, &admin, &huli_sub, false)
        .await
        .expect("form");
    assert!(huli_form.leader_name.is_empty());
    let huli_children = list(
        &app,
        &admin,
        pb::ListOrgUnitsRequest {
            ancestor: huli.name.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(huli_children.len(), 3);
    assert_eq!(
        get(&app, &staff, &siming_sub.name).await.parent,
        siming.name
    );
    app.stop().await;
}

async fn roles_without_rights_are_denied(app: TestApp) {
    let admin = app.admin();
    let Districts {
        siming, siming_sub, ..
    } = districts(&app).await;
    let volunteer = app.register(&admin, &siming.name, 21).await;
    let viewer = app.token(&siming.name, &[Role::Viewer]);
    let leader = app.token(&siming.name, &[Role::TeamLeader]);
    let sync = app.token(&app.root, &[Role::Sync]);
    let member = app.volunteer_token(&siming.name, &volunteer.name);
    update_form(&app, &admin, full_form(&siming), &ALL_FORM_FIELDS)
        .await
        .expect("updates");

    // A viewer reads but does not create, change or reveal.
    assert_eq!(
        get(&app, &viewer, &siming_sub.name).await.parent,
        siming.name
    );
    let form = get_form(&app, &viewer, &siming, false)
        .await
        .expect("reads");
    assert_eq!(form.phone, "138****5678");
    let status = failure(
        app.org_units(&viewer)
            .create_org_unit(create_request(
                &siming.name,
                spec(
                    pb::Tier::SubTeam,
                    "观察员分队",
                    pb::TeamLevel::District,
                    &[],
                ),
            ))
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        app.org_units(&viewer)
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: siming_sub.name.clone(),
                    display_name: "改名".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        suspend(&app, &viewer, &siming_sub.name, "")
            .await
            .map(tonic::Response::new),
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        update_form(
            &app,
            &viewer,
            pb::RegistrationForm {
                name: form_name(&siming),
                leader_name: "观察员".to_string(),
                ..Default::default()
            },
            &["leader_name"],
        )
        .await
        .map(tonic::Response::new),
    );
    assert_code(&status, Code::PermissionDenied);

    // Team leaders and viewers may not reveal personal data.
    for token in [&leader, &viewer] {
        let status = failure(
            get_form(&app, token, &siming, true)
                .await
                .map(tonic::Response::new),
        );
        assert_code(&status, Code::PermissionDenied);
    }
    // A team leader manages its own team's units and form.
    let squad = create(
        &app,
        &leader,
        &siming_sub.name,
        spec(
            pb::Tier::Squad,
            "组长建的小队",
            pb::TeamLevel::Unspecified,
            &[],
        ),
    )
    .await;
    assert_eq!(squad.parent, siming_sub.name);
    update_form(
        &app,
        &leader,
        pb::RegistrationForm {
            name: form_name(&siming),
            awards: "区级先进".to_string(),
            ..Default::default()
        },
        &["awards"],
    )
    .await
    .expect("a team leader edits its own form");
    // No reveal was audited.
    let entries = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .expect("lists")
        .into_inner()
        .audit_entries;
    assert!(entries.is_empty(), "{entries:?}");

    // The sync role reads change logs, not org units.
    let mut sync_client = app.org_units(&sync);
    let status = failure(
        sync_client
            .get_org_unit(pb::GetOrgUnitRequest {
                name: siming.name.clone(),
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        sync_client
            .list_org_units(pb::ListOrgUnitsRequest::default())
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        sync_client
            .get_registration_form(pb::GetRegistrationFormRequest {
                name: form_name(&siming),
                reveal_personal_data: false,
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        sync_client
            .create_org_unit(create_request(
                &app.root,
                spec(pb::Tier::Team, "同步队", pb::TeamLevel::District, &[]),
            ))
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        app.records(&sync)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: siming.name.clone(),
                ..Default::default()
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);

    // A volunteer reads its unit but edits nothing.
    assert_eq!(
        get(&app, &member, &siming.name).await.display_name,
        "思明区"
    );
    let mut member_client = app.org_units(&member);
    let status = failure(
        member_client
            .update_org_unit(pb::UpdateOrgUnitRequest {
                org_unit: Some(pb::OrgUnit {
                    name: siming_sub.name.clone(),
                    display_name: "志愿者改名".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        member_client
            .update_registration_form(pb::UpdateRegistrationFormRequest {
                registration_form: Some(pb::RegistrationForm {
                    name: form_name(&siming),
                    leader_name: "志愿者".to_string(),
                    ..Default::default()
                }),
                update_mask: mask(&["leader_name"]),
                expected_version: 0,
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        member_client
            .create_org_unit(create_request(
                &siming.name,
                spec(
                    pb::Tier::SubTeam,
                    "志愿者分队",
                    pb::TeamLevel::District,
                    &[],
                ),
            ))
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        member_client
            .dissolve_org_unit(pb::DissolveOrgUnitRequest {
                name: siming_sub.name.clone(),
                reason: String::new(),
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        get_form(&app, &member, &siming, true)
            .await
            .map(tonic::Response::new),
    );
    assert_code(&status, Code::PermissionDenied);

    // Nothing changed.
    let current = get(&app, &admin, &siming_sub.name).await;
    assert_eq!(current.display_name, "鹭江街道分队");
    assert_eq!(current.status, pb::OrgUnitStatus::Active as i32);
    let form = get_form(&app, &admin, &siming, false).await.expect("form");
    assert_eq!(form.leader_name, "陈丽华");
    assert_eq!(form.awards, "区级先进");
    app.stop().await;
}

async fn own_unit_cannot_be_restructured(app: TestApp) {
    let admin = app.admin();
    let Districts {
        siming,
        siming_sub,
        huli,
        ..
    } = districts(&app).await;
    let other_sub = app
        .create_unit(&admin, &siming.name, pb::Tier::SubTeam, "莲前街道分队")
        .await;
    for roles in [&[Role::Staff][..], &[Role::Admin], &[Role::TeamLeader]] {
        let token = app.token(&siming.name, roles);
        let mut client = app.org_units(&token);
        let status = failure(
            suspend(&app, &token, &siming.name, "自己暂停")
                .await
                .map(tonic::Response::new),
        );
        assert_code(&status, Code::PermissionDenied);
        let status = failure(
            client
                .move_org_unit(pb::MoveOrgUnitRequest {
                    name: siming.name.clone(),
                    new_parent: app.root.clone(),
                })
                .await,
        );
        assert_code(&status, Code::PermissionDenied);
        let status = failure(
            client
                .dissolve_org_unit(pb::DissolveOrgUnitRequest {
                    name: siming.name.clone(),
                    reason: String::new(),
                })
                .await,
        );
        assert_code(&status, Code::PermissionDenied);
        let status = failure(
            client
                .merge_org_unit(pb::MergeOrgUnitRequest {
                    name: siming.name.clone(),
                    into: huli.name.clone(),
                    reason: String::new(),
                })
                .await,
        );
        assert_code(&status, Code::PermissionDenied);
    }
    // A sub-team's own staff cannot restructure it either.
    let sub_staff = app.token(&siming_sub.name, &[Role::Staff]);
    let status = failure(
        app.org_units(&sub_staff)
            .move_org_unit(pb::MoveOrgUnitRequest {
                name: siming_sub.name.clone(),
                new_parent: siming.name.clone(),
            })
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let status = failure(
        suspend(&app, &sub_staff, &siming_sub.name, "")
            .await
            .map(tonic::Response::new),
    );
    assert_code(&status, Code::PermissionDenied);

    let current = get(&app, &admin, &siming.name).await;
    assert_eq!(current.status, pb::OrgUnitStatus::Active as i32);
    assert_eq!(current.parent, app.root);

    // The unit above does it: the district's staff restructures the units below.
    let staff = app.token(&siming.name, &[Role::Staff]);
    let suspended = suspend(&app, &staff, &siming_sub.name, "整顿")
        .await
        .expect("the district suspends its sub-team");
    assert_eq!(suspended.status, pb::OrgUnitStatus::Suspended as i32);
    let merged = app
        .org_units(&staff)
        .merge_org_unit(pb::MergeOrgUnitRequest {
            name: siming_sub.name.clone(),
            into: other_sub.name.clone(),
            reason: "合并".to_string(),
        })
        .await
        .expect("the district merges its sub-teams")
        .into_inner()
        .org_unit
        .expect("unit");
    assert_eq!(merged.merged_into, other_sub.name);
    // And the root's admin restructures the district.
    let suspended = suspend(&app, &admin, &siming.name, "整顿")
        .await
        .expect("the root suspends the district");
    assert_eq!(suspended.status, pb::OrgUnitStatus::Suspended as i32);
    app.stop().await;
}

async fn calls_without_token_are_unauthenticated(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    for token in ["", "not-a-token", "a.b.c"] {
        let mut client = app.org_units(token);
        let status = failure(
            client
                .get_org_unit(pb::GetOrgUnitRequest {
                    name: team.name.clone(),
                })
                .await,
        );
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{token:?}: {status:?}"
        );
        let status = failure(
            client
                .list_org_units(pb::ListOrgUnitsRequest::default())
                .await,
        );
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let status = failure(
            client
                .create_org_unit(create_request(
                    &app.root,
                    spec(pb::Tier::Team, "匿名队", pb::TeamLevel::District, &[]),
                ))
                .await,
        );
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let status = failure(
            client
                .get_registration_form(pb::GetRegistrationFormRequest {
                    name: form_name(&team),
                    reveal_personal_data: true,
                })
                .await,
        );
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let status = failure(
            client
                .suspend_org_unit(pb::SuspendOrgUnitRequest {
                    name: team.name.clone(),
                    reason: String::new(),
                })
                .await,
        );
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        let status = failure(
            app.records(token)
                .list_change_records(pb::ListChangeRecordsRequest {
                    resource: team.name.clone(),
                    ..Default::default()
                })
                .await,
        );
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
    // A token for a unit that does not exist here may do nothing.
    let stranger = app.token(&unknown_unit(), &[Role::Admin]);
    let status = failure(
        app.org_units(&stranger)
            .list_org_units(pb::ListOrgUnitsRequest::default())
            .await,
    );
    assert_code(&status, Code::PermissionDenied);
    let units = list(&app, &admin, pb::ListOrgUnitsRequest::default()).await;
    assert_eq!(units.len(), 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// 5. Change history
// ---------------------------------------------------------------------------------------

async fn org_unit_change_history_lists_operations_in_order(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "海沧区")
        .await;
    app.org_units(&admin)
        .update_org_unit(pb::UpdateOrgUnitRequest {
            org_unit: Some(pb::OrgUnit {
                name: team.name.clone(),
                display_name: "海沧区巾帼志愿服务队".to_string(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
            expected_version: 1,
        })
        .await
        .expect("updates");
    suspend(&app, &admin, &team.name, "队伍换届，暂停活动")
        .await
        .expect("suspends");

    let viewer = app.token(&team.name, &[Role::Viewer]);
    for token in [&admin, &viewer] {
        let history = change_records(&app, token, &team.name).await;
        assert_eq!(history.len(), 3, "{history:?}");
        let operations: Vec<i32> = history.iter().map(|record| record.operation).collect();
        assert_eq!(
            operations,
            vec![
                common::ChangeOperation::Create as i32,
                common::ChangeOperation::Update as i32,
                common::ChangeOperation::Update as i32
            ]
        );
        assert!(
            history
                .windows(2)
                .all(|pair| pair[0].sequence < pair[1].sequence),
            "oldest first: {history:?}"
        );
        for record in &history {
            assert_eq!(record.resource_name, team.name);
            assert!(!record.actor.is_empty());
            assert!(record.change_time.is_some());
        }
        let created = field_change(&history[0], "display_name");
        assert_eq!(created.old_value, "");
        assert_eq!(created.new_value, "海沧区");
        let renamed = field_change(&history[1], "display_name");
        assert_eq!(renamed.old_value, "海沧区");
        assert_eq!(renamed.new_value, "海沧区巾帼志愿服务队");
        assert!(
            history[1]
                .field_changes
                .iter()
                .all(|change| change.field != "status"),
            "{:?}",
            history[1]
        );
        assert!(history[1].reason.is_empty());
        assert_eq!(history[2].reason, "队伍换届，暂停活动");
        let status = field_change(&history[2], "status");
        assert_ne!(status.old_value, status.new_value);
        assert!(status.new_value.contains("suspend"), "{status:?}");
        assert!(
            history[2]
                .field_changes
                .iter()
                .all(|change| change.field != "display_name"),
        );
    }

    // Pages of one.
    let mut token = String::new();
    let mut sequences = Vec::new();
    loop {
        let response = app
            .records(&admin)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: team.name.clone(),
                page_size: 1,
                page_token: token.clone(),
            })
            .await
            .expect("lists")
            .into_inner();
        assert!(response.change_records.len() <= 1);
        sequences.extend(response.change_records.iter().map(|record| record.sequence));
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    assert_eq!(sequences.len(), 3);

    // A move shows up with its reasonless parent change; a resume with its reason.
    let other = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "集美区")
        .await;
    app.org_units(&admin)
        .resume_org_unit(pb::ResumeOrgUnitRequest {
            name: team.name.clone(),
            reason: "换届完成".to_string(),
        })
        .await
        .expect("resumes");
    let sub = app
        .create_unit(&admin, &team.name, pb::Tier::SubTeam, "嵩屿街道分队")
        .await;
    app.org_units(&admin)
        .move_org_unit(pb::MoveOrgUnitRequest {
            name: sub.name.clone(),
            new_parent: other.name.clone(),
        })
        .await
        .expect("moves");
    let history = change_records(&app, &admin, &team.name).await;
    assert_eq!(history.len(), 4);
    assert_eq!(history[3].reason, "换届完成");
    let sub_history = change_records(&app, &admin, &sub.name).await;
    assert_eq!(sub_history.len(), 2);
    assert!(
        sub_history[1]
            .field_changes
            .iter()
            .any(|change| change.field.contains("parent")),
        "{sub_history:?}"
    );
    // A resource that never existed has no history, but the name is valid.
    let status = failure(
        app.records(&admin)
            .list_change_records(pb::ListChangeRecordsRequest {
                resource: unknown_unit(),
                ..Default::default()
            })
            .await,
    );
    assert_eq!(status.code(), Code::NotFound);
    app.stop().await;
}

async fn form_change_history_masks_phones(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区")
        .await;
    let input = full_form(&team);
    update_form(&app, &admin, input.clone(), &ALL_FORM_FIELDS)
        .await
        .expect("updates");
    update_form(
        &app,
        &admin,
        pb::RegistrationForm {
            name: form_name(&team),
            phone: "13698765432".to_string(),
            ..Default::default()
        },
        &["phone"],
    )
    .await
    .expect("updates");
    // A new number that masks the same as the old one is still a change in the history.
    update_form(
        &app,
        &admin,
        pb::RegistrationForm {
            name: form_name(&team),
            phone: "13600005432".to_string(),
            ..Default::default()
        },
        &["phone"],
    )
    .await
    .expect("updates");

    let leader = app.token(&team.name, &[Role::TeamLeader]);
    for token in [&admin, &leader] {
        let history = change_records(&app, token, &form_name(&team)).await;
        assert_eq!(history.len(), 4, "{history:?}");
        let same_mask = field_change(&history[3], "phone");
        assert_eq!(same_mask.old_value, "136****5432");
        assert_eq!(same_mask.new_value, "136****5432");
        assert_eq!(history[0].operation, common::ChangeOperation::Create as i32);
        assert_eq!(history[1].operation, common::ChangeOperation::Update as i32);
        assert_eq!(history[2].operation, common::ChangeOperation::Update as i32);
        for record in &history {
            assert_eq!(record.resource_name, form_name(&team));
        }

        let first = &history[1];
        let phone = field_change(first, "phone");
        assert_eq!(phone.old_value, "");
        assert_eq!(phone.new_value, "138****5678");
        assert_eq!(field_change(first, "leader_name").new_value, "陈丽华");
        let members = field_change(first, "key_members");
        assert!(members.new_value.contains("骨干5"), "{members:?}");
        assert!(members.new_value.contains("****"), "{members:?}");
        let second = &history[2];
        assert_eq!(second.field_changes.len(), 1, "{second:?}");
        let phone = field_change(second, "phone");
        assert_eq!(phone.old_value, "138****5678");
        assert_eq!(phone.new_value, "136****5432");

        // No plaintext phone anywhere in the history.
        let mut raw_phones = vec![
            "13812345678".to_string(),
            "13698765432".to_string(),
            "13600005432".to_string(),
        ];
        raw_phones.extend(input.key_members.iter().map(|member| member.phone.clone()));
        for record in &history {
            for change in &record.field_changes {
                for raw in &raw_phones {
                    assert!(
                        !change.old_value.contains(raw.as_str())
                            && !change.new_value.contains(raw.as_str()),
                        "plaintext {raw} in {change:?}"
                    );
                }
            }
        }
    }
    app.stop().await;
}
