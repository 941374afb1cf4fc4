//! Sending a started job, many requests in flight: the accounts in parallel, each with
//! its own workers, queue and pace (`crew.rs`). The dispatcher (this thread) takes up
//! batches per account while the account has fewer requests waiting than twice its
//! workers — logging the intents of batches through sinks without keys together, one
//! flush for all, before their requests go out — renders them (`prepare.rs`), has the
//! sink cut them into requests, and logs the outcomes of the batches that settled
//! together (group commit), each with its books. A job killed at any moment is
//! `resume`d: batches not logged as sent go again with the same keys; batches in flight
//! through a sink without keys are `uncertain`, sent again only when asked.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::crew::{Account, Crew, Flight, Piece};
use super::dispatch::{job_of, report};
use super::message::Template;
use super::prepare::prepare;
use super::report::Report;
use super::sink::Sink;
use crate::engine::{BatchState, Edit, Engine, Job, JobState};
use crate::error::Error;
use crate::model::Seconds;

/// How a run behaves.
pub struct Run<'a> {
    /// The send time of each batch (its books: `team_marketing_at`, `fb_last_sent_at`).
    pub clock: &'a dyn Fn() -> Seconds,
    /// Told (done, eligible at the start) after each group of batches is logged.
    pub progress: &'a dyn Fn(u64, u64),
    /// Asked before taking up batches: true stops the run once the batches in flight
    /// settle (the job stays `sending`).
    pub stop: &'a dyn Fn() -> bool,
    /// The first retry's wait; each further retry waits twice as long (at most 5 s).
    pub backoff: Duration,
    /// At most this many requests a second to each account, instead of the job's rate
    /// (`resume --rate`).
    pub rate: Option<u32>,
    /// At most this many requests in flight to each account, instead of the sink's
    /// default for the channel (`--concurrency`).
    pub concurrency: Option<u32>,
}

impl Default for Run<'_> {
    fn default() -> Self {
        Run {
            clock: &crate::model::time::now,
            progress: &|_, _| {},
            stop: &|| false,
            backoff: Duration::from_millis(200),
            rate: None,
            concurrency: None,
        }
    }
}

/// Batches an account may have in flight at once.
const FLIGHTS: usize = 64;

/// Recipients an account may have taken up and not yet logged (at least one batch): what
/// bounds the rendered texts held, whatever the audience. It covers LINE's 64 workers
/// with multicasts of 500 twice over; batches that settle wait for the dispatcher to log
/// them, so without it a fast sink had 64 batches an account rendered (the whole of a
/// 1M audience).
pub const IN_FLIGHT_RECIPIENTS: u64 = 40_000;

/// Resumes a job left `sending`: batches in flight through a sink without idempotency
/// keys become `uncertain` (sent again only with `resend_uncertain`); then it runs on.
pub fn resume(
    engine: &Engine,
    id: &str,
    sink: &dyn Sink,
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
    sink: &dyn Sink,
    resend_uncertain: bool,
    run: &Run,
) -> Result<Report, Error> {
    let job = job_of(engine, id)?;
    let template =
        Template::parse(&job.message.text, &job.variables.columns).map_err(Error::Usage)?;
    let (done, finished) = channel();
    let crew = Crew {
        sink,
        backoff: run.backoff,
        done: Mutex::new(done),
        stopped: Mutex::new(None),
        paused: Mutex::new(None),
    };
    let mut lead = Lead {
        engine,
        job: &job,
        template: &template,
        run,
        due: due(&job, resend_uncertain),
        accounts: HashMap::new(),
        flights: HashMap::new(),
        in_flight: 0,
    };
    let crew = &crew;
    let sent = std::thread::scope(|scope| {
        let spawn = |account: &Arc<Account>| {
            for _ in 0..account.workers {
                let account = Arc::clone(account);
                scope.spawn(move || crew.work(&account));
            }
        };
        let sent = lead.run(crew, &spawn, &finished);
        lead.accounts.values().for_each(|a| a.close());
        sent
    });
    sent?;
    let stopped = lock(&crew.stopped).take();
    let paused = lock(&crew.paused).take();
    end(engine, id, stopped, paused, run)
}

