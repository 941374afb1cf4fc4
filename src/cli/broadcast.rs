//! `reach broadcast`: the preview on stderr, a confirmation on a terminal, a progress bar,
//! the final report (`--json`: one object on stdout); `jobs`, `show`, `resume`, `cancel`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use super::Context;
use super::args::{BroadcastAction, BroadcastArgs, SinkSpec};
use super::output::{ask, progress, table, terminal_width, write_error};
use reach::broadcast::{self, AudienceSource, Judgement, Message, Options, Report, Request, Run};
use reach::error::Error;
use reach::model::MessageKind;

pub fn broadcast(ctx: &mut Context, args: BroadcastArgs) -> Result<(), Error> {
    match args.action {
        Some(BroadcastAction::Jobs { json }) => return jobs(ctx, json),
        Some(BroadcastAction::Show { id, json }) => return show(ctx, &id, json),
        Some(BroadcastAction::Resume {
            id,
            resend_uncertain,
            json,
        }) => return resume(ctx, &id, resend_uncertain, json),
        Some(BroadcastAction::Cancel { id }) => {
            let report = broadcast::cancel(&ctx.engine, &id, ctx.now())?;
            note!("job {id} cancelled: it sends nothing more");
            return finish(&report, false);
        }
        None => {}
    }
    let request = request(ctx, &args)?;
    let now = ctx.now();
    let (judgement, _) = broadcast::preview(&ctx.engine, &request, now)?;
    note_raw!("{}", preview_text(&judgement));
    let dry = args.dry_run || args.sink == SinkSpec::DryRun;
    if dry {
        let report = Report::preview(request.id.as_deref().unwrap_or("preview"), &judgement);
        return finish(&report, args.json);
    }
    let mut sink = open_sink(
        ctx,
        &args.sink.to_string(),
        args.channels.as_deref(),
        request.id.as_deref().unwrap_or(""),
        false,
    )?;
    let eligible = judgement.eligible.len();
    if !args.yes && std::io::stdin().is_terminal() && !confirmed(eligible) {
        note!("cancelled; nothing was sent");
        return Ok(());
    }
    let id = broadcast::start(&ctx.engine, request, sink.as_ref(), now)?;
    note!("job {id} started");
    let report = run(ctx, |run| {
        broadcast::send(&ctx.engine, &id, sink.as_mut(), false, run)
    })?;
    finish(&report, args.json)
}

/// The request a command line describes.
fn request(ctx: &Context, args: &BroadcastArgs) -> Result<Request, Error> {
    let kind = args.kind.as_deref().ok_or_else(|| {
        Error::Usage(
            "name the message kind with --kind (broadcast, site_marketing, cart, welcome, bot)"
                .into(),
        )
    })?;
    let kind = MessageKind::parse(kind).ok_or_else(|| {
        Error::Usage(format!(
            "unknown kind '{kind}': use broadcast, site_marketing, cart, welcome or bot"
        ))
    })?;
    let text = args
        .text
        .clone()
        .ok_or_else(|| Error::Usage("give the message with --text TEXT".into()))?;
    let audience = match (&args.segment, &args.csv) {
        (Some(segment), None) => AudienceSource::Segment(super::query::compile(ctx, segment)?),
        (None, Some(path)) => AudienceSource::Csv(read(path)?),
        (Some(_), Some(_)) => {
            return Err(Error::Usage(
                "give a SEGMENT or --csv FILE, not both".into(),
            ));
        }
        (None, None) => {
            return Err(Error::Usage(
                "give the audience: a SEGMENT (e.g. 'tag:vip') or --csv FILE".into(),
            ));
        }
    };
    let payloads = match &args.payload {
        Some(path) => payloads(path)?,
        None => Default::default(),
    };
    let channels = args.channels.as_ref().map(|p| {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string()
    });
    Ok(Request {
        id: args.id.clone(),
        audience,
        message: Message {
            kind,
            text,
            payloads,
        },
        options: Options {
            reply_window: args.reply_window,
            partial: args.partial,
            rate: args.rate,
            sink: args.sink.to_string(),
            channels,
        },
    })
}

