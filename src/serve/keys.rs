//! `POST /keys`, `GET /keys`, `DELETE /keys/{id}`: API keys, for the master key or a key
//! with the `keys` action (which makes keys no wider than its own).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use reach::Error;
use reach::access::{Action, Grant, KeySpec};
use reach::model::time::parse_rfc3339;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::app::App;
use super::auth::{Caller, JsonBody, PathParams};
use super::error::{ApiError, BodyErrors, LookupErrors, PlainErrors};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// Any of read, change, broadcast, keys.
    #[schema(schema_with = super::schemas::actions_schema)]
    pub actions: Vec<Action>,
    /// Account ids it reaches, or ["*"].
    pub accounts: Vec<String>,
    /// A segment it is confined to.
    pub segment: Option<String>,
    /// When it stops working (RFC 3339).
    pub expires_at: Option<String>,
}

#[utoipa::path(post, path = "/keys", tag = "keys", operation_id = "create_key", request_body = KeyRequest,
    responses((status = 201, description = "the key, with its value shown this once", body = Object), BodyErrors))]
pub async fn create(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(body): JsonBody<KeyRequest>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let grant = caller.may(Action::Keys)?.clone();
    let expires_at = match &body.expires_at {
        None => None,
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "\"expires_at\": expected an RFC 3339 time, got '{text}'"
            ))
        })?),
    };
    let spec = KeySpec {
        actions: body.actions.into_iter().collect(),
        accounts: body.accounts,
        segment: body.segment,
        expires_at,
    };
    no_wider(&grant, &spec)?;
    let made = app
        .run(move |app| {
            if let Some(segment) = &spec.segment {
                app.engine.compile(segment, app.clock())?;
            }
            let mut keys = app.keys.write().unwrap_or_else(|e| e.into_inner());
            keys.create(spec, app.clock())
        })
        .await?;
    let mut answer = made.key.to_json();
    answer["key"] = made.value.into();
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// A key made by a key is no wider than it: its actions and accounts within the maker's,
/// and the maker's segments kept.
fn no_wider(maker: &Grant, spec: &KeySpec) -> Result<(), ApiError> {
    if maker.key.is_none() {
        return Ok(());
    }
    let wider_actions = !spec.actions.is_subset(&maker.actions);
    let all = spec.accounts.iter().any(|a| a == "*");
    let wider_accounts = match &maker.scope.accounts {
        None => false,
        Some(mine) => {
            all || !spec
                .accounts
                .iter()
                .collect::<BTreeSet<_>>()
                .is_subset(&mine.iter().collect())
        }
    };
    let loses_segments = !maker.scope.segments.is_empty()
        && maker
            .scope
            .segments
            .iter()
            .any(|s| spec.segment.as_deref() != Some(s.as_str()));
    if wider_actions || wider_accounts || loses_segments {
        return Err(ApiError::from(Error::Forbidden(
            "a key may make keys no wider than itself (its actions, accounts and segment)".into(),
        )));
    }
    Ok(())
}

#[utoipa::path(get, path = "/keys", tag = "keys", operation_id = "list_keys",
    responses((status = 200, description = "every key (never a value)", body = Vec<Object>), PlainErrors))]
pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    caller.may(Action::Keys)?;
    let keys = app.keys.read().unwrap_or_else(|e| e.into_inner());
    Ok(axum::Json(
        keys.list().iter().map(|k| k.to_json()).collect(),
    ))
}

#[utoipa::path(delete, path = "/keys/{id}", tag = "keys", operation_id = "revoke_key", params(("id" = String, Path)),
    responses((status = 204, description = "revoked"), LookupErrors))]
pub async fn revoke(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<StatusCode, ApiError> {
    caller.may(Action::Keys)?;
    app.run(move |app| {
        let mut keys = app.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.revoke(&id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
