//! `egret.registry.v1.OrgUnitService`.

use egret_proto::registry::v1 as pb;
use egret_runtime::error::quote;
use egret_runtime::wire::{is_service_field, is_service_theme};
use egret_runtime::{ApiError, PageRequest, Principal, Violations};
use egret_storage::Ordering;
use tonic::{Request, Response, Status};

use super::{
    check_request_id, date_from_wire, date_to_wire, enum_list, enum_value, mask_paths, metadata,
    optional_name, parse_name, text,
};
use crate::app::{FormPatch, ORG_SORT_FIELDS, OrgPatch, OrgQuery, Registry};
use crate::domain::identity::{mask_phone, parse_email, parse_phone};
use crate::domain::{KeyMember, NewOrgUnit, OrgStatus, OrgUnit, Tier, names};

/// The service implementation.
pub struct OrgUnitApi(pub Registry);

fn tier_from_wire(tier: i32) -> Option<Tier> {
    Tier::from_number(i64::from(tier))
}

fn status_from_wire(status: i32) -> Option<OrgStatus> {
    OrgStatus::from_number(i64::from(status))
}

fn is_level(value: i32) -> bool {
    pb::TeamLevel::try_from(value).is_ok()
}

fn is_category(value: i32) -> bool {
    pb::TeamCategory::try_from(value).is_ok()
}

/// An org unit on the wire.
pub(super) fn org_unit_to_wire(unit: &OrgUnit) -> pb::OrgUnit {
    pb::OrgUnit {
        name: names::org_unit(&unit.id),
        parent: unit
            .parent_id
            .as_deref()
            .map(names::org_unit)
            .unwrap_or_default(),
        tier: unit.tier as i32,
        display_name: unit.display_name.clone(),
        level: unit.level,
        categories: unit.categories.clone(),
        service_fields: unit.service_fields.clone(),
        service_themes: unit.service_themes.clone(),
        status: unit.status as i32,
        merged_into: unit
            .merged_into
            .as_deref()
            .map(names::org_unit)
            .unwrap_or_default(),
        ancestors: unit
            .ancestor_ids()
            .into_iter()
            .map(names::org_unit)
            .collect(),
        metadata: Some(metadata(&unit.id, &unit.meta)),
    }
}

fn new_org_unit(unit: &pb::OrgUnit) -> Result<NewOrgUnit, ApiError> {
    let mut violations = Violations::new();
    let tier = tier_from_wire(unit.tier);
    if tier.is_none() {
        violations.add(
            "org_unit.tier",
            "is required: team, sub-team or squad",
            "必须指定层级：服务队、分队或小队",
        );
    }
    let display_name = text(
        &mut violations,
        "org_unit.display_name",
        &unit.display_name,
        100,
        true,
    );
    let level = enum_value(&mut violations, "org_unit.level", unit.level, is_level);
    if level == 0 && tier.is_some_and(Tier::has_registration_form) {
        violations.add(
            "org_unit.level",
            "is required for teams and sub-teams",
            "服务队和分队必须填写队伍级别",
        );
    }
    let categories = enum_list(
        &mut violations,
        "org_unit.categories",
        &unit.categories,
        is_category,
    );
    let service_fields = enum_list(
        &mut violations,
        "org_unit.service_fields",
        &unit.service_fields,
        is_service_field,
    );
    let service_themes = enum_list(
        &mut violations,
        "org_unit.service_themes",
        &unit.service_themes,
        is_service_theme,
    );
    violations.into_result()?;
    Ok(NewOrgUnit {
        tier: tier.expect("checked above"),
        display_name,
        level,
        categories,
        service_fields,
        service_themes,
    })
}

fn org_patch(unit: &pb::OrgUnit, paths: &[String]) -> Result<OrgPatch, ApiError> {
    let mut violations = Violations::new();
    let mut patch = OrgPatch::default();
    for path in paths {
        match path.as_str() {
            "display_name" => {
                patch.display_name = Some(text(
                    &mut violations,
                    "org_unit.display_name",
                    &unit.display_name,
                    100,
                    true,
                ));
            }
            "level" => {
                patch.level = Some(enum_value(
                    &mut violations,
                    "org_unit.level",
                    unit.level,
                    is_level,
                ))
            }
            "categories" => {
                patch.categories = Some(enum_list(
                    &mut violations,
                    "org_unit.categories",
                    &unit.categories,
                    is_category,
                ));
            }
            "service_fields" => {
                patch.service_fields = Some(enum_list(
                    &mut violations,
                    "org_unit.service_fields",
                    &unit.service_fields,
                    is_service_field,
                ));
            }
            "service_themes" => {
                patch.service_themes = Some(enum_list(
                    &mut violations,
                    "org_unit.service_themes",
                    &unit.service_themes,
                    is_service_theme,
                ));
            }
            _ => {}
        }
    }
    violations.into_result()?;
    Ok(patch)
}

