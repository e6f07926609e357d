//! `egret.recognition.v1.RewardService`.

use egret_proto::recognition::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{check_request_id, mask_paths, metadata, parse_name, text, timestamp};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Recognition;
use crate::app::rewards::{BenefitChange, BenefitFields};
use crate::domain::ledger::{self, Benefit, Posting, PostingKind, Redemption, RedemptionState};
use crate::domain::names;

/// The service implementation.
pub struct RewardApi(pub Recognition);

/// The most points one gift moves.
const MAX_GIFT: i64 = 1_000_000;
/// The most a benefit may cost per unit.
const MAX_COST: i64 = 1_000_000;
/// The most units a benefit may have in stock.
const MAX_STOCK: i64 = 1_000_000;
/// The most units one redemption takes.
const MAX_QUANTITY: i64 = 1_000;

const BENEFIT_FIELDS: &[&str] = &[
    "display_name",
    "description",
    "points_cost",
    "stock",
    "active",
];

fn kind_to_wire(kind: PostingKind) -> i32 {
    match kind {
        PostingKind::Earn => pb::PostingKind::Earn as i32,
        PostingKind::Reverse => pb::PostingKind::Reverse as i32,
        PostingKind::Redeem => pb::PostingKind::Redeem as i32,
        PostingKind::Refund => pb::PostingKind::Refund as i32,
        PostingKind::Gift => pb::PostingKind::Gift as i32,
    }
}

fn state_to_wire(state: RedemptionState) -> i32 {
    match state {
        RedemptionState::Redeemed => pb::RedemptionState::Redeemed as i32,
        RedemptionState::Fulfilled => pb::RedemptionState::Fulfilled as i32,
        RedemptionState::Cancelled => pb::RedemptionState::Cancelled as i32,
    }
}

fn posting_to_wire(posting: &Posting) -> pb::Posting {
    pb::Posting {
        name: ledger::posting_name(&posting.id),
        kind: kind_to_wire(posting.kind),
        lines: posting
            .lines
            .iter()
            .map(|line| pb::PostingLine {
                account: line.account.clone(),
                points: line.points,
                balance_after: line.balance_after,
            })
            .collect(),
        source: posting.source.clone(),
        memo: posting.memo.clone(),
        post_time: Some(timestamp(posting.post_time)),
        actor: posting.actor.clone(),
    }
}

fn benefit_to_wire(benefit: &Benefit) -> pb::Benefit {
    pb::Benefit {
        name: ledger::benefit_name(&benefit.id),
        org_unit: names::org_unit(&benefit.org_unit_id),
        display_name: benefit.display_name.clone(),
        description: benefit.description.clone(),
        points_cost: benefit.points_cost,
        stock: benefit.stock,
        active: benefit.active,
        metadata: Some(metadata(&benefit.id, &benefit.meta)),
    }
}

fn redemption_to_wire(redemption: &Redemption) -> pb::Redemption {
    pb::Redemption {
        name: ledger::redemption_name(&redemption.id),
        benefit: ledger::benefit_name(&redemption.benefit_id),
        benefit_display_name: redemption.benefit_display_name.clone(),
        volunteer: names::volunteer(&redemption.volunteer_id),
        quantity: redemption.quantity,
        points: redemption.points,
        state: state_to_wire(redemption.state),
        posting: ledger::posting_name(&redemption.posting_id),
        metadata: Some(metadata(&redemption.id, &redemption.meta)),
    }
}

/// The id in a required resource name; a bad one joins the other violations, so one
/// answer names every bad field.
fn name_in<'a>(
    violations: &mut Violations,
    field: &str,
    name: &'a str,
    collection: &str,
) -> &'a str {
    match parse_name(field, name, collection) {
        Ok(id) => id,
        Err(ApiError::InvalidArgument(found)) => {
            violations.extend(found);
            ""
        }
        Err(_) => "",
    }
}

/// The id in an optional resource name (None when empty).
fn optional_name_in<'a>(
    violations: &mut Violations,
    field: &str,
    name: &'a str,
    collection: &str,
) -> Option<&'a str> {
    (!name.is_empty()).then(|| name_in(violations, field, name, collection))
}

/// A request id that must be given: without one a retry would post twice.
fn required_request_id(violations: &mut Violations, request_id: &str) {
    if request_id.is_empty() {
        violations.add(
            "request_id",
            "is required: a UUID that makes a retry post nothing twice",
            "必须提供请求编号（UUID），以免重试时重复记账",
        );
    } else if let Err(ApiError::InvalidArgument(found)) = check_request_id(request_id) {
        violations.extend(found);
    }
}

fn optional_request_id(violations: &mut Violations, request_id: &str) {
    if let Err(ApiError::InvalidArgument(found)) = check_request_id(request_id) {
        violations.extend(found);
    }
}

