//! The dispatcher: starts a job (freezes the audience, judges it, cuts the eligible into
//! batches per account, logs the job), then sends batch after batch through a [`Sink`] —
//! each batch's recipients checked again at their turn, paced per account, retried with
//! a doubling backoff (at most 5 s a wait) — and logs each batch's outcome with its books
//! before the next. A job killed at any moment is `resume`d: batches not logged as sent go
//! again with the same idempotency keys; a batch in flight through a sink without keys
//! has its intent logged before its requests go out, is `uncertain` after a crash, and is
//! sent again only when asked.

use std::collections::HashMap;
use std::time::Duration;

use roaring::RoaringBitmap;

use super::audience::{Audience, AudienceSource};
use super::eligibility::{Judgement, Rules, judge};
use super::message::Template;
use super::report::Report;
use super::sink::{Delivery, Outcome, Outgoing, Pace, Sink};
use crate::engine::{Batch, BatchOutcome, BatchState, Job, JobState, Message, Options};
use crate::engine::{Edit, Engine};
use crate::error::Error;
use crate::model::{Channel, Flag, Seconds};

/// A broadcast to start.
#[derive(Clone, Debug)]
pub struct Request {
    /// The job id (`None`: one is made up from the time).
    pub id: Option<String>,
    pub audience: AudienceSource,
    pub message: Message,
    pub options: Options,
}

/// How a run behaves.
pub struct Run<'a> {
    /// The send time of each batch (its books: `team_marketing_at`, `fb_last_sent_at`).
    pub clock: &'a dyn Fn() -> Seconds,
    /// Told (done, eligible at the start) after each batch.
    pub progress: &'a dyn Fn(u64, u64),
    /// Asked before each batch: true stops the run (the job stays `sending`).
    pub stop: &'a dyn Fn() -> bool,
    /// The first retry's wait; each further retry waits twice as long (at most 5 s).
    pub backoff: Duration,
    /// At most this many requests a second to each account, instead of the job's rate
    /// (`resume --rate`).
    pub rate: Option<u32>,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            clock: &crate::model::time::now,
            progress: &|_, _| {},
            stop: &|| false,
            backoff: Duration::from_millis(200),
            rate: None,
        }
    }
}

