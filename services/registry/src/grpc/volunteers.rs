//! `egret.registry.v1.VolunteerService`.

use egret_proto::common::v1 as common;
use egret_proto::registry::v1 as pb;
use egret_runtime::wire::{is_service_field, is_service_theme};
use egret_runtime::{ApiError, PageRequest, Principal, Violation, Violations};
use egret_storage::Ordering;
use tonic::{Request, Response, Status};

use super::{
    check_request_id, date_from_wire, date_to_wire, enum_list, enum_value, mask_paths, metadata,
    optional_name, parse_name, text, today,
};
use crate::app::{
    Joining, Registry, VOLUNTEER_SORT_FIELDS, VolunteerPatch, VolunteerQuery, VolunteerView,
};
use crate::domain::identity::{
    IdentityDocument, mask_phone, parse_email, parse_identity, parse_phone,
};
use crate::domain::{
    EmergencyContact, Gender, IdType, NewVolunteer, RegistrationCheck, Volunteer, VolunteerStatus,
    names,
};

/// The most rows one batch registers.
const MAX_BATCH: usize = 1000;
/// The most skills a volunteer lists.
const MAX_SKILLS: usize = 30;

/// The service implementation.
pub struct VolunteerApi(pub Registry);

fn id_type_from_wire(value: i32) -> Option<IdType> {
    match pb::IdType::try_from(value).ok()? {
        pb::IdType::Unspecified => None,
        pb::IdType::ResidentId => Some(IdType::ResidentId),
        pb::IdType::HkMacaoPermit => Some(IdType::HkMacaoPermit),
        pb::IdType::TaiwanPermit => Some(IdType::TaiwanPermit),
        pb::IdType::HmtResidencePermit => Some(IdType::HmtResidencePermit),
        pb::IdType::Passport => Some(IdType::Passport),
    }
}

fn id_type_to_wire(id_type: IdType) -> pb::IdType {
    match id_type {
        IdType::ResidentId => pb::IdType::ResidentId,
        IdType::HkMacaoPermit => pb::IdType::HkMacaoPermit,
        IdType::TaiwanPermit => pb::IdType::TaiwanPermit,
        IdType::HmtResidencePermit => pb::IdType::HmtResidencePermit,
        IdType::Passport => pb::IdType::Passport,
    }
}

fn gender_to_wire(gender: Gender) -> pb::Gender {
    match gender {
        Gender::Female => pb::Gender::Female,
        Gender::Male => pb::Gender::Male,
    }
}

fn gender_from_wire(value: i32) -> Option<Gender> {
    match pb::Gender::try_from(value).ok()? {
        pb::Gender::Female => Some(Gender::Female),
        pb::Gender::Male => Some(Gender::Male),
        pb::Gender::Unspecified => None,
    }
}

fn status_from_wire(value: i32) -> Option<VolunteerStatus> {
    VolunteerStatus::from_number(i64::from(value))
}

fn is_availability(value: i32) -> bool {
    pb::Availability::try_from(value).is_ok()
}

/// A volunteer on the wire: masked unless the view carries a revealed ID number.
pub(super) fn volunteer_to_wire(view: &VolunteerView) -> pb::Volunteer {
    let volunteer = &view.volunteer;
    let revealed = view.revealed_id_number.is_some();
    let phone = |value: &str| {
        if revealed {
            value.to_string()
        } else {
            mask_phone(value)
        }
    };
    pb::Volunteer {
        name: names::volunteer(&volunteer.id),
        volunteer_number: volunteer.volunteer_number.clone(),
        display_name: volunteer.display_name.clone(),
        id_type: id_type_to_wire(volunteer.id_type) as i32,
        id_number: view
            .revealed_id_number
            .clone()
            .unwrap_or_else(|| volunteer.id_number_masked.clone()),
        birth_date: Some(date_to_wire(volunteer.birth_date)),
        gender: gender_to_wire(volunteer.gender) as i32,
        phone: phone(&volunteer.phone),
        email: volunteer.email.clone(),
        skills: volunteer.skills.clone(),
        service_fields: volunteer.service_fields.clone(),
        service_themes: volunteer.service_themes.clone(),
        availability: volunteer.availability.clone(),
        emergency_contact: Some(pb::EmergencyContact {
            name: volunteer.emergency_contact.name.clone(),
            relationship: volunteer.emergency_contact.relationship.clone(),
            phone: phone(&volunteer.emergency_contact.phone),
        }),
        status: volunteer.status as i32,
        registering_org_unit: names::org_unit(&volunteer.registering_org_unit_id),
        metadata: Some(metadata(&volunteer.id, &volunteer.meta)),
    }
}

