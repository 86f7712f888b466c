//! Regression tests for the attacks of the access-control review, each named for the
//! attack: guessing passwords concurrently past the lockout, exhausting memory with
//! password hashing, enumerating names by timing, locking machine credentials out.

use crate::harness::*;
use reqwest::StatusCode;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A client whose connections come from `source` (any address of 127.0.0.0/8).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn login(c: &reqwest::Client, s: &TestServer, user: &str, pw: &str) -> StatusCode {
    c.get(s.url("/v2/"))
        .basic_auth(user, Some(pw))
        .send()
        .await
        .unwrap()
        .status()
}

/// The most memory the server process has used (VmHWM), in MiB.
fn peak_rss_mib(s: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024
}

/// 40 simultaneous wrong passwords for one user were all checked (limit 10): an
/// attempt now takes its place before its password is checked.
#[tokio::test]
async fn concurrent_password_guesses_get_no_more_checks_than_the_lockout_allows() {
    let (s, _tmp) = TestServer::start_with_config("login_lockout_secs = 3\n").await;
    user_with_role(&s, "alice", "alice-password-1", "team/*", "reader").await;
    let guesses: Vec<_> = (0..40)
        .map(|i| {
            let c = s.client.clone();
            let url = s.url("/v2/");
            tokio::spawn(async move {
                c.get(url)
                    .basic_auth("alice", Some(format!("guess-{i}")))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut checked = 0;
    let mut refused = 0;
    for g in guesses {
        match g.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    println!("40 concurrent guesses: {checked} checked, {refused} refused unchecked");
    assert_eq!((checked, refused), (10, 30));
    // Locked out, even with the right password, and from another address.
    let elsewhere = client_from("127.0.0.2");
    assert_eq!(
        login(&elsewhere, &s, "alice", "alice-password-1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Once the lockout lapses the user logs in from another address.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(
        login(&elsewhere, &s, "alice", "alice-password-1").await,
        StatusCode::OK
    );
}

/// 100 wrong logins took the server from 328 MB to 2 GB of memory, one 19 MiB argon2
/// verification each, with nothing but user names. Verifications are bounded now:
/// one per core runs, a few wait, the rest are told to retry (429) unhashed.
#[tokio::test]
async fn a_burst_of_wrong_logins_from_many_addresses_keeps_memory_bounded() {
    let s = TestServer::start().await;
    let before = peak_rss_mib(&s);
    // 50 addresses × 10 attempts: under each address's lockout limit, so every one
    // of the 500 would be hashed if nothing else bounded them.
    let started = Instant::now();
    let burst: Vec<_> = (0..500)
        .map(|i| {
            let c = client_from(&format!("127.0.1.{}", 10 + i / 10));
            let url = s.url("/v2/");
            tokio::spawn(async move {
                c.get(url)
                    .basic_auth(format!("user{i}"), Some("wrong-password"))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let (mut checked, mut busy) = (0, 0);
    for b in burst {
        match b.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => busy += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let peak = peak_rss_mib(&s);
    println!(
        "500 concurrent wrong logins: {checked} checked, {busy} told to retry, {:.1} s, peak RSS {before} -> {peak} MiB",
        started.elapsed().as_secs_f64()
    );
    assert!(peak < 256, "peak RSS {peak} MiB");
    assert!(busy > 0 && checked > 0, "{checked} checked, {busy} busy");
    // The registry still answers, and a real user gets in.
    assert_eq!(
        login(&s.client, &s, "admin", PASSWORD).await,
        StatusCode::OK
    );
}

/// A wrong password took ~43 ms for an existing name and ~2.6 ms for an unknown
/// one. Unknown and disabled names are checked against a dummy hash now, and a name
/// that may be a service token's or a user's is checked both ways side by side.
#[tokio::test]
async fn wrong_password_timing_does_not_tell_which_names_exist() {
    let (s, _tmp) = TestServer::start_with_config("login_max_failures = 100000\n").await;
    user_with_role(&s, "alice", "alice-password-1", "team/*", "reader").await;
    let (ok, out) = cli_as_admin(
        &s,
        &[
            "token",
            "create",
            "ci-bot",
            "--scope",
            "repository:ci/*:pull",
        ],
        "",
    );
    assert!(ok, "{out}");
    let names = ["alice", "nobody-here", "ci-bot"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for round in 0..52 {
        for (i, name) in names.iter().enumerate() {
            let t = Instant::now();
            let status = login(&s.client, &s, name, "not-the-password").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
            // The first rounds warm up connections and the dummy hash.
            if round >= 2 {
                times[i].push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect();
    println!(
        "median wrong-password ms: user {:.1}, unknown {:.1}, service token {:.1}",
        medians[0], medians[1], medians[2]
    );
    for (i, m) in medians.iter().enumerate().skip(1) {
        let ratio = m / medians[0];
        assert!(
            (0.8..=1.2).contains(&ratio),
            "{}: median {m:.1} ms vs {:.1} ms for an existing user",
            names[i],
            medians[0]
        );
    }
}

/// Ten anonymous wrong tries locked a service token out for CI. Machine credentials
/// (service tokens, personal access tokens) are limited per client address only.
#[tokio::test]
async fn wrong_guesses_cannot_lock_a_service_token_out() {
    let s = TestServer::start().await;
    let (ok, out) = cli_as_admin(
        &s,
        &["token", "create", "ci", "--scope", "repository:ci/*:pull"],
        "",
    );
    assert!(ok, "{out}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("password printed")
        .trim()
        .to_owned();
    let attacker = client_from("127.0.0.3");
    for _ in 0..10 {
        assert_eq!(
            login(&attacker, &s, "ci", "guess").await,
            StatusCode::UNAUTHORIZED
        );
    }
    // The attacker's address is locked out; CI elsewhere is not.
    assert_eq!(
        login(&attacker, &s, "ci", &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(&client_from("127.0.0.4"), &s, "ci", &secret).await,
        StatusCode::OK
    );
}

/// A wrong `current_password` on a password change did not count as a failed login,
/// so it was an unlimited oracle for whoever held a session.
#[tokio::test]
async fn wrong_current_passwords_on_a_password_change_count_as_failed_logins() {
    let s = TestServer::start().await;
    user_with_role(&s, "alice", "alice-password-1", "team/*", "reader").await;
    let change = |current: &str| {
        s.client
            .put(s.url("/api/v1/users/alice/password"))
            .basic_auth("alice", Some("alice-password-1"))
            .json(&serde_json::json!({"password": "a-new-password-1", "current_password": current}))
            .send()
    };
    // Each request authenticates with the right password (clearing the user's
    // count) and then guesses: the address's count still fills up.
    let mut statuses = Vec::new();
    for i in 0..12 {
        statuses.push(change(&format!("guess-{i}")).await.unwrap().status());
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(statuses[0].is_client_error() && statuses[0] != StatusCode::TOO_MANY_REQUESTS);
}

// ---------------------------------------------------------------- credential lifecycle

/// `POST /token` with a password grant and `access_type=offline`: (access, refresh).
async fn offline_tokens(s: &TestServer, user: &str, password: &str) -> (String, String) {
    let resp = s
        .anon(reqwest::Method::POST, "/token")
        .form(&[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("access_type", "offline"),
            ("service", "airlock"),
            ("scope", "repository:team/app:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// The answer to a refresh grant.
async fn refresh(s: &TestServer, refresh_token: &str) -> StatusCode {
    s.anon(reqwest::Method::POST, "/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("service", "airlock"),
            ("scope", "repository:team/app:pull"),
        ])
        .send()
        .await
        .unwrap()
        .status()
}

/// The answer to `GET /v2/` with a Bearer token.
async fn with_jwt(s: &TestServer, jwt: &str) -> StatusCode {
    bearer(s, reqwest::Method::GET, "/v2/", jwt)
        .send()
        .await
        .unwrap()
        .status()
}

/// Sends an admin API request as the admin and asserts it succeeded; its JSON body.
async fn as_admin(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut req = s.req(method, &format!("/api/v1{path}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.json().await.unwrap_or(serde_json::Value::Null)
}

/// Waits out the one-second freshness of cached credential rows.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

/// A refresh token (7 days) minted access tokens after the user's password was reset.
#[tokio::test]
async fn refresh_tokens_and_jwts_die_when_a_password_is_reset() {
    let s = TestServer::start().await;
    user_with_role(&s, "alice", "alice-password-1", "team/*", "reader").await;
    let (jwt, rt) = offline_tokens(&s, "alice", "alice-password-1").await;
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::OK);
    assert_eq!(refresh(&s, &rt).await, StatusCode::OK);
    as_admin(
        &s,
        reqwest::Method::PUT,
        "/users/alice/password",
        Some(serde_json::json!({"password": "alice-password-2"})),
    )
    .await;
    settle().await;
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&s, &rt).await, StatusCode::UNAUTHORIZED);
    // The new password gets new tokens that work.
    let (jwt, rt) = offline_tokens(&s, "alice", "alice-password-2").await;
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::OK);
    assert_eq!(refresh(&s, &rt).await, StatusCode::OK);
}

/// After a service token's secret was rotated the old secret was refused, but refresh
/// tokens and JWTs derived from it went on working.
#[tokio::test]
async fn refresh_tokens_die_when_a_service_token_secret_is_rotated() {
    let s = TestServer::start().await;
    let made = as_admin(
        &s,
        reqwest::Method::POST,
        "/tokens",
        Some(serde_json::json!({"name": "ci", "scopes": ["repository:team/*:pull"]})),
    )
    .await;
    let secret = made["password"].as_str().unwrap().to_owned();
    let (jwt, rt) = offline_tokens(&s, "ci", &secret).await;
    assert_eq!(refresh(&s, &rt).await, StatusCode::OK);
    as_admin(&s, reqwest::Method::POST, "/tokens/ci/passwords/1", None).await;
    settle().await;
    assert_eq!(
        login(&s.client, &s, "ci", &secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&s, &rt).await, StatusCode::UNAUTHORIZED);
}

/// A user or service token deleted and re-created under the same name inherited the
/// old one's tokens (with the new one's rights), and the old token's bindings.
#[tokio::test]
async fn a_principal_recreated_under_the_same_name_inherits_nothing() {
    let s = TestServer::start().await;
    user_with_role(&s, "bob", "bob-password-123", "team/*", "reader").await;
    let (user_jwt, user_rt) = offline_tokens(&s, "bob", "bob-password-123").await;
    let made = as_admin(
        &s,
        reqwest::Method::POST,
        "/tokens",
        Some(serde_json::json!({"name": "robot", "scopes": ["repository:team/*:pull"]})),
    )
    .await;
    let (token_jwt, token_rt) =
        offline_tokens(&s, "robot", made["password"].as_str().unwrap()).await;
    as_admin(
        &s,
        reqwest::Method::POST,
        "/bindings",
        Some(serde_json::json!({"principal": "token:robot", "pattern": "prod/*", "role": "owner"})),
    )
    .await;

    as_admin(&s, reqwest::Method::DELETE, "/users/bob", None).await;
    as_admin(&s, reqwest::Method::DELETE, "/tokens/robot", None).await;
    user_with_role(&s, "bob", "bob-password-456", "team/*", "owner").await;
    let remade = as_admin(
        &s,
        reqwest::Method::POST,
        "/tokens",
        Some(serde_json::json!({"name": "robot", "scopes": ["repository:team/*:pull"]})),
    )
    .await;
    settle().await;
    for jwt in [&user_jwt, &token_jwt] {
        assert_eq!(with_jwt(&s, jwt).await, StatusCode::UNAUTHORIZED);
    }
    for rt in [&user_rt, &token_rt] {
        assert_eq!(refresh(&s, rt).await, StatusCode::UNAUTHORIZED);
    }
    // The new token starts without the old one's bindings.
    let bindings = as_admin(&s, reqwest::Method::GET, "/bindings", None).await;
    assert!(!bindings.to_string().contains("token:robot"), "{bindings}");
    let secret = remade["password"].as_str().unwrap();
    let resp = s
        .anon(reqwest::Method::POST, "/v2/prod/app/blobs/uploads/")
        .basic_auth("robot", Some(secret))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

/// A principal disabled and enabled again had its old JWTs and refresh tokens back.
#[tokio::test]
async fn disabling_and_enabling_again_revives_no_old_token() {
    let s = TestServer::start().await;
    user_with_role(&s, "carol", "carol-password-1", "team/*", "reader").await;
    let (jwt, rt) = offline_tokens(&s, "carol", "carol-password-1").await;
    for enabled in [false, true] {
        as_admin(
            &s,
            reqwest::Method::PATCH,
            "/users/carol",
            Some(serde_json::json!({ "enabled": enabled })),
        )
        .await;
    }
    settle().await;
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&s, &rt).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        login(&s.client, &s, "carol", "carol-password-1").await,
        StatusCode::OK
    );
}

/// Admin sessions (12 h) survived a password reset and a second factor's enrolment,
/// and could still mint personal access tokens.
#[tokio::test]
async fn admin_sessions_die_with_a_password_reset_or_a_new_second_factor() {
    let s = TestServer::start().await;
    user_with_role(&s, "dave", "dave-password-12", "team/*", "reader").await;
    let session = |password: &'static str| {
        let s = &s;
        async move {
            let v: serde_json::Value = s
                .client
                .post(s.url("/api/v1/login"))
                .json(&serde_json::json!({"user": "dave", "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let me = |session: String| {
        let s = &s;
        async move {
            bearer(s, reqwest::Method::GET, "/api/v1/me", &session)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let before_reset = session("dave-password-12").await;
    assert_eq!(me(before_reset.clone()).await, StatusCode::OK);
    as_admin(
        &s,
        reqwest::Method::PUT,
        "/users/dave/password",
        Some(serde_json::json!({"password": "dave-password-34"})),
    )
    .await;
    settle().await;
    assert_eq!(me(before_reset).await, StatusCode::UNAUTHORIZED);

    // Enrolling a second factor ends the sessions opened with the password alone.
    let before_2fa = session("dave-password-34").await;
    let enrol = bearer(
        &s,
        reqwest::Method::POST,
        "/api/v1/users/dave/totp",
        &before_2fa,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(enrol.status(), StatusCode::OK);
    let e: serde_json::Value = enrol.json().await.unwrap();
    let secret =
        airlock_server::second_factor::decode_secret(e["secret"].as_str().unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = airlock_server::second_factor::code_at(&secret, now).unwrap();
    let confirm = bearer(
        &s,
        reqwest::Method::POST,
        "/api/v1/users/dave/totp/confirm",
        &before_2fa,
    )
    .json(&serde_json::json!({ "code": code }))
    .send()
    .await
    .unwrap();
    assert_eq!(confirm.status(), StatusCode::NO_CONTENT);
    // Recovery codes (about 50 bits each) are stored keyed, not as plain SHA-256.
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        s.data_dir.join("airlock.db").display()
    ))
    .await
    .unwrap();
    let stored: String = sqlx::query_scalar("SELECT recovery_codes FROM users WHERE name = 'dave'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        stored
            .split(' ')
            .all(|c| c.starts_with("h1:") && c.len() == 67),
        "{stored}"
    );
    settle().await;
    assert_eq!(me(before_2fa.clone()).await, StatusCode::UNAUTHORIZED);
    let pat = bearer(
        &s,
        reqwest::Method::POST,
        "/api/v1/users/dave/pats",
        &before_2fa,
    )
    .json(&serde_json::json!({"name": "laptop", "scopes": ["repository:team/*:pull"]}))
    .send()
    .await
    .unwrap();
    assert_eq!(pat.status(), StatusCode::UNAUTHORIZED);
}

/// A token issued before `role unbind` kept its rights for its 5-minute life (a push
/// 1.5 s after the unbind succeeded). A request gets at most the token's scopes ∩
/// what its subject may do now.
#[tokio::test]
async fn a_token_issued_before_a_role_unbind_loses_the_right_at_once() {
    let s = TestServer::start().await;
    user_with_role(&s, "erin", "erin-password-12", "team/*", "contributor").await;
    let jwt = token_as(
        &s,
        ("erin", "erin-password-12"),
        &["repository:team/app:pull,push"],
    )
    .await;
    let push = || {
        bearer(
            &s,
            reqwest::Method::POST,
            "/v2/team/app/blobs/uploads/",
            &jwt,
        )
        .send()
    };
    assert_eq!(push().await.unwrap().status(), StatusCode::ACCEPTED);
    let resp = s
        .req(reqwest::Method::DELETE, "/api/v1/bindings")
        .json(&serde_json::json!({"principal": "user:erin", "pattern": "team/*", "role": "contributor"}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    settle().await;
    assert_eq!(push().await.unwrap().status(), StatusCode::FORBIDDEN);
}

/// A validly signed token claiming a far-future expiry was accepted.
#[tokio::test]
async fn a_signed_token_living_longer_than_the_registry_issues_is_refused() {
    use base64::Engine as _;
    let s = TestServer::start().await;
    let jwt = token(&s, &["repository:team/app:pull"]).await;
    assert_eq!(with_jwt(&s, &jwt).await, StatusCode::OK);
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header: serde_json::Value = serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["exp"] = (claims["iat"].as_u64().unwrap() + 10 * 365 * 86_400).into();
    claims["access"] = serde_json::json!([{"type": "repository", "name": "**", "actions": ["pull", "push", "delete"]}]);
    let der = std::fs::read(s.data_dir.join("token-signing-key.der")).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = header["kid"].as_str().map(str::to_owned);
    let forged =
        jsonwebtoken::encode(&h, &claims, &jsonwebtoken::EncodingKey::from_ec_der(&der)).unwrap();
    assert_eq!(with_jwt(&s, &forged).await, StatusCode::UNAUTHORIZED);
}

/// A network-restricted token refreshed from a disallowed address (the JWT it got was
/// then refused there): the refresh is refused.
#[tokio::test]
async fn a_network_restricted_token_cannot_refresh_from_elsewhere() {
    let s = TestServer::start().await;
    let made = as_admin(
        &s,
        reqwest::Method::POST,
        "/tokens",
        Some(serde_json::json!({
            "name": "local", "scopes": ["repository:team/*:pull"],
            "allowed_cidrs": ["127.0.0.1/32"],
        })),
    )
    .await;
    let (_, rt) = offline_tokens(&s, "local", made["password"].as_str().unwrap()).await;
    assert_eq!(refresh(&s, &rt).await, StatusCode::OK);
    let elsewhere = client_from("127.0.0.9");
    let status = elsewhere
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("service", "airlock"),
        ])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The challenge of an unauthenticated request, as a client sending `headers` sees it.
async fn realm_for(s: &TestServer, headers: &[(&str, &str)]) -> String {
    let mut req = s.anon(reqwest::Method::GET, "/v2/");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let c = resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    c.split('"').nth(1).unwrap().to_owned()
}

/// The challenge's realm reflected the request's Host (`Host: evil.example` →
/// `realm="http://evil.example/token"`), so a client could be sent to hand its
/// credentials to anyone. It comes from `public_url` or the listen address, and
/// from X-Forwarded-Host only through a trusted proxy.
#[tokio::test]
async fn the_token_realm_does_not_follow_the_host_header() {
    let s = TestServer::start().await;
    let own = format!("{}/token", s.base);
    assert_eq!(realm_for(&s, &[("host", "evil.example")]).await, own);
    assert_eq!(
        realm_for(
            &s,
            &[
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "https")
            ]
        )
        .await,
        own,
        "forwarded headers from an untrusted peer"
    );
    let (s, _tmp) =
        TestServer::start_with_config("public_url = \"https://registry.example.com/\"\n").await;
    assert_eq!(
        realm_for(&s, &[("host", "evil.example")]).await,
        "https://registry.example.com/token"
    );
    let (s, _tmp) =
        TestServer::start_with_config("[network]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").await;
    assert_eq!(
        realm_for(
            &s,
            &[
                ("x-forwarded-host", "registry.example.com"),
                ("x-forwarded-proto", "https")
            ]
        )
        .await,
        "https://registry.example.com/token"
    );
    assert_eq!(
        realm_for(&s, &[("x-forwarded-host", "bad\"host")]).await,
        format!("{}/token", s.base),
        "a malformed forwarded host is not used"
    );
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `airlock.db` (password hashes, recovery codes) was 0644 in a 0755 data directory.
/// Both are owner-only at creation, and narrowed at start where they were not.
#[tokio::test]
async fn the_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    assert_eq!(mode(&s.data_dir), 0o700);
    assert_eq!(mode(&s.data_dir.join("airlock.db")), 0o600);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    drop(s);
    let s = TestServer::start_in(&dir).await;
    drop(s);
    std::fs::set_permissions(
        dir.join("airlock.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _s = TestServer::start_in(&dir).await;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("airlock.db")), 0o600);
}

/// A mount from a repository the caller may not read was audited only as "push
/// allowed": the refused pull on `from` is recorded too.
#[tokio::test]
async fn a_refused_mount_source_is_audited() {
    let mut s = TestServer::start().await;
    let digest = s.push_blob("secret/app", b"private layer").await;
    user_with_role(&s, "mallory", "mallory-password-1", "mine/*", "contributor").await;
    let resp = s
        .anon(
            reqwest::Method::POST,
            &format!("/v2/mine/app/blobs/uploads/?mount={digest}&from=secret/app"),
        )
        .basic_auth("mallory", Some("mallory-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "a plain upload instead"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.kill();
    let (ok, out) = s.cli(&["audit", "export"]);
    assert!(ok, "{out}");
    let refused = out.lines().find(|l| {
        l.contains("\"pull (mount from)\"")
            && l.contains("\"repository:secret/app\"")
            && l.contains("\"denied\"")
            && l.contains("mallory")
    });
    assert!(refused.is_some(), "{out}");
}

/// One user opened 2,000 upload sessions in 8 s, each kept 24 h. Open sessions are
/// capped per principal and per repository, and idle ones expire after an hour.
#[tokio::test]
async fn upload_sessions_without_end_are_capped() {
    let (s, _tmp) = TestServer::start_with_config(
        "max_uploads_per_owner = 5\nmax_uploads_per_repository = 8\n",
    )
    .await;
    user_with_role(&s, "pusher", "pusher-password-1", "flood/*", "contributor").await;
    let open = |user: &'static str, pw: &'static str| {
        let s = &s;
        async move {
            s.anon(reqwest::Method::POST, "/v2/flood/app/blobs/uploads/")
                .basic_auth(user, Some(pw))
                .send()
                .await
                .unwrap()
        }
    };
    let mut mine = Vec::new();
    for _ in 0..5 {
        let resp = open("admin", PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
        mine.push(location_of(&resp));
    }
    let resp = open("admin", PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(error_code(resp).await, "TOOMANYREQUESTS");
    // Someone else may still open some, up to the repository's cap.
    for _ in 0..3 {
        assert_eq!(
            open("pusher", "pusher-password-1").await.status(),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(
        open("pusher", "pusher-password-1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A finished or cancelled session frees its place.
    let resp = s.send(reqwest::Method::DELETE, &mine[0]).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(open("admin", PASSWORD).await.status(), StatusCode::ACCEPTED);
}

/// Whether the server closes `conn` (EOF or reset) within `within`.
async fn closed_within(conn: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a 408 or the like before the close
        }
    }
}

/// A connection that sent half a header stayed open (1,000 from one address were
/// accepted). Request heads have a deadline, and connections per address a cap.
#[tokio::test]
async fn half_sent_headers_and_connection_floods_are_cut_off() {
    use tokio::io::AsyncWriteExt;
    let (s, _tmp) = TestServer::start_with_config(
        "header_read_timeout_secs = 2\nmax_connections_per_address = 5\n",
    )
    .await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    // Half a header, then silence: closed after the deadline.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let t = Instant::now();
    assert!(closed_within(&mut slow, Duration::from_secs(6)).await);
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    // Five idle connections from one address are kept; the sixth is closed at once.
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    let mut sixth = tokio::net::TcpStream::connect(&addr).await.unwrap();
    assert!(closed_within(&mut sixth, Duration::from_millis(1000)).await);
    // Another address is not affected, and once they close, this one is served again.
    assert_eq!(
        login(&client_from("127.0.0.5"), &s, "admin", PASSWORD).await,
        StatusCode::OK
    );
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        login(&client_from("127.0.0.1"), &s, "admin", PASSWORD).await,
        StatusCode::OK
    );
}

/// Found by the benchmark: counting attempts before their check refused clients that
/// send right credentials on every request while other attempts were in flight
/// (64 simultaneous manifest GETs with Basic got 429s). Credentials that succeeded a
/// moment ago are answered without hashing and without a place in the limiter, so
/// guesses being checked do not shut the real user out before they have failed.
#[tokio::test]
async fn right_credentials_are_served_while_guesses_are_in_flight() {
    let s = TestServer::start().await;
    assert_eq!(
        login(&s.client, &s, "admin", PASSWORD).await,
        StatusCode::OK
    );
    let guesses: Vec<_> = (0..10)
        .map(|i| {
            let c = client_from("127.0.0.1");
            let url = s.url("/v2/");
            tokio::spawn(async move {
                c.get(url)
                    .basic_auth("admin", Some(format!("guess-{i}")))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(15)).await;
    let right: Vec<_> = (0..20)
        .map(|_| {
            let c = client_from("127.0.0.1");
            let url = s.url("/v2/");
            tokio::spawn(async move {
                c.get(url)
                    .basic_auth("admin", Some(PASSWORD))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for r in right {
        assert_eq!(r.await.unwrap(), StatusCode::OK);
    }
    for g in guesses {
        assert_eq!(g.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
}
