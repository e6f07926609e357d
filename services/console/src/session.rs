//! Sign-ins held by the console: a random id in an HttpOnly cookie names a session kept
//! in memory, with the person's tokens and the CSRF token of her forms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use egret_proto::gateway::v1::{Account, AccountRole, RefreshTokenRequest, Session as Tokens};
use rand::RngCore;

use crate::api::{Api, Caller, Failure};

/// Refresh the access token when it has less than this left, so a page's calls never
/// carry a token that expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Who is signed in, as the gateway described her account at sign-in.
#[derive(Debug, Clone)]
pub struct Person {
    /// Her username.
    pub username: String,
    /// Her name.
    pub display_name: String,
    /// The unit she acts for, `orgUnits/{id}`.
    pub org_unit: String,
    /// Her roles.
    pub roles: Vec<AccountRole>,
    /// For a volunteer, `volunteers/{id}`.
    pub volunteer: String,
}

impl Person {
    fn from_account(account: &Account) -> Self {
        Self {
            username: account.username.clone(),
            display_name: account.display_name.clone(),
            org_unit: account.org_unit.clone(),
            roles: account
                .roles
                .iter()
                .filter_map(|role| AccountRole::try_from(*role).ok())
                .collect(),
            volunteer: account.volunteer.clone(),
        }
    }

    /// Whether she holds `role`.
    pub fn has(&self, role: AccountRole) -> bool {
        self.roles.contains(&role)
    }

    /// Whether she manages records (admin or staff): what the menus offer, not what she
    /// may do, which the services decide.
    pub fn is_staff(&self) -> bool {
        self.has(AccountRole::Admin) || self.has(AccountRole::Staff)
    }
}

/// What a page that answered a form says on the page it redirects to, once.
#[derive(Debug, Clone, Default)]
pub struct Flash {
    /// The notice.
    pub notice: String,
    /// Failures beside it (some items of a bulk decision).
    pub failures: Vec<String>,
    /// A one-time password and whose, shown once.
    pub one_time: Option<(String, String)>,
}

/// One sign-in.
pub struct Session {
    id: String,
    flash: Mutex<Option<Flash>>,
    /// The token every form of this session carries.
    pub csrf: String,
    /// Who signed in.
    pub person: Person,
    tokens: tokio::sync::Mutex<Held>,
    last_used: Mutex<Instant>,
}

struct Held {
    access_token: String,
    access_expires: SystemTime,
    refresh_token: String,
}

impl Held {
    fn from_tokens(tokens: &Tokens) -> Self {
        Self {
            access_token: tokens.access_token.clone(),
            access_expires: tokens
                .access_token_expire_time
                .and_then(|time| SystemTime::try_from(time).ok())
                .unwrap_or(SystemTime::UNIX_EPOCH),
            refresh_token: tokens.refresh_token.clone(),
        }
    }
}

impl Session {
    /// The session id, the cookie's value.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A caller for the services with a current access token, refreshed first when it is
    /// about to expire. Fails when the sign-in has ended (signed out elsewhere, the
    /// account disabled, the password changed).
    pub async fn caller(
        &self,
        api: &Api,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Caller, Failure> {
        let mut held = self.tokens.lock().await;
        let fresh = held
            .access_expires
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > REFRESH_MARGIN);
        if !fresh {
            let anonymous = Caller {
                access_token: None,
                peer,
            };
            let response = api
                .auth()
                .refresh_token(api.request(
                    &anonymous,
                    RefreshTokenRequest {
                        refresh_token: held.refresh_token.clone(),
                    },
                ))
                .await?
                .into_inner();
            let tokens = response.session.ok_or_else(|| Failure {
                code: Some(tonic::Code::Internal),
                message: "登录续期失败，请重新登录。".to_string(),
                ..Failure::default()
            })?;
            *held = Held::from_tokens(&tokens);
        }
        Ok(Caller {
            access_token: Some(held.access_token.clone()),
            peer,
        })
    }

    /// Keeps `flash` for the next page: after a form succeeds, the browser is sent to a
    /// page (so reloading it posts nothing again), which shows what happened.
    pub fn set_flash(&self, flash: Flash) {
        *self.flash.lock().unwrap_or_else(PoisonError::into_inner) = Some(flash);
    }

