//! Dispatch of `/v2/<path>` requests to handlers, by parsed endpoint and method.

use crate::error::ApiError;
use crate::handlers::{blobs, listing, manifests, uploads};
use crate::route::{self, Endpoint, RouteError};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// Query parameters, decoded; the last value wins for repeated keys.
pub(crate) type Query = HashMap<String, String>;

pub async fn dispatch(
    State(state): State<AppState>,
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
    q.split('&')
        .filter(|p| !p.is_empty())
        .take(64)
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .ok()
                    .map(|c| c.into_owned())
            };
            Some((dec(k)?, dec(v)?))
        })
        .collect()
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
