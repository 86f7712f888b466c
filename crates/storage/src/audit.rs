//! The `AuditStore` port and the audit chain: every record carries the SHA-256 of
//! its own fields and of the previous record's hash. [`verify_chain`] finds any
//! edited, removed, inserted or reordered record.

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use crate::meta::Result;

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The hash of a record at `seq` following `prev_hash`.
pub fn chain_hash(prev_hash: &str, seq: i64, e: &AuditEntry) -> String {
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
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(fields.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// Checks a whole log, oldest first. `Err` names the first record that breaks it.
pub fn verify_chain(records: &[AuditRecord]) -> std::result::Result<usize, String> {
    let mut prev = GENESIS.to_owned();
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
        if chain_hash(&prev, r.seq, &r.entry) != r.hash {
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
    /// Appends records in one transaction, chaining them to the last stored one.
    async fn append_audit(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Records with `at_ms >= since_ms`, oldest first.
    async fn audit_records(&self, since_ms: i64) -> Result<Vec<AuditRecord>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    at_ms: 1000 + seq,
                    identity: "admin".into(),
                    client_ip: "127.0.0.1".into(),
                    action: "push".into(),
                    resource: format!("repo{seq}"),
                    result: "allowed".into(),
                    reason: "r".into(),
                };
                let hash = chain_hash(&prev, seq, &entry);
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

    #[test]
    fn detects_edits_removals_and_reordering() {
        let good = chain(5);
        assert_eq!(verify_chain(&good), Ok(5));
        let mut edited = good.clone();
        edited[2].entry.result = "denied".into();
        assert!(verify_chain(&edited)
            .unwrap_err()
            .contains("record 3 was altered"));
        let mut removed = good.clone();
        removed.remove(1);
        assert!(verify_chain(&removed).is_err());
        let mut tail_cut = good.clone();
        tail_cut.pop();
        assert_eq!(
            verify_chain(&tail_cut),
            Ok(4),
            "a cut tail is only visible against the count"
        );
        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert!(verify_chain(&swapped).is_err());
        let mut renumbered = good.clone();
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert!(verify_chain(&renumbered).is_err());
    }
}
