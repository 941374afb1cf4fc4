//! `GET /membership`: a saved segment's entered and left contacts as Server-Sent Events,
//! from the library's subscription (`Engine::subscribe_in`, within the key's scope), resumable with
//! `Last-Event-ID`; and the tick that moves the tracker's clock.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use reach::MembershipEvent;
use reach::access::Action;
use serde::Deserialize;
use tokio_stream::{Stream, StreamExt};
use utoipa::IntoParams;

use super::app::App;
use super::auth::{Caller, QueryParams};
use super::error::{ApiError, LookupErrors};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MembershipQuery {
    /// Saved segment names, comma-separated.
    pub segments: String,
}

#[utoipa::path(get, path = "/membership", tag = "read", params(MembershipQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "the last `seq` seen: what came after it comes first")),
    responses((status = 200, description = "events `{segment, entered, left, at, seq}` (or `{segment, resync: true}`)", content_type = "text/event-stream", body = String),
        LookupErrors))]
pub async fn membership(
    State(app): State<Arc<App>>,
    caller: Caller,
    headers: HeaderMap,
    QueryParams(query): QueryParams<MembershipQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let grant = caller.may(Action::Read)?.clone();
    let names: Vec<String> = (query.segments.split(','))
        .map(|s| s.trim().trim_start_matches('@').to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ApiError::bad_request("name saved segments: ?segments=a,b"));
    }
    let after = match headers
        .get("last-event-id")
        .map(|v| v.to_str().map(str::parse::<u64>))
    {
        None => None,
        Some(Ok(Ok(seq))) => Some(seq),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Last-Event-ID: expected an event's seq (a number)",
            ));
        }
    };
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<MembershipEvent>();
    let id = app
        .run(move |app| {
            let deliver =
                Box::new(move |event: &MembershipEvent| sender.send(event.clone()).is_ok());
            app.engine
                .subscribe_in(&names, after, app.clock(), &grant.scope, deliver)
        })
        .await?;
    let (forward, events) = tokio::sync::mpsc::channel::<MembershipEvent>(64);
    let mut stopped = app.stop_signal.subscribe();
    let guard = Unsubscribe {
        app: Arc::clone(&app),
        id,
    };
    let mut receiver = receiver;
    tokio::spawn(async move {
        // Ends (and unsubscribes) when the client leaves or the server stops.
        let _guard = guard;
        loop {
            tokio::select! {
                event = receiver.recv() => {
                    let Some(event) = event else { break };
                    if forward.send(event).await.is_err() {
                        break;
                    }
                }
                _ = stopped.changed() => break,
            }
        }
    });
    let events = tokio_stream::wrappers::ReceiverStream::new(events).map(move |event| {
        let mut data = serde_json::json!({
            "segment": event.segment,
            "entered": event.entered,
            "left": event.left,
            "at": reach::model::time::format_rfc3339(event.at),
            "seq": event.seq,
        });
        if event.resync {
            data["resync"] = true.into();
        }
        let data = data.to_string();
        Ok(Event::default().id(event.seq.to_string()).data(data))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// Ends the library subscription when the stream is dropped (the client left).
struct Unsubscribe {
    app: Arc<App>,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        self.app.engine.unsubscribe(self.id);
    }
}

/// Moves the membership clock every `every` (time-driven entries and exits).
pub async fn tick(app: Arc<App>, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        if app.is_stopping() {
            return;
        }
        let now = app.clock();
        let worker = Arc::clone(&app);
        let _ = tokio::task::spawn_blocking(move || worker.engine.tick(now)).await;
    }
}
