//! 星级评定规则: star-rating rule sets as data. Each jurisdiction's rules are a rule set;
//! each change is a new revision with the day it takes effect, and earlier revisions are
//! kept because awarded stars name the revision they were awarded under.

use egret_runtime::Violations;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// The highest star level.
pub const MAX_STARS: i32 = 5;

/// Whether `id` may name a rule set: 2 to 40 lowercase ASCII letters, digits and hyphens,
/// starting with a letter.
pub fn is_rule_set_id(id: &str) -> bool {
    (2..=40).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// How often stars are reviewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewPeriod {
    /// `2026-Q3`.
    Quarter = 1,
    /// `2026-H2`.
    HalfYear = 2,
    /// `2026`.
    Year = 3,
}

impl ReviewPeriod {
    /// From the wire number.
    pub fn from_number(number: i32) -> Option<Self> {
        match number {
            1 => Some(ReviewPeriod::Quarter),
            2 => Some(ReviewPeriod::HalfYear),
            3 => Some(ReviewPeriod::Year),
            _ => None,
        }
    }

    /// An example label, for error messages.
    pub fn example(self) -> &'static str {
        match self {
            ReviewPeriod::Quarter => "2026-Q3",
            ReviewPeriod::HalfYear => "2026-H2",
            ReviewPeriod::Year => "2026",
        }
    }

    /// The first and last day of the period `label` (`2026-Q3`, `2026-H2`, `2026`), or None
    /// when the label is not of this kind.
    pub fn parse(self, label: &str) -> Option<(CivilDate, CivilDate)> {
        let (year, part) = match label.split_once('-') {
            Some((year, part)) => (year, Some(part)),
            None => (label, None),
        };
        if year.len() != 4 || !year.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let year: i32 = year.parse().ok()?;
        let (first_month, last_month, last_day) = match (self, part) {
            (ReviewPeriod::Year, None) => (1, 12, 31),
            (ReviewPeriod::HalfYear, Some("H1")) => (1, 6, 30),
            (ReviewPeriod::HalfYear, Some("H2")) => (7, 12, 31),
            (ReviewPeriod::Quarter, Some("Q1")) => (1, 3, 31),
            (ReviewPeriod::Quarter, Some("Q2")) => (4, 6, 30),
            (ReviewPeriod::Quarter, Some("Q3")) => (7, 9, 30),
            (ReviewPeriod::Quarter, Some("Q4")) => (10, 12, 31),
            _ => return None,
        };
        Some((
            CivilDate::new(year, first_month, 1)?,
            CivilDate::new(year, last_month, last_day)?,
        ))
    }
}

/// What one star level needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarThreshold {
    /// 1 to 5.
    pub stars: i32,
    /// Approved hours at least.
    pub min_hours: i32,
    /// Whole years since registration at least.
    pub min_years: i32,
    /// The tier number of the approving unit (1 corps, 2 team).
    pub approving_tier: i64,
}

/// At most `max_awards` awards of `stars` per approving unit and period (0: no limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StarQuota {
    /// 1 to 5.
    pub stars: i32,
    /// 0 for no limit.
    pub max_awards: i32,
}

/// What a team needs for one team star in a year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamStarCriteria {
    /// 1 to 5.
    pub stars: i32,
    /// Members who served in the year.
    pub min_active_members: i32,
    /// Approved hours of the subtree in the year.
    pub min_service_hours: i32,
    /// Activities completed in the year.
    pub min_activities: i32,
    /// The year's annual report must have been submitted.
    pub annual_report_required: bool,
    /// Beneficiaries' average rating at least (0: none).
    pub min_evaluation_average: f64,
}

/// The rules themselves, stored as JSON beside the rule set's columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Ascending by level, levels 1..=n.
    pub star_thresholds: Vec<StarThreshold>,
    /// How often stars are reviewed.
    pub review_period: ReviewPeriod,
    /// Quotas by level; a level without one has no limit.
    pub quotas: Vec<StarQuota>,
    /// Team star criteria by level.
    pub team_star_criteria: Vec<TeamStarCriteria>,
}

