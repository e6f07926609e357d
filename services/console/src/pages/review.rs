//! 审核: the work waiting in the person's subtree. Service records (back-entries, 补录,
//! among them) approved or returned one by one or several at once; star nominations
//! approved or rejected, and awarded stars flagged for review kept or revoked;
//! commendations nominated or on public notice; and links to the join applications and
//! annual reports waiting.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    ApproveServiceRecordRequest, ListServiceRecordsRequest, RejectServiceRecordRequest,
    ServiceRecordState,
};
use egret_proto::recognition::v1::{
    ApproveStarRatingRequest, CommendationState, ListStarRatingsRequest, RejectStarRatingRequest,
    ResolveStarRatingReviewRequest, StarRatingState,
};
use egret_proto::registry::v1::{JoinApplicationState, ListJoinApplicationsRequest};
use http::StatusCode;

use super::{Layout, Posted, Signed, after_action, check_csrf, render, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;
use crate::session::Flash;

/// Records on the queue at once.
const QUEUE_PAGE: i32 = 100;
/// Records one bulk decision may name.
const MAX_BULK: usize = 100;

/// A record on the queue.
struct RecordRow {
    id: String,
    volunteer: String,
    activity: String,
    date: String,
    hours: String,
    kind: &'static str,
    reason: String,
}

/// A star nomination, or an awarded star flagged for review.
struct StarRow {
    id: String,
    volunteer: String,
    stars: String,
    period: String,
    hours: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    records: Vec<RecordRow>,
    more: bool,
    nominations: Vec<StarRow>,
    flagged: Vec<StarRow>,
    commendations: Vec<super::honours::CommendationRow>,
    applications: usize,
    unit_id: String,
    notice: String,
    failures: Vec<String>,
}

/// Star ratings in the subtree: nominations waiting, or (with `flagged`) awarded stars
/// flagged for review.
async fn star_queue(
    state: &AppState,
    signed: &Signed,
    flagged: bool,
) -> Result<Vec<StarRow>, Failure> {
    let api = &state.api;
    let listed = api
        .star_ratings()
        .list_star_ratings(api.request(
            &signed.caller,
            ListStarRatingsRequest {
                state: if flagged {
                    StarRatingState::Awarded
                } else {
                    StarRatingState::Nominated
                } as i32,
                review_required: flagged,
                page_size: QUEUE_PAGE,
                ..ListStarRatingsRequest::default()
            },
        ))
        .await?
        .into_inner();
    Ok(listed
        .star_ratings
        .into_iter()
        .map(|rating| StarRow {
            id: super::id_of(&rating.name).to_string(),
            volunteer: rating.volunteer_display_name,
            stars: "★".repeat(rating.stars.clamp(0, 5) as usize),
            period: rating.period,
            hours: labels::hours(rating.approved_minutes),
            reason: rating.review_reason,
        })
        .collect())
}

/// The count of join applications waiting at the person's own unit, at most a page.
async fn applications_waiting(state: &AppState, signed: &Signed) -> Result<usize, Failure> {
    let api = &state.api;
    let listed = api
        .memberships()
        .list_join_applications(api.request(
            &signed.caller,
            ListJoinApplicationsRequest {
                parent: signed.session.person.org_unit.clone(),
                state: JoinApplicationState::Pending as i32,
                page_size: QUEUE_PAGE,
                page_token: String::new(),
            },
        ))
        .await?
        .into_inner();
    Ok(listed.join_applications.len())
}

async fn review_page(
    state: &AppState,
    signed: &Signed,
    notice: String,
    mut failures: Vec<String>,
) -> Response {
    let api = &state.api;
    let listed = api
        .service_records()
        .list_service_records(api.request(
            &signed.caller,
            ListServiceRecordsRequest {
                org_unit: signed.session.person.org_unit.clone(),
                state: ServiceRecordState::Submitted as i32,
                page_size: QUEUE_PAGE,
                ..ListServiceRecordsRequest::default()
            },
        ))
        .await;
    let (records, more) = match listed {
        Ok(listed) => {
            let listed = listed.into_inner();
            (listed.service_records, !listed.next_page_token.is_empty())
        }
        Err(status) => {
            failures.push(Failure::from(status).message);
            (Vec::new(), false)
        }
    };
    let mut rows = Vec::new();
    let mut volunteer_names = std::collections::HashMap::new();
    let mut activity_names = std::collections::HashMap::new();
    for record in &records {
        if !volunteer_names.contains_key(&record.volunteer) {
            let name = super::volunteers::display_name(state, signed, &record.volunteer).await;
            volunteer_names.insert(record.volunteer.clone(), name);
        }
        if !record.activity.is_empty() && !activity_names.contains_key(&record.activity) {
            let id = super::id_of(&record.activity).to_string();
            let name = super::activities::get_activity(state, signed, &id)
                .await
                .map(|activity| activity.display_name)
                .unwrap_or_default();
            activity_names.insert(record.activity.clone(), name);
        }
        rows.push(RecordRow {
            id: super::id_of(&record.name).to_string(),
            volunteer: volunteer_names
                .get(&record.volunteer)
                .cloned()
                .unwrap_or_default(),
            activity: activity_names
                .get(&record.activity)
                .cloned()
                .unwrap_or_else(|| record.description.clone()),
            date: labels::date(record.service_date.as_ref()),
            hours: labels::hours(record.minutes),
            kind: labels::record_kind(record.kind),
            reason: record.reason.clone(),
        });
    }
    let mut queue_failure = |failure: Failure| {
        // A leader may not decide stars or commendations: her queue just has none.
        if failure.code != Some(tonic::Code::PermissionDenied)
            && !failures.contains(&failure.message)
        {
            failures.push(failure.message);
        }
    };
    let nominations = star_queue(state, signed, false)
        .await
        .unwrap_or_else(|failure| {
            queue_failure(failure);
            Vec::new()
        });
    let flagged = star_queue(state, signed, true)
        .await
        .unwrap_or_else(|failure| {
            queue_failure(failure);
            Vec::new()
        });
    let mut commendations = Vec::new();
    for waiting in [CommendationState::Nominated, CommendationState::OnNotice] {
        match super::honours::list_commendations(state, signed, waiting, "").await {
            Ok(listed) => commendations.extend(listed.iter().map(super::honours::commendation_row)),
            Err(failure) => queue_failure(failure),
        }
    }
    let applications = applications_waiting(state, signed)
        .await
        .unwrap_or_else(|failure| {
            queue_failure(failure);
            0
        });
    render(&ReviewPage {
        layout: signed.layout("审核", "review"),
        records: rows,
        more,
        nominations,
        flagged,
        commendations,
        applications,
        unit_id: super::id_of(&signed.session.person.org_unit).to_string(),
        notice,
        failures,
    })
}

/// `GET /review`.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let flash = signed.session.take_flash();
    review_page(&state, &signed, flash.notice, flash.failures).await
}

