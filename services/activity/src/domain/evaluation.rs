//! Evaluations (评估反馈): ratings of completed activities.

use egret_types::Meta;
use serde::{Deserialize, Serialize};

/// 评价.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Globally unique id.
    pub id: String,
    /// The activity.
    pub activity_id: String,
    /// 1 beneficiary, 2 volunteer.
    pub evaluator_kind: i32,
    /// The volunteer ('' for a beneficiary).
    pub volunteer_id: String,
    /// Whether the evaluator's identity is withheld.
    pub anonymous: bool,
    /// 1 to 5.
    pub rating: i32,
    /// 评价内容.
    pub comment: String,
    /// Bookkeeping.
    pub meta: Meta,
}