fn bounded(violations: &mut Violations, field: &str, value: i64, low: i64, high: i64) -> i64 {
    if !(low..=high).contains(&value) {
        violations.add(
            field,
            format!("must be between {low} and {high}"),
            format!("应在 {low} 到 {high} 之间"),
        );
    }
    value
}

fn display_name(violations: &mut Violations, value: &str) -> String {
    text(violations, "benefit.display_name", value, 60, true)
}

fn description(violations: &mut Violations, value: &str) -> String {
    text(violations, "benefit.description", value, 1000, false)
}

fn points_cost(violations: &mut Violations, value: i64) -> i64 {
    bounded(violations, "benefit.points_cost", value, 1, MAX_COST)
}

fn stock(violations: &mut Violations, value: i64) -> i64 {
    bounded(violations, "benefit.stock", value, 0, MAX_STOCK)
}

fn benefit_required(benefit: Option<&pb::Benefit>) -> Result<&pb::Benefit, ApiError> {
    benefit.ok_or_else(|| ApiError::invalid("benefit", "is required", "不能为空"))
}

#[tonic::async_trait]
impl pb::reward_service_server::RewardService for RewardApi {
    async fn get_balance(
        &self,
        request: Request<pb::GetBalanceRequest>,
    ) -> Result<Response<pb::GetBalanceResponse>, Status> {
        let principal = Principal::of(&request)?;
        let volunteer = parse_name("volunteer", &request.get_ref().volunteer, "volunteers")?;
        let balance = self.0.get_balance(&principal, volunteer).await?;
        Ok(Response::new(pb::GetBalanceResponse {
            balance: balance.balance,
            earned: balance.earned,
            redeemed: balance.redeemed,
            gifted: balance.gifted,
        }))
    }

    async fn list_postings(
        &self,
        request: Request<pb::ListPostingsRequest>,
    ) -> Result<Response<pb::ListPostingsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let account = if ledger::is_system_account(&message.account) {
            message.account.clone()
        } else if message.account.starts_with("volunteers/") {
            ledger::volunteer_account(parse_name("account", &message.account, "volunteers")?)
        } else {
            return Err(ApiError::invalid(
                "account",
                format!(
                    "must be volunteers/{{id}}, {} or {}, got {}",
                    ledger::ISSUANCE,
                    ledger::REDEMPTION,
                    quote(&message.account)
                ),
                format!(
                    "账户应为 volunteers/{{id}}、{} 或 {}",
                    ledger::ISSUANCE,
                    ledger::REDEMPTION
                ),
            )
            .into());
        };
        let page = PageRequest::standard(message.page_size, &message.page_token, &account)?;
        let (postings, next_page_token) = self.0.list_postings(&principal, &account, &page).await?;
        Ok(Response::new(pb::ListPostingsResponse {
            postings: postings.iter().map(posting_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn get_ledger_summary(
        &self,
        request: Request<pb::GetLedgerSummaryRequest>,
    ) -> Result<Response<pb::GetLedgerSummaryResponse>, Status> {
        let principal = Principal::of(&request)?;
        let summary = self.0.ledger_summary(&principal).await?;
        Ok(Response::new(pb::GetLedgerSummaryResponse {
            issued: summary.issued,
            redeemed: summary.redeemed,
            volunteer_balances: summary.volunteer_balances,
            total: summary.total,
            posting_count: summary.posting_count,
        }))
    }

    async fn gift_points(
        &self,
        request: Request<pb::GiftPointsRequest>,
    ) -> Result<Response<pb::GiftPointsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let from = name_in(
            &mut violations,
            "from_volunteer",
            &message.from_volunteer,
            "volunteers",
        );
        let to = name_in(
            &mut violations,
            "to_volunteer",
            &message.to_volunteer,
            "volunteers",
        );
        if !from.is_empty() && from == to {
            violations.add(
                "to_volunteer",
                "must be another volunteer than from_volunteer",
                "不能转赠给自己",
            );
        }
        bounded(&mut violations, "points", message.points, 1, MAX_GIFT);
        let memo = text(&mut violations, "memo", &message.memo, 200, false);
        required_request_id(&mut violations, &message.request_id);
        violations.into_result()?;
        let posting = self
            .0
            .gift_points(
                &principal,
                from,
                to,
                message.points,
                memo,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::GiftPointsResponse {
            posting: Some(posting_to_wire(&posting)),
        }))
    }

    async fn create_benefit(
        &self,
        request: Request<pb::CreateBenefitRequest>,
    ) -> Result<Response<pb::CreateBenefitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let benefit = benefit_required(message.benefit.as_ref())?;
        let mut violations = Violations::new();
        let org_unit = optional_name_in(
            &mut violations,
            "benefit.org_unit",
            &benefit.org_unit,
            "orgUnits",
        );
        let fields = BenefitFields {
            display_name: display_name(&mut violations, &benefit.display_name),
            description: description(&mut violations, &benefit.description),
            points_cost: points_cost(&mut violations, benefit.points_cost),
            stock: stock(&mut violations, benefit.stock),
            active: benefit.active,
        };
        optional_request_id(&mut violations, &message.request_id);
        violations.into_result()?;
        let created = self
            .0
            .create_benefit(&principal, org_unit, fields, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateBenefitResponse {
            benefit: Some(benefit_to_wire(&created)),
        }))
    }

