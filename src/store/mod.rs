//! The contact store: one row per contact (`u32` ids), columns for what rows hold, and a
//! roaring bitmap per channel, account, tag, flag, opt-out kind, frequency and "field
//! present". Reads live here; every change goes through [`Store::apply`] in `change.rs`.

mod bulk;
mod change;
mod columns;
mod files;
mod index;
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
pub(crate) use time::ChunkFilter;
pub use time::RangeEstimate;

use std::sync::OnceLock;

use roaring::RoaringBitmap;

use crate::model::{
    Channel, Contact, FbFrequency, Flag, OptOutKind, OptOuts, Seconds, TextField, TimeField,
};
use columns::identity::IdentityMap;
use columns::memory;
use columns::registry::Registry;
use columns::strings::StrColumn;
use columns::text::TextColumn;
use index::derived;
use index::postings::{self, EqIndex};
use time::TimeColumn;

/// The in-memory columnar store of contacts.
#[derive(Clone, Debug)]
pub struct Store {
    /// Accounts, keyed `channel|id` (an account id never contains `|`).
    accounts: Registry,
    row_account: Vec<u32>,
    external_ids: StrColumn,
    names: StrColumn,
    /// Built on first use: opening a store does not pay for it.
    name_index: OnceLock<EqIndex>,
    avatars: StrColumn,
    tags: Registry,
    /// Tags per row, for tag edits; counted from the tag bitmaps on the first edit that
    /// needs them (a bulk load never does).
    tag_counts: Option<Vec<u16>>,
    tagged: RoaringBitmap,
    live: RoaringBitmap,
    channels: [RoaringBitmap; 5],
    flags: [RoaringBitmap; 5],
    opt_outs: [RoaringBitmap; 3],
    frequencies: [RoaringBitmap; 3],
    times: [TimeColumn; 7],
    time_present: [RoaringBitmap; 7],
    texts: [TextColumn; 5],
    /// Built on first use: opening a store does not pay for it.
    identity: OnceLock<IdentityMap>,
    /// Counts writes, so that a [`Checked`] change knows whether the store moved since.
    version: u64,
    /// Values derived from the rest, kept until the next change.
    derived: derived::Derived,
}