/// One revision of a rule set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    /// `national`, `fujian`, `xiamen`, ….
    pub id: String,
    /// 1 for the first.
    pub revision: i64,
    /// Display name.
    pub display_name: String,
    /// Whose rules.
    pub jurisdiction: String,
    /// The first day in force.
    pub effective_date: CivilDate,
    /// The rules.
    pub rules: Rules,
    /// Shipped with Egret.
    pub built_in: bool,
    /// Source and remarks.
    pub notes: String,
    /// Bookkeeping.
    pub meta: Meta,
}

impl Rules {
    /// The threshold of `stars`, if the rules have that level.
    pub fn threshold(&self, stars: i32) -> Option<&StarThreshold> {
        self.star_thresholds
            .iter()
            .find(|threshold| threshold.stars == stars)
    }

    /// The quota of `stars` (0: no limit).
    pub fn quota(&self, stars: i32) -> i32 {
        self.quotas
            .iter()
            .find(|quota| quota.stars == stars)
            .map_or(0, |quota| quota.max_awards)
    }

    /// Checks the rules, naming fields relative to the rule set message.
    pub fn validate(&self) -> Result<(), egret_runtime::ApiError> {
        let mut violations = Violations::new();
        if self.star_thresholds.is_empty() {
            violations.add(
                "star_thresholds",
                "must list at least the first star level",
                "至少应规定一星的条件",
            );
        }
        for (index, threshold) in self.star_thresholds.iter().enumerate() {
            let field = |name: &str| format!("star_thresholds[{index}].{name}");
            if threshold.stars != index as i32 + 1 {
                violations.add(
                    field("stars"),
                    format!(
                        "must be {}: levels run from 1 upward without gaps",
                        index + 1
                    ),
                    format!("应为 {}：星级须从一星起依次排列", index + 1),
                );
            }
            if !(1..=100_000).contains(&threshold.min_hours) {
                violations.add(
                    field("min_hours"),
                    "must be between 1 and 100000",
                    "时长应在 1 到 100000 小时之间",
                );
            }
            if !(0..=50).contains(&threshold.min_years) {
                violations.add(
                    field("min_years"),
                    "must be between 0 and 50",
                    "年限应在 0 到 50 年之间",
                );
            }
            if !(1..=2).contains(&threshold.approving_tier) {
                violations.add(
                    field("approving_tier"),
                    "must be the corps or a team",
                    "审批单位应为总队或服务队",
                );
            }
            if let Some(previous) = index.checked_sub(1).map(|i| &self.star_thresholds[i]) {
                if threshold.min_hours <= previous.min_hours {
                    violations.add(
                        field("min_hours"),
                        "must be more than the level below needs",
                        "应多于低一星级的时长",
                    );
                }
                if threshold.min_years < previous.min_years {
                    violations.add(
                        field("min_years"),
                        "must not be less than the level below needs",
                        "不应少于低一星级的年限",
                    );
                }
            }
        }
        if self.star_thresholds.len() > MAX_STARS as usize {
            violations.add(
                "star_thresholds",
                "must list at most 5 levels",
                "最多五个星级",
            );
        }
        let levels = self.star_thresholds.len() as i32;
        for (index, quota) in self.quotas.iter().enumerate() {
            if !(1..=levels).contains(&quota.stars)
                || self.quotas[..index]
                    .iter()
                    .any(|other| other.stars == quota.stars)
            {
                violations.add(
                    format!("quotas[{index}].stars"),
                    "must be a level the thresholds list, once",
                    "应为已规定的星级，且不重复",
                );
            }
            if !(0..=1_000_000).contains(&quota.max_awards) {
                violations.add(
                    format!("quotas[{index}].max_awards"),
                    "must be between 0 (no limit) and 1000000",
                    "名额应在 0（不限）到 1000000 之间",
                );
            }
        }
        for (index, criteria) in self.team_star_criteria.iter().enumerate() {
            let field = |name: &str| format!("team_star_criteria[{index}].{name}");
            if criteria.stars != index as i32 + 1 || criteria.stars > MAX_STARS {
                violations.add(
                    field("stars"),
                    format!("must be {}: levels run from 1 to 5 without gaps", index + 1),
                    format!("应为 {}：星级须从一星起依次排列", index + 1),
                );
            }
            for (name, value) in [
                ("min_active_members", criteria.min_active_members),
                ("min_service_hours", criteria.min_service_hours),
                ("min_activities", criteria.min_activities),
            ] {
                if !(0..=10_000_000).contains(&value) {
                    violations.add(
                        field(name),
                        "must be between 0 and 10000000",
                        "应在 0 到 10000000 之间",
                    );
                }
            }
            if !(0.0..=5.0).contains(&criteria.min_evaluation_average) {
                violations.add(
                    field("min_evaluation_average"),
                    "must be between 0 and 5",
                    "应在 0 到 5 之间",
                );
            }
        }
        violations.into_result()
    }
}

