//! Every read of a store: sizes, the membership bitmaps (channels, accounts, tags, flags,
//! opt-outs, frequencies), time ranges (answered by `time/`), text, name and identity
//! lookups, the sets derived from them (unsubscribed, `fb_sendable`), word views, a
//! compacted copy, and memory use. Whole contacts are read in `contacts.rs`.

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::columns::identity::IdentityMap;
use super::columns::memory;
use super::columns::text::TextColumn;
use super::files::compact;
use super::files::packed;
use super::files::snapshot::SnapshotError;
use super::index::fb_rows::{FbFilter, FbRows};
use super::index::postings::{self, EqIndex};
use super::index::words::{ViewKey, Words};
use super::time::{ChunkFilter, RangeEstimate, TimeColumn};
use super::{AccountRef, Entry, Store, account_key, split_account_key};
use crate::model::{
    Channel, FbFrequency, Flag, MatchRule, OptOutKind, Seconds, SendableAt, TextField, TimeField,
    fold,
};

impl Store {
    /// Number of live contacts.
    pub fn len(&self) -> u64 {
        self.data.live.len()
    }

    /// Whether there are no live contacts.
    pub fn is_empty(&self) -> bool {
        self.data.live.is_empty()
    }

    /// Number of row ids handed out (live or deleted).
    pub fn row_count(&self) -> u32 {
        self.data.rows
    }

    /// The rows of live contacts.
    pub fn live(&self) -> &RoaringBitmap {
        &self.data.live
    }

    /// The row of an identity, if it is live.
    pub fn find(&self, channel: Channel, account: &str, external_id: &str) -> Option<u32> {
        let code = self.data.accounts.code(&account_key(channel, account))?;
        self.identity().find(
            code,
            external_id,
            &self.data.row_account,
            &self.data.external_ids,
        )
    }

    /// The contacts of a channel.
    pub fn channel(&self, channel: Channel) -> &RoaringBitmap {
        &self.data.channels[channel.index()]
    }

    /// Every account (any channel), in creation order.
    pub fn accounts(&self) -> impl Iterator<Item = AccountRef<'_>> {
        self.data.accounts.entries().iter().map(|e| {
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
            if let Some(bitmap) = self.data.accounts.rows(&account_key(channel, id)) {
                rows |= bitmap;
            }
        }
        rows
    }

    /// The stored rows of the account named `id` when one channel alone has an account
    /// of that name (as is usual): read in place, through its word view, where
    /// [`Store::account`] builds a union for each query.
    pub fn single_account(&self, id: &str) -> Option<&RoaringBitmap> {
        let mut held = (Channel::ALL.into_iter())
            .filter_map(|channel| self.data.accounts.rows(&account_key(channel, id)));
        let first = held.next()?;
        held.next().is_none().then_some(first)
    }

    /// The contacts carrying `tag` (`None`: no such tag exists).
    pub fn tag(&self, tag: &str) -> Option<&RoaringBitmap> {
        self.data.tags.rows(tag)
    }

    /// Every tag with its rows and creation time.
    pub fn tags(&self) -> &[Entry] {
        self.data.tags.entries()
    }

    /// The contacts carrying at least one tag.
    pub fn tagged(&self) -> &RoaringBitmap {
        &self.data.tagged
    }

    /// The contacts whose `flag` is true.
    pub fn flag(&self, flag: Flag) -> &RoaringBitmap {
        &self.data.flags[flag.index()]
    }

    /// The contacts that opted out of `kind`.
    pub fn opt_out(&self, kind: OptOutKind) -> &RoaringBitmap {
        &self.data.opt_outs[kind.index()]
    }

    /// The contacts with recurring-notification frequency `frequency`.
    pub fn frequency(&self, frequency: FbFrequency) -> &RoaringBitmap {
        &self.data.frequencies[frequency.index()]
    }

    /// The contacts whose time `field` is set.
    pub fn time_present(&self, field: TimeField) -> &RoaringBitmap {
        &self.data.time_present[field.index()]
    }

    /// The contacts whose time `field` lies in `[lo, hi)`.
    pub fn time_range(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.data.times[field.index()].range(lo, hi)
    }