/// The batches to send, per account in the order the job lists them.
fn due(job: &Job, resend_uncertain: bool) -> Vec<(String, VecDeque<usize>)> {
    let mut due: Vec<(String, VecDeque<usize>)> = Vec::new();
    for (index, batch) in job.batches.iter().enumerate() {
        let send = match batch.state {
            BatchState::Pending | BatchState::InFlight => true,
            BatchState::Uncertain => resend_uncertain,
            BatchState::Done => false,
        };
        if !send {
            continue;
        }
        match due.iter_mut().find(|(a, _)| *a == batch.account) {
            Some((_, queue)) => queue.push_back(index),
            None => due.push((batch.account.clone(), VecDeque::from([index]))),
        }
    }
    due
}

/// The dispatcher's state.
struct Lead<'a> {
    engine: &'a Engine,
    job: &'a Job,
    template: &'a Template,
    run: &'a Run<'a>,
    due: Vec<(String, VecDeque<usize>)>,
    accounts: HashMap<String, Arc<Account>>,
    /// Batches and recipients in flight per account (taken up, not logged).
    flights: HashMap<String, (usize, u64)>,
    in_flight: usize,
}

impl Lead<'_> {
    /// Takes up batches and logs settled ones until every batch is sent, or the run or
    /// the sink stops it and what is in flight has settled.
    fn run(
        &mut self,
        crew: &Crew,
        spawn: &dyn Fn(&Arc<Account>),
        finished: &Receiver<Arc<Flight>>,
    ) -> Result<(), Error> {
        let mut stopping = false;
        loop {
            stopping = stopping
                || (self.run.stop)()
                || lock(&crew.stopped).is_some()
                || lock(&crew.paused).is_some();
            if !stopping {
                self.admit(crew, spawn)?;
            }
            let drained = self.due.iter().all(|(_, q)| q.is_empty());
            if self.in_flight == 0 && (stopping || drained) {
                return Ok(());
            }
            let Ok(first) = finished.recv_timeout(Duration::from_millis(2)) else {
                continue;
            };
            let settled: Vec<Arc<Flight>> =
                std::iter::once(first).chain(finished.try_iter()).collect();
            self.log(&settled)?;
        }
    }

    /// Takes up batches, a round at a time (one each for the accounts with room), while
    /// any account has room.
    fn admit(&mut self, crew: &Crew, spawn: &dyn Fn(&Arc<Account>)) -> Result<(), Error> {
        loop {
            let mut picked = Vec::new();
            for (name, queue) in &mut self.due {
                let Some(&index) = queue.front() else {
                    continue;
                };
                let account = self.accounts.entry(name.clone()).or_insert_with(|| {
                    let channel = self.job.batches[index].channel;
                    let workers = (self.run.concurrency.map(|c| c as usize))
                        .unwrap_or_else(|| crew.sink.concurrency(channel));
                    let rate = self.run.rate.or(self.job.options.rate).map(f64::from);
                    let account = Arc::new(Account::new(channel, workers, rate));
                    spawn(&account);
                    account
                });
                let (flights, recipients) = self.flights.get(name).copied().unwrap_or_default();
                let more = recipients + self.job.batches[index].rows.len();
                let room = flights == 0 || (flights < FLIGHTS && more <= IN_FLIGHT_RECIPIENTS);
                if account.load() < 2 * account.workers && room {
                    picked.push(index);
                    queue.pop_front();
                }
            }
            if picked.is_empty() {
                return Ok(());
            }
            self.take_up(crew, picked)?;
        }
    }

    /// Logs the intents of `picked` (through a sink without keys) together, renders
    /// them and queues their requests.
    fn take_up(&mut self, crew: &Crew, picked: Vec<usize>) -> Result<(), Error> {
        let batches = &self.job.batches;
        let intents: Vec<Edit> = (picked.iter())
            .filter(|&&i| !crew.sink.idempotent(batches[i].channel))
            .map(|&i| Edit::BatchIntent {
                job: self.job.id.clone(),
                batch: i as u32,
            })
            .collect();
        if !intents.is_empty() {
            committed(self.engine.commit_all(intents, (self.run.clock)()))?;
        }
        let at = (self.run.clock)();
        let view = self.engine.read();
        for index in picked {
            let (prepared, skipped) = prepare(&view, self.job, self.template, index, at);
            let parts = match prepared.recipients.is_empty() {
                true => Vec::new(),
                false => crew.sink.split(&prepared.whole()),
            };
            let flight = Arc::new(Flight::new(index, prepared, skipped, parts.len()));
            self.in_flight += 1;
            let flights = self.flights.entry(batches[index].account.clone());
            let (n, recipients) = flights.or_default();
            *n += 1;
            *recipients += batches[index].rows.len();
            if parts.is_empty() {
                let _ = lock(&crew.done).send(flight);
                continue;
            }
            let pieces = (parts.into_iter())
                .map(|part| Piece {
                    flight: Arc::clone(&flight),
                    picks: part.recipients,
                    key: part.key,
                    endpoint: part.endpoint,
                    failures: 0,
                    slowdowns: 0,
                    last: String::new(),
                })
                .collect();
            self.accounts[&batches[index].account].push(pieces);
        }
        Ok(())
    }

    /// Logs the outcomes of settled batches together, each with its books; a batch put
    /// off by a pause is not logged (it stays due for a resume).
    fn log(&mut self, settled: &[Arc<Flight>]) -> Result<(), Error> {
        let edits: Vec<Edit> = (settled.iter())
            .filter(|flight| !flight.is_paused())
            .map(|flight| Edit::BatchDone {
                job: self.job.id.clone(),
                batch: flight.index as u32,
                outcome: Box::new(flight.finish()),
            })
            .collect();
        for flight in settled {
            self.in_flight -= 1;
            if let Some((n, recipients)) = self.flights.get_mut(&flight.prepared.account) {
                *n -= 1;
                *recipients -= self.job.batches[flight.index].rows.len();
            }
        }
        if edits.is_empty() {
            return Ok(());
        }
        committed(self.engine.commit_all(edits, (self.run.clock)()))?;
        let done = progress_of(self.engine, &self.job.id);
        (self.run.progress)(done, self.job.figures.eligible);
        Ok(())
    }
}

