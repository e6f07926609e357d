//! What a statistic counts and how it may be broken down: a closed table of metrics and
//! dimensions, so that every query is one of a known set of SQL shapes.

use egret_runtime::ApiError;
use egret_types::CivilDate;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Teams, sub-teams and squads.
    Teams,
    /// Unique volunteers serving in the subtree.
    Volunteers,
    /// Volunteers registered within the period.
    NewVolunteers,
    /// Activities held, by start day.
    Activities,
    /// Approved minutes.
    ApprovedMinutes,
    /// Approved service records.
    ServiceRecords,
    /// Unique volunteers granted a qualification.
    TrainedVolunteers,
    /// Unique volunteers insured on the last day.
    InsuredVolunteers,
    /// Stars awarded.
    StarRatings,
    /// Commendations awarded.
    Commendations,
}

/// What a figure is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// The units directly under the queried unit.
    OrgUnit,
    /// Tier.
    Tier,
    /// Team level.
    TeamLevel,
    /// Team category.
    TeamCategory,
    /// Org status.
    OrgStatus,
    /// Age band on the last day.
    AgeBand,
    /// Gender.
    Gender,
    /// Service theme.
    ServiceTheme,
    /// Service field.
    ServiceField,
    /// Target group.
    TargetGroup,
    /// `YYYY-MM`.
    Month,
    /// Star level.
    Stars,
}

impl Metric {
    /// From the wire number.
    pub fn from_number(number: i32) -> Option<Self> {
        Some(match number {
            1 => Metric::Teams,
            2 => Metric::Volunteers,
            3 => Metric::NewVolunteers,
            4 => Metric::Activities,
            5 => Metric::ApprovedMinutes,
            6 => Metric::ServiceRecords,
            7 => Metric::TrainedVolunteers,
            8 => Metric::InsuredVolunteers,
            9 => Metric::StarRatings,
            10 => Metric::Commendations,
            _ => return None,
        })
    }

    /// The dimensions this metric can be broken down by.
    pub fn dimensions(self) -> &'static [Dimension] {
        use Dimension::*;
        match self {
            Metric::Teams => &[OrgUnit, Tier, TeamLevel, TeamCategory, OrgStatus],
            Metric::Volunteers | Metric::InsuredVolunteers => &[OrgUnit, AgeBand, Gender],
            Metric::NewVolunteers => &[OrgUnit, AgeBand, Gender, Month],
            Metric::Activities => &[OrgUnit, ServiceTheme, ServiceField, TargetGroup, Month],
            Metric::ApprovedMinutes | Metric::ServiceRecords => &[OrgUnit, Month],
            Metric::TrainedVolunteers | Metric::Commendations => &[OrgUnit, Month],
            Metric::StarRatings => &[OrgUnit, Stars, Month],
        }
    }

    /// Whether a monthly series of this metric makes sense.
    pub fn has_series(self) -> bool {
        self.dimensions().contains(&Dimension::Month)
    }
}

impl Dimension {
    /// From the wire number.
    pub fn from_number(number: i32) -> Option<Self> {
        Some(match number {
            1 => Dimension::OrgUnit,
            2 => Dimension::Tier,
            3 => Dimension::TeamLevel,
            4 => Dimension::TeamCategory,
            5 => Dimension::OrgStatus,
            6 => Dimension::AgeBand,
            7 => Dimension::Gender,
            8 => Dimension::ServiceTheme,
            9 => Dimension::ServiceField,
            10 => Dimension::TargetGroup,
            11 => Dimension::Month,
            12 => Dimension::Stars,
            _ => return None,
        })
    }
}

/// A validated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// What to count.
    pub metric: Metric,
    /// Up to two dimensions, distinct.
    pub dimensions: Vec<Dimension>,
    /// The first day, if bounded.
    pub start: Option<CivilDate>,
    /// The last day.
    pub end: CivilDate,
    /// Only facts whose key of the dimension is one of the values (raw keys: numbers as
    /// text, ids, `YYYY-MM`, band labels).
    pub filters: Vec<(Dimension, Vec<String>)>,
}

