//! 组织架构: the tree, a unit's page with its registration form (登记表), new units
//! under it, and the form's editing.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::common::v1::Date;
use egret_proto::registry::v1::{
    ApproveJoinApplicationRequest, CreateOrgUnitRequest, DissolveOrgUnitRequest, GetOrgUnitRequest,
    GetRegistrationFormRequest, JoinApplicationState, KeyMember, ListJoinApplicationsRequest,
    ListOrgUnitsRequest, MergeOrgUnitRequest, MoveOrgUnitRequest, OrgUnit, OrgUnitStatus,
    RegistrationForm, RejectJoinApplicationRequest, ResumeOrgUnitRequest, SuspendOrgUnitRequest,
    TeamLevel, Tier, UpdateRegistrationFormRequest,
};
use http::StatusCode;
use serde::Deserialize;

use super::sorting::{Column, SortHeader, Sorting};
use super::{
    DecisionForm, Layout, Signed, check_csrf, error_page, id_of, render, render_refused, valid_id,
};
use crate::AppState;
use crate::api::Failure;
use crate::labels;
use crate::session::Flash;

/// Join applications shown on a unit's page.
const APPLICATIONS_SHOWN: i32 = 100;
/// Units listed on one page of a unit's children.
const CHILDREN_PAGE: i32 = 50;
/// Key-member rows the form offers beyond those filled in.
const BLANK_KEY_MEMBERS: usize = 2;
/// Key-member rows a form may post.
const MAX_KEY_MEMBERS: usize = 50;

/// A unit as a page shows it.
pub(crate) struct UnitView {
    pub id: String,
    pub display_name: String,
    pub tier: &'static str,
    pub level: &'static str,
    pub status: &'static str,
    pub categories: String,
    pub themes: String,
}

impl UnitView {
    fn from_unit(unit: &OrgUnit) -> Self {
        Self {
            id: id_of(&unit.name).to_string(),
            display_name: unit.display_name.clone(),
            tier: labels::tier(unit.tier),
            level: labels::team_level(unit.level),
            status: labels::org_unit_status(unit.status),
            categories: unit
                .categories
                .iter()
                .map(|category| labels::team_category(*category))
                .collect::<Vec<_>>()
                .join("、"),
            themes: unit
                .service_themes
                .iter()
                .map(|theme| labels::service_theme(*theme))
                .collect::<Vec<_>>()
                .join("、"),
        }
    }
}

/// The registration form as the page shows and edits it.
#[derive(Default)]
struct FormView {
    archive_number: String,
    team_number: String,
    leader_name: String,
    host_unit: String,
    declared_member_count: String,
    counted_member_count: String,
    founded_on: String,
    founded_on_input: String,
    phone: String,
    email: String,
    address: String,
    key_members: Vec<KeyMember>,
    service_features: String,
    awards: String,
    version: i64,
}

impl FormView {
    fn from_form(form: &RegistrationForm) -> Self {
        Self {
            archive_number: form.archive_number.clone(),
            team_number: form.team_number.clone(),
            leader_name: form.leader_name.clone(),
            host_unit: form.host_unit.clone(),
            declared_member_count: form.declared_member_count.to_string(),
            counted_member_count: form.counted_member_count.to_string(),
            founded_on: labels::date(form.founded_on.as_ref()),
            founded_on_input: form
                .founded_on
                .as_ref()
                .filter(|date| date.year > 0)
                .map(|date| format!("{:04}-{:02}-{:02}", date.year, date.month, date.day))
                .unwrap_or_default(),
            phone: form.phone.clone(),
            email: form.email.clone(),
            address: form.address.clone(),
            key_members: form.key_members.clone(),
            service_features: form.service_features.clone(),
            awards: form.awards.clone(),
            version: form
                .metadata
                .as_ref()
                .map_or(0, |metadata| metadata.version),
        }
    }
}

/// A choice in a select.
struct Choice {
    value: i32,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "org.html")]
