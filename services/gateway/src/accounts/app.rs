//! The use cases of accounts and sign-in: who may do what, in which order, in which
//! transaction.

use egret_proto::sync::v1::record::Kind;
use egret_sync::RecordChanges;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use egret_proto::registry::v1 as registry;
use egret_runtime::{ApiError, Bilingual, PageRequest, Principal, Role, TokenIssuer, Violation};
use egret_storage::{Database, Operation, Ordering, new_id};
use tonic::transport::Channel;

use super::domain::{self, Account, AccountState};
use super::store::{self, AuditEntry, RefreshToken};

/// The fields `ListAccounts` sorts by.
pub use super::store::SORT_FIELDS as ACCOUNT_SORT_FIELDS;

/// The username of the admin made on first start.
pub const FIRST_ADMIN: &str = "admin";

/// The resource type of accounts in the change log.
pub const ACCOUNT_TYPE: &str = "egret.gateway.v1.Account";

/// The answer to every failed sign-in, whatever failed: a wrong username and a wrong
/// password must not be told apart.
fn wrong_credentials() -> ApiError {
    ApiError::Unauthenticated("the username or the password is wrong".to_string())
}

/// Who calls an account RPC: the verified principal and the bearer token it came with,
/// passed on to the registry so that the registry checks the subtree itself.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The verified principal.
    pub principal: Principal,
    /// `Bearer …`, as received.
    pub authorization: String,
    /// The address the call came from, when known.
    pub source: Option<IpAddr>,
}

/// Tokens handed out by a sign-in.
#[derive(Debug, Clone)]
pub struct Session {
    /// The bearer token for every service.
    pub access_token: String,
    /// Microseconds since the epoch.
    pub access_expire_time: i64,
    /// The token for the next access token.
    pub refresh_token: String,
    /// Microseconds since the epoch.
    pub refresh_expire_time: i64,
    /// The account.
    pub account: Account,
}

/// What a new account is made of.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// The sign-in name as given.
    pub username: String,
    /// The person's name.
    pub display_name: String,
    /// The org unit's id.
    pub org_unit_id: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// For the volunteer role.
    pub volunteer_id: Option<String>,
}

/// Failed attempts per username and per source address, in this process.
#[derive(Clone)]
struct Throttle {
    failures: Arc<quick_cache::sync::Cache<String, (u32, i64)>>,
}

impl Throttle {
    fn new() -> Self {
        Self {
            failures: Arc::new(quick_cache::sync::Cache::new(100_000)),
        }
    }

    /// Failures of `key` still counted: those in a row, forgotten after a quiet spell.
    fn recent(&self, key: &str, now: i64) -> Option<(u32, i64)> {
        let (failures, last) = self.failures.get(key)?;
        (now - last < domain::FAILURES_FORGOTTEN_AFTER.as_micros() as i64)
            .then_some((failures, last))
    }

    /// The time left before `key` may try again, if any.
    fn wait(&self, key: &str, now: i64) -> Option<Duration> {
        let (failures, last) = self.recent(key, now)?;
        let until = last + domain::sign_in_delay(failures).as_micros() as i64;
        (until > now).then(|| Duration::from_micros((until - now) as u64))
    }

    fn fail(&self, key: &str, now: i64) {
        let failures = self.recent(key, now).map_or(0, |(failures, _)| failures);
        self.failures
            .insert(key.to_string(), (failures.saturating_add(1), now));
    }

    fn clear(&self, key: &str) {
        self.failures.remove(key);
    }
}

/// Self-registrations (or checks of them) admitted, per source address (an hour) and in
/// all (a minute), in this process.
#[derive(Clone)]
struct Registrations {
    by_address: Arc<quick_cache::sync::Cache<IpAddr, (u32, i64)>>,
    everyone: Arc<std::sync::Mutex<(u32, i64)>>,
    per_address_hour: u32,
    per_minute: u32,
}

impl Registrations {
    /// At most `per_address_hour` from one address in an hour and `per_minute` from
    /// everyone in a minute.
    fn new(per_address_hour: u32, per_minute: u32) -> Self {
        Self {
            by_address: Arc::new(quick_cache::sync::Cache::new(100_000)),
            everyone: Arc::new(std::sync::Mutex::new((0, 0))),
            per_address_hour,
            per_minute,
        }
    }

