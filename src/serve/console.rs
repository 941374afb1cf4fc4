//! The console (console.md): a page of plain JavaScript modules, HTML and CSS in
//! `console/`, built into the binary and served at `/` and `/console/FILE` without a key
//! (the page itself asks for one and sends it with every API request). Each file has an
//! ETag made from its bytes; a browser revalidates (`no-cache`) and gets 304 when nothing
//! changed, so a new binary's page is never mixed with an old one's.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Every file of the page: name, content type, bytes.
const FILES: [(&str, &str, &[u8]); 11] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("console/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/api.js"),
    ),
    (
        "dom.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/dom.js"),
    ),
    (
        "panel.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/panel.js"),
    ),
    (
        "filters.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/filters.js"),
    ),
    (
        "list.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/list.js"),
    ),
    (
        "actions.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/actions.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("console/i18n.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("console/style.css"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("console/icon.svg"),
    ),
];

/// Each file's ETag: a 64-bit FNV-1a hash of its bytes, quoted.
static TAGS: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, bytes)| {
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            });
            HeaderValue::from_str(&format!("\"{hash:016x}\""))
                .unwrap_or(HeaderValue::from_static("\"0\""))
        })
        .collect()
});

/// The page's routes (no state, no key).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move { serve(&file, &headers) }),
        )
}

/// One file, or 304 when the browser holds it already, or 404.
fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(index) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return super::error::ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("the console has no file {name}"),
        )
        .into_response();
    };
    let (_, kind, bytes) = FILES[index];
    let tag = TAGS[index].clone();
    let cache = (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let fresh = headers.get(header::IF_NONE_MATCH).is_some_and(|given| {
        given
            .as_bytes()
            .split(|b| *b == b',')
            .any(|t| t.trim_ascii() == tag.as_bytes())
    });
    if fresh {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag), cache]).into_response();
    }
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (header::ETAG, tag),
        cache,
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (headers, bytes).into_response()
}
