//! 表彰: the honours offered, commendations by state with their public notice (公示) and
//! objections, nominating a volunteer or a unit, and deciding a nomination.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::recognition::v1::{
    ApproveCommendationRequest, AwardCommendationRequest, Commendation, CommendationState,
    CreateHonourRequest, GetCommendationRequest, Honour, HonourCategory, ListCommendationsRequest,
    ListHonoursRequest, NominateCommendationRequest, RecipientKind, RecordObjectionRequest,
    RejectCommendationRequest, WithdrawCommendationRequest,
};
use egret_proto::registry::v1::{TeamLevel, Tier};
use serde::Deserialize;

use super::org::UnitChoice;
use super::{
    Layout, Posted, Signed, after_action, error_page, id_of, noted, render_refused, valid_id,
};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Honours and commendations on one page.
const PAGE: i32 = 100;

const CATEGORIES: [HonourCategory; 6] = [
    HonourCategory::OutstandingVolunteer,
    HonourCategory::ModelTeam,
    HonourCategory::DemonstrationBase,
    HonourCategory::ExcellentProject,
    HonourCategory::AdvancedOrganization,
    HonourCategory::Other,
];

const LEVELS: [TeamLevel; 4] = [
    TeamLevel::Municipal,
    TeamLevel::District,
    TeamLevel::Provincial,
    TeamLevel::National,
];

const KINDS: [RecipientKind; 4] = [
    RecipientKind::Volunteer,
    RecipientKind::Team,
    RecipientKind::Project,
    RecipientKind::OrgUnit,
];

const STATES: [CommendationState; 5] = [
    CommendationState::Nominated,
    CommendationState::OnNotice,
    CommendationState::Awarded,
    CommendationState::Rejected,
    CommendationState::Withdrawn,
];

struct HonourRow {
    id: String,
    display_name: String,
    category: &'static str,
    level: &'static str,
    recipient_kind: &'static str,
    notice: String,
    active: bool,
}

fn honour_row(honour: &Honour) -> HonourRow {
    HonourRow {
        id: id_of(&honour.name).to_string(),
        display_name: honour.display_name.clone(),
        category: labels::honour_category(honour.category),
        level: labels::team_level(honour.level),
        recipient_kind: labels::recipient_kind(honour.recipient_kind),
        notice: match honour.notice_days {
            Some(days) if days > 0 => format!("{days} 天"),
            _ => "不公示".to_string(),
        },
        active: honour.active,
    }
}

/// A commendation as the list and its page show it.
pub(crate) struct CommendationRow {
    pub id: String,
    pub honour: String,
    pub recipient: String,
    pub year: i32,
    pub state: &'static str,
    pub notice: String,
    pub objections: usize,
}

pub(crate) fn commendation_row(commendation: &Commendation) -> CommendationRow {
    let notice = match (
        &commendation.notice_start_date,
        &commendation.notice_end_date,
    ) {
        (Some(start), Some(end)) => format!(
            "{} 至 {}",
            labels::date(Some(start)),
            labels::date(Some(end))
        ),
        _ => "—".to_string(),
    };
    CommendationRow {
        id: id_of(&commendation.name).to_string(),
        honour: commendation.honour_display_name.clone(),
        recipient: commendation.recipient_display_name.clone(),
        year: commendation.year,
        state: labels::commendation_state(commendation.state),
        notice,
        objections: commendation.objections.len(),
    }
}

/// Commendations in `state` (every state when unspecified), first page.
pub(crate) async fn list_commendations(
    state: &AppState,
    signed: &Signed,
    commendation_state: CommendationState,
    recipient: &str,
) -> Result<Vec<Commendation>, Failure> {
    let api = &state.api;
    api.commendations()
        .list_commendations(api.request(
            &signed.caller,
            ListCommendationsRequest {
                recipient: recipient.to_string(),
                state: commendation_state as i32,
                page_size: PAGE,
                ..ListCommendationsRequest::default()
            },
        ))
        .await
        .map(|listed| listed.into_inner().commendations)
        .map_err(Failure::from)
}

#[derive(Template)]
#[template(path = "honours.html")]
struct HonoursPage {
    layout: Layout,
    honours: Vec<HonourRow>,
    commendations: Vec<CommendationRow>,
    state: i32,
    states: Vec<(i32, &'static str)>,
    units: Vec<UnitChoice>,
    categories: Vec<(i32, &'static str)>,
    levels: Vec<(i32, &'static str)>,
    kinds: Vec<(i32, &'static str)>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl HonoursPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "honour.org_unit",
            "honour.display_name",
            "honour.category",
            "honour.level",
            "honour.recipient_kind",
            "honour.notice_days",
            "honour.description",
        ])
    }
}

/// The commendations' state shown.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    state: i32,
}

