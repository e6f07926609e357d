//! Who may do what in the activity service. Roles decide the function; the
//! org subtree decides the data, checked where the data is loaded.

use egret_runtime::{ApiError, Gate, Principal, Role};

/// A function of the activity service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read projects.
    ReadProjects,
    /// Create, update and change the status of projects.
    ManageProjects,
    /// Read activities.
    ReadActivities,
    /// Create, update and change the state of activities.
    ManageActivities,
    /// Read the sign-ups of activities (a volunteer reads its own without this).
    ReadSignUps,
    /// Sign volunteers up, decide sign-ups and cancel them (a volunteer signs itself up and
    /// cancels its own without this).
    ManageSignUps,
    /// Take attendance for others and show check-in codes.
    TakeAttendance,
    /// Read service records of the subtree.
    ReadServiceRecords,
    /// Approve and reject service records.
    ReviewServiceRecords,
    /// Import service records and set their platform report status.
    ManageServiceRecords,
    /// Read insurance policies and coverage.
    ReadInsurance,
    /// Register and cancel insurance policies.
    ManageInsurance,
    /// Read courses.
    ReadTraining,
    /// Run courses and record completions.
    ManageTraining,
    /// Read change histories.
    ReadHistory,
}

impl Action {
    /// The roles that may carry the action out, on data in their subtree.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Staff, TeamLeader, Viewer, Volunteer};
        match self {
            Action::ReadProjects => &[Admin, Staff, TeamLeader, Viewer, Volunteer],
            Action::ManageProjects => &[Admin, Staff, TeamLeader],
            Action::ReadActivities => &[Admin, Staff, TeamLeader, Viewer, Volunteer],
            Action::ManageActivities => &[Admin, Staff, TeamLeader],
            Action::ReadSignUps => &[Admin, Staff, TeamLeader, Viewer],
            Action::ManageSignUps => &[Admin, Staff, TeamLeader],
            Action::TakeAttendance => &[Admin, Staff, TeamLeader],
            Action::ReadServiceRecords => &[Admin, Staff, TeamLeader, Viewer],
            Action::ReviewServiceRecords => &[Admin, Staff, TeamLeader],
            Action::ManageServiceRecords => &[Admin, Staff],
            Action::ReadInsurance => &[Admin, Staff, TeamLeader, Viewer],
            Action::ManageInsurance => &[Admin, Staff],
            Action::ReadTraining => &[Admin, Staff, TeamLeader, Viewer, Volunteer],
            Action::ManageTraining => &[Admin, Staff, TeamLeader],
            Action::ReadHistory => &[Admin, Staff, TeamLeader, Viewer],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ReadProjects => "reading projects",
            Action::ManageProjects => "managing projects",
            Action::ReadActivities => "reading activities",
            Action::ManageActivities => "managing activities",
            Action::ReadSignUps => "reading sign-ups",
            Action::ManageSignUps => "managing sign-ups",
            Action::TakeAttendance => "taking attendance",
            Action::ReadServiceRecords => "reading service records",
            Action::ReviewServiceRecords => "reviewing service records",
            Action::ManageServiceRecords => "importing and reporting service records",
            Action::ReadInsurance => "reading insurance",
            Action::ManageInsurance => "managing insurance policies",
            Action::ReadTraining => "reading training",
            Action::ManageTraining => "managing training",
            Action::ReadHistory => "reading change history",
        }
    }
}

/// The roles that may call a write method of `egret.activity.v1` at all (`method` is
/// `Service/Method`); None for reads. The host checks it before the request is decoded, so
/// a caller without the right is refused without learning the method's rules. The
/// subtree, and whose record it is, are checked where the data is loaded.
pub fn gate(method: &str) -> Option<Gate> {
    let (action, volunteer_for_itself) = match method {
        "ProjectService/CreateProject"
        | "ProjectService/UpdateProject"
        | "ProjectService/ActivateProject"
        | "ProjectService/CloseProject"
        | "ProjectService/CancelProject" => (Action::ManageProjects, false),
        "ActivityService/CreateActivity"
        | "ActivityService/UpdateActivity"
        | "ActivityService/PublishActivity"
        | "ActivityService/StartActivity"
        | "ActivityService/CompleteActivity"
        | "ActivityService/CancelActivity" => (Action::ManageActivities, false),
        "SignUpService/ApproveSignUp" | "SignUpService/RejectSignUp" => {
            (Action::ManageSignUps, false)
        }
        // A volunteer signs itself up, cancels its own sign-up, asks for a back-entry of
        // its own service and rates an activity it served at.
        "SignUpService/CreateSignUp"
        | "SignUpService/CancelSignUp"
        | "ServiceRecordService/CreateBackEntry"
        | "EvaluationService/CreateEvaluation" => (Action::ManageSignUps, true),
        "AttendanceService/CheckIn" | "AttendanceService/CheckOut" => {
            (Action::TakeAttendance, true)
        }
        "ServiceRecordService/ApproveServiceRecord"
        | "ServiceRecordService/RejectServiceRecord"
        | "ServiceRecordService/CorrectServiceRecord" => (Action::ReviewServiceRecords, false),
        "ServiceRecordService/SetPlatformReportStatus"
        | "ServiceRecordService/ImportServiceRecords" => (Action::ManageServiceRecords, false),
        "InsuranceService/CreateInsurancePolicy" | "InsuranceService/CancelInsurancePolicy" => {
            (Action::ManageInsurance, false)
        }
        "TrainingService/CreateCourse"
        | "TrainingService/CreateTrainingSession"
        | "TrainingService/RecordTrainingCompletion" => (Action::ManageTraining, false),
        _ => return None,
    };
    Some(Gate {
        roles: action.roles(),
        volunteer_for_itself,
        action: action.describe(),
    })
}

/// True when the principal is the volunteer `volunteer_id` acting for itself.
pub fn is_self(principal: &Principal, volunteer_id: &str) -> bool {
    principal.has_any(&[Role::Volunteer]) && principal.volunteer.as_deref() == Some(volunteer_id)
}

/// PERMISSION_DENIED unless the principal's roles allow `action`.
pub fn require(principal: &Principal, action: Action) -> Result<(), ApiError> {
    principal.require_any(action.roles(), action.describe())
}

/// Before a volunteer's own record is loaded: a principal that is no volunteer needs
/// `action` outright, so that its refusal cannot tell which ids exist.
pub fn require_unless_volunteer(principal: &Principal, action: Action) -> Result<(), ApiError> {
    if principal.has_any(&[Role::Volunteer]) {
        return Ok(());
    }
    require(principal, action)
}

/// After a volunteer's record is loaded: the volunteer itself, or a principal whose roles
/// allow `action` (the subtree is checked by the caller). Anyone else is told the record
/// does not exist.
pub fn may_read_owned(principal: &Principal, action: Action, volunteer_id: &str) -> bool {
    is_self(principal, volunteer_id) || principal.has_any(action.roles())
}