/// Whole years from `from` to `to` (0 when `to` is earlier): an anniversary on 29 February
/// completes on 1 March in other years.
pub fn whole_years(from: CivilDate, to: CivilDate) -> i32 {
    let mut years = to.year - from.year;
    if (to.month, to.day) < (from.month, from.day) {
        years -= 1;
    }
    years.max(0)
}

/// One level checked against a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelCheck {
    /// The level.
    pub stars: i32,
    /// Hours needed.
    pub min_hours: i32,
    /// Years needed.
    pub min_years: i32,
    /// Hours met.
    pub hours_met: bool,
    /// Years met.
    pub years_met: bool,
}

/// How a record stands against the rules on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Approved minutes up to the day.
    pub approved_minutes: i64,
    /// Whole years registered on the day.
    pub years_registered: i32,
    /// The highest level met, 0 for none.
    pub qualified_stars: i32,
    /// Every level.
    pub levels: Vec<LevelCheck>,
}

/// Evaluates `approved_minutes` and a registration on `registered_on` against `rules` on
/// `date`. Hours count in whole minutes: 100 hours is 6000 minutes, and 5999 is not enough.
pub fn evaluate(
    rules: &Rules,
    approved_minutes: i64,
    registered_on: CivilDate,
    date: CivilDate,
) -> Evaluation {
    let years_registered = whole_years(registered_on, date);
    let levels: Vec<LevelCheck> = rules
        .star_thresholds
        .iter()
        .map(|threshold| LevelCheck {
            stars: threshold.stars,
            min_hours: threshold.min_hours,
            min_years: threshold.min_years,
            hours_met: approved_minutes >= i64::from(threshold.min_hours) * 60,
            years_met: years_registered >= threshold.min_years,
        })
        .collect();
    let qualified_stars = levels
        .iter()
        .filter(|level| level.hours_met && level.years_met)
        .map(|level| level.stars)
        .max()
        .unwrap_or(0);
    Evaluation {
        approved_minutes,
        years_registered,
        qualified_stars,
        levels,
    }
}

/// What a team did in a year, counted over its subtree.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamFacts {
    /// Volunteers with approved service in the year.
    pub active_members: i64,
    /// Approved minutes in the year.
    pub approved_minutes: i64,
    /// Activities completed that started in the year.
    pub completed_activities: i64,
    /// Whether the year's annual report was submitted.
    pub annual_report_submitted: bool,
    /// Beneficiaries' average rating; None without ratings.
    pub evaluation_average: Option<f64>,
}

/// One criterion of one team level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionCheck {
    /// `active_members`, `service_hours`, `activities`, `annual_report_submitted` or
    /// `evaluation_average`.
    pub criterion: String,
    /// The team's value.
    pub value: f64,
    /// What the level needs.
    pub threshold: f64,
    /// Met.
    pub met: bool,
}