fn form_to_wire(view: &crate::app::FormView) -> pb::RegistrationForm {
    let form = &view.form;
    let phone = |value: &str| {
        if view.revealed {
            value.to_string()
        } else {
            mask_phone(value)
        }
    };
    pb::RegistrationForm {
        name: names::registration_form(&form.org_unit_id),
        archive_number: form.archive_number.clone(),
        team_number: form.team_number.clone(),
        team_name: view.unit.display_name.clone(),
        team_level: view.unit.level,
        leader_name: form.leader_name.clone(),
        host_unit: form.host_unit.clone(),
        declared_member_count: form.declared_member_count as i32,
        counted_member_count: view.counted_member_count as i32,
        founded_on: form.founded_on.map(date_to_wire),
        phone: phone(&form.phone),
        email: form.email.clone(),
        address: form.address.clone(),
        key_members: form
            .key_members
            .iter()
            .map(|member| pb::KeyMember {
                name: member.name.clone(),
                position: member.position.clone(),
                phone: phone(&member.phone),
                workplace: member.workplace.clone(),
                email: member.email.clone(),
            })
            .collect(),
        service_features: form.service_features.clone(),
        awards: form.awards.clone(),
        metadata: Some(metadata(&form.org_unit_id, &form.meta)),
    }
}

fn optional_phone(violations: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    match parse_phone(value) {
        Ok(phone) => phone,
        Err(invalid) => {
            violations.add(field, invalid.en, invalid.zh);
            String::new()
        }
    }
}

fn optional_email(violations: &mut Violations, field: &str, value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return String::new();
    }
    match parse_email(value) {
        Ok(email) => email,
        Err(invalid) => {
            violations.add(field, invalid.en, invalid.zh);
            String::new()
        }
    }
}

/// The most key-member rows a form takes; the paper form has five.
const MAX_KEY_MEMBERS: usize = 100;

fn form_patch(form: &pb::RegistrationForm, paths: &[String]) -> Result<FormPatch, ApiError> {
    let mut violations = Violations::new();
    let mut patch = FormPatch::default();
    let field = |name: &str| format!("registration_form.{name}");
    for path in paths {
        match path.as_str() {
            "leader_name" => {
                patch.leader_name = Some(text(
                    &mut violations,
                    &field(path),
                    &form.leader_name,
                    50,
                    false,
                ))
            }
            "host_unit" => {
                patch.host_unit = Some(text(
                    &mut violations,
                    &field(path),
                    &form.host_unit,
                    200,
                    false,
                ))
            }
            "declared_member_count" => {
                if !(0..=1_000_000).contains(&form.declared_member_count) {
                    violations.add(
                        field(path),
                        "must be between 0 and 1000000",
                        "成员人数应在 0 到 1000000 之间",
                    );
                }
                patch.declared_member_count = Some(i64::from(form.declared_member_count));
            }
            "founded_on" => {
                let date = date_from_wire(&mut violations, &field(path), form.founded_on.as_ref());
                if date.is_some_and(|date| date > super::today()) {
                    violations.add(
                        field(path),
                        "must not be in the future",
                        "成立时间不能晚于今天",
                    );
                }
                patch.founded_on = Some(date);
            }
            "phone" => {
                patch.phone = Some(optional_phone(&mut violations, &field(path), &form.phone))
            }
            "email" => {
                patch.email = Some(optional_email(&mut violations, &field(path), &form.email))
            }
            "address" => {
                patch.address = Some(text(
                    &mut violations,
                    &field(path),
                    &form.address,
                    200,
                    false,
                ))
            }
            "key_members" => {
                if form.key_members.len() > MAX_KEY_MEMBERS {
                    violations.add(
                        field(path),
                        format!("at most {MAX_KEY_MEMBERS} rows"),
                        format!("最多 {MAX_KEY_MEMBERS} 行"),
                    );
                }
                let members = form
                    .key_members
                    .iter()
                    .enumerate()
                    .map(|(index, member)| {
                        let row =
                            |name: &str| format!("registration_form.key_members[{index}].{name}");
                        KeyMember {
                            name: text(&mut violations, &row("name"), &member.name, 50, true),
                            position: text(
                                &mut violations,
                                &row("position"),
                                &member.position,
                                50,
                                false,
                            ),
                            phone: optional_phone(&mut violations, &row("phone"), &member.phone),
                            workplace: text(
                                &mut violations,
                                &row("workplace"),
                                &member.workplace,
                                200,
                                false,
                            ),
                            email: optional_email(&mut violations, &row("email"), &member.email),
                        }
                    })
                    .collect();
                patch.key_members = Some(members);
            }
            "service_features" => {
                patch.service_features = Some(text(
                    &mut violations,
                    &field(path),
                    &form.service_features,
                    2000,
                    false,
                ));
            }
            "awards" => {
                patch.awards = Some(text(
                    &mut violations,
                    &field(path),
                    &form.awards,
                    2000,
                    false,
                ))
            }
            _ => {}
        }
    }
    violations.into_result()?;
    Ok(patch)
}