struct UnitPage {
    layout: Layout,
    unit: UnitView,
    trail: Vec<UnitView>,
    children: Vec<UnitView>,
    sort: String,
    headers: Vec<SortHeader>,
    next_page: String,
    form: Option<FormView>,
    child_tiers: Vec<Choice>,
    levels: Vec<Choice>,
    new_child_name: String,
    applications: Vec<ApplicationRow>,
    failure: Failure,
    notice: String,
    failures: Vec<String>,
    /// The unit's standing changes, for staff: what its status allows.
    changes: Option<StatusChanges>,
    /// The unit's resource name, for the nomination link.
    recipient: String,
}

/// The status changes and moves a unit's page offers staff.
struct StatusChanges {
    active: bool,
    suspended: bool,
    /// Units it may move under: the person's units of the tier above, but its parent.
    parents: Vec<UnitChoice>,
    /// Units it may merge into: the person's units of its tier, but itself.
    peers: Vec<UnitChoice>,
}

/// A join application waiting at a unit.
struct ApplicationRow {
    id: String,
    volunteer: String,
    message: String,
}

impl UnitPage {
    fn summary(&self) -> String {
        self.failure
            .summary(&["org_unit.display_name", "org_unit.level"])
    }
}

/// `GET /org`: the person's own unit.
pub(crate) async fn own(signed: Signed) -> Response {
    let own = id_of(&signed.session.person.org_unit).to_string();
    Redirect::to(&format!("/org/{own}")).into_response()
}

/// The query of a unit's page: the page of its children.
#[derive(Deserialize, Default)]
pub(crate) struct UnitQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    sort: String,
}

/// The columns of a unit's children.
const CHILD_COLUMNS: [Column; 4] = [
    Column {
        field: "display_name",
        label: "名称",
    },
    Column {
        field: "",
        label: "层级",
    },
    Column {
        field: "",
        label: "级别",
    },
    Column {
        field: "",
        label: "状态",
    },
];

/// `GET /org/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<UnitQuery>,
) -> Response {
    unit_page(
        &state,
        &signed,
        &id,
        &query,
        Failure::default(),
        String::new(),
    )
    .await
}

async fn get_unit(state: &AppState, signed: &Signed, name: &str) -> Result<OrgUnit, Failure> {
    let api = &state.api;
    Ok(api
        .org_units()
        .get_org_unit(api.request(
            &signed.caller,
            GetOrgUnitRequest {
                name: name.to_string(),
            },
        ))
        .await?
        .into_inner()
        .org_unit
        .unwrap_or_default())
}

/// A unit a form offers to choose.
pub(crate) struct UnitChoice {
    pub id: String,
    pub display_name: String,
}

