//! Manifests, tags, the catalog and referrers.
//!
//! A manifest is stored as the exact bytes the client sent (under their digest in the
//! blob store) and recorded with everything it references in one transaction; it is
//! refused if a referenced blob or child manifest is not in the repository.

use crate::error::{RegistryError, Result};
use crate::Registry;
use airlock_oci::manifest::{ManifestError, MAX_MANIFEST_BYTES};
use airlock_oci::{Algorithm, Digest, Manifest, Reference, RepositoryName};
use airlock_storage::{now_unix, NewManifest, PutManifestError, ReferrerRecord, Removal};
use bytes::Bytes;
use std::sync::Arc;

/// A manifest as served: raw bytes, their digest and the stored media type.
#[derive(Debug, Clone)]
pub struct ManifestContent {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

#[derive(Debug, Clone)]
pub struct PutManifestOutcome {
    pub digest: Digest,
    /// The `subject` the manifest declared, echoed as `OCI-Subject`.
    pub subject: Option<Digest>,
}

impl From<ManifestError> for RegistryError {
    fn from(e: ManifestError) -> Self {
        match e {
            ManifestError::TooLarge => RegistryError::TooLarge(e.to_string()),
            other => RegistryError::ManifestInvalid(other.to_string()),
        }
    }
}

impl Registry {
    /// Stores a manifest under a tag or digest reference.
    pub async fn put_manifest(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<PutManifestOutcome> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge.into());
        }
        let manifest = Manifest::parse(&bytes, content_type)?;
        let (digest, tag) = match reference {
            Reference::Digest(expected) => {
                let actual = Digest::of(expected.algorithm(), &bytes);
                if &actual != expected {
                    return Err(RegistryError::DigestInvalid(format!(
                        "manifest hashes to {actual}, not {expected}"
                    )));
                }
                (actual, None)
            }
            Reference::Tag(tag) => (Digest::of(Algorithm::Sha256, &bytes), Some(tag.clone())),
        };
        let size = bytes.len() as u64;
        self.claim(&digest, size).await?;
        self.blobs.put(&digest, bytes.clone()).await?;
        let record = NewManifest {
            repo: repo.clone(),
            digest: digest.clone(),
            media_type: manifest.kind.media_type().to_owned(),
            size,
            artifact_type: manifest.artifact_type.clone(),
            subject: manifest.subject.as_ref().map(|s| s.digest.clone()),
            annotations: manifest
                .annotations
                .as_ref()
                .map(|a| serde_json::to_string(a).unwrap_or_default()),
            blobs: manifest
                .required_blobs()
                .map(|d| d.digest.clone())
                .collect(),
            children: manifest
                .manifests
                .iter()
                .map(|d| d.digest.clone())
                .collect(),
            tag: tag.clone(),
        };
        match self.meta.put_manifest(&record, now_unix()).await {
            Ok(()) => {}
            Err(PutManifestError::MissingBlob(d) | PutManifestError::MissingManifest(d)) => {
                return Err(RegistryError::ManifestBlobUnknown(d))
            }
            Err(PutManifestError::Other(e)) => return Err(e.into()),
        }
        if let Some(tag) = &tag {
            self.cache.put_tag(repo, tag, &digest);
        }
        Ok(PutManifestOutcome {
            digest,
            subject: record.subject,
        })
    }

    /// Resolves a reference to the stored manifest.
    pub async fn get_manifest(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
    ) -> Result<Arc<ManifestContent>> {
        let digest = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(tag) => match self.cache.tag(repo, tag) {
                Some(d) => d,
                None => {
                    let d = self.meta.resolve_tag(repo, tag).await?.ok_or_else(|| {
                        RegistryError::ManifestUnknown(format!("tag {tag} not found"))
                    })?;
                    self.cache.put_tag(repo, tag, &d);
                    d
                }
            },
        };
        if let Some(found) = self.cache.content(repo, &digest) {
            return Ok(found);
        }
        let record = self
            .meta
            .manifest(repo, &digest)
            .await?
            .ok_or_else(|| RegistryError::ManifestUnknown(format!("{digest} not found")))?;
        let bytes = self
            .blobs
            .read_all(&digest, MAX_MANIFEST_BYTES as u64)
            .await?
            .ok_or_else(|| {
                RegistryError::Internal(anyhow::anyhow!("manifest {digest} bytes missing"))
            })?;
        let content = Arc::new(ManifestContent {
            digest,
            media_type: record.media_type,
            bytes,
        });
        self.cache.put_content(repo, content.clone());
        Ok(content)
    }

    /// Deletes a tag (by tag reference) or a manifest and its tags (by digest).
    pub async fn delete_manifest(
        &self,
        repo: &RepositoryName,
        reference: &Reference,
    ) -> Result<()> {
        let found = match reference {
            Reference::Tag(tag) => {
                self.cache.forget_tag(repo, tag);
                self.meta.delete_tag(repo, tag).await?
            }
            Reference::Digest(d) => {
                let outcome = self.meta.delete_manifest(repo, d).await?;
                self.cache.forget_manifest(repo, d);
                match outcome {
                    Removal::Removed => true,
                    Removal::Absent => false,
                    Removal::InUseBy(by) => {
                        return Err(RegistryError::InUse {
                            what: format!("manifest {d}"),
                            by,
                        })
                    }
                }
            }
        };
        if found {
            Ok(())
        } else {
            Err(RegistryError::ManifestUnknown(format!(
                "{reference} not found"
            )))
        }
    }

    /// One page of tags, sorted; `limit` is capped at the configured page size.
    pub async fn list_tags(
        &self,
        repo: &RepositoryName,
        last: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Vec<String>> {
        if !self.meta.repository_exists(repo).await? {
            return Err(RegistryError::NameUnknown(repo.clone()));
        }
        let limit = limit
            .unwrap_or(self.limits.max_page)
            .min(self.limits.max_page);
        Ok(self.meta.tags(repo, last, limit).await?)
    }

    /// One page of repository names, sorted.
    pub async fn catalog(&self, last: Option<&str>, limit: Option<u32>) -> Result<Vec<String>> {
        let limit = limit
            .unwrap_or(self.limits.max_page)
            .min(self.limits.max_page);
        Ok(self.meta.repositories(last, limit).await?)
    }

    /// Manifests in `repo` whose `subject` is `digest`, optionally by artifact type.
    pub async fn referrers(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ReferrerRecord>> {
        Ok(self.meta.referrers(repo, digest, artifact_type).await?)
    }
}
