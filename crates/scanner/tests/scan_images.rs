//! Accuracy on synthetic images built from files: versions just below, at and above
//! real fixed versions from the OSV corpus, packages removed by whiteouts, several
//! layer compressions and a multi-platform index. The expected findings are exact;
//! precision and recall are printed.

use airlock_scanner::image::{self, Target};
use airlock_scanner::{AdvisoryIndex, Limits, Report, Severity};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

fn tar_layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

/// Writes a blob into the layout; returns its descriptor.
fn blob(dir: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

/// An image manifest of these (already compressed) layers.
fn image(dir: &Path, layers: &[(&str, Vec<u8>)]) -> serde_json::Value {
    let config = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let layers: Vec<_> = layers.iter().map(|(mt, b)| blob(dir, mt, b)).collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config,
        "layers": layers,
    });
    blob(
        dir,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    )
}

fn write_index(dir: &Path, manifests: Vec<serde_json::Value>) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

const GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const ZST: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn debian_image(dir: &Path) -> serde_json::Value {
    let status = b"Package: libssl1.1\nStatus: install ok installed\nSource: openssl\nVersion: 1.1.1k-1+deb11u1\nArchitecture: amd64\n\n\
Package: openssl\nStatus: install ok installed\nVersion: 1.1.1k-1+deb11u2\nArchitecture: amd64\n\n\
Package: libssl-old\nStatus: deinstall ok config-files\nSource: openssl\nVersion: 1.1.1d-0\n";
    let l1 = tar_layer(&[
        (
            "etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nID=debian\nVERSION_ID=\"11\"\n",
        ),
        ("var/lib/dpkg/status", status),
        // 2.10.1 is the fix of PYSEC-2019-217 (not affected) but below PYSEC-2021-66's 2.11.3.
        (
            "usr/lib/python3/dist-packages/Jinja2-2.10.1.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10.1\n",
        ),
        (
            "usr/lib/python3/dist-packages/apache_atlas-0.8.egg-info/PKG-INFO",
            b"Metadata-Version: 1.0\nName: apache-atlas\nVersion: 0.8\n",
        ),
    ]);
    let l2 = tar_layer(&[
        // apache-atlas removed again: no finding for it.
        ("usr/lib/python3/dist-packages/.wh.apache_atlas-0.8.egg-info", b""),
        ("srv/app/Cargo.lock", b"version = 3\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.12\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"smallvec\"\nversion = \"0.6.13\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n"),
    ]);
    image(dir, &[(GZ, gzip(&l1)), (ZST, zstd(&l2))])
}

fn alpine_image(dir: &Path) -> serde_json::Value {
    let installed =
        b"P:musl\nV:1.1.15-r3\nA:x86_64\no:musl\n\nP:musl-utils\nV:1.1.15-r4\no:musl\n\n";
    let l1 = tar_layer(&[
        (
            "etc/os-release",
            b"ID=alpine\nVERSION_ID=3.11.6\nPRETTY_NAME=\"Alpine Linux v3.11\"\n",
        ),
        ("lib/apk/db/installed", installed),
        (
            "usr/lib/python3.8/site-packages/apache_atlas-0.8.egg-info/PKG-INFO",
            b"Name: apache-atlas\nVersion: 0.8\n",
        ),
    ]);
    image(dir, &[(TAR, l1)])
}

fn index() -> AdvisoryIndex {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vulndb");
    let (index, skipped) = AdvisoryIndex::load(&dir).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    index
}

fn found(r: &Report) -> BTreeSet<(String, String, String, Option<String>)> {
    r.findings
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.package.clone(),
                f.installed_version.clone(),
                f.fixed_version.clone(),
            )
        })
        .collect()
}

fn set(
    items: &[(&str, &str, &str, Option<&str>)],
) -> BTreeSet<(String, String, String, Option<String>)> {
    items
        .iter()
        .map(|(a, b, c, d)| {
            (
                a.to_string(),
                b.to_string(),
                c.to_string(),
                d.map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn exact_findings_on_synthetic_images() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut deb = debian_image(dir);
    deb["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "debian"});
    let mut alp = alpine_image(dir);
    alp["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "alpine"});
    write_index(dir, vec![deb, alp]);
    let index = index();
    let limits = Limits::default();
    let scan = |tag: &str| {
        let target = Target::parse(&format!("oci:{}:{tag}", dir.display())).unwrap();
        let images = image::open(&target, &limits).unwrap();
        assert_eq!(images.len(), 1);
        Report::new(&images[0].fs, &index)
    };

    let expected_deb = set(&[
        (
            "DSA-5103-1",
            "libssl1.1",
            "1.1.1k-1+deb11u1",
            Some("1.1.1k-1+deb11u2"),
        ),
        ("PYSEC-2021-66", "jinja2", "2.10.1", Some("2.11.3")),
        ("RUSTSEC-2018-0018", "smallvec", "0.6.12", Some("0.6.13")),
    ]);
    let expected_alp = set(&[
        (
            "ALPINE-CVE-2016-8859-musl-v3.11",
            "musl",
            "1.1.15-r3",
            Some("1.1.15-r4"),
        ),
        ("PYSEC-2017-105", "apache-atlas", "0.8", None),
    ]);
    let deb = scan("debian");
    let alp = scan("alpine");
    assert_eq!(
        deb.os.as_ref().unwrap().ecosystem().as_deref(),
        Some("Debian:11")
    );
    assert_eq!(found(&deb), expected_deb, "{:#?}", deb.findings);
    assert_eq!(found(&alp), expected_alp, "{:#?}", alp.findings);
    assert!(deb
        .packages
        .iter()
        .all(|p| p.name != "libssl-old" && p.name != "apache-atlas"));
    let atlas = alp
        .findings
        .iter()
        .find(|f| f.package == "apache-atlas")
        .unwrap();
    assert_eq!(atlas.severity, Severity::High, "CVSS 3.0 vector scores 7.5");
    assert_eq!(alp.clone().without_unfixed().findings.len(), 1);

    // Precision and recall over everything expected.
    let got: BTreeSet<_> = found(&deb).into_iter().chain(found(&alp)).collect();
    let want: BTreeSet<_> = expected_deb.into_iter().chain(expected_alp).collect();
    let tp = got.intersection(&want).count() as f64;
    println!(
        "precision {:.3} recall {:.3} ({} expected findings)",
        tp / got.len() as f64,
        tp / want.len() as f64,
        want.len()
    );
}

#[test]
fn multi_platform_index_scans_every_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut deb = debian_image(dir);
    deb["platform"] = serde_json::json!({"architecture": "amd64", "os": "linux"});
    let mut alp = alpine_image(dir);
    alp["platform"] = serde_json::json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
    let index_doc = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [deb, alp],
    });
    let mut top = blob(
        dir,
        "application/vnd.oci.image.index.v1+json",
        index_doc.to_string().as_bytes(),
    );
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "multi"});
    write_index(dir, vec![top]);
    let images = image::open(
        &Target::parse(&format!("oci:{}:multi", dir.display())).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let platforms: Vec<_> = images.iter().map(|i| i.platform.clone().unwrap()).collect();
    assert_eq!(platforms, vec!["linux/amd64", "linux/arm64/v8"]);
    let index = index();
    let total: usize = images
        .iter()
        .map(|i| Report::new(&i.fs, &index).findings.len())
        .sum();
    assert_eq!(total, 5);
}
