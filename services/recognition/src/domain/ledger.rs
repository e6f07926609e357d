//! 回馈 (time bank): a double-entry ledger of reward points, and the benefits catalogue
//! points are redeemed from.
//!
//! Every posting moves points between accounts and its lines sum to zero, so the whole
//! ledger always sums to zero: points a volunteer earns come out of the issuance account
//! (whose balance is minus everything issued), points redeemed go into the redemption
//! account. A [`PostingBuilder`] is the only way to make a [`BalancedPosting`], so an
//! unbalanced posting cannot reach the store.

use egret_runtime::ApiError;
use egret_types::Meta;
use serde::Serialize;

/// The issuance account: every earned point comes from here, so its balance is minus the
/// points issued.
pub const ISSUANCE: &str = "accounts/issuance";
/// The redemption account: every redeemed point goes here.
pub const REDEMPTION: &str = "accounts/redemption";

/// Points on a single line, redemption or gift are bounded so that no sum of them can
/// overflow an i64 in practice.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// `volunteers/{id}`: a volunteer's account, named like the volunteer.
pub fn volunteer_account(volunteer_id: &str) -> String {
    super::names::volunteer(volunteer_id)
}

/// The volunteer behind an account name, None for a system account or anything else.
pub fn account_volunteer(account: &str) -> Option<&str> {
    account.strip_prefix("volunteers/")
}

/// Whether `account` is one of the two system accounts.
pub fn is_system_account(account: &str) -> bool {
    account == ISSUANCE || account == REDEMPTION
}

/// `postings/{id}`.
pub fn posting_name(id: &str) -> String {
    format!("postings/{id}")
}

/// `benefits/{id}`.
pub fn benefit_name(id: &str) -> String {
    format!("benefits/{id}")
}

/// `redemptions/{id}`.
pub fn redemption_name(id: &str) -> String {
    format!("redemptions/{id}")
}

/// What a posting does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingKind {
    /// Points earned by approved service hours.
    Earn = 1,
    /// Points taken back because hours were reversed or corrected.
    Reverse = 2,
    /// Points spent on a benefit.
    Redeem = 3,
    /// Points given back when a redemption is cancelled.
    Refund = 4,
    /// Points given by one volunteer to another.
    Gift = 5,
}

impl PostingKind {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(PostingKind::Earn),
            2 => Some(PostingKind::Reverse),
            3 => Some(PostingKind::Redeem),
            4 => Some(PostingKind::Refund),
            5 => Some(PostingKind::Gift),
            _ => None,
        }
    }

    /// How a line of this kind moves an account's running totals, as
    /// `(earned, redeemed, gifted)` deltas. Chosen so that balance = earned − redeemed −
    /// gifted holds for every account after every posting.
    pub fn bucket_deltas(self, points: i64) -> (i64, i64, i64) {
        match self {
            PostingKind::Earn | PostingKind::Reverse => (points, 0, 0),
            PostingKind::Redeem | PostingKind::Refund => (0, -points, 0),
            PostingKind::Gift => (0, 0, -points),
        }
    }
}

/// One line of a stored posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostingLine {
    /// `volunteers/{id}`, [`ISSUANCE`] or [`REDEMPTION`].
    pub account: String,
    /// Positive adds to the account, negative takes from it.
    pub points: i64,
    /// The account's balance right after this line.
    pub balance_after: i64,
}

/// A posting as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posting {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: PostingKind,
    /// The lines, in order; they sum to zero.
    pub lines: Vec<PostingLine>,
    /// What caused it (`serviceRecords/…`, `redemptions/…`, or empty for a gift).
    pub source: String,
    /// A note.
    pub memo: String,
    /// Who posted it.
    pub actor: String,
    /// When (microseconds).
    pub post_time: i64,
    /// The instance it was posted on.
    pub origin_instance: String,
}