impl Default for Store {
    fn default() -> Self {
        let rule = TextField::match_rule;
        Store {
            accounts: Registry::default(),
            row_account: Vec::new(),
            external_ids: StrColumn::default(),
            names: StrColumn::default(),
            name_index: OnceLock::new(),
            avatars: StrColumn::default(),
            tags: Registry::default(),
            tag_counts: None,
            tagged: RoaringBitmap::new(),
            live: RoaringBitmap::new(),
            channels: Default::default(),
            flags: Default::default(),
            opt_outs: Default::default(),
            frequencies: Default::default(),
            times: Default::default(),
            time_present: Default::default(),
            texts: std::array::from_fn(|i| TextColumn::new(rule(TextField::ALL[i]))),
            identity: OnceLock::new(),
            version: 0,
            derived: derived::Derived::default(),
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

fn split_account_key(key: &str) -> (Channel, &str) {
    let (channel, id) = key.split_once('|').unwrap_or(("web", key));
    (Channel::parse(channel).unwrap_or(Channel::Web), id)
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Number of live contacts.
    pub fn len(&self) -> u64 {
        self.live.len()
    }

    /// Whether there are no live contacts.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Number of row ids handed out (live or deleted).
    pub fn row_count(&self) -> u32 {
        self.row_account.len() as u32
    }

    /// The rows of live contacts.
    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// The row of an identity, if it is live.
    pub fn find(&self, channel: Channel, account: &str, external_id: &str) -> Option<u32> {
        let code = self.accounts.code(&account_key(channel, account))?;
        self.identity()
            .find(code, external_id, &self.row_account, &self.external_ids)
    }

    /// The contacts of a channel.
    pub fn channel(&self, channel: Channel) -> &RoaringBitmap {
        &self.channels[channel.index()]
    }

    /// Every account (any channel), in creation order.
    pub fn accounts(&self) -> impl Iterator<Item = AccountRef<'_>> {
        self.accounts.entries().iter().map(|e| {
            let (channel, id) = split_account_key(&e.name);
            AccountRef {
                channel,
                id,
                rows: &e.rows,
            }
        })
    }

    /// The contacts of accounts named `id` (on any channel).
    pub fn account(&self, id: &str) -> RoaringBitmap {
        let mut rows = RoaringBitmap::new();
        for channel in Channel::ALL {
            if let Some(bitmap) = self.accounts.rows(&account_key(channel, id)) {
                rows |= bitmap;
            }
        }
        rows
    }

    /// The contacts carrying `tag` (`None`: no such tag exists).
    pub fn tag(&self, tag: &str) -> Option<&RoaringBitmap> {
        self.tags.rows(tag)
    }

    /// Every tag with its rows and creation time.
    pub fn tags(&self) -> &[Entry] {
        self.tags.entries()
    }

    /// The contacts carrying at least one tag.
    pub fn tagged(&self) -> &RoaringBitmap {
        &self.tagged
    }

    /// The contacts whose `flag` is true.
    pub fn flag(&self, flag: Flag) -> &RoaringBitmap {
        &self.flags[flag.index()]
    }

    /// The contacts that opted out of `kind`.
    pub fn opt_out(&self, kind: OptOutKind) -> &RoaringBitmap {
        &self.opt_outs[kind.index()]
    }

    /// The contacts with recurring-notification frequency `frequency`.
    pub fn frequency(&self, frequency: FbFrequency) -> &RoaringBitmap {
        &self.frequencies[frequency.index()]
    }

    /// The contacts whose time `field` is set.
    pub fn time_present(&self, field: TimeField) -> &RoaringBitmap {
        &self.time_present[field.index()]
    }

    /// The contacts whose time `field` lies in `[lo, hi)`.
    pub fn time_range(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.times[field.index()].range(lo, hi)
    }

    /// The live contacts whose time `field` is missing or outside `[lo, hi)`.
    pub fn time_outside(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.times[field.index()].outside(lo, hi) & &self.live
    }

    /// An estimate of how many contacts have time `field` in `[lo, hi)`, and of the
    /// bytes finding them reads.
    pub fn time_estimate(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RangeEstimate {
        let estimate = self.times[field.index()].estimate(lo, hi);
        RangeEstimate {
            rows: estimate.rows.min(self.len()),
            ..estimate
        }
    }

    /// The rows of `candidates` whose time `field` lies in `[lo, hi)`, or with `outside`,
    /// whose time is missing or outside it.
    pub fn time_filter(
        &self,
        field: TimeField,
        candidates: &RoaringBitmap,
        lo: Seconds,
        hi: Seconds,
        outside: bool,
    ) -> RoaringBitmap {
        let column = &self.times[field.index()];
        match outside {
            false => column.filter(candidates, lo, hi),
            true => column.filter_outside(candidates, lo, hi),
        }
    }

    /// How many rows of `candidates` [`Store::time_filter`] would give, without building
    /// them.
    pub fn time_filter_count(
        &self,
        field: TimeField,
        candidates: &RoaringBitmap,
        lo: Seconds,
        hi: Seconds,
        outside: bool,
    ) -> u64 {
        self.times[field.index()].filter_count(candidates, lo, hi, outside)
    }

    /// Time `field` in `[lo, hi)` (with `outside`, missing or outside it), to narrow bit
    /// words chunk by chunk.
    pub(crate) fn chunk_filter(
        &self,
        field: TimeField,
        lo: Seconds,
        hi: Seconds,
        outside: bool,
    ) -> ChunkFilter<'_> {
        self.times[field.index()].chunk_filter(lo, hi, outside)
    }

    /// How many contacts have time `field` in `[lo, hi)` (a scan that builds no bitmap).
    pub fn time_count(&self, field: TimeField, lo: Seconds, hi: Seconds) -> u64 {
        self.times[field.index()].count(lo, hi)
    }

    /// The contacts with a time in any of `ranges` (field, lo, hi), found in one pass
    /// over those columns.
    pub fn time_union(&self, ranges: &[(TimeField, Seconds, Seconds)]) -> RoaringBitmap {
        TimeColumn::union_of(&self.time_ranges(ranges))
    }

    /// The rows of `candidates` with a time in any of `ranges`.
    pub fn time_union_within(
        &self,
        ranges: &[(TimeField, Seconds, Seconds)],
        candidates: &RoaringBitmap,
    ) -> RoaringBitmap {
        TimeColumn::union_within(&self.time_ranges(ranges), candidates)
    }

    /// How many contacts [`Store::time_union`] gives, without building them.
    pub fn time_union_count(&self, ranges: &[(TimeField, Seconds, Seconds)]) -> u64 {
        TimeColumn::union_count(&self.time_ranges(ranges))
    }

    fn time_ranges(
        &self,
        ranges: &[(TimeField, Seconds, Seconds)],
    ) -> Vec<(&TimeColumn, Seconds, Seconds)> {
        let column = |field: TimeField| &self.times[field.index()];
        ranges
            .iter()
            .map(|&(f, lo, hi)| (column(f), lo, hi))
            .collect()
    }

    /// The contacts whose text `field` is set.
    pub fn text_present(&self, field: TextField) -> &RoaringBitmap {
        self.texts[field.index()].present()
    }

    /// The contacts whose text `field` equals `value` (emails ignoring case).
    pub fn text_eq(&self, field: TextField, value: &str) -> RoaringBitmap {
        self.texts[field.index()].matching(value)
    }

    /// The contacts whose external id is `id`, on any account (one probe of the identity
    /// map per account).
    pub fn external_id_eq(&self, id: &str) -> RoaringBitmap {
        let identity = self.identity();
        (0..self.accounts.entries().len() as u32)
            .filter_map(|code| identity.find(code, id, &self.row_account, &self.external_ids))
            .collect()
    }

    /// The contacts whose trimmed, lower-cased name equals `value`'s.
    pub fn name_eq(&self, value: &str) -> RoaringBitmap {
        postings::matching(self.name_index(), &fold(value), |r| fold(self.names.get(r)))
    }

    /// Builds the indexes otherwise built at their first use (names, identities, the
    /// text columns'), on every core: for a REPL, so that its first `name:` or `email:`
    /// answers as fast as the next.
    pub fn build_indexes(&self) {
        rayon::scope(|s| {
            s.spawn(|_| {
                self.name_index();
            });
            s.spawn(|_| {
                self.identity();
            });
            for text in &self.texts {
                s.spawn(move |_| text.build_index());
            }
        });
    }

    fn identity(&self) -> &IdentityMap {
        self.identity
            .get_or_init(|| IdentityMap::build(&self.live, &self.row_account, &self.external_ids))
    }

    /// The name index, of live rows only (an erased row keeps a blank name until the next
    /// snapshot compacts it away; `delete` takes it out of a built index).
    fn name_index(&self) -> &EqIndex {
        self.name_index
            .get_or_init(|| EqIndex::build(&self.live, |r| fold(self.names.get(r))))
    }

    /// The identity map and the columns it reads, for changing it.
    fn identity_parts(&mut self) -> (&mut IdentityMap, &[u32], &StrColumn) {
        self.identity();
        let map = lazy_mut(&mut self.identity);
        (map, &self.row_account, &self.external_ids)
    }

    /// Tags per row, counted from the tag bitmaps.
    fn count_tags(&self) -> Vec<u16> {
        let mut counts = memory::zeroed::<u16>(self.row_count() as usize);
        for entry in self.tags.entries() {
            for row in &entry.rows {
                counts[row as usize] = counts[row as usize].saturating_add(1);
            }
        }
        counts
    }

    /// Records how many tags `row` carries, if tags are counted.
    fn set_tag_count(&mut self, row: u32, count: u16) {
        if let Some(counts) = self.tag_counts.as_mut() {
            if counts.len() <= row as usize {
                counts.resize(row as usize + 1, 0);
            }
            counts[row as usize] = count;
        }
    }

    /// Whether `row` carries any tag (a membership test per tag until one says yes).
    fn has_any_tag(&self, row: u32) -> bool {
        self.tags.entries().iter().any(|e| e.rows.contains(row))
    }

    /// The display name of a row.
    pub fn name_of(&self, row: u32) -> &str {
        self.names.get(row)
    }

    /// The value of a text field of a row.
    pub fn text_of(&self, field: TextField, row: u32) -> Option<&str> {
        self.texts[field.index()].get(row)
    }

    /// The channel and account id of a row.
    pub fn account_of(&self, row: u32) -> (Channel, &str) {
        let code = self.row_account.get(row as usize).copied().unwrap_or(0);
        split_account_key(&self.accounts.entry(code).name)
    }

    /// The external id of a row.
    pub fn external_id(&self, row: u32) -> &str {
        self.external_ids.get(row)
    }

    /// The channel of a row.
    pub fn channel_of(&self, row: u32) -> Channel {
        let code = self.row_account.get(row as usize).copied().unwrap_or(0);
        split_account_key(&self.accounts.entry(code).name).0
    }

    /// The contact of a live row.
    pub fn contact(&self, row: u32) -> Option<Contact> {
        self.contacts(&RoaringBitmap::from_iter([row])).pop()
    }

    /// The contacts of the live rows among `rows`, in row order.
    pub fn contacts(&self, rows: &RoaringBitmap) -> Vec<Contact> {
        self.contacts_with(rows, true)
    }

    /// The contacts of the live rows among `rows`, in row order, with their tags or
    /// without (then `tags` is empty). Tags of many rows are gathered per tag (one
    /// intersection each); of a few rows, per row.
    pub(crate) fn contacts_with(&self, rows: &RoaringBitmap, with_tags: bool) -> Vec<Contact> {
        let rows = rows & &self.live;
        let mut out: Vec<Contact> = rows
            .iter()
            .map(|row| self.contact_without_tags(row))
            .collect();
        if !with_tags {
            return out;
        }
        if rows.len() <= FEW_ROWS {
            for (contact, row) in out.iter_mut().zip(&rows) {
                contact.tags = self.row_tags(row);
            }
            return out;
        }
        let position = RowPositions::new(&rows);
        for entry in self.tags.entries() {
            if entry.rows.is_disjoint(&rows) {
                continue;
            }
            for row in &entry.rows & &rows {
                out[position.of(row)].tags.push(entry.name.to_string());
            }
        }
        for contact in &mut out {
            contact.tags.sort();
        }
        out
    }

    /// The tags of one row, sorted: a membership test per tag, stopping once the row's
    /// tag count (when counted) is reached.
    fn row_tags(&self, row: u32) -> Vec<String> {
        let mut left = match &self.tag_counts {
            Some(counts) => counts.get(row as usize).copied().unwrap_or(0) as usize,
            None if self.tagged.contains(row) => usize::MAX,
            None => 0,
        };
        let mut tags = Vec::new();
        for entry in self.tags.entries() {
            if left == 0 {
                break;
            }
            if entry.rows.contains(row) {
                tags.push(entry.name.to_string());
                left -= 1;
            }
        }
        tags.sort();
        tags
    }

    fn contact_without_tags(&self, row: u32) -> Contact {
        let code = self.row_account[row as usize];
        let (channel, account) = split_account_key(&self.accounts.entry(code).name);
        let mut c = Contact::new(channel, account, self.external_ids.get(row));
        c.name = self.names.get(row).to_string();
        c.avatar_url = self.avatars.get(row).to_string();
        for flag in Flag::ALL {
            c.flags[flag.index()] = self.flags[flag.index()].contains(row);
        }
        c.opt_outs = OptOutKind::ALL
            .iter()
            .copied()
            .filter(|k| self.opt_outs[k.index()].contains(row))
            .collect::<OptOuts>();
        c.fb_frequency = FbFrequency::ALL
            .iter()
            .copied()
            .find(|f| self.frequencies[f.index()].contains(row));
        for field in TimeField::ALL {
            c.times[field.index()] = self.times[field.index()].get(row);
        }
        for field in TextField::ALL {
            c.texts[field.index()] = self.texts[field.index()].get(row).map(str::to_string);
        }
        c
    }

    /// Approximate bytes of memory held, by part, largest first.
    pub fn memory_breakdown(&self) -> Vec<(String, usize)> {
        let bitmaps =
            |maps: &[RoaringBitmap]| maps.iter().map(|b| b.serialized_size()).sum::<usize>();
        let mut parts: Vec<(String, usize)> = vec![
            ("external ids".into(), self.external_ids.heap_bytes()),
            ("names".into(), self.names.heap_bytes()),
            (
                "name index".into(),
                self.name_index.get().map_or(0, EqIndex::heap_bytes),
            ),
            ("avatar urls".into(), self.avatars.heap_bytes()),
            (
                "identity map".into(),
                self.identity.get().map_or(0, IdentityMap::heap_bytes),
            ),
            ("row → account".into(), self.row_account.capacity() * 4),
            ("tag bitmaps".into(), self.tags.heap_bytes()),
            (
                "tag counts".into(),
                self.tag_counts.as_ref().map_or(0, |c| c.capacity() * 2),
            ),
            ("account bitmaps".into(), self.accounts.heap_bytes()),
            (
                "flag/channel/opt-out/frequency bitmaps".into(),
                bitmaps(&self.flags)
                    + bitmaps(&self.channels)
                    + bitmaps(&self.opt_outs)
                    + bitmaps(&self.frequencies)
                    + self.live.serialized_size()
                    + self.tagged.serialized_size(),
            ),
        ];
        parts.push(("word views".into(), self.derived.words.heap_bytes()));
        for field in TimeField::ALL {
            let i = field.index();
            let bytes = self.times[i].heap_bytes() + self.time_present[i].serialized_size();
            parts.push((format!("time {}", field.name()), bytes));
        }
        for field in TextField::ALL {
            let bytes = self.texts[field.index()].heap_bytes();
            parts.push((format!("text {}", field.name()), bytes));
        }
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        parts
    }
}

/// Up to this many rows, [`Store::contacts_with`] reads tags row by row.
const FEW_ROWS: u64 = 64;

/// Adds `base + r` for each of `rows` (ascending, all past the bitmap's last row: the
/// rows of a batch being appended).
fn push_rows(bitmap: &mut RoaringBitmap, base: u32, rows: &[u32]) {
    let shifted = rows.iter().map(|&r| base + r);
    if bitmap.append(shifted.clone()).is_err() {
        bitmap.extend(shifted);
    }
}

/// The value of a cell already initialized by the caller.
fn lazy_mut<T>(cell: &mut OnceLock<T>) -> &mut T {
    match cell.get_mut() {
        Some(value) => value,
        None => unreachable!("the caller initializes the cell first"),
    }
}

/// Maps the rows of a sorted set to their positions in it.
pub(super) enum RowPositions {
    Dense { base: u32, positions: Vec<u32> },
    Sparse(hashbrown::HashMap<u32, u32>),
}

impl RowPositions {
    pub(super) fn new(rows: &RoaringBitmap) -> RowPositions {
        let (Some(min), Some(max)) = (rows.min(), rows.max()) else {
            return RowPositions::Sparse(Default::default());
        };
        let span = (max - min) as usize + 1;
        if span <= (rows.len() as usize * 8).max(1 << 16) {
            let mut positions = vec![0; span];
            for (i, row) in rows.iter().enumerate() {
                positions[(row - min) as usize] = i as u32;
            }
            RowPositions::Dense {
                base: min,
                positions,
            }
        } else {
            RowPositions::Sparse(
                rows.iter()
                    .enumerate()
                    .map(|(i, r)| (r, i as u32))
                    .collect(),
            )
        }
    }

    pub(super) fn of(&self, row: u32) -> usize {
        match self {
            RowPositions::Dense { base, positions } => positions[(row - base) as usize] as usize,
            RowPositions::Sparse(map) => map.get(&row).copied().unwrap_or(0) as usize,
        }
    }
}
