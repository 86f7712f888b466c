//! An in-memory read cache for manifest GET/HEAD, the hottest path of a registry.
//!
//! Entries expire after a short TTL so that changes made by another process or node
//! (sharing the same database) become visible within a second; changes made through
//! this process invalidate their entries at once.

use crate::manifests::ManifestContent;
use airlock_oci::{Digest, RepositoryName, Tag};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TTL: Duration = Duration::from_secs(1);
const TAG_ENTRIES: usize = 50_000;
const CONTENT_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Clone)]
struct ContentWeighter;

impl quick_cache::Weighter<(RepositoryName, Digest), (Arc<ManifestContent>, Instant)>
    for ContentWeighter
{
    fn weight(
        &self,
        _key: &(RepositoryName, Digest),
        val: &(Arc<ManifestContent>, Instant),
    ) -> u64 {
        val.0.bytes.len() as u64 + 128
    }
}

pub(crate) struct ManifestCache {
    tags: quick_cache::sync::Cache<(RepositoryName, Tag), (Digest, Instant)>,
    contents: quick_cache::sync::Cache<
        (RepositoryName, Digest),
        (Arc<ManifestContent>, Instant),
        ContentWeighter,
    >,
}

impl ManifestCache {
    pub(crate) fn new() -> Self {
        ManifestCache {
            tags: quick_cache::sync::Cache::new(TAG_ENTRIES),
            contents: quick_cache::sync::Cache::with_weighter(
                10_000,
                CONTENT_BYTES,
                ContentWeighter,
            ),
        }
    }

    pub(crate) fn tag(&self, repo: &RepositoryName, tag: &Tag) -> Option<Digest> {
        let key = (repo.clone(), tag.clone());
        match self.tags.get(&key) {
            Some((d, at)) if at.elapsed() < TTL => Some(d),
            _ => None,
        }
    }

    pub(crate) fn put_tag(&self, repo: &RepositoryName, tag: &Tag, digest: &Digest) {
        self.tags.insert(
            (repo.clone(), tag.clone()),
            (digest.clone(), Instant::now()),
        );
    }

    pub(crate) fn forget_tag(&self, repo: &RepositoryName, tag: &Tag) {
        self.tags.remove(&(repo.clone(), tag.clone()));
    }

    pub(crate) fn content(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
    ) -> Option<Arc<ManifestContent>> {
        match self.contents.get(&(repo.clone(), digest.clone())) {
            Some((c, at)) if at.elapsed() < TTL => Some(c),
            _ => None,
        }
    }

    pub(crate) fn put_content(&self, repo: &RepositoryName, content: Arc<ManifestContent>) {
        self.contents.insert(
            (repo.clone(), content.digest.clone()),
            (content, Instant::now()),
        );
    }

    /// Forgets a manifest and every cached tag of its repository (tags pointing at
    /// it are deleted with it).
    pub(crate) fn forget_manifest(&self, repo: &RepositoryName, digest: &Digest) {
        self.contents.remove(&(repo.clone(), digest.clone()));
        self.tags.retain(|(r, _), _| r != repo);
    }
}
