//! Authentication: signed bearer tokens (JWT, EdDSA/Ed25519) naming the principal, the org
//! unit it acts for and its roles.
//!
//! The instance signs tokens with its private key; every service verifies them with the
//! public key, so services never need the signing key. Authorization by org subtree is the
//! services' business (they know the tree); this module only says who is calling.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// What a principal may do. A principal may hold several roles; each acts
/// only within its org unit's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the subtree, including keys, audit log and unmasked personal data.
    Admin,
    /// Manage org units, forms, volunteers, projects; approve; unmasked data on request.
    Staff,
    /// 负责人: its own team and the units under it.
    TeamLeader,
    /// A volunteer acting for itself.
    Volunteer,
    /// Read the subtree, masked; statistics.
    Viewer,
    /// Read change logs and apply sync batches; nothing else.
    Sync,
}

impl Role {
    /// Every role, for help texts.
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Staff,
        Role::TeamLeader,
        Role::Volunteer,
        Role::Viewer,
        Role::Sync,
    ];

    /// The role's name as it appears in tokens and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::TeamLeader => "team_leader",
            Role::Volunteer => "volunteer",
            Role::Viewer => "viewer",
            Role::Sync => "sync",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown role {text:?}; expected one of: {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// Who may call a write method at all, whatever the request says.
///
/// The host checks a method's gate before the request is decoded, so a caller without the
/// right is refused with PERMISSION_DENIED and learns nothing of the method's rules (which
/// fields it wants, which values it takes). The service checks again where it loads the
/// data, with the subtree and the volunteer's own records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// The roles that may call the method.
    pub roles: &'static [Role],
    /// Whether a volunteer may call it too, for itself (the service checks whose record it is).
    pub volunteer_for_itself: bool,
    /// What the method does, for the refusal: "managing activities".
    pub action: &'static str,
}

/// A service's gates: the gate of a method (named `Service/Method`, for example
/// `ActivityService/CreateActivity`), or None where the service alone decides (reads, whose
/// answers depend on what the caller may see).
pub type Gates = fn(method: &str) -> Option<Gate>;

/// Who is calling: taken from a verified token and put into the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The caller's id (a user name or system name); written into change histories.
    pub subject: String,
    /// The id of the org unit the caller acts for; its subtree bounds everything.
    pub org_unit: String,
    /// The caller's roles.
    pub roles: BTreeSet<Role>,
    /// For the volunteer role: the volunteer's id.
    pub volunteer: Option<String>,
}

impl Principal {
    /// True when the principal holds any of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.roles.contains(role))
    }

    /// PERMISSION_DENIED unless the principal holds one of `roles`.
    pub fn require_any(&self, roles: &[Role], action: &str) -> Result<(), ApiError> {
        if self.has_any(roles) {
            return Ok(());
        }
        let wanted = roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        Err(ApiError::permission_denied(
            format!("{action} needs the role {wanted}"),
            format!("{action} 需要以下角色之一：{wanted}"),
        ))
    }

    /// PERMISSION_DENIED unless the principal may pass `gate`.
    pub fn require_gate(&self, gate: &Gate) -> Result<(), ApiError> {
        if gate.volunteer_for_itself && self.has_any(&[Role::Volunteer]) {
            return Ok(());
        }
        if !gate.volunteer_for_itself {
            return self.require_any(gate.roles, gate.action);
        }
        let roles: Vec<Role> = gate
            .roles
            .iter()
            .copied()
            .chain([Role::Volunteer])
            .collect();
        self.require_any(&roles, gate.action)
    }

    /// The principal of a request, put there by the authentication layer.
    pub fn of<T>(request: &tonic::Request<T>) -> Result<Principal, ApiError> {
        request
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Unauthenticated("a bearer token is required".to_string()))
    }
}