impl Posting {
    /// The line of `account`, if the posting touches it.
    pub fn line(&self, account: &str) -> Option<&PostingLine> {
        self.lines.iter().find(|line| line.account == account)
    }
}

/// Why a posting could not be built. Each is a bug in the caller, not bad input: use cases
/// check the amounts they are given before they post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// Fewer than two lines.
    TooFewLines,
    /// A line of zero points.
    ZeroLine(String),
    /// An account appears twice.
    RepeatedAccount(String),
    /// A line beyond [`MAX_POINTS`].
    TooLarge(String),
    /// The lines do not sum to zero; the sum.
    Unbalanced(i64),
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerError::TooFewLines => write!(formatter, "a posting needs at least two lines"),
            LedgerError::ZeroLine(account) => {
                write!(formatter, "a line of {account} has zero points")
            }
            LedgerError::RepeatedAccount(account) => {
                write!(formatter, "{account} appears on two lines of one posting")
            }
            LedgerError::TooLarge(account) => {
                write!(formatter, "a line of {account} exceeds {MAX_POINTS} points")
            }
            LedgerError::Unbalanced(sum) => {
                write!(formatter, "the lines sum to {sum}, not zero")
            }
        }
    }
}

impl std::error::Error for LedgerError {}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        ApiError::Internal(anyhow::anyhow!("refused posting: {error}"))
    }
}

/// A posting whose lines were checked to balance, ready for the store. Only
/// [`PostingBuilder::build`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalancedPosting {
    kind: PostingKind,
    lines: Vec<(String, i64)>,
    source: String,
    memo: String,
}

impl BalancedPosting {
    /// Kind.
    pub fn kind(&self) -> PostingKind {
        self.kind
    }

    /// `(account, points)` in order.
    pub fn lines(&self) -> &[(String, i64)] {
        &self.lines
    }

    /// What caused it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The note.
    pub fn memo(&self) -> &str {
        &self.memo
    }
}

/// Builds a posting line by line and refuses one that does not balance.
#[derive(Debug, Clone)]
pub struct PostingBuilder {
    kind: PostingKind,
    lines: Vec<(String, i64)>,
    source: String,
    memo: String,
}

impl PostingBuilder {
    /// An empty posting of `kind`.
    pub fn new(kind: PostingKind) -> Self {
        Self {
            kind,
            lines: Vec::new(),
            source: String::new(),
            memo: String::new(),
        }
    }

    /// A posting of `kind` moving `points` from one account to another: the common case.
    pub fn transfer(kind: PostingKind, from: &str, to: &str, points: i64) -> Self {
        Self::new(kind).line(from, -points).line(to, points)
    }

    /// Adds a line.
    pub fn line(mut self, account: &str, points: i64) -> Self {
        self.lines.push((account.to_string(), points));
        self
    }

    /// Sets what caused the posting.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets the note.
    pub fn memo(mut self, memo: impl Into<String>) -> Self {
        self.memo = memo.into();
        self
    }

    /// The posting, if its lines balance.
    pub fn build(self) -> Result<BalancedPosting, LedgerError> {
        if self.lines.len() < 2 {
            return Err(LedgerError::TooFewLines);
        }
        let mut sum: i64 = 0;
        for (index, (account, points)) in self.lines.iter().enumerate() {
            if *points == 0 {
                return Err(LedgerError::ZeroLine(account.clone()));
            }
            if points.unsigned_abs() > MAX_POINTS as u64 {
                return Err(LedgerError::TooLarge(account.clone()));
            }
            if self.lines[..index].iter().any(|(seen, _)| seen == account) {
                return Err(LedgerError::RepeatedAccount(account.clone()));
            }
            // Cannot overflow: at most a handful of lines, each bounded by MAX_POINTS.
            sum += points;
        }
        if sum != 0 {
            return Err(LedgerError::Unbalanced(sum));
        }
        Ok(BalancedPosting {
            kind: self.kind,
            lines: self.lines,
            source: self.source,
            memo: self.memo,
        })
    }
}

