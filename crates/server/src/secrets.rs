//! Secret handling shared by every kind of credential: argon2id password checks
//! (slow by design, so a success is remembered for a few minutes, keyed by a SHA-256
//! of the stored hash and the password, never the password itself), generated
//! secrets, and sealing of the few secrets that must be read back (TOTP keys) with
//! AES-256-GCM under a key kept in the data directory.
//!
//! An argon2id verification takes tens of milliseconds and 19 MiB, and anyone who
//! knows a user name can ask for one. So, process-wide, at most one verification per
//! core runs at a time and a few per core wait; an attempt beyond that is refused as
//! [`Busy`] (`429` with `Retry-After`) without hashing, and memory stays bounded under
//! any burst. A credential that does not exist is verified against a dummy hash with
//! the same parameters, and all the hashes one attempt may match are verified side by
//! side, so the time an attempt takes does not tell whether the name exists.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::password_hash::PasswordHash;
use argon2::Argon2;
use base64::Engine as _;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

const REMEMBER_VERIFIED: Duration = Duration::from_secs(300);
/// Longest password looked at; anything longer is wrong without hashing it.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Verifications that may wait for a core, per core.
const WAITING_PER_CORE: usize = 32;

/// A random alphanumeric secret of `len` characters.
pub fn generate(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), len)
}

/// Too many password verifications are running or waiting: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// How much a check may do: hash, or only answer from remembered successes (the
/// fast path taken before an attempt is counted against the lockout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Full,
    RememberedOnly,
}

/// Why a password was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unchecked {
    /// Too many verifications running or waiting.
    Busy,
    /// Only remembered successes were consulted, and this is none.
    NotRemembered,
}

impl From<Busy> for Unchecked {
    fn from(_: Busy) -> Self {
        Unchecked::Busy
    }
}

/// The process-wide bound on argon2 verifications: one hashing thread per core, each
/// with its own memory for argon2's blocks, reused from one verification to the next
/// (argon2 allocating 19 MiB per verification on whatever blocking thread ran it left
/// the allocator holding hundreds of MiB after a burst), and a short queue in front.
struct HashGate {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
    /// Verifications queued or running; a hashing thread counts a job out when it is
    /// done with it, whether or not its caller is still waiting.
    in_flight: std::sync::Arc<AtomicUsize>,
    max_in_flight: usize,
}

struct Job {
    work: Work,
    password: String,
    done: tokio::sync::oneshot::Sender<Option<String>>,
}

enum Work {
    /// Verify against this PHC string: answers `Some("")` on a match.
    Verify(String),
    /// Hash with a new salt: answers the PHC string.
    Hash,
}

/// Largest argon2 memory cost a stored hash may ask for (256 MiB).
const MAX_HASH_BLOCKS: usize = 256 * 1024;

static GATE: LazyLock<HashGate> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    HashGate::start(cores, WAITING_PER_CORE)
});

/// Verifies `password` against the PHC string `hash` with argon2's blocks in
/// `memory` (grown when a hash asks for more). Comparison is constant-time.
fn verify_reusing(memory: &mut Vec<argon2::Block>, hash: &str, password: &[u8]) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > MAX_HASH_BLOCKS {
        return false;
    }
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        .is_ok()
        && argon2::password_hash::Output::new(out).is_ok_and(|o| o == expected)
}

/// Hashes `password` with argon2id's default parameters and a new salt, with argon2's
/// blocks in `memory`; the PHC string `PasswordHasher` would give.
fn hash_reusing(memory: &mut Vec<argon2::Block>, password: &[u8]) -> Option<String> {
    use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, SaltString};
    let params = argon2::Params::default();
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, argon2::Block::default());
    }
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).ok()?;
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    let version = argon2::Version::V0x13;
    Argon2::new(argon2::Algorithm::Argon2id, version, params.clone())
        .hash_password_into_with_memory(password, raw_salt, &mut out, &mut memory[..blocks])
        .ok()?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(version.into()),
        params: ParamsString::try_from(&params).ok()?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).ok()?),
    };
    Some(phc.to_string())
}

/// Hashes a new password or secret (argon2id, random salt) on the hashing threads,
/// waiting for a free one however long the queue: only authenticated callers set
/// secrets.
pub async fn hash_secret(password: &str) -> anyhow::Result<String> {
    GATE.run(Work::Hash, password.to_owned(), false)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| anyhow::anyhow!("hashing a password failed"))
}

/// What a credential that does not exist is checked against: an argon2id hash with
/// the parameters of real ones, of a secret nobody knows.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| crate::auth::hash_password(&generate(32)).expect("hashing a dummy password"));

