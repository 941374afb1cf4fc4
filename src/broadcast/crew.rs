//! The threads that send: per account, a queue of requests ([`Piece`]s of the batches in
//! flight) and as many workers as the account may have requests in flight. A worker
//! takes the next request that is due, waits for its endpoint's turn ([`Pace`]), sends
//! it, and settles what it can; a request to retry goes back to the queue with a time
//! (a doubling backoff, or the platform's `Retry-After`, which also holds the account's
//! pace), so a backoff never holds a thread nor any other request. When the last request
//! of a batch settles, the batch is handed to the dispatcher, which logs it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::pace::Pace;
use super::sink::{Delivery, Outcome, Prepared, Sink};
use crate::engine::BatchOutcome;
use crate::model::Channel;

/// Retryable failures of one request before its recipients fail (the first try
/// included).
pub const ATTEMPTS: u32 = 6;
/// Times a request may be told to come back later (429) before its recipients fail.
const SLOWDOWNS: u32 = 100;

/// A batch in flight: its rendered recipients and, as requests settle, their outcomes.
pub struct Flight {
    pub index: usize,
    pub prepared: Prepared,
    /// Those skipped at their turn (the sent and failed are added at the end).
    skipped: BatchOutcome,
    settling: Mutex<Settling>,
    /// Whether a request of it was put off by a pause: the batch is not logged, and a
    /// resume sends it again.
    paused: AtomicBool,
}

struct Settling {
    outcomes: Vec<Option<Outcome>>,
    /// Requests not settled yet.
    open: usize,
}

impl Flight {
    pub fn new(index: usize, prepared: Prepared, skipped: BatchOutcome, parts: usize) -> Flight {
        let n = prepared.recipients.len();
        Flight {
            index,
            prepared,
            skipped,
            settling: Mutex::new(Settling {
                outcomes: vec![None; n],
                open: parts,
            }),
            paused: AtomicBool::new(false),
        }
    }

    /// Whether the batch was put off by a pause (see [`Delivery::Pause`]).
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// The batch's outcome, once every request settled.
    pub fn finish(&self) -> BatchOutcome {
        let mut outcome = self.skipped.clone();
        let settling = lock(&self.settling);
        for (recipient, result) in self.prepared.recipients.iter().zip(&settling.outcomes) {
            match result {
                Some(Outcome::Sent) => _ = outcome.sent.insert(recipient.row),
                Some(Outcome::Failed(why) | Outcome::Retry(why)) => {
                    outcome.failed.push((recipient.row, why.clone()))
                }
                None => outcome.failed.push((recipient.row, "not sent".into())),
            }
        }
        outcome
    }

    /// Records final outcomes; `closes`: the request is settled. True when the batch is.
    fn settle(&self, results: impl IntoIterator<Item = (usize, Outcome)>, closes: bool) -> bool {
        let mut settling = lock(&self.settling);
        for (i, outcome) in results {
            settling.outcomes[i] = Some(outcome);
        }
        if closes {
            settling.open -= 1;
        }
        settling.open == 0
    }
}

/// One request to send: recipients of a batch in flight, its key and endpoint, and how
/// it fared so far.
pub struct Piece {
    pub flight: Arc<Flight>,
    pub picks: Vec<usize>,
    pub key: String,
    pub endpoint: &'static str,
    pub failures: u32,
    pub slowdowns: u32,
    pub last: String,
}

#[derive(Default)]
struct Queue {
    ready: VecDeque<Piece>,
    later: Vec<(Instant, Piece)>,
    closed: bool,
}

/// One account's queue, paces and load.
pub struct Account {
    queue: Mutex<Queue>,
    wake: Condvar,
    paces: Mutex<HashMap<&'static str, Arc<Pace>>>,
    /// One pace for every endpoint (`--rate`), else each endpoint its own.
    shared: Option<Arc<Pace>>,
    channel: Channel,
    busy: AtomicUsize,
    pub workers: usize,
}

impl Account {
    /// An account of `channel` sending with `workers` requests in flight at most, at
    /// `rate` requests a second on every endpoint together, else at the sink's default
    /// rate on each.
    pub fn new(channel: Channel, workers: usize, rate: Option<f64>) -> Account {
        Account {
            queue: Mutex::default(),
            wake: Condvar::new(),
            paces: Mutex::default(),
            shared: rate.map(|r| Arc::new(Pace::new(Some(r)))),
            channel,
            busy: AtomicUsize::new(0),
            workers: workers.max(1),
        }
    }

    /// Requests queued and being sent (not those waiting to be retried).
    pub fn load(&self) -> usize {
        lock(&self.queue).ready.len() + self.busy.load(Ordering::Relaxed)
    }

    /// Queues requests to send now.
    pub fn push(&self, pieces: Vec<Piece>) {
        lock(&self.queue).ready.extend(pieces);
        self.wake.notify_all();
    }

    /// Queues a request to send at `at`.
    fn push_later(&self, at: Instant, piece: Piece) {
        lock(&self.queue).later.push((at, piece));
        self.wake.notify_one();
    }

    /// No more requests will come: the workers leave once the queue is empty.
    pub fn close(&self) {
        lock(&self.queue).closed = true;
        self.wake.notify_all();
    }

    fn pace(&self, endpoint: &'static str, sink: &dyn Sink) -> Arc<Pace> {
        if let Some(pace) = &self.shared {
            return Arc::clone(pace);
        }
        let mut paces = lock(&self.paces);
        let pace = paces
            .entry(endpoint)
            .or_insert_with(|| Arc::new(Pace::new(sink.default_rate(self.channel, endpoint))));
        Arc::clone(pace)
    }

