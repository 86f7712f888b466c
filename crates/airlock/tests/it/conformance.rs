//! Conformance: every endpoint of the OCI Distribution Spec v1.1 (pull, push, content
//! discovery, content management), each with its happy path and the error codes and
//! statuses the spec gives for its unhappy paths.

use crate::harness::*;
use reqwest::{Method, StatusCode};

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------- base and auth

#[tokio::test]
async fn base_endpoint_and_authentication() {
    let s = TestServer::start().await;
    let resp = s.send(Method::GET, "/v2/").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        header(&resp, "docker-distribution-api-version"),
        "registry/2.0"
    );

    // No credentials: 401 with a challenge and an OCI error body.
    let resp = s.anon(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&resp, "www-authenticate");
    assert!(
        challenge.starts_with("Bearer realm=\"http://"),
        "{challenge}"
    );
    assert!(
        challenge.contains("/token\",service=\"airlock\""),
        "{challenge}"
    );
    assert_eq!(error_code(resp).await, "UNAUTHORIZED");

    // Wrong password: same answer, nothing about why.
    let resp = s
        .client
        .get(s.url("/v2/"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Every API route is protected, not only /v2/.
    let resp = s.anon(Method::GET, "/v2/a/tags/list").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .anon(Method::POST, "/v2/a/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Health is open (for load balancers) and says nothing else.
    let resp = s.anon(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- pull: blobs

#[tokio::test]
async fn blob_head_get_and_ranges() {
    let s = TestServer::start().await;
    let bytes: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let digest = s.push_blob("pull/blob", &bytes).await;

    let resp = s
        .send(Method::HEAD, &format!("/v2/pull/blob/blobs/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-length"), "10000");
    assert_eq!(header(&resp, "docker-content-digest"), digest);

    let resp = s
        .send(Method::GET, &format!("/v2/pull/blob/blobs/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "docker-content-digest"), digest);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[..]);

    // Range requests.
    for (range, start, end) in [
        ("bytes=0-99", 0usize, 99usize),
        ("bytes=9990-", 9990, 9999),
        ("bytes=-10", 9990, 9999),
        ("bytes=5000-20000", 5000, 9999),
    ] {
        let resp = s
            .req(Method::GET, &format!("/v2/pull/blob/blobs/{digest}"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            header(&resp, "content-range"),
            format!("bytes {start}-{end}/10000"),
            "{range}"
        );
        assert_eq!(resp.bytes().await.unwrap().as_ref(), &bytes[start..=end]);
    }
    // A unit other than bytes is ignored (RFC 9110): the whole blob.
    let resp = s
        .req(Method::GET, &format!("/v2/pull/blob/blobs/{digest}"))
        .header("range", "items=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    for range in ["bytes=10000-", "bytes=50-10", "bytes=abc"] {
        let resp = s
            .req(Method::GET, &format!("/v2/pull/blob/blobs/{digest}"))
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range {range}"
        );
        assert_eq!(header(&resp, "content-range"), "bytes */10000", "{range}");
    }

    // Unknown blob: 404 BLOB_UNKNOWN; HEAD has no body.
    let missing = sha256(b"not pushed");
    let resp = s
        .send(Method::GET, &format!("/v2/pull/blob/blobs/{missing}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
    let resp = s
        .send(Method::HEAD, &format!("/v2/pull/blob/blobs/{missing}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A blob stored for one repository is not visible through another.
    let resp = s
        .send(Method::HEAD, &format!("/v2/other/repo/blobs/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Malformed digest: names no blob.
    let resp = s.send(Method::GET, "/v2/pull/blob/blobs/sha256:xyz").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
}

// ---------------------------------------------------------------- push: uploads

#[tokio::test]
async fn post_then_put_upload() {
    let s = TestServer::start().await;
    let resp = s
        .send(Method::POST, "/v2/push/two-step/blobs/uploads/")
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = header(&resp, "location");
    assert!(
        location.starts_with("/v2/push/two-step/blobs/uploads/"),
        "{location}"
    );
    assert!(!header(&resp, "docker-upload-uuid").is_empty());

    let body = b"two step upload".to_vec();
    let digest = sha256(&body);
    let resp = s
        .req(Method::PUT, &with_digest(&location, &digest))
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        header(&resp, "location"),
        format!("/v2/push/two-step/blobs/{digest}")
    );
    assert_eq!(header(&resp, "docker-content-digest"), digest);

    // The session is gone once the blob is committed.
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");

    let resp = s
        .send(Method::GET, &format!("/v2/push/two-step/blobs/{digest}"))
        .await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &body[..]);
}

#[tokio::test]
async fn chunked_upload_with_status_and_out_of_order_chunks() {
    let s = TestServer::start().await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let digest = sha256(&data);
    let mut location = s.start_upload("push/chunked").await;

    // Status of a fresh upload: 204, Range 0-0 semantics are "nothing yet".
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "location"), location);

    let chunks: Vec<&[u8]> = data.chunks(100_000).collect();
    let mut offset = 0usize;
    for (i, chunk) in chunks.iter().enumerate() {
        if i == 2 {
            break;
        }
        let end = offset + chunk.len() - 1;
        let resp = s
            .req(Method::PATCH, &location)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{offset}-{end}"))
            .header("content-length", chunk.len().to_string())
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        assert_eq!(header(&resp, "range"), format!("0-{end}"));
        location = header(&resp, "location");
        offset = end + 1;
    }

    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "range"), "0-199999");

    // Out of order: a chunk that does not start where the upload ends → 416, and the
    // upload is unchanged.
    let resp = s
        .req(Method::PATCH, &location)
        .header("content-type", "application/octet-stream")
        .header("content-range", "250000-299999")
        .header("content-length", "50000")
        .body(data[250_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // A repeated chunk is out of order too.
    let resp = s
        .req(Method::PATCH, &location)
        .header("content-range", "0-99999")
        .header("content-length", "100000")
        .body(data[..100_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(header(&resp, "range"), "0-199999");

    // The last chunk may come with the closing PUT.
    let resp = s
        .req(Method::PUT, &with_digest(&location, &digest))
        .header("content-type", "application/octet-stream")
        .header("content-range", "200000-299999")
        .body(data[200_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s
        .send(Method::GET, &format!("/v2/push/chunked/blobs/{digest}"))
        .await;
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn chunked_upload_without_content_range_appends() {
    // Docker and some clients stream PATCH bodies without Content-Range.
    let s = TestServer::start().await;
    let location = s.start_upload("push/stream").await;
    let resp = s
        .req(Method::PATCH, &location)
        .body(b"hello ".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = header(&resp, "location");
    let resp = s
        .req(Method::PATCH, &location)
        .body(b"world".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "range"), "0-10");
    let location = header(&resp, "location");
    let digest = sha256(b"hello world");
    let resp = s.send(Method::PUT, &with_digest(&location, &digest)).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn upload_errors() {
    let s = TestServer::start().await;
    // Closing with the wrong digest: 400 DIGEST_INVALID and no blob.
    let location = s.start_upload("push/err").await;
    let wrong = sha256(b"something else");
    let resp = s
        .req(Method::PUT, &with_digest(&location, &wrong))
        .body(b"actual bytes".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
    for d in [wrong, sha256(b"actual bytes")] {
        let resp = s
            .send(Method::HEAD, &format!("/v2/push/err/blobs/{d}"))
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    }

    // Closing without a digest.
    let location = s.start_upload("push/err").await;
    let resp = s.send(Method::PUT, &location).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");

    // Unknown session ids, and ids that are not ids at all.
    for id in ["3f1f0e2a-8d6b-4a4e-9d55-6b0c8e6a1d11", "not-a-uuid"] {
        let path = format!("/v2/push/err/blobs/uploads/{id}");
        for method in [Method::GET, Method::PATCH, Method::PUT, Method::DELETE] {
            let resp = s.send(method.clone(), &path).await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {id}");
            assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
        }
    }

    // An upload session belongs to its repository.
    let location = s.start_upload("push/err").await;
    let id = location
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let resp = s
        .send(Method::GET, &format!("/v2/push/other/blobs/uploads/{id}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Cancel: 204, then the session is unknown.
    let resp = s.send(Method::DELETE, &location).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn sha512_blobs() {
    use sha2::{Digest as _, Sha512};
    let s = TestServer::start().await;
    let body = b"sha512 content".to_vec();
    let digest = format!("sha512:{}", hex::encode(Sha512::digest(&body)));
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/push/sha512/blobs/uploads/?digest={digest}"),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(header(&resp, "docker-content-digest"), digest);
    let resp = s
        .send(Method::GET, &format!("/v2/push/sha512/blobs/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), &body[..]);
}

#[tokio::test]
async fn cross_repository_mount() {
    let s = TestServer::start().await;
    let digest = s.push_blob("mount/source", b"shared layer").await;

    let resp = s
        .req(
            Method::POST,
            &format!("/v2/mount/target/blobs/uploads/?mount={digest}&from=mount/source"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(
        header(&resp, "location"),
        format!("/v2/mount/target/blobs/{digest}")
    );
    assert_eq!(header(&resp, "docker-content-digest"), digest);
    let resp = s
        .send(Method::HEAD, &format!("/v2/mount/target/blobs/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // The blob is not in `from`, `from` does not exist, or `from` is missing: a normal
    // upload session (202) instead.
    let absent = sha256(b"never pushed");
    for query in [
        format!("mount={absent}&from=mount/source"),
        format!("mount={digest}&from=no/such/repo"),
        format!("mount={digest}"),
        format!("mount={digest}&from=..%2Fetc"),
    ] {
        let resp = s
            .req(
                Method::POST,
                &format!("/v2/mount/other/blobs/uploads/?{query}"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::ACCEPTED, "{query}");
        assert!(header(&resp, "location").starts_with("/v2/mount/other/blobs/uploads/"));
    }
}

// ---------------------------------------------------------------- manifests

#[tokio::test]
async fn manifest_put_get_head_by_tag_and_digest() {
    let s = TestServer::start().await;
    let (manifest, digest) = s
        .push_image("man/app", "v1", &[b"layer one", b"layer two"])
        .await;

    for reference in ["v1", digest.as_str()] {
        let resp = s
            .req(Method::GET, &format!("/v2/man/app/manifests/{reference}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "content-type"), OCI_MANIFEST);
        assert_eq!(header(&resp, "docker-content-digest"), digest);
        assert_eq!(
            resp.text().await.unwrap(),
            manifest,
            "bytes served unchanged"
        );

        let resp = s
            .send(Method::HEAD, &format!("/v2/man/app/manifests/{reference}"))
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(header(&resp, "content-length"), manifest.len().to_string());
        assert_eq!(header(&resp, "docker-content-digest"), digest);
    }

    // PUT response headers.
    let config = s.push_blob("man/app", b"{}").await;
    let body = image_manifest(&config, 2, "", "");
    let resp = s.put_manifest("man/app", "v2", OCI_MANIFEST, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let d = sha256(body.as_bytes());
    assert_eq!(header(&resp, "docker-content-digest"), d);
    assert_eq!(
        header(&resp, "location"),
        format!("/v2/man/app/manifests/{d}")
    );

    // Push by digest: accepted when it matches, DIGEST_INVALID when it does not.
    let body3 = image_manifest(&config, 2, "", r#","annotations":{"n":"3"}"#);
    let d3 = sha256(body3.as_bytes());
    let resp = s.put_manifest("man/app", &d3, OCI_MANIFEST, &body3).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s.put_manifest("man/app", &d, OCI_MANIFEST, &body3).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");

    // Retagging moves the tag.
    let resp = s.put_manifest("man/app", "v1", OCI_MANIFEST, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s.send(Method::HEAD, "/v2/man/app/manifests/v1").await;
    assert_eq!(header(&resp, "docker-content-digest"), d);

    // Unknown: 404 MANIFEST_UNKNOWN by tag and by digest; also in unknown repositories.
    for path in [
        "/v2/man/app/manifests/nope".to_owned(),
        format!("/v2/man/app/manifests/{}", sha256(b"none")),
        "/v2/no/such/manifests/latest".to_owned(),
    ] {
        let resp = s.send(Method::GET, &path).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        let code = error_code(resp).await;
        assert!(
            code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN",
            "{path}: {code}"
        );
    }
}

#[tokio::test]
async fn manifest_requires_its_blobs() {
    let s = TestServer::start().await;
    let config = s.push_blob("man/strict", b"{}").await;
    let missing = sha256(b"missing layer");
    let layer = format!(
        r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{missing}","size":13}}"#
    );
    let body = image_manifest(&config, 2, &layer, "");
    let resp = s
        .put_manifest("man/strict", "v1", OCI_MANIFEST, &body)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "MANIFEST_BLOB_UNKNOWN");
    // Missing config.
    let body = image_manifest(&missing, 13, "", "");
    let resp = s
        .put_manifest("man/strict", "v1", OCI_MANIFEST, &body)
        .await;
    assert_eq!(error_code(resp).await, "MANIFEST_BLOB_UNKNOWN");
    // Blob exists elsewhere but not in this repository.
    let elsewhere = s.push_blob("man/elsewhere", b"layer elsewhere").await;
    let layer = format!(
        r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{elsewhere}","size":15}}"#
    );
    let body = image_manifest(&config, 2, &layer, "");
    let resp = s
        .put_manifest("man/strict", "v1", OCI_MANIFEST, &body)
        .await;
    assert_eq!(error_code(resp).await, "MANIFEST_BLOB_UNKNOWN");
    // Nothing was tagged.
    let resp = s.send(Method::GET, "/v2/man/strict/manifests/v1").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn image_index_and_docker_formats() {
    let s = TestServer::start().await;
    let (m1, d1) = s.push_image("fmt/multi", "amd64", &[b"amd64 layer"]).await;
    let (m2, d2) = s.push_image("fmt/multi", "arm64", &[b"arm64 layer"]).await;
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d1}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{d2}","size":{},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#,
        m1.len(),
        m2.len()
    );
    let resp = s
        .put_manifest("fmt/multi", "latest", OCI_INDEX, &index)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s.send(Method::GET, "/v2/fmt/multi/manifests/latest").await;
    assert_eq!(header(&resp, "content-type"), OCI_INDEX);
    assert_eq!(resp.text().await.unwrap(), index);

    // An index whose child manifest is missing.
    let absent = sha256(b"absent manifest");
    let bad = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{absent}","size":10}}]}}"#
    );
    let resp = s.put_manifest("fmt/multi", "bad", OCI_INDEX, &bad).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "MANIFEST_BLOB_UNKNOWN");

    // Docker schema 2 manifest and manifest list.
    const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    let config = s.push_blob("fmt/docker", br#"{"os":"linux"}"#).await;
    let layer = s.push_blob("fmt/docker", b"docker layer").await;
    let dm = format!(
        r#"{{
   "schemaVersion": 2,
   "mediaType": "{DOCKER_MANIFEST}",
   "config": {{"mediaType": "application/vnd.docker.container.image.v1+json", "size": 15, "digest": "{config}"}},
   "layers": [{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 12, "digest": "{layer}"}}]
}}"#
    );
    let resp = s
        .put_manifest("fmt/docker", "v1", DOCKER_MANIFEST, &dm)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let dmd = sha256(dm.as_bytes());
    let list = format!(
        r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{{"mediaType":"{DOCKER_MANIFEST}","size":{},"digest":"{dmd}","platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        dm.len()
    );
    let resp = s
        .put_manifest("fmt/docker", "list", DOCKER_LIST, &list)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    for (tag, mt, body) in [("v1", DOCKER_MANIFEST, &dm), ("list", DOCKER_LIST, &list)] {
        let resp = s
            .send(Method::GET, &format!("/v2/fmt/docker/manifests/{tag}"))
            .await;
        assert_eq!(header(&resp, "content-type"), mt);
        assert_eq!(
            &resp.text().await.unwrap(),
            body,
            "whitespace kept byte for byte"
        );
    }
}

#[tokio::test]
async fn manifest_put_errors() {
    let s = TestServer::start().await;
    let config = s.push_blob("man/err", b"{}").await;
    let good = image_manifest(&config, 2, "", "");
    // Invalid tag.
    for tag in ["-leading-dash", ".dot", &"a".repeat(129)] {
        let resp = s.put_manifest("man/err", tag, OCI_MANIFEST, &good).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{tag}");
        assert_eq!(error_code(resp).await, "TAG_INVALID", "{tag}");
    }
    // Malformed JSON and wrong schema.
    for body in [
        "{not json".to_owned(),
        r#"{"schemaVersion":1}"#.to_owned(),
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#
            .to_owned(),
        good.replace(&config, "sha256:1234"),
    ] {
        let resp = s.put_manifest("man/err", "t", OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(resp).await, "MANIFEST_INVALID", "{body}");
    }
    // Content type disagreeing with the body's mediaType.
    let resp = s.put_manifest("man/err", "t", OCI_INDEX, &good).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "MANIFEST_INVALID");
    // Nothing stored.
    let resp = s.send(Method::GET, "/v2/man/err/tags/list").await;
    let v: serde_json::Value = resp.json().await.unwrap();
    assert!(v["tags"].as_array().is_none_or(|t| t.is_empty()), "{v}");
}

#[tokio::test]
async fn manifest_and_blob_delete() {
    let s = TestServer::start().await;
    let (_, digest) = s.push_image("del/app", "v1", &[b"to delete"]).await;
    let layer = sha256(b"to delete");

    // Deleting a tag removes the tag, not the manifest.
    let resp = s.send(Method::DELETE, "/v2/del/app/manifests/v1").await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = s.send(Method::GET, "/v2/del/app/manifests/v1").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .send(Method::GET, &format!("/v2/del/app/manifests/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);

    // Deleting by digest removes the manifest.
    let resp = s
        .send(Method::DELETE, &format!("/v2/del/app/manifests/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = s
        .send(Method::GET, &format!("/v2/del/app/manifests/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "MANIFEST_UNKNOWN");
    let resp = s
        .send(Method::DELETE, &format!("/v2/del/app/manifests/{digest}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "MANIFEST_UNKNOWN");

    // Blob delete.
    let resp = s
        .send(Method::DELETE, &format!("/v2/del/app/blobs/{layer}"))
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = s
        .send(Method::HEAD, &format!("/v2/del/app/blobs/{layer}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .send(Method::DELETE, &format!("/v2/del/app/blobs/{layer}"))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn blob_in_use_by_a_manifest_is_not_deleted_from_the_repository() {
    let s = TestServer::start().await;
    s.push_image("del/used", "v1", &[b"in use"]).await;
    let layer = sha256(b"in use");
    let resp = s
        .send(Method::DELETE, &format!("/v2/del/used/blobs/{layer}"))
        .await;
    // Refusing is the safe answer: a tagged image must stay pullable.
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(resp).await, "DENIED");
    let resp = s
        .send(Method::GET, &format!("/v2/del/used/blobs/{layer}"))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
}

// ---------------------------------------------------------------- discovery

#[tokio::test]
async fn tags_list_pagination() {
    let s = TestServer::start().await;
    let config = s.push_blob("disc/tags", b"{}").await;
    let body = image_manifest(&config, 2, "", "");
    let tags = ["b", "a", "d", "c", "e", "v1.0", "V2"];
    for t in tags {
        let resp = s.put_manifest("disc/tags", t, OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let mut sorted: Vec<&str> = tags.to_vec();
    sorted.sort();

    let resp = s.send(Method::GET, "/v2/disc/tags/tags/list").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["name"], "disc/tags");
    let got: Vec<&str> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(got, sorted);

    // Walk with n=3 following Link headers.
    let mut url = "/v2/disc/tags/tags/list?n=3".to_owned();
    let mut walked = Vec::new();
    loop {
        let resp = s.send(Method::GET, &url).await;
        let link = header(&resp, "link");
        let v: serde_json::Value = resp.json().await.unwrap();
        let page: Vec<String> = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert!(page.len() <= 3);
        walked.extend(page);
        if link.is_empty() {
            break;
        }
        assert!(link.ends_with(r#">; rel="next""#), "{link}");
        url = link
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap()
            .to_owned();
    }
    assert_eq!(walked, sorted);

    // `last` alone.
    let resp = s.send(Method::GET, "/v2/disc/tags/tags/list?last=c").await;
    let v: serde_json::Value = resp.json().await.unwrap();
    let got: Vec<&str> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        sorted
            .iter()
            .copied()
            .filter(|t| *t > "c")
            .collect::<Vec<_>>()
    );

    // n=0 gives an empty list.
    let resp = s.send(Method::GET, "/v2/disc/tags/tags/list?n=0").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["tags"].as_array().map(|a| a.len()).unwrap_or(0), 0);

    // Invalid n.
    for n in ["-1", "abc", "99999999999999999999"] {
        let resp = s
            .send(Method::GET, &format!("/v2/disc/tags/tags/list?n={n}"))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "n={n}");
        assert_eq!(error_code(resp).await, "PAGINATION_NUMBER_INVALID");
    }

    // Unknown repository.
    let resp = s.send(Method::GET, "/v2/disc/none/tags/list").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await, "NAME_UNKNOWN");
}

#[tokio::test]
async fn catalog_pagination() {
    let s = TestServer::start().await;
    let repos = ["cat/z", "cat/a", "cat/m", "b", "cat/a/deeper"];
    for r in repos {
        s.push_image(r, "latest", &[]).await;
    }
    let mut sorted = repos.to_vec();
    sorted.sort();
    let resp = s.send(Method::GET, "/v2/_catalog").await;
    let v: serde_json::Value = resp.json().await.unwrap();
    let got: Vec<&str> = v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(got, sorted);

    let resp = s.send(Method::GET, "/v2/_catalog?n=2").await;
    let link = header(&resp, "link");
    assert!(link.contains("last=") && link.contains("n=2"), "{link}");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["repositories"].as_array().unwrap().len(), 2);
    let next = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    let resp = s.send(Method::GET, &next).await;
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["repositories"][0], sorted[2]);
}

#[tokio::test]
async fn referrers_and_subject() {
    let s = TestServer::start().await;
    let (image, image_digest) = s.push_image("ref/app", "v1", &[b"app layer"]).await;

    // Two artifacts whose subject is the image, of different artifact types.
    let empty = s.push_blob("ref/app", b"{}").await;
    let mut artifacts = Vec::new();
    for (kind, payload) in [
        ("application/vnd.example.sbom", "sbom-bytes"),
        ("application/vnd.example.signature", "sig-bytes"),
    ] {
        let blob = s.push_blob("ref/app", payload.as_bytes()).await;
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{kind}","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{blob}","size":{}}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{image_digest}","size":{}}},"annotations":{{"k":"v"}}}}"#,
            payload.len(),
            image.len()
        );
        let d = sha256(body.as_bytes());
        let resp = s.put_manifest("ref/app", &d, OCI_MANIFEST, &body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        assert_eq!(header(&resp, "oci-subject"), image_digest);
        artifacts.push((kind, d, body.len()));
    }

    let resp = s
        .req(
            Method::GET,
            &format!("/v2/ref/app/referrers/{image_digest}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, "content-type"), OCI_INDEX);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["schemaVersion"], 2);
    assert_eq!(v["mediaType"], OCI_INDEX);
    let list = v["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for (kind, d, size) in &artifacts {
        let entry = list.iter().find(|m| m["digest"] == *d).expect("listed");
        assert_eq!(entry["artifactType"], *kind);
        assert_eq!(entry["size"], *size);
        assert_eq!(entry["mediaType"], OCI_MANIFEST);
        assert_eq!(entry["annotations"]["k"], "v");
    }

    // Filtering.
    let resp = s
        .req(
            Method::GET,
            &format!(
                "/v2/ref/app/referrers/{image_digest}?artifactType=application/vnd.example.sbom"
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header(&resp, "oci-filters-applied"), "artifactType");
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );

    // Deleting a referrer removes it from the list.
    let resp = s
        .req(
            Method::DELETE,
            &format!("/v2/ref/app/manifests/{}", artifacts[0].1),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/ref/app/referrers/{image_digest}"),
        )
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);

    // A subject that does not exist (yet) is accepted, and its referrers listed.
    let ghost = sha256(b"ghost subject");
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"application/x.note","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{empty}","size":2}},"layers":[],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{ghost}","size":10}}}}"#
    );
    let resp = s.put_manifest("ref/app", "note", OCI_MANIFEST, &body).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = s
        .send(Method::GET, &format!("/v2/ref/app/referrers/{ghost}"))
        .await;
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);

    // No referrers: an empty index, 200. Bad digest: 400.
    let resp = s
        .req(
            Method::GET,
            &format!("/v2/ref/app/referrers/{}", sha256(b"x")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 0);
    let resp = s
        .send(Method::GET, "/v2/ref/app/referrers/sha256:short")
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn unsupported_methods() {
    let s = TestServer::start().await;
    for (method, path) in [
        (Method::POST, "/v2/x/manifests/latest"),
        (
            Method::PATCH,
            "/v2/x/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ),
        (Method::DELETE, "/v2/x/tags/list"),
    ] {
        let resp = s.send(method.clone(), path).await;
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(error_code(resp).await, "UNSUPPORTED");
    }
    let resp = s.send(Method::GET, "/v2/x/nothing-here").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

// ---------------------------------------------------------------- regressions from the official suites

/// Regression (OCI conformance, "GET nonexistent manifest should return 404"): a
/// reference that is not a valid tag names no manifest, so a read finds nothing; only
/// a PUT, which would create the tag, is told the tag is invalid.
#[tokio::test]
async fn reading_a_manifest_by_an_invalid_reference_is_manifest_unknown() {
    let s = TestServer::start().await;
    let (manifest, _) = s.push_image("bad/ref", "v1", &[b"a layer"]).await;
    for method in [Method::GET, Method::HEAD, Method::DELETE] {
        for reference in [".INVALID_MANIFEST_NAME", "-dash", "sha256:short"] {
            let resp = s
                .send(
                    method.clone(),
                    &format!("/v2/bad/ref/manifests/{reference}"),
                )
                .await;
            assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {reference}");
            if method != Method::HEAD {
                assert_eq!(error_code(resp).await, "MANIFEST_UNKNOWN", "{method}");
            }
        }
    }
    let resp = s
        .put_manifest("bad/ref", ".INVALID_MANIFEST_NAME", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "TAG_INVALID");
    let resp = s
        .put_manifest("bad/ref", "sha256:short", OCI_MANIFEST, &manifest)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(resp).await, "DIGEST_INVALID");

    // Blobs by a malformed digest are unknown blobs.
    for method in [Method::GET, Method::HEAD, Method::DELETE] {
        let resp = s
            .send(method.clone(), "/v2/bad/ref/blobs/sha256:not-hex")
            .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method}");
        if method != Method::HEAD {
            assert_eq!(error_code(resp).await, "BLOB_UNKNOWN");
        }
    }
    // The referrers query stays 400 DIGEST_INVALID for a malformed digest (a 404
    // there means "unsupported"): see `referrers_and_subject`.
}

/// `PATCH` of `chunk` at `start` to an upload, with a Bearer token.
async fn patch_chunk(
    s: &TestServer,
    location: &str,
    jwt: &str,
    chunk: &[u8],
    start: usize,
) -> reqwest::Response {
    bearer(s, Method::PATCH, location, jwt)
        .header(
            "content-range",
            format!("{start}-{}", start + chunk.len() - 1),
        )
        .header("content-length", chunk.len().to_string())
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

/// Regression (OCI conformance, "chunked out-of-order" with sha256 and sha512): the
/// suite keeps a pull token for GET and a push token for the rest, and asks for the
/// upload's offset with the pull token after a 416. An upload's status is a read,
/// open to its owner only.
#[tokio::test]
async fn upload_status_with_a_pull_token_after_an_out_of_order_chunk() {
    let s = TestServer::start().await;
    let push = token(&s, &["repository:up/status:pull,push"]).await;
    let pull = token(&s, &["repository:up/status:pull"]).await;
    let resp = bearer(&s, Method::POST, "/v2/up/status/blobs/uploads/", &push)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = location_of(&resp);
    let data = vec![7u8; 2048];
    let resp = patch_chunk(&s, &location, &push, &data[..1024], 0).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = location_of(&resp);
    let resp = patch_chunk(&s, &location, &push, &data[1500..], 1500).await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let resp = bearer(&s, Method::GET, &location, &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&resp, "range"), "0-1023");
    // A pull token still cannot write to it.
    let resp = patch_chunk(&s, &location, &pull, &data[1024..], 1024).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Bound to its owner: another principal with push rights on the repository, or
    // a reader, finds no such session, with a token or a password.
    user_with_role(&s, "mallory", "mallory-password-1", "up/*", "contributor").await;
    user_with_role(&s, "rita", "rita-password-123", "up/*", "reader").await;
    let theirs = token_as(
        &s,
        ("mallory", "mallory-password-1"),
        &["repository:up/status:pull,push"],
    )
    .await;
    for req in [
        bearer(&s, Method::GET, &location, &theirs),
        bearer(
            &s,
            Method::PUT,
            &with_digest(&location, &sha256(&data)),
            &theirs,
        ),
        s.anon(Method::GET, &location)
            .basic_auth("mallory", Some("mallory-password-1")),
        s.anon(Method::GET, &location)
            .basic_auth("rita", Some("rita-password-123")),
    ] {
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(error_code(resp).await, "BLOB_UPLOAD_UNKNOWN");
    }
    // The owner finishes it.
    let resp = bearer(
        &s,
        Method::PUT,
        &with_digest(&location, &sha256(&data)),
        &push,
    )
    .header("content-range", "1024-2047")
    .header("content-length", "1024")
    .body(data[1024..].to_vec())
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

/// Decided (see `distribution.rs`): a token that lacks a scope the request needs gets
/// 403 with a challenge for that scope (oras-py refreshes its token only on 403); a
/// password caller gets 403 without one.
#[tokio::test]
async fn a_token_without_the_needed_scope_is_refused_with_a_challenge() {
    let s = TestServer::start().await;
    let pull = token(&s, &["repository:scope/app:pull"]).await;
    let resp = bearer(&s, Method::POST, "/v2/scope/app/blobs/uploads/", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let c = header(&resp, "www-authenticate");
    assert!(
        c.starts_with("Bearer realm=")
            && c.contains(r#"scope="repository:scope/app:pull,push""#)
            && c.contains(r#"error="insufficient_scope""#),
        "{c}"
    );
    assert_eq!(error_code(resp).await, "DENIED");
    // The catalog needs its own scope.
    let resp = bearer(&s, Method::GET, "/v2/_catalog", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(header(&resp, "www-authenticate").contains(r#"scope="registry:catalog:*""#));

    user_with_role(&s, "reader", "reader-password-1", "scope/*", "reader").await;
    let resp = s
        .anon(Method::POST, "/v2/scope/app/blobs/uploads/")
        .basic_auth("reader", Some("reader-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(!resp.headers().contains_key("www-authenticate"));
    assert_eq!(error_code(resp).await, "DENIED");
}
