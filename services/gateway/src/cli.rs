//! The `egret` command: `egret up` runs a whole instance in one process on an embedded
//! SQLite database; `egret token` issues bearer tokens signed by the instance.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use egret_registry::Registry;
use egret_runtime::keys;
use egret_runtime::{ConfigError, Principal, Role, TokenIssuer};

use crate::{EgretConfig, Instance};

/// Egret, the information system of the Egret Island Women's Volunteer Alliance
/// (鹭岛巾帼志愿联盟).
#[derive(Debug, Parser)]
#[command(name = "egret", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every Egret service of this instance in one process.
    Up(UpArgs),
    /// Print a bearer token signed with this instance's key.
    Token(TokenArgs),
    /// Manage people's accounts from the shell.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Enroll district instances to sync upward to this one (at the city).
    #[command(subcommand)]
    Enrollment(EnrollmentCommand),
}

/// `egret enrollment …`: the same enrollments as EnrollmentService, for an operator at the
/// city's shell (changes are recorded with the actor `cli`).
#[derive(Debug, Subcommand)]
pub enum EnrollmentCommand {
    /// Enroll a district instance for one unit of this instance's tree and print its
    /// credential (shown once: the district configures it as instance.enrollment).
    Create(CreateEnrollmentArgs),
    /// List every enrollment.
    List(AccountInstanceArgs),
    /// Revoke an enrollment: its credential stops working at once.
    Revoke(EnrollmentNameArgs),
}

/// `egret enrollment create`.
#[derive(Debug, Args)]
pub struct CreateEnrollmentArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The district instance's id, like xm-siming.
    #[arg(long)]
    pub instance_id: String,
    /// The district's unit, `orgUnits/{id}` or the bare id.
    #[arg(long, value_name = "ORG")]
    pub org: String,
}

/// One enrollment, by the district's instance id.
#[derive(Debug, Args)]
pub struct EnrollmentNameArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The district instance's id.
    pub instance_id: String,
}

/// `egret account …`: the same accounts as AccountService, for an operator at the shell
/// (changes are recorded with the actor `cli`).
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account and print its one-time password.
    Create(CreateAccountArgs),
    /// List every account.
    List(AccountInstanceArgs),
    /// Disable an account: it may no longer sign in, and its sign-ins end.
    Disable(AccountNameArgs),
    /// Enable a disabled account.
    Enable(AccountNameArgs),
    /// Give an account a new one-time password and print it; its sign-ins end.
    ResetPassword(AccountNameArgs),
}

/// Where the accounts live.
#[derive(Debug, Args)]
pub struct AccountInstanceArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
}

/// One account, by username.
#[derive(Debug, Args)]
pub struct AccountNameArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The account's username.
    pub username: String,
}

/// `egret account create`.
#[derive(Debug, Args)]
pub struct CreateAccountArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The name to sign in with.
    #[arg(long)]
    pub username: String,
    /// The person's name.
    #[arg(long)]
    pub display_name: String,
    /// The org unit the account acts for, `orgUnits/{id}` or the bare id [default: the root].
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// A role; repeat for several: admin, staff, team_leader, volunteer, viewer.
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
    pub roles: Vec<Role>,
    /// For the volunteer role: the volunteer, `volunteers/{id}` or the bare id.
    #[arg(long, value_name = "VOLUNTEER")]
    pub volunteer: Option<String>,
}

/// Where the instance's configuration and data live.
#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// The data directory: SQLite databases and generated keys [default: ./egret-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A TOML configuration file; `EGRET__SECTION__KEY` environment variables override it,
    /// and the flags here override both.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `egret up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The address to serve gRPC on [default: 127.0.0.1:50051]; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: Option<SocketAddr>,
}

/// `egret token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    /// Configuration and data.
    pub instance: InstanceArgs,
    /// The org unit the token acts for, `orgUnits/{id}` or the bare id [default: the root].
    #[arg(long, value_name = "ORG")]
    pub org: Option<String>,
    /// A role; repeat for several: admin, staff, team_leader, volunteer, viewer, sync.
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse_role)]
    pub roles: Vec<Role>,
    /// Who the token names, written into change histories [default: cli-ROLE].
    #[arg(long, value_name = "NAME")]
    pub subject: Option<String>,
    /// For the volunteer role: the volunteer, `volunteers/{id}` or the bare id.
    #[arg(long, value_name = "VOLUNTEER")]
    pub volunteer: Option<String>,
    /// How long the token stays valid, for example 30m or 12h [default: auth.token_ttl].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub ttl: Option<Duration>,
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

/// Loads the configuration with the flags applied on top.
pub fn load_config(
    instance: &InstanceArgs,
    listen: Option<SocketAddr>,
) -> Result<EgretConfig, ConfigError> {
    let mut overrides = Vec::new();
    if let Some(data_dir) = &instance.data_dir {
        overrides.push(("data_dir", data_dir.display().to_string()));
    }
    if let Some(listen) = listen {
        overrides.push(("listen", listen.to_string()));
    }
    egret_runtime::config::load(instance.config.as_deref(), &overrides)
}

