//! Registry services: repositories, blobs, upload sessions, manifests, tags,
//! referrers, garbage collection and consistency checks.
//!
//! This crate knows nothing about HTTP: the edge parses requests into domain types
//! and calls a [`Registry`] method; every failure is a [`RegistryError`] that the edge
//! maps to an OCI error response. Storage is reached only through the
//! `BlobStore`/`MetaStore` ports.

mod blobs;
mod cache;
mod error;
mod fsck;
mod gc;
mod manifests;
mod uploads;

pub use error::RegistryError;
pub use fsck::FsckReport;
pub use gc::{GcOptions, GcReport};
pub use manifests::{ManifestContent, PutManifestOutcome};
pub use uploads::Chunk;

use airlock_storage::{BlobStore, FsBlobStore, MetaStore, SqliteMetaStore};
use std::path::Path;
use std::sync::Arc;

/// Limits on what clients control. Every size and count has one.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest blob accepted.
    pub max_blob_bytes: u64,
    /// Upload sessions untouched for this long are expired by GC (and no longer
    /// count against the caps below).
    pub upload_expiry_secs: i64,
    /// Most entries one tags/catalog page returns.
    pub max_page: u32,
    /// Most open upload sessions one principal may have.
    pub max_uploads_per_owner: u64,
    /// Most open upload sessions in one repository.
    pub max_uploads_per_repository: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blob_bytes: 64 * 1024 * 1024 * 1024,
            upload_expiry_secs: 3600,
            max_page: 1000,
            max_uploads_per_owner: 200,
            max_uploads_per_repository: 1000,
        }
    }
}

/// The registry service. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetaStore>,
    limits: Limits,
    cache: Arc<cache::ManifestCache>,
}

impl Registry {
    pub fn new(blobs: Arc<dyn BlobStore>, meta: Arc<dyn MetaStore>, limits: Limits) -> Self {
        Registry {
            blobs,
            meta,
            limits,
            cache: Arc::new(cache::ManifestCache::new()),
        }
    }

    /// The zero-config layout: blobs under `<data>/storage`, metadata in
    /// `<data>/airlock.db`.
    pub async fn open_local(data_dir: &Path, limits: Limits) -> anyhow::Result<Self> {
        let meta = Arc::new(SqliteMetaStore::open(&data_dir.join("airlock.db")).await?);
        Self::open_local_with(data_dir, meta, limits)
    }

    /// The zero-config layout, with a metadata store the caller also uses (for
    /// identities and the audit log), so every writer shares one connection.
    pub fn open_local_with(
        data_dir: &Path,
        meta: Arc<SqliteMetaStore>,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let blobs = FsBlobStore::open(data_dir.join("storage"))?;
        Ok(Registry::new(Arc::new(blobs), meta, limits))
    }

    /// Removes temporary files a crash may have left. Only the server that owns the
    /// storage calls this, at start, before it accepts requests: a maintenance
    /// command running beside a live server must not touch its in-flight writes.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        let removed = self.blobs.clean_temporary().await?;
        if removed > 0 {
            tracing::info!(removed, "removed temporary files left by an earlier crash");
        }
        Ok(removed)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}
