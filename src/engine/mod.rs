//! [`Engine`]: the library's front door. It holds the `State` (contacts, saved
//! segments, LINE quotas) behind a reader-writer lock, keeps it durable in a data
//! directory, and is the one way to change it: every change is an [`Edit`] given to
//! [`Engine::commit`], resolved into a `Record`, checked, appended to the write-ahead
//! log, and only then applied in memory.
//!
//! - `dir.rs`: the directory's files, the OS write lock, exclusive no-follow files.
//! - `log.rs`: the write-ahead log (framed, checksummed records; torn tails and damage).
//! - `record.rs`: what a log record holds; `edit.rs`: what callers ask for.
//! - `quota.rs`, `job.rs`: LINE quotas and broadcast jobs as the engine keeps them (the
//!   broadcaster above builds and drives jobs; the engine only logs and applies them);
//!   `throughput.rs`: a sending job's recent rate per account, from its logged outcomes;
//!   `variables.rs`: a CSV audience's values per row, packed.
//! - `state.rs`: the state and how a record applies to it.
//! - `compile.rs`: a segment compiled against the state; `view.rs`: [`View`], a consistent
//!   read.
//! - `stream.rs`: the JSON Lines change stream of `reach apply`, into edits.
//!
//! A data directory holds `contacts.snap` (a snapshot: generation *g*, the sequence
//! number of the last change it holds, the store, saved segments and quotas) and
//! `wal-g.log` (every change since). Opening maps the snapshot and replays the log
//! (`Store::begin_replay`: writes to parts not read yet wait until they are read). A
//! checkpoint writes snapshot *g+1* atomically and retires `wal-g.log`; row ids change
//! only then, so a logged change replays onto exactly the rows it was made on, and memory
//! changes only once the new snapshot is on disk. The log is checkpointed on its own once
//! it passes 128 MiB (`set_checkpoint_bytes`), or an eighth of a smaller snapshot.
//!
//! A commit is resolved under the writer's `Mutex`, checked whole while only reading
//! (`State::check`, `Store::check`, under the read lock), appended to the log, then
//! applied (`State::write`, under the write lock); replay applies the same records the
//! same way (`State::replay`). The records of one round of commits go to the log in one
//! `write` and are flushed per [`Durability`] (commits from many threads share a flush,
//! `flush.rs`) before any is acknowledged. A round whose write or flush fails (a full
//! disk) is refused whole: its records (after a failed flush, every record since the last
//! good one) are cut back off the log and memory is read again from the directory, so a
//! refused change changes nothing and the next round may go on. A failure that leaves
//! memory ahead of the disk (a log that cannot be cut back, a change logged that did not
//! apply) stops the engine: no further change is accepted until it is opened again.
//!
//! Access modes: in memory; read-only (a follower that never creates or writes a file);
//! shared (the REPL: the directory's write lock only while a round of commits runs,
//! waiting up to [`SHARED_PATIENCE`] for it, catching up with other writers before each);
//! exclusive (the lock for the engine's life). One process writes a directory: the `lock`
//! file's `flock` names the holder.

mod acknowledge;
mod compile;
mod dir;
mod edit;
mod flush;
mod identity;
mod job;
mod log;
mod membership;
mod quota;
mod record;
mod scope;
mod state;
mod stream;
mod throughput;
mod variables;
mod view;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::FixedOffset;
use roaring::RoaringBitmap;

pub use acknowledge::{MAX_LINE, acknowledge};
pub use compile::Segment;
pub use dir::DataDir;
pub use edit::{CONFIRM_WORD, Edit, Target};
pub use identity::Identity;
pub use job::{
    Batch, BatchOutcome, BatchState, Excluded, Figures, Job, JobState, Message, Options, Variables,
};
pub use membership::{Deliver, MembershipEvent, Subscription};
pub use quota::Quota;
pub use scope::Scope;
pub use stream::parse_change;
pub use throughput::{Throughput, WINDOW as THROUGHPUT_WINDOW};
pub use variables::RowValues;
pub use view::View;

use crate::csv::{ImportOptions, ImportSummary};
use crate::error::Error;
use crate::model::Seconds;
use crate::plan::{self, SavedSegments};
use crate::store::{Applied, Store, snapshot};
use dir::{DirLock, FileId, LEGACY_QUOTAS, LEGACY_SEGMENTS};
use edit::Resolved;
use flush::{Flush, Mark};
use log::{LogEnd, LogWriter};
use record::Record;
use scope::Reach;
use state::{Meta, State, utc};

/// When a change counts as durable (changes.md, `--durability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Each change is flushed to disk before it is acknowledged.
    Sync,
    /// Changes committed together (one [`Engine::commit_all`], or threads committing at
    /// once) share one flush; each is acknowledged only after it.
    #[default]
    Group,
    /// Acknowledged once written to the operating system, not flushed: for bulk loads
    /// that can be redone (a crash of the machine may lose them; a crash of the process
    /// does not).
    None,
}

/// What a committed change did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Contacts created and changed, and the identities of erased ones (an embedding
    /// service erases their conversations too).
    pub applied: Applied,
    /// The change's sequence number (0 for a change that changed nothing durable).
    pub seq: u64,
}