/// The claims of an Egret token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: the instance id.
    pub iss: String,
    /// Subject: the principal's id.
    pub sub: String,
    /// The org unit id the principal acts for.
    pub org: String,
    /// Roles.
    pub roles: Vec<Role>,
    /// For the volunteer role: the volunteer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vol: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
    /// Expires at, seconds since the epoch.
    pub exp: u64,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Signs tokens for one instance.
#[derive(Clone)]
pub struct TokenIssuer {
    key: SigningKey,
    instance: String,
}

impl TokenIssuer {
    /// An issuer with the instance's signing key.
    pub fn new(key: SigningKey, instance: impl Into<String>) -> Self {
        Self {
            key,
            instance: instance.into(),
        }
    }

    /// A compact JWT for the principal, valid for `ttl`.
    pub fn issue(&self, principal: &Principal, ttl: Duration) -> String {
        let issued_at = now_seconds();
        let claims = Claims {
            iss: self.instance.clone(),
            sub: principal.subject.clone(),
            org: principal.org_unit.clone(),
            roles: principal.roles.iter().copied().collect(),
            vol: principal.volunteer.clone(),
            iat: issued_at,
            exp: issued_at + ttl.as_secs().max(1),
        };
        let header = Header {
            alg: "EdDSA".to_string(),
            typ: "JWT".to_string(),
        };
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).expect("header serializes")),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims serialize"))
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// How many verified tokens a verifier remembers.
const VERIFIED_TOKENS: usize = 8192;

/// Verifies tokens of one instance.
///
/// A client sends the same token on every call until it expires, and checking an Ed25519
/// signature costs tens of microseconds, a large part of a cheap read. So a verified token
/// is remembered by its SHA-256 digest, with its principal and expiry; a remembered token
/// is accepted again only until it expires.
#[derive(Clone)]
pub struct TokenVerifier {
    key: VerifyingKey,
    instance: String,
    verified: Arc<quick_cache::sync::Cache<[u8; 32], (Principal, u64)>>,
}

impl TokenVerifier {
    /// A verifier with the instance's public key.
    pub fn new(key: VerifyingKey, instance: impl Into<String>) -> Self {
        Self {
            key,
            instance: instance.into(),
            verified: Arc::new(quick_cache::sync::Cache::new(VERIFIED_TOKENS)),
        }
    }

