//! `airlock vulndb`: loads OSV advisories (a directory tree or a zip, as OSV
//! publishes them) into the metadata store, incrementally by `modified`, and reads
//! them back as the scanner's index.

use airlock_scanner::index::{for_each_record, key};
use airlock_scanner::osv::Advisory;
use airlock_scanner::AdvisoryIndex;
use airlock_storage::{AdvisoryRecord, AdvisoryStore, ImportCounts, SqliteMetaStore};
use std::path::Path;

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

/// The scanner's index of every stored advisory.
pub async fn index(store: &SqliteMetaStore) -> anyhow::Result<AdvisoryIndex> {
    let records = store.advisory_records().await?;
    tokio::task::spawn_blocking(move || AdvisoryIndex::from_records(records))
        .await
        .map_err(Into::into)
}
