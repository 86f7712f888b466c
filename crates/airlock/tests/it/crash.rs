//! Crash safety: SIGKILL during concurrent pushes leaves no visible partial blob, no
//! tag pointing at a missing manifest, and a server that restarts cleanly with its
//! temporary files removed; `airlock fsck` finds nothing wrong and everything that
//! was acknowledged can be pulled byte for byte.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server acknowledged with 201: (repo, tag, manifest digest, layer bytes).
type Acked = Arc<Mutex<Vec<(String, String, String, Vec<Vec<u8>>)>>>;

fn layer(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Pushes images in a loop: each layer in 256 KiB chunks, then a manifest. Errors
/// (the server dying) end the loop.
async fn pusher(base: String, worker: u64, acked: Acked) {
    let client = reqwest::Client::new();
    let req = |m: Method, url: String| {
        client
            .request(
                m,
                if url.starts_with("http") {
                    url
                } else {
                    format!("{base}{url}")
                },
            )
            .basic_auth("admin", Some(PASSWORD))
    };
    for round in 0u64.. {
        let repo = format!("crash/w{worker}");
        let tag = format!("r{round}");
        let layers: Vec<Vec<u8>> = (0..2)
            .map(|i| {
                layer(
                    worker * 1_000_000 + round * 10 + i,
                    1_500_000 + (round as usize % 7) * 1000,
                )
            })
            .collect();
        let mut descs = Vec::new();
        for l in &layers {
            let Ok(resp) = req(Method::POST, format!("/v2/{repo}/blobs/uploads/"))
                .send()
                .await
            else {
                return;
            };
            let Some(mut loc) = resp
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
            else {
                return;
            };
            let mut off = 0;
            for c in l.chunks(256 * 1024) {
                let Ok(resp) = req(Method::PATCH, loc.clone())
                    .header("content-range", format!("{}-{}", off, off + c.len() - 1))
                    .body(c.to_vec())
                    .send()
                    .await
                else {
                    return;
                };
                if resp.status() != StatusCode::ACCEPTED {
                    return;
                }
                loc = location_of(&resp);
                off += c.len();
            }
            let d = sha256(l);
            match req(Method::PUT, with_digest(&loc, &d)).send().await {
                Ok(r) if r.status() == StatusCode::CREATED => {}
                _ => return,
            }
            descs.push(format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{}}}"#,
                l.len()
            ));
        }
        let config = format!(r#"{{"worker":{worker},"round":{round}}}"#);
        let cd = sha256(config.as_bytes());
        match req(
            Method::POST,
            format!("/v2/{repo}/blobs/uploads/?digest={cd}"),
        )
        .body(config.clone())
        .send()
        .await
        {
            Ok(r) if r.status() == StatusCode::CREATED => {}
            _ => return,
        }
        let manifest = image_manifest(&cd, config.len(), &descs.join(","), "");
        match req(Method::PUT, format!("/v2/{repo}/manifests/{tag}"))
            .header("content-type", OCI_MANIFEST)
            .body(manifest.clone())
            .send()
            .await
        {
            Ok(r) if r.status() == StatusCode::CREATED => {
                acked
                    .lock()
                    .unwrap()
                    .push((repo, tag, sha256(manifest.as_bytes()), layers));
            }
            _ => return,
        }
    }
}

async fn verify_everything_pullable(s: &TestServer, acked: &Acked) {
    // Every acknowledged image pulls byte for byte.
    let acked = acked.lock().unwrap().clone();
    for (repo, tag, digest, layers) in &acked {
        let resp = s
            .send(Method::GET, &format!("/v2/{repo}/manifests/{tag}"))
            .await;
        assert_eq!(
            resp.status(),
            StatusCode::OK,
            "{repo}:{tag} acknowledged before the crash"
        );
        assert_eq!(
            resp.headers()["docker-content-digest"].to_str().unwrap(),
            digest
        );
        for l in layers {
            let resp = s
                .send(Method::GET, &format!("/v2/{repo}/blobs/{}", sha256(l)))
                .await;
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(sha256(&resp.bytes().await.unwrap()), sha256(l));
        }
    }
    // Every tag that exists (acknowledged or not) points at a complete image.
    let resp = s.send(Method::GET, "/v2/_catalog").await;
    let v: serde_json::Value = resp.json().await.unwrap();
    for repo in v["repositories"].as_array().unwrap() {
        let repo = repo.as_str().unwrap();
        let resp = s.send(Method::GET, &format!("/v2/{repo}/tags/list")).await;
        let t: serde_json::Value = resp.json().await.unwrap();
        for tag in t["tags"].as_array().unwrap() {
            let tag = tag.as_str().unwrap();
            let resp = s
                .send(Method::GET, &format!("/v2/{repo}/manifests/{tag}"))
                .await;
            assert_eq!(resp.status(), StatusCode::OK, "{repo}:{tag}");
            let m: serde_json::Value = resp.json().await.unwrap();
            let mut needed = vec![m["config"]["digest"].as_str().unwrap().to_owned()];
            for l in m["layers"].as_array().unwrap() {
                needed.push(l["digest"].as_str().unwrap().to_owned());
            }
            for d in needed {
                let resp = s.send(Method::GET, &format!("/v2/{repo}/blobs/{d}")).await;
                assert_eq!(resp.status(), StatusCode::OK, "{repo}:{tag} needs {d}");
                assert_eq!(sha256(&resp.bytes().await.unwrap()), d);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_concurrent_pushes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let acked: Acked = Arc::default();

    // Kill at a few different moments.
    for (round, after_ms) in [700u64, 1300, 2100].into_iter().enumerate() {
        let mut s = TestServer::start_in(&data).await;
        let workers: Vec<_> = (0..6)
            .map(|w| {
                tokio::spawn(pusher(
                    s.base.clone(),
                    (round as u64) * 100 + w,
                    acked.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        s.kill();
        for w in workers {
            w.await.unwrap();
        }
    }
    assert!(
        !acked.lock().unwrap().is_empty(),
        "some pushes completed before the kills"
    );

    // Restart: temp files from the crash are gone, the data checks out.
    let s = TestServer::start_in(&data).await;
    let tmp_left = std::fs::read_dir(data.join("storage/tmp")).unwrap().count();
    assert_eq!(tmp_left, 0, "temporary files cleaned at start");
    let (ok, out) = s.cli(&["fsck"]);
    assert!(ok, "fsck after crashes:\n{out}");
    verify_everything_pullable(&s, &acked).await;

    // Interrupted upload sessions can be cancelled or expire; garbage collection
    // after the crashes leaves every acknowledged image intact.
    let (ok, out) = s.cli(&["gc", "--grace", "0s"]);
    assert!(ok, "{out}");
    let (ok, out) = s.cli(&["fsck"]);
    assert!(ok, "fsck after gc:\n{out}");
    verify_everything_pullable(&s, &acked).await;

    // And the server still takes pushes.
    s.push_image("crash/after", "v1", &[b"after the crash"])
        .await;
}

#[tokio::test]
async fn second_server_on_same_data_dir_is_refused() {
    let s = TestServer::start().await;
    let out = std::process::Command::new(airlock_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already using the data directory"), "{err}");
}