/// Units a form may offer to choose: the person's subtree (only `tier`, when set), at
/// most 500; none when they cannot be listed.
pub(crate) async fn unit_choices(state: &AppState, signed: &Signed, tier: Tier) -> Vec<UnitChoice> {
    let api = &state.api;
    api.org_units()
        .list_org_units(api.request(
            &signed.caller,
            ListOrgUnitsRequest {
                ancestor: signed.session.person.org_unit.clone(),
                tier: tier as i32,
                page_size: 500,
                ..ListOrgUnitsRequest::default()
            },
        ))
        .await
        .map(|listed| {
            listed
                .into_inner()
                .org_units
                .into_iter()
                .map(|unit| UnitChoice {
                    id: id_of(&unit.name).to_string(),
                    display_name: unit.display_name,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The unit a path's `id` names, with its resource name: NOT_FOUND for an id that cannot
/// be one, exactly as for one that does not exist.
async fn unit_by_id(
    state: &AppState,
    signed: &Signed,
    id: &str,
) -> Result<(String, OrgUnit), Failure> {
    if !valid_id(id) {
        return Err(not_found());
    }
    let name = format!("orgUnits/{id}");
    let unit = get_unit(state, signed, &name).await?;
    Ok((name, unit))
}

/// The display name of unit `name`, or empty when it cannot be read.
pub(crate) async fn display_name(state: &AppState, signed: &Signed, name: &str) -> String {
    get_unit(state, signed, name)
        .await
        .map(|unit| unit.display_name)
        .unwrap_or_default()
}

async fn unit_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    query: &UnitQuery,
    failure: Failure,
    new_child_name: String,
) -> Response {
    let sorting = Sorting::parse(&query.sort, &CHILD_COLUMNS);
    let flash = signed.session.take_flash();
    let (name, unit) = match unit_by_id(state, signed, id).await {
        Ok(found) => found,
        Err(failure) => return error_page(&failure, Some(signed)),
    };
    let api = &state.api;
    // The trail from the person's own unit down; units above it are not hers to open.
    let mut trail = Vec::new();
    let own = &signed.session.person.org_unit;
    if let Some(start) = unit.ancestors.iter().position(|ancestor| ancestor == own) {
        for ancestor in &unit.ancestors[start..] {
            if let Ok(ancestor) = get_unit(state, signed, ancestor).await {
                trail.push(UnitView::from_unit(&ancestor));
            }
        }
    }
    let children = api
        .org_units()
        .list_org_units(api.request(
            &signed.caller,
            ListOrgUnitsRequest {
                ancestor: name.clone(),
                children_only: true,
                page_size: CHILDREN_PAGE,
                page_token: query.after.chars().take(1024).collect(),
                order_by: sorting.order_by(),
                ..ListOrgUnitsRequest::default()
            },
        ))
        .await;
    let (children, next_page) = match children {
        Ok(children) => {
            let children = children.into_inner();
            (
                children
                    .org_units
                    .iter()
                    .filter(|child| child.name != name)
                    .map(UnitView::from_unit)
                    .collect(),
                children.next_page_token,
            )
        }
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let form = api
        .org_units()
        .get_registration_form(api.request(
            &signed.caller,
            GetRegistrationFormRequest {
                name: format!("{name}/registrationForm"),
                reveal_personal_data: false,
            },
        ))
        .await
        .ok()
        .and_then(|form| form.into_inner().registration_form)
        .map(|form| FormView::from_form(&form));
    let applications = api
        .memberships()
        .list_join_applications(api.request(
            &signed.caller,
            ListJoinApplicationsRequest {
                parent: name.clone(),
                state: JoinApplicationState::Pending as i32,
                page_size: APPLICATIONS_SHOWN,
                page_token: String::new(),
            },
        ))
        .await
        .map(|listed| listed.into_inner().join_applications)
        .unwrap_or_default();
    let mut application_rows = Vec::new();
    for application in applications {
        let volunteer =
            super::volunteers::display_name(state, signed, &application.volunteer).await;
        application_rows.push(ApplicationRow {
            id: id_of(&application.name).to_string(),
            volunteer,
            message: application.message,
        });
    }
    let child_tiers = child_tiers(unit.tier);
    let changes = if signed.session.person.is_staff() && name != *own {
        let status = OrgUnitStatus::try_from(unit.status).unwrap_or_default();
        let parent_tier = Tier::try_from(unit.tier - 1).unwrap_or_default();
        let parents = if parent_tier == Tier::Unspecified {
            Vec::new()
        } else {
            unit_choices(state, signed, parent_tier).await
        };
        let tier = Tier::try_from(unit.tier).unwrap_or_default();
        Some(StatusChanges {
            active: status == OrgUnitStatus::Active,
            suspended: status == OrgUnitStatus::Suspended,
            parents: parents
                .into_iter()
                .filter(|choice| format!("orgUnits/{}", choice.id) != unit.parent)
                .collect(),
            peers: unit_choices(state, signed, tier)
                .await
                .into_iter()
                .filter(|choice| choice.id != id)
                .collect(),
        })
    } else {
        None
    };
    render(&UnitPage {
        changes,
        recipient: name.clone(),
        failures: flash.failures,
        layout: signed.layout(&unit.display_name, "org"),
        unit: UnitView::from_unit(&unit),
        trail,
        children,
        sort: sorting.order_by(),
        headers: sorting.headers(&CHILD_COLUMNS, &format!("/org/{}?", id_of(&name))),
        next_page,
        form,
        child_tiers,
        levels: levels(),
        new_child_name,
        applications: application_rows,
        failure,
        notice: flash.notice,
    })
}

fn not_found() -> Failure {
    Failure::not_found("未找到该组织。")
}

/// The tiers a unit of `tier` may hold.
fn child_tiers(tier: i32) -> Vec<Choice> {
    let child = match Tier::try_from(tier).unwrap_or_default() {
        Tier::Corps => Tier::Team,
        Tier::Team => Tier::SubTeam,
        Tier::SubTeam => Tier::Squad,
        Tier::Squad | Tier::Unspecified => return Vec::new(),
    };
    vec![Choice {
        value: child as i32,
        label: labels::tier(child as i32),
    }]
}

fn levels() -> Vec<Choice> {
    [
        TeamLevel::District,
        TeamLevel::Municipal,
        TeamLevel::Provincial,
        TeamLevel::National,
    ]
    .into_iter()
    .map(|level| Choice {
        value: level as i32,
        label: labels::team_level(level as i32),
    })
    .collect()
}

/// The new-unit form.
#[derive(Deserialize)]
pub(crate) struct ChildForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    tier: i32,
    #[serde(default)]
    level: i32,
    #[serde(default)]
    request_id: String,
}

/// `POST /org/{id}/children`: a new unit under this one.
pub(crate) async fn create_child(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<ChildForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let parent = format!("orgUnits/{id}");
    let api = &state.api;
    let level = if form.tier == Tier::Team as i32 {
        form.level
    } else {
        0
    };
    let created = api
        .org_units()
        .create_org_unit(api.request(
            &signed.caller,
            CreateOrgUnitRequest {
                parent: parent.clone(),
                org_unit: Some(OrgUnit {
                    tier: form.tier,
                    display_name: form.display_name.clone(),
                    level,
                    ..OrgUnit::default()
                }),
                request_id: form.request_id.chars().take(64).collect(),
            },
        ))
        .await;
    match created {
        Ok(created) => {
            let child = created.into_inner().org_unit.unwrap_or_default();
            Redirect::to(&format!("/org/{}", id_of(&child.name))).into_response()
        }
        Err(status) => {
            let mut response = unit_page(
                &state,
                &signed,
                &id,
                &UnitQuery::default(),
                status.into(),
                form.display_name,
            )
            .await;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        }
    }
}

/// `POST /org/{id}/applications/{application}`: approve or reject a join application.
pub(crate) async fn decide_application(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, application)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) || !valid_id(&application) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = format!("orgUnits/{id}/joinApplications/{application}");
    let api = &state.api;
    let (result, notice) = match form.decision.as_str() {
        "approve" => (
            api.memberships()
                .approve_join_application(api.request(
                    &signed.caller,
                    ApproveJoinApplicationRequest {
                        name,
                        comment: String::new(),
                    },
                ))
                .await
                .map(drop),
            "已同意入队申请。",
        ),
        "reject" => (
            api.memberships()
                .reject_join_application(api.request(
                    &signed.caller,
                    RejectJoinApplicationRequest {
                        name,
                        comment: String::new(),
                    },
                ))
                .await
                .map(drop),
            "已拒绝入队申请。",
        ),
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(()) => {
            signed.session.set_flash(Flash {
                notice: notice.to_string(),
                ..Flash::default()
            });
            Redirect::to(&format!("/org/{id}")).into_response()
        }
        Err(status) => {
            unit_page(
                &state,
                &signed,
                &id,
                &UnitQuery::default(),
                status.into(),
                String::new(),
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "org_form.html")]
struct FormPage {
    layout: Layout,
    unit: UnitView,
    inputs: Vec<Input>,
    form: FormView,
    revealed: bool,
    rows: Vec<KeyMember>,
    failure: Failure,
}

/// A one-line input of the form.
struct Input {
    name: &'static str,
    label: &'static str,
    value: String,
    kind: &'static str,
}

fn inputs(form: &FormView) -> Vec<Input> {
    [
        ("leader_name", "队长", &form.leader_name, "text"),
        ("host_unit", "依托单位", &form.host_unit, "text"),
        (
            "declared_member_count",
            "申报人数",
            &form.declared_member_count,
            "number",
        ),
        ("founded_on", "成立时间", &form.founded_on_input, "date"),
        ("phone", "联系电话", &form.phone, "text"),
        ("email", "电子邮箱", &form.email, "email"),
        ("address", "地址", &form.address, "text"),
    ]
    .into_iter()
    .map(|(name, label, value, kind)| Input {
        name,
        label,
        value: value.clone(),
        kind,
    })
    .collect()
}

impl FormPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "registration_form.leader_name",
            "registration_form.host_unit",
            "registration_form.declared_member_count",
            "registration_form.founded_on",
            "registration_form.phone",
            "registration_form.email",
            "registration_form.address",
            "registration_form.service_features",
            "registration_form.awards",
            "registration_form.key_members",
        ])
    }

    /// The Chinese message for `registration_form.{field}`, or empty.
    fn error(&self, field: &str) -> &str {
        self.failure
            .fields
            .iter()
            .find(|(name, _)| {
                name.strip_prefix("registration_form.")
                    .is_some_and(|rest| rest == field || rest.starts_with(&format!("{field}[")))
            })
            .map_or("", |(_, message)| message.as_str())
    }
}

