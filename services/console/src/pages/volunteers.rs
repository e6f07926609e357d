//! 志愿者: the register searched by name or number and sorted by column, registration
//! with each field's error beside it, and a volunteer's page, masked, with an audited
//! reveal for staff.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::registry::v1::{
    CreateVolunteerRequest, GetVolunteerRequest, ListMembershipsRequest, ListVolunteersRequest,
    Tier, Volunteer,
};
use http::HeaderMap;
use serde::Deserialize;

use super::org::UnitChoice;
use super::sorting::{Column, SortHeader, Sorting};
use super::{Layout, Signed, check_csrf, error_page, id_of, render, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Volunteers on one page of the register.
const VOLUNTEERS_PAGE: i32 = 50;
/// Memberships shown on a volunteer's page.
const MEMBERSHIPS_SHOWN: i32 = 50;

/// The register's columns.
const COLUMNS: [Column; 5] = [
    Column {
        field: "volunteer_number",
        label: "编号",
    },
    Column {
        field: "display_name",
        label: "姓名",
    },
    Column {
        field: "",
        label: "性别",
    },
    Column {
        field: "",
        label: "手机",
    },
    Column {
        field: "",
        label: "状态",
    },
];

/// A row of the register.
struct Row {
    id: String,
    number: String,
    display_name: String,
    gender: &'static str,
    phone: String,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "volunteers.html")]
struct ListPage {
    layout: Layout,
    id_types: Vec<(i32, &'static str)>,
    table: Table,
}

#[derive(Template)]
#[template(path = "volunteer_table.html")]
struct Table {
    csrf: String,
    query: String,
    filter: Filter,
    sort: String,
    headers: Vec<SortHeader>,
    rows: Vec<Row>,
    next_page: String,
    failure: Failure,
    lookup_failure: Failure,
}

/// The search form, also posted for the next page.
#[derive(Deserialize, Default)]
pub(crate) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    /// The order a header asked for.
    #[serde(default)]
    sort: String,
    /// The order shown, kept while the search changes.
    #[serde(default)]
    current_sort: String,
    #[serde(flatten)]
    filter: Filter,
}

/// The register's filters beside the name: a status and a skill.
#[derive(Deserialize, Default, Clone)]
pub(crate) struct Filter {
    #[serde(default)]
    status: String,
    #[serde(default)]
    skill: String,
}

impl Filter {
    /// The statuses the filter offers, with the one chosen.
    fn statuses(&self) -> Vec<(i32, &'static str, bool)> {
        [
            egret_proto::registry::v1::VolunteerStatus::Active,
            egret_proto::registry::v1::VolunteerStatus::Inactive,
            egret_proto::registry::v1::VolunteerStatus::Withdrawn,
        ]
        .into_iter()
        .map(|status| {
            let value = status as i32;
            (
                value,
                labels::volunteer_status(value),
                self.status == value.to_string(),
            )
        })
        .collect()
    }
}

