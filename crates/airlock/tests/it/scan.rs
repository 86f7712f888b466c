//! `airlock scan` as a CI gate: JSON and table output, `--fail-on` exit codes,
//! `--ignore-unfixed`, and clear errors for bad targets.

use crate::harness::airlock_bin;
use std::path::Path;
use std::process::Command;

fn vulndb() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scanner/tests/fixtures/vulndb")
        .display()
        .to_string()
}

fn rootfs(dir: &Path) {
    let w = |p: &str, body: &str| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    };
    w(
        "etc/os-release",
        "ID=alpine\nVERSION_ID=3.11.6\nPRETTY_NAME=\"Alpine Linux v3.11\"\n",
    );
    w(
        "lib/apk/db/installed",
        "P:musl\nV:1.1.15-r3\no:musl\n\nP:zlib\nV:1.2.11-r3\n\n",
    );
    w(
        "usr/lib/python3.8/site-packages/apache_atlas-0.8.egg-info/PKG-INFO",
        "Name: apache-atlas\nVersion: 0.8\n",
    );
}

fn scan(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(airlock_bin())
        .arg("scan")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn scan_gates_on_severity() {
    let tmp = tempfile::tempdir().unwrap();
    rootfs(tmp.path());
    let target = format!("dir:{}", tmp.path().display());
    let db = vulndb();

    let (code, out, err) = scan(&[&target, "--vulndb", &db, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let packages = v["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 3);
    for key in [
        "name",
        "version",
        "ecosystem",
        "purl",
        "source_name",
        "source_version",
        "layer",
    ] {
        assert!(
            packages[0].get(key).is_some(),
            "package field {key} missing: {}",
            packages[0]
        );
    }
    let findings = v["findings"].as_array().unwrap();
    let ids: Vec<&str> = findings.iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec!["PYSEC-2017-105", "ALPINE-CVE-2016-8859-musl-v3.11"],
        "highest severity first"
    );
    for key in [
        "id",
        "aliases",
        "package",
        "installed_version",
        "fixed_version",
        "severity",
        "cvss",
        "ecosystem",
    ] {
        assert!(
            findings[0].get(key).is_some(),
            "finding field {key} missing: {}",
            findings[0]
        );
    }
    assert_eq!(findings[0]["severity"], "HIGH");
    assert_eq!(findings[1]["fixed_version"], "1.1.15-r4");

    let (code, out, _) = scan(&[&target, "--vulndb", &db, "--fail-on", "high"]);
    assert_eq!(code, 1, "a HIGH finding fails the gate");
    assert!(
        out.contains("PYSEC-2017-105") && out.contains("SEVERITY"),
        "{out}"
    );
    let (code, _, err) = scan(&[
        &target,
        "--vulndb",
        &db,
        "--fail-on",
        "high",
        "--ignore-unfixed",
    ]);
    assert_eq!(code, 0, "the HIGH one has no fix: {err}");
    let (code, _, _) = scan(&[&target, "--vulndb", &db, "--fail-on", "critical"]);
    assert_eq!(code, 0);

    // SBOMs and SARIF.
    for (format, key, value) in [
        ("cyclonedx", "specVersion", "1.5"),
        ("spdx", "spdxVersion", "SPDX-2.3"),
        ("sarif", "version", "2.1.0"),
    ] {
        let (code, out, err) = scan(&[&target, "--vulndb", &db, "--format", format]);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[key], value, "{format}");
    }
    let (_, out, _) = scan(&[&target, "--vulndb", &db, "--format", "cyclonedx"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["components"].as_array().unwrap().len(), 3);
    assert_eq!(v["vulnerabilities"].as_array().unwrap().len(), 2);

    // Bad input: clear message, non-zero exit, no panic.
    let (code, _, err) = scan(&["ftp://nowhere", "--vulndb", &db]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown target"), "{err}");
    let (code, _, err) = scan(&["oci:/nonexistent/layout", "--vulndb", &db]);
    assert_ne!(code, 0);
    assert!(err.contains("index.json"), "{err}");
    let (code, _, err) = scan(&[&target, "--vulndb", &db, "--fail-on", "severe"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn the_imported_database_gives_the_same_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    rootfs(&root);
    let data = tmp.path().join("data");
    let target = format!("dir:{}", root.display());
    let data_arg = data.display().to_string();
    // Nothing imported yet: a clear refusal.
    let (code, _, err) = scan(&[&target, "--data-dir", &data_arg]);
    assert_ne!(code, 0);
    assert!(err.contains("vulndb import"), "{err}");

    let (ok, out) = crate::harness::run_cli(&data, &["vulndb", "import", &vulndb()]);
    assert!(ok, "{out}");
    let ids = |json: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {}", f["id"], f["package"]))
            .collect()
    };
    let (code, from_dir, err) = scan(&[&target, "--vulndb", &vulndb(), "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    // Only the advisories about the image's packages are read from the store.
    let (code, from_store, err) = scan(&[&target, "--data-dir", &data_arg, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!ids(&from_dir).is_empty());
    assert_eq!(ids(&from_dir), ids(&from_store));
}
