//! 账户: the accounts of an admin's subtree; a new account or a reset password shows its
//! one-time password once.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use egret_proto::gateway::v1::{
    Account, AccountRole, AccountState, CreateAccountRequest, DisableAccountRequest,
    EnableAccountRequest, ListAccountsRequest, ResetPasswordRequest,
};
use egret_proto::registry::v1::Tier;
use http::StatusCode;
use serde::Deserialize;

use super::sorting::{Column, SortHeader, Sorting};
use super::{Layout, Signed, check_csrf, error_page, id_of, render_refused, valid_id};
use crate::AppState;
use crate::api::Failure;
use crate::labels;
use crate::session::Flash;

/// Accounts on one page.
const ACCOUNTS_PAGE: i32 = 100;

/// The roles a new account may be given, in the order the form offers them.
const ROLES: [AccountRole; 5] = [
    AccountRole::Staff,
    AccountRole::TeamLeader,
    AccountRole::Viewer,
    AccountRole::Volunteer,
    AccountRole::Admin,
];

struct AccountRow {
    id: String,
    username: String,
    display_name: String,
    roles: String,
    active: bool,
    must_change: bool,
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    layout: Layout,
    accounts: Vec<AccountRow>,
    sort: String,
    headers: Vec<SortHeader>,
    next_page: String,
    notice: String,
    one_time: Option<(String, String)>,
    failure: Failure,
}

/// The query of the list: its order and next page.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    after: String,
    #[serde(default)]
    sort: String,
}

/// The list's columns.
const COLUMNS: [Column; 5] = [
    Column {
        field: "username",
        label: "用户名",
    },
    Column {
        field: "display_name",
        label: "姓名",
    },
    Column {
        field: "",
        label: "角色",
    },
    Column {
        field: "",
        label: "状态",
    },
    Column {
        field: "",
        label: "操作",
    },
];

fn row(account: &Account) -> AccountRow {
    AccountRow {
        id: id_of(&account.name).to_string(),
        username: account.username.clone(),
        display_name: account.display_name.clone(),
        roles: account
            .roles
            .iter()
            .filter_map(|role| AccountRole::try_from(*role).ok())
            .map(labels::role)
            .collect::<Vec<_>>()
            .join("、"),
        active: account.state == AccountState::Active as i32,
        must_change: account.password_change_required,
    }
}

async fn accounts_page(
    state: &AppState,
    signed: &Signed,
    query: &ListQuery,
    notice: String,
    one_time: Option<(String, String)>,
    failure: Failure,
) -> Response {
    let sorting = Sorting::parse(&query.sort, &COLUMNS);
    let api = &state.api;
    let listed = api
        .accounts()
        .list_accounts(api.request(
            &signed.caller,
            ListAccountsRequest {
                org_unit: signed.session.person.org_unit.clone(),
                page_size: ACCOUNTS_PAGE,
                page_token: query.after.chars().take(1024).collect(),
                order_by: sorting.order_by(),
            },
        ))
        .await;
    let (accounts, next_page) = match listed {
        Ok(listed) => {
            let listed = listed.into_inner();
            (
                listed.accounts.iter().map(row).collect(),
                listed.next_page_token,
            )
        }
        Err(status) => return error_page(&status.into(), Some(signed)),
    };
    let bad = failure.code.is_some();
    render_refused(
        &AccountsPage {
            layout: signed.layout("账户", "accounts"),
            accounts,
            sort: sorting.order_by(),
            headers: sorting.headers(&COLUMNS, "/accounts?"),
            next_page,
            notice,
            one_time,
            failure,
        },
        bad,
    )
}

/// `GET /accounts`.
pub(crate) async fn list(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    let flash = signed.session.take_flash();
    accounts_page(
        &state,
        &signed,
        &query,
        flash.notice,
        flash.one_time,
        Failure::default(),
    )
    .await
}

/// The new-account form.
#[derive(Deserialize, Default)]
pub(crate) struct NewAccount {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    org_unit: String,
    #[serde(default)]
    role: i32,
    #[serde(default)]
    volunteer: String,
}

