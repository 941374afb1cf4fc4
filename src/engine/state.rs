//! [`State`]: everything the engine holds — contacts, saved segments, LINE quotas,
//! broadcast jobs — and how a [`Record`] changes it, the same way when it is first made
//! and when the log is replayed.

use std::collections::BTreeMap;

use chrono::FixedOffset;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::compile::Compiler;
use super::job::{Batch, BatchOutcome, BatchState, Job, JobState};
use super::quota::Quota;
use super::record::Record;
use crate::error::{BoxError, Error};
use crate::model::{Channel, TimeField};
use crate::plan::{Clock, ParsedSegments, SavedSegments};
use crate::store::{Applied, Change, Checked, Store};

/// The engine's state.
#[derive(Debug, Default)]
pub struct State {
    pub(super) store: Store,
    pub(super) saved: SavedSegments,
    pub(super) quotas: BTreeMap<String, Quota>,
    /// Broadcast jobs by id.
    pub(super) jobs: BTreeMap<String, Job>,
    /// The sequence number of the last record applied.
    pub(super) seq: u64,
    /// Saved segments' texts as parsed, each parsed once.
    pub(super) parsed: ParsedSegments,
}

/// What a snapshot holds beside the store (its attachment: a format byte, then postcard).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Meta {
    pub generation: u64,
    pub seq: u64,
    pub saved: SavedSegments,
    pub quotas: BTreeMap<String, Quota>,
    pub jobs: BTreeMap<String, Job>,
}

/// The format of a snapshot's metadata.
const META_FORMAT: u8 = 2;

impl Meta {
    pub(super) fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut bytes = vec![META_FORMAT];
        postcard::to_io(self, &mut bytes).map_err(|e| {
            Error::internal_from(format!("cannot encode the snapshot's metadata: {e}"), e)
        })?;
        Ok(bytes)
    }

    pub(super) fn decode(bytes: &[u8]) -> Result<Meta, BoxError> {
        match bytes.split_first() {
            Some((&META_FORMAT, rest)) => Ok(postcard::from_bytes(rest)?),
            Some((other, _)) => {
                Err(format!("metadata format {other} is not one this reach reads").into())
            }
            None => Err("no metadata".into()),
        }
    }
}

/// A record found acceptable by [`State::check`].
pub(super) struct CheckedRecord(Vec<Checked>);

