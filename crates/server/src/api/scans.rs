//! The scan API. `GET /api/v1/scans?repository=…&digest=…`: the scan state and report
//! of a pushed manifest, readable by whoever may pull the repository (or hold
//! `quarantine` on it). `GET /api/v1/scans/events?after=ID`: scans and changes of
//! findings, oldest first, only of repositories the caller may read. `POST
//! /api/v1/scans/rematch` (administrators): re-match stored inventories against the
//! advisory database now rather than at the next periodic check.

use super::error;
use crate::auth::Caller;
use crate::AppState;
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
}

#[derive(Deserialize)]
pub struct Which {
    repository: String,
    digest: String,
}

async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(q): Query<Which>,
) -> Response {
    let (Ok(repo), Ok(digest)) = (
        RepositoryName::parse(&q.repository),
        Digest::parse(&q.digest),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "give a valid repository and digest",
        );
    };
    let policy = state.directory.policy().await;
    if !may_read(&caller, &policy.bindings, &repo) {
        // The same answer whether or not the repository exists.
        return error(StatusCode::NOT_FOUND, "no scan of that manifest");
    }
    let Some(scans) = &state.scans else {
        return error(
            StatusCode::NOT_FOUND,
            "scanning is switched off on this registry",
        );
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
        return error(
            StatusCode::NOT_FOUND,
            "scanning is switched off on this registry",
        );
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
    if let Some(refusal) = super::not_admin(&state, &caller).await {
        return refusal;
    }
    let Some(scans) = &state.scans else {
        return error(
            StatusCode::NOT_FOUND,
            "scanning is switched off on this registry",
        );
    };
    match scans.rematch().await {
        Ok(stats) => Json(json!({ "rematched": stats })).into_response(),
        Err(e) => super::internal(e),
    }
}
