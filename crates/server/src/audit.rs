//! The audit trail of the edge: authentication failures, every authorization
//! decision (allowed and denied), token issues and admin mutations are appended to
//! the hash-chained audit log in the metadata store.
//!
//! Requests hand records to one writer task through a bounded channel (a full channel
//! slows requests down rather than dropping evidence); the writer appends whatever
//! has queued up in one transaction, so the log keeps up with tens of thousands of
//! requests per second.

use airlock_storage::{AuditEntry, AuditStore};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

const QUEUE: usize = 16_384;
const BATCH: usize = 2_048;

#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<AuditEntry>,
}

impl AuditLog {
    /// Starts the writer task.
    pub fn start(store: Arc<dyn AuditStore>) -> AuditLog {
        let (tx, mut rx) = mpsc::channel::<AuditEntry>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(e) = store.append_audit(&batch).await {
                    tracing::error!(error = ?e, lost = batch.len(), "cannot write the audit log");
                }
                batch.clear();
            }
        });
        AuditLog { tx }
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
            at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            identity: identity.to_owned(),
            client_ip: client_ip.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            result: if allowed { "allowed" } else { "denied" }.to_owned(),
            reason: reason.to_owned(),
        };
        if self.tx.send(entry).await.is_err() {
            tracing::error!("the audit writer has stopped");
        }
    }
}
