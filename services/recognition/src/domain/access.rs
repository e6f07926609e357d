//! Who may do what in the recognition service. Roles decide the function;
//! the org subtree decides the data, checked where the data is loaded.

use egret_runtime::{ApiError, Gate, Principal, Role};

/// A function of the recognition service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read rule sets.
    ReadRules,
    /// Create and revise rule sets.
    ManageRules,
    /// Read star ratings and evaluations of others (a volunteer reads its own without this).
    ReadStars,
    /// Nominate volunteers for stars.
    NominateStars,
    /// Approve, reject and review stars.
    ApproveStars,
    /// Read others' points, statements and redemptions.
    ReadRewards,
    /// Run the benefits catalogue and hand redemptions over.
    ManageBenefits,
    /// Read others' certificates.
    ReadCertificates,
    /// Issue certificates for others.
    IssueCertificates,
    /// Revoke certificates.
    RevokeCertificates,
    /// Read change histories.
    ReadHistory,
}

impl Action {
    /// The roles that may carry the action out, on data in their subtree.
    pub fn roles(self) -> &'static [Role] {
        use Role::{Admin, Staff, TeamLeader, Viewer, Volunteer};
        match self {
            Action::ReadRules => &[Admin, Staff, TeamLeader, Viewer, Volunteer],
            Action::ManageRules => &[Admin],
            Action::ReadStars => &[Admin, Staff, TeamLeader, Viewer],
            Action::NominateStars => &[Admin, Staff, TeamLeader],
            Action::ApproveStars => &[Admin, Staff],
            Action::ReadRewards => &[Admin, Staff, TeamLeader, Viewer],
            Action::ManageBenefits => &[Admin, Staff],
            Action::ReadCertificates => &[Admin, Staff, TeamLeader, Viewer],
            Action::IssueCertificates => &[Admin, Staff, TeamLeader],
            Action::RevokeCertificates => &[Admin, Staff],
            Action::ReadHistory => &[Admin, Staff, TeamLeader, Viewer],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Action::ReadRules => "reading rule sets",
            Action::ManageRules => "managing rule sets",
            Action::ReadStars => "reading star ratings",
            Action::NominateStars => "nominating stars",
            Action::ApproveStars => "approving stars",
            Action::ReadRewards => "reading reward points",
            Action::ManageBenefits => "managing benefits",
            Action::ReadCertificates => "reading certificates",
            Action::IssueCertificates => "issuing certificates",
            Action::RevokeCertificates => "revoking certificates",
            Action::ReadHistory => "reading change history",
        }
    }
}

/// The roles that may call a write method of `egret.recognition.v1` at all (`method` is
/// `Service/Method`); None for reads. The host checks it before the request is decoded, so
/// a caller without the right is refused without learning the method's rules. The
/// subtree, and whose record it is, are checked where the data is loaded.
pub fn gate(method: &str) -> Option<Gate> {
    let (action, volunteer_for_itself) = match method {
        "RuleSetService/CreateRuleSet" | "RuleSetService/ReviseRuleSet" => {
            (Action::ManageRules, false)
        }
        // Withdrawing a commendation is the nominating unit's as well as the awarding one's.
        "StarRatingService/NominateStarRating"
        | "CommendationService/NominateCommendation"
        | "CommendationService/WithdrawCommendation" => (Action::NominateStars, false),
        "StarRatingService/ApproveStarRating"
        | "StarRatingService/RejectStarRating"
        | "StarRatingService/ResolveStarRatingReview"
        | "StarRatingService/RateTeam"
        | "CommendationService/CreateHonour"
        | "CommendationService/ApproveCommendation"
        | "CommendationService/RejectCommendation"
        | "CommendationService/RecordObjection"
        | "CommendationService/AwardCommendation" => (Action::ApproveStars, false),
        "RewardService/CreateBenefit"
        | "RewardService/UpdateBenefit"
        | "RewardService/FulfillRedemption" => (Action::ManageBenefits, false),
        "RewardService/RedeemBenefit" | "RewardService/CancelRedemption" => {
            (Action::ManageBenefits, true)
        }
        // Points are given only by the volunteer who owns them, never on its behalf.
        "RewardService/GiftPoints" => {
            return Some(Gate {
                roles: &[],
                volunteer_for_itself: true,
                action: "giving points",
            });
        }
        "CertificateService/IssueCertificate" => (Action::IssueCertificates, true),
        "CertificateService/RevokeCertificate" => (Action::RevokeCertificates, false),
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

/// The volunteer itself needs no role; anyone else needs `action`. Checked before the
/// record is loaded, so a refusal tells nothing about which ids exist.
pub fn require_unless_self(
    principal: &Principal,
    action: Action,
    volunteer_id: &str,
) -> Result<(), ApiError> {
    if is_self(principal, volunteer_id) {
        return Ok(());
    }
    require(principal, action)
}
