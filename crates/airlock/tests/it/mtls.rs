//! Client-certificate identities over HTTPS, driven with curl: a certificate signed
//! by the configured client CA acts as the user or service token its common name
//! names; unknown names get nothing, and other CAs' certificates fail the handshake.

use crate::harness::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    Ca {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

/// Writes `<dir>/<file>.pem` and `.key` for a certificate signed by `ca`.
fn issue(dir: &Path, file: &str, ca: &Ca, cn: &str, server: bool) -> (PathBuf, PathBuf) {
    let sans = if server {
        vec!["127.0.0.1".to_owned()]
    } else {
        Vec::new()
    };
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.extended_key_usages = vec![if server {
        ExtendedKeyUsagePurpose::ServerAuth
    } else {
        ExtendedKeyUsagePurpose::ClientAuth
    }];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    let (c, k) = (
        dir.join(format!("{file}.pem")),
        dir.join(format!("{file}.key")),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// curl's HTTP status for `path`, or its exit code when the request failed.
fn curl(
    base: &str,
    ca: &Path,
    client: Option<&(PathBuf, PathBuf)>,
    path: &str,
) -> Result<(u16, String), i32> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "10",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--cacert",
    ])
    .arg(ca);
    if let Some((cert, key)) = client {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let out = cmd
        .arg(format!("{base}{path}"))
        .output()
        .expect("curl is installed");
    if !out.status.success() {
        return Err(out.status.code().unwrap_or(-1));
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    Ok((code.trim().parse().unwrap(), body.to_owned()))
}

#[tokio::test]
async fn client_certificates_are_identities() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is needed for this test (scripts/test.sh installs it)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");

    // Set up identities over plain HTTP first.
    let mut s = TestServer::start_in(&data).await;
    s.push_image("team/app", "v1", &[b"layer"]).await;
    s.push_image("prod/app", "v1", &[b"layer"]).await;
    let api = |m: Method, p: &str, body: Value| s.req(m, &format!("/api/v1{p}")).json(&body).send();
    assert!(api(
        Method::POST,
        "/users",
        json!({"name": "alice", "password": "alice-password-1"})
    )
    .await
    .unwrap()
    .status()
    .is_success());
    assert!(api(
        Method::POST,
        "/bindings",
        json!({"principal": "user:alice", "pattern": "team/*", "role": "reader"})
    )
    .await
    .unwrap()
    .status()
    .is_success());
    assert!(api(
        Method::POST,
        "/tokens",
        json!({"name": "robot", "scopes": ["repository:prod/app:pull"]})
    )
    .await
    .unwrap()
    .status()
    .is_success());
    s.kill();

    let ours = ca("Airlock test client CA");
    let theirs = ca("Somebody else's CA");
    let server_ca = ca("Airlock test server CA");
    let (server_cert, server_key) = issue(dir, "server", &server_ca, "127.0.0.1", true);
    let ca_file = dir.join("client-ca.pem");
    std::fs::write(&ca_file, ours.cert.pem()).unwrap();
    let server_ca_file = dir.join("server-ca.pem");
    std::fs::write(&server_ca_file, server_ca.cert.pem()).unwrap();
    let alice = issue(dir, "alice", &ours, "alice", false);
    let robot = issue(dir, "robot", &ours, "robot", false);
    let mallory = issue(dir, "mallory", &ours, "mallory", false);
    let forged = issue(dir, "forged", &theirs, "alice", false);

    let s = TestServer::start_full(
        &data,
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            server_cert.to_str().unwrap(),
            "--tls-key",
            server_key.to_str().unwrap(),
            "--tls-client-ca",
            ca_file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let base = s.base.clone();
    let get = move |client: Option<&(PathBuf, PathBuf)>, path: &str| {
        curl(&base, &server_ca_file, client, path)
    };

    // No certificate: the usual challenge.
    assert_eq!(get(None, "/v2/").unwrap().0, 401);
    // alice's certificate acts as alice, with exactly her rights.
    assert_eq!(
        get(Some(&alice), "/v2/team/app/manifests/v1").unwrap().0,
        200
    );
    assert_eq!(
        get(Some(&alice), "/v2/prod/app/manifests/v1").unwrap().0,
        403
    );
    let (code, body) = get(Some(&alice), "/v2/_catalog").unwrap();
    assert_eq!((code, body.contains("prod")), (200, false), "{body}");
    // A service token's certificate acts as the token.
    assert_eq!(
        get(Some(&robot), "/v2/prod/app/manifests/v1").unwrap().0,
        200
    );
    assert_eq!(
        get(Some(&robot), "/v2/team/app/manifests/v1").unwrap().0,
        403
    );
    // ...through the token flow too.
    let (code, body) = get(
        Some(&robot),
        "/token?service=airlock&scope=repository:prod/app:pull,push",
    )
    .unwrap();
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["scope"], "repository:prod/app:pull");
    // A name nobody has gets nothing.
    assert_eq!(get(Some(&mallory), "/v2/").unwrap().0, 401);
    // A certificate from another CA does not get through the handshake.
    assert!(
        get(Some(&forged), "/v2/").is_err(),
        "a foreign CA's certificate was accepted"
    );
}
