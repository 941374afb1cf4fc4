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
            channels,
            webhook,
            rate,
            concurrency,
            json,
        }) => {
            let how = Resume {
                resend_uncertain,
                channels,
                webhook,
                rate,
                concurrency,
            };
            return resume(ctx, &id, how, json);
        }
        Some(BroadcastAction::Cancel { id }) => return cancel(ctx, &id),
        None => {}
    }
    let spelling = sink_spelling(ctx, &args);
    let request = request(ctx, &args, &spelling)?;
    if let Some(id) = &request.id
        && ctx.engine.read().jobs().contains_key(id)
    {
        let why = format!(
            "there is a job '{id}' already: a job id is used once; give another --id (`reach broadcast jobs` lists them)"
        );
        return refuse(Some(id), None, &why, args.json);
    }
    let now = ctx.now();
    let (judgement, template) = broadcast::preview(&ctx.engine, &request, now)?;
    let dry = args.dry_run || spelling == "dry-run";
    let checked = checking_sink(ctx, &spelling, args.channels.as_deref())?;
    let refused = {
        let view = ctx.engine.read();
        broadcast::refusal(view.store(), &judgement, args.partial, checked.as_deref())
    };
    let described = describe(
        ctx,
        &judgement,
        &template,
        &request,
        &spelling,
        args.channels.as_deref(),
    );
    if dry {
        return dry_run(
            request.id.as_deref(),
            &judgement,
            &described,
            refused,
            args.json,
        );
    }
    note_raw!("{described}");
    if let Some(why) = refused {
        return refuse(request.id.as_deref(), Some(&judgement), &why, args.json);
    }
    let sink = match checked {
        Some(sink) => sink,
        None => open_sink(
            ctx,
            &spelling,
            args.channels.as_deref(),
            request.id.as_deref().unwrap_or(""),
            false,
        )?,
    };
    let eligible = judgement.eligible.len();
    if !args.yes && std::io::stdin().is_terminal() && !confirmed(eligible) {
        note!("cancelled; nothing was sent");
        return Ok(());
    }
    let id = broadcast::start(&ctx.engine, request, sink.as_ref(), now)?;
    note!("job {id} started");
    let report = run(ctx, (None, args.concurrency), |run| {
        broadcast::send(&ctx.engine, &id, sink.as_ref(), false, run)
    })?;
    finish(&report, args.json)
}

/// The sink a broadcast names, else the context's default (the demo's outbox), else
/// `platform`.
fn sink_spelling(ctx: &Context, args: &BroadcastArgs) -> String {
    match &args.sink {
        Some(sink) => sink.to_string(),
        None => (ctx.default_sink.clone()).unwrap_or_else(|| SinkSpec::Platform.to_string()),
    }
}

/// The sink to check the accounts against before asking: the platform sink (its channels
/// file), opened now; `None` for the others (they reach any account).
fn checking_sink(
    ctx: &Context,
    spelling: &str,
    channels: Option<&Path>,
) -> Result<Option<Box<dyn broadcast::Sink>>, Error> {
    if spelling != "platform" {
        return Ok(None);
    }
    open_sink(ctx, spelling, channels, "", false).map(Some)
}

/// Prints a refusal (`--json`: one object on stdout) and exits 1.
fn refuse(
    id: Option<&str>,
    judgement: Option<&Judgement>,
    why: &str,
    json: bool,
) -> Result<(), Error> {
    if json {
        let mut object = match judgement {
            Some(j) => Report::preview(id.unwrap_or(""), j).json(),
            None => serde_json::json!({"job": id}),
        };
        object["state"] = "refused".into();
        object["refused"] = why.into();
        outln!("{object}")?;
    }
    Err(Error::Refused(why.to_string()))
}

/// `--dry-run`: the preview once (`--json`: the report object, `"refused"` when the
/// broadcast would be refused, then exit 1).
fn dry_run(
    id: Option<&str>,
    judgement: &Judgement,
    described: &str,
    refused: Option<String>,
    json: bool,
) -> Result<(), Error> {
    if json {
        let mut object = Report::preview(id.unwrap_or("preview"), judgement).json();
        if let Some(why) = &refused {
            object["refused"] = why.clone().into();
        }
        outln!("{object}")?;
    } else {
        out!("{described}")?;
        if let Some(why) = &refused {
            outln!("refused: {why}")?;
        }
    }
    match refused {
        Some(why) => Err(Error::Refused(why)),
        None => Ok(()),
    }
}