async fn honours_page(
    state: &AppState,
    signed: &Signed,
    commendation_state: i32,
    form: Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let mut failures = flash.failures;
    let api = &state.api;
    let honours = api
        .commendations()
        .list_honours(api.request(
            &signed.caller,
            ListHonoursRequest {
                page_size: PAGE,
                ..ListHonoursRequest::default()
            },
        ))
        .await;
    let honours = noted(
        honours.map(|listed| listed.into_inner().honours.iter().map(honour_row).collect()),
        &mut failures,
    );
    let shown = CommendationState::try_from(commendation_state).unwrap_or_default();
    let commendations = match list_commendations(state, signed, shown, "").await {
        Ok(listed) => listed.iter().map(commendation_row).collect(),
        Err(failure) => {
            failures.push(failure.message);
            Vec::new()
        }
    };
    let units = if signed.session.person.is_staff() {
        super::org::unit_choices(state, signed, Tier::Unspecified).await
    } else {
        Vec::new()
    };
    let refused = failure.code.is_some();
    render_refused(
        &HonoursPage {
            layout: signed.layout("表彰", "honours"),
            honours,
            commendations,
            state: shown as i32,
            states: labels::choices(&STATES, labels::commendation_state),
            units,
            categories: labels::choices(&CATEGORIES, labels::honour_category),
            levels: labels::choices(&LEVELS, labels::team_level),
            kinds: labels::choices(&KINDS, labels::recipient_kind),
            request_id: form.request_id_or_new(),
            form,
            notice: flash.notice,
            failures,
            failure,
        },
        refused,
    )
}

/// `GET /honours`.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    honours_page(
        &state,
        &signed,
        query.state,
        Posted::default(),
        Failure::default(),
    )
    .await
}

/// `POST /honours`: a new honour in the catalogue.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let notice_days = match form.get("notice_days") {
        "" => None,
        text => match text.parse::<i32>() {
            Ok(days) => Some(days),
            Err(_) => {
                let failure = Failure::field("honour.notice_days", "请填写天数");
                return honours_page(&state, &signed, 0, form, failure).await;
            }
        },
    };
    let honour = Honour {
        org_unit: form.name("org_unit", "orgUnits"),
        display_name: form.get("display_name").to_string(),
        category: form.number("category").unwrap_or_default() as i32,
        level: form.number("level").unwrap_or_default() as i32,
        recipient_kind: form.number("recipient_kind").unwrap_or_default() as i32,
        notice_days,
        description: form.get("description").to_string(),
        active: true,
        ..Honour::default()
    };
    let api = &state.api;
    let created = api
        .commendations()
        .create_honour(api.request(
            &signed.caller,
            CreateHonourRequest {
                honour: Some(honour),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(_) => after_action(&signed, Ok(()), "荣誉已创建。", "/honours"),
        Err(status) => honours_page(&state, &signed, 0, form, status.into()).await,
    }
}

/// Who a nomination is for: `volunteers/…`, `orgUnits/…` or `projects/…`, and the kinds
/// of honour such a recipient can receive.
fn recipient_of(text: &str) -> Option<(String, &'static [RecipientKind])> {
    let (collection, id) = text.split_once('/')?;
    if !valid_id(id) {
        return None;
    }
    let kinds: &'static [RecipientKind] = match collection {
        "volunteers" => &[RecipientKind::Volunteer],
        "orgUnits" => &[RecipientKind::Team, RecipientKind::OrgUnit],
        "projects" => &[RecipientKind::Project],
        _ => return None,
    };
    Some((format!("{collection}/{id}"), kinds))
}

#[derive(Template)]
#[template(path = "nominate.html")]
struct NominatePage {
    layout: Layout,
    recipient: String,
    recipient_name: String,
    honours: Vec<HonourRow>,
    year: i32,
    form: Posted,
    request_id: String,
    failure: Failure,
}

impl NominatePage {
    fn summary(&self) -> String {
        self.failure
            .summary(&["honour", "recipient", "year", "citation", "org_unit"])
    }
}

/// The nomination form's recipient.
#[derive(Deserialize, Default)]
pub(crate) struct NominateQuery {
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    name: String,
}