    /// The live contacts whose time `field` is missing or outside `[lo, hi)`.
    pub fn time_outside(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.data.times[field.index()].outside(lo, hi) & &self.data.live
    }

    /// An estimate of how many contacts have time `field` in `[lo, hi)`, and of the
    /// bytes finding them reads.
    pub fn time_estimate(&self, field: TimeField, lo: Seconds, hi: Seconds) -> RangeEstimate {
        let estimate = self.data.times[field.index()].estimate(lo, hi);
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
        let column = &self.data.times[field.index()];
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
        self.data.times[field.index()].filter_count(candidates, lo, hi, outside)
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
        self.data.times[field.index()].chunk_filter(lo, hi, outside)
    }

    /// How many contacts have time `field` in `[lo, hi)` (a scan that builds no bitmap).
    pub fn time_count(&self, field: TimeField, lo: Seconds, hi: Seconds) -> u64 {
        self.data.times[field.index()].count(lo, hi)
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
        let column = |field: TimeField| &*self.data.times[field.index()];
        ranges
            .iter()
            .map(|&(f, lo, hi)| (column(f), lo, hi))
            .collect()
    }

    /// The contacts whose text `field` is set.
    /// While the column is not read, its rows with a value are read from the head of
    /// its part in the data file and kept, its values left where they lie.
    pub fn text_present(&self, field: TextField) -> &RoaringBitmap {
        let column = &self.data.texts[field.index()];
        let kept = &self.data.present_in_place[field.index()];
        if column.is_loaded() {
            return column.present();
        } else if let Some(present) = kept.get() {
            return present;
        }
        let rows = self.data.rows;
        match column.read_in_place(|part| packed::texts_present(part, rows)) {
            Some(present) => kept.get_or_init(|| present),
            None => column.present(),
        }
    }

    /// The contacts whose text `field` equals `value` (emails ignoring case). A process's
    /// first few lookups scan: where the column lies in the data file while it is not
    /// read (`files::packed`), else the column read; the next builds the column's index.
    pub fn text_eq(&self, field: TextField, value: &str) -> RoaringBitmap {
        let column = &self.data.texts[field.index()];
        let indexed = column.loaded().is_some_and(TextColumn::is_indexed);
        if indexed || !self.data.text_scans[field.index()].scan_instead() {
            return column.matching(value);
        }
        if !column.is_loaded() {
            let rule = field.match_rule();
            let key = rule.key(value);
            let test = |v: &[u8]| match rule {
                MatchRule::Exact => Ok(v == key.as_bytes()),
                MatchRule::Folded => bytes_fold_to(v, &key),
            };
            let rows = self.data.rows;
            let found = column.read_in_place(|part| packed::texts_matching(part, rows, &test));
            if let Some(found) = found {
                return found;
            }
        }
        column.scan_matching(value)
    }

    /// `text_eq(field, value)` in place when several contacts share the value (a store,
    /// a salesperson), so that a query reads it through its word view instead of
    /// copying it (`None`: ask `text_eq`).
    pub fn text_eq_shared(&self, field: TextField, value: &str) -> Option<&RoaringBitmap> {
        (self.data.texts[field.index()].loaded()?).shared_matching(value)
    }

    /// The contacts whose external id is `id`, on any account (one probe of the identity
    /// map per account).
    pub fn external_id_eq(&self, id: &str) -> RoaringBitmap {
        let identity = self.identity();
        (0..self.data.accounts.entries().len() as u32)
            .filter_map(|code| {
                identity.find(code, id, &self.data.row_account, &self.data.external_ids)
            })
            .collect()
    }

    /// The contacts whose trimmed, lower-cased name equals `value`'s.
    pub fn name_eq(&self, value: &str) -> RoaringBitmap {
        let key = fold(value);
        if self.data.name_index.get().is_none() && self.data.name_scans.scan_instead() {
            return self.name_scan(&key);
        }
        postings::matching(self.name_index(), &key, |r| fold(self.data.names.get(r)))
    }

