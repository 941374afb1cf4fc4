//! Broadcasts (broadcast.md over HTTP): a dry run answers the preview; a start logs the
//! job, answers 202 with it, and sends in the background (a stopping server leaves it
//! `sending`, resumable). The audience is a segment compiled within the caller's scope.

use std::path::Path as FsPath;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use reach::access::Action;
use reach::broadcast::{self, Audience, AudienceSource, Report, Request, Run};
use reach::engine::{Message, Options, Scope};
use reach::model::MessageKind;
use reach::model::time::Seconds;
use reach::{Engine, Error};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::app::App;
use super::auth::{Caller, JsonBody, PathParams};
use super::error::{ApiError, BroadcastErrors, JobErrors, LookupErrors, PlainErrors};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastRequest {
    /// The audience (empty: every contact the caller reaches), unless `csv` names it.
    #[serde(default)]
    pub segment: String,
    /// Broadcast from CSV: the audience as CSV text (`channel,account,external_id`, then
    /// variable columns for `{{COLUMN}}`), instead of a segment.
    pub csv: Option<String>,
    /// broadcast, site_marketing, cart, welcome or bot.
    #[schema(schema_with = super::schemas::kind_schema)]
    pub kind: String,
    /// The message; `{{name|friend}}` and the like are filled per contact.
    pub text: String,
    /// The job id (default: made from the time); a used id is a conflict.
    pub id: Option<String>,
    /// `platform` (default; `serve --demo`: the demo's outbox), `jsonl:PATH`,
    /// `webhook:URL` or `discard`.
    pub sink: Option<String>,
    /// The channels file (default: `channels.toml` in the data directory).
    pub channels: Option<String>,
    /// Preview only: who would get it and every reason for who would not.
    pub dry_run: Option<bool>,
    /// Send what LINE quotas allow instead of refusing.
    pub partial: Option<bool>,
    /// Facebook: a reply inside the 24-hour window.
    pub reply_window: Option<bool>,
    /// Requests a second per account.
    pub rate: Option<u32>,
    /// Email: the subject (default: the channels file's, else the text's first line).
    pub subject: Option<String>,
    pub now: Option<String>,
}

#[utoipa::path(post, path = "/broadcasts", tag = "broadcast", request_body = BroadcastRequest,
    responses((status = 200, description = "a dry run's preview", body = Object),
        (status = 202, description = "the job, sending", body = Object),
        BroadcastErrors))]
pub async fn start(
    State(app): State<Arc<App>>,
    caller: Caller,
    JsonBody(body): JsonBody<BroadcastRequest>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let dry = body.dry_run.unwrap_or(false);
    let grant = match dry {
        true => caller.may(Action::Read)?,
        false => caller.may(Action::Broadcast)?,
    }
    .clone();
    let elsewhere = body
        .sink
        .as_deref()
        .is_some_and(|s| !matches!(s, "platform" | "discard"));
    if grant.key.is_some() && !dry && (elsewhere || body.channels.is_some()) {
        return Err(ApiError::from(Error::Forbidden(
            "only the master key names an outbox, a webhook or a channels file: a key sends through the data directory's channels file".into(),
        )));
    }
    let (status, report) = app
        .run(move |app| {
            let now = app.now(body.now.as_deref())?;
            let audience = audience(app, &body, &grant.scope, now)?;
            let request = request(app, body, audience)?;
            let (judgement, _) = broadcast::preview(&app.engine, &request, now)?;
            if dry {
                let id = request.id.as_deref().unwrap_or("preview");
                return Ok((StatusCode::OK, Report::preview(id, &judgement)));
            }
            let options = request.options.clone();
            let sink = open_sink(
                &app.engine,
                &options,
                request.id.as_deref().unwrap_or(""),
                false,
            )?;
            let id = broadcast::start(&app.engine, request, sink.as_ref(), now)?;
            drop(sink);
            background(app, id.clone(), options, false);
            Ok((StatusCode::ACCEPTED, broadcast::report(&app.engine, &id)?))
        })
        .await?;
    Ok((status, axum::Json(report.json())))
}

/// The request's audience within `scope`: its segment compiled in it, or its CSV, every
/// contact of which the scope must reach (else 403, as for any change naming them).
fn audience(
    app: &App,
    body: &BroadcastRequest,
    scope: &Scope,
    now: Seconds,
) -> Result<AudienceSource, Error> {
    let view = app.engine.read();
    let Some(csv) = &body.csv else {
        let segment = view.compile_in(&body.segment, now, scope)?;
        return Ok(AudienceSource::Segment(segment));
    };
    if !body.segment.trim().is_empty() {
        return Err(Error::Usage(
            "name the audience once: a segment or a csv, not both".into(),
        ));
    }
    let source = AudienceSource::Csv(csv.clone().into_bytes());
    if !scope.is_everything() {
        let rows = Audience::freeze(&source, &view)?.rows;
        if !rows.is_subset(&view.reach(scope, now)?) {
            return Err(Error::Forbidden(
                "the CSV names contacts this key does not reach; send only your accounts' contacts"
                    .into(),
            ));
        }
    }
    Ok(source)
}

