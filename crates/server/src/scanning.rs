//! Scan-on-push: every pushed image manifest (and every platform of an index) is
//! queued in the metadata store, and workers stream its layers out of the blob store
//! through the scanner — nothing is unpacked — then store the report. The advisory
//! index is built from the database `airlock vulndb import` fills, and rebuilt when
//! the number of stored advisories changes.

use airlock_oci::{Digest, Reference, RepositoryName};
use airlock_registry::Registry;
use airlock_scanner::layers::{read_layer, Filesystem, Limits};
use airlock_scanner::{AdvisoryIndex, Report, Severity};
use airlock_storage::{AdvisoryStore, ScanJob, ScanStore};
use futures_util::TryStreamExt;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, RwLock};

/// A running job untouched this long belonged to a worker that died; retake it.
const STALE_SECS: i64 = 600;
/// How often the advisory count is checked for a database update.
const INDEX_CHECK: Duration = Duration::from_secs(30);
/// Most platforms of one index scanned.
const MAX_PLATFORMS: usize = 32;

const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// What the scanner stores need to offer.
pub trait ScanBackend: ScanStore + AdvisoryStore {}
impl<T: ScanStore + AdvisoryStore> ScanBackend for T {}

fn now() -> i64 {
    airlock_storage::now_unix()
}

/// The report of one platform of a scanned manifest.
#[derive(Debug, Serialize)]
pub struct PlatformReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub manifest: String,
    #[serde(flatten)]
    pub report: Report,
}

/// A stored scan result.
#[derive(Debug, Serialize)]
pub struct ScanResult {
    pub repository: String,
    pub digest: String,
    /// Findings per severity over all platforms.
    pub summary: std::collections::BTreeMap<Severity, usize>,
    pub platforms: Vec<PlatformReport>,
}

type Index = (Arc<AdvisoryIndex>, u64, Instant);

pub struct ScanService {
    registry: Registry,
    store: Arc<dyn ScanBackend>,
    index: RwLock<Option<Index>>,
    wake: Notify,
    limits: Limits,
}

impl ScanService {
    pub fn new(registry: Registry, store: Arc<dyn ScanBackend>) -> Arc<ScanService> {
        Arc::new(ScanService {
            registry,
            store,
            index: RwLock::new(None),
            wake: Notify::new(),
            limits: Limits::default(),
        })
    }

    /// Queues a pushed manifest and wakes a worker.
    pub async fn enqueue(&self, repository: &RepositoryName, digest: &str) {
        match self
            .store
            .enqueue_scan(repository.as_str(), digest, now())
            .await
        {
            Ok(()) => self.wake.notify_one(),
            Err(e) => tracing::warn!(error = ?e, %repository, digest, "queueing a scan"),
        }
    }

    pub async fn job(&self, repository: &str, digest: &str) -> anyhow::Result<Option<ScanJob>> {
        self.store.scan_job(repository, digest).await
    }

    pub async fn report(
        &self,
        repository: &str,
        digest: &str,
    ) -> anyhow::Result<Option<(i64, serde_json::Value)>> {
        Ok(self
            .store
            .scan_report(repository, digest)
            .await?
            .and_then(|(at, json)| serde_json::from_str(&json).ok().map(|v| (at, v))))
    }

    /// Starts `workers` scanning tasks.
    pub fn start(self: &Arc<Self>, workers: usize) {
        for _ in 0..workers {
            let me = self.clone();
            tokio::spawn(async move { me.work().await });
        }
    }

