//! Scan-on-push: a pushed image is scanned by the registry itself from the advisories
//! `airlock vulndb import` stored, and the report is served by the admin API.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, *data).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

async fn scan_state(s: &TestServer, repo: &str, digest: &str) -> Value {
    for _ in 0..100 {
        let resp = s
            .send(
                Method::GET,
                &format!("/api/v1/scans?repository={repo}&digest={digest}"),
            )
            .await;
        if resp.status() == StatusCode::OK {
            let v: Value = resp.json().await.unwrap();
            if v["state"] == "done" || v["state"] == "failed" {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("scan of {repo}@{digest} did not finish");
}

#[tokio::test]
async fn pushed_images_are_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scanner/tests/fixtures/vulndb");
    let (ok, out) = run_cli(&data, &["vulndb", "import", fixtures.to_str().unwrap()]);
    assert!(ok && out.contains("6 added"), "{out}");
    let (ok, out) = run_cli(&data, &["vulndb", "import", fixtures.to_str().unwrap()]);
    assert!(
        ok && out.contains("6 unchanged"),
        "re-import is incremental: {out}"
    );

    let s = TestServer::start_in(&data).await;
    let l = layer(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.11.6\n"),
        (
            "lib/apk/db/installed",
            b"P:musl\nV:1.1.15-r3\no:musl\n\nP:zlib\nV:1.2.11-r3\n\n",
        ),
    ]);
    let (_, digest) = s.push_image("scan/app", "v1", &[&l]).await;
    let v = scan_state(&s, "scan/app", &digest).await;
    assert_eq!(v["state"], "done", "{v}");
    let platform = &v["report"]["platforms"][0];
    assert_eq!(platform["packages"].as_array().unwrap().len(), 2, "{v}");
    let ids: Vec<&str> = platform["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["ALPINE-CVE-2016-8859-musl-v3.11"]);
    assert_eq!(platform["findings"][0]["fixed_version"], "1.1.15-r4");
    assert_eq!(v["report"]["summary"]["UNKNOWN"], 1);

    // A layer that is not a tar archive fails its scan with a reason, nothing more.
    let (_, bad) = s
        .push_image("scan/bad", "v1", &[&[0x1f, 0x8b, 0, 1, 2, 3]])
        .await;
    let v = scan_state(&s, "scan/bad", &bad).await;
    assert_eq!(v["state"], "failed", "{v}");
    assert!(v["error"].as_str().unwrap().contains("layer"), "{v}");

    // Someone without rights on the repository learns nothing.
    s.req(Method::POST, "/api/v1/users")
        .json(&serde_json::json!({"name": "eve", "password": "eve-password-123"}))
        .send()
        .await
        .unwrap();
    let resp = s
        .client
        .get(s.url(&format!(
            "/api/v1/scans?repository=scan/app&digest={digest}"
        )))
        .basic_auth("eve", Some("eve-password-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}
