//! Attendance (考勤): check-in codes, check-in and check-out, and closing an activity into
//! service records.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::{Operation, WriteTx, changed_concurrently, touch};
use egret_sync::RecordChanges;
use egret_types::china_date;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::activity::{Activity, ActivityState};
use crate::domain::attendance::{
    Attendance, CODE_WINDOW_SECONDS, RecordKind, RecordState, ServiceRecord, attended_minutes,
    code_from_hash, forgotten_check_out, inside_fence,
};
use crate::domain::names;
use crate::store;

const ATTENDANCE_TYPE: &str = "egret.activity.v1.Attendance";
const SERVICE_RECORD_TYPE: &str = "egret.activity.v1.ServiceRecord";
const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;
const CHINA_OFFSET_MICROS: i64 = 8 * 3600 * 1_000_000;

/// A device position given for a self check-in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DevicePosition {
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
}

fn in_progress(activity: &Activity) -> Result<(), ApiError> {
    if activity.state == ActivityState::InProgress {
        return Ok(());
    }
    Err(ApiError::failed_precondition(
        format!(
            "{} is {}; attendance is taken while it is in progress",
            names::activity(&activity.id),
            activity.state.name_en()
        ),
        format!(
            "{} {}，只有进行中的活动可以签到签退",
            names::activity(&activity.id),
            activity.state.name_zh()
        ),
    ))
}

/// `[start, end)` of the China calendar day holding `micros`.
fn china_day(micros: i64) -> (i64, i64) {
    let start = (micros + CHINA_OFFSET_MICROS).div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY
        - CHINA_OFFSET_MICROS;
    (start, start + MICROS_PER_DAY)
}

impl Service {
    fn code_for_window(&self, activity_id: &str, window: i64) -> String {
        code_from_hash(
            &self
                .cipher
                .lookup_hash(&format!("check-in-code:{window}"), activity_id),
        )
    }

    /// The current check-in code of an activity in progress and when it expires.
    pub async fn check_in_code(
        &self,
        principal: &Principal,
        activity_id: &str,
    ) -> Result<(String, i64), ApiError> {
        access::require(principal, Action::TakeAttendance)?;
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        in_progress(&activity)?;
        let now_seconds = egret_types::now_micros() / 1_000_000;
        let window = now_seconds.div_euclid(CODE_WINDOW_SECONDS);
        // The code is accepted during its window and the next one.
        let expire_micros = (window + 2) * CODE_WINDOW_SECONDS * 1_000_000;
        Ok((self.code_for_window(&activity.id, window), expire_micros))
    }

    fn code_is_current(&self, activity_id: &str, code: &str) -> bool {
        let window = (egret_types::now_micros() / 1_000_000).div_euclid(CODE_WINDOW_SECONDS);
        [window, window - 1]
            .into_iter()
            .any(|window| self.code_for_window(activity_id, window) == code)
    }

    async fn attendance_scope(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: &str,
    ) -> Result<(Scope, Activity, bool), ApiError> {
        let own = access::is_self(principal, volunteer_id);
        if !own {
            access::require(principal, Action::TakeAttendance)?;
        }
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        in_progress(&activity)?;
        Ok((scope, activity, own))
    }

    /// Checks a volunteer in: by an organizer, or by the volunteer with the current code
    /// (and inside the fence, when the site has one). At most `max_check_ins_per_day` a day.
    pub async fn check_in(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: &str,
        code: &str,
        position: Option<DevicePosition>,
    ) -> Result<Attendance, ApiError> {
        let (_, activity, own) = self
            .attendance_scope(principal, activity_id, volunteer_id)
            .await?;
        let mut fence_result = 0;
        if own {
            if code.is_empty() {
                return Err(ApiError::invalid(
                    "code",
                    "is required to check yourself in",
                    "自助签到需要输入签到码",
                ));
            }
            if !self.code_is_current(&activity.id, code) {
                return Err(ApiError::invalid(
                    "code",
                    "is not the current check-in code",
                    "签到码不正确或已过期",
                ));
            }
            if let Some(fence) = &activity.site.check_in_fence {
                let Some(position) = position else {
                    return Err(ApiError::invalid(
                        "position",
                        "is required at a site with a check-in area",
                        "该站点需要定位签到",
                    ));
                };
                if !inside_fence(fence, position.latitude, position.longitude) {
                    return Err(ApiError::failed_precondition(
                        "you are outside the activity's check-in area",
                        "您不在活动签到范围内",
                    ));
                }
                fence_result = 1;
            }
        }
        let mut transaction = self.begin(principal).await?;
        if !store::attendance::has_approved_sign_up(transaction.conn(), &activity.id, volunteer_id)
            .await?
        {
            return Err(ApiError::failed_precondition(
                format!(
                    "{} has no approved sign-up for {}",
                    names::volunteer(volunteer_id),
                    names::activity(&activity.id)
                ),
                "该志愿者没有本活动的录用报名，不能签到",
            ));
        }
        store::volunteers::lock(transaction.conn(), volunteer_id).await?;
        let now = transaction.now();
        let (day_start, day_end) = china_day(now);
        let today = store::attendance::check_ins_between(
            transaction.conn(),
            volunteer_id,
            day_start,
            day_end,
        )
        .await?;
        if today >= i64::from(self.max_check_ins_per_day) {
            return Err(ApiError::failed_precondition(
                format!(
                    "at most {} check-ins a day; this volunteer has had {today} today",
                    self.max_check_ins_per_day
                ),
                format!(
                    "每人每天最多签到 {} 次，该志愿者今天已签到 {today} 次",
                    self.max_check_ins_per_day
                ),
            ));
        }
        let attendance = Attendance {
            id: egret_storage::new_id(),
            activity_id: activity.id.clone(),
            volunteer_id: volunteer_id.to_string(),
            check_in_time: now,
            check_out_time: 0,
            check_in_method: if own { 2 } else { 1 },
            fence_result,
            needs_review: false,
            meta: transaction.new_meta(),
        };
        store::attendance::insert_attendance(transaction.conn(), &attendance).await?;
        record_attendance(&mut transaction, &attendance, None)?;
        transaction.commit().await?;
        Ok(attendance)
    }

