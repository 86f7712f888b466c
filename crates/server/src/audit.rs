//! The audit trail of the edge: authentication failures, every authorization
//! decision (allowed and denied), token issues and admin mutations are appended to
//! the keyed hash chain of the audit log in the metadata store.
//!
//! Requests hand records to one writer task through a bounded channel (a full channel
//! slows requests down rather than dropping evidence); the writer appends whatever
//! has queued up in one transaction, so the log keeps up with tens of thousands of
//! requests per second.
//!
//! The chain's key is derived from the sealed-secrets key in the data directory, not
//! kept in the database, so someone who can only write the database cannot recompute
//! the chain after an edit. Cutting records off the end leaves a valid chain, so the
//! writer also publishes signed checkpoints — the sequence number and hash of the last
//! record, the time, an ES256 signature by the registry's token key — to a file outside
//! the database and to the log, at an interval (when the log grew), at start and at
//! shutdown. `airlock audit verify` checks the chain and every checkpoint against it:
//! a truncation back past the last checkpoint, or a rewrite before one, is found.

use airlock_storage::{AuditEntry, AuditRecord, AuditStore, ChainKey};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

const QUEUE: usize = 16_384;
const BATCH: usize = 2_048;
/// What the checkpoint signature covers, besides the checkpoint's fields.
const CHECKPOINT_CONTEXT: &str = "airlock-audit-checkpoint-v1";

/// The chain key derived from the data directory's sealed-secrets key.
pub fn chain_key(secrets_key: &[u8]) -> ChainKey {
    let mut mac = Hmac::<Sha256>::new_from_slice(secrets_key).expect("HMAC takes any key length");
    mac.update(b"airlock audit chain v1");
    ChainKey::new(mac.finalize().into_bytes().into())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A signed statement that the audit log held `seq` records, the last with hash
/// `head`, at `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub head: String,
    pub at_ms: i64,
    /// Base64 of the fixed-size ES256 signature.
    pub signature: String,
}

fn checkpoint_message(seq: i64, head: &str, at_ms: i64) -> Vec<u8> {
    format!("{CHECKPOINT_CONTEXT}\n{seq}\n{head}\n{at_ms}").into_bytes()
}

impl Checkpoint {
    /// Whether the signature is the holder of `public_key`'s (uncompressed P-256).
    pub fn signed_by(&self, public_key: &[u8]) -> bool {
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&self.signature) else {
            return false;
        };
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(&checkpoint_message(self.seq, &self.head, self.at_ms), &sig)
            .is_ok()
    }
}

/// Signs checkpoints with the registry's token signing key.
pub struct CheckpointSigner {
    pair: EcdsaKeyPair,
}

impl CheckpointSigner {
    pub fn from_pkcs8(der: &[u8]) -> anyhow::Result<CheckpointSigner> {
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
                .map_err(|e| anyhow::anyhow!("invalid signing key: {e}"))?;
        Ok(CheckpointSigner { pair })
    }

    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    pub fn sign(&self, seq: i64, head: &str, at_ms: i64) -> anyhow::Result<Checkpoint> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), &checkpoint_message(seq, head, at_ms))
            .map_err(|_| anyhow::anyhow!("signing a checkpoint failed"))?;
        Ok(Checkpoint {
            seq,
            head: head.to_owned(),
            at_ms,
            signature: base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        })
    }
}

/// Appends signed checkpoints, one JSON object per line, to a file outside the
/// database (created readable by its owner only).
pub struct CheckpointFile {
    pub path: PathBuf,
    signer: CheckpointSigner,
}

impl CheckpointFile {
    pub fn new(path: PathBuf, signer: CheckpointSigner) -> CheckpointFile {
        CheckpointFile { path, signer }
    }

    fn publish(&self, seq: i64, head: &str) -> anyhow::Result<Checkpoint> {
        let c = self.signer.sign(seq, head, now_ms())?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        writeln!(f, "{}", serde_json::to_string(&c)?)?;
        f.sync_data()?;
        tracing::info!(target: "airlock::audit", seq, head, at_ms = c.at_ms, "audit checkpoint");
        Ok(c)
    }
}

/// Reads a checkpoint file; lines that do not parse are errors (the file is ours).
pub fn read_checkpoints(path: &Path) -> anyhow::Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Checks `checkpoints` against the log: each must be signed by `public_key` and name
/// a record that is still there with the hash it saw. The number checked, or what is
/// wrong.
pub fn check_checkpoints(
    records: &[AuditRecord],
    checkpoints: &[Checkpoint],
    public_key: &[u8],
) -> Result<usize, String> {
    let last = records.last().map_or(0, |r| r.seq);
    for c in checkpoints {
        if !c.signed_by(public_key) {
            return Err(format!(
                "the checkpoint of record {} is not signed by this registry",
                c.seq
            ));
        }
        if c.seq == 0 {
            continue;
        }
        let Some(r) = usize::try_from(c.seq - 1).ok().and_then(|i| records.get(i)) else {
            return Err(format!(
                "the log ends at record {last}, but a checkpoint saw record {} at {} ms: records were removed from the end",
                c.seq, c.at_ms
            ));
        };
        if r.seq != c.seq || r.hash != c.head {
            return Err(format!(
                "record {} is not the one a checkpoint saw at {} ms: the log was rewritten",
                c.seq, c.at_ms
            ));
        }
    }
    Ok(checkpoints.len())
}

