//! The use cases of enrollments and their rules.

use std::time::Duration;

use egret_proto::registry::v1 as registry;
use egret_runtime::{ApiError, Bilingual, PageRequest, Principal, Role, Violation};
use egret_storage::{Operation, touch};
use egret_sync::RecordChanges;
use egret_sync::enrollment::{Credential, is_valid_instance_id};
use egret_types::Meta;
use egret_types::tree::subtree_bounds;

use super::store;
use crate::accounts::Accounts;
use crate::accounts::app::{Caller, path_of};

/// How long a sync token lasts: revoking an enrollment takes effect within this.
pub const SYNC_TOKEN_TTL: Duration = Duration::from_secs(300);

const ENROLLMENT_TYPE: &str = "egret.gateway.v1.Enrollment";

/// Whether an enrollment's credential still gets tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentState {
    /// It does.
    Active,
    /// Revoked.
    Revoked,
}

impl EnrollmentState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentState::Active => "active",
            EnrollmentState::Revoked => "revoked",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(EnrollmentState::Active),
            "revoked" => Some(EnrollmentState::Revoked),
            _ => None,
        }
    }
}

/// A district instance's enrollment.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The district instance's id.
    pub instance_id: String,
    /// Its unit.
    pub org_unit_id: String,
    /// The unit's path here.
    pub org_unit_path: String,
    /// The unit's name when enrolled.
    pub display_name: String,
    /// SHA-256 of the credential's secret.
    pub credential_digest: String,
    /// Whether it still gets tokens.
    pub state: EnrollmentState,
    /// Who enrolled it.
    pub created_by: String,
    /// When it was revoked (microseconds), 0 while active.
    pub revoke_time: i64,
    /// Bookkeeping.
    pub meta: Meta,
}

/// What an exchange of a credential gives the district.
#[derive(Debug, Clone)]
pub struct SyncGrant {
    /// The sync token.
    pub access_token: String,
    /// When it expires (microseconds).
    pub expire_time: i64,
    /// The district's instance id.
    pub instance_id: String,
    /// This instance's id.
    pub upstream_instance_id: String,
    /// The district's unit as the registry here holds it.
    pub org_unit: registry::OrgUnit,
}

/// The unit an enrollment is for, as this instance holds it.
#[derive(Debug, Clone)]
pub struct EnrolledUnit {
    /// Its id.
    pub id: String,
    /// Its path, `/root/…/id/`.
    pub path: String,
    /// Its name.
    pub display_name: String,
}

/// The resource name of an enrollment.
pub fn enrollment_name(instance_id: &str) -> String {
    format!("enrollments/{instance_id}")
}

/// The enrollments of this instance.
#[derive(Clone)]
pub struct Enrollments {
    accounts: Accounts,
}

