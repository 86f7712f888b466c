//! Service tokens end to end: created with the CLI against the running server,
//! limited to their scopes on every door (Basic, Bearer via /token), and revocation,
//! disabling, rotation and expiry take effect within a second.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::process::Command;
use std::time::Duration;

fn airlock_cli(s: &TestServer, args: &[&str]) -> (bool, String) {
    let out = Command::new(airlock_bin())
        .args(args)
        .env("AIRLOCK_SERVER", &s.base)
        .env("AIRLOCK_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn create(s: &TestServer, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", name];
    args.extend_from_slice(extra);
    let (ok, out) = airlock_cli(s, &args);
    assert!(ok, "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("password printed")
        .trim()
        .to_owned()
}

async fn status_as(s: &TestServer, user: &str, pw: &str, method: Method, path: &str) -> StatusCode {
    s.client
        .request(method, s.url(path))
        .basic_auth(user, Some(pw))
        .send()
        .await
        .unwrap()
        .status()
}

async fn push_blob_as(s: &TestServer, user: &str, pw: &str, repo: &str) -> StatusCode {
    s.client
        .post(s.url(&format!(
            "/v2/{repo}/blobs/uploads/?digest={}",
            sha256(b"ci blob")
        )))
        .basic_auth(user, Some(pw))
        .body("ci blob")
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn scoped_tokens_and_revocation() {
    let s = TestServer::start().await;
    s.push_image("ci/app", "v1", &[b"ci layer"]).await;
    s.push_image("prod/app", "v1", &[b"prod layer"]).await;
    let ci = create(
        &s,
        "ci",
        &["--scope", "repository:ci/*:pull,push", "--expires", "30d"],
    );
    let puller = create(&s, "puller", &["--scope", "repository:ci/app:pull"]);

    // Scopes hold over Basic.
    assert_eq!(
        push_blob_as(&s, "ci", &ci, "ci/app").await,
        StatusCode::CREATED
    );
    assert_eq!(
        push_blob_as(&s, "ci", &ci, "prod/app").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&s, "ci", &ci, Method::GET, "/v2/prod/app/manifests/v1").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&s, "ci", &ci, Method::DELETE, "/v2/ci/app/manifests/v1").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(
            &s,
            "puller",
            &puller,
            Method::GET,
            "/v2/ci/app/manifests/v1"
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        push_blob_as(&s, "puller", &puller, "ci/app").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&s, "puller", "wrong", Method::GET, "/v2/").await,
        StatusCode::UNAUTHORIZED
    );
    // A token is no administrator.
    assert_eq!(
        status_as(&s, "ci", &ci, Method::GET, "/api/v1/tokens").await,
        StatusCode::FORBIDDEN
    );

    // And over the token flow: /token grants only the intersection.
    let resp = s
        .client
        .get(s.url("/token?service=airlock&scope=repository:ci/app:pull,push,delete&scope=repository:prod/app:pull,push"))
        .basic_auth("ci", Some(&ci))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["scope"], "repository:ci/app:pull,push", "{v}");
    let jwt = v["token"].as_str().unwrap().to_owned();
    let bearer = |m: Method, p: &str| s.anon(m, p).bearer_auth(&jwt);
    assert_eq!(
        bearer(Method::GET, "/v2/ci/app/manifests/v1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        bearer(Method::GET, "/v2/prod/app/manifests/v1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );

    // Rotation: slot 2 works beside slot 1.
    let (ok, out) = airlock_cli(&s, &["token", "rotate", "ci", "--slot", "2"]);
    assert!(ok, "{out}");
    let ci2 = out.rsplit(": ").next().unwrap().trim().to_owned();
    assert_eq!(
        status_as(&s, "ci", &ci2, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::OK
    );
    assert_eq!(
        status_as(&s, "ci", &ci, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::OK
    );

    // Disabling stops both passwords and the issued JWT within a second.
    let (ok, out) = airlock_cli(&s, &["token", "disable", "ci"]);
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status_as(&s, "ci", &ci2, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status_as(&s, "ci", &ci, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer(Method::GET, "/v2/ci/app/manifests/v1")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let (ok, _) = airlock_cli(&s, &["token", "enable", "ci"]);
    assert!(ok);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status_as(&s, "ci", &ci, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::OK
    );

    // Deletion: at once.
    let (ok, out) = airlock_cli(&s, &["token", "delete", "puller"]);
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status_as(
            &s,
            "puller",
            &puller,
            Method::GET,
            "/v2/ci/app/manifests/v1"
        )
        .await,
        StatusCode::UNAUTHORIZED
    );

    // Expiry.
    let short = create(
        &s,
        "short",
        // Long enough to be used once even on a loaded machine.
        &["--scope", "repository:ci/app:pull", "--expires", "4s"],
    );
    assert_eq!(
        status_as(&s, "short", &short, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(4600)).await;
    assert_eq!(
        status_as(&s, "short", &short, Method::GET, "/v2/ci/app/manifests/v1").await,
        StatusCode::UNAUTHORIZED
    );

    // Listing shows no secrets; bad input is refused with a readable message.
    let (ok, out) = airlock_cli(&s, &["token", "list"]);
    assert!(
        ok && out.contains("ci") && !out.contains(&ci) && !out.contains("argon2"),
        "{out}"
    );
    for args in [
        vec!["token", "create", "admin", "--scope", "repository:x:pull"],
        vec!["token", "create", "ci", "--scope", "repository:x:pull"],
        vec!["token", "create", "x", "--scope", "repository:../x:pull"],
        vec![
            "token",
            "create",
            "Bad Name",
            "--scope",
            "repository:x:pull",
        ],
        vec!["token", "delete", "nobody"],
    ] {
        let (ok, out) = airlock_cli(&s, &args);
        assert!(!ok, "{args:?}: {out}");
        assert!(out.starts_with("error: "), "{args:?}: {out}");
    }
}
