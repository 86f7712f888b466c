//! Dispatch of `/v2/<path>` requests to handlers, by parsed endpoint and method, after
//! the one authorization check every request passes.
//!
//! ## What a request needs, and what a refusal says
//!
//! `GET` and `HEAD` need `pull` on every route, the status of an upload session
//! included (`GET /v2/<name>/blobs/uploads/<id>`), as CNCF Distribution maps them:
//! clients that keep one token per method (the OCI conformance suite does) ask for an
//! upload's offset with their pull token after a `416`. Least privilege holds without
//! `push` there because a session is bound to its repository *and* to the principal
//! that opened it: nobody else, reader or pusher, can read, continue, finish or cancel
//! it (they get `404 BLOB_UPLOAD_UNKNOWN`, as for an id that never existed). Opening,
//! appending, finishing and cancelling still need `push`.
//!
//! A Bearer token that lacks a scope the request needs is answered `403` with a
//! challenge naming that scope and `error="insufficient_scope"` (RFC 6750 §3.1); a
//! caller with a password (no token to renew) gets `403 DENIED` without one. CNCF
//! Distribution and Docker Hub answer `401` there instead, and some clients
//! re-authenticate only on `401` (the OCI conformance suite, containerd). Others
//! refresh only on `403`: oras-py re-sends the token it has on a `401` and gives up,
//! and it fails to push with a scoped service token when this answer is `401`
//! (measured with the end-to-end suite). Docker, podman, skopeo and containerd ask for
//! the scope they need before each operation, so they never see this answer in a
//! normal push or pull; the one place the conformance suite met it — an upload's
//! status asked for with its pull token — needs only `pull` now.
//!
//! ## Malformed references
//!
//! A read (`GET`, `HEAD`) or `DELETE` of a manifest by a reference that is neither a
//! valid tag nor a digest names nothing, so it is `404 MANIFEST_UNKNOWN` (a blob by a
//! malformed digest: `404 BLOB_UNKNOWN`), as the conformance suites expect; only a
//! `PUT`, which would create the name, is told `400 TAG_INVALID` (or
//! `DIGEST_INVALID`). The referrers endpoint lists what points at a digest — an
//! unknown but well-formed one gives an empty list — and a `404` there tells clients
//! the API is unsupported, so a malformed digest is `400 DIGEST_INVALID`.

use crate::auth::{self, Caller};
use crate::directory::Policy;
use crate::error::ApiError;
use crate::handlers::{blobs, listing, manifests, uploads};
use crate::route::{self, Endpoint, Malformed, RouteError};
use crate::AppState;
use airlock_access::{authorize, Action, ActionSet, Identity, Target};
use airlock_oci::RepositoryName;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Query parameters, decoded; the last value wins for repeated keys.
pub(crate) type Query = HashMap<String, String>;

/// What a request needs: the actions, on a repository or (catalog) the registry.
pub(crate) enum Need {
    Repository(RepositoryName, ActionSet),
    Catalog,
}

fn need(endpoint: &Endpoint, method: &Method) -> Option<Need> {
    let repo_action = match *method {
        Method::GET | Method::HEAD => Action::Pull,
        Method::POST | Method::PUT | Method::PATCH => Action::Push,
        Method::DELETE => Action::Delete,
        _ => return None,
    };
    let name = match endpoint {
        Endpoint::Catalog => return Some(Need::Catalog),
        Endpoint::Tags(n) | Endpoint::Referrers(n, _) => {
            return Some(Need::Repository(n.clone(), Action::Pull.into_set()))
        }
        // An upload's status is a read, like every GET (the session is bound to its
        // owner); opening one is part of a push whatever the method.
        Endpoint::Manifest(n, _) | Endpoint::Blob(n, _) | Endpoint::Upload(n, _) => n,
        Endpoint::StartUpload(n) => {
            return Some(Need::Repository(n.clone(), Action::Push.into_set()))
        }
    };
    Some(Need::Repository(name.clone(), repo_action.into_set()))
}

impl Need {
    /// The scope a client should ask the token service for.
    fn scope(&self) -> String {
        match self {
            Need::Catalog => "registry:catalog:*".into(),
            // Docker clients ask for pull along with push.
            Need::Repository(n, a) if a.contains(Action::Push) => {
                format!("repository:{n}:pull,push")
            }
            Need::Repository(n, a) => format!("repository:{n}:{a}"),
        }
    }
}

