//! The scan API. `GET /api/v1/scans?repository=…&digest=…`: the scan state and report
//! of a pushed manifest, readable by whoever may pull the repository (or hold
//! `quarantine` on it). `GET /api/v1/scans/events?after=ID`: scans and changes of
//! findings, oldest first, only of repositories the caller may read. `POST
//! /api/v1/scans/rematch` (administrators): re-match stored inventories against the
//! advisory database now rather than at the next periodic check.
//! `GET /api/v1/scans/sbom?repository=…&digest=…&format=cyclonedx|spdx[&platform=os/arch]`:
//! the SBOM of a scanned manifest, generated from its stored inventory, for the same
//! readers as its report. `GET|PUT|DELETE /api/v1/scans/sbom-referrers`
//! (administrators): the repository patterns whose scanned images also get their
//! SBOMs pushed into the repository as OCI referrers (none by default).

use super::error;
use crate::auth::Caller;
use crate::scanning::{PatternSource, SbomError, SbomFormat, MAX_SBOM_PATTERNS};
use crate::AppState;
use airlock_access::RepoPattern;
use airlock_access::{authorize, Action, Target};
use airlock_oci::{Digest, RepositoryName};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/scans", get(show))
        .route("/scans/events", get(events))
        .route("/scans/rematch", post(rematch))
        .route("/scans/sbom", get(sbom))
        .route(
            "/scans/sbom-referrers",
            get(show_sbom_referrers)
                .put(set_sbom_referrers)
                .delete(reset_sbom_referrers),
        )
}

#[derive(Deserialize)]
pub struct Which {
    repository: String,
    digest: String,
}

impl Which {
    /// The repository and the digest, when both are valid.
    fn parse(&self) -> Option<(RepositoryName, Digest)> {
        Some((
            RepositoryName::parse(&self.repository).ok()?,
            Digest::parse(&self.digest).ok()?,
        ))
    }
}

fn invalid_which() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "give a valid repository and digest",
    )
}