/// How long a shared engine's commit waits for another writer to give the directory's
/// lock back before it is refused (the REPL beside a busy writer waits, not refuses).
pub const SHARED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Log bytes after which a commit checkpoints on its own.
const CHECKPOINT_LOG_BYTES: u64 = 128 << 20;
/// A smaller directory's log is checkpointed once it is an eighth of the snapshot's bytes
/// (replaying a byte of log costs far more than writing a byte of snapshot), but never
/// below this.
const CHECKPOINT_MIN_LOG_BYTES: u64 = 1 << 20;

/// The engine: state, where it is kept, and the one way to change it. `Engine` is `Sync`:
/// share it (e.g. in an `Arc`) and query from many threads while one commits.
#[derive(Debug)]
pub struct Engine {
    state: RwLock<State>,
    tz: FixedOffset,
    writer: Mutex<Writer>,
    flush: Mutex<Flush>,
    /// Membership events of watched saved segments.
    membership: Arc<Mutex<membership::Hub>>,
}

/// How an engine reaches its directory.
#[derive(Debug)]
enum Access {
    /// No directory.
    Memory,
    /// Reads the directory and follows other processes' changes; never writes.
    ReadOnly { dir: DataDir, at: Position },
    /// Like `ReadOnly`, but a round of commits takes the directory's write lock
    /// (`active`) and gives it back after (the REPL: other processes may write between
    /// its changes).
    Shared {
        dir: DataDir,
        at: Position,
        active: Option<Active>,
    },
    /// Holds the write lock for the engine's life.
    Exclusive(Active),
}

/// Where a reader of the directory stands.
#[derive(Clone, Copy, Debug)]
struct Position {
    snapshot: Option<FileId>,
    generation: u64,
    log: LogEnd,
    /// Whether the snapshot is of the older layout (saved segments and quotas in JSON files).
    legacy: bool,
}

/// A writer's hold on the directory.
#[derive(Debug)]
struct Active {
    dir: DataDir,
    _lock: DirLock,
    log: LogWriter,
    generation: u64,
    legacy: bool,
    /// The size of the snapshot this generation's log follows.
    snapshot_bytes: u64,
}

#[derive(Debug)]
struct Writer {
    access: Access,
    durability: Durability,
    /// Set when a write to disk failed after a change was applied in memory: memory may
    /// be ahead of disk, so no further change is accepted.
    failed: Option<String>,
    /// Log bytes after which a round of commits ends with a checkpoint.
    checkpoint_bytes: u64,
}

impl Writer {
    /// Refuses every change once a write failed with memory ahead of the disk.
    fn refuse_if_failed(&self) -> Result<(), Error> {
        match &self.failed {
            Some(why) => Err(Error::Io {
                message: format!(
                    "an earlier write to the data directory failed ({why}); no change is accepted until it is opened again"
                ),
                source: std::io::Error::other(why.clone()),
            }),
            None => Ok(()),
        }
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::in_memory()
    }
}

impl Engine {
    /// An empty engine that keeps nothing on disk (UTC).
    pub fn in_memory() -> Engine {
        Engine::with(State::default(), Access::Memory)
    }

    /// An engine over a store built elsewhere, kept in memory only.
    pub fn in_memory_with(store: Store) -> Engine {
        let state = State {
            store,
            ..State::default()
        };
        Engine::with(state, Access::Memory)
    }

    fn with(state: State, access: Access) -> Engine {
        Engine {
            state: RwLock::new(state),
            tz: utc(),
            writer: Mutex::new(Writer {
                access,
                durability: Durability::default(),
                failed: None,
                checkpoint_bytes: CHECKPOINT_LOG_BYTES,
            }),
            flush: Mutex::new(Flush::default()),
            membership: Arc::default(),
        }
    }

    /// Opens (or creates) a data directory to write, holding its write lock until the
    /// engine is dropped: a second writer, in this process or another, is refused.
    pub fn open(dir: impl AsRef<Path>) -> Result<Engine, Error> {
        let dir = DataDir::create(dir.as_ref())?;
        let lock = dir.lock()?;
        let (state, at) = load(&dir)?;
        let active = Active::start(dir, lock, at)?;
        let engine = Engine::with(state, Access::Exclusive(active));
        engine.after_lock()?;
        Ok(engine)
    }

