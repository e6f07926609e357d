//! 保险: the insurance policies of the person's subtree, those expiring soon, a new policy
//! and cancelling one.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    CancelInsurancePolicyRequest, CreateInsurancePolicyRequest, InsurancePolicy,
    InsurancePolicyState, ListInsurancePoliciesRequest,
};
use egret_proto::registry::v1::Tier;
use serde::Deserialize;

use super::org::UnitChoice;
use super::{Layout, Posted, Signed, after_action, id_of, noted, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Policies on one page.
const POLICIES_PAGE: i32 = 50;
/// What "expiring soon" means, in days.
const EXPIRING_DAYS: i32 = 30;

struct PolicyRow {
    id: String,
    insurer: String,
    policy_number: String,
    cover: String,
    sum_insured: String,
    period: String,
    covers_subtree: bool,
    active: bool,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "insurance.html")]
struct InsurancePage {
    layout: Layout,
    policies: Vec<PolicyRow>,
    expiring: bool,
    next_page: String,
    units: Vec<UnitChoice>,
    form: Posted,
    request_id: String,
    notice: String,
    failures: Vec<String>,
    failure: Failure,
}

impl InsurancePage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "insurance_policy.insurer",
            "insurance_policy.policy_number",
            "insurance_policy.cover",
            "insurance_policy.sum_insured_fen",
            "insurance_policy.start_date",
            "insurance_policy.end_date",
            "insurance_policy.org_unit",
            "insurance_policy.covers_subtree",
        ])
    }
}

/// The list's query: only those expiring soon, and the next page.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    expiring: Option<String>,
    #[serde(default)]
    after: String,
}

fn row(policy: &InsurancePolicy) -> PolicyRow {
    let active = policy.state == InsurancePolicyState::Active as i32;
    PolicyRow {
        id: id_of(&policy.name).to_string(),
        insurer: policy.insurer.clone(),
        policy_number: policy.policy_number.clone(),
        cover: policy.cover.clone(),
        sum_insured: labels::yuan(policy.sum_insured_fen),
        period: format!(
            "{} 至 {}",
            labels::date(policy.start_date.as_ref()),
            labels::date(policy.end_date.as_ref())
        ),
        covers_subtree: policy.covers_subtree,
        active,
        state: labels::policy_state(policy.state),
    }
}

async fn insurance_page(
    state: &AppState,
    signed: &Signed,
    query: &ListQuery,
    form: Posted,
    failure: Failure,
) -> Response {
    let flash = signed.session.take_flash();
    let expiring = query.expiring.is_some();
    let api = &state.api;
    let mut failures = flash.failures;
    let listed = api
        .insurance()
        .list_insurance_policies(api.request(
            &signed.caller,
            ListInsurancePoliciesRequest {
                org_unit: signed.session.person.org_unit.clone(),
                expiring_within_days: if expiring { EXPIRING_DAYS } else { 0 },
                page_size: POLICIES_PAGE,
                page_token: query.after.chars().take(1024).collect(),
            },
        ))
        .await;
    let (policies, next_page) = noted(
        listed.map(|listed| {
            let listed = listed.into_inner();
            (
                listed.insurance_policies.iter().map(row).collect(),
                listed.next_page_token,
            )
        }),
        &mut failures,
    );
    let units = if signed.session.person.is_staff() {
        super::org::unit_choices(state, signed, Tier::Unspecified).await
    } else {
        Vec::new()
    };
    let refused = failure.code.is_some();
    render_refused(
        &InsurancePage {
            layout: signed.layout("保险", "insurance"),
            policies,
            expiring,
            next_page,
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

/// `GET /insurance`.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    insurance_page(
        &state,
        &signed,
        &query,
        Posted::default(),
        Failure::default(),
    )
    .await
}

/// `POST /insurance`: a new policy.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    let (Ok(start_date), Ok(end_date)) = (form.date("start_date"), form.date("end_date")) else {
        let failure = Failure::field("insurance_policy.start_date", "日期格式应为 年-月-日");
        return insurance_page(&state, &signed, &ListQuery::default(), form, failure).await;
    };
    let Some(sum_insured_fen) = yuan_to_fen(form.get("sum_insured")) else {
        let failure = Failure::field("insurance_policy.sum_insured_fen", "请填写金额（元）");
        return insurance_page(&state, &signed, &ListQuery::default(), form, failure).await;
    };
    let policy = InsurancePolicy {
        org_unit: form.name("org_unit", "orgUnits"),
        insurer: form.get("insurer").to_string(),
        policy_number: form.get("policy_number").to_string(),
        cover: form.get("cover").to_string(),
        sum_insured_fen,
        start_date,
        end_date,
        covers_subtree: form.get("covers_subtree") == "on",
        ..InsurancePolicy::default()
    };
    let api = &state.api;
    let created = api
        .insurance()
        .create_insurance_policy(api.request(
            &signed.caller,
            CreateInsurancePolicyRequest {
                insurance_policy: Some(policy),
                request_id: form.request_id(),
            },
        ))
        .await;
    match created {
        Ok(_) => after_action(&signed, Ok(()), "保单已登记。", "/insurance"),
        Err(status) => {
            insurance_page(&state, &signed, &ListQuery::default(), form, status.into()).await
        }
    }
}

/// `POST /insurance/{id}/cancel`, with the reason.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return Redirect::to("/insurance").into_response();
    }
    let api = &state.api;
    let cancelled = api
        .insurance()
        .cancel_insurance_policy(api.request(
            &signed.caller,
            CancelInsurancePolicyRequest {
                name: format!("insurancePolicies/{id}"),
                reason: form.get("reason").chars().take(500).collect(),
            },
        ))
        .await;
    after_action(&signed, cancelled, "保单已注销。", "/insurance")
}

/// An amount in yuan (`1000`, `1000.5`, `1000.50`) as fen; `None` when it is not one.
pub(crate) fn yuan_to_fen(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || fraction.len() > 2 || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::yuan_to_fen;

    #[test]
    fn yuan_are_read_as_fen() {
        for (text, fen) in [
            ("1000", Some(100_000)),
            ("1000.5", Some(100_050)),
            ("0.05", Some(5)),
            ("", None),
            (".5", None),
            ("1.234", None),
            ("1e3", None),
            ("-1", None),
        ] {
            assert_eq!(yuan_to_fen(text), fen, "{text}");
        }
    }
}