async fn nominate_page(
    state: &AppState,
    signed: &Signed,
    recipient: &str,
    recipient_name: &str,
    form: Posted,
    failure: Failure,
) -> Response {
    let Some((recipient, kinds)) = recipient_of(recipient) else {
        return error_page(&Failure::not_found("未找到推荐对象。"), Some(signed));
    };
    let api = &state.api;
    let honours = api
        .commendations()
        .list_honours(api.request(
            &signed.caller,
            ListHonoursRequest {
                page_size: PAGE,
                ..ListHonoursRequest::default()
            },
        ))
        .await;
    let honours = match honours {
        Ok(listed) => listed
            .into_inner()
            .honours
            .iter()
            .filter(|honour| {
                honour.active
                    && kinds
                        .iter()
                        .any(|kind| *kind as i32 == honour.recipient_kind)
            })
            .map(honour_row)
            .collect(),
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let refused = failure.code.is_some();
    render_refused(
        &NominatePage {
            layout: signed.layout("推荐表彰", "honours"),
            recipient,
            recipient_name: recipient_name.chars().take(100).collect(),
            honours,
            year: egret_runtime::wire::today().year,
            request_id: form.request_id_or_new(),
            form,
            failure,
        },
        refused,
    )
}

/// `GET /honours/nominate?recipient=volunteers/…&name=…`.
pub(crate) async fn nominate_form(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<NominateQuery>,
) -> Response {
    nominate_page(
        &state,
        &signed,
        &query.recipient,
        &query.name,
        Posted::default(),
        Failure::default(),
    )
    .await
}

/// `POST /honours/nominate`.
pub(crate) async fn nominate(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let recipient = form.get("recipient").to_string();
    let recipient_name = form.get("recipient_name").to_string();
    let Some((checked_recipient, _)) = recipient_of(&recipient) else {
        return error_page(&Failure::not_found("未找到推荐对象。"), Some(&signed));
    };
    let api = &state.api;
    let nominated = api
        .commendations()
        .nominate_commendation(api.request(
            &signed.caller,
            NominateCommendationRequest {
                honour: form.name("honour", "honours"),
                recipient: checked_recipient,
                year: form.number("year").unwrap_or_default() as i32,
                citation: form.get("citation").to_string(),
                request_id: form.request_id(),
                ..NominateCommendationRequest::default()
            },
        ))
        .await;
    match nominated {
        Ok(nominated) => {
            let id = nominated
                .into_inner()
                .commendation
                .map(|commendation| id_of(&commendation.name).to_string())
                .unwrap_or_default();
            after_action(
                &signed,
                Ok(()),
                "已提交推荐，等待评审。",
                &format!("/commendations/{id}"),
            )
        }
        Err(status) => {
            nominate_page(
                &state,
                &signed,
                &recipient,
                &recipient_name,
                form,
                status.into(),
            )
            .await
        }
    }
}

struct ObjectionRow {
    time: String,
    content: String,
}

#[derive(Template)]
#[template(path = "commendation.html")]
struct CommendationPage {
    layout: Layout,
    commendation: CommendationRow,
    citation: String,
    decision_comment: String,
    objections: Vec<ObjectionRow>,
    nominated: bool,
    on_notice: bool,
    open: bool,
    notice: String,
    failures: Vec<String>,
}

/// `GET /commendations/{id}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    if !valid_id(&id) {
        return error_page(&Failure::not_found("未找到该表彰。"), Some(&signed));
    }
    let api = &state.api;
    let commendation = api
        .commendations()
        .get_commendation(api.request(
            &signed.caller,
            GetCommendationRequest {
                name: format!("commendations/{id}"),
            },
        ))
        .await
        .map(|answer| answer.into_inner().commendation.unwrap_or_default());
    let commendation = match commendation {
        Ok(commendation) => commendation,
        Err(status) => return error_page(&status.into(), Some(&signed)),
    };
    let flash = signed.session.take_flash();
    let current = CommendationState::try_from(commendation.state).unwrap_or_default();
    super::render(&CommendationPage {
        layout: signed.layout("表彰详情", "honours"),
        commendation: commendation_row(&commendation),
        citation: commendation.citation.clone(),
        decision_comment: commendation.decision_comment.clone(),
        objections: commendation
            .objections
            .iter()
            .map(|objection| ObjectionRow {
                time: labels::china_time(objection.record_time.as_ref()),
                content: objection.content.clone(),
            })
            .collect(),
        nominated: current == CommendationState::Nominated,
        on_notice: current == CommendationState::OnNotice,
        open: matches!(
            current,
            CommendationState::Nominated | CommendationState::OnNotice
        ),
        notice: flash.notice,
        failures: flash.failures,
    })
}

/// `POST /commendations/{id}/{action}`: `approve`, `reject`, `object`, `award` or
/// `withdraw`, with a comment (the objection's content for `object`).
pub(crate) async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return Redirect::to("/honours").into_response();
    }
    let name = format!("commendations/{id}");
    let comment: String = form.get("comment").chars().take(2000).collect();
    let api = &state.api;
    let caller = &signed.caller;
    let client = api.commendations();
    let (result, notice) = match action.as_str() {
        "approve" => (
            client
                .clone()
                .approve_commendation(
                    api.request(caller, ApproveCommendationRequest { name, comment }),
                )
                .await
                .map(drop),
            "评审已通过。",
        ),
        "reject" => (
            client
                .clone()
                .reject_commendation(
                    api.request(caller, RejectCommendationRequest { name, comment }),
                )
                .await
                .map(drop),
            "已评为不通过。",
        ),
        "object" => (
            client
                .clone()
                .record_objection(api.request(
                    caller,
                    RecordObjectionRequest {
                        name,
                        content: comment,
                    },
                ))
                .await
                .map(drop),
            "异议已记录。",
        ),
        "award" => (
            client
                .clone()
                .award_commendation(api.request(caller, AwardCommendationRequest { name, comment }))
                .await
                .map(drop),
            "已授予。",
        ),
        "withdraw" => (
            client
                .clone()
                .withdraw_commendation(
                    api.request(caller, WithdrawCommendationRequest { name, comment }),
                )
                .await
                .map(drop),
            "推荐已撤回。",
        ),
        _ => return Redirect::to("/honours").into_response(),
    };
    after_action(&signed, result, notice, &format!("/commendations/{id}"))
}
