//! The contact store: one row per contact (`u32` ids), columns for what rows hold, and a
//! roaring bitmap per channel, account, tag, flag, opt-out kind, frequency and "field
//! present".
//!
//! - `mod.rs`: the [`Store`] and what it holds (`Data`).
//! - `read.rs`, `contacts.rs`: every read: bitmaps, time ranges, lookups, derived sets;
//!   whole contacts. `parts.rs`: parts of a mapped snapshot read ahead of use.
//! - `change.rs`: every write, through [`Store::apply`]. It is the only writer by
//!   visibility: a store's data is `Sealed`, which only `change.rs` can open for writing
//!   (see there).
//! - `time/`: the time columns and their range index; `columns/`: the other per-row
//!   columns and maps; `index/`: bitmap operations and values derived from the bitmaps;
//!   `bulk/`: batches in and rows out; `files/`: snapshots and compaction.

mod bulk;
mod change;
mod columns;
mod contacts;
mod files;
mod index;
mod parts;
mod read;
mod time;

pub use crate::model::fold;
pub use bulk::batch::RowBatch;
pub use bulk::reader::RowReader;
pub use change::{Applied, Change, ChangeError, Checked, UpsertOutcome};
pub use columns::registry::Entry;
pub use columns::text::TextCursor;
pub use files::snapshot;
pub(crate) use index::fb_rows::FbFilter;
pub(crate) use index::rowset::{from_words, union_in_order};
pub(crate) use index::words::{CHUNK_ROWS, Words, set_chunk};
pub use parts::Part;
pub(crate) use time::ChunkFilter;
pub use time::RangeEstimate;

use std::sync::{OnceLock, Weak};

use roaring::RoaringBitmap;

use crate::model::{Channel, TEXT_FIELDS, TextField};
use change::Sealed;
use columns::identity::IdentityMap;
use columns::registry::Registry;
use columns::strings::StrColumn;
use columns::text::TextColumn;
use files::lazy::{Lazy, MappedFile};
use index::derived;
use index::postings::{EqIndex, Scans};
use time::TimeColumn;

/// The in-memory columnar store of contacts.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// Everything the store holds. Code outside `change.rs` reads it (`self.data.live`)
    /// and may replace it whole with a store built anew (a snapshot read, a compaction),
    /// but cannot change a part of it in place.
    data: Sealed<Data>,
}

/// What a store holds: its columns, bitmaps and indexes, its write counter and the values
/// derived from them. Built here (empty), by a snapshot read and by compaction; changed
/// only by `change.rs` once inside a [`Store`].
#[derive(Clone, Debug)]
struct Data {
    /// Accounts, keyed `channel|id` (an account id never contains `|`).
    accounts: Registry,
    /// Row ids handed out (live or deleted): the length of every per-row column.
    rows: u32,
    row_account: Lazy<Vec<u32>>,
    external_ids: Lazy<StrColumn>,
    names: Lazy<StrColumn>,
    /// Built after a few lookups answered by scanning (`postings::Scans`).
    name_index: OnceLock<EqIndex>,
    name_scans: Scans,
    avatars: Lazy<StrColumn>,
    /// Tag names are read with the store; each tag's rows when first used.
    tags: Registry,
    /// Tags per row, for tag edits; counted from the tag bitmaps on the first edit that
    /// needs them (a bulk load never does): one that removes a tag from many rows, or
    /// (`Store::tag_counts_due`) after a few rounds of removals looked at row by row.
    tag_counts: Option<Vec<u16>>,
    untag_scans: Scans,
    tagged: Lazy<RoaringBitmap>,
    /// While a log is replayed ([`Store::begin_replay`]): the rows that lost a tag without
    /// tag counts, each checked for another tag once, when the replay ends.
    replay: Option<RoaringBitmap>,
    live: RoaringBitmap,
    channels: [RoaringBitmap; 5],
    flags: [RoaringBitmap; 5],
    opt_outs: [RoaringBitmap; 3],
    frequencies: [RoaringBitmap; 3],
    times: [Lazy<TimeColumn>; 7],
    time_present: [Lazy<RoaringBitmap>; 7],
    texts: [Lazy<TextColumn>; TEXT_FIELDS],
    /// Lookups that scanned a text column where it lies, before it was read.
    text_scans: [Scans; TEXT_FIELDS],
    /// The rows with a text value, read from a text column's part while the column is
    /// not read (once read, or changed, which reads it, the column's own are used).
    present_in_place: [OnceLock<RoaringBitmap>; TEXT_FIELDS],
    /// Built on first use: opening a store does not pay for it.
    identity: OnceLock<IdentityMap>,
    /// Counts writes, so that a [`Checked`] change knows whether the store moved since.
    version: u64,
    /// Values derived from the rest, kept until the next change.
    derived: derived::Derived,
    /// The snapshot the store was mapped from, while a part still reads from it: where
    /// damage found in a part read late is kept.
    file: Option<Weak<MappedFile>>,
}

impl Default for Data {
    fn default() -> Self {
        let rule = TextField::match_rule;
        Data {
            accounts: Registry::default(),
            rows: 0,
            row_account: Lazy::default(),
            external_ids: Lazy::default(),
            names: Lazy::default(),
            name_index: OnceLock::new(),
            name_scans: Scans::default(),
            avatars: Lazy::default(),
            tags: Registry::default(),
            tag_counts: None,
            untag_scans: Scans::default(),
            tagged: Lazy::default(),
            replay: None,
            live: RoaringBitmap::new(),
            channels: Default::default(),
            flags: Default::default(),
            opt_outs: Default::default(),
            frequencies: Default::default(),
            times: Default::default(),
            time_present: Default::default(),
            texts: std::array::from_fn(|i| Lazy::new(TextColumn::new(rule(TextField::ALL[i])))),
            text_scans: Default::default(),
            present_in_place: Default::default(),
            identity: OnceLock::new(),
            version: 0,
            derived: derived::Derived::default(),
            file: None,
        }
    }
}

/// An account as the store knows it.
#[derive(Clone, Copy, Debug)]
pub struct AccountRef<'a> {
    pub channel: Channel,
    pub id: &'a str,
    pub rows: &'a RoaringBitmap,
}

fn account_key(channel: Channel, id: &str) -> String {
    let mut key = String::new();
    account_key_into(&mut key, channel, id);
    key
}

/// Spells the key of an account into `key` (replacing what it held).
fn account_key_into(key: &mut String, channel: Channel, id: &str) {
    key.clear();
    key.push_str(channel.name());
    key.push('|');
    key.push_str(id);
}

pub(crate) fn split_account_key(key: &str) -> (Channel, &str) {
    let (channel, id) = key.split_once('|').unwrap_or(("web", key));
    (Channel::parse(channel).unwrap_or(Channel::Web), id)
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// A store holding `data`, built whole (a snapshot read, a compaction).
    fn from_data(data: Data) -> Store {
        Store {
            data: Sealed::new(data),
        }
    }
}