impl Enrollments {
    /// Enrollments kept beside `accounts` (the same database, key and registry link).
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }

    fn require_admin(principal: &Principal) -> Result<(), ApiError> {
        principal.require_any(&[Role::Admin], "enrolling district instances")
    }

    /// Enrolls `instance_id` for `org_unit` (a resource name) in the caller's subtree;
    /// returns the enrollment and its credential, which is never stored.
    pub async fn create(
        &self,
        caller: &Caller,
        instance_id: &str,
        org_unit: &str,
    ) -> Result<(Enrollment, String), ApiError> {
        Self::require_admin(&caller.principal)?;
        let (instance_id, unit_id) = self.check_new(instance_id, org_unit)?;
        let unit = self.accounts.org_unit(caller, &unit_id).await?;
        let unit = EnrolledUnit {
            id: unit_id,
            path: path_of(&unit.ancestors),
            display_name: unit.display_name,
        };
        self.enroll(&caller.principal.subject, &instance_id, unit)
            .await
    }

    /// The instance id and the unit's bare id of a new enrollment, or what is wrong with
    /// them.
    pub fn check_new(
        &self,
        instance_id: &str,
        org_unit: &str,
    ) -> Result<(String, String), ApiError> {
        let instance_id = instance_id.trim();
        let mut violations = Vec::new();
        if !is_valid_instance_id(instance_id) {
            violations.push(Violation::new(
                "enrollment.instance_id",
                "must be 1 to 32 lowercase letters, digits and inner hyphens, like xm-siming",
                "实例编号须为 1 至 32 个小写字母、数字或中间的连字符，例如 xm-siming",
            ));
        } else if instance_id == self.accounts.instance_id() {
            violations.push(Violation::new(
                "enrollment.instance_id",
                "is this instance's own id; a district needs an id of its own",
                "这是本实例自己的编号，区级实例须使用自己的编号",
            ));
        }
        let unit_id = org_unit.trim();
        let unit_id = unit_id.strip_prefix("orgUnits/").unwrap_or(unit_id);
        if unit_id.is_empty() || unit_id.contains('/') {
            violations.push(Violation::new(
                "enrollment.org_unit",
                "must name an org unit, like orgUnits/…",
                "须指明一个组织，例如 orgUnits/…",
            ));
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations));
        }
        Ok((instance_id.to_string(), unit_id.to_string()))
    }

    /// Enrolls `instance_id` for `unit`, as `actor`; returns the enrollment and its
    /// credential, which is never stored.
    pub async fn enroll(
        &self,
        actor: &str,
        instance_id: &str,
        unit: EnrolledUnit,
    ) -> Result<(Enrollment, String), ApiError> {
        if unit.path.trim_matches('/').split('/').count() < 2 {
            return Err(ApiError::failed_precondition(
                "the root unit is this instance's own; enroll a district's unit under it",
                "根组织属于本实例，请为其下的区级组织办理接入",
            ));
        }
        let credential = Credential::generate(instance_id);
        let mut transaction = self
            .accounts
            .database()
            .begin(actor, self.accounts.instance_id())
            .await?;
        let enrollment = Enrollment {
            instance_id: instance_id.to_string(),
            org_unit_id: unit.id.clone(),
            org_unit_path: unit.path,
            display_name: unit.display_name,
            credential_digest: credential.digest(),
            state: EnrollmentState::Active,
            created_by: actor.to_string(),
            revoke_time: 0,
            meta: transaction.new_meta(),
        };
        if !store::insert(transaction.conn(), &enrollment).await? {
            return Err(ApiError::AlreadyExists {
                resource: enrollment_name(instance_id),
                reason: Bilingual::new(
                    format!(
                        "instance {instance_id} is enrolled already, or orgUnits/{} has an active enrollment",
                        unit.id
                    ),
                    format!(
                        "实例 {instance_id} 已接入，或 orgUnits/{} 已有有效的接入登记",
                        unit.id
                    ),
                ),
            });
        }
        transaction.record_diff(
            ENROLLMENT_TYPE,
            enrollment_name(instance_id),
            Operation::Create,
            None,
            payload(&enrollment),
            "",
        )?;
        transaction.commit().await?;
        tracing::info!(instance = instance_id, org_unit = %unit.id, "enrolled a district instance");
        Ok((enrollment, credential.reveal()))
    }

    /// The enrollments of units in the caller's subtree, by instance id.
    pub async fn list(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> Result<(Vec<Enrollment>, String), ApiError> {
        Self::require_admin(&caller.principal)?;
        let own = self
            .accounts
            .org_unit(caller, &caller.principal.org_unit)
            .await?;
        let (low, high) = subtree_bounds(&path_of(&own.ancestors));
        let mut found = store::list(
            self.accounts.database().reader(),
            (&low, &high),
            page.after.as_deref().unwrap_or_default(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut found, |enrollment| enrollment.instance_id.clone());
        Ok((found, next))
    }

    /// Revokes the enrollment `name` of a unit in the caller's subtree; revoking a
    /// revoked one changes nothing.
    pub async fn revoke(&self, caller: &Caller, name: &str) -> Result<Enrollment, ApiError> {
        Self::require_admin(&caller.principal)?;
        let instance_id = name.strip_prefix("enrollments/").unwrap_or_default();
        if instance_id.is_empty() {
            return Err(ApiError::invalid(
                "name",
                "must name an enrollment, like enrollments/xm-siming",
                "须指明一项接入登记，例如 enrollments/xm-siming",
            ));
        }
        let own = self
            .accounts
            .org_unit(caller, &caller.principal.org_unit)
            .await?;
        self.revoke_within(
            &caller.principal.subject,
            instance_id,
            &path_of(&own.ancestors),
        )
        .await
    }

    /// Revokes the enrollment of `instance_id` if its unit lies under `within` (a path),
    /// as `actor`.
    pub async fn revoke_within(
        &self,
        actor: &str,
        instance_id: &str,
        within: &str,
    ) -> Result<Enrollment, ApiError> {
        let mut enrollment = store::get(self.accounts.database().reader(), instance_id)
            .await?
            .filter(|enrollment| enrollment.org_unit_path.starts_with(within))
            .ok_or_else(|| ApiError::NotFound(enrollment_name(instance_id)))?;
        if enrollment.state == EnrollmentState::Revoked {
            return Ok(enrollment);
        }
        let before = payload(&enrollment);
        let mut transaction = self
            .accounts
            .database()
            .begin(actor, self.accounts.instance_id())
            .await?;
        let previous_version = enrollment.meta.version;
        enrollment.state = EnrollmentState::Revoked;
        enrollment.revoke_time = transaction.now();
        touch(&mut enrollment.meta, transaction.now());
        if !store::update(transaction.conn(), &enrollment, previous_version).await? {
            return Err(egret_storage::changed_concurrently(&enrollment_name(
                instance_id,
            )));
        }
        transaction.record_diff(
            ENROLLMENT_TYPE,
            enrollment_name(instance_id),
            Operation::Update,
            Some(&before),
            payload(&enrollment),
            "revoked",
        )?;
        transaction.commit().await?;
        tracing::info!(
            instance = instance_id,
            "revoked a district instance's enrollment"
        );
        Ok(enrollment)
    }

    /// Every enrollment, by instance id (for the shell).
    pub async fn list_all(&self) -> Result<Vec<Enrollment>, ApiError> {
        let mut all = Vec::new();
        loop {
            let after = all
                .last()
                .map(|enrollment: &Enrollment| enrollment.instance_id.clone())
                .unwrap_or_default();
            let page =
                store::list(self.accounts.database().reader(), ("/", "0"), &after, 500).await?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    /// Exchanges a district's credential for a sync token of its unit's subtree.
    pub async fn issue_sync_token(&self, credential: &str) -> Result<SyncGrant, ApiError> {
        let credential = Credential::parse(credential).map_err(|reason| {
            ApiError::invalid(
                "credential",
                reason,
                "不是有效的接入凭据（格式为 egret-enrollment.<实例编号>.<密钥>）",
            )
        })?;
        let instance_id = credential.instance_id();
        let enrollment = store::get(self.accounts.database().reader(), instance_id)
            .await?
            .filter(|enrollment| credential.matches(&enrollment.credential_digest));
        let Some(enrollment) = enrollment else {
            tracing::warn!(
                instance = instance_id,
                "refused a sync token: no enrollment matches the credential"
            );
            return Err(ApiError::Unauthenticated(format!(
                "no enrollment of instance {instance_id} matches this credential"
            )));
        };
        if enrollment.state == EnrollmentState::Revoked {
            tracing::warn!(
                instance = instance_id,
                "refused a sync token: the enrollment was revoked"
            );
            return Err(ApiError::permission_denied(
                format!("the enrollment of instance {instance_id} was revoked"),
                format!("实例 {instance_id} 的接入登记已被撤销"),
            ));
        }
        let principal = Principal {
            subject: egret_sync::upward::district_subject(instance_id),
            org_unit: enrollment.org_unit_id.clone(),
            roles: [Role::Sync].into_iter().collect(),
            volunteer: None,
        };
        // The unit as it is now, read with a viewer's token of that very unit.
        let viewer = Principal {
            roles: [Role::Viewer].into_iter().collect(),
            ..principal.clone()
        };
        let reader = Caller {
            authorization: format!(
                "Bearer {}",
                self.accounts
                    .issuer()
                    .issue(&viewer, Duration::from_secs(30))
            ),
            principal: viewer,
            source: None,
        };
        let org_unit = self
            .accounts
            .org_unit(&reader, &enrollment.org_unit_id)
            .await?;
        Ok(SyncGrant {
            access_token: self.accounts.issuer().issue(&principal, SYNC_TOKEN_TTL),
            expire_time: egret_types::now_micros() + SYNC_TOKEN_TTL.as_micros() as i64,
            instance_id: instance_id.to_string(),
            upstream_instance_id: self.accounts.instance_id().to_string(),
            org_unit,
        })
    }
}

/// An enrollment as the change history shows it: never its credential's digest.
fn payload(enrollment: &Enrollment) -> serde_json::Value {
    serde_json::json!({
        "instance_id": enrollment.instance_id,
        "org_unit_id": enrollment.org_unit_id,
        "display_name": enrollment.display_name,
        "state": enrollment.state.as_str(),
        "created_by": enrollment.created_by,
        "revoke_time": enrollment.revoke_time,
        "meta": enrollment.meta,
    })
}
