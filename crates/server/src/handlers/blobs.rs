//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use super::{header_str, HandlerResult};
use crate::range::{parse_range, RangeRequest};
use airlock_oci::{Digest, RepositoryName};
use airlock_registry::{Registry, RegistryError};
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

pub async fn get(
    registry: &Registry,
    name: &RepositoryName,
    digest: &Digest,
    headers: &HeaderMap,
    head_only: bool,
) -> HandlerResult {
    let size = registry.blob_size(name, digest).await?;
    let range = match header_str(headers, header::RANGE) {
        Some(h) if !head_only => parse_range(h, size),
        _ => RangeRequest::Whole,
    };
    let (status, offset, len, content_range) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, size, None),
        RangeRequest::Partial(r) => (
            StatusCode::PARTIAL_CONTENT,
            r.start,
            r.len(),
            Some(format!("bytes {}-{}/{size}", r.start, r.end)),
        ),
        RangeRequest::Unsatisfiable => {
            return Err(RegistryError::RangeNotSatisfiable { size }.into())
        }
    };
    let body = if head_only {
        Body::empty()
    } else {
        Body::from_stream(registry.open_blob(digest, offset, len).await?)
    };
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header("docker-content-digest", digest.as_str())
        .header(header::ETAG, format!("\"{digest}\""));
    if let Some(cr) = content_range {
        resp = resp.header(header::CONTENT_RANGE, cr);
    }
    Ok(resp.body(body).expect("valid response parts"))
}

pub async fn delete(registry: &Registry, name: &RepositoryName, digest: &Digest) -> HandlerResult {
    registry.delete_blob(name, digest).await?;
    Ok((StatusCode::ACCEPTED, [(header::CONTENT_LENGTH, "0")]).into_response())
}
