//! The `AdvisoryStore` port: OSV records kept in the metadata store, indexed by
//! (ecosystem, package), imported incrementally by their `modified` time.

use async_trait::async_trait;

use crate::meta::Result;

/// One record to import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdvisoryRecord {
    pub id: String,
    pub modified: String,
    pub withdrawn: bool,
    /// (ecosystem, package name) pairs the record is about.
    pub packages: Vec<(String, String)>,
    pub json: Vec<u8>,
}

/// What an import changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportCounts {
    pub added: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[async_trait]
pub trait AdvisoryStore: Send + Sync + 'static {
    /// Stores records that are new or modified later than the stored copy, and bumps
    /// the generation when anything changed.
    async fn import_advisories(&self, records: &[AdvisoryRecord]) -> Result<ImportCounts>;
    /// Every stored record's JSON (withdrawn ones included; callers skip them).
    async fn advisory_records(&self) -> Result<Vec<Vec<u8>>>;
    /// The records about any of these (ecosystem, package name) keys.
    async fn advisory_records_for(&self, keys: &[(String, String)]) -> Result<Vec<Vec<u8>>>;
    async fn count_advisories(&self) -> Result<u64>;
    /// The database's generation: bumped by every import that adds or changes a record.
    async fn advisory_generation(&self) -> Result<i64>;
}
