//! 积分: a volunteer's balance, the benefits she may redeem and her redemptions; for
//! staff, the benefits offered in their subtree, a new benefit, the redemptions to hand
//! out, and (for admins) the ledger's totals.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::gateway::v1::AccountRole;
use egret_proto::recognition::v1::{
    Benefit, CancelRedemptionRequest, CreateBenefitRequest, FulfillRedemptionRequest,
    GetBalanceRequest, GetLedgerSummaryRequest, ListBenefitsRequest, ListPostingsRequest,
    ListRedemptionsRequest, RedeemBenefitRequest, Redemption, RedemptionState,
};
use egret_proto::registry::v1::Tier;

use super::org::UnitChoice;
use super::{
    Layout, Posted, Signed, after_action, id_of, new_request_id, render_refused, valid_id,
};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Benefits, redemptions and postings on one page.
const PAGE: i32 = 100;
/// The most of one benefit redeemed at once.
const MAX_QUANTITY: i64 = 100;

struct BenefitRow {
    id: String,
    display_name: String,
    description: String,
    points_cost: i64,
    stock: i64,
    active: bool,
    /// The request id of this row's redeem form.
    request_id: String,
}

fn benefit_row(benefit: &Benefit) -> BenefitRow {
    BenefitRow {
        id: id_of(&benefit.name).to_string(),
        display_name: benefit.display_name.clone(),
        description: benefit.description.clone(),
        points_cost: benefit.points_cost,
        stock: benefit.stock,
        active: benefit.active,
        request_id: new_request_id(),
    }
}

struct RedemptionRow {
    id: String,
    benefit: String,
    volunteer: String,
    quantity: i64,
    points: i64,
    state: &'static str,
    open: bool,
    date: String,
    /// The request id of this row's cancel form.
    request_id: String,
}

fn redemption_row(redemption: &Redemption, volunteer: String) -> RedemptionRow {
    RedemptionRow {
        id: id_of(&redemption.name).to_string(),
        benefit: redemption.benefit_display_name.clone(),
        volunteer,
        quantity: redemption.quantity,
        points: redemption.points,
        state: labels::redemption_state(redemption.state),
        open: redemption.state == RedemptionState::Redeemed as i32,
        date: labels::china_time(
            redemption
                .metadata
                .as_ref()
                .and_then(|meta| meta.create_time.as_ref()),
        ),
        request_id: new_request_id(),
    }
}

struct PostingRow {
    time: String,
    kind: &'static str,
    points: i64,
    balance_after: i64,
    memo: String,
}

/// A volunteer's balance: what she has, earned, redeemed and gave.
#[derive(Default)]
pub(crate) struct Balance {
    pub balance: i64,
    pub earned: i64,
    pub redeemed: i64,
    pub gifted: i64,
}

/// `volunteer`'s balance, as the person may see it.
pub(crate) async fn balance(
    state: &AppState,
    signed: &Signed,
    volunteer: &str,
) -> Result<Balance, Failure> {
    let api = &state.api;
    let answer = api
        .rewards()
        .get_balance(api.request(
            &signed.caller,
            GetBalanceRequest {
                volunteer: volunteer.to_string(),
            },
        ))
        .await?
        .into_inner();
    Ok(Balance {
        balance: answer.balance,
        earned: answer.earned,
        redeemed: answer.redeemed,
        gifted: answer.gifted,
    })
}

#[derive(Template)]
#[template(path = "points.html")]
struct PointsPage {
    layout: Layout,
    /// Her own figures, when the person is a volunteer.
    mine: Option<Balance>,
    postings: Vec<PostingRow>,
    benefits: Vec<BenefitRow>,
    redemptions: Vec<RedemptionRow>,
    ledger: Option<(i64, i64, i64)>,
    units: Vec<UnitChoice>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl PointsPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "benefit.org_unit",
            "benefit.display_name",
            "benefit.description",
            "benefit.points_cost",
            "benefit.stock",
        ])
    }
}

