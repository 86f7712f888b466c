//! The `ScanStore` port: the scan-on-push job queue, the reports it produces (an
//! inventory, and findings matched against one generation of the advisory database),
//! re-matching reports behind the current generation, and the scan events. Claiming a
//! job is atomic, so any number of workers (on any number of servers sharing the
//! database) never scan the same manifest twice at once.

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

/// A stored report: the inventory (`report`, without findings when `findings` is
/// set) and the findings per platform as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReport {
    pub repository: String,
    pub digest: String,
    pub scanned_at: i64,
    pub generation: i64,
    pub report: String,
    pub findings: Option<String>,
}

/// The outcome of re-matching one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rematch {
    pub repository: String,
    pub digest: String,
    /// New findings JSON, when they changed.
    pub findings: Option<String>,
    /// The `findings_changed` event's detail JSON, when they changed.
    pub event: Option<String>,
}

/// Something that happened to an image's scan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScanEvent {
    pub id: i64,
    pub at: i64,
    pub repository: String,
    pub digest: String,
    pub kind: String,
    /// JSON.
    pub detail: String,
}

#[async_trait]
pub trait ScanStore: Send + Sync + 'static {
    /// Queues a manifest (again, if it was scanned before).
    async fn enqueue_scan(&self, repository: &str, digest: &str, now: i64) -> Result<()>;
    /// Takes the oldest queued job (or one left running by a crashed worker before
    /// `stale_before`), marking it running.
    async fn claim_scan(&self, now: i64, stale_before: i64) -> Result<Option<ScanJob>>;
    /// Stores a finished scan: its inventory, its findings (matched against advisory
    /// `generation`) and a `scanned` event with `event` as detail.
    #[allow(clippy::too_many_arguments)]
    async fn finish_scan(
        &self,
        repository: &str,
        digest: &str,
        report: &str,
        findings: &str,
        generation: i64,
        event: &str,
        now: i64,
    ) -> Result<()>;
    async fn fail_scan(&self, repository: &str, digest: &str, error: &str, now: i64) -> Result<()>;
    async fn scan_job(&self, repository: &str, digest: &str) -> Result<Option<ScanJob>>;
    async fn scan_report(&self, repository: &str, digest: &str) -> Result<Option<StoredReport>>;
    /// Up to `limit` reports matched against an older generation than `generation`,
    /// after `after` (repository, digest) in key order.
    async fn reports_behind(
        &self,
        generation: i64,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<StoredReport>>;
    /// Records re-match outcomes as matched against `generation`, with their events,
    /// in one transaction. A report re-scanned meanwhile (already at `generation` or
    /// later) is left alone.
    async fn record_rematches(&self, outcomes: &[Rematch], generation: i64, now: i64)
        -> Result<()>;
    /// Events with an id above `after`, oldest first.
    async fn scan_events(&self, after: i64, limit: u32) -> Result<Vec<ScanEvent>>;
}
