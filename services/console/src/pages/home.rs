//! 首页: the figures of the person's own subtree, progress against the targets, its
//! approved hours month by month (the reporting service's chart beside the figures), and
//! work waiting.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use egret_proto::common::v1::Date;
use egret_proto::registry::v1::{JoinApplicationState, ListJoinApplicationsRequest};
use egret_proto::reporting::v1::{
    GetMonthlySeriesRequest, GetOverviewRequest, GetTargetProgressRequest, Metric,
};

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
    /// Approved hours of each of the last twelve months, oldest first.
    months: Vec<(String, String)>,
    /// The first day of the months shown (`2026-01-01`), for the chart's address.
    months_start: String,
    waiting: Vec<Waiting>,
    failures: Vec<String>,
}

/// Months the home page shows hours for.
const MONTHS_SHOWN: i32 = 12;

/// The first day of the month `MONTHS_SHOWN - 1` months before `today`'s.
fn months_start(today: &Date) -> Date {
    let months = today.year * 12 + (today.month - 1) - (MONTHS_SHOWN - 1);
    Date {
        year: months.div_euclid(12),
        month: months.rem_euclid(12) + 1,
        day: 1,
    }
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
    let mut months = Vec::new();
    let mut months_start_text = String::new();
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
        let today = egret_runtime::wire::today();
        let start = months_start(&Date {
            year: today.year,
            month: today.month as i32,
            day: today.day as i32,
        });
        months_start_text = format!("{:04}-{:02}-01", start.year, start.month);
        let series = api
            .statistics()
            .get_monthly_series(api.request(
                &signed.caller,
                GetMonthlySeriesRequest {
                    org_unit: person.org_unit.clone(),
                    metric: Metric::ApprovedMinutes as i32,
                    start_date: Some(start),
                    ..GetMonthlySeriesRequest::default()
                },
            ))
            .await;
        match series {
            Ok(series) => {
                months = series
                    .into_inner()
                    .points
                    .into_iter()
                    .map(|point| (point.month, crate::labels::hours(point.value)))
                    .collect();
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
        months,
        months_start: months_start_text,
        waiting,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_end_with_this_one() {
        for ((year, month), (start_year, start_month)) in [
            ((2026, 12), (2026, 1)),
            ((2026, 1), (2025, 2)),
            ((2026, 11), (2025, 12)),
        ] {
            let start = months_start(&Date {
                year,
                month,
                day: 15,
            });
            assert_eq!(
                (start.year, start.month, start.day),
                (start_year, start_month, 1)
            );
        }
    }
}
