//! Starting servers and speaking the distribution API to them.

use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "test-password-1";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub fn airlock_bin() -> &'static str {
    env!("CARGO_BIN_EXE_airlock")
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A running `airlock serve` with its own data directory.
pub struct TestServer {
    pub base: String,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    child: Child,
    pub client: reqwest::Client,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut s = Self::start_in(&data_dir).await;
        s._tmp = Some(tmp);
        s
    }

    /// Starts a server on an existing (or new) data directory.
    pub async fn start_in(data_dir: &Path) -> TestServer {
        Self::start_with(data_dir, &[]).await
    }

    pub async fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> TestServer {
        Self::start_full(data_dir, &["--listen", "127.0.0.1:0"], env).await
    }

    /// Starts a server with a new data directory and this configuration file; the
    /// directory lives as long as the returned guard.
    pub async fn start_with_config(config: &str) -> (TestServer, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("airlock.toml");
        std::fs::write(&file, config).unwrap();
        let s = Self::start_full(
            &tmp.path().join("data"),
            &[
                "--listen",
                "127.0.0.1:0",
                "--config",
                file.to_str().unwrap(),
            ],
            &[],
        )
        .await;
        (s, tmp)
    }

    /// Starts `airlock serve <args> --data-dir <dir>` with extra environment.
    pub async fn start_full(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> TestServer {
        let mut cmd = Command::new(airlock_bin());
        cmd.arg("serve")
            .args(args)
            .arg("--data-dir")
            .arg(data_dir)
            .env("AIRLOCK_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting airlock");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.strip_prefix("airlock listening on ") {
                        let url = rest.split_whitespace().next().unwrap().to_owned();
                        tx.send(url).ok();
                        sent = true;
                    }
                }
                // Keep draining so the server never blocks on a full pipe.
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not report its address");
        TestServer {
            base,
            data_dir: data_dir.to_owned(),
            _tmp: None,
            child,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(8)
                .build()
                .unwrap(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    /// A request with the admin's credentials.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .basic_auth("admin", Some(PASSWORD))
    }

    /// Sends a request with the admin's credentials and no body.
    pub async fn send(&self, method: Method, path: &str) -> reqwest::Response {
        self.req(method, path).send().await.unwrap()
    }

    /// Opens an upload session in `repo`; returns its location.
    pub async fn start_upload(&self, repo: &str) -> String {
        let resp = self
            .send(Method::POST, &format!("/v2/{repo}/blobs/uploads/"))
            .await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        location_of(&resp)
    }

    /// A request without credentials.
    pub fn anon(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Monolithic upload (`POST ?digest=`); returns the digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let resp = self
            .req(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            )
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        digest
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &str,
    ) -> reqwest::Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a config and `layers` blobs and an image manifest under `tag`; returns
    /// the manifest body and digest.
    pub async fn push_image(&self, repo: &str, tag: &str, layers: &[&[u8]]) -> (String, String) {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","layers":{}}}"#,
            layers.len()
        );
        let config_digest = self.push_blob(repo, config.as_bytes()).await;
        let mut descs = Vec::new();
        for layer in layers {
            let d = self.push_blob(repo, layer).await;
            descs.push(format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{d}","size":{}}}"#,
                layer.len()
            ));
        }
        let manifest = image_manifest(&config_digest, config.len(), &descs.join(","), "");
        let resp = self.put_manifest(repo, tag, OCI_MANIFEST, &manifest).await;
        assert_eq!(
            resp.status(),
            StatusCode::CREATED,
            "{}",
            resp.text().await.unwrap()
        );
        let digest = sha256(manifest.as_bytes());
        (manifest, digest)
    }

    /// Runs `airlock <args> --data-dir <this server's dir>` and returns (exit ok, stdout).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        run_cli(&self.data_dir, args)
    }
}

pub fn run_cli(data_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(airlock_bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An OCI image manifest; `layers` is the inside of the JSON array.
pub fn image_manifest(
    config_digest: &str,
    config_size: usize,
    layers: &str,
    extra: &str,
) -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{layers}]{extra}}}"#
    )
}

/// The `Location` header of a response.
pub fn location_of(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_owned()
}

/// An upload location with the closing `digest` parameter added.
pub fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// The OCI error code of a response body.
pub async fn error_code(resp: reqwest::Response) -> String {
    let v: serde_json::Value = resp.json().await.expect("an OCI error body");
    v["errors"][0]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A token from `GET /token` for the admin with `scopes`.
pub async fn token(s: &TestServer, scopes: &[&str]) -> String {
    token_as(s, ("admin", PASSWORD), scopes).await
}

/// A token from `GET /token` for `who` (user, password) with `scopes`.
pub async fn token_as(s: &TestServer, who: (&str, &str), scopes: &[&str]) -> String {
    let mut q: Vec<(&str, &str)> = vec![("service", "airlock")];
    q.extend(scopes.iter().map(|sc| ("scope", *sc)));
    let resp = s
        .client
        .get(s.url("/token"))
        .basic_auth(who.0, Some(who.1))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["token"], v["access_token"]);
    assert_eq!(v["expires_in"], 300);
    let issued = v["issued_at"].as_str().unwrap();
    assert!(
        issued.len() >= 20 && issued.ends_with('Z') && issued.as_bytes()[10] == b'T',
        "{issued}"
    );
    v["token"].as_str().unwrap().to_owned()
}

/// A request with a Bearer token.
pub fn bearer(s: &TestServer, method: Method, path: &str, jwt: &str) -> reqwest::RequestBuilder {
    s.anon(method, path).bearer_auth(jwt)
}

/// Creates a user through the admin API and binds `role` on `pattern` to it.
pub async fn user_with_role(s: &TestServer, name: &str, password: &str, pattern: &str, role: &str) {
    let resp = s
        .req(Method::POST, "/api/v1/users")
        .json(&serde_json::json!({ "name": name, "password": password }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let resp = s
        .req(Method::POST, "/api/v1/bindings")
        .json(&serde_json::json!({ "principal": format!("user:{name}"), "pattern": pattern, "role": role }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
}

/// Runs the CLI against the server as admin, with `stdin` fed in.
pub fn cli_as_admin(s: &TestServer, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(airlock_bin())
        .args(args)
        .env("AIRLOCK_SERVER", &s.base)
        .env("AIRLOCK_PASSWORD", PASSWORD)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