impl State {
    /// A compiler of segments against this state's tags and saved segments.
    pub(super) fn compiler(&self) -> Compiler<'_> {
        Compiler {
            store: &self.store,
            saved: &self.saved,
            parsed: &self.parsed,
        }
    }

    /// Checks a record against the state without changing it.
    pub(super) fn check(&self, record: &Record) -> Result<CheckedRecord, Error> {
        let checked = self.check_unread(record)?;
        self.intact()?;
        Ok(checked)
    }

    /// Refuses a store in which a part of the data file was found damaged when first read
    /// (it read as empty): nothing read from it nor written to it can be trusted.
    pub(super) fn intact(&self) -> Result<(), Error> {
        match self.store.damage() {
            Some(damage) => Err(Error::Data {
                message: format!(
                    "{damage}; nothing was changed (restore the data directory from a backup, or export what reads and import it anew)"
                ),
                source: None,
            }),
            None => Ok(()),
        }
    }

    fn check_unread(&self, record: &Record) -> Result<CheckedRecord, Error> {
        match record {
            Record::Store { changes, .. } => changes
                .iter()
                .map(|c| self.store.check(c).map_err(Error::Change))
                .collect::<Result<_, _>>()
                .map(CheckedRecord),
            Record::SaveSegment { name, text } => {
                check_segment_name(name)?;
                let mut saved = self.saved.clone();
                saved.insert(name.clone(), text.clone());
                let view = Compiler {
                    store: &self.store,
                    saved: &saved,
                    parsed: &self.parsed,
                };
                view.compile(text, Clock { now: 0, tz: utc() })?;
                Ok(CheckedRecord(Vec::new()))
            }
            Record::ForgetSegment { .. } | Record::SetQuota { .. } => Ok(CheckedRecord(Vec::new())),
            Record::JobStart { job } if self.jobs.contains_key(&job.id) => {
                Err(Error::Conflict(format!(
                    "there is a job '{}' already: a job id is used once; give another --id",
                    job.id
                )))
            }
            Record::JobStart { .. } => Ok(CheckedRecord(Vec::new())),
            Record::BatchIntent { job, batch } => {
                let state = &self.sending_batch(job, *batch)?.state;
                match state {
                    BatchState::Pending | BatchState::InFlight | BatchState::Uncertain => {
                        Ok(CheckedRecord(Vec::new()))
                    }
                    other => Err(Error::Conflict(format!(
                        "batch {batch} of job '{job}' is {other:?}"
                    ))),
                }
            }
            Record::BatchesUncertain { job, batches } => {
                for &batch in batches {
                    self.sending_batch(job, batch)?;
                }
                Ok(CheckedRecord(Vec::new()))
            }
            Record::BatchDone {
                job,
                batch,
                outcome,
            } => {
                let b = self.sending_batch(job, *batch)?;
                if b.state == BatchState::Done {
                    return Err(Error::Conflict(format!(
                        "batch {batch} of job '{job}' was sent already: nobody gets a message twice"
                    )));
                }
                let stamp = Change::Stamp {
                    field: TimeField::TeamMarketingAt,
                    at: outcome.at,
                    rows: RoaringBitmap::new(),
                };
                self.store.check(&stamp).map_err(Error::Change)?;
                Ok(CheckedRecord(Vec::new()))
            }
            Record::JobEnd { job, .. } => self.sending(job).map(|_| CheckedRecord(Vec::new())),
        }
    }

    /// A job that is sending.
    fn sending(&self, id: &str) -> Result<&Job, Error> {
        match self.jobs.get(id) {
            Some(job) if job.state == JobState::Sending => Ok(job),
            Some(job) => Err(Error::Conflict(format!(
                "job '{id}' is {}: it sends nothing any more",
                job.state.name()
            ))),
            None => Err(Error::NotFound(format!("there is no job '{id}'"))),
        }
    }

    /// A batch of a job that is sending.
    fn sending_batch(&self, id: &str, batch: u32) -> Result<&Batch, Error> {
        self.sending(id)?
            .batches
            .get(batch as usize)
            .ok_or_else(|| Error::NotFound(format!("job '{id}' has no batch {batch}")))
    }

    /// Whether a job is sending (its batches name rows, so rows must not be renumbered).
    pub(super) fn has_sending_jobs(&self) -> bool {
        self.jobs.values().any(|j| j.state == JobState::Sending)
    }

    /// Applies a checked record; `seq` is its sequence number.
    pub(super) fn write(
        &mut self,
        record: &Record,
        checked: CheckedRecord,
        seq: u64,
    ) -> Result<Applied, Error> {
        let mut applied = Applied::default();
        match record {
            Record::Store { changes, now } => {
                for (change, checked) in changes.iter().zip(checked.0) {
                    let one = self
                        .store
                        .write(change, checked, *now)
                        .map_err(Error::Change)?;
                    applied.created += one.created;
                    applied.changed += one.changed;
                    applied.erased.extend(one.erased);
                    applied.rows |= one.rows;
                    applied.erased_rows |= one.erased_rows;
                    if let Change::Delete { rows } = change {
                        self.forget_in_jobs(rows, &applied.erased);
                    }
                }
            }
            Record::SaveSegment { name, text } => {
                self.saved.insert(name.clone(), text.clone());
            }
            Record::ForgetSegment { name } => {
                self.saved.remove(name);
            }
            Record::SetQuota { account, quota } => {
                self.quotas.insert(account.clone(), *quota);
            }
            Record::JobStart { job } => {
                self.jobs.insert(job.id.clone(), (**job).clone());
            }
            Record::BatchIntent { job, batch } => self.set_batch(job, *batch, BatchState::InFlight),
            Record::BatchesUncertain { job, batches } => {
                for &batch in batches {
                    self.set_batch(job, batch, BatchState::Uncertain);
                }
                if let Some(j) = self.jobs.get_mut(job) {
                    j.figures.uncertain = j.rows_of(&BatchState::Uncertain).len();
                }
            }
            Record::BatchDone {
                job,
                batch,
                outcome,
            } => applied.rows = self.batch_done(job, *batch, outcome)?,
            Record::JobEnd { job, state } => {
                let uncertain = match self.jobs.get(job) {
                    Some(j) => self.identities(&j.rows_of(&BatchState::Uncertain)),
                    None => Vec::new(),
                };
                if let Some(j) = self.jobs.get_mut(job) {
                    j.end(state.clone(), uncertain);
                }
            }
        }
        self.seq = seq;
        Ok(applied)
    }

    fn set_batch(&mut self, job: &str, batch: u32, state: BatchState) {
        let batch = self
            .jobs
            .get_mut(job)
            .and_then(|j| j.batches.get_mut(batch as usize));
        if let Some(b) = batch {
            b.state = state;
        }
    }

    /// A batch's outcome, and the books in the same step: `team_marketing_at` of the
    /// sent (marketing kinds), `fb_last_sent_at` (a recurring notification), LINE quota.
    /// Gives the rows whose fields changed.
    fn batch_done(
        &mut self,
        job: &str,
        batch: u32,
        outcome: &BatchOutcome,
    ) -> Result<RoaringBitmap, Error> {
        let mut changed = RoaringBitmap::new();
        let Some(j) = self.jobs.get_mut(job) else {
            return Ok(changed);
        };
        let Some(b) = j.batches.get(batch as usize) else {
            return Ok(changed);
        };
        let (channel, account) = (b.channel, b.account.clone());
        let (kind, reply_window) = (j.message.kind, j.options.reply_window);
        j.record(batch as usize, outcome);
        let mut stamps = Vec::new();
        if kind.is_marketing() {
            stamps.push(TimeField::TeamMarketingAt);
            if channel == Channel::Facebook && !reply_window {
                stamps.push(TimeField::FbLastSentAt);
            }
        }
        for field in stamps {
            let stamp = Change::Stamp {
                field,
                at: outcome.at,
                rows: outcome.sent.clone(),
            };
            let applied = (self.store.apply(&stamp, outcome.at)).map_err(Error::Change)?;
            changed |= applied.rows;
        }
        if channel == Channel::Line {
            let quota = self.quotas.entry(account).or_default();
            quota.used = quota.used.saturating_add(outcome.sent.len());
        }
        Ok(changed)
    }

    /// Erased contacts leave nothing in jobs: no CSV variables, no uncertain identity.
    fn forget_in_jobs(&mut self, rows: &RoaringBitmap, erased: &[(Channel, String, String)]) {
        for job in self.jobs.values_mut() {
            let values = &mut job.variables.values;
            if values.rows().any(|r| rows.contains(r)) {
                let keep: RoaringBitmap = values.rows().filter(|&r| !rows.contains(r)).collect();
                values.retain(&keep);
            }
            job.uncertain_recipients.retain(|id| !erased.contains(id));
        }
    }

    /// The identities of the live rows among `rows`.
    pub(super) fn identities(&self, rows: &RoaringBitmap) -> Vec<(Channel, String, String)> {
        (self.store.contacts_with(rows, false).into_iter())
            .map(|c| (c.channel, c.account, c.external_id))
            .collect()
    }

    /// Applies a record read back from the log.
    pub(super) fn replay(&mut self, record: &Record, seq: u64) -> Result<Applied, Error> {
        let checked = self
            .check(record)
            .map_err(|e| Error::data_from(format!("record {seq} no longer applies ({e})"), e))?;
        self.write(record, checked, seq)
    }

    /// The metadata a snapshot of this state carries.
    pub(super) fn meta(&self, generation: u64) -> Meta {
        Meta {
            generation,
            seq: self.seq,
            saved: self.saved.clone(),
            quotas: self.quotas.clone(),
            jobs: self.jobs.clone(),
        }
    }
}

/// Refuses names that `@name` could not spell.
fn check_segment_name(name: &str) -> Result<(), Error> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "'{name}' is not a segment name: use letters, digits and _, not starting with a digit"
        )))
    }
}

/// UTC as a fixed offset.
pub(super) fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero is a valid offset"))
}
