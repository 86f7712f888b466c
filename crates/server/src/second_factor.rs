//! TOTP second factor (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps, one step of
//! clock skew either way) and one-time recovery codes.
//!
//! A code is good once: the time step it matched is recorded, and only a later step
//! is accepted afterwards (see `DirectoryStore::use_totp_step`). Recovery codes are
//! high-entropy, so a SHA-256 of each is enough to store.

use rand::Rng;
use sha2::{Digest as _, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "Airlock";

fn totp(secret: &[u8]) -> anyhow::Result<TOTP> {
    TOTP::new(Algorithm::SHA1, DIGITS, 1, STEP_SECS, secret.to_vec())
        .map_err(|e| anyhow::anyhow!("TOTP secret: {e}"))
}

/// What enrolment hands the user, once.
#[derive(Debug, serde::Serialize)]
pub struct Enrolment {
    /// The shared secret, base32, for typing into an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` URL (what a QR code would carry).
    pub otpauth_url: String,
    pub recovery_codes: Vec<String>,
    #[serde(skip)]
    pub secret_bytes: Vec<u8>,
    #[serde(skip)]
    pub recovery_hashes: Vec<String>,
}

/// `key`: what recovery codes are hashed with (see [`recovery_hash`]).
pub fn enrol(user: &str, key: &[u8; 32]) -> anyhow::Result<Enrolment> {
    let mut secret_bytes = vec![0u8; 20];
    rand::thread_rng().fill(&mut secret_bytes[..]);
    totp(&secret_bytes)?;
    let secret = Secret::Raw(secret_bytes.clone()).to_encoded().to_string();
    let label = percent_encoding::utf8_percent_encode(
        &format!("{ISSUER}:{user}"),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    let otpauth_url = format!(
        "otpauth://totp/{label}?secret={secret}&issuer={ISSUER}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}"
    );
    let recovery_codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let recovery_hashes = recovery_codes
        .iter()
        .map(|c| recovery_hash(key, c))
        .collect();
    Ok(Enrolment {
        secret,
        otpauth_url,
        recovery_codes,
        secret_bytes,
        recovery_hashes,
    })
}

fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
            .collect()
    };
    format!("{}-{}", pick(5), pick(5))
}

fn normal_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The stored form of a recovery code (case and dashes do not matter): an
/// HMAC-SHA256 under `key`, derived from the sealed-secrets key outside the database.
/// A code has about 50 bits; a plain hash of it could be searched by whoever reads the
/// database, a keyed one cannot without the key.
pub fn recovery_hash(key: &[u8; 32], code: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(normal_recovery_code(code).as_bytes());
    format!("h1:{}", hex::encode(mac.finalize().into_bytes()))
}

/// How codes enrolled before recovery hashes were keyed are stored (plain SHA-256):
/// still accepted, once each, until the user enrols again.
pub fn legacy_recovery_hash(code: &str) -> String {
    hex::encode(Sha256::digest(normal_recovery_code(code).as_bytes()))
}

/// Whether `code` looks like a TOTP code (as opposed to a recovery code).
pub fn is_totp_code(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The time step `code` is valid for at `now` (unix seconds), if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<i64> {
    if !is_totp_code(code) {
        return None;
    }
    let totp = totp(secret).ok()?;
    let current = now / STEP_SECS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| {
            let expected = totp.generate(step * STEP_SECS);
            constant_time_eq(expected.as_bytes(), code.as_bytes())
        })
        .map(|s| s as i64)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The secret bytes of a base32 secret as enrolment shows it.
pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    Secret::Encoded(base32.to_owned()).to_bytes().ok()
}

/// The code for `secret` at a moment (what an authenticator app shows).
pub fn code_at(secret: &[u8], unix: u64) -> anyhow::Result<String> {
    Ok(totp(secret)?.generate(unix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1, secret "12345678901234567890", 8 digits there;
        // the 6-digit code is its last 6 digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(code_at(secret, 1111111109).unwrap(), "081804");
    }

    #[test]
    fn accepts_one_step_of_skew_only() {
        let e = enrol("alice", &[1; 32]).unwrap();
        let now = 1_700_000_000;
        let code = code_at(&e.secret_bytes, now).unwrap();
        let step = (now / STEP_SECS) as i64;
        assert_eq!(matching_step(&e.secret_bytes, &code, now), Some(step));
        assert_eq!(
            matching_step(&e.secret_bytes, &code, now + STEP_SECS),
            Some(step)
        );
        assert_eq!(
            matching_step(&e.secret_bytes, &code, now + 3 * STEP_SECS),
            None
        );
        assert_eq!(matching_step(&e.secret_bytes, "12345", now), None);
        assert_eq!(matching_step(&e.secret_bytes, "abcdef", now), None);
    }

    #[test]
    fn enrolment_material() {
        let e = enrol("alice@example", &[1; 32]).unwrap();
        assert_eq!(e.recovery_codes.len(), RECOVERY_CODES);
        assert!(e
            .otpauth_url
            .starts_with("otpauth://totp/Airlock%3Aalice%40example?secret="));
        assert_eq!(
            recovery_hash(
                &[1; 32],
                &e.recovery_codes[0].to_uppercase().replace('-', "")
            ),
            e.recovery_hashes[0]
        );
        assert_eq!(
            Secret::Encoded(e.secret.clone()).to_bytes().unwrap(),
            e.secret_bytes
        );
    }
}
