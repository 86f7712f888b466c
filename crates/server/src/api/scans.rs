//! `GET /api/v1/scans?repository=…&digest=…`: the scan state and report of a pushed
//! manifest. Readable by whoever may pull the repository (or hold `quarantine` on it).

use super::error;
use crate::auth::Caller;
use crate::AppState;
use airlock_access::{authorize, Action, Target};
use airlock_oci::{Digest, RepositoryName};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new().route("/scans", get(show))
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
    let allowed = [Action::Pull, Action::Quarantine].into_iter().any(|a| {
        authorize(
            &caller.identity,
            &policy.bindings,
            a,
            Target::Repository(&repo),
        )
        .allowed
    });
    if !allowed {
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