    /// Checks a volunteer out of its open attendance.
    pub async fn check_out(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: &str,
    ) -> Result<Attendance, ApiError> {
        let (_, activity, _) = self
            .attendance_scope(principal, activity_id, volunteer_id)
            .await?;
        let mut transaction = self.begin(principal).await?;
        let open =
            store::attendance::open_attendance(transaction.conn(), &activity.id, volunteer_id)
                .await?;
        let Some(mut attendance) = open else {
            return Err(ApiError::failed_precondition(
                "the volunteer is not checked in",
                "该志愿者尚未签到",
            ));
        };
        let before = serde_json::to_value(&attendance).expect("attendances serialize");
        attendance.check_out_time = transaction.now();
        touch(&mut attendance.meta, transaction.now());
        if !store::attendance::update_attendance(transaction.conn(), &attendance).await? {
            return Err(changed_concurrently("attendance"));
        }
        record_attendance(&mut transaction, &attendance, Some(&before))?;
        transaction.commit().await?;
        Ok(attendance)
    }

    /// Lists the attendances of an activity (a volunteer lists its own).
    pub async fn list_attendances(
        &self,
        principal: &Principal,
        activity_id: &str,
        volunteer_id: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<Attendance>, String), ApiError> {
        let own = volunteer_id.is_some_and(|volunteer| access::is_self(principal, volunteer));
        if !own {
            access::require(principal, Action::ReadSignUps)?;
        }
        let scope = self.scope(principal).await?;
        let activity = self.visible_activity(&scope, activity_id).await?;
        let mut attendances = store::attendance::list_attendances(
            self.database.reader(),
            &activity.id,
            volunteer_id.unwrap_or(""),
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut attendances, |attendance| attendance.id.clone());
        Ok((attendances, next))
    }

    /// When an activity completes: open attendances are closed at its end (or now, if it
    /// ends later) and flagged for
    /// review, and each volunteer who attended gets a service record of the minutes attended
    /// within the activity's time, awaiting approval.
    pub(super) async fn close_attendance(
        &self,
        transaction: &mut WriteTx,
        activity: &Activity,
    ) -> Result<(), ApiError> {
        let mut attendances =
            store::attendance::all_attendances(transaction.conn(), &activity.id).await?;
        for attendance in attendances
            .iter_mut()
            .filter(|attendance| attendance.check_out_time == 0)
        {
            let before = serde_json::to_value(&*attendance).expect("attendances serialize");
            attendance.check_out_time = forgotten_check_out(
                activity.end_time,
                transaction.now(),
                attendance.check_in_time,
            );
            attendance.needs_review = true;
            touch(&mut attendance.meta, transaction.now());
            if !store::attendance::update_attendance(transaction.conn(), attendance).await? {
                return Err(changed_concurrently("attendance"));
            }
            record_attendance(transaction, attendance, Some(&before))?;
        }
        let mut volunteers: Vec<&str> = attendances
            .iter()
            .map(|attendance| attendance.volunteer_id.as_str())
            .collect();
        volunteers.sort_unstable();
        volunteers.dedup();
        for volunteer_id in volunteers {
            let own: Vec<Attendance> = attendances
                .iter()
                .filter(|attendance| attendance.volunteer_id == volunteer_id)
                .cloned()
                .collect();
            let record = ServiceRecord {
                id: egret_storage::new_id(),
                volunteer_id: volunteer_id.to_string(),
                activity_id: activity.id.clone(),
                org_unit_id: activity.org_unit_id.clone(),
                kind: RecordKind::Attendance,
                description: String::new(),
                reason: String::new(),
                minutes: attended_minutes(
                    &own,
                    activity.start_time,
                    activity.end_time.min(transaction.now()),
                ),
                service_date: china_date(activity.start_time),
                state: RecordState::Submitted,
                needs_review: own.iter().any(|attendance| attendance.needs_review),
                reviewed_by: String::new(),
                review_comment: String::new(),
                platform_report_status: 1,
                meta: transaction.new_meta(),
            };
            store::attendance::insert_record(transaction.conn(), &record).await?;
            transaction.record_diff(
                SERVICE_RECORD_TYPE,
                names::service_record(&record.id),
                Operation::Create,
                None,
                serde_json::to_value(&record).expect("records serialize"),
                "",
            )?;
        }
        Ok(())
    }
}

fn record_attendance(
    transaction: &mut WriteTx,
    attendance: &Attendance,
    before: Option<&serde_json::Value>,
) -> Result<(), ApiError> {
    transaction.record_diff(
        ATTENDANCE_TYPE,
        names::attendance(&attendance.activity_id, &attendance.id),
        if before.is_some() {
            Operation::Update
        } else {
            Operation::Create
        },
        before,
        serde_json::to_value(attendance).expect("attendances serialize"),
        "",
    )
}

#[cfg(test)]
mod tests {
    use super::china_day;

    #[test]
    fn china_days_start_at_local_midnight() {
        // 2026-11-28T16:30:00Z is 00:30 on the 29th in Xiamen; that day began 16:00Z.
        let micros = 1_795_883_400 * 1_000_000;
        let (start, end) = china_day(micros);
        assert_eq!(start, 1_795_881_600 * 1_000_000);
        assert_eq!(end - start, 86_400 * 1_000_000);
    }
}
