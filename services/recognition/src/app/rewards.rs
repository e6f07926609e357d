//! Reward points (回馈, time bank): points follow approved hours through the activity feed,
//! volunteers give them to each other and redeem them for benefits; staff run the
//! catalogue and hand redemptions over.
//!
//! Every movement of points is one balanced posting written in the same transaction as
//! what caused it, with the running balances moved by the store under a row lock, so a
//! balance or a stock checked here cannot be spent twice by a concurrent request.

use egret_runtime::{ApiError, PageRequest, Principal, Role};
use egret_storage::{Operation, WriteTx};
use egret_sync::RecordChanges;
use egret_sync::replica;
use egret_types::CivilDate;

use super::{Recognition, Scope};
use crate::domain::access::{self, Action};
use crate::domain::ledger::{
    self, AccountBalance, Benefit, LedgerSummary, Posting, PostingBuilder, PostingKind, Redemption,
    RedemptionState,
};
use crate::domain::{HoursChange, PointsRate, names};
use crate::store;
use crate::store::benefits::{BenefitFilter, RedemptionFilter};
use crate::store::ledger::Poster;

const POSTING_TYPE: &str = "egret.recognition.v1.Posting";
const BENEFIT_TYPE: &str = "egret.recognition.v1.Benefit";
const REDEMPTION_TYPE: &str = "egret.recognition.v1.Redemption";

/// Who may see the catalogue: everyone acting in the tree except the sync role.
const SEE_BENEFITS: &[Role] = &[
    Role::Admin,
    Role::Staff,
    Role::TeamLeader,
    Role::Viewer,
    Role::Volunteer,
];

/// Who reads the ledger as a whole.
const READ_LEDGER: &[Role] = &[Role::Admin, Role::Staff, Role::Viewer];

/// The fields of a new benefit.
#[derive(Debug, Clone)]
pub struct BenefitFields {
    /// Name.
    pub display_name: String,
    /// What it is and how to collect it.
    pub description: String,
    /// Points per unit.
    pub points_cost: i64,
    /// Units in stock.
    pub stock: i64,
    /// Whether it can be redeemed now.
    pub active: bool,
}

/// The fields an UpdateBenefit changes; None leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct BenefitChange {
    /// Name.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Points per unit.
    pub points_cost: Option<i64>,
    /// Units in stock.
    pub stock: Option<i64>,
    /// Whether it can be redeemed.
    pub active: Option<bool>,
}

fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("ledger records serialize")
}

fn hours_text(minutes: i64) -> String {
    format!("{} h {} min", minutes / 60, minutes % 60)
}

fn record_posting(
    transaction: &mut WriteTx,
    posting: &Posting,
    reason: &str,
) -> Result<(), ApiError> {
    transaction.record_diff(
        POSTING_TYPE,
        ledger::posting_name(&posting.id),
        Operation::Create,
        None,
        json(posting),
        reason,
    )
}

/// Posts `posting` on the transaction under a fresh id (or `id`).
async fn post(
    transaction: &mut WriteTx,
    id: Option<String>,
    posting: PostingBuilder,
    actor: &str,
) -> Result<Posting, ApiError> {
    let balanced = posting.build()?;
    let id = id.unwrap_or_else(egret_storage::new_id);
    let origin = transaction.origin().to_string();
    let now = transaction.now();
    store::ledger::post(
        transaction.conn(),
        &id,
        &balanced,
        Poster {
            actor,
            origin_instance: &origin,
            now,
        },
    )
    .await
}

/// FAILED_PRECONDITION when `posting` left the volunteer's account below zero: the store
/// moved the balance under a row lock, so the line's balance is exact even when another
/// request spent points at the same moment, and returning the error rolls the posting back.
fn check_covered(posting: &Posting, volunteer_id: &str) -> Result<(), ApiError> {
    let account = ledger::volunteer_account(volunteer_id);
    let Some(line) = posting.line(&account) else {
        return Ok(());
    };
    if line.balance_after >= 0 {
        return Ok(());
    }
    let had = line.balance_after - line.points;
    let needed = -line.points;
    Err(ApiError::failed_precondition(
        format!("{account} has {had} points, fewer than the {needed} needed"),
        format!("积分余额 {had} 分，不足 {needed} 分"),
    ))
}