/// Whether a search is a volunteer number rather than a name: names hold no digits.
fn is_volunteer_number(query: &str) -> bool {
    query.bytes().any(|byte| byte.is_ascii_digit())
        && query
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

async fn table(
    state: &AppState,
    signed: &Signed,
    query: &str,
    after: &str,
    filter: Filter,
    sorting: Sorting,
) -> Table {
    let api = &state.api;
    let query: String = query.trim().chars().take(50).collect();
    let (display_name_contains, volunteer_number) = if is_volunteer_number(&query) {
        (String::new(), query.clone())
    } else {
        (query.clone(), String::new())
    };
    let filter = Filter {
        status: filter
            .status
            .parse::<i32>()
            .map(|status| status.to_string())
            .unwrap_or_default(),
        skill: filter.skill.trim().chars().take(50).collect(),
    };
    let listed = api
        .volunteers()
        .list_volunteers(api.request(
            &signed.caller,
            ListVolunteersRequest {
                org_unit: signed.session.person.org_unit.clone(),
                display_name_contains,
                volunteer_number,
                status: filter.status.parse().unwrap_or_default(),
                skill: filter.skill.clone(),
                page_size: VOLUNTEERS_PAGE,
                page_token: after.chars().take(1024).collect(),
                order_by: sorting.order_by(),
            },
        ))
        .await;
    let (rows, next_page, failure) = match listed {
        Ok(listed) => {
            let listed = listed.into_inner();
            (
                listed.volunteers.iter().map(row).collect(),
                listed.next_page_token,
                Failure::default(),
            )
        }
        Err(status) => (Vec::new(), String::new(), status.into()),
    };
    Table {
        csrf: signed.session.csrf.clone(),
        query,
        filter,
        sort: sorting.order_by(),
        headers: sorting.headers(&COLUMNS, ""),
        rows,
        next_page,
        failure,
        lookup_failure: Failure::default(),
    }
}

/// The register's first page, unfiltered, in its own order.
async fn first_table(state: &AppState, signed: &Signed) -> Table {
    table(state, signed, "", "", Filter::default(), Sorting::default()).await
}

fn row(volunteer: &Volunteer) -> Row {
    Row {
        id: id_of(&volunteer.name).to_string(),
        number: volunteer.volunteer_number.clone(),
        display_name: volunteer.display_name.clone(),
        gender: labels::gender(volunteer.gender),
        phone: volunteer.phone.clone(),
        status: labels::volunteer_status(volunteer.status),
    }
}

/// `GET /volunteers`: the first page of the person's subtree.
pub(crate) async fn list(State(state): State<AppState>, signed: Signed) -> Response {
    let table = first_table(&state, &signed).await;
    render(&ListPage {
        layout: signed.layout("志愿者", "volunteers"),
        id_types: id_type_choices(),
        table,
    })
}

/// `POST /volunteers/search`: a name search or the next page, posted so that no name
/// appears in a URL; htmx swaps only the table.
pub(crate) async fn search(
    State(state): State<AppState>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<SearchForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let sort = if form.sort.is_empty() {
        &form.current_sort
    } else {
        &form.sort
    };
    let sorting = Sorting::parse(sort, &COLUMNS);
    // A new order starts from the first page.
    let after = if form.sort.is_empty() {
        &form.after
    } else {
        ""
    };
    let table = table(&state, &signed, &form.q, after, form.filter, sorting).await;
    if headers.contains_key("hx-request") {
        return render(&table);
    }
    render(&ListPage {
        layout: signed.layout("志愿者", "volunteers"),
        id_types: id_type_choices(),
        table,
    })
}

/// The registration form as posted, and shown again with its errors: by staff, or by a
/// volunteer registering herself (who chooses her username and password too).
#[derive(Deserialize, Default)]
pub(crate) struct NewVolunteer {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub org_unit: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub id_type: i32,
    #[serde(default)]
    pub id_number: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub gender: i32,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub skills: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub confirm_password: String,
}

#[derive(Template)]
#[template(path = "volunteer_new.html")]
struct NewPage {
    layout: Layout,
    teams: Vec<UnitChoice>,
    form: NewVolunteer,
    id_types: Vec<(i32, &'static str)>,
    failure: Failure,
}

impl NewPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "org_unit",
            "volunteer.display_name",
            "volunteer.id_type",
            "volunteer.id_number",
            "volunteer.birth_date",
            "volunteer.gender",
            "volunteer.phone",
            "volunteer.email",
            "volunteer.skills",
        ])
    }
}

/// The query of the registration form: the team to register into.
#[derive(Deserialize, Default)]
pub(crate) struct NewQuery {
    #[serde(default)]
    unit: String,
}

async fn teams(state: &AppState, signed: &Signed, chosen: &str) -> Vec<UnitChoice> {
    let api = &state.api;
    if valid_id(chosen)
        && let Ok(unit) = api
            .org_units()
            .get_org_unit(api.request(
                &signed.caller,
                egret_proto::registry::v1::GetOrgUnitRequest {
                    name: format!("orgUnits/{chosen}"),
                },
            ))
            .await
    {
        let unit = unit.into_inner().org_unit.unwrap_or_default();
        return vec![UnitChoice {
            id: id_of(&unit.name).to_string(),
            display_name: unit.display_name,
        }];
    }
    super::org::unit_choices(state, signed, Tier::Team).await
}

async fn new_page(
    state: &AppState,
    signed: &Signed,
    form: NewVolunteer,
    failure: Failure,
) -> Response {
    let teams = teams(state, signed, &form.org_unit).await;
    let bad = failure.code.is_some();
    render_refused(
        &NewPage {
            layout: signed.layout("登记志愿者", "volunteers"),
            teams,
            form,
            id_types: labels::ID_TYPES
                .iter()
                .map(|(id_type, label)| (*id_type as i32, *label))
                .collect(),
            failure,
        },
        bad,
    )
}

