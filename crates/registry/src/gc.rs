//! Garbage collection: expired upload sessions, links no manifest needs, and blobs
//! nothing references.
//!
//! Safe while pushes run: only what has been untouched for the grace period is
//! considered; a blob is first marked `deleting` in the same statement that checks it
//! is unreferenced, so a concurrent commit or link of the same digest waits for the
//! deletion to finish instead of racing it; an interrupted collection is completed by
//! the next one.

use crate::error::Result;
use crate::Registry;
use airlock_oci::Digest;
use airlock_storage::now_unix;
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct GcOptions {
    /// Only things untouched for this many seconds are collected.
    pub grace_secs: i64,
    pub dry_run: bool,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GcReport {
    pub expired_uploads: usize,
    pub orphaned_upload_areas: usize,
    pub unlinked: u64,
    pub deleted_blobs: Vec<Digest>,
    pub freed_bytes: u64,
    pub dry_run: bool,
}

impl Registry {
    pub async fn collect_garbage(&self, opts: &GcOptions) -> Result<GcReport> {
        let now = now_unix();
        let cutoff = now - opts.grace_secs;
        let mut report = GcReport {
            dry_run: opts.dry_run,
            ..GcReport::default()
        };

        // Upload sessions nobody touched for the expiry period.
        let expired = self
            .meta
            .expired_uploads(now - self.limits.upload_expiry_secs)
            .await?;
        report.expired_uploads = expired.len();
        if !opts.dry_run {
            for id in &expired {
                self.blobs.abort(id).await?;
                self.meta.delete_upload(id).await?;
            }
        }
        // Upload areas without a session row (a crash between the two deletions).
        for id in self.blobs.list_uploads().await? {
            if self.meta.upload(&id).await?.is_none() {
                report.orphaned_upload_areas += 1;
                if !opts.dry_run {
                    self.blobs.abort(&id).await?;
                }
            }
        }

        report.unlinked = self.meta.unlink_unreferenced(cutoff, opts.dry_run).await?;

        if !opts.dry_run {
            // Finish deletions an earlier, interrupted collection started.
            for digest in self.meta.blobs_being_deleted().await? {
                self.blobs.delete(&digest).await?;
                self.meta.forget_blob(&digest).await?;
            }
        }
        let doomed = self.meta.collectable_blobs(cutoff, opts.dry_run).await?;
        let mut seen = HashSet::new();
        for (digest, size) in doomed {
            if !seen.insert(digest.clone()) {
                continue;
            }
            if !opts.dry_run {
                self.blobs.delete(&digest).await?;
                self.meta.forget_blob(&digest).await?;
            }
            report.freed_bytes += size;
            report.deleted_blobs.push(digest);
        }
        Ok(report)
    }
}
