//! [`Engine`]: a store plus its data directory, saved segments and LINE quotas, and the
//! compile-once / run-many segment API that the command line, the REPL and embedding
//! services share.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::Seconds;
use crate::plan::{self, Clock, ExplainNode, Leaf, Plan, SavedSegments};
use crate::store::{Applied, Change, Store, snapshot};
use crate::syntax;

const SNAPSHOT_FILE: &str = "contacts.snap";
const SEGMENTS_FILE: &str = "segments.json";
const QUOTA_FILE: &str = "quota.json";

/// A LINE account's message quota for the month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub plan: u64,
    pub purchased: u64,
    pub used: u64,
}

impl Quota {
    /// Plan allowance plus purchased add-on messages.
    pub fn total(&self) -> u64 {
        self.plan + self.purchased
    }

    /// Messages left this month.
    pub fn remaining(&self) -> u64 {
        self.total().saturating_sub(self.used)
    }
}

/// A compiled segment: its optimized plan, fixed to one `now`.
#[derive(Clone, Debug)]
pub struct Segment {
    pub text: String,
    pub plan: Plan,
    pub warnings: Vec<String>,
    pub clock: Clock,
}

/// The engine: contacts, saved segments, quotas, and where they are kept.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    dir: Option<PathBuf>,
    saved: SavedSegments,
    quotas: BTreeMap<String, Quota>,
    tz: FixedOffset,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::in_memory()
    }
}

impl Engine {
    /// An empty engine that keeps nothing on disk (UTC).
    pub fn in_memory() -> Engine {
        Engine {
            store: Store::new(),
            dir: None,
            saved: SavedSegments::new(),
            quotas: BTreeMap::new(),
            tz: utc(),
        }
    }

    /// Opens (or creates) a data directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Engine, Error> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir)
            .map_err(|e| Error::Io(format!("cannot create {}: {e}", dir.display())))?;
        let snap = dir.join(SNAPSHOT_FILE);
        let store = if snap.exists() {
            snapshot::read(&snap).map_err(|e| Error::Data(format!("{}: {e}", snap.display())))?
        } else {
            Store::new()
        };
        Ok(Engine {
            store,
            saved: read_json(&dir.join(SEGMENTS_FILE))?,
            quotas: read_json(&dir.join(QUOTA_FILE))?,
            dir: Some(dir),
            tz: utc(),
        })
    }

    /// Sets the time zone used for dates without an offset.
    pub fn set_time_zone(&mut self, tz: FixedOffset) {
        self.tz = tz;
    }

    /// The time zone for dates without an offset.
    pub fn time_zone(&self) -> FixedOffset {
        self.tz
    }

    /// The contacts.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Where the data lives (`None` in memory).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Parses, plans and optimizes a segment at `now`.
    pub fn compile(&self, text: &str, now: Seconds) -> Result<Segment, Error> {
        let expr = syntax::parse(text).map_err(Error::Segment)?;
        let clock = Clock { now, tz: self.tz };
        let lowering =
            plan::lower(expr.as_ref(), text, clock, &self.saved).map_err(Error::Segment)?;
        let mut warnings = lowering.warnings;
        self.note_unknown_tags(&lowering.plan, &mut warnings);
        Ok(Segment {
            text: text.to_string(),
            plan: plan::rules::optimize(lowering.plan),
            warnings,
            clock,
        })
    }

    fn note_unknown_tags(&self, plan: &Plan, warnings: &mut Vec<String>) {
        match plan {
            Plan::Leaf(Leaf::Tag(tag)) if self.store.tag(tag).is_none() => {
                warnings.push(format!(
                    "no contact carries the tag {tag:?}: it matches nothing"
                ));
            }
            Plan::Not(inner) => self.note_unknown_tags(inner, warnings),
            Plan::And(children) | Plan::Or(children) => {
                children
                    .iter()
                    .for_each(|c| self.note_unknown_tags(c, warnings));
            }
            _ => {}
        }
    }

    /// The rows matching a compiled segment.
    pub fn rows(&self, segment: &Segment) -> RoaringBitmap {
        crate::exec::execute(&segment.plan, &self.store)
    }

    /// How many contacts match a compiled segment.
    pub fn count(&self, segment: &Segment) -> u64 {
        crate::exec::count(&segment.plan, &self.store)
    }

    /// The plan tree with estimated and actual cardinalities.
    pub fn explain(&self, segment: &Segment) -> String {
        let node = ExplainNode::new(&segment.plan, &self.store);
        plan::explain_text(&node, &segment.warnings)
    }

    /// Applies a change and makes it durable before returning.
    pub fn apply(&mut self, change: &Change, now: Seconds) -> Result<Applied, Error> {
        let applied = self.store.apply(change, now).map_err(Error::Change)?;
        self.save()?;
        Ok(applied)
    }

    /// Replaces the store (e.g. after an import) and makes it durable.
    pub fn replace_store(&mut self, store: Store) -> Result<(), Error> {
        self.store = store;
        self.save()
    }

    /// Puts back a store taken with `take_store` that was not changed (no write).
    pub fn replace_store_unsaved(&mut self, store: Store) {
        self.store = store;
    }

    /// Takes the store out for a fallible bulk operation (put it back with `replace_store`).
    pub fn take_store(&mut self) -> Store {
        std::mem::take(&mut self.store)
    }

    /// Writes the snapshot (compacting away deleted contacts).
    pub fn save(&mut self) -> Result<(), Error> {
        let Some(dir) = &self.dir else { return Ok(()) };
        if u64::from(self.store.row_count()) != self.store.len() {
            self.store = self.store.compacted();
        }
        snapshot::write(&self.store, &dir.join(SNAPSHOT_FILE)).map_err(|e| Error::Io(e.to_string()))
    }

    /// Saved segments by name.
    pub fn saved_segments(&self) -> &SavedSegments {
        &self.saved
    }

    /// Saves a segment under `name`, refusing bad names, bad segments and cycles.
    pub fn save_segment(&mut self, name: &str, text: &str, now: Seconds) -> Result<(), Error> {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(Error::Usage(format!(
                "'{name}' is not a segment name: use letters, digits and _, not starting with a digit"
            )));
        }
        let previous = self.saved.insert(name.to_string(), text.to_string());
        if let Err(e) = self.compile(text, now) {
            match previous {
                Some(p) => self.saved.insert(name.to_string(), p),
                None => self.saved.remove(name),
            };
            return Err(e);
        }
        self.write_json(SEGMENTS_FILE, &self.saved)
    }

    /// Removes a saved segment; other saved segments using it stop compiling.
    pub fn forget_segment(&mut self, name: &str) -> Result<bool, Error> {
        let removed = self.saved.remove(name).is_some();
        self.write_json(SEGMENTS_FILE, &self.saved)?;
        Ok(removed)
    }

    /// LINE quotas by account id.
    pub fn quotas(&self) -> &BTreeMap<String, Quota> {
        &self.quotas
    }

    /// Sets a LINE account's quota figures.
    pub fn set_quota(&mut self, account: &str, quota: Quota) -> Result<(), Error> {
        self.quotas.insert(account.to_string(), quota);
        self.write_json(QUOTA_FILE, &self.quotas)
    }

    fn write_json<T: Serialize>(&self, file: &str, value: &T) -> Result<(), Error> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io(e.to_string()))?;
        write_atomic(&dir.join(file), text.as_bytes())
            .map_err(|e| Error::Io(format!("cannot write {file}: {e}")))
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero is a valid offset"))
}

fn read_json<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, Error> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Data(format!("{} is damaged: {e}", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Writes a file via a temporary file, fsync and rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}
