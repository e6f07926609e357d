//! The one error model of every Egret service.
//!
//! Services return [`ApiError`]; the single exhaustive `From<ApiError> for Status` below is
//! the only place where errors become gRPC statuses, so every code, English message and
//! Chinese message (google.rpc.LocalizedMessage, zh-CN) is decided here.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The locale of the localized message attached to every error.
pub const ZH_CN: &str = "zh-CN";

/// A sentence in English and in Simplified Chinese, for an end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bilingual {
    /// English.
    pub en: String,
    /// 中文.
    pub zh: String,
}

impl Bilingual {
    /// Both languages at once.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

/// One refused field of a request: its path in the request and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field path in the request message, for example `volunteer.phone` or
    /// `requests[3].volunteer.id_number`.
    pub field: String,
    /// Why it was refused.
    pub reason: Bilingual,
}

impl Violation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: Bilingual::new(en, zh),
        }
    }

    /// The same violation, with its field path put under `prefix` (for nested messages and
    /// batch rows).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

/// Every way an Egret RPC can fail. Closed on purpose: a new kind of failure means a new
/// variant here and a deliberate choice of its gRPC code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; each violation names the field.
    #[error("invalid argument: {}", violations_en(.0))]
    InvalidArgument(Vec<Violation>),
    /// The resource does not exist, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(String),
    /// A resource with the same identity exists already.
    #[error("{resource} already exists")]
    AlreadyExists {
        /// What exists (a resource name or a description, never personal data).
        resource: String,
        /// Why it counts as the same.
        reason: Bilingual,
    },
    /// The request is well formed but the system is not in a state to carry it out.
    #[error("failed precondition: {}", .0.en)]
    FailedPrecondition(Bilingual),
    /// Someone else changed the record first (optimistic concurrency).
    #[error("aborted: {}", .0.en)]
    Aborted(Bilingual),
    /// The caller is authenticated but lacks the right.
    #[error("permission denied: {}", .0.en)]
    PermissionDenied(Bilingual),
    /// No valid credentials were presented.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// A bound was hit; retry later or ask for less.
    #[error("resource exhausted: {}", .0.en)]
    ResourceExhausted(Bilingual),
    /// A dependency is unreachable; safe to retry.
    #[error("unavailable: {}", .0.en)]
    Unavailable(Bilingual),
    /// No service here answers the method called (the gateway, for an unknown service).
    #[error("unimplemented: {}", .0.en)]
    Unimplemented(Bilingual),
    /// The request's deadline passed.
    #[error("deadline exceeded: {0}")]
    DeadlineExceeded(String),
    /// A batch of an upward sync link that does not follow what the upstream applied last
    /// (FAILED_PRECONDITION, `google.rpc.ErrorInfo` reason `OUT_OF_SEQUENCE` with the
    /// expected sequence): the sender resends from there.
    #[error("out of sequence: the upstream expects the batch after sequence {expected}")]
    OutOfSequence {
        /// The sequence the next batch must follow.
        expected: i64,
    },
    /// A bug or an unexpected failure. Logged once where it becomes a status; the caller
    /// sees only a generic message.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

fn violations_en(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|violation| format!("{}: {}", violation.field, violation.reason.en))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// A single-field INVALID_ARGUMENT.
    pub fn invalid(field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![Violation::new(field, en, zh)])
    }

    /// NOT_FOUND for a resource name.
    pub fn not_found(resource: impl fmt::Display) -> Self {
        Self::NotFound(resource.to_string())
    }

    /// FAILED_PRECONDITION.
    pub fn failed_precondition(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self::FailedPrecondition(Bilingual::new(en, zh))
    }

    /// PERMISSION_DENIED.
    pub fn permission_denied(en: impl Into<String>, zh: impl Into<String>) -> Self {
        Self::PermissionDenied(Bilingual::new(en, zh))
    }

    /// ABORTED because the record's version moved on.
    pub fn version_conflict(resource: &str, expected: i64, actual: i64) -> Self {
        Self::Aborted(Bilingual::new(
            format!(
                "{resource} is at version {actual}, not {expected}: someone changed it first; read it again and retry"
            ),
            format!(
                "{resource} 已被他人修改（当前版本 {actual}，请求版本 {expected}），请刷新后重试"
            ),
        ))
    }
}

/// Collects violations, so that one response names every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// Adds one for `field`.
    pub fn add(&mut self, field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) {
        self.0.push(Violation::new(field, en, zh));
    }

    /// Adds all of another set.
    pub fn extend(&mut self, other: impl IntoIterator<Item = Violation>) {
        self.0.extend(other);
    }

    /// True when nothing was refused.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The collected violations.
    pub fn into_inner(self) -> Vec<Violation> {
        self.0
    }

    /// `Ok(())` when empty, otherwise INVALID_ARGUMENT with every violation.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        Err(ApiError::InvalidArgument(self.0))
    }
}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// How much of a client's input an error message quotes.
const QUOTED_CHARS: usize = 40;

