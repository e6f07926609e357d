//! `egret.recognition.v1.StarRatingService`.

use egret_proto::recognition::v1 as pb;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, metadata, optional_name, parse_name, text,
    timestamp, today,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::{Recognition, StarQuery};
use crate::domain::names;
use crate::domain::stars::{StarRating, StarState, TeamStarRating};

/// The service implementation.
pub struct StarRatingApi(pub Recognition);

fn state_to_wire(state: StarState) -> i32 {
    match state {
        StarState::Nominated => pb::StarRatingState::Nominated as i32,
        StarState::Awarded => pb::StarRatingState::Awarded as i32,
        StarState::Rejected => pb::StarRatingState::Rejected as i32,
        StarState::Revoked => pb::StarRatingState::Revoked as i32,
    }
}

fn rating_to_wire(rating: &StarRating, volunteer_display_name: String) -> pb::StarRating {
    pb::StarRating {
        name: names::star_rating(&rating.id),
        volunteer: names::volunteer(&rating.volunteer_id),
        volunteer_display_name,
        stars: rating.stars,
        period: rating.period.clone(),
        rule_set: names::rule_set(&rating.rule_set_id),
        rule_set_revision: rating.rule_set_revision,
        nominating_org_unit: names::org_unit(&rating.nominating_org_unit_id),
        approving_org_unit: names::org_unit(&rating.approving_org_unit_id),
        state: state_to_wire(rating.state),
        evaluation_date: Some(date_to_wire(rating.evaluation_date)),
        approved_minutes: rating.approved_minutes,
        registration_date: Some(date_to_wire(rating.registration_date)),
        review_required: rating.review_required,
        review_reason: rating.review_reason.clone(),
        decided_by: rating.decided_by.clone(),
        decision_comment: rating.decision_comment.clone(),
        award_time: (rating.award_time > 0).then(|| timestamp(rating.award_time)),
        metadata: Some(metadata(&rating.id, &rating.meta)),
    }
}

fn team_rating_to_wire(
    rating: &TeamStarRating,
    org_unit_display_name: String,
) -> pb::TeamStarRating {
    pb::TeamStarRating {
        name: if rating.id.is_empty() {
            String::new()
        } else {
            names::team_star_rating(&rating.id)
        },
        org_unit: names::org_unit(&rating.org_unit_id),
        org_unit_display_name,
        year: rating.year,
        stars: rating.stars,
        rule_set: names::rule_set(&rating.rule_set_id),
        rule_set_revision: rating.rule_set_revision,
        levels: rating
            .levels
            .iter()
            .map(|level| pb::TeamLevelCheck {
                stars: level.stars,
                met: level.met,
                criteria: level
                    .criteria
                    .iter()
                    .map(|check| pb::TeamCriterionCheck {
                        criterion: check.criterion.clone(),
                        value: check.value,
                        threshold: check.threshold,
                        met: check.met,
                    })
                    .collect(),
            })
            .collect(),
        rated_by: rating.rated_by.clone(),
        metadata: (!rating.id.is_empty()).then(|| metadata(&rating.id, &rating.meta)),
    }
}

impl StarRatingApi {
    async fn respond_team(&self, rating: &TeamStarRating) -> Result<pb::TeamStarRating, Status> {
        let display_name = self.0.unit_display_name(&rating.org_unit_id).await?;
        Ok(team_rating_to_wire(rating, display_name))
    }

    async fn respond(&self, rating: &StarRating) -> Result<pb::StarRating, Status> {
        let display_name = self.0.volunteer_display_name(&rating.volunteer_id).await?;
        Ok(rating_to_wire(rating, display_name))
    }
}

fn comment(violations: &mut Violations, value: &str, required: bool) -> String {
    text(violations, "comment", value, 500, required)
}

