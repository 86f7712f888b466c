//! Upload endpoints: `POST /v2/<name>/blobs/uploads/` (start, monolithic, mount) and
//! `GET`/`PATCH`/`PUT`/`DELETE /v2/<name>/blobs/uploads/<id>`. A session answers only
//! the principal (`owner`) that opened it, through the repository it was opened in.

use super::{body_stream, content_length, header_str, HandlerResult};
use crate::distribution::Query;
use crate::error::ApiError;
use crate::range::parse_content_range;
use airlock_oci::{Digest, RepositoryName};
use airlock_registry::{Chunk, Registry, RegistryError};
use airlock_storage::UploadId;
use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

fn upload_location(name: &RepositoryName, id: &UploadId) -> String {
    format!("/v2/{name}/blobs/uploads/{id}")
}

/// The `Range` header of an upload: the bytes received so far, inclusive.
fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

fn upload_accepted(
    status: StatusCode,
    name: &RepositoryName,
    id: &UploadId,
    size: u64,
) -> Response {
    (
        status,
        [
            (header::LOCATION, upload_location(name, id)),
            (header::RANGE, range_header(size)),
            (header::CONTENT_LENGTH, "0".to_owned()),
            (
                header::HeaderName::from_static("docker-upload-uuid"),
                id.to_string(),
            ),
        ],
    )
        .into_response()
}

fn blob_created(name: &RepositoryName, digest: &Digest) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/v2/{name}/blobs/{digest}")),
            (header::CONTENT_LENGTH, "0".to_owned()),
            (
                header::HeaderName::from_static("docker-content-digest"),
                digest.to_string(),
            ),
        ],
    )
        .into_response()
}

fn digest_param(query: &Query) -> Result<Option<Digest>, ApiError> {
    query
        .get("digest")
        .map(|d| Digest::parse(d).map_err(|e| ApiError::digest_invalid(e.to_string())))
        .transpose()
}

/// Reads `Content-Range` and `Content-Length` into a chunk. A range whose length
/// disagrees with `Content-Length` is refused before anything is written.
fn chunk(headers: &HeaderMap, body: Body) -> Result<Chunk, ApiError> {
    let len = content_length(headers)?;
    let start = match header_str(headers, header::CONTENT_RANGE) {
        None => None,
        Some(h) => {
            let (start, end) = parse_content_range(h).ok_or_else(|| {
                ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "BLOB_UPLOAD_INVALID",
                    format!("invalid Content-Range {h:?}"),
                )
            })?;
            if let Some(l) = len {
                if l != end - start + 1 {
                    return Err(ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "BLOB_UPLOAD_INVALID",
                        "Content-Range does not match Content-Length",
                    ));
                }
            }
            Some(start)
        }
    };
    Ok(Chunk {
        data: body_stream(body),
        start,
        len,
    })
}

pub async fn start(
    registry: &Registry,
    name: &RepositoryName,
    owner: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> HandlerResult {
    if let Some(mount) = query.get("mount") {
        let digest = Digest::parse(mount).map_err(|e| ApiError::digest_invalid(e.to_string()))?;
        // A missing or invalid `from` falls back to a normal upload, as the spec says.
        if let Some(from) = query
            .get("from")
            .and_then(|f| RepositoryName::parse(f).ok())
        {
            if registry.mount_blob(&from, name, &digest).await?.is_some() {
                return Ok(blob_created(name, &digest));
            }
        }
    } else if let Some(digest) = digest_param(query)? {
        registry
            .upload_monolithic(name, owner, &digest, chunk(headers, body)?)
            .await?;
        return Ok(blob_created(name, &digest));
    }
    let id = registry.start_upload(name, owner).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &id, 0))
}

pub async fn status(
    registry: &Registry,
    name: &RepositoryName,
    id: &UploadId,
    owner: &str,
) -> HandlerResult {
    let size = registry.upload_status(name, id, owner).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, id, size))
}

pub async fn patch(
    registry: &Registry,
    name: &RepositoryName,
    id: &UploadId,
    owner: &str,
    headers: &HeaderMap,
    body: Body,
) -> HandlerResult {
    let chunk = chunk(headers, body)?;
    match registry.append_upload(name, id, owner, chunk).await {
        Ok(size) => Ok(upload_accepted(StatusCode::ACCEPTED, name, id, size)),
        Err(RegistryError::RangeOutOfOrder { current }) => {
            // The spec asks for the current state alongside the 416.
            let e: ApiError = RegistryError::RangeOutOfOrder { current }.into();
            Err(e
                .with_header(header::LOCATION, upload_location(name, id))
                .with_header(header::RANGE, range_header(current)))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn put(
    registry: &Registry,
    name: &RepositoryName,
    id: &UploadId,
    owner: &str,
    query: &Query,
    headers: &HeaderMap,
    body: Body,
) -> HandlerResult {
    let Some(digest) = digest_param(query)? else {
        // An unknown session is the more useful answer when both are wrong.
        registry.upload_status(name, id, owner).await?;
        return Err(ApiError::digest_invalid(
            "the digest query parameter is required",
        ));
    };
    let chunk = chunk(headers, body)?;
    registry
        .finish_upload(name, id, owner, &digest, Some(chunk))
        .await?;
    Ok(blob_created(name, &digest))
}

pub async fn cancel(
    registry: &Registry,
    name: &RepositoryName,
    id: &UploadId,
    owner: &str,
) -> HandlerResult {
    registry.cancel_upload(name, id, owner).await?;
    Ok((StatusCode::NO_CONTENT, [(header::CONTENT_LENGTH, "0")]).into_response())
}
