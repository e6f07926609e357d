//! `AuthService` and `AccountService`: conversions between wire and domain types only.

use std::net::IpAddr;

use egret_proto::gateway::v1 as pb;
use egret_proto::gateway::v1::account_service_server::{AccountService, AccountServiceServer};
use egret_proto::gateway::v1::auth_service_server::{AuthService, AuthServiceServer};
use egret_runtime::wire::{metadata, optional_name, parse_name, timestamp};
use egret_runtime::{ApiError, PageRequest, Principal, Role, ServiceHost, Violations};
use egret_storage::Ordering;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use super::app::{ACCOUNT_SORT_FIELDS, Accounts, Caller, NewAccount, Session, account_name};
use super::domain::{Account, AccountState};

/// Adds the account services to the gateway's host: sign-in needs no token, the account
/// RPCs need an admin.
pub fn add_services(host: &mut ServiceHost, accounts: Accounts) {
    let auth = <AuthServiceServer<AuthApi> as NamedService>::NAME;
    for method in [
        "SignIn",
        "RefreshToken",
        "SignOut",
        "ChangePassword",
        "RegisterVolunteer",
    ] {
        host.allow_anonymous(format!("/{auth}/{method}"));
    }
    host.gate("egret.gateway.v1", gate);
    host.add_service(AuthServiceServer::new(AuthApi(accounts.clone())));
    host.add_service(AccountServiceServer::new(AccountApi(accounts)));
}

/// Only admins reach the account and enrollment RPCs (the exchange of a credential
/// needs no token at all); admins, staff and viewers read a district's links.
fn gate(method: &str) -> Option<egret_runtime::Gate> {
    if method.starts_with("AccountService/") {
        return Some(egret_runtime::Gate {
            roles: &[Role::Admin],
            volunteer_for_itself: false,
            action: "managing accounts",
        });
    }
    if method == "EnrollmentService/GetUpstreamStatus" {
        return Some(egret_runtime::Gate {
            roles: &[Role::Admin, Role::Staff, Role::Viewer],
            volunteer_for_itself: false,
            action: "reading the links to the city",
        });
    }
    (method.starts_with("EnrollmentService/") && method != "EnrollmentService/IssueSyncToken")
        .then_some(egret_runtime::Gate {
            roles: &[Role::Admin],
            volunteer_for_itself: false,
            action: "enrolling district instances",
        })
}

fn role_to_wire(role: Role) -> pb::AccountRole {
    match role {
        Role::Admin => pb::AccountRole::Admin,
        Role::Staff => pb::AccountRole::Staff,
        Role::TeamLeader => pb::AccountRole::TeamLeader,
        Role::Volunteer => pb::AccountRole::Volunteer,
        Role::Viewer | Role::Sync => pb::AccountRole::Viewer,
    }
}

fn role_from_wire(role: i32) -> Option<Role> {
    match pb::AccountRole::try_from(role).ok()? {
        pb::AccountRole::Admin => Some(Role::Admin),
        pb::AccountRole::Staff => Some(Role::Staff),
        pb::AccountRole::TeamLeader => Some(Role::TeamLeader),
        pb::AccountRole::Volunteer => Some(Role::Volunteer),
        pb::AccountRole::Viewer => Some(Role::Viewer),
        pb::AccountRole::Unspecified => None,
    }
}

/// An account on the wire.
pub fn account_to_wire(account: &Account) -> pb::Account {
    pb::Account {
        name: account_name(&account.id),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        org_unit: format!("orgUnits/{}", account.org_unit_id),
        roles: account
            .roles
            .iter()
            .map(|role| role_to_wire(*role) as i32)
            .collect(),
        volunteer: account
            .volunteer_id
            .as_ref()
            .map(|id| format!("volunteers/{id}"))
            .unwrap_or_default(),
        state: match account.state {
            AccountState::Active => pb::AccountState::Active,
            AccountState::Disabled => pb::AccountState::Disabled,
        } as i32,
        password_change_required: account.password_change_required,
        metadata: Some(metadata(&account.id, &account.meta)),
    }
}

fn session_to_wire(session: Session) -> pb::Session {
    pb::Session {
        access_token: session.access_token,
        access_token_expire_time: Some(timestamp(session.access_expire_time)),
        refresh_token: session.refresh_token,
        refresh_token_expire_time: Some(timestamp(session.refresh_expire_time)),
        account: Some(account_to_wire(&session.account)),
    }
}

fn source<T>(request: &Request<T>) -> Option<IpAddr> {
    request.remote_addr().map(|address| address.ip())
}