fn request(
    app: &Arc<App>,
    body: BroadcastRequest,
    audience: AudienceSource,
) -> Result<Request, Error> {
    let kind = MessageKind::parse(&body.kind).ok_or_else(|| {
        Error::Usage(format!(
            "unknown kind '{}': use broadcast, site_marketing, cart, welcome or bot",
            body.kind
        ))
    })?;
    let default_channels = app
        .engine
        .dir()
        .map(|d| d.file("channels.toml").display().to_string());
    Ok(Request {
        id: body.id,
        audience,
        message: Message {
            kind,
            text: body.text,
            payloads: Default::default(),
            subject: body.subject,
        },
        options: Options {
            reply_window: body.reply_window.unwrap_or(false),
            partial: body.partial.unwrap_or(false),
            rate: body.rate,
            sink: body.sink.unwrap_or_else(|| app.default_sink.clone()),
            channels: body.channels.or(default_channels),
        },
    })
}

/// The sink a job's options name; an outbox may not lie in the data directory.
fn open_sink(
    engine: &Engine,
    options: &Options,
    job: &str,
    resuming: bool,
) -> Result<Box<dyn broadcast::Sink>, Error> {
    if let (Some(path), Some(dir)) = (options.sink.strip_prefix("jsonl:"), engine.dir())
        && dir.holds(FsPath::new(path))
    {
        return Err(Error::Usage(format!(
            "the outbox {path} lies in the data directory: write it elsewhere"
        )));
    }
    let channels = options
        .channels
        .clone()
        .unwrap_or_else(|| "channels.toml".into());
    let unsent = resuming.then(|| broadcast::unsent_batches(engine, job));
    let channels = FsPath::new(&channels);
    broadcast::sinks::open(&options.sink, job, unsent.as_ref(), channels, true)
}

/// Sends job `id` on a thread of its own until it ends or the server stops.
/// (The sink is opened on that thread: sinks stay where they are made.)
fn background(app: &Arc<App>, id: String, options: Options, resuming: bool) {
    let app_ref = Arc::clone(app);
    let handle = std::thread::spawn(move || {
        let sink = match open_sink(&app_ref.engine, &options, &id, true) {
            Ok(sink) => sink,
            Err(e) => return eprintln!("reach serve: broadcast {id}: {e}"),
        };
        let stop = || app_ref.is_stopping();
        let run = Run {
            stop: &stop,
            ..Run::default()
        };
        let sent = match resuming {
            true => broadcast::resume(&app_ref.engine, &id, sink.as_ref(), false, &run),
            false => broadcast::send(&app_ref.engine, &id, sink.as_ref(), false, &run),
        };
        if let Err(e) = sent {
            eprintln!("reach serve: broadcast {id}: {e}");
        }
    });
    app.keep_sender(handle);
}

#[utoipa::path(get, path = "/broadcasts", tag = "broadcast",
    responses((status = 200, description = "every job's report, newest first", body = Vec<Object>), PlainErrors))]
pub async fn jobs(
    State(app): State<Arc<App>>,
    caller: Caller,
) -> Result<axum::Json<Vec<Value>>, ApiError> {
    caller.may(Action::Read)?;
    app.query(|app| {
        let view = app.engine.read();
        let mut jobs: Vec<_> = view.jobs().values().collect();
        jobs.sort_by(|a, b| {
            b.started_at
                .cmp(&a.started_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(jobs.into_iter().map(|j| Report::of(j).json()).collect())
    })
    .await
    .map(axum::Json)
}

#[utoipa::path(get, path = "/broadcasts/{id}", tag = "broadcast", params(("id" = String, Path)),
    responses((status = 200, body = Object), LookupErrors))]
pub async fn job(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.may(Action::Read)?;
    app.query(move |app| Ok(broadcast::report(&app.engine, &id)?.json()))
        .await
        .map(axum::Json)
}

#[utoipa::path(post, path = "/broadcasts/{id}/resume", tag = "broadcast", params(("id" = String, Path)),
    responses((status = 202, body = Object), JobErrors))]
pub async fn resume(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    caller.may(Action::Broadcast)?;
    app.run(move |app| {
        let options = {
            let view = app.engine.read();
            let job = view
                .jobs()
                .get(&id)
                .ok_or_else(|| Error::NotFound(format!("there is no job {id}")))?;
            if job.state != reach::engine::JobState::Sending {
                return Err(Error::Conflict(format!(
                    "job {id} has ended ({}): a job that ended never sends again",
                    job.state.name()
                )));
            }
            job.options.clone()
        };
        open_sink(&app.engine, &options, &id, true)?;
        background(app, id.clone(), options, true);
        Ok(broadcast::report(&app.engine, &id)?.json())
    })
    .await
    .map(|report| (StatusCode::ACCEPTED, axum::Json(report)))
}

#[utoipa::path(post, path = "/broadcasts/{id}/cancel", tag = "broadcast", params(("id" = String, Path)),
    responses((status = 200, body = Object), JobErrors))]
pub async fn cancel(
    State(app): State<Arc<App>>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.may(Action::Broadcast)?;
    app.run(move |app| Ok(broadcast::cancel(&app.engine, &id, app.clock())?.json()))
        .await
        .map(axum::Json)
}
