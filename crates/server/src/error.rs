//! Errors as JSON with a stable code and a human message.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A failure behind the origin (the store, the key store, a stored asset that cannot
    /// be packaged). Viewers get a generic message with a request id; `detail`, which
    /// names object keys and carries the store's own error text, goes to the log under
    /// that id only.
    pub fn upstream(
        status: StatusCode,
        code: &'static str,
        detail: impl std::fmt::Display,
    ) -> ApiError {
        let request_id = uuid::Uuid::now_v7().simple().to_string();
        tracing::error!(request_id = %request_id, code, detail = %detail, "origin failure");
        let what = if status == StatusCode::GATEWAY_TIMEOUT {
            "the origin's storage did not answer in time"
        } else {
            "the origin could not serve this object"
        };
        ApiError::new(status, code, format!("{what} (request id {request_id})"))
    }
}

impl From<openvod_store::Error> for ApiError {
    fn from(e: openvod_store::Error) -> ApiError {
        use openvod_store::Error as E;
        match e {
            E::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            E::Key { .. } => ApiError::new(StatusCode::BAD_REQUEST, "invalid_key", e.to_string()),
            other => {
                tracing::error!(error = %other, "storage error");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "storage is unavailable, try again",
                )
            }
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code to act on, and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, lowercase, e.g. `not_found`, `invalid_json`, `too_large`, `unauthorized`.
    #[schema(pattern = "^[a-z0-9_]+$")]
    pub code: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// An extractor's refusal as a JSON error: the same shape as every other error, and the
/// status the OpenAPI document lists (415 for a body that is not JSON, 413 past the body
/// limit, else 400).
fn rejected(status: StatusCode, code: &'static str, text: String) -> ApiError {
    match status {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "send Content-Type: application/json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "too_large", text),
        _ => ApiError::bad_request(code, text),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        rejected(e.status(), "invalid_json", e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        rejected(e.status(), "invalid_query", e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> ApiError {
        rejected(StatusCode::BAD_REQUEST, "invalid_path", e.body_text())
    }
}
