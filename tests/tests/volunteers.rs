//! VolunteerService end to end: registration with every kind of document, masked and
//! revealed reads (audited), listing with filters and pagination, updates with masks and
//! versions, lookups, batches (all or nothing), duplicates (also concurrent), idempotent
//! retries, and the subtree and role rules (a principal acts only within its subtree, and only as its roles allow).

use std::collections::HashSet;
use std::time::Instant;

use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as pb;
use egret_runtime::CancellationToken;
use egret_runtime::Role;
use egret_runtime::assembly::Assembly;
use egret_tests::{
    TestApp, both_backends, chinese_message, gb11643_check_char, resident_id, violated_fields,
    volunteer_input,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

both_backends!(
    create_resident_id_derives_birth_date_and_gender,
    create_with_passport_and_taiwan_permit,
    get_is_masked_by_default,
    reveal_as_admin_and_staff_is_audited,
    reveal_is_denied_to_viewer_and_team_leader,
    list_filters_by_status_skill_and_name,
    update_changes_masked_fields_only,
    update_refuses_identity_fields_and_stale_versions,
    volunteer_updates_own_contact_but_not_name_or_status,
    lookup_finds_by_id_number,
    batch_create_registers_every_row,
    invalid_registrations_name_each_field,
    invalid_list_requests_name_each_field,
    duplicate_id_number_is_already_exists,
    duplicate_across_districts_is_already_exists,
    concurrent_duplicates_register_once,
    create_retry_with_same_request_id_is_idempotent,
    concurrent_retries_with_same_request_id_register_once,
    batch_is_all_or_nothing,
    batch_refuses_registered_rows_and_oversized_batches,
    batch_retry_with_same_request_id_is_idempotent,
    pagination_visits_3000_volunteers_exactly_once,
    page_token_is_bound_to_filters,
    other_district_sees_not_found,
    subtree_includes_sub_teams_only_downwards,
    listing_plans_give_the_same_pages,
    roles_and_authentication_are_enforced,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A resident ID with the given birth date and sequence (odd: male), valid check digit.
fn resident_id_born(year: i32, month: u32, day: u32, sequence: u32) -> String {
    let first17 = format!("350203{year:04}{month:02}{day:02}{sequence:03}");
    let check = gb11643_check_char(&first17).expect("17 digits");
    format!("{first17}{check}")
}

/// `id` with its check digit replaced by a wrong one.
fn with_wrong_check_digit(id: &str) -> String {
    let last = id.chars().last().expect("not empty");
    let wrong = if last == '0' { '1' } else { '0' };
    format!("{}{wrong}", &id[..17])
}

fn mask_expected_id(id: &str) -> String {
    format!(
        "{}{}{}",
        &id[..3],
        "*".repeat(id.len() - 7),
        &id[id.len() - 4..]
    )
}

fn mask_expected_phone(phone: &str) -> String {
    format!("{}****{}", &phone[..3], &phone[7..])
}

fn date(year: i32, month: i32, day: i32) -> common::Date {
    common::Date { year, month, day }
}

/// Asserts INVALID_ARGUMENT naming exactly `fields` (in any order), with a Chinese message.
#[track_caller]
fn assert_invalid(status: &tonic::Status, fields: &[&str]) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut got = violated_fields(status);
    got.sort();
    let mut want: Vec<String> = fields.iter().map(|field| field.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "violated fields of {status:?}");
    let message = chinese_message(status).unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "a zh-CN message is expected: {status:?}"
    );
}

#[track_caller]
fn assert_code(result: Result<impl std::fmt::Debug, tonic::Status>, code: Code) -> tonic::Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got a success: {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

async fn create(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    volunteer: pb::Volunteer,
    request_id: &str,
) -> Result<pb::Volunteer, tonic::Status> {
    app.volunteers(token)
        .create_volunteer(pb::CreateVolunteerRequest {
            org_unit: org_unit.to_string(),
            volunteer: Some(volunteer),
            request_id: request_id.to_string(),
            pending_membership: false,
            validate_only: false,
        })
        .await
        .map(|response| response.into_inner().volunteer.expect("volunteer"))
}

async fn get(
    app: &TestApp,
    token: &str,
    name: &str,
    reveal: bool,
) -> Result<pb::Volunteer, tonic::Status> {
    app.volunteers(token)
        .get_volunteer(pb::GetVolunteerRequest {
            name: name.to_string(),
            reveal_personal_data: reveal,
        })
        .await
        .map(|response| response.into_inner().volunteer.expect("volunteer"))
}

async fn update(
    app: &TestApp,
    token: &str,
    volunteer: pb::Volunteer,
    paths: &[&str],
    expected_version: i64,
) -> Result<pb::Volunteer, tonic::Status> {
    app.volunteers(token)
        .update_volunteer(pb::UpdateVolunteerRequest {
            volunteer: Some(volunteer),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|path| path.to_string()).collect(),
            }),
            expected_version,
        })
        .await
        .map(|response| response.into_inner().volunteer.expect("volunteer"))
}

/// Marks a volunteer inactive.
async fn deactivate(app: &TestApp, token: &str, name: &str) {
    update(
        app,
        token,
        pb::Volunteer {
            name: name.to_string(),
            status: pb::VolunteerStatus::Inactive as i32,
            ..Default::default()
        },
        &["status"],
        0,
    )
    .await
    .expect("deactivates");
}

async fn lookup(
    app: &TestApp,
    token: &str,
    id_type: pb::IdType,
    id_number: &str,
) -> Result<pb::Volunteer, tonic::Status> {
    app.volunteers(token)
        .lookup_volunteer(pb::LookupVolunteerRequest {
            id_type: id_type as i32,
            id_number: id_number.to_string(),
        })
        .await
        .map(|response| response.into_inner().volunteer.expect("volunteer"))
}

fn batch_request(
    org_unit: &str,
    rows: Vec<pb::Volunteer>,
    request_id: &str,
) -> pb::BatchCreateVolunteersRequest {
    pb::BatchCreateVolunteersRequest {
        org_unit: org_unit.to_string(),
        requests: rows
            .into_iter()
            .map(|volunteer| pb::CreateVolunteerRequest {
                org_unit: String::new(),
                volunteer: Some(volunteer),
                request_id: String::new(),
                pending_membership: false,
                validate_only: false,
            })
            .collect(),
        request_id: request_id.to_string(),
    }
}

async fn batch(
    app: &TestApp,
    token: &str,
    org_unit: &str,
    rows: Vec<pb::Volunteer>,
    request_id: &str,
) -> Result<Vec<pb::Volunteer>, tonic::Status> {
    app.volunteers(token)
        .batch_create_volunteers(batch_request(org_unit, rows, request_id))
        .await
        .map(|response| response.into_inner().volunteers)
}

/// Every volunteer `request` lists, following page tokens; panics on a repeated token.
async fn list_all(
    app: &TestApp,
    token: &str,
    request: pb::ListVolunteersRequest,
) -> Vec<pb::Volunteer> {
    let mut client = app.volunteers(token);
    let mut all = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let response = client
            .list_volunteers(pb::ListVolunteersRequest {
                page_token: page_token.clone(),
                ..request.clone()
            })
            .await
            .unwrap_or_else(|status| panic!("listing page {pages}: {status:?}"))
            .into_inner();
        pages += 1;
        assert!(pages < 10_000, "pagination does not end");
        if request.page_size > 0 {
            assert!(
                response.volunteers.len() <= request.page_size as usize,
                "page of {} exceeds page_size {}",
                response.volunteers.len(),
                request.page_size
            );
        }
        all.extend(response.volunteers);
        if response.next_page_token.is_empty() {
            return all;
        }
        page_token = response.next_page_token;
    }
}

/// The names of every volunteer in the caller's own subtree.
async fn all_names(app: &TestApp, token: &str) -> Vec<String> {
    list_all(
        app,
        token,
        pb::ListVolunteersRequest {
            page_size: 500,
            ..Default::default()
        },
    )
    .await
    .into_iter()
    .map(|volunteer| volunteer.name)
    .collect()
}

/// Two district teams under the root, each with its own staff token.
struct Districts {
    a: pb::OrgUnit,
    a_staff: String,
    b: pb::OrgUnit,
    b_staff: String,
}

async fn two_districts(app: &TestApp) -> Districts {
    let admin = app.admin();
    let a = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let b = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区巾帼志愿服务队")
        .await;
    let a_staff = app.token(&a.name, &[Role::Staff]);
    let b_staff = app.token(&b.name, &[Role::Staff]);
    Districts {
        a,
        a_staff,
        b,
        b_staff,
    }
}

// ---------------------------------------------------------------------------------------
// Success paths
// ---------------------------------------------------------------------------------------

async fn create_resident_id_derives_birth_date_and_gender(app: TestApp) {
    let admin = app.admin();
    // Male: odd sequence digit; born 1985-07-14.
    let id_number = resident_id_born(1985, 7, 14, 123);
    let created = create(
        &app,
        &admin,
        &app.root,
        pb::Volunteer {
            display_name: "陈美玲".to_string(),
            id_type: pb::IdType::ResidentId as i32,
            id_number: id_number.clone(),
            phone: "13900000001".to_string(),
            email: "chen@example.cn".to_string(),
            skills: vec!["急救".to_string(), "心理咨询".to_string()],
            ..Default::default()
        },
        "",
    )
    .await
    .expect("registers");
    assert!(created.name.starts_with("volunteers/"), "{}", created.name);
    assert!(!created.volunteer_number.is_empty());
    assert_eq!(created.display_name, "陈美玲");
    assert_eq!(created.id_type, pb::IdType::ResidentId as i32);
    assert_eq!(created.birth_date, Some(date(1985, 7, 14)));
    assert_eq!(created.gender, pb::Gender::Male as i32);
    assert_eq!(created.status, pb::VolunteerStatus::Active as i32);
    assert_eq!(created.registering_org_unit, app.root);
    assert_eq!(created.id_number, mask_expected_id(&id_number));
    assert_eq!(
        created.id_number,
        format!("350***********{}", &id_number[14..])
    );
    assert_eq!(created.phone, "139****0001");
    assert_eq!(created.skills, ["急救", "心理咨询"]);
    let metadata = created.metadata.clone().expect("metadata");
    assert_eq!(metadata.version, 1);
    assert!(metadata.create_time.is_some());

    // Female: even sequence digit (resident_id(seed) always has one).
    let female = app.register(&admin, &app.root, 7).await;
    assert_eq!(female.gender, pb::Gender::Female as i32);
    assert_eq!(female.birth_date, Some(date(1967, 1, 1)));

    // A given birth date or gender that contradicts the ID number is refused.
    let status = create(
        &app,
        &admin,
        &app.root,
        pb::Volunteer {
            birth_date: Some(date(1990, 1, 1)),
            gender: pb::Gender::Male as i32,
            ..volunteer_input(8)
        },
        "",
    )
    .await
    .expect_err("contradicting birth date and gender");
    assert_invalid(&status, &["volunteer.birth_date", "volunteer.gender"]);
    app.stop().await;
}