    /// The live rows whose folded name is `key`, read on every core from the column, or
    /// where it lies in the data file while it is not read (`files::packed`).
    fn name_scan(&self, key: &str) -> RoaringBitmap {
        use rayon::prelude::*;
        let test = |v: &[u8]| bytes_fold_to(v, key);
        let rows = self.row_count();
        let in_place =
            (self.data.names).read_in_place(|p| packed::strings_matching(p, rows, &test));
        if let Some(found) = in_place {
            return RoaringBitmap::from_sorted_iter(found).unwrap_or_default() & &self.data.live;
        }
        const PART: u32 = 1 << 16;
        let (names, live) = (&*self.data.names, &self.data.live);
        let parts = (0..self.row_count().div_ceil(PART))
            .into_par_iter()
            .map(|part| {
                let rows = part * PART..(part * PART).saturating_add(PART).min(self.row_count());
                let found = rows.filter(|&r| folds_to(names.get(r), key) && live.contains(r));
                RoaringBitmap::from_sorted_iter(found).unwrap_or_default()
            });
        super::union_in_order(parts.collect())
    }

    /// `name_eq(value)` in place when several contacts share the name (`None`: ask
    /// `name_eq`).
    pub fn name_eq_shared(&self, value: &str) -> Option<&RoaringBitmap> {
        self.data.name_index.get()?.shared(&fold(value))
    }

    /// Builds the indexes otherwise built at their first use (names, identities, the
    /// text columns'), on every core, and lets time ranges sort from their first use
    /// ([`Store::expect_repeats`]): for a REPL, so that its first `name:` or `email:`
    /// answers as fast as the next.
    pub fn build_indexes(&self) {
        self.expect_repeats();
        rayon::scope(|s| {
            s.spawn(|_| {
                self.name_index();
            });
            s.spawn(|_| {
                self.identity();
            });
            for text in &self.data.texts {
                s.spawn(move |_| text.build_index());
            }
        });
    }

    /// For a caller that will run many queries (a batch, a REPL): each time column
    /// (read now) sorts the chunks a range reads from its first query on, where a
    /// one-shot command's first few queries scan instead (`time::TimeColumn::sorts`).
    /// A damaged column is left unread, for the query that reads it to report.
    pub fn expect_repeats(&self) {
        let columns = self.data.times.iter().filter_map(|times| times.load().ok());
        columns.for_each(TimeColumn::sort_freely);
    }

    /// Builds the map of identities to rows, otherwise built at the first lookup: a writer
    /// builds it while only reading, before readers wait on it.
    pub fn build_identities(&self) {
        self.identity();
    }

    pub(super) fn identity(&self) -> &IdentityMap {
        self.data.identity.get_or_init(|| {
            IdentityMap::build(
                &self.data.live,
                &self.data.row_account,
                &self.data.external_ids,
            )
        })
    }

    /// The name index, of live rows only (an erased row keeps a blank name until the next
    /// snapshot compacts it away; `delete` takes it out of a built index).
    pub(super) fn name_index(&self) -> &EqIndex {
        self.data
            .name_index
            .get_or_init(|| EqIndex::build(&self.data.live, |r| fold(self.data.names.get(r))))
    }

    /// Reads every tag's rows now (a snapshot's are read at first use), so that a change
    /// removing tags, which tests its rows against every tag, reads none while readers
    /// wait on the engine's write lock.
    pub fn read_tag_rows(&self) {
        self.data
            .tags
            .entries()
            .iter()
            .for_each(|e| _ = e.rows.len());
    }

    /// Tags per row, counted from the tag bitmaps 65,536 rows at a time, every tag's
    /// rows there in turn, so that the chunk's counts stay in cache (tag by tag over all
    /// rows, each dense tag streamed the 20 MB of counts of 10M rows through memory).
    pub(super) fn count_tags(&self) -> Vec<u16> {
        let mut counts = memory::zeroed::<u16>(self.row_count() as usize);
        let tags: Vec<&RoaringBitmap> = (self.data.tags.entries().iter())
            .map(|e| &*e.rows)
            .collect();
        for (i, chunk) in counts.chunks_mut(super::CHUNK_ROWS).enumerate() {
            let first = (i * super::CHUNK_ROWS) as u32;
            let end = first + chunk.len() as u32;
            for row in tags.iter().flat_map(|t| t.range(first..end)) {
                let count = &mut chunk[(row - first) as usize];
                *count = count.saturating_add(1);
            }
        }
        counts
    }