/// Strips an optional `collection/` prefix from a resource name.
fn bare_id<'a>(name: &'a str, collection: &str) -> &'a str {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(name)
}

/// Issues a token for `egret token`, checking that the org unit exists.
pub async fn issue_token(args: &TokenArgs) -> anyhow::Result<String> {
    let config = load_config(&args.instance, None)?;
    let registry = Registry::open(&config.common, &config.registry).await?;
    let org_unit = match &args.org {
        Some(org) => {
            let id = bare_id(org, "orgUnits");
            egret_registry::store::org::get_org_unit(registry.database().reader(), id)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?
                .with_context(|| format!("org unit {org} does not exist on this instance"))?
        }
        None => registry
            .ensure_root(&config.common.instance.root_name)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?,
    };
    let volunteer = args
        .volunteer
        .as_deref()
        .map(|name| bare_id(name, "volunteers").to_string());
    if args.roles.contains(&Role::Volunteer) && volunteer.is_none() {
        anyhow::bail!("--role volunteer needs --volunteer ID");
    }
    if let Some(id) = &volunteer {
        egret_registry::store::volunteers::get(registry.database().reader(), id)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .with_context(|| format!("volunteer {id} does not exist on this instance"))?;
    }
    registry.database().close().await;
    let principal = Principal {
        subject: args
            .subject
            .clone()
            .unwrap_or_else(|| format!("cli-{}", args.roles[0])),
        org_unit: org_unit.id,
        roles: args.roles.iter().copied().collect(),
        volunteer,
    };
    let issuer = TokenIssuer::new(
        keys::signing_key(&config.common.data_dir)?,
        config.common.instance.id.clone(),
    );
    Ok(issuer.issue(&principal, args.ttl.unwrap_or(config.common.auth.token_ttl)))
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => {
            let config = load_config(&args.instance, args.listen)?;
            let _telemetry = egret_runtime::telemetry::init(&config.common.telemetry)?;
            let instance = Instance::build(config).await?;
            println!("{}", instance.banner());
            instance
                .run_until_stopped(egret_runtime::shutdown_on_signals())
                .await
        }
        Command::Token(args) => {
            let token = issue_token(&args).await?;
            println!("{token}");
            Ok(())
        }
        Command::Account(command) => {
            println!("{}", manage_accounts(command).await?);
            Ok(())
        }
        Command::Enrollment(command) => {
            println!("{}", manage_enrollments(command).await?);
            Ok(())
        }
    }
}

/// Runs an `egret enrollment` subcommand and returns what to print.
pub async fn manage_enrollments(command: EnrollmentCommand) -> anyhow::Result<String> {
    use crate::enrollments::app::{EnrolledUnit, Enrollment, EnrollmentState, Enrollments};
    let instance = match &command {
        EnrollmentCommand::Create(args) => &args.instance,
        EnrollmentCommand::List(args) => &args.instance,
        EnrollmentCommand::Revoke(args) => &args.instance,
    };
    let config = load_config(instance, None)?;
    let accounts = crate::open_accounts(&config.common, &config.gateway, "").await?;
    let enrollments = Enrollments::new(accounts.clone());
    let shown = |enrollment: &Enrollment| {
        format!(
            "enrollments/{} orgUnits/{} ({}) {}",
            enrollment.instance_id,
            enrollment.org_unit_id,
            enrollment.display_name,
            match enrollment.state {
                EnrollmentState::Active => "active",
                EnrollmentState::Revoked => "revoked",
            }
        )
    };
    let api = |error: egret_runtime::ApiError| anyhow::anyhow!("{error}");
    let printed = match command {
        EnrollmentCommand::Create(args) => {
            let (instance_id, unit_id) = enrollments
                .check_new(&args.instance_id, &args.org)
                .map_err(api)?;
            let registry = Registry::open(&config.common, &config.registry).await?;
            let unit =
                egret_registry::store::org::get_org_unit(registry.database().reader(), &unit_id)
                    .await
                    .map_err(api)?
                    .with_context(|| format!("org unit {unit_id} does not exist on this instance"));
            registry.database().close().await;
            let unit = unit?;
            let (enrollment, credential) = enrollments
                .enroll(
                    SHELL,
                    &instance_id,
                    EnrolledUnit {
                        id: unit.id,
                        path: unit.path,
                        display_name: unit.display_name,
                    },
                )
                .await
                .map_err(api)?;
            Ok(format!(
                "{}\ncredential (shown once; the district sets it as instance.enrollment):\n{credential}",
                shown(&enrollment)
            ))
        }
        EnrollmentCommand::List(_) => enrollments
            .list_all()
            .await
            .map(|all| all.iter().map(shown).collect::<Vec<_>>().join("\n"))
            .map_err(api),
        EnrollmentCommand::Revoke(args) => enrollments
            .revoke_within(SHELL, args.instance_id.trim(), "/")
            .await
            .map(|enrollment| shown(&enrollment))
            .map_err(api),
    };
    accounts.database().close().await;
    printed
}

