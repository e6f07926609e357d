//! 嘉许 and 典型示范: honours, and commendations that go from nomination through review and a
//! public notice (公示) with objections to an award, or are withdrawn.

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// What an honour is awarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// `volunteers/…`.
    Volunteer = 1,
    /// A team, sub-team or squad, `orgUnits/…`.
    Team = 2,
    /// `projects/…`.
    Project = 3,
    /// An org unit as an organization or a base, `orgUnits/…`.
    OrgUnit = 4,
}

impl RecipientKind {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(RecipientKind::Volunteer),
            2 => Some(RecipientKind::Team),
            3 => Some(RecipientKind::Project),
            4 => Some(RecipientKind::OrgUnit),
            _ => None,
        }
    }

    /// The collection its recipients' names start with.
    pub fn collection(self) -> &'static str {
        match self {
            RecipientKind::Volunteer => "volunteers",
            RecipientKind::Team | RecipientKind::OrgUnit => "orgUnits",
            RecipientKind::Project => "projects",
        }
    }
}

/// The life of a commendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommendationState {
    /// 已推荐.
    Nominated = 1,
    /// 公示中.
    OnNotice = 2,
    /// 已授予.
    Awarded = 3,
    /// 未通过评审.
    Rejected = 4,
    /// 已撤回.
    Withdrawn = 5,
}

impl CommendationState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(CommendationState::Nominated),
            2 => Some(CommendationState::OnNotice),
            3 => Some(CommendationState::Awarded),
            4 => Some(CommendationState::Rejected),
            5 => Some(CommendationState::Withdrawn),
            _ => None,
        }
    }
}

/// An honour in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Honour {
    /// Id.
    pub id: String,
    /// The awarding unit.
    pub org_unit_id: String,
    /// Name.
    pub display_name: String,
    /// Category (wire number).
    pub category: i32,
    /// Level (wire number of egret.registry.v1.TeamLevel).
    pub level: i32,
    /// What it is awarded to.
    pub recipient_kind: RecipientKind,
    /// Days of public notice; 0 for none.
    pub notice_days: i32,
    /// What it recognises.
    pub description: String,
    /// Open for nominations.
    pub active: bool,
    /// Bookkeeping.
    pub meta: Meta,
}

/// An objection raised during the public notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    /// Who recorded it.
    pub recorded_by: String,
    /// What was objected.
    pub content: String,
    /// When (microseconds).
    pub record_time: i64,
}

/// One honour for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commendation {
    /// Id.
    pub id: String,
    /// The honour.
    pub honour_id: String,
    /// The recipient's resource name.
    pub recipient: String,
    /// The recipient's name when nominated.
    pub recipient_display_name: String,
    /// The year it is for.
    pub year: i32,
    /// 事迹.
    pub citation: String,
    /// The nominating unit.
    pub nominating_org_unit_id: String,
    /// State.
    pub state: CommendationState,
    /// First day of the public notice.
    pub notice_start_date: Option<CivilDate>,
    /// Last day of the public notice.
    pub notice_end_date: Option<CivilDate>,
    /// Objections received.
    pub objections: Vec<Objection>,
    /// Who decided last.
    pub decided_by: String,
    /// The decision's comment.
    pub decision_comment: String,
    /// When awarded (microseconds), 0 before.
    pub award_time: i64,
    /// Bookkeeping.
    pub meta: Meta,
}

fn refuse(en: String, zh: String) -> ApiError {
    ApiError::failed_precondition(en, zh)
}

impl Commendation {
    /// Passes review on `today`: the public notice runs `notice_days` whole days from today;
    /// with no notice the honour is awarded at once.
    pub fn pass_review(
        &mut self,
        today: CivilDate,
        notice_days: i32,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.state != CommendationState::Nominated {
            return Err(refuse(
                "only a nomination awaiting review can pass or fail it".to_string(),
                "只有待评审的推荐才能评审".to_string(),
            ));
        }
        if notice_days <= 0 {
            self.state = CommendationState::Awarded;
            self.award_time = now;
            return Ok(());
        }
        self.state = CommendationState::OnNotice;
        self.notice_start_date = Some(today);
        self.notice_end_date = Some(today.add_days(i64::from(notice_days) - 1));
        Ok(())
    }