impl Recognition {
    /// A volunteer the caller may read the points of: the volunteer itself, or one serving
    /// in the caller's subtree for the roles that read rewards. Catches up first, so hours
    /// approved a moment ago count.
    async fn rewards_volunteer(
        &self,
        principal: &Principal,
        volunteer_id: &str,
    ) -> Result<(), ApiError> {
        access::require_unless_self(principal, Action::ReadRewards, volunteer_id)?;
        let scope = self.scope(principal).await?;
        self.catch_up().await?;
        self.volunteer_for(principal, &scope, volunteer_id).await?;
        Ok(())
    }

    /// A volunteer's balance and its running totals.
    pub async fn get_balance(
        &self,
        principal: &Principal,
        volunteer_id: &str,
    ) -> Result<AccountBalance, ApiError> {
        self.rewards_volunteer(principal, volunteer_id).await?;
        store::ledger::balance(
            self.database.reader(),
            &ledger::volunteer_account(volunteer_id),
        )
        .await
    }

    /// An account's statement, newest first: a volunteer's (as for its balance), or a
    /// system account's (admins).
    pub async fn list_postings(
        &self,
        principal: &Principal,
        account: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Posting>, String), ApiError> {
        match ledger::account_volunteer(account) {
            Some(volunteer_id) => self.rewards_volunteer(principal, volunteer_id).await?,
            None => {
                principal.require_any(&[Role::Admin], "reading the ledger's system accounts")?;
                self.catch_up().await?;
            }
        }
        let mut conn = self
            .database
            .reader()
            .acquire()
            .await
            .map_err(egret_storage::rows::sql_error("posting"))?;
        // Keyed by the line's place in the account, not by posting id: on PostgreSQL
        // concurrent postings take account locks in another order than their ids.
        let before = match page.after.as_deref() {
            Some(after) => after
                .parse::<i64>()
                .ok()
                .filter(|place| *place > 0)
                .ok_or_else(|| ApiError::invalid("page_token", "is not valid", "分页标记无效"))?,
            None => 0,
        };
        let mut rows =
            store::ledger::statement(&mut conn, account, before, page.fetch_limit()).await?;
        let token = page.finish(&mut rows, |(place, _)| place.to_string());
        Ok((
            rows.into_iter().map(|(_, posting)| posting).collect(),
            token,
        ))
    }

    /// The trial balance of the whole ledger.
    pub async fn ledger_summary(&self, principal: &Principal) -> Result<LedgerSummary, ApiError> {
        principal.require_any(READ_LEDGER, "reading the ledger summary")?;
        self.catch_up().await?;
        store::ledger::summary(self.database.reader()).await
    }

    /// Gives points from the calling volunteer to another active one. A retry with the
    /// same request id answers with the first posting and posts nothing.
    pub async fn gift_points(
        &self,
        principal: &Principal,
        from_volunteer: &str,
        to_volunteer: &str,
        points: i64,
        memo: String,
        request_id: &str,
    ) -> Result<Posting, ApiError> {
        if !access::is_self(principal, from_volunteer) {
            return Err(ApiError::permission_denied(
                "only the giving volunteer can give its points",
                "只有志愿者本人可以转赠自己的积分",
            ));
        }
        // Hours approved a moment ago count towards the balance given from.
        self.catch_up().await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction.claim_request("GiftPoints", request_id).await? {
            drop(transaction);
            return self.posting(existing.trim_start_matches("postings/")).await;
        }
        let receiver = store::replica::volunteer(transaction.conn(), to_volunteer)
            .await?
            .ok_or_else(|| ApiError::not_found(names::volunteer(to_volunteer)))?;
        if !receiver.is_active() {
            return Err(ApiError::failed_precondition(
                format!("{} is not active", names::volunteer(to_volunteer)),
                "接收积分的志愿者不是在册状态",
            ));
        }
        let posting = post(
            &mut transaction,
            None,
            PostingBuilder::transfer(
                PostingKind::Gift,
                &ledger::volunteer_account(from_volunteer),
                &ledger::volunteer_account(to_volunteer),
                points,
            )
            .memo(memo),
            &principal.subject,
        )
        .await?;
        check_covered(&posting, from_volunteer)?;
        record_posting(&mut transaction, &posting, "gift")?;
        transaction
            .finish_request(request_id, &ledger::posting_name(&posting.id))
            .await?;
        transaction.commit().await?;
        Ok(posting)
    }

