//! Benchmark of continuous rescans: stores N image inventories (default 10,000) in a
//! metadata database, then re-matches all of them against the advisories imported
//! there, the way a running registry does after `airlock vulndb import`.
//!
//! ```text
//! rematch_bench seed DATA_DIR VULNDB_DIR [N]   # N inventories at advisory generation 0
//! airlock vulndb import VULNDB_DIR --data-dir DATA_DIR
//! rematch_bench run DATA_DIR                   # re-match; prints the figures
//! ```
//!
//! The inventories are built from real names and versions: the Debian base is this
//! machine's dpkg database (cut to a slim-image size per image), distribution and
//! language packages come from the advisories themselves with versions taken from
//! their ranges (so findings appear), mixed per image. `bench/rematch.sh` runs it all.

use airlock_scanner::catalog::{self, OsRelease, Package};
use airlock_scanner::osv::{Advisory, Event};
use airlock_scanner::{index, AdvisoryIndex};
use airlock_server::scanning::rematch_all;
use airlock_storage::{AdvisoryStore, ScanStore, SqliteMetaStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A small deterministic generator (xorshift64*): the same inventories every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Package names and versions advisories talk about, by ecosystem.
type Pool = BTreeMap<String, Vec<(String, Vec<String>)>>;

fn pool(vulndb: &Path) -> anyhow::Result<Pool> {
    let mut by_eco: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    index::for_each_record(vulndb, &mut |_, bytes| {
        let Ok(a) = Advisory::parse(bytes) else {
            return;
        };
        for aff in &a.affected {
            let Some(p) = &aff.package else { continue };
            let versions = by_eco
                .entry(p.ecosystem.clone())
                .or_default()
                .entry(p.name.clone())
                .or_default();
            versions.extend(aff.versions.iter().take(4).cloned());
            for r in &aff.ranges {
                for e in &r.events {
                    match e {
                        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v)
                            if v != "0" =>
                        {
                            versions.push(v.clone())
                        }
                        _ => {}
                    }
                }
            }
        }
    })?;
    Ok(by_eco
        .into_iter()
        .map(|(eco, names)| {
            let list = names
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect::<Vec<_>>();
            (eco, list)
        })
        .collect())
}

fn purl(eco: &str, name: &str, version: &str) -> String {
    let kind = match eco.split(':').next().unwrap_or("") {
        "PyPI" => "pypi",
        "Go" => "golang",
        "crates.io" => "cargo",
        "npm" => "npm",
        "Alpine" => "apk/alpine",
        _ => "generic",
    };
    format!("pkg:{kind}/{name}@{version}")
}

fn drawn(rng: &mut Rng, pool: &Pool, eco: &str, n: usize, layer: &str) -> Vec<Package> {
    let Some(list) = pool.get(eco) else {
        return Vec::new();
    };
    (0..n)
        .map(|_| {
            let (name, versions) = &list[rng.below(list.len())];
            let version = versions[rng.below(versions.len())].clone();
            Package {
                purl: purl(eco, name, &version),
                name: name.clone(),
                source_name: name.clone(),
                source_version: version.clone(),
                version,
                ecosystem: eco.to_owned(),
                layer: layer.to_owned(),
                path: String::new(),
            }
        })
        .collect()
}

fn inventory(rng: &mut Rng, pool: &Pool, debian: &[Package], i: usize) -> serde_json::Value {
    let layer = format!("sha256:{:064x}", i as u128 * 7919);
    let mut packages: Vec<Package> = Vec::new();
    let alpine: Vec<&String> = pool.keys().filter(|e| e.starts_with("Alpine:")).collect();
    let (os, base) = if rng.below(10) < 6 && !debian.is_empty() {
        // A slim Debian base: 90–160 of the machine's packages, some with older
        // versions advisories know about.
        let n = 90 + rng.below(70);
        let start = rng.below(debian.len().saturating_sub(n).max(1));
        let mut base: Vec<Package> = debian.iter().skip(start).take(n).cloned().collect();
        let debian12 = pool.get("Debian:12");
        for p in base.iter_mut() {
            if rng.below(20) == 0 {
                if let Some(v) = debian12
                    .and_then(|l| l.iter().find(|(name, _)| *name == p.source_name))
                    .map(|(_, v)| v[rng.below(v.len())].clone())
                {
                    p.source_version = v.clone();
                    p.version = v;
                }
            }
            p.layer = layer.clone();
        }
        ("debian", base)
    } else if !alpine.is_empty() {
        let eco = alpine[rng.below(alpine.len())].clone();
        let n = 15 + rng.below(40);
        ("alpine", drawn(rng, pool, &eco, n, &layer))
    } else {
        ("none", Vec::new())
    };
    packages.extend(base);
    for eco in ["PyPI", "Go", "crates.io"] {
        if rng.below(3) == 0 {
            let n = 10 + rng.below(80);
            packages.extend(drawn(rng, pool, eco, n, &layer));
        }
    }
    serde_json::json!({
        "repository": format!("bench/app{}", i % 500),
        "digest": format!("sha256:{:064x}", i),
        "platforms": [{
            "platform": "linux/amd64",
            "manifest": format!("sha256:{:064x}", i),
            "os": {"id": os, "version_id": "", "pretty_name": ""},
            "packages": packages,
            "findings": [],
        }],
    })
}

