//! Writes in bulk: `POST /import` (a CSV) and `POST /changes` (JSON Lines, acknowledged
//! line by line as each group is durable), both within the caller's scope.

use std::io::Read;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use reach::access::Action;
use reach::csv::ImportOptions;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use utoipa::{IntoParams, ToSchema};

use super::app::App;
use super::auth::{BytesBody, Caller, QueryParams};
use super::error::{ApiError, BodyErrors, PlainErrors};
use super::query::ChannelWriter;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `all_or_nothing` (default): a bad row refuses the file; `reject`: the good rows
    /// are imported and the bad ones listed.
    #[param(value_type = Option<super::schemas::ImportMode>, inline)]
    pub mode: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportAnswer {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// With `mode=reject`: the refused rows as CSV, each with its `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects: Option<String>,
}

#[utoipa::path(post, path = "/import", tag = "change", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "contacts as CSV (csv-format.md)"),
    responses((status = 200, body = ImportAnswer), BodyErrors))]
pub async fn import(
    State(app): State<Arc<App>>,
    caller: Caller,
    QueryParams(query): QueryParams<ImportQuery>,
    BytesBody(body): BytesBody,
) -> Result<axum::Json<ImportAnswer>, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    let reject = match query.mode.as_deref() {
        None | Some("all_or_nothing") => false,
        Some("reject") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode '{other}': use all_or_nothing or reject"
            )));
        }
    };
    let answer = app
        .run(move |app| {
            let options = ImportOptions {
                size_hint: Some(body.len() as u64),
                ..ImportOptions::default()
            };
            let mut rejects: Vec<u8> = Vec::new();
            let sink = reject.then_some(&mut rejects as &mut (dyn std::io::Write + Send));
            let now = app.clock();
            let summary =
                app.engine
                    .import_in(&body[..], &options, sink, now, &|_| {}, &grant.scope)?;
            Ok(ImportAnswer {
                rows: summary.rows,
                created: summary.created,
                updated: summary.updated,
                unchanged: summary.unchanged,
                rejected: summary.rejected,
                rejects: reject.then(|| String::from_utf8_lossy(&rejects).into_owned()),
            })
        })
        .await?;
    Ok(axum::Json(answer))
}

#[utoipa::path(post, path = "/changes", tag = "change",
    request_body(content = String, content_type = "application/x-ndjson", description = "JSON Lines of changes (changes.md)"),
    responses((status = 200, description = "one acknowledgement per line, in order, each once durable", content_type = "application/x-ndjson", body = String),
        PlainErrors))]
pub async fn changes(
    State(app): State<Arc<App>>,
    caller: Caller,
    body: Body,
) -> Result<Response, ApiError> {
    let grant = caller.may(Action::Change)?.clone();
    if app.is_stopping() {
        return Err(ApiError::stopping());
    }
    let (input, reader) = tokio::sync::mpsc::channel::<Bytes>(FRAMES);
    tokio::spawn(forward(body.into_data_stream(), input));
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let worker = Arc::clone(&app);
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, ChannelWriter(sender.clone()));
        let input = BodyReader {
            frames: reader,
            rest: Bytes::new(),
        };
        let now = worker.clock();
        let result = reach::engine::acknowledge(
            &worker.engine,
            now,
            &grant.scope,
            input,
            &mut out,
            reach::engine::MAX_LINE,
        );
        if let Err(e) = result {
            let line = serde_json::json!({"ok": false, "error": e.to_string()});
            let _ = sender.blocking_send(Ok(format!("{line}\n").into_bytes()));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson")];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// Frames of a change stream read ahead of the thread committing them.
const FRAMES: usize = 16;

/// Hands a request body's frames to the thread that commits them, in order, until the
/// body ends or that thread stops reading. While it is busy (a round under way) this
/// task waits without holding its I/O thread: a blocking send there stalled every request
/// that thread served (seconds, while a round built an index).
async fn forward<E>(
    mut frames: impl tokio_stream::Stream<Item = Result<Bytes, E>> + Unpin,
    input: tokio::sync::mpsc::Sender<Bytes>,
) {
    while let Some(Ok(bytes)) = frames.next().await {
        if input.send(bytes).await.is_err() {
            break;
        }
    }
}

/// A request body as a blocking reader (for the library's change stream).
struct BodyReader {
    frames: tokio::sync::mpsc::Receiver<Bytes>,
    rest: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.rest.is_empty() {
            match self.frames.blocking_recv() {
                Some(bytes) => self.rest = bytes,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = self.rest.slice(n..);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The I/O thread goes on serving while the committing thread reads nothing, and
    /// every frame then arrives in order.
    #[test]
    fn a_busy_committer_never_blocks_the_io_thread() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().build();
            let received = runtime.expect("a runtime").block_on(async {
                let (input, mut frames) = tokio::sync::mpsc::channel(FRAMES);
                let sent = (0..FRAMES as u8 * 4).map(|i| Ok::<_, ()>(Bytes::from(vec![i])));
                let forwarding = tokio::spawn(forward(tokio_stream::iter(sent), input));
                // Nothing is read yet: the forwarding task fills the channel and waits.
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                let served = tokio::spawn(async { "served" }).await.expect("a task");
                let mut received = Vec::new();
                while let Some(bytes) = frames.recv().await {
                    received.extend_from_slice(&bytes);
                }
                forwarding.await.expect("forwarded");
                (served, received)
            });
            let _ = done.send(received);
        });
        let (served, received) = (finished.recv_timeout(Duration::from_secs(20)))
            .expect("the I/O thread was blocked by a busy committer");
        assert_eq!(served, "served");
        assert_eq!(received, (0..FRAMES as u8 * 4).collect::<Vec<u8>>());
    }
}
