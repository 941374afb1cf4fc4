//! Who is asking: the `Authorization: Bearer` credential turned into an
//! `access::Grant` once per request (`Caller`), and request bodies, paths and queries read
//! with errors of the API's one shape (`JsonBody`, `BytesBody`, `PathParams`,
//! `QueryParams`): axum's own rejections answer plain text.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use reach::access::{self, Action, Grant};

use super::app::App;
use super::error::ApiError;

/// The caller's grant.
pub struct Caller(pub Grant);

impl Caller {
    /// The grant, if it holds `action` (else 403).
    pub fn may(&self, action: Action) -> Result<&Grant, ApiError> {
        self.0.require(action).map_err(ApiError::from)?;
        Ok(&self.0)
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        if app.is_stopping() {
            return Err(ApiError::stopping());
        }
        let header = parts.headers.get(axum::http::header::AUTHORIZATION);
        let credential = match header {
            None => None,
            Some(value) => {
                let text = value.to_str().ok();
                let bearer = text.and_then(|t| t.strip_prefix("Bearer ")).map(str::trim);
                Some(bearer.ok_or_else(|| {
                    ApiError::unauthorized("the Authorization header must be `Bearer KEY`")
                })?)
            }
        };
        let keys = app.keys.read().unwrap_or_else(|e| e.into_inner());
        let grant = access::authenticate(&keys, app.master.as_deref(), credential, app.clock())
            .map_err(|e| ApiError::unauthorized(e.0))?;
        Ok(Caller(grant))
    }
}

/// A JSON request body; a malformed one is a 400 (413 over the size limit) of the API's
/// error shape.
pub struct JsonBody<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, app).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

/// A request body as bytes (a CSV); 413 over the size limit.
pub struct BytesBody(pub Bytes);

impl FromRequest<Arc<App>> for BytesBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        match Bytes::from_request(request, app).await {
            Ok(bytes) => Ok(BytesBody(bytes)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

/// A path's parameters; one that cannot be read (not UTF-8 once decoded, say) is a 400.
pub struct PathParams<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<Arc<App>> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, app).await {
            Ok(axum::extract::Path(value)) => Ok(PathParams(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

/// A query string; an unknown parameter or a value of the wrong type is a 400.
pub struct QueryParams<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequestParts<Arc<App>> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, app).await {
            Ok(axum::extract::Query(value)) => Ok(QueryParams(value)),
            Err(rejection) => Err(rejected(rejection.status(), rejection.body_text())),
        }
    }
}

/// One of axum's rejections as an answer of the API's shape: 413 stays (`too_large`), a
/// missing or wrong content type and any other refusal of the request are 400 (`usage`),
/// and a failure of the server's own (5xx) keeps its status.
fn rejected(status: StatusCode, message: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "too_large", message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::bad_request("send the body as JSON, with `Content-Type: application/json`")
        }
        s if s.is_server_error() => ApiError::new(s, "internal", message),
        _ => ApiError::bad_request(message),
    }
}