impl HashGate {
    /// Starts `threads` hashing threads, with room for `waiting_per_thread` jobs each
    /// in the queue.
    fn start(threads: usize, waiting_per_thread: usize) -> HashGate {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let in_flight = std::sync::Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (rx, in_flight) = (rx.clone(), in_flight.clone());
            std::thread::Builder::new()
                .name(format!("airlock-hash-{i}"))
                .spawn(move || {
                    let mut memory: Vec<argon2::Block> = Vec::new();
                    loop {
                        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        let password = job.password.as_bytes();
                        let answer = match &job.work {
                            Work::Verify(hash) => {
                                verify_reusing(&mut memory, hash, password).then(String::new)
                            }
                            Work::Hash => hash_reusing(&mut memory, password),
                        };
                        in_flight.fetch_sub(1, Ordering::AcqRel);
                        let _ = job.done.send(answer);
                    }
                })
                .expect("starting a password hashing thread");
        }
        HashGate {
            jobs: std::sync::Mutex::new(tx),
            in_flight,
            max_in_flight: threads * (1 + waiting_per_thread),
        }
    }

    /// Verifies `password` against `hash` on a hashing thread, or refuses at once when
    /// the threads and their queue are full.
    async fn verify(&self, hash: String, password: String) -> Result<bool, Busy> {
        Ok(self
            .run(Work::Verify(hash), password, true)
            .await?
            .is_some())
    }

    /// Queues `work` for a hashing thread; with `bounded`, refuses when the threads
    /// and their queue are full.
    async fn run(
        &self,
        work: Work,
        password: String,
        bounded: bool,
    ) -> Result<Option<String>, Busy> {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) >= self.max_in_flight && bounded {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let (done, answer) = tokio::sync::oneshot::channel();
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Job {
                work,
                password,
                done,
            })
            .is_ok();
        if !sent {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            return Ok(None);
        }
        Ok(answer.await.ok().flatten())
    }
}

/// Successes remembered, process-wide (keyed by hash and password, so one cache
/// serves every kind of credential).
static REMEMBERED: LazyLock<quick_cache::sync::Cache<[u8; 32], Instant>> =
    LazyLock::new(|| quick_cache::sync::Cache::new(10_000));

/// Checks passwords against argon2id PHC hashes, remembering successes.
#[derive(Default)]
pub struct PasswordCheck {
    _private: (),
}

fn remember_key(hash: &str, password: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(hash.as_bytes());
    h.update([0]);
    h.update(password.as_bytes());
    h.finalize().into()
}

impl PasswordCheck {
    /// Whether `password` matches `hash`. A changed hash (rotation, a new password)
    /// is a different key, so nothing remembered outlives it.
    pub async fn matches(&self, hash: &str, password: &str) -> Result<bool, Busy> {
        Ok(self.first_match(&[Some(hash)], password).await? == Some(0))
    }

    /// Whether a success of `password` against one of `hashes` is remembered (no
    /// hashing): the fast path for clients that send their credentials every time.
    pub fn remembered(&self, hashes: &[&str], password: &str) -> Option<usize> {
        hashes.iter().position(|h| {
            REMEMBERED
                .get(&remember_key(h, password))
                .is_some_and(|at| at.elapsed() < REMEMBER_VERIFIED)
        })
    }

    /// Which of `candidates` a remembered success of `password` is for (no hashing).
    pub fn remembered_match(&self, candidates: &[Option<&str>], password: &str) -> Option<usize> {
        let real: Vec<&str> = candidates.iter().flatten().copied().collect();
        let hash = real[self.remembered(&real, password)?];
        candidates.iter().position(|c| *c == Some(hash))
    }

    /// [`PasswordCheck::first_match`], or with [`Verify::RememberedOnly`] only what
    /// remembered successes say.
    pub async fn check(
        &self,
        candidates: &[Option<&str>],
        password: &str,
        verify: Verify,
    ) -> Result<Option<usize>, Unchecked> {
        match verify {
            Verify::Full => Ok(self.first_match(candidates, password).await?),
            Verify::RememberedOnly => self
                .remembered_match(candidates, password)
                .map(Some)
                .ok_or(Unchecked::NotRemembered),
        }
    }