/// One team level checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamLevelCheck {
    /// The level.
    pub stars: i32,
    /// Every criterion met.
    pub met: bool,
    /// Each criterion.
    pub criteria: Vec<CriterionCheck>,
}

/// A team's stars for a year and the checks behind them: the highest level whose every
/// criterion is met. Hours count in whole minutes; a level that needs an evaluation average
/// is not met by a team no beneficiary rated.
pub fn evaluate_team(rules: &Rules, facts: &TeamFacts) -> (i32, Vec<TeamLevelCheck>) {
    let levels: Vec<TeamLevelCheck> = rules
        .team_star_criteria
        .iter()
        .map(|criteria| {
            let check = |criterion: &str, value: f64, threshold: f64, met: bool| CriterionCheck {
                criterion: criterion.to_string(),
                value,
                threshold,
                met,
            };
            let average = facts.evaluation_average.unwrap_or(0.0);
            let checks = vec![
                check(
                    "active_members",
                    facts.active_members as f64,
                    f64::from(criteria.min_active_members),
                    facts.active_members >= i64::from(criteria.min_active_members),
                ),
                check(
                    "service_hours",
                    facts.approved_minutes as f64 / 60.0,
                    f64::from(criteria.min_service_hours),
                    facts.approved_minutes >= i64::from(criteria.min_service_hours) * 60,
                ),
                check(
                    "activities",
                    facts.completed_activities as f64,
                    f64::from(criteria.min_activities),
                    facts.completed_activities >= i64::from(criteria.min_activities),
                ),
                check(
                    "annual_report_submitted",
                    if facts.annual_report_submitted {
                        1.0
                    } else {
                        0.0
                    },
                    if criteria.annual_report_required {
                        1.0
                    } else {
                        0.0
                    },
                    facts.annual_report_submitted || !criteria.annual_report_required,
                ),
                check(
                    "evaluation_average",
                    average,
                    criteria.min_evaluation_average,
                    criteria.min_evaluation_average <= 0.0
                        || (facts.evaluation_average.is_some()
                            && average >= criteria.min_evaluation_average),
                ),
            ];
            TeamLevelCheck {
                stars: criteria.stars,
                met: checks.iter().all(|check| check.met),
                criteria: checks,
            }
        })
        .collect();
    let stars = levels
        .iter()
        .filter(|level| level.met)
        .map(|level| level.stars)
        .max()
        .unwrap_or(0);
    (stars, levels)
}

/// A rule set as shipped: the fields an admin would give.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltIn {
    /// Id.
    pub id: &'static str,
    /// Display name.
    pub display_name: &'static str,
    /// Jurisdiction.
    pub jurisdiction: &'static str,
    /// The rules.
    pub rules: Rules,
    /// Source and remarks.
    pub notes: &'static str,
}

/// The day the shipped revisions take effect: early enough that every service record
/// an installation imports falls under some rules.
pub fn built_in_effective_date() -> CivilDate {
    CivilDate::new(2000, 1, 1).expect("a real date")
}

fn thresholds(levels: [(i32, i32, i64); 5]) -> Vec<StarThreshold> {
    levels
        .iter()
        .zip(1..)
        .map(
            |(&(min_hours, min_years, approving_tier), stars)| StarThreshold {
                stars,
                min_hours,
                min_years,
                approving_tier,
            },
        )
        .collect()
}

fn team_criteria() -> Vec<TeamStarCriteria> {
    [
        (5, 100, 2, false, 0.0),
        (10, 300, 4, false, 3.0),
        (20, 600, 6, true, 3.5),
        (30, 1000, 10, true, 4.0),
        (50, 2000, 12, true, 4.5),
    ]
    .into_iter()
    .zip(1..)
    .map(
        |((members, hours, activities, report, average), stars)| TeamStarCriteria {
            stars,
            min_active_members: members,
            min_service_hours: hours,
            min_activities: activities,
            annual_report_required: report,
            min_evaluation_average: average,
        },
    )
    .collect()
}

