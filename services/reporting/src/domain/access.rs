//! Who may do what in the reporting service (DESIGN.md §7): statistics are read by every
//! role that manages or views a subtree; volunteers have their own figures elsewhere.

use egret_runtime::{ApiError, Principal, Role};

/// A function of the reporting service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read statistics of the subtree.
    ReadStatistics,
    /// Read the change log.
    ReadChangeLog,
    /// Export files and render charts of the subtree.
    Export,
}

impl Action {
    /// The roles that may carry the action out, on data in their subtree.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Staff, Sync, TeamLeader, Viewer};
        match self {
            Action::ReadStatistics => &[Admin, Staff, TeamLeader, Viewer],
            Action::ReadChangeLog => &[Sync],
            Action::Export => &[Admin, Staff, TeamLeader, Viewer],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ReadStatistics => "reading statistics",
            Action::ReadChangeLog => "reading the change log",
            Action::Export => "exporting",
        }
    }
}

/// PERMISSION_DENIED unless the principal's roles allow `action`.
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    principal.require_any(action.roles(), action.describe())
}
