//! Training (教育培训): courses, sessions and the qualifications completing them grants.

use egret_runtime::{ApiError, PageRequest, Principal};
use egret_storage::Operation;
use egret_sync::RecordChanges;
use egret_types::china_date;

use super::{Activity as Service, Scope};
use crate::domain::access::{self, Action};
use crate::domain::names;
use crate::domain::training::{Course, Qualification, TrainingSession, expire_date};
use crate::store;

const COURSE_TYPE: &str = "egret.activity.v1.Course";
const SESSION_TYPE: &str = "egret.activity.v1.TrainingSession";
const QUALIFICATION_TYPE: &str = "egret.activity.v1.Qualification";

/// A new course's fields (validated).
#[derive(Debug, Clone)]
pub struct CourseFields {
    /// 课程名称.
    pub display_name: String,
    /// 类别.
    pub kind: i32,
    /// 课程内容.
    pub description: String,
    /// 资质.
    pub qualification: String,
    /// Validity in days.
    pub qualification_valid_days: i32,
}

impl Service {
    async fn visible_course(&self, scope: &Scope, id: &str) -> Result<Course, ApiError> {
        let not_found = || ApiError::not_found(names::course(id));
        let course = store::training::get_course(self.database.reader(), id)
            .await?
            .ok_or_else(not_found)?;
        self.visible_unit(scope, &course.org_unit_id)
            .await
            .map_err(|_| not_found())?;
        Ok(course)
    }