enum Message {
    Record(AuditEntry),
    /// Write what is queued, publish a checkpoint, then answer.
    Checkpoint(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Message>,
}

impl AuditLog {
    /// Starts the writer task, chaining with `key`; with `checkpoints`, it publishes a
    /// checkpoint now, every `interval` when the log grew, and when asked.
    pub fn start(
        store: Arc<dyn AuditStore>,
        key: ChainKey,
        checkpoints: Option<CheckpointFile>,
        interval: Duration,
    ) -> AuditLog {
        let (tx, mut rx) = mpsc::channel::<Message>(QUEUE);
        tokio::spawn(async move {
            let mut published: Option<i64> = None;
            let mut ticker = tokio::time::interval(interval.max(Duration::from_secs(1)));
            let mut inbox = Vec::with_capacity(BATCH);
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let mut answers = Vec::new();
                let mut tick = false;
                tokio::select! {
                    n = rx.recv_many(&mut inbox, BATCH) => {
                        if n == 0 {
                            break;
                        }
                        for m in inbox.drain(..) {
                            match m {
                                Message::Record(e) => batch.push(e),
                                Message::Checkpoint(done) => answers.push(done),
                            }
                        }
                    }
                    _ = ticker.tick() => tick = true,
                }
                if !batch.is_empty() {
                    if let Err(e) = store.append_audit(&batch, &key).await {
                        tracing::error!(error = ?e, lost = batch.len(), "cannot write the audit log");
                    }
                    batch.clear();
                }
                let due = tick || !answers.is_empty() || published.is_none();
                if let (Some(file), true) = (&checkpoints, due) {
                    match store.audit_head().await {
                        Ok((seq, head)) if published != Some(seq) || !answers.is_empty() => {
                            match file.publish(seq, &head) {
                                Ok(_) => published = Some(seq),
                                Err(e) => {
                                    // Tried again at the next interval, not at every batch.
                                    published = Some(-1);
                                    tracing::error!(error = ?e, "cannot publish an audit checkpoint")
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = ?e, "reading the audit log's head"),
                    }
                }
                for done in answers {
                    let _ = done.send(());
                }
            }
        });
        AuditLog { tx }
    }

    /// Writes what is queued and publishes a checkpoint (at shutdown).
    pub async fn checkpoint(&self) {
        let (done, answer) = oneshot::channel();
        if self.tx.send(Message::Checkpoint(done)).await.is_ok() {
            let _ = answer.await;
        }
    }

    pub async fn record(
        &self,
        identity: &str,
        client_ip: &str,
        action: &str,
        resource: &str,
        allowed: bool,
        reason: &str,
    ) {
        let entry = AuditEntry {
            at_ms: now_ms(),
            identity: identity.to_owned(),
            client_ip: client_ip.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            result: if allowed { "allowed" } else { "denied" }.to_owned(),
            reason: reason.to_owned(),
        };
        if self.tx.send(Message::Record(entry)).await.is_err() {
            tracing::error!("the audit writer has stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, hash: &str) -> AuditRecord {
        AuditRecord {
            seq,
            entry: AuditEntry {
                at_ms: seq,
                identity: "a".into(),
                client_ip: "-".into(),
                action: "x".into(),
                resource: "r".into(),
                result: "allowed".into(),
                reason: "-".into(),
            },
            prev_hash: String::new(),
            hash: hash.into(),
        }
    }

    #[test]
    fn checkpoints_find_truncation_and_rewrites_and_forgeries() {
        let signer =
            CheckpointSigner::from_pkcs8(&crate::token::TokenService::generate_key().unwrap())
                .unwrap();
        let public = signer.public_key().to_vec();
        let log: Vec<AuditRecord> = (1..=5).map(|i| record(i, &format!("h{i}"))).collect();
        let cps = vec![
            signer.sign(3, "h3", 1).unwrap(),
            signer.sign(5, "h5", 2).unwrap(),
        ];
        assert_eq!(check_checkpoints(&log, &cps, &public), Ok(2));
        // The last two records cut off: the second checkpoint saw record 5.
        let err = check_checkpoints(&log[..3], &cps, &public).unwrap_err();
        assert!(err.contains("removed from the end"), "{err}");
        // Record 3 replaced.
        let mut rewritten = log.clone();
        rewritten[2].hash = "other".into();
        let err = check_checkpoints(&rewritten, &cps, &public).unwrap_err();
        assert!(err.contains("rewritten"), "{err}");
        // A checkpoint made up, or signed by someone else.
        let mut forged = cps[1].clone();
        forged.seq = 4;
        assert!(check_checkpoints(&log, &[forged], &public).is_err());
        let other =
            CheckpointSigner::from_pkcs8(&crate::token::TokenService::generate_key().unwrap())
                .unwrap();
        let theirs = other.sign(5, "h5", 3).unwrap();
        assert!(check_checkpoints(&log, &[theirs], &public).is_err());
    }

    #[test]
    fn the_chain_key_depends_on_the_secret() {
        let a = format!("{:?}", chain_key(b"one"));
        assert_eq!(a, "ChainKey(..)", "the key never shows in logs");
        let entry = record(1, "").entry;
        let h = |k: &ChainKey| airlock_storage::audit_chain_hash(k, "p", 1, &entry);
        assert_eq!(h(&chain_key(b"one")), h(&chain_key(b"one")));
        assert_ne!(h(&chain_key(b"one")), h(&chain_key(b"two")));
    }
}