/// Attempts per recipient (the first and the retries).
const ATTEMPTS: usize = 6;

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
    Ok((
        judge(&view, &audience.rows, audience.unknown, rules)?,
        template,
    ))
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
        Template::parse(&request.message.text, &audience.variables.columns)
            .map_err(Error::Usage)?;
        let rules = Rules {
            kind: request.message.kind,
            reply_window: request.options.reply_window,
            partial: request.options.partial,
            now,
        };
        let judgement = judge(&view, &audience.rows, audience.unknown, rules)?;
        let options = &request.options;
        if let Some(why) = refusal(view.store(), &judgement, options.partial, Some(sink)) {
            return Err(Error::Refused(why));
        }
        let batches = cut(view.store(), &judgement.eligible, sink);
        let mut variables = audience.variables;
        variables
            .values
            .retain(|row, _| judgement.eligible.contains(*row));
        Job {
            id: request.id.unwrap_or_else(|| fresh_id(view.jobs(), now)),
            state: JobState::Sending,
            message: request.message,
            options: request.options,
            started_at: now,
            figures: judgement.figures(),
            variables,
            batches,
            uncertain_recipients: Vec::new(),
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
/// account of the eligible at all.
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

/// Resumes a job left `sending`: batches in flight through a sink without idempotency
/// keys become `uncertain` (sent again only with `resend_uncertain`); then it runs on.
pub fn resume(
    engine: &Engine,
    id: &str,
    sink: &mut dyn Sink,
    resend_uncertain: bool,
    run: &Run,
) -> Result<Report, Error> {
    let job = job_of(engine, id)?;
    if job.state != JobState::Sending {
        return Err(Error::Refused(format!(
            "job '{id}' is {}: a job that ended never sends again",
            job.state.name()
        )));
    }
    let in_flight: Vec<u32> = (job.batches.iter().enumerate())
        .filter(|(_, b)| b.state == BatchState::InFlight && !sink.idempotent(b.channel))
        .map(|(i, _)| i as u32)
        .collect();
    if !in_flight.is_empty() && !resend_uncertain {
        let edit = Edit::BatchesUncertain {
            job: id.to_string(),
            batches: in_flight,
        };
        engine.commit(edit, (run.clock)())?;
    }
    send(engine, id, sink, resend_uncertain, run)
}

/// Sends a started job's batches.
pub fn send(
    engine: &Engine,
    id: &str,
    sink: &mut dyn Sink,
    resend_uncertain: bool,
    run: &Run,
) -> Result<Report, Error> {
    let job = job_of(engine, id)?;
    let mut paces: HashMap<String, Pace> = HashMap::new();
    for (index, batch) in job.batches.iter().enumerate() {
        let due = match batch.state {
            BatchState::Pending | BatchState::InFlight => true,
            BatchState::Uncertain => resend_uncertain,
            BatchState::Done => false,
        };
        if !due {
            continue;
        }
        if (run.stop)() {
            return report(engine, id);
        }
        let rate = (run.rate.or(job.options.rate))
            .map(f64::from)
            .or_else(|| sink.default_rate(batch.channel));
        let pace = paces
            .entry(batch.account.clone())
            .or_insert_with(|| Pace::new(rate));
        let stopped = send_batch(engine, &job, index, sink, pace, run)?;
        (run.progress)(progress_of(engine, id), job.figures.eligible);
        if let Some(why) = stopped {
            engine.commit(
                Edit::EndJob {
                    job: id.to_string(),
                    state: JobState::Failed(why),
                },
                (run.clock)(),
            )?;
            return report(engine, id);
        }
    }
    let settled = engine.read().jobs().get(id).is_some_and(Job::all_settled);
    if settled {
        engine.commit(
            Edit::EndJob {
                job: id.to_string(),
                state: JobState::Done,
            },
            (run.clock)(),
        )?;
    }
    report(engine, id)
}

/// Recipients dealt with so far: sent, failed, skipped at their turn.
fn progress_of(engine: &Engine, id: &str) -> u64 {
    let view = engine.read();
    view.jobs().get(id).map_or(0, |j| {
        let f = &j.figures;
        f.sent + f.failed + f.excluded.deleted + (j.eligible_at_start() - f.eligible)
    })
}

/// Sends one batch and logs its outcome; returns why the job must stop, if it must.
fn send_batch(
    engine: &Engine,
    job: &Job,
    index: usize,
    sink: &mut dyn Sink,
    pace: &mut Pace,
    run: &Run,
) -> Result<Option<String>, Error> {
    let batch = &job.batches[index];
    if !sink.idempotent(batch.channel) {
        let edit = Edit::BatchIntent {
            job: job.id.clone(),
            batch: index as u32,
        };
        engine.commit(edit, (run.clock)())?;
    }
    let template =
        Template::parse(&job.message.text, &job.variables.columns).map_err(Error::Usage)?;
    let at = (run.clock)();
    let (outcome, stop) = {
        let view = engine.read();
        let store = view.store();
        let mut outcome = BatchOutcome {
            at,
            ..BatchOutcome::default()
        };
        // Checked again at their turn: deleted, blocked, opted out since the start.
        outcome.deleted = &batch.rows - store.live();
        let alive = &batch.rows - &outcome.deleted;
        outcome.blocked = &alive & store.flag(Flag::Blocked);
        if let Some(kind) = job.message.kind.opt_out() {
            outcome.opted_out = (&alive - &outcome.blocked) & store.opt_out(kind);
        }
        let rows: Vec<u32> = (&alive - &outcome.blocked - &outcome.opted_out)
            .iter()
            .collect();
        let mut outgoing = Outgoing {
            job: &job.id,
            batch: index as u32,
            key: idempotency_key(&job.id, index as u32),
            kind: job.message.kind,
            channel: batch.channel,
            account: &batch.account,
            payload: job
                .message
                .payloads
                .get(batch.channel.name())
                .map(String::as_str),
            reply_window: job.options.reply_window,
            subject: job.message.subject.as_deref(),
            rows,
            store,
            template: &template,
            variables: &job.variables,
            pace: std::cell::RefCell::new(pace),
        };
        let (results, stop) = deliver(sink, &mut outgoing, run.backoff);
        for (row, result) in outgoing.rows.iter().zip(results) {
            match result {
                Outcome::Sent => _ = outcome.sent.insert(*row),
                Outcome::Failed(why) | Outcome::Retry(why) => outcome.failed.push((*row, why)),
            }
        }
        (outcome, stop)
    };
    let edit = Edit::BatchDone {
        job: job.id.clone(),
        batch: index as u32,
        outcome: Box::new(outcome),
    };
    engine.commit(edit, at)?;
    Ok(stop)
}

/// Delivers a batch, retrying what may be retried with a doubling backoff; returns each
/// recipient's final outcome, and why the job must stop if the sink said so.
fn deliver(
    sink: &mut dyn Sink,
    outgoing: &mut Outgoing,
    backoff: Duration,
) -> (Vec<Outcome>, Option<String>) {
    let all = std::mem::take(&mut outgoing.rows);
    let mut results: Vec<Option<Outcome>> = vec![None; all.len()];
    let mut pending: Vec<usize> = (0..all.len()).collect();
    let mut last_reason = String::new();
    let mut stop = None;
    for attempt in 0..ATTEMPTS {
        if pending.is_empty() {
            break;
        }
        if attempt > 0 {
            std::thread::sleep((backoff * (1 << (attempt - 1))).min(Duration::from_secs(5)));
        }
        outgoing.rows = pending.iter().map(|&p| all[p]).collect();
        let mut again = Vec::new();
        match sink.send(outgoing) {
            Delivery::Each(outcomes) => {
                for (i, &p) in pending.iter().enumerate() {
                    match outcomes
                        .get(i)
                        .cloned()
                        .unwrap_or(Outcome::Retry("no outcome".into()))
                    {
                        Outcome::Retry(why) => {
                            last_reason = why;
                            again.push(p);
                        }
                        done => results[p] = Some(done),
                    }
                }
            }
            Delivery::Retry(why) => {
                last_reason = why;
                again = pending.clone();
            }
            Delivery::Failed(why) => pending
                .iter()
                .for_each(|&p| results[p] = Some(Outcome::Failed(why.clone()))),
            Delivery::Stop { done, why } => {
                for (i, &p) in pending.iter().enumerate() {
                    results[p] = Some(match done.get(i) {
                        Some(Outcome::Retry(_)) | None => Outcome::Failed(why.clone()),
                        Some(outcome) => outcome.clone(),
                    });
                }
                stop = Some(why);
            }
        }
        pending = again;
        if stop.is_some() {
            break;
        }
    }
    let gave_up = format!("gave up after {ATTEMPTS} attempts: {last_reason}");
    outgoing.rows = all;
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Outcome::Failed(gave_up.clone())))
        .collect();
    (results, stop)
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

fn job_of(engine: &Engine, id: &str) -> Result<Job, Error> {
    let view = engine.read();
    view.jobs().get(id).cloned().ok_or_else(|| {
        Error::NotFound(format!(
            "there is no job '{id}' (`reach broadcast jobs` lists them)"
        ))
    })
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