    async fn update_benefit(
        &self,
        request: Request<pb::UpdateBenefitRequest>,
    ) -> Result<Response<pb::UpdateBenefitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let benefit = benefit_required(message.benefit.as_ref())?;
        let id = parse_name("benefit.name", &benefit.name, "benefits")?;
        let paths = mask_paths(message.update_mask.as_ref(), BENEFIT_FIELDS)?;
        let mut violations = Violations::new();
        let mut change = BenefitChange::default();
        for path in &paths {
            match path.as_str() {
                "display_name" => {
                    change.display_name =
                        Some(display_name(&mut violations, &benefit.display_name));
                }
                "description" => {
                    change.description = Some(description(&mut violations, &benefit.description));
                }
                "points_cost" => {
                    change.points_cost = Some(points_cost(&mut violations, benefit.points_cost));
                }
                "stock" => change.stock = Some(stock(&mut violations, benefit.stock)),
                "active" => change.active = Some(benefit.active),
                _ => {}
            }
        }
        if message.expected_version < 0 {
            violations.add(
                "expected_version",
                "must not be negative",
                "版本号不能为负数",
            );
        }
        violations.into_result()?;
        let updated = self
            .0
            .update_benefit(&principal, id, change, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateBenefitResponse {
            benefit: Some(benefit_to_wire(&updated)),
        }))
    }

    async fn list_benefits(
        &self,
        request: Request<pb::ListBenefitsRequest>,
    ) -> Result<Response<pb::ListBenefitsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &message.active_only.to_string(),
        )?;
        let (benefits, next_page_token) = self
            .0
            .list_benefits(&principal, message.active_only, &page)
            .await?;
        Ok(Response::new(pb::ListBenefitsResponse {
            benefits: benefits.iter().map(benefit_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn redeem_benefit(
        &self,
        request: Request<pb::RedeemBenefitRequest>,
    ) -> Result<Response<pb::RedeemBenefitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let benefit = name_in(&mut violations, "benefit", &message.benefit, "benefits");
        let volunteer = name_in(
            &mut violations,
            "volunteer",
            &message.volunteer,
            "volunteers",
        );
        bounded(
            &mut violations,
            "quantity",
            message.quantity,
            1,
            MAX_QUANTITY,
        );
        required_request_id(&mut violations, &message.request_id);
        violations.into_result()?;
        let redemption = self
            .0
            .redeem_benefit(
                &principal,
                benefit,
                volunteer,
                message.quantity,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::RedeemBenefitResponse {
            redemption: Some(redemption_to_wire(&redemption)),
        }))
    }

    async fn fulfill_redemption(
        &self,
        request: Request<pb::FulfillRedemptionRequest>,
    ) -> Result<Response<pb::FulfillRedemptionResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "redemptions")?;
        let redemption = self.0.fulfill_redemption(&principal, id).await?;
        Ok(Response::new(pb::FulfillRedemptionResponse {
            redemption: Some(redemption_to_wire(&redemption)),
        }))
    }

    async fn cancel_redemption(
        &self,
        request: Request<pb::CancelRedemptionRequest>,
    ) -> Result<Response<pb::CancelRedemptionResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let id = name_in(&mut violations, "name", &message.name, "redemptions");
        optional_request_id(&mut violations, &message.request_id);
        violations.into_result()?;
        let redemption = self
            .0
            .cancel_redemption(&principal, id, &message.request_id)
            .await?;
        Ok(Response::new(pb::CancelRedemptionResponse {
            redemption: Some(redemption_to_wire(&redemption)),
        }))
    }

    async fn list_redemptions(
        &self,
        request: Request<pb::ListRedemptionsRequest>,
    ) -> Result<Response<pb::ListRedemptionsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let volunteer = optional_name_in(
            &mut violations,
            "volunteer",
            &message.volunteer,
            "volunteers",
        );
        violations.into_result()?;
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &message.volunteer)?;
        let (redemptions, next_page_token) = self
            .0
            .list_redemptions(&principal, volunteer, &page)
            .await?;
        Ok(Response::new(pb::ListRedemptionsResponse {
            redemptions: redemptions.iter().map(redemption_to_wire).collect(),
            next_page_token,
        }))
    }
}