fn masked(volunteer: Volunteer) -> pb::Volunteer {
    volunteer_to_wire(&VolunteerView {
        volunteer,
        revealed_id_number: None,
    })
}

fn document(
    violations: &mut Violations,
    prefix: &str,
    id_type: i32,
    number: &str,
) -> Option<IdentityDocument> {
    let Some(id_type) = id_type_from_wire(id_type) else {
        violations.add(
            format!("{prefix}id_type"),
            "is required",
            "必须选择证件类型",
        );
        return None;
    };
    match parse_identity(id_type, number, today()) {
        Ok(document) => Some(document),
        Err(invalid) => {
            violations.add(format!("{prefix}id_number"), invalid.en, invalid.zh);
            None
        }
    }
}

fn phone(violations: &mut Violations, field: &str, value: &str, required: bool) -> String {
    if value.trim().is_empty() {
        if required {
            violations.add(field, "is required", "不能为空");
        }
        return String::new();
    }
    parse_phone(value).unwrap_or_else(|invalid| {
        violations.add(field, invalid.en, invalid.zh);
        String::new()
    })
}

fn email(violations: &mut Violations, field: &str, value: &str) -> String {
    if value.trim().is_empty() {
        return String::new();
    }
    parse_email(value).unwrap_or_else(|invalid| {
        violations.add(field, invalid.en, invalid.zh);
        String::new()
    })
}

fn skills(violations: &mut Violations, field: &str, values: &[String]) -> Vec<String> {
    if values.len() > MAX_SKILLS {
        violations.add(
            field,
            format!("at most {MAX_SKILLS} skills"),
            format!("技能最多 {MAX_SKILLS} 项"),
        );
    }
    let mut skills = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let skill = text(violations, &format!("{field}[{index}]"), value, 30, true);
        if !skill.is_empty() && !skills.contains(&skill) {
            skills.push(skill);
        }
    }
    skills
}

fn emergency_contact(
    violations: &mut Violations,
    field: &str,
    contact: Option<&pb::EmergencyContact>,
) -> EmergencyContact {
    let Some(contact) = contact else {
        return EmergencyContact::default();
    };
    let filled = !(contact.name.trim().is_empty()
        && contact.phone.trim().is_empty()
        && contact.relationship.trim().is_empty());
    EmergencyContact {
        name: text(
            violations,
            &format!("{field}.name"),
            &contact.name,
            50,
            filled,
        ),
        relationship: text(
            violations,
            &format!("{field}.relationship"),
            &contact.relationship,
            20,
            false,
        ),
        phone: phone(
            violations,
            &format!("{field}.phone"),
            &contact.phone,
            filled,
        ),
    }
}

/// Validates a registration; violations are named under `prefix` (`volunteer.` or
/// `requests[3].volunteer.`).
fn new_volunteer(volunteer: &pb::Volunteer, prefix: &str) -> Result<NewVolunteer, Vec<Violation>> {
    volunteer_fields(volunteer, prefix).1
}

/// A registration to check without making it: its document when that alone is valid, and
/// every violation of its fields.
fn registration_check(volunteer: &pb::Volunteer, prefix: &str) -> RegistrationCheck {
    let (document, fields) = volunteer_fields(volunteer, prefix);
    let id_number_field = format!("{prefix}id_number");
    match fields {
        Ok(new_volunteer) => RegistrationCheck {
            document: Some(new_volunteer.document),
            id_number_field,
            violations: Vec::new(),
        },
        Err(violations) => RegistrationCheck {
            document,
            id_number_field,
            violations,
        },
    }
}

