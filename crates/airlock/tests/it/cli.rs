//! The command line: configuration errors are readable and name the bad key,
//! maintenance commands report problems with a non-zero exit code.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::process::Command;

fn airlock(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(airlock_bin());
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn configuration_errors_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let data = data.to_str().unwrap();

    let (ok, out) = airlock(
        &["serve", "--data-dir", data],
        &[("AIRLOCK_LISTEN", "not-an-address")],
    );
    assert!(!ok);
    assert!(out.to_lowercase().contains("listen"), "{out}");
    assert!(!out.contains("panicked"), "{out}");

    let (ok, out) = airlock(
        &["serve", "--data-dir", data],
        &[("AIRLOCK_MAX_BLOB_BYTES", "lots")],
    );
    assert!(!ok);
    assert!(out.to_lowercase().contains("max_blob_bytes"), "{out}");

    let file = tmp.path().join("airlock.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\nlisten_port = 5\n").unwrap();
    let (ok, out) = airlock(
        &[
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!ok);
    assert!(out.contains("listen_port"), "{out}");

    std::fs::write(&file, "gc_grace_secs = \"soon\"\n").unwrap();
    let (ok, out) = airlock(
        &[
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!ok);
    assert!(out.contains("gc_grace_secs"), "{out}");

    std::fs::write(&file, "this is not toml [").unwrap();
    let (ok, out) = airlock(
        &[
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!ok);
    assert!(out.contains("airlock.toml"), "{out}");

    let (ok, out) = airlock(&["serve", "--config", "/nonexistent/airlock.toml"], &[]);
    assert!(!ok);
    assert!(out.contains("does not exist"), "{out}");

    let (ok, out) = airlock(&["serve", "--listen", "localhost"], &[]);
    assert!(!ok);
    assert!(out.contains("--listen"), "{out}");

    let (ok, out) = airlock(
        &[
            "serve",
            "--tls-cert",
            "/nonexistent.pem",
            "--data-dir",
            data,
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert!(!ok);
    assert!(out.to_lowercase().contains("tls"), "{out}");

    let (ok, out) = airlock(&["gc", "--grace", "forever"], &[]);
    assert!(!ok);
    assert!(out.contains("--grace"), "{out}");
}

#[test]
fn maintenance_commands_need_an_existing_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nothing-here");
    for cmd in ["gc", "fsck"] {
        let (ok, out) = run_cli(&missing, &[cmd]);
        assert!(!ok, "{cmd}");
        assert!(out.contains("nothing-here"), "{cmd}: {out}");
        assert!(!missing.exists(), "{cmd} must not create a data directory");
    }
}

#[tokio::test]
async fn fsck_finds_corruption_and_missing_blobs() {
    let s = TestServer::start().await;
    s.push_image("fsck/app", "v1", &[b"layer to corrupt", b"layer to remove"])
        .await;
    let (ok, out) = s.cli(&["fsck"]);
    assert!(ok, "{out}");

    let path = |d: &str| {
        let hex = d.strip_prefix("sha256:").unwrap();
        s.data_dir
            .join("storage/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
    };
    let corrupt = sha256(b"layer to corrupt");
    std::fs::write(path(&corrupt), b"layer to corrupX").unwrap();
    let removed = sha256(b"layer to remove");
    std::fs::remove_file(path(&removed)).unwrap();

    let (ok, out) = s.cli(&["fsck"]);
    assert!(!ok, "fsck must fail: {out}");
    assert!(out.contains(&corrupt) && out.contains("corrupt"), "{out}");
    assert!(out.contains(&removed) && out.contains("missing"), "{out}");

    // A corrupt blob is never served as if it were good.
    let resp = s
        .send(Method::GET, &format!("/v2/fsck/app/blobs/{removed}"))
        .await;
    assert_ne!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn first_start_generates_and_records_the_admin_password() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("fresh");
    let mut child = Command::new(airlock_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env_remove("AIRLOCK_ADMIN_PASSWORD")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut base = None;
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if let Some(rest) = line.strip_prefix("airlock listening on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let base = base.expect("startup line");
    let file = data.join("initial-admin-password");
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(password.len() >= 16);
    assert!(
        seen.iter().any(|l| l.contains(&password)),
        "printed once at first start"
    );
    let resp = reqwest::Client::new()
        .get(format!("{base}/v2/"))
        .basic_auth("admin", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    child.kill().ok();
    child.wait().ok();
}
