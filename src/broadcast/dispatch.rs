//! Starting a job: freezes the audience, judges it, refuses it when it cannot be sent
//! (a short LINE quota, an account the sink cannot reach), cuts the eligible into batches
//! per account and logs the job (`send.rs` sends it); and the small acts on a job:
//! `cancel`, `report`, each batch's idempotency key.

use roaring::RoaringBitmap;

use super::audience::{Audience, AudienceSource};
use super::eligibility::{Judgement, Rules, judge};
use super::message::Template;
use super::report::Report;
use super::sink::Sink;
use crate::engine::{Batch, BatchState, Job, JobState, Message, Options};
use crate::engine::{Edit, Engine};
use crate::error::Error;
use crate::model::{Channel, Seconds};

/// A broadcast to start.
#[derive(Clone, Debug)]
pub struct Request {
    /// The job id (`None`: one is made up from the time).
    pub id: Option<String>,
    pub audience: AudienceSource,
    pub message: Message,
    pub options: Options,
}

/// Freezes and judges a request without starting anything: what `--dry-run` and the
/// preview show.
pub fn preview(
    engine: &Engine,
    request: &Request,
    now: Seconds,
) -> Result<(Judgement, Template), Error> {
    let view = engine.read();
    let audience = Audience::freeze(&request.audience, &view)?;
    let template = Template::parse(&request.message.text, &audience.variables.columns)
        .map_err(Error::Usage)?;
    let rules = Rules {
        kind: request.message.kind,
        reply_window: request.options.reply_window,
        partial: request.options.partial,
        now,
    };
    let judgement = judge(&view, &audience.rows, audience.unknown, rules)?;
    check_text(&request.message, &template, view.store(), &judgement)?;
    Ok((judgement, template))
}

/// Refuses a text that no platform of the eligible would send whole: an empty one, or one
/// longer than a channel of the eligible takes in a text message (unless a payload file
/// gives that channel its own message).
fn check_text(
    message: &Message,
    template: &Template,
    store: &crate::store::Store,
    judgement: &Judgement,
) -> Result<(), Error> {
    super::message::check_text(&message.text).map_err(Error::Usage)?;
    let channels: std::collections::BTreeSet<Channel> = (store.accounts())
        .filter(|a| !a.rows.is_disjoint(&judgement.eligible))
        .map(|a| a.channel)
        .filter(|c| !message.payloads.contains_key(c.name()))
        .collect();
    for channel in channels {
        template.check_length(channel).map_err(Error::Usage)?;
    }
    Ok(())
}

/// Starts a job: freezes the audience, judges it at `now`, refuses it if a LINE account's
/// quota is short (unless partial send), cuts the eligible into batches for `sink`, and
/// logs the job. Returns its id.
pub fn start(
    engine: &Engine,
    request: Request,
    sink: &dyn Sink,
    now: Seconds,
) -> Result<String, Error> {
    let job = {
        let view = engine.read();
        let audience = Audience::freeze(&request.audience, &view)?;
        let template = Template::parse(&request.message.text, &audience.variables.columns)
            .map_err(Error::Usage)?;
        let rules = Rules {
            kind: request.message.kind,
            reply_window: request.options.reply_window,
            partial: request.options.partial,
            now,
        };
        let judgement = judge(&view, &audience.rows, audience.unknown, rules)?;
        check_text(&request.message, &template, view.store(), &judgement)?;
        let options = &request.options;
        if let Some(why) = refusal(view.store(), &judgement, options.partial, Some(sink)) {
            return Err(Error::Refused(why));
        }
        let batches = cut(view.store(), &judgement.eligible, sink);
        let mut variables = audience.variables;
        variables.values.retain(&judgement.eligible);
        Job {
            id: request.id.unwrap_or_else(|| fresh_id(view.jobs(), now)),
            state: JobState::Sending,
            message: request.message,
            options: Options {
                sink: super::sink::kept_spelling(&request.options.sink),
                ..request.options
            },
            started_at: now,
            figures: judgement.figures(),
            variables,
            batches,
            uncertain_recipients: Vec::new(),
            throughput: Default::default(),
        }
    };
    let id = job.id.clone();
    engine.commit(Edit::StartJob(Box::new(job)), now)?;
    Ok(id)
}

/// A job id not used yet: `job-NOW`, then `job-NOW-2`, `job-NOW-3`, ….
fn fresh_id(jobs: &std::collections::BTreeMap<String, Job>, now: Seconds) -> String {
    let base = format!("job-{now}");
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|id| !jobs.contains_key(id))
        .unwrap_or(base)
}

