//! Content discovery: tags list, catalog and referrers.

use super::HandlerResult;
use crate::distribution::Query;
use crate::error::ApiError;
use airlock_oci::media_type::OCI_INDEX;
use airlock_oci::{Digest, RepositoryName};
use airlock_registry::Registry;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Reads `n` and `last`. `n` must be a non-negative integer.
fn pagination(query: &Query) -> Result<(Option<u32>, Option<&str>), ApiError> {
    let n = query
        .get("n")
        .map(|n| {
            n.parse::<u32>()
                .map_err(|_| ApiError::pagination_invalid(format!("invalid n={n:?}")))
        })
        .transpose()?;
    Ok((n, query.get("last").map(String::as_str)))
}

/// Fetches one more than asked to learn whether a next page exists, and adds the
/// RFC 5988 `Link` header pointing at it.
fn page(
    items: Vec<String>,
    limit: u32,
    base: &str,
    mut body: serde_json::Value,
    key: &str,
) -> Response {
    let more = items.len() > limit as usize;
    let items: Vec<String> = items.into_iter().take(limit as usize).collect();
    let next = match (more, items.last()) {
        (true, Some(last)) => Some(format!(
            "<{base}?n={limit}&last={}>; rel=\"next\"",
            percent_encoding::utf8_percent_encode(last, percent_encoding::NON_ALPHANUMERIC)
        )),
        _ => None,
    };
    body[key] = items.into();
    let mut resp = Json(body).into_response();
    if let Some(link) = next.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, link);
    }
    resp
}

pub async fn tags(registry: &Registry, name: &RepositoryName, query: &Query) -> HandlerResult {
    let (n, last) = pagination(query)?;
    let limit = n
        .unwrap_or(registry.limits().max_page)
        .min(registry.limits().max_page);
    let tags = if limit == 0 {
        // Still tells NAME_UNKNOWN apart from an empty page.
        registry.list_tags(name, last, Some(0)).await?
    } else {
        registry.list_tags(name, last, Some(limit + 1)).await?
    };
    let base = format!("/v2/{name}/tags/list");
    let resp = page(
        tags,
        limit,
        &base,
        serde_json::json!({ "name": name.as_str() }),
        "tags",
    );
    Ok(resp)
}

/// Repositories looked at per store query while filtering the catalog.
const CATALOG_BATCH: u32 = 500;

/// The catalog, showing only repositories `visible` says the caller may see; pages
/// are filled from as many store reads as it takes.
pub async fn catalog(
    registry: &Registry,
    query: &Query,
    visible: impl Fn(&str) -> bool,
) -> HandlerResult {
    let (n, last) = pagination(query)?;
    let limit = n
        .unwrap_or(registry.limits().max_page)
        .min(registry.limits().max_page);
    let mut repos = Vec::new();
    let mut cursor = last.map(str::to_owned);
    while limit > 0 && repos.len() <= limit as usize {
        let batch = registry
            .catalog(cursor.as_deref(), Some(CATALOG_BATCH.max(limit + 1)))
            .await?;
        let exhausted = batch.len() < CATALOG_BATCH.max(limit + 1) as usize;
        cursor = batch.last().cloned();
        repos.extend(batch.into_iter().filter(|r| visible(r)));
        if exhausted {
            break;
        }
    }
    Ok(page(
        repos,
        limit,
        "/v2/_catalog",
        serde_json::json!({}),
        "repositories",
    ))
}

pub async fn referrers(
    registry: &Registry,
    name: &RepositoryName,
    digest: &Digest,
    query: &Query,
) -> HandlerResult {
    let artifact_type = query
        .get("artifactType")
        .map(String::as_str)
        .filter(|a| !a.is_empty());
    let found = registry.referrers(name, digest, artifact_type).await?;
    let manifests: Vec<serde_json::Value> = found
        .into_iter()
        .map(|r| {
            let mut d = serde_json::json!({
                "mediaType": r.media_type,
                "digest": r.digest,
                "size": r.size,
            });
            if let Some(a) = r.artifact_type {
                d["artifactType"] = a.into();
            }
            if let Some(ann) = r
                .annotations
                .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
            {
                d["annotations"] = ann;
            }
            d
        })
        .collect();
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": manifests,
    });
    let mut resp = ([(header::CONTENT_TYPE, OCI_INDEX)], body.to_string()).into_response();
    if artifact_type.is_some() {
        resp.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}
