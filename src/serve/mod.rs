//! `reach serve` (serve.md): one process holds the data directory and answers many
//! clients over HTTP/JSON, on axum and tokio. Every handler is a thin translation: it
//! authenticates the caller into an `access::Grant` (`auth.rs`), runs the library off the
//! I/O threads (reads on the reading threads, `readers.rs`; writes on a blocking thread,
//! `App::run`), and answers JSON or an
//! error of one shape (`error.rs`). What a key reaches is never checked here: every
//! segment is compiled with `View::compile_in` and every change committed with
//! `Engine::commit_in` under the grant's scope.
//!
//! - `app.rs`: the shared state (engine, keys, options) and the bridges off the I/O threads;
//!   `readers.rs`: the reading threads.
//! - `query.rs`: count, list, explain, export; `change.rs`: import, changes;
//!   `manage.rs`: contacts, tags, saved segments, quotas; `jobs.rs`: broadcasts;
//!   `events.rs`: membership as Server-Sent Events; `keys.rs`: API keys.
//! - `console.rs`: the console's page (console.md), served from files built in.
//! - `openapi.rs`: the OpenAPI 3.1 document, made from the handlers' annotations;
//!   `schemas.rs`: the schemas of values read as strings.

mod app;
mod auth;
mod change;
mod console;
mod error;
mod events;
mod jobs;
mod keys;
mod manage;
mod openapi;
mod query;
mod readers;
mod schemas;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use reach::{Durability, Engine, Error};

pub use app::App;

/// How `reach serve` runs.
#[derive(Clone, Debug)]
pub struct Options {
    pub listen: SocketAddr,
    pub master_key: Option<String>,
    pub durability: Durability,
    /// How often time-driven membership changes are looked for.
    pub tick: Duration,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// A fixed clock (`--now`), for reproducible answers.
    pub now: Option<i64>,
    /// Where a broadcast that names no sink goes (`serve --demo`: the demo's outbox);
    /// `None`: `platform`.
    pub default_sink: Option<String>,
}

/// Serves `engine`'s data directory until SIGTERM or SIGINT; then finishes what is in flight,
/// checkpoints and returns.
pub fn run(engine: Engine, options: Options) -> Result<(), Error> {
    if options.master_key.is_none() && !options.listen.ip().is_loopback() {
        return Err(Error::Usage(format!(
            "{} is not a loopback address: give --master-key KEY (or REACH_MASTER_KEY) so that only holders of a key are answered",
            options.listen
        )));
    }
    engine.set_durability(options.durability);
    let app = Arc::new(App::new(engine, &options)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the server's runtime", e))?;
    runtime.block_on(serve(Arc::clone(&app), &options))?;
    app.stop()
}

async fn serve(app: Arc<App>, options: &Options) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::io(format!("cannot listen on {}", options.listen), e))?;
    let address = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the address", e))?;
    eprintln!("reach serve: listening on http://{address}");
    eprintln!("reach serve: the console is at http://{address}/");
    tokio::spawn(events::tick(Arc::clone(&app), options.tick));
    let router = router(Arc::clone(&app)).layer(DefaultBodyLimit::max(options.max_body));
    axum::serve(listener, router)
        .with_graceful_shutdown(stopping(Arc::clone(&app)))
        .await
        .map_err(|e| Error::io("the server stopped", e))
}

/// Every route, from the annotated handlers (so the document lists exactly them).
pub fn router(app: Arc<App>) -> Router {
    let (router, _) = openapi::routes().split_for_parts();
    router
        .merge(console::routes())
        .fallback(no_such_path)
        .method_not_allowed_fallback(no_such_method)
        .with_state(app)
}

/// A path the API does not have: a 404 of the API's error shape (not axum's empty one).
async fn no_such_path(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("there is no {}: /openapi.json lists every path", uri.path()),
    )
}

/// A method the path does not answer: a 405 of the API's error shape.
async fn no_such_method(method: axum::http::Method, uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "usage",
        format!(
            "{} does not answer {method}: /openapi.json lists its methods",
            uri.path()
        ),
    )
}

/// Resolves on SIGTERM or SIGINT, after marking the app as stopping (new requests get
/// 503; streams end).
async fn stopping(app: Arc<App>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => _ = signal.recv().await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    eprintln!("reach serve: stopping (finishing what is in flight)");
    app.begin_stopping();
}
