//! The one edge type that turns every failure into an OCI error response:
//! `{"errors":[{"code":…,"message":…,"detail":…}]}` with the spec's status code.
//! Internal errors are logged with their cause chain and answered without details.

use airlock_registry::RegistryError;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Rarely set, so kept out of line: errors travel in every `Result` of the edge.
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    detail: Option<serde_json::Value>,
    headers: HeaderMap,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            extra: None,
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.extra.get_or_insert_default().headers.insert(name, v);
        }
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.extra.get_or_insert_default().detail = Some(detail);
        self
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "authentication required",
        )
        .with_header(header::WWW_AUTHENTICATE, r#"Basic realm="airlock""#)
    }

    pub fn not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown API endpoint")
    }

    pub fn unsupported(what: &str) -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!("the operation is unsupported: {what}"),
        )
    }

    pub fn name_invalid(msg: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "NAME_INVALID", msg)
    }

    pub fn digest_invalid(msg: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "DIGEST_INVALID", msg)
    }

    /// A manifest reference that names nothing this registry has.
    pub fn manifest_unknown() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown to registry",
        )
    }

    /// A blob digest that names nothing this registry has.
    pub fn blob_unknown() -> Self {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
        )
    }

    pub fn upload_invalid(msg: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", msg)
    }

    pub fn pagination_invalid(msg: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "PAGINATION_NUMBER_INVALID", msg)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            RegistryError::BlobUnknown(d) => ApiError::new(S::NOT_FOUND, "BLOB_UNKNOWN", msg)
                .with_detail(serde_json::json!({ "digest": d })),
            RegistryError::BlobUploadUnknown => {
                ApiError::new(S::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", msg)
            }
            RegistryError::BlobUploadInvalid(_) => {
                ApiError::new(S::BAD_REQUEST, "BLOB_UPLOAD_INVALID", msg)
            }
            RegistryError::RangeOutOfOrder { .. } => {
                ApiError::new(S::RANGE_NOT_SATISFIABLE, "BLOB_UPLOAD_INVALID", msg)
            }
            RegistryError::RangeNotSatisfiable { size } => {
                ApiError::new(S::RANGE_NOT_SATISFIABLE, "RANGE_INVALID", msg)
                    .with_header(header::CONTENT_RANGE, format!("bytes */{size}"))
            }
            RegistryError::DigestInvalid(_) => ApiError::new(S::BAD_REQUEST, "DIGEST_INVALID", msg),
            RegistryError::SizeInvalid(_) => ApiError::new(S::BAD_REQUEST, "SIZE_INVALID", msg),
            RegistryError::TooLarge(_) => ApiError::new(S::PAYLOAD_TOO_LARGE, "SIZE_INVALID", msg),
            RegistryError::TooManyUploads(_) => {
                ApiError::new(S::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", msg)
                    .with_header(header::RETRY_AFTER, "60")
            }
            RegistryError::ManifestUnknown(_) => {
                ApiError::new(S::NOT_FOUND, "MANIFEST_UNKNOWN", msg)
            }
            RegistryError::ManifestInvalid(_) => {
                ApiError::new(S::BAD_REQUEST, "MANIFEST_INVALID", msg)
            }
            RegistryError::ManifestBlobUnknown(d) => {
                ApiError::new(S::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN", msg)
                    .with_detail(serde_json::json!({ "digest": d }))
            }
            RegistryError::NameUnknown(_) => ApiError::new(S::NOT_FOUND, "NAME_UNKNOWN", msg),
            RegistryError::InUse { .. } => ApiError::new(S::METHOD_NOT_ALLOWED, "DENIED", msg),
            RegistryError::Unsupported(_) => {
                ApiError::new(S::METHOD_NOT_ALLOWED, "UNSUPPORTED", msg)
            }
            RegistryError::Unavailable(_) => {
                ApiError::new(S::SERVICE_UNAVAILABLE, "UNAVAILABLE", msg)
                    .with_header(header::RETRY_AFTER, "1")
            }
            RegistryError::Internal(err) => {
                tracing::error!(error = ?err, "internal error");
                ApiError::new(S::INTERNAL_SERVER_ERROR, "UNKNOWN", "internal server error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let extra = self.extra.map(|e| *e).unwrap_or_default();
        let mut entry = serde_json::json!({ "code": self.code, "message": self.message });
        if let Some(d) = extra.detail {
            entry["detail"] = d;
        }
        let body = serde_json::json!({ "errors": [entry] }).to_string();
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        resp.headers_mut().extend(extra.headers);
        resp
    }
}
