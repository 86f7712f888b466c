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
