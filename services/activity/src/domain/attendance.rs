//! Attendance (考勤) and service records (服务记录): check-in codes, the fence, and hours
//! computed from attendance within the activity's time.

use egret_runtime::ApiError;
use egret_types::{CivilDate, Meta};
use serde::{Deserialize, Serialize};

use super::activity::CheckInFence;

/// How long a check-in code is shown before the next one; the previous code is still
/// accepted, so a code read just before it turns over works.
pub const CODE_WINDOW_SECONDS: i64 = 60;

/// 签到记录.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendance {
    /// Globally unique id.
    pub id: String,
    /// The activity.
    pub activity_id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// Check-in time (microseconds).
    pub check_in_time: i64,
    /// Check-out time (microseconds), 0 while checked in.
    pub check_out_time: i64,
    /// 1 organizer, 2 code.
    pub check_in_method: i32,
    /// 0 none, 1 inside.
    pub fence_result: i32,
    /// Closed automatically for a missing check-out.
    pub needs_review: bool,
    /// Bookkeeping.
    pub meta: Meta,
}

/// 服务记录状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// 待审核.
    Submitted = 1,
    /// 已认定.
    Approved = 2,
    /// 未认定.
    Rejected = 3,
}

impl RecordState {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(RecordState::Submitted),
            2 => Some(RecordState::Approved),
            3 => Some(RecordState::Rejected),
            _ => None,
        }
    }

    /// Checks a review of a record in this state.
    pub fn check_review(self, record: &str) -> Result<(), ApiError> {
        if self == RecordState::Submitted {
            return Ok(());
        }
        Err(ApiError::failed_precondition(
            format!("{record} has already been reviewed"),
            format!("{record} 已审核，不能再次审核"),
        ))
    }
}

/// Where a service record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// From attendance.
    Attendance = 1,
    /// 补录.
    BackEntry = 2,
    /// Imported from an earlier system.
    Imported = 3,
}

impl RecordKind {
    /// From the stored or wire number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(RecordKind::Attendance),
            2 => Some(RecordKind::BackEntry),
            3 => Some(RecordKind::Imported),
            _ => None,
        }
    }
}

/// The most minutes one day of service can hold.
pub const MINUTES_PER_DAY: i64 = 24 * 60;

/// 服务记录.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// Globally unique id.
    pub id: String,
    /// The volunteer.
    pub volunteer_id: String,
    /// The activity ('' for an imported record without one).
    pub activity_id: String,
    /// The unit the service counts for (the activity's organizing unit).
    pub org_unit_id: String,
    /// Where the record came from.
    pub kind: RecordKind,
    /// 服务内容.
    pub description: String,
    /// Why the back-entry or the last correction.
    pub reason: String,
    /// Minutes of service.
    pub minutes: i64,
    /// 服务日期.
    pub service_date: CivilDate,
    /// State.
    pub state: RecordState,
    /// Made from an automatically closed attendance.
    pub needs_review: bool,
    /// Reviewer.
    pub reviewed_by: String,
    /// Review comment.
    pub review_comment: String,
    /// 1 not reported, 2 pending, 3 reported.
    pub platform_report_status: i32,
    /// Bookkeeping.
    pub meta: Meta,
}

/// When a forgotten check-out is closed as an activity completes: at the scheduled end when
/// that has passed, otherwise at the completion, so no time that has not happened is
/// credited; never before the check-in.
pub fn forgotten_check_out(scheduled_end: i64, completed_at: i64, check_in: i64) -> i64 {
    scheduled_end.min(completed_at).max(check_in)
}

/// Minutes attended within `[start, end)`: each check-in/out pair clipped to the
/// activity's time, an open pair counted up to `end`.
pub fn attended_minutes(attendances: &[Attendance], start: i64, end: i64) -> i64 {
    let micros: i64 = attendances
        .iter()
        .map(|attendance| {
            let check_out = if attendance.check_out_time == 0 {
                end
            } else {
                attendance.check_out_time
            };
            (check_out.min(end) - attendance.check_in_time.max(start)).max(0)
        })
        .sum();
    micros / 60_000_000
}

/// The code for `window` (seconds since the epoch divided by [`CODE_WINDOW_SECONDS`]),
/// from the keyed hash the service computes for it.
pub fn code_from_hash(hash_hex: &str) -> String {
    let value = u64::from_str_radix(&hash_hex[..hash_hex.len().min(12)], 16).unwrap_or(0);
    format!("{:06}", value % 1_000_000)
}

/// Whether a position lies inside a fence (great-circle distance).
pub fn inside_fence(fence: &CheckInFence, latitude: f64, longitude: f64) -> bool {
    const EARTH_RADIUS_METERS: f64 = 6_371_000.0;
    let (lat1, lat2) = (fence.latitude.to_radians(), latitude.to_radians());
    let delta_lat = (latitude - fence.latitude).to_radians();
    let delta_lon = (longitude - fence.longitude).to_radians();
    let a =
        (delta_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (delta_lon / 2.0).sin().powi(2);
    let distance = 2.0 * EARTH_RADIUS_METERS * a.sqrt().asin();
    distance <= f64::from(fence.radius_meters)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attendance(check_in: i64, check_out: i64) -> Attendance {
        Attendance {
            id: String::new(),
            activity_id: String::new(),
            volunteer_id: String::new(),
            check_in_time: check_in,
            check_out_time: check_out,
            check_in_method: 1,
            fence_result: 0,
            needs_review: false,
            meta: Meta {
                origin_instance: String::new(),
                version: 1,
                create_time: 0,
                update_time: 0,
            },
        }
    }

    #[test]
    fn minutes_are_bounded_by_the_activity() {
        let minute = 60_000_000;
        let start = 100 * minute;
        let end = 200 * minute;
        // 30 minutes early and 30 late count only from start to end.
        assert_eq!(
            attended_minutes(&[attendance(70 * minute, 230 * minute)], start, end),
            100
        );
        // Two pairs add up; an open pair runs to the end.
        assert_eq!(
            attended_minutes(
                &[
                    attendance(110 * minute, 120 * minute),
                    attendance(150 * minute, 0)
                ],
                start,
                end
            ),
            60
        );
        // A pair entirely outside counts nothing.
        assert_eq!(
            attended_minutes(&[attendance(300 * minute, 310 * minute)], start, end),
            0
        );
    }

    #[test]
    fn forgotten_check_outs_close_no_later_than_now() {
        let minute = 60_000_000;
        // Completed after the scheduled end: closed at the end.
        assert_eq!(
            forgotten_check_out(200 * minute, 260 * minute, 100 * minute),
            200 * minute
        );
        // Completed early: closed at the completion, not in the future.
        assert_eq!(
            forgotten_check_out(200 * minute, 103 * minute, 100 * minute),
            103 * minute
        );
        // Never before the check-in.
        assert_eq!(
            forgotten_check_out(200 * minute, 90 * minute, 100 * minute),
            100 * minute
        );
    }

    #[test]
    fn fences() {
        let fence = CheckInFence {
            latitude: 24.4798,
            longitude: 118.0894,
            radius_meters: 300,
        };
        assert!(inside_fence(&fence, 24.4800, 118.0900));
        assert!(!inside_fence(&fence, 24.4900, 118.0894));
    }

    #[test]
    fn codes_have_six_digits() {
        assert_eq!(code_from_hash("000000000001").len(), 6);
        assert_eq!(
            code_from_hash("ffffffffffff"),
            format!("{:06}", 0xffff_ffff_ffffu64 % 1_000_000)
        );
    }
}