    /// Which of `candidates` `password` matches (the first, in order), all verified
    /// side by side. `None` stands for a credential that does not exist: it is
    /// verified against a dummy hash and never matches, so the answer takes as long
    /// as for one that exists.
    pub async fn first_match(
        &self,
        candidates: &[Option<&str>],
        password: &str,
    ) -> Result<Option<usize>, Busy> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(None);
        }
        if let Some(hit) = self.remembered_match(candidates, password) {
            return Ok(Some(hit));
        }
        let checks = candidates.iter().map(|c| {
            let hash = c.unwrap_or(DUMMY_HASH.as_str()).to_owned();
            GATE.verify(hash, password.to_owned())
        });
        let results = futures_util::future::join_all(checks).await;
        let mut first = None;
        for (i, r) in results.into_iter().enumerate() {
            if r? && candidates[i].is_some() && first.is_none() {
                first = Some(i);
            }
        }
        if let Some(i) = first {
            if let Some(hash) = candidates[i] {
                REMEMBERED.insert(remember_key(hash, password), Instant::now());
            }
        }
        Ok(first)
    }
}

/// Seals and opens small secrets with AES-256-GCM (random 96-bit nonce per seal).
pub struct Sealer {
    cipher: Aes256Gcm,
    /// What recovery codes are hashed with: derived from the same key, so it is not
    /// in the database either.
    recovery_key: [u8; 32],
}

impl Sealer {
    pub const KEY_LEN: usize = 32;

    pub fn generate_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    pub fn new(key: &[u8]) -> anyhow::Result<Sealer> {
        use hmac::{Hmac, Mac};
        let cipher = Aes256Gcm::new_from_slice(key)
            .map_err(|_| anyhow::anyhow!("the secrets key must be {} bytes", Self::KEY_LEN))?;
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(b"airlock recovery codes v1");
        Ok(Sealer {
            cipher,
            recovery_key: mac.finalize().into_bytes().into(),
        })
    }

    /// The key recovery codes are hashed with.
    pub fn recovery_key(&self) -> &[u8; 32] {
        &self.recovery_key
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
        assert_eq!(check.matches(&hash, "pw").await, Ok(true));
        assert_eq!(check.remembered(&[&hash], "pw"), Some(0));
        assert_eq!(check.matches(&hash, "pw").await, Ok(true));
        assert_eq!(check.matches(&hash, "pw2").await, Ok(false));
        assert_eq!(check.remembered(&[&hash], "pw2"), None);
        let other = crate::auth::hash_password("other").unwrap();
        assert_eq!(check.matches(&other, "pw").await, Ok(false));
        assert_eq!(check.matches("not a hash", "pw").await, Ok(false));
    }

    #[tokio::test]
    async fn hashes_made_with_reused_memory_are_standard_phc_strings() {
        use argon2::PasswordVerifier;
        let ours = hash_secret("s3cret").await.unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
        let theirs = crate::auth::hash_password("s3cret").unwrap();
        let mut memory = Vec::new();
        assert!(verify_reusing(&mut memory, &theirs, b"s3cret"));
        assert!(verify_reusing(&mut memory, &ours, b"s3cret"));
        assert!(!verify_reusing(&mut memory, &ours, b"s3cret!"));
        assert_ne!(
            hash_secret("s3cret").await.unwrap(),
            ours,
            "a new salt each time"
        );
    }

    #[tokio::test]
    async fn missing_credentials_never_match_and_order_decides() {
        let check = PasswordCheck::default();
        let a = crate::auth::hash_password("pw-a").unwrap();
        let b = crate::auth::hash_password("pw-b").unwrap();
        let c = [None, Some(a.as_str()), Some(b.as_str())];
        assert_eq!(check.first_match(&c, "pw-b").await, Ok(Some(2)));
        assert_eq!(check.first_match(&c, "pw-a").await, Ok(Some(1)));
        assert_eq!(check.first_match(&c, "nothing").await, Ok(None));
        assert_eq!(check.first_match(&[None], "").await, Ok(None));
        // Remembered, by position among the candidates given.
        assert_eq!(
            check.first_match(&[Some(b.as_str()), None], "pw-b").await,
            Ok(Some(0))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_beyond_the_queue_is_busy_not_hashed() {
        let gate = std::sync::Arc::new(HashGate::start(1, 2));
        let hash = crate::auth::hash_password("right").unwrap();
        let burst: Vec<_> = (0..gate.max_in_flight * 5)
            .map(|i| {
                let (gate, hash) = (gate.clone(), hash.clone());
                tokio::spawn(async move { gate.verify(hash, format!("wrong{i}")).await })
            })
            .collect();
        let mut busy = 0;
        for t in burst {
            match t.await.unwrap() {
                Err(Busy) => busy += 1,
                Ok(matched) => assert!(!matched),
            }
        }
        assert!(busy > 0, "a burst five times the queue was all hashed");
        assert_eq!(gate.in_flight.load(Ordering::Acquire), 0);
        // Once it has drained, attempts are served again.
        assert_eq!(gate.verify(hash, "right".into()).await, Ok(true));
    }
}
