//! Image configuration checks — build hygiene rather than known vulnerabilities:
//! an image that runs as root, carries secrets in its environment, ships setuid,
//! setgid or world-writable files, or has no health check. Each check has a stable
//! id (`AL-CFG-…`) and a severity, so policy can refuse, say, root images the way it
//! refuses critical findings.
//!
//! The checks read the image configuration JSON (OCI or Docker: `config.User`,
//! `config.Env`, `config.Healthcheck`) and the modes the layer walk recorded in
//! [`Filesystem::special`]. They do not read `/etc/passwd`: a user named other than
//! `root` is taken to be unprivileged. Secret values are never copied into a report,
//! only the variable names.

use crate::layers::Filesystem;
use crate::severity::Severity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One configuration problem of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Misconfiguration {
    /// Stable id, e.g. `AL-CFG-001`.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub detail: String,
    /// The files concerned (at most [`MAX_PATHS_SHOWN`]; `detail` gives the total).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// The checks, with their ids, titles and severities.
pub const ROOT_USER: (&str, &str, Severity) = ("AL-CFG-001", "Image runs as root", Severity::High);
pub const SECRET_ENV: (&str, &str, Severity) = (
    "AL-CFG-002",
    "Secret-looking environment variable",
    Severity::High,
);
pub const CREDENTIAL_ENV: (&str, &str, Severity) = (
    "AL-CFG-003",
    "Well-known credential in the environment",
    Severity::Critical,
);
pub const SETUID_FILES: (&str, &str, Severity) =
    ("AL-CFG-004", "setuid or setgid files", Severity::Medium);
pub const WORLD_WRITABLE: (&str, &str, Severity) = (
    "AL-CFG-005",
    "World-writable files or directories",
    Severity::Medium,
);
pub const NO_HEALTHCHECK: (&str, &str, Severity) = ("AL-CFG-006", "No HEALTHCHECK", Severity::Low);

/// Every check, for rule listings (SARIF) and documentation.
pub const CHECKS: [(&str, &str, Severity); 6] = [
    ROOT_USER,
    SECRET_ENV,
    CREDENTIAL_ENV,
    SETUID_FILES,
    WORLD_WRITABLE,
    NO_HEALTHCHECK,
];

/// Most paths listed in one misconfiguration.
pub const MAX_PATHS_SHOWN: usize = 50;

fn found(
    (id, title, severity): (&str, &str, Severity),
    detail: String,
    paths: Vec<String>,
) -> Misconfiguration {
    Misconfiguration {
        id: id.to_owned(),
        title: title.to_owned(),
        severity,
        detail,
        paths,
    }
}

/// Every check over one image: its configuration JSON (`None` when there is none,
/// e.g. a directory scan — then only the file checks run) and its files.
pub fn check(config: Option<&Value>, fs: &Filesystem) -> Vec<Misconfiguration> {
    let mut out = Vec::new();
    if let Some(config) = config {
        // The runtime settings: `config` of an OCI or Docker image configuration.
        let runtime = config.get("config").unwrap_or(&Value::Null);
        out.extend(check_user(runtime));
        out.extend(check_env(runtime));
        out.extend(check_healthcheck(runtime));
    }
    out.extend(check_modes(fs));
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    out
}

/// Whether a `USER` value means uid 0: empty (the default), `root` or `0`, with
/// any group.
pub fn is_root_user(user: &str) -> bool {
    let user = user.trim();
    let name = user.split(':').next().unwrap_or("").trim();
    name.is_empty() || name == "root" || (name.bytes().all(|b| b == b'0'))
}

fn check_user(runtime: &Value) -> Option<Misconfiguration> {
    let user = runtime.get("User").and_then(Value::as_str).unwrap_or("");
    is_root_user(user).then(|| {
        let detail = if user.trim().is_empty() {
            "the image sets no USER, so its processes run as root (uid 0)".to_owned()
        } else {
            format!("USER {:?} is root (uid 0)", user.trim())
        };
        found(ROOT_USER, detail, Vec::new())
    })
}

/// Names that are credentials wherever they appear.
const KNOWN_CREDENTIALS: [&str; 12] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "NPM_TOKEN",
    "NODE_AUTH_TOKEN",
    "PYPI_TOKEN",
    "DOCKER_PASSWORD",
    "SLACK_TOKEN",
    "CARGO_REGISTRY_TOKEN",
];

/// Parts of a name that suggest a secret.
const SECRET_WORDS: [&str; 11] = [
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
    "AUTH_KEY",
];

/// Suffixes of names that point at a secret rather than hold one
/// (`POSTGRES_PASSWORD_FILE=/run/secrets/db` is the recommended practice).
const POINTER_SUFFIXES: [&str; 4] = ["_FILE", "_PATH", "_DIR", "_ENV"];