    /// Fails review.
    pub fn reject(&mut self) -> Result<(), ApiError> {
        if self.state != CommendationState::Nominated {
            return Err(refuse(
                "only a nomination awaiting review can pass or fail it".to_string(),
                "只有待评审的推荐才能评审".to_string(),
            ));
        }
        self.state = CommendationState::Rejected;
        Ok(())
    }

    /// Records an objection: only while the notice runs.
    pub fn object(&mut self, today: CivilDate, objection: Objection) -> Result<(), ApiError> {
        match (self.state, self.notice_end_date) {
            (CommendationState::OnNotice, Some(end)) if today <= end => {
                self.objections.push(objection);
                Ok(())
            }
            _ => Err(refuse(
                "objections are recorded only while the public notice runs".to_string(),
                "只有在公示期内才能登记异议".to_string(),
            )),
        }
    }

    /// Awards the commendation on `today`: only after the public notice has ended.
    pub fn award(&mut self, today: CivilDate, now: i64) -> Result<(), ApiError> {
        let Some(end) = self
            .notice_end_date
            .filter(|_| self.state == CommendationState::OnNotice)
        else {
            return Err(refuse(
                "only a commendation on public notice can be awarded".to_string(),
                "只有公示中的嘉许才能授予".to_string(),
            ));
        };
        if today <= end {
            return Err(refuse(
                format!(
                    "the public notice runs until {end}; the commendation can be awarded from {}",
                    end.add_days(1)
                ),
                format!("公示期至 {end} 结束，{} 起方可授予", end.add_days(1)),
            ));
        }
        self.state = CommendationState::Awarded;
        self.award_time = now;
        Ok(())
    }

    /// Withdraws a nomination or a commendation on notice.
    pub fn withdraw(&mut self) -> Result<(), ApiError> {
        if !matches!(
            self.state,
            CommendationState::Nominated | CommendationState::OnNotice
        ) {
            return Err(refuse(
                "only a nomination or a commendation on notice can be withdrawn".to_string(),
                "只有待评审或公示中的嘉许才能撤回".to_string(),
            ));
        }
        self.state = CommendationState::Withdrawn;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nominated() -> Commendation {
        Commendation {
            id: "c".to_string(),
            honour_id: "h".to_string(),
            recipient: "volunteers/v".to_string(),
            recipient_display_name: "李梅".to_string(),
            year: 2026,
            citation: "长期服务".to_string(),
            nominating_org_unit_id: "u".to_string(),
            state: CommendationState::Nominated,
            notice_start_date: None,
            notice_end_date: None,
            objections: Vec::new(),
            decided_by: String::new(),
            decision_comment: String::new(),
            award_time: 0,
            meta: Meta {
                origin_instance: "xm".to_string(),
                version: 1,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    fn date(year: i32, month: u32, day: u32) -> CivilDate {
        CivilDate::new(year, month, day).unwrap()
    }

    #[test]
    fn an_award_waits_for_the_end_of_the_notice() {
        let mut commendation = nominated();
        commendation.pass_review(date(2026, 11, 25), 7, 1).unwrap();
        assert_eq!(commendation.notice_end_date, Some(date(2026, 12, 1)));
        let objection = Objection {
            recorded_by: "staff".to_string(),
            content: "时长存疑".to_string(),
            record_time: 2,
        };
        commendation
            .object(date(2026, 12, 1), objection.clone())
            .unwrap();
        assert!(
            commendation.award(date(2026, 12, 1), 3).is_err(),
            "last day of notice"
        );
        assert!(commendation.object(date(2026, 12, 2), objection).is_err());
        commendation.award(date(2026, 12, 2), 3).unwrap();
        assert_eq!(commendation.state, CommendationState::Awarded);
        assert_eq!(commendation.objections.len(), 1);
        assert!(commendation.withdraw().is_err());
    }

    #[test]
    fn no_notice_awards_at_review() {
        let mut commendation = nominated();
        commendation.pass_review(date(2026, 11, 25), 0, 9).unwrap();
        assert_eq!(commendation.state, CommendationState::Awarded);
        assert_eq!(commendation.award_time, 9);
    }
}
