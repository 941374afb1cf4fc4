//! `RowReader`: reads the fields of many rows fast, for export. What the store keeps per
//! value (a bitmap per tag, flag and opt-out) is turned around once, column by column,
//! into what a row needs (its tag list, its flag bits), so that each row then costs a few
//! array lookups instead of a bitmap probe per tag and flag.

use std::borrow::Cow;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::model::{
    Channel, FbFrequency, Flag, OptOutKind, OptOuts, Seconds, TEXT_FIELDS, TimeField,
};
use crate::store::columns::text::TextCursor;
use crate::store::{Store, split_account_key};

/// Bit of a row's flag word where opt-outs start (after the five flags).
const OPT_OUT_BIT: usize = 5;
/// Bit where frequencies start (after the three opt-out kinds).
const FREQUENCY_BIT: usize = 8;

/// Per-row reads over a set of rows of a store.
pub struct RowReader<'s> {
    store: &'s Store,
    /// (channel, account id) per account code.
    accounts: Vec<(Channel, &'s str)>,
    /// Flags, opt-outs and frequency of each row, one bit each.
    bits: Vec<u16>,
    /// The tag codes of row r are `tag_codes[tag_start[r]..tag_start[r + 1]]`, by name.
    tag_start: Vec<u32>,
    tag_codes: Vec<u32>,
}

impl<'s> RowReader<'s> {
    /// A reader of the rows among `rows` (other rows read as having no tags or flags).
    pub fn new(store: &'s Store, rows: &RoaringBitmap) -> RowReader<'s> {
        let accounts = (store.data.accounts.entries().iter())
            .map(|e| split_account_key(&e.name))
            .collect();
        let (tag_start, tag_codes) = tag_lists(store, rows);
        RowReader {
            store,
            accounts,
            bits: flag_bits(store, rows),
            tag_start,
            tag_codes,
        }
    }

    /// Channel and account id of `row` (web and empty past the last row).
    pub fn account(&self, row: u32) -> (Channel, &'s str) {
        let code = self.store.data.row_account.get(row as usize);
        (code.and_then(|&c| self.accounts.get(c as usize)))
            .copied()
            .unwrap_or((Channel::Web, ""))
    }

    pub fn external_id(&self, row: u32) -> &'s str {
        self.store.data.external_ids.get(row)
    }

    pub fn name(&self, row: u32) -> &'s str {
        self.store.data.names.get(row)
    }

    pub fn avatar_url(&self, row: u32) -> &'s str {
        self.store.data.avatars.get(row)
    }

    /// The tags of `row`, sorted by name.
    pub fn tags(&self, row: u32) -> impl Iterator<Item = &'s str> + '_ {
        let start = self.tag_start.get(row as usize).copied().unwrap_or(0) as usize;
        let end = self.tag_start.get(row as usize + 1).copied().unwrap_or(0) as usize;
        let tags = self.store.data.tags.entries();
        (self.tag_codes.get(start..end).unwrap_or_default().iter())
            .map(move |&code| &*tags[code as usize].name)
    }

    pub fn flag(&self, row: u32, flag: Flag) -> bool {
        self.bit(row, flag.index())
    }

    pub fn opt_outs(&self, row: u32) -> OptOuts {
        (OptOutKind::ALL.iter().copied())
            .filter(|k| self.bit(row, OPT_OUT_BIT + k.index()))
            .collect()
    }

    pub fn frequency(&self, row: u32) -> Option<FbFrequency> {
        (FbFrequency::ALL.iter().copied()).find(|f| self.bit(row, FREQUENCY_BIT + f.index()))
    }

    pub fn time(&self, row: u32, field: TimeField) -> Option<Seconds> {
        self.store.data.times[field.index()].get(row)
    }

    /// Readers of the text fields (by [`crate::model::TextField::index`]) for rows in
    /// ascending order.
    pub fn text_cursors(&self) -> [TextCursor<'s>; TEXT_FIELDS] {
        let texts = &self.store.data.texts;
        std::array::from_fn(|i| texts[i].cursor())
    }

    fn bit(&self, row: u32, bit: usize) -> bool {
        self.bits
            .get(row as usize)
            .is_some_and(|b| b & (1 << bit) != 0)
    }
}

/// Rows per parallel task when turning bitmaps into per-row data.
const RANGE_ROWS: u32 = 1 << 20;