    /// Whether `row` carries any tag (a membership test per tag until one says yes).
    pub(super) fn has_any_tag(&self, row: u32) -> bool {
        self.data
            .tags
            .entries()
            .iter()
            .any(|e| e.rows.contains(row))
    }

    /// Approximate bytes of memory held, by part, largest first.
    pub fn memory_breakdown(&self) -> Vec<(String, usize)> {
        let bitmaps =
            |maps: &[RoaringBitmap]| maps.iter().map(|b| b.serialized_size()).sum::<usize>();
        let mut parts: Vec<(String, usize)> = vec![
            ("external ids".into(), self.data.external_ids.heap_bytes()),
            ("names".into(), self.data.names.heap_bytes()),
            (
                "name index".into(),
                self.data.name_index.get().map_or(0, EqIndex::heap_bytes),
            ),
            ("avatar urls".into(), self.data.avatars.heap_bytes()),
            (
                "identity map".into(),
                self.data.identity.get().map_or(0, IdentityMap::heap_bytes),
            ),
            ("row → account".into(), self.data.row_account.capacity() * 4),
            ("tag bitmaps".into(), self.data.tags.heap_bytes()),
            (
                "tag counts".into(),
                self.data
                    .tag_counts
                    .as_ref()
                    .map_or(0, |c| c.capacity() * 2),
            ),
            ("account bitmaps".into(), self.data.accounts.heap_bytes()),
            (
                "flag/channel/opt-out/frequency bitmaps".into(),
                bitmaps(&self.data.flags)
                    + bitmaps(&self.data.channels)
                    + bitmaps(&self.data.opt_outs)
                    + bitmaps(&self.data.frequencies)
                    + self.data.live.serialized_size()
                    + self.data.tagged.serialized_size(),
            ),
        ];
        parts.push(("word views".into(), self.data.derived.words.heap_bytes()));
        for field in TimeField::ALL {
            let i = field.index();
            let bytes =
                self.data.times[i].heap_bytes() + self.data.time_present[i].serialized_size();
            parts.push((format!("time {}", field.name()), bytes));
        }
        for field in TextField::ALL {
            let bytes = self.data.texts[field.index()].heap_bytes();
            parts.push((format!("text {}", field.name()), bytes));
        }
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        parts
    }

    /// The live contacts that are unsubscribed: blocked, or opted out of broadcasts
    /// (data-model.md); every other live contact is subscribed.
    pub fn unsubscribed(&self) -> Arc<RoaringBitmap> {
        self.data.derived.unsubscribed.get(self.data.version, || {
            (self.flag(Flag::Blocked) | self.opt_out(OptOutKind::Broadcast)) & self.live()
        })
    }

    /// `bitmap` (one of this store's bitmaps, or one it derived) as words over every row,
    /// when it holds at least one row in 64; else `None`, and the caller reads its values.
    pub(crate) fn word_view(&self, bitmap: &RoaringBitmap) -> Option<Arc<Words>> {
        let rows = self.row_count() as usize;
        let (version, key) = (self.data.version, self.view_key(bitmap));
        (bitmap.len() * 64 >= rows as u64 && rows > 0)
            .then(|| self.data.derived.words.get(version, key, bitmap, rows))
    }

