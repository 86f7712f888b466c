//! Users, groups, roles and bindings, catalog filtering, personal access tokens,
//! the TOTP second factor and the mandatory-2FA policy, through the admin API, the
//! CLI and the registry API.

use crate::harness::*;
use airlock_server::second_factor::{code_at, decode_secret};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

const ALICE_PW: &str = "alice-password-123";
const BOB_PW: &str = "bob-password-12345";

fn admin_cli(s: &TestServer, args: &[&str]) {
    let (ok, out) = cli_as_admin(s, args, "");
    assert!(ok, "airlock {args:?}: {out}");
}

async fn as_user(
    s: &TestServer,
    user: &str,
    pw: &str,
    method: Method,
    path: &str,
) -> reqwest::Response {
    s.client
        .request(method, s.url(path))
        .basic_auth(user, Some(pw))
        .send()
        .await
        .unwrap()
}

async fn status(s: &TestServer, user: &str, pw: &str, method: Method, path: &str) -> StatusCode {
    as_user(s, user, pw, method, path).await.status()
}

async fn catalog(s: &TestServer, user: &str, pw: &str) -> Vec<String> {
    let resp = as_user(s, user, pw, Method::GET, "/v2/_catalog").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    v["repositories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

async fn push_blob_as(s: &TestServer, user: &str, pw: &str, repo: &str) -> StatusCode {
    s.client
        .post(s.url(&format!(
            "/v2/{repo}/blobs/uploads/?digest={}",
            sha256(b"user blob")
        )))
        .basic_auth(user, Some(pw))
        .body("user blob")
        .send()
        .await
        .unwrap()
        .status()
}

async fn api(
    s: &TestServer,
    auth: (&str, &str),
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .client
        .request(method, s.url(&format!("/api/v1{path}")))
        .basic_auth(auth.0, Some(auth.1));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn bearer_api(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .client
        .request(method, s.url(&format!("/api/v1{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn groups_roles_bindings_and_catalog_filtering() {
    let s = TestServer::start().await;
    for repo in ["team/app", "team/lib", "prod/app"] {
        s.push_image(repo, "v1", &[repo.as_bytes()]).await;
    }
    let (ok, out) = cli_as_admin(
        &s,
        &["user", "create", "alice", "--password-stdin"],
        &format!("{ALICE_PW}\n"),
    );
    assert!(ok, "{out}");
    let (ok, out) = cli_as_admin(&s, &["user", "create", "bob"], "");
    assert!(ok, "{out}");
    let bob_pw = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("generated password printed")
        .trim()
        .to_owned();
    // Weak passwords and taken names are refused with a clear message.
    let (ok, out) = cli_as_admin(
        &s,
        &["user", "create", "carol", "--password-stdin"],
        "short\n",
    );
    assert!(!ok && out.contains("at least 12 characters"), "{out}");
    let (ok, out) = cli_as_admin(&s, &["user", "create", "alice"], "");
    assert!(!ok && out.contains("already exists"), "{out}");

    admin_cli(&s, &["group", "create", "devs"]);
    admin_cli(&s, &["group", "add", "devs", "alice"]);
    admin_cli(&s, &["role", "bind", "group:devs", "team/*", "contributor"]);
    let (ok, out) = cli_as_admin(
        &s,
        &["role", "bind", "group:nobody", "team/*", "reader"],
        "",
    );
    assert!(!ok && out.contains("not found"), "{out}");

    // alice, through her group: push and pull in team/*, nothing in prod.
    assert_eq!(
        push_blob_as(&s, "alice", ALICE_PW, "team/new").await,
        StatusCode::CREATED
    );
    assert_eq!(
        status(
            &s,
            "alice",
            ALICE_PW,
            Method::GET,
            "/v2/team/app/manifests/v1"
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &s,
            "alice",
            ALICE_PW,
            Method::GET,
            "/v2/prod/app/manifests/v1"
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        push_blob_as(&s, "alice", ALICE_PW, "prod/app").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &s,
            "alice",
            ALICE_PW,
            Method::DELETE,
            "/v2/team/app/manifests/v1"
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // Existing or not, a repository outside her rights answers the same.
    let a = as_user(&s, "alice", ALICE_PW, Method::GET, "/v2/prod/app/tags/list").await;
    let b = as_user(
        &s,
        "alice",
        ALICE_PW,
        Method::GET,
        "/v2/prod/nothing/tags/list",
    )
    .await;
    assert_eq!(a.status(), b.status());
    assert_eq!(a.text().await.unwrap(), b.text().await.unwrap());

    // The catalog shows each caller what they may see (repositories with content:
    // a blob alone does not make one).
    assert_eq!(
        catalog(&s, "alice", ALICE_PW).await,
        vec!["team/app", "team/lib"]
    );
    assert_eq!(catalog(&s, "bob", &bob_pw).await, Vec::<String>::new());
    assert_eq!(catalog(&s, "admin", PASSWORD).await.len(), 3);
    let page = as_user(&s, "alice", ALICE_PW, Method::GET, "/v2/_catalog?n=1").await;
    assert!(page.headers().get("link").is_some());
    let v: Value = page.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["team/app"]));

    // Through the token flow too: the catalog scope lists what the subject may see.
    let v: Value = s
        .client
        .get(s.url("/token?service=airlock&scope=registry:catalog:*"))
        .basic_auth("alice", Some(ALICE_PW))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = v["token"].as_str().unwrap();
    let v: Value = s
        .client
        .get(s.url("/v2/_catalog"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["repositories"], json!(["team/app", "team/lib"]));

    // A custom role: bob may pull and list in prod/**, not push.
    admin_cli(&s, &["role", "create", "auditor", "--actions", "pull,list"]);
    admin_cli(&s, &["role", "bind", "user:bob", "prod/**", "auditor"]);
    assert_eq!(
        status(&s, "bob", &bob_pw, Method::GET, "/v2/prod/app/manifests/v1").await,
        StatusCode::OK
    );
    assert_eq!(
        push_blob_as(&s, "bob", &bob_pw, "prod/app").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(catalog(&s, "bob", &bob_pw).await, vec!["prod/app"]);
    let (ok, out) = cli_as_admin(&s, &["role", "bindings"], "");
    assert!(
        ok && out.contains("user:bob") && out.contains("auditor"),
        "{out}"
    );

    // Changes take effect within a second.
    admin_cli(&s, &["role", "unbind", "user:bob", "prod/**", "auditor"]);
    admin_cli(&s, &["group", "remove", "devs", "alice"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(&s, "bob", &bob_pw, Method::GET, "/v2/prod/app/manifests/v1").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &s,
            "alice",
            ALICE_PW,
            Method::GET,
            "/v2/team/app/manifests/v1"
        )
        .await,
        StatusCode::FORBIDDEN
    );

    // Only administrators manage; a disabled user is out at once.
    let (st, _) = api(&s, ("alice", ALICE_PW), Method::GET, "/users", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, v) = api(&s, ("alice", ALICE_PW), Method::GET, "/me", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["user"], "alice");
    admin_cli(&s, &["user", "disable", "alice"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(&s, "alice", ALICE_PW, Method::GET, "/v2/").await,
        StatusCode::UNAUTHORIZED
    );
    admin_cli(&s, &["user", "delete", "alice"]);
    let (st, _) = api(
        &s,
        ("admin", PASSWORD),
        Method::DELETE,
        "/users/admin",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "nobody deletes themselves");
}

#[tokio::test]
async fn two_factor_and_personal_access_tokens() {
    let s = TestServer::start().await;
    s.push_image("team/app", "v1", &[b"layer"]).await;
    let admin = ("admin", PASSWORD);
    // Nobody's tokens are listed for a user that does not exist.
    let (st, _) = api(&s, admin, Method::GET, "/users/nobody/pats", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = api(
        &s,
        admin,
        Method::POST,
        "/users",
        Some(json!({"name": "alice", "password": ALICE_PW})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let (st, _) = api(
        &s,
        admin,
        Method::POST,
        "/bindings",
        Some(json!({"principal": "user:alice", "pattern": "team/*", "role": "owner"})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    let alice = ("alice", ALICE_PW);

    // Only alice can enrol herself; until confirmed the password alone works.
    let (st, _) = api(&s, admin, Method::POST, "/users/alice/totp", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, e) = api(&s, alice, Method::POST, "/users/alice/totp", None).await;
    assert_eq!(st, StatusCode::OK);
    let secret = decode_secret(e["secret"].as_str().unwrap()).unwrap();
    assert!(e["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let recovery: Vec<String> = e["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let (st, _) = api(
        &s,
        alice,
        Method::POST,
        "/users/alice/totp/confirm",
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let t = now();
    let first = code_at(&secret, t).unwrap();
    let (st, _) = api(
        &s,
        alice,
        Method::POST,
        "/users/alice/totp/confirm",
        Some(json!({"code": first})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);

    // Now the password alone opens nothing: not the registry, not /token, not the API.
    assert_eq!(
        status(&s, "alice", ALICE_PW, Method::GET, "/v2/").await,
        StatusCode::UNAUTHORIZED
    );
    let resp = as_user(
        &s,
        "alice",
        ALICE_PW,
        Method::GET,
        "/token?service=airlock&scope=repository:team/app:pull",
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("personal access token"));
    let (st, _) = api(&s, alice, Method::GET, "/me", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // Logging in takes the password and a code, each code once.
    let login = |code: Option<String>| {
        let s = &s;
        async move {
            let resp = s
                .client
                .post(s.url("/api/v1/login"))
                .json(&json!({"user": "alice", "password": ALICE_PW, "code": code}))
                .send()
                .await
                .unwrap();
            let st = resp.status();
            (st, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (st, v) = login(None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("second factor required"));
    assert_eq!(
        login(Some("123456".into())).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(Some(first.clone())).await.0,
        StatusCode::UNAUTHORIZED,
        "the confirming code is spent"
    );
    let next = code_at(&secret, t + 30).unwrap();
    let (st, v) = login(Some(next.clone())).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let session = v["token"].as_str().unwrap().to_owned();
    assert_eq!(
        login(Some(next)).await.0,
        StatusCode::UNAUTHORIZED,
        "replayed code"
    );
    let (st, _) = login(Some(recovery[0].clone())).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        login(Some(recovery[0].clone())).await.0,
        StatusCode::UNAUTHORIZED,
        "recovery codes work once"
    );

    // The session opens the admin API only.
    let (st, me) = bearer_api(&s, &session, Method::GET, "/me", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["two_factor"], true);
    let st = s
        .client
        .get(s.url("/v2/"))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // A personal access token for registry clients, narrower than alice herself. It
    // outlives the session, so making one takes a fresh second factor.
    let (st, _) = bearer_api(&s, &session, Method::POST, "/users/alice/pats", Some(json!({"name": "laptop", "scopes": ["repository:team/app:pull"], "expires_in_secs": 3600}))).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no second factor given");
    let (st, pat) = bearer_api(&s, &session, Method::POST, "/users/alice/pats", Some(json!({"name": "laptop", "scopes": ["repository:team/app:pull"], "expires_in_secs": 3600, "code": recovery[9]}))).await;
    assert_eq!(st, StatusCode::CREATED, "{pat}");
    let token = pat["token"].as_str().unwrap().to_owned();
    let id = pat["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with("alp_"));
    assert_eq!(
        status(
            &s,
            "alice",
            &token,
            Method::GET,
            "/v2/team/app/manifests/v1"
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        push_blob_as(&s, "alice", &token, "team/app").await,
        StatusCode::FORBIDDEN,
        "pull-only token of an owner"
    );
    assert_eq!(
        status(&s, "bob", &token, Method::GET, "/v2/").await,
        StatusCode::UNAUTHORIZED,
        "someone else's token"
    );
    let v: Value = s
        .client
        .get(s.url("/token?service=airlock&scope=repository:team/app:pull,push"))
        .basic_auth("alice", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["scope"], "repository:team/app:pull");
    let jwt = v["token"].as_str().unwrap().to_owned();
    let st = s
        .client
        .get(s.url("/v2/team/app/manifests/v1"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, StatusCode::OK);
    // The token cannot manage anything, not even its own user.
    let (st, _) = api(
        &s,
        ("alice", &token),
        Method::GET,
        "/users/alice/pats",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // Disabling it stops the token and the JWTs issued to it.
    let (st, _) = bearer_api(
        &s,
        &session,
        Method::PATCH,
        &format!("/users/alice/pats/{id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(&s, "alice", &token, Method::GET, "/v2/").await,
        StatusCode::UNAUTHORIZED
    );
    let st = s
        .client
        .get(s.url("/v2/team/app/manifests/v1"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, StatusCode::UNAUTHORIZED);

    // The CLI logs in with a code and keeps a private session file.
    let dir = tempfile::tempdir().unwrap();
    let session_file = dir.path().join("session.json");
    let cli = |args: &[&str]| {
        Command::new(airlock_bin())
            .args(args)
            .env("AIRLOCK_SERVER", &s.base)
            .env("AIRLOCK_SESSION_FILE", &session_file)
            .env_remove("AIRLOCK_PASSWORD")
            .output()
            .unwrap()
    };
    let code = recovery[1].clone();
    let out = Command::new(airlock_bin())
        .args(["login", "--user", "alice", "--code", &code])
        .env("AIRLOCK_SERVER", &s.base)
        .env("AIRLOCK_SESSION_FILE", &session_file)
        .env("AIRLOCK_PASSWORD", ALICE_PW)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&session_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let out = cli(&[
        "pat",
        "create",
        "ci",
        "--scope",
        "repository:team/*:pull,push",
        "--expires",
        "1d",
        "--code",
        &recovery[8],
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("alp_"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["pat", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("laptop") && text.contains("ci"), "{text}");
    // A second secret for the laptop token, rotated without downtime.
    let out = cli(&["pat", "rotate", &id, "--slot", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let second = text
        .lines()
        .find_map(|l| l.split("(shown once): ").nth(1))
        .unwrap_or_else(|| panic!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        .trim()
        .to_owned();
    assert!(second.starts_with(&format!("alp_{id}_")));
    let out = cli(&["user", "list"]);
    assert!(!out.status.success(), "alice is no administrator");
    let out = cli(&["logout"]);
    assert!(out.status.success());
    let out = cli(&["whoami"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("airlock login"));
}

#[tokio::test]
async fn mandatory_second_factor_for_privileged_users() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(
        &tmp.path().join("data"),
        &[("AIRLOCK_REQUIRE_2FA_FOR_PRIVILEGED", "true")],
    )
    .await;
    let admin = ("admin", PASSWORD);
    // The admin holds admin rights and has no second factor: only enrolment is open.
    assert_eq!(
        status(&s, "admin", PASSWORD, Method::GET, "/v2/_catalog").await,
        StatusCode::UNAUTHORIZED
    );
    let (st, v) = api(&s, admin, Method::GET, "/users", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(v["error"].as_str().unwrap().contains("enrol"), "{v}");
    let (st, e) = api(&s, admin, Method::POST, "/users/admin/totp", None).await;
    assert_eq!(st, StatusCode::OK);
    let secret = decode_secret(e["secret"].as_str().unwrap()).unwrap();
    let t = now();
    let (st, _) = api(
        &s,
        admin,
        Method::POST,
        "/users/admin/totp/confirm",
        Some(json!({"code": code_at(&secret, t).unwrap()})),
    )
    .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let resp = s
        .client
        .post(s.url("/api/v1/login"))
        .json(&json!({"user": "admin", "password": PASSWORD, "code": code_at(&secret, t + 30).unwrap()}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let session = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (st, _) = bearer_api(
        &s,
        &session,
        Method::POST,
        "/users",
        Some(json!({"name": "bob", "password": BOB_PW})),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED);
    // bob holds nothing privileged: his password works as before.
    assert_eq!(
        status(&s, "bob", BOB_PW, Method::GET, "/v2/").await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn network_rules_at_run_time() {
    let s = TestServer::start().await;
    let admin = ("admin", PASSWORD);
    let (st, v) = api(&s, admin, Method::GET, "/network", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["source"], "config");
    // Rules that would lock the caller out need --force.
    let deny_me = json!({"default_action": "allow", "deny": ["127.0.0.0/8"]});
    let (st, v) = api(&s, admin, Method::PUT, "/network", Some(deny_me.clone())).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let (st, _) = api(
        &s,
        admin,
        Method::PUT,
        "/network",
        Some(json!({"deny": ["not-a-cidr"]})),
    )
    .await;
    assert!(st.is_client_error());
    let (ok, out) = cli_as_admin(
        &s,
        &[
            "network",
            "set",
            "--default",
            "deny",
            "--allow",
            "127.0.0.1/32",
            "--deny",
            "10.0.0.0/8",
        ],
        "",
    );
    assert!(ok, "{out}");
    let (ok, out) = cli_as_admin(&s, &["network", "show"], "");
    assert!(
        ok && out.contains("stored") && out.contains("10.0.0.0/8"),
        "{out}"
    );
    admin_cli(&s, &["network", "reset"]);
    let (_, v) = api(&s, admin, Method::GET, "/network", None).await;
    assert_eq!(v["source"], "config");
    let (ok, out) = cli_as_admin(
        &s,
        &["network", "set", "--deny", "127.0.0.0/8", "--force"],
        "",
    );
    assert!(ok, "{out}");
    assert_eq!(
        s.anon(Method::GET, "/v2/").send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

/// Every operation the served OpenAPI document describes exists: without
/// credentials it is refused (401), never unknown (404) or the wrong method (405).
#[tokio::test]
async fn openapi_document_matches_the_routes() {
    let s = TestServer::start().await;
    let doc: Value = s
        .anon(Method::GET, "/api/v1/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes()) else {
                continue;
            };
            if op.get("security") == Some(&json!([])) {
                continue;
            }
            let concrete = path.replace("{slot}", "1").replace(['{', '}'], "");
            let resp = s
                .anon(m.clone(), &format!("/api/v1{concrete}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} is documented but answers {}",
                resp.status()
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} operations documented");
    // And an undocumented path is unknown.
    let resp = s
        .anon(Method::GET, "/api/v1/nothing-here")
        .send()
        .await
        .unwrap();
    assert_ne!(resp.status(), StatusCode::OK);
}