/// The most field violations one error lists; the rest are counted.
const LISTED_VIOLATIONS: usize = 5;

/// Bounds in bytes of a violation's field path, of one reason, and of a whole message.
const FIELD_BYTES: usize = 64;
const REASON_BYTES: usize = 128;
const MESSAGE_BYTES: usize = 1024;

/// A client's input quoted in an error message: at most a short prefix, and the length of
/// the rest. An error travels in HTTP/2 trailers, which clients bound (8–16 KiB is common;
/// beyond it a client reports its own error instead of ours), so no input is echoed whole.
pub fn quote(input: &str) -> String {
    let length = input.chars().count();
    if length <= QUOTED_CHARS {
        return format!("{input:?}");
    }
    let prefix: String = input.chars().take(QUOTED_CHARS).collect();
    format!("{prefix:?}… ({length} characters)")
}

/// `text` cut to at most `max_bytes` bytes at a character boundary, marked when cut.
fn bounded(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push('…');
    text
}

fn status_with_zh(code: Code, en: String, zh: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_localized_message(ZH_CN, bounded(zh, MESSAGE_BYTES));
    Status::with_error_details(code, bounded(en, MESSAGE_BYTES), details)
}

/// INVALID_ARGUMENT listing the first few violations, bounded, and counting the rest.
fn invalid_argument(violations: Vec<Violation>) -> Status {
    let unlisted = violations.len().saturating_sub(LISTED_VIOLATIONS);
    let listed: Vec<Violation> = violations
        .into_iter()
        .take(LISTED_VIOLATIONS)
        .map(|violation| Violation {
            field: bounded(violation.field, FIELD_BYTES),
            reason: Bilingual::new(
                bounded(violation.reason.en, REASON_BYTES),
                bounded(violation.reason.zh, REASON_BYTES),
            ),
        })
        .collect();
    let mut en = format!("invalid argument: {}", violations_en(&listed));
    let mut zh = listed
        .iter()
        .map(|violation| format!("{}：{}", violation.field, violation.reason.zh))
        .collect::<Vec<_>>()
        .join("；");
    if unlisted > 0 {
        en.push_str(&format!("; and {unlisted} more"));
        zh.push_str(&format!("；另有 {unlisted} 处错误"));
    }
    let mut details = ErrorDetails::with_bad_request(
        listed
            .into_iter()
            .map(|violation| tonic_types::FieldViolation {
                localized_message: Some(tonic_types::LocalizedMessage::new(
                    ZH_CN,
                    violation.reason.zh,
                )),
                ..tonic_types::FieldViolation::new(violation.field, violation.reason.en)
            })
            .collect::<Vec<_>>(),
    );
    details.set_localized_message(ZH_CN, format!("请求参数有误：{zh}"));
    Status::with_error_details(Code::InvalidArgument, en, details)
}

