//! Every error answer has one shape (serve.md): `{"error": {"kind", "message"}}`, with
//! `"span": [start, end]` (byte offsets) and `"help"` for a segment; its status comes
//! from the error's kind (`ErrorKind::http_status`), 401 and 413 from the server.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reach::Error;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable name: segment, usage, not_found, conflict, forbidden, unauthorized, …
    pub kind: String,
    pub message: String,
    /// For a segment: the byte offsets of the part in error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[usize; 2]>,
    /// A suggestion ("did you mean 'tag'?").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// An error on its way to becoming an answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorDetail,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorDetail {
                kind: kind.into(),
                message: message.into(),
                span: None,
                help: None,
            },
        }
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn stopping() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down: try again once it is back",
        )
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "usage", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let kind = e.kind();
        let status =
            StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = ApiError::new(status, kind.as_str(), e.to_string());
        if let Error::Segment(d) = &e {
            error.body.message = d.message();
            error.body.span = Some([d.span.start, d.span.end]);
            error.body.help = d.help.clone();
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.body })).into_response()
    }
}