    async fn work(&self) {
        loop {
            let t = now();
            match self.store.claim_scan(t, t - STALE_SECS).await {
                Ok(Some(job)) => {
                    let started = Instant::now();
                    let outcome = self.scan(&job).await;
                    let done = match outcome {
                        Ok(result) => {
                            let json = serde_json::to_string(&result).unwrap_or_default();
                            tracing::info!(
                                repository = %job.repository,
                                digest = %job.digest,
                                findings = result.summary.values().sum::<usize>(),
                                ms = started.elapsed().as_millis() as u64,
                                "scanned"
                            );
                            self.store
                                .finish_scan(&job.repository, &job.digest, &json, now())
                                .await
                        }
                        Err(e) => {
                            tracing::info!(repository = %job.repository, digest = %job.digest, error = %e, "scan failed");
                            self.store
                                .fail_scan(&job.repository, &job.digest, &format!("{e:#}"), now())
                                .await
                        }
                    };
                    if let Err(e) = done {
                        tracing::warn!(error = ?e, "recording a scan result");
                    }
                }
                Ok(None) => {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "claiming a scan job");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// The advisory index, rebuilt when the database changed.
    async fn advisories(&self) -> anyhow::Result<Arc<AdvisoryIndex>> {
        if let Some((idx, _, at)) = self.index.read().await.as_ref() {
            if at.elapsed() < INDEX_CHECK {
                return Ok(idx.clone());
            }
        }
        let mut guard = self.index.write().await;
        let count = self.store.count_advisories().await?;
        if let Some((idx, n, at)) = guard.as_mut() {
            if *n == count {
                *at = Instant::now();
                return Ok(idx.clone());
            }
        }
        let records = self.store.advisory_records().await?;
        let index =
            tokio::task::spawn_blocking(move || AdvisoryIndex::from_records(records)).await?;
        let index = Arc::new(index);
        tracing::info!(advisories = index.len(), "advisory index built");
        *guard = Some((index.clone(), count, Instant::now()));
        Ok(index)
    }

    async fn scan(&self, job: &ScanJob) -> anyhow::Result<ScanResult> {
        let repo = RepositoryName::parse(&job.repository)?;
        let digest = Digest::parse(&job.digest)?;
        let top = self
            .registry
            .get_manifest(&repo, &Reference::Digest(digest.clone()))
            .await?;
        let doc: serde_json::Value = serde_json::from_slice(&top.bytes)?;
        // An index: each platform; an image: itself; anything else (signatures,
        // SBOMs, other artifacts) has no filesystem to scan.
        let mut images: Vec<(Option<String>, Digest, serde_json::Value)> = Vec::new();
        if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
            for child in children.iter().take(MAX_PLATFORMS) {
                let platform = child.get("platform");
                let os = platform.and_then(|p| p["os"].as_str()).unwrap_or("");
                if os == "unknown" {
                    continue; // attestations
                }
                let name = platform.map(|p| {
                    let mut n = format!(
                        "{}/{}",
                        p["os"].as_str().unwrap_or("?"),
                        p["architecture"].as_str().unwrap_or("?")
                    );
                    if let Some(v) = p["variant"].as_str() {
                        n = format!("{n}/{v}");
                    }
                    n
                });
                let Some(d) = child["digest"].as_str().and_then(|d| Digest::parse(d).ok()) else {
                    continue;
                };
                let m = self
                    .registry
                    .get_manifest(&repo, &Reference::Digest(d.clone()))
                    .await?;
                images.push((name, d, serde_json::from_slice(&m.bytes)?));
            }
        } else {
            images.push((None, digest.clone(), doc));
        }
        let index = self.advisories().await?;
        let mut platforms = Vec::new();
        for (platform, manifest, doc) in images {
            let config_type = doc["config"]["mediaType"].as_str().unwrap_or("");
            if !IMAGE_CONFIGS.contains(&config_type) {
                continue;
            }
            let fs = self.filesystem(&doc).await?;
            let idx = index.clone();
            let report = tokio::task::spawn_blocking(move || Report::new(&fs, &idx)).await?;
            platforms.push(PlatformReport {
                platform,
                manifest: manifest.to_string(),
                report,
            });
        }
        let mut summary = std::collections::BTreeMap::new();
        for f in platforms.iter().flat_map(|p| &p.report.findings) {
            *summary.entry(f.severity).or_insert(0) += 1;
        }
        Ok(ScanResult {
            repository: job.repository.clone(),
            digest: job.digest.clone(),
            summary,
            platforms,
        })
    }

    /// Streams each layer out of the blob store through the layer walk.
    async fn filesystem(&self, manifest: &serde_json::Value) -> anyhow::Result<Filesystem> {
        let mut fs = Filesystem::default();
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            let digest = Digest::parse(layer["digest"].as_str().unwrap_or(""))?;
            let size = layer["size"].as_u64().unwrap_or(0);
            let stream = self.registry.open_blob(&digest, 0, size).await?;
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(
                stream.map_err(std::io::Error::other),
            ));
            let limits = self.limits;
            let name = digest.to_string();
            let delta =
                tokio::task::spawn_blocking(move || read_layer(&name, reader, &limits)).await??;
            fs.apply(delta, &self.limits)?;
        }
        Ok(fs)
    }
}
