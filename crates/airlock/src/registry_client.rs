//! A small OCI Distribution client for the CLI: `airlock scan docker://…` pulls
//! manifests and streams layers through the scanner, `airlock vulndb push|pull` moves
//! advisory snapshots as OCI artifacts. Speaks Basic and Docker token auth (the
//! `WWW-Authenticate` challenge decides), takes credentials from `--creds`, or from the
//! auth files `docker login`, `podman login` and `skopeo login` write. Blobs are
//! verified against their digest as they stream; nothing is buffered whole.

use anyhow::{bail, Context};
use base64::Engine;
use futures_util::TryStreamExt;
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use std::io::Read;
use std::path::PathBuf;

/// Manifest media types asked for.
pub const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";
/// Largest manifest accepted (the registry's own limit).
const MAX_MANIFEST: usize = 4 << 20;

/// `HOST[:PORT]/REPO[:TAG|@DIGEST]`, as after `docker://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub host: String,
    pub repository: String,
    /// A tag or a digest.
    pub reference: String,
}

impl ImageRef {
    pub fn parse(s: &str) -> anyhow::Result<ImageRef> {
        let s = s.strip_prefix("docker://").unwrap_or(s);
        let (host, rest) = s.split_once('/').with_context(|| {
            format!("{s:?}: give HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST")
        })?;
        let (repository, reference) = if let Some((r, d)) = rest.split_once('@') {
            (r, d.to_owned())
        } else {
            match rest.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => (r, t.to_owned()),
                _ => (rest, "latest".to_owned()),
            }
        };
        airlock_oci::RepositoryName::parse(repository)
            .map_err(|e| anyhow::anyhow!("{repository:?}: {e}"))?;
        if host.is_empty() || reference.is_empty() {
            bail!("{s:?}: give HOST/REPOSITORY:TAG or HOST/REPOSITORY@DIGEST");
        }
        Ok(ImageRef {
            host: host.to_owned(),
            repository: repository.to_owned(),
            reference,
        })
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "{}/{}{sep}{}",
            self.host, self.repository, self.reference
        )
    }
}

/// How to reach a registry.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RemoteArgs {
    /// USER:PASSWORD for docker:// registries (default: the auth files of `docker
    /// login`, `podman login` or `skopeo login`).
    #[arg(long, env = "AIRLOCK_REGISTRY_CREDS", hide_env_values = true)]
    pub creds: Option<String>,
    /// Talk plain HTTP to docker:// registries (a local registry without TLS).
    #[arg(long)]
    pub plain_http: bool,
}

/// A connection to one repository of one registry.
pub struct Remote {
    http: reqwest::Client,
    base: String,
    repository: String,
    creds: Option<(String, String)>,
    scope: String,
    authorization: Option<String>,
}

impl Remote {
    pub fn new(image: &ImageRef, args: &RemoteArgs, push: bool) -> anyhow::Result<Remote> {
        let creds = match &args.creds {
            Some(c) => {
                let (u, p) = c.split_once(':').context("--creds takes USER:PASSWORD")?;
                Some((u.to_owned(), p.to_owned()))
            }
            None => stored_credentials(&image.host),
        };
        let scheme = if args.plain_http { "http" } else { "https" };
        Ok(Remote {
            http: reqwest::Client::builder()
                .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
                .build()?,
            base: format!("{scheme}://{}", image.host),
            repository: image.repository.clone(),
            creds,
            scope: format!(
                "repository:{}:{}",
                image.repository,
                if push { "pull,push" } else { "pull" }
            ),
            authorization: None,
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}/v2/{}/{path}", self.base, self.repository)
        }
    }