    /// Opens an existing data directory to read only; it is never written, and a
    /// directory that does not exist is an error. [`Engine::refresh`] catches up with
    /// changes other processes made since.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Engine, Error> {
        let dir = DataDir::existing(dir.as_ref())?;
        let (state, at) = load(&dir)?;
        Ok(Engine::with(state, Access::ReadOnly { dir, at }))
    }

    /// Opens (or creates) a data directory whose write lock is taken by each commit and
    /// given back after it, so that other processes can write between this engine's
    /// changes. Call [`Engine::refresh`] to see their changes.
    pub fn open_shared(dir: impl AsRef<Path>) -> Result<Engine, Error> {
        let dir = DataDir::create(dir.as_ref())?;
        let (state, at) = load(&dir)?;
        Ok(Engine::with(
            state,
            Access::Shared {
                dir,
                at,
                active: None,
            },
        ))
    }

    /// Sets the time zone used for dates without an offset.
    pub fn set_time_zone(&mut self, tz: FixedOffset) {
        self.tz = tz;
    }

    /// The time zone for dates without an offset.
    pub fn time_zone(&self) -> FixedOffset {
        self.tz
    }

    /// Sets when a change counts as durable (default: [`Durability::Group`]).
    pub fn set_durability(&self, durability: Durability) {
        self.writer().durability = durability;
    }

    /// Sets how many bytes of log make a round of commits end with a checkpoint (default
    /// 128 MiB, about two million small changes; a directory whose snapshot is under
    /// 1 GiB checkpoints at an eighth of the snapshot, at least 1 MiB): a longer log opens
    /// more slowly, a shorter one checkpoints more often.
    pub fn set_checkpoint_bytes(&self, bytes: u64) {
        self.writer().checkpoint_bytes = bytes;
    }

    /// Where the data lives (`None` in memory).
    pub fn dir(&self) -> Option<DataDir> {
        match &self.writer().access {
            Access::Memory => None,
            Access::ReadOnly { dir, .. } | Access::Shared { dir, .. } => Some(dir.clone()),
            Access::Exclusive(active) => Some(active.dir.clone()),
        }
    }

    /// Whether everything read so far from the data file was intact: a part found damaged
    /// when first read reads as empty, so an answer given from it must not be trusted.
    pub fn intact(&self) -> Result<(), Error> {
        self.state_read().intact()
    }

    /// A consistent read of the state: everything asked of one view sees the same state.
    /// Commits wait while a view is alive, so keep views short.
    pub fn read(&self) -> View<'_> {
        View {
            state: self.state_read(),
            tz: self.tz,
        }
    }

    /// Parses, plans and optimizes a segment at `now`.
    pub fn compile(&self, text: &str, now: Seconds) -> Result<Segment, Error> {
        self.read().compile(text, now)
    }

    /// The rows matching a compiled segment.
    pub fn rows(&self, segment: &Segment) -> RoaringBitmap {
        self.read().rows(segment)
    }

    /// How many contacts match a compiled segment.
    pub fn count(&self, segment: &Segment) -> u64 {
        self.read().count(segment)
    }

    /// The plan tree with estimated and actual cardinalities.
    pub fn explain(&self, segment: &Segment) -> String {
        self.read().explain(segment)
    }

    /// The steps the executor took to count `segment`, as a tree (see
    /// [`View::explain_tree`]).
    pub fn explain_tree(&self, segment: &Segment) -> crate::exec::ExplainNode {
        self.read().explain_tree(segment)
    }

    /// Saved segments by name (a copy).
    pub fn saved_segments(&self) -> SavedSegments {
        self.read().saved_segments().clone()
    }

    /// Commits one change at time `now`: resolved against the current state, logged,
    /// applied, and durable (per [`Durability`]) before this returns. A refused change
    /// changes nothing.
    pub fn commit(&self, edit: Edit, now: Seconds) -> Result<Committed, Error> {
        self.commit_in(edit, now, &Scope::everything())
    }

    /// Commits one change for a caller confined to `scope`: a segment's rows are cut to
    /// it, and a contact or account outside it is refused with [`Error::Forbidden`].
    pub fn commit_in(&self, edit: Edit, now: Seconds, scope: &Scope) -> Result<Committed, Error> {
        let mut results = self.commit_all_in(vec![edit], now, scope);
        results.pop().unwrap_or_else(|| Ok(Committed::default()))
    }

    /// Commits changes in order, each on its own (a refused one changes nothing and the
    /// rest go on), sharing one flush to disk under [`Durability::Group`].
    pub fn commit_all(&self, edits: Vec<Edit>, now: Seconds) -> Vec<Result<Committed, Error>> {
        self.commit_all_in(edits, now, &Scope::everything())
    }

    /// [`Engine::commit_all`] for a caller confined to `scope` (see [`Engine::commit_in`]).
    pub fn commit_all_in(
        &self,
        edits: Vec<Edit>,
        now: Seconds,
        scope: &Scope,
    ) -> Vec<Result<Committed, Error>> {
        let mut writer = self.writer();
        if let Err(e) = self.begin(&mut writer) {
            let mut results: Vec<_> = (1..edits.len()).map(|_| Err(e.replicate())).collect();
            results.insert(0, Err(e));
            return results;
        }
        let counts = self.prepare(&edits);
        // Readers wait once for a round, not once per change (under `sync` each change
        // is flushed before memory changes, and readers should not wait for the disk).
        let mut round = (writer.durability != Durability::Sync).then(|| self.state_write());
        if let Some(counts) = counts {
            match round.as_mut() {
                Some(state) => state.store.keep_tag_counts(counts),
                None => self.state_write().store.keep_tag_counts(counts),
            }
        }
        let mut results: Vec<Result<Committed, Error>> = edits
            .into_iter()
            .map(|edit| self.commit_one(&mut writer, &mut round, edit, now, scope))
            .collect();
        drop(round);
        let last = results.iter().flatten().map(|c| c.seq).max().unwrap_or(0);
        let outcome = self.finish(writer, last);
        if let Err(e) = outcome {
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(e.replicate());
            }
        }
        results
    }

    /// Stages a CSV import against the current state and commits it: all or nothing (or,
    /// with `rejects`, the good rows), per csv-format.md.
    pub fn import<'a>(
        &self,
        input: impl Read + Send,
        options: &'a ImportOptions,
        rejects: Option<&'a mut (dyn std::io::Write + Send)>,
        now: Seconds,
        progress: &dyn Fn(u64),
    ) -> Result<ImportSummary, Error> {
        self.import_in(input, options, rejects, now, progress, &Scope::everything())
    }

    /// [`Engine::import`] for a caller confined to `scope`: a file holding a contact
    /// outside it is refused whole ([`Error::Forbidden`]).
    pub fn import_in<'a>(
        &self,
        input: impl Read + Send,
        options: &'a ImportOptions,
        rejects: Option<&'a mut (dyn std::io::Write + Send)>,
        now: Seconds,
        progress: &dyn Fn(u64),
        scope: &Scope,
    ) -> Result<ImportSummary, Error> {
        let mut writer = self.writer();
        self.begin(&mut writer)?;
        let staged = {
            let state = self.state_read();
            crate::csv::stage(&state.store, input, options, rejects, now, progress)
                .map(|staged| (staged, state.seq))
        };
        let committed = match staged {
            Ok((staged, base)) => {
                let summary = staged.summary.clone();
                let edit = Edit::Import { staged, base };
                self.commit_one(&mut writer, &mut None, edit, now, scope)
                    .map(|c| (summary, c.seq))
            }
            Err(e) => Err(Error::Import(e)),
        };
        let last = committed.as_ref().map_or(0, |c| c.1);
        self.finish(writer, last)?;
        committed.map(|c| c.0)
    }

    /// Subscribes to the membership events of saved segments (see
    /// [`MembershipEvent`]): who enters and leaves each, at every commit once durable and
    /// at every [`Engine::tick`]. With `after` (an event's `seq`), the held events after
    /// it come first, or a `resync` event when they are no longer held. `now` starts the
    /// tracker's clock if nothing is watched yet. An unknown name is
    /// [`Error::NotFound`].
    pub fn subscribe(
        &self,
        segments: &[String],
        after: Option<u64>,
        now: Seconds,
    ) -> Result<Subscription, Error> {
        let (deliver, events) = membership::channel();
        let id = self.subscribe_with(segments, after, now, deliver)?;
        Ok(Subscription::new(events, id, Arc::clone(&self.membership)))
    }

    /// [`Engine::subscribe`] with a callback of its own, called in order with each event
    /// (under the tracker's lock: it should only pass the event on, never call the
    /// engine); it returns `false` to end the subscription. Gives the subscription's id
    /// for [`Engine::unsubscribe`].
    pub fn subscribe_with(
        &self,
        segments: &[String],
        after: Option<u64>,
        now: Seconds,
        deliver: Deliver,
    ) -> Result<u64, Error> {
        self.subscribe_in(segments, after, now, &Scope::everything(), deliver)
    }

    /// [`Engine::subscribe_with`] for a caller confined to `scope`: the members it sees
    /// are the segment's within the scope, so its events name no other contact.
    pub fn subscribe_in(
        &self,
        segments: &[String],
        after: Option<u64>,
        now: Seconds,
        scope: &Scope,
        deliver: Deliver,
    ) -> Result<u64, Error> {
        let _writer = self.writer();
        let state = self.state_read();
        let mut hub = membership::lock(&self.membership);
        hub.set_tz(self.tz);
        hub.subscribe(&state, segments, after, now, scope, deliver)
    }

    /// Ends a subscription made by [`Engine::subscribe_with`].
    pub fn unsubscribe(&self, id: u64) {
        membership::lock(&self.membership).unsubscribe(id);
    }

    /// Moves the membership tracker's clock to `now`: contacts that a relative bound
    /// (`checkout:-30d..`) now takes in or leaves out enter or leave, looking only at
    /// the contacts between each bound's old and new place.
    pub fn tick(&self, now: Seconds) {
        let _writer = self.writer();
        let state = self.state_read();
        membership::lock(&self.membership).tick(&state, now);
    }

    /// Writes a new snapshot holding every change so far and retires the log; erased
    /// contacts then leave no byte in any file of the directory.
    pub fn compact(&self) -> Result<(), Error> {
        let mut writer = self.writer();
        self.begin(&mut writer)?;
        let done = self.checkpoint(&mut writer, None);
        self.finish(writer, 0)?;
        done
    }

    /// Catches up with changes other processes made to the directory since this engine
    /// read it (read-only and shared engines; a no-op otherwise).
    pub fn refresh(&self) -> Result<(), Error> {
        let mut writer = self.writer();
        match &mut writer.access {
            Access::ReadOnly { dir, at } | Access::Shared { dir, at, .. } => self.catch_up(dir, at),
            _ => Ok(()),
        }
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn state_read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn state_write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Gets ready to commit: refuses a failed or read-only engine; a shared engine takes
    /// the write lock and catches up.
    fn begin(&self, writer: &mut Writer) -> Result<(), Error> {
        writer.refuse_if_failed()?;
        self.cut_back_unflushed(writer)?;
        match &mut writer.access {
            Access::ReadOnly { dir, .. } => Err(Error::Usage(format!(
                "{} was opened read-only: nothing can be changed",
                dir.path().display()
            ))),
            Access::Shared {
                dir,
                at,
                active: None,
            } => {
                let lock = dir.lock_within(SHARED_PATIENCE)?;
                self.catch_up(dir, at)?;
                let active = Active::start(dir.clone(), lock, *at)?;
                if let Access::Shared { active: slot, .. } = &mut writer.access {
                    *slot = Some(active);
                }
                self.after_lock_with(writer)
            }
            Access::Memory | Access::Shared { .. } | Access::Exclusive(_) => Ok(()),
        }
    }

    /// What a writer does once it holds the lock: point group flushes at its log, and
    /// fold an older layout's files into a snapshot.
    fn after_lock(&self) -> Result<(), Error> {
        let mut writer = self.writer();
        self.after_lock_with(&mut writer)
    }

    fn after_lock_with(&self, writer: &mut Writer) -> Result<(), Error> {
        let Some(active) = writer.active() else {
            return Ok(());
        };
        let legacy = active.legacy;
        self.point_flushes_at(active)?;
        if legacy {
            self.checkpoint(writer, None)?;
        }
        Ok(())
    }

    fn point_flushes_at(&self, active: &Active) -> Result<(), Error> {
        let at = Mark {
            seq: self.state_read().seq,
            offset: active.log.len(),
        };
        self.flush().point_at(active.log.handle()?, at);
        Ok(())
    }

    fn flush(&self) -> MutexGuard<'_, Flush> {
        self.flush.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ends a round of commits whose last record is `last` (0: none): checkpoints if the
    /// log has grown past its bound, makes the changes durable per the durability mode,
    /// and gives a shared engine's lock back. A failed flush refuses the round as a
    /// failed write does (and every round written since the last flush).
    fn finish<'e>(&'e self, mut writer: MutexGuard<'e, Writer>, last: u64) -> Result<(), Error> {
        // The round's records go to the log in one write, before any is acknowledged.
        if let Err(e) = writer.active().map_or(Ok(()), |a| a.log.write_pending()) {
            return self.refuse_round(writer, e);
        }
        let ticket = self.note_written(&mut writer);
        let mut done = Ok(());
        let bound = writer.checkpoint_bytes;
        if writer.active().is_some_and(|a| a.log_is_long(bound)) {
            done = self.checkpoint(&mut writer, None);
        }
        let mut flushed = Ok(());
        if let Err(e) = &done
            && self.flush().cut_point().is_some()
        {
            // The checkpoint was refused: a flush had failed.
            (flushed, done) = (Err(e.replicate()), Ok(()));
        }
        if writer.durability == Durability::Group && last > 0 && done.is_ok() && flushed.is_ok() {
            if matches!(writer.access, Access::Shared { .. }) {
                // Flush before giving the lock back.
                flushed = self.flush().through(last, ticket);
            } else {
                drop(writer);
                flushed = self.flush().through(last, ticket);
                writer = self.writer();
            }
        }
        if let Err(e) = flushed {
            let cut = self.cut_back_unflushed(&mut writer);
            if let Access::Shared { active, .. } = &mut writer.access {
                *active = None;
            }
            return Err(cut.err().unwrap_or(e));
        }
        if let Access::Shared { at, active, .. } = &mut writer.access
            && let Some(held) = active.take()
        {
            // Follow from where the log ends.
            *at = held.position(self.state_read().seq);
        }
        match &done {
            Err(e) => _ = writer.failed.get_or_insert_with(|| e.to_string()),
            Ok(()) if last > 0 => membership::lock(&self.membership).release(last),
            Ok(()) => {}
        }
        done
    }

    /// Notes where the log ends once a round is written; returns the round's ticket for
    /// its flush.
    fn note_written(&self, writer: &mut Writer) -> u64 {
        let seq = self.state_read().seq;
        let Some(active) = writer.active() else {
            return 0;
        };
        let offset = active.log.len();
        self.flush().written(Mark { seq, offset })
    }

    /// After a failed flush, cuts the records after the last good one off the log and
    /// reads memory back from the directory (a no-op when no flush failed, or its
    /// records are cut back already). A log that cannot be cut back stops the engine.
    fn cut_back_unflushed(&self, writer: &mut Writer) -> Result<(), Error> {
        let mut flush = self.flush();
        let Some(end) = flush.cut_point() else {
            return Ok(());
        };
        let cut = writer.active().map_or(Ok(()), |a| a.log.cut_to(end));
        if let Err(e) = cut {
            writer.failed.get_or_insert_with(|| e.to_string());
            return Err(e);
        }
        flush.cut();
        drop(flush);
        self.restore(writer).inspect_err(|e| {
            writer.failed.get_or_insert_with(|| e.to_string());
        })
    }

    /// Ends a round whose records could not be written (a full disk): they were cut back
    /// off the log, so memory goes back to what the directory holds (read again; the
    /// round's membership events are dropped) and the engine goes on: the next round may
    /// find room. A log that could not be cut back, or a directory that cannot be read
    /// back, stops the engine.
    fn refuse_round<'e>(
        &'e self,
        mut writer: MutexGuard<'e, Writer>,
        e: Error,
    ) -> Result<(), Error> {
        let damaged = writer.active().is_none_or(|a| a.log.is_damaged());
        let restored = match damaged {
            true => Err(e.replicate()),
            false => self.restore(&mut writer),
        };
        if let Err(why) = restored {
            writer.failed.get_or_insert_with(|| why.to_string());
        }
        if let Access::Shared { active, .. } = &mut writer.access {
            *active = None;
        }
        Err(e)
    }

    /// Reads the state again from the directory the writer holds, as after opening.
    fn restore(&self, writer: &mut Writer) -> Result<(), Error> {
        let Some(dir) = writer.active().map(|a| a.dir.clone()) else {
            return Ok(());
        };
        let (state, at) = load(&dir)?;
        membership::lock(&self.membership).roll_back(&state);
        *self.state_write() = state;
        if let Access::Shared { at: slot, .. } = &mut writer.access {
            *slot = at;
        }
        Ok(())
    }

    /// Builds, while readers go on, what a round's edits would otherwise build under the
    /// write lock (seconds at 10M rows, every reader waiting): the identity map, every
    /// tag's rows read from the data file and the tags per row once removals keep coming
    /// (given back, to keep under the lock; the writer's mutex keeps the store as it is
    /// meanwhile).
    fn prepare(&self, edits: &[Edit]) -> Option<Vec<u16>> {
        let state = self.state_read();
        if edits.iter().any(Edit::names_contacts) {
            state.store.build_identities();
        }
        if !edits.iter().any(Edit::removes_tags) {
            return None;
        }
        state.store.read_tag_rows();
        state.store.tag_counts_due()
    }

    /// Resolves, checks, logs and applies one edit (the writer is held; `round`, if
    /// given, is the state locked for the whole round).
    fn commit_one<'e>(
        &'e self,
        writer: &mut Writer,
        round: &mut Option<RwLockWriteGuard<'e, State>>,
        edit: Edit,
        now: Seconds,
        scope: &Scope,
    ) -> Result<Committed, Error> {
        writer.refuse_if_failed()?;
        let resolved = self.reading(round, |state| {
            let clock = plan::Clock { now, tz: self.tz };
            let reach = Reach::new(scope, &state.compiler(), clock)?;
            edit.resolve(state, now, &reach)
        })?;
        let record = match resolved {
            Resolved::Replace(store) => {
                let created = store.len();
                // A checkpoint takes the state's lock itself.
                *round = None;
                self.checkpoint(writer, Some(*store))?;
                let applied = Applied {
                    created,
                    ..Applied::default()
                };
                return Ok(Committed {
                    applied,
                    seq: self.state_read().seq,
                });
            }
            Resolved::Record(record) => record,
        };
        let (checked, seq) = self.reading(round, |state| {
            Ok::<_, Error>((state.check(&record)?, state.seq + 1))
        })?;
        let sync = writer.durability == Durability::Sync;
        if let Some(active) = writer.active() {
            active.log.append(seq, &record.encode()?);
            // Under `sync` the record is on disk before memory changes: a write that
            // fails (a full disk) refuses this change alone, and the next may succeed.
            let logged = if sync { active.log.sync() } else { Ok(()) };
            if let Err(e) = logged {
                if active.log.is_damaged() {
                    writer.failed = Some(e.to_string());
                }
                return Err(e);
            }
        }
        let applied = match round.as_deref_mut() {
            Some(state) => state.write(&record, checked, seq),
            None => self.state_write().write(&record, checked, seq),
        };
        let applied = match applied {
            Ok(applied) => applied,
            Err(e) => {
                writer.failed = Some(format!("a logged change did not apply: {e}"));
                return Err(e);
            }
        };
        self.reading(round, |state| self.observe(state, &record, &applied, seq));
        Ok(Committed { applied, seq })
    }

    /// Runs `f` on the state: the round's, or read now.
    fn reading<T>(
        &self,
        round: &Option<RwLockWriteGuard<'_, State>>,
        f: impl FnOnce(&State) -> T,
    ) -> T {
        match round.as_deref() {
            Some(state) => f(state),
            None => f(&self.state_read()),
        }
    }

    /// Tells the membership tracker what commit `seq` did (its events wait until it is
    /// durable).
    fn observe(&self, state: &State, record: &Record, applied: &Applied, seq: u64) {
        let mut hub = membership::lock(&self.membership);
        if hub.is_idle() {
            return;
        }
        match record {
            Record::SaveSegment { .. } | Record::ForgetSegment { .. } => {
                hub.after_definition(state, seq)
            }
            _ => hub.after_change(state, applied, seq),
        }
    }

    /// Writes snapshot g+1 of the state (with `replacement` as its store, if given, else
    /// the current store compacted), then starts log g+1 and removes log g. Memory
    /// changes only after the snapshot is on disk.
    fn checkpoint(&self, writer: &mut Writer, replacement: Option<Store>) -> Result<(), Error> {
        let Some(active) = writer.active() else {
            if let Some(store) = replacement {
                let mut state = self.state_write();
                state.store = store;
                state.seq += 1;
                let mut hub = membership::lock(&self.membership);
                hub.after_renumbering(&state, true);
                hub.release(state.seq);
            }
            return Ok(());
        };
        // What the snapshot holds must not outrun the log: a failed flush refuses it.
        self.flush().everything()?;
        let generation = active.generation + 1;
        let replacement_given = replacement.is_some();
        let compacted = match replacement {
            Some(store) => Some(store),
            None => {
                // Rows are renumbered only while no job is sending (its batches name rows).
                let state = self.state_read();
                let dead = u64::from(state.store.row_count()) != state.store.len();
                (dead && !state.has_sending_jobs()).then(|| state.store.compacted())
            }
        };
        // Replacing the store is a change of its own, with a sequence number of its own.
        let seq = self.state_read().seq + u64::from(replacement_given);
        {
            let state = self.state_read();
            let mut meta = state.meta(generation);
            meta.seq = seq;
            let meta = meta.encode()?;
            let store = compacted.as_ref().unwrap_or(&state.store);
            active.dir.replace("contacts.snap", |out| {
                snapshot::write(store, &meta, out).map_err(|e| match e {
                    snapshot::SnapshotError::Io(e) => Error::Io {
                        message: e.to_string(),
                        source: e,
                    },
                    other => Error::internal_from(other.to_string(), other),
                })
            })?;
        }
        if let Some(store) = compacted {
            let mut state = self.state_write();
            state.store = store;
            state.seq = seq;
            let mut hub = membership::lock(&self.membership);
            hub.after_renumbering(&state, replacement_given);
            hub.release(seq);
        }
        active.log = LogWriter::create(&active.dir.log(generation), generation)?;
        active.snapshot_bytes = snapshot_bytes(&active.dir);
        active.generation = generation;
        active.legacy = false;
        active.dir.remove_leftovers(generation, true)?;
        self.point_flushes_at(active)
    }

    /// Brings a follower's state up to what the directory holds now.
    fn catch_up(&self, dir: &DataDir, at: &mut Position) -> Result<(), Error> {
        if dir.snapshot_id() != at.snapshot {
            let (state, now_at) = load(dir)?;
            *self.state_write() = state;
            *at = now_at;
            return Ok(());
        }
        let path = dir.log(at.generation);
        if !path.exists() {
            return Ok(());
        }
        let mut records = Vec::new();
        let end = log::read(
            &path,
            at.generation,
            at.log.offset,
            at.log.seq,
            &mut |seq, payload| {
                records.push((seq, Record::decode(&payload)?));
                Ok(())
            },
        )?;
        if records.is_empty() {
            at.log = end;
            return Ok(());
        }
        let mut state = self.state_write();
        state.store.begin_replay();
        let replayed =
            (records.iter()).try_for_each(|(seq, record)| state.replay(record, *seq).map(drop));
        state.store.end_replay();
        replayed?;
        at.log = end;
        Ok(())
    }
}

