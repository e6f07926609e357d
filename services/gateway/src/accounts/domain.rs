//! The rules of accounts and sign-in, without I/O.

use std::time::Duration;

use egret_runtime::{Role, Violation};
use rand::Rng;
use sha2::{Digest, Sha256};

/// The longest username.
pub const MAX_USERNAME: usize = 64;
/// The shortest and the longest password.
pub const PASSWORD_LENGTHS: std::ops::RangeInclusive<usize> = 10..=128;
/// The longest display name.
pub const MAX_DISPLAY_NAME: usize = 64;

/// Whether an account may sign in (wire numbers of `AccountState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// It may sign in.
    Active = 1,
    /// It may not.
    Disabled = 2,
}

impl AccountState {
    /// From its stored number.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            1 => Some(Self::Active),
            2 => Some(Self::Disabled),
            _ => None,
        }
    }
}

/// A person's account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its id.
    pub id: String,
    /// The sign-in name.
    pub username: String,
    /// The person's name.
    pub display_name: String,
    /// The org unit it acts for.
    pub org_unit_id: String,
    /// The unit's path, `/root/…/unit/`.
    pub org_unit_path: String,
    /// Its roles.
    pub roles: Vec<Role>,
    /// For the volunteer role, the volunteer.
    pub volunteer_id: Option<String>,
    /// Active or disabled.
    pub state: AccountState,
    /// The password's argon2id hash (PHC string).
    pub password_hash: String,
    /// Whether the password is one-time.
    pub password_change_required: bool,
    /// Bookkeeping.
    pub meta: egret_types::Meta,
}

/// Checks a username and returns it as stored (lowercase): 3 to 64 of `a-z 0-9 . _ -`,
/// starting with a letter or digit, or a mainland mobile number.
pub fn username(field: &str, text: &str) -> Result<String, Violation> {
    let lowered = text.trim().to_lowercase();
    let valid = (3..=MAX_USERNAME).contains(&lowered.chars().count())
        && lowered
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        && lowered
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        return Ok(lowered);
    }
    Err(Violation::new(
        field,
        "a username is 3 to 64 letters, digits, `.`, `_` or `-`, starting with a letter or digit",
        "用户名须为 3 至 64 个字母、数字或 . _ -，并以字母或数字开头",
    ))
}

/// Checks a new password against the policy.
pub fn new_password(
    field: &str,
    password: &str,
    username: &str,
    current: &str,
) -> Result<(), Violation> {
    let length = password.chars().count();
    if !PASSWORD_LENGTHS.contains(&length) {
        return Err(Violation::new(
            field,
            "a password is 10 to 128 characters",
            "密码长度须为 10 至 128 个字符",
        ));
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(Violation::new(
            field,
            "the password must not be the username",
            "密码不能与用户名相同",
        ));
    }
    if password == current {
        return Err(Violation::new(
            field,
            "the new password must differ from the current one",
            "新密码不能与当前密码相同",
        ));
    }
    Ok(())
}

/// Checks the roles and volunteer of an account: at least one role, never `sync` (machines
/// get it from `egret token`), and a volunteer exactly when the volunteer role is held.
pub fn roles_and_volunteer(roles: &[Role], volunteer: Option<&str>) -> Result<(), Vec<Violation>> {
    let mut violations = Vec::new();
    if roles.is_empty() {
        violations.push(Violation::new(
            "account.roles",
            "an account needs at least one role",
            "账号至少需要一个角色",
        ));
    }
    if roles.contains(&Role::Sync) {
        violations.push(Violation::new(
            "account.roles",
            "the sync role is for machines (egret token), not for people's accounts",
            "同步角色仅用于系统间调用，不能授予个人账号",
        ));
    }
    match (roles.contains(&Role::Volunteer), volunteer) {
        (true, None) => violations.push(Violation::new(
            "account.volunteer",
            "an account with the volunteer role names its volunteer",
            "志愿者账号须指明对应的志愿者",
        )),
        (false, Some(_)) => violations.push(Violation::new(
            "account.volunteer",
            "only an account with the volunteer role names a volunteer",
            "只有志愿者角色的账号才能指明志愿者",
        )),
        _ => {}
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(violations)
    }
}

/// A one-time password: 16 characters from an alphabet without look-alikes (no 0/O, 1/l/I),
/// about 90 bits.
pub fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh refresh token: 32 random bytes, base64url.
pub fn refresh_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a refresh token: its SHA-256, hex.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Failed sign-ins older than this no longer count.
pub const FAILURES_FORGOTTEN_AFTER: Duration = Duration::from_secs(30 * 60);

