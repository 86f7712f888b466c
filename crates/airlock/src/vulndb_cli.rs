//! `airlock vulndb`: loads OSV advisories (a directory tree or a zip, as OSV
//! publishes them) into the metadata store, incrementally by `modified`, and reads
//! them back as the scanner's index. For air-gapped installs, a snapshot of the
//! stored advisories travels as an OCI artifact: `push` packs them into a zip layer
//! of an artifact manifest in any registry (Airlock itself included), `pull` fetches
//! one (digest-checked, streamed to a temporary file) and imports it.

use crate::registry_client::{ImageRef, Remote, RemoteArgs};
use airlock_oci::{Digest, Digester};
use airlock_scanner::index::{for_each_record, key};
use airlock_scanner::osv::Advisory;
use airlock_storage::{AdvisoryRecord, AdvisoryStore, ImportCounts, SqliteMetaStore};
use futures_util::StreamExt;
use std::io::Write;
use std::path::Path;

/// The artifact type of an advisory snapshot, and of its one layer.
pub const SNAPSHOT_TYPE: &str = "application/vnd.airlock.osv-snapshot.v1";
const SNAPSHOT_LAYER: &str = "application/vnd.airlock.osv-snapshot.v1+zip";
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Largest snapshot pulled.
const MAX_SNAPSHOT: u64 = 2 << 30;

/// Records written per transaction.
const BATCH: usize = 2000;

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    #[serde(flatten)]
    pub counts: ImportCounts,
    pub skipped: Vec<String>,
}

pub async fn import(store: &SqliteMetaStore, path: &Path) -> anyhow::Result<ImportReport> {
    let path = path.to_owned();
    let (records, skipped) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut records = Vec::new();
        let mut skipped = Vec::new();
        for_each_record(&path, &mut |file, bytes| match Advisory::parse(bytes) {
            Ok(a) => {
                let mut packages: Vec<(String, String)> = a
                    .affected
                    .iter()
                    .filter_map(|x| x.package.as_ref())
                    .map(|p| key(&p.ecosystem, &p.name))
                    .collect();
                packages.sort();
                packages.dedup();
                records.push(AdvisoryRecord {
                    id: a.id.clone(),
                    modified: a.modified.clone(),
                    withdrawn: a.is_withdrawn(),
                    packages,
                    json: bytes.to_vec(),
                });
            }
            Err(e) => skipped.push(format!("{file}: {e}")),
        })?;
        Ok((records, skipped))
    })
    .await??;
    let mut report = ImportReport {
        skipped,
        ..ImportReport::default()
    };
    for chunk in records.chunks(BATCH) {
        let c = store.import_advisories(chunk).await?;
        report.counts.added += c.added;
        report.counts.updated += c.updated;
        report.counts.unchanged += c.unchanged;
    }
    Ok(report)
}

fn sha256(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).to_string()
}

/// Packs every stored advisory into a zip and pushes it as an artifact to `target`
/// (`HOST/REPO:TAG`). Returns (manifest digest, advisories).
pub async fn push(
    store: &SqliteMetaStore,
    target: &str,
    remote: &RemoteArgs,
) -> anyhow::Result<(String, usize)> {
    let image = ImageRef::parse(target)?;
    let records = store.advisory_records().await?;
    anyhow::ensure!(
        !records.is_empty(),
        "no advisories stored: run `airlock vulndb import PATH` first"
    );
    let count = records.len();
    let zip = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for r in &records {
            let id = Advisory::parse(r).map(|a| a.id).unwrap_or_default();
            let safe: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            zip.start_file(format!("{safe}.json"), options)?;
            zip.write_all(r)?;
        }
        Ok(zip.finish()?.into_inner())
    })
    .await??;
    let mut client = Remote::new(&image, remote, true)?;
    let layer = sha256(&zip);
    let size = zip.len();
    client
        .push_blob(&sha256(b"{}"), bytes::Bytes::from_static(b"{}"))
        .await?;
    client.push_blob(&layer, bytes::Bytes::from(zip)).await?;
    let created = time_now();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": SNAPSHOT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": sha256(b"{}"), "size": 2},
        "layers": [{
            "mediaType": SNAPSHOT_LAYER,
            "digest": layer,
            "size": size,
            "annotations": {"org.opencontainers.image.title": "osv-advisories.zip"},
        }],
        "annotations": {
            "org.opencontainers.image.created": created,
            "dev.airlock.advisories": count.to_string(),
        },
    });
    let bytes = serde_json::to_vec(&manifest)?;
    let digest = sha256(&bytes);
    client
        .push_manifest(&image.reference, OCI_MANIFEST, bytes)
        .await?;
    Ok((digest, count))
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Pulls an advisory snapshot from `source` (`HOST/REPO:TAG`) and imports it.
pub async fn pull(
    store: &SqliteMetaStore,
    source: &str,
    remote: &RemoteArgs,
) -> anyhow::Result<ImportReport> {
    let image = ImageRef::parse(source)?;
    let mut client = Remote::new(&image, remote, false)?;
    let (_, _, bytes) = client.manifest(&image.reference).await?;
    let manifest: serde_json::Value = serde_json::from_slice(&bytes)?;
    anyhow::ensure!(
        manifest["artifactType"] == SNAPSHOT_TYPE,
        "{image} is not an advisory snapshot (artifactType {})",
        manifest["artifactType"]
    );
    let layer = manifest["layers"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["mediaType"] == SNAPSHOT_LAYER))
        .ok_or_else(|| anyhow::anyhow!("{image}: no snapshot layer"))?;
    let digest = Digest::parse(layer["digest"].as_str().unwrap_or_default())
        .map_err(|e| anyhow::anyhow!("{image}: snapshot layer digest: {e}"))?;
    let mut stream = client.blob_stream(digest.as_str()).await?;
    let mut file = tempfile::NamedTempFile::new()?;
    let mut hash = Digester::new(digest.algorithm());
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        anyhow::ensure!(size <= MAX_SNAPSHOT, "{image}: snapshot larger than 2 GiB");
        hash.update(&chunk);
        file.write_all(&chunk)?;
    }
    file.flush()?;
    let got = hash.finish();
    anyhow::ensure!(
        got == digest,
        "{image}: snapshot hashes to {got}, not {digest}"
    );
    import(store, file.path()).await
}
