//! Bad input: every malformed, oversized or hostile request gets the right OCI error
//! and leaves nothing behind (no blob, no tag, no temp file), and the server keeps
//! answering.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn stored_blobs(s: &TestServer) -> usize {
    files_under(&s.data_dir.join("storage/blobs")).len()
}

fn assert_nothing_left(s: &TestServer) {
    assert_eq!(stored_blobs(s), 0, "no blob stored");
    assert!(
        files_under(&s.data_dir.join("storage/tmp")).is_empty(),
        "no temp file left"
    );
}

/// Sends raw bytes over TCP (for requests no HTTP library will produce) and returns
/// the status code and the whole response text.
async fn raw(s: &TestServer, request: String) -> (u16, String) {
    let addr = s.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut buf),
    )
    .await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn auth_header() -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{PASSWORD}"))
    )
}

#[tokio::test]
async fn wrong_digests_store_nothing() {
    let s = TestServer::start().await;
    let body = b"some layer".to_vec();
    for digest in [
        sha256(b"other bytes"),
        "sha256:0000".to_owned(),
        format!("sha256:{}", "A".repeat(64)),
        format!("sha1:{}", "a".repeat(40)),
        "md5:abc".to_owned(),
        "sha256".to_owned(),
        "".to_owned(),
    ] {
        let resp = s
            .req(
                Method::POST,
                &format!("/v2/bad/digest/blobs/uploads/?digest={digest}"),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "digest {digest:?}");
        let code = error_code(resp).await;
        assert!(
            code == "DIGEST_INVALID" || code == "UNSUPPORTED",
            "digest {digest:?}: {code}"
        );
    }
    assert_nothing_left(&s);
}

