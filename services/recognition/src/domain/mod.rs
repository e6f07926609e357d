//! The recognition service's rules, without I/O: star-rating rule sets and evaluation,
//! the points ledger and certificates. Also the replicated shapes of what the registry
//! and the activity service own.

pub mod access;
pub mod certificate;
pub mod commendation;
pub mod ledger;
pub mod rules;
pub mod stars;

use egret_types::CivilDate;

pub use egret_types::tree::subtree_bounds;

/// An org unit, as replicated from the registry's change log.
pub use egret_sync::replica::OrgUnit;

/// A volunteer, as replicated from the registry's change log (no plaintext personal data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volunteer {
    /// The registry's id.
    pub id: String,
    /// 志愿者编号.
    pub volunteer_number: String,
    /// 姓名.
    pub display_name: String,
    /// 证件类型 (`resident_id`, `passport`, …).
    pub id_type: String,
    /// The masked ID number.
    pub id_number_masked: String,
    /// Status number (1 active, 2 inactive, 3 withdrawn).
    pub status: i64,
    /// The unit that registered the volunteer.
    pub registering_org_unit_id: String,
    /// The day of registration (China time).
    pub registered_on: CivilDate,
    /// The registry record's version.
    pub version: i64,
}

impl Volunteer {
    /// Only active volunteers receive points, stars and gifts.
    pub fn is_active(&self) -> bool {
        self.status == 1
    }
}

/// A service record, as replicated from the activity service: only what counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The activity service's id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The activity ('' for an imported record).
    pub activity_id: String,
    /// The unit the service counts for.
    pub org_unit_id: String,
    /// 服务内容.
    pub description: String,
    /// 服务日期.
    pub service_date: CivilDate,
    /// The minutes while approved, 0 otherwise.
    pub approved_minutes: i64,
    /// The activity service's version.
    pub version: i64,
}

/// A change of one record's approved minutes, as the activity feed applies it: what
/// stars, points and certificates follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursChange {
    /// The record.
    pub record_id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The service day and approved minutes before; None for a new record.
    pub before: Option<(CivilDate, i64)>,
    /// The service day and approved minutes after.
    pub after: (CivilDate, i64),
}

impl HoursChange {
    /// True when the record now counts for fewer minutes than before (reversed,
    /// corrected downward, or sent back to review).
    pub fn decreased(&self) -> bool {
        self.before
            .is_some_and(|(_, minutes)| self.after.1 < minutes)
    }

    /// The service days whose totals changed.
    pub fn days(&self) -> Vec<CivilDate> {
        let mut days = vec![self.after.0];
        if let Some((day, _)) = self.before
            && day != self.after.0
        {
            days.push(day);
        }
        days
    }
}

/// Resource names.
pub mod names {
    /// `orgUnits/{id}`.
    pub fn org_unit(id: &str) -> String {
        format!("orgUnits/{id}")
    }

    /// `volunteers/{id}`.
    pub fn volunteer(id: &str) -> String {
        format!("volunteers/{id}")
    }

    /// `activities/{id}`.
    pub fn activity(id: &str) -> String {
        format!("activities/{id}")
    }

    /// `serviceRecords/{id}`.
    pub fn service_record(id: &str) -> String {
        format!("serviceRecords/{id}")
    }

    /// `ruleSets/{id}`.
    pub fn rule_set(id: &str) -> String {
        format!("ruleSets/{id}")
    }

    /// `starRatings/{id}`.
    pub fn star_rating(id: &str) -> String {
        format!("starRatings/{id}")
    }

    /// `teamStarRatings/{id}`.
    pub fn team_star_rating(id: &str) -> String {
        format!("teamStarRatings/{id}")
    }

    /// `honours/{id}`.
    pub fn honour(id: &str) -> String {
        format!("honours/{id}")
    }

    /// `commendations/{id}`.
    pub fn commendation(id: &str) -> String {
        format!("commendations/{id}")
    }

    /// `projects/{id}`.
    pub fn project(id: &str) -> String {
        format!("projects/{id}")
    }

    /// `certificates/{id}`.
    pub fn certificate(id: &str) -> String {
        format!("certificates/{id}")
    }
}

/// How approved hours turn into reward points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointsRate {
    /// Points per approved hour.
    pub per_hour: i64,
    /// At most this many points per volunteer per service day.
    pub daily_cap: i64,
}

impl PointsRate {
    /// The points a day of `approved_minutes` earns: whole points, capped.
    pub fn points_for(&self, approved_minutes: i64) -> i64 {
        (approved_minutes.max(0) * self.per_hour / 60).min(self.daily_cap)
    }
}