    /// Sends a request, answering one authentication challenge if the registry
    /// makes one. `body` is rebuilt for the retry.
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<&dyn Fn() -> reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        let url = self.url(path);
        for attempt in 0..2 {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .headers(headers.clone());
            if let Some(a) = &self.authorization {
                req = req.header(AUTHORIZATION, a);
            }
            if let Some(b) = body {
                req = req.body(b());
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("{method} {url}"))?;
            if resp.status() != StatusCode::UNAUTHORIZED || attempt == 1 {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            self.authorization = Some(self.answer(&challenge).await?);
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// The `Authorization` value answering a challenge.
    async fn answer(&self, challenge: &str) -> anyhow::Result<String> {
        let basic = self.creds.as_ref().map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if kind.eq_ignore_ascii_case("basic") {
            return basic.context(
                "the registry needs credentials (--creds USER:PASSWORD, or log in with docker, \
                 podman or skopeo)",
            );
        }
        if !kind.eq_ignore_ascii_case("bearer") {
            bail!("the registry asks for unsupported authentication {kind:?}");
        }
        let params = challenge_params(params);
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .context("token challenge without a realm")?;
        let mut query: Vec<(&str, String)> = vec![("scope", self.scope.clone())];
        if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
            query.push(("service", s.clone()));
        }
        let mut req = self.http.get(&realm).query(&query);
        if let Some(b) = &basic {
            req = req.header(AUTHORIZATION, b);
        }
        let resp = req.send().await.with_context(|| format!("GET {realm}"))?;
        if !resp.status().is_success() {
            bail!(
                "the token service refused ({}){}",
                resp.status(),
                if basic.is_none() {
                    ": the registry needs credentials (--creds USER:PASSWORD, or log in with \
                     docker, podman or skopeo)"
                } else {
                    ""
                }
            );
        }
        let v: serde_json::Value = resp.json().await.context("token service answer")?;
        let token = v["token"]
            .as_str()
            .or_else(|| v["access_token"].as_str())
            .context("the token service answered no token")?;
        Ok(format!("Bearer {token}"))
    }

    /// A manifest by tag or digest: (digest, media type, bytes), digest-checked.
    pub async fn manifest(&mut self, reference: &str) -> anyhow::Result<(String, String, Vec<u8>)> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, MANIFEST_TYPES.parse()?);
        let resp = self
            .send(Method::GET, &format!("manifests/{reference}"), h, None)
            .await?;
        let resp = ok(resp, &format!("manifest {reference}")).await?;
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if resp.content_length().unwrap_or(0) > MAX_MANIFEST as u64 {
            bail!("manifest {reference} is larger than 4 MiB");
        }
        let bytes = resp.bytes().await?;
        if bytes.len() > MAX_MANIFEST {
            bail!("manifest {reference} is larger than 4 MiB");
        }
        let digest = airlock_oci::Digest::sha256_of(&bytes).to_string();
        if reference.contains(':') && reference != digest {
            bail!("manifest {reference} hashes to {digest}");
        }
        Ok((digest, media_type, bytes.to_vec()))
    }

    /// A blob as a byte stream (redirects to storage followed).
    pub async fn blob_stream(
        &mut self,
        digest: &str,
    ) -> anyhow::Result<impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>>> {
        let resp = self
            .send(
                Method::GET,
                &format!("blobs/{digest}"),
                HeaderMap::new(),
                None,
            )
            .await?;
        let resp = ok(resp, &format!("blob {digest}")).await?;
        Ok(resp.bytes_stream().map_err(std::io::Error::other))
    }

    /// Uploads a blob in one request (`POST` then `PUT ?digest=`), unless present.
    pub async fn push_blob(&mut self, digest: &str, bytes: bytes::Bytes) -> anyhow::Result<()> {
        let head = self
            .send(
                Method::HEAD,
                &format!("blobs/{digest}"),
                HeaderMap::new(),
                None,
            )
            .await?;
        if head.status().is_success() {
            return Ok(());
        }
        let resp = self
            .send(Method::POST, "blobs/uploads/", HeaderMap::new(), None)
            .await?;
        let resp = ok(resp, "starting an upload").await?;
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("upload started without a Location")?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_owned()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, "application/octet-stream".parse()?);
        let body = move || reqwest::Body::from(bytes.clone());
        let resp = self
            .send(
                Method::PUT,
                &format!("{location}{sep}digest={digest}"),
                h,
                Some(&body),
            )
            .await?;
        ok(resp, &format!("uploading {digest}")).await?;
        Ok(())
    }

    /// Stores a manifest under a tag or its digest.
    pub async fn push_manifest(
        &mut self,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, media_type.parse()?);
        let body = move || reqwest::Body::from(bytes.clone());
        let resp = self
            .send(
                Method::PUT,
                &format!("manifests/{reference}"),
                h,
                Some(&body),
            )
            .await?;
        ok(resp, &format!("storing manifest {reference}")).await?;
        Ok(())
    }
}