/// `GET /org/{id}/form`: the registration form to edit. Staff see it unmasked (the read
/// is audited); others edit it masked, and its masked values are kept as they are.
pub(crate) async fn edit_form(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    form_page(&state, &signed, &id, None, Failure::default()).await
}

async fn load_form(
    state: &AppState,
    signed: &Signed,
    unit: &str,
) -> Result<(RegistrationForm, bool), Failure> {
    if signed.session.person.is_staff()
        && let Ok(form) = get_form(state, signed, unit, true).await
    {
        return Ok((form, true));
    }
    Ok((get_form(state, signed, unit, false).await?, false))
}

async fn get_form(
    state: &AppState,
    signed: &Signed,
    unit: &str,
    reveal: bool,
) -> Result<RegistrationForm, Failure> {
    let api = &state.api;
    Ok(api
        .org_units()
        .get_registration_form(api.request(
            &signed.caller,
            GetRegistrationFormRequest {
                name: format!("{unit}/registrationForm"),
                reveal_personal_data: reveal,
            },
        ))
        .await?
        .into_inner()
        .registration_form
        .unwrap_or_default())
}

async fn form_page(
    state: &AppState,
    signed: &Signed,
    id: &str,
    posted: Option<RegistrationForm>,
    failure: Failure,
) -> Response {
    let (name, unit) = match unit_by_id(state, signed, id).await {
        Ok(found) => found,
        Err(failure) => return error_page(&failure, Some(signed)),
    };
    let (stored, revealed) = match load_form(state, signed, &name).await {
        Ok(loaded) => loaded,
        Err(failure) => return error_page(&failure, Some(signed)),
    };
    let shown = posted.unwrap_or(stored);
    let mut rows = shown.key_members.clone();
    if revealed {
        rows.extend(std::iter::repeat_n(KeyMember::default(), BLANK_KEY_MEMBERS));
    }
    let form = FormView::from_form(&shown);
    render_refused(
        &FormPage {
            layout: signed.layout("编辑登记表", "org"),
            unit: UnitView::from_unit(&unit),
            inputs: inputs(&form),
            form,
            revealed,
            rows,
            failure: failure.clone(),
        },
        failure.code.is_some(),
    )
}