    /// The principal named by a valid token; the reason in plain words otherwise.
    pub fn verify(&self, token: &str) -> Result<Principal, String> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((principal, expires)) = self.verified.get(&digest) {
            if expires > now_seconds() {
                return Ok(principal);
            }
            self.verified.remove(&digest);
            return Err("the token has expired".to_string());
        }
        let (principal, expires) = self.verify_signed(token)?;
        self.verified.insert(digest, (principal.clone(), expires));
        Ok(principal)
    }

    /// The principal and expiry of a token whose signature and claims are valid.
    fn verify_signed(&self, token: &str) -> Result<(Principal, u64), String> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the token is not a JWT".to_string());
        };
        let header: Header = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or("the token header is malformed")?;
        if header.alg != "EdDSA" {
            return Err(format!(
                "the token algorithm {} is not accepted",
                header.alg
            ));
        }
        let signature_bytes: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or("the token signature is malformed")?;
        let signing_input_len = token.len() - signature.len() - 1;
        self.key
            .verify(
                &token.as_bytes()[..signing_input_len],
                &Signature::from_bytes(&signature_bytes),
            )
            .map_err(|_| "the token signature does not verify".to_string())?;
        let claims: Claims = URL_SAFE_NO_PAD
            .decode(claims)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or("the token claims are malformed")?;
        if claims.iss != self.instance {
            return Err(format!(
                "the token was issued by instance {}, not {}",
                claims.iss, self.instance
            ));
        }
        if claims.exp <= now_seconds() {
            return Err("the token has expired".to_string());
        }
        if claims.roles.is_empty() {
            return Err("the token names no role".to_string());
        }
        if claims.roles.contains(&Role::Volunteer) && claims.vol.is_none() {
            return Err("a volunteer token must name the volunteer".to_string());
        }
        let principal = Principal {
            subject: claims.sub,
            org_unit: claims.org,
            roles: claims.roles.into_iter().collect(),
            volunteer: claims.vol,
        };
        Ok((principal, claims.exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            subject: "alice".to_string(),
            org_unit: "root".to_string(),
            roles: [Role::Staff, Role::Viewer].into_iter().collect(),
            volunteer: None,
        }
    }

    /// `token` with one character in its middle changed.
    fn tampered(token: &str) -> String {
        let mut bytes = token.as_bytes().to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let issuer = TokenIssuer::new(key.clone(), "xm");
        let verifier = TokenVerifier::new(key.verifying_key(), "xm");
        let token = issuer.issue(&principal(), Duration::from_secs(60));
        assert_eq!(verifier.verify(&token), Ok(principal()));

        assert!(verifier.verify(&tampered(&token)).is_err());

        let other_instance = TokenVerifier::new(key.verifying_key(), "xm-siming");
        assert!(other_instance.verify(&token).is_err());

        let other_key = TokenVerifier::new(SigningKey::from_bytes(&[4; 32]).verifying_key(), "xm");
        assert!(other_key.verify(&token).is_err());
        assert!(verifier.verify("not.a.token").is_err());
        assert!(verifier.verify("").is_err());
    }

    #[test]
    fn remembered_tokens_answer_alike_until_they_expire() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let issuer = TokenIssuer::new(key.clone(), "xm");
        let verifier = TokenVerifier::new(key.verifying_key(), "xm");
        let token = issuer.issue(&principal(), Duration::from_secs(60));
        // The second answer comes from memory, and a clone shares it.
        assert_eq!(verifier.verify(&token), Ok(principal()));
        assert_eq!(verifier.clone().verify(&token), Ok(principal()));
        assert_eq!(verifier.verified.len(), 1);
        // A tampered copy of a remembered token is checked in full.
        assert!(verifier.verify(&tampered(&token)).is_err());
        // A remembered token past its expiry is refused and forgotten.
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        verifier
            .verified
            .insert(digest, (principal(), now_seconds() - 1));
        assert_eq!(
            verifier.verify(&token),
            Err("the token has expired".to_string())
        );
        assert_eq!(verifier.verified.len(), 0);
    }

    #[test]
    fn roles_parse_and_check() {
        assert_eq!("team_leader".parse::<Role>(), Ok(Role::TeamLeader));
        assert!("root".parse::<Role>().is_err());
        let principal = principal();
        assert!(
            principal
                .require_any(&[Role::Admin, Role::Staff], "x")
                .is_ok()
        );
        assert!(principal.require_any(&[Role::Sync], "x").is_err());
    }
}

/// A client interceptor for one service calling another's change log: it signs a
/// short-lived token with the sync role for every call and passes the trace context on.
#[derive(Clone)]
pub struct SyncCredentials {
    issuer: std::sync::Arc<TokenIssuer>,
    subject: String,
}

impl SyncCredentials {
    /// Credentials signed by the instance's key, naming the calling service as subject.
    pub fn new(issuer: TokenIssuer, subject: impl Into<String>) -> Self {
        Self {
            issuer: std::sync::Arc::new(issuer),
            subject: subject.into(),
        }
    }
}

impl tonic::service::Interceptor for SyncCredentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let principal = Principal {
            subject: self.subject.clone(),
            org_unit: String::new(),
            roles: [Role::Sync].into_iter().collect(),
            volunteer: None,
        };
        let token = self.issuer.issue(&principal, Duration::from_secs(300));
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| tonic::Status::internal("token is not ASCII"))?;
        request.metadata_mut().insert("authorization", value);
        crate::telemetry::inject_trace_context(request.metadata_mut());
        Ok(request)
    }
}