/// The shell's actor in change histories and the audit log.
const SHELL: &str = "cli";

/// Runs an `egret account` subcommand and returns what to print.
pub async fn manage_accounts(command: AccountCommand) -> anyhow::Result<String> {
    let instance = match &command {
        AccountCommand::Create(args) => &args.instance,
        AccountCommand::List(args) => &args.instance,
        AccountCommand::Disable(args)
        | AccountCommand::Enable(args)
        | AccountCommand::ResetPassword(args) => &args.instance,
    };
    let config = load_config(instance, None)?;
    let accounts = crate::open_accounts(&config.common, &config.gateway, "").await?;
    let printed = account_command(&config, &accounts, command).await;
    accounts.database().close().await;
    printed
}

async fn account_command(
    config: &EgretConfig,
    accounts: &crate::Accounts,
    command: AccountCommand,
) -> anyhow::Result<String> {
    use crate::accounts::{domain, store};
    let by_username = |username: String| async move {
        let username = username.trim().to_lowercase();
        store::by_username(accounts.database().reader(), &username)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?
            .with_context(|| format!("no account has the username {username:?}"))
    };
    let shown = |account: &domain::Account| {
        format!(
            "accounts/{} {} ({}) orgUnits/{} {} {}",
            account.id,
            account.username,
            account.display_name,
            account.org_unit_id,
            account
                .roles
                .iter()
                .map(|role| role.as_str())
                .collect::<Vec<_>>()
                .join(","),
            match account.state {
                domain::AccountState::Active => "active",
                domain::AccountState::Disabled => "disabled",
            }
        )
    };
    match command {
        AccountCommand::Create(args) => {
            let username = domain::username("--username", &args.username)
                .map_err(|violation| anyhow::anyhow!("--username: {}", violation.reason.en))?;
            let volunteer = args
                .volunteer
                .as_deref()
                .map(|name| bare_id(name, "volunteers").to_string());
            domain::roles_and_volunteer(&args.roles, volunteer.as_deref()).map_err(
                |violations| {
                    anyhow::anyhow!(
                        "{}",
                        violations
                            .iter()
                            .map(|violation| violation.reason.en.clone())
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                },
            )?;
            let registry = Registry::open(&config.common, &config.registry).await?;
            let unit = match &args.org {
                Some(org) => egret_registry::store::org::get_org_unit(
                    registry.database().reader(),
                    bare_id(org, "orgUnits"),
                )
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?
                .with_context(|| format!("org unit {org} does not exist on this instance"))?,
                None => registry
                    .ensure_root(&config.common.instance.root_name)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?,
            };
            if let Some(id) = &volunteer {
                egret_registry::store::volunteers::get(registry.database().reader(), id)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?
                    .with_context(|| format!("volunteer {id} does not exist on this instance"))?;
            }
            registry.database().close().await;
            let password = domain::one_time_password();
            let hash = crate::accounts::password::hash(&password)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let account = accounts
                .insert(
                    SHELL,
                    None,
                    domain::Account {
                        id: egret_storage::new_id(),
                        username,
                        display_name: args.display_name.trim().to_string(),
                        org_unit_id: unit.id.clone(),
                        org_unit_path: unit.path.clone(),
                        roles: args.roles,
                        volunteer_id: volunteer,
                        state: domain::AccountState::Active,
                        password_hash: hash,
                        password_change_required: true,
                        meta: crate::accounts::app::unsaved(),
                    },
                )
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(format!(
                "{}\none-time password: {password}",
                shown(&account)
            ))
        }
        AccountCommand::List(_) => {
            let mut lines = Vec::new();
            let mut after: Option<String> = None;
            let by_username = egret_storage::Ordering::parse("username", &store::SORT_FIELDS)
                .map_err(|violation| anyhow::anyhow!("{}", violation.reason.en))?;
            loop {
                let page = store::list_subtree(
                    accounts.database().reader(),
                    "/",
                    by_username,
                    after.as_deref(),
                    500,
                )
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
                let Some((_, last)) = page.last() else { break };
                after = Some(last.clone());
                lines.extend(page.iter().map(|(account, _)| shown(account)));
            }
            Ok(lines.join("\n"))
        }
        AccountCommand::Disable(args) => {
            let account = by_username(args.username).await?;
            let account = accounts
                .set_state_of(account, SHELL, None, domain::AccountState::Disabled)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(shown(&account))
        }
        AccountCommand::Enable(args) => {
            let account = by_username(args.username).await?;
            let account = accounts
                .set_state_of(account, SHELL, None, domain::AccountState::Active)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(shown(&account))
        }
        AccountCommand::ResetPassword(args) => {
            let account = by_username(args.username).await?;
            let (account, password) = accounts
                .reset_password_of(account, SHELL, None)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(format!(
                "{}\none-time password: {password}",
                shown(&account)
            ))
        }
    }
}