/// The response if it succeeded; otherwise the registry's error, readably.
async fn ok(resp: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let e = &v["errors"][0];
            Some(format!(
                "{}: {}",
                e["code"].as_str()?,
                e["message"].as_str().unwrap_or("")
            ))
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    bail!("{what}: {status} {message}")
}

/// `key="value", key=value` pairs of a challenge.
fn challenge_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (v, after) = if let Some(q) = after.strip_prefix('"') {
            match q.split_once('"') {
                Some((v, a)) => (v.to_owned(), a),
                None => (q.to_owned(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, a)) => (v.trim().to_owned(), a),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.push((k, v));
        rest = after.trim_start_matches(',').trim();
    }
    out
}

/// Credentials `docker login`, `podman login` or `skopeo login` stored for `host`.
fn stored_credentials(host: &str) -> Option<(String, String)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(f.into());
    }
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(d).join("containers/auth.json"));
    }
    if let Some(h) = &home {
        files.push(h.join(".config/containers/auth.json"));
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => files.push(PathBuf::from(d).join("config.json")),
        None => {
            if let Some(h) = &home {
                files.push(h.join(".docker/config.json"));
            }
        }
    }
    files.iter().find_map(|f| {
        let mut text = String::new();
        std::fs::File::open(f)
            .ok()?
            .take(1 << 20)
            .read_to_string(&mut text)
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let auth = v["auths"][host]["auth"].as_str()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = ImageRef::parse("docker://127.0.0.1:5000/team/app:v1").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repository.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "team/app", "v1")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("reg.example/app@{d}")).unwrap();
        assert_eq!(r.reference, d);
        assert_eq!(r.to_string(), format!("reg.example/app@{d}"));
        assert_eq!(ImageRef::parse("reg:443/app").unwrap().reference, "latest");
        assert!(ImageRef::parse("docker://noslash").is_err());
        assert!(ImageRef::parse("reg/../etc:v1").is_err());
    }

    #[test]
    fn hostile_challenges_and_references_never_panic() {
        // What a registry sends back is not trusted: any bytes give some answer.
        let samples = [
            "",
            "=",
            "\"",
            "realm=\"",
            ",,,,",
            "realm",
            "a=\"b\",=c,,d=\"",
            "é=ü,\u{0}=\u{0}",
        ];
        for s in samples {
            let _ = challenge_params(s);
            let _ = ImageRef::parse(s);
        }
        let long = "k=\"v\",".repeat(10_000);
        assert_eq!(challenge_params(&long).len(), 10_000);
    }

    #[test]
    fn challenges() {
        let p = challenge_params(
            r#"realm="https://r.example/token",service="r.example",scope="repository:a:pull,push""#,
        );
        assert_eq!(p[0], ("realm".into(), "https://r.example/token".into()));
        assert_eq!(p[1], ("service".into(), "r.example".into()));
        assert_eq!(p[2], ("scope".into(), "repository:a:pull,push".into()));
        assert_eq!(
            challenge_params("realm=x, service=y"),
            vec![("realm".into(), "x".into()), ("service".into(), "y".into())]
        );
    }
}