#[tonic::async_trait]
impl pb::star_rating_service_server::StarRatingService for StarRatingApi {
    async fn evaluate_volunteer(
        &self,
        request: Request<pb::EvaluateVolunteerRequest>,
    ) -> Result<Response<pb::EvaluateVolunteerResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let mut violations = Violations::new();
        let date = date_from_wire(&mut violations, "date", message.date.as_ref());
        violations.into_result()?;
        let found = self
            .0
            .evaluate_volunteer(&principal, volunteer, date.unwrap_or_else(today))
            .await?;
        let evaluation = &found.evaluation;
        Ok(Response::new(pb::EvaluateVolunteerResponse {
            evaluation: Some(pb::StarEvaluation {
                volunteer: names::volunteer(&found.volunteer_id),
                date: Some(date_to_wire(found.date)),
                rule_set: names::rule_set(&found.rule_set_id),
                rule_set_revision: found.rule_set_revision,
                approved_minutes: evaluation.approved_minutes,
                registration_date: Some(date_to_wire(found.registered_on)),
                years_registered: evaluation.years_registered,
                qualified_stars: evaluation.qualified_stars,
                awarded_stars: found.awarded_stars,
                levels: evaluation
                    .levels
                    .iter()
                    .map(|level| pb::StarLevelCheck {
                        stars: level.stars,
                        min_hours: level.min_hours,
                        min_years: level.min_years,
                        hours_met: level.hours_met,
                        years_met: level.years_met,
                    })
                    .collect(),
            }),
        }))
    }

    async fn nominate_star_rating(
        &self,
        request: Request<pb::NominateStarRatingRequest>,
    ) -> Result<Response<pb::NominateStarRatingResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let volunteer = parse_name("volunteer", &message.volunteer, "volunteers")?;
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let mut violations = Violations::new();
        if !(1..=5).contains(&message.stars) {
            violations.add("stars", "must be between 1 and 5", "星级应在 1 到 5 之间");
        }
        let period = text(&mut violations, "period", &message.period, 10, true);
        violations.into_result()?;
        let rating = self
            .0
            .nominate_star_rating(
                &principal,
                volunteer,
                message.stars,
                &period,
                org_unit,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::NominateStarRatingResponse {
            star_rating: Some(self.respond(&rating).await?),
        }))
    }

    async fn approve_star_rating(
        &self,
        request: Request<pb::ApproveStarRatingRequest>,
    ) -> Result<Response<pb::ApproveStarRatingResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "starRatings")?;
        let mut violations = Violations::new();
        let comment = comment(&mut violations, &message.comment, false);
        violations.into_result()?;
        let rating = self.0.approve_star_rating(&principal, id, comment).await?;
        Ok(Response::new(pb::ApproveStarRatingResponse {
            star_rating: Some(self.respond(&rating).await?),
        }))
    }

    async fn reject_star_rating(
        &self,
        request: Request<pb::RejectStarRatingRequest>,
    ) -> Result<Response<pb::RejectStarRatingResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "starRatings")?;
        let mut violations = Violations::new();
        let comment = comment(&mut violations, &message.comment, true);
        violations.into_result()?;
        let rating = self.0.reject_star_rating(&principal, id, comment).await?;
        Ok(Response::new(pb::RejectStarRatingResponse {
            star_rating: Some(self.respond(&rating).await?),
        }))
    }

    async fn resolve_star_rating_review(
        &self,
        request: Request<pb::ResolveStarRatingReviewRequest>,
    ) -> Result<Response<pb::ResolveStarRatingReviewResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "starRatings")?;
        let mut violations = Violations::new();
        let comment = comment(&mut violations, &message.comment, true);
        violations.into_result()?;
        let rating = self
            .0
            .resolve_star_rating_review(&principal, id, message.revoke, comment)
            .await?;
        Ok(Response::new(pb::ResolveStarRatingReviewResponse {
            star_rating: Some(self.respond(&rating).await?),
        }))
    }

    async fn get_star_rating(
        &self,
        request: Request<pb::GetStarRatingRequest>,
    ) -> Result<Response<pb::GetStarRatingResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "starRatings")?;
        let rating = self.0.get_star_rating(&principal, id).await?;
        Ok(Response::new(pb::GetStarRatingResponse {
            star_rating: Some(self.respond(&rating).await?),
        }))
    }

    async fn list_star_ratings(
        &self,
        request: Request<pb::ListStarRatingsRequest>,
    ) -> Result<Response<pb::ListStarRatingsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let volunteer = optional_name("volunteer", &message.volunteer, "volunteers")?;
        let state = match pb::StarRatingState::try_from(message.state) {
            Ok(pb::StarRatingState::Unspecified) => None,
            Ok(pb::StarRatingState::Nominated) => Some(StarState::Nominated),
            Ok(pb::StarRatingState::Awarded) => Some(StarState::Awarded),
            Ok(pb::StarRatingState::Rejected) => Some(StarState::Rejected),
            Ok(pb::StarRatingState::Revoked) => Some(StarState::Revoked),
            Err(_) => {
                return Err(ApiError::invalid("state", "is not a known state", "状态无效").into());
            }
        };
        let filters = format!(
            "{}|{}|{}|{}|{}",
            message.org_unit,
            message.volunteer,
            message.state,
            message.review_required,
            message.period
        );
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let query = StarQuery {
            org_unit_id: org_unit.map(str::to_string),
            volunteer_id: volunteer.map(str::to_string),
            state,
            review_required: message.review_required,
            period: (!message.period.is_empty()).then(|| message.period.clone()),
        };
        let (ratings, next_page_token) =
            self.0.list_star_ratings(&principal, &query, &page).await?;
        let mut star_ratings = Vec::with_capacity(ratings.len());
        for rating in &ratings {
            star_ratings.push(self.respond(rating).await?);
        }
        Ok(Response::new(pb::ListStarRatingsResponse {
            star_ratings,
            next_page_token,
        }))
    }

    async fn evaluate_team(
        &self,
        request: Request<pb::EvaluateTeamRequest>,
    ) -> Result<Response<pb::EvaluateTeamResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("org_unit", &message.org_unit, "orgUnits")?;
        let rating = self
            .0
            .evaluate_team(&principal, org_unit, message.year)
            .await?;
        Ok(Response::new(pb::EvaluateTeamResponse {
            evaluation: Some(self.respond_team(&rating).await?),
        }))
    }

    async fn rate_team(
        &self,
        request: Request<pb::RateTeamRequest>,
    ) -> Result<Response<pb::RateTeamResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("org_unit", &message.org_unit, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let rating = self
            .0
            .rate_team(&principal, org_unit, message.year, &message.request_id)
            .await?;
        Ok(Response::new(pb::RateTeamResponse {
            team_star_rating: Some(self.respond_team(&rating).await?),
        }))
    }

    async fn list_team_star_ratings(
        &self,
        request: Request<pb::ListTeamStarRatingsRequest>,
    ) -> Result<Response<pb::ListTeamStarRatingsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        if message.year < 0 {
            return Err(ApiError::invalid("year", "must not be negative", "年份不能为负数").into());
        }
        let filters = format!("{}|{}", message.org_unit, message.year);
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let (ratings, next_page_token) = self
            .0
            .list_team_star_ratings(&principal, org_unit, message.year, &page)
            .await?;
        let mut team_star_ratings = Vec::with_capacity(ratings.len());
        for rating in &ratings {
            team_star_ratings.push(self.respond_team(rating).await?);
        }
        Ok(Response::new(pb::ListTeamStarRatingsResponse {
            team_star_ratings,
            next_page_token,
        }))
    }
}