/// An account's running totals. balance = earned − redeemed − gifted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountBalance {
    /// Points now.
    pub balance: i64,
    /// Net of earnings and reversals.
    pub earned: i64,
    /// Net of redemptions and refunds.
    pub redeemed: i64,
    /// Given to others, net of those received.
    pub gifted: i64,
}

/// The ledger's trial balance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Points issued (the issuance account's balance, negated).
    pub issued: i64,
    /// Points redeemed (the redemption account's balance).
    pub redeemed: i64,
    /// The sum of every volunteer account.
    pub volunteer_balances: i64,
    /// The sum of every line: zero unless the ledger is damaged.
    pub total: i64,
    /// How many postings.
    pub posting_count: i64,
}

/// A benefit in the catalogue (回馈物品或服务).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Benefit {
    /// Id.
    pub id: String,
    /// The unit that offers it.
    pub org_unit_id: String,
    /// Name.
    pub display_name: String,
    /// What it is and how to collect it.
    pub description: String,
    /// Points per unit.
    pub points_cost: i64,
    /// Units left.
    pub stock: i64,
    /// Whether it can be redeemed now.
    pub active: bool,
    /// Bookkeeping.
    pub meta: Meta,
}

/// The life of a redemption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionState {
    /// Paid, waiting to be handed over.
    Redeemed = 1,
    /// Handed over.
    Fulfilled = 2,
    /// Cancelled; points refunded and stock restored.
    Cancelled = 3,
}

impl RedemptionState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(RedemptionState::Redeemed),
            2 => Some(RedemptionState::Fulfilled),
            3 => Some(RedemptionState::Cancelled),
            _ => None,
        }
    }
}

/// A redemption of a benefit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redemption {
    /// Id.
    pub id: String,
    /// The benefit.
    pub benefit_id: String,
    /// Its name when redeemed.
    pub benefit_display_name: String,
    /// The unit that offered it, kept so staff of that subtree find the redemption.
    pub benefit_org_unit_id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// Units.
    pub quantity: i64,
    /// Points spent.
    pub points: i64,
    /// State.
    pub state: RedemptionState,
    /// The posting that paid for it.
    pub posting_id: String,
    /// The posting that refunded it ('' unless cancelled).
    pub refund_posting_id: String,
    /// Bookkeeping.
    pub meta: Meta,
}

impl Redemption {
    /// Checks that the redemption can still be handed over or cancelled: only a paid one
    /// that is neither handed over nor cancelled.
    pub fn check_open(&self) -> Result<(), ApiError> {
        match self.state {
            RedemptionState::Redeemed => Ok(()),
            RedemptionState::Fulfilled => Err(ApiError::failed_precondition(
                format!("{} was handed over already", redemption_name(&self.id)),
                "该兑换已交付，不能再交付或取消",
            )),
            RedemptionState::Cancelled => Err(ApiError::failed_precondition(
                format!("{} was cancelled already", redemption_name(&self.id)),
                "该兑换已取消",
            )),
        }
    }
}