/// Whether an environment variable of this name holds a secret, and whether it is
/// a well-known credential.
fn secret_kind(name: &str) -> Option<bool> {
    let upper = name.to_ascii_uppercase();
    if KNOWN_CREDENTIALS.contains(&upper.as_str()) {
        return Some(true);
    }
    if POINTER_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
        return None;
    }
    SECRET_WORDS
        .iter()
        .any(|w| upper.contains(w))
        .then_some(false)
}

fn check_env(runtime: &Value) -> Vec<Misconfiguration> {
    let mut known = Vec::new();
    let mut other = Vec::new();
    let vars = runtime.get("Env").and_then(Value::as_array);
    for var in vars.into_iter().flatten().filter_map(Value::as_str) {
        let Some((name, value)) = var.split_once('=') else {
            continue;
        };
        if value.trim().is_empty() || name.len() > 256 {
            continue;
        }
        match secret_kind(name) {
            Some(true) => known.push(name.to_owned()),
            Some(false) => other.push(name.to_owned()),
            None => {}
        }
    }
    let mut out = Vec::new();
    for (check, mut names) in [(CREDENTIAL_ENV, known), (SECRET_ENV, other)] {
        names.sort();
        names.dedup();
        if names.is_empty() {
            continue;
        }
        let total = names.len();
        names.truncate(MAX_PATHS_SHOWN);
        out.push(found(
            check,
            format!(
                "{total} environment variable(s) with a value baked into the image configuration, where anyone who can pull the image reads it: {} (values not shown; pass secrets at run time or mount them)",
                names.join(", ")
            ),
            Vec::new(),
        ));
    }
    out
}

fn check_healthcheck(runtime: &Value) -> Option<Misconfiguration> {
    let test = runtime
        .get("Healthcheck")
        .and_then(|h| h.get("Test"))
        .and_then(Value::as_array);
    // `["NONE"]` disables a health check inherited from the base image.
    let enabled =
        test.is_some_and(|t| !t.is_empty() && t.first().and_then(Value::as_str) != Some("NONE"));
    (!enabled).then(|| {
        found(
            NO_HEALTHCHECK,
            "the image defines no HEALTHCHECK, so a runtime cannot tell a hung container from a healthy one".to_owned(),
            Vec::new(),
        )
    })
}

