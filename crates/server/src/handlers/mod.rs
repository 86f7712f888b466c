//! One module per resource of the distribution API.

pub mod blobs;
pub mod listing;
pub mod manifests;
pub mod uploads;

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

pub type HandlerResult = Result<Response, ApiError>;

/// `GET /v2/`: the API version check clients start with.
pub async fn api_version() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
}

/// Decoded `key=value` pairs of a query string, in order (repeats kept), at most
/// `max` of them; pairs that are not UTF-8 after decoding are dropped.
pub(crate) fn query_pairs(q: &str, max: usize) -> impl Iterator<Item = (String, String)> + '_ {
    q.split('&')
        .filter(|p| !p.is_empty())
        .take(max)
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
}

/// The request body as a byte stream for the storage layer.
pub(crate) fn body_stream(body: Body) -> airlock_storage::ByteStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

/// `Content-Length`, if present; a malformed one is an error, not "absent".
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    match headers.get(header::CONTENT_LENGTH) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "SIZE_INVALID",
                    "invalid Content-Length",
                )
            }),
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
