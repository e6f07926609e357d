//! 审核: service records awaiting approval in the person's subtree, approved or returned
//! one by one or several at once.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::activity::v1::{
    ApproveServiceRecordRequest, ListServiceRecordsRequest, RejectServiceRecordRequest,
    ServiceRecordState,
};
use http::StatusCode;

use super::{Layout, Signed, check_csrf, render, valid_id};
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
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    records: Vec<RecordRow>,
    more: bool,
    notice: String,
    failures: Vec<String>,
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
        });
    }
    render(&ReviewPage {
        layout: signed.layout("审核", "review"),
        records: rows,
        more,
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
