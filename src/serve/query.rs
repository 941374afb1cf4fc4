//! Reads: count, list, explain, export. Each compiles its segment within the caller's
//! scope (`View::compile_in`), so it sees only the contacts the key reaches.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use reach::access::{Action, Grant};
use reach::csv::ColumnChoice;
use reach::engine::{Segment, View};
use reach::model::Channel;
use reach::model::json::contact_json;
use reach::{Error, Identity};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::app::App;
use super::auth::{Caller, JsonBody};
use super::error::{ApiError, BodyErrors};

/// The most contacts one page of `POST /list` gives.
const MAX_PAGE: usize = 1_000;

/// A segment and the clock to read it at.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CountRequest {
    /// A segment (segment-language.md); empty: every contact.
    pub segment: String,
    /// The query's now (RFC 3339), as `--now`.
    pub now: Option<String>,
    /// The time zone of dates without an offset, as `--tz` (`+08:00`).
    pub tz: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CountAnswer {
    pub count: u64,
    /// Microseconds the count took.
    pub micros: u64,
    /// Notes on the segment (a tag no contact carries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Compiles `text` for `grant` on a view (at the request's zone), and runs `then`.
pub fn with_segment<T>(
    app: &App,
    grant: &Grant,
    text: &str,
    now: Option<&str>,
    tz: Option<&str>,
    then: impl FnOnce(&View<'_>, Segment) -> Result<T, Error>,
) -> Result<T, Error> {
    let now = app.now(now)?;
    let tz = App::tz(tz)?;
    let view = app.engine.read();
    let view = match tz {
        Some(tz) => view.in_zone(tz),
        None => view,
    };
    let segment = view.compile_in(text, now, &grant.scope)?;
    then(&view, segment)
}

#[utoipa::path(post, path = "/count", tag = "query", request_body = CountRequest,
    responses((status = 200, body = CountAnswer), BodyErrors))]
pub async fn count(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(request): JsonBody<CountRequest>,
) -> Result<axum::Json<CountAnswer>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let answer = app
        .query(move |app| {
            let (now, tz) = (request.now.as_deref(), request.tz.as_deref());
            with_segment(app, &grant, &request.segment, now, tz, |view, segment| {
                let started = Instant::now();
                let count = view.count(&segment);
                Ok(CountAnswer {
                    count,
                    micros: started.elapsed().as_micros() as u64,
                    warnings: segment.warnings,
                })
            })
        })
        .await?;
    Ok(axum::Json(answer))
}

/// A contact's identity.
#[derive(Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityBody {
    #[schema(schema_with = super::schemas::channel_schema)]
    pub channel: String,
    pub account: String,
    pub external_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    pub segment: String,
    /// Contacts per page (default 50, at most 1000).
    pub limit: Option<usize>,
    /// The identity the page starts after (the previous answer's `next`).
    pub after: Option<IdentityBody>,
    pub now: Option<String>,
    pub tz: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ListAnswer {
    /// How many contacts match in all.
    pub count: u64,
    /// This page, in identity order: as `list --format json` lines.
    #[schema(value_type = Vec<Object>)]
    pub contacts: Vec<Value>,
    /// The `after` of the next page (absent on the last).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<IdentityBody>,
}

#[utoipa::path(post, path = "/list", tag = "query", request_body = ListRequest,
    responses((status = 200, body = ListAnswer), BodyErrors))]
pub async fn list(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(request): JsonBody<ListRequest>,
) -> Result<axum::Json<ListAnswer>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let limit = request.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::bad_request(format!(
            "\"limit\": from 1 to {MAX_PAGE}"
        )));
    }
    let after = match &request.after {
        None => None,
        Some(id) => Some(identity(id)?),
    };
    let answer = app
        .query(move |app| {
            let (now, tz) = (request.now.as_deref(), request.tz.as_deref());
            with_segment(app, &grant, &request.segment, now, tz, |view, segment| {
                let rows = view.rows(&segment);
                let store = view.store();
                let after = after
                    .as_ref()
                    .map(|i| (i.channel, &*i.account, &*i.external_id));
                let page = reach::csv::page_after(store, &rows, after, limit + 1);
                let more = page.len() > limit;
                let shown: roaring::RoaringBitmap = page.iter().take(limit).copied().collect();
                let tz = app.engine.time_zone();
                let mut contacts = store.contacts(&shown);
                contacts.sort_by(|a, b| {
                    (a.channel.name(), &a.account, &a.external_id).cmp(&(
                        b.channel.name(),
                        &b.account,
                        &b.external_id,
                    ))
                });
                let next = (more)
                    .then(|| contacts.last())
                    .flatten()
                    .map(|c| IdentityBody {
                        channel: c.channel.name().to_string(),
                        account: c.account.clone(),
                        external_id: c.external_id.clone(),
                    });
                Ok(ListAnswer {
                    count: rows.len(),
                    contacts: contacts.iter().map(|c| contact_json(c, tz)).collect(),
                    next,
                })
            })
        })
        .await?;
    Ok(axum::Json(answer))
}