    /// Creates a course of a unit in the caller's subtree.
    pub async fn create_course(
        &self,
        principal: &Principal,
        org_unit_id: &str,
        fields: CourseFields,
        request_id: &str,
    ) -> Result<Course, ApiError> {
        access::require(principal, Action::ManageTraining)?;
        let scope = self.scope(principal).await?;
        let unit = self.current_unit(&scope, org_unit_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateCourse", request_id)
            .await?
        {
            drop(transaction);
            return self
                .visible_course(&scope, existing.trim_start_matches("courses/"))
                .await;
        }
        let course = Course {
            id: egret_storage::new_id(),
            org_unit_id: unit.id.clone(),
            display_name: fields.display_name,
            kind: fields.kind,
            description: fields.description,
            qualification: fields.qualification,
            qualification_valid_days: fields.qualification_valid_days,
            meta: transaction.new_meta(),
        };
        store::training::insert_course(transaction.conn(), &course).await?;
        let name = names::course(&course.id);
        transaction.record_diff(
            COURSE_TYPE,
            name.clone(),
            Operation::Create,
            None,
            serde_json::to_value(&course).expect("courses serialize"),
            "",
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(course)
    }

    /// Gets a course.
    pub async fn get_course(&self, principal: &Principal, id: &str) -> Result<Course, ApiError> {
        access::require(principal, Action::ReadTraining)?;
        let scope = self.scope(principal).await?;
        self.visible_course(&scope, id).await
    }

    /// Lists courses of a subtree.
    pub async fn list_courses(
        &self,
        principal: &Principal,
        org_unit: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<Course>, String), ApiError> {
        access::require(principal, Action::ReadTraining)?;
        let scope = self.scope(principal).await?;
        let root = match org_unit {
            Some(id) => self.visible_unit(&scope, id).await?,
            None => scope.root.clone(),
        };
        let (low, high) = crate::domain::subtree_bounds(&root.path);
        let mut courses = store::training::list_courses(
            self.database.reader(),
            (&low, &high),
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut courses, |course| course.id.clone());
        Ok((courses, next))
    }

    /// Schedules a session of a course.
    pub async fn create_session(
        &self,
        principal: &Principal,
        course_id: &str,
        start_time: i64,
        end_time: i64,
        location: String,
        request_id: &str,
    ) -> Result<TrainingSession, ApiError> {
        access::require(principal, Action::ManageTraining)?;
        if end_time <= start_time {
            return Err(ApiError::invalid(
                "training_session.end_time",
                "must be after the start time",
                "结束时间必须晚于开始时间",
            ));
        }
        let scope = self.scope(principal).await?;
        let course = self.visible_course(&scope, course_id).await?;
        let mut transaction = self.begin(principal).await?;
        if let Some(existing) = transaction
            .claim_request("CreateTrainingSession", request_id)
            .await?
        {
            drop(transaction);
            let id = existing.rsplit('/').next().unwrap_or_default();
            return store::training::get_session(self.database.reader(), id)
                .await?
                .ok_or_else(|| ApiError::not_found(existing.clone()));
        }
        let session = TrainingSession {
            id: egret_storage::new_id(),
            course_id: course.id.clone(),
            start_time,
            end_time,
            location,
            meta: transaction.new_meta(),
        };
        store::training::insert_session(transaction.conn(), &session).await?;
        let name = names::training_session(&course.id, &session.id);
        transaction.record_diff(
            SESSION_TYPE,
            name.clone(),
            Operation::Create,
            None,
            serde_json::to_value(&session).expect("sessions serialize"),
            "",
        )?;
        transaction.finish_request(request_id, &name).await?;
        transaction.commit().await?;
        Ok(session)
    }

    /// Records who completed an ended session: each gets the course's qualification, once.
    pub async fn record_completion(
        &self,
        principal: &Principal,
        course_id: &str,
        session_id: &str,
        volunteer_ids: &[String],
    ) -> Result<Vec<Qualification>, ApiError> {
        access::require(principal, Action::ManageTraining)?;
        let scope = self.scope(principal).await?;
        let course = self.visible_course(&scope, course_id).await?;
        let not_found = || ApiError::not_found(names::training_session(course_id, session_id));
        let session = store::training::get_session(self.database.reader(), session_id)
            .await?
            .filter(|session| session.course_id == course.id)
            .ok_or_else(not_found)?;
        let now = egret_types::now_micros();
        if session.end_time > now {
            return Err(ApiError::failed_precondition(
                "the session has not ended yet; record completion afterwards",
                "培训尚未结束，请结束后再登记完成情况",
            ));
        }
        for volunteer_id in volunteer_ids {
            self.volunteer_for(principal, &scope, volunteer_id).await?;
        }
        let mut granted = Vec::new();
        if course.qualification.is_empty() {
            return Ok(granted);
        }
        let mut transaction = self.begin(principal).await?;
        for volunteer_id in volunteer_ids {
            let qualification = Qualification {
                id: egret_storage::new_id(),
                volunteer_id: volunteer_id.clone(),
                qualification: course.qualification.clone(),
                course_id: course.id.clone(),
                session_id: session.id.clone(),
                granted_date: china_date(session.end_time),
                expire_date: expire_date(session.end_time, course.qualification_valid_days),
                meta: transaction.new_meta(),
            };
            // A volunteer recorded twice for one session keeps the first grant.
            if store::training::grant(transaction.conn(), &qualification).await? {
                transaction.record_diff(
                    QUALIFICATION_TYPE,
                    names::qualification(&qualification.id),
                    Operation::Create,
                    None,
                    serde_json::to_value(&qualification).expect("qualifications serialize"),
                    "",
                )?;
                granted.push(qualification);
            }
        }
        transaction.commit().await?;
        Ok(granted)
    }

    /// Lists a volunteer's qualifications: all of them for the volunteer itself, those from
    /// courses of the caller's subtree for anyone else.
    pub async fn list_qualifications(
        &self,
        principal: &Principal,
        volunteer_id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Qualification>, String), ApiError> {
        let own = access::is_self(principal, volunteer_id);
        if !own {
            access::require(principal, Action::ManageTraining)?;
        }
        let scope = self.scope(principal).await?;
        let (low, high) = if own {
            (String::new(), "~".to_string())
        } else {
            scope.bounds()
        };
        let mut qualifications = store::training::list_qualifications(
            self.database.reader(),
            volunteer_id,
            (&low, &high),
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut qualifications, |qualification| {
            qualification.id.clone()
        });
        Ok((qualifications, next))
    }
}
