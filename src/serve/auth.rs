//! Who is asking: the `Authorization: Bearer` credential turned into an
//! `access::Grant` once per request (`Caller`), and request bodies read as JSON with
//! errors of the API's one shape (`JsonBody`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
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
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let message = rejection.body_text();
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(status, "too_large", message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::BAD_REQUEST,
            "usage",
            "send the body as JSON, with `Content-Type: application/json`",
        ),
        _ => ApiError::bad_request(message),
    }
}