/// `POST /org/{id}/form`: the fields as posted; key members as `km{i}_{field}`.
pub(crate) async fn update_form(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let field = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.trim().to_string())
            .unwrap_or_default()
    };
    if let Err(refused) = check_csrf(&signed.session, &field("csrf")) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = format!("orgUnits/{id}");
    let (stored, revealed) = match load_form(&state, &signed, &name).await {
        Ok(loaded) => loaded,
        Err(failure) => return error_page(&failure, Some(&signed)),
    };
    let mut failure = Failure::default();
    let declared_member_count = match field("declared_member_count").parse::<i32>() {
        Ok(count) => count,
        Err(_) if field("declared_member_count").is_empty() => 0,
        Err(_) => {
            failure = Failure::field("registration_form.declared_member_count", "请填写整数。");
            0
        }
    };
    let founded_on = match parse_date_input(&field("founded_on")) {
        Ok(date) => date,
        Err(()) => {
            failure = Failure::field("registration_form.founded_on", "日期格式应为 年-月-日。");
            None
        }
    };
    let key_members: Vec<KeyMember> = (0..MAX_KEY_MEMBERS)
        .map(|index| KeyMember {
            name: field(&format!("km{index}_name")),
            position: field(&format!("km{index}_position")),
            phone: field(&format!("km{index}_phone")),
            workplace: field(&format!("km{index}_workplace")),
            email: field(&format!("km{index}_email")),
        })
        .filter(|member| {
            !(member.name.is_empty()
                && member.position.is_empty()
                && member.phone.is_empty()
                && member.workplace.is_empty()
                && member.email.is_empty())
        })
        .collect();
    let posted = RegistrationForm {
        name: format!("{name}/registrationForm"),
        leader_name: field("leader_name"),
        host_unit: field("host_unit"),
        declared_member_count,
        founded_on,
        phone: field("phone"),
        email: field("email"),
        address: field("address"),
        key_members,
        service_features: field("service_features"),
        awards: field("awards"),
        ..stored.clone()
    };
    if failure.code.is_some() {
        return form_page(&state, &signed, &id, Some(posted), failure).await;
    }
    // Masked values shown unchanged are not written back: they are not the real ones.
    let mut paths: Vec<String> = [
        "leader_name",
        "host_unit",
        "declared_member_count",
        "founded_on",
        "address",
        "service_features",
        "awards",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    if revealed || posted.phone != stored.phone {
        paths.push("phone".to_string());
    }
    if revealed || posted.email != stored.email {
        paths.push("email".to_string());
    }
    if revealed {
        paths.push("key_members".to_string());
    }
    let version = field("version").parse().unwrap_or(0);
    let api = &state.api;
    let updated = api
        .org_units()
        .update_registration_form(api.request(
            &signed.caller,
            UpdateRegistrationFormRequest {
                registration_form: Some(posted.clone()),
                update_mask: Some(prost_types::FieldMask { paths }),
                expected_version: version,
            },
        ))
        .await;
    match updated {
        Ok(_) => Redirect::to(&format!("/org/{id}")).into_response(),
        Err(status) => form_page(&state, &signed, &id, Some(posted), status.into()).await,
    }
}

