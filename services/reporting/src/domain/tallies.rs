//! Tallies: the statistics kept up to date by the feeds, so that a figure for any subtree
//! and period reads a few rows per subtree instead of every record beneath it.
//!
//! Every fact counts once in each unit above it, its own included (a unit's path names all
//! of them), so a subtree's figure is read from the rows of its root alone. Dated facts
//! (activities, approved hours, awards, registrations, qualifications) are kept twice, per
//! day and per month: a period reads whole months from the month rows and its partial
//! months from the day rows, so its figure is exact for any first and last day.
//!
//! Counts of people are exact too, though a person may serve in several units and a
//! period holds many of their facts:
//! - a volunteer counts once in every unit above any of the units they serve in (the union
//!   of those units' ancestors), never once per membership;
//! - trained volunteers in a period are the qualifications in it less the pairs of a
//!   volunteer's consecutive qualifications both in it (a volunteer whose qualifications
//!   fall in the period has one more of those than of such pairs);
//! - insured volunteers on a day are the spans of cover (the merged periods of the
//!   policies in force that name or cover them, from their registration on) that hold it;
//! - volunteers by age band on the last day read whole birth months; the birth months in
//!   which a band begins on that day, and volunteers registered after it, are counted
//!   person by person (a few hundred at the city's scale).
//!
//! This module holds the rules, without I/O: which rows a fact adds to, and which rows a
//! query reads. `store::tallies` holds the SQL.

use std::collections::{BTreeSet, HashMap};

use egret_types::CivilDate;

use super::stats::{AGE_BANDS, Dimension, Metric, Query, born_by};

/// What a tally counts: a closed set, numbered as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fact {
    /// Active teams, sub-teams and squads, by tier (no period).
    Teams = 1,
    /// Active volunteers by registration day, by gender.
    Volunteers = 2,
    /// Active volunteers by birth month (no registration day), by gender.
    VolunteersBorn = 3,
    /// Registrations by day, by gender, whatever the volunteer's status since.
    NewVolunteers = 4,
    /// Activities held, by start day and service theme.
    Activities = 5,
    /// Approved minutes by service day.
    ApprovedMinutes = 6,
    /// Approved service records by service day.
    ServiceRecords = 7,
    /// Qualifications by grant day (one per qualification).
    Qualifications = 8,
    /// A volunteer's consecutive qualifications as spans (first day, next day).
    QualificationPairs = 9,
    /// Spans of an active volunteer's insurance cover (first day, last day).
    InsuredSpans = 10,
    /// Star ratings awarded, by award day and stars.
    StarRatings = 11,
    /// Commendations awarded, by award day.
    Commendations = 12,
}

impl Fact {
    /// The stored number.
    pub fn number(self) -> i64 {
        self as i64
    }
}

/// How a tally row's period is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    /// No period: `''`.
    Whole = 0,
    /// A day, `YYYY-MM-DD`.
    Day = 1,
    /// A month, `YYYY-MM`.
    Month = 2,
    /// A birth month, `YYYY-MM`.
    BirthMonth = 3,
    /// A span: the period is its first day and the bucket its last.
    Span = 4,
}

impl Grain {
    /// The stored number.
    pub fn number(self) -> i64 {
        self as i64
    }
}

/// One tally row's identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The unit whose subtree the row counts.
    pub subtree_id: String,
    /// What it counts.
    pub fact: Fact,
    /// How its period is read.
    pub grain: Grain,
    /// The day, month or span start; `''` for none.
    pub period: String,
    /// The breakdown value (a wire number as text, or a span's last day); `''` for none.
    pub bucket: String,
}

/// Changes to tally rows, by row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deltas(pub HashMap<Key, i64>);

impl Deltas {
    fn add(&mut self, key: Key, amount: i64) {
        if amount == 0 {
            return;
        }
        *self.0.entry(key).or_insert(0) += amount;
    }

    /// Adds `sign` times every row of `other`.
    pub fn merge(&mut self, other: &Deltas, sign: i64) {
        for (key, amount) in &other.0 {
            self.add(key.clone(), sign * amount);
        }
    }

    /// The rows that change, without those that cancel out.
    pub fn nonzero(self) -> Vec<(Key, i64)> {
        let mut rows: Vec<(Key, i64)> = self.0.into_iter().filter(|(_, v)| *v != 0).collect();
        // A fixed order keeps concurrent writers from locking rows in opposite orders.
        rows.sort();
        rows
    }