impl NewVolunteer {
    /// The record the form describes; a malformed date is refused before any call.
    pub(crate) fn volunteer(&self) -> Result<Volunteer, Failure> {
        let birth_date = super::org::parse_date_input(&self.birth_date)
            .map_err(|()| Failure::field("volunteer.birth_date", "日期格式应为 年-月-日。"))?;
        let skills = self
            .skills
            .split(['，', ',', '、'])
            .map(str::trim)
            .filter(|skill| !skill.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Volunteer {
            display_name: self.display_name.trim().to_string(),
            id_type: self.id_type,
            id_number: self.id_number.trim().to_string(),
            birth_date,
            gender: self.gender,
            phone: self.phone.trim().to_string(),
            email: self.email.trim().to_string(),
            skills,
            ..Volunteer::default()
        })
    }
}

/// `GET /volunteers/new`.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<NewQuery>,
) -> Response {
    let form = NewVolunteer {
        org_unit: query.unit,
        id_type: egret_proto::registry::v1::IdType::ResidentId as i32,
        request_id: uuid::Uuid::new_v4().to_string(),
        ..NewVolunteer::default()
    };
    new_page(&state, &signed, form, Failure::default()).await
}

/// `POST /volunteers`: registers a volunteer; on a refusal the form comes back with each
/// field's message beside it.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<NewVolunteer>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&form.org_unit) {
        return new_page(
            &state,
            &signed,
            form,
            Failure::field("org_unit", "请选择所属队伍。"),
        )
        .await;
    }
    let volunteer = match form.volunteer() {
        Ok(volunteer) => volunteer,
        Err(failure) => return new_page(&state, &signed, form, failure).await,
    };
    let api = &state.api;
    let created = api
        .volunteers()
        .create_volunteer(api.request(
            &signed.caller,
            CreateVolunteerRequest {
                org_unit: format!("orgUnits/{}", form.org_unit),
                volunteer: Some(volunteer),
                request_id: form.request_id.chars().take(64).collect(),
                pending_membership: false,
                validate_only: false,
            },
        ))
        .await;
    match created {
        Ok(created) => {
            let volunteer = created.into_inner().volunteer.unwrap_or_default();
            Redirect::to(&format!("/volunteers/{}", id_of(&volunteer.name))).into_response()
        }
        Err(status) => new_page(&state, &signed, form, status.into()).await,
    }
}

/// A membership as the volunteer's page lists it.
struct MembershipRow {
    unit: String,
    primary: bool,
    joined_on: String,
}

#[derive(Template)]
#[template(path = "volunteer.html")]
struct VolunteerPage {
    layout: Layout,
    id: String,
    volunteer: Volunteer,
    id_type: &'static str,
    gender: &'static str,
    status: &'static str,
    birth_date: String,
    revealed: bool,
    can_reveal: bool,
    memberships: Vec<MembershipRow>,
    certificates: Vec<super::certificates::CertificateRow>,
    certificates_failure: String,
    request_id: String,
    failure: Failure,
    standing: String,
    notice: String,
    failures: Vec<String>,
}

