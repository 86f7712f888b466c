//! The advisory index: OSV records by (ecosystem, package), loaded from a directory
//! tree or a zip of OSV JSON files (as OSV publishes them), or from records kept in
//! the metadata store.

use crate::catalog::normalize_pypi;
use crate::osv::Advisory;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Largest advisory file read.
const MAX_RECORD_BYTES: u64 = 8 << 20;

/// The key an advisory's package is filed under: ecosystem as written, name
/// normalised where the ecosystem says names are case- or separator-insensitive.
pub fn key(ecosystem: &str, name: &str) -> (String, String) {
    let name = match ecosystem {
        "PyPI" => normalize_pypi(name),
        _ => name.to_owned(),
    };
    (ecosystem.to_owned(), name)
}

#[derive(Debug, Default, Clone)]
pub struct AdvisoryIndex {
    by_package: HashMap<(String, String), Vec<Arc<Advisory>>>,
    by_id: HashMap<String, Arc<Advisory>>,
    count: usize,
}

/// A problem with one file of a database (the rest still loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

impl AdvisoryIndex {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Adds one record (withdrawn ones are kept out).
    pub fn insert(&mut self, advisory: Advisory) {
        if advisory.is_withdrawn() {
            return;
        }
        let a = Arc::new(advisory);
        let mut keys: Vec<(String, String)> = a
            .affected
            .iter()
            .filter_map(|x| x.package.as_ref())
            .map(|p| key(&p.ecosystem, &p.name))
            .collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            self.by_package.entry(k).or_default().push(a.clone());
        }
        self.by_id.insert(a.id.clone(), a);
        self.count += 1;
    }

    /// The advisory with this id, if the index holds it.
    pub fn get(&self, id: &str) -> Option<&Arc<Advisory>> {
        self.by_id.get(id)
    }

    pub fn lookup(&self, ecosystem: &str, name: &str) -> &[Arc<Advisory>] {
        self.by_package
            .get(&key(ecosystem, name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The index of stored OSV JSON records (those that no longer parse are left out).
    pub fn from_records<B: AsRef<[u8]> + Sync>(
        records: impl IntoIterator<Item = B>,
    ) -> AdvisoryIndex {
        let records: Vec<B> = records.into_iter().collect();
        let mut index = AdvisoryIndex::default();
        for a in parse_all(&records, |r| r.as_ref()).into_iter().flatten() {
            index.insert(a);
        }
        index
    }

    /// Every record of a directory tree (`*.json`) or a zip file.
    pub fn load(path: &Path) -> anyhow::Result<(AdvisoryIndex, Vec<Skipped>)> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for_each_record(path, &mut |file, bytes| {
            files.push((file.to_owned(), bytes.to_vec()))
        })?;
        let mut index = AdvisoryIndex::default();
        let mut skipped = Vec::new();
        for (parsed, (file, _)) in parse_all(&files, |f| &f.1).into_iter().zip(&files) {
            match parsed {
                Ok(a) => index.insert(a),
                Err(e) => skipped.push(Skipped {
                    file: file.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        Ok((index, skipped))
    }
}

/// Parses records on every core, in order.
fn parse_all<T: Sync>(
    items: &[T],
    bytes: impl Fn(&T) -> &[u8] + Sync,
) -> Vec<Result<Advisory, serde_json::Error>> {
    parallel_map(items, |i| Advisory::parse(bytes(i)))
}

/// `f` over `items` on every core, results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let share = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(share)
            .map(|part| {
                let f = &f;
                scope.spawn(move || part.iter().map(f).collect::<Vec<_>>())
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// Every `*.json` record under `path` (a directory tree or a zip), unparsed.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for_each_record(path, &mut |file, bytes| {
        files.push((file.to_owned(), bytes.to_vec()))
    })?;
    Ok(files)
}

/// Just the packages of a record, read without building the rest.
#[derive(serde::Deserialize)]
struct PackagesOnly<'a> {
    #[serde(borrow, default)]
    affected: Vec<AffectedPackage<'a>>,
}

#[derive(serde::Deserialize)]
struct AffectedPackage<'a> {
    #[serde(borrow, default)]
    package: Option<PackageKey<'a>>,
}

#[derive(serde::Deserialize)]
struct PackageKey<'a> {
    #[serde(borrow)]
    ecosystem: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

impl AdvisoryIndex {
    /// The index of the records about any of `keys` (see [`key`]): each record's
    /// packages are read first, and only the records that concern one of them are
    /// parsed whole. Records that do not parse are returned as skipped.
    pub fn about(
        records: &[(String, Vec<u8>)],
        keys: &std::collections::HashSet<(String, String)>,
    ) -> (AdvisoryIndex, Vec<Skipped>) {
        let parsed = parallel_map(records, |(_, bytes)| {
            let light: PackagesOnly = serde_json::from_slice(bytes)?;
            let wanted = light
                .affected
                .iter()
                .filter_map(|a| a.package.as_ref())
                .any(|p| keys.contains(&key(&p.ecosystem, &p.name)));
            wanted.then(|| Advisory::parse(bytes)).transpose()
        });
        let mut index = AdvisoryIndex::default();
        let mut skipped = Vec::new();
        for (result, (file, _)) in parsed.into_iter().zip(records) {
            match result {
                Ok(Some(a)) => index.insert(a),
                Ok(None) => {}
                Err(e) => skipped.push(Skipped {
                    file: file.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        (index, skipped)
    }
}

/// Calls `f(file name, bytes)` for every `*.json` file under `path` (a directory
/// or a zip archive).
pub fn for_each_record(path: &Path, f: &mut dyn FnMut(&str, &[u8])) -> anyhow::Result<()> {
    use anyhow::Context;
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        let mut stack = vec![path.to_owned()];
        let mut files = Vec::new();
        while let Some(dir) = stack.pop() {
            for entry in
                std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
            {
                let entry = entry?;
                let p = entry.path();
                let t = entry.file_type()?;
                if t.is_dir() {
                    stack.push(p);
                } else if t.is_file() && p.extension().is_some_and(|e| e == "json") {
                    files.push(p);
                }
            }
        }
        files.sort();
        for p in files {
            let mut bytes = Vec::new();
            std::fs::File::open(&p)?
                .take(MAX_RECORD_BYTES)
                .read_to_end(&mut bytes)?;
            f(&p.display().to_string(), &bytes);
        }
        return Ok(());
    }
    let file = std::fs::File::open(path)?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is neither a directory nor a zip file", path.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if !entry.is_file() || !entry.name().ends_with(".json") {
            continue;
        }
        let name = entry.name().to_owned();
        let mut bytes = Vec::new();
        (&mut entry)
            .take(MAX_RECORD_BYTES)
            .read_to_end(&mut bytes)?;
        f(&name, &bytes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_about_the_given_packages_are_parsed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vulndb");
        let mut records = read_records(&dir).unwrap();
        assert_eq!(records.len(), 8);
        records.push(("broken.json".into(), b"{not json".to_vec()));
        let keys = [key("Alpine:v3.11", "musl"), key("PyPI", "Apache_Atlas")]
            .into_iter()
            .collect();
        let (index, skipped) = AdvisoryIndex::about(&records, &keys);
        assert_eq!(
            index.len(),
            2,
            "{:?}",
            index.by_id.keys().collect::<Vec<_>>()
        );
        assert!(index.get("ALPINE-CVE-2016-8859-musl-v3.11").is_some());
        assert_eq!(index.lookup("PyPI", "apache-atlas").len(), 1);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].file, "broken.json");
    }
}