/// Why a judged broadcast must be refused before anything is sent, if it must: a LINE
/// account's quota is short (without `partial`), or `sink` (when known) cannot reach an
/// account of the eligible at all (no endpoint for it, or one that does not answer).
pub fn refusal(
    store: &crate::store::Store,
    judgement: &Judgement,
    partial: bool,
    sink: Option<&dyn Sink>,
) -> Option<String> {
    let mut reasons = Vec::new();
    if !partial && !judgement.short.is_empty() {
        reasons.push(short_quota(&judgement.short));
    }
    if let Some(sink) = sink {
        let missing: Vec<String> = (store.accounts())
            .filter(|a| !a.rows.is_disjoint(&judgement.eligible))
            .filter_map(|a| sink.unreachable(a.channel, a.id))
            .collect();
        if !missing.is_empty() {
            reasons.push(format!(
                "the channels file has no {} (endpoint and token) for accounts of this audience; add them, or send elsewhere with --sink",
                missing.join(", ")
            ));
        }
        let silent = (store.accounts())
            .filter(|a| !a.rows.is_disjoint(&judgement.eligible))
            .filter_map(|a| sink.unanswered(a.channel, a.id));
        reasons.extend(silent);
    }
    (!reasons.is_empty()).then(|| format!("{}; nothing was sent", reasons.join("; ")))
}

/// Why a broadcast is refused for lack of LINE quota.
fn short_quota(short: &[(String, u64, u64)]) -> String {
    let accounts: Vec<String> = (short.iter())
        .map(|(account, left, needed)| {
            format!(
                "LINE account {account} has {left} messages left and this broadcast needs {needed}"
            )
        })
        .collect();
    format!(
        "{}. Buy more messages (then `reach quota ACCOUNT --purchased N`), or send what the quota allows with --partial",
        accounts.join("; ")
    )
}

/// The eligible, cut into batches: per account (in the store's order), row order within,
/// the accounts' batches interleaved so that paced accounts overlap.
fn cut(store: &crate::store::Store, eligible: &RoaringBitmap, sink: &dyn Sink) -> Vec<Batch> {
    let mut queues: Vec<Vec<Batch>> = Vec::new();
    for account in store.accounts() {
        let rows: Vec<u32> = (eligible & account.rows).iter().collect();
        let size = sink.batch_size(account.channel).max(1);
        let batches = rows.chunks(size).map(|chunk| Batch {
            channel: account.channel,
            account: account.id.to_string(),
            rows: chunk.iter().copied().collect(),
            state: BatchState::Pending,
        });
        queues.push(batches.collect());
    }
    let longest = queues.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..longest {
        for queue in &mut queues {
            if let Some(batch) = queue.get_mut(i) {
                out.push(std::mem::replace(batch, empty_batch()));
            }
        }
    }
    out
}

fn empty_batch() -> Batch {
    Batch {
        channel: Channel::Web,
        account: String::new(),
        rows: RoaringBitmap::new(),
        state: BatchState::Pending,
    }
}

/// The batch's idempotency key: a UUID derived from the job and the batch number, the
/// same on every retry and every resume.
pub fn idempotency_key(job: &str, batch: u32) -> String {
    let namespace = uuid::Uuid::NAMESPACE_URL;
    uuid::Uuid::new_v5(&namespace, format!("reach:{job}/{batch}").as_bytes()).to_string()
}

/// Ends a job left sending (`cancel`): it sends nothing more.
pub fn cancel(engine: &Engine, id: &str, now: Seconds) -> Result<Report, Error> {
    let state = JobState::Failed("cancelled".into());
    engine.commit(
        Edit::EndJob {
            job: id.to_string(),
            state,
        },
        now,
    )?;
    report(engine, id)
}

pub(super) fn job_of(engine: &Engine, id: &str) -> Result<Job, Error> {
    let view = engine.read();
    view.jobs().get(id).cloned().ok_or_else(|| {
        Error::NotFound(format!(
            "there is no job '{id}' (`reach broadcast jobs` lists them)"
        ))
    })
}

/// The numbers of job `id`'s batches not logged as sent (none for an unknown job): what a
/// resumed outbox reads back.
pub fn unsent_batches(engine: &Engine, id: &str) -> RoaringBitmap {
    let view = engine.read();
    view.jobs()
        .get(id)
        .map(Job::unsent_batches)
        .unwrap_or_default()
}

/// The report of a job as it stands.
pub fn report(engine: &Engine, id: &str) -> Result<Report, Error> {
    let view = engine.read();
    let job = view.jobs().get(id).ok_or_else(|| {
        Error::NotFound(format!(
            "there is no job '{id}' (`reach broadcast jobs` lists them)"
        ))
    })?;
    Ok(Report::of(job))
}