/// The size of a directory's snapshot (0 if there is none yet).
fn snapshot_bytes(dir: &DataDir) -> u64 {
    std::fs::metadata(dir.snapshot()).map_or(0, |m| m.len())
}

impl Active {
    /// Starts writing a directory read up to `at`: removes what an interrupted writer
    /// left, cuts a torn tail off the log (or creates the log).
    fn start(dir: DataDir, lock: DirLock, at: Position) -> Result<Active, Error> {
        dir.remove_leftovers(at.generation, false)?;
        let path = dir.log(at.generation);
        let log = if path.exists() && at.log.offset >= log::HEADER {
            LogWriter::reopen(&path, at.log)?
        } else {
            // No log yet, or one cut short inside its header (so holding no record).
            let _ = std::fs::remove_file(&path);
            let log = LogWriter::create(&path, at.generation)?;
            dir.sync()?;
            log
        };
        Ok(Active {
            snapshot_bytes: snapshot_bytes(&dir),
            dir,
            _lock: lock,
            log,
            generation: at.generation,
            legacy: at.legacy,
        })
    }

    /// Whether the log has grown past its bound: `bytes` (the embedder's, 128 MiB by
    /// default), or an eighth of the snapshot if that is less (at least 1 MiB), so that
    /// a reader opening a small directory never replays a long log.
    fn log_is_long(&self, bytes: u64) -> bool {
        let proportional = (self.snapshot_bytes / 8).max(CHECKPOINT_MIN_LOG_BYTES);
        self.log.len() > bytes.min(proportional)
    }