impl Query {
    /// Checks a query, naming the offending field.
    pub fn new(
        metric: Metric,
        dimensions: Vec<Dimension>,
        start: Option<CivilDate>,
        end: CivilDate,
    ) -> Result<Self, ApiError> {
        if dimensions.len() > 2 {
            return Err(ApiError::invalid(
                "dimensions",
                "must name at most two dimensions",
                "最多按两个维度统计",
            ));
        }
        for (index, dimension) in dimensions.iter().enumerate() {
            if !metric.dimensions().contains(dimension) {
                return Err(ApiError::invalid(
                    format!("dimensions[{index}]"),
                    format!("{dimension:?} does not apply to {metric:?}"),
                    "该维度不适用于所选指标",
                ));
            }
            if dimensions[..index].contains(dimension) {
                return Err(ApiError::invalid(
                    format!("dimensions[{index}]"),
                    "is named twice",
                    "维度重复",
                ));
            }
        }
        if start.is_some_and(|start| start > end) {
            return Err(ApiError::invalid(
                "end_date",
                "must not be before start_date",
                "结束日期不能早于开始日期",
            ));
        }
        Ok(Self {
            metric,
            dimensions,
            start,
            end,
            filters: Vec::new(),
        })
    }

    /// The query restricted by filters: at most four, each on a dimension of the metric,
    /// with 1 to 50 values.
    pub fn with_filters(
        mut self,
        filters: Vec<(Dimension, Vec<String>)>,
    ) -> Result<Self, ApiError> {
        if filters.len() > 4 {
            return Err(ApiError::invalid(
                "filters",
                "must hold at most four filters",
                "最多四个筛选条件",
            ));
        }
        for (index, (dimension, values)) in filters.iter().enumerate() {
            if !self.metric.dimensions().contains(dimension) {
                return Err(ApiError::invalid(
                    format!("filters[{index}].dimension"),
                    format!("{dimension:?} does not apply to {:?}", self.metric),
                    "该筛选维度不适用于所选指标",
                ));
            }
            if values.is_empty() || values.len() > 50 {
                return Err(ApiError::invalid(
                    format!("filters[{index}].values"),
                    "must hold 1 to 50 values",
                    "筛选值应为 1 到 50 个",
                ));
            }
        }
        self.filters = filters;
        Ok(self)
    }

    /// The first day as stored text ('' for no lower bound: every stored date sorts after).
    pub fn start_text(&self) -> String {
        self.start.map(|date| date.to_iso()).unwrap_or_default()
    }
}

/// Age bands, youngest first, with the youngest age of each.
pub const AGE_BANDS: [(&str, i32); 6] = [
    ("under_18", 0),
    ("18_35", 18),
    ("36_45", 36),
    ("46_55", 46),
    ("56_65", 56),
    ("over_65", 66),
];

/// The latest birth date of someone aged at least `age` on `day` (29 February births in
/// a common year turn a year older on 1 March).
pub fn born_by(day: CivilDate, age: i32) -> CivilDate {
    CivilDate::new(day.year - age, day.month, day.day)
        .unwrap_or_else(|| CivilDate::new(day.year - age, 2, 28).expect("a real date"))
}

/// The months from `start` to `end`, `YYYY-MM`, in order.
pub fn months(start: CivilDate, end: CivilDate) -> Vec<String> {
    let mut months = Vec::new();
    let (mut year, mut month) = (start.year, start.month);
    while (year, month) <= (end.year, end.month) {
        months.push(format!("{year:04}-{month:02}"));
        if month == 12 {
            year += 1;
            month = 1;
        } else {
            month += 1;
        }
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> CivilDate {
        CivilDate::new(year, month, day).unwrap()
    }

    #[test]
    fn queries_are_checked() {
        let end = date(2026, 6, 30);
        assert!(Query::new(Metric::Teams, vec![Dimension::Tier], None, end).is_ok());
        let Err(ApiError::InvalidArgument(violations)) = Query::new(
            Metric::Teams,
            vec![Dimension::Tier, Dimension::Gender],
            None,
            end,
        ) else {
            panic!("gender of teams");
        };
        assert_eq!(violations[0].field, "dimensions[1]");
        assert!(
            Query::new(
                Metric::Volunteers,
                vec![Dimension::Gender, Dimension::Gender],
                None,
                end
            )
            .is_err()
        );
        assert!(Query::new(Metric::Activities, vec![], Some(date(2026, 7, 1)), end).is_err());
    }

    #[test]
    fn ages_turn_on_birthdays() {
        let day = date(2026, 3, 1);
        assert_eq!(born_by(day, 18), date(2008, 3, 1));
        assert_eq!(born_by(date(2025, 2, 28), 1), date(2024, 2, 28));
        assert_eq!(born_by(date(2028, 2, 29), 1), date(2027, 2, 28));
    }

    #[test]
    fn months_run_across_years() {
        assert_eq!(
            months(date(2025, 11, 15), date(2026, 2, 1)),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
    }
}