#[tokio::test]
async fn malformed_manifests_store_nothing() {
    let s = TestServer::start().await;
    let cases: Vec<(&str, String)> = vec![
        (OCI_MANIFEST, "".to_owned()),
        (OCI_MANIFEST, "null".to_owned()),
        (OCI_MANIFEST, "[]".to_owned()),
        (OCI_MANIFEST, "{\"schemaVersion\":2,".to_owned()),
        (OCI_MANIFEST, "\u{feff}{}".to_owned()),
        (OCI_MANIFEST, r#"{"schemaVersion":"2"}"#.to_owned()),
        (
            OCI_MANIFEST,
            r#"{"schemaVersion":2,"config":{"digest":"sha256:zz","size":-1},"layers":[]}"#
                .to_owned(),
        ),
        (
            OCI_MANIFEST,
            format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"a/b","digest":"{}","size":-5}},"layers":[]}}"#,
                sha256(b"x")
            ),
        ),
        (
            OCI_INDEX,
            r#"{"schemaVersion":2,"manifests":[{"digest":"nope"}]}"#.to_owned(),
        ),
        // Unknown manifest media types.
        ("application/x-unknown", r#"{"schemaVersion":2}"#.to_owned()),
        ("text/plain", "hello".to_owned()),
        (
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            r#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#.to_owned(),
        ),
    ];
    for (ct, body) in &cases {
        let resp = s.put_manifest("bad/manifest", "t", ct, body).await;
        let status = resp.status();
        let code = error_code(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{ct} {body:?}");
        assert!(
            code == "MANIFEST_INVALID" || code == "UNSUPPORTED",
            "{ct} {body:?}: {code}"
        );
    }
    // Deeply nested JSON must not blow the stack.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let resp = s
        .put_manifest("bad/manifest", "t", OCI_MANIFEST, &deep)
        .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_nothing_left(&s);
    let resp = s.send(Method::GET, "/v2/_catalog").await;
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["repositories"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn oversized_manifest_refused() {
    let s = TestServer::start().await;
    let config = s.push_blob("bad/big", b"{}").await;
    let padding = "x".repeat(4 * 1024 * 1024 + 1);
    let body = image_manifest(
        &config,
        2,
        "",
        &format!(r#","annotations":{{"p":"{padding}"}}"#),
    );
    // Declared too large: refused from the headers alone, before the body is read.
    let auth = auth_header();
    let (status, text) = raw(
        &s,
        format!(
            "PUT /v2/bad/big/manifests/t HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: {OCI_MANIFEST}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        ),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("SIZE_INVALID"), "{text}");
    // Streamed without a length: cut off at the limit. The server may close the
    // connection before the client has finished sending, which is also a refusal.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = body
        .as_bytes()
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let sent = s
        .req(Method::PUT, "/v2/bad/big/manifests/t")
        .header("content-type", OCI_MANIFEST)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(resp) = sent {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(error_code(resp).await, "SIZE_INVALID");
    }
    let resp = s.send(Method::GET, "/v2/bad/big/manifests/t").await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blob_size_limit_and_content_length() {
    let tmp = tempfile::tempdir().unwrap();
    let s =
        TestServer::start_with(&tmp.path().join("d"), &[("AIRLOCK_MAX_BLOB_BYTES", "1000")]).await;

    // A declared length above the limit is refused before reading.
    let body = vec![7u8; 2000];
    let digest = sha256(&body);
    let resp = s
        .req(
            Method::POST,
            &format!("/v2/bad/size/blobs/uploads/?digest={digest}"),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(resp).await, "SIZE_INVALID");

    // Chunks that together exceed the limit.
    let location = s.start_upload("bad/size").await;
    let resp = s
        .req(Method::PATCH, &location)
        .body(vec![1u8; 800])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let location = location_of(&resp);
    let resp = s
        .req(Method::PATCH, &location)
        .body(vec![1u8; 800])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The upload is still at 800 bytes: the refused chunk left nothing.
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.headers()["range"], "0-799");

    // A streamed body (no Content-Length) that grows past the limit.
    let stream = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![3u8; 100]))),
    );
    let resp = s
        .req(
            Method::POST,
            &format!(
                "/v2/bad/size/blobs/uploads/?digest={}",
                sha256(&[3u8; 2000])
            ),
        )
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Content-Length that is negative, huge, not a number, or doubled: raw requests.
    let auth = auth_header();
    for cl in ["-1", "18446744073709551616", "abc", "10, 20"] {
        let (status, text) = raw(
            &s,
            format!(
                "POST /v2/bad/size/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: {cl}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert_eq!(status, 400, "Content-Length {cl}: {text}");
    }
    // Huge but well-formed: refused by the limit without waiting for the body.
    let (status, text) = raw(
        &s,
        format!(
            "POST /v2/bad/size/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 999999999999999\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("SIZE_INVALID"), "{text}");

    assert_nothing_left(&s);
    let resp = s.send(Method::GET, "/v2/").await;
    assert_eq!(resp.status(), StatusCode::OK, "still serving");
}

#[tokio::test]
async fn path_traversal_and_invalid_names() {
    let s = TestServer::start().await;
    let auth = auth_header();
    for path in [
        "/v2/../../etc/passwd/tags/list",
        "/v2/a/../b/tags/list",
        "/v2/%2e%2e/%2e%2e/etc/tags/list",
        "/v2/..%2f..%2fetc/blobs/uploads/",
        "/v2/a/./b/tags/list",
        "/v2/UPPER/tags/list",
        "/v2/a//b/tags/list",
        "/v2/-a/tags/list",
        "/v2/a%00b/tags/list",
    ] {
        let (status, text) = raw(
            &s,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(status == 400 || status == 404, "{path}: {status} {text}");
        assert!(
            text.contains("NAME_INVALID")
                || text.contains("NAME_UNKNOWN")
                || text.contains("NOT_FOUND"),
            "{path}: {text}"
        );
        assert!(
            !text.contains("/etc/passwd") || !text.contains("root:"),
            "{path}"
        );
    }
    // Uploads into invalid names are refused before any session exists.
    let long = "a".repeat(256);
    // (Dot segments are covered by the raw requests above: HTTP clients resolve them.)
    for name in [long.as_str(), "a__b-", "A", "a%2F..%2F..%2Fb"] {
        let resp = s
            .req(
                Method::POST,
                &format!("/v2/{name}/blobs/uploads/?digest={}", sha256(b"x")),
            )
            .body("x")
            .send()
            .await
            .unwrap();
        assert!(
            resp.status() == StatusCode::BAD_REQUEST || resp.status() == StatusCode::NOT_FOUND,
            "{name}: {}",
            resp.status()
        );
    }
    assert_nothing_left(&s);
    assert!(files_under(&s.data_dir.join("storage/uploads")).is_empty());
}

#[tokio::test]
async fn hostile_query_and_headers() {
    let s = TestServer::start().await;
    s.push_image("bad/q", "v1", &[]).await;
    for q in ["n=-5", "n=1e3", "n=%ff", "last=%ff%fe"] {
        let resp = s
            .send(Method::GET, &format!("/v2/bad/q/tags/list?{q}"))
            .await;
        assert!(
            resp.status() == StatusCode::BAD_REQUEST || resp.status() == StatusCode::OK,
            "{q}: {}",
            resp.status()
        );
    }
    // A page size above the limit is clamped, not an allocation of the asked size.
    let resp = s
        .send(Method::GET, "/v2/bad/q/tags/list?n=4000000000")
        .await;
    assert!(resp.status() == StatusCode::OK || resp.status() == StatusCode::BAD_REQUEST);

    // Invalid Content-Range on PATCH.
    let location = s.start_upload("bad/q").await;
    for cr in ["abc", "5-2", "-1-3", "0-99999999999999999999999"] {
        let resp = s
            .req(Method::PATCH, &location)
            .header("content-range", cr)
            .body("abc")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{cr}");
    }
    let resp = s.send(Method::GET, &location).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    // Error bodies never leak internals (paths, SQL, panics).
    let resp = s
        .send(Method::GET, "/v2/bad/q/blobs/sha256:../../etc")
        .await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains(s.data_dir.to_str().unwrap()), "{text}");
    assert!(!text.to_lowercase().contains("sqlite"), "{text}");
}
