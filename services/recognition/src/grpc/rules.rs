//! `egret.recognition.v1.RuleSetService`.

use egret_proto::recognition::v1 as pb;
use egret_proto::registry::v1::Tier;
use egret_runtime::error::quote;
use egret_runtime::wire::{check_request_id, date_from_wire, date_to_wire, metadata, text, today};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use tonic::{Request, Response, Status};

use crate::app::Recognition;
use crate::app::rules::RuleSetFields;
use crate::domain::names;
use crate::domain::rules::{
    ReviewPeriod, RuleSet, Rules, StarQuota, StarThreshold, TeamStarCriteria, is_rule_set_id,
};

/// The service implementation.
pub struct RuleSetApi(pub Recognition);

/// The id in `ruleSets/{id}`, or INVALID_ARGUMENT naming `field`.
pub fn parse_rule_set_name<'a>(field: &str, name: &'a str) -> Result<&'a str, ApiError> {
    match name.strip_prefix("ruleSets/") {
        Some(id) if is_rule_set_id(id) => Ok(id),
        _ => Err(ApiError::invalid(
            field,
            format!(
                "must be a resource name like ruleSets/xiamen, got {}",
                quote(name)
            ),
            "资源名格式应为 ruleSets/{id}，例如 ruleSets/xiamen",
        )),
    }
}

/// A rule set on the wire.
pub fn rule_set_to_wire(rule_set: &RuleSet) -> pb::RuleSet {
    let rules = &rule_set.rules;
    pb::RuleSet {
        name: names::rule_set(&rule_set.id),
        display_name: rule_set.display_name.clone(),
        jurisdiction: rule_set.jurisdiction.clone(),
        revision: rule_set.revision,
        effective_date: Some(date_to_wire(rule_set.effective_date)),
        star_thresholds: rules
            .star_thresholds
            .iter()
            .map(|threshold| pb::StarThreshold {
                stars: threshold.stars,
                min_hours: threshold.min_hours,
                min_years: threshold.min_years,
                approving_tier: threshold.approving_tier as i32,
            })
            .collect(),
        review_period: rules.review_period as i32,
        quotas: rules
            .quotas
            .iter()
            .map(|quota| pb::StarQuota {
                stars: quota.stars,
                max_awards: quota.max_awards,
            })
            .collect(),
        team_star_criteria: rules
            .team_star_criteria
            .iter()
            .map(|criteria| pb::TeamStarCriteria {
                stars: criteria.stars,
                min_active_members: criteria.min_active_members,
                min_service_hours: criteria.min_service_hours,
                min_activities: criteria.min_activities,
                annual_report_required: criteria.annual_report_required,
                min_evaluation_average: criteria.min_evaluation_average,
            })
            .collect(),
        built_in: rule_set.built_in,
        notes: rule_set.notes.clone(),
        metadata: Some(metadata(
            &format!("{}@{}", rule_set.id, rule_set.revision),
            &rule_set.meta,
        )),
    }
}

/// The fields of a rule set from the wire; range checks of the rules are the domain's.
fn fields_from_wire(rule_set: Option<&pb::RuleSet>) -> Result<RuleSetFields, ApiError> {
    let Some(rule_set) = rule_set else {
        return Err(ApiError::invalid("rule_set", "is required", "不能为空"));
    };
    let mut violations = Violations::new();
    let display_name = text(
        &mut violations,
        "rule_set.display_name",
        &rule_set.display_name,
        100,
        true,
    );
    let jurisdiction = text(
        &mut violations,
        "rule_set.jurisdiction",
        &rule_set.jurisdiction,
        40,
        true,
    );
    let notes = text(
        &mut violations,
        "rule_set.notes",
        &rule_set.notes,
        2000,
        false,
    );
    let effective_date = date_from_wire(
        &mut violations,
        "rule_set.effective_date",
        rule_set.effective_date.as_ref(),
    );
    if rule_set.effective_date.is_none() {
        violations.add("rule_set.effective_date", "is required", "必须填写生效日期");
    }
    let review_period = ReviewPeriod::from_number(rule_set.review_period);
    if review_period.is_none() {
        violations.add(
            "rule_set.review_period",
            "must be quarter, half year or year",
            "评定周期应为季度、半年或年度",
        );
    }
    let mut star_thresholds = Vec::new();
    for (index, threshold) in rule_set.star_thresholds.iter().enumerate() {
        let tier = match Tier::try_from(threshold.approving_tier) {
            Ok(Tier::Corps) => 1,
            Ok(Tier::Team) => 2,
            _ => {
                violations.add(
                    format!("rule_set.star_thresholds[{index}].approving_tier"),
                    "must be TIER_CORPS or TIER_TEAM",
                    "审批单位应为总队或服务队",
                );
                0
            }
        };
        star_thresholds.push(StarThreshold {
            stars: threshold.stars,
            min_hours: threshold.min_hours,
            min_years: threshold.min_years,
            approving_tier: tier,
        });
    }
    violations.into_result()?;
    Ok(RuleSetFields {
        display_name,
        jurisdiction,
        effective_date: effective_date.unwrap_or_else(today),
        notes,
        rules: Rules {
            star_thresholds,
            review_period: review_period.unwrap_or(ReviewPeriod::Year),
            quotas: rule_set
                .quotas
                .iter()
                .map(|quota| StarQuota {
                    stars: quota.stars,
                    max_awards: quota.max_awards,
                })
                .collect(),
            team_star_criteria: rule_set
                .team_star_criteria
                .iter()
                .map(|criteria| TeamStarCriteria {
                    stars: criteria.stars,
                    min_active_members: criteria.min_active_members,
                    min_service_hours: criteria.min_service_hours,
                    min_activities: criteria.min_activities,
                    annual_report_required: criteria.annual_report_required,
                    min_evaluation_average: criteria.min_evaluation_average,
                })
                .collect(),
        },
    })
}

