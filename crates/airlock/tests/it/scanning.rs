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
    assert!(ok && out.contains("8 added"), "{out}");
    let (ok, out) = run_cli(&data, &["vulndb", "import", fixtures.to_str().unwrap()]);
    assert!(
        ok && out.contains("8 unchanged"),
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

#[tokio::test]
async fn advisory_updates_rematch_stored_images_and_sboms_are_referrers() {
    let s = TestServer::start().await;
    // SBOM referrers are opt-in: this repository opts in at run time.
    let resp = s
        .req(Method::PUT, "/api/v1/scans/sbom-referrers")
        .json(&serde_json::json!({ "patterns": ["rescan/*"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let l = layer(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.11.6\n"),
        ("lib/apk/db/installed", b"P:musl\nV:1.1.15-r3\no:musl\n\n"),
    ]);
    let (_, digest) = s.push_image("rescan/app", "v1", &[&l]).await;
    let v = scan_state(&s, "rescan/app", &digest).await;
    assert_eq!(v["state"], "done", "{v}");
    assert_eq!(
        v["report"]["platforms"][0]["findings"],
        serde_json::json!([])
    );
    assert_eq!(v["report"]["advisory_generation"], 0);

    // The SBOMs are referrers of the image, found by artifact type.
    let referrers = |filter: &'static str| {
        let s = &s;
        let digest = digest.clone();
        async move {
            let v: Value = s
                .send(
                    Method::GET,
                    &format!("/v2/rescan/app/referrers/{digest}{filter}"),
                )
                .await
                .json()
                .await
                .unwrap();
            v["manifests"].as_array().unwrap().clone()
        }
    };
    let all = referrers("").await;
    let mut types: Vec<&str> = all
        .iter()
        .map(|m| m["artifactType"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["application/spdx+json", "application/vnd.cyclonedx+json"]
    );
    let cdx = referrers("?artifactType=application/vnd.cyclonedx%2Bjson").await;
    assert_eq!(cdx.len(), 1);
    let manifest: Value = s
        .send(
            Method::GET,
            &format!(
                "/v2/rescan/app/manifests/{}",
                cdx[0]["digest"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["subject"]["digest"], digest.as_str());
    let bom: Value = s
        .send(
            Method::GET,
            &format!(
                "/v2/rescan/app/blobs/{}",
                manifest["layers"][0]["digest"].as_str().unwrap()
            ),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["components"][0]["name"], "musl");

    // New advisories: the stored inventory is re-matched, no layer read again.
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scanner/tests/fixtures/vulndb");
    let (ok, out) = s.cli(&["vulndb", "import", fixtures.to_str().unwrap()]);
    assert!(ok && out.contains("generation 1"), "{out}");
    let r: Value = s
        .send(Method::POST, "/api/v1/scans/rematch")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["rematched"]["generation"], 1, "{r}");
    assert_eq!(r["rematched"]["reports"], 1, "{r}");
    assert_eq!(r["rematched"]["changed"], 1, "{r}");
    let v = scan_state(&s, "rescan/app", &digest).await;
    assert_eq!(
        v["report"]["platforms"][0]["findings"][0]["id"], "ALPINE-CVE-2016-8859-musl-v3.11",
        "{v}"
    );
    assert_eq!(v["report"]["summary"]["UNKNOWN"], 1, "{v}");
    assert_eq!(v["report"]["advisory_generation"], 1);
    // Nothing new: nothing to do.
    let r: Value = s
        .send(Method::POST, "/api/v1/scans/rematch")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["rematched"], Value::Null, "{r}");

    let ev: Value = s
        .send(Method::GET, "/api/v1/scans/events")
        .await
        .json()
        .await
        .unwrap();
    let events = ev["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["scanned", "findings_changed"], "{ev}");
    assert_eq!(
        events[1]["detail"]["added"][0]["id"],
        "ALPINE-CVE-2016-8859-musl-v3.11"
    );
    assert_eq!(events[1]["digest"], digest.as_str());
    let after = ev["next"].as_i64().unwrap();
    let ev: Value = s
        .send(Method::GET, &format!("/api/v1/scans/events?after={after}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ev["events"], serde_json::json!([]));

    // A rescan replaces the SBOMs this registry attached instead of piling them up.
    let (_, again) = s.push_image("rescan/app", "v2", &[&l]).await;
    assert_eq!(again, digest);
    for _ in 0..100 {
        let ev: Value = s
            .send(Method::GET, &format!("/api/v1/scans/events?after={after}"))
            .await
            .json()
            .await
            .unwrap();
        if !ev["events"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(referrers("").await.len(), 2);

    // Events of repositories the caller may not read are not shown.
    s.req(Method::POST, "/api/v1/users")
        .json(&serde_json::json!({"name": "eve", "password": "eve-password-123"}))
        .send()
        .await
        .unwrap();
    let ev: Value = s
        .client
        .get(s.url("/api/v1/scans/events"))
        .basic_auth("eve", Some("eve-password-123"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ev["events"], serde_json::json!([]), "{ev}");
    let resp = s
        .client
        .post(s.url("/api/v1/scans/rematch"))
        .basic_auth("eve", Some("eve-password-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn scan_images_in_a_registry_and_move_advisory_snapshots() {
    let s = TestServer::start().await;
    let host = s.base.trim_start_matches("http://").to_owned();
    let creds = format!("admin:{PASSWORD}");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scanner/tests/fixtures/vulndb");
    let l = layer(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.11.6\n"),
        ("lib/apk/db/installed", b"P:musl\nV:1.1.15-r3\no:musl\n\n"),
    ]);
    let (_, digest) = s.push_image("remote/app", "v1", &[&l]).await;

    // airlock scan docker://… through the registry's token flow, by tag and digest.
    for reference in [
        format!("docker://{host}/remote/app:v1"),
        format!("docker://{host}/remote/app@{digest}"),
    ] {
        let (ok, out) = s.cli(&[
            "scan",
            &reference,
            "--plain-http",
            "--creds",
            &creds,
            "--vulndb",
            fixtures.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(ok, "{out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["findings"][0]["id"], "ALPINE-CVE-2016-8859-musl-v3.11",
            "{v}"
        );
        assert_eq!(v["manifest"], digest.as_str());
    }
    // Without credentials: a readable refusal, exit 1 is not "no findings".
    let (ok, out) = s.cli(&[
        "scan",
        &format!("docker://{host}/remote/app:v1"),
        "--plain-http",
        "--vulndb",
        fixtures.to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("credentials"), "{out}");
    let (ok, out) = s.cli(&[
        "scan",
        &format!("docker://{host}/remote/missing:v1"),
        "--plain-http",
        "--creds",
        &creds,
        "--vulndb",
        fixtures.to_str().unwrap(),
    ]);
    assert!(
        !ok && (out.contains("MANIFEST_UNKNOWN") || out.contains("NAME_UNKNOWN")),
        "{out}"
    );

    // An advisory snapshot pushed as an artifact, pulled into another data dir.
    let (ok, out) = s.cli(&["vulndb", "import", fixtures.to_str().unwrap()]);
    assert!(ok, "{out}");
    let snapshot = format!("docker://{host}/vulndb/osv:latest");
    let (ok, out) = s.cli(&[
        "vulndb",
        "push",
        &snapshot,
        "--plain-http",
        "--creds",
        &creds,
    ]);
    assert!(ok && out.contains("pushed 8 advisories"), "{out}");
    let manifest: Value = s
        .send(Method::GET, "/v2/vulndb/osv/manifests/latest")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.airlock.osv-snapshot.v1"
    );
    let other = tempfile::tempdir().unwrap();
    let (ok, out) = run_cli(
        other.path(),
        &[
            "vulndb",
            "pull",
            &snapshot,
            "--plain-http",
            "--creds",
            &creds,
        ],
    );
    assert!(
        ok && out.contains("8 added") && out.contains("8 advisories stored"),
        "{out}"
    );
    let (ok, out) = run_cli(
        other.path(),
        &[
            "vulndb",
            "pull",
            &snapshot,
            "--plain-http",
            "--creds",
            &creds,
        ],
    );
    assert!(ok && out.contains("8 unchanged"), "{out}");
    // An image is not a snapshot.
    let (ok, out) = run_cli(
        other.path(),
        &[
            "vulndb",
            "pull",
            &format!("docker://{host}/remote/app:v1"),
            "--plain-http",
            "--creds",
            &creds,
        ],
    );
    assert!(!ok && out.contains("not an advisory snapshot"), "{out}");
}

/// Regression: scan-on-push pushed two SBOMs into every scanned repository, so the
/// referrers list showed seven where a client had pushed five. Attaching them is
/// opt-in per repository pattern (configuration, admin API, CLI); the SBOM of every
/// scanned image is still served by the scan API.
#[tokio::test]
async fn sbom_referrers_are_opt_in_and_sboms_are_served_without_them() {
    let (s, _tmp) = TestServer::start_with_config("sbom_referrers = [\"cfg/**\"]\n").await;
    let l = layer(&[
        ("etc/os-release", b"ID=alpine\nVERSION_ID=3.11.6\n"),
        ("lib/apk/db/installed", b"P:musl\nV:1.1.15-r3\no:musl\n\n"),
    ]);
    let l2 = layer(&[("etc/motd", b"another layer\n")]);
    let referrer_types = |repo: &'static str, digest: String| {
        let s = &s;
        async move {
            let v: Value = s
                .send(Method::GET, &format!("/v2/{repo}/referrers/{digest}"))
                .await
                .json()
                .await
                .unwrap();
            let mut types: Vec<String> = v["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["artifactType"].as_str().unwrap().to_owned())
                .collect();
            types.sort();
            types
        }
    };
    let both = ["application/spdx+json", "application/vnd.cyclonedx+json"];

    // Not opted in: scanned, nothing added to the repository.
    let (_, plain) = s.push_image("plain/app", "v1", &[&l]).await;
    assert_eq!(scan_state(&s, "plain/app", &plain).await["state"], "done");
    assert!(referrer_types("plain/app", plain.clone()).await.is_empty());
    let tags: Value = s
        .send(Method::GET, "/v2/plain/app/tags/list")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
    // ... and its SBOMs are served by the scan API.
    let sbom = |format: &'static str| {
        let s = &s;
        let plain = plain.clone();
        async move {
            s.send(
                Method::GET,
                &format!("/api/v1/scans/sbom?repository=plain/app&digest={plain}&format={format}"),
            )
            .await
        }
    };
    let resp = sbom("cyclonedx").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.cyclonedx+json"
    );
    let cdx: Value = resp.json().await.unwrap();
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    assert!(cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "musl" && c["version"] == "1.1.15-r3"));
    let spdx: Value = sbom("spdx").await.json().await.unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    assert_eq!(sbom("xml").await.status(), StatusCode::BAD_REQUEST);
    let resp = s
        .send(
            Method::GET,
            &format!(
                "/api/v1/scans/sbom?repository=plain/app&digest={}",
                sha256(b"x")
            ),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Readers of the repository only; others cannot tell it exists.
    user_with_role(&s, "outsider", "outsider-password", "other/*", "reader").await;
    let resp = s
        .anon(
            Method::GET,
            &format!("/api/v1/scans/sbom?repository=plain/app&digest={plain}"),
        )
        .basic_auth("outsider", Some("outsider-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Opted in by the configuration.
    let (_, cfg) = s.push_image("cfg/team/app", "v1", &[&l]).await;
    assert_eq!(scan_state(&s, "cfg/team/app", &cfg).await["state"], "done");
    assert_eq!(referrer_types("cfg/team/app", cfg.clone()).await, both);

    // At run time through the CLI (admin API): stored patterns replace the
    // configuration's until reset.
    let cli = |args: &[&str]| cli_as_admin(&s, args, "");
    let (ok, out) = cli(&["sbom", "referrers", "show"]);
    assert!(
        ok && out.contains("\"config\"") && out.contains("cfg/**"),
        "{out}"
    );
    let (ok, out) = cli(&["sbom", "referrers", "set", "plain/*"]);
    assert!(ok && out.contains("\"stored\""), "{out}");
    let (ok, out) = cli(&["sbom", "referrers", "set", "../bad"]);
    assert!(!ok && out.contains("invalid repository pattern"), "{out}");
    let (_, plain2) = s.push_image("plain/app", "v2", &[&l, &l2]).await;
    assert_eq!(scan_state(&s, "plain/app", &plain2).await["state"], "done");
    assert_eq!(referrer_types("plain/app", plain2.clone()).await, both);
    let (_, cfg2) = s.push_image("cfg/team/app", "v2", &[&l, &l2]).await;
    assert_eq!(scan_state(&s, "cfg/team/app", &cfg2).await["state"], "done");
    assert!(referrer_types("cfg/team/app", cfg2).await.is_empty());
    // What was attached stays a referrer after opting out again.
    let (ok, out) = cli(&["sbom", "referrers", "reset"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["sbom", "referrers", "show"]);
    assert!(ok && out.contains("\"config\""), "{out}");
    assert_eq!(referrer_types("plain/app", plain2.clone()).await, both);
    // The CLI prints an SBOM too.
    let (ok, out) = cli(&[
        "sbom",
        "get",
        &format!("plain/app@{plain}"),
        "--format",
        "spdx",
    ]);
    assert!(ok && out.contains("SPDX-2.3"), "{out}");
    // Only administrators change the list.
    let resp = s
        .anon(Method::PUT, "/api/v1/scans/sbom-referrers")
        .basic_auth("outsider", Some("outsider-password"))
        .json(&serde_json::json!({ "patterns": ["**"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}
