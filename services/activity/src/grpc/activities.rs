//! `egret.activity.v1.ActivityService`.

use egret_proto::activity::v1 as pb;
use egret_runtime::wire::{
    check_request_id, enum_list, enum_value, is_service_field, is_service_theme, is_target_group,
    mask_paths, metadata, optional_name, parse_name, text, timestamp,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use egret_storage::Ordering;
use tonic::{Request, Response, Status};

use crate::app::{ACTIVITY_SORT_FIELDS, Activity as Service, ActivityPatch, ActivityQuery};
use crate::domain::activity::{
    Activity, ActivityFields, ActivityState, CheckInFence, Position, ServiceSite, check_period,
};
use crate::domain::names;

/// The service implementation.
pub struct ActivityApi(pub Service);

/// The most positions one activity recruits for.
const MAX_POSITIONS: usize = 50;
/// The most skills or qualifications one position asks for.
const MAX_REQUIREMENTS: usize = 20;

fn is_site_kind(value: i32) -> bool {
    pb::SiteKind::try_from(value).is_ok()
}

fn is_risk_level(value: i32) -> bool {
    pb::RiskLevel::try_from(value).is_ok()
}

fn activity_to_wire(activity: &Activity) -> pb::Activity {
    pb::Activity {
        name: names::activity(&activity.id),
        org_unit: names::org_unit(&activity.org_unit_id),
        project: activity
            .project_id
            .as_deref()
            .map(names::project)
            .unwrap_or_default(),
        display_name: activity.display_name.clone(),
        description: activity.description.clone(),
        service_theme: activity.service_theme,
        service_field: activity.service_field,
        target_groups: activity.target_groups.clone(),
        site: Some(pb::ServiceSite {
            display_name: activity.site.display_name.clone(),
            address: activity.site.address.clone(),
            kind: activity.site.kind,
            check_in_fence: activity
                .site
                .check_in_fence
                .as_ref()
                .map(|fence| pb::CheckInFence {
                    latitude: fence.latitude,
                    longitude: fence.longitude,
                    radius_meters: fence.radius_meters,
                }),
        }),
        start_time: Some(timestamp(activity.start_time)),
        end_time: Some(timestamp(activity.end_time)),
        risk_level: activity.risk_level,
        positions: activity
            .positions
            .iter()
            .map(|position| pb::Position {
                position_id: position.position_id.clone(),
                role: position.role.clone(),
                headcount: position.headcount,
                required_skills: position.required_skills.clone(),
                required_qualifications: position.required_qualifications.clone(),
                minimum_age: position.minimum_age,
            })
            .collect(),
        state: activity.state as i32,
        metadata: Some(metadata(&activity.id, &activity.meta)),
        social_worker_leads: activity.social_worker_leads.clone(),
    }
}

/// A timestamp as microseconds, or a violation of `field`.
pub(super) fn micros(
    violations: &mut Violations,
    field: &str,
    time: Option<&prost_types::Timestamp>,
) -> i64 {
    let Some(time) = time else {
        violations.add(field, "is required", "不能为空");
        return 0;
    };
    // Years 2000 to 2200: anything else is a typo, not a service time.
    let valid = (946_684_800..=7_258_118_400).contains(&time.seconds)
        && (0..1_000_000_000).contains(&time.nanos);
    if !valid {
        violations.add(field, "is not a time between 2000 and 2200", "时间无效");
        return 0;
    }
    time.seconds * 1_000_000 + i64::from(time.nanos / 1000)
}

fn site(violations: &mut Violations, site: Option<&pb::ServiceSite>) -> ServiceSite {
    let Some(site) = site else {
        violations.add("activity.site", "is required", "必须填写服务地点");
        return ServiceSite {
            display_name: String::new(),
            address: String::new(),
            kind: 0,
            check_in_fence: None,
        };
    };
    let kind = enum_value(violations, "activity.site.kind", site.kind, is_site_kind);
    if kind == 0 {
        violations.add("activity.site.kind", "is required", "必须选择站点类型");
    }
    let check_in_fence = site.check_in_fence.as_ref().map(|fence| {
        if !(-90.0..=90.0).contains(&fence.latitude) {
            violations.add(
                "activity.site.check_in_fence.latitude",
                "must be between -90 and 90",
                "纬度应在 -90 到 90 之间",
            );
        }
        if !(-180.0..=180.0).contains(&fence.longitude) {
            violations.add(
                "activity.site.check_in_fence.longitude",
                "must be between -180 and 180",
                "经度应在 -180 到 180 之间",
            );
        }
        if !(10..=10_000).contains(&fence.radius_meters) {
            violations.add(
                "activity.site.check_in_fence.radius_meters",
                "must be between 10 and 10000",
                "签到半径应在 10 到 10000 米之间",
            );
        }
        CheckInFence {
            latitude: fence.latitude,
            longitude: fence.longitude,
            radius_meters: fence.radius_meters,
        }
    });
    ServiceSite {
        display_name: text(
            violations,
            "activity.site.display_name",
            &site.display_name,
            100,
            true,
        ),
        address: text(
            violations,
            "activity.site.address",
            &site.address,
            200,
            true,
        ),
        kind,
        check_in_fence,
    }
}

fn requirements(
    violations: &mut Violations,
    field: &str,
    values: &[String],
    max_chars: usize,
) -> Vec<String> {
    if values.len() > MAX_REQUIREMENTS {
        violations.add(
            field,
            format!("at most {MAX_REQUIREMENTS} entries"),
            format!("最多 {MAX_REQUIREMENTS} 项"),
        );
    }
    let mut kept: Vec<String> = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let value = text(
            violations,
            &format!("{field}[{index}]"),
            value,
            max_chars,
            true,
        );
        if !value.is_empty() && !kept.contains(&value) {
            kept.push(value);
        }
    }
    kept
}

