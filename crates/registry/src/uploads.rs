//! Upload sessions: monolithic, POST+PUT and chunked uploads, status and cancel.
//!
//! A session belongs to the repository it was opened in and to the principal that
//! opened it (`owner`, the caller's identity name): every later step must come
//! through the same repository from the same principal, or the session is unknown
//! to it. Sessions stored before owners were recorded have none and stay open to
//! any pusher of their repository until they expire.
//!
//! A session row is written before its storage area exists, so garbage collection
//! never mistakes a new session for an orphan; a blob becomes readable only after its
//! digest has been verified over the stored bytes and it is linked to the repository.

use crate::error::{RegistryError, Result};
use crate::Registry;
use airlock_oci::{Digest, RepositoryName};
use airlock_storage::{now_unix, ByteStream, UploadId, UploadRecord};

/// A chunk of upload body and what the client declared about it.
pub struct Chunk {
    pub data: ByteStream,
    /// Start offset from `Content-Range`, if given.
    pub start: Option<u64>,
    /// `Content-Length`, if given.
    pub len: Option<u64>,
}

impl Registry {
    /// Opens an upload session in `repo`, owned by `owner`, unless the owner or the
    /// repository already has as many open (not expired) sessions as allowed.
    pub async fn start_upload(&self, repo: &RepositoryName, owner: &str) -> Result<UploadId> {
        let id = UploadId::new();
        let now = now_unix();
        let (by_owner, by_repo) = self
            .meta
            .open_uploads(owner, repo, now - self.limits.upload_expiry_secs)
            .await?;
        if by_owner >= self.limits.max_uploads_per_owner {
            return Err(RegistryError::TooManyUploads(format!(
                "at most {} per principal; finish or cancel some",
                self.limits.max_uploads_per_owner
            )));
        }
        if by_repo >= self.limits.max_uploads_per_repository {
            return Err(RegistryError::TooManyUploads(format!(
                "at most {} in one repository",
                self.limits.max_uploads_per_repository
            )));
        }
        self.meta
            .create_upload(&UploadRecord {
                id: id.clone(),
                repo: repo.clone(),
                owner: Some(owner.to_owned()),
                created_at: now,
                updated_at: now,
            })
            .await?;
        self.blobs.create_upload(&id).await?;
        Ok(id)
    }

    async fn session(
        &self,
        repo: &RepositoryName,
        id: &UploadId,
        owner: &str,
    ) -> Result<UploadRecord> {
        match self.meta.upload(id).await? {
            // Only reachable through the repository that opened it, by its owner.
            Some(s) if &s.repo == repo && s.owner.as_deref().is_none_or(|o| o == owner) => Ok(s),
            _ => Err(RegistryError::BlobUploadUnknown),
        }
    }

    /// Bytes received so far.
    pub async fn upload_status(
        &self,
        repo: &RepositoryName,
        id: &UploadId,
        owner: &str,
    ) -> Result<u64> {
        self.session(repo, id, owner).await?;
        self.blobs
            .upload_size(id)
            .await?
            .ok_or(RegistryError::BlobUploadUnknown)
    }

    /// Appends a chunk; returns the new size.
    pub async fn append_upload(
        &self,
        repo: &RepositoryName,
        id: &UploadId,
        owner: &str,
        chunk: Chunk,
    ) -> Result<u64> {
        self.session(repo, id, owner).await?;
        let size = self
            .blobs
            .append(
                id,
                chunk.start,
                chunk.len,
                chunk.data,
                self.limits.max_blob_bytes,
            )
            .await?;
        self.meta.touch_upload(id, now_unix()).await?;
        Ok(size)
    }

    /// Appends an optional last chunk, verifies the digest and commits the blob.
    pub async fn finish_upload(
        &self,
        repo: &RepositoryName,
        id: &UploadId,
        owner: &str,
        digest: &Digest,
        last: Option<Chunk>,
    ) -> Result<u64> {
        self.session(repo, id, owner).await?;
        if let Some(chunk) = last {
            self.blobs
                .append(
                    id,
                    chunk.start,
                    chunk.len,
                    chunk.data,
                    self.limits.max_blob_bytes,
                )
                .await?;
        }
        let size = self
            .blobs
            .upload_size(id)
            .await?
            .ok_or(RegistryError::BlobUploadUnknown)?;
        // Claim first: from here garbage collection leaves this digest alone.
        self.claim(digest, size).await?;
        let size = self.blobs.commit(id, digest).await?;
        self.meta.link_blob(repo, digest, now_unix()).await?;
        self.meta.delete_upload(id).await?;
        Ok(size)
    }

    /// Uploads a whole blob in one request (`POST ?digest=`).
    pub async fn upload_monolithic(
        &self,
        repo: &RepositoryName,
        owner: &str,
        digest: &Digest,
        chunk: Chunk,
    ) -> Result<u64> {
        let id = self.start_upload(repo, owner).await?;
        let result = self
            .finish_upload(repo, &id, owner, digest, Some(chunk))
            .await;
        if result.is_err() {
            // Nothing of a failed one-shot upload is kept.
            self.cancel_upload(repo, &id, owner).await.ok();
        }
        result
    }

    pub async fn cancel_upload(
        &self,
        repo: &RepositoryName,
        id: &UploadId,
        owner: &str,
    ) -> Result<()> {
        self.session(repo, id, owner).await?;
        self.blobs.abort(id).await?;
        self.meta.delete_upload(id).await?;
        Ok(())
    }
}
