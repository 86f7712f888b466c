//! Scan-on-push and continuous rescans. Every pushed image manifest (and every
//! platform of an index) is queued in the metadata store; workers stream its layers
//! out of the blob store through the scanner — nothing is unpacked — store the
//! inventory and the findings. CycloneDX and SPDX SBOMs of every scanned image are
//! generated on request from the stored inventory ([`ScanService::sbom`]); they are
//! pushed into the repository as OCI referrers of the image only where an
//! administrator opted in for the repository's pattern ([`ScanService::sbom_referrers`]),
//! because by default a registry must not change what a repository holds behind its
//! users' backs. The advisory index is built from the database `airlock vulndb
//! import` fills and rebuilt when its generation changes; then every stored inventory
//! is re-matched (no layer is read again) and each image whose findings changed gets
//! a `findings_changed` event.

mod findings;

pub use findings::{assemble, rematch_one};

use airlock_access::RepoPattern;
use airlock_oci::{Digest, Reference, RepositoryName};
use airlock_registry::{Chunk, Registry};
use airlock_scanner::layers::{read_layer, Filesystem, Limits};
use airlock_scanner::matcher::{Matcher, PackageRef};
use airlock_scanner::{sbom, scan, AdvisoryIndex, Report};
use airlock_storage::{AdvisoryStore, DirectoryStore, Rematch, ScanEvent, ScanJob, ScanStore};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Notify, RwLock};

/// A running job untouched this long belonged to a worker that died; retake it.
const STALE_SECS: i64 = 600;
/// How often the advisory database's generation is checked.
const INDEX_CHECK: Duration = Duration::from_secs(30);
/// Most platforms of one index scanned.
const MAX_PLATFORMS: usize = 32;
/// Largest image configuration read.
const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Reports re-matched per read from the store.
const REMATCH_PAGE: u32 = 1000;

const IMAGE_CONFIGS: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The annotation that marks an SBOM this registry generated (and may replace).
const GENERATOR_ANNOTATION: &str = "dev.airlock.sbom.generator";
const SBOM_TYPES: [&str; 2] = ["application/vnd.cyclonedx+json", "application/spdx+json"];
/// The setting that holds the SBOM-referrer patterns set at run time.
const SBOM_REFERRERS_SETTING: &str = "sbom_referrers";
/// Most patterns in the SBOM-referrer list.
pub const MAX_SBOM_PATTERNS: usize = 256;
/// Who owns the upload sessions the scanner opens for the SBOMs it attaches.
const SCANNER_OWNER: &str = "airlock:scanner";

/// What the scanner stores need to offer (the directory's for run-time settings).
pub trait ScanBackend: ScanStore + AdvisoryStore + DirectoryStore {}
impl<T: ScanStore + AdvisoryStore + DirectoryStore> ScanBackend for T {}

/// An SBOM format `GET /api/v1/scans/sbom` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    CycloneDx,
    Spdx,
}

impl SbomFormat {
    pub fn parse(s: &str) -> Option<SbomFormat> {
        match s {
            "cyclonedx" => Some(SbomFormat::CycloneDx),
            "spdx" => Some(SbomFormat::Spdx),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            SbomFormat::CycloneDx => SBOM_TYPES[0],
            SbomFormat::Spdx => SBOM_TYPES[1],
        }
    }

    fn render(self, report: &Report, subject: &str) -> Value {
        match self {
            SbomFormat::CycloneDx => sbom::cyclonedx(report, subject),
            SbomFormat::Spdx => sbom::spdx(report, subject),
        }
    }
}

/// Why no SBOM could be given.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error("no scan report of that manifest")]
    NotScanned,
    #[error("the manifest is an index of several platforms; name one with platform= ({})", .0.join(", "))]
    PlatformNeeded(Vec<String>),
    #[error("the scan report has no platform {0:?}")]
    UnknownPlatform(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Where the SBOM-referrer patterns in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatternSource {
    /// `sbom_referrers` in the configuration (empty by default).
    Config,
    /// Set at run time through the admin API; replaces the configuration's until reset.
    Stored,
}

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
    /// The findings as stored: rows pointing into `report.packages`.
    #[serde(skip)]
    rows: Vec<findings::NewRow>,
}

