//! Secret handling shared by every kind of credential: argon2id password checks
//! (slow by design, so a success is remembered for a few minutes, keyed by a SHA-256
//! of the stored hash and the password, never the password itself), generated
//! secrets, and sealing of the few secrets that must be read back (TOTP keys) with
//! AES-256-GCM under a key kept in the data directory.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use std::time::{Duration, Instant};

const REMEMBER_VERIFIED: Duration = Duration::from_secs(300);
/// Longest password looked at; anything longer is wrong without hashing it.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A random alphanumeric secret of `len` characters.
pub fn generate(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// Checks passwords against argon2id PHC hashes, remembering successes.
pub struct PasswordCheck {
    verified: quick_cache::sync::Cache<[u8; 32], Instant>,
}

impl Default for PasswordCheck {
    fn default() -> Self {
        PasswordCheck {
            verified: quick_cache::sync::Cache::new(10_000),
        }
    }
}

impl PasswordCheck {
    /// Whether `password` matches `hash`. A changed hash (rotation, a new password)
    /// is a different key, so nothing remembered outlives it.
    pub async fn matches(&self, hash: &str, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let mut h = Sha256::new();
        h.update(hash.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        let key: [u8; 32] = h.finalize().into();
        if let Some(at) = self.verified.get(&key) {
            if at.elapsed() < REMEMBER_VERIFIED {
                return true;
            }
        }
        let (hash, password) = (hash.to_owned(), password.to_owned());
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|p| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &p)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            self.verified.insert(key, Instant::now());
        }
        ok
    }
}

/// Seals and opens small secrets with AES-256-GCM (random 96-bit nonce per seal).
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub const KEY_LEN: usize = 32;

    pub fn generate_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    pub fn new(key: &[u8]) -> anyhow::Result<Sealer> {
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| anyhow::anyhow!("the secrets key must be {} bytes", Self::KEY_LEN))?;
        Ok(Sealer { cipher })
    }

    /// `base64(nonce || ciphertext)`.
    pub fn seal(&self, plain: &[u8]) -> anyhow::Result<String> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| anyhow::anyhow!("sealing a secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> anyhow::Result<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| anyhow::anyhow!("a sealed secret is malformed"))?;
        if raw.len() < 12 {
            anyhow::bail!("a sealed secret is malformed");
        }
        let (nonce, body) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| anyhow::anyhow!("a sealed secret does not open with this key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let s = Sealer::new(&Sealer::generate_key()).unwrap();
        let sealed = s.seal(b"top secret").unwrap();
        assert_eq!(s.open(&sealed).unwrap(), b"top secret");
        assert_ne!(
            s.seal(b"top secret").unwrap(),
            sealed,
            "fresh nonce each time"
        );
        let other = Sealer::new(&Sealer::generate_key()).unwrap();
        assert!(other.open(&sealed).is_err());
        assert!(s.open("!!").is_err());
        assert!(Sealer::new(b"short").is_err());
    }

    #[tokio::test]
    async fn remembers_only_matching_hash_and_password() {
        let check = PasswordCheck::default();
        let hash = crate::auth::hash_password("pw").unwrap();
        assert!(check.matches(&hash, "pw").await);
        assert!(check.matches(&hash, "pw").await);
        assert!(!check.matches(&hash, "pw2").await);
        let other = crate::auth::hash_password("other").unwrap();
        assert!(!check.matches(&other, "pw").await);
        assert!(!check.matches("not a hash", "pw").await);
    }
}
