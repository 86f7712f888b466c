//! The registry's error type: one variant per distinct answer a client can get.

use airlock_oci::{Digest, RepositoryName};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("blob unknown to registry")]
    BlobUnknown(Digest),
    #[error("blob upload unknown to registry")]
    BlobUploadUnknown,
    #[error("blob upload invalid: {0}")]
    BlobUploadInvalid(String),
    #[error("chunk out of order: the upload holds {current} bytes")]
    RangeOutOfOrder { current: u64 },
    #[error("requested range not satisfiable for a blob of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("provided digest did not match uploaded content: {0}")]
    DigestInvalid(String),
    #[error("provided length did not match content length: {0}")]
    SizeInvalid(String),
    #[error("content too large: {0}")]
    TooLarge(String),
    #[error("too many open upload sessions: {0}")]
    TooManyUploads(String),
    #[error("manifest unknown to registry: {0}")]
    ManifestUnknown(String),
    #[error("manifest invalid: {0}")]
    ManifestInvalid(String),
    #[error("manifest references an unknown blob or manifest: {0}")]
    ManifestBlobUnknown(Digest),
    #[error("repository name not known to registry: {0}")]
    NameUnknown(RepositoryName),
    #[error("{what} is still needed by manifest {by}; delete that manifest first")]
    InUse { what: String, by: Digest },
    #[error("the operation is unsupported: {0}")]
    Unsupported(String),
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<std::io::Error> for RegistryError {
    fn from(e: std::io::Error) -> Self {
        RegistryError::Internal(e.into())
    }
}

pub type Result<T> = std::result::Result<T, RegistryError>;
