//! Password hashing: argon2id with the argon2 crate's default parameters (19 MiB, two
//! passes, one lane: OWASP's minimum for argon2id), stored as PHC strings, so parameters
//! can be raised later without invalidating stored hashes.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use egret_runtime::ApiError;

/// A hash of a random password, checked when a username matches no account, so that an
/// unknown username takes as long to refuse as a wrong password.
static DECOY: LazyLock<String> =
    LazyLock::new(|| hash(&super::domain::one_time_password()).unwrap_or_default());

/// The decoy hash.
pub fn decoy() -> &'static str {
    DECOY.as_str()
}

/// The PHC string of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("hashing a password: {error}")))
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let first = hash("correct horse battery").unwrap();
        let second = hash("correct horse battery").unwrap();
        assert_ne!(first, second, "salted");
        assert!(first.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &first));
        assert!(!verify("wrong horse battery", &first));
        assert!(!verify("anything", "not a hash"));
        assert!(!decoy().is_empty());
    }
}