fn form_org_id(name: &str) -> Result<&str, ApiError> {
    let unit = name.strip_suffix("/registrationForm").unwrap_or("");
    parse_name("name", unit, "orgUnits").map_err(|_| {
        ApiError::invalid(
            "name",
            format!(
                "must be orgUnits/{{org_unit}}/registrationForm, got {}",
                quote(name)
            ),
            "资源名格式应为 orgUnits/{org_unit}/registrationForm",
        )
    })
}

const ORG_MASK: [&str; 5] = [
    "display_name",
    "level",
    "categories",
    "service_fields",
    "service_themes",
];
const FORM_MASK: [&str; 10] = [
    "leader_name",
    "host_unit",
    "declared_member_count",
    "founded_on",
    "phone",
    "email",
    "address",
    "key_members",
    "service_features",
    "awards",
];

impl OrgUnitApi {
    async fn status_change(
        &self,
        principal: Principal,
        name: &str,
        target: OrgStatus,
        into: Option<&str>,
        reason: &str,
    ) -> Result<pb::OrgUnit, Status> {
        let id = parse_name("name", name, "orgUnits")?;
        let into = match into {
            Some(into) => Some(parse_name("into", into, "orgUnits")?),
            None => None,
        };
        let mut violations = Violations::new();
        let reason = text(&mut violations, "reason", reason, 500, false);
        violations.into_result()?;
        let unit = self
            .0
            .change_org_status(&principal, id, target, into, &reason)
            .await?;
        Ok(org_unit_to_wire(&unit))
    }
}