    /// Counts one attempt, or refuses it when a bound is reached.
    fn admit(&self, source: Option<IpAddr>, now: i64) -> Result<(), ApiError> {
        let busy = || {
            ApiError::ResourceExhausted(Bilingual::new(
                "too many registrations; try again later",
                "注册次数过多，请稍后再试",
            ))
        };
        {
            let mut everyone = self
                .everyone
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let minute = Duration::from_secs(60).as_micros() as i64;
            if now - everyone.1 >= minute {
                *everyone = (0, now);
            }
            if everyone.0 >= self.per_minute {
                return Err(busy());
            }
            everyone.0 += 1;
        }
        if let Some(address) = source {
            let hour = Duration::from_secs(3600).as_micros() as i64;
            let (count, since) = self
                .by_address
                .get(&address)
                .filter(|(_, since)| now - since < hour)
                .unwrap_or((0, now));
            if count >= self.per_address_hour {
                return Err(busy());
            }
            self.by_address.insert(address, (count + 1, since));
        }
        Ok(())
    }
}

/// Accounts, sign-in and the audit log.
#[derive(Clone)]
pub struct Accounts {
    database: Database,
    issuer: Arc<TokenIssuer>,
    instance_id: String,
    registry: Channel,
    access_ttl: Duration,
    refresh_ttl: Duration,
    throttle: Throttle,
    registrations: Registrations,
    /// Checks of self-registrations (`validate_only`), bounded apart from them.
    registration_checks: Registrations,
}