/// The rule sets Egret ships: the national norm, Fujian's and Xiamen's.
pub fn built_in() -> Vec<BuiltIn> {
    const TEAM: i64 = 2;
    const CORPS: i64 = 1;
    vec![
        BuiltIn {
            id: "national",
            display_name: "全国志愿者星级认定标准",
            jurisdiction: "national",
            rules: Rules {
                star_thresholds: thresholds([
                    (100, 0, TEAM),
                    (300, 0, TEAM),
                    (600, 0, TEAM),
                    (1000, 0, CORPS),
                    (1500, 0, CORPS),
                ]),
                review_period: ReviewPeriod::Year,
                quotas: Vec::new(),
                team_star_criteria: team_criteria(),
            },
            notes: "The national norm: 1★ 100 h, 2★ 300 h, 3★ 600 h, 4★ 1000 h, 5★ 1500 h of \
                    approved service. Team star criteria are Egret's starting values.",
        },
        BuiltIn {
            id: "fujian",
            display_name: "福建省星级志愿者认定办法",
            jurisdiction: "fujian",
            rules: Rules {
                star_thresholds: thresholds([
                    (100, 0, TEAM),
                    (300, 0, TEAM),
                    (600, 0, TEAM),
                    (1000, 0, CORPS),
                    (1500, 0, CORPS),
                ]),
                review_period: ReviewPeriod::HalfYear,
                quotas: Vec::new(),
                team_star_criteria: team_criteria(),
            },
            notes: "Fujian follows the national hour thresholds, reviewed half-yearly; revise \
                    this set when the province publishes rules of its own.",
        },
        BuiltIn {
            id: "xiamen",
            display_name: "厦门市星级志愿者评定办法",
            jurisdiction: "xiamen",
            rules: Rules {
                star_thresholds: thresholds([
                    (100, 0, TEAM),
                    (300, 0, TEAM),
                    (600, 2, CORPS),
                    (1000, 3, CORPS),
                    (1500, 3, CORPS),
                ]),
                review_period: ReviewPeriod::HalfYear,
                quotas: vec![
                    StarQuota {
                        stars: 3,
                        max_awards: 50,
                    },
                    StarQuota {
                        stars: 4,
                        max_awards: 20,
                    },
                    StarQuota {
                        stars: 5,
                        max_awards: 10,
                    },
                ],
                team_star_criteria: team_criteria(),
            },
            notes: "Xiamen adds time to the national hours: 3★ needs 600 h and 2 years since \
                    registration, 4★ 1000 h and 3 years. The 5★ years (3) and the quotas are \
                    starting values, not yet decided by the federation: revise them here.",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> CivilDate {
        CivilDate::new(year, month, day).unwrap()
    }

    fn xiamen() -> Rules {
        built_in()
            .into_iter()
            .find(|set| set.id == "xiamen")
            .unwrap()
            .rules
    }

    #[test]
    fn shipped_rules_are_valid() {
        for set in built_in() {
            set.rules.validate().unwrap();
            assert!(is_rule_set_id(set.id));
        }
    }

    #[test]
    fn hours_count_to_the_minute() {
        let rules = xiamen();
        let registered = date(2020, 1, 1);
        let today = date(2026, 1, 1);
        assert_eq!(
            evaluate(&rules, 99 * 60, registered, today).qualified_stars,
            0
        );
        assert_eq!(
            evaluate(&rules, 100 * 60 - 1, registered, today).qualified_stars,
            0
        );
        assert_eq!(
            evaluate(&rules, 100 * 60, registered, today).qualified_stars,
            1
        );
        assert_eq!(
            evaluate(&rules, 599 * 60, registered, today).qualified_stars,
            2
        );
        assert_eq!(
            evaluate(&rules, 600 * 60, registered, today).qualified_stars,
            3
        );
    }

    #[test]
    fn xiamen_needs_years_for_three_stars() {
        let rules = xiamen();
        let registered = date(2024, 3, 15);
        let evaluation = evaluate(&rules, 600 * 60, registered, date(2026, 3, 14));
        assert_eq!(evaluation.years_registered, 1);
        assert_eq!(evaluation.qualified_stars, 2);
        assert_eq!(
            evaluate(&rules, 600 * 60, registered, date(2026, 3, 15)).qualified_stars,
            3
        );
        assert_eq!(
            evaluate(&rules, 1000 * 60, registered, date(2027, 3, 14)).qualified_stars,
            3
        );
        assert_eq!(
            evaluate(&rules, 1000 * 60, registered, date(2027, 3, 15)).qualified_stars,
            4
        );
    }

    #[test]
    fn leap_day_anniversaries_complete_on_the_first_of_march() {
        assert_eq!(whole_years(date(2024, 2, 29), date(2026, 2, 28)), 1);
        assert_eq!(whole_years(date(2024, 2, 29), date(2026, 3, 1)), 2);
        assert_eq!(whole_years(date(2026, 1, 1), date(2025, 1, 1)), 0);
    }

    #[test]
    fn team_stars_explain_each_criterion() {
        let rules = xiamen();
        let mut facts = TeamFacts {
            active_members: 10,
            approved_minutes: 300 * 60,
            completed_activities: 4,
            annual_report_submitted: false,
            evaluation_average: Some(3.2),
        };
        let (stars, levels) = evaluate_team(&rules, &facts);
        assert_eq!(stars, 2);
        let third = &levels[2];
        assert!(!third.met);
        let unmet: Vec<_> = third
            .criteria
            .iter()
            .filter(|check| !check.met)
            .map(|check| check.criterion.as_str())
            .collect();
        assert_eq!(
            unmet,
            [
                "active_members",
                "service_hours",
                "activities",
                "annual_report_submitted",
                "evaluation_average"
            ]
        );
        facts.approved_minutes = 300 * 60 - 1;
        assert_eq!(
            evaluate_team(&rules, &facts).0,
            1,
            "one minute short of 300 h"
        );
        facts.evaluation_average = None;
        facts.approved_minutes = 300 * 60;
        assert_eq!(evaluate_team(&rules, &facts).0, 1, "no ratings, no average");
    }

    #[test]
    fn periods_parse_by_kind() {
        assert_eq!(
            ReviewPeriod::HalfYear.parse("2026-H2"),
            Some((date(2026, 7, 1), date(2026, 12, 31)))
        );
        assert_eq!(
            ReviewPeriod::Quarter.parse("2026-Q1"),
            Some((date(2026, 1, 1), date(2026, 3, 31)))
        );
        assert_eq!(
            ReviewPeriod::Year.parse("2026"),
            Some((date(2026, 1, 1), date(2026, 12, 31)))
        );
        assert_eq!(ReviewPeriod::HalfYear.parse("2026"), None);
        assert_eq!(ReviewPeriod::Year.parse("2026-H1"), None);
        assert_eq!(ReviewPeriod::Quarter.parse("2026-Q5"), None);
        assert_eq!(ReviewPeriod::Quarter.parse("26-Q1"), None);
    }

    #[test]
    fn bad_rules_name_their_fields() {
        let mut rules = xiamen();
        rules.star_thresholds[1].min_hours = 50;
        rules.star_thresholds[2].min_years = -1;
        rules.quotas.push(StarQuota {
            stars: 9,
            max_awards: 1,
        });
        let Err(egret_runtime::ApiError::InvalidArgument(violations)) = rules.validate() else {
            panic!("bad rules pass");
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert!(
            fields.contains(&"star_thresholds[1].min_hours"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"star_thresholds[2].min_years"),
            "{fields:?}"
        );
        assert!(fields.contains(&"quotas[3].stars"), "{fields:?}");
    }
}