    fn dated(&mut self, reach: &BTreeSet<String>, fact: Fact, day: &str, bucket: &str, by: i64) {
        if day.len() < 10 {
            return;
        }
        for subtree_id in reach {
            for (grain, period) in [(Grain::Day, day), (Grain::Month, &day[..7])] {
                self.add(
                    Key {
                        subtree_id: subtree_id.clone(),
                        fact,
                        grain,
                        period: period.to_string(),
                        bucket: bucket.to_string(),
                    },
                    by,
                );
            }
        }
    }

    fn keyed(
        &mut self,
        reach: &BTreeSet<String>,
        fact: Fact,
        grain: Grain,
        period: &str,
        bucket: &str,
    ) {
        for subtree_id in reach {
            self.add(
                Key {
                    subtree_id: subtree_id.clone(),
                    fact,
                    grain,
                    period: period.to_string(),
                    bucket: bucket.to_string(),
                },
                1,
            );
        }
    }
}

/// The units a path names, its own last: `/c/d/t/` → c, d, t.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// Every unit above any of `paths`, each once.
pub fn reach<'a>(paths: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    paths
        .into_iter()
        .flat_map(ancestors)
        .map(str::to_string)
        .collect()
}

/// An org unit as the tallies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFacts {
    /// Its path.
    pub path: String,
    /// Its tier.
    pub tier: i64,
    /// Its status (1: active).
    pub status: i64,
}

impl Deltas {
    /// Adds what a unit contributes: an active team counts in every unit above it.
    pub fn add_unit(&mut self, unit: &UnitFacts) {
        if unit.tier >= 2 && unit.status == 1 {
            let reach = reach([unit.path.as_str()]);
            self.keyed(
                &reach,
                Fact::Teams,
                Grain::Whole,
                "",
                &unit.tier.to_string(),
            );
        }
    }
}

/// A dated fact at one unit: an activity, a day's approved hours, an award.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedFacts {
    /// The unit's path.
    pub path: String,
    /// The day.
    pub day: String,
    /// Each fact, its bucket and its amount.
    pub amounts: Vec<(Fact, String, i64)>,
}

impl Deltas {
    /// Adds what dated facts at one unit contribute.
    pub fn add_dated(&mut self, facts: &DatedFacts) {
        let reach = reach([facts.path.as_str()]);
        for (fact, bucket, amount) in &facts.amounts {
            self.dated(&reach, *fact, &facts.day, bucket, *amount);
        }
    }
}

/// A policy as the tallies see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cover {
    /// The policy holder's unit.
    pub org_unit_id: String,
    /// First day.
    pub start_date: String,
    /// Last day.
    pub end_date: String,
    /// Whether it covers everyone serving in the holder's subtree.
    pub covers_subtree: bool,
    /// Whether it names the volunteer.
    pub names_volunteer: bool,
}

/// A volunteer as the tallies see them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolunteerFacts {
    /// 1: active.
    pub status: i64,
    /// The gender's wire number.
    pub gender: i64,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `YYYY-MM-DD`.
    pub registered_on: String,
    /// The paths of the units they serve in: the registering unit and every unit of an
    /// active membership (known to the replica).
    pub unit_paths: Vec<String>,
    /// Their qualifications' grant days.
    pub qualification_dates: Vec<String>,
    /// The active policies that name them or cover a subtree.
    pub covers: Vec<Cover>,
}

impl Deltas {
    /// Adds what a volunteer contributes, to every unit above any unit they serve in.
    pub fn add_volunteer(&mut self, volunteer: &VolunteerFacts) {
        let reach = reach(volunteer.unit_paths.iter().map(String::as_str));
        if reach.is_empty() {
            return;
        }
        let gender = volunteer.gender.to_string();
        self.dated(
            &reach,
            Fact::NewVolunteers,
            &volunteer.registered_on,
            &gender,
            1,
        );
        if volunteer.status == 1 {
            self.dated(
                &reach,
                Fact::Volunteers,
                &volunteer.registered_on,
                &gender,
                1,
            );
            if volunteer.birth_date.len() >= 7 {
                self.keyed(
                    &reach,
                    Fact::VolunteersBorn,
                    Grain::BirthMonth,
                    &volunteer.birth_date[..7],
                    &gender,
                );
            }
            self.cover(volunteer, &reach);
        }
        let mut granted = volunteer.qualification_dates.clone();
        granted.sort();
        for day in &granted {
            self.dated(&reach, Fact::Qualifications, day, "", 1);
        }
        for pair in granted.windows(2) {
            self.keyed(
                &reach,
                Fact::QualificationPairs,
                Grain::Span,
                &pair[0],
                &pair[1],
            );
        }
    }
}

