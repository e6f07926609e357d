//! `egret.activity.v1.InsuranceService`.

use egret_proto::activity::v1 as pb;
use egret_proto::common::v1 as common;
use egret_runtime::wire::{
    check_request_id, date_from_wire, date_to_wire, metadata, optional_name, parse_name, text,
};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Activity;
use crate::domain::insurance::{InsurancePolicy, PolicyFields};
use crate::domain::names;

/// The service implementation.
pub struct InsuranceApi(pub Activity);

/// The most volunteers one policy names.
const MAX_INSURED: usize = 10_000;
/// The largest sum insured accepted, in fen.
const MAX_SUM_INSURED_FEN: i64 = 1_000_000_000_000;

fn policy_to_wire(policy: &InsurancePolicy) -> pb::InsurancePolicy {
    pb::InsurancePolicy {
        name: names::insurance_policy(&policy.id),
        org_unit: names::org_unit(&policy.org_unit_id),
        insurer: policy.insurer.clone(),
        policy_number: policy.policy_number.clone(),
        cover: policy.cover.clone(),
        sum_insured_fen: policy.sum_insured_fen,
        start_date: Some(date_to_wire(policy.start_date)),
        end_date: Some(date_to_wire(policy.end_date)),
        covers_subtree: policy.covers_subtree,
        insured_volunteers: policy
            .insured_volunteers
            .iter()
            .map(|id| names::volunteer(id))
            .collect(),
        state: policy.state as i32,
        metadata: Some(metadata(&policy.id, &policy.meta)),
    }
}

fn required_date(
    violations: &mut Violations,
    field: &str,
    date: Option<&common::Date>,
) -> Option<egret_types::CivilDate> {
    let parsed = date_from_wire(violations, field, date);
    if date.is_none_or(|date| date.year == 0 && date.month == 0 && date.day == 0) {
        violations.add(field, "is required", "不能为空");
    }
    parsed
}

fn policy_fields(policy: &pb::InsurancePolicy) -> Result<PolicyFields, ApiError> {
    let mut violations = Violations::new();
    let insurer = text(
        &mut violations,
        "insurance_policy.insurer",
        &policy.insurer,
        100,
        true,
    );
    let policy_number = text(
        &mut violations,
        "insurance_policy.policy_number",
        &policy.policy_number,
        64,
        true,
    );
    let cover = text(
        &mut violations,
        "insurance_policy.cover",
        &policy.cover,
        500,
        false,
    );
    if !(0..=MAX_SUM_INSURED_FEN).contains(&policy.sum_insured_fen) {
        violations.add(
            "insurance_policy.sum_insured_fen",
            "is out of range",
            "保额超出范围",
        );
    }
    let start_date = required_date(
        &mut violations,
        "insurance_policy.start_date",
        policy.start_date.as_ref(),
    );
    let end_date = required_date(
        &mut violations,
        "insurance_policy.end_date",
        policy.end_date.as_ref(),
    );
    if policy.insured_volunteers.len() > MAX_INSURED {
        violations.add(
            "insurance_policy.insured_volunteers",
            format!("at most {MAX_INSURED} volunteers"),
            format!("被保险人最多 {MAX_INSURED} 人"),
        );
    }
    let mut insured: Vec<String> = Vec::new();
    for (index, name) in policy.insured_volunteers.iter().enumerate() {
        match parse_name(
            &format!("insurance_policy.insured_volunteers[{index}]"),
            name,
            "volunteers",
        ) {
            Ok(id) if !insured.iter().any(|known| known == id) => insured.push(id.to_string()),
            Ok(_) => {}
            Err(ApiError::InvalidArgument(found)) => violations.extend(found),
            Err(other) => return Err(other),
        }
    }
    if policy.covers_subtree != insured.is_empty() {
        violations.add(
            "insurance_policy.covers_subtree",
            "a policy either covers the holding unit's subtree or names its insured volunteers, not both or neither",
            "保单应覆盖本组织及下级组织，或列明被保险人，二者选一",
        );
    }
    violations.into_result()?;
    Ok(PolicyFields {
        insurer,
        policy_number,
        cover,
        sum_insured_fen: policy.sum_insured_fen,
        start_date: start_date.expect("checked above"),
        end_date: end_date.expect("checked above"),
        covers_subtree: policy.covers_subtree,
        insured_volunteers: insured,
    })
}

#[tonic::async_trait]
impl pb::insurance_service_server::InsuranceService for InsuranceApi {
    async fn create_insurance_policy(
        &self,
        request: Request<pb::CreateInsurancePolicyRequest>,
    ) -> Result<Response<pb::CreateInsurancePolicyResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        check_request_id(&message.request_id)?;
        let Some(policy) = &message.insurance_policy else {
            return Err(ApiError::invalid("insurance_policy", "is required", "不能为空").into());
        };
        let org_unit = parse_name("insurance_policy.org_unit", &policy.org_unit, "orgUnits")?;
        let fields = policy_fields(policy)?;
        let created = self
            .0
            .create_policy(&principal, org_unit, fields, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateInsurancePolicyResponse {
            insurance_policy: Some(policy_to_wire(&created)),
        }))
    }

    async fn get_insurance_policy(
        &self,
        request: Request<pb::GetInsurancePolicyRequest>,
    ) -> Result<Response<pb::GetInsurancePolicyResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "insurancePolicies")?;
        let policy = self.0.get_policy(&principal, id).await?;
        Ok(Response::new(pb::GetInsurancePolicyResponse {
            insurance_policy: Some(policy_to_wire(&policy)),
        }))
    }

    async fn list_insurance_policies(
        &self,
        request: Request<pb::ListInsurancePoliciesRequest>,
    ) -> Result<Response<pb::ListInsurancePoliciesResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        if !(0..=3660).contains(&message.expiring_within_days) {
            return Err(ApiError::invalid(
                "expiring_within_days",
                "must be between 0 and 3660",
                "天数应在 0 到 3660 之间",
            )
            .into());
        }
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &format!("{org_unit:?}{}", message.expiring_within_days),
        )?;
        let (policies, next_page_token) = self
            .0
            .list_policies(
                &principal,
                org_unit,
                message.expiring_within_days as u32,
                &page,
            )
            .await?;
        Ok(Response::new(pb::ListInsurancePoliciesResponse {
            insurance_policies: policies.iter().map(policy_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn cancel_insurance_policy(
        &self,
        request: Request<pb::CancelInsurancePolicyRequest>,
    ) -> Result<Response<pb::CancelInsurancePolicyResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "insurancePolicies")?;
        let mut violations = Violations::new();
        let reason = text(&mut violations, "reason", &message.reason, 500, true);
        violations.into_result()?;
        let policy = self.0.cancel_policy(&principal, id, &reason).await?;
        Ok(Response::new(pb::CancelInsurancePolicyResponse {
            insurance_policy: Some(policy_to_wire(&policy)),
        }))
    }

    async fn check_coverage(
        &self,
        request: Request<pb::CheckCoverageRequest>,
    ) -> Result<Response<pb::CheckCoverageResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let activity = parse_name("activity", &message.activity, "activities")?;
        let volunteer = optional_name("volunteer", &message.volunteer, "volunteers")?;
        let policy = self
            .0
            .check_coverage(&principal, activity, volunteer)
            .await?;
        Ok(Response::new(pb::CheckCoverageResponse {
            covered: policy.is_some(),
            insurance_policy: policy
                .as_deref()
                .map(names::insurance_policy)
                .unwrap_or_default(),
        }))
    }
}