fn positions(violations: &mut Violations, positions: &[pb::Position]) -> Vec<Position> {
    if positions.len() > MAX_POSITIONS {
        violations.add(
            "activity.positions",
            format!("at most {MAX_POSITIONS} positions"),
            format!("岗位最多 {MAX_POSITIONS} 个"),
        );
    }
    let mut roles: Vec<String> = Vec::new();
    positions
        .iter()
        .enumerate()
        .map(|(index, position)| {
            let field = |name: &str| format!("activity.positions[{index}].{name}");
            let role = text(violations, &field("role"), &position.role, 50, true);
            if !role.is_empty() && roles.contains(&role) {
                violations.add(
                    field("role"),
                    "is the same as another position's",
                    "岗位名称重复",
                );
            }
            roles.push(role.clone());
            if !(1..=10_000).contains(&position.headcount) {
                violations.add(
                    field("headcount"),
                    "must be between 1 and 10000",
                    "招募人数应在 1 到 10000 之间",
                );
            }
            if !(0..=120).contains(&position.minimum_age) {
                violations.add(
                    field("minimum_age"),
                    "must be between 0 and 120",
                    "最低年龄应在 0 到 120 之间",
                );
            }
            Position {
                position_id: String::new(),
                role,
                headcount: position.headcount,
                required_skills: requirements(
                    violations,
                    &field("required_skills"),
                    &position.required_skills,
                    30,
                ),
                required_qualifications: requirements(
                    violations,
                    &field("required_qualifications"),
                    &position.required_qualifications,
                    50,
                ),
                minimum_age: position.minimum_age,
            }
        })
        .collect()
}

fn required_enum(
    violations: &mut Violations,
    field: &str,
    value: i32,
    is_known: impl Fn(i32) -> bool,
) -> i32 {
    let value = enum_value(violations, field, value, is_known);
    if value == 0 {
        violations.add(field, "is required", "不能为空");
    }
    value
}