pub(crate) fn caller<T>(request: &Request<T>) -> Result<Caller, ApiError> {
    let principal = Principal::of(request)?;
    let authorization = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok(Caller {
        principal,
        authorization,
        source: source(request),
    })
}

/// The value, or None with its violations added (parsing a name fails only so).
fn collect<T>(violations: &mut Violations, result: Result<T, ApiError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(ApiError::InvalidArgument(found)) => {
            violations.extend(found);
            None
        }
        Err(other) => {
            violations.add("", other.to_string(), "请求无效");
            None
        }
    }
}

/// Every string of a sign-in request is bounded before anything is hashed.
fn bounded(field: &str, text: &str, limit: usize) -> Result<(), ApiError> {
    if text.chars().count() > limit {
        return Err(ApiError::invalid(
            field,
            format!("is longer than {limit} characters"),
            format!("长度不能超过 {limit} 个字符"),
        ));
    }
    Ok(())
}

/// `AuthService`.
pub struct AuthApi(pub Accounts);

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn sign_in(
        &self,
        request: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let from = source(&request);
        let message = request.into_inner();
        bounded("username", &message.username, 64)?;
        bounded("password", &message.password, 128)?;
        let session = self
            .0
            .sign_in(&message.username, &message.password, from)
            .await?;
        Ok(Response::new(pb::SignInResponse {
            session: Some(session_to_wire(session)),
        }))
    }

    async fn refresh_token(
        &self,
        request: Request<pb::RefreshTokenRequest>,
    ) -> Result<Response<pb::RefreshTokenResponse>, Status> {
        let from = source(&request);
        let message = request.into_inner();
        bounded("refresh_token", &message.refresh_token, 128)?;
        let session = self.0.refresh(&message.refresh_token, from).await?;
        Ok(Response::new(pb::RefreshTokenResponse {
            session: Some(session_to_wire(session)),
        }))
    }

    async fn sign_out(
        &self,
        request: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        let from = source(&request);
        let message = request.into_inner();
        bounded("refresh_token", &message.refresh_token, 128)?;
        self.0.sign_out(&message.refresh_token, from).await?;
        Ok(Response::new(pb::SignOutResponse {}))
    }

    async fn register_volunteer(
        &self,
        request: Request<pb::RegisterVolunteerRequest>,
    ) -> Result<Response<pb::RegisterVolunteerResponse>, Status> {
        self.register(request).await
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let from = source(&request);
        let message = request.into_inner();
        bounded("username", &message.username, 64)?;
        bounded("current_password", &message.current_password, 128)?;
        bounded("new_password", &message.new_password, 1024)?;
        let account = self
            .0
            .change_password(
                &message.username,
                &message.current_password,
                &message.new_password,
                from,
            )
            .await?;
        Ok(Response::new(pb::ChangePasswordResponse {
            account: Some(account_to_wire(&account)),
        }))
    }
}

/// `AccountService`.
pub struct AccountApi(pub Accounts);

