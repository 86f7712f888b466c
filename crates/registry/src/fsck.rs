//! Consistency check: every referenced blob's bytes exist and hash to their digest,
//! and every reference in the metadata points at something that exists.

use crate::error::Result;
use crate::Registry;
use std::collections::HashSet;

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FsckReport {
    pub blobs_checked: usize,
    pub bytes_checked: u64,
    /// Stored files nothing references (harmless; GC removes their rows' blobs).
    pub unreferenced_files: usize,
    pub problems: Vec<String>,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Registry {
    pub async fn fsck(&self) -> Result<FsckReport> {
        let mut report = FsckReport {
            problems: self.meta.consistency_problems().await?,
            ..FsckReport::default()
        };
        let referenced = self.meta.referenced_blobs().await?;
        let mut known = HashSet::new();
        for (digest, size) in referenced {
            report.blobs_checked += 1;
            match self.blobs.verify(&digest).await? {
                None => report
                    .problems
                    .push(format!("blob {digest} is missing from storage")),
                Some(false) => report.problems.push(format!(
                    "blob {digest} does not hash to its digest (corrupt)"
                )),
                Some(true) => {
                    let stored = self.blobs.stat(&digest).await?.unwrap_or(0);
                    if stored != size {
                        report.problems.push(format!(
                            "blob {digest} is {stored} bytes but the metadata says {size}"
                        ));
                    }
                    report.bytes_checked += stored;
                }
            }
            known.insert(digest);
        }
        report.unreferenced_files = self
            .blobs
            .list()
            .await?
            .into_iter()
            .filter(|d| !known.contains(d))
            .count();
        Ok(report)
    }
}
