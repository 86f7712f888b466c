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
    image_with_config(dir, serde_json::json!({}), layers)
}

/// An image manifest with this runtime configuration (`config` of the image config).
fn image_with_config(
    dir: &Path,
    runtime: serde_json::Value,
    layers: &[(&str, Vec<u8>)],
) -> serde_json::Value {
    let config_doc = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": []},
    });
    let config = blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        config_doc.to_string().as_bytes(),
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

/// An rpmdb header blob (no magic) of these tags: strings as STRING, `u32`s as INT32.
fn rpm_header(entries: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
    let (mut index, mut data) = (Vec::new(), Vec::new());
    let mut entry = |tag: u32, kind: u32, bytes: &[u8], data: &mut Vec<u8>| {
        for v in [tag, kind, data.len() as u32, 1] {
            index.extend_from_slice(&v.to_be_bytes());
        }
        data.extend_from_slice(bytes);
    };
    if let Some(e) = epoch {
        entry(1003, 4, &e.to_be_bytes(), &mut data);
    }
    for (tag, value) in entries {
        entry(*tag, 6, &[value.as_bytes(), &[0]].concat(), &mut data);
    }
    let count = entries.len() + usize::from(epoch.is_some());
    let mut blob = (count as u32).to_be_bytes().to_vec();
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    blob.extend_from_slice(&index);
    blob.extend_from_slice(&data);
    blob
}

/// An `rpmdb.sqlite` as rpm lays it out (WAL mode), holding these headers.
fn rpmdb(headers: &[Vec<u8>]) -> Vec<u8> {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL);",
    )
    .unwrap();
    for h in headers {
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [h])
            .unwrap();
    }
    let mut db = conn
        .serialize(rusqlite::DatabaseName::Main)
        .unwrap()
        .to_vec();
    (db[18], db[19]) = (2, 2);
    db
}