/// The ranges of rows `0..rows` that tasks work on.
fn row_ranges(rows: u32) -> Vec<std::ops::Range<u32>> {
    (0..rows.div_ceil(RANGE_ROWS))
        .map(|i| i * RANGE_ROWS..((i + 1) * RANGE_ROWS).min(rows))
        .collect()
}

/// The rows of `bitmap` among `rows`: `bitmap` itself when `rows` holds every row it
/// could hold (indexes hold live rows only, so when `rows` is every live row).
fn among<'a>(bitmap: &'a RoaringBitmap, rows: &RoaringBitmap) -> Cow<'a, RoaringBitmap> {
    if rows.len() == u64::from(rows.max().map_or(0, |m| m + 1)) && !rows.is_empty() {
        let all_rows = bitmap.max().is_none_or(|m| m < rows.len() as u32);
        if all_rows {
            return Cow::Borrowed(bitmap);
        }
    }
    Cow::Owned(bitmap & rows)
}

/// One word per row with a bit per flag, opt-out kind and frequency.
fn flag_bits(store: &Store, rows: &RoaringBitmap) -> Vec<u16> {
    let bitmaps: Vec<(usize, Cow<RoaringBitmap>)> = (store.data.flags.iter().enumerate())
        .chain(
            store
                .data
                .opt_outs
                .iter()
                .enumerate()
                .map(|(i, b)| (OPT_OUT_BIT + i, b)),
        )
        .chain(
            store
                .data
                .frequencies
                .iter()
                .enumerate()
                .map(|(i, b)| (FREQUENCY_BIT + i, b)),
        )
        .map(|(bit, bitmap)| (bit, among(bitmap, rows)))
        .collect();
    let mut bits = vec![0u16; store.row_count() as usize];
    bits.par_chunks_mut(RANGE_ROWS as usize)
        .zip(row_ranges(store.row_count()))
        .for_each(|(words, range)| {
            for (bit, bitmap) in &bitmaps {
                for row in bitmap.range(range.clone()) {
                    words[(row - range.start) as usize] |= 1 << bit;
                }
            }
        });
    bits
}

/// Each row's tag codes, ordered by tag name, as offsets into one array.
fn tag_lists(store: &Store, rows: &RoaringBitmap) -> (Vec<u32>, Vec<u32>) {
    let entries = store.data.tags.entries();
    let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
    by_name.sort_unstable_by(|&a, &b| entries[a as usize].name.cmp(&entries[b as usize].name));
    let carried: Vec<(u32, Cow<RoaringBitmap>)> = (by_name.into_par_iter())
        .map(|code| (code, among(&entries[code as usize].rows, rows)))
        .filter(|(_, rows)| !rows.is_empty())
        .collect();
    // Each range of rows counts, then lists, its own rows' tags.
    let parts: Vec<(Vec<u32>, Vec<u32>)> = row_ranges(store.row_count())
        .into_par_iter()
        .map(|range| range_tag_lists(&carried, range))
        .collect();
    let mut start = Vec::with_capacity(store.row_count() as usize + 1);
    let mut codes = Vec::with_capacity(parts.iter().map(|p| p.1.len()).sum());
    start.push(0);
    for (counts, part_codes) in parts {
        let base = codes.len() as u32;
        start.extend(counts.iter().skip(1).map(|&c| base + c));
        codes.extend(part_codes);
    }
    (start, codes)
}

/// The tag lists of the rows of `range`: offsets from the range's start (one more than
/// the rows), and the codes.
fn range_tag_lists(
    carried: &[(u32, Cow<RoaringBitmap>)],
    range: std::ops::Range<u32>,
) -> (Vec<u32>, Vec<u32>) {
    // Each tag's rows in the range, read from its bitmap once.
    let lists: Vec<Vec<u32>> = (carried.iter())
        .map(|(_, tagged)| tagged.range(range.clone()).collect())
        .collect();
    let mut start = vec![0u32; (range.end - range.start) as usize + 1];
    for &row in lists.iter().flatten() {
        start[(row - range.start) as usize + 1] += 1;
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut codes = vec![0u32; start.last().copied().unwrap_or(0) as usize];
    for ((code, _), rows) in carried.iter().zip(&lists) {
        for &row in rows {
            let slot = &mut next[(row - range.start) as usize];
            codes[*slot as usize] = *code;
            *slot += 1;
        }
    }
    (start, codes)
}
