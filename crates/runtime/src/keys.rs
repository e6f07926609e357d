//! Keys: the token-signing key and the keys that protect personal data at rest.
//!
//! On an embedded instance every key is generated into `data_dir/keys` on first start
//! (files readable by the owner only); a production deployment passes them in config.

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::{AuthSettings, KeySettings};

const NONCE_LEN: usize = 12;

/// Decodes a 32-byte key from base64, or None when it is not one.
pub fn decode_key(encoded: &str) -> Option<[u8; 32]> {
    let bytes = STANDARD.decode(encoded.trim()).ok()?;
    bytes.try_into().ok()
}

/// Encodes a 32-byte key as base64.
pub fn encode_key(key: &[u8; 32]) -> String {
    STANDARD.encode(key)
}

/// The directory that holds generated keys.
pub fn key_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Reads a key file, or creates it with a fresh random key when it does not exist yet.
/// Creation is atomic (`create_new`), so two processes starting at once agree on one key.
fn load_or_create_key_file(path: &Path) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating key directory {}", parent.display()))?;
    }
    let mut fresh = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.fill_bytes(fresh.as_mut());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(encode_key(&fresh).as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("writing key file {}", path.display()))?;
            Ok(fresh)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = Zeroizing::new(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading key file {}", path.display()))?,
            );
            let key = decode_key(&text).with_context(|| {
                format!(
                    "key file {} does not hold a 32-byte base64 key",
                    path.display()
                )
            })?;
            Ok(Zeroizing::new(key))
        }
        Err(error) => Err(error).with_context(|| format!("creating key file {}", path.display())),
    }
}

fn configured_or_file(configured: &str, path: &Path) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    if configured.is_empty() {
        return load_or_create_key_file(path);
    }
    decode_key(configured)
        .map(Zeroizing::new)
        .context("configured key is not 32 bytes in base64")
}

/// Loads (or generates) the instance's token-signing key.
pub fn signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let seed = load_or_create_key_file(&key_dir(data_dir).join("token-signing.key"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Loads (or generates) the instance's certificate-signing key: a key of its own, so that
/// certificates stay verifiable when the token key is rotated, and the reverse.
pub fn certificate_signing_key(data_dir: &Path) -> anyhow::Result<SigningKey> {
    let seed = load_or_create_key_file(&key_dir(data_dir).join("certificate-signing.key"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The key that verifies tokens: the configured public key, or the one derived from the
/// signing key in the data directory.
pub fn verifying_key(data_dir: &Path, auth: &AuthSettings) -> anyhow::Result<VerifyingKey> {
    if auth.public_key.is_empty() {
        return Ok(signing_key(data_dir)?.verifying_key());
    }
    let bytes =
        decode_key(&auth.public_key).context("auth.public_key is not 32 bytes in base64")?;
    VerifyingKey::from_bytes(&bytes).context("auth.public_key is not an Ed25519 public key")
}

fn keyed_hash(key: &[u8], domain: &str, value: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(domain.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Encrypts personal data at rest (AES-256-GCM) and computes the keyed hash
/// (HMAC-SHA256) by which it is found without decrypting anything.
#[derive(Clone)]
pub struct PersonalDataCipher {
    cipher: Aes256Gcm,
    lookup_key: Zeroizing<[u8; 32]>,
    federation_key: Option<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for PersonalDataCipher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PersonalDataCipher { .. }")
    }
}

impl PersonalDataCipher {
    /// Builds the cipher from raw keys.
    pub fn new(encryption_key: &[u8; 32], lookup_key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(encryption_key.into()),
            lookup_key: Zeroizing::new(*lookup_key),
            federation_key: None,
        }
    }

    /// The same, also computing federation hashes with `key` (a district's).
    pub fn with_federation_key(mut self, key: &[u8; 32]) -> Self {
        self.federation_key = Some(Zeroizing::new(*key));
        self
    }

    /// Loads keys from config, or from (or into) the data directory.
    pub fn load(data_dir: &Path, keys: &KeySettings) -> anyhow::Result<Self> {
        let dir = key_dir(data_dir);
        let encryption =
            configured_or_file(&keys.data_encryption_key, &dir.join("data-encryption.key"))
                .context("keys.data_encryption_key")?;
        let lookup = configured_or_file(&keys.lookup_hash_key, &dir.join("lookup-hash.key"))
            .context("keys.lookup_hash_key")?;
        let cipher = Self::new(&encryption, &lookup);
        // Never generated: the federation key is the federation's, given to districts.
        match decode_key(&keys.federation_hash_key) {
            Some(federation) => Ok(cipher.with_federation_key(&federation)),
            None => Ok(cipher),
        }
    }

    /// Encrypts: a random nonce followed by the ciphertext and tag.
    pub fn encrypt(&self, plaintext: &str) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts what [`encrypt`](Self::encrypt) produced; fails when the data or key differ.
    pub fn decrypt(&self, sealed: &[u8]) -> anyhow::Result<String> {
        if sealed.len() <= NONCE_LEN {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("decryption failed: wrong key or corrupted data"))?;
        String::from_utf8(plaintext).context("decrypted value is not UTF-8")
    }

    /// The keyed hash of a value within a domain (for example the ID type), as lowercase
    /// hex. The same person gets the same hash on every instance that shares the key.
    pub fn lookup_hash(&self, domain: &str, value: &str) -> String {
        keyed_hash(self.lookup_key.as_ref(), domain, value)
    }

    /// The hash of a value under the federation key, by which the city recognises one
    /// person registered in two districts; None where no federation key is configured (the
    /// city never holds one).
    pub fn federation_hash(&self, domain: &str, value: &str) -> Option<String> {
        self.federation_key
            .as_ref()
            .map(|key| keyed_hash(key.as_ref(), &format!("federation/{domain}"), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_generated_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = PersonalDataCipher::load(dir.path(), &KeySettings::default()).expect("load");
        let sealed = first.encrypt("350203199003150021").expect("encrypt");
        let second = PersonalDataCipher::load(dir.path(), &KeySettings::default()).expect("reload");
        assert_eq!(
            second.decrypt(&sealed).expect("decrypt"),
            "350203199003150021"
        );
        assert_eq!(
            first.lookup_hash("resident_id", "x"),
            second.lookup_hash("resident_id", "x")
        );
        assert_ne!(
            first.lookup_hash("resident_id", "x"),
            first.lookup_hash("passport", "x")
        );
        let signing = signing_key(dir.path()).expect("signing key");
        assert_eq!(
            signing.verifying_key(),
            verifying_key(dir.path(), &AuthSettings::default()).expect("verifying key")
        );
    }

    #[test]
    fn tampered_ciphertext_fails() {
        let cipher = PersonalDataCipher::new(&[7; 32], &[9; 32]);
        let mut sealed = cipher.encrypt("secret").expect("encrypt");
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(cipher.decrypt(&sealed).is_err());
        assert!(!format!("{cipher:?}").contains('7'));
    }
}