    async fn posting(&self, id: &str) -> Result<Posting, ApiError> {
        let mut conn = self
            .database
            .reader()
            .acquire()
            .await
            .map_err(egret_storage::rows::sql_error("posting"))?;
        store::ledger::get(&mut conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found(ledger::posting_name(id)))
    }

    /// Whether the caller sees a benefit: one offered by its unit or an ancestor (to
    /// volunteers: what they can redeem), or, for the roles that read rewards, by a unit in
    /// its subtree.
    async fn sees_benefit(
        &self,
        principal: &Principal,
        scope: &Scope,
        benefit: &Benefit,
    ) -> Result<bool, ApiError> {
        let Some(unit) = self.unit(&benefit.org_unit_id).await? else {
            return Ok(false);
        };
        let ancestor = scope.root.path.starts_with(&unit.path);
        let below = principal.has_any(Action::ReadRewards.roles()) && scope.contains(&unit);
        Ok(ancestor || below)
    }

    /// A benefit the caller sees, or NOT_FOUND exactly as for one that does not exist.
    pub async fn get_benefit(&self, principal: &Principal, id: &str) -> Result<Benefit, ApiError> {
        principal.require_any(SEE_BENEFITS, "reading benefits")?;
        let scope = self.scope(principal).await?;
        let not_found = || ApiError::not_found(ledger::benefit_name(id));
        let benefit = store::benefits::get_benefit(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if self.sees_benefit(principal, &scope, &benefit).await? {
            Ok(benefit)
        } else {
            Err(not_found())
        }
    }

    /// Adds a benefit offered by `org_unit_id` (the caller's own unit when None).
    pub async fn create_benefit(
        &self,
        principal: &Principal,
        org_unit_id: Option<&str>,
        fields: BenefitFields,
        request_id: &str,
    ) -> Result<Benefit, ApiError> {
        access::require(principal, Action::ManageBenefits)?;
        let scope = self.scope(principal).await?;
        let unit = self.unit_or_own(&scope, org_unit_id).await?;
        if !unit.is_active() {
            return Err(ApiError::failed_precondition(
                format!("{} is not active", names::org_unit(&unit.id)),
                "该组织不是正常状态，不能发布回馈物品",
            ));
        }
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateBenefit", request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_benefit(principal, existing.trim_start_matches("benefits/"))
                .await;
        }
        let benefit = Benefit {
            id: egret_storage::new_id(),
            org_unit_id: unit.id,
            display_name: fields.display_name,
            description: fields.description,
            points_cost: fields.points_cost,
            stock: fields.stock,
            active: fields.active,
            meta: transaction.new_meta(),
        };
        store::benefits::insert_benefit(transaction.conn(), &benefit).await?;
        transaction.record_diff(
            BENEFIT_TYPE,
            ledger::benefit_name(&benefit.id),
            Operation::Create,
            None,
            json(&benefit),
            "",
        )?;
        transaction
            .finish_request(request_id, &ledger::benefit_name(&benefit.id))
            .await?;
        transaction.commit().await?;
        Ok(benefit)
    }

