//! Calling the services as the signed-in person: each call carries her access token, a
//! deadline and the browser's address, and its failure comes back in Chinese, field by
//! field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use egret_runtime::Fallback;
use egret_runtime::error::ZH_CN;
use http::Uri;
use tonic::Code;
use tonic::transport::server::TcpConnectInfo;
use tonic_types::StatusExt;

/// The services, reached through the gateway's in-process stack.
#[derive(Clone)]
pub struct Api {
    service: Fallback,
    origin: Uri,
    timeout: Duration,
}

/// Who makes a call: the person's access token (none before sign-in) and her browser's
/// address.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The bearer token.
    pub access_token: Option<String>,
    /// The browser's address, as the console's listener saw it.
    pub peer: Option<SocketAddr>,
}

/// The generated clients, over the in-process stack.
pub type AuthClient = egret_proto::gateway::v1::auth_service_client::AuthServiceClient<Fallback>;
/// Accounts.
pub type AccountClient =
    egret_proto::gateway::v1::account_service_client::AccountServiceClient<Fallback>;
/// Org units and their registration forms.
pub type OrgUnitClient =
    egret_proto::registry::v1::org_unit_service_client::OrgUnitServiceClient<Fallback>;
/// Volunteers.
pub type VolunteerClient =
    egret_proto::registry::v1::volunteer_service_client::VolunteerServiceClient<Fallback>;
/// Memberships and join applications.
pub type MembershipClient =
    egret_proto::registry::v1::membership_service_client::MembershipServiceClient<Fallback>;
/// Statistics.
pub type StatisticsClient =
    egret_proto::reporting::v1::statistics_service_client::StatisticsServiceClient<Fallback>;
/// Targets.
pub type TargetClient =
    egret_proto::reporting::v1::target_service_client::TargetServiceClient<Fallback>;

/// The registry's change history and audit log.
pub type RegistryRecordsClient =
    egret_proto::registry::v1::registry_records_service_client::RegistryRecordsServiceClient<
        Fallback,
    >;
/// Annual reports.
pub type AnnualReportClient =
    egret_proto::reporting::v1::annual_report_service_client::AnnualReportServiceClient<Fallback>;
/// Certificates.
pub type CertificateClient =
    egret_proto::recognition::v1::certificate_service_client::CertificateServiceClient<Fallback>;
/// Enrollments and the upstream link's status.
pub type EnrollmentClient =
    egret_proto::gateway::v1::enrollment_service_client::EnrollmentServiceClient<Fallback>;
/// The upward links a city applies.
pub type UpwardClient = egret_proto::sync::v1::upward_service_client::UpwardServiceClient<Fallback>;
/// Exports and charts.
pub type ExportClient =
    egret_proto::reporting::v1::export_service_client::ExportServiceClient<Fallback>;
/// Activities.
pub type ActivityClient =
    egret_proto::activity::v1::activity_service_client::ActivityServiceClient<Fallback>;
/// Sign-ups.
pub type SignUpClient =
    egret_proto::activity::v1::sign_up_service_client::SignUpServiceClient<Fallback>;
/// Check-in codes and attendance.
pub type AttendanceClient =
    egret_proto::activity::v1::attendance_service_client::AttendanceServiceClient<Fallback>;
/// Service records and hours.
pub type ServiceRecordClient =
    egret_proto::activity::v1::service_record_service_client::ServiceRecordServiceClient<Fallback>;

/// Projects.
pub type ProjectClient =
    egret_proto::activity::v1::project_service_client::ProjectServiceClient<Fallback>;
/// Training.
pub type TrainingClient =
    egret_proto::activity::v1::training_service_client::TrainingServiceClient<Fallback>;
/// Insurance.
pub type InsuranceClient =
    egret_proto::activity::v1::insurance_service_client::InsuranceServiceClient<Fallback>;
/// Star ratings.
pub type StarRatingClient =
    egret_proto::recognition::v1::star_rating_service_client::StarRatingServiceClient<Fallback>;
/// Commendations.
pub type CommendationClient =
    egret_proto::recognition::v1::commendation_service_client::CommendationServiceClient<Fallback>;
/// Rewards.
pub type RewardClient =
    egret_proto::recognition::v1::reward_service_client::RewardServiceClient<Fallback>;

impl Api {
    /// The services behind `service`, each call bounded by `timeout`.
    pub fn new(service: Fallback, timeout: Duration) -> Self {
        Self {
            service,
            // Routing is by path; the authority only has to be well formed.
            origin: Uri::from_static("http://egret.console"),
            timeout,
        }
    }

    /// A request for `message` as `caller`.
    pub fn request<T>(&self, caller: &Caller, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(token) = &caller.access_token
            && let Ok(value) = format!("Bearer {token}").parse()
        {
            request.metadata_mut().insert("authorization", value);
        }
        request.extensions_mut().insert(TcpConnectInfo {
            local_addr: None,
            remote_addr: caller.peer,
        });
        request
    }
}

/// One accessor per generated client, each over the in-process stack with the console's
/// origin.
macro_rules! clients {
    ($($name:ident => $client:ident, $doc:literal;)*) => {
        impl Api {
            $(
                #[doc = $doc]
                pub fn $name(&self) -> $client {
                    $client::with_origin(self.service.clone(), self.origin.clone())
                }
            )*
        }
    };
}