fn activity_fields(activity: &pb::Activity) -> Result<ActivityFields, ApiError> {
    let mut violations = Violations::new();
    let fields = ActivityFields {
        display_name: text(
            &mut violations,
            "activity.display_name",
            &activity.display_name,
            100,
            true,
        ),
        description: text(
            &mut violations,
            "activity.description",
            &activity.description,
            2000,
            false,
        ),
        service_theme: required_enum(
            &mut violations,
            "activity.service_theme",
            activity.service_theme,
            is_service_theme,
        ),
        service_field: enum_value(
            &mut violations,
            "activity.service_field",
            activity.service_field,
            is_service_field,
        ),
        target_groups: enum_list(
            &mut violations,
            "activity.target_groups",
            &activity.target_groups,
            is_target_group,
        ),
        site: site(&mut violations, activity.site.as_ref()),
        start_time: micros(
            &mut violations,
            "activity.start_time",
            activity.start_time.as_ref(),
        ),
        end_time: micros(
            &mut violations,
            "activity.end_time",
            activity.end_time.as_ref(),
        ),
        risk_level: required_enum(
            &mut violations,
            "activity.risk_level",
            activity.risk_level,
            is_risk_level,
        ),
        positions: positions(&mut violations, &activity.positions),
        social_worker_leads: requirements(
            &mut violations,
            "activity.social_worker_leads",
            &activity.social_worker_leads,
            50,
        ),
    };
    // The period is checked here too, so that it is reported with every other bad field.
    if fields.start_time != 0
        && fields.end_time != 0
        && let Err(ApiError::InvalidArgument(found)) =
            check_period(fields.start_time, fields.end_time)
    {
        violations.extend(found);
    }
    violations.into_result()?;
    Ok(fields)
}

const ACTIVITY_MASK: [&str; 11] = [
    "display_name",
    "description",
    "service_theme",
    "service_field",
    "target_groups",
    "site",
    "start_time",
    "end_time",
    "risk_level",
    "positions",
    "social_worker_leads",
];

fn activity_patch(activity: &pb::Activity, paths: &[String]) -> Result<ActivityPatch, ApiError> {
    let mut violations = Violations::new();
    let mut patch = ActivityPatch::default();
    for path in paths {
        let field = format!("activity.{path}");
        match path.as_str() {
            "display_name" => {
                patch.display_name = Some(text(
                    &mut violations,
                    &field,
                    &activity.display_name,
                    100,
                    true,
                ))
            }
            "description" => {
                patch.description = Some(text(
                    &mut violations,
                    &field,
                    &activity.description,
                    2000,
                    false,
                ))
            }
            "service_theme" => {
                patch.service_theme = Some(required_enum(
                    &mut violations,
                    &field,
                    activity.service_theme,
                    is_service_theme,
                ))
            }
            "service_field" => {
                patch.service_field = Some(enum_value(
                    &mut violations,
                    &field,
                    activity.service_field,
                    is_service_field,
                ))
            }
            "target_groups" => {
                patch.target_groups = Some(enum_list(
                    &mut violations,
                    &field,
                    &activity.target_groups,
                    is_target_group,
                ))
            }
            "site" => patch.site = Some(site(&mut violations, activity.site.as_ref())),
            "start_time" => {
                patch.start_time = Some(micros(
                    &mut violations,
                    &field,
                    activity.start_time.as_ref(),
                ))
            }
            "end_time" => {
                patch.end_time = Some(micros(&mut violations, &field, activity.end_time.as_ref()))
            }
            "risk_level" => {
                patch.risk_level = Some(required_enum(
                    &mut violations,
                    &field,
                    activity.risk_level,
                    is_risk_level,
                ))
            }
            "positions" => patch.positions = Some(positions(&mut violations, &activity.positions)),
            "social_worker_leads" => {
                patch.social_worker_leads = Some(requirements(
                    &mut violations,
                    &field,
                    &activity.social_worker_leads,
                    50,
                ));
            }
            _ => {}
        }
    }
    violations.into_result()?;
    Ok(patch)
}

impl ActivityApi {
    async fn state_change(
        &self,
        principal: Principal,
        name: &str,
        target: ActivityState,
        reason: &str,
        reason_required: bool,
    ) -> Result<pb::Activity, Status> {
        let id = parse_name("name", name, "activities")?;
        let mut violations = Violations::new();
        let reason = text(&mut violations, "reason", reason, 500, reason_required);
        violations.into_result()?;
        let activity = self
            .0
            .change_activity_state(&principal, id, target, &reason)
            .await?;
        Ok(activity_to_wire(&activity))
    }
}