async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Which>,
) -> Response {
    let Some((repo, digest)) = q.parse() else {
        return invalid_which();
    };
    let policy = state.directory.policy().await;
    if !may_read(&caller, &policy.bindings, &repo) {
        // The same answer whether or not the repository exists.
        return error(StatusCode::NOT_FOUND, "no scan of that manifest");
    }
    let Some(scans) = &state.scans else {
        return scanning_off();
    };
    let digest = digest.to_string();
    let job = match scans.job(repo.as_str(), &digest).await {
        Ok(Some(job)) => job,
        Ok(None) => return error(StatusCode::NOT_FOUND, "no scan of that manifest"),
        Err(e) => return super::internal(e),
    };
    let report = match scans.report(repo.as_str(), &digest).await {
        Ok(r) => r,
        Err(e) => return super::internal(e),
    };
    Json(json!({
        "state": job.state,
        "attempts": job.attempts,
        "error": job.error,
        "queued_at": job.queued_at,
        "scanned_at": report.as_ref().map(|(at, _)| at),
        "report": report.map(|(_, r)| r),
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct WhichSbom {
    #[serde(flatten)]
    which: Which,
    format: Option<String>,
    platform: Option<String>,
}

async fn sbom(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<WhichSbom>,
) -> Response {
    let Some((repo, digest)) = q.which.parse() else {
        return invalid_which();
    };
    let Some(format) = SbomFormat::parse(q.format.as_deref().unwrap_or("cyclonedx")) else {
        return error(StatusCode::BAD_REQUEST, "format is cyclonedx or spdx");
    };
    let policy = state.directory.policy().await;
    if !may_read(&caller, &policy.bindings, &repo) {
        return error(StatusCode::NOT_FOUND, "no scan of that manifest");
    }
    let Some(scans) = &state.scans else {
        return scanning_off();
    };
    match scans
        .sbom(&repo, &digest, format, q.platform.as_deref())
        .await
    {
        Ok(doc) => (
            [(axum::http::header::CONTENT_TYPE, format.media_type())],
            Json(doc),
        )
            .into_response(),
        Err(SbomError::NotScanned) => error(StatusCode::NOT_FOUND, "no scan of that manifest"),
        Err(e @ (SbomError::PlatformNeeded(_) | SbomError::UnknownPlatform(_))) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(SbomError::Internal(e)) => super::internal(e),
    }
}

/// The SBOM-referrer patterns as the API shows them.
fn patterns_body(patterns: &[RepoPattern], source: PatternSource) -> Response {
    let texts: Vec<&str> = patterns.iter().map(RepoPattern::as_str).collect();
    Json(json!({ "source": source, "patterns": texts })).into_response()
}

async fn show_sbom_referrers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let scans = match admin_scans(&state, &caller).await {
        Ok(scans) => scans,
        Err(refusal) => return *refusal,
    };
    match scans.sbom_referrers().await {
        Ok((patterns, source)) => patterns_body(&patterns, source),
        Err(e) => super::internal(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patterns {
    patterns: Vec<String>,
}

async fn set_sbom_referrers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<Patterns>,
) -> Response {
    let scans = match admin_scans(&state, &caller).await {
        Ok(scans) => scans,
        Err(refusal) => return *refusal,
    };
    if body.patterns.len() > MAX_SBOM_PATTERNS {
        return error(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_SBOM_PATTERNS} patterns"),
        );
    }
    let patterns = match RepoPattern::parse_all(&body.patterns) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let r = scans.set_sbom_referrers(Some(&patterns)).await;
    let summary = body.patterns.join(",");
    super::audit(&state, &caller, "sbom referrers set", &summary, r.is_ok()).await;
    match r {
        Ok(()) => patterns_body(&patterns, PatternSource::Stored),
        Err(e) => super::internal(e),
    }
}

/// Forgets the stored patterns: the configuration's apply again.
async fn reset_sbom_referrers(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    let scans = match admin_scans(&state, &caller).await {
        Ok(scans) => scans,
        Err(refusal) => return *refusal,
    };
    let r = scans.set_sbom_referrers(None).await;
    super::audit(
        &state,
        &caller,
        "sbom referrers reset",
        "sbom referrers",
        r.is_ok(),
    )
    .await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => super::internal(e),
    }
}

/// The scan service for an administrator, or why not (boxed: responses are large).
async fn admin_scans<'s>(
    state: &'s AppState,
    caller: &Caller,
) -> Result<&'s std::sync::Arc<crate::scanning::ScanService>, Box<Response>> {
    if let Some(refusal) = super::not_admin(state, caller).await {
        return Err(Box::new(refusal));
    }
    state.scans.as_ref().ok_or_else(|| Box::new(scanning_off()))
}

/// The answer when scanning is switched off.
fn scanning_off() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "scanning is switched off on this registry",
    )
}

/// Whether the caller may see scans of `repo`.
fn may_read(caller: &Caller, bindings: &[airlock_access::Binding], repo: &RepositoryName) -> bool {
    [Action::Pull, Action::Quarantine]
        .into_iter()
        .any(|a| authorize(&caller.identity, bindings, a, Target::Repository(repo)).allowed)
}

#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Page>,
) -> Response {
    let Some(scans) = &state.scans else {
        return scanning_off();
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let found = match scans.events(q.after, limit).await {
        Ok(e) => e,
        Err(e) => return super::internal(e),
    };
    let policy = state.directory.policy().await;
    let next = found.last().map(|e| e.id).unwrap_or(q.after);
    let events: Vec<serde_json::Value> = found
        .into_iter()
        .filter(|e| {
            RepositoryName::parse(&e.repository)
                .is_ok_and(|r| may_read(&caller, &policy.bindings, &r))
        })
        .map(|e| {
            json!({
                "id": e.id,
                "at": e.at,
                "repository": e.repository,
                "digest": e.digest,
                "kind": e.kind,
                "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "events": events, "next": next })).into_response()
}

async fn rematch(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let scans = match admin_scans(&state, &caller).await {
        Ok(scans) => scans,
        Err(refusal) => return *refusal,
    };
    match scans.rematch().await {
        Ok(stats) => Json(json!({ "rematched": stats })).into_response(),
        Err(e) => super::internal(e),
    }
}