/// The scope to name in a 401 challenge for a request to `path`.
pub(crate) fn challenge_scope(method: &Method, path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    need(&route::parse(rest).ok()?, method).map(|n| n.scope())
}

fn decide(
    policy: &Policy,
    caller: &Caller,
    action: Action,
    target: Target<'_>,
) -> airlock_access::Decision {
    authorize(&caller.identity, &policy.bindings, action, target)
}

/// Whether `identity` may see that `repo` exists (catalog filtering).
fn visible(policy: &Policy, identity: &Identity, repo: &str) -> bool {
    RepositoryName::parse(repo).is_ok_and(|r| {
        [Action::List, Action::Pull]
            .into_iter()
            .any(|a| authorize(identity, &policy.bindings, a, Target::Repository(&r)).allowed)
    })
}

/// Whose rights filter the catalog: the caller's own, without the scopes a Bearer
/// token narrows them to (a token carries the catalog scope, not every repository).
fn catalog_identity(caller: &Caller) -> Identity {
    Identity {
        issued: None,
        ..caller.identity.clone()
    }
}

/// Decides a request, records the decision in the audit log, and refuses what the
/// caller may not do: a token holder is challenged for the scope (so the client
/// fetches a better token), a password holder is denied.
async fn check(
    state: &AppState,
    policy: &Policy,
    caller: &Caller,
    need: &Need,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let (decisions, resource): (Vec<(Action, airlock_access::Decision)>, String) = match need {
        Need::Catalog => (
            vec![(
                Action::List,
                decide(policy, caller, Action::List, Target::Registry),
            )],
            "registry:catalog".into(),
        ),
        Need::Repository(name, actions) => (
            actions
                .iter()
                .map(|a| (a, decide(policy, caller, a, Target::Repository(name))))
                .collect(),
            format!("repository:{name}"),
        ),
    };
    let denied = decisions.iter().find(|(_, d)| !d.allowed);
    let (action, decision) = denied.unwrap_or(&decisions[0]);
    let ok = denied.is_none();
    state
        .audit
        .record(
            &caller.identity.name,
            &caller.client_ip,
            &format!("{action} ({method})"),
            &resource,
            ok,
            &decision.reason,
        )
        .await;
    if ok {
        return Ok(());
    }
    if caller.via_token {
        // A challenge naming the scope (see the module docs), so the client fetches a
        // better token and retries.
        Err(insufficient_scope(state, headers, need))
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            "requested access to the resource is denied",
        ))
    }
}

/// A Bearer token without the scope `need` names: `403` with a challenge for it.
fn insufficient_scope(state: &AppState, headers: &HeaderMap, need: &Need) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "DENIED",
        "the token does not grant this access",
    )
    .with_header(
        axum::http::header::WWW_AUTHENTICATE,
        auth::challenge(state, headers, Some(&need.scope()), true),
    )
}