async fn create_with_passport_and_taiwan_permit(app: TestApp) {
    let admin = app.admin();
    let passport = create(
        &app,
        &admin,
        &app.root,
        pb::Volunteer {
            display_name: "Anna Schmidt".to_string(),
            id_type: pb::IdType::Passport as i32,
            id_number: "C01X00T47".to_string(),
            birth_date: Some(date(1992, 3, 5)),
            gender: pb::Gender::Female as i32,
            phone: "+49 30 1234567".to_string(),
            ..Default::default()
        },
        "",
    )
    .await
    .expect("passport registers");
    assert_eq!(passport.id_type, pb::IdType::Passport as i32);
    assert_eq!(passport.birth_date, Some(date(1992, 3, 5)));
    assert_eq!(passport.gender, pb::Gender::Female as i32);
    assert_ne!(passport.id_number, "C01X00T47", "masked");
    assert!(passport.id_number.contains('*'), "{}", passport.id_number);
    assert!(passport.phone.contains('*'), "{}", passport.phone);

    let taiwan = create(
        &app,
        &admin,
        &app.root,
        pb::Volunteer {
            display_name: "林志明".to_string(),
            id_type: pb::IdType::TaiwanPermit as i32,
            id_number: "12345678".to_string(),
            birth_date: Some(date(1988, 11, 30)),
            gender: pb::Gender::Male as i32,
            phone: "13900000002".to_string(),
            ..Default::default()
        },
        "",
    )
    .await
    .expect("taiwan permit registers");
    assert_eq!(taiwan.id_type, pb::IdType::TaiwanPermit as i32);
    assert_eq!(taiwan.birth_date, Some(date(1988, 11, 30)));
    assert_eq!(taiwan.gender, pb::Gender::Male as i32);
    assert!(taiwan.id_number.contains('*'), "{}", taiwan.id_number);
    assert_ne!(taiwan.id_number, "12345678");

    // Revealed, the numbers are the ones registered.
    let revealed = get(&app, &admin, &passport.name, true)
        .await
        .expect("reveal");
    assert_eq!(revealed.id_number, "C01X00T47");
    let revealed = get(&app, &admin, &taiwan.name, true).await.expect("reveal");
    assert_eq!(revealed.id_number, "12345678");
    assert_eq!(revealed.phone, "13900000002");

    // Both are found by their document.
    let found = lookup(&app, &admin, pb::IdType::Passport, "C01X00T47")
        .await
        .expect("lookup passport");
    assert_eq!(found.name, passport.name);
    let found = lookup(&app, &admin, pb::IdType::TaiwanPermit, "12345678")
        .await
        .expect("lookup taiwan permit");
    assert_eq!(found.name, taiwan.name);
    app.stop().await;
}

async fn get_is_masked_by_default(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let created = create(
        &app,
        &admin,
        &team.name,
        pb::Volunteer {
            emergency_contact: Some(pb::EmergencyContact {
                name: "陈母".to_string(),
                relationship: "母亲".to_string(),
                phone: "13800001111".to_string(),
            }),
            ..volunteer_input(1)
        },
        "",
    )
    .await
    .expect("registers");
    let id_number = resident_id(1);
    for token in [
        admin.clone(),
        app.token(&team.name, &[Role::Staff]),
        app.token(&team.name, &[Role::TeamLeader]),
        app.token(&team.name, &[Role::Viewer]),
    ] {
        let volunteer = get(&app, &token, &created.name, false).await.expect("get");
        assert_eq!(volunteer.name, created.name);
        assert_eq!(volunteer.display_name, "志愿者1");
        assert_eq!(volunteer.id_number, mask_expected_id(&id_number));
        assert_eq!(volunteer.id_number.chars().count(), 18);
        assert!(volunteer.id_number.starts_with("350***********"));
        assert_eq!(volunteer.phone, "139****0001");
        assert_eq!(
            volunteer.emergency_contact.expect("contact").phone,
            "138****1111"
        );
        assert_eq!(volunteer.registering_org_unit, team.name);
    }
    // Reading does not write an audit entry.
    let entries = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            resource: created.name.clone(),
            ..Default::default()
        })
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    assert!(
        entries.is_empty(),
        "masked reads are not audited: {entries:?}"
    );
    app.stop().await;
}

async fn reveal_as_admin_and_staff_is_audited(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let staff = app.token(&team.name, &[Role::Staff]);
    let created = create(
        &app,
        &staff,
        &team.name,
        pb::Volunteer {
            emergency_contact: Some(pb::EmergencyContact {
                name: "陈母".to_string(),
                relationship: "母亲".to_string(),
                phone: "13800001111".to_string(),
            }),
            ..volunteer_input(2)
        },
        "",
    )
    .await
    .expect("registers");

    let by_admin = get(&app, &admin, &created.name, true)
        .await
        .expect("admin reveal");
    assert_eq!(by_admin.id_number, resident_id(2));
    assert_eq!(by_admin.phone, "13900000002");
    assert_eq!(
        by_admin.emergency_contact.expect("contact").phone,
        "13800001111"
    );
    let by_staff = get(&app, &staff, &created.name, true)
        .await
        .expect("staff reveal");
    assert_eq!(by_staff.id_number, resident_id(2));
    assert_eq!(by_staff.phone, "13900000002");

    let entries = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            resource: created.name.clone(),
            ..Default::default()
        })
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    assert_eq!(entries.len(), 2, "one entry per reveal: {entries:?}");
    for entry in &entries {
        assert_eq!(entry.resource_name, created.name);
        assert_eq!(entry.method, "GetVolunteer");
        assert!(
            entry.fields.iter().any(|field| field == "id_number"),
            "{entry:?}"
        );
        assert!(
            entry.fields.iter().any(|field| field == "phone"),
            "{entry:?}"
        );
        assert!(entry.read_time.is_some());
    }
    let actors: HashSet<&str> = entries.iter().map(|entry| entry.actor.as_str()).collect();
    assert_eq!(
        actors,
        HashSet::from(["tester-admin", "tester-staff"]),
        "{entries:?}"
    );
    let staff_entry = entries
        .iter()
        .find(|entry| entry.actor == "tester-staff")
        .expect("staff entry");
    assert_eq!(
        staff_entry.actor_org_unit.trim_start_matches("orgUnits/"),
        team.name.trim_start_matches("orgUnits/")
    );
    // Newest first.
    assert_eq!(entries[0].actor, "tester-staff");

    // The unfiltered log has them too; only admins may read it.
    let all = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    assert_eq!(all.len(), 2);
    assert_code(
        app.records(&staff)
            .list_audit_entries(pb::ListAuditEntriesRequest::default())
            .await,
        Code::PermissionDenied,
    );
    app.stop().await;
}

async fn reveal_is_denied_to_viewer_and_team_leader(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let created = app.register(&admin, &team.name, 3).await;
    for roles in [
        vec![Role::Viewer],
        vec![Role::TeamLeader],
        vec![Role::Viewer, Role::TeamLeader],
    ] {
        let token = app.token(&team.name, &roles);
        let status = assert_code(
            get(&app, &token, &created.name, true).await,
            Code::PermissionDenied,
        );
        assert!(!status.message().contains(&resident_id(3)));
        // Masked reads still work.
        get(&app, &token, &created.name, false)
            .await
            .expect("masked read");
    }
    // A volunteer may not reveal itself either (only admin or staff may).
    let own = app.volunteer_token(&team.name, &created.name);
    assert_code(
        get(&app, &own, &created.name, true).await,
        Code::PermissionDenied,
    );
    let masked_self = get(&app, &own, &created.name, false)
        .await
        .expect("own masked read");
    assert_eq!(masked_self.phone, "139****0003");
    // Nothing was revealed, so nothing was audited.
    let entries = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    assert!(entries.is_empty(), "{entries:?}");
    app.stop().await;
}

