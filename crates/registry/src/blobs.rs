//! Reading, deleting and mounting blobs, and committing verified bytes.

use crate::error::{RegistryError, Result};
use crate::Registry;
use airlock_oci::{Digest, RepositoryName};
use airlock_storage::meta::Claim;
use airlock_storage::{now_unix, ByteStream, CommitError, Removal};
use std::time::Duration;

/// How long a commit waits for a concurrent garbage collection of the same digest.
const CLAIM_RETRIES: u32 = 100;

impl Registry {
    /// Size of a blob readable in `repo`. A successful lookup protects the blob from
    /// garbage collection for the grace period, because clients (docker, skopeo) check
    /// a layer exists and then push a manifest that needs it.
    pub async fn blob_size(&self, repo: &RepositoryName, digest: &Digest) -> Result<u64> {
        let size = self
            .meta
            .blob_in_repo(repo, digest)
            .await?
            .ok_or_else(|| RegistryError::BlobUnknown(digest.clone()))?;
        let now = now_unix();
        self.meta.touch_link(repo, digest, now, now - 60).await?;
        Ok(size)
    }

    /// Streams `len` bytes of a blob from `offset`. Call [`Registry::blob_size`] first.
    pub async fn open_blob(&self, digest: &Digest, offset: u64, len: u64) -> Result<ByteStream> {
        self.blobs.read(digest, offset, len).await?.ok_or_else(|| {
            RegistryError::Internal(anyhow::anyhow!(
                "metadata lists blob {digest} but its bytes are missing"
            ))
        })
    }

    /// Removes a blob from a repository. The bytes go when garbage collection finds
    /// nothing else needs them.
    pub async fn delete_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<()> {
        match self.meta.unlink_blob(repo, digest).await? {
            Removal::Removed => Ok(()),
            Removal::Absent => Err(RegistryError::BlobUnknown(digest.clone())),
            Removal::InUseBy(by) => Err(RegistryError::InUse {
                what: format!("blob {digest}"),
                by,
            }),
        }
    }

    /// Cross-repository mount: links a blob readable in `from` into `to`.
    /// `None` when `from` lacks it; the caller then opens a normal upload.
    pub async fn mount_blob(
        &self,
        from: &RepositoryName,
        to: &RepositoryName,
        digest: &Digest,
    ) -> Result<Option<u64>> {
        Ok(self.meta.mount_blob(from, to, digest, now_unix()).await?)
    }

    /// Claims a blob row so garbage collection keeps away, waiting out a collection
    /// of the same digest that is under way.
    pub(crate) async fn claim(&self, digest: &Digest, size: u64) -> Result<()> {
        for _ in 0..CLAIM_RETRIES {
            match self.meta.claim_blob(digest, size, now_unix()).await? {
                Claim::Claimed => return Ok(()),
                Claim::BeingDeleted => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Err(RegistryError::Unavailable(format!(
            "blob {digest} is being garbage-collected; retry"
        )))
    }
}

impl From<CommitError> for RegistryError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::UnknownUpload => RegistryError::BlobUploadUnknown,
            CommitError::OutOfOrder { current, .. } => RegistryError::RangeOutOfOrder { current },
            CommitError::TooLarge { limit } => {
                RegistryError::TooLarge(format!("blobs are limited to {limit} bytes"))
            }
            CommitError::LengthMismatch { declared, actual } => RegistryError::SizeInvalid(
                format!("Content-Length was {declared} but {actual} bytes arrived"),
            ),
            CommitError::DigestMismatch { expected, actual } => RegistryError::DigestInvalid(
                format!("expected {expected}, content hashes to {actual}"),
            ),
            CommitError::Body(e) => {
                RegistryError::BlobUploadInvalid(format!("request body failed: {e}"))
            }
            CommitError::Io(e) => RegistryError::Internal(e.into()),
        }
    }
}
