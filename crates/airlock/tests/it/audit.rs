//! The audit log: authentication failures, authorization decisions (allowed and
//! denied), token issues and admin mutations are recorded with identity and client
//! address; `airlock audit verify` finds a record edited or removed by hand.

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
