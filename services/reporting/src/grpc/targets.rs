//! `egret.reporting.v1.TargetService`.

use egret_proto::registry::v1::TeamLevel;
use egret_proto::reporting::v1 as pb;
use egret_runtime::wire::{metadata, optional_name};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Reporting;
use crate::app::targets::{Reached, target_name};
use crate::domain::names;
use crate::domain::targets::Target;

/// The service implementation.
pub struct TargetApi(pub Reporting);

fn target_to_wire(target: &Target) -> pb::Target {
    pb::Target {
        name: target_name(target),
        org_unit: names::org_unit(&target.org_unit_id),
        year: target.year,
        team_level: target.team_level,
        teams: target.teams,
        volunteers: target.volunteers,
        default: target.meta.version == 0,
        metadata: (target.meta.version > 0).then(|| metadata(&target.id, &target.meta)),
    }
}

fn progress_to_wire(reached: &Reached) -> pb::TargetProgress {
    pb::TargetProgress {
        target: Some(target_to_wire(&reached.target)),
        teams: reached.teams,
        volunteers: reached.volunteers,
        teams_permille: reached.teams_permille,
        volunteers_permille: reached.volunteers_permille,
    }
}

#[tonic::async_trait]
impl pb::target_service_server::TargetService for TargetApi {
    async fn set_target(
        &self,
        request: Request<pb::SetTargetRequest>,
    ) -> Result<Response<pb::SetTargetResponse>, Status> {
        let principal = Principal::of(&request)?;
        let Some(target) = &request.get_ref().target else {
            return Err(ApiError::invalid("target", "is required", "不能为空").into());
        };
        let org_unit = optional_name("target.org_unit", &target.org_unit, "orgUnits")?;
        let mut violations = Violations::new();
        if !matches!(
            TeamLevel::try_from(target.team_level),
            Ok(level) if level != TeamLevel::Unspecified
        ) {
            violations.add(
                "target.team_level",
                "must be national, provincial, municipal or district",
                "队伍级别应为国家级、省级、市级或区级",
            );
        }
        for (field, value) in [
            ("target.teams", target.teams),
            ("target.volunteers", target.volunteers),
        ] {
            if !(0..=10_000_000).contains(&value) {
                violations.add(
                    field,
                    "must be between 0 and 10000000",
                    "应在 0 到 10000000 之间",
                );
            }
        }
        violations.into_result()?;
        let saved = self
            .0
            .set_target(
                &principal,
                org_unit,
                (target.year, target.team_level),
                (target.teams, target.volunteers),
            )
            .await?;
        Ok(Response::new(pb::SetTargetResponse {
            target: Some(target_to_wire(&saved)),
        }))
    }

    async fn list_targets(
        &self,
        request: Request<pb::ListTargetsRequest>,
    ) -> Result<Response<pb::ListTargetsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let filters = format!("{}|{}", message.org_unit, message.year);
        let page = PageRequest::standard(message.page_size, &message.page_token, &filters)?;
        let (targets, next_page_token) = self
            .0
            .list_targets(&principal, org_unit, message.year, &page)
            .await?;
        Ok(Response::new(pb::ListTargetsResponse {
            targets: targets.iter().map(target_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn get_target_progress(
        &self,
        request: Request<pb::GetTargetProgressRequest>,
    ) -> Result<Response<pb::GetTargetProgressResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let (own, units) = self
            .0
            .target_progress(&principal, org_unit, message.year)
            .await?;
        Ok(Response::new(pb::GetTargetProgressResponse {
            progress: own.iter().map(progress_to_wire).collect(),
            units: units.iter().map(progress_to_wire).collect(),
        }))
    }
}
