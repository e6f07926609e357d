//! Enrollment credentials: how a district instance proves to its upstream that it is the
//! instance the upstream enrolled.
//!
//! A credential reads `egret-enrollment.{instance_id}.{secret}`, the secret being 32 random
//! bytes (base64url). The upstream keeps only the SHA-256 digest of the secret: it is high
//! entropy, so a fast digest suffices and a stolen table reveals no credential. The
//! instance id travels in clear so a district can check, before dialling, that its
//! credential was issued for it.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "egret-enrollment";

/// An enrollment credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    instance_id: String,
    secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never reaches a log.
        formatter
            .debug_struct("Credential")
            .field("instance_id", &self.instance_id)
            .finish_non_exhaustive()
    }
}

/// Whether `text` is a valid instance id (as `instance.id` requires): 1 to 32 lowercase
/// letters, digits and inner hyphens.
pub fn is_valid_instance_id(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Credential {
    /// A fresh credential for `instance_id`.
    pub fn generate(instance_id: &str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self {
            instance_id: instance_id.to_string(),
            secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        }
    }

    /// Reads a credential, or says what is wrong with it (never quoting the secret).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.trim().splitn(3, '.');
        let (Some(PREFIX), Some(instance_id), Some(secret)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "is not an enrollment credential (it reads {PREFIX}.<instance id>.<secret>)"
            ));
        };
        if !is_valid_instance_id(instance_id) {
            return Err("names no valid instance id".to_string());
        }
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| "has a damaged secret".to_string())?;
        if decoded.len() != 32 {
            return Err("has a damaged secret".to_string());
        }
        Ok(Self {
            instance_id: instance_id.to_string(),
            secret: secret.to_string(),
        })
    }

    /// The instance the credential was issued for.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The credential as the district configures it.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}.{}.{}", self.instance_id, self.secret)
    }

    /// The digest the upstream stores.
    pub fn digest(&self) -> String {
        Sha256::digest(self.secret.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether the credential is the one whose digest is `stored`, in time independent
    /// of where they differ.
    pub fn matches(&self, stored: &str) -> bool {
        let digest = self.digest();
        digest.len() == stored.len()
            && digest
                .bytes()
                .zip(stored.bytes())
                .fold(0u8, |difference, (a, b)| difference | (a ^ b))
                == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_reads_back_and_matches_only_its_digest() {
        let credential = Credential::generate("xm-siming");
        let parsed = Credential::parse(&credential.reveal()).expect("parses");
        assert_eq!(parsed, credential);
        assert!(parsed.matches(&credential.digest()));
        assert!(!Credential::generate("xm-siming").matches(&credential.digest()));
        assert!(!format!("{credential:?}").contains(&credential.secret));
    }

    #[test]
    fn damaged_credentials_are_refused_without_quoting_them() {
        let good = Credential::generate("xm-siming").reveal();
        for bad in [
            "",
            "xm-siming",
            "egret-enrollment.xm-siming",
            "egret-enrollment.XM.c2VjcmV0",
            "egret-enrollment.xm-siming.short",
            &good.replace("egret-enrollment", "egret-token"),
            &format!("{good}!"),
        ] {
            let error = Credential::parse(bad).expect_err(bad);
            assert!(
                !bad.is_empty() && !error.contains(bad) || bad.is_empty(),
                "{error}"
            );
        }
    }

    #[test]
    fn instance_ids_are_short_lowercase_names() {
        for good in ["xm", "xm-siming", "xm-huli-2"] {
            assert!(is_valid_instance_id(good), "{good}");
        }
        for bad in ["", "Xm", "xm_siming", "-xm", "xm-", &"a".repeat(33)] {
            assert!(!is_valid_instance_id(bad), "{bad}");
        }
    }
}