/// OSV records written for these tests (the corpus fixture has no RPM, RubyGems
/// or Packagist advisories).
fn synthetic_index() -> AdvisoryIndex {
    let adv = |id: &str, eco: &str, name: &str, fixed: &str| {
        serde_json::json!({
            "id": id,
            "modified": "2024-01-01T00:00:00Z",
            "summary": format!("{name} test advisory"),
            "affected": [{
                "package": {"ecosystem": eco, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }],
            "database_specific": {"severity": "HIGH"},
        })
        .to_string()
    };
    AdvisoryIndex::from_records([
        adv(
            "RLSA-TEST-1",
            "Rocky Linux:9",
            "openssl-libs",
            "1:3.0.7-25.el9_3",
        ),
        // Filed against the source package: RPM advisories match binary names.
        adv(
            "RLSA-TEST-2",
            "Rocky Linux:9",
            "openssl",
            "1:3.0.7-25.el9_3",
        ),
        // Fixed below what is installed.
        adv("RLSA-TEST-3", "Rocky Linux:9", "bash", "5.1.8-2.el9"),
        adv("GHSA-test-rack", "RubyGems", "rack", "2.2.6.4"),
        adv("GHSA-test-psr7", "Packagist", "guzzlehttp/psr7", "1.8.4"),
        adv("GHSA-test-monolog", "Packagist", "monolog/monolog", "2.9.0"),
    ])
}

#[test]
fn rpm_gem_and_composer_packages_and_findings() {
    let headers = [
        rpm_header(
            &[
                (1000, "openssl-libs"),
                (1001, "3.0.7"),
                (1002, "24.el9"),
                (1022, "x86_64"),
                (1044, "openssl-3.0.7-24.el9.src.rpm"),
            ],
            Some(1),
        ),
        rpm_header(
            &[
                (1000, "bash"),
                (1001, "5.1.8"),
                (1002, "6.el9_1"),
                (1022, "x86_64"),
                (1044, "bash-5.1.8-6.el9_1.src.rpm"),
            ],
            None,
        ),
        rpm_header(
            &[(1000, "gpg-pubkey"), (1001, "350d275d"), (1002, "5e4de7c8")],
            None,
        ),
    ];
    let gemspec = b"# stub: rack 2.2.3 ruby lib\nGem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.3\"\nend\n";
    let installed = br#"{"packages":[{"name":"guzzlehttp/psr7","version":"1.8.2","version_normalized":"1.8.2.0"},{"name":"monolog/monolog","version":"v2.9.1"}],"dev":false}"#;
    let db = rpmdb(&headers);
    let l1 = tar_layer(&[
        (
            "etc/os-release",
            b"NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n",
        ),
        ("var/lib/rpm/rpmdb.sqlite", &db),
    ]);
    let l2 = tar_layer(&[
        (
            "usr/local/bundle/specifications/rack-2.2.3.gemspec",
            gemspec,
        ),
        ("srv/app/vendor/composer/installed.json", installed),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let m = image(dir, &[(GZ, gzip(&l1)), (TAR, l2)]);
    write_index(dir, vec![m]);
    let images = image::open(
        &Target::parse(&format!("oci:{}", dir.display())).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let report = Report::new(&images[0].fs, &synthetic_index());
    let packages: BTreeSet<(&str, &str, &str, &str)> = report
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.ecosystem.as_str(),
                p.purl.as_str(),
            )
        })
        .collect();
    let want: BTreeSet<(&str, &str, &str, &str)> = [
        (
            "openssl-libs",
            "1:3.0.7-24.el9",
            "Rocky Linux:9",
            "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&epoch=1",
        ),
        (
            "bash",
            "5.1.8-6.el9_1",
            "Rocky Linux:9",
            "pkg:rpm/rocky/bash@5.1.8-6.el9_1?arch=x86_64",
        ),
        ("rack", "2.2.3", "RubyGems", "pkg:gem/rack@2.2.3"),
        (
            "guzzlehttp/psr7",
            "1.8.2",
            "Packagist",
            "pkg:composer/guzzlehttp/psr7@1.8.2",
        ),
        (
            "monolog/monolog",
            "2.9.1",
            "Packagist",
            "pkg:composer/monolog/monolog@2.9.1",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(packages, want);
    let openssl = report
        .packages
        .iter()
        .find(|p| p.name == "openssl-libs")
        .unwrap();
    assert_eq!(
        (
            openssl.source_name.as_str(),
            openssl.source_version.as_str()
        ),
        ("openssl", "1:3.0.7-24.el9")
    );
    assert_eq!(
        found(&report),
        set(&[
            (
                "RLSA-TEST-1",
                "openssl-libs",
                "1:3.0.7-24.el9",
                Some("1:3.0.7-25.el9_3")
            ),
            ("GHSA-test-rack", "rack", "2.2.3", Some("2.2.6.4")),
            ("GHSA-test-psr7", "guzzlehttp/psr7", "1.8.2", Some("1.8.4")),
        ]),
        "{:#?}",
        report.findings
    );
}

/// A tar layer of (path, mode, contents) regular files.
fn tar_layer_with_modes(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn misconfigurations_of_an_image() {
    let l1 = tar_layer_with_modes(&[
        ("etc/os-release", 0o644, b"ID=debian\nVERSION_ID=12\n"),
        ("usr/bin/su", 0o4755, b"\x7fELF"),
        ("usr/bin/newgrp", 0o4755, b"\x7fELF"),
        ("usr/bin/chage", 0o2755, b"\x7fELF"),
        ("srv/shared.conf", 0o666, b"x"),
    ]);
    // su deleted, newgrp's setuid bit dropped (`chmod u-s`), in a later layer.
    let l2 = tar_layer_with_modes(&[
        ("usr/bin/.wh.su", 0o644, b""),
        ("usr/bin/newgrp", 0o755, b"\x7fELF"),
    ]);
    let runtime = serde_json::json!({
        "Env": ["PATH=/usr/bin", "DB_PASSWORD=correct-horse", "GITHUB_TOKEN=ghp_xyz"],
        "Cmd": ["/app"],
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let m = image_with_config(dir, runtime, &[(GZ, gzip(&l1)), (ZST, zstd(&l2))]);
    write_index(dir, vec![m]);
    let images = image::open(
        &Target::parse(&format!("oci:{}", dir.display())).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let scanned = &images[0];
    let plain = Report::new(&scanned.fs, &index());
    let json = serde_json::to_value(&plain).unwrap();
    assert!(
        json.get("misconfigurations").is_none(),
        "reports without checks keep their shape"
    );
    let report = plain.with_misconfigurations(scanned.config.as_ref(), &scanned.fs);
    let got: Vec<(&str, Severity, Vec<String>)> = report
        .misconfigurations
        .iter()
        .map(|m| (m.id.as_str(), m.severity, m.paths.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("AL-CFG-003", Severity::Critical, vec![]),
            ("AL-CFG-001", Severity::High, vec![]),
            ("AL-CFG-002", Severity::High, vec![]),
            (
                "AL-CFG-004",
                Severity::Medium,
                vec!["/usr/bin/chage".into()]
            ),
            (
                "AL-CFG-005",
                Severity::Medium,
                vec!["/srv/shared.conf".into()]
            ),
            ("AL-CFG-006", Severity::Low, vec![]),
        ]
    );
    assert_eq!(report.misconfigurations_at_or_above(Severity::High), 3);
    let text = serde_json::to_string(&report).unwrap();
    assert!(text.contains("\"misconfigurations\":[{\"id\":\"AL-CFG-003\""));
    assert!(!text.contains("correct-horse") && !text.contains("ghp_xyz"));
    let sarif = airlock_scanner::sbom::sarif(&report, "test:image");
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        vec![
            "AL-CFG-003",
            "AL-CFG-001",
            "AL-CFG-002",
            "AL-CFG-004",
            "AL-CFG-005",
            "AL-CFG-006"
        ]
    );
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[3]["properties"]["paths"][0], "/usr/bin/chage");
}

/// A tar layer of (path, mode, contents) regular files and (path, target) hard links.
fn tar_with_links(files: &[(&str, u32, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        b.append_data(&mut h, path, *data).unwrap();
    }
    for (path, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Link);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_link_name(target).unwrap();
        b.append_data(&mut h, path, &[][..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// A relocatable x86-64 ELF with some code and one section of these contents.
fn elf_with_section(name: &str, contents: &[u8]) -> Vec<u8> {
    use object::write::Object;
    let mut obj = Object::new(
        object::BinaryFormat::Elf,
        object::Architecture::X86_64,
        object::Endianness::Little,
    );
    let text = obj.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
    obj.append_section_data(text, &[0xc3; 2048], 16);
    let id = obj.add_section(
        Vec::new(),
        name.as_bytes().to_vec(),
        object::SectionKind::ReadOnlyData,
    );
    obj.append_section_data(id, contents, 16);
    obj.write().unwrap()
}

/// A Go binary (1.18+ build info layout) built from a checkout with these
/// dependencies.
fn go_binary(go_version: &str, deps: &[(&str, &str)]) -> Vec<u8> {
    let mut modinfo = "path\texample.com/app/cmd/app\nmod\texample.com/app\t(devel)\t\n".to_owned();
    for (path, version) in deps {
        modinfo.push_str(&format!("dep\t{path}\t{version}\th1:x=\n"));
    }
    modinfo.push_str("build\t-compiler=gc\n");
    let framed = [
        &b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"[..],
        modinfo.as_bytes(),
        &b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"[..],
    ]
    .concat();
    let uvarint = |mut n: usize, out: &mut Vec<u8>| {
        while n >= 0x80 {
            out.push(n as u8 | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    };
    let mut header = b"\xff Go buildinf:\x08\x02".to_vec();
    header.resize(32, 0);
    uvarint(go_version.len(), &mut header);
    header.extend_from_slice(go_version.as_bytes());
    uvarint(framed.len(), &mut header);
    header.extend_from_slice(&framed);
    elf_with_section(".go.buildinfo", &header)
}

/// A Rust binary built with cargo-auditable, depending on these crates.io crates.
fn auditable_binary(crates: &[(&str, &str)]) -> Vec<u8> {
    let mut packages = vec![serde_json::json!({
        "name": "app", "version": "0.1.0", "source": "local", "kind": "runtime",
        "dependencies": (1..=crates.len()).collect::<Vec<_>>(), "root": true,
    })];
    for (name, version) in crates {
        packages.push(serde_json::json!({
            "name": name, "version": version, "source": "crates.io", "kind": "runtime",
            "dependencies": [],
        }));
    }
    let json = serde_json::json!({ "packages": packages }).to_string();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(json.as_bytes()).unwrap();
    elf_with_section(".dep-v0", &z.finish().unwrap())
}

/// A zip archive of (name, contents), entries stored or deflated.
fn zip_of(entries: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if stored {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, data) in entries {
        w.start_file(*name, options).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A jar as Maven packages it: manifest, `pom.properties`, classes.
fn maven_jar(group: &str, artifact: &str, version: &str) -> Vec<u8> {
    let pom =
        format!("#Generated by Maven\nversion={version}\ngroupId={group}\nartifactId={artifact}\n");
    zip_of(
        &[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\r\nCreated-By: Maven\r\n\r\n",
            ),
            (
                &format!("META-INF/maven/{group}/{artifact}/pom.properties"),
                pom.as_bytes(),
            ),
            (
                "org/example/Main.class",
                &[0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52],
            ),
        ],
        false,
    )
}

/// The corpus fixture (it has the Go and crates.io records used here) and one
/// Maven record written for these tests: the corpus has no Maven advisories. Its
/// ranges are those of Log4Shell (CVE-2021-44228) from 2.13.0 on.
fn index_with_maven() -> AdvisoryIndex {
    let mut index = index();
    let record = serde_json::json!({
        "id": "GHSA-test-log4j",
        "modified": "2024-01-01T00:00:00Z",
        "summary": "log4j-core test advisory",
        "affected": [{
            "package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}]}],
        }],
        "database_specific": {"severity": "CRITICAL"},
    });
    let added = AdvisoryIndex::from_records([record.to_string()]);
    assert_eq!(added.len(), 1);
    for adv in added.lookup("Maven", "org.apache.logging.log4j:log4j-core") {
        index.insert((**adv).clone());
    }
    index
}

fn packages_of(r: &Report) -> BTreeSet<(String, String, String, String)> {
    r.packages
        .iter()
        .filter(|p| !p.ecosystem.starts_with("Debian"))
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.ecosystem.clone(),
                p.path.clone(),
            )
        })
        .collect()
}

#[test]
fn go_rust_and_java_packages_and_findings() {
    let xtext = "golang.org/x/text";
    let script = [
        &b"#!/bin/sh\nexec /usr/local/bin/app \"$@\"\n"[..],
        &[b'#'; 2048],
    ]
    .concat();
    let boot = zip_of(
        &[
            ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n\r\n"),
            (
                "META-INF/maven/com.example/app/pom.properties",
                b"groupId=com.example\nartifactId=app\nversion=1.0.0\n",
            ),
            (
                "BOOT-INF/lib/log4j-core-2.14.1.jar",
                &maven_jar("org.apache.logging.log4j", "log4j-core", "2.14.1"),
            ),
            (
                "BOOT-INF/lib/log4j-core-2.12.0.jar",
                &maven_jar("org.apache.logging.log4j", "log4j-core", "2.12.0"),
            ),
        ],
        true,
    );
    let commons_io = zip_of(
        &[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nImplementation-Vendor-Id: commons-io\r\nImplementation-Version: 2.6\r\n\r\n",
        )],
        false,
    );
    let l1 = tar_with_links(
        &[
            ("etc/os-release", 0o644, b"ID=debian\nVERSION_ID=12\n"),
            // Go: stdlib and golang.org/x/text below, at and above their fixes.
            (
                "usr/local/bin/app-old",
                0o755,
                &go_binary("go1.18.3", &[(xtext, "v0.3.2")]),
            ),
            (
                "usr/local/bin/app-at",
                0o755,
                &go_binary("go1.18.4", &[(xtext, "v0.3.3")]),
            ),
            (
                "usr/local/bin/app-new",
                0o755,
                &go_binary("go1.18.5", &[(xtext, "v0.3.4")]),
            ),
            // Not executable: not read.
            (
                "usr/local/lib/plugin.so",
                0o644,
                &go_binary("go1.17.0", &[(xtext, "v0.3.0")]),
            ),
            ("usr/local/bin/app", 0o755, &script),
            (
                "usr/bin/rusty-old",
                0o755,
                &auditable_binary(&[("smallvec", "0.6.12")]),
            ),
            (
                "usr/bin/rusty-new",
                0o755,
                &auditable_binary(&[("smallvec", "0.6.14")]),
            ),
            ("opt/app/app.jar", 0o644, &boot),
            (
                "opt/app/lib/log4j-core-2.15.0.jar",
                0o644,
                &maven_jar("org.apache.logging.log4j", "log4j-core", "2.15.0"),
            ),
            (
                "opt/app/lib/log4j-core-2.16.0.jar",
                0o644,
                &maven_jar("org.apache.logging.log4j", "log4j-core", "2.16.0"),
            ),
            ("opt/app/lib/commons-io-2.6.jar", 0o644, &commons_io),
        ],
        &[],
    );
    // app-new deleted, app-at replaced by an executable that is not Go, app-old
    // hard-linked under a second name.
    let l2 = tar_with_links(
        &[
            ("usr/local/bin/.wh.app-new", 0o644, b""),
            (
                "usr/local/bin/app-at",
                0o755,
                &elf_with_section(".rodata", b"not go"),
            ),
        ],
        &[("usr/local/bin/app-link", "usr/local/bin/app-old")],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let m = image(dir, &[(GZ, gzip(&l1)), (ZST, zstd(&l2))]);
    write_index(dir, vec![m]);
    let images = image::open(
        &Target::parse(&format!("oci:{}", dir.display())).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    // Only what was read out of the binaries and archives is kept.
    let kept: usize = images[0].fs.files.values().map(|k| k.bytes.len()).sum();
    assert!(kept < 100, "{kept} bytes kept");
    let report = Report::new(&images[0].fs, &index_with_maven());
    let want: BTreeSet<(String, String, String, String)> = [
        ("stdlib", "1.18.3", "Go", "usr/local/bin/app-old"),
        (xtext, "v0.3.2", "Go", "usr/local/bin/app-old"),
        ("stdlib", "1.18.3", "Go", "usr/local/bin/app-link"),
        (xtext, "v0.3.2", "Go", "usr/local/bin/app-link"),
        ("smallvec", "0.6.12", "crates.io", "usr/bin/rusty-old"),
        ("smallvec", "0.6.14", "crates.io", "usr/bin/rusty-new"),
        ("com.example:app", "1.0.0", "Maven", "opt/app/app.jar"),
        (
            "org.apache.logging.log4j:log4j-core",
            "2.14.1",
            "Maven",
            "opt/app/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar",
        ),
        (
            "org.apache.logging.log4j:log4j-core",
            "2.12.0",
            "Maven",
            "opt/app/app.jar!/BOOT-INF/lib/log4j-core-2.12.0.jar",
        ),
        (
            "org.apache.logging.log4j:log4j-core",
            "2.15.0",
            "Maven",
            "opt/app/lib/log4j-core-2.15.0.jar",
        ),
        (
            "org.apache.logging.log4j:log4j-core",
            "2.16.0",
            "Maven",
            "opt/app/lib/log4j-core-2.16.0.jar",
        ),
        (
            "commons-io:commons-io",
            "2.6",
            "Maven",
            "opt/app/lib/commons-io-2.6.jar",
        ),
    ]
    .iter()
    .map(|(n, v, e, p)| (n.to_string(), v.to_string(), e.to_string(), p.to_string()))
    .collect();
    assert_eq!(packages_of(&report), want);
    let purls: BTreeSet<&str> = report.packages.iter().map(|p| p.purl.as_str()).collect();
    for purl in [
        "pkg:golang/stdlib@1.18.3",
        "pkg:golang/golang.org/x/text@v0.3.2",
        "pkg:cargo/smallvec@0.6.12",
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
    ] {
        assert!(purls.contains(purl), "{purl} in {purls:?}");
    }
    assert_eq!(
        found(&report),
        set(&[
            ("GO-2022-0515", "stdlib", "1.18.3", Some("1.18.4")),
            ("GO-2020-0015", xtext, "v0.3.2", Some("0.3.3")),
            ("RUSTSEC-2018-0018", "smallvec", "0.6.12", Some("0.6.13")),
            (
                "GHSA-test-log4j",
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
                Some("2.15.0")
            ),
        ]),
        "{:#?}",
        report.findings
    );
}

#[test]
fn oversized_binaries_are_streamed_and_archive_bombs_skipped() {
    let limits = Limits {
        max_file_bytes: 256 << 10,
        ..Limits::default()
    };
    let mut padded = go_binary("go1.18.3", &[("golang.org/x/text", "v0.3.2")]);
    padded.resize(300 << 10, 0);
    let big_jar = zip_of(
        &[
            (
                "META-INF/maven/g/big/pom.properties",
                b"groupId=g\nartifactId=big\nversion=1\n",
            ),
            ("filler.bin", &vec![7u8; 300 << 10]),
        ],
        true,
    );
    // A nested "jar" that inflates to 33 MiB from a few kilobytes, beside a real one.
    let bomb = zip_of(
        &[
            ("lib/bomb.jar", &vec![0u8; 33 << 20]),
            ("lib/ok.jar", &maven_jar("com.example", "ok", "1.0")),
        ],
        false,
    );
    assert!(bomb.len() < 256 << 10, "{} bytes", bomb.len());
    let layer = tar_with_links(
        &[
            (
                "var/lib/dpkg/status",
                0o644,
                b"Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n",
            ),
            ("usr/bin/too-big", 0o755, &padded),
            ("opt/too-big.jar", 0o644, &big_jar),
            ("opt/bomb.war", 0o644, &bomb),
        ],
        &[],
    );
    let mut fs = airlock_scanner::Filesystem::default();
    fs.apply_layer("sha256:l", &layer[..], &limits).unwrap();
    let report = Report::new(&fs, &index_with_maven());
    let got: Vec<(&str, &str, &str)> = report
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.path.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("com.example:ok", "1.0", "opt/bomb.war!/lib/ok.jar"),
            // Over max_file_bytes: read as a stream for its Go build info.
            ("golang.org/x/text", "v0.3.2", "usr/bin/too-big"),
            ("stdlib", "1.18.3", "usr/bin/too-big"),
            ("tzdata", "2024a-0+deb12u1", "var/lib/dpkg/status"),
        ]
    );
}

/// Regression: a Go binary built with a release-candidate or beta toolchain
/// (`go1.26rc2` in its build info) got no standard-library findings, because the Go
/// vulnerability database's SEMVER ranges were compared against the raw `1.26rc2`.
#[test]
fn go_prerelease_toolchains_get_stdlib_findings() {
    // The stdlib range of GO-2026-4337 as the Go vulnerability database publishes it.
    let record = serde_json::json!({
        "id": "GO-2026-4337",
        "modified": "2026-02-05T00:00:00Z",
        "summary": "stdlib test advisory with a pre-release range",
        "affected": [{
            "package": {"ecosystem": "Go", "name": "stdlib"},
            "ranges": [{"type": "SEMVER", "events": [
                {"introduced": "0"}, {"fixed": "1.24.13"},
                {"introduced": "1.25.0-0"}, {"fixed": "1.25.7"},
                {"introduced": "1.26.0-rc.1"}, {"fixed": "1.26.0-rc.3"},
            ]}],
        }],
        "database_specific": {"severity": "HIGH"},
    });
    let index = AdvisoryIndex::from_records([record.to_string()]);
    let layer = tar_with_links(
        &[
            ("usr/bin/rc2", 0o755, &go_binary("go1.26rc2", &[])),
            ("usr/bin/rc3", 0o755, &go_binary("go1.26rc3", &[])),
            ("usr/bin/beta", 0o755, &go_binary("go1.21beta1", &[])),
            ("usr/bin/release", 0o755, &go_binary("go1.26", &[])),
        ],
        &[],
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let m = image(dir, &[(GZ, gzip(&layer))]);
    write_index(dir, vec![m]);
    let images = image::open(
        &Target::parse(&format!("oci:{}", dir.display())).unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let report = Report::new(&images[0].fs, &index);
    let versions: BTreeSet<(String, String)> = report
        .packages
        .iter()
        .map(|p| (p.path.clone(), p.version.clone()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("usr/bin/rc2", "1.26.0-rc.2"),
        ("usr/bin/rc3", "1.26.0-rc.3"),
        ("usr/bin/beta", "1.21.0-beta.1"),
        ("usr/bin/release", "1.26.0"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(versions, want);
    let affected: BTreeSet<&str> = report
        .findings
        .iter()
        .map(|f| f.installed_version.as_str())
        .collect();
    // rc2 is inside the rc range, beta1 below 1.24.13; rc3 and 1.26.0 are fixed.
    assert_eq!(affected, BTreeSet::from(["1.26.0-rc.2", "1.21.0-beta.1"]));
    assert!(report.findings.iter().all(|f| f.id == "GO-2026-4337"));
}
