//! The access log: one info-level line per request (target `airlock::access`) with
//! the method, the path, the status, the response size, the time to the response
//! head, the identity and the request id.
//!
//! Never a credential: the path is logged without its query string, no header is
//! logged but the request id, and the identity is the authenticated principal's
//! name (`-` before authentication or when it failed). Streamed bodies are logged
//! when their head is sent; `bytes` is their declared length (`-` when unknown).

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Longest path logged, in characters.
const MAX_PATH: usize = 256;

/// Who a request was served to; the authentication middleware puts it into the
/// response's extensions for this log.
#[derive(Debug, Clone)]
pub struct Served(pub String);

/// Middleware (outside the routes, inside the request-id layer).
pub async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(MAX_PATH).collect();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let resp = next.run(req).await;
    let identity = resp
        .extensions()
        .get::<Served>()
        .map_or("-", |s| s.0.as_str());
    let bytes = resp
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info!(
        target: "airlock::access",
        method = %method,
        path = %path,
        status = resp.status().as_u16(),
        bytes = %bytes,
        ms = started.elapsed().as_secs_f64() * 1000.0,
        identity = %identity,
        request_id = %request_id,
        "request"
    );
    resp
}
