//! A volunteer's standing, as her own page and staff's page of her show it: approved
//! hours, star ratings and what her hours qualify for, points, qualifications from
//! training, and commendations. Leaders nominate her for a star from here.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{GetVolunteerHoursRequest, ListQualificationsRequest};
use egret_proto::recognition::v1::{
    CommendationState, EvaluateVolunteerRequest, ListStarRatingsRequest, NominateStarRatingRequest,
    StarRatingState,
};

use super::honours::CommendationRow;
use super::{Posted, Signed, after_action, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// Ratings, qualifications and commendations shown.
const SHOWN: i32 = 50;

/// A star rating as the page lists it.
pub(crate) struct StarRow {
    pub stars: String,
    pub period: String,
    pub state: &'static str,
}

/// A qualification from training.
pub(crate) struct QualificationRow {
    pub qualification: String,
    pub granted: String,
    pub expires: String,
}

/// What the standing section shows of one volunteer.
#[derive(Template)]
#[template(path = "standing_section.html")]
pub(crate) struct Standing {
    /// The volunteer's id, for the nomination form.
    pub id: String,
    pub csrf: String,
    /// Whether the section shows the hours (her own page shows them above it).
    pub show_hours: bool,
    pub hours: String,
    pub minutes: i64,
    pub records: i64,
    /// The stars she holds now.
    pub stars_held: i32,
    /// The stars her hours and years qualify her for, when the rules could be applied.
    pub stars_qualified: Option<i32>,
    pub stars: Vec<StarRow>,
    pub points: Option<i64>,
    pub qualifications: Vec<QualificationRow>,
    pub commendations: Vec<CommendationRow>,
    pub failures: Vec<String>,
    /// Whether the person may nominate her (staff, or a team leader).
    pub may_nominate: bool,
    pub period: String,
    pub request_id: String,
    /// The nomination form as posted, when it was refused.
    pub form: Posted,
    /// Why the nomination was refused, field by field.
    pub refusal: Failure,
}

/// The review period a nomination names by default: this half-year (`2026-H2`).
fn this_half_year() -> String {
    let today = egret_runtime::wire::today();
    format!("{}-H{}", today.year, if today.month <= 6 { 1 } else { 2 })
}

/// Gathers `volunteer`'s standing, as the signed-in person may see it. A part that
/// cannot be read is left out and its failure listed.
pub(crate) async fn standing(state: &AppState, signed: &Signed, volunteer: &str) -> Standing {
    let api = &state.api;
    let caller = &signed.caller;
    let mut failures = Vec::new();
    let mut note = |status: tonic::Status| {
        let message = Failure::from(status).message;
        if !failures.contains(&message) {
            failures.push(message);
        }
    };
    let (minutes, records) = match api
        .service_records()
        .get_volunteer_hours(api.request(
            caller,
            GetVolunteerHoursRequest {
                volunteer: volunteer.to_string(),
                ..GetVolunteerHoursRequest::default()
            },
        ))
        .await
    {
        Ok(hours) => {
            let hours = hours.into_inner();
            (hours.approved_minutes, hours.record_count)
        }
        Err(status) => {
            note(status);
            (0, 0)
        }
    };
    let mut stars = Vec::new();
    let mut stars_held = 0;
    match api
        .star_ratings()
        .list_star_ratings(api.request(
            caller,
            ListStarRatingsRequest {
                volunteer: volunteer.to_string(),
                page_size: SHOWN,
                ..ListStarRatingsRequest::default()
            },
        ))
        .await
    {
        Ok(listed) => {
            for rating in listed.into_inner().star_ratings {
                if rating.state == StarRatingState::Awarded as i32 {
                    stars_held = stars_held.max(rating.stars);
                }
                stars.push(StarRow {
                    stars: "★".repeat(rating.stars.clamp(0, 5) as usize),
                    period: rating.period,
                    state: labels::star_rating_state(rating.state),
                });
            }
        }
        // A volunteer may not list ratings; her own evaluation below still says it.
        Err(status) if status.code() == tonic::Code::PermissionDenied => {}
        Err(status) => note(status),
    }
    let stars_qualified = match api
        .star_ratings()
        .evaluate_volunteer(api.request(
            caller,
            EvaluateVolunteerRequest {
                volunteer: volunteer.to_string(),
                date: None,
            },
        ))
        .await
    {
        Ok(evaluated) => evaluated.into_inner().evaluation.map(|evaluation| {
            stars_held = stars_held.max(evaluation.awarded_stars);
            evaluation.qualified_stars
        }),
        Err(_) => None,
    };
    let points = match super::points::balance(state, signed, volunteer).await {
        Ok(balance) => Some(balance.balance),
        Err(_) => None,
    };
    let qualifications = match api
        .training()
        .list_qualifications(api.request(
            caller,
            ListQualificationsRequest {
                volunteer: volunteer.to_string(),
                page_size: SHOWN,
                ..ListQualificationsRequest::default()
            },
        ))
        .await
    {
        Ok(listed) => listed
            .into_inner()
            .qualifications
            .into_iter()
            .map(|qualification| QualificationRow {
                qualification: qualification.qualification,
                granted: labels::date(qualification.granted_date.as_ref()),
                expires: qualification
                    .expire_date
                    .as_ref()
                    .map_or_else(|| "长期有效".to_string(), |date| labels::date(Some(date))),
            })
            .collect(),
        Err(status) => {
            note(status);
            Vec::new()
        }
    };
    let commendations = match super::honours::list_commendations(
        state,
        signed,
        CommendationState::Unspecified,
        volunteer,
    )
    .await
    {
        Ok(listed) => listed
            .iter()
            .map(super::honours::commendation_row)
            .collect(),
        Err(failure) if failure.code == Some(tonic::Code::PermissionDenied) => Vec::new(),
        Err(failure) => {
            failures.push(failure.message);
            Vec::new()
        }
    };
    let person = &signed.session.person;
    Standing {
        id: super::id_of(volunteer).to_string(),
        csrf: signed.session.csrf.clone(),
        show_hours: true,
        hours: labels::hours(minutes),
        minutes,
        records,
        stars_held,
        stars_qualified,
        stars,
        points,
        qualifications,
        commendations,
        failures,
        may_nominate: person.is_staff()
            || person.has(egret_proto::gateway::v1::AccountRole::TeamLeader),
        period: this_half_year(),
        request_id: super::new_request_id(),
        form: Posted::default(),
        refusal: Failure::default(),
    }
}

impl Standing {
    /// The nomination's refusal, for the top of its form.
    pub fn summary(&self) -> String {
        self.refusal.summary(&["stars", "period"])
    }

    /// The period the nomination form shows: as posted, or this half-year.
    pub fn period_value(&self) -> &str {
        match self.form.get("period") {
            "" => &self.period,
            posted => posted,
        }
    }

    /// The stars held, drawn.
    pub fn stars_drawn(&self) -> String {
        if self.stars_held <= 0 {
            return "—".to_string();
        }
        "★".repeat(self.stars_held.clamp(0, 5) as usize)
    }
}

/// `POST /volunteers/{id}/stars`: nominates her for a star level in a review period.
pub(crate) async fn nominate(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return Redirect::to("/volunteers").into_response();
    }
    let api = &state.api;
    let nominated = api
        .star_ratings()
        .nominate_star_rating(api.request(
            &signed.caller,
            NominateStarRatingRequest {
                volunteer: format!("volunteers/{id}"),
                stars: form.number("stars").unwrap_or_default() as i32,
                period: form.get("period").chars().take(16).collect(),
                request_id: form.request_id(),
                ..NominateStarRatingRequest::default()
            },
        ))
        .await;
    match nominated {
        Ok(_) => after_action(
            &signed,
            Ok(()),
            "已提交星级推荐，等待审批。",
            &format!("/volunteers/{id}"),
        ),
        Err(status) => {
            super::volunteers::volunteer_page(
                &state,
                &signed,
                &id,
                false,
                Some((form, status.into())),
            )
            .await
        }
    }
}
