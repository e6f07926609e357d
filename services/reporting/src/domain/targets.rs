//! The alliance's targets: active teams of a level and the volunteers serving in them, per
//! unit and year.

use egret_types::Meta;
use serde::{Deserialize, Serialize};

/// A target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// Id ('' for a configured default).
    pub id: String,
    /// The unit.
    pub org_unit_id: String,
    /// The year.
    pub year: i32,
    /// The team level (wire number of egret.registry.v1.TeamLevel).
    pub team_level: i32,
    /// Active teams of that level.
    pub teams: i64,
    /// Unique volunteers serving in them.
    pub volunteers: i64,
    /// Bookkeeping (version 0 for a configured default).
    pub meta: Meta,
}

/// `reached` as thousandths of `target` (a target of 0 is reached at once).
pub fn permille(reached: i64, target: i64) -> i64 {
    if target <= 0 {
        return 1000;
    }
    reached.saturating_mul(1000) / target
}

#[cfg(test)]
mod tests {
    use super::permille;

    #[test]
    fn progress_in_thousandths() {
        assert_eq!(permille(400, 800), 500);
        assert_eq!(permille(801, 800), 1001);
        assert_eq!(permille(0, 0), 1000);
        assert_eq!(permille(1, 3), 333);
    }
}