    /// The name of `bitmap` among the store's own bitmaps and derived sets, by which its
    /// word view outlives changes; any other bitmap is named by its address.
    fn view_key(&self, bitmap: &RoaringBitmap) -> ViewKey {
        let d = &self.data;
        let within = |kind: u8, maps: &[RoaringBitmap]| {
            let at = maps.iter().position(|m| std::ptr::eq(m, bitmap));
            at.map(|i| ViewKey::Named(kind, i as u32))
        };
        let single = |kind: u8, map: &RoaringBitmap| {
            std::ptr::eq(map, bitmap).then_some(ViewKey::Named(kind, 0))
        };
        // Parts not read yet cannot be `bitmap`: they are not asked to load.
        let is = |map: Option<&RoaringBitmap>| map.is_some_and(|m| std::ptr::eq(m, bitmap));
        let unsubscribed = d.derived.unsubscribed.holds(bitmap);
        (single(0, &d.live))
            .or_else(|| is(d.tagged.loaded()).then_some(ViewKey::Named(1, 0)))
            .or_else(|| unsubscribed.then_some(ViewKey::Named(2, 0)))
            .or_else(|| within(3, &d.channels))
            .or_else(|| within(4, &d.flags))
            .or_else(|| within(5, &d.opt_outs))
            .or_else(|| within(6, &d.frequencies))
            .or_else(|| {
                let at = d.time_present.iter().position(|m| is(m.loaded()));
                at.map(|i| ViewKey::Named(7, i as u32))
            })
            .or_else(|| {
                let at = (d.texts.iter()).position(|t| is(t.loaded().map(|t| t.present())));
                at.map(|i| ViewKey::Named(10, i as u32))
            })
            .or_else(|| d.tags.code_of(bitmap).map(|c| ViewKey::Named(8, c)))
            .or_else(|| d.accounts.code_of(bitmap).map(|c| ViewKey::Named(9, c)))
            .unwrap_or(ViewKey::Other(std::ptr::from_ref(bitmap) as usize))
    }

    /// The live contacts that may receive a recurring notification at `at`.
    pub fn fb_sendable(&self, at: SendableAt) -> RoaringBitmap {
        self.fb_rows().sendable(at)
    }

    /// `fb_sendable(at)` as a filter of bit words, chunk by chunk.
    pub(crate) fn fb_filter(&self, at: SendableAt) -> FbFilter {
        self.fb_rows().filter(at)
    }

    /// How many live contacts `fb_sendable(at)` holds, without building them.
    pub fn fb_sendable_count(&self, at: SendableAt) -> u64 {
        self.fb_rows().count_sendable(at)
    }

    /// `fb_sendable(at) ∩ candidates`, looking up few candidates one by one.
    pub fn fb_sendable_among(&self, at: SendableAt, candidates: &RoaringBitmap) -> RoaringBitmap {
        self.fb_rows().sendable_within(at, candidates)
    }

    /// The opted-in live Facebook rows with their columns, built at the first ask after a
    /// change.
    fn fb_rows(&self) -> Arc<FbRows> {
        self.data.derived.fb_rows.get(self.data.version, || {
            let rows = self.flag(Flag::FbOptin) & self.channel(Channel::Facebook) & self.live();
            let rows: Vec<u32> = rows.iter().collect();
            let times = FbRows::COLUMNS.map(|field| self.stored_times(field, &rows));
            FbRows::build(rows, times, &self.data.frequencies)
        })
    }

    /// The stored times of `rows` in `field`, in row order: read where they lie in the
    /// data file while the column is not read (`files::packed`), else from the column.
    fn stored_times(&self, field: TimeField, rows: &[u32]) -> Vec<u32> {
        let column = &self.data.times[field.index()];
        let all = self.data.rows;
        let in_place = column.read_in_place(|part| packed::times_of(part, all, rows).map(Some));
        match in_place {
            Some(Some(values)) => values,
            _ => rows.iter().map(|&row| column.stored_at(row)).collect(),
        }
    }

    /// A copy holding only live rows, renumbered densely in row order. Accounts nobody
    /// is on any more are dropped; tags (and their creation times) are kept.
    pub fn compacted(&self) -> Store {
        Store::from_data(compact::compacted(&self.data))
    }
}

/// Whether `value` folds to `key` (itself folded), without allocating for ASCII values,
/// nor for others when `key` is ASCII and a character of `value` lower-cases to one that
/// is not (a CJK name against `alice chen`: one character read).
fn folds_to(value: &str, key: &str) -> bool {
    let trimmed = value.trim();
    if trimmed.is_ascii() {
        return trimmed.eq_ignore_ascii_case(key) && key.is_ascii();
    }
    let stays_wide = |c: char| !c.is_ascii() && !c.to_lowercase().all(|l| l.is_ascii());
    if key.is_ascii() && trimmed.chars().any(stays_wide) {
        return false;
    }
    fold(value) == key
}

