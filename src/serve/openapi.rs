//! The OpenAPI 3.1 document (`GET /openapi.json`), gathered from the handlers'
//! annotations by the same call that routes them, so it lists exactly what is served.

use std::sync::Arc;

use axum::extract::State;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::app::App;
use super::error::{ErrorBody, ErrorDetail};
use super::{change, events, jobs, keys, manage, query};

#[derive(OpenApi)]
#[openapi(
    info(title = "reach", description = "reach as a service: segments, changes, broadcasts, membership events (serve.md)."),
    modifiers(&Bearer),
    components(schemas(ErrorBody, ErrorDetail)),
)]
struct Doc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme =
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("key", scheme);
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "key",
            Vec::<String>::new(),
        )]);
    }
}

/// Every route with its documentation.
pub fn routes() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::with_openapi(Doc::openapi())
        .routes(routes!(health))
        .routes(routes!(document))
        .routes(routes!(query::count))
        .routes(routes!(query::list))
        .routes(routes!(query::explain))
        .routes(routes!(query::export))
        .routes(routes!(change::import))
        .routes(routes!(change::changes))
        .routes(routes!(manage::contact))
        .routes(routes!(manage::accounts))
        .routes(routes!(
            manage::tags,
            manage::create_tags,
            manage::delete_tags
        ))
        .routes(routes!(manage::segments))
        .routes(routes!(manage::save_segment, manage::forget_segment))
        .routes(routes!(manage::quotas))
        .routes(routes!(manage::set_quota))
        .routes(routes!(jobs::start, jobs::jobs))
        .routes(routes!(jobs::job))
        .routes(routes!(jobs::resume))
        .routes(routes!(jobs::cancel))
        .routes(routes!(events::membership))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
}

/// The document itself.
pub fn document_json() -> utoipa::openapi::OpenApi {
    let (_, doc) = routes().split_for_parts();
    doc
}

#[utoipa::path(get, path = "/health", tag = "meta", security(()),
    responses((status = 200, description = "the server is up", body = Object)))]
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"ok": true}))
}

#[utoipa::path(get, path = "/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "this document", body = Object)))]
async fn document(State(_): State<Arc<App>>) -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(document_json())
}