impl Accounts {
    /// Accounts over `database`; tokens signed by `issuer`; org units and volunteers looked
    /// up in the registry at `registry`.
    pub fn new(
        database: Database,
        issuer: TokenIssuer,
        instance_id: String,
        registry: Channel,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Self {
        Self {
            database,
            issuer: Arc::new(issuer),
            instance_id,
            registry,
            access_ttl,
            refresh_ttl,
            throttle: Throttle::new(),
            registrations: Registrations::new(
                domain::REGISTRATIONS_PER_ADDRESS_HOUR,
                domain::REGISTRATIONS_PER_MINUTE,
            ),
            registration_checks: Registrations::new(
                domain::REGISTRATION_CHECKS_PER_ADDRESS_HOUR,
                domain::REGISTRATION_CHECKS_PER_MINUTE,
            ),
        }
    }

    /// The database.
    pub fn database(&self) -> &Database {
        &self.database
    }

    fn throttle_keys(username: &str, source: Option<IpAddr>) -> Vec<String> {
        let mut keys = vec![format!("user:{username}")];
        if let Some(source) = source {
            keys.push(format!("address:{source}"));
        }
        keys
    }

    /// Refuses with RESOURCE_EXHAUSTED while `username` or `source` must wait.
    fn check_throttle(&self, username: &str, source: Option<IpAddr>) -> Result<(), ApiError> {
        let now = egret_types::now_micros();
        let wait = Self::throttle_keys(username, source)
            .iter()
            .filter_map(|key| self.throttle.wait(key, now))
            .max();
        match wait {
            None => Ok(()),
            Some(wait) => Err(ApiError::ResourceExhausted(Bilingual::new(
                format!(
                    "too many failed sign-ins; try again in {} s",
                    wait.as_secs().max(1)
                ),
                format!("登录失败次数过多，请 {} 秒后再试", wait.as_secs().max(1)),
            ))),
        }
    }

    /// Checks `password` for `username`: the account, or the same answer whatever failed.
    async fn check_password(
        &self,
        username_given: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<Account, ApiError> {
        let username = username_given.trim().to_lowercase();
        self.check_throttle(&username, source)?;
        let account = store::by_username(self.database.reader(), &username).await?;
        let hash = account
            .as_ref()
            .map(|account| account.password_hash.clone());
        let password = password.to_string();
        // An unknown username is checked against a fixed hash, so that it takes as long as
        // a wrong password.
        let matches = tokio::task::spawn_blocking(move || {
            super::password::verify(
                &password,
                hash.as_deref().unwrap_or(super::password::decoy()),
            )
        })
        .await
        .map_err(|error| ApiError::Internal(error.into()))?;
        let now = egret_types::now_micros();
        match account {
            Some(account) if matches => {
                // Only the username's count: one good password from an address must not
                // wipe the failures of the other usernames tried from it.
                self.throttle.clear(&format!("user:{username}"));
                Ok(account)
            }
            account => {
                for key in Self::throttle_keys(&username, source) {
                    self.throttle.fail(&key, now);
                }
                self.audit(
                    account.as_ref(),
                    &username,
                    "sign_in_failed",
                    &username,
                    source,
                )
                .await?;
                Err(wrong_credentials())
            }
        }
    }

    /// Signs in with a password.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: Option<IpAddr>,
    ) -> Result<Session, ApiError> {
        let account = self.check_password(username, password, source).await?;
        if account.state == AccountState::Disabled {
            return Err(ApiError::Unauthenticated(
                "this account is disabled; ask an administrator".to_string(),
            ));
        }
        if account.password_change_required {
            return Err(ApiError::FailedPrecondition(Bilingual::new(
                "this account has a one-time password: change it first (AuthService/ChangePassword)",
                "该账号使用的是一次性密码，请先修改密码",
            )));
        }
        let mut transaction = self
            .database
            .begin(&account.username, &self.instance_id)
            .await?;
        let session = self
            .start_session(&mut transaction, account, new_id())
            .await?;
        store::insert_audit(
            transaction.conn(),
            &self.audit_entry(
                Some(&session.account),
                &session.account.username,
                "sign_in",
                &session.account.username,
                source,
            ),
        )
        .await?;
        transaction.commit().await?;
        Ok(session)
    }

    async fn start_session(
        &self,
        transaction: &mut egret_storage::WriteTx,
        account: Account,
        family_id: String,
    ) -> Result<Session, ApiError> {
        let now = transaction.now();
        let refresh_token = domain::refresh_token();
        let refresh_expire_time = now + self.refresh_ttl.as_micros() as i64;
        store::insert_refresh_token(
            transaction.conn(),
            &domain::token_digest(&refresh_token),
            &RefreshToken {
                family_id,
                account_id: account.id.clone(),
                expire_time: refresh_expire_time,
                spent: false,
                revoked: false,
            },
            now,
        )
        .await?;
        let principal = Principal {
            subject: domain::subject(&account),
            org_unit: domain::acting_unit(&account),
            roles: account.roles.iter().copied().collect(),
            volunteer: account.volunteer_id.clone(),
        };
        Ok(Session {
            access_token: self.issuer.issue(&principal, self.access_ttl),
            access_expire_time: now + self.access_ttl.as_micros() as i64,
            refresh_token,
            refresh_expire_time,
            account,
        })
    }

    /// Trades a refresh token for new tokens; a spent one revokes its sign-in.
    pub async fn refresh(&self, token: &str, source: Option<IpAddr>) -> Result<Session, ApiError> {
        let digest = domain::token_digest(token.trim());
        let refused = || ApiError::Unauthenticated("the refresh token is not valid".to_string());
        // A token nobody issued is refused without taking the writer.
        if store::refresh_token(self.database.reader(), &digest)
            .await?
            .is_none()
        {
            return Err(refused());
        }
        let mut transaction = self.database.begin("gateway", &self.instance_id).await?;
        let stored = store::refresh_token(transaction.conn(), &digest).await?;
        let Some(stored) = stored else {
            return Err(refused());
        };
        let account = store::get(transaction.conn(), &stored.account_id)
            .await?
            .ok_or_else(refused)?;
        if stored.revoked || stored.expire_time <= transaction.now() {
            return Err(refused());
        }
        if stored.spent || !store::spend_refresh_token(transaction.conn(), &digest).await? {
            // Someone holds a copy of a token already traded: end the whole sign-in.
            store::revoke_family(transaction.conn(), &stored.family_id).await?;
            store::insert_audit(
                transaction.conn(),
                &self.audit_entry(
                    Some(&account),
                    &account.username,
                    "refresh_token_reused",
                    &account.username,
                    source,
                ),
            )
            .await?;
            transaction.commit().await?;
            return Err(ApiError::Unauthenticated(
                "the refresh token was used before; the sign-in has ended, sign in again"
                    .to_string(),
            ));
        }
        if account.state == AccountState::Disabled {
            store::revoke_family(transaction.conn(), &stored.family_id).await?;
            transaction.commit().await?;
            return Err(refused());
        }
        let session = self
            .start_session(&mut transaction, account, stored.family_id)
            .await?;
        transaction.commit().await?;
        Ok(session)
    }

    /// Ends the sign-in of a refresh token.
    pub async fn sign_out(&self, token: &str, source: Option<IpAddr>) -> Result<(), ApiError> {
        let digest = domain::token_digest(token.trim());
        let Some(stored) = store::refresh_token(self.database.reader(), &digest).await? else {
            return Err(ApiError::Unauthenticated(
                "the refresh token is not valid".to_string(),
            ));
        };
        let mut transaction = self.database.begin("gateway", &self.instance_id).await?;
        store::revoke_family(transaction.conn(), &stored.family_id).await?;
        if let Some(account) = store::get(transaction.conn(), &stored.account_id).await? {
            store::insert_audit(
                transaction.conn(),
                &self.audit_entry(
                    Some(&account),
                    &account.username,
                    "sign_out",
                    &account.username,
                    source,
                ),
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Changes a password given the current one; every sign-in of the account ends.
    pub async fn change_password(
        &self,
        username: &str,
        current: &str,
        new: &str,
        source: Option<IpAddr>,
    ) -> Result<Account, ApiError> {
        let account = self.check_password(username, current, source).await?;
        domain::new_password("new_password", new, &account.username, current)
            .map_err(|violation| ApiError::InvalidArgument(vec![violation]))?;
        let hash = hash_password(new).await?;
        let actor = account.username.clone();
        self.change(
            account,
            &actor,
            "password_changed",
            source,
            move |account| {
                account.password_hash = hash;
                account.password_change_required = false;
            },
        )
        .await
    }

    /// Writes a change to an account: the change history (passwords never appear), the
    /// audit log and, for anything but a creation, the end of its sign-ins.
    async fn change(
        &self,
        mut account: Account,
        actor: &str,
        event: &'static str,
        source: Option<IpAddr>,
        apply: impl FnOnce(&mut Account),
    ) -> Result<Account, ApiError> {
        let before = payload(&account);
        let previous_version = account.meta.version;
        let mut transaction = self.database.begin(actor, &self.instance_id).await?;
        apply(&mut account);
        account.meta.version += 1;
        account.meta.update_time = transaction.now();
        store::update(transaction.conn(), &account, previous_version).await?;
        store::revoke_account(transaction.conn(), &account.id).await?;
        transaction.record_diff(
            ACCOUNT_TYPE,
            account_name(&account.id),
            Operation::Update,
            Some(&before),
            payload(&account),
            event,
        )?;
        store::insert_audit(
            transaction.conn(),
            &self.audit_entry(Some(&account), &account.username, event, actor, source),
        )
        .await?;
        transaction.commit().await?;
        Ok(account)
    }

    fn audit_entry(
        &self,
        account: Option<&Account>,
        username: &str,
        event: &'static str,
        actor: &str,
        source: Option<IpAddr>,
    ) -> AuditEntry {
        AuditEntry {
            id: new_id(),
            account_id: account.map(|account| account.id.clone()),
            username: username.chars().take(domain::MAX_USERNAME).collect(),
            event: event.to_string(),
            actor: actor.to_string(),
            source: source.map(|source| source.to_string()).unwrap_or_default(),
            event_time: egret_types::now_micros(),
        }
    }

    async fn audit(
        &self,
        account: Option<&Account>,
        username: &str,
        event: &'static str,
        actor: &str,
        source: Option<IpAddr>,
    ) -> Result<(), ApiError> {
        let mut transaction = self.database.begin(actor, &self.instance_id).await?;
        store::insert_audit(
            transaction.conn(),
            &self.audit_entry(account, username, event, actor, source),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The path of `org_unit` (a bare id) as the registry shows it to `caller`: NOT_FOUND
    /// when the unit is outside the caller's subtree.
    async fn org_unit_path(&self, caller: &Caller, org_unit: &str) -> Result<String, ApiError> {
        let unit = self.org_unit(caller, org_unit).await?;
        Ok(path_of(&unit.ancestors))
    }

    /// `org_unit` (a bare id) as the registry shows it to `caller`: NOT_FOUND when the
    /// unit is outside the caller's subtree.
    pub(crate) async fn org_unit(
        &self,
        caller: &Caller,
        org_unit: &str,
    ) -> Result<registry::OrgUnit, ApiError> {
        let mut request = tonic::Request::new(registry::GetOrgUnitRequest {
            name: format!("orgUnits/{org_unit}"),
        });
        set_authorization(&mut request, &caller.authorization)?;
        registry::org_unit_service_client::OrgUnitServiceClient::new(self.registry.clone())
            .get_org_unit(request)
            .await
            .map_err(|status| registry_error(status, &format!("orgUnits/{org_unit}")))?
            .into_inner()
            .org_unit
            .ok_or_else(|| ApiError::NotFound(format!("orgUnits/{org_unit}")))
    }

    /// The key this instance signs tokens with.
    pub(crate) fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// This instance's id.
    pub(crate) fn instance_id(&self) -> &str {
        &self.instance_id
    }

    async fn check_volunteer(&self, caller: &Caller, volunteer: &str) -> Result<(), ApiError> {
        let mut request = tonic::Request::new(registry::GetVolunteerRequest {
            name: format!("volunteers/{volunteer}"),
            ..Default::default()
        });
        set_authorization(&mut request, &caller.authorization)?;
        registry::volunteer_service_client::VolunteerServiceClient::new(self.registry.clone())
            .get_volunteer(request)
            .await
            .map_err(|status| registry_error(status, &format!("volunteers/{volunteer}")))?;
        Ok(())
    }

    /// Creates an account with a one-time password, within the caller's subtree.
    pub async fn create(
        &self,
        caller: &Caller,
        new: NewAccount,
    ) -> Result<(Account, String), ApiError> {
        let mut violations = Vec::new();
        let username = domain::username("account.username", &new.username)
            .map_err(|violation| violations.push(violation))
            .ok();
        let display_name = new.display_name.trim().to_string();
        if display_name.is_empty() || display_name.chars().count() > domain::MAX_DISPLAY_NAME {
            violations.push(Violation::new(
                "account.display_name",
                "a display name is 1 to 64 characters",
                "显示名称须为 1 至 64 个字符",
            ));
        }
        if let Err(more) = domain::roles_and_volunteer(&new.roles, new.volunteer_id.as_deref()) {
            violations.extend(more);
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations));
        }
        let username = username.unwrap_or_default();
        let path = self.org_unit_path(caller, &new.org_unit_id).await?;
        if let Some(volunteer) = &new.volunteer_id {
            self.check_volunteer(caller, volunteer).await?;
        }
        let password = domain::one_time_password();
        let account = self
            .insert(
                &caller.principal.subject,
                caller.source,
                Account {
                    id: new_id(),
                    username,
                    display_name,
                    org_unit_id: new.org_unit_id,
                    org_unit_path: path,
                    roles: new.roles,
                    volunteer_id: new.volunteer_id,
                    state: AccountState::Active,
                    password_hash: hash_password(&password).await?,
                    password_change_required: true,
                    meta: unsaved(),
                },
            )
            .await?;
        Ok((account, password))
    }

    /// Inserts an account made by `actor` (its bookkeeping is filled in here).
    pub async fn insert(
        &self,
        actor: &str,
        source: Option<IpAddr>,
        mut account: Account,
    ) -> Result<Account, ApiError> {
        let mut transaction = self.database.begin(actor, &self.instance_id).await?;
        account.meta = transaction.new_meta();
        store::insert(transaction.conn(), &account).await?;
        transaction.record_diff(
            ACCOUNT_TYPE,
            account_name(&account.id),
            Operation::Create,
            None,
            payload(&account),
            "",
        )?;
        store::insert_audit(
            transaction.conn(),
            &self.audit_entry(
                Some(&account),
                &account.username,
                "account_created",
                actor,
                source,
            ),
        )
        .await?;
        transaction.commit().await?;
        Ok(account)
    }

    /// Registers a prospective volunteer: her real-name record in the registry with a join
    /// application to `team_id`, then her account, and signs her in. The registry's own
    /// refusals (a bad field, a person registered before) reach the caller as they are.
    pub async fn register_volunteer(
        &self,
        username: &str,
        password: &str,
        volunteer: registry::Volunteer,
        team_id: &str,
        source: Option<IpAddr>,
    ) -> Result<(Session, registry::Volunteer, String), tonic::Status> {
        let mut violations = Vec::new();
        let username = domain::username("username", username)
            .map_err(|violation| violations.push(violation))
            .unwrap_or_default();
        if let Err(violation) = domain::new_password("password", password, &username, "") {
            violations.push(violation);
        }
        if !violations.is_empty() {
            return Err(ApiError::InvalidArgument(violations).into());
        }
        self.registrations
            .admit(source, egret_types::now_micros())
            .map_err(tonic::Status::from)?;
        if store::by_username(self.database.reader(), &username)
            .await?
            .is_some()
        {
            return Err(username_taken(&username).into());
        }
        // The registry is asked as the team's registrar, for this one registration: it
        // checks the record exactly as when staff register a volunteer, and opens the
        // application instead of a membership.
        let registrar = self.registrar(&username, team_id, source);
        let path = self.org_unit_path(&registrar, team_id).await?;
        let mut request = tonic::Request::new(registry::CreateVolunteerRequest {
            org_unit: format!("orgUnits/{team_id}"),
            volunteer: Some(volunteer),
            request_id: uuid::Uuid::new_v4().to_string(),
            pending_membership: true,
            validate_only: false,
        });
        set_authorization(&mut request, &registrar.authorization)?;
        let created =
            registry::volunteer_service_client::VolunteerServiceClient::new(self.registry.clone())
                .create_volunteer(request)
                .await?
                .into_inner();
        let record = created
            .volunteer
            .ok_or_else(|| tonic::Status::internal("the registry answered no volunteer"))?;
        let volunteer_id = record.name.trim_start_matches("volunteers/").to_string();
        let account = self
            .insert(
                &username.clone(),
                source,
                Account {
                    id: new_id(),
                    username,
                    display_name: record
                        .display_name
                        .chars()
                        .take(domain::MAX_DISPLAY_NAME)
                        .collect(),
                    org_unit_id: team_id.to_string(),
                    org_unit_path: path,
                    roles: vec![Role::Volunteer],
                    volunteer_id: Some(volunteer_id),
                    state: AccountState::Active,
                    password_hash: hash_password(password).await?,
                    password_change_required: false,
                    meta: unsaved(),
                },
            )
            .await?;
        let mut transaction = self
            .database
            .begin(&account.username, &self.instance_id)
            .await?;
        let session = self
            .start_session(&mut transaction, account, new_id())
            .await?;
        transaction.commit().await?;
        Ok((session, record, created.join_application))
    }

    /// The team's registrar, for one self-registration (or one check of it) by
    /// `username`: staff of `team_id`, for a minute.
    fn registrar(&self, username: &str, team_id: &str, source: Option<IpAddr>) -> Caller {
        let principal = Principal {
            subject: format!("self-registration:{username}"),
            org_unit: team_id.to_string(),
            roles: [Role::Staff].into_iter().collect(),
            volunteer: None,
        };
        Caller {
            authorization: format!(
                "Bearer {}",
                self.issuer.issue(&principal, Duration::from_secs(60))
            ),
            principal,
            source,
        }
    }

    /// Checks a self-registration without making it (`validate_only`), in the order of
    /// [`Self::register_volunteer`]; nothing is written. Every problem with the fields
    /// comes back in one INVALID_ARGUMENT: the username's and the password's violations, a
    /// username taken (whenever it is itself well formed), and the registry's own check of
    /// the record (its fields, and a document registered already), asked for even when
    /// the username or the password is refused. Checks are throttled apart from
    /// registrations and never use up their budget.
    pub async fn check_registration(
        &self,
        username: &str,
        password: &str,
        volunteer: registry::Volunteer,
        team_id: &str,
        source: Option<IpAddr>,
    ) -> Result<(), tonic::Status> {
        self.registration_checks
            .admit(source, egret_types::now_micros())
            .map_err(tonic::Status::from)?;
        let mut violations = Vec::new();
        let username = domain::username("username", username)
            .map_err(|violation| violations.push(violation))
            .ok();
        if let Err(violation) = domain::new_password(
            "password",
            password,
            username.as_deref().unwrap_or_default(),
            "",
        ) {
            violations.push(violation);
        }
        if let Some(username) = &username
            && store::by_username(self.database.reader(), username)
                .await?
                .is_some()
        {
            violations.push(domain::username_taken("username"));
        }
        let registrar = self.registrar(username.as_deref().unwrap_or_default(), team_id, source);
        if violations.is_empty() {
            // As a real registration: the team is looked up once the account's fields pass.
            self.org_unit_path(&registrar, team_id).await?;
        }
        let mut request = tonic::Request::new(registry::CreateVolunteerRequest {
            org_unit: format!("orgUnits/{team_id}"),
            volunteer: Some(volunteer),
            request_id: String::new(),
            pending_membership: true,
            validate_only: true,
        });
        set_authorization(&mut request, &registrar.authorization)?;
        let checked =
            registry::volunteer_service_client::VolunteerServiceClient::new(self.registry.clone())
                .create_volunteer(request)
                .await;
        match checked {
            Ok(_) if violations.is_empty() => Ok(()),
            Ok(_) => Err(ApiError::InvalidArgument(violations).into()),
            Err(status) if status.code() == tonic::Code::InvalidArgument => {
                violations.extend(egret_runtime::error::violations_of(&status));
                Err(ApiError::InvalidArgument(violations).into())
            }
            Err(status) if violations.is_empty() => Err(status),
            // A real registration refuses the account's fields before it asks the registry.
            Err(_) => Err(ApiError::InvalidArgument(violations).into()),
        }
    }

    /// The root org unit's id, from the registry's change log (its first unit without a
    /// parent), read as the gateway itself with the sync role: for a gateway in its own
    /// process, which holds no registry.
    pub async fn root_from_registry(&self) -> Result<Option<String>, tonic::Status> {
        let credentials =
            egret_runtime::SyncCredentials::new((*self.issuer).clone(), "egret-gateway");
        let log = egret_sync::ServiceLog::new("registry", self.registry.clone(), credentials);
        let page = egret_sync::ChangeSource::read(&log, 0, 100, std::time::Duration::from_secs(5))
            .await
            .map_err(tonic::Status::from)?;
        Ok(page.entries.into_iter().find_map(|change| {
            match change.record.and_then(|record| record.kind) {
                Some(Kind::OrgUnit(unit)) if unit.parent_id.is_none() => Some(unit.id),
                _ => None,
            }
        }))
    }

    /// Creates the first admin, `admin` at the root unit, when the instance has no account
    /// yet; returns its one-time password, which is shown once and never stored.
    pub async fn ensure_first_admin(&self, root_id: &str) -> Result<Option<String>, ApiError> {
        if store::count(self.database.reader()).await? > 0 {
            return Ok(None);
        }
        let password = domain::one_time_password();
        let created = self
            .insert(
                "egret",
                None,
                Account {
                    id: new_id(),
                    username: FIRST_ADMIN.to_string(),
                    display_name: "管理员".to_string(),
                    org_unit_id: root_id.to_string(),
                    org_unit_path: format!("/{root_id}/"),
                    roles: vec![Role::Admin],
                    volunteer_id: None,
                    state: AccountState::Active,
                    password_hash: hash_password(&password).await?,
                    password_change_required: true,
                    meta: unsaved(),
                },
            )
            .await;
        match created {
            Ok(_) => Ok(Some(password)),
            // Another process made it first.
            Err(ApiError::AlreadyExists { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The account `id` if it is in the caller's subtree; NOT_FOUND otherwise.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Account, ApiError> {
        let caller_path = self
            .org_unit_path(caller, &caller.principal.org_unit)
            .await?;
        store::get(self.database.reader(), id)
            .await?
            .filter(|account| account.org_unit_path.starts_with(&caller_path))
            .ok_or_else(|| ApiError::NotFound(account_name(id)))
    }

    /// A page of the accounts under `org_unit` (a bare id; the caller's unit when None).
    pub async fn list(
        &self,
        caller: &Caller,
        org_unit: Option<&str>,
        ordering: Ordering,
        page: &PageRequest,
    ) -> Result<(Vec<Account>, String), ApiError> {
        let unit = org_unit.unwrap_or(&caller.principal.org_unit);
        let path = self.org_unit_path(caller, unit).await?;
        let mut accounts = store::list_subtree(
            self.database.reader(),
            &path,
            ordering,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut accounts, |(_, key)| key.clone());
        Ok((
            accounts.into_iter().map(|(account, _)| account).collect(),
            next,
        ))
    }

    /// Disables or enables an account in the caller's subtree.
    pub async fn set_state(
        &self,
        caller: &Caller,
        id: &str,
        state: AccountState,
    ) -> Result<Account, ApiError> {
        let account = self.get(caller, id).await?;
        self.set_state_of(account, &caller.principal.subject, caller.source, state)
            .await
    }

    /// Disables or enables `account`, as `actor`.
    pub async fn set_state_of(
        &self,
        account: Account,
        actor: &str,
        source: Option<IpAddr>,
        state: AccountState,
    ) -> Result<Account, ApiError> {
        let event = match state {
            AccountState::Active => "account_enabled",
            AccountState::Disabled => "account_disabled",
        };
        self.change(account, actor, event, source, |account| {
            account.state = state;
        })
        .await
    }

    /// Gives an account in the caller's subtree a new one-time password.
    pub async fn reset_password(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(Account, String), ApiError> {
        let account = self.get(caller, id).await?;
        self.reset_password_of(account, &caller.principal.subject, caller.source)
            .await
    }

    /// Gives `account` a new one-time password, as `actor`.
    pub async fn reset_password_of(
        &self,
        account: Account,
        actor: &str,
        source: Option<IpAddr>,
    ) -> Result<(Account, String), ApiError> {
        let password = domain::one_time_password();
        let hash = hash_password(&password).await?;
        let account = self
            .change(account, actor, "password_reset", source, move |account| {
                account.password_hash = hash;
                account.password_change_required = true;
            })
            .await?;
        Ok((account, password))
    }

    /// A page of the history of an account in the caller's subtree.
    pub async fn changes(
        &self,
        caller: &Caller,
        id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<egret_storage::changelog::StoredChange>, String), ApiError> {
        self.get(caller, id).await?;
        egret_storage::changelog::history_page(self.database.reader(), &account_name(id), page)
            .await
    }

    /// A page of the audit log of the caller's subtree; a caller at the root also sees the
    /// failed sign-ins of usernames that matched no account.
    pub async fn audit_entries(
        &self,
        caller: &Caller,
        account: Option<&str>,
        page: &PageRequest,
    ) -> Result<(Vec<AuditEntry>, String), ApiError> {
        let path = self
            .org_unit_path(caller, &caller.principal.org_unit)
            .await?;
        let at_root = path.matches('/').count() == 2;
        let mut entries = store::list_audit(
            self.database.reader(),
            &path,
            at_root,
            account,
            page.after.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let next = page.finish(&mut entries, |entry| entry.id.clone());
        Ok((entries, next))
    }
}

/// The bookkeeping of an account not yet inserted: [`Accounts::insert`] fills it in, inside
/// its transaction.
pub fn unsaved() -> egret_types::Meta {
    egret_types::Meta {
        origin_instance: String::new(),
        version: 0,
        create_time: 0,
        update_time: 0,
    }
}

/// `accounts/{id}`.
pub fn account_name(id: &str) -> String {
    format!("accounts/{id}")
}

/// An account as the change history shows it: never its password.
fn payload(account: &Account) -> serde_json::Value {
    serde_json::json!({
        "username": account.username,
        "display_name": account.display_name,
        "org_unit": format!("orgUnits/{}", account.org_unit_id),
        "roles": account.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
        "volunteer": account.volunteer_id.as_ref().map(|id| format!("volunteers/{id}")),
        "state": match account.state {
            AccountState::Active => "active",
            AccountState::Disabled => "disabled",
        },
        "password_change_required": account.password_change_required,
    })
}

/// `/root/…/unit/` from the registry's `ancestors` (root first, the unit last).
pub fn path_of(ancestors: &[String]) -> String {
    let mut path = String::from("/");
    for ancestor in ancestors {
        path.push_str(ancestor.trim_start_matches("orgUnits/"));
        path.push('/');
    }
    path
}

/// ALREADY_EXISTS for a username another account has.
pub fn username_taken(username: &str) -> ApiError {
    ApiError::AlreadyExists {
        resource: format!("username {username:?}"),
        reason: Bilingual::new(
            "another account has this username",
            "该用户名已被其他账号使用",
        ),
    }
}

fn set_authorization<T>(
    request: &mut tonic::Request<T>,
    authorization: &str,
) -> Result<(), ApiError> {
    let value = authorization
        .parse()
        .map_err(|_| ApiError::Unauthenticated("the bearer token is not ASCII".to_string()))?;
    request.metadata_mut().insert("authorization", value);
    Ok(())
}

/// What a registry answer means for an account RPC: a unit or volunteer the caller may
/// not see does not exist for it.
fn registry_error(status: tonic::Status, resource: &str) -> ApiError {
    match status.code() {
        tonic::Code::NotFound | tonic::Code::PermissionDenied | tonic::Code::InvalidArgument => {
            ApiError::NotFound(resource.to_string())
        }
        tonic::Code::Unauthenticated => ApiError::Unauthenticated(status.message().to_string()),
        _ => egret_sync::follower::upstream_error("registry", &status),
    }
}

async fn hash_password(password: &str) -> Result<String, ApiError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || super::password::hash(&password))
        .await
        .map_err(|error| ApiError::Internal(error.into()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_are_bounded_per_address_and_in_all_by_their_own_bounds() {
        let now = 1_000_000_000;
        let one: IpAddr = "192.0.2.1".parse().expect("address");
        let other: IpAddr = "192.0.2.2".parse().expect("address");
        let registrations = Registrations::new(2, 3);
        assert!(registrations.admit(Some(one), now).is_ok());
        assert!(registrations.admit(Some(one), now).is_ok());
        assert!(
            registrations.admit(Some(one), now).is_err(),
            "the address's two"
        );
        assert!(
            registrations.admit(Some(other), now).is_err(),
            "three in all"
        );
        let hour = Duration::from_secs(3600).as_micros() as i64;
        assert!(registrations.admit(Some(one), now + hour).is_ok());
        // Checks count apart: registrations used up leave them untouched.
        let checks = Registrations::new(
            domain::REGISTRATION_CHECKS_PER_ADDRESS_HOUR,
            domain::REGISTRATION_CHECKS_PER_MINUTE,
        );
        for _ in 0..domain::REGISTRATIONS_PER_ADDRESS_HOUR * 10 {
            assert!(checks.admit(Some(one), now).is_ok());
        }
    }
}