/// [`folds_to`] of a value's stored bytes: against an ASCII key, one shorter refused at
/// once; ASCII compared as bytes (trimmed of the ASCII white space `trim` removes);
/// against an ASCII key, a value holding a character that is
/// neither white space nor lower-cases to ASCII refused by its first byte
/// ([`never_folds_to_ascii`]); other bytes must be UTF-8 (a snapshot holds nothing else).
fn bytes_fold_to(value: &[u8], key: &str) -> Result<bool, SnapshotError> {
    // What may fold to an ASCII key (ASCII, the Kelvin sign, white space trimmed away)
    // never folds to more bytes than it holds.
    if value.len() < key.len() && key.is_ascii() {
        return Ok(false);
    }
    if value.is_ascii() {
        let text = |b: &u8| !matches!(b, b'\t'..=b'\r' | b' ');
        let start = value.iter().position(text).unwrap_or(value.len());
        let end = value.iter().rposition(text).map_or(start, |last| last + 1);
        return Ok(key.is_ascii() && value[start..end].eq_ignore_ascii_case(key.as_bytes()));
    }
    if key.is_ascii() && value.iter().any(|&b| never_folds_to_ascii(b)) {
        return Ok(false);
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| SnapshotError::Corrupt("invalid UTF-8 text".into()))?;
    Ok(folds_to(value, key))
}

/// Whether `lead` starts only characters that are not white space and do not lower-case
/// to ASCII (every character but U+0080..U+00BF, U+1000..U+3FFF), so that a value holding
/// one never folds to an ASCII key: CJK (U+4E00..), Hangul, most of Latin-1 and Greek.
/// The white space `trim` removes and the Kelvin sign (which lower-cases to `k`) start
/// with 0xC2, 0xE1, 0xE2 or 0xE3.
fn never_folds_to_ascii(lead: u8) -> bool {
    matches!(lead, 0xC3..=0xE0 | 0xE4..=0xFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character whose first byte [`never_folds_to_ascii`] names is neither white
    /// space nor lower-cases to ASCII; and one that lower-cases to ASCII does not grow.
    #[test]
    fn the_refused_lead_bytes_start_no_character_that_folds_to_ascii() {
        let mut utf8 = [0u8; 4];
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let lower: String = c.to_lowercase().collect();
            if lower.is_ascii() {
                assert!(lower.len() <= c.len_utf8(), "{c:?}");
            }
            if never_folds_to_ascii(c.encode_utf8(&mut utf8).as_bytes()[0]) {
                let lower_ascii = c.to_lowercase().all(|l| l.is_ascii());
                assert!(!c.is_whitespace() && !lower_ascii, "{c:?}");
            }
        }
    }

    /// A stored value's bytes fold to a key exactly when the value does, whatever white
    /// space surrounds it and whatever its characters lower-case to.
    #[test]
    fn stored_bytes_fold_as_their_text_does() {
        let values = [
            "Alice Chen",
            "  ALICE chen\t",
            "\u{b}alice chen\r\n",
            "\u{3000}Alice Chen\u{85}",
            "\u{212a}elvin",
            "kelvin",
            "İstanbul",
            "i\u{307}stanbul",
            "陳美玲",
            " 陳美玲 ",
            "さくら",
            "\u{a0}Kelvin\u{2003}",
            "\u{212a}ELVIN",
            "Zoë",
            "ΟΔΟΣ",
            "alice  chen",
            "alice che",
            "Blice Chen",
            "aLICE cHEN ",
            "\u{212a}\u{212a}\u{212a}k",
            "kkkk",
            "",
            "   ",
        ];
        for value in values {
            for key in values {
                let key = fold(key);
                let by_bytes = bytes_fold_to(value.as_bytes(), &key).expect("UTF-8");
                assert_eq!(by_bytes, fold(value) == key, "{value:?} vs {key:?}");
                assert_eq!(folds_to(value, &key), fold(value) == key, "{value:?}");
            }
        }
        assert!(bytes_fold_to(b"\xc2 ", "a").is_err(), "not UTF-8");
        assert!(bytes_fold_to(b"\xff\xfe", "陳").is_err(), "not UTF-8");
    }
}