impl Deltas {
    /// Adds only a volunteer's insurance cover (what a changed policy moves).
    pub fn add_volunteer_cover(&mut self, volunteer: &VolunteerFacts) {
        if volunteer.status != 1 || volunteer.covers.is_empty() {
            return;
        }
        let reach = reach(volunteer.unit_paths.iter().map(String::as_str));
        self.cover(volunteer, &reach);
    }

    fn cover(&mut self, volunteer: &VolunteerFacts, reach: &BTreeSet<String>) {
        for (first, last) in insured_spans(volunteer, reach) {
            self.keyed(reach, Fact::InsuredSpans, Grain::Span, &first, &last);
        }
    }
}

/// The days a volunteer is insured, as disjoint spans: the policies that name them or
/// cover a unit above one they serve in, merged where they overlap, from the day they
/// registered (the figure counts volunteers registered by its day).
fn insured_spans(volunteer: &VolunteerFacts, reach: &BTreeSet<String>) -> Vec<(String, String)> {
    let mut spans: Vec<(String, String)> = volunteer
        .covers
        .iter()
        .filter(|cover| {
            cover.names_volunteer || (cover.covers_subtree && reach.contains(&cover.org_unit_id))
        })
        .map(|cover| {
            let first = cover
                .start_date
                .clone()
                .max(volunteer.registered_on.clone());
            (first, cover.end_date.clone())
        })
        .filter(|(first, last)| first <= last)
        .collect();
    spans.sort();
    let mut merged: Vec<(String, String)> = Vec::new();
    for (first, last) in spans {
        match merged.last_mut() {
            Some((_, held_last)) if first <= *held_last => {
                if last > *held_last {
                    *held_last = last;
                }
            }
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// The rows a period reads of a dated fact: whole months, then the days of its partial
/// months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// Months `[first, past_last)`, if any.
    pub months: Option<(String, String)>,
    /// Day ranges, inclusive.
    pub days: Vec<(String, String)>,
}

fn month_text(year: i32, month: u32) -> String {
    format!("{year:04}-{month:02}")
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// Splits `[start, end]` (no start: from the first fact) into whole months and days.
pub fn windows(start: Option<CivilDate>, end: CivilDate) -> Windows {
    let end_month = (end.year, end.month);
    let tail_first = format!("{}-01", month_text(end.year, end.month));
    let Some(start) = start else {
        return Windows {
            months: Some((String::new(), month_text(end.year, end.month))),
            days: vec![(tail_first, end.to_iso())],
        };
    };
    if (start.year, start.month) == end_month {
        return Windows {
            months: None,
            days: vec![(start.to_iso(), end.to_iso())],
        };
    }
    let mut days = Vec::new();
    let first_whole = if start.day == 1 {
        (start.year, start.month)
    } else {
        days.push((
            start.to_iso(),
            format!("{}-31", month_text(start.year, start.month)),
        ));
        next_month(start.year, start.month)
    };
    days.push((tail_first, end.to_iso()));
    let months = (first_whole < end_month).then(|| {
        (
            month_text(first_whole.0, first_whole.1),
            month_text(end.year, end.month),
        )
    });
    Windows { months, days }
}

/// How a query is read from the tallies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Active teams, by tier or in all.
    Teams,
    /// A dated fact over the period, by its bucket and/or month.
    Dated {
        /// The fact.
        fact: Fact,
        /// Whether the query is broken down by the fact's bucket.
        by_bucket: bool,
        /// Whether it is broken down by month.
        by_month: bool,
        /// Whether the bucket comes first among the dimensions.
        bucket_first: bool,
    },
    /// Active volunteers by age band on the last day.
    VolunteersByAge,
    /// Volunteers granted a qualification in the period.
    Trained,
    /// Active volunteers insured on the last day.
    Insured,
}

/// How `query` is read from the tallies, or None where only the replica can answer it
/// (a breakdown by unit, a filter, a dimension no tally keeps).
pub fn reading(query: &Query) -> Option<Reading> {
    if !query.filters.is_empty() {
        return None;
    }
    let dimensions = query.dimensions.as_slice();
    let dated = |fact: Fact, bucket: Option<Dimension>| -> Option<Reading> {
        let mut by_bucket = false;
        let mut by_month = false;
        let mut bucket_first = false;
        for (index, dimension) in dimensions.iter().enumerate() {
            if Some(*dimension) == bucket {
                by_bucket = true;
                bucket_first = index == 0;
            } else if *dimension == Dimension::Month {
                by_month = true;
            } else {
                return None;
            }
        }
        Some(Reading::Dated {
            fact,
            by_bucket,
            by_month,
            bucket_first,
        })
    };
    match query.metric {
        Metric::Teams => match dimensions {
            [] | [Dimension::Tier] => Some(Reading::Teams),
            _ => None,
        },
        Metric::Volunteers => match dimensions {
            [] | [Dimension::Gender] => dated(Fact::Volunteers, Some(Dimension::Gender)),
            [Dimension::AgeBand] => Some(Reading::VolunteersByAge),
            _ => None,
        },
        Metric::NewVolunteers => dated(Fact::NewVolunteers, Some(Dimension::Gender)),
        Metric::Activities => dated(Fact::Activities, Some(Dimension::ServiceTheme)),
        Metric::ApprovedMinutes => dated(Fact::ApprovedMinutes, None),
        Metric::ServiceRecords => dated(Fact::ServiceRecords, None),
        Metric::StarRatings => dated(Fact::StarRatings, Some(Dimension::Stars)),
        Metric::Commendations => dated(Fact::Commendations, None),
        Metric::TrainedVolunteers => dimensions.is_empty().then_some(Reading::Trained),
        Metric::InsuredVolunteers => dimensions.is_empty().then_some(Reading::Insured),
    }
}

/// A query broken down by unit, as the same query without that dimension asked of each
/// unit under the queried one (and of the queried unit's own facts): the position of the
/// unit among the dimensions and that query, where the tallies answer it.
pub fn by_unit(query: &Query) -> Option<(usize, Query)> {
    let position = query
        .dimensions
        .iter()
        .position(|dimension| *dimension == Dimension::OrgUnit)?;
    let mut inner = query.clone();
    inner.dimensions.remove(position);
    reading(&inner)?;
    Some((position, inner))
}

/// The age bands on `end`: for each band but the oldest, the latest birth day it holds
/// the day after (a volunteer born after `bounds[i]` is younger than band `i + 1`).
pub fn band_bounds(end: CivilDate) -> Vec<(&'static str, String)> {
    AGE_BANDS
        .windows(2)
        .map(|window| (window[0].0, born_by(end, window[1].1).to_iso()))
        .collect()
}

/// The band of a birth day on the day `bounds` were drawn for.
pub fn band_of(birth_date: &str, bounds: &[(&'static str, String)]) -> &'static str {
    bounds
        .iter()
        .find(|(_, bound)| birth_date > bound.as_str())
        .map_or(AGE_BANDS[AGE_BANDS.len() - 1].0, |(label, _)| label)
}

/// The birth months in which a band begins on the bounds' day: their volunteers are
/// counted one by one.
pub fn split_months(bounds: &[(&'static str, String)]) -> BTreeSet<String> {
    bounds
        .iter()
        .map(|(_, bound)| bound[..7].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u32, day: u32) -> CivilDate {
        CivilDate::new(year, month, day).unwrap()
    }

    #[test]
    fn a_period_reads_whole_months_and_the_days_of_partial_ones() {
        struct TestCase {
            start: Option<CivilDate>,
            end: CivilDate,
            months: Option<(&'static str, &'static str)>,
            days: &'static [(&'static str, &'static str)],
        }
        let cases = [
            TestCase {
                start: Some(date(2025, 11, 1)),
                end: date(2026, 10, 31),
                months: Some(("2025-11", "2026-10")),
                days: &[("2026-10-01", "2026-10-31")],
            },
            TestCase {
                start: Some(date(2025, 11, 15)),
                end: date(2026, 2, 3),
                months: Some(("2025-12", "2026-02")),
                days: &[("2025-11-15", "2025-11-31"), ("2026-02-01", "2026-02-03")],
            },
            TestCase {
                start: Some(date(2025, 12, 15)),
                end: date(2026, 1, 3),
                months: None,
                days: &[("2025-12-15", "2025-12-31"), ("2026-01-01", "2026-01-03")],
            },
            TestCase {
                start: Some(date(2026, 1, 5)),
                end: date(2026, 1, 9),
                months: None,
                days: &[("2026-01-05", "2026-01-09")],
            },
            TestCase {
                start: None,
                end: date(2026, 1, 9),
                months: Some(("", "2026-01")),
                days: &[("2026-01-01", "2026-01-09")],
            },
        ];
        #[track_caller]
        fn check(case: &TestCase) {
            let windows = windows(case.start, case.end);
            assert_eq!(
                windows.months,
                case.months.map(|(a, b)| (a.to_string(), b.to_string()))
            );
            let days: Vec<(String, String)> = case
                .days
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            assert_eq!(windows.days, days);
        }
        for case in &cases {
            check(case);
        }
    }

    #[test]
    fn a_volunteer_in_two_units_counts_once_above_both() {
        let volunteer = VolunteerFacts {
            status: 1,
            gender: 1,
            birth_date: "1990-05-06".into(),
            registered_on: "2026-01-02".into(),
            unit_paths: vec!["/c/d/t1/".into(), "/c/d/t2/".into()],
            qualification_dates: vec!["2026-03-01".into(), "2026-02-01".into()],
            covers: vec![
                Cover {
                    org_unit_id: "d".into(),
                    start_date: "2025-01-01".into(),
                    end_date: "2026-06-30".into(),
                    covers_subtree: true,
                    names_volunteer: false,
                },
                Cover {
                    org_unit_id: "x".into(),
                    start_date: "2026-06-01".into(),
                    end_date: "2026-12-31".into(),
                    covers_subtree: false,
                    names_volunteer: true,
                },
                Cover {
                    org_unit_id: "elsewhere".into(),
                    start_date: "2020-01-01".into(),
                    end_date: "2030-12-31".into(),
                    covers_subtree: true,
                    names_volunteer: false,
                },
            ],
        };
        let mut deltas = Deltas::default();
        deltas.add_volunteer(&volunteer);
        let at = |subtree: &str, fact: Fact, grain: Grain, period: &str, bucket: &str| {
            deltas
                .0
                .get(&Key {
                    subtree_id: subtree.into(),
                    fact,
                    grain,
                    period: period.into(),
                    bucket: bucket.into(),
                })
                .copied()
        };
        assert_eq!(
            at("c", Fact::Volunteers, Grain::Day, "2026-01-02", "1"),
            Some(1)
        );
        assert_eq!(
            at("d", Fact::VolunteersBorn, Grain::BirthMonth, "1990-05", "1"),
            Some(1)
        );
        assert_eq!(
            at("t2", Fact::Volunteers, Grain::Month, "2026-01", "1"),
            Some(1)
        );
        // Cover from registration, the two policies merged where they overlap.
        assert_eq!(
            at(
                "c",
                Fact::InsuredSpans,
                Grain::Span,
                "2026-01-02",
                "2026-12-31"
            ),
            Some(1)
        );
        assert_eq!(
            at("c", Fact::Qualifications, Grain::Month, "2026-02", ""),
            Some(1)
        );
        assert_eq!(
            at(
                "t1",
                Fact::QualificationPairs,
                Grain::Span,
                "2026-02-01",
                "2026-03-01"
            ),
            Some(1)
        );
        assert!(
            deltas
                .0
                .keys()
                .all(|key| ["c", "d", "t1", "t2"].contains(&key.subtree_id.as_str()))
        );
    }

    #[test]
    fn bands_split_only_the_months_they_begin_in() {
        let bounds = band_bounds(date(2026, 10, 31));
        assert_eq!(bounds[0], ("under_18", "2008-10-31".to_string()));
        assert_eq!(band_of("2008-11-01", &bounds), "under_18");
        assert_eq!(band_of("2008-10-31", &bounds), "18_35");
        assert_eq!(band_of("1900-01-01", &bounds), "over_65");
        assert!(split_months(&bounds).contains("2008-10"));
    }
}