/// The first error of a group commit, if any.
fn committed(results: Vec<Result<crate::engine::Committed, Error>>) -> Result<(), Error> {
    results.into_iter().try_for_each(|r| r.map(|_| ()))
}

/// Ends the job: failed when the sink stopped it, done when every batch is settled (a
/// stopped or paused run leaves it sending; a pause's cause is the report's reason).
fn end(
    engine: &Engine,
    id: &str,
    stopped: Option<String>,
    paused: Option<String>,
    run: &Run,
) -> Result<Report, Error> {
    let state = match stopped {
        Some(why) => Some(JobState::Failed(why)),
        None => {
            let settled = engine.read().jobs().get(id).is_some_and(Job::all_settled);
            settled.then_some(JobState::Done)
        }
    };
    if let Some(state) = state {
        let edit = Edit::EndJob {
            job: id.to_string(),
            state,
        };
        engine.commit(edit, (run.clock)())?;
    }
    let mut report = report(engine, id)?;
    if report.state == JobState::Sending.name() && report.reason.is_none() {
        report.reason = paused;
    }
    Ok(report)
}

/// Recipients dealt with so far: sent, failed, skipped at their turn.
fn progress_of(engine: &Engine, id: &str) -> u64 {
    let view = engine.read();
    view.jobs().get(id).map_or(0, |j| {
        let f = &j.figures;
        f.sent + f.failed + f.excluded.deleted + (j.eligible_at_start() - f.eligible)
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
