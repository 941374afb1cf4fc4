//! [`Job`]: a broadcast as the engine keeps it — frozen audience cut into batches, the
//! message, the options, the progress and the books. Jobs live in the engine's state and
//! change only through logged records (started, a batch's intent, a batch done, ended), so
//! progress survives a crash at any instant.
//!
//! Row ids do not move while a job is sending: checkpoints defer compaction until no job
//! is sending (deleted rows stay as blank rows meanwhile), so a batch can name its
//! recipients as a row bitmap.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::throughput::Throughput;
use super::variables::RowValues;
use crate::model::{Channel, MessageKind, Seconds};

/// A job's state (broadcast.md, "The job and exactly once").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Sending,
    Done,
    /// Stopped by a permanent sink error or cancelled, with why.
    Failed(String),
}

impl JobState {
    /// The state's name in reports.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Sending => "sending",
            JobState::Done => "done",
            JobState::Failed(_) => "failed",
        }
    }
}

/// Why audience members were not sent to, in the order they are judged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    pub unknown: u64,
    pub blocked: u64,
    pub opted_out: u64,
    pub over_quota: u64,
    pub not_fb_sendable: u64,
    pub outside_window: u64,
    pub no_email: u64,
    pub line_quota: u64,
    pub deleted: u64,
}

impl Excluded {
    /// Every reason with its count, in report order.
    pub fn by_reason(&self) -> [(&'static str, u64); 9] {
        [
            ("unknown", self.unknown),
            ("blocked", self.blocked),
            ("opted_out", self.opted_out),
            ("over_quota", self.over_quota),
            ("not_fb_sendable", self.not_fb_sendable),
            ("outside_window", self.outside_window),
            ("no_email", self.no_email),
            ("line_quota", self.line_quota),
            ("deleted", self.deleted),
        ]
    }

    /// All excluded members.
    pub fn total(&self) -> u64 {
        self.by_reason().iter().map(|r| r.1).sum()
    }
}

/// Where a batch stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchState {
    Pending,
    /// Its requests may have gone out (recorded before sending through a sink that
    /// cannot tell a resend from a new message).
    InFlight,
    /// Found in flight after a crash: whether it was delivered is unknown.
    Uncertain,
    Done,
}

/// Recipients sent together: one account's, in row order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub channel: Channel,
    pub account: String,
    pub rows: RoaringBitmap,
    pub state: BatchState,
}

/// The message: a kind, a text with placeholders, and optionally per-channel payloads in
/// the platforms' own formats (JSON text) used instead of the text on their channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: MessageKind,
    pub text: String,
    pub payloads: BTreeMap<String, String>,
    /// The email subject (`--subject`; `None`: the text's first line).
    pub subject: Option<String>,
}

/// How the job sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Facebook: the message answers inside the 24-hour window (`fb_sendable` not needed).
    pub reply_window: bool,
    /// Send what the LINE quota allows instead of refusing the broadcast.
    pub partial: bool,
    /// At most this many requests a second to each account (`None`: the platform's limit).
    pub rate: Option<u32>,
    /// The sink, as given (`jsonl:PATH`, `webhook:URL`, `platform`).
    pub sink: String,
    /// The channels file the platform sink reads.
    pub channels: Option<String>,
}

/// CSV audiences' variable columns: the names, and each recipient row's values (packed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variables {
    pub columns: Vec<String>,
    pub values: RowValues,
}

/// What a broadcast counts: the audience, the eligible, why the others are excluded,
/// and what became of those sent to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    /// Members, the unknown included.
    pub audience: u64,
    /// Still eligible: judged at the start, less those skipped at their turn.
    pub eligible: u64,
    pub excluded: Excluded,
    pub sent: u64,
    pub failed: u64,
    pub uncertain: u64,
    /// Why recipients failed, with how many.
    pub failures: BTreeMap<String, u64>,
}

/// A broadcast job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub state: JobState,
    pub message: Message,
    pub options: Options,
    /// When the job started; eligibility was judged at this instant.
    pub started_at: Seconds,
    pub figures: Figures,
    pub variables: Variables,
    pub batches: Vec<Batch>,
    /// When the job ended with batches left uncertain: their recipients (channel,
    /// account, external id), for `show`.
    pub uncertain_recipients: Vec<(Channel, String, String)>,
    /// How fast its accounts settle recipients lately (rebuilt from the log, not kept).
    #[serde(skip)]
    pub throughput: Throughput,
}

/// What sending one batch did, as logged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// The send time: `team_marketing_at` and `fb_last_sent_at` of the sent.
    pub at: Seconds,
    pub sent: RoaringBitmap,
    /// Failed recipients and why.
    pub failed: Vec<(u32, String)>,
    /// Skipped at their turn: deleted, blocked, opted out since the start.
    pub deleted: RoaringBitmap,
    pub blocked: RoaringBitmap,
    pub opted_out: RoaringBitmap,
}

impl Job {
    /// How many were eligible when the job started.
    pub fn eligible_at_start(&self) -> u64 {
        self.batches
            .iter()
            .map(|b| b.rows.len())
            .sum::<u64>()
            .max(self.figures.eligible)
    }

    /// Whether every batch is settled (done, or uncertain and left so).
    pub fn all_settled(&self) -> bool {
        self.batches
            .iter()
            .all(|b| matches!(b.state, BatchState::Done | BatchState::Uncertain))
    }

    /// Applies a batch's outcome to the counters.
    pub fn record(&mut self, batch: usize, outcome: &BatchOutcome) {
        let figures = &mut self.figures;
        let skipped = outcome.deleted.len() + outcome.blocked.len() + outcome.opted_out.len();
        figures.excluded.deleted += outcome.deleted.len();
        figures.excluded.blocked += outcome.blocked.len();
        figures.excluded.opted_out += outcome.opted_out.len();
        figures.eligible = figures.eligible.saturating_sub(skipped);
        figures.sent += outcome.sent.len();
        figures.failed += outcome.failed.len() as u64;
        for (_, why) in &outcome.failed {
            *figures.failures.entry(why.clone()).or_default() += 1;
        }
        if let Some(b) = self.batches.get_mut(batch) {
            let settled = outcome.sent.len() + outcome.failed.len() as u64 + skipped;
            self.throughput.note(&b.account, outcome.at, settled);
            if b.state == BatchState::Uncertain {
                figures.uncertain = figures.uncertain.saturating_sub(b.rows.len());
            }
            b.state = BatchState::Done;
        }
    }

    /// Ends the job: its row bitmaps are no longer needed (and would not survive a
    /// compaction), only its counters and the identities of uncertain recipients.
    pub fn end(&mut self, state: JobState, uncertain: Vec<(Channel, String, String)>) {
        self.state = state;
        for batch in &mut self.batches {
            batch.rows = RoaringBitmap::new();
        }
        self.variables.values.clear();
        self.throughput.clear();
        self.uncertain_recipients = uncertain;
    }

    /// The numbers of the batches not logged as sent.
    pub fn unsent_batches(&self) -> RoaringBitmap {
        (self.batches.iter().enumerate())
            .filter(|(_, b)| b.state != BatchState::Done)
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Whether a row is a recipient of a batch not sent yet.
    pub fn rows_of(&self, state: &BatchState) -> RoaringBitmap {
        (self.batches.iter())
            .filter(|b| b.state == *state)
            .map(|b| &b.rows)
            .fold(RoaringBitmap::new(), |acc, rows| acc | rows)
    }
}
