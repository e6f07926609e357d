//! 首页: the figures of the person's own subtree, progress against the targets, and work
//! waiting.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use egret_proto::registry::v1::{JoinApplicationState, ListJoinApplicationsRequest};
use egret_proto::reporting::v1::{GetOverviewRequest, GetTargetProgressRequest};

use super::{Layout, Signed, render};
use crate::AppState;
use crate::api::Failure;

/// At most this many waiting applications are counted; more show as "100+".
const COUNTED_WAITING: i32 = 100;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    unit: String,
    figures: Vec<Figure>,
    progress: Vec<Progress>,
    waiting: Vec<Waiting>,
    failures: Vec<String>,
}

struct Figure {
    label: &'static str,
    value: String,
}

struct Progress {
    label: String,
    reached: i64,
    target: i64,
    percent: i64,
}

struct Waiting {
    label: &'static str,
    count: String,
    href: String,
}

/// `GET /`.
pub(crate) async fn show(State(state): State<AppState>, signed: Signed) -> Response {
    let person = &signed.session.person;
    let api = &state.api;
    let mut failures = Vec::new();
    let mut figures = Vec::new();
    let mut progress = Vec::new();
    let mut waiting = Vec::new();
    let is_volunteer_only = !person.is_staff()
        && !person.has(egret_proto::gateway::v1::AccountRole::TeamLeader)
        && !person.has(egret_proto::gateway::v1::AccountRole::Viewer);
    if is_volunteer_only && !person.volunteer.is_empty() {
        return axum::response::Redirect::to("/me").into_response();
    }
    if !is_volunteer_only {
        let overview = api
            .statistics()
            .get_overview(api.request(
                &signed.caller,
                GetOverviewRequest {
                    org_unit: person.org_unit.clone(),
                    ..GetOverviewRequest::default()
                },
            ))
            .await;
        match overview {
            Ok(overview) => {
                let overview = overview.into_inner();
                figures = vec![
                    Figure {
                        label: "服务队",
                        value: overview.teams.to_string(),
                    },
                    Figure {
                        label: "志愿者",
                        value: overview.volunteers.to_string(),
                    },
                    Figure {
                        label: "活动",
                        value: overview.activities.to_string(),
                    },
                    Figure {
                        label: "服务时长（小时）",
                        value: format!("{:.1}", overview.approved_minutes as f64 / 60.0),
                    },
                    Figure {
                        label: "服务记录",
                        value: overview.service_records.to_string(),
                    },
                    Figure {
                        label: "参加培训",
                        value: overview.trained_volunteers.to_string(),
                    },
                ];
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
        let year = time::OffsetDateTime::now_utc().year();
        let targets = api
            .targets()
            .get_target_progress(api.request(
                &signed.caller,
                GetTargetProgressRequest {
                    org_unit: person.org_unit.clone(),
                    year,
                },
            ))
            .await;
        match targets {
            Ok(targets) => {
                for row in targets.into_inner().progress {
                    let Some(target) = row.target else { continue };
                    let level = crate::labels::team_level(target.team_level);
                    progress.push(Progress {
                        label: format!("{year}年{level}服务队"),
                        reached: row.teams,
                        target: target.teams,
                        percent: (row.teams_permille / 10).clamp(0, 100),
                    });
                    progress.push(Progress {
                        label: format!("{year}年{level}志愿者"),
                        reached: row.volunteers,
                        target: target.volunteers,
                        percent: (row.volunteers_permille / 10).clamp(0, 100),
                    });
                }
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
        let applications = api
            .memberships()
            .list_join_applications(api.request(
                &signed.caller,
                ListJoinApplicationsRequest {
                    parent: person.org_unit.clone(),
                    state: JoinApplicationState::Pending as i32,
                    page_size: COUNTED_WAITING,
                    page_token: String::new(),
                },
            ))
            .await;
        match applications {
            Ok(applications) => {
                let applications = applications.into_inner();
                let count = applications.join_applications.len();
                waiting.push(Waiting {
                    label: "入队申请",
                    count: if applications.next_page_token.is_empty() {
                        count.to_string()
                    } else {
                        format!("{count}+")
                    },
                    href: format!("/org/{}", super::id_of(&person.org_unit)),
                });
            }
            Err(status) => failures.push(Failure::from(status).message),
        }
        if person.is_staff() || person.has(egret_proto::gateway::v1::AccountRole::TeamLeader) {
            for (label, count) in super::review::waiting(&state, &signed).await {
                waiting.push(Waiting {
                    label,
                    count,
                    href: "/review".to_string(),
                });
            }
        }
    }
    let unit = if person.org_unit.is_empty() {
        String::new()
    } else {
        super::org::display_name(&state, &signed, &person.org_unit).await
    };
    render(&HomePage {
        layout: signed.layout("首页", "home"),
        unit,
        figures,
        progress,
        waiting,
        failures,
    })
}