/// A scan result: stored as its inventory (findings left out) plus the findings of
/// each platform, so a re-match rewrites only the latter.
#[derive(Debug, Serialize)]
pub struct ScanResult {
    pub repository: String,
    pub digest: String,
    pub platforms: Vec<PlatformReport>,
}

/// What one re-match run did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct RematchStats {
    pub generation: i64,
    pub reports: u64,
    pub changed: u64,
    pub millis: u64,
    /// Of `millis`: waiting for reports to be read, matching them, waiting for the
    /// outcomes to be written (reads and writes overlap the matching).
    pub read_millis: u64,
    pub match_millis: u64,
    pub write_millis: u64,
    /// Distinct (ecosystem, name, version) matched (summed over the matching threads).
    pub distinct_packages: u64,
}

/// Re-matches every report behind `generation` against `index` (built from that
/// generation), a page at a time: the next page is read and the previous outcomes
/// written while this page is matched, split over the machine's cores with one
/// memoising matcher per core kept for the whole run. Blocking: run it off the async
/// workers.
pub fn rematch_all(
    store: Arc<dyn ScanBackend>,
    index: &AdvisoryIndex,
    generation: i64,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<RematchStats> {
    let started = Instant::now();
    let mut stats = RematchStats {
        generation,
        ..RematchStats::default()
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let mut matchers: Vec<Matcher> = (0..threads).map(|_| Matcher::new(index)).collect();
    let ms = |t: Instant| t.elapsed().as_millis() as u64;
    let read = |after: Option<(String, String)>| {
        let store = store.clone();
        runtime.spawn(async move {
            let after = after.as_ref().map(|(r, d)| (r.as_str(), d.as_str()));
            store.reports_behind(generation, after, REMATCH_PAGE).await
        })
    };
    let mut next = read(None);
    let mut writing: Option<tokio::task::JoinHandle<anyhow::Result<()>>> = None;
    loop {
        let t = Instant::now();
        let page = runtime.block_on(next)??;
        stats.read_millis += ms(t);
        let Some(last) = page.last() else { break };
        next = read(Some((last.repository.clone(), last.digest.clone())));
        let t = Instant::now();
        let share = page.len().div_ceil(threads);
        let outcomes: Vec<Rematch> = std::thread::scope(|scope| {
            let running: Vec<_> = page
                .chunks(share)
                .zip(matchers.iter_mut())
                .map(|(part, matcher)| {
                    scope.spawn(move || {
                        part.iter()
                            .filter_map(|r| rematch_one(r, matcher))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            running
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_default())
                .collect()
        });
        stats.match_millis += ms(t);
        stats.reports += page.len() as u64;
        stats.changed += outcomes.iter().filter(|o| o.event.is_some()).count() as u64;
        let t = Instant::now();
        if let Some(w) = writing.take() {
            runtime.block_on(w)??;
        }
        stats.write_millis += ms(t);
        let store = store.clone();
        writing = Some(
            runtime
                .spawn(async move { store.record_rematches(&outcomes, generation, now()).await }),
        );
    }
    let t = Instant::now();
    if let Some(w) = writing.take() {
        runtime.block_on(w)??;
    }
    stats.write_millis += ms(t);
    stats.millis = ms(started);
    stats.distinct_packages = matchers.iter().map(|m| m.distinct() as u64).sum();
    Ok(stats)
}

/// The advisory index and the database generation it was built from.
type Index = (Arc<AdvisoryIndex>, i64, Instant);

pub struct ScanService {
    registry: Registry,
    store: Arc<dyn ScanBackend>,
    index: RwLock<Option<Index>>,
    wake: Notify,
    rematching: Mutex<i64>,
    limits: Limits,
    /// Repositories whose scanned images get their SBOMs attached as referrers,
    /// unless patterns were stored at run time.
    sbom_referrers: Vec<RepoPattern>,
}

impl ScanService {
    /// `sbom_referrers`: the configuration's patterns of repositories whose scanned
    /// images get their SBOMs pushed as referrers (empty: none).
    pub fn new(
        registry: Registry,
        store: Arc<dyn ScanBackend>,
        sbom_referrers: Vec<RepoPattern>,
    ) -> Arc<ScanService> {
        Arc::new(ScanService {
            registry,
            store,
            index: RwLock::new(None),
            wake: Notify::new(),
            rematching: Mutex::new(-1),
            limits: Limits::default(),
            sbom_referrers,
        })
    }

    /// The patterns of repositories whose scanned images get SBOM referrers, and
    /// where they come from. Read from the database on every call (once per finished
    /// scan), so a change reaches every server sharing it at once.
    pub async fn sbom_referrers(&self) -> anyhow::Result<(Vec<RepoPattern>, PatternSource)> {
        let Some(json) = self.store.setting(SBOM_REFERRERS_SETTING).await? else {
            return Ok((self.sbom_referrers.clone(), PatternSource::Config));
        };
        let texts: Vec<String> = serde_json::from_str(&json)?;
        let patterns = RepoPattern::parse_all(&texts)?;
        Ok((patterns, PatternSource::Stored))
    }

    /// Stores patterns that replace the configuration's (`None`: back to it).
    pub async fn set_sbom_referrers(&self, patterns: Option<&[RepoPattern]>) -> anyhow::Result<()> {
        let json = patterns
            .map(|p| serde_json::to_string(&p.iter().map(RepoPattern::as_str).collect::<Vec<_>>()))
            .transpose()?;
        self.store
            .set_setting(SBOM_REFERRERS_SETTING, json.as_deref())
            .await
    }

    /// The SBOM of one scanned manifest (of one `platform` of an index), generated
    /// from the stored inventory; nothing is pushed into the repository.
    pub async fn sbom(
        &self,
        repository: &RepositoryName,
        digest: &Digest,
        format: SbomFormat,
        platform: Option<&str>,
    ) -> Result<Value, SbomError> {
        let Some((_, report)) = self.report(repository.as_str(), digest.as_ref()).await? else {
            return Err(SbomError::NotScanned);
        };
        let platforms = report["platforms"].as_array().cloned().unwrap_or_default();
        let chosen = match platform {
            Some(want) => platforms
                .iter()
                .find(|p| p["platform"].as_str() == Some(want))
                .ok_or_else(|| SbomError::UnknownPlatform(want.chars().take(64).collect()))?,
            None => match platforms.as_slice() {
                [only] => only,
                [] => return Err(SbomError::NotScanned),
                several => {
                    return Err(SbomError::PlatformNeeded(
                        several
                            .iter()
                            .filter_map(|p| p["platform"].as_str().map(str::to_owned))
                            .collect(),
                    ))
                }
            },
        };
        let manifest = chosen["manifest"].as_str().unwrap_or_default();
        let parsed: Report =
            serde_json::from_value(chosen.clone()).map_err(|e| SbomError::Internal(e.into()))?;
        Ok(format.render(&parsed, &format!("{repository}@{manifest}")))
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

    /// The stored report as the API shows it, with when it was scanned.
    pub async fn report(
        &self,
        repository: &str,
        digest: &str,
    ) -> anyhow::Result<Option<(i64, Value)>> {
        match self.store.scan_report(repository, digest).await? {
            Some(stored) => {
                let (index, _) = self.advisories().await?;
                Ok(Some((stored.scanned_at, assemble(&stored, &index)?)))
            }
            None => Ok(None),
        }
    }

    pub async fn events(&self, after: i64, limit: u32) -> anyhow::Result<Vec<ScanEvent>> {
        self.store.scan_events(after, limit).await
    }

    /// Starts `workers` scanning tasks and the rescan task.
    pub fn start(self: &Arc<Self>, workers: usize) {
        for _ in 0..workers {
            let me = self.clone();
            tokio::spawn(async move { me.work().await });
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = me.rematch().await {
                    tracing::warn!(error = ?e, "re-matching stored inventories");
                }
                tokio::time::sleep(INDEX_CHECK).await;
            }
        });
    }

    /// Re-matches the stored inventories behind the advisory database's generation,
    /// unless this process already did for that generation.
    pub async fn rematch(&self) -> anyhow::Result<Option<RematchStats>> {
        let mut done = self.rematching.lock().await;
        let (index, generation) = self.advisories_now().await?;
        if *done == generation {
            return Ok(None);
        }
        let store = self.store.clone();
        let runtime = tokio::runtime::Handle::current();
        let stats =
            tokio::task::spawn_blocking(move || rematch_all(store, &index, generation, &runtime))
                .await??;
        *done = generation;
        if stats.reports > 0 {
            tracing::info!(
                generation,
                reports = stats.reports,
                changed = stats.changed,
                ms = stats.millis,
                "re-matched stored inventories"
            );
        }
        Ok(Some(stats))
    }

    async fn work(&self) {
        loop {
            let t = now();
            match self.store.claim_scan(t, t - STALE_SECS).await {
                Ok(Some(job)) => {
                    let started = Instant::now();
                    match self.scan(&job).await {
                        Ok((result, generation)) => {
                            let findings =
                                result.platforms.iter().map(|p| p.rows.len()).sum::<usize>();
                            if let Err(e) = self.finish(result, generation).await {
                                tracing::warn!(error = ?e, "recording a scan result");
                            }
                            tracing::info!(
                                repository = %job.repository,
                                digest = %job.digest,
                                findings,
                                ms = started.elapsed().as_millis() as u64,
                                "scanned"
                            );
                        }
                        Err(e) => {
                            tracing::info!(repository = %job.repository, digest = %job.digest, error = %e, "scan failed");
                            if let Err(e) = self
                                .store
                                .fail_scan(&job.repository, &job.digest, &format!("{e:#}"), now())
                                .await
                            {
                                tracing::warn!(error = ?e, "recording a scan failure");
                            }
                        }
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

    /// Stores a scan's inventory and findings, and attaches its SBOMs to the image
    /// where the repository opted in.
    async fn finish(&self, mut result: ScanResult, generation: i64) -> anyhow::Result<()> {
        let repo = RepositoryName::parse(&result.repository)?;
        let (patterns, _) = self.sbom_referrers().await?;
        if patterns.iter().any(|p| p.matches(&repo)) {
            for p in &result.platforms {
                if let Err(e) = self.attach_sboms(&repo, p).await {
                    tracing::warn!(repository = %repo, manifest = %p.manifest, error = ?e, "attaching SBOMs");
                }
            }
        }
        // Stored: the inventory, and the findings as rows pointing into it.
        let rows: Vec<Vec<findings::NewRow>> = result
            .platforms
            .iter_mut()
            .map(|p| {
                p.report.findings.clear();
                std::mem::take(&mut p.rows)
            })
            .collect();
        let event = json!({
            "platforms": result.platforms.len(),
            "packages": result.platforms.iter().map(|p| p.report.packages.len()).sum::<usize>(),
            "summary": findings::summary(rows.iter().flatten().map(findings::NewRow::severity)),
        });
        self.store
            .finish_scan(
                &result.repository,
                &result.digest,
                &serde_json::to_string(&result)?,
                &serde_json::to_string(&rows)?,
                generation,
                &event.to_string(),
                now(),
            )
            .await
    }

    /// Pushes CycloneDX and SPDX SBOMs of one scanned image manifest as referrers of
    /// it (`subject`), replacing the ones an earlier scan attached.
    async fn attach_sboms(&self, repo: &RepositoryName, p: &PlatformReport) -> anyhow::Result<()> {
        let subject = Digest::parse(&p.manifest)?;
        let content = self
            .registry
            .get_manifest(repo, &Reference::Digest(subject.clone()))
            .await?;
        let empty = self.put_blob(repo, Bytes::from_static(b"{}")).await?;
        let named = format!("{}@{}", repo, subject);
        for format in [SbomFormat::CycloneDx, SbomFormat::Spdx] {
            let (artifact_type, doc) = (format.media_type(), format.render(&p.report, &named));
            let body = Bytes::from(serde_json::to_vec(&doc)?);
            let size = body.len();
            let layer = self.put_blob(repo, body).await?;
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": artifact_type,
                "config": {"mediaType": EMPTY_CONFIG, "digest": empty.to_string(), "size": 2},
                "layers": [{"mediaType": artifact_type, "digest": layer.to_string(), "size": size}],
                "subject": {
                    "mediaType": content.media_type,
                    "digest": subject.to_string(),
                    "size": content.bytes.len(),
                },
                "annotations": {
                    "org.opencontainers.image.created": time::OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    GENERATOR_ANNOTATION: "airlock",
                },
            });
            let bytes = Bytes::from(serde_json::to_vec(&manifest)?);
            let digest = Digest::of(airlock_oci::Algorithm::Sha256, &bytes);
            let earlier = self
                .registry
                .referrers(repo, &subject, Some(artifact_type))
                .await?;
            self.registry
                .put_manifest(
                    repo,
                    &Reference::Digest(digest.clone()),
                    Some("application/vnd.oci.image.manifest.v1+json"),
                    bytes,
                )
                .await?;
            for old in earlier {
                let ours = old
                    .annotations
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<Value>(a).ok())
                    .is_some_and(|a| a[GENERATOR_ANNOTATION] == "airlock");
                if ours && old.digest != digest {
                    self.registry
                        .delete_manifest(repo, &Reference::Digest(old.digest))
                        .await
                        .ok();
                }
            }
        }
        Ok(())
    }

    async fn put_blob(&self, repo: &RepositoryName, body: Bytes) -> anyhow::Result<Digest> {
        let digest = Digest::of(airlock_oci::Algorithm::Sha256, &body);
        let len = body.len() as u64;
        let chunk = Chunk {
            data: Box::pin(futures_util::stream::once(async move { Ok(body) })),
            start: None,
            len: Some(len),
        };
        self.registry
            .upload_monolithic(repo, SCANNER_OWNER, &digest, chunk)
            .await?;
        Ok(digest)
    }

    /// The advisory index of the database's current generation, rebuilt when it
    /// changed (checked at most every [`INDEX_CHECK`]).
    async fn advisories(&self) -> anyhow::Result<(Arc<AdvisoryIndex>, i64)> {
        if let Some((idx, generation, at)) = self.index.read().await.as_ref() {
            if at.elapsed() < INDEX_CHECK {
                return Ok((idx.clone(), *generation));
            }
        }
        self.advisories_now().await
    }

    /// The advisory index of the database's current generation, checked now.
    async fn advisories_now(&self) -> anyhow::Result<(Arc<AdvisoryIndex>, i64)> {
        let mut guard = self.index.write().await;
        let generation = self.store.advisory_generation().await?;
        if let Some((idx, g, at)) = guard.as_mut() {
            if *g == generation {
                *at = Instant::now();
                return Ok((idx.clone(), generation));
            }
        }
        let records = self.store.advisory_records().await?;
        let index =
            tokio::task::spawn_blocking(move || AdvisoryIndex::from_records(records)).await?;
        let index = Arc::new(index);
        tracing::info!(advisories = index.len(), generation, "advisory index built");
        *guard = Some((index.clone(), generation, Instant::now()));
        Ok((index, generation))
    }

    async fn scan(&self, job: &ScanJob) -> anyhow::Result<(ScanResult, i64)> {
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
        let (index, generation) = self.advisories().await?;
        let mut platforms = Vec::new();
        for (platform, manifest, doc) in images {
            let config_type = doc["config"]["mediaType"].as_str().unwrap_or("");
            if !IMAGE_CONFIGS.contains(&config_type) {
                continue;
            }
            let config = self.config(&doc).await?;
            let fs = self.filesystem(&doc).await?;
            let idx = index.clone();
            let (report, rows) = tokio::task::spawn_blocking(move || {
                // One matcher for the stored rows and the SBOM's findings.
                let mut matcher = Matcher::new(&idx);
                let (os, packages) = scan::catalog(&fs);
                let rows = findings::rows(packages.iter().map(PackageRef::from), &mut matcher);
                let findings = matcher.match_all(packages.iter().map(PackageRef::from));
                let report = Report {
                    os,
                    packages,
                    findings,
                    misconfigurations: Vec::new(),
                }
                .with_misconfigurations(Some(&config), &fs);
                (report, rows)
            })
            .await?;
            platforms.push(PlatformReport {
                platform,
                manifest: manifest.to_string(),
                report,
                rows,
            });
        }
        Ok((
            ScanResult {
                repository: job.repository.clone(),
                digest: job.digest.clone(),
                platforms,
            },
            generation,
        ))
    }

    /// The image configuration (user, environment, healthcheck) for the checks.
    async fn config(&self, manifest: &Value) -> anyhow::Result<Value> {
        let digest = Digest::parse(manifest["config"]["digest"].as_str().unwrap_or(""))?;
        let size = manifest["config"]["size"].as_u64().unwrap_or(0);
        anyhow::ensure!(
            size <= MAX_CONFIG_BYTES,
            "image configuration larger than 4 MiB"
        );
        let stream = self.registry.open_blob(&digest, 0, size).await?;
        let bytes: Vec<Bytes> = stream.try_collect().await?;
        Ok(serde_json::from_slice(&bytes.concat())?)
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
