//! Dispatch of `/v2/<path>` requests to handlers, by parsed endpoint and method.

use crate::auth::{self, Caller};
use crate::error::ApiError;
use crate::handlers::{blobs, listing, manifests, uploads};
use crate::route::{self, Endpoint, RouteError};
use crate::AppState;
use airlock_access::{authorize, Action, ActionSet, Target};
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
        Endpoint::Manifest(n, _) | Endpoint::Blob(n, _) => n,
        // Every upload step is part of a push.
        Endpoint::StartUpload(n) | Endpoint::Upload(n, _) => {
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

fn decide(caller: &Caller, action: Action, target: Target<'_>) -> airlock_access::Decision {
    authorize(&caller.identity, &auth::bindings(), action, target)
}

/// Decides a request, records the decision in the audit log, and refuses what the
/// caller may not do: a token holder is challenged for the scope (so the client
/// fetches a better token), a password holder is denied.
async fn check(
    state: &AppState,
    caller: &Caller,
    need: &Need,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let (decisions, resource): (Vec<(Action, airlock_access::Decision)>, String) = match need {
        Need::Catalog => (
            vec![(Action::List, decide(caller, Action::List, Target::Registry))],
            "registry:catalog".into(),
        ),
        Need::Repository(name, actions) => (
            actions
                .iter()
                .map(|a| (a, decide(caller, a, Target::Repository(name))))
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
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "the token does not grant this access",
        )
        .with_header(
            axum::http::header::WWW_AUTHENTICATE,
            auth::challenge(state, headers, Some(&need.scope()), true),
        ))
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            "requested access to the resource is denied",
        ))
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
        Err(e) => return route_error(e).into_response(),
    };
    if let Some(need) = need(&endpoint, &method) {
        if let Err(e) = check(&state, &caller, &need, &method, &headers).await {
            return e.into_response();
        }
    }
    let mut query = query;
    if let (Endpoint::StartUpload(_), Some(from)) = (&endpoint, query.get("from")) {
        // Mounting reads `from`: without the right to pull it, a normal upload.
        let readable = RepositoryName::parse(from)
            .is_ok_and(|f| decide(&caller, Action::Pull, Target::Repository(&f)).allowed);
        if !readable {
            query.remove("mount");
        }
    }
    let r = &state.registry;
    let result = match (endpoint, method) {
        (Endpoint::Catalog, Method::GET) => listing::catalog(r, &query).await,
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
            manifests::put(r, &name, &reference, &headers, body).await
        }
        (Endpoint::Manifest(name, reference), Method::DELETE) => {
            manifests::delete(r, &name, &reference).await
        }
        (Endpoint::Blob(name, d), Method::GET) => blobs::get(r, &name, &d, &headers, false).await,
        (Endpoint::Blob(name, d), Method::HEAD) => blobs::get(r, &name, &d, &headers, true).await,
        (Endpoint::Blob(name, d), Method::DELETE) => blobs::delete(r, &name, &d).await,
        (Endpoint::StartUpload(name), Method::POST) => {
            uploads::start(r, &name, &query, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::GET) => uploads::status(r, &name, &id).await,
        (Endpoint::Upload(name, id), Method::PATCH) => {
            uploads::patch(r, &name, &id, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::PUT) => {
            uploads::put(r, &name, &id, &query, &headers, body).await
        }
        (Endpoint::Upload(name, id), Method::DELETE) => uploads::cancel(r, &name, &id).await,
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

fn route_error(e: RouteError) -> ApiError {
    match e {
        RouteError::NotFound => ApiError::not_found(),
        RouteError::NameInvalid(m) => ApiError::name_invalid(m),
        RouteError::DigestInvalid(m) => ApiError::digest_invalid(m),
        RouteError::TagInvalid(m) => ApiError::new(StatusCode::BAD_REQUEST, "TAG_INVALID", m),
        RouteError::UploadUnknown => ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
        ),
    }
}