/// The sink a `--sink` spelling names; an outbox may not lie in the data directory, and
/// the channels file defaults to `DATA/channels.toml`.
fn open_sink(
    ctx: &Context,
    spelling: &str,
    channels: Option<&Path>,
    job: &str,
    resuming: bool,
) -> Result<Box<dyn broadcast::Sink>, Error> {
    let dir = ctx.engine.dir();
    if let (Some(path), Some(dir)) = (spelling.strip_prefix("jsonl:"), &dir)
        && path != "-"
    {
        super::refuse_inside(dir, Path::new(path))?;
    }
    let default = dir
        .map(|d| d.file("channels.toml"))
        .unwrap_or_else(|| PathBuf::from("channels.toml"));
    let optional = channels.is_none();
    let path = channels.map(Path::to_path_buf).unwrap_or(default);
    broadcast::sinks::open(spelling, job, resuming, &path, optional)
}

/// `reach quota --sync`: each LINE account of the channels file (or only `only`) gets
/// the limit and this month's use that LINE reports.
pub fn sync_quotas(
    ctx: &Context,
    only: Option<&str>,
    channels: Option<&Path>,
) -> Result<(), Error> {
    let default = ctx
        .engine
        .dir()
        .map(|d| d.file("channels.toml"))
        .unwrap_or_else(|| PathBuf::from("channels.toml"));
    let channels = broadcast::sinks::Channels::read(channels.unwrap_or(&default), false)?;
    let http = broadcast::sinks::Http::new();
    for (id, account) in channels
        .line
        .iter()
        .filter(|(id, _)| only.is_none_or(|o| o == id.as_str()))
    {
        match broadcast::sinks::line_quota(&http, account)
            .map_err(|e| Error::io(format!("LINE {id}"), std::io::Error::other(e)))?
        {
            Some((limit, used)) => {
                let edit = reach::engine::Edit::SetQuota {
                    account: id.clone(),
                    plan: Some(limit),
                    purchased: Some(0),
                    used: Some(used),
                };
                ctx.engine.commit(edit, ctx.now())?;
                note!("LINE {id}: {used}/{limit} (from LINE)");
            }
            None => note!("LINE {id}: LINE reports no limit; the quota is left as it was"),
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))
}

/// A payload file: a JSON object of per-channel messages.
fn payloads(path: &Path) -> Result<std::collections::BTreeMap<String, String>, Error> {
    let bad = |why: String| Error::Usage(format!("{}: {why}", path.display()));
    let value: serde_json::Value =
        serde_json::from_slice(&read(path)?).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    let object = value.as_object().ok_or_else(|| {
        bad("expected an object of per-channel messages, e.g. {\"line\": {…}}".into())
    })?;
    object
        .iter()
        .map(|(channel, message)| {
            let channel = reach::model::Channel::parse(channel)
                .ok_or_else(|| bad(format!("unknown channel '{channel}'")))?;
            Ok((channel.name().to_string(), message.to_string()))
        })
        .collect()
}

/// The preview, for stderr.
fn preview_text(judgement: &Judgement) -> String {
    let mut out = format!(
        "audience {}, eligible {}\n",
        judgement.audience,
        judgement.eligible.len()
    );
    let excluded: Vec<String> = (judgement.excluded.by_reason().iter())
        .filter(|(_, n)| *n > 0)
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    if !excluded.is_empty() {
        out.push_str(&format!("excluded: {}\n", excluded.join(", ")));
    }
    for (account, left, needed) in &judgement.line_quota {
        let left = left.map_or("no quota set".to_string(), |l| format!("{l} left"));
        out.push_str(&format!("LINE {account}: {left}, {needed} to send\n"));
    }
    out
}

fn confirmed(eligible: u64) -> bool {
    let noun = if eligible == 1 { "contact" } else { "contacts" };
    let answer = ask(&format!("Send to {eligible} {noun}? [y/N] "));
    answer.is_some_and(|a| matches!(a.to_lowercase().as_str(), "y" | "yes"))
}

/// Runs a job with a progress bar on a terminal; Ctrl-C stops it after the current batch.
fn run(ctx: &Context, send: impl FnOnce(&Run) -> Result<Report, Error>) -> Result<Report, Error> {
    let _ = ctrlc::set_handler(reach::cancel::request);
    reach::cancel::reset();
    let bar = progress(0, "sending");
    let fixed = ctx.fixed_now;
    let clock = move || fixed.unwrap_or_else(reach::model::time::now);
    let show = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let backoff = std::env::var("REACH_RETRY_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_millis,
        );
    let run = Run {
        clock: &clock,
        progress: &show,
        stop: &reach::cancel::requested,
        backoff,
    };
    let report = send(&run);
    bar.finish_and_clear();
    let report = report?;
    if report.state == "sending" {
        note!(
            "stopped; the job is left sending: `reach broadcast resume {}` finishes it, `reach broadcast cancel {}` ends it",
            report.job,
            report.job
        );
    }
    Ok(report)
}

