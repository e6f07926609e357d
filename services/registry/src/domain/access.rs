//! Who may do what in the registry. Roles decide the function; the org
//! subtree decides the data, and is checked where the data is loaded.

use egret_runtime::{ApiError, Gate, Principal, Role};

/// A function of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read org units and forms.
    ReadOrgUnits,
    /// Create, update, move units and change their status.
    ManageOrgUnits,
    /// Update registration forms.
    EditRegistrationForms,
    /// Read volunteers (masked).
    ReadVolunteers,
    /// Register volunteers.
    RegisterVolunteers,
    /// Update volunteers.
    EditVolunteers,
    /// See ID numbers and phones unmasked (audited).
    RevealPersonalData,
    /// Add and end memberships, decide join applications.
    ManageMembers,
    /// Read change histories.
    ReadHistory,
    /// Read the audit log.
    ReadAuditLog,
}

impl Action {
    /// The roles that may carry the action out (on data in their subtree). A volunteer's
    /// own rights over itself are checked separately, where the data is known.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Staff, TeamLeader, Viewer, Volunteer};
        match self {
            Action::ReadOrgUnits => &[Admin, Staff, TeamLeader, Viewer, Volunteer],
            Action::ManageOrgUnits => &[Admin, Staff, TeamLeader],
            Action::EditRegistrationForms => &[Admin, Staff, TeamLeader],
            Action::ReadVolunteers => &[Admin, Staff, TeamLeader, Viewer],
            Action::RegisterVolunteers => &[Admin, Staff, TeamLeader],
            Action::EditVolunteers => &[Admin, Staff, TeamLeader],
            Action::RevealPersonalData => &[Admin, Staff],
            Action::ManageMembers => &[Admin, Staff, TeamLeader],
            Action::ReadHistory => &[Admin, Staff, TeamLeader, Viewer],
            Action::ReadAuditLog => &[Admin],
        }
    }

    /// What the action is called in a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Action::ReadOrgUnits => "reading org units",
            Action::ManageOrgUnits => "managing org units",
            Action::EditRegistrationForms => "editing registration forms",
            Action::ReadVolunteers => "reading volunteers",
            Action::RegisterVolunteers => "registering volunteers",
            Action::EditVolunteers => "editing volunteers",
            Action::RevealPersonalData => "revealing personal data",
            Action::ManageMembers => "managing members",
            Action::ReadHistory => "reading change history",
            Action::ReadAuditLog => "reading the audit log",
        }
    }
}

/// The roles that may call a write method of `egret.registry.v1` at all (`method` is
/// `Service/Method`); None for reads. The host checks it before the request is decoded, so
/// a caller without the right is refused without learning the method's rules. The
/// subtree, and whose record it is, are checked where the data is loaded.
pub fn gate(method: &str) -> Option<Gate> {
    let (action, volunteer_for_itself) = match method {
        "OrgUnitService/CreateOrgUnit"
        | "OrgUnitService/UpdateOrgUnit"
        | "OrgUnitService/MoveOrgUnit"
        | "OrgUnitService/SuspendOrgUnit"
        | "OrgUnitService/ResumeOrgUnit"
        | "OrgUnitService/DissolveOrgUnit"
        | "OrgUnitService/MergeOrgUnit" => (Action::ManageOrgUnits, false),
        "OrgUnitService/UpdateRegistrationForm" => (Action::EditRegistrationForms, false),
        "VolunteerService/CreateVolunteer" | "VolunteerService/BatchCreateVolunteers" => {
            (Action::RegisterVolunteers, false)
        }
        "VolunteerService/UpdateVolunteer" => (Action::EditVolunteers, true),
        "MembershipService/CreateMembership"
        | "MembershipService/ApproveJoinApplication"
        | "MembershipService/RejectJoinApplication" => (Action::ManageMembers, false),
        "MembershipService/SetPrimaryMembership"
        | "MembershipService/EndMembership"
        | "MembershipService/CreateJoinApplication"
        | "MembershipService/WithdrawJoinApplication" => (Action::ManageMembers, true),
        _ => return None,
    };
    Some(Gate {
        roles: action.roles(),
        volunteer_for_itself,
        action: action.describe(),
    })
}

/// PERMISSION_DENIED unless the principal's roles allow `action`.
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    principal.require_any(action.roles(), action.describe())
}

/// True when the principal's roles allow `action`.
pub fn allows(principal: &Principal, action: Action) -> bool {
    principal.has_any(action.roles())
}

/// True when the principal is the volunteer `volunteer_id` acting for itself.
pub fn is_self(principal: &Principal, volunteer_id: &str) -> bool {
    principal.has_any(&[Role::Volunteer]) && principal.volunteer.as_deref() == Some(volunteer_id)
}

/// A principal restructures (moves, suspends, dissolves, merges) the units below its own
/// unit, never its own: that belongs to the unit above.
pub fn may_restructure(principal: &Principal, unit_id: &str) -> bool {
    principal.org_unit != unit_id
}
