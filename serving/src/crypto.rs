//! Cryptographic building blocks: random tokens, token hashes, password hashing and
//! encryption of secrets at rest.
//!
//! - Random values come from the operating system ([`getrandom`]).
//! - Bearer secrets we hand out (refresh tokens, API keys, email tokens, recovery codes) are
//!   stored only as SHA-256 hashes: they are 256-bit random values, so a fast hash is enough
//!   and lets us look them up by hash. Passwords, which are low-entropy, use Argon2id.
//! - Secrets we must read back (TOTP seeds, later OAuth tokens) are sealed with AES-256-GCM
//!   by [`SecretBox`]. Each ciphertext names the key that sealed it (`k1.<key id>.<base64>`),
//!   so keys can be rotated: the current key seals, previous keys still open.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::config::PasswordHashing;

/// A cryptographic operation failed. These are internal failures, never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// A sealed secret could not be opened (unknown key, corrupted or tampered).
    #[error("cannot open sealed secret: {0}")]
    Open(String),
    /// Sealing failed.
    #[error("cannot seal secret: {0}")]
    Seal(String),
}

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| CryptoError::Random(error.to_string()))?;
    Ok(bytes)
}

/// A random identifier: `prefix` followed by 20 lowercase hex digits (80 bits).
pub fn random_id(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!("{prefix}{}", hex(&random_bytes::<10>()?)))
}

/// A random bearer token: `prefix` followed by 256 random bits in URL-safe base64.
pub fn random_token(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!(
        "{prefix}{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// SHA-256 of `text`, as lowercase hex: how bearer tokens are stored.
pub fn token_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn argon2(hashing: PasswordHashing) -> Result<Argon2<'static>, CryptoError> {
    let params = match hashing {
        PasswordHashing::Standard => Params::new(19 * 1024, 2, 1, None),
        PasswordHashing::FastForTests => Params::new(256, 1, 1, None),
    }
    .map_err(|error| CryptoError::PasswordHash(error.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with Argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str, hashing: PasswordHashing) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|error| CryptoError::PasswordHash(error.to_string()))?;
    let hash = argon2(hashing)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| CryptoError::PasswordHash(error.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC `hash` (the parameters come from the hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A 256-bit key for secrets at rest, with its short public id.
#[derive(Clone)]
struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(key: &[u8; 32]) -> Self {
        SealingKey {
            id: hex(&Sha256::digest(key)[..4]),
            cipher: Aes256Gcm::new(key.into()),
        }
    }
}

/// Seals and opens secrets at rest with AES-256-GCM.
#[derive(Clone)]
pub struct SecretBox {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SecretBox(key {})", self.current.id)
    }
}

/// Decodes a key given as base64 of exactly 32 bytes.
pub fn decode_key(text: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|error| format!("not base64: {error}"))?;
    bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| format!("{} bytes, expected 32", bytes.len()))
}

impl SecretBox {
    /// A box sealing with `current` and also opening what `previous` keys sealed.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        SecretBox {
            current: SealingKey::new(current),
            previous: previous.iter().map(SealingKey::new).collect(),
        }
    }

    /// Encrypts `plaintext` under the current key: `k1.<key id>.<base64(nonce ‖ ciphertext)>`.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        let nonce_bytes = random_bytes::<12>()?;
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plaintext)
            .map_err(|error| CryptoError::Seal(error.to_string()))?;
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(format!(
            "k1.{}.{}",
            self.current.id,
            STANDARD.encode(sealed)
        ))
    }

    /// Decrypts what [`SecretBox::seal`] produced with the current or a previous key.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("k1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Open("unknown format".into()));
        };
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == key_id)
            .ok_or_else(|| CryptoError::Open(format!("no key with id {key_id}")))?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|error| CryptoError::Open(error.to_string()))?;
        if bytes.len() < 12 {
            return Err(CryptoError::Open("too short".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        key.cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Open("authentication failed".into()))
    }

    /// Whether `sealed` was sealed with the current key (otherwise re-seal on next write).
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.starts_with(&format!("k1.{}.", self.current.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse", PasswordHashing::FastForTests).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsE", &hash));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn sealed_secrets_round_trip_and_rotate() {
        let old = SecretBox::new(&[1; 32], &[]);
        let sealed = old.seal(b"seed").unwrap();
        assert_eq!(old.open(&sealed).unwrap(), b"seed");
        let rotated = SecretBox::new(&[2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed).unwrap(), b"seed");
        assert!(!rotated.is_current(&sealed));
        let unrelated = SecretBox::new(&[3; 32], &[]);
        assert!(unrelated.open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(old.open(&tampered).is_err() || tampered == sealed);
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(decode_key(&STANDARD.encode([0u8; 32])).is_ok());
        assert!(decode_key(&STANDARD.encode([0u8; 16])).is_err());
        assert!(decode_key("%%%").is_err());
    }
}