/// A volunteer's page, unmasked when `reveal` (the registry audits it); with the star
/// nomination form as refused, when `refused`.
pub(crate) async fn volunteer_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    reveal: bool,
    refused: Option<(super::Posted, Failure)>,
) -> Response {
    if !valid_id(id) {
        return error_page(&Failure::not_found("未找到该志愿者。"), Some(signed));
    }
    let name = format!("volunteers/{id}");
    let api = &state.api;
    let volunteer = api
        .volunteers()
        .get_volunteer(api.request(
            &signed.caller,
            GetVolunteerRequest {
                name: name.clone(),
                reveal_personal_data: reveal,
            },
        ))
        .await;
    let volunteer = match volunteer {
        Ok(volunteer) => volunteer.into_inner().volunteer.unwrap_or_default(),
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let memberships = api
        .memberships()
        .list_memberships(api.request(
            &signed.caller,
            ListMembershipsRequest {
                parent: "orgUnits/-".to_string(),
                volunteer: name,
                page_size: MEMBERSHIPS_SHOWN,
                ..ListMembershipsRequest::default()
            },
        ))
        .await;
    let (memberships, failure) = match memberships {
        Ok(listed) => (listed.into_inner().memberships, Failure::default()),
        Err(status) => (Vec::new(), Failure::from(status)),
    };
    let mut rows = Vec::new();
    for membership in memberships {
        let unit_name = membership
            .name
            .split("/memberships/")
            .next()
            .unwrap_or_default()
            .to_string();
        rows.push(MembershipRow {
            unit: super::org::display_name(state, signed, &unit_name).await,
            primary: membership.primary,
            joined_on: labels::date(membership.joined_on.as_ref()),
        });
    }
    let (certificates, certificates_failure) =
        match super::certificates::of_volunteer(state, &signed.caller, &volunteer.name).await {
            Ok(rows) => (rows, String::new()),
            Err(failure) => (Vec::new(), failure.message),
        };
    let mut standing = super::standing::standing(state, signed, &volunteer.name).await;
    let refused_status = refused.is_some();
    if let Some((form, failure)) = refused {
        standing.form = form;
        standing.refusal = failure;
    }
    let standing = standing.render().unwrap_or_default();
    let flash = signed.session.take_flash();
    super::render_refused(
        &VolunteerPage {
            layout: signed.layout(&volunteer.display_name, "volunteers"),
            standing,
            notice: flash.notice,
            failures: flash.failures,
            certificates,
            certificates_failure,
            request_id: uuid::Uuid::new_v4().to_string(),
            id: id.to_string(),
            id_type: labels::id_type(volunteer.id_type),
            gender: labels::gender(volunteer.gender),
            status: labels::volunteer_status(volunteer.status),
            birth_date: labels::date(volunteer.birth_date.as_ref()),
            volunteer,
            revealed: reveal,
            can_reveal: signed.session.person.is_staff(),
            memberships: rows,
            failure,
        },
        refused_status,
    )
}

/// `GET /volunteers/{id}`: masked.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    volunteer_page(&state, &signed, &id, false, None).await
}

/// The reveal form.
#[derive(Deserialize)]
pub(crate) struct RevealForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /volunteers/{id}/reveal`: the same page unmasked; the registry audits the read.
pub(crate) async fn reveal(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<RevealForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    volunteer_page(&state, &signed, &id, true, None).await
}

/// The search by identity document, for staff.
#[derive(Deserialize)]
pub(crate) struct LookupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id_type: i32,
    #[serde(default)]
    id_number: String,
}

/// `POST /volunteers/lookup`: finds a volunteer by ID type and number (posted, so the
/// number never enters a URL) and opens her page.
pub(crate) async fn lookup(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<LookupForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let api = &state.api;
    let found = api
        .volunteers()
        .lookup_volunteer(api.request(
            &signed.caller,
            egret_proto::registry::v1::LookupVolunteerRequest {
                id_type: form.id_type,
                id_number: form.id_number.trim().chars().take(40).collect(),
            },
        ))
        .await;
    match found {
        Ok(found) => {
            let volunteer = found.into_inner().volunteer.unwrap_or_default();
            Redirect::to(&format!("/volunteers/{}", id_of(&volunteer.name))).into_response()
        }
        Err(status) => {
            let mut table = first_table(&state, &signed).await;
            table.lookup_failure = Failure::from(status);
            super::render_refused(
                &ListPage {
                    layout: signed.layout("志愿者", "volunteers"),
                    id_types: id_type_choices(),
                    table,
                },
                true,
            )
        }
    }
}

fn id_type_choices() -> Vec<(i32, &'static str)> {
    labels::ID_TYPES
        .iter()
        .map(|(id_type, label)| (*id_type as i32, *label))
        .collect()
}

/// The name of volunteer `name` (`volunteers/{id}`), masked as the caller sees it, or empty
/// when she cannot be read.
pub(crate) async fn display_name(state: &AppState, signed: &Signed, name: &str) -> String {
    let api = &state.api;
    api.volunteers()
        .get_volunteer(api.request(
            &signed.caller,
            GetVolunteerRequest {
                name: name.to_string(),
                reveal_personal_data: false,
            },
        ))
        .await
        .ok()
        .and_then(|answer| answer.into_inner().volunteer)
        .map(|volunteer| volunteer.display_name)
        .unwrap_or_default()
}