/// A date input's value (`2016-11-25`), or none when empty.
pub(crate) fn parse_date_input(text: &str) -> Result<Option<Date>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    let mut parts = text.splitn(3, '-').map(str::parse::<i32>);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(Ok(year)), Some(Ok(month)), Some(Ok(day))) => Ok(Some(Date { year, month, day })),
        _ => Err(()),
    }
}

/// A change as the history lists it.
struct ChangeRow {
    time: String,
    operation: &'static str,
    actor: String,
    changes: Vec<String>,
    reason: String,
}

/// One resource's history on the page.
struct HistorySection {
    title: &'static str,
    key: &'static str,
    rows: Vec<ChangeRow>,
    next: String,
}

#[derive(Template)]
#[template(path = "org_history.html")]
struct HistoryPage {
    layout: Layout,
    unit: UnitView,
    sections: Vec<HistorySection>,
}

/// The pages of the two histories.
#[derive(Deserialize, Default)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    unit_after: String,
    #[serde(default)]
    form_after: String,
}

/// Changes listed on one page of a history.
const CHANGES_PAGE: i32 = 100;

async fn history(
    state: &AppState,
    signed: &Signed,
    resource: String,
    after: &str,
) -> Result<(Vec<ChangeRow>, String), Failure> {
    use egret_proto::common::v1::ChangeOperation;
    let api = &state.api;
    let listed = api
        .registry_records()
        .list_change_records(api.request(
            &signed.caller,
            egret_proto::registry::v1::ListChangeRecordsRequest {
                resource,
                page_size: CHANGES_PAGE,
                page_token: after.chars().take(1024).collect(),
            },
        ))
        .await?
        .into_inner();
    let rows = listed
        .change_records
        .iter()
        .map(|record| ChangeRow {
            time: labels::china_time(record.change_time.as_ref()),
            operation: match ChangeOperation::try_from(record.operation).unwrap_or_default() {
                ChangeOperation::Create => "新建",
                ChangeOperation::Update => "修改",
                ChangeOperation::Delete => "删除",
                ChangeOperation::Unspecified => "—",
            },
            actor: record.actor.clone(),
            changes: record
                .field_changes
                .iter()
                .map(|change| {
                    format!(
                        "{}：{} → {}",
                        change.field, change.old_value, change.new_value
                    )
                })
                .collect(),
            reason: record.reason.clone(),
        })
        .collect();
    Ok((rows, listed.next_page_token))
}