/// The document, when id_type and id_number are valid whatever the other fields, and the
/// registration when every field is.
fn volunteer_fields(
    volunteer: &pb::Volunteer,
    prefix: &str,
) -> (
    Option<IdentityDocument>,
    Result<NewVolunteer, Vec<Violation>>,
) {
    let mut violations = Violations::new();
    let field = |name: &str| format!("{prefix}{name}");
    let display_name = text(
        &mut violations,
        &field("display_name"),
        &volunteer.display_name,
        50,
        true,
    );
    let document = document(
        &mut violations,
        prefix,
        volunteer.id_type,
        &volunteer.id_number,
    );
    let given_birth = date_from_wire(
        &mut violations,
        &field("birth_date"),
        volunteer.birth_date.as_ref(),
    );
    let given_gender = gender_from_wire(volunteer.gender);
    if volunteer.gender != 0 && given_gender.is_none() {
        violations.add(field("gender"), "is not a valid value", "取值无效");
    }
    let (birth_date, gender) = match &document {
        Some(IdentityDocument {
            birth_date: Some(derived_birth),
            gender: Some(derived_gender),
            ..
        }) => {
            if given_birth.is_some_and(|given| given != *derived_birth) {
                violations.add(
                    field("birth_date"),
                    "does not match the ID number",
                    "与证件号码中的出生日期不一致",
                );
            }
            if given_gender.is_some_and(|given| given != *derived_gender) {
                violations.add(
                    field("gender"),
                    "does not match the ID number",
                    "与证件号码中的性别不一致",
                );
            }
            (Some(*derived_birth), Some(*derived_gender))
        }
        Some(_) => {
            // A given but impossible date is already named above; say so only once.
            let birth_given = volunteer
                .birth_date
                .as_ref()
                .is_some_and(|date| *date != common::Date::default());
            if given_birth.is_none() && !birth_given {
                violations.add(
                    field("birth_date"),
                    "is required for this ID type",
                    "该证件类型必须填写出生日期",
                );
            }
            if given_gender.is_none() {
                violations.add(
                    field("gender"),
                    "is required for this ID type",
                    "该证件类型必须填写性别",
                );
            }
            if given_birth.is_some_and(|given| given > today()) {
                violations.add(
                    field("birth_date"),
                    "must not be in the future",
                    "出生日期不能晚于今天",
                );
            }
            (given_birth, given_gender)
        }
        None => (given_birth, given_gender),
    };
    let phone = phone(&mut violations, &field("phone"), &volunteer.phone, true);
    let email = email(&mut violations, &field("email"), &volunteer.email);
    let skills = skills(&mut violations, &field("skills"), &volunteer.skills);
    let service_fields = enum_list(
        &mut violations,
        &field("service_fields"),
        &volunteer.service_fields,
        is_service_field,
    );
    let service_themes = enum_list(
        &mut violations,
        &field("service_themes"),
        &volunteer.service_themes,
        is_service_theme,
    );
    let availability = enum_list(
        &mut violations,
        &field("availability"),
        &volunteer.availability,
        is_availability,
    );
    let emergency_contact = emergency_contact(
        &mut violations,
        &field("emergency_contact"),
        volunteer.emergency_contact.as_ref(),
    );
    if !violations.is_empty() {
        return (document, Err(violations.into_inner()));
    }
    let new_volunteer = NewVolunteer {
        display_name,
        document: document.expect("valid when no violations"),
        birth_date: birth_date.expect("valid when no violations"),
        gender: gender.expect("valid when no violations"),
        phone,
        email,
        skills,
        service_fields,
        service_themes,
        availability,
        emergency_contact,
    };
    (Some(new_volunteer.document.clone()), Ok(new_volunteer))
}

const VOLUNTEER_MASK: [&str; 9] = [
    "display_name",
    "phone",
    "email",
    "skills",
    "service_fields",
    "service_themes",
    "availability",
    "emergency_contact",
    "status",
];

fn volunteer_patch(
    volunteer: &pb::Volunteer,
    paths: &[String],
) -> Result<VolunteerPatch, ApiError> {
    let mut violations = Violations::new();
    let mut patch = VolunteerPatch::default();
    for path in paths {
        let field = format!("volunteer.{path}");
        match path.as_str() {
            "display_name" => {
                patch.display_name = Some(text(
                    &mut violations,
                    &field,
                    &volunteer.display_name,
                    50,
                    true,
                ))
            }
            "phone" => patch.phone = Some(phone(&mut violations, &field, &volunteer.phone, true)),
            "email" => patch.email = Some(email(&mut violations, &field, &volunteer.email)),
            "skills" => patch.skills = Some(skills(&mut violations, &field, &volunteer.skills)),
            "service_fields" => {
                patch.service_fields = Some(enum_list(
                    &mut violations,
                    &field,
                    &volunteer.service_fields,
                    is_service_field,
                ))
            }
            "service_themes" => {
                patch.service_themes = Some(enum_list(
                    &mut violations,
                    &field,
                    &volunteer.service_themes,
                    is_service_theme,
                ))
            }
            "availability" => {
                patch.availability = Some(enum_list(
                    &mut violations,
                    &field,
                    &volunteer.availability,
                    is_availability,
                ))
            }
            "emergency_contact" => {
                patch.emergency_contact = Some(emergency_contact(
                    &mut violations,
                    &field,
                    volunteer.emergency_contact.as_ref(),
                ));
            }
            "status" => match status_from_wire(volunteer.status) {
                Some(status) => patch.status = Some(status),
                None => violations.add(
                    field,
                    "must be active, inactive or withdrawn",
                    "状态取值无效",
                ),
            },
            _ => {}
        }
    }
    violations.into_result()?;
    Ok(patch)
}