/// Prints the report and sets the exit status: 0 when done with nothing failed.
fn finish(report: &Report, json: bool) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", report.json()).map_err(write_error)?;
    } else {
        write!(out, "{report}").map_err(write_error)?;
    }
    if report.succeeded() {
        Ok(())
    } else {
        Err(Error::Refused(
            match (&report.reason, report.figures.failed) {
                (Some(why), _) => format!("job {} failed: {why}", report.job),
                (None, 0) => format!("job {} is {}", report.job, report.state),
                (None, n) => format!(
                    "job {}: {n} recipient(s) failed (see the report)",
                    report.job
                ),
            },
        ))
    }
}

fn resume(ctx: &mut Context, id: &str, resend_uncertain: bool, json: bool) -> Result<(), Error> {
    let options = {
        let view = ctx.engine.read();
        let job = view.jobs().get(id).ok_or_else(|| {
            Error::NotFound(format!(
                "there is no job '{id}' (`reach broadcast jobs` lists them)"
            ))
        })?;
        job.options.clone()
    };
    let channels = options.channels.as_ref().map(PathBuf::from);
    let mut sink = open_sink(ctx, &options.sink, channels.as_deref(), id, true)?;
    let report = run(ctx, |run| {
        broadcast::resume(&ctx.engine, id, sink.as_mut(), resend_uncertain, run)
    })?;
    finish(&report, json)
}

fn jobs(ctx: &Context, json: bool) -> Result<(), Error> {
    use std::io::Write;
    let view = ctx.engine.read();
    let mut out = std::io::stdout().lock();
    if json {
        for job in view.jobs().values() {
            writeln!(out, "{}", Report::of(job).json()).map_err(write_error)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = (view.jobs().values())
        .map(|job| {
            vec![
                job.id.clone(),
                job.state.name().to_string(),
                job.message.kind.name().to_string(),
                job.figures.audience.to_string(),
                job.figures.eligible.to_string(),
                job.figures.sent.to_string(),
                job.figures.failed.to_string(),
                job.figures.uncertain.to_string(),
                reach::model::time::format_rfc3339(job.started_at),
            ]
        })
        .collect();
    let header: Vec<String> = [
        "job",
        "state",
        "kind",
        "audience",
        "eligible",
        "sent",
        "failed",
        "uncertain",
        "started",
    ]
    .map(String::from)
    .to_vec();
    write!(out, "{}", table(&header, &rows, terminal_width())).map_err(write_error)
}

fn show(ctx: &Context, id: &str, json: bool) -> Result<(), Error> {
    use std::io::Write;
    let report = broadcast::report(&ctx.engine, id)?;
    let uncertain = uncertain_recipients(ctx, id);
    let mut out = std::io::stdout().lock();
    if json {
        let mut value = report.json();
        if let Some(map) = value.as_object_mut() {
            let list: Vec<serde_json::Value> = (uncertain.iter())
                .map(|(c, a, e)| serde_json::json!({"channel": c.name(), "account": a, "external_id": e}))
                .collect();
            map.insert("uncertain_recipients".into(), list.into());
        }
        return writeln!(out, "{value}").map_err(write_error);
    }
    write!(out, "{report}").map_err(write_error)?;
    if !uncertain.is_empty() {
        writeln!(out, "uncertain recipients (a batch was in flight when the job stopped; `resume --resend-uncertain` sends to them again):").map_err(write_error)?;
        for (channel, account, id) in uncertain {
            writeln!(out, "  {channel}/{account}/{id}").map_err(write_error)?;
        }
    }
    Ok(())
}

/// The recipients whose delivery is uncertain: those of uncertain or in-flight batches
/// while the job is sending, the recorded ones after.
fn uncertain_recipients(ctx: &Context, id: &str) -> Vec<(reach::model::Channel, String, String)> {
    let view = ctx.engine.read();
    let Some(job) = view.jobs().get(id) else {
        return Vec::new();
    };
    if !job.uncertain_recipients.is_empty() {
        return job.uncertain_recipients.clone();
    }
    let rows = job.rows_of(&broadcast::BatchState::Uncertain)
        | job.rows_of(&broadcast::BatchState::InFlight);
    view.identities(&rows)
}
