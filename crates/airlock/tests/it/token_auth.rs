//! The Docker token flow: challenges name the needed scope, `/token` grants the
//! intersection of what was asked and what is allowed, the registry honours exactly
//! what a token carries, and forged or foreign tokens fail.

use crate::harness::*;
use base64::Engine as _;
use reqwest::{Method, StatusCode};

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn challenge_token_and_scoped_access() {
    let s = TestServer::start().await;
    s.push_image("tok/app", "v1", &[b"token layer"]).await;

    // Anonymous: 401 with a challenge naming the scope this request needs.
    let resp = s
        .anon(Method::GET, "/v2/tok/app/manifests/v1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let c = header(&resp, "www-authenticate");
    assert!(c.contains(r#"scope="repository:tok/app:pull""#), "{c}");
    let resp = s
        .anon(Method::POST, "/v2/tok/app/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let c = header(&resp, "www-authenticate");
    assert!(c.contains(r#"scope="repository:tok/app:pull,push""#), "{c}");

    // No credentials, no token.
    let resp = s
        .anon(
            Method::GET,
            "/token?service=airlock&scope=repository:tok/app:pull",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .client
        .get(s.url("/token?scope=repository:tok/app:pull"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Another service, malformed scopes.
    let resp = s
        .req(Method::GET, "/token?service=elsewhere")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = s
        .req(Method::GET, "/token?scope=repository:../x:pull")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // A pull token pulls, and nothing more.
    let pull = token(&s, &["repository:tok/app:pull"]).await;
    let resp = bearer(&s, Method::GET, "/v2/tok/app/manifests/v1", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = bearer(&s, Method::GET, "/v2/", &pull).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = bearer(&s, Method::POST, "/v2/tok/app/blobs/uploads/", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let c = header(&resp, "www-authenticate");
    assert!(
        c.contains(r#"error="insufficient_scope""#) && c.contains("pull,push"),
        "{c}"
    );
    let resp = bearer(&s, Method::DELETE, "/v2/tok/app/manifests/v1", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = bearer(&s, Method::GET, "/v2/tok/other/tags/list", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = bearer(&s, Method::GET, "/v2/_catalog", &pull)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // A push token pushes; catalog needs its own scope.
    let push = token(&s, &["repository:tok/new:pull,push", "registry:catalog:*"]).await;
    let resp = bearer(
        &s,
        Method::POST,
        &format!("/v2/tok/new/blobs/uploads/?digest={}", sha256(b"x")),
        &push,
    )
    .body("x")
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = bearer(&s, Method::GET, "/v2/_catalog", &push)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    // Forged and foreign tokens.
    let parts: Vec<&str> = pull.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["access"][0]["actions"] = serde_json::json!(["pull", "push", "delete"]);
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let other = TestServer::start().await;
    let foreign = token(&other, &["repository:tok/app:pull"]).await;
    for (what, jwt) in [
        ("edited", edited),
        ("alg none", none),
        ("other instance", foreign),
        ("garbage", "a.b.c".into()),
    ] {
        let resp = bearer(&s, Method::GET, "/v2/tok/app/manifests/v1", &jwt)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{what}");
    }
}

#[tokio::test]
async fn oauth2_password_and_refresh_grants() {
    let s = TestServer::start().await;
    s.push_image("oauth/app", "v1", &[]).await;
    let resp = s
        .anon(Method::POST, "/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
            ("service", "airlock"),
            ("client_id", "test"),
            ("access_type", "offline"),
            (
                "scope",
                "repository:oauth/app:pull repository:oauth/app:push",
            ),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    let access = v["access_token"].as_str().unwrap().to_owned();
    let refresh = v["refresh_token"].as_str().unwrap().to_owned();
    let resp = bearer(&s, Method::GET, "/v2/oauth/app/manifests/v1", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A refresh token is not an access token.
    let resp = bearer(&s, Method::GET, "/v2/oauth/app/manifests/v1", &refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = s
        .anon(Method::POST, "/token")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("service", "airlock"),
            ("scope", "repository:oauth/app:pull"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: serde_json::Value = resp.json().await.unwrap();
    let again = v["access_token"].as_str().unwrap();
    let resp = bearer(&s, Method::GET, "/v2/oauth/app/manifests/v1", again)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    for form in [
        vec![
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "nope"),
        ],
        vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", access.as_str()),
        ],
    ] {
        let resp = s
            .anon(Method::POST, "/token")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{form:?}");
    }
    let resp = s
        .anon(Method::POST, "/token")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn failed_logins_lock_out_with_429() {
    let s = TestServer::start().await;
    let wrong = |p: &'static str| {
        s.client
            .get(s.url("/v2/"))
            .basic_auth("admin", Some(p))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(
            wrong("guess").await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked out: even the right password is refused, without being checked.
    let resp = s.req(Method::GET, "/v2/").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&resp, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The token endpoint is covered by the same limit.
    let resp = s
        .req(Method::GET, "/token?service=airlock")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let resp = s
        .anon(Method::POST, "/token")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
}