/// `cancel`: ends the job and prints its report; exit 0 once it is stopped.
fn cancel(ctx: &Context, id: &str) -> Result<(), Error> {
    let report = broadcast::cancel(&ctx.engine, id, ctx.now())?;
    note!("job {id} cancelled: it sends nothing more");
    out!("{report}")
}

/// The request a command line describes.
fn request(ctx: &Context, args: &BroadcastArgs, sink: &str) -> Result<Request, Error> {
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
            subject: args.subject.clone(),
        },
        options: Options {
            reply_window: args.reply_window,
            partial: args.partial,
            rate: args.rate,
            sink: sink.to_string(),
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
    let optional = channels.is_none();
    let path = channels_path(ctx, channels);
    let unsent = resuming.then(|| broadcast::unsent_batches(&ctx.engine, job));
    broadcast::sinks::open(spelling, job, unsent.as_ref(), &path, optional)
}

/// The channels file: the one named, else `DATA/channels.toml`.
fn channels_path(ctx: &Context, channels: Option<&Path>) -> PathBuf {
    match channels {
        Some(path) => path.to_path_buf(),
        None => (ctx.engine.dir())
            .map(|d| d.file("channels.toml"))
            .unwrap_or_else(|| PathBuf::from("channels.toml")),
    }
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

/// The preview and where the messages go: the outbox's path; through the platform sink,
/// what WhatsApp contacts get (a template, not the text).
fn describe(
    ctx: &Context,
    judgement: &Judgement,
    template: &broadcast::Template,
    request: &Request,
    spelling: &str,
    channels: Option<&Path>,
) -> String {
    let mut out = preview_text(judgement);
    if let Some(path) = spelling.strip_prefix("jsonl:").filter(|p| *p != "-") {
        out.push_str(&format!("the messages go to the outbox {path}\n"));
    }
    if spelling == "platform" && !request.message.payloads.contains_key("whatsapp") {
        out.push_str(&whatsapp_note(ctx, judgement, template, channels));
    }
    out
}

/// What WhatsApp contacts of the eligible get through the platform sink: each account's
/// approved template, its body parameters filled with the text's placeholder values.
fn whatsapp_note(
    ctx: &Context,
    judgement: &Judgement,
    template: &broadcast::Template,
    channels: Option<&Path>,
) -> String {
    let path = channels_path(ctx, channels);
    let file = broadcast::sinks::Channels::read(&path, true).unwrap_or_default();
    let view = ctx.engine.read();
    let mut out = String::new();
    for account in view.store().accounts() {
        let n = (account.rows & &judgement.eligible).len();
        if account.channel != reach::model::Channel::Whatsapp || n == 0 {
            continue;
        }
        let which = file.whatsapp.get(account.id).map_or_else(
            || "no template (the channels file does not name the account)".to_string(),
            |a| format!("the approved template {} ({})", a.template, a.language),
        );
        out.push_str(&format!(
            "WhatsApp {}: {n} {} get {which}; the text itself is not sent, only its {} placeholder value(s) fill the template's body parameters in order\n",
            account.id,
            contacts(n),
            template.placeholders()
        ));
    }
    out
}

/// "contact" or "contacts", for `n`.
pub fn contacts(n: u64) -> &'static str {
    if n == 1 { "contact" } else { "contacts" }
}

fn confirmed(eligible: u64) -> bool {
    let answer = ask(&format!(
        "Send to {eligible} {}? [y/N] ",
        contacts(eligible)
    ));
    answer.is_some_and(|a| matches!(a.to_lowercase().as_str(), "y" | "yes"))
}