/// The field violations an INVALID_ARGUMENT status lists, in both languages (the English
/// reason as its description, the Chinese from its zh-CN localized message): what a service
/// answers, read back by another that passes it on with violations of its own. Empty for
/// any other status.
pub fn violations_of(status: &Status) -> Vec<Violation> {
    if status.code() != Code::InvalidArgument {
        return Vec::new();
    }
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| {
                    let zh = violation
                        .localized_message
                        .as_ref()
                        .filter(|localized| localized.locale == ZH_CN)
                        .map_or_else(
                            || violation.description.clone(),
                            |localized| localized.message.clone(),
                        );
                    Violation::new(violation.field.clone(), violation.description.clone(), zh)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `google.rpc.ErrorInfo` reason of [`ApiError::OutOfSequence`].
pub const OUT_OF_SEQUENCE: &str = "OUT_OF_SEQUENCE";
/// The metadata key of the expected sequence in that `ErrorInfo`.
pub const EXPECTED_SEQUENCE: &str = "expected_sequence";

/// The sequence an upstream expects, when `status` is its OUT_OF_SEQUENCE refusal.
pub fn expected_sequence(status: &Status) -> Option<i64> {
    use tonic_types::StatusExt;
    let info = status.get_error_details().error_info().cloned()?;
    (info.reason == OUT_OF_SEQUENCE)
        .then(|| info.metadata.get(EXPECTED_SEQUENCE)?.parse().ok())
        .flatten()
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidArgument(violations) => invalid_argument(violations),
            ApiError::NotFound(resource) => status_with_zh(
                Code::NotFound,
                format!("{resource} not found"),
                format!("未找到 {resource}"),
            ),
            ApiError::AlreadyExists { resource, reason } => status_with_zh(
                Code::AlreadyExists,
                format!("{resource} already exists: {}", reason.en),
                format!("{resource} 已存在：{}", reason.zh),
            ),
            ApiError::FailedPrecondition(reason) => {
                status_with_zh(Code::FailedPrecondition, reason.en, reason.zh)
            }
            ApiError::Aborted(reason) => status_with_zh(Code::Aborted, reason.en, reason.zh),
            ApiError::PermissionDenied(reason) => {
                status_with_zh(Code::PermissionDenied, reason.en, reason.zh)
            }
            ApiError::Unauthenticated(why) => status_with_zh(
                Code::Unauthenticated,
                format!("unauthenticated: {why}"),
                "身份验证失败，请提供有效的访问令牌".to_string(),
            ),
            ApiError::ResourceExhausted(reason) => {
                status_with_zh(Code::ResourceExhausted, reason.en, reason.zh)
            }
            ApiError::Unavailable(reason) => status_with_zh(
                Code::Unavailable,
                format!("unavailable: {}", reason.en),
                format!("{}，请稍后重试", reason.zh),
            ),
            ApiError::Unimplemented(reason) => {
                status_with_zh(Code::Unimplemented, reason.en, reason.zh)
            }
            ApiError::DeadlineExceeded(what) => status_with_zh(
                Code::DeadlineExceeded,
                format!("deadline exceeded: {what}"),
                "请求超时，请稍后重试".to_string(),
            ),
            ApiError::OutOfSequence { expected } => {
                let mut details = ErrorDetails::new();
                details.set_error_info(
                    OUT_OF_SEQUENCE,
                    "egret.sync.v1",
                    [(EXPECTED_SEQUENCE.to_string(), expected.to_string())],
                );
                details.set_localized_message(
                    ZH_CN,
                    format!("批次序号不连续，上级期望从序号 {expected} 之后继续发送"),
                );
                Status::with_error_details(
                    Code::FailedPrecondition,
                    format!("out of sequence: send the batch after sequence {expected}"),
                    details,
                )
            }
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                status_with_zh(
                    Code::Internal,
                    "internal error; it has been logged".to_string(),
                    "系统内部错误，已记录，请稍后重试或联系管理员".to_string(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_carries_field_violations_and_chinese() {
        let status: Status = ApiError::InvalidArgument(vec![
            Violation::new(
                "volunteer.phone",
                "is not a phone number",
                "手机号码格式不正确",
            ),
            Violation::new("volunteer.id_number", "bad check digit", "校验位不正确"),
        ])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("bad request details");
        let fields: Vec<_> = bad_request
            .field_violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["volunteer.phone", "volunteer.id_number"]);
        let localized = details.localized_message().expect("localized message");
        assert_eq!(localized.locale, ZH_CN);
        assert!(localized.message.contains("手机号码格式不正确"));
    }

    #[test]
    fn violations_read_back_from_a_status_are_those_sent() {
        let sent = vec![
            Violation::new(
                "volunteer.id_number",
                "is already registered",
                "该证件的志愿者已注册",
            ),
            Violation::new("volunteer.display_name", "is required", "不能为空"),
        ];
        let status: Status = ApiError::InvalidArgument(sent.clone()).into();
        assert_eq!(violations_of(&status), sent);
        let status: Status = ApiError::not_found("orgUnits/x").into();
        assert!(violations_of(&status).is_empty());
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let status: Status = ApiError::Internal(anyhow::anyhow!("password=hunter2")).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    /// The bytes of the headers an error travels in, as a client receives them.
    fn wire_bytes(status: Status) -> usize {
        status
            .into_http::<()>()
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum()
    }

    #[test]
    fn errors_quote_and_list_a_bounded_part_of_the_input() {
        let long = "鹭".repeat(5000);
        assert_eq!(quote("orgUnits/1"), "\"orgUnits/1\"");
        assert!(quote(&long).chars().count() < 80, "{}", quote(&long));
        assert!(quote(&long).contains("5000 characters"));
        let many: Vec<Violation> = (0..1000)
            .map(|index| {
                Violation::new(format!("skills[{index}]{long}"), long.clone(), long.clone())
            })
            .collect();
        let status: Status = ApiError::InvalidArgument(many).into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.message().ends_with("and 995 more"),
            "{}",
            status.message()
        );
        let listed = status.get_error_details();
        assert_eq!(
            listed
                .bad_request()
                .expect("bad request")
                .field_violations
                .len(),
            5
        );
        assert!(
            listed
                .localized_message()
                .expect("zh")
                .message
                .ends_with("另有 995 处错误")
        );
        // Within the smallest common client limit on headers (8 KiB), even in the worst case
        // of Chinese text percent-encoded into grpc-message.
        let bytes = wire_bytes(status);
        assert!(bytes < 8 * 1024, "{bytes}");
        let status: Status = ApiError::failed_precondition(long.clone(), long.clone()).into();
        assert!(wire_bytes(status) < 8 * 1024);
    }

    #[test]
    fn violation_paths_nest() {
        let violation = Violation::new("phone", "x", "y").under("requests[2].volunteer");
        assert_eq!(violation.field, "requests[2].volunteer.phone");
    }
}