async fn seed(data: &Path, vulndb: &Path, n: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let store = SqliteMetaStore::open(&data.join("airlock.db")).await?;
    anyhow::ensure!(
        store.advisory_generation().await? == 0,
        "seed an empty data dir, then import the advisories"
    );
    let pool = pool(vulndb)?;
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    let os = OsRelease::parse("ID=debian\nVERSION_ID=12\n");
    let debian = catalog::dpkg(&status, &os, "base", "var/lib/dpkg/status");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let started = Instant::now();
    let (mut packages, mut bytes) = (0usize, 0usize);
    for i in 0..n {
        let inv = inventory(&mut rng, &pool, &debian, i);
        packages += inv["platforms"][0]["packages"]
            .as_array()
            .map_or(0, Vec::len);
        let json = inv.to_string();
        bytes += json.len();
        store
            .finish_scan(
                inv["repository"].as_str().unwrap_or_default(),
                inv["digest"].as_str().unwrap_or_default(),
                &json,
                "[[]]",
                0,
                "{}",
                airlock_storage::now_unix(),
            )
            .await?;
    }
    println!(
        "seeded {n} inventories: {packages} packages ({:.0} per image), {:.0} MB of JSON, in {:.1} s",
        packages as f64 / n.max(1) as f64,
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn run(data: &Path) -> anyhow::Result<()> {
    let store = SqliteMetaStore::open(&data.join("airlock.db")).await?;
    let generation = store.advisory_generation().await?;
    let started = Instant::now();
    let records = store.advisory_records().await?;
    let index = AdvisoryIndex::from_records(records);
    let index_secs = started.elapsed().as_secs_f64();
    let runtime = tokio::runtime::Handle::current();
    let stats = tokio::task::spawn_blocking(move || {
        rematch_all(std::sync::Arc::new(store), &index, generation, &runtime)
            .map(|s| (s, index.len()))
    })
    .await??;
    let (stats, advisories) = stats;
    let secs = stats.millis as f64 / 1000.0;
    println!(
        "advisory index: {advisories} advisories in {index_secs:.2} s (built once per database change)"
    );
    println!(
        "re-matched {} inventories against generation {} in {secs:.2} s ({:.0} images/s); findings changed on {}",
        stats.reports,
        stats.generation,
        stats.reports as f64 / secs.max(1e-9),
        stats.changed
    );
    println!(
        "  {} distinct package versions; waiting for reads {:.2} s, matching {:.2} s, waiting for writes {:.2} s",
        stats.distinct_packages,
        stats.read_millis as f64 / 1000.0,
        stats.match_millis as f64 / 1000.0,
        stats.write_millis as f64 / 1000.0
    );
    println!(
        "target: 10,000 inventories in < 5 s -> {}",
        if stats.reports >= 10_000 && secs < 5.0 {
            "PASS"
        } else if stats.reports < 10_000 {
            "n/a (fewer than 10,000)"
        } else {
            "MISS"
        }
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed", data, vulndb] => seed(Path::new(data), Path::new(vulndb), 10_000).await,
        ["seed", data, vulndb, n] => seed(Path::new(data), Path::new(vulndb), n.parse()?).await,
        ["run", data] => run(Path::new(data)).await,
        _ => anyhow::bail!("usage: rematch_bench seed DATA_DIR VULNDB_DIR [N] | run DATA_DIR"),
    }
}