    /// A benefit the caller manages: offered by a unit in its subtree. One offered above
    /// it is visible but not the caller's to change.
    async fn benefit_to_manage(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Benefit, ApiError> {
        access::require(principal, Action::ManageBenefits)?;
        let benefit = self.get_benefit(principal, id).await?;
        let scope = self.scope(principal).await?;
        if self
            .visible_unit(&scope, &benefit.org_unit_id)
            .await
            .is_err()
        {
            return Err(ApiError::permission_denied(
                format!(
                    "{} is offered by {}, above your unit; its staff manage it",
                    ledger::benefit_name(id),
                    names::org_unit(&benefit.org_unit_id)
                ),
                "该回馈物品由上级组织发布，只能由其管理",
            ));
        }
        Ok(benefit)
    }

    /// Changes a benefit's fields.
    pub async fn update_benefit(
        &self,
        principal: &Principal,
        id: &str,
        change: BenefitChange,
        expected_version: i64,
    ) -> Result<Benefit, ApiError> {
        self.benefit_to_manage(principal, id).await?;
        let mut transaction = self.begin(principal).await?;
        let name = ledger::benefit_name(id);
        let before = store::benefits::get_benefit(transaction.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found(&name))?;
        egret_storage::check_version(&name, expected_version, before.meta.version)?;
        egret_storage::ensure_origin(&before.meta, &self.instance_id, &name)?;
        let mut after = before.clone();
        if let Some(display_name) = change.display_name {
            after.display_name = display_name;
        }
        if let Some(description) = change.description {
            after.description = description;
        }
        if let Some(points_cost) = change.points_cost {
            after.points_cost = points_cost;
        }
        if let Some(stock) = change.stock {
            after.stock = stock;
        }
        if let Some(active) = change.active {
            after.active = active;
        }
        if after == before {
            return Ok(before);
        }
        egret_storage::touch(&mut after.meta, transaction.now());
        if !store::benefits::update_benefit(transaction.conn(), &after, before.meta.version).await?
        {
            return Err(egret_storage::changed_concurrently(&name));
        }
        transaction.record_diff(
            BENEFIT_TYPE,
            name,
            Operation::Update,
            Some(&json(&before)),
            json(&after),
            "",
        )?;
        transaction.commit().await?;
        Ok(after)
    }

    /// Benefits offered by the caller's unit and its ancestors, and (for the roles that
    /// read rewards) by units in its subtree, oldest first.
    pub async fn list_benefits(
        &self,
        principal: &Principal,
        active_only: bool,
        page: &PageRequest,
    ) -> Result<(Vec<Benefit>, String), ApiError> {
        principal.require_any(SEE_BENEFITS, "reading benefits")?;
        let scope = self.scope(principal).await?;
        let (low, high) = if principal.has_any(Action::ReadRewards.roles()) {
            scope.bounds()
        } else {
            (String::new(), String::new())
        };
        let mut rows = store::benefits::list_benefits(
            self.database.reader(),
            &BenefitFilter {
                own_path: &scope.root.path,
                subtree: (&low, &high),
                active_only,
            },
            page.after.as_deref().unwrap_or(""),
            page.fetch_limit(),
        )
        .await?;
        let token = page.finish(&mut rows, |benefit| benefit.id.clone());
        Ok((rows, token))
    }

    /// Redeems `quantity` units of a benefit with a volunteer's points: the stock and the
    /// balance are checked and taken in one transaction. A retry with the same request id
    /// answers with the first redemption and posts nothing.
    pub async fn redeem_benefit(
        &self,
        principal: &Principal,
        benefit_id: &str,
        volunteer_id: &str,
        quantity: i64,
        request_id: &str,
    ) -> Result<Redemption, ApiError> {
        access::require_unless_self(principal, Action::ManageBenefits, volunteer_id)?;
        let scope = self.scope(principal).await?;
        // Hours approved a moment ago count towards the balance redeemed from.
        self.catch_up().await?;
        let volunteer = self.volunteer_for(principal, &scope, volunteer_id).await?;
        // Checked before the transaction begins: finding a unit may catch up with the
        // registry, which writes, and on SQLite the one writer would be this transaction.
        let found = self.get_benefit(principal, benefit_id).await?;
        let benefit_name = ledger::benefit_name(benefit_id);
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("RedeemBenefit", request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_redemption(principal, existing.trim_start_matches("redemptions/"))
                .await;
        }
        // The stock first, then the accounts: every use case takes the benefit's row lock
        // before the accounts' so that none can deadlock with another on PostgreSQL.
        let now = transaction.now();
        let Some(after) =
            store::benefits::take_stock(transaction.conn(), benefit_id, quantity, now).await?
        else {
            return Err(if !found.active {
                ApiError::failed_precondition(
                    format!("{benefit_name} is not offered now"),
                    "该回馈物品已下架",
                )
            } else {
                let left = store::benefits::get_benefit(transaction.conn(), benefit_id)
                    .await?
                    .map_or(0, |benefit| benefit.stock);
                ApiError::failed_precondition(
                    format!("{benefit_name} has {left} left, fewer than the {quantity} asked for"),
                    format!("库存仅剩 {left} 件，不足 {quantity} 件"),
                )
            });
        };
        // The cost as of the stock's row lock, not as read before: a price changed a moment
        // ago applies.
        let Some(points) = ledger::redemption_cost(after.points_cost, quantity) else {
            return Err(ApiError::invalid(
                "quantity",
                format!("would cost more than {} points", ledger::MAX_POINTS),
                format!("兑换所需积分超过 {} 分", ledger::MAX_POINTS),
            ));
        };
        let mut before = after.clone();
        before.stock += quantity;
        before.meta.version -= 1;
        before.meta.update_time = found.meta.update_time;
        let redemption_id = egret_storage::new_id();
        let posting = post(
            &mut transaction,
            None,
            PostingBuilder::transfer(
                PostingKind::Redeem,
                &ledger::volunteer_account(volunteer_id),
                ledger::REDEMPTION,
                points,
            )
            .source(ledger::redemption_name(&redemption_id))
            .memo(format!("{} × {quantity}", after.display_name)),
            &principal.subject,
        )
        .await?;
        check_covered(&posting, volunteer_id)?;
        let redemption = Redemption {
            id: redemption_id,
            benefit_id: after.id.clone(),
            benefit_display_name: after.display_name.clone(),
            benefit_org_unit_id: after.org_unit_id.clone(),
            volunteer_id: volunteer.id,
            quantity,
            points,
            state: RedemptionState::Redeemed,
            posting_id: posting.id.clone(),
            refund_posting_id: String::new(),
            meta: transaction.new_meta(),
        };
        store::benefits::insert_redemption(transaction.conn(), &redemption).await?;
        transaction.record_diff(
            BENEFIT_TYPE,
            benefit_name,
            Operation::Update,
            Some(&json(&before)),
            json(&after),
            "redeemed",
        )?;
        record_posting(&mut transaction, &posting, "redeemed")?;
        transaction.record_diff(
            REDEMPTION_TYPE,
            ledger::redemption_name(&redemption.id),
            Operation::Create,
            None,
            json(&redemption),
            "redeemed",
        )?;
        transaction
            .finish_request(request_id, &ledger::redemption_name(&redemption.id))
            .await?;
        transaction.commit().await?;
        Ok(redemption)
    }

    /// A redemption the caller may see: its own, one of a benefit offered in its subtree,
    /// or one of a volunteer serving there.
    pub async fn get_redemption(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Redemption, ApiError> {
        let not_found = || ApiError::not_found(ledger::redemption_name(id));
        let redemption = store::benefits::get_redemption(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        if access::is_self(principal, &redemption.volunteer_id) {
            return Ok(redemption);
        }
        if !principal.has_any(Action::ReadRewards.roles()) {
            return Err(not_found());
        }
        let scope = self.scope(principal).await?;
        if self
            .visible_unit(&scope, &redemption.benefit_org_unit_id)
            .await
            .is_ok()
        {
            return Ok(redemption);
        }
        let (low, high) = scope.bounds();
        if replica::serves_in(
            self.database.reader(),
            &redemption.volunteer_id,
            (&low, &high),
        )
        .await?
        {
            return Ok(redemption);
        }
        Err(not_found())
    }

    /// A redemption the caller may hand over or cancel for a volunteer: staff of the unit
    /// that offered the benefit (or above it).
    async fn redemption_to_manage(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Redemption, ApiError> {
        access::require(principal, Action::ManageBenefits)?;
        let redemption = self.get_redemption(principal, id).await?;
        let scope = self.scope(principal).await?;
        if self
            .visible_unit(&scope, &redemption.benefit_org_unit_id)
            .await
            .is_err()
        {
            return Err(ApiError::permission_denied(
                format!(
                    "{} is handled by {}, which offered the benefit",
                    ledger::redemption_name(id),
                    names::org_unit(&redemption.benefit_org_unit_id)
                ),
                "该兑换由发布回馈物品的组织处理",
            ));
        }
        Ok(redemption)
    }

    /// Marks a redemption handed over.
    pub async fn fulfill_redemption(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<Redemption, ApiError> {
        self.redemption_to_manage(principal, id).await?;
        let mut transaction = self.begin(principal).await?;
        let name = ledger::redemption_name(id);
        let before = store::benefits::get_redemption(transaction.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found(&name))?;
        before.check_open()?;
        let mut after = before.clone();
        after.state = RedemptionState::Fulfilled;
        egret_storage::touch(&mut after.meta, transaction.now());
        if !store::benefits::update_redemption(transaction.conn(), &after, before.meta.version)
            .await?
        {
            return Err(egret_storage::changed_concurrently(&name));
        }
        transaction.record_diff(
            REDEMPTION_TYPE,
            name,
            Operation::Update,
            Some(&json(&before)),
            json(&after),
            "handed over",
        )?;
        transaction.commit().await?;
        Ok(after)
    }

    /// Cancels a redemption not yet handed over: the volunteer's points are refunded and
    /// the stock restored. A retry with the same request id answers with the redemption
    /// and refunds nothing twice.
    pub async fn cancel_redemption(
        &self,
        principal: &Principal,
        id: &str,
        request_id: &str,
    ) -> Result<Redemption, ApiError> {
        let found = self.get_redemption(principal, id).await?;
        if !access::is_self(principal, &found.volunteer_id) {
            self.redemption_to_manage(principal, id).await?;
        }
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CancelRedemption", request_id)
            .await?
        {
            drop(transaction);
            return self
                .get_redemption(principal, existing.trim_start_matches("redemptions/"))
                .await;
        }
        let name = ledger::redemption_name(id);
        let before = store::benefits::get_redemption(transaction.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found(&name))?;
        before.check_open()?;
        let refund_id = egret_storage::new_id();
        let mut after = before.clone();
        after.state = RedemptionState::Cancelled;
        after.refund_posting_id = refund_id.clone();
        egret_storage::touch(&mut after.meta, transaction.now());
        // The redemption's row first: a concurrent cancel waits here and then finds the
        // version moved on, so the points are refunded once.
        if !store::benefits::update_redemption(transaction.conn(), &after, before.meta.version)
            .await?
        {
            return Err(egret_storage::changed_concurrently(&name));
        }
        // Then the stock, before the accounts (the order every use case takes them in).
        let now = transaction.now();
        let restored = store::benefits::restore_stock(
            transaction.conn(),
            &before.benefit_id,
            before.quantity,
            now,
        )
        .await?;
        let posting = post(
            &mut transaction,
            Some(refund_id),
            PostingBuilder::transfer(
                PostingKind::Refund,
                ledger::REDEMPTION,
                &ledger::volunteer_account(&before.volunteer_id),
                before.points,
            )
            .source(name.clone())
            .memo(format!(
                "{} × {} cancelled",
                before.benefit_display_name, before.quantity
            )),
            &principal.subject,
        )
        .await?;
        transaction.record_diff(
            REDEMPTION_TYPE,
            name.clone(),
            Operation::Update,
            Some(&json(&before)),
            json(&after),
            "cancelled",
        )?;
        if let Some(benefit) = restored {
            let mut previous = benefit.clone();
            previous.stock -= before.quantity;
            previous.meta.version -= 1;
            transaction.record_diff(
                BENEFIT_TYPE,
                ledger::benefit_name(&benefit.id),
                Operation::Update,
                Some(&json(&previous)),
                json(&benefit),
                "redemption cancelled",
            )?;
        }
        record_posting(&mut transaction, &posting, "redemption cancelled")?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(after)
    }

    /// Redemptions newest first: one volunteer's (the volunteer itself, or the roles that
    /// read rewards for one serving in their subtree), or, without a volunteer, those of
    /// benefits offered in the caller's subtree.
    pub async fn list_redemptions(
        &self,
        principal: &Principal,
        volunteer_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<Redemption>, String), ApiError> {
        let before = page.after.as_deref().unwrap_or("");
        let mut rows = match volunteer_id {
            Some(volunteer_id) => {
                access::require_unless_self(principal, Action::ReadRewards, volunteer_id)?;
                let scope = self.scope(principal).await?;
                self.volunteer_for(principal, &scope, volunteer_id).await?;
                store::benefits::list_redemptions(
                    self.database.reader(),
                    RedemptionFilter::Volunteer(volunteer_id),
                    before,
                    page.fetch_limit(),
                )
                .await?
            }
            None => {
                access::require(principal, Action::ReadRewards)?;
                let scope = self.scope(principal).await?;
                let (low, high) = scope.bounds();
                store::benefits::list_redemptions(
                    self.database.reader(),
                    RedemptionFilter::Subtree(&low, &high),
                    before,
                    page.fetch_limit(),
                )
                .await?
            }
        };
        let token = page.finish(&mut rows, |redemption| redemption.id.clone());
        Ok((rows, token))
    }
}

/// Moves the points of the days `change` touched to what their approved minutes earn now.
///
/// Each day's target is what the day's approved minutes earn under `rate` (capped per
/// day), whatever records they come from; `earned_points` holds what was credited for the
/// day, and only the difference is posted (EARN up, REVERSE down). So applying a change
/// twice posts nothing the second time, several records of one day share the cap, and a
/// record corrected downward or sent back to review takes exactly its points back.
///
/// Points follow hours whether or not the volunteer is active or known to the replica yet:
/// the registry's feed may lag behind the activity's, and a skipped day would never be
/// posted later.
pub async fn follow_hours(
    transaction: &mut WriteTx,
    rate: PointsRate,
    change: &HoursChange,
) -> Result<(), ApiError> {
    let volunteer_id = &change.volunteer_id;
    for day in change.days() {
        let minutes =
            store::replica::approved_minutes_on(transaction.conn(), volunteer_id, day).await?;
        let target = rate.points_for(minutes);
        let credited = store::ledger::earned_points(transaction.conn(), volunteer_id, day).await?;
        if target == credited {
            continue;
        }
        let account = ledger::volunteer_account(volunteer_id);
        let posting = if target > credited {
            PostingBuilder::transfer(
                PostingKind::Earn,
                ledger::ISSUANCE,
                &account,
                target - credited,
            )
        } else {
            PostingBuilder::transfer(
                PostingKind::Reverse,
                &account,
                ledger::ISSUANCE,
                credited - target,
            )
        }
        .source(names::service_record(&change.record_id))
        .memo(day_memo(day, minutes, target));
        let posting = post(transaction, None, posting, crate::feeds::ACTOR).await?;
        store::ledger::set_earned_points(transaction.conn(), volunteer_id, day, target).await?;
        let reason = match posting.kind {
            PostingKind::Earn => "hours approved",
            _ => "hours reversed or corrected",
        };
        record_posting(transaction, &posting, reason)?;
    }
    Ok(())
}

fn day_memo(day: CivilDate, minutes: i64, points: i64) -> String {
    format!(
        "{day}: {} approved, {points} points for the day",
        hours_text(minutes)
    )
}
