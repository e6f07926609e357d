//! 同步: at a district, each service's link to the city (pushing up, pulling down) with its
//! alarms; at the city, every district's links as the city applies them, and the
//! enrollments.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use egret_proto::gateway::v1::{GetUpstreamStatusRequest, ListEnrollmentsRequest};
use egret_proto::sync::v1::{LinkState, ListUpstreamLinksRequest};

use super::{Layout, Signed, render};
use crate::AppState;
use crate::api::Failure;
use crate::labels;

/// The services whose logs travel between tiers, with their Chinese names.
const SERVICES: [(&str, &str); 4] = [
    ("registry", "登记服务"),
    ("activity", "活动服务"),
    ("recognition", "表彰服务"),
    ("reporting", "统计服务"),
];

/// Links listed per service at the city.
const LINKS_SHOWN: i32 = 500;

fn service_name(service: &str) -> &'static str {
    SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map_or("—", |(_, zh)| zh)
}

fn seconds(duration: Option<&prost_types::Duration>) -> String {
    match duration {
        Some(duration) if duration.seconds > 0 => format!("{} 秒", duration.seconds),
        _ => String::new(),
    }
}

/// A district's link to the city, one service.
struct UpwardRow {
    service: &'static str,
    pushed: String,
    pulled: String,
    alarm: bool,
    problem: String,
}

/// A district's link as the city sees it.
struct DistrictRow {
    instance: String,
    service: &'static str,
    applied: String,
    state: &'static str,
    alarm: bool,
    heartbeat: String,
    problem: String,
    projection: String,
}

/// An enrolled district.
struct EnrollmentRow {
    instance: String,
    unit: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "sync.html")]
struct SyncPage {
    layout: Layout,
    upstream: String,
    upward: Vec<UpwardRow>,
    districts: Vec<DistrictRow>,
    enrollments: Vec<EnrollmentRow>,
    failures: Vec<String>,
}

fn link_state(state: i32) -> (&'static str, bool) {
    match LinkState::try_from(state).unwrap_or_default() {
        LinkState::Ok => ("已同步", false),
        LinkState::Behind => ("同步中", false),
        LinkState::Stalled => ("中断", true),
        LinkState::Refused => ("被拒绝", true),
        LinkState::Diverged => ("区级日志回退", true),
        LinkState::Mismatched => ("数据不一致", true),
        LinkState::Unspecified => ("—", false),
    }
}

/// `GET /sync`.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let api = &state.api;
    let caller = &signed.caller;
    let mut failures = Vec::new();
    let mut upstream = String::new();
    let mut upward = Vec::new();
    match api
        .enrollments()
        .get_upstream_status(api.request(caller, GetUpstreamStatusRequest {}))
        .await
    {
        Ok(status) => {
            let status = status.into_inner();
            upstream = status.upstream;
            for link in status.links {
                let pulled = link.downward.as_ref().map_or(String::new(), |pull| {
                    format!("{} / {}", pull.applied_sequence, pull.head_sequence)
                });
                let pull_problem = link
                    .downward
                    .as_ref()
                    .filter(|pull| pull.alarm)
                    .map(|pull| pull.last_error.clone())
                    .unwrap_or_default();
                let problem = [
                    link.last_error.as_str(),
                    link.mismatch.as_str(),
                    pull_problem.as_str(),
                    seconds(link.failing_for.as_ref()).as_str(),
                ]
                .into_iter()
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join("；");
                upward.push(UpwardRow {
                    service: service_name(&link.service),
                    pushed: format!("{} / {}", link.acknowledged_sequence, link.head_sequence),
                    pulled,
                    alarm: link.alarm || link.downward.as_ref().is_some_and(|pull| pull.alarm),
                    problem,
                });
            }
        }
        Err(status) => failures.push(Failure::from(status).message),
    }
    let mut districts = Vec::new();
    let mut enrollments = Vec::new();
    if upstream.is_empty() {
        for (service, zh) in SERVICES {
            let mut request = api.request(
                caller,
                ListUpstreamLinksRequest {
                    page_size: LINKS_SHOWN,
                    page_token: String::new(),
                },
            );
            // The upward contract names the service whose log a call concerns in this
            // header; the gateway routes by it.
            request.metadata_mut().insert(
                "egret-service",
                tonic::metadata::MetadataValue::from_static(service),
            );
            match api.upward().list_upstream_links(request).await {
                Ok(links) => {
                    for link in links.into_inner().links {
                        let (state, alarm) = link_state(link.state);
                        districts.push(DistrictRow {
                            instance: link.origin_instance,
                            service: zh,
                            applied: format!(
                                "{} / {}",
                                link.acknowledged_sequence, link.head_sequence
                            ),
                            state,
                            alarm,
                            heartbeat: labels::china_time(link.heartbeat_time.as_ref()),
                            problem: [link.refusal, link.mismatch]
                                .into_iter()
                                .filter(|text| !text.is_empty())
                                .collect::<Vec<_>>()
                                .join("；"),
                            projection: link.projection,
                        });
                    }
                }
                Err(status) => failures.push(Failure::from(status).message),
            }
        }
        districts.sort_by(|a, b| a.instance.cmp(&b.instance));
        match api
            .enrollments()
            .list_enrollments(api.request(
                caller,
                ListEnrollmentsRequest {
                    page_size: LINKS_SHOWN,
                    page_token: String::new(),
                },
            ))
            .await
        {
            Ok(listed) => {
                for enrollment in listed.into_inner().enrollments {
                    enrollments.push(EnrollmentRow {
                        instance: enrollment.instance_id,
                        unit: enrollment.org_unit_display_name,
                        active: enrollment.state
                            == egret_proto::gateway::v1::EnrollmentState::Active as i32,
                    });
                }
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
    }
    failures.dedup();
    render(&SyncPage {
        layout: signed.layout("同步", "sync"),
        upstream,
        upward,
        districts,
        enrollments,
        failures,
    })
}
