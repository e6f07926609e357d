//! Insurance (保险): policies held by org units, covering named volunteers or a subtree.

use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// 保单状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyState {
    /// 有效.
    Active = 1,
    /// 已注销.
    Cancelled = 2,
}

impl PolicyState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(PolicyState::Active),
            2 => Some(PolicyState::Cancelled),
            _ => None,
        }
    }
}

/// A policy's fields, as a caller gives them (validated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFields {
    /// 保险公司.
    pub insurer: String,
    /// 保单号.
    pub policy_number: String,
    /// 保障内容.
    pub cover: String,
    /// 保额 (分).
    pub sum_insured_fen: i64,
    /// 起保日期.
    pub start_date: CivilDate,
    /// 终保日期.
    pub end_date: CivilDate,
    /// Covers the holder's subtree.
    pub covers_subtree: bool,
    /// Named volunteers' ids.
    pub insured_volunteers: Vec<String>,
}

/// 保单.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsurancePolicy {
    /// Globally unique id.
    pub id: String,
    /// The holding unit.
    pub org_unit_id: String,
    /// 保险公司.
    pub insurer: String,
    /// 保单号.
    pub policy_number: String,
    /// 保障内容.
    pub cover: String,
    /// 保额 (分).
    pub sum_insured_fen: i64,
    /// 起保日期.
    pub start_date: CivilDate,
    /// 终保日期 (inclusive).
    pub end_date: CivilDate,
    /// Covers the holder's subtree.
    pub covers_subtree: bool,
    /// Named volunteers' ids.
    pub insured_volunteers: Vec<String>,
    /// State.
    pub state: PolicyState,
    /// Bookkeeping.
    pub meta: Meta,
}