#[tonic::async_trait]
impl pb::volunteer_service_server::VolunteerService for VolunteerApi {
    async fn get_volunteer(
        &self,
        request: Request<pb::GetVolunteerRequest>,
    ) -> Result<Response<pb::GetVolunteerResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let id = parse_name("name", &message.name, "volunteers")?;
        let view = self
            .0
            .get_volunteer(&principal, id, message.reveal_personal_data)
            .await?;
        Ok(Response::new(pb::GetVolunteerResponse {
            volunteer: Some(volunteer_to_wire(&view)),
        }))
    }

    async fn list_volunteers(
        &self,
        request: Request<pb::ListVolunteersRequest>,
    ) -> Result<Response<pb::ListVolunteersResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let org_unit =
            optional_name("org_unit", &message.org_unit, "orgUnits")?.map(str::to_string);
        let query = VolunteerQuery {
            org_unit,
            status: status_from_wire(enum_value(
                &mut violations,
                "status",
                message.status,
                |value| pb::VolunteerStatus::try_from(value).is_ok(),
            )),
            skill: text(&mut violations, "skill", &message.skill, 30, false),
            name_contains: text(
                &mut violations,
                "display_name_contains",
                &message.display_name_contains,
                50,
                false,
            ),
            volunteer_number: text(
                &mut violations,
                "volunteer_number",
                &message.volunteer_number,
                64,
                false,
            ),
            ordering: Ordering::read(&mut violations, &message.order_by, &VOLUNTEER_SORT_FIELDS),
        };
        violations.into_result()?;
        let page =
            PageRequest::standard(message.page_size, &message.page_token, &query.fingerprint())?;
        let (volunteers, next_page_token) =
            self.0.list_volunteers(&principal, &query, &page).await?;
        Ok(Response::new(pb::ListVolunteersResponse {
            volunteers: volunteers.into_iter().map(masked).collect(),
            next_page_token,
        }))
    }

    async fn list_shared_volunteers(
        &self,
        request: Request<pb::ListSharedVolunteersRequest>,
    ) -> Result<Response<pb::ListSharedVolunteersResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let page = PageRequest::standard(message.page_size, &message.page_token, "shared")?;
        let (people, next_page_token) = self.0.list_shared_volunteers(&principal, &page).await?;
        Ok(Response::new(pb::ListSharedVolunteersResponse {
            people: people
                .into_iter()
                .map(|(hash, volunteers)| pb::SharedVolunteer {
                    person: hash.chars().take(16).collect(),
                    volunteers: volunteers.into_iter().map(masked).collect(),
                })
                .collect(),
            next_page_token,
        }))
    }

    async fn create_volunteer(
        &self,
        request: Request<pb::CreateVolunteerRequest>,
    ) -> Result<Response<pb::CreateVolunteerResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("org_unit", &message.org_unit, "orgUnits")?;
        check_request_id(&message.request_id)?;
        let Some(volunteer) = &message.volunteer else {
            return Err(ApiError::invalid("volunteer", "is required", "不能为空").into());
        };
        if message.validate_only {
            self.0
                .check_volunteer(
                    &principal,
                    org_unit,
                    registration_check(volunteer, "volunteer."),
                )
                .await?;
            return Ok(Response::new(pb::CreateVolunteerResponse::default()));
        }
        let new_volunteer =
            new_volunteer(volunteer, "volunteer.").map_err(ApiError::InvalidArgument)?;
        let joins = if message.pending_membership {
            Joining::Pending
        } else {
            Joining::Member
        };
        let (created, application) = self
            .0
            .create_volunteer(
                &principal,
                org_unit,
                new_volunteer,
                joins,
                &message.request_id,
            )
            .await?;
        Ok(Response::new(pb::CreateVolunteerResponse {
            volunteer: Some(masked(created)),
            join_application: application
                .map(|application| {
                    names::join_application(&application.org_unit_id, &application.id)
                })
                .unwrap_or_default(),
        }))
    }

    async fn batch_create_volunteers(
        &self,
        request: Request<pb::BatchCreateVolunteersRequest>,
    ) -> Result<Response<pb::BatchCreateVolunteersResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let org_unit = parse_name("org_unit", &message.org_unit, "orgUnits")?;
        check_request_id(&message.request_id)?;
        if message.requests.is_empty() || message.requests.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "requests",
                format!("must hold 1 to {MAX_BATCH} rows"),
                format!("每批 1 到 {MAX_BATCH} 行"),
            )
            .into());
        }
        let mut violations = Vec::new();
        let mut rows = Vec::with_capacity(message.requests.len());
        for (index, row) in message.requests.iter().enumerate() {
            if !(row.org_unit.is_empty() || row.org_unit == message.org_unit) {
                violations.push(Violation::new(
                    format!("requests[{index}].org_unit"),
                    "must be empty or the batch's org_unit",
                    "必须为空或与批次的组织一致",
                ));
            }
            if row.validate_only {
                violations.push(Violation::new(
                    format!("requests[{index}].validate_only"),
                    "must be false in a batch's rows",
                    "批量登记的行不能设置仅校验",
                ));
            }
            if !(row.request_id.is_empty() || row.request_id == message.request_id) {
                violations.push(Violation::new(
                    format!("requests[{index}].request_id"),
                    "must be empty or the batch's request_id",
                    "必须为空或与批次的请求编号一致",
                ));
            }
            let Some(volunteer) = &row.volunteer else {
                violations.push(Violation::new(
                    format!("requests[{index}].volunteer"),
                    "is required",
                    "不能为空",
                ));
                continue;
            };
            match new_volunteer(volunteer, &format!("requests[{index}].volunteer.")) {
                Ok(new_volunteer) => rows.push((index, new_volunteer)),
                Err(row_violations) => violations.extend(row_violations),
            }
        }
        if !violations.is_empty() {
            // Name repeated documents among the valid rows as well, so that one answer
            // lists every problem (the registry checks them again, with the database).
            for (position, (index, row)) in rows.iter().enumerate() {
                if let Some((first, _)) = rows[..position]
                    .iter()
                    .find(|(_, earlier)| earlier.document == row.document)
                {
                    violations.push(Violation::new(
                        format!("requests[{index}].volunteer.id_number"),
                        format!("is the same person as requests[{first}]"),
                        format!("与第 {first} 行是同一证件"),
                    ));
                }
            }
            return Err(ApiError::InvalidArgument(violations).into());
        }
        let rows = rows.into_iter().map(|(_, row)| row).collect();
        let created = self
            .0
            .batch_create_volunteers(&principal, org_unit, rows, &message.request_id)
            .await?;
        Ok(Response::new(pb::BatchCreateVolunteersResponse {
            volunteers: created.into_iter().map(masked).collect(),
        }))
    }

    async fn update_volunteer(
        &self,
        request: Request<pb::UpdateVolunteerRequest>,
    ) -> Result<Response<pb::UpdateVolunteerResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let Some(volunteer) = &message.volunteer else {
            return Err(ApiError::invalid("volunteer", "is required", "不能为空").into());
        };
        let id = parse_name("volunteer.name", &volunteer.name, "volunteers")?;
        let paths = mask_paths(message.update_mask.as_ref(), &VOLUNTEER_MASK)?;
        let patch = volunteer_patch(volunteer, &paths)?;
        let updated = self
            .0
            .update_volunteer(&principal, id, patch, message.expected_version)
            .await?;
        Ok(Response::new(pb::UpdateVolunteerResponse {
            volunteer: Some(masked(updated)),
        }))
    }

    async fn lookup_volunteer(
        &self,
        request: Request<pb::LookupVolunteerRequest>,
    ) -> Result<Response<pb::LookupVolunteerResponse>, Status> {
        let principal = Principal::of(&request)?;
        let message = request.get_ref();
        let mut violations = Violations::new();
        let document = document(&mut violations, "", message.id_type, &message.id_number);
        violations.into_result()?;
        let volunteer = self
            .0
            .lookup_volunteer(&principal, &document.expect("valid when no violations"))
            .await?;
        Ok(Response::new(pb::LookupVolunteerResponse {
            volunteer: Some(masked(volunteer)),
        }))
    }
}