/// How long sign-in waits after `failures` failed attempts in a row: nothing for the first
/// four, then 2 s doubling to at most 15 minutes.
pub fn sign_in_delay(failures: u32) -> Duration {
    if failures < 5 {
        return Duration::ZERO;
    }
    let doublings = (failures - 5).min(10);
    Duration::from_secs(2u64 << doublings).min(Duration::from_secs(15 * 60))
}

/// Self-registrations one address may attempt in an hour.
pub const REGISTRATIONS_PER_ADDRESS_HOUR: u32 = 5;
/// Self-registrations the gateway attempts in a minute, from everyone.
pub const REGISTRATIONS_PER_MINUTE: u32 = 60;

/// Checks of a self-registration (`validate_only`) one address may ask for in an hour. A
/// registration form checks as the person types (the console waits for a pause in her
/// typing), so one person makes a few dozen checks for one registration: they have a
/// budget of their own and never use up the registrations'. It stays small, because each
/// check tells whether an identity document is registered: sixty an hour is enough for
/// two registrations from one address, and far too few to probe a list of numbers. A form
/// past the bound still checks everything when it is submitted.
pub const REGISTRATION_CHECKS_PER_ADDRESS_HOUR: u32 = 60;
/// Checks of a self-registration the gateway answers in a minute, from everyone: ten
/// times the registrations', for the same reason.
pub const REGISTRATION_CHECKS_PER_MINUTE: u32 = 600;

/// The violation of a username another account has.
pub fn username_taken(field: &str) -> Violation {
    Violation::new(
        field,
        "another account has this username",
        "该用户名已被其他账号使用",
    )
}

/// The unit an account's tokens act for. A volunteer and nothing else acts for herself
/// anywhere in the instance (she may apply to join any team), so her tokens name the root;
/// every other role acts within the account's own unit.
pub fn acting_unit(account: &Account) -> String {
    let root = account
        .org_unit_path
        .split('/')
        .find(|part| !part.is_empty());
    match root {
        Some(root) if account.roles == [Role::Volunteer] => root.to_string(),
        _ => account.org_unit_id.clone(),
    }
}

/// The principal's subject for an account: its username, written into change histories.
pub fn subject(account: &Account) -> String {
    account.username.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for (text, ok) in [
            ("lin.meihua", true),
            ("Lin_Meihua", true),
            ("13812345678", true),
            ("ab", false),
            (".dot", false),
            ("名字", false),
            ("a b", false),
        ] {
            assert_eq!(username("username", text).is_ok(), ok, "{text}");
        }
        assert_eq!(username("username", " Admin ").unwrap(), "admin");
    }

    #[test]
    fn passwords() {
        assert!(new_password("p", "short", "u", "").is_err());
        assert!(new_password("p", "adminadmin", "ADMINADMIN", "").is_err());
        assert!(new_password("p", "same-password", "u", "same-password").is_err());
        assert!(new_password("p", "a long enough one", "u", "old").is_ok());
    }

    #[test]
    fn delays_grow_and_stop_growing() {
        assert_eq!(sign_in_delay(4), Duration::ZERO);
        assert_eq!(sign_in_delay(5), Duration::from_secs(2));
        assert_eq!(sign_in_delay(6), Duration::from_secs(4));
        assert_eq!(sign_in_delay(100), Duration::from_secs(15 * 60));
    }

    #[test]
    fn only_a_volunteer_alone_acts_from_the_root() {
        let account = |roles: Vec<Role>| Account {
            id: "a".to_string(),
            username: "u".to_string(),
            display_name: "d".to_string(),
            org_unit_id: "team".to_string(),
            org_unit_path: "/root/team/".to_string(),
            roles,
            volunteer_id: None,
            state: AccountState::Active,
            password_hash: String::new(),
            password_change_required: false,
            meta: crate::accounts::app::unsaved(),
        };
        assert_eq!(acting_unit(&account(vec![Role::Volunteer])), "root");
        assert_eq!(acting_unit(&account(vec![Role::Staff])), "team");
        assert_eq!(
            acting_unit(&account(vec![Role::Staff, Role::Volunteer])),
            "team"
        );
    }

    #[test]
    fn secrets_are_fresh() {
        assert_ne!(one_time_password(), one_time_password());
        assert_eq!(one_time_password().len(), 16);
        assert_ne!(refresh_token(), refresh_token());
        assert_eq!(token_digest("x").len(), 64);
    }
}
