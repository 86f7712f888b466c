//! Network rules: allow/deny lists for IPv4 and IPv6, `X-Forwarded-For` believed only
//! from trusted proxies, and per-token allowed networks.

use crate::harness::*;
use reqwest::{Method, StatusCode};

async fn with_rules(listen: &str, rules: &str) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("airlock.toml");
    std::fs::write(&config, format!("[network]\n{rules}\n")).unwrap();
    let s = TestServer::start_full(
        &tmp.path().join("data"),
        &["--listen", listen, "--config", config.to_str().unwrap()],
        &[],
    )
    .await;
    (s, tmp)
}

async fn v2(s: &TestServer, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut r = s.req(Method::GET, "/v2/");
    if let Some(x) = forwarded_for {
        r = r.header("x-forwarded-for", x);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn ipv4_allow_and_deny() {
    let (s, _t) = with_rules(
        "127.0.0.1:0",
        r#"default_action = "deny"
allow = ["127.0.0.1/32"]"#,
    )
    .await;
    assert_eq!(v2(&s, None).await.status(), StatusCode::OK);

    let (s, _t) = with_rules(
        "127.0.0.1:0",
        r#"default_action = "deny"
allow = ["10.0.0.0/8"]"#,
    )
    .await;
    let resp = v2(&s, None).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(resp).await, "DENIED");
    // The token service and the admin API are behind the same rules.
    let resp = s
        .req(Method::GET, "/token?service=airlock")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Health checks are not.
    assert_eq!(
        s.anon(Method::GET, "/healthz")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let (s, _t) = with_rules(
        "127.0.0.1:0",
        r#"allow = ["127.0.0.0/8"]
deny = ["127.0.0.1/32"]"#,
    )
    .await;
    assert_eq!(
        v2(&s, None).await.status(),
        StatusCode::FORBIDDEN,
        "deny wins over allow"
    );
}

#[tokio::test]
async fn ipv6_rules() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; nothing to test");
        return;
    }
    let (s, _t) = with_rules(
        "[::1]:0",
        r#"default_action = "deny"
allow = ["::1/128"]"#,
    )
    .await;
    assert!(s.base.contains("[::1]"), "{}", s.base);
    assert_eq!(v2(&s, None).await.status(), StatusCode::OK);
    let (s, _t) = with_rules("[::1]:0", r#"deny = ["::/0"]"#).await;
    assert_eq!(v2(&s, None).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn forwarded_for_only_from_trusted_proxies() {
    // An untrusted peer cannot pretend to be somewhere else...
    let (s, _t) = with_rules("127.0.0.1:0", r#"deny = ["10.0.0.0/8"]"#).await;
    assert_eq!(v2(&s, Some("10.1.2.3")).await.status(), StatusCode::OK);
    let (s, _t) = with_rules(
        "127.0.0.1:0",
        r#"default_action = "deny"
allow = ["203.0.113.0/24"]"#,
    )
    .await;
    assert_eq!(
        v2(&s, Some("203.0.113.9")).await.status(),
        StatusCode::FORBIDDEN
    );

    // ...while a trusted proxy's header is believed.
    let (s, _t) = with_rules(
        "127.0.0.1:0",
        r#"deny = ["10.0.0.0/8"]
trusted_proxies = ["127.0.0.1/32"]"#,
    )
    .await;
    assert_eq!(
        v2(&s, Some("10.1.2.3")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        v2(&s, Some("10.1.2.3, 198.51.100.4")).await.status(),
        StatusCode::OK,
        "rightmost untrusted hop"
    );
    assert_eq!(v2(&s, None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn per_token_networks() {
    let s = TestServer::start().await;
    s.push_image("net/app", "v1", &[]).await;
    let create = |name: &str, cidr: &str| {
        let out = std::process::Command::new(airlock_bin())
            .args([
                "token",
                "create",
                name,
                "--scope",
                "repository:net/app:pull",
                "--allow-cidr",
                cidr,
            ])
            .env("AIRLOCK_SERVER", &s.base)
            .env("AIRLOCK_PASSWORD", PASSWORD)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text.lines()
            .find_map(|l| l.strip_prefix("password (shown once): "))
            .unwrap()
            .to_owned()
    };
    let local = create("local", "127.0.0.0/8");
    let remote = create("remote", "10.0.0.0/8");
    let get = |user: &'static str, pw: String| {
        s.client
            .get(s.url("/v2/net/app/manifests/v1"))
            .basic_auth(user, Some(pw))
            .send()
    };
    assert_eq!(get("local", local).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get("remote", remote).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let out = std::process::Command::new(airlock_bin())
        .args([
            "token",
            "create",
            "bad",
            "--scope",
            "repository:net/app:pull",
            "--allow-cidr",
            "10.0.0.0/99",
        ])
        .env("AIRLOCK_SERVER", &s.base)
        .env("AIRLOCK_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid CIDR"));
}
