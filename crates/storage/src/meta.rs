//! The `MetaStore` port: what is visible in which repository.
//!
//! Every method that changes state is one transaction, so a crash leaves either the
//! old or the new state. Garbage collection works through states on blob rows
//! (`live` → `deleting` → gone) so that a blob being committed and a blob being
//! collected can never be the same one, even across processes.

use airlock_oci::{Digest, RepositoryName, Tag};
use async_trait::async_trait;

use crate::UploadId;

pub type Result<T> = std::result::Result<T, anyhow::Error>;

#[derive(Debug, Clone)]
pub struct UploadRecord {
    pub id: UploadId,
    pub repo: RepositoryName,
    /// The principal that opened the session (none for sessions stored before
    /// owners were recorded).
    pub owner: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferrerRecord {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    /// The manifest's annotations as a JSON object, if it had any.
    pub annotations: Option<String>,
}

/// A manifest to record, with everything it references.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub repo: RepositoryName,
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    pub annotations: Option<String>,
    /// Config and layers: must be linked in `repo`.
    pub blobs: Vec<Digest>,
    /// Child manifests of an index: must exist in `repo`.
    pub children: Vec<Digest>,
    pub tag: Option<Tag>,
}

#[derive(Debug, thiserror::Error)]
pub enum PutManifestError {
    #[error("blob {0} is not in the repository")]
    MissingBlob(Digest),
    #[error("manifest {0} is not in the repository")]
    MissingManifest(Digest),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Outcome of removing a blob link or a manifest from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    Removed,
    /// There was nothing to remove.
    Absent,
    /// Refused: this manifest of the repository still needs it.
    InUseBy(Digest),
}

/// Outcome of claiming a blob row before its bytes are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The row is live and protected by a fresh `touched_at`.
    Claimed,
    /// Garbage collection is deleting this digest right now; try again shortly.
    BeingDeleted,
}

#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    // --- blobs -------------------------------------------------------------------
    /// Records (or refreshes) a blob row before its bytes are installed.
    async fn claim_blob(&self, digest: &Digest, size: u64, now: i64) -> Result<Claim>;
    /// Makes a live blob readable in `repo`.
    async fn link_blob(&self, repo: &RepositoryName, digest: &Digest, now: i64) -> Result<()>;
    /// Size of a blob readable in `repo` (a linked blob, or a manifest's bytes).
    async fn blob_in_repo(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<u64>>;
    /// Refreshes a link's `touched_at` if it is older than `stale_before`, so a client
    /// that just saw the blob exists can rely on it for the grace period.
    async fn touch_link(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        now: i64,
        stale_before: i64,
    ) -> Result<()>;
    /// Links a blob readable in `from` into `to`; false if `from` does not have it.
    async fn mount_blob(
        &self,
        from: &RepositoryName,
        to: &RepositoryName,
        digest: &Digest,
        now: i64,
    ) -> Result<Option<u64>>;
    /// Removes a blob's link from `repo`; false if there was none.
    async fn unlink_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<Removal>;

    // --- upload sessions ----------------------------------------------------------
    async fn create_upload(&self, upload: &UploadRecord) -> Result<()>;
    async fn upload(&self, id: &UploadId) -> Result<Option<UploadRecord>>;
    async fn touch_upload(&self, id: &UploadId, now: i64) -> Result<()>;
    async fn delete_upload(&self, id: &UploadId) -> Result<()>;
    async fn expired_uploads(&self, updated_before: i64) -> Result<Vec<UploadId>>;
    /// Open sessions touched at or after `updated_since`: (of `owner`, in `repo`).
    async fn open_uploads(
        &self,
        owner: &str,
        repo: &RepositoryName,
        updated_since: i64,
    ) -> Result<(u64, u64)>;

    // --- manifests and tags -------------------------------------------------------
    /// Records a manifest (and its tag) after checking, in the same transaction,
    /// that everything it references is present in the repository.
    async fn put_manifest(
        &self,
        manifest: &NewManifest,
        now: i64,
    ) -> std::result::Result<(), PutManifestError>;
    async fn manifest(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<ManifestRecord>>;
    async fn resolve_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<Option<Digest>>;
    /// Deletes a manifest and every tag pointing at it; false if it did not exist.
    async fn delete_manifest(&self, repo: &RepositoryName, digest: &Digest) -> Result<Removal>;
    async fn delete_tag(&self, repo: &RepositoryName, tag: &Tag) -> Result<bool>;
    /// Tags in lexical order after `last`, at most `limit`.
    async fn tags(
        &self,
        repo: &RepositoryName,
        last: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>>;
    /// A repository exists while it holds at least one manifest.
    async fn repository_exists(&self, repo: &RepositoryName) -> Result<bool>;
    async fn repositories(&self, last: Option<&str>, limit: u32) -> Result<Vec<String>>;
    async fn referrers(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRecord>>;

    // --- garbage collection and consistency ----------------------------------------
    /// Removes links no manifest in their repository needs, untouched since `cutoff`.
    /// With `dry_run`, only counts them.
    async fn unlink_unreferenced(&self, cutoff: i64, dry_run: bool) -> Result<u64>;
    /// Blobs nothing references, untouched since `cutoff`. Unless `dry_run`, marks them
    /// `deleting` atomically, so no commit or link can take them any more.
    async fn collectable_blobs(&self, cutoff: i64, dry_run: bool) -> Result<Vec<(Digest, u64)>>;
    /// Blobs marked `deleting` (including by an interrupted earlier collection).
    async fn blobs_being_deleted(&self) -> Result<Vec<Digest>>;
    /// Forgets a blob marked `deleting` once its bytes are gone.
    async fn forget_blob(&self, digest: &Digest) -> Result<()>;
    /// Every live blob row that something references: these bytes must exist.
    async fn referenced_blobs(&self) -> Result<Vec<(Digest, u64)>>;
    /// Human-readable descriptions of broken references in the metadata.
    async fn consistency_problems(&self) -> Result<Vec<String>>;
}