/// The points `quantity` units of a benefit cost, or None when that would exceed
/// [`MAX_POINTS`].
pub fn redemption_cost(points_cost: i64, quantity: i64) -> Option<i64> {
    points_cost
        .checked_mul(quantity)
        .filter(|points| (1..=MAX_POINTS).contains(points))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PointsRate;

    #[test]
    fn a_transfer_balances() {
        let posting = PostingBuilder::transfer(PostingKind::Earn, ISSUANCE, "volunteers/a", 80)
            .source("serviceRecords/r")
            .memo("day")
            .build()
            .expect("balances");
        assert_eq!(
            posting.lines(),
            [
                (ISSUANCE.to_string(), -80),
                ("volunteers/a".to_string(), 80)
            ]
        );
        assert_eq!(posting.kind(), PostingKind::Earn);
        assert_eq!(posting.source(), "serviceRecords/r");
        assert_eq!(posting.memo(), "day");
    }

    #[test]
    fn unbalanced_postings_are_refused() {
        let unbalanced = PostingBuilder::new(PostingKind::Gift)
            .line("volunteers/a", -10)
            .line("volunteers/b", 9)
            .build();
        assert_eq!(unbalanced, Err(LedgerError::Unbalanced(-1)));
        assert_eq!(
            PostingBuilder::new(PostingKind::Earn)
                .line(ISSUANCE, 0)
                .build(),
            Err(LedgerError::TooFewLines)
        );
        assert_eq!(
            PostingBuilder::transfer(PostingKind::Earn, ISSUANCE, "volunteers/a", 0).build(),
            Err(LedgerError::ZeroLine(ISSUANCE.to_string()))
        );
        assert_eq!(
            PostingBuilder::transfer(PostingKind::Gift, "volunteers/a", "volunteers/a", 5).build(),
            Err(LedgerError::RepeatedAccount("volunteers/a".to_string()))
        );
        assert_eq!(
            PostingBuilder::transfer(PostingKind::Earn, ISSUANCE, "volunteers/a", MAX_POINTS + 1)
                .build(),
            Err(LedgerError::TooLarge(ISSUANCE.to_string()))
        );
        // Three lines may balance too.
        assert!(
            PostingBuilder::new(PostingKind::Redeem)
                .line("volunteers/a", -10)
                .line(REDEMPTION, 7)
                .line(ISSUANCE, 3)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn buckets_keep_balance_equal_to_earned_minus_redeemed_minus_gifted() {
        let mut totals = AccountBalance::default();
        for (kind, points) in [
            (PostingKind::Earn, 80),
            (PostingKind::Reverse, -30),
            (PostingKind::Redeem, -20),
            (PostingKind::Refund, 5),
            (PostingKind::Gift, -10),
            (PostingKind::Gift, 4),
        ] {
            let (earned, redeemed, gifted) = kind.bucket_deltas(points);
            totals.balance += points;
            totals.earned += earned;
            totals.redeemed += redeemed;
            totals.gifted += gifted;
        }
        assert_eq!(
            totals,
            AccountBalance {
                balance: 29,
                earned: 50,
                redeemed: 15,
                gifted: 6
            }
        );
        assert_eq!(
            totals.balance,
            totals.earned - totals.redeemed - totals.gifted
        );
    }

    #[test]
    fn kinds_and_states_round_trip() {
        for number in 1..=5 {
            assert_eq!(
                PostingKind::from_number(number).map(|kind| kind as i64),
                Some(number)
            );
        }
        assert_eq!(PostingKind::from_number(6), None);
        for number in 1..=3 {
            assert_eq!(
                RedemptionState::from_number(number).map(|state| state as i64),
                Some(number)
            );
        }
        assert_eq!(RedemptionState::from_number(0), None);
    }

    #[test]
    fn accounts_are_named() {
        assert_eq!(volunteer_account("v1"), "volunteers/v1");
        assert_eq!(account_volunteer("volunteers/v1"), Some("v1"));
        assert_eq!(account_volunteer(ISSUANCE), None);
        assert!(is_system_account(ISSUANCE) && is_system_account(REDEMPTION));
        assert!(!is_system_account("volunteers/v1"));
    }

    #[test]
    fn costs_are_bounded() {
        assert_eq!(redemption_cost(30, 2), Some(60));
        assert_eq!(redemption_cost(MAX_POINTS, 2), None);
        assert_eq!(redemption_cost(i64::MAX, 2), None);
    }

    #[test]
    fn the_daily_cap_holds() {
        let rate = PointsRate {
            per_hour: 10,
            daily_cap: 80,
        };
        assert_eq!(rate.points_for(24 * 60), 80);
        assert_eq!(rate.points_for(90), 15);
        assert_eq!(rate.points_for(59), 9);
        assert_eq!(rate.points_for(0), 0);
    }
}