    /// The next request that is due, waiting for one; `None` once closed and empty.
    fn take(&self) -> Option<Piece> {
        let mut queue = lock(&self.queue);
        loop {
            let now = Instant::now();
            while let Some(at) = queue.later.iter().position(|(t, _)| *t <= now) {
                let (_, piece) = queue.later.swap_remove(at);
                queue.ready.push_back(piece);
            }
            if let Some(piece) = queue.ready.pop_front() {
                self.busy.fetch_add(1, Ordering::Relaxed);
                return Some(piece);
            }
            if queue.closed && queue.later.is_empty() {
                return None;
            }
            let wait = (queue.later.iter().map(|(t, _)| *t).min())
                .map_or(Duration::from_millis(100), |t| {
                    t.saturating_duration_since(now)
                });
            queue = (self.wake.wait_timeout(queue, wait))
                .map(|(q, _)| q)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// What the workers share: the sink, the backoff, where settled batches go, why the job
/// stopped if it did, and why the run paused if it did.
pub struct Crew<'a> {
    pub sink: &'a dyn Sink,
    pub backoff: Duration,
    pub done: Mutex<Sender<Arc<Flight>>>,
    pub stopped: Mutex<Option<String>>,
    pub paused: Mutex<Option<String>>,
}

impl Crew<'_> {
    /// A worker of `account`: sends requests until the queue closes.
    pub fn work(&self, account: &Account) {
        while let Some(piece) = account.take() {
            let stopped = lock(&self.stopped).clone();
            match stopped {
                Some(why) => self.fail(piece, &why),
                None if lock(&self.paused).is_some() => self.put_off(piece),
                None => self.send(account, piece),
            }
            account.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn send(&self, account: &Account, piece: Piece) {
        let pace = account.pace(piece.endpoint, self.sink);
        pace.wait();
        let prepared = &piece.flight.prepared;
        let request = prepared.request(Some(&piece.picks), &piece.key, piece.endpoint);
        match self.sink.send(&request) {
            Delivery::Each(outcomes) => self.each(account, piece, outcomes),
            Delivery::Retry(why) => self.again(account, piece, why),
            Delivery::Later { why, after } => {
                let until = Instant::now() + after;
                pace.hold(until);
                self.later(account, piece, why, until)
            }
            Delivery::Failed(why) => self.fail(piece, &why),
            Delivery::Stop { done, why } => {
                lock(&self.stopped).get_or_insert_with(|| why.clone());
                let results = (piece.picks.iter().enumerate()).map(|(i, &p)| match done.get(i) {
                    Some(Outcome::Retry(_)) | None => (p, Outcome::Failed(why.clone())),
                    Some(outcome) => (p, outcome.clone()),
                });
                self.settle(&piece.flight, results.collect(), true);
            }
            Delivery::Pause(why) => {
                lock(&self.paused).get_or_insert(why);
                self.put_off(piece);
            }
        }
    }

    /// The request is not sent in this run: its batch is left for a resume.
    fn put_off(&self, piece: Piece) {
        piece.flight.paused.store(true, Ordering::Release);
        self.settle(&piece.flight, Vec::new(), true);
    }

    /// Per-recipient outcomes: the final ones settle, the others go again together.
    fn each(&self, account: &Account, piece: Piece, outcomes: Vec<Outcome>) {
        let mut retry = Vec::new();
        let mut last = piece.last.clone();
        let mut settled = Vec::new();
        for (i, &p) in piece.picks.iter().enumerate() {
            match outcomes.get(i).cloned() {
                Some(Outcome::Retry(why)) => {
                    last = why;
                    retry.push(p);
                }
                None => retry.push(p),
                Some(done) => settled.push((p, done)),
            }
        }
        if retry.is_empty() {
            self.settle(&piece.flight, settled, true);
            return;
        }
        self.settle(&piece.flight, settled, false);
        let piece = Piece {
            picks: retry,
            ..piece
        };
        self.again(account, piece, last);
    }

    /// The whole request goes again after a backoff, unless it used its attempts.
    fn again(&self, account: &Account, mut piece: Piece, why: String) {
        piece.failures += 1;
        if piece.failures >= ATTEMPTS {
            let why = format!("gave up after {ATTEMPTS} attempts: {why}");
            return self.fail(piece, &why);
        }
        let wait = (self.backoff * (1 << (piece.failures - 1))).min(Duration::from_secs(5));
        piece.last = why;
        account.push_later(Instant::now() + wait, piece);
    }

    /// The request goes again once the platform's wait is over.
    fn later(&self, account: &Account, mut piece: Piece, why: String, until: Instant) {
        piece.slowdowns += 1;
        if piece.slowdowns >= SLOWDOWNS {
            let why = format!("gave up after {SLOWDOWNS} requests to slow down: {why}");
            return self.fail(piece, &why);
        }
        piece.last = why;
        account.push_later(until, piece);
    }

    fn fail(&self, piece: Piece, why: &str) {
        let results = (piece.picks.iter()).map(|&p| (p, Outcome::Failed(why.to_string())));
        self.settle(&piece.flight, results.collect(), true);
    }

    fn settle(&self, flight: &Arc<Flight>, results: Vec<(usize, Outcome)>, closes: bool) {
        if flight.settle(results, closes) {
            let _ = lock(&self.done).send(Arc::clone(flight));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