/// `POST /review/records`: approve or return the checked records (`record` repeated).
pub(crate) async fn decide_records(
    State(state): State<AppState>,
    signed: Signed,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    };
    if let Err(refused) = check_csrf(&signed.session, value("csrf")) {
        return refused.into_response();
    }
    let approve = match value("decision") {
        "approve" => true,
        "reject" => false,
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    let comment: String = value("comment").chars().take(500).collect();
    let chosen: Vec<&str> = pairs
        .iter()
        .filter(|(name, _)| name == "record")
        .map(|(_, value)| value.as_str())
        .filter(|id| valid_id(id))
        .take(MAX_BULK)
        .collect();
    if chosen.is_empty() {
        return review_page(
            &state,
            &signed,
            String::new(),
            vec!["请先勾选服务记录。".into()],
        )
        .await;
    }
    let api = &state.api;
    let mut done = 0;
    let mut failures = Vec::new();
    for id in &chosen {
        let name = format!("serviceRecords/{id}");
        let result = if approve {
            api.service_records()
                .approve_service_record(api.request(
                    &signed.caller,
                    ApproveServiceRecordRequest {
                        name,
                        comment: comment.clone(),
                    },
                ))
                .await
                .map(drop)
        } else {
            api.service_records()
                .reject_service_record(api.request(
                    &signed.caller,
                    RejectServiceRecordRequest {
                        name,
                        comment: comment.clone(),
                    },
                ))
                .await
                .map(drop)
        };
        match result {
            Ok(()) => done += 1,
            Err(status) => failures.push(Failure::from(status).message),
        }
    }
    let verb = if approve { "通过" } else { "退回" };
    signed.session.set_flash(Flash {
        notice: format!("已{verb} {done} 条服务记录。"),
        failures,
        one_time: None,
    });
    Redirect::to("/review").into_response()
}