    /// Where a follower stands once this hold ends, with `seq` the last record applied.
    fn position(&self, seq: u64) -> Position {
        Position {
            snapshot: self.dir.snapshot_id(),
            generation: self.generation,
            log: LogEnd {
                offset: self.log.len(),
                seq,
                torn: false,
            },
            legacy: false,
        }
    }
}

impl Writer {
    /// The writer's hold on the directory, if it has one now.
    fn active(&mut self) -> Option<&mut Active> {
        match &mut self.access {
            Access::Exclusive(active)
            | Access::Shared {
                active: Some(active),
                ..
            } => Some(active),
            _ => None,
        }
    }
}

/// Reads a directory: the snapshot (if any), then every whole record of its log.
fn load(dir: &DataDir) -> Result<(State, Position), Error> {
    let (mut state, generation, snapshot, legacy) = match dir.open_snapshot()? {
        None => (State::default(), 0, None, false),
        Some((file, id)) => {
            let path = dir.snapshot();
            let (store, attachment) = snapshot::read_file(file, &path).map_err(|e| match e {
                snapshot::SnapshotError::Io(e) => Error::io(path.display(), e),
                other => Error::data_from(format!("{}: {other}", path.display()), other),
            })?;
            let (meta, legacy) = if attachment.is_empty() {
                (legacy_meta(dir)?, true)
            } else {
                let meta = Meta::decode(&attachment).map_err(|e| Error::Data {
                    message: format!("{}: its metadata is damaged ({e})", path.display()),
                    source: Some(e),
                })?;
                (meta, false)
            };
            let state = State {
                store,
                saved: meta.saved,
                quotas: meta.quotas,
                jobs: meta.jobs,
                seq: meta.seq,
                parsed: Default::default(),
            };
            (state, meta.generation, Some(id), legacy)
        }
    };
    let path = dir.log(generation);
    let mut end = LogEnd {
        offset: 0,
        seq: state.seq,
        torn: false,
    };
    if path.exists() {
        state.store.begin_replay();
        let read = log::read(
            &path,
            generation,
            log::HEADER,
            state.seq,
            &mut |seq, payload| {
                let record = Record::decode(&payload)?;
                state.replay(&record, seq).map(|_| ())
            },
        );
        state.store.end_replay();
        end = read?;
    }
    state.intact()?;
    let at = Position {
        snapshot,
        generation,
        log: end,
        legacy,
    };
    Ok((state, at))
}

