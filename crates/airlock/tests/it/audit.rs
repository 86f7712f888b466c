//! The audit log: authentication failures, authorization decisions (allowed and
//! denied), token issues and admin mutations are recorded with identity and client
//! address; `airlock audit verify` finds a record edited or removed by hand, a chain
//! recomputed without the key, and a tail cut back past a signed checkpoint.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use std::time::Duration;

async fn db(s: &TestServer) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        s.data_dir.join("airlock.db").display()
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn decisions_are_recorded_and_tampering_detected() {
    let s = TestServer::start().await;
    s.push_image("audit/app", "v1", &[b"audited"]).await;
    let resp = s
        .client
        .get(s.url("/v2/audit/app/manifests/v1"))
        .basic_auth("admin", Some("wrong password"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .req(
            Method::GET,
            "/token?service=airlock&scope=repository:audit/app:pull",
        )
        .send()
        .await
        .unwrap();
    let jwt = resp.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = s
        .anon(Method::DELETE, "/v2/audit/app/manifests/v1")
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("audit log intact"), "{out}");
    let (ok, out) = s.cli(&["audit", "export", "--since", "1h"]);
    assert!(ok, "{out}");
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let find =
        |pred: &dyn Fn(&serde_json::Value) -> bool| records.iter().find(|r| pred(r)).cloned();
    let push = find(&|r| r["action"] == "push (PUT)" && r["resource"] == "repository:audit/app")
        .expect("push recorded");
    assert_eq!(push["result"], "allowed");
    assert_eq!(push["identity"], "admin");
    assert_eq!(push["client_ip"], "127.0.0.1");
    let failed = find(&|r| r["action"] == "authenticate").expect("failed login recorded");
    assert_eq!(failed["result"], "denied");
    assert_eq!(failed["identity"], "admin");
    assert!(
        !out.contains("wrong password"),
        "secrets never reach the log"
    );
    let denied = find(&|r| r["action"] == "delete (DELETE)").expect("denied delete recorded");
    assert_eq!(denied["result"], "denied");
    assert!(find(&|r| r["action"] == "token").is_some());

    // Edit one record by hand: verify fails and names it.
    let pool = db(&s).await;
    sqlx::query("UPDATE audit_log SET result = 'allowed' WHERE action = 'delete (DELETE)'")
        .execute(&pool)
        .await
        .unwrap();
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("was altered"), "{out}");
    sqlx::query("UPDATE audit_log SET result = 'denied' WHERE action = 'delete (DELETE)'")
        .execute(&pool)
        .await
        .unwrap();
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(ok, "restored: {out}");

    // Remove one record: verify fails.
    sqlx::query("DELETE FROM audit_log WHERE seq = 2")
        .execute(&pool)
        .await
        .unwrap();
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("removed"), "{out}");
}

/// Requests that each leave one audit record (a denied pull of a repository that
/// does not exist: no other side effect).
async fn make_records(s: &TestServer, n: usize) {
    for i in 0..n {
        s.send(Method::GET, &format!("/v2/audit/none{i}/tags/list"))
            .await;
    }
}

/// The last checkpoint's record number in the server's checkpoint file.
fn last_checkpoint(s: &TestServer) -> i64 {
    let text =
        std::fs::read_to_string(s.data_dir.join("audit-checkpoints.jsonl")).unwrap_or_default();
    text.lines()
        .last()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_i64()
                .unwrap()
        })
        .unwrap_or(0)
}

async fn wait_for_checkpoint_past(s: &TestServer, seq: i64) -> i64 {
    for _ in 0..100 {
        let c = last_checkpoint(s);
        if c > seq {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no checkpoint past record {seq}");
}

/// Regression: deleting the last 500 records passed `airlock audit verify`, though
/// the README promised exit 1 for a removed record. Signed checkpoints outside the
/// database find a cut back past the last one.
#[tokio::test]
async fn cutting_the_audit_tail_back_past_a_checkpoint_is_found() {
    let (mut s, _tmp) = TestServer::start_with_config("audit_checkpoint_secs = 1\n").await;
    make_records(&s, 520).await;
    let seen = wait_for_checkpoint_past(&s, 500).await;
    s.kill();
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(ok && out.contains("checkpoints agree"), "{out}");
    let pool = db(&s).await;
    sqlx::query("DELETE FROM audit_log WHERE seq > ?")
        .bind(seen - 500)
        .execute(&pool)
        .await
        .unwrap();
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("removed from the end"), "{out}");
    // The checkpoints are elsewhere if the operator keeps them elsewhere.
    let moved = s.data_dir.with_file_name("elsewhere.jsonl");
    std::fs::rename(s.data_dir.join("audit-checkpoints.jsonl"), &moved).unwrap();
    let (ok, out) = s.cli(&["audit", "verify", "--checkpoint", moved.to_str().unwrap()]);
    assert!(!ok && out.contains("removed from the end"), "{out}");
}

/// Regression: anyone who could write the database could edit records and recompute
/// every hash (plain SHA-256), and `airlock audit verify` passed. The chain is keyed
/// with a secret outside the database now.
#[tokio::test]
async fn rewriting_the_audit_chain_without_the_key_is_found() {
    use sha2::Digest as _;
    let mut s = TestServer::start().await;
    make_records(&s, 20).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.kill();
    let pool = db(&s).await;
    sqlx::query("UPDATE audit_log SET result = 'allowed' WHERE seq = 5")
        .execute(&pool)
        .await
        .unwrap();
    // Recompute every hash from record 5 on, as the old chain computed them.
    type Row = (i64, i64, String, String, String, String, String, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at_ms, identity, client_ip, action, resource, result, reason
         FROM audit_log ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut prev: String = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = 4")
        .fetch_one(&pool)
        .await
        .unwrap();
    for (seq, at, id, ip, action, resource, result, reason) in rows.into_iter().skip(4) {
        let fields = serde_json::json!([seq, at, id, ip, action, resource, result, reason]);
        let hash = hex::encode(sha2::Sha256::digest(format!("{prev}\n{fields}").as_bytes()));
        sqlx::query("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?")
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&pool)
            .await
            .unwrap();
        prev = hash;
    }
    let (ok, out) = s.cli(&["audit", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains("record 5"), "{out}");
}

/// A clean shutdown publishes a checkpoint of everything logged up to it.
#[tokio::test]
async fn a_clean_shutdown_publishes_a_last_checkpoint() {
    let mut s = TestServer::start().await;
    make_records(&s, 5).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if last_checkpoint(&s) >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.kill();
    let pool = db(&s).await;
    let last: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        last_checkpoint(&s),
        last,
        "the last checkpoint saw the last record"
    );
}