/// `GET /org/{id}/history`: 动态管理, the unit's changes and its form's, oldest first.
pub(crate) async fn show_history(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Response {
    let (name, unit) = match unit_by_id(&state, &signed, &id).await {
        Ok(found) => found,
        Err(failure) => return error_page(&failure, Some(&signed)),
    };
    let (unit_changes, unit_next) =
        match history(&state, &signed, name.clone(), &query.unit_after).await {
            Ok(listed) => listed,
            Err(failure) => return error_page(&failure, Some(&signed)),
        };
    let (form_changes, form_next) = history(
        &state,
        &signed,
        format!("{name}/registrationForm"),
        &query.form_after,
    )
    .await
    .unwrap_or_default();
    render(&HistoryPage {
        layout: signed.layout("动态管理", "org"),
        unit: UnitView::from_unit(&unit),
        sections: vec![
            HistorySection {
                title: "组织信息的变更",
                key: "unit_after",
                rows: unit_changes,
                next: unit_next,
            },
            HistorySection {
                title: "登记表的变更",
                key: "form_after",
                rows: form_changes,
                next: form_next,
            },
        ],
    })
}

#[derive(Template)]
#[template(path = "org_print.html")]
struct PrintPage {
    layout: Layout,
    unit: UnitView,
    form: FormView,
    revealed: bool,
}

/// `GET /org/{id}/print`: the 登记表 laid out as the paper form, to print. Staff print it
/// whole (the read is audited); others print it masked.
pub(crate) async fn print(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let (name, unit) = match unit_by_id(&state, &signed, &id).await {
        Ok(found) => found,
        Err(failure) => return error_page(&failure, Some(&signed)),
    };
    let (form, revealed) = match load_form(&state, &signed, &name).await {
        Ok(loaded) => loaded,
        Err(failure) => return error_page(&failure, Some(&signed)),
    };
    render(&PrintPage {
        layout: signed.layout("登记表", "org"),
        unit: UnitView::from_unit(&unit),
        form: FormView::from_form(&form),
        revealed,
    })
}

/// `POST /org/{id}/status`: `suspend`, `resume`, `dissolve`, `merge` (into `target`) or
/// `move` (under `target`), with a reason kept in the change history.
pub(crate) async fn change_status(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<super::Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return error_page(&not_found(), Some(&signed));
    }
    let name = format!("orgUnits/{id}");
    let reason: String = form.get("reason").chars().take(500).collect();
    let target = form.name("target", "orgUnits");
    let api = &state.api;
    let caller = &signed.caller;
    let units = api.org_units();
    let (result, notice) = match form.get("action") {
        "suspend" => (
            units
                .clone()
                .suspend_org_unit(api.request(caller, SuspendOrgUnitRequest { name, reason }))
                .await
                .map(drop),
            "已暂停该组织。",
        ),
        "resume" => (
            units
                .clone()
                .resume_org_unit(api.request(caller, ResumeOrgUnitRequest { name, reason }))
                .await
                .map(drop),
            "已恢复该组织。",
        ),
        "dissolve" => (
            units
                .clone()
                .dissolve_org_unit(api.request(caller, DissolveOrgUnitRequest { name, reason }))
                .await
                .map(drop),
            "已解散该组织。",
        ),
        "merge" => (
            units
                .clone()
                .merge_org_unit(api.request(
                    caller,
                    MergeOrgUnitRequest {
                        name,
                        into: target,
                        reason,
                    },
                ))
                .await
                .map(drop),
            "已并入所选组织。",
        ),
        "move" => (
            units
                .clone()
                .move_org_unit(api.request(
                    caller,
                    MoveOrgUnitRequest {
                        name,
                        new_parent: target,
                    },
                ))
                .await
                .map(drop),
            "已调整上级组织。",
        ),
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    super::after_action(&signed, result, notice, &format!("/org/{id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert_eq!(parse_date_input(""), Ok(None));
        assert_eq!(
            parse_date_input("2016-11-25"),
            Ok(Some(Date {
                year: 2016,
                month: 11,
                day: 25
            }))
        );
        assert_eq!(parse_date_input("2016/11/25"), Err(()));
        assert_eq!(parse_date_input("x-1-2"), Err(()));
    }
}