async fn list_filters_by_status_skill_and_name(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let first = app.register(&admin, &team.name, 10).await;
    let counsellor = create(
        &app,
        &admin,
        &team.name,
        pb::Volunteer {
            display_name: "林心怡".to_string(),
            skills: vec!["心理咨询".to_string(), "法律援助".to_string()],
            ..volunteer_input(11)
        },
        "",
    )
    .await
    .expect("registers");
    let third = create(
        &app,
        &admin,
        &team.name,
        pb::Volunteer {
            display_name: "王心悦".to_string(),
            skills: vec!["急救".to_string(), "法律援助".to_string()],
            ..volunteer_input(12)
        },
        "",
    )
    .await
    .expect("registers");
    // One inactive.
    deactivate(&app, &admin, &third.name).await;

    let names = |volunteers: Vec<pb::Volunteer>| -> Vec<String> {
        volunteers
            .into_iter()
            .map(|volunteer| volunteer.name)
            .collect()
    };
    let query = |request: pb::ListVolunteersRequest| {
        let app = &app;
        let admin = &admin;
        async move { names(list_all(app, admin, request).await) }
    };

    // No filter: all three, in registration order, masked.
    let all = list_all(&app, &admin, pb::ListVolunteersRequest::default()).await;
    assert_eq!(
        names(all.clone()),
        [
            first.name.clone(),
            counsellor.name.clone(),
            third.name.clone()
        ]
    );
    for volunteer in &all {
        assert!(volunteer.id_number.contains("***********"), "{volunteer:?}");
        assert!(volunteer.phone.contains("****"), "{volunteer:?}");
    }
    // By unit.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            org_unit: team.name.clone(),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    // By status.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            status: pb::VolunteerStatus::Inactive as i32,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&third.name)
    );
    assert_eq!(
        query(pb::ListVolunteersRequest {
            status: pb::VolunteerStatus::Active as i32,
            ..Default::default()
        })
        .await,
        [first.name.clone(), counsellor.name.clone()]
    );
    assert!(
        query(pb::ListVolunteersRequest {
            status: pb::VolunteerStatus::Withdrawn as i32,
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // By skill: exact tags, not substrings.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            skill: "心理咨询".to_string(),
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&counsellor.name)
    );
    assert_eq!(
        query(pb::ListVolunteersRequest {
            skill: "急救".to_string(),
            ..Default::default()
        })
        .await,
        [first.name.clone(), third.name.clone()]
    );
    assert_eq!(
        query(pb::ListVolunteersRequest {
            skill: "法律援助".to_string(),
            ..Default::default()
        })
        .await,
        [counsellor.name.clone(), third.name.clone()]
    );
    assert!(
        query(pb::ListVolunteersRequest {
            skill: "急".to_string(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // By name.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            display_name_contains: "心".to_string(),
            ..Default::default()
        })
        .await,
        [counsellor.name.clone(), third.name.clone()]
    );
    assert_eq!(
        query(pb::ListVolunteersRequest {
            display_name_contains: "志愿者10".to_string(),
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&first.name)
    );
    // LIKE wildcards are taken literally.
    assert!(
        query(pb::ListVolunteersRequest {
            display_name_contains: "%".to_string(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert!(
        query(pb::ListVolunteersRequest {
            display_name_contains: "_".to_string(),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    // Combined.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            skill: "法律援助".to_string(),
            display_name_contains: "心".to_string(),
            status: pb::VolunteerStatus::Active as i32,
            ..Default::default()
        })
        .await,
        std::slice::from_ref(&counsellor.name)
    );
    // Small pages chain.
    assert_eq!(
        query(pb::ListVolunteersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await,
        [
            first.name.clone(),
            counsellor.name.clone(),
            third.name.clone()
        ]
    );
    app.stop().await;
}

async fn update_changes_masked_fields_only(app: TestApp) {
    let admin = app.admin();
    let created = app.register(&admin, &app.root, 20).await;
    let version = created.metadata.as_ref().expect("metadata").version;
    // Values outside the mask are ignored.
    let updated = update(
        &app,
        &admin,
        pb::Volunteer {
            name: created.name.clone(),
            display_name: "陈晓燕".to_string(),
            phone: "13700000000".to_string(),
            email: "ignored@example.cn".to_string(),
            skills: vec!["摄影".to_string()],
            service_fields: vec![],
            availability: vec![pb::Availability::Weekend as i32],
            emergency_contact: Some(pb::EmergencyContact {
                name: "陈父".to_string(),
                relationship: "父亲".to_string(),
                phone: "13600000000".to_string(),
            }),
            ..Default::default()
        },
        &[
            "display_name",
            "phone",
            "skills",
            "availability",
            "emergency_contact",
        ],
        version,
    )
    .await
    .expect("updates");
    assert_eq!(updated.name, created.name);
    assert_eq!(updated.display_name, "陈晓燕");
    assert_eq!(updated.phone, "137****0000");
    assert_eq!(updated.email, created.email, "email was not in the mask");
    assert_eq!(updated.skills, ["摄影"]);
    assert_eq!(updated.availability, [pb::Availability::Weekend as i32]);
    assert_eq!(
        updated.emergency_contact.as_ref().expect("contact").phone,
        "136****0000"
    );
    assert_eq!(updated.id_number, created.id_number);
    assert_eq!(updated.birth_date, created.birth_date);
    assert_eq!(
        updated.metadata.as_ref().expect("metadata").version,
        version + 1
    );

    let read = get(&app, &admin, &created.name, true).await.expect("get");
    assert_eq!(read.display_name, "陈晓燕");
    assert_eq!(read.phone, "13700000000");
    assert_eq!(read.email, "v20@example.cn");
    assert_eq!(read.id_number, resident_id(20));
    assert_eq!(read.metadata.expect("metadata").version, version + 1);

    // A bad value in a masked field is refused with its path.
    let status = update(
        &app,
        &admin,
        pb::Volunteer {
            name: created.name.clone(),
            phone: "12345".to_string(),
            display_name: "   ".to_string(),
            ..Default::default()
        },
        &["phone", "display_name"],
        0,
    )
    .await
    .expect_err("bad values");
    assert_invalid(&status, &["volunteer.phone", "volunteer.display_name"]);
    let status = update(
        &app,
        &admin,
        pb::Volunteer {
            name: created.name.clone(),
            status: pb::VolunteerStatus::Unspecified as i32,
            emergency_contact: Some(pb::EmergencyContact {
                name: "陈父".to_string(),
                relationship: String::new(),
                phone: String::new(),
            }),
            ..Default::default()
        },
        &["status", "emergency_contact"],
        0,
    )
    .await
    .expect_err("bad status and incomplete contact");
    assert_invalid(
        &status,
        &["volunteer.status", "volunteer.emergency_contact.phone"],
    );
    // An empty mask is refused.
    let status = update(
        &app,
        &admin,
        pb::Volunteer {
            name: created.name.clone(),
            ..Default::default()
        },
        &[],
        0,
    )
    .await
    .expect_err("empty mask");
    assert_invalid(&status, &["update_mask"]);
    let read = get(&app, &admin, &created.name, false).await.expect("get");
    assert_eq!(
        read.metadata.expect("metadata").version,
        version + 1,
        "unchanged"
    );
    app.stop().await;
}

async fn update_refuses_identity_fields_and_stale_versions(app: TestApp) {
    let admin = app.admin();
    let created = app.register(&admin, &app.root, 21).await;
    let name = created.name.clone();
    for paths in [
        vec!["id_number"],
        vec!["id_type"],
        vec!["birth_date"],
        vec!["gender"],
        vec!["registering_org_unit"],
        vec!["volunteer_number"],
    ] {
        let status = update(
            &app,
            &admin,
            pb::Volunteer {
                name: name.clone(),
                id_number: resident_id(22),
                ..Default::default()
            },
            &paths,
            0,
        )
        .await
        .expect_err("identity field");
        assert_invalid(&status, &["update_mask.paths[0]"]);
    }
    let status = update(
        &app,
        &admin,
        pb::Volunteer {
            name: name.clone(),
            phone: "13700000000".to_string(),
            ..Default::default()
        },
        &["phone", "id_number", "gender"],
        0,
    )
    .await
    .expect_err("identity fields among others");
    assert_invalid(&status, &["update_mask.paths[1]", "update_mask.paths[2]"]);
    // Nothing changed.
    let read = get(&app, &admin, &name, true).await.expect("get");
    assert_eq!(read.id_number, resident_id(21));
    assert_eq!(read.phone, "13900000021");
    assert_eq!(read.metadata.as_ref().expect("metadata").version, 1);

    // Stale version.
    let status = assert_code(
        update(
            &app,
            &admin,
            pb::Volunteer {
                name: name.clone(),
                phone: "13700000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            7,
        )
        .await,
        Code::Aborted,
    );
    assert!(!status.message().is_empty());
    update(
        &app,
        &admin,
        pb::Volunteer {
            name: name.clone(),
            phone: "13700000000".to_string(),
            ..Default::default()
        },
        &["phone"],
        1,
    )
    .await
    .expect("current version");
    // Version 1 is stale now.
    assert_code(
        update(
            &app,
            &admin,
            pb::Volunteer {
                name: name.clone(),
                phone: "13500000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            1,
        )
        .await,
        Code::Aborted,
    );
    let read = get(&app, &admin, &name, true).await.expect("get");
    assert_eq!(read.phone, "13700000000");
    assert_eq!(read.metadata.expect("metadata").version, 2);

    // An unknown volunteer and a malformed name.
    assert_code(
        update(
            &app,
            &admin,
            pb::Volunteer {
                name: format!("volunteers/{}", uuid::Uuid::now_v7()),
                phone: "13700000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            0,
        )
        .await,
        Code::NotFound,
    );
    let status = update(
        &app,
        &admin,
        pb::Volunteer {
            name: "volunteers/not-a-uuid".to_string(),
            phone: "13700000000".to_string(),
            ..Default::default()
        },
        &["phone"],
        0,
    )
    .await
    .expect_err("bad name");
    assert_invalid(&status, &["volunteer.name"]);
    app.stop().await;
}

async fn volunteer_updates_own_contact_but_not_name_or_status(app: TestApp) {
    let admin = app.admin();
    let me = app.register(&admin, &app.root, 30).await;
    let other = app.register(&admin, &app.root, 31).await;
    let token = app.volunteer_token(&app.root, &me.name);

    let updated = update(
        &app,
        &token,
        pb::Volunteer {
            name: me.name.clone(),
            phone: "13711112222".to_string(),
            email: "me@example.cn".to_string(),
            ..Default::default()
        },
        &["phone", "email"],
        0,
    )
    .await
    .expect("own phone");
    assert_eq!(updated.phone, "137****2222");
    assert_eq!(updated.email, "me@example.cn");

    for (paths, volunteer) in [
        (
            vec!["display_name"],
            pb::Volunteer {
                name: me.name.clone(),
                display_name: "新名字".to_string(),
                ..Default::default()
            },
        ),
        (
            vec!["status"],
            pb::Volunteer {
                name: me.name.clone(),
                status: pb::VolunteerStatus::Withdrawn as i32,
                ..Default::default()
            },
        ),
        (
            vec!["phone", "display_name"],
            pb::Volunteer {
                name: me.name.clone(),
                phone: "13733334444".to_string(),
                display_name: "新名字".to_string(),
                ..Default::default()
            },
        ),
    ] {
        let status = assert_code(
            update(&app, &token, volunteer, &paths, 0).await,
            Code::PermissionDenied,
        );
        assert!(!status.message().is_empty());
    }
    // Another volunteer's record is off limits.
    assert_code(
        update(
            &app,
            &token,
            pb::Volunteer {
                name: other.name.clone(),
                phone: "13711112222".to_string(),
                ..Default::default()
            },
            &["phone"],
            0,
        )
        .await,
        Code::PermissionDenied,
    );
    // And a volunteer cannot list or register.
    assert_code(
        app.volunteers(&token)
            .list_volunteers(pb::ListVolunteersRequest::default())
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        create(&app, &token, &app.root, volunteer_input(32), "").await,
        Code::PermissionDenied,
    );

    let read = get(&app, &admin, &me.name, true).await.expect("get");
    assert_eq!(read.phone, "13711112222");
    assert_eq!(read.display_name, "志愿者30");
    assert_eq!(read.status, pb::VolunteerStatus::Active as i32);
    assert_eq!(read.metadata.expect("metadata").version, 2);
    let read = get(&app, &admin, &other.name, true).await.expect("get");
    assert_eq!(read.phone, "13900000031");
    app.stop().await;
}

async fn lookup_finds_by_id_number(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let created = app.register(&admin, &team.name, 40).await;
    let staff = app.token(&team.name, &[Role::Staff]);
    for token in [&admin, &staff] {
        let found = lookup(&app, token, pb::IdType::ResidentId, &resident_id(40))
            .await
            .expect("found");
        assert_eq!(found.name, created.name);
        assert_eq!(found.id_number, mask_expected_id(&resident_id(40)));
        assert_eq!(found.phone, "139****0040");
    }
    // Blanks around the number do not matter.
    let found = lookup(
        &app,
        &admin,
        pb::IdType::ResidentId,
        &format!(" {} ", resident_id(40)),
    )
    .await
    .expect("found with blanks");
    assert_eq!(found.name, created.name);
    let unknown = resident_id(41);
    let status = assert_code(
        lookup(&app, &admin, pb::IdType::ResidentId, &unknown).await,
        Code::NotFound,
    );
    assert!(!status.message().contains(&unknown), "{status:?}");
    // The same number under another document type is another document.
    assert_code(
        lookup(
            &app,
            &admin,
            pb::IdType::HmtResidencePermit,
            &resident_id(40),
        )
        .await,
        Code::InvalidArgument,
    );
    // Bad input is INVALID_ARGUMENT with the field.
    let status = lookup(
        &app,
        &admin,
        pb::IdType::ResidentId,
        &with_wrong_check_digit(&resident_id(40)),
    )
    .await
    .expect_err("bad check digit");
    assert_invalid(&status, &["id_number"]);
    let status = lookup(&app, &admin, pb::IdType::Unspecified, &resident_id(40))
        .await
        .expect_err("no type");
    assert_invalid(&status, &["id_type"]);
    app.stop().await;
}

async fn batch_create_registers_every_row(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let created = batch(
        &app,
        &admin,
        &team.name,
        vec![
            volunteer_input(50),
            volunteer_input(51),
            volunteer_input(52),
        ],
        &new_request_id(),
    )
    .await
    .expect("batch");
    assert_eq!(created.len(), 3);
    for (volunteer, seed) in created.iter().zip(50..) {
        assert_eq!(volunteer.display_name, format!("志愿者{seed}"));
        assert_eq!(volunteer.id_number, mask_expected_id(&resident_id(seed)));
        assert_eq!(
            volunteer.phone,
            mask_expected_phone(&format!("139{seed:08}"))
        );
        assert_eq!(volunteer.registering_org_unit, team.name);
    }
    let numbers: HashSet<&str> = created
        .iter()
        .map(|volunteer| volunteer.volunteer_number.as_str())
        .collect();
    assert_eq!(numbers.len(), 3, "distinct volunteer numbers");
    let listed = all_names(&app, &app.token(&team.name, &[Role::Viewer])).await;
    let expected: Vec<String> = created
        .iter()
        .map(|volunteer| volunteer.name.clone())
        .collect();
    assert_eq!(listed, expected);
    // A row may repeat the batch's org unit and request id, nothing else.
    let request_id = new_request_id();
    let mut request = batch_request(
        &team.name,
        vec![volunteer_input(53), volunteer_input(54)],
        &request_id,
    );
    request.requests[0].org_unit = team.name.clone();
    request.requests[0].request_id = request_id.clone();
    request.requests[1].org_unit = app.root.clone();
    request.requests[1].request_id = new_request_id();
    let status = app
        .volunteers(&admin)
        .batch_create_volunteers(request.clone())
        .await
        .expect_err("foreign row fields");
    assert_invalid(&status, &["requests[1].org_unit", "requests[1].request_id"]);
    request.requests[1].org_unit = String::new();
    request.requests[1].request_id = String::new();
    let created = app
        .volunteers(&admin)
        .batch_create_volunteers(request)
        .await
        .expect("rows repeating the batch's fields")
        .into_inner()
        .volunteers;
    assert_eq!(created.len(), 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

async fn invalid_registrations_name_each_field(app: TestApp) {
    let admin = app.admin();
    app.register(&admin, &app.root, 60).await;
    let before = all_names(&app, &admin).await;
    assert_eq!(before.len(), 1);

    let cases: Vec<(pb::Volunteer, &str, Vec<&str>)> = vec![
        (
            pb::Volunteer {
                id_number: with_wrong_check_digit(&resident_id(61)),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.id_number"],
        ),
        (
            pb::Volunteer {
                phone: "12345".to_string(),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.phone"],
        ),
        (
            pb::Volunteer {
                phone: String::new(),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.phone"],
        ),
        (
            pb::Volunteer {
                display_name: String::new(),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.display_name"],
        ),
        (
            pb::Volunteer {
                display_name: "  \t ".to_string(),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.display_name"],
        ),
        (
            pb::Volunteer {
                id_type: pb::IdType::Unspecified as i32,
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.id_type"],
        ),
        (
            pb::Volunteer {
                id_type: 99,
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.id_type"],
        ),
        (
            pb::Volunteer {
                id_type: pb::IdType::Passport as i32,
                id_number: "E12345678".to_string(),
                gender: pb::Gender::Female as i32,
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.birth_date"],
        ),
        (
            pb::Volunteer {
                id_type: pb::IdType::Passport as i32,
                id_number: "E12345678".to_string(),
                birth_date: Some(date(1990, 2, 30)),
                gender: pb::Gender::Female as i32,
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.birth_date"],
        ),
        (
            pb::Volunteer {
                id_type: pb::IdType::Passport as i32,
                id_number: "E12345678".to_string(),
                birth_date: Some(date(1990, 2, 3)),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.gender"],
        ),
        (
            pb::Volunteer {
                email: "not-an-email".to_string(),
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.email"],
        ),
        (
            pb::Volunteer {
                service_fields: vec![0],
                ..volunteer_input(61)
            },
            "",
            vec!["volunteer.service_fields[0]"],
        ),
        (volunteer_input(61), "not-a-uuid", vec!["request_id"]),
        // Several bad fields at once: all reported.
        (
            pb::Volunteer {
                display_name: String::new(),
                id_number: with_wrong_check_digit(&resident_id(61)),
                phone: "12345".to_string(),
                email: "a@@b".to_string(),
                ..volunteer_input(61)
            },
            "",
            vec![
                "volunteer.display_name",
                "volunteer.id_number",
                "volunteer.phone",
                "volunteer.email",
            ],
        ),
        (
            pb::Volunteer {
                display_name: String::new(),
                id_type: pb::IdType::Passport as i32,
                id_number: "E12345678".to_string(),
                phone: "abc".to_string(),
                ..volunteer_input(61)
            },
            "",
            vec![
                "volunteer.display_name",
                "volunteer.birth_date",
                "volunteer.gender",
                "volunteer.phone",
            ],
        ),
    ];
    for (volunteer, request_id, fields) in cases {
        let status = create(&app, &admin, &app.root, volunteer.clone(), request_id)
            .await
            .expect_err("invalid registration");
        assert_invalid(&status, &fields);
        assert!(
            !status.message().contains(&resident_id(61)),
            "no personal data in errors: {status:?}"
        );
    }
    // Missing volunteer and bad org unit name.
    let status = app
        .volunteers(&admin)
        .create_volunteer(pb::CreateVolunteerRequest {
            org_unit: app.root.clone(),
            volunteer: None,
            request_id: String::new(),
            pending_membership: false,
            validate_only: false,
        })
        .await
        .expect_err("no volunteer");
    assert_invalid(&status, &["volunteer"]);
    let status = create(&app, &admin, "teams/xyz", volunteer_input(61), "")
        .await
        .expect_err("bad org unit");
    assert_invalid(&status, &["org_unit"]);
    // An org unit that does not exist.
    assert_code(
        create(
            &app,
            &admin,
            &format!("orgUnits/{}", uuid::Uuid::now_v7()),
            volunteer_input(61),
            "",
        )
        .await,
        Code::NotFound,
    );

    // Nothing was written.
    assert_eq!(all_names(&app, &admin).await, before);
    assert_code(
        lookup(&app, &admin, pb::IdType::ResidentId, &resident_id(61)).await,
        Code::NotFound,
    );
    // And the valid registration still goes through afterwards.
    app.register(&admin, &app.root, 61).await;
    assert_eq!(all_names(&app, &admin).await.len(), 2);
    app.stop().await;
}

async fn invalid_list_requests_name_each_field(app: TestApp) {
    let admin = app.admin();
    app.register(&admin, &app.root, 70).await;
    let mut client = app.volunteers(&admin);
    let cases: Vec<(pb::ListVolunteersRequest, Vec<&str>)> = vec![
        (
            pb::ListVolunteersRequest {
                page_size: 501,
                ..Default::default()
            },
            vec!["page_size"],
        ),
        (
            pb::ListVolunteersRequest {
                page_size: -1,
                ..Default::default()
            },
            vec!["page_size"],
        ),
        (
            pb::ListVolunteersRequest {
                page_token: "garbage!!".to_string(),
                ..Default::default()
            },
            vec!["page_token"],
        ),
        (
            pb::ListVolunteersRequest {
                page_token: "djF8MDAwMDAwMDAwMDAwMDAwMHx4".to_string(),
                ..Default::default()
            },
            vec!["page_token"],
        ),
        (
            pb::ListVolunteersRequest {
                status: 42,
                ..Default::default()
            },
            vec!["status"],
        ),
        (
            pb::ListVolunteersRequest {
                org_unit: "volunteers/abc".to_string(),
                ..Default::default()
            },
            vec!["org_unit"],
        ),
        (
            pb::ListVolunteersRequest {
                status: 42,
                display_name_contains: "名".repeat(51),
                ..Default::default()
            },
            vec!["status", "display_name_contains"],
        ),
        (
            pb::ListVolunteersRequest {
                order_by: "phone".to_string(),
                ..Default::default()
            },
            vec!["order_by"],
        ),
        (
            pb::ListVolunteersRequest {
                order_by: "display_name, create_time".to_string(),
                ..Default::default()
            },
            vec!["order_by"],
        ),
        (
            pb::ListVolunteersRequest {
                order_by: "display_name sideways".to_string(),
                volunteer_number: "号".repeat(65),
                ..Default::default()
            },
            vec!["order_by", "volunteer_number"],
        ),
    ];
    for (request, fields) in cases {
        let status = client
            .list_volunteers(request.clone())
            .await
            .expect_err("invalid list request");
        assert_invalid(&status, &fields);
    }
    // 500 is fine.
    let page = client
        .list_volunteers(pb::ListVolunteersRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("page of 500")
        .into_inner();
    assert_eq!(page.volunteers.len(), 1);
    assert!(page.next_page_token.is_empty());

    // Get with a malformed name.
    let status = get(&app, &admin, "volunteers/123", false)
        .await
        .expect_err("bad name");
    assert_invalid(&status, &["name"]);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Duplicates and retries
// ---------------------------------------------------------------------------------------

async fn duplicate_id_number_is_already_exists(app: TestApp) {
    let admin = app.admin();
    let first = app.register(&admin, &app.root, 80).await;
    // Same document, other name and phone.
    let status = assert_code(
        create(
            &app,
            &admin,
            &app.root,
            pb::Volunteer {
                display_name: "另一个人".to_string(),
                phone: "13712345678".to_string(),
                ..volunteer_input(80)
            },
            &new_request_id(),
        )
        .await,
        Code::AlreadyExists,
    );
    assert!(!status.message().contains(&resident_id(80)), "{status:?}");
    // A lower-case x or surrounding blanks do not make another person.
    let mut seed = 81;
    let with_x = loop {
        let id = resident_id(seed);
        if id.ends_with('X') {
            break seed;
        }
        seed += 1;
    };
    app.register(&admin, &app.root, with_x).await;
    let lower = resident_id(with_x).to_lowercase();
    assert_code(
        create(
            &app,
            &admin,
            &app.root,
            pb::Volunteer {
                id_number: format!(" {lower} "),
                ..volunteer_input(with_x)
            },
            "",
        )
        .await,
        Code::AlreadyExists,
    );
    let names = all_names(&app, &admin).await;
    assert_eq!(names.len(), 2);
    assert_eq!(names[0], first.name);
    app.stop().await;
}

async fn duplicate_across_districts_is_already_exists(app: TestApp) {
    let districts = two_districts(&app).await;
    let in_a = app
        .register(&districts.a_staff, &districts.a.name, 90)
        .await;
    assert_eq!(in_a.registering_org_unit, districts.a.name);
    // B cannot see A's volunteer, but still cannot register the same person again.
    let status = assert_code(
        create(
            &app,
            &districts.b_staff,
            &districts.b.name,
            volunteer_input(90),
            "",
        )
        .await,
        Code::AlreadyExists,
    );
    assert!(!status.message().contains(&in_a.name), "{status:?}");
    // The same through a batch in B.
    let status = batch(
        &app,
        &districts.b_staff,
        &districts.b.name,
        vec![volunteer_input(91), volunteer_input(90)],
        "",
    )
    .await
    .expect_err("registered in A");
    assert_invalid(&status, &["requests[1].volunteer.id_number"]);
    assert!(all_names(&app, &districts.b_staff).await.is_empty());
    assert_eq!(
        all_names(&app, &districts.a_staff).await,
        std::slice::from_ref(&in_a.name)
    );
    assert_eq!(all_names(&app, &app.admin()).await, [in_a.name]);
    app.stop().await;
}

async fn concurrent_duplicates_register_once(app: TestApp) {
    let admin = app.admin();
    const ATTEMPTS: usize = 8;
    for round in 0..3u32 {
        let seed = 100 + round;
        let mut tasks = Vec::new();
        for attempt in 0..ATTEMPTS {
            let mut client = app.volunteers(&admin);
            let org_unit = app.root.clone();
            let volunteer = pb::Volunteer {
                display_name: format!("并发{attempt}"),
                ..volunteer_input(seed)
            };
            tasks.push(tokio::spawn(async move {
                client
                    .create_volunteer(pb::CreateVolunteerRequest {
                        org_unit,
                        volunteer: Some(volunteer),
                        request_id: new_request_id(),
                        pending_membership: false,
                        validate_only: false,
                    })
                    .await
            }));
        }
        let mut created = Vec::new();
        let mut refused = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(response) => created.push(response.into_inner().volunteer.expect("volunteer")),
                Err(status) => {
                    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
                    refused += 1;
                }
            }
        }
        assert_eq!(
            created.len(),
            1,
            "exactly one registration wins: {created:?}"
        );
        assert_eq!(refused, ATTEMPTS - 1);
        let found = lookup(&app, &admin, pb::IdType::ResidentId, &resident_id(seed))
            .await
            .expect("registered");
        assert_eq!(found.name, created[0].name);
    }
    assert_eq!(all_names(&app, &admin).await.len(), 3);

    // Concurrent registrations of different people all succeed.
    let mut tasks = Vec::new();
    for seed in 200..208 {
        let mut client = app.volunteers(&admin);
        let org_unit = app.root.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_volunteer(pb::CreateVolunteerRequest {
                    org_unit,
                    volunteer: Some(volunteer_input(seed)),
                    request_id: new_request_id(),
                    pending_membership: false,
                    validate_only: false,
                })
                .await
        }));
    }
    let mut numbers = HashSet::new();
    for task in tasks {
        let volunteer = task
            .await
            .expect("task")
            .expect("distinct people register")
            .into_inner()
            .volunteer
            .expect("volunteer");
        assert!(
            numbers.insert(volunteer.volunteer_number.clone()),
            "{volunteer:?}"
        );
    }
    assert_eq!(all_names(&app, &admin).await.len(), 11);
    app.stop().await;
}

async fn create_retry_with_same_request_id_is_idempotent(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let request_id = new_request_id();
    let first = create(&app, &admin, &team.name, volunteer_input(110), &request_id)
        .await
        .expect("first");
    for _ in 0..2 {
        let again = create(&app, &admin, &team.name, volunteer_input(110), &request_id)
            .await
            .expect("retry");
        assert_eq!(again.name, first.name);
        assert_eq!(again.volunteer_number, first.volunteer_number);
        assert_eq!(again.id_number, first.id_number, "masked as well");
        assert_eq!(again.phone, first.phone);
    }
    assert_eq!(
        all_names(&app, &admin).await,
        std::slice::from_ref(&first.name)
    );
    // A new request id for the same person is a duplicate.
    assert_code(
        create(
            &app,
            &admin,
            &team.name,
            volunteer_input(110),
            &new_request_id(),
        )
        .await,
        Code::AlreadyExists,
    );
    // A request id refused for bad input may be used again once the input is fixed.
    let request_id = new_request_id();
    let status = create(
        &app,
        &admin,
        &team.name,
        pb::Volunteer {
            phone: "12345".to_string(),
            ..volunteer_input(111)
        },
        &request_id,
    )
    .await
    .expect_err("bad phone");
    assert_invalid(&status, &["volunteer.phone"]);
    let second = create(&app, &admin, &team.name, volunteer_input(111), &request_id)
        .await
        .expect("fixed input");
    assert_ne!(second.name, first.name);
    // A request id already used for another method is refused.
    let status = batch(
        &app,
        &admin,
        &team.name,
        vec![volunteer_input(112)],
        &request_id,
    )
    .await
    .expect_err("request id used by CreateVolunteer");
    assert_invalid(&status, &["request_id"]);
    assert_eq!(all_names(&app, &admin).await, [first.name, second.name]);
    app.stop().await;
}

async fn concurrent_retries_with_same_request_id_register_once(app: TestApp) {
    let admin = app.admin();
    let request_id = new_request_id();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let mut client = app.volunteers(&admin);
        let org_unit = app.root.clone();
        let request_id = request_id.clone();
        tasks.push(tokio::spawn(async move {
            client
                .create_volunteer(pb::CreateVolunteerRequest {
                    org_unit,
                    volunteer: Some(volunteer_input(115)),
                    request_id,
                    pending_membership: false,
                    validate_only: false,
                })
                .await
        }));
    }
    let mut names = HashSet::new();
    for task in tasks {
        let volunteer = task
            .await
            .expect("task")
            .unwrap_or_else(|status| panic!("a retry gets the same answer: {status:?}"))
            .into_inner()
            .volunteer
            .expect("volunteer");
        names.insert(volunteer.name);
    }
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(
        all_names(&app, &admin).await,
        names.into_iter().collect::<Vec<_>>()
    );
    // The same for a batch.
    let request_id = new_request_id();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut client = app.volunteers(&admin);
        let request = batch_request(
            &app.root,
            (116..119).map(volunteer_input).collect(),
            &request_id,
        );
        tasks.push(tokio::spawn(async move {
            client.batch_create_volunteers(request).await
        }));
    }
    let mut answers = HashSet::new();
    for task in tasks {
        let volunteers = task
            .await
            .expect("task")
            .unwrap_or_else(|status| panic!("a batch retry gets the same answer: {status:?}"))
            .into_inner()
            .volunteers;
        answers.insert(
            volunteers
                .into_iter()
                .map(|volunteer| volunteer.name)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(all_names(&app, &admin).await.len(), 4);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------

async fn batch_is_all_or_nothing(app: TestApp) {
    let admin = app.admin();
    let existing = app.register(&admin, &app.root, 120).await;
    // Row 1: bad phone; row 2: the same person as row 0.
    let status = batch(
        &app,
        &admin,
        &app.root,
        vec![
            volunteer_input(121),
            pb::Volunteer {
                phone: "12345".to_string(),
                ..volunteer_input(122)
            },
            pb::Volunteer {
                display_name: "重复".to_string(),
                ..volunteer_input(121)
            },
            volunteer_input(123),
        ],
        &new_request_id(),
    )
    .await
    .expect_err("bad batch");
    // Every problem in one answer: the bad row and the repeated person.
    assert_invalid(
        &status,
        &[
            "requests[1].volunteer.phone",
            "requests[2].volunteer.id_number",
        ],
    );
    assert_eq!(
        all_names(&app, &admin).await,
        std::slice::from_ref(&existing.name)
    );

    // Only the duplicate left: named by its row.
    let status = batch(
        &app,
        &admin,
        &app.root,
        vec![
            volunteer_input(121),
            volunteer_input(122),
            volunteer_input(121),
            volunteer_input(123),
        ],
        &new_request_id(),
    )
    .await
    .expect_err("duplicate in batch");
    assert_invalid(&status, &["requests[2].volunteer.id_number"]);
    assert_eq!(
        all_names(&app, &admin).await,
        std::slice::from_ref(&existing.name)
    );
    for seed in 121..=123 {
        assert_code(
            lookup(&app, &admin, pb::IdType::ResidentId, &resident_id(seed)).await,
            Code::NotFound,
        );
    }
    app.stop().await;
}

async fn batch_refuses_registered_rows_and_oversized_batches(app: TestApp) {
    let admin = app.admin();
    let existing = app.register(&admin, &app.root, 130).await;
    let status = batch(
        &app,
        &admin,
        &app.root,
        vec![
            volunteer_input(131),
            volunteer_input(132),
            volunteer_input(130),
            volunteer_input(133),
        ],
        "",
    )
    .await
    .expect_err("row already registered");
    assert_invalid(&status, &["requests[2].volunteer.id_number"]);
    // Several bad rows are all named.
    let status = batch(
        &app,
        &admin,
        &app.root,
        vec![
            pb::Volunteer {
                display_name: String::new(),
                ..volunteer_input(131)
            },
            volunteer_input(132),
            pb::Volunteer {
                id_number: with_wrong_check_digit(&resident_id(133)),
                phone: "abc".to_string(),
                ..volunteer_input(133)
            },
        ],
        "",
    )
    .await
    .expect_err("bad rows");
    assert_invalid(
        &status,
        &[
            "requests[0].volunteer.display_name",
            "requests[2].volunteer.id_number",
            "requests[2].volunteer.phone",
        ],
    );
    // A row without a volunteer.
    let mut request = batch_request(&app.root, vec![volunteer_input(131)], "");
    request.requests.push(pb::CreateVolunteerRequest::default());
    let status = app
        .volunteers(&admin)
        .batch_create_volunteers(request)
        .await
        .expect_err("empty row");
    assert_invalid(&status, &["requests[1].volunteer"]);

    // 1001 rows, and none.
    let rows: Vec<pb::Volunteer> = (1000..2001).map(volunteer_input).collect();
    assert_eq!(rows.len(), 1001);
    let status = batch(&app, &admin, &app.root, rows, "")
        .await
        .expect_err("too many rows");
    assert_invalid(&status, &["requests"]);
    let status = batch(&app, &admin, &app.root, vec![], "")
        .await
        .expect_err("no rows");
    assert_invalid(&status, &["requests"]);
    // Bad batch-level fields.
    let status = batch(&app, &admin, &app.root, vec![volunteer_input(131)], "nope")
        .await
        .expect_err("bad request id");
    assert_invalid(&status, &["request_id"]);
    let status = batch(
        &app,
        &admin,
        "orgUnits/nope",
        vec![volunteer_input(131)],
        "",
    )
    .await
    .expect_err("bad org unit");
    assert_invalid(&status, &["org_unit"]);

    assert_eq!(all_names(&app, &admin).await, [existing.name]);
    app.stop().await;
}

async fn batch_retry_with_same_request_id_is_idempotent(app: TestApp) {
    let admin = app.admin();
    let request_id = new_request_id();
    let rows = || {
        vec![
            volunteer_input(140),
            volunteer_input(141),
            volunteer_input(142),
        ]
    };
    let first = batch(&app, &admin, &app.root, rows(), &request_id)
        .await
        .expect("first");
    let names: Vec<String> = first
        .iter()
        .map(|volunteer| volunteer.name.clone())
        .collect();
    for _ in 0..2 {
        let again = batch(&app, &admin, &app.root, rows(), &request_id)
            .await
            .expect("retry");
        let again_names: Vec<String> = again
            .iter()
            .map(|volunteer| volunteer.name.clone())
            .collect();
        assert_eq!(again_names, names);
        for (a, b) in again.iter().zip(&first) {
            assert_eq!(a.volunteer_number, b.volunteer_number);
            assert_eq!(a.id_number, b.id_number);
        }
    }
    assert_eq!(all_names(&app, &admin).await, names);
    // A fresh request id for the same rows names every registered row.
    let status = batch(&app, &admin, &app.root, rows(), &new_request_id())
        .await
        .expect_err("already registered");
    assert_invalid(
        &status,
        &[
            "requests[0].volunteer.id_number",
            "requests[1].volunteer.id_number",
            "requests[2].volunteer.id_number",
        ],
    );
    // A request id used by a batch cannot be reused by CreateVolunteer.
    let status = create(&app, &admin, &app.root, volunteer_input(143), &request_id)
        .await
        .expect_err("request id of a batch");
    assert_invalid(&status, &["request_id"]);
    assert_eq!(all_names(&app, &admin).await, names);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------

async fn pagination_visits_3000_volunteers_exactly_once(app: TestApp) {
    // resident_id gives distinct valid numbers well beyond what the tests use.
    let ids: HashSet<String> = (0..20_000).map(resident_id).collect();
    assert_eq!(ids.len(), 20_000);

    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let started = Instant::now();
    let mut registered = Vec::new();
    for chunk in 0..3u32 {
        let rows: Vec<pb::Volunteer> = (chunk * 1000..(chunk + 1) * 1000)
            .map(volunteer_input)
            .collect();
        let created = batch(&app, &admin, &team.name, rows, &new_request_id())
            .await
            .unwrap_or_else(|status| panic!("batch {chunk}: {status:?}"));
        assert_eq!(created.len(), 1000);
        registered.extend(created.into_iter().map(|volunteer| volunteer.name));
    }
    let registering = started.elapsed();
    assert_eq!(registered.iter().collect::<HashSet<_>>().len(), 3000);

    let started = Instant::now();
    for page_size in [500, 137] {
        for token in [admin.clone(), app.token(&team.name, &[Role::Viewer])] {
            let listed: Vec<String> = list_all(
                &app,
                &token,
                pb::ListVolunteersRequest {
                    page_size,
                    ..Default::default()
                },
            )
            .await
            .into_iter()
            .map(|volunteer| volunteer.name)
            .collect();
            assert_eq!(listed.len(), 3000, "page size {page_size}");
            assert_eq!(
                listed.iter().collect::<HashSet<_>>().len(),
                3000,
                "no repeats"
            );
            // Registration order, which is also the batches' row order.
            assert_eq!(listed, registered, "page size {page_size}");
        }
    }
    // Page boundaries: 500 gives exactly 6 full pages and an empty token at the end.
    let mut client = app.volunteers(&admin);
    let mut token = String::new();
    let mut sizes = Vec::new();
    loop {
        let page = client
            .list_volunteers(pb::ListVolunteersRequest {
                page_size: 500,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        sizes.push(page.volunteers.len());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(sizes.iter().sum::<usize>(), 3000);
    assert!(sizes.len() <= 7, "{sizes:?}");
    assert!(
        sizes[..sizes.len() - 1].iter().all(|size| *size == 500),
        "{sizes:?}"
    );
    // The default page size is 50.
    let page = client
        .list_volunteers(pb::ListVolunteersRequest::default())
        .await
        .expect("default page")
        .into_inner();
    assert_eq!(page.volunteers.len(), 50);
    assert!(!page.next_page_token.is_empty());
    // A filter pages through its own matches only.
    let filtered = list_all(
        &app,
        &admin,
        pb::ListVolunteersRequest {
            page_size: 100,
            display_name_contains: "志愿者29".to_string(),
            ..Default::default()
        },
    )
    .await;
    // 29, 290..=299, 2900..=2999.
    assert_eq!(filtered.len(), 1 + 10 + 100);
    let listing = started.elapsed();
    eprintln!(
        "{:?}: registering 3000 took {registering:?}, listing took {listing:?}",
        app.backend
    );
    app.stop().await;
}

async fn page_token_is_bound_to_filters(app: TestApp) {
    let admin = app.admin();
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    batch(
        &app,
        &admin,
        &team.name,
        (150..160).map(volunteer_input).collect(),
        "",
    )
    .await
    .expect("batch");
    let mut client = app.volunteers(&admin);
    let first = client
        .list_volunteers(pb::ListVolunteersRequest {
            page_size: 3,
            skill: "急救".to_string(),
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.volunteers.len(), 3);
    assert!(!first.next_page_token.is_empty());
    let token = first.next_page_token;
    for request in [
        pb::ListVolunteersRequest {
            skill: "心理咨询".to_string(),
            ..Default::default()
        },
        pb::ListVolunteersRequest::default(),
        pb::ListVolunteersRequest {
            skill: "急救".to_string(),
            status: pb::VolunteerStatus::Active as i32,
            ..Default::default()
        },
        pb::ListVolunteersRequest {
            skill: "急救".to_string(),
            display_name_contains: "志愿者".to_string(),
            ..Default::default()
        },
        pb::ListVolunteersRequest {
            skill: "急救".to_string(),
            org_unit: team.name.clone(),
            ..Default::default()
        },
        pb::ListVolunteersRequest {
            skill: "急救".to_string(),
            order_by: "display_name".to_string(),
            ..Default::default()
        },
    ] {
        let status = client
            .list_volunteers(pb::ListVolunteersRequest {
                page_size: 3,
                page_token: token.clone(),
                ..request
            })
            .await
            .expect_err("token from other filters");
        assert_invalid(&status, &["page_token"]);
    }
    // With the same filters (a different page size is fine) the token works.
    let second = client
        .list_volunteers(pb::ListVolunteersRequest {
            page_size: 100,
            skill: "急救".to_string(),
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .expect("same filters")
        .into_inner();
    assert_eq!(second.volunteers.len(), 7);
    assert!(second.next_page_token.is_empty());
    // A tampered token is refused.
    let mut tampered = token.clone();
    tampered.insert(5, 'A');
    let status = client
        .list_volunteers(pb::ListVolunteersRequest {
            page_size: 3,
            skill: "急救".to_string(),
            page_token: tampered,
            ..Default::default()
        })
        .await
        .expect_err("tampered token");
    assert_invalid(&status, &["page_token"]);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Authorization
// ---------------------------------------------------------------------------------------

async fn other_district_sees_not_found(app: TestApp) {
    let districts = two_districts(&app).await;
    let in_a = app
        .register(&districts.a_staff, &districts.a.name, 160)
        .await;
    let in_b = app
        .register(&districts.b_staff, &districts.b.name, 161)
        .await;
    let a = &districts.a_staff;
    let random = format!("volunteers/{}", uuid::Uuid::now_v7());

    // Get: same code as for a volunteer that does not exist.
    let foreign = assert_code(get(&app, a, &in_b.name, false).await, Code::NotFound);
    let missing = assert_code(get(&app, a, &random, false).await, Code::NotFound);
    assert_eq!(foreign.code(), missing.code());
    assert!(!foreign.message().contains("湖里"), "{foreign:?}");
    assert_code(get(&app, a, &in_b.name, true).await, Code::NotFound);
    // Update.
    assert_code(
        update(
            &app,
            a,
            pb::Volunteer {
                name: in_b.name.clone(),
                phone: "13700000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            0,
        )
        .await,
        Code::NotFound,
    );
    assert_code(
        update(
            &app,
            a,
            pb::Volunteer {
                name: random.clone(),
                phone: "13700000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            0,
        )
        .await,
        Code::NotFound,
    );
    // List B's unit, or a unit that does not exist.
    for org_unit in [
        districts.b.name.clone(),
        format!("orgUnits/{}", uuid::Uuid::now_v7()),
        app.root.clone(),
    ] {
        assert_code(
            app.volunteers(a)
                .list_volunteers(pb::ListVolunteersRequest {
                    org_unit,
                    ..Default::default()
                })
                .await,
            Code::NotFound,
        );
    }
    // Lookup: the same answer as for an unknown number.
    let foreign = assert_code(
        lookup(&app, a, pb::IdType::ResidentId, &resident_id(161)).await,
        Code::NotFound,
    );
    let unknown = assert_code(
        lookup(&app, a, pb::IdType::ResidentId, &resident_id(162)).await,
        Code::NotFound,
    );
    assert_eq!(foreign.message(), unknown.message());
    // Register into B.
    assert_code(
        create(&app, a, &districts.b.name, volunteer_input(163), "").await,
        Code::NotFound,
    );
    assert_code(
        batch(&app, a, &districts.b.name, vec![volunteer_input(163)], "").await,
        Code::NotFound,
    );
    // A's own listing has A's volunteer only; B's is untouched.
    assert_eq!(all_names(&app, a).await, std::slice::from_ref(&in_a.name));
    assert_eq!(
        all_names(&app, &districts.b_staff).await,
        std::slice::from_ref(&in_b.name)
    );
    let read = get(&app, &app.admin(), &in_b.name, true)
        .await
        .expect("admin");
    assert_eq!(read.phone, "13900000161");
    assert_eq!(read.metadata.expect("metadata").version, 1);
    // The admin at the root sees both.
    let mut both = all_names(&app, &app.admin()).await;
    both.sort();
    let mut expected = vec![in_a.name.clone(), in_b.name.clone()];
    expected.sort();
    assert_eq!(both, expected);
    // A's own volunteer is reachable from A.
    get(&app, a, &in_a.name, true).await.expect("own district");
    lookup(&app, a, pb::IdType::ResidentId, &resident_id(160))
        .await
        .expect("own district lookup");
    // A volunteer of A acting for itself cannot read B's volunteer.
    let own = app.volunteer_token(&districts.a.name, &in_a.name);
    assert_code(
        get(&app, &own, &in_b.name, false).await,
        Code::PermissionDenied,
    );
    app.stop().await;
}

async fn subtree_includes_sub_teams_only_downwards(app: TestApp) {
    let districts = two_districts(&app).await;
    let admin = app.admin();
    let sub_team = app
        .create_unit(&admin, &districts.a.name, pb::Tier::SubTeam, "莲前街道分队")
        .await;
    let in_a = app
        .register(&districts.a_staff, &districts.a.name, 180)
        .await;
    // A's staff registers into its sub-team; the sub-team's leader registers too.
    let in_sub = app.register(&districts.a_staff, &sub_team.name, 181).await;
    let leader = app.token(&sub_team.name, &[Role::TeamLeader]);
    let by_leader = app.register(&leader, &sub_team.name, 182).await;
    assert_eq!(
        all_names(&app, &districts.a_staff).await,
        [
            in_a.name.clone(),
            in_sub.name.clone(),
            by_leader.name.clone()
        ]
    );
    // Listing the sub-team from A narrows the list.
    let listed: Vec<String> = list_all(
        &app,
        &districts.a_staff,
        pb::ListVolunteersRequest {
            org_unit: sub_team.name.clone(),
            ..Default::default()
        },
    )
    .await
    .into_iter()
    .map(|volunteer| volunteer.name)
    .collect();
    assert_eq!(listed, [in_sub.name.clone(), by_leader.name.clone()]);
    // The sub-team sees its own, not the team above it.
    assert_eq!(
        all_names(&app, &leader).await,
        [in_sub.name.clone(), by_leader.name.clone()]
    );
    assert_code(get(&app, &leader, &in_a.name, false).await, Code::NotFound);
    assert_code(
        app.volunteers(&leader)
            .list_volunteers(pb::ListVolunteersRequest {
                org_unit: districts.a.name.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        create(&app, &leader, &districts.a.name, volunteer_input(183), "").await,
        Code::NotFound,
    );
    // B sees none of them, and an attempt to reveal one writes no audit entry.
    assert!(all_names(&app, &districts.b_staff).await.is_empty());
    assert_code(
        get(&app, &districts.b_staff, &in_sub.name, true).await,
        Code::NotFound,
    );
    let entries = app
        .records(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest::default())
        .await
        .expect("audit log")
        .into_inner()
        .audit_entries;
    assert!(entries.is_empty(), "{entries:?}");
    app.stop().await;
}

async fn roles_and_authentication_are_enforced(app: TestApp) {
    let admin = app.admin();
    let volunteer = app.register(&admin, &app.root, 170).await;
    let sync = app.token(&app.root, &[Role::Sync]);
    assert_code(
        app.volunteers(&sync)
            .list_volunteers(pb::ListVolunteersRequest::default())
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        get(&app, &sync, &volunteer.name, false).await,
        Code::PermissionDenied,
    );
    assert_code(
        create(&app, &sync, &app.root, volunteer_input(171), "").await,
        Code::PermissionDenied,
    );
    assert_code(
        lookup(&app, &sync, pb::IdType::ResidentId, &resident_id(170)).await,
        Code::PermissionDenied,
    );

    // A viewer reads but does not write.
    let viewer = app.token(&app.root, &[Role::Viewer]);
    assert_eq!(
        all_names(&app, &viewer).await,
        std::slice::from_ref(&volunteer.name)
    );
    assert_code(
        create(&app, &viewer, &app.root, volunteer_input(171), "").await,
        Code::PermissionDenied,
    );
    assert_code(
        batch(&app, &viewer, &app.root, vec![volunteer_input(171)], "").await,
        Code::PermissionDenied,
    );
    assert_code(
        update(
            &app,
            &viewer,
            pb::Volunteer {
                name: volunteer.name.clone(),
                phone: "13700000000".to_string(),
                ..Default::default()
            },
            &["phone"],
            0,
        )
        .await,
        Code::PermissionDenied,
    );
    // A team leader registers in its own team.
    let team = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let leader = app.token(&team.name, &[Role::TeamLeader]);
    let registered = app.register(&leader, &team.name, 172).await;
    assert_eq!(
        all_names(&app, &leader).await,
        std::slice::from_ref(&registered.name)
    );

    // No token, or a bad one.
    for token in ["", "not-a-token"] {
        let mut client = app.volunteers(token);
        assert_code(
            client
                .list_volunteers(pb::ListVolunteersRequest::default())
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .get_volunteer(pb::GetVolunteerRequest {
                    name: volunteer.name.clone(),
                    reveal_personal_data: false,
                })
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .create_volunteer(pb::CreateVolunteerRequest {
                    org_unit: app.root.clone(),
                    volunteer: Some(volunteer_input(171)),
                    request_id: String::new(),
                    pending_membership: false,
                    validate_only: false,
                })
                .await,
            Code::Unauthenticated,
        );
        assert_code(
            client
                .lookup_volunteer(pb::LookupVolunteerRequest {
                    id_type: pb::IdType::ResidentId as i32,
                    id_number: resident_id(170),
                })
                .await,
            Code::Unauthenticated,
        );
    }
    // A token for an org unit that does not exist may do nothing.
    let ghost = app.token(
        &format!("orgUnits/{}", uuid::Uuid::now_v7()),
        &[Role::Admin],
    );
    assert_code(
        app.volunteers(&ghost)
            .list_volunteers(pb::ListVolunteersRequest::default())
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(all_names(&app, &admin).await.len(), 2);
    app.stop().await;
}

// ---------------------------------------------------------------------------------------
// Listing plans
// ---------------------------------------------------------------------------------------

/// A registry server beside `app`'s instance, on its database and keys, whose listings start
/// from the subtree's units below `list_probe_limit` candidate rows and walk all volunteers
/// in id order from there on (0: always walk).
struct RegistryBeside {
    channel: Channel,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RegistryBeside {
    async fn start(app: &TestApp, list_probe_limit: i64) -> Self {
        let settings = egret_registry::RegistrySettings {
            list_probe_limit,
            ..app.config().registry.clone()
        };
        let mut server = Assembly::bind(&app.config().common)
            .await
            .expect("a second registry server binds");
        server
            .add::<egret_registry::Registry>(&settings)
            .await
            .expect("a second registry server starts");
        let address = server.local_addr();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(server.run_until_stopped(shutdown.clone()));
        let channel = Channel::from_shared(format!("http://{address}"))
            .expect("valid uri")
            .connect()
            .await
            .expect("connects");
        Self {
            channel,
            shutdown,
            server,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.server
            .await
            .expect("server task")
            .expect("server stops cleanly");
    }
}

/// One page of a listing: the volunteers' names and the token of the next page.
type Page = (Vec<String>, String);

/// Every page `request` lists through `channel` as `token`'s principal.
/// `volunteers` in the order of `key`, ties by id, as a sorted listing gives them.
fn sorted<'a>(
    volunteers: &[&'a pb::Volunteer],
    key: impl Fn(&pb::Volunteer) -> String,
    descending: bool,
) -> Vec<&'a pb::Volunteer> {
    let mut sorted = volunteers.to_vec();
    sorted.sort_by_cached_key(|volunteer| (key(volunteer), volunteer.name.clone()));
    if descending {
        sorted.reverse();
    }
    sorted
}

async fn pages_through(
    channel: &Channel,
    token: &str,
    request: &pb::ListVolunteersRequest,
) -> Vec<Page> {
    let bearer: MetadataValue<Ascii> = format!("Bearer {token}").parse().expect("ascii token");
    let mut client = pb::volunteer_service_client::VolunteerServiceClient::with_interceptor(
        channel.clone(),
        move |mut call: tonic::Request<()>| {
            call.metadata_mut().insert("authorization", bearer.clone());
            Ok(call)
        },
    );
    let mut pages: Vec<Page> = Vec::new();
    let mut page_token = String::new();
    loop {
        let response = client
            .list_volunteers(pb::ListVolunteersRequest {
                page_token: page_token.clone(),
                ..request.clone()
            })
            .await
            .unwrap_or_else(|status| panic!("listing page {}: {status:?}", pages.len()))
            .into_inner();
        let names = response
            .volunteers
            .into_iter()
            .map(|volunteer| volunteer.name)
            .collect();
        page_token = response.next_page_token;
        pages.push((names, page_token.clone()));
        assert!(pages.len() < 100, "pagination does not end");
        if page_token.is_empty() {
            return pages;
        }
    }
}

/// Asserts that every plan gave the same pages, tokens included, and that together they
/// hold exactly `expected`, in registration order.
#[track_caller]
fn assert_same_pages(
    case: &str,
    request: &pb::ListVolunteersRequest,
    by_plan: &[(&str, Vec<Page>)],
    expected: &[&pb::Volunteer],
) {
    let (first_plan, first_pages) = &by_plan[0];
    for (plan, pages) in &by_plan[1..] {
        assert_eq!(
            pages, first_pages,
            "{case}: {plan} and {first_plan} page differently"
        );
    }
    let listed: Vec<&str> = first_pages
        .iter()
        .flat_map(|(names, _)| names.iter().map(String::as_str))
        .collect();
    let expected: Vec<&str> = expected
        .iter()
        .map(|volunteer| volunteer.name.as_str())
        .collect();
    assert_eq!(listed, expected, "{case}");
    let page_size = usize::try_from(request.page_size).expect("page size");
    for (names, _) in first_pages {
        assert!(
            names.len() <= page_size,
            "{case}: a page of {} past page_size {page_size}",
            names.len()
        );
    }
}

/// The listing starts from a small subtree's units and walks all volunteers for a big one;
/// both give the same pages. The instance's own limit (5,000) takes the subtree plan for
/// every listing here, a server with limit 0 always walks, and one with limit 10 takes the
/// subtree plan for the small team (8 candidate rows) and walks for the big team (63) and
/// the root.
async fn listing_plans_give_the_same_pages(app: TestApp) {
    let admin = app.admin();
    let district = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "思明区巾帼志愿服务队")
        .await;
    let other = app
        .create_unit(&admin, &app.root, pb::Tier::Team, "湖里区巾帼志愿服务队")
        .await;
    let small = app
        .create_unit(&admin, &district.name, pb::Tier::SubTeam, "莲前街道分队")
        .await;
    let squad = app
        .create_unit(&admin, &small.name, pb::Tier::Squad, "前埔社区小队")
        .await;
    let big = app
        .create_unit(&admin, &district.name, pb::Tier::SubTeam, "嘉莲街道分队")
        .await;
    let register_batch = |seeds: std::ops::Range<u32>| {
        let app = &app;
        let admin = &admin;
        let big = &big.name;
        async move {
            batch(
                app,
                admin,
                big,
                seeds.map(volunteer_input).collect(),
                &new_request_id(),
            )
            .await
            .expect("registers a batch")
        }
    };
    let add_membership = |unit: &str, volunteer: &str| {
        let mut client = app.memberships(&admin);
        let request = pb::CreateMembershipRequest {
            parent: unit.to_string(),
            volunteer: volunteer.to_string(),
            request_id: new_request_id(),
        };
        async move {
            client
                .create_membership(request)
                .await
                .expect("adds a membership")
                .into_inner()
                .membership
                .expect("membership")
        }
    };
    let end_membership = |name: String| {
        let mut client = app.memberships(&admin);
        async move {
            client
                .end_membership(pb::EndMembershipRequest {
                    name,
                    reason: "工作调动".to_string(),
                })
                .await
                .expect("ends a membership")
        }
    };

    // The small team's volunteers lie between the big team's in id order.
    let first_batch = register_batch(300..310).await;
    let counsellor = create(
        &app,
        &admin,
        &small.name,
        pb::Volunteer {
            display_name: "林心怡".to_string(),
            skills: vec!["心理咨询".to_string()],
            ..volunteer_input(420)
        },
        "",
    )
    .await
    .expect("registers");
    // Registered by the big team, a member of the small one too.
    let member_elsewhere = app.register(&admin, &big.name, 421).await;
    add_membership(&small.name, &member_elsewhere.name).await;
    let second_batch = register_batch(310..320).await;
    let in_squad = app.register(&admin, &squad.name, 441).await;
    let inactive = app.register(&admin, &small.name, 442).await;
    deactivate(&app, &admin, &inactive.name).await;
    // Registered by the other team, a member of the small one no longer: not the small
    // team's.
    let left = app.register(&admin, &other.name, 443).await;
    let ended = add_membership(&small.name, &left.name).await;
    end_membership(ended.name).await;
    // Registered by the small team and no longer a member of it: still the small team's.
    let registered_only = app.register(&admin, &small.name, 444).await;
    let primary = app
        .memberships(&admin)
        .list_memberships(pb::ListMembershipsRequest {
            parent: small.name.clone(),
            volunteer: registered_only.name.clone(),
            ..Default::default()
        })
        .await
        .expect("lists memberships")
        .into_inner()
        .memberships;
    assert_eq!(primary.len(), 1, "{primary:?}");
    end_membership(primary[0].name.clone()).await;
    // Registered by the other team, a member of the big one.
    let outsider = app.register(&admin, &other.name, 445).await;
    add_membership(&big.name, &outsider.name).await;
    let third_batch = register_batch(320..330).await;

    let walk = RegistryBeside::start(&app, 0).await;
    let mixed = RegistryBeside::start(&app, 10).await;
    let plans = [
        ("the instance (subtree plan)", &app.channel),
        ("limit 0 (walk)", &walk.channel),
        ("limit 10 (subtree plan for the small team)", &mixed.channel),
    ];

    let leader = app.token(&small.name, &[Role::TeamLeader]);
    let other_staff = app.token(&other.name, &[Role::Staff]);
    let big_team: Vec<&pb::Volunteer> = first_batch
        .iter()
        .chain([&member_elsewhere])
        .chain(&second_batch)
        .chain([&outsider])
        .chain(&third_batch)
        .collect();
    let everyone: Vec<&pb::Volunteer> = first_batch
        .iter()
        .chain([&counsellor, &member_elsewhere])
        .chain(&second_batch)
        .chain([&in_squad, &inactive, &left, &registered_only, &outsider])
        .chain(&third_batch)
        .collect();
    let request = |org_unit: &pb::OrgUnit, page_size: i32| pb::ListVolunteersRequest {
        org_unit: org_unit.name.clone(),
        page_size,
        ..Default::default()
    };
    let cases: Vec<(&str, &str, pb::ListVolunteersRequest, Vec<&pb::Volunteer>)> = vec![
        (
            "the small team, its leader's own",
            &leader,
            pb::ListVolunteersRequest {
                page_size: 2,
                ..Default::default()
            },
            vec![
                &counsellor,
                &member_elsewhere,
                &in_squad,
                &inactive,
                &registered_only,
            ],
        ),
        (
            "the small team's active volunteers",
            &admin,
            pb::ListVolunteersRequest {
                status: pb::VolunteerStatus::Active as i32,
                ..request(&small, 3)
            },
            vec![&counsellor, &member_elsewhere, &in_squad, &registered_only],
        ),
        (
            "the small team's counsellors",
            &admin,
            pb::ListVolunteersRequest {
                skill: "心理咨询".to_string(),
                ..request(&small, 1)
            },
            vec![&counsellor],
        ),
        (
            "the small team by name",
            &admin,
            pb::ListVolunteersRequest {
                display_name_contains: "志愿者44".to_string(),
                ..request(&small, 1)
            },
            vec![&in_squad, &inactive, &registered_only],
        ),
        ("the squad", &admin, request(&squad, 50), vec![&in_squad]),
        ("the big team", &admin, request(&big, 7), big_team.clone()),
        (
            "the other team",
            &other_staff,
            request(&other, 1),
            vec![&left, &outsider],
        ),
        (
            "the whole tree with first aid",
            &admin,
            pb::ListVolunteersRequest {
                skill: "急救".to_string(),
                page_size: 13,
                ..Default::default()
            },
            everyone
                .iter()
                .copied()
                .filter(|volunteer| volunteer.name != counsellor.name)
                .collect(),
        ),
        (
            "the district by name",
            &admin,
            pb::ListVolunteersRequest {
                display_name_contains: "志愿者44".to_string(),
                ..request(&district, 2)
            },
            vec![&in_squad, &inactive, &registered_only, &outsider],
        ),
        (
            "the whole tree by name",
            &admin,
            pb::ListVolunteersRequest {
                order_by: "display_name".to_string(),
                page_size: 7,
                ..Default::default()
            },
            sorted(&everyone, |volunteer| volunteer.display_name.clone(), false),
        ),
        (
            "the district by name, descending, filtered",
            &admin,
            pb::ListVolunteersRequest {
                display_name_contains: "志愿者3".to_string(),
                order_by: "display_name desc".to_string(),
                ..request(&district, 4)
            },
            sorted(
                &everyone
                    .iter()
                    .copied()
                    .filter(|volunteer| volunteer.display_name.contains("志愿者3"))
                    .collect::<Vec<_>>(),
                |volunteer| volunteer.display_name.clone(),
                true,
            ),
        ),
        (
            "the big team by number, descending",
            &admin,
            pb::ListVolunteersRequest {
                order_by: "volunteer_number desc".to_string(),
                ..request(&big, 5)
            },
            sorted(
                &big_team,
                |volunteer| volunteer.volunteer_number.clone(),
                true,
            ),
        ),
        (
            "the small team, newest first",
            &leader,
            pb::ListVolunteersRequest {
                page_size: 2,
                order_by: "create_time desc".to_string(),
                ..Default::default()
            },
            sorted(
                &[
                    &counsellor,
                    &member_elsewhere,
                    &in_squad,
                    &inactive,
                    &registered_only,
                ],
                |volunteer| {
                    let time = volunteer
                        .metadata
                        .as_ref()
                        .and_then(|metadata| metadata.create_time)
                        .unwrap_or_default();
                    format!("{:020}{:09}", time.seconds, time.nanos / 1000 * 1000)
                },
                true,
            ),
        ),
        (
            "the small team by one's number",
            &admin,
            pb::ListVolunteersRequest {
                volunteer_number: in_squad.volunteer_number.clone(),
                ..request(&small, 50)
            },
            vec![&in_squad],
        ),
        (
            "the small team by the number of one outside it",
            &admin,
            pb::ListVolunteersRequest {
                volunteer_number: outsider.volunteer_number.clone(),
                ..request(&small, 50)
            },
            vec![],
        ),
        (
            "the whole tree by a number and name that disagree",
            &admin,
            pb::ListVolunteersRequest {
                volunteer_number: outsider.volunteer_number.clone(),
                display_name_contains: "林".to_string(),
                ..Default::default()
            },
            vec![],
        ),
    ];
    for (case, token, request, expected) in &cases {
        let mut by_plan = Vec::new();
        for (plan, channel) in plans {
            by_plan.push((plan, pages_through(channel, token, request).await));
        }
        assert_same_pages(case, request, &by_plan, expected);
    }
    walk.stop().await;
    mixed.stop().await;
    app.stop().await;
}