/// `GET /v2/_catalog`: everyone sees the repositories they may list or pull, and
/// nothing tells them whether others exist. A Bearer token must carry the catalog
/// scope; what it lists is then filtered by its subject's own rights.
async fn catalog(
    state: &AppState,
    policy: &Policy,
    caller: &Caller,
    query: &Query,
    headers: &HeaderMap,
) -> Response {
    let has_scope = caller
        .identity
        .issued
        .iter()
        .flatten()
        .any(|s| s.resource == airlock_access::Resource::Catalog);
    if caller.via_token && !has_scope {
        return insufficient_scope(state, headers, &Need::Catalog).into_response();
    }
    let identity = catalog_identity(caller);
    let sees_all = authorize(&identity, &policy.bindings, Action::List, Target::Registry).allowed;
    let reason = if sees_all {
        "lists every repository"
    } else {
        "lists the repositories it may see"
    };
    state
        .audit
        .record(
            &caller.identity.name,
            &caller.client_ip,
            "list (GET)",
            "registry:catalog",
            true,
            reason,
        )
        .await;
    let result = listing::catalog(&state.registry, query, |repo| {
        sees_all || visible(policy, &identity, repo)
    })
    .await;
    match result {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn dispatch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query: Query = raw_query
        .as_deref()
        .map(url_decode_pairs)
        .unwrap_or_default();
    let endpoint = match route::parse(&rest) {
        Ok(e) => e,
        Err(e) => return route_error(e, &method).into_response(),
    };
    let policy = state.directory.policy().await;
    if matches!(endpoint, Endpoint::Catalog) {
        return catalog(&state, &policy, &caller, &query, &headers).await;
    }
    if let Some(need) = need(&endpoint, &method) {
        if let Err(e) = check(&state, &policy, &caller, &need, &method, &headers).await {
            return e.into_response();
        }
    }
    let mut query = query;
    if let (Endpoint::StartUpload(_), Some(from)) = (&endpoint, query.get("from")) {
        // Mounting reads `from`: without the right to pull it, a normal upload.
        let decision = RepositoryName::parse(from)
            .ok()
            .map(|f| decide(&policy, &caller, Action::Pull, Target::Repository(&f)));
        if !decision.as_ref().is_some_and(|d| d.allowed) {
            // The refused read of `from` is evidence of its own, beside the push.
            let reason = decision.map_or("not a repository name".into(), |d| d.reason);
            state
                .audit
                .record(
                    &caller.identity.name,
                    &caller.client_ip,
                    "pull (mount from)",
                    &format!("repository:{}", from.chars().take(256).collect::<String>()),
                    false,
                    &format!("{reason}; a plain upload instead"),
                )
                .await;
            query.remove("mount");
        }
    }
    let r = &state.registry;
    // Upload sessions are bound to the principal that opened them.
    let owner = caller.identity.name.as_str();
    let result = match (endpoint, method) {
        (Endpoint::Tags(name), Method::GET) => listing::tags(r, &name, &query).await,
        (Endpoint::Referrers(name, d), Method::GET) => {
            listing::referrers(r, &name, &d, &query).await
        }
        (Endpoint::Manifest(name, reference), Method::GET) => {
            manifests::get(r, &name, &reference, false).await
        }
        (Endpoint::Manifest(name, reference), Method::HEAD) => {
            manifests::get(r, &name, &reference, true).await
        }
        (Endpoint::Manifest(name, reference), Method::PUT) => {
            let result = manifests::put(r, &name, &reference, &headers, body).await;
            if let (Ok(resp), Some(scans)) = (&result, &state.scans) {
                if let Some(d) = resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|v| v.to_str().ok())
                {
                    scans.enqueue(&name, d).await;
                }
            }
            result
        }
        (Endpoint::Manifest(name, reference), Method::DELETE) => {
            manifests::delete(r, &name, &reference).await
        }
        (Endpoint::Blob(name, d), Method::GET) => blobs::get(r, &name, &d, &headers, false).await,
        (Endpoint::Blob(name, d), Method::HEAD) => blobs::get(r, &name, &d, &headers, true).await,
        (Endpoint::Blob(name, d), Method::DELETE) => blobs::delete(r, &name, &d).await,
        (Endpoint::StartUpload(name), Method::POST) => {
            uploads::start(r, &name, owner, &query, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::GET) => uploads::status(r, &name, &id, owner).await,
        (Endpoint::Upload(name, id), Method::PATCH) => {
            uploads::patch(r, &name, &id, owner, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::PUT) => {
            uploads::put(r, &name, &id, owner, &query, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::DELETE) => uploads::cancel(r, &name, &id, owner).await,
        (_, method) => Err(ApiError::unsupported(&format!("{method} on this endpoint"))),
    };
    match result {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

fn url_decode_pairs(q: &str) -> Query {
    crate::handlers::query_pairs(q, 64).collect()
}

/// The error for a path that is no endpoint; for a malformed reference, by method
/// (see the module docs).
fn route_error(e: RouteError, method: &Method) -> ApiError {
    let names_nothing = matches!(*method, Method::GET | Method::HEAD | Method::DELETE);
    match e {
        RouteError::NotFound => ApiError::not_found(),
        RouteError::NameInvalid(m) => ApiError::name_invalid(m),
        RouteError::ReferenceInvalid(Malformed::ManifestTag | Malformed::ManifestDigest, _)
            if names_nothing =>
        {
            ApiError::manifest_unknown()
        }
        RouteError::ReferenceInvalid(Malformed::Blob, _) if names_nothing => {
            ApiError::blob_unknown()
        }
        RouteError::ReferenceInvalid(Malformed::ManifestTag, m) => {
            ApiError::new(StatusCode::BAD_REQUEST, "TAG_INVALID", m)
        }
        RouteError::ReferenceInvalid(_, m) => ApiError::digest_invalid(m),
        RouteError::UploadUnknown => ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
        ),
    }
}