#[tonic::async_trait]
impl pb::activity_service_server::ActivityService for ActivityApi {
    async fn get_activity(
        &self,
        request: Request<pb::GetActivityRequest>,
    ) -> Result<Response<pb::GetActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "activities")?;
        let activity = self.0.get_activity(&principal, id).await?;
        Ok(Response::new(pb::GetActivityResponse {
            activity: Some(activity_to_wire(&activity)),
        }))
    }

    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit =
            optional_name("org_unit", &message.org_unit, "orgUnits")?.map(str::to_string);
        let project = optional_name("project", &message.project, "projects")?.map(str::to_string);
        let mut violations = Violations::new();
        let state = enum_value(&mut violations, "state", message.state, |value| {
            pb::ActivityState::try_from(value).is_ok()
        });
        let start_after = match &message.start_after {
            Some(time) => micros(&mut violations, "start_after", Some(time)),
            None => 0,
        };
        let ordering = Ordering::read(&mut violations, &message.order_by, &ACTIVITY_SORT_FIELDS);
        violations.into_result()?;
        let query = ActivityQuery {
            org_unit,
            project,
            state: ActivityState::from_number(i64::from(state)),
            start_after,
            ordering,
        };
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (activities, next_page_token) =
            self.0.list_activities(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: activities.iter().map(activity_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_activity(
        &self,
        request: Request<pb::CreateActivityRequest>,
    ) -> Result<Response<pb::CreateActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        check_request_id(&message.request_id)?;
        let Some(activity) = &message.activity else {
            return Err(ApiError::invalid("activity", "is required", "不能为空").into());
        };
        let org_unit = parse_name("activity.org_unit", &activity.org_unit, "orgUnits")?;
        let project = if activity.project.is_empty() {
            None
        } else {
            Some(parse_name(
                "activity.project",
                &activity.project,
                "projects",
            )?)
        };
        let fields = activity_fields(activity)?;
        let created = self
            .0
            .create_activity(&principal, org_unit, project, fields, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateActivityResponse {
            activity: Some(activity_to_wire(&created)),
        }))
    }

    async fn update_activity(
        &self,
        request: Request<pb::UpdateActivityRequest>,
    ) -> Result<Response<pb::UpdateActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(activity) = &message.activity else {
            return Err(ApiError::invalid("activity", "is required", "不能为空").into());
        };
        let id = parse_name("activity.name", &activity.name, "activities")?;
        let paths = mask_paths(message.update_mask.as_ref(), &ACTIVITY_MASK)?;
        let patch = activity_patch(activity, &paths)?;
        let updated = self
            .0
            .update_activity(&principal, id, patch, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateActivityResponse {
            activity: Some(activity_to_wire(&updated)),
        }))
    }

    async fn publish_activity(
        &self,
        request: Request<pb::PublishActivityRequest>,
    ) -> Result<Response<pb::PublishActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let activity = self
            .state_change(
                principal,
                &request.get_ref().name,
                ActivityState::Published,
                "",
                false,
            )
            .await?;
        Ok(Response::new(pb::PublishActivityResponse {
            activity: Some(activity),
        }))
    }

    async fn start_activity(
        &self,
        request: Request<pb::StartActivityRequest>,
    ) -> Result<Response<pb::StartActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let activity = self
            .state_change(
                principal,
                &request.get_ref().name,
                ActivityState::InProgress,
                "",
                false,
            )
            .await?;
        Ok(Response::new(pb::StartActivityResponse {
            activity: Some(activity),
        }))
    }

    async fn complete_activity(
        &self,
        request: Request<pb::CompleteActivityRequest>,
    ) -> Result<Response<pb::CompleteActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let activity = self
            .state_change(
                principal,
                &request.get_ref().name,
                ActivityState::Completed,
                "",
                false,
            )
            .await?;
        Ok(Response::new(pb::CompleteActivityResponse {
            activity: Some(activity),
        }))
    }

    async fn cancel_activity(
        &self,
        request: Request<pb::CancelActivityRequest>,
    ) -> Result<Response<pb::CancelActivityResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = self
            .state_change(
                principal,
                &message.name,
                ActivityState::Cancelled,
                &message.reason,
                true,
            )
            .await?;
        Ok(Response::new(pb::CancelActivityResponse {
            activity: Some(activity),
        }))
    }
}
