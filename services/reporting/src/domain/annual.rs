//! 年报: a team's annual report and its workflow. Draft → submitted → approved, or
//! returned with a comment and submitted again.

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// The life of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// 草稿.
    Draft = 1,
    /// 已提交.
    Submitted = 2,
    /// 已通过.
    Approved = 3,
    /// 已退回.
    Returned = 4,
}

impl ReportState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(ReportState::Draft),
            2 => Some(ReportState::Submitted),
            3 => Some(ReportState::Approved),
            4 => Some(ReportState::Returned),
            _ => None,
        }
    }
}

/// A reporting year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportingYear {
    /// The year.
    pub year: i32,
    /// The last day to submit.
    pub deadline: CivilDate,
    /// Who opened it.
    pub opened_by: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// The figures of a team's year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Unique volunteers at the year's end.
    pub members: i64,
    /// Activities held.
    pub activities: i64,
    /// Approved minutes.
    pub approved_minutes: i64,
    /// Approved records.
    pub service_records: i64,
    /// Stars awarded.
    pub star_ratings: i64,
    /// Commendations awarded.
    pub commendations: i64,
}

impl std::ops::AddAssign for Figures {
    fn add_assign(&mut self, other: Self) {
        self.members += other.members;
        self.activities += other.activities;
        self.approved_minutes += other.approved_minutes;
        self.service_records += other.service_records;
        self.star_ratings += other.star_ratings;
        self.commendations += other.commendations;
    }
}

/// A team's annual report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnualReport {
    /// Id.
    pub id: String,
    /// The team.
    pub org_unit_id: String,
    /// The year.
    pub year: i32,
    /// State.
    pub state: ReportState,
    /// Figures from the data.
    pub figures: Figures,
    /// 服务特色.
    pub service_features: String,
    /// 年度亮点.
    pub highlights: String,
    /// 来年计划.
    pub plans: String,
    /// The reviewer's comment.
    pub review_comment: String,
    /// Who reviewed last.
    pub reviewed_by: String,
    /// When last submitted (microseconds), 0 before.
    pub submit_time: i64,
    /// Bookkeeping (version 0: not stored yet).
    pub meta: Meta,
}

fn refuse(en: &str, zh: &str) -> ApiError {
    ApiError::failed_precondition(en, zh)
}

impl AnnualReport {
    /// Checks that the team may still write it.
    pub fn check_editable(&self) -> Result<(), ApiError> {
        match self.state {
            ReportState::Draft | ReportState::Returned => Ok(()),
            ReportState::Submitted => Err(refuse(
                "the report is submitted and waits for review; it can be changed once returned",
                "年报已提交待审核，退回后才能修改",
            )),
            ReportState::Approved => Err(refuse(
                "the report is approved and can no longer be changed",
                "年报已通过审核，不能再修改",
            )),
        }
    }

    /// Submits with fresh figures at `now`.
    pub fn submit(&mut self, figures: Figures, now: i64) -> Result<(), ApiError> {
        self.check_editable()?;
        if self.highlights.trim().is_empty() {
            return Err(ApiError::invalid(
                "highlights",
                "must be written before the report is submitted",
                "提交前须填写年度亮点",
            ));
        }
        self.figures = figures;
        self.state = ReportState::Submitted;
        self.submit_time = now;
        Ok(())
    }

    /// Approves or returns a submitted report.
    pub fn review(
        &mut self,
        approve: bool,
        reviewer: &str,
        comment: String,
    ) -> Result<(), ApiError> {
        if self.state != ReportState::Submitted {
            return Err(refuse(
                "only a submitted report can be approved or returned",
                "只有已提交的年报才能审核",
            ));
        }
        self.state = if approve {
            ReportState::Approved
        } else {
            ReportState::Returned
        };
        self.reviewed_by = reviewer.to_string();
        self.review_comment = comment;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AnnualReport {
        AnnualReport {
            id: "r".to_string(),
            org_unit_id: "t".to_string(),
            year: 2025,
            state: ReportState::Draft,
            figures: Figures::default(),
            service_features: String::new(),
            highlights: String::new(),
            plans: String::new(),
            review_comment: String::new(),
            reviewed_by: String::new(),
            submit_time: 0,
            meta: Meta {
                origin_instance: "xm".to_string(),
                version: 0,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    #[test]
    fn returned_reports_go_round_again() {
        let mut report = draft();
        assert!(
            report.submit(Figures::default(), 1).is_err(),
            "no highlights"
        );
        report.highlights = "关爱独居老人".to_string();
        report
            .submit(
                Figures {
                    members: 3,
                    ..Figures::default()
                },
                1,
            )
            .unwrap();
        assert!(report.check_editable().is_err());
        report
            .review(false, "staff", "补充活动照片".to_string())
            .unwrap();
        assert_eq!(report.state, ReportState::Returned);
        report
            .submit(
                Figures {
                    members: 4,
                    ..Figures::default()
                },
                2,
            )
            .unwrap();
        assert_eq!(report.figures.members, 4);
        report.review(true, "staff", String::new()).unwrap();
        assert!(report.review(true, "staff", String::new()).is_err());
        assert!(report.submit(Figures::default(), 3).is_err());
    }
}
