//! Who may do what in the reporting service: statistics are read by every
//! role that manages or views a subtree; volunteers have their own figures elsewhere.

use egret_runtime::{ApiError, Gate, Principal, Role};

/// A function of the reporting service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read statistics of the subtree.
    ReadStatistics,
    /// Export files and render charts of the subtree.
    Export,
    /// Open a reporting year or move its deadline (an admin of a root unit).
    OpenReportingYears,
    /// Draft and submit a team's annual report.
    WriteAnnualReports,
    /// Approve or return submitted annual reports.
    ReviewAnnualReports,
    /// Set the targets of units in the subtree.
    SetTargets,
}

impl Action {
    /// The roles that may carry the action out, on data in their subtree.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Staff, TeamLeader, Viewer};
        match self {
            Action::ReadStatistics => &[Admin, Staff, TeamLeader, Viewer],
            Action::Export => &[Admin, Staff, TeamLeader, Viewer],
            Action::OpenReportingYears => &[Admin],
            Action::WriteAnnualReports => &[Admin, Staff, TeamLeader],
            Action::ReviewAnnualReports => &[Admin, Staff],
            Action::SetTargets => &[Admin, Staff],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ReadStatistics => "reading statistics",
            Action::Export => "exporting",
            Action::OpenReportingYears => "opening a reporting year",
            Action::WriteAnnualReports => "writing an annual report",
            Action::ReviewAnnualReports => "reviewing annual reports",
            Action::SetTargets => "setting targets",
        }
    }
}

/// PERMISSION_DENIED unless the principal's roles allow `action`.
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    principal.require_any(action.roles(), action.describe())
}

/// The roles that may call a write method of `egret.reporting.v1` at all (`method` is
/// `Service/Method`); None for reads. The host checks it before the request is decoded, so
/// a caller without the right is refused without learning the method's rules. The
/// subtree is checked where the data is loaded.
pub fn gate(method: &str) -> Option<Gate> {
    let action = match method {
        "AnnualReportService/OpenReportingYear" => Action::OpenReportingYears,
        "AnnualReportService/UpdateAnnualReport" | "AnnualReportService/SubmitAnnualReport" => {
            Action::WriteAnnualReports
        }
        "AnnualReportService/ApproveAnnualReport" | "AnnualReportService/ReturnAnnualReport" => {
            Action::ReviewAnnualReports
        }
        "TargetService/SetTarget" => Action::SetTargets,
        _ => return None,
    };
    Some(Gate {
        roles: action.roles(),
        volunteer_for_itself: false,
        action: action.describe(),
    })
}