async fn points_page(
    state: &AppState,
    signed: &Signed,
    form: Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let mut failures = flash.failures;
    let api = &state.api;
    let caller = &signed.caller;
    let person = &signed.session.person;
    let is_staff = person.is_staff();
    let volunteer = person.volunteer.clone();
    let mut mine = None;
    let mut postings = Vec::new();
    if !volunteer.is_empty() {
        match balance(state, signed, &volunteer).await {
            Ok(figures) => mine = Some(figures),
            Err(failure) => failures.push(failure.message),
        }
        let listed = api
            .rewards()
            .list_postings(api.request(
                caller,
                ListPostingsRequest {
                    account: volunteer.clone(),
                    page_size: PAGE,
                    ..ListPostingsRequest::default()
                },
            ))
            .await;
        match listed {
            Ok(listed) => {
                postings = listed
                    .into_inner()
                    .postings
                    .iter()
                    .map(|posting| {
                        let line = posting.lines.iter().find(|line| line.account == volunteer);
                        PostingRow {
                            time: labels::china_time(posting.post_time.as_ref()),
                            kind: labels::posting_kind(posting.kind),
                            points: line.map_or(0, |line| line.points),
                            balance_after: line.map_or(0, |line| line.balance_after),
                            memo: posting.memo.clone(),
                        }
                    })
                    .collect();
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
    }
    let benefits = api
        .rewards()
        .list_benefits(api.request(
            caller,
            ListBenefitsRequest {
                active_only: !is_staff,
                page_size: PAGE,
                ..ListBenefitsRequest::default()
            },
        ))
        .await;
    let benefits = match benefits {
        Ok(listed) => listed
            .into_inner()
            .benefits
            .iter()
            .map(benefit_row)
            .collect(),
        Err(status) => {
            failures.push(Failure::from(status).message);
            Vec::new()
        }
    };
    // Staff see every redemption of their subtree's benefits; a volunteer, her own.
    let redemptions_of = if is_staff {
        String::new()
    } else {
        volunteer.clone()
    };
    let mut redemptions = Vec::new();
    if is_staff || !volunteer.is_empty() {
        let listed = api
            .rewards()
            .list_redemptions(api.request(
                caller,
                ListRedemptionsRequest {
                    volunteer: redemptions_of,
                    page_size: PAGE,
                    ..ListRedemptionsRequest::default()
                },
            ))
            .await;
        match listed {
            Ok(listed) => {
                let mut names = std::collections::HashMap::new();
                for redemption in listed.into_inner().redemptions {
                    if !names.contains_key(&redemption.volunteer) {
                        let name = if redemption.volunteer == volunteer {
                            "本人".to_string()
                        } else {
                            super::volunteers::display_name(state, signed, &redemption.volunteer)
                                .await
                        };
                        names.insert(redemption.volunteer.clone(), name);
                    }
                    let name = names
                        .get(&redemption.volunteer)
                        .cloned()
                        .unwrap_or_default();
                    redemptions.push(redemption_row(&redemption, name));
                }
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
    }
    let ledger = if person.has(AccountRole::Admin) {
        api.rewards()
            .get_ledger_summary(api.request(caller, GetLedgerSummaryRequest {}))
            .await
            .ok()
            .map(|summary| {
                let summary = summary.into_inner();
                (summary.issued, summary.redeemed, summary.volunteer_balances)
            })
    } else {
        None
    };
    let units = if is_staff {
        super::org::unit_choices(state, signed, Tier::Unspecified).await
    } else {
        Vec::new()
    };
    let refused = failure.code.is_some();
    render_refused(
        &PointsPage {
            layout: signed.layout("积分", "points"),
            mine,
            postings,
            benefits,
            redemptions,
            ledger,
            units,
            request_id: form.request_id_or_new(),
            form,
            notice: flash.notice,
            failures,
            failure,
        },
        refused,
    )
}

/// `GET /points`.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    points_page(&state, &signed, Posted::default(), Failure::default()).await
}

/// `POST /points/benefits`: a new benefit.
pub(crate) async fn create_benefit(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let (Some(points_cost), Some(stock)) = (form.number("points_cost"), form.number("stock"))
    else {
        let field = if form.number("points_cost").is_none() {
            "benefit.points_cost"
        } else {
            "benefit.stock"
        };
        return points_page(&state, &signed, form, Failure::field(field, "请填写整数")).await;
    };
    let benefit = Benefit {
        org_unit: form.name("org_unit", "orgUnits"),
        display_name: form.get("display_name").to_string(),
        description: form.get("description").to_string(),
        points_cost,
        stock,
        active: true,
        ..Benefit::default()
    };
    let api = &state.api;
    let created = api
        .rewards()
        .create_benefit(api.request(
            &signed.caller,
            CreateBenefitRequest {
                benefit: Some(benefit),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(_) => after_action(&signed, Ok(()), "权益已上架。", "/points"),
        Err(status) => points_page(&state, &signed, form, status.into()).await,
    }
}

/// `POST /points/redeem`: the signed-in volunteer redeems a benefit.
pub(crate) async fn redeem(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let quantity = form.number("quantity").unwrap_or(1).clamp(1, MAX_QUANTITY);
    let api = &state.api;
    let redeemed = api
        .rewards()
        .redeem_benefit(api.request(
            &signed.caller,
            RedeemBenefitRequest {
                benefit: form.name("benefit", "benefits"),
                volunteer: signed.session.person.volunteer.clone(),
                quantity,
                request_id: form.request_id(),
            },
        ))
        .await;
    after_action(&signed, redeemed, "兑换成功，请等待发放。", "/points")
}

/// `POST /points/redemptions/{id}/{action}`: `fulfill` (staff) or `cancel`.
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
        return Redirect::to("/points").into_response();
    }
    let name = format!("redemptions/{id}");
    let api = &state.api;
    let caller = &signed.caller;
    match action.as_str() {
        "fulfill" => {
            let done = api
                .rewards()
                .fulfill_redemption(api.request(caller, FulfillRedemptionRequest { name }))
                .await;
            after_action(&signed, done, "已发放。", "/points")
        }
        "cancel" => {
            let done = api
                .rewards()
                .cancel_redemption(api.request(
                    caller,
                    CancelRedemptionRequest {
                        name,
                        request_id: form.request_id(),
                    },
                ))
                .await;
            after_action(&signed, done, "兑换已取消，积分已退还。", "/points")
        }
        _ => Redirect::to("/points").into_response(),
    }
}