#[derive(Template)]
#[template(path = "account_new.html")]
struct NewPage {
    layout: Layout,
    units: Vec<super::org::UnitChoice>,
    roles: Vec<(i32, &'static str)>,
    form: NewAccount,
    failure: Failure,
}

impl NewPage {
    fn summary(&self) -> String {
        self.failure.summary(&[
            "account.username",
            "account.display_name",
            "account.org_unit",
            "account.roles",
            "account.volunteer",
        ])
    }
}

/// The query of the new-account form: a unit or volunteer to prefill.
#[derive(Deserialize, Default)]
pub(crate) struct NewQuery {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    volunteer: String,
}

async fn new_page(
    state: &AppState,
    signed: &Signed,
    form: NewAccount,
    failure: Failure,
) -> Response {
    let units = super::org::unit_choices(state, signed, Tier::Unspecified).await;
    let bad = failure.code.is_some();
    render_refused(
        &NewPage {
            layout: signed.layout("新建账户", "accounts"),
            units,
            roles: ROLES
                .iter()
                .map(|role| (*role as i32, labels::role(*role)))
                .collect(),
            form,
            failure,
        },
        bad,
    )
}

/// `GET /accounts/new`.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<NewQuery>,
) -> Response {
    let form = NewAccount {
        org_unit: query.unit,
        role: if valid_id(&query.volunteer) {
            AccountRole::Volunteer as i32
        } else {
            AccountRole::Staff as i32
        },
        volunteer: if valid_id(&query.volunteer) {
            query.volunteer
        } else {
            String::new()
        },
        ..NewAccount::default()
    };
    new_page(&state, &signed, form, Failure::default()).await
}

/// `POST /accounts`: creates the account and shows its one-time password once.
pub(crate) async fn create(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<NewAccount>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    let account = Account {
        username: form.username.trim().to_string(),
        display_name: form.display_name.trim().to_string(),
        org_unit: if valid_id(&form.org_unit) {
            format!("orgUnits/{}", form.org_unit)
        } else {
            String::new()
        },
        roles: vec![form.role],
        volunteer: if valid_id(&form.volunteer) {
            format!("volunteers/{}", form.volunteer)
        } else {
            String::new()
        },
        ..Account::default()
    };
    let api = &state.api;
    let created = api
        .accounts()
        .create_account(api.request(
            &signed.caller,
            CreateAccountRequest {
                account: Some(account),
            },
        ))
        .await;
    match created {
        Ok(created) => {
            let created = created.into_inner();
            let username = created.account.unwrap_or_default().username;
            signed.session.set_flash(Flash {
                notice: format!("已创建账户 {username}。"),
                one_time: Some((username, created.one_time_password)),
                ..Flash::default()
            });
            Redirect::to("/accounts").into_response()
        }
        Err(status) => new_page(&state, &signed, form, status.into()).await,
    }
}

/// A change to one account.
#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /accounts/{id}/{action}`: `disable`, `enable` or `reset`.
pub(crate) async fn act(
    State(state): State<AppState>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(refused) = check_csrf(&signed.session, &form.csrf) {
        return refused.into_response();
    }
    if !valid_id(&id) {
        return (StatusCode::NOT_FOUND, "未找到该账户。").into_response();
    }
    let name = format!("accounts/{id}");
    let api = &state.api;
    let caller = &signed.caller;
    let (notice, one_time, result) = match action.as_str() {
        "disable" => {
            let result = api
                .accounts()
                .disable_account(api.request(caller, DisableAccountRequest { name }))
                .await;
            ("账户已停用。".to_string(), None, result.map(drop))
        }
        "enable" => {
            let result = api
                .accounts()
                .enable_account(api.request(caller, EnableAccountRequest { name }))
                .await;
            ("账户已启用。".to_string(), None, result.map(drop))
        }
        "reset" => match api
            .accounts()
            .reset_password(api.request(caller, ResetPasswordRequest { name }))
            .await
        {
            Ok(reset) => {
                let reset = reset.into_inner();
                let username = reset.account.unwrap_or_default().username;
                (
                    format!("已重置 {username} 的密码。"),
                    Some((username, reset.one_time_password)),
                    Ok(()),
                )
            }
            Err(status) => (String::new(), None, Err(status)),
        },
        _ => return (StatusCode::BAD_REQUEST, "未知的操作。").into_response(),
    };
    match result {
        Ok(()) => {
            signed.session.set_flash(Flash {
                notice,
                one_time,
                ..Flash::default()
            });
            Redirect::to("/accounts").into_response()
        }
        Err(status) => {
            let query = ListQuery::default();
            accounts_page(&state, &signed, &query, String::new(), None, status.into()).await
        }
    }
}