fn check_modes(fs: &Filesystem) -> Vec<Misconfiguration> {
    let mut setid = Vec::new();
    let mut writable = Vec::new();
    for (path, s) in &fs.special {
        if s.is_dir {
            writable.push(format!("/{path}/"));
            continue;
        }
        if s.mode & 0o6000 != 0 {
            setid.push(format!("/{path}"));
        }
        if s.mode & 0o002 != 0 {
            writable.push(format!("/{path}"));
        }
    }
    let at_least = if fs.special_truncated {
        "at least "
    } else {
        ""
    };
    let mut out = Vec::new();
    for (check, mut paths, what) in [
        (
            SETUID_FILES,
            setid,
            "setuid or setgid file(s), which run with their owner's or group's privileges",
        ),
        (
            WORLD_WRITABLE,
            writable,
            "world-writable path(s) (directories: without the sticky bit), which any user in the container can change",
        ),
    ] {
        if paths.is_empty() {
            continue;
        }
        let total = paths.len();
        paths.truncate(MAX_PATHS_SHOWN);
        let shown = if total > paths.len() {
            format!(" ({} shown)", paths.len())
        } else {
            String::new()
        };
        out.push(found(
            check,
            format!("{at_least}{total} {what}{shown}"),
            paths,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::tests::tar_layer;
    use crate::layers::{Limits, MAX_SPECIAL};
    use serde_json::json;

    fn ids(m: &[Misconfiguration]) -> Vec<&str> {
        m.iter().map(|m| m.id.as_str()).collect()
    }

    fn image(runtime: Value) -> Value {
        json!({"architecture": "amd64", "os": "linux", "config": runtime})
    }

    #[test]
    fn root_users() {
        for root in ["", " ", "root", "0", "0:0", "root:root", "root:1000", "000"] {
            assert!(is_root_user(root), "{root:?}");
        }
        for user in ["1000", "app", "app:app", "1000:0", "nobody", "10"] {
            assert!(!is_root_user(user), "{user:?}");
        }
        let fs = Filesystem::default();
        let hc = json!({"Test": ["CMD", "true"]});
        let m = check(Some(&image(json!({"Healthcheck": hc}))), &fs);
        assert_eq!(ids(&m), vec!["AL-CFG-001"]);
        assert_eq!(m[0].severity, Severity::High);
        let m = check(Some(&image(json!({"User": "0:0", "Healthcheck": hc}))), &fs);
        assert!(m[0].detail.contains("\"0:0\""), "{}", m[0].detail);
        let m = check(Some(&image(json!({"User": "app", "Healthcheck": hc}))), &fs);
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn secrets_in_the_environment_never_show_values() {
        let env = json!([
            "PATH=/usr/local/bin:/usr/bin",
            "DB_PASSWORD=hunter2",
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI",
            "POSTGRES_PASSWORD_FILE=/run/secrets/pg",
            "API_TOKEN=",
            "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
            "django_secret_key=abc",
            "NOEQUALS",
        ]);
        let m = check(
            Some(&image(
                json!({"User": "app", "Env": env, "Healthcheck": {"Test": ["CMD", "x"]}}),
            )),
            &Filesystem::default(),
        );
        assert_eq!(ids(&m), vec!["AL-CFG-003", "AL-CFG-002"]);
        assert_eq!(m[0].severity, Severity::Critical);
        assert!(m[0].detail.contains("AWS_SECRET_ACCESS_KEY"));
        assert!(
            m[1].detail.contains("DB_PASSWORD, django_secret_key"),
            "{}",
            m[1].detail
        );
        let text = serde_json::to_string(&m).unwrap();
        for value in [
            "hunter2",
            "wJalrXUtnFEMI",
            "abc\"",
            "GPG_KEY",
            "PASSWORD_FILE",
            "API_TOKEN",
        ] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
    }

    #[test]
    fn healthchecks() {
        let fs = Filesystem::default();
        let with = |hc: Value| check(Some(&image(json!({"User": "1", "Healthcheck": hc}))), &fs);
        assert_eq!(ids(&with(json!({"Test": ["NONE"]}))), vec!["AL-CFG-006"]);
        assert_eq!(ids(&with(json!(null))), vec!["AL-CFG-006"]);
        assert!(with(json!({"Test": ["CMD-SHELL", "curl -f localhost"]})).is_empty());
        // No configuration at all: only the file checks run.
        assert!(check(None, &fs).is_empty());
        // A configuration that is not an object is no crash.
        assert_eq!(
            ids(&check(Some(&json!([1, 2])), &fs)),
            vec!["AL-CFG-001", "AL-CFG-006"]
        );
    }

    /// A tar layer of (path, mode, kind) entries.
    fn layer(entries: &[(&str, u32, tar::EntryType)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, mode, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(0);
            h.set_mode(*mode);
            if kind.is_symlink() {
                h.set_link_name("target").unwrap();
            }
            b.append_data(&mut h, path, &[][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn file_modes_follow_whiteouts_and_later_entries() {
        use tar::EntryType::{Directory, Regular, Symlink};
        let l1 = layer(&[
            ("usr/bin/passwd", 0o4755, Regular),
            ("usr/bin/wall", 0o2755, Regular),
            ("usr/bin/ping", 0o4755, Regular),
            ("opt/app/", 0o755, Directory),
            ("opt/app/setuid-helper", 0o4755, Regular),
            ("srv/data/", 0o777, Directory),
            ("tmp/", 0o1777, Directory),
            ("etc/shadow-ish", 0o666, Regular),
            ("usr/bin/link", 0o777, Symlink),
            ("usr/bin/plain", 0o755, Regular),
        ]);
        let l2 = layer(&[
            // chmod u-s in a later layer
            ("usr/bin/ping", 0o755, Regular),
            // deleted
            ("usr/bin/.wh.wall", 0o644, Regular),
            // opaque directory hides what was below
            ("opt/app/.wh..wh..opq", 0o644, Regular),
            // made setuid later
            ("usr/bin/plain", 0o4755, Regular),
        ]);
        let limits = Limits::default();
        let mut fs = Filesystem::default();
        fs.apply_layer("sha256:1", &l1[..], &limits).unwrap();
        fs.apply_layer("sha256:2", &l2[..], &limits).unwrap();
        let m = check(None, &fs);
        assert_eq!(ids(&m), vec!["AL-CFG-004", "AL-CFG-005"]);
        assert_eq!(m[0].paths, vec!["/usr/bin/passwd", "/usr/bin/plain"]);
        assert_eq!(m[0].detail.split(' ').next(), Some("2"));
        assert_eq!(m[1].paths, vec!["/etc/shadow-ish", "/srv/data/"]);
        assert_eq!(fs.special["usr/bin/plain"].layer, "sha256:2");
    }

    #[test]
    fn special_files_are_capped() {
        let names: Vec<String> = (0..MAX_SPECIAL + 5).map(|i| format!("bin/s{i}")).collect();
        let entries: Vec<_> = names
            .iter()
            .map(|n| (n.as_str(), 0o4755, tar::EntryType::Regular))
            .collect();
        let mut fs = Filesystem::default();
        fs.apply_layer("l", &layer(&entries)[..], &Limits::default())
            .unwrap();
        assert_eq!(fs.special.len(), MAX_SPECIAL);
        let m = check(None, &fs);
        assert_eq!(m[0].paths.len(), MAX_PATHS_SHOWN);
        assert!(
            m[0].detail.starts_with(&format!("at least {MAX_SPECIAL} ")),
            "{}",
            m[0].detail
        );
        // the helper in layers.rs writes files 0644: nothing special
        let plain = tar_layer(&[("usr/bin/x", Some(b"x"))]);
        let mut fs = Filesystem::default();
        fs.apply_layer("l", &plain[..], &Limits::default()).unwrap();
        assert!(check(None, &fs).is_empty());
    }
}