clients! {
    auth => AuthClient, "Sign-in and passwords.";
    accounts => AccountClient, "Accounts.";
    org_units => OrgUnitClient, "Org units.";
    volunteers => VolunteerClient, "Volunteers.";
    memberships => MembershipClient, "Memberships.";
    statistics => StatisticsClient, "Statistics.";
    targets => TargetClient, "Targets.";
    registry_records => RegistryRecordsClient, "The registry's change history.";
    annual_reports => AnnualReportClient, "Annual reports.";
    certificates => CertificateClient, "Certificates.";
    enrollments => EnrollmentClient, "Enrollments and the upstream link.";
    upward => UpwardClient, "The upward links a city applies.";
    statistics_exports => ExportClient, "Exports and charts.";
    activities => ActivityClient, "Activities.";
    sign_ups => SignUpClient, "Sign-ups.";
    attendance => AttendanceClient, "Attendance.";
    service_records => ServiceRecordClient, "Service records.";
    projects => ProjectClient, "Projects.";
    training => TrainingClient, "Training: courses, sessions and qualifications.";
    insurance => InsuranceClient, "Insurance policies.";
    star_ratings => StarRatingClient, "Star ratings.";
    commendations => CommendationClient, "Honours and commendations.";
    rewards => RewardClient, "Points, benefits and redemptions.";
}

/// A call that failed, as a page shows it: one message in Chinese and each named field's
/// own message in Chinese.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    /// The status code.
    pub code: Option<Code>,
    /// The message for the top of the form.
    pub message: String,
    /// The message of each field the service named (`volunteer.id_number` → …).
    pub fields: BTreeMap<String, String>,
}

impl Failure {
    /// A failure the console itself found in a form, before any call.
    pub fn field(field: &str, message: &str) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_string(), message.to_string());
        Self {
            code: Some(Code::InvalidArgument),
            message: "请检查标出的内容。".to_string(),
            fields,
        }
    }

    /// NOT_FOUND, saying in Chinese what was not found.
    pub fn not_found(message: &str) -> Self {
        Self {
            code: Some(Code::NotFound),
            message: message.to_string(),
            ..Self::default()
        }
    }

    /// The message for `field`, if the service named it.
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    /// The message for `field`, or empty: what a form shows beside the field.
    pub fn at(&self, field: &str) -> &str {
        self.for_field(field).unwrap_or("")
    }

    /// The message for the top of a form that shows the `shown` fields' messages beside
    /// them: a pointer to those, and in full only what no field shows.
    pub fn summary(&self, shown: &[&str]) -> String {
        if self.fields.is_empty() {
            return self.message.clone();
        }
        let is_shown = |field: &str| {
            shown.iter().any(|shown| {
                field == *shown
                    || field
                        .strip_prefix(shown)
                        .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
        };
        let elsewhere: Vec<String> = self
            .fields
            .iter()
            .filter(|(field, _)| !is_shown(field))
            .map(|(field, message)| format!("{field}：{message}"))
            .collect();
        if elsewhere.is_empty() {
            return "请检查标出的内容。".to_string();
        }
        format!("请检查标出的内容。另有：{}", elsewhere.join("；"))
    }

    /// Whether the person's sign-in is no longer valid.
    pub fn is_unauthenticated(&self) -> bool {
        self.code == Some(Code::Unauthenticated)
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        let details = status.get_error_details();
        let message = details
            .localized_message()
            .filter(|localized| localized.locale == ZH_CN)
            .map(|localized| localized.message.clone())
            .unwrap_or_else(|| generic_message(status.code()).to_string());
        let fields = details
            .bad_request()
            .map(|bad_request| {
                bad_request
                    .field_violations
                    .iter()
                    .map(|violation| {
                        let text = violation
                            .localized_message
                            .as_ref()
                            .filter(|localized| localized.locale == ZH_CN)
                            .map_or_else(
                                || violation.description.clone(),
                                |localized| localized.message.clone(),
                            );
                        (violation.field.clone(), text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if status.code() == Code::Internal || status.code() == Code::Unknown {
            tracing::warn!(code = ?status.code(), message = status.message(), "a console call failed");
        }
        Self {
            code: Some(status.code()),
            message,
            fields,
        }
    }
}

/// What a page says when the service gave no Chinese message (a transport failure).
fn generic_message(code: Code) -> &'static str {
    match code {
        Code::Unauthenticated => "登录已失效，请重新登录。",
        Code::PermissionDenied => "您没有权限进行此操作。",
        Code::NotFound => "未找到该记录。",
        Code::InvalidArgument => "请检查填写的内容。",
        Code::DeadlineExceeded => "服务响应超时，请稍后重试。",
        Code::Unavailable => "服务暂时不可用，请稍后重试。",
        Code::ResourceExhausted => "请求过于频繁，请稍后重试。",
        _ => "操作未能完成，请稍后重试。",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_points_at_the_fields_shown() {
        let mut failure = Failure::field("volunteer.phone", "手机号码应为11位");
        failure.message = "请求参数有误：…".to_string();
        assert_eq!(failure.summary(&["volunteer.phone"]), "请检查标出的内容。");
        assert_eq!(
            failure.summary(&["volunteer.id_number"]),
            "请检查标出的内容。另有：volunteer.phone：手机号码应为11位"
        );
        failure.fields.insert(
            "registration_form.key_members[0].phone".into(),
            "无效".into(),
        );
        assert_eq!(
            failure.summary(&["volunteer.phone", "registration_form.key_members"]),
            "请检查标出的内容。"
        );
        let plain = Failure {
            message: "未找到该记录。".to_string(),
            ..Failure::default()
        };
        assert_eq!(plain.summary(&["x"]), "未找到该记录。");
    }
}
