//! The `BlobStore` port: content-addressed blobs and resumable upload areas.

use airlock_oci::Digest;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use std::fmt;

/// A stream of body bytes, as received from or sent to a client.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The id of an upload session: a UUID, so it is safe as a storage key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UploadId(uuid::Uuid);

impl UploadId {
    pub fn new() -> Self {
        UploadId(uuid::Uuid::new_v4())
    }

    pub fn parse(s: &str) -> Option<Self> {
        // Only the canonical hyphenated form, so one session has one spelling.
        let u = uuid::Uuid::parse_str(s).ok()?;
        (u.hyphenated().to_string() == s).then_some(UploadId(u))
    }
}

impl Default for UploadId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.hyphenated())
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.0.hyphenated())
    }
}

/// Why appending to or committing an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("upload not found")]
    UnknownUpload,
    #[error("chunk starts at {given} but the upload holds {current} bytes")]
    OutOfOrder { given: u64, current: u64 },
    #[error("blob would exceed the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("declared length {declared} does not match the {actual} bytes received")]
    LengthMismatch { declared: u64, actual: u64 },
    #[error("content does not match digest {expected} (computed {actual})")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("client body ended with an error: {0}")]
    Body(std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Content-addressed blob storage with upload areas.
///
/// Invariant: a blob exists under its digest only after the digest was verified over
/// the bytes actually stored, and it appears atomically (never partially).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Creates an empty upload area.
    async fn create_upload(&self, id: &UploadId) -> std::io::Result<()>;

    /// Appends a stream to an upload. `expected_offset` (from `Content-Range`) must
    /// equal the current size; `declared_len` (from `Content-Length`) must match what
    /// arrives. On any error the upload is left exactly as it was. Returns the new size.
    async fn append(
        &self,
        id: &UploadId,
        expected_offset: Option<u64>,
        declared_len: Option<u64>,
        data: ByteStream,
        max_size: u64,
    ) -> Result<u64, CommitError>;

    /// Current size of an upload, `None` if it does not exist.
    async fn upload_size(&self, id: &UploadId) -> std::io::Result<Option<u64>>;

    /// Verifies the upload's bytes against `expected` and makes them the blob.
    /// Returns the blob's size. The upload area is gone afterwards on success.
    async fn commit(&self, id: &UploadId, expected: &Digest) -> Result<u64, CommitError>;

    /// Removes an upload area; no error if it is already gone.
    async fn abort(&self, id: &UploadId) -> std::io::Result<()>;

    /// Lists upload areas present in storage (to find orphans).
    async fn list_uploads(&self) -> std::io::Result<Vec<UploadId>>;

    /// Stores small content whose bytes are in memory (manifests), verified and atomic.
    async fn put(&self, digest: &Digest, bytes: Bytes) -> Result<(), CommitError>;

    /// Size of a stored blob.
    async fn stat(&self, digest: &Digest) -> std::io::Result<Option<u64>>;

    /// Reads `len` bytes from `offset`; `None` if the blob does not exist.
    async fn read(
        &self,
        digest: &Digest,
        offset: u64,
        len: u64,
    ) -> std::io::Result<Option<ByteStream>>;

    /// Reads a whole small blob into memory, refusing blobs larger than `max`.
    async fn read_all(&self, digest: &Digest, max: u64) -> std::io::Result<Option<Bytes>>;

    /// Deletes a blob's bytes; no error if already gone.
    async fn delete(&self, digest: &Digest) -> std::io::Result<()>;

    /// Every stored blob digest.
    async fn list(&self) -> std::io::Result<Vec<Digest>>;

    /// Re-hashes the stored bytes; `Ok(false)` on a mismatch, `None` if missing.
    async fn verify(&self, digest: &Digest) -> std::io::Result<Option<bool>>;

    /// Removes temporary files left by a crash. Called at startup.
    async fn clean_temporary(&self) -> std::io::Result<usize>;
}