impl AuthApi {
    async fn register(
        &self,
        request: Request<pb::RegisterVolunteerRequest>,
    ) -> Result<Response<pb::RegisterVolunteerResponse>, Status> {
        let from = source(&request);
        let message = request.into_inner();
        bounded("username", &message.username, 64)?;
        bounded("password", &message.password, 1024)?;
        let team = parse_name("team", &message.team, "orgUnits")?.to_string();
        let Some(volunteer) = message.volunteer else {
            return Err(ApiError::invalid("volunteer", "is required", "不能为空").into());
        };
        if message.validate_only {
            self.0
                .check_registration(&message.username, &message.password, volunteer, &team, from)
                .await?;
            return Ok(Response::new(pb::RegisterVolunteerResponse::default()));
        }
        let (session, volunteer, join_application) = self
            .0
            .register_volunteer(&message.username, &message.password, volunteer, &team, from)
            .await?;
        Ok(Response::new(pb::RegisterVolunteerResponse {
            session: Some(session_to_wire(session)),
            volunteer: Some(volunteer),
            join_application,
        }))
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::CreateAccountResponse>, Status> {
        let caller = caller(&request)?;
        let account = request.into_inner().account.unwrap_or_default();
        let mut violations = Violations::default();
        let org_unit = collect(
            &mut violations,
            parse_name("account.org_unit", &account.org_unit, "orgUnits"),
        )
        .unwrap_or_default()
        .to_string();
        let volunteer = collect(
            &mut violations,
            optional_name("account.volunteer", &account.volunteer, "volunteers"),
        )
        .flatten()
        .map(str::to_string);
        let mut roles = Vec::new();
        for role in &account.roles {
            match role_from_wire(*role) {
                Some(role) if !roles.contains(&role) => roles.push(role),
                Some(_) => {}
                None => violations.add(
                    "account.roles",
                    format!("{role} is not a role"),
                    "角色取值无效",
                ),
            }
        }
        violations.into_result()?;
        let (account, password) = self
            .0
            .create(
                &caller,
                NewAccount {
                    username: account.username,
                    display_name: account.display_name,
                    org_unit_id: org_unit,
                    roles,
                    volunteer_id: volunteer,
                },
            )
            .await?;
        Ok(Response::new(pb::CreateAccountResponse {
            account: Some(account_to_wire(&account)),
            one_time_password: password,
        }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_name("name", &request.get_ref().name, "accounts")?.to_string();
        let account = self.0.get(&caller, &id).await?;
        Ok(Response::new(pb::GetAccountResponse {
            account: Some(account_to_wire(&account)),
        }))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let caller = caller(&request)?;
        let message = request.into_inner();
        let org_unit = optional_name("org_unit", &message.org_unit, "orgUnits")?;
        let mut violations = Violations::new();
        // By username unless asked otherwise.
        let order_by = match message.order_by.trim() {
            "" => "username",
            order_by => order_by,
        };
        let ordering = Ordering::read(&mut violations, order_by, &ACCOUNT_SORT_FIELDS);
        violations.into_result()?;
        let page = PageRequest::standard(
            message.page_size,
            &message.page_token,
            &format!("{}{}", message.org_unit, ordering.fingerprint()),
        )?;
        let (accounts, next_page_token) = self.0.list(&caller, org_unit, ordering, &page).await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.iter().map(account_to_wire).collect(),
            next_page_token,
        }))
    }

    async fn disable_account(
        &self,
        request: Request<pb::DisableAccountRequest>,
    ) -> Result<Response<pb::DisableAccountResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_name("name", &request.get_ref().name, "accounts")?.to_string();
        let account = self
            .0
            .set_state(&caller, &id, AccountState::Disabled)
            .await?;
        Ok(Response::new(pb::DisableAccountResponse {
            account: Some(account_to_wire(&account)),
        }))
    }

    async fn enable_account(
        &self,
        request: Request<pb::EnableAccountRequest>,
    ) -> Result<Response<pb::EnableAccountResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_name("name", &request.get_ref().name, "accounts")?.to_string();
        let account = self.0.set_state(&caller, &id, AccountState::Active).await?;
        Ok(Response::new(pb::EnableAccountResponse {
            account: Some(account_to_wire(&account)),
        }))
    }

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let caller = caller(&request)?;
        let id = parse_name("name", &request.get_ref().name, "accounts")?.to_string();
        let (account, password) = self.0.reset_password(&caller, &id).await?;
        Ok(Response::new(pb::ResetPasswordResponse {
            account: Some(account_to_wire(&account)),
            one_time_password: password,
        }))
    }

    async fn list_account_changes(
        &self,
        request: Request<pb::ListAccountChangesRequest>,
    ) -> Result<Response<pb::ListAccountChangesResponse>, Status> {
        let caller = caller(&request)?;
        let message = request.into_inner();
        let id = parse_name("name", &message.name, "accounts")?.to_string();
        let page = PageRequest::standard(message.page_size, &message.page_token, &message.name)?;
        let (changes, next_page_token) = self.0.changes(&caller, &id, &page).await?;
        Ok(Response::new(pb::ListAccountChangesResponse {
            change_records: changes
                .iter()
                .map(egret_sync::wire::change_record)
                .collect(),
            next_page_token,
        }))
    }

    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let caller = caller(&request)?;
        let message = request.into_inner();
        let account = optional_name("account", &message.account, "accounts")?;
        let page = PageRequest::standard(message.page_size, &message.page_token, &message.account)?;
        let (entries, next_page_token) = self.0.audit_entries(&caller, account, &page).await?;
        Ok(Response::new(pb::ListAuditEntriesResponse {
            audit_entries: entries
                .into_iter()
                .map(|entry| pb::AuditEntry {
                    account: entry
                        .account_id
                        .map(|id| account_name(&id))
                        .unwrap_or_default(),
                    username: entry.username,
                    event: entry.event,
                    actor: entry.actor,
                    source: entry.source,
                    event_time: Some(timestamp(entry.event_time)),
                })
                .collect(),
            next_page_token,
        }))
    }
}