#[tonic::async_trait]
impl pb::rule_set_service_server::RuleSetService for RuleSetApi {
    async fn get_rule_set(
        &self,
        request: Request<pb::GetRuleSetRequest>,
    ) -> Result<Response<pb::GetRuleSetResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_rule_set_name("name", &message.name)?;
        if message.revision < 0 {
            return Err(
                ApiError::invalid("revision", "must not be negative", "版本号不能为负数").into(),
            );
        }
        let rule_set = self
            .0
            .get_rule_set(&principal, id, message.revision)
            .await?;
        Ok(Response::new(pb::GetRuleSetResponse {
            rule_set: Some(rule_set_to_wire(&rule_set)),
        }))
    }

    async fn list_rule_sets(
        &self,
        request: Request<pb::ListRuleSetsRequest>,
    ) -> Result<Response<pb::ListRuleSetsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(message.page_size, &message.page_token, "rule-sets")?;
        let (rule_sets, next_page_token) = self.0.list_rule_sets(&principal, &page).await?;
        Ok(Response::new(pb::ListRuleSetsResponse {
            rule_sets: rule_sets.iter().map(rule_set_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn list_rule_set_revisions(
        &self,
        request: Request<pb::ListRuleSetRevisionsRequest>,
    ) -> Result<Response<pb::ListRuleSetRevisionsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_rule_set_name("name", &message.name)?;
        let page = PageRequest::standard(message.page_size, &message.page_token, &message.name)?;
        let (rule_sets, next_page_token) = self
            .0
            .list_rule_set_revisions(&principal, id, &page)
            .await?;
        Ok(Response::new(pb::ListRuleSetRevisionsResponse {
            rule_sets: rule_sets.iter().map(rule_set_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_rule_set(
        &self,
        request: Request<pb::CreateRuleSetRequest>,
    ) -> Result<Response<pb::CreateRuleSetResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        if !is_rule_set_id(&message.rule_set_id) {
            return Err(ApiError::invalid(
                "rule_set_id",
                "must be 2 to 40 lowercase letters, digits and hyphens, starting with a letter",
                "应为 2 到 40 个小写字母、数字或连字符，以字母开头",
            )
            .into());
        }
        check_request_id(&message.request_id)?;
        let fields = fields_from_wire(message.rule_set.as_ref())?;
        let rule_set = self
            .0
            .create_rule_set(
                &principal,
                &message.rule_set_id,
                fields,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateRuleSetResponse {
            rule_set: Some(rule_set_to_wire(&rule_set)),
        }))
    }

    async fn revise_rule_set(
        &self,
        request: Request<pb::ReviseRuleSetRequest>,
    ) -> Result<Response<pb::ReviseRuleSetResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let name = message
            .rule_set
            .as_ref()
            .map(|rule_set| rule_set.name.as_str())
            .unwrap_or_default();
        let id = parse_rule_set_name("rule_set.name", name)?;
        check_request_id(&message.request_id)?;
        let fields = fields_from_wire(message.rule_set.as_ref())?;
        let rule_set = self
            .0
            .revise_rule_set(
                &principal,
                id,
                fields,
                message.expected_revision,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::ReviseRuleSetResponse {
            rule_set: Some(rule_set_to_wire(&rule_set)),
        }))
    }

    async fn get_rules_in_force(
        &self,
        request: Request<pb::GetRulesInForceRequest>,
    ) -> Result<Response<pb::GetRulesInForceResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let date =
            date_from_wire(&mut violations, "date", message.date.as_ref()).unwrap_or_else(today);
        violations.into_result()?;
        let rule_set = self.0.get_rules_in_force(&principal, date).await?;
        Ok(Response::new(pb::GetRulesInForceResponse {
            rule_set: Some(rule_set_to_wire(&rule_set)),
        }))
    }
}