#[tonic::async_trait]
impl pb::org_unit_service_server::OrgUnitService for OrgUnitApi {
    async fn get_org_unit(
        &self,
        request: Request<pb::GetOrgUnitRequest>,
    ) -> Result<Response<pb::GetOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let id = parse_name("name", &request.get_ref().name, "orgUnits")?;
        let unit = self.0.get_org_unit(&principal, id).await?;
        Ok(Response::new(pb::GetOrgUnitResponse {
            org_unit: Some(org_unit_to_wire(&unit)),
        }))
    }

    async fn list_org_units(
        &self,
        request: Request<pb::ListOrgUnitsRequest>,
    ) -> Result<Response<pb::ListOrgUnitsResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let query = OrgQuery {
            ancestor: optional_name("ancestor", &message.ancestor, "orgUnits")?.map(str::to_string),
            children_only: message.children_only,
            tier: tier_from_wire(enum_value(&mut violations, "tier", message.tier, |value| {
                pb::Tier::try_from(value).is_ok()
            })),
            status: status_from_wire(enum_value(
                &mut violations,
                "status",
                message.status,
                |value| pb::OrgUnitStatus::try_from(value).is_ok(),
            )),
            level: enum_value(&mut violations, "level", message.level, is_level),
            category: enum_value(&mut violations, "category", message.category, is_category),
            name_contains: text(
                &mut violations,
                "display_name_contains",
                &message.display_name_contains,
                100,
                false,
            ),
            ordering: Ordering::read(&mut violations, &message.order_by, &ORG_SORT_FIELDS),
        };
        violations.into_result()?;
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (units, next_page_token) = self.0.list_org_units(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListOrgUnitsResponse {
            org_units: units.iter().map(org_unit_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn create_org_unit(
        &self,
        request: Request<pb::CreateOrgUnitRequest>,
    ) -> Result<Response<pb::CreateOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let parent = parse_name("parent", &message.parent, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let Some(unit) = &message.org_unit else {
            return Err(ApiError::invalid("org_unit", "is required", "不能为空").into());
        };
        let new_unit = new_org_unit(unit)?;
        let created = self
            .0
            .create_org_unit(&principal, parent, new_unit, &message.request_id)
            .await?;
        Ok(Response::new(pb::CreateOrgUnitResponse {
            org_unit: Some(org_unit_to_wire(&created)),
        }))
    }

    async fn update_org_unit(
        &self,
        request: Request<pb::UpdateOrgUnitRequest>,
    ) -> Result<Response<pb::UpdateOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(unit) = &message.org_unit else {
            return Err(ApiError::invalid("org_unit", "is required", "不能为空").into());
        };
        let id = parse_name("org_unit.name", &unit.name, "orgUnits")?;
        let paths = mask_paths(message.update_mask.as_ref(), &ORG_MASK)?;
        let patch = org_patch(unit, &paths)?;
        let updated = self
            .0
            .update_org_unit(&principal, id, patch, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateOrgUnitResponse {
            org_unit: Some(org_unit_to_wire(&updated)),
        }))
    }

    async fn move_org_unit(
        &self,
        request: Request<pb::MoveOrgUnitRequest>,
    ) -> Result<Response<pb::MoveOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "orgUnits")?;
        let new_parent = parse_name("new_parent", &message.new_parent, "orgUnits")?;
        let moved = self.0.move_org_unit(&principal, id, new_parent).await?;
        Ok(Response::new(pb::MoveOrgUnitResponse {
            org_unit: Some(org_unit_to_wire(&moved)),
        }))
    }

    async fn suspend_org_unit(
        &self,
        request: Request<pb::SuspendOrgUnitRequest>,
    ) -> Result<Response<pb::SuspendOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let unit = self
            .status_change(
                principal,
                &message.name,
                OrgStatus::Suspended,
                None,
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::SuspendOrgUnitResponse {
            org_unit: Some(unit),
        }))
    }

    async fn resume_org_unit(
        &self,
        request: Request<pb::ResumeOrgUnitRequest>,
    ) -> Result<Response<pb::ResumeOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let unit = self
            .status_change(
                principal,
                &message.name,
                OrgStatus::Active,
                None,
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::ResumeOrgUnitResponse {
            org_unit: Some(unit),
        }))
    }

    async fn dissolve_org_unit(
        &self,
        request: Request<pb::DissolveOrgUnitRequest>,
    ) -> Result<Response<pb::DissolveOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let unit = self
            .status_change(
                principal,
                &message.name,
                OrgStatus::Dissolved,
                None,
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::DissolveOrgUnitResponse {
            org_unit: Some(unit),
        }))
    }

    async fn merge_org_unit(
        &self,
        request: Request<pb::MergeOrgUnitRequest>,
    ) -> Result<Response<pb::MergeOrgUnitResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let unit = self
            .status_change(
                principal,
                &message.name,
                OrgStatus::Merged,
                Some(&message.into),
                &message.reason,
            )
            .await?;
        Ok(Response::new(pb::MergeOrgUnitResponse {
            org_unit: Some(unit),
        }))
    }

    async fn get_registration_form(
        &self,
        request: Request<pb::GetRegistrationFormRequest>,
    ) -> Result<Response<pb::GetRegistrationFormResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = form_org_id(&message.name)?;
        let view = self
            .0
            .get_registration_form(&principal, id, message.reveal_personal_data)
            .await?;
        Ok(Response::new(pb::GetRegistrationFormResponse {
            registration_form: Some(form_to_wire(&view)),
        }))
    }

    async fn update_registration_form(
        &self,
        request: Request<pb::UpdateRegistrationFormRequest>,
    ) -> Result<Response<pb::UpdateRegistrationFormResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(form) = &message.registration_form else {
            return Err(ApiError::invalid("registration_form", "is required", "不能为空").into());
        };
        let id = form_org_id(&form.name).map_err(|_| {
            ApiError::invalid(
                "registration_form.name",
                "must be orgUnits/{org_unit}/registrationForm",
                "资源名格式应为 orgUnits/{org_unit}/registrationForm",
            )
        })?;
        let paths = mask_paths(message.update_mask.as_ref(), &FORM_MASK)?;
        let patch = form_patch(form, &paths)?;
        let view = self
            .0
            .update_registration_form(&principal, id, patch, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateRegistrationFormResponse {
            registration_form: Some(form_to_wire(&view)),
        }))
    }
}
