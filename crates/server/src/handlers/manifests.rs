//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use super::{content_length, header_str, HandlerResult};
use crate::error::ApiError;
use airlock_oci::manifest::MAX_MANIFEST_BYTES;
use airlock_oci::{Reference, RepositoryName};
use airlock_registry::Registry;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "SIZE_INVALID",
        format!("manifest exceeds {MAX_MANIFEST_BYTES} bytes"),
    )
}

pub async fn get(
    registry: &Registry,
    name: &RepositoryName,
    reference: &Reference,
    head_only: bool,
) -> HandlerResult {
    let m = registry.get_manifest(name, reference).await?;
    let body = if head_only {
        Body::empty()
    } else {
        Body::from(m.bytes.clone())
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header(header::CONTENT_LENGTH, m.bytes.len())
        .header("docker-content-digest", m.digest.as_str())
        .header(header::ETAG, format!("\"{}\"", m.digest))
        .body(body)
        .expect("valid response parts"))
}

pub async fn put(
    registry: &Registry,
    name: &RepositoryName,
    reference: &Reference,
    headers: &HeaderMap,
    body: Body,
) -> HandlerResult {
    if content_length(headers)?.is_some_and(|l| l > MAX_MANIFEST_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = Limited::new(body, MAX_MANIFEST_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_INVALID",
                    "request body failed",
                )
            }
        })?
        .to_bytes();
    let content_type = header_str(headers, header::CONTENT_TYPE);
    let outcome = registry
        .put_manifest(name, reference, content_type, bytes)
        .await?;
    let mut resp = Response::builder()
        .status(StatusCode::CREATED)
        .header(
            header::LOCATION,
            format!("/v2/{name}/manifests/{}", outcome.digest),
        )
        .header(header::CONTENT_LENGTH, 0)
        .header("docker-content-digest", outcome.digest.as_str());
    if let Some(subject) = &outcome.subject {
        resp = resp.header("oci-subject", subject.as_str());
    }
    Ok(resp.body(Body::empty()).expect("valid response parts"))
}

pub async fn delete(
    registry: &Registry,
    name: &RepositoryName,
    reference: &Reference,
) -> HandlerResult {
    registry.delete_manifest(name, reference).await?;
    Ok((StatusCode::ACCEPTED, [(header::CONTENT_LENGTH, "0")]).into_response())
}
