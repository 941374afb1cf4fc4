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

/// What each error status means, for the document.
fn meaning(status: u16) -> &'static str {
    match status {
        400 => "a malformed request: its JSON, content type, parameters or segment",
        401 => "no key, or an unknown, revoked or expired one",
        403 => "the key may not do this, or not reach these contacts",
        404 => "no such thing",
        409 => "a conflict: a job id used before, a job that has ended, a refusal",
        413 => "the body is larger than the server's limit",
        500 => "a failure of reach or its system (never a malformed request)",
        503 => "the server is shutting down, or busy",
        _ => "an error",
    }
}

/// The error answers with `statuses`, each an `ErrorBody`.
fn error_responses(
    statuses: &[u16],
) -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::Response>> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    statuses
        .iter()
        .map(|status| {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build();
            let response = ResponseBuilder::new()
                .description(meaning(*status))
                .content("application/json", content)
                .build();
            (status.to_string(), response.into())
        })
        .collect()
}

/// Named sets of error answers for the handlers' annotations
/// (`responses((status = 200, …), BodyErrors)`): each lists the statuses its operations
/// can answer, so that the document holds every real answer and no other.
macro_rules! error_sets {
    ($($(#[$doc:meta])* $name:ident = [$($status:literal),*];)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::Response>,
            > {
                error_responses(&[$($status),*])
            }
        }
    )*};
}

error_sets! {
    /// A read with no body or parameters.
    PlainErrors = [401, 403, 500, 503];
    /// A request with a JSON body (or a CSV, or parameters).
    BodyErrors = [400, 401, 403, 413, 500, 503];
    /// A request with query parameters.
    QueryErrors = [400, 401, 403, 500, 503];
    /// A request with a body or parameters naming something that may not exist.
    BodyLookupErrors = [400, 401, 403, 404, 413, 500, 503];
    /// A request naming something that may not exist, with its name in the path.
    LookupErrors = [400, 401, 403, 404, 500, 503];
    /// A broadcast: its body, and a used id or a refusal.
    BroadcastErrors = [400, 401, 403, 409, 413, 500, 503];
    /// A job's action: no such job, or one that has ended.
    JobErrors = [400, 401, 403, 404, 409, 500, 503];
}
