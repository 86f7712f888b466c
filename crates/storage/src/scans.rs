//! The `ScanStore` port: the scan-on-push job queue and the reports it produces.
//! Claiming a job is atomic, so any number of workers (on any number of servers
//! sharing the database) never scan the same manifest twice at once.

use async_trait::async_trait;

use crate::meta::Result;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanJob {
    pub repository: String,
    pub digest: String,
    pub state: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub queued_at: i64,
    pub updated_at: i64,
}

#[async_trait]
pub trait ScanStore: Send + Sync + 'static {
    /// Queues a manifest (again, if it was scanned before).
    async fn enqueue_scan(&self, repository: &str, digest: &str, now: i64) -> Result<()>;
    /// Takes the oldest queued job (or one left running by a crashed worker before
    /// `stale_before`), marking it running.
    async fn claim_scan(&self, now: i64, stale_before: i64) -> Result<Option<ScanJob>>;
    async fn finish_scan(
        &self,
        repository: &str,
        digest: &str,
        report: &str,
        now: i64,
    ) -> Result<()>;
    async fn fail_scan(&self, repository: &str, digest: &str, error: &str, now: i64) -> Result<()>;
    async fn scan_job(&self, repository: &str, digest: &str) -> Result<Option<ScanJob>>;
    async fn scan_report(&self, repository: &str, digest: &str) -> Result<Option<(i64, String)>>;
}
