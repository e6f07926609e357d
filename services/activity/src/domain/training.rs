//! Training (教育培训): courses, sessions and the qualifications they grant.

use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

/// 培训课程.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Course {
    /// Globally unique id.
    pub id: String,
    /// The unit running it.
    pub org_unit_id: String,
    /// 课程名称.
    pub display_name: String,
    /// 类别 (wire number of CourseKind).
    pub kind: i32,
    /// 课程内容.
    pub description: String,
    /// The qualification granted on completion, or empty.
    pub qualification: String,
    /// Validity in days; 0 for no expiry.
    pub qualification_valid_days: i32,
    /// Bookkeeping.
    pub meta: Meta,
}

/// 培训场次.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingSession {
    /// Globally unique id.
    pub id: String,
    /// The course.
    pub course_id: String,
    /// Start (microseconds).
    pub start_time: i64,
    /// End (microseconds).
    pub end_time: i64,
    /// 地点.
    pub location: String,
    /// Bookkeeping.
    pub meta: Meta,
}

/// 资质.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualification {
    /// Globally unique id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The qualification's name.
    pub qualification: String,
    /// The course.
    pub course_id: String,
    /// The session completed.
    pub session_id: String,
    /// 取得日期.
    pub granted_date: CivilDate,
    /// 有效期至 (inclusive); None for no expiry.
    pub expire_date: Option<CivilDate>,
    /// Bookkeeping.
    pub meta: Meta,
}

/// The last valid day of a qualification granted at `granted_micros` for `valid_days`
/// days (the grant day counts as the first).
pub fn expire_date(granted_micros: i64, valid_days: i32) -> Option<CivilDate> {
    if valid_days <= 0 {
        return None;
    }
    Some(egret_types::china_date(
        granted_micros + (i64::from(valid_days) - 1) * 86_400 * 1_000_000,
    ))
}

/// The qualifications among `required` that `held` does not provide, valid through `day`.
pub fn missing_qualifications<'a>(
    required: &'a [String],
    held: &[Qualification],
    day: CivilDate,
) -> Vec<&'a str> {
    required
        .iter()
        .filter(|name| {
            !held.iter().any(|qualification| {
                &qualification.qualification == *name
                    && qualification.expire_date.is_none_or(|expire| expire >= day)
            })
        })
        .map(String::as_str)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(name: &str, expire: Option<CivilDate>) -> Qualification {
        Qualification {
            id: String::new(),
            volunteer_id: String::new(),
            qualification: name.to_string(),
            course_id: String::new(),
            session_id: String::new(),
            granted_date: CivilDate::new(2026, 1, 1).expect("date"),
            expire_date: expire,
            meta: Meta {
                origin_instance: String::new(),
                version: 1,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    #[test]
    fn expired_qualifications_do_not_count() {
        let day = CivilDate::new(2026, 6, 1).expect("date");
        let required = vec!["急救员".to_string(), "心理疏导".to_string()];
        let qualifications = [
            held("急救员", CivilDate::new(2026, 6, 1)),
            held("心理疏导", CivilDate::new(2026, 5, 31)),
        ];
        assert_eq!(
            missing_qualifications(&required, &qualifications, day),
            ["心理疏导"]
        );
        assert!(
            missing_qualifications(
                &required,
                &[held("急救员", None), held("心理疏导", None)],
                day
            )
            .is_empty()
        );
    }

    #[test]
    fn validity_counts_the_grant_day() {
        // Granted at 2026-01-01T00:00+08:00 for 365 days: valid through 2026-12-31.
        let granted_micros = 1_767_196_800 * 1_000_000;
        assert_eq!(
            expire_date(granted_micros, 365),
            CivilDate::new(2026, 12, 31)
        );
        assert_eq!(expire_date(granted_micros, 0), None);
    }
}
