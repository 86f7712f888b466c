//! Ports and adapters for persistence.
//!
//! [`BlobStore`] holds content-addressed bytes and upload areas; [`MetaStore`] holds
//! everything that decides what is visible (blob links, manifests, tags, upload
//! sessions). The registry services talk only to these traits, so an S3-compatible
//! object store and PostgreSQL can be added as further adapters. The filesystem and
//! SQLite adapters here are the zero-config defaults.

pub mod access;
pub mod advisories;
pub mod audit;
pub mod blob;
mod blob_reader;
pub mod directory;
pub mod fs;
pub mod meta;
pub mod scans;
pub mod sqlite;
mod sqlite_advisories;
mod sqlite_directory;
mod sqlite_scans;

pub use access::{AccessStore, ServiceTokenRecord};
pub use advisories::{AdvisoryRecord, AdvisoryStore, ImportCounts};
pub use audit::{
    chain_hash as audit_chain_hash, verify_chain, AuditEntry, AuditRecord, AuditStore, ChainKey,
    GENESIS,
};
pub use blob::{BlobStore, ByteStream, CommitError, UploadId};
pub use directory::{
    BindingRecord, DirectoryStore, GroupRecord, PatRecord, RoleRecord, TotpUpdate, UserRecord,
};
pub use fs::FsBlobStore;
pub use meta::{
    ManifestRecord, MetaStore, NewManifest, PutManifestError, ReferrerRecord, Removal, UploadRecord,
};
pub use scans::{Rematch, ScanEvent, ScanJob, ScanStore, StoredReport};
pub use sqlite::SqliteMetaStore;

/// Seconds since the Unix epoch; all timestamps in the stores use it.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
