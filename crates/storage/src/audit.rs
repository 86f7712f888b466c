//! The `AuditStore` port and the audit chain: every record carries a keyed hash
//! (HMAC-SHA256) of its own fields and of the previous record's hash, under a key that
//! is not in the database. [`verify_chain`] finds any edited, removed, inserted or
//! reordered record; someone who can write the database but lacks the key cannot
//! recompute the chain after a change. Removing records from the end keeps what is
//! left a valid chain: signed checkpoints kept outside the database (see the server's
//! `audit` module) are what detect that.
//!
//! Logs written before the chain was keyed hold plain SHA-256 hashes; they stay valid
//! as they are, and once one keyed record exists every later record must be keyed.

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};

use crate::meta::Result;

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// How a keyed hash starts, telling it from a plain SHA-256 one of an older log.
const KEYED_PREFIX: &str = "k1:";

/// The key of the audit chain (derived from a secret kept outside the database).
#[derive(Clone)]
pub struct ChainKey([u8; 32]);

impl ChainKey {
    pub fn new(key: [u8; 32]) -> ChainKey {
        ChainKey(key)
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub identity: String,
    pub client_ip: String,
    pub action: String,
    pub resource: String,
    pub result: String,
    pub reason: String,
}

/// A stored record with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

fn fields(prev_hash: &str, seq: i64, e: &AuditEntry) -> String {
    let fields = serde_json::json!([
        seq,
        e.at_ms,
        e.identity,
        e.client_ip,
        e.action,
        e.resource,
        e.result,
        e.reason
    ]);
    format!("{prev_hash}\n{fields}")
}

/// The keyed hash of a record at `seq` following `prev_hash`.
pub fn chain_hash(key: &ChainKey, prev_hash: &str, seq: i64, e: &AuditEntry) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes any key length");
    mac.update(fields(prev_hash, seq, e).as_bytes());
    format!("{KEYED_PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// The plain SHA-256 hash of logs written before the chain was keyed.
fn legacy_hash(prev_hash: &str, seq: i64, e: &AuditEntry) -> String {
    hex::encode(Sha256::digest(fields(prev_hash, seq, e).as_bytes()))
}

/// Checks a whole log, oldest first, under `key`. `Err` names the first record that
/// breaks it.
pub fn verify_chain(records: &[AuditRecord], key: &ChainKey) -> std::result::Result<usize, String> {
    let mut prev = GENESIS.to_owned();
    let mut keyed = false;
    for (expected_seq, r) in (1i64..).zip(records) {
        if r.seq != expected_seq {
            return Err(format!(
                "record {} found where record {expected_seq} was expected (a record was removed or inserted)",
                r.seq
            ));
        }
        if r.prev_hash != prev {
            return Err(format!(
                "record {} does not follow record {} (reordered or removed)",
                r.seq,
                r.seq - 1
            ));
        }
        let expected = if r.hash.starts_with(KEYED_PREFIX) {
            keyed = true;
            chain_hash(key, &prev, r.seq, &r.entry)
        } else if keyed {
            return Err(format!(
                "record {} is not keyed though earlier records are (rewritten without the key)",
                r.seq
            ));
        } else {
            legacy_hash(&prev, r.seq, &r.entry)
        };
        if expected != r.hash {
            return Err(format!(
                "record {} was altered: its hash does not match its contents",
                r.seq
            ));
        }
        prev = r.hash.clone();
    }
    Ok(records.len())
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends records in one transaction, chaining them to the last stored one with
    /// `key`. Appends must be serialised: two writers must never chain to the same
    /// record.
    async fn append_audit(&self, entries: &[AuditEntry], key: &ChainKey) -> Result<()>;
    /// The last record's sequence number and hash (`(0, GENESIS)` for an empty log).
    async fn audit_head(&self) -> Result<(i64, String)>;
    /// Records with `at_ms >= since_ms`, oldest first.
    async fn audit_records(&self, since_ms: i64) -> Result<Vec<AuditRecord>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ChainKey {
        ChainKey::new([7; 32])
    }

    fn entry(seq: i64) -> AuditEntry {
        AuditEntry {
            at_ms: 1000 + seq,
            identity: "admin".into(),
            client_ip: "127.0.0.1".into(),
            action: "push".into(),
            resource: format!("repo{seq}"),
            result: "allowed".into(),
            reason: "r".into(),
        }
    }

    /// `legacy` plain records, then `keyed` keyed ones.
    fn chain_with(legacy: i64, keyed: i64, key: &ChainKey) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=legacy + keyed)
            .map(|seq| {
                let entry = entry(seq);
                let hash = if seq <= legacy {
                    legacy_hash(&prev, seq, &entry)
                } else {
                    chain_hash(key, &prev, seq, &entry)
                };
                let r = AuditRecord {
                    seq,
                    entry,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn chain(n: i64) -> Vec<AuditRecord> {
        chain_with(0, n, &key())
    }

    #[test]
    fn detects_edits_removals_and_reordering() {
        let good = chain(5);
        assert_eq!(verify_chain(&good, &key()), Ok(5));
        let mut edited = good.clone();
        edited[2].entry.result = "denied".into();
        assert!(verify_chain(&edited, &key())
            .unwrap_err()
            .contains("record 3 was altered"));
        let mut removed = good.clone();
        removed.remove(1);
        assert!(verify_chain(&removed, &key()).is_err());
        let mut tail_cut = good.clone();
        tail_cut.pop();
        assert_eq!(
            verify_chain(&tail_cut, &key()),
            Ok(4),
            "a cut tail is only visible against a checkpoint"
        );
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert!(verify_chain(&swapped, &key()).is_err());
        let mut renumbered = good.clone();
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert!(verify_chain(&renumbered, &key()).is_err());
    }

    /// Regression: anyone who could write the database could edit a record and
    /// recompute every hash after it. Without the key the result does not verify.
    #[test]
    fn a_chain_recomputed_without_the_key_does_not_verify() {
        let good = chain(5);
        let mut forged = good.clone();
        forged[1].entry.result = "denied".into();
        let attacker = ChainKey::new([0; 32]);
        let mut prev = forged[0].hash.clone();
        for r in forged.iter_mut().skip(1) {
            r.prev_hash = prev.clone();
            r.hash = chain_hash(&attacker, &prev, r.seq, &r.entry);
            prev = r.hash.clone();
        }
        assert!(verify_chain(&forged, &key())
            .unwrap_err()
            .contains("record 2"));
        // Nor does a plain SHA-256 chain in place of keyed records.
        let mut downgraded = good.clone();
        let mut prev = downgraded[0].hash.clone();
        for r in downgraded.iter_mut().skip(1) {
            r.prev_hash = prev.clone();
            r.hash = legacy_hash(&prev, r.seq, &r.entry);
            prev = r.hash.clone();
        }
        assert!(verify_chain(&downgraded, &key())
            .unwrap_err()
            .contains("not keyed"));
    }

    #[test]
    fn a_log_from_before_the_key_verifies_and_continues_keyed() {
        let mixed = chain_with(3, 2, &key());
        assert_eq!(verify_chain(&mixed, &key()), Ok(5));
        assert!(verify_chain(&mixed, &ChainKey::new([1; 32])).is_err());
        assert_eq!(verify_chain(&chain_with(4, 0, &key()), &key()), Ok(4));
    }
}