/// An identity from the API's form; an unknown channel is a 400.
pub fn identity(body: &IdentityBody) -> Result<Identity, ApiError> {
    let channel = Channel::parse(&body.channel).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown channel '{}': use line, facebook, whatsapp, instagram or web",
            body.channel
        ))
    })?;
    Ok(Identity::new(channel, &body.account, &body.external_id))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    pub segment: String,
    /// Run the plan and give actual rows and times (EXPLAIN ANALYZE).
    pub analyze: Option<bool>,
    pub now: Option<String>,
    pub tz: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExplainAnswer {
    /// The plan as the command line prints it.
    pub text: String,
    /// The same as a tree: `label`, `strategy`, `estimate`, `cost`, and with `analyze`
    /// `actual` and `micros`, and `children`.
    #[schema(value_type = Object)]
    pub tree: Value,
}

#[utoipa::path(post, path = "/explain", tag = "query", request_body = ExplainRequest,
    responses((status = 200, body = ExplainAnswer), BodyErrors))]
pub async fn explain(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(request): JsonBody<ExplainRequest>,
) -> Result<axum::Json<ExplainAnswer>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let analyze = request.analyze.unwrap_or(false);
    let answer = app
        .query(move |app| {
            let (now, tz) = (request.now.as_deref(), request.tz.as_deref());
            with_segment(app, &grant, &request.segment, now, tz, |view, segment| {
                let node = view.explain_tree(&segment);
                let text = match analyze {
                    true => view.explain(&segment),
                    false => segment.plan.to_string(),
                };
                Ok(ExplainAnswer {
                    text,
                    tree: tree(&node, analyze),
                })
            })
        })
        .await?;
    Ok(axum::Json(answer))
}

fn tree(node: &reach::ExplainNode, analyze: bool) -> Value {
    let mut out = serde_json::json!({
        "label": node.label,
        "strategy": format!("{:?}", node.strategy),
        "estimate": node.estimate,
        "cost": node.cost,
        "children": node.children.iter().map(|c| tree(c, analyze)).collect::<Vec<_>>(),
    });
    if analyze {
        out["actual"] = node.actual.into();
        out["micros"] = node.micros.into();
    }
    out
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub segment: String,
    /// Every column, not only those the contacts use.
    pub all_columns: Option<bool>,
    pub now: Option<String>,
    pub tz: Option<String>,
}

#[utoipa::path(post, path = "/export", tag = "query", request_body = ExportRequest,
    responses((status = 200, description = "the contacts as CSV (csv-format.md), streamed", content_type = "text/csv", body = String),
        BodyErrors))]
pub async fn export(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(request): JsonBody<ExportRequest>,
) -> Result<Response, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let choice = match request.all_columns.unwrap_or(false) {
        true => ColumnChoice::All,
        false => ColumnChoice::ContactList,
    };
    // The segment is checked before the answer starts, so that its error is an error.
    let rows = app
        .query(move |app| {
            let (now, tz) = (request.now.as_deref(), request.tz.as_deref());
            with_segment(app, &grant, &request.segment, now, tz, |view, segment| {
                Ok(view.rows(&segment))
            })
        })
        .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let worker = Arc::clone(&app);
    tokio::task::spawn_blocking(move || {
        let view = worker.engine.read();
        let out = ChannelWriter(sender.clone());
        if let Err(e) = reach::csv::export(view.store(), &rows, choice, out, &|_| {}) {
            let _ = sender.blocking_send(Err(e));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
    let headers = [(header::CONTENT_TYPE, "text/csv; charset=utf-8")];
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// Writes into a channel of chunks (a streamed answer); a closed channel is a broken pipe.
pub struct ChannelWriter(pub tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>);

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes.to_vec()))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
