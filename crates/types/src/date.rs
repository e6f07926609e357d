//! Calendar dates: the federation works in local (China, UTC+8) dates for joining,
//! registration, project periods and ages.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in microseconds since the epoch, the unit of every stored timestamp.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_micros() as i64)
        .unwrap_or(0)
}

/// A calendar date (no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    /// Year, 1..=9999.
    pub year: i32,
    /// Month, 1..=12.
    pub month: u32,
    /// Day of the month, 1..=31 depending on the month.
    pub day: u32,
}

fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl serde::Serialize for CivilDate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

impl<'de> serde::Deserialize<'de> for CivilDate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        CivilDate::parse_iso(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a date")))
    }
}

impl CivilDate {
    /// Returns None when the date does not exist (Feb 30, month 13, year outside 1..=9999), handling leap years.
    #[must_use]
    pub fn new(year: i32, month: u32, day: u32) -> Option<CivilDate> {
        let valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        valid.then_some(CivilDate { year, month, day })
    }

    /// ISO form "YYYY-MM-DD".
    #[must_use]
    pub fn to_iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Parses "YYYY-MM-DD".
    #[must_use]
    pub fn parse_iso(s: &str) -> Option<CivilDate> {
        let b = s.as_bytes();
        // Checking bytes first keeps the slicing below on char boundaries.
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return None;
        }
        let year = s[0..4].parse().ok()?;
        let month = s[5..7].parse().ok()?;
        let day = s[8..10].parse().ok()?;
        CivilDate::new(year, month, day)
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

/// The calendar date in China (UTC+8) at `micros` since the epoch: dates of joining,
/// registration and ages are the federation's local dates.
pub fn china_date(micros: i64) -> CivilDate {
    const CHINA_OFFSET_SECONDS: i64 = 8 * 3600;
    CivilDate::from_days((micros / 1_000_000 + CHINA_OFFSET_SECONDS).div_euclid(86_400))
}

impl CivilDate {
    /// Days since 1970-01-01 (negative before), for day arithmetic.
    #[must_use]
    pub fn to_days(&self) -> i64 {
        // Howard Hinnant's days-from-civil algorithm.
        let year = i64::from(self.year) - i64::from(self.month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year.rem_euclid(400);
        let month = i64::from(self.month);
        let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5
            + i64::from(self.day)
            - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The date `days` days since 1970-01-01.
    #[must_use]
    pub fn from_days(days: i64) -> CivilDate {
        // Howard Hinnant's days-to-civil algorithm.
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        CivilDate::new(year as i32, month as u32, day as u32)
            .expect("the algorithm yields real dates")
    }

    /// The date `days` days later (earlier when negative).
    #[must_use]
    pub fn add_days(&self, days: i64) -> CivilDate {
        CivilDate::from_days(self.to_days() + days)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_arithmetic_round_trips() {
        let leap = CivilDate::new(2024, 2, 28).unwrap();
        assert_eq!(leap.add_days(1), CivilDate::new(2024, 2, 29).unwrap());
        assert_eq!(leap.add_days(2), CivilDate::new(2024, 3, 1).unwrap());
        assert_eq!(CivilDate::new(1970, 1, 1).unwrap().to_days(), 0);
        assert_eq!(
            CivilDate::new(2026, 1, 1).unwrap().add_days(-1),
            CivilDate::new(2025, 12, 31).unwrap()
        );
        for days in (-700_000..2_900_000).step_by(997) {
            assert_eq!(CivilDate::from_days(days).to_days(), days);
        }
    }

    #[test]
    fn china_dates() {
        assert_eq!(china_date(0), CivilDate::new(1970, 1, 1).expect("date"));
        // 2026-11-28T16:30:00Z is already the 29th in Xiamen.
        assert_eq!(
            china_date(1_795_883_400 * 1_000_000),
            CivilDate::new(2026, 11, 29).expect("date")
        );
        assert_eq!(
            china_date(951_782_400 * 1_000_000),
            CivilDate::new(2000, 2, 29).expect("date")
        );
    }
}
