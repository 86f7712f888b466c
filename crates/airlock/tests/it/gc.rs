//! Garbage collection: unreferenced blobs go after the grace period, everything a
//! manifest or an in-flight push needs stays, `--dry-run` changes nothing.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::time::Duration;

async fn blob_status(s: &TestServer, repo: &str, digest: &str) -> StatusCode {
    s.send(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"))
        .await
        .status()
}

fn blob_file(s: &TestServer, digest: &str) -> std::path::PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    s.data_dir
        .join("storage/blobs")
        .join(alg)
        .join(&hex[..2])
        .join(hex)
}

#[tokio::test]
async fn collects_unreferenced_keeps_referenced() {
    let s = TestServer::start().await;
    let (_, kept_manifest) = s.push_image("gc/app", "v1", &[b"kept layer"]).await;
    let kept = sha256(b"kept layer");
    let orphan = s.push_blob("gc/app", b"orphan layer").await;
    let (_, deleted_manifest) = s.push_image("gc/app", "old", &[b"old layer"]).await;
    let old = sha256(b"old layer");
    let resp = s
        .req(
            Method::DELETE,
            &format!("/v2/gc/app/manifests/{deleted_manifest}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    // A blob shared by a deleted image and a kept one stays.
    s.push_image("gc/other", "v1", &[b"kept layer"]).await;

    // Within the grace period nothing goes.
    let (ok, out) = s.cli(&["gc", "--grace", "1h"]);
    assert!(ok, "{out}");
    assert!(out.contains("deleted 0 blobs"), "{out}");
    assert_eq!(blob_status(&s, "gc/app", &orphan).await, StatusCode::OK);

    // Timestamps have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Dry run: says what would go, removes nothing.
    let (ok, out) = s.cli(&["gc", "--grace", "0s", "--dry-run"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("would delete blob {orphan}")),
        "{out}"
    );
    assert!(out.contains(&format!("would delete blob {old}")), "{out}");
    assert!(!out.contains(&kept), "{out}");
    assert!(blob_file(&s, &orphan).exists());
    assert_eq!(blob_status(&s, "gc/app", &orphan).await, StatusCode::OK);

    let (ok, out) = s.cli(&["gc", "--grace", "0s"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("deleted blob {orphan}")), "{out}");
    assert!(out.contains(&format!("deleted blob {old}")), "{out}");
    assert!(!blob_file(&s, &orphan).exists());
    assert!(!blob_file(&s, &old).exists());
    assert_eq!(
        blob_status(&s, "gc/app", &orphan).await,
        StatusCode::NOT_FOUND
    );

    // What is referenced is intact.
    assert!(blob_file(&s, &kept).exists());
    assert!(blob_file(&s, &kept_manifest).exists());
    let resp = s.send(Method::GET, "/v2/gc/app/manifests/v1").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(blob_status(&s, "gc/app", &kept).await, StatusCode::OK);
    assert_eq!(blob_status(&s, "gc/other", &kept).await, StatusCode::OK);
    let (ok, out) = s.cli(&["fsck"]);
    assert!(ok, "{out}");

    // A collected blob can be pushed again.
    s.push_blob("gc/app", b"orphan layer").await;
    assert_eq!(blob_status(&s, "gc/app", &orphan).await, StatusCode::OK);
}

#[tokio::test]
async fn in_flight_push_survives_gc() {
    let s = TestServer::start().await;
    // A push in progress: layer uploaded, manifest not yet put.
    let config = s.push_blob("gc/inflight", b"{}").await;
    let layer = s.push_blob("gc/inflight", b"in-flight layer").await;
    // An open upload session with some bytes in it.
    let loc = s.start_upload("gc/inflight").await;
    let resp = s
        .req(Method::PATCH, &loc)
        .body("partial")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let loc = location_of(&resp);

    // The default grace period protects both.
    let (ok, out) = s.cli(&["gc"]);
    assert!(ok, "{out}");
    assert!(out.contains("deleted 0 blobs"), "{out}");
    assert!(out.contains("0 expired uploads"), "{out}");

    // The push completes after the collection.
    let desc = format!(
        r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":15}}"#
    );
    let resp = s
        .put_manifest(
            "gc/inflight",
            "v1",
            OCI_MANIFEST,
            &image_manifest(&config, 2, &desc, ""),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s
        .req(Method::PUT, &with_digest(&loc, &sha256(b"partial rest")))
        .body(" rest")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn expired_uploads_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(
        &tmp.path().join("d"),
        &[("AIRLOCK_UPLOAD_EXPIRY_SECS", "1")],
    )
    .await;
    let loc = s.start_upload("gc/expire").await;
    s.req(Method::PATCH, &loc)
        .body("abandoned")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // `gc` reads the same setting from the environment of its own process.
    let out = std::process::Command::new(airlock_bin())
        .args(["gc", "--data-dir"])
        .arg(&s.data_dir)
        .env("AIRLOCK_UPLOAD_EXPIRY_SECS", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("1 expired uploads"), "{text}");
    let resp = s.send(Method::GET, &loc).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(std::fs::read_dir(s.data_dir.join("storage/uploads"))
        .unwrap()
        .next()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_racing_pushes_never_breaks_an_image() {
    let s = TestServer::start().await;
    let base = s.base.clone();
    let data = s.data_dir.clone();
    // Collect with a short grace period, over and over, while images are pushed
    // (each push takes far less than the grace period between its blobs and its
    // manifest; that is what the grace period is for).
    let collector = std::thread::spawn(move || {
        for _ in 0..15 {
            let (ok, out) = run_cli(&data, &["gc", "--grace", "2s"]);
            assert!(ok, "{out}");
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    let mut pushed = Vec::new();
    for i in 0..40 {
        let layer = format!("racing layer {}", i % 5).into_bytes();
        let (_, d) = s.push_image("gc/race", &format!("t{i}"), &[&layer]).await;
        pushed.push((format!("t{i}"), d));
        // Delete some so there is something to collect.
        if i % 3 == 0 {
            s.send(Method::DELETE, &format!("/v2/gc/race/manifests/t{i}"))
                .await;
            pushed.pop();
        }
    }
    collector.join().unwrap();
    let _ = base;
    for (tag, _) in &pushed {
        let resp = s
            .send(Method::GET, &format!("/v2/gc/race/manifests/{tag}"))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let m: serde_json::Value = resp.json().await.unwrap();
        for l in m["layers"].as_array().unwrap() {
            let d = l["digest"].as_str().unwrap();
            assert_eq!(
                blob_status(&s, "gc/race", d).await,
                StatusCode::OK,
                "{tag} {d}"
            );
        }
    }
    let (ok, out) = s.cli(&["fsck"]);
    assert!(ok, "{out}");
}