/// Saved segments and quotas of the older layout, kept in JSON files beside the snapshot.
fn legacy_meta(dir: &DataDir) -> Result<Meta, Error> {
    fn read_json<T: for<'de> serde::Deserialize<'de> + Default>(path: &Path) -> Result<T, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::data_from(format!("{} is damaged: {e}", path.display()), e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }
    Ok(Meta {
        generation: 0,
        seq: 0,
        saved: read_json(&dir.file(LEGACY_SEGMENTS))?,
        quotas: read_json(&dir.file(LEGACY_QUOTAS))?,
        jobs: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::{Durability, Edit, Engine};

    fn tag(name: &str) -> Edit {
        Edit::CreateTag { tag: name.into() }
    }

    fn tags(engine: &Engine) -> Vec<String> {
        let view = engine.read();
        let mut names: Vec<String> = view
            .store()
            .tags()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    }

    /// A failed flush under `group` is a failed write: the round's changes are refused and
    /// cut back off the log, and the engine takes the next change (the log's handle is
    /// swapped for /dev/null, which the kernel refuses to flush).
    #[test]
    fn a_failed_group_flush_refuses_the_round_and_the_engine_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path()).expect("opens");
        engine.set_durability(Durability::Group);
        engine.commit(tag("before"), 0).expect("a change");
        let real = refuse_flushes(&engine);
        let refused = engine.commit_all(vec![tag("lost-1"), tag("lost-2")], 0);
        for result in &refused {
            let e = result.as_ref().expect_err("refused");
            assert!(e.to_string().contains("cannot flush the log"), "{e}");
        }
        assert_eq!(
            tags(&engine),
            ["before"],
            "the refused round changed nothing"
        );
        engine.flush().set_file(real);
        engine.commit(tag("after"), 0).expect("the engine goes on");
        assert_eq!(tags(&engine), ["after", "before"]);
        drop(engine);
        let reopened = Engine::open(dir.path()).expect("opens again");
        assert_eq!(
            tags(&reopened),
            ["after", "before"],
            "the log holds no refused record"
        );
    }

    /// Points the engine's flushes at /dev/null, which the kernel refuses to flush;
    /// returns the log's own handle, to put back.
    fn refuse_flushes(engine: &Engine) -> std::fs::File {
        let real = (engine.writer().active().expect("writes").log.handle()).expect("handle");
        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        engine.flush().set_file(null);
        real
    }

    /// Threads committing at once while every flush fails: each change is refused (those
    /// waiting on another round's failed flush too), none is applied or left in the log,
    /// and the engine goes on once flushes work again.
    #[test]
    fn rounds_sharing_a_failed_flush_are_all_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path()).expect("opens");
        let real = refuse_flushes(&engine);
        let refused = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..4 {
                let (engine, refused) = (&engine, &refused);
                s.spawn(move || {
                    for i in 0..25 {
                        let result = engine.commit(tag(&format!("t{t}-{i}")), 0);
                        assert!(result.is_err(), "acknowledged without a flush");
                        refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(refused.into_inner(), 100);
        assert!(tags(&engine).is_empty(), "{:?}", tags(&engine));
        engine.flush().set_file(real);
        engine.commit(tag("after"), 0).expect("the engine goes on");
        drop(engine);
        let reopened = Engine::open(dir.path()).expect("opens again");
        assert_eq!(tags(&reopened), ["after"]);
    }
}