/// Runs a job with a progress bar on a terminal, at another (rate, concurrency) than the
/// defaults when given; Ctrl-C stops it once the batches in flight settle.
fn run(
    ctx: &Context,
    (rate, concurrency): (Option<u32>, Option<u32>),
    send: impl FnOnce(&Run) -> Result<Report, Error>,
) -> Result<Report, Error> {
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
        rate,
        concurrency,
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
                (Some(why), _) if report.state == "sending" => {
                    format!("job {} is left sending: {why}", report.job)
                }
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

/// How `resume` runs: the uncertain batches, and another channels file or rate than the
/// job's.
struct Resume {
    resend_uncertain: bool,
    channels: Option<PathBuf>,
    webhook: Option<String>,
    rate: Option<u32>,
    concurrency: Option<u32>,
}

fn resume(ctx: &mut Context, id: &str, how: Resume, json: bool) -> Result<(), Error> {
    let options = {
        let view = ctx.engine.read();
        let job = view.jobs().get(id).ok_or_else(|| {
            Error::NotFound(format!(
                "there is no job '{id}' (`reach broadcast jobs` lists them)"
            ))
        })?;
        job.options.clone()
    };
    let channels = (how.channels.map(|p| std::path::absolute(&p).unwrap_or(p)))
        .or_else(|| options.channels.as_ref().map(PathBuf::from));
    let spelling = match &how.webhook {
        None => options.sink.clone(),
        Some(url) => again(id, &options.sink, url)?,
    };
    let sink = open_sink(ctx, &spelling, channels.as_deref(), id, true)?;
    let report = run(ctx, (how.rate, how.concurrency), |run| {
        broadcast::resume(&ctx.engine, id, sink.as_ref(), how.resend_uncertain, run)
    })?;
    finish(&report, json)
}

/// `resume --webhook URL`: the job's webhook spelling with its password, if `url` is the
/// job's URL once its password is hidden.
fn again(id: &str, kept: &str, url: &str) -> Result<String, Error> {
    let given = format!("webhook:{url}");
    match broadcast::kept_spelling(&given) == kept {
        true => Ok(given),
        false => Err(Error::Usage(format!(
            "--webhook: job {id} sends to {kept}, not to {}: give that URL",
            broadcast::kept_spelling(&given)
        ))),
    }
}

fn jobs(ctx: &Context, json: bool) -> Result<(), Error> {
    use std::io::Write;
    let view = ctx.engine.read();
    let mut out = std::io::stdout().lock();
    // In the order they started (then by id).
    let mut all: Vec<&reach::broadcast::Job> = view.jobs().values().collect();
    all.sort_by(|a, b| (a.started_at, &a.id).cmp(&(b.started_at, &b.id)));
    if json {
        for job in all {
            writeln!(out, "{}", Report::of(job).json()).map_err(write_error)?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = (all.iter())
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

/// A list of recipients as JSON objects.
fn identities_json(list: &[(reach::model::Channel, String, String)]) -> serde_json::Value {
    (list.iter())
        .map(|(c, a, e)| serde_json::json!({"channel": c.name(), "account": a, "external_id": e}))
        .collect::<Vec<_>>()
        .into()
}

fn show(ctx: &Context, id: &str, json: bool) -> Result<(), Error> {
    let mut report = broadcast::report(&ctx.engine, id)?;
    let idle = report.idle_since(ctx.now());
    let uncertain = recipients(ctx, id, &broadcast::BatchState::Uncertain);
    let in_flight = recipients(ctx, id, &broadcast::BatchState::InFlight);
    if json {
        let mut value = report.json();
        if let Some(at) = idle {
            value["idle_since"] = reach::model::time::format_rfc3339(at).into();
        }
        value["uncertain_recipients"] = identities_json(&uncertain);
        value["in_flight_recipients"] = identities_json(&in_flight);
        return outln!("{value}");
    }
    out!("{report}")?;
    if let Some(at) = idle {
        outln!(
            "  nothing logged since {}: if its run was stopped or killed, `reach broadcast resume {id}` finishes it",
            reach::model::time::format_rfc3339(at)
        )?;
    }
    let lists = [
        (
            uncertain,
            "uncertain recipients (their batch was in flight when the job stopped; `resume --resend-uncertain` sends to them again):",
        ),
        (
            in_flight,
            "recipients of the batch in flight (being sent now; if the job was killed, `resume` counts them uncertain):",
        ),
    ];
    for (list, title) in lists {
        if list.is_empty() {
            continue;
        }
        outln!("{title}")?;
        for (channel, account, id) in list {
            outln!("  {channel}/{account}/{id}")?;
        }
    }
    Ok(())
}

/// The recipients of a job's batches in `state` (uncertain: the recorded ones once the
/// job ended).
fn recipients(
    ctx: &Context,
    id: &str,
    state: &broadcast::BatchState,
) -> Vec<(reach::model::Channel, String, String)> {
    let view = ctx.engine.read();
    let Some(job) = view.jobs().get(id) else {
        return Vec::new();
    };
    if *state == broadcast::BatchState::Uncertain && !job.uncertain_recipients.is_empty() {
        return job.uncertain_recipients.clone();
    }
    if job.state != broadcast::JobState::Sending {
        return Vec::new();
    }
    view.identities(&job.rows_of(state))
}