    /// The flash kept for this page, once.
    pub fn take_flash(&self) -> Flash {
        self.flash
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    }

    /// The refresh token, to end the sign-in at the gateway.
    pub async fn refresh_token(&self) -> String {
        self.tokens.lock().await.refresh_token.clone()
    }
}

/// Every sign-in held, bounded.
#[derive(Clone)]
pub struct Sessions {
    held: Arc<Mutex<HashMap<String, Arc<Session>>>>,
    max: usize,
    idle_timeout: Duration,
}

impl Sessions {
    /// At most `max` sessions, each ending after `idle_timeout` unused.
    pub fn new(max: usize, idle_timeout: Duration) -> Self {
        Self {
            held: Arc::default(),
            max,
            idle_timeout,
        }
    }

    /// Holds a new sign-in with `tokens`, ending the least recently used one beyond the
    /// bound.
    pub fn create(&self, tokens: &Tokens) -> Arc<Session> {
        let person = tokens
            .account
            .as_ref()
            .map(Person::from_account)
            .unwrap_or_else(|| Person {
                username: String::new(),
                display_name: String::new(),
                org_unit: String::new(),
                roles: Vec::new(),
                volunteer: String::new(),
            });
        let session = Arc::new(Session {
            id: random_token(),
            flash: Mutex::new(None),
            csrf: random_token(),
            person,
            tokens: tokio::sync::Mutex::new(Held::from_tokens(tokens)),
            last_used: Mutex::new(Instant::now()),
        });
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if held.len() >= self.max {
            let now = Instant::now();
            held.retain(|_, session| now.duration_since(session.last_used()) < self.idle_timeout);
            while held.len() >= self.max {
                let Some(oldest) = held
                    .iter()
                    .min_by_key(|(_, session)| session.last_used())
                    .map(|(id, _)| id.clone())
                else {
                    break;
                };
                held.remove(&oldest);
            }
        }
        held.insert(session.id.clone(), session.clone());
        session
    }

    /// The session `id` names, if it is held and was used within the idle timeout.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let session = held.get(id)?.clone();
        let now = Instant::now();
        if now.duration_since(session.last_used()) >= self.idle_timeout {
            held.remove(id);
            return None;
        }
        *session
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = now;
        Some(session)
    }

    /// Ends the session `id`.
    pub fn remove(&self, id: &str) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

impl Session {
    fn last_used(&self) -> Instant {
        *self
            .last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// 32 random bytes, URL-safe base64: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same_token(left: &str, right: &str) -> bool {
    use sha2::{Digest, Sha256};
    // Equal-length digests compared byte by byte without an early exit.
    let left = Sha256::digest(left.as_bytes());
    let right = Sha256::digest(right.as_bytes());
    left.iter()
        .zip(right.iter())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(username: &str) -> Tokens {
        Tokens {
            access_token: "access".into(),
            refresh_token: "refresh".into(),
            account: Some(Account {
                username: username.into(),
                ..Account::default()
            }),
            ..Tokens::default()
        }
    }

    #[test]
    fn the_least_recently_used_session_ends_beyond_the_bound() {
        let sessions = Sessions::new(2, Duration::from_secs(3600));
        let first = sessions.create(&tokens("a"));
        let second = sessions.create(&tokens("b"));
        std::thread::sleep(Duration::from_millis(5));
        assert!(sessions.get(first.id()).is_some(), "touching the first");
        let third = sessions.create(&tokens("c"));
        assert!(sessions.get(first.id()).is_some());
        assert!(
            sessions.get(second.id()).is_none(),
            "the least recently used ends"
        );
        assert!(sessions.get(third.id()).is_some());
    }

    #[test]
    fn an_idle_session_ends() {
        let sessions = Sessions::new(10, Duration::from_millis(20));
        let session = sessions.create(&tokens("a"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(sessions.get(session.id()).is_none());
    }

    #[test]
    fn tokens_compare() {
        let token = random_token();
        assert_eq!(token.len(), 43);
        assert!(same_token(&token, &token.clone()));
        assert!(!same_token(&token, &random_token()));
        assert!(!same_token(&token, ""));
    }
}