/// `POST /review/stars/{id}/{action}`: `approve` or `reject` a nomination, or `keep` or
/// `revoke` an awarded star flagged for review; with a comment (required to reject,
/// keep or revoke).
pub(crate) async fn decide_star(
    State(state): State<AppState>,
    signed: Signed,
    axum::extract::Path((id, action)): axum::extract::Path<(String, String)>,
    Form(form): Form<Posted>,
) -> Response {
    if let Err(refused) = form.check(&signed.session) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return Redirect::to("/review").into_response();
    }
    let name = format!("starRatings/{id}");
    let comment: String = form.get("comment").chars().take(500).collect();
    let api = &state.api;
    let caller = &signed.caller;
    let client = api.star_ratings();
    let (result, notice) = match action.as_str() {
        "approve" => (
            client
                .clone()
                .approve_star_rating(
                    api.request(caller, ApproveStarRatingRequest { name, comment }),
                )
                .await
                .map(drop),
            "星级已评定。",
        ),
        "reject" => (
            client
                .clone()
                .reject_star_rating(api.request(caller, RejectStarRatingRequest { name, comment }))
                .await
                .map(drop),
            "星级推荐未通过。",
        ),
        "keep" | "revoke" => (
            client
                .clone()
                .resolve_star_rating_review(api.request(
                    caller,
                    ResolveStarRatingReviewRequest {
                        name,
                        revoke: action == "revoke",
                        comment,
                    },
                ))
                .await
                .map(drop),
            if action == "revoke" {
                "星级已撤销。"
            } else {
                "星级予以保留。"
            },
        ),
        _ => return Redirect::to("/review").into_response(),
    };
    after_action(&signed, result, notice, "/review")
}

/// The work waiting in the person's queues, for the home page: each queue's name and its
/// count (`100+` past one page). A queue the person may not read is left out.
pub(crate) async fn waiting(state: &AppState, signed: &Signed) -> Vec<(&'static str, String)> {
    let count = |shown: usize, more: bool| {
        if more {
            format!("{shown}+")
        } else {
            shown.to_string()
        }
    };
    let api = &state.api;
    let mut waiting = Vec::new();
    if let Ok(listed) = api
        .service_records()
        .list_service_records(api.request(
            &signed.caller,
            ListServiceRecordsRequest {
                org_unit: signed.session.person.org_unit.clone(),
                state: ServiceRecordState::Submitted as i32,
                page_size: QUEUE_PAGE,
                ..ListServiceRecordsRequest::default()
            },
        ))
        .await
    {
        let listed = listed.into_inner();
        waiting.push((
            "服务记录",
            count(
                listed.service_records.len(),
                !listed.next_page_token.is_empty(),
            ),
        ));
    }
    if let Ok(stars) = star_queue(state, signed, false).await {
        waiting.push(("星级推荐", count(stars.len(), false)));
    }
    if let Ok(nominated) =
        super::honours::list_commendations(state, signed, CommendationState::Nominated, "").await
    {
        waiting.push(("表彰评审", count(nominated.len(), false)));
    }
    waiting
}
