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
