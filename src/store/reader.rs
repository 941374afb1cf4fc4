//! `RowReader`: reads the fields of many rows fast, for export. What the store keeps per
//! value (a bitmap per tag, flag and opt-out) is turned around once, column by column,
//! into what a row needs (its tag list, its flag bits), so that each row then costs a few
//! array lookups instead of a bitmap probe per tag and flag.

use roaring::RoaringBitmap;

use super::{Store, split_account_key};
use crate::model::{
    Channel, FbFrequency, Flag, OptOutKind, OptOuts, Seconds, TextField, TimeField,
};

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
        let accounts = (store.accounts.entries().iter())
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

    /// Channel and account id of `row`.
    pub fn account(&self, row: u32) -> (Channel, &'s str) {
        let code = self.store.row_account[row as usize];
        self.accounts[code as usize]
    }

    pub fn external_id(&self, row: u32) -> &'s str {
        self.store.external_ids.get(row)
    }

    pub fn name(&self, row: u32) -> &'s str {
        self.store.names.get(row)
    }

    pub fn avatar_url(&self, row: u32) -> &'s str {
        self.store.avatars.get(row)
    }

    /// The tags of `row`, sorted by name.
    pub fn tags(&self, row: u32) -> impl Iterator<Item = &'s str> + '_ {
        let start = self.tag_start[row as usize] as usize;
        let end = self.tag_start[row as usize + 1] as usize;
        let tags = self.store.tags.entries();
        self.tag_codes[start..end]
            .iter()
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
        self.store.times[field.index()].get(row)
    }

    pub fn text(&self, row: u32, field: TextField) -> Option<&'s str> {
        self.store.texts[field.index()].get(row)
    }

    fn bit(&self, row: u32, bit: usize) -> bool {
        self.bits[row as usize] & (1 << bit) != 0
    }
}

/// One word per row with a bit per flag, opt-out kind and frequency.
fn flag_bits(store: &Store, rows: &RoaringBitmap) -> Vec<u16> {
    let mut bits = vec![0u16; store.row_count() as usize];
    let bitmaps = (store.flags.iter().enumerate())
        .chain(
            store
                .opt_outs
                .iter()
                .enumerate()
                .map(|(i, b)| (OPT_OUT_BIT + i, b)),
        )
        .chain(
            store
                .frequencies
                .iter()
                .enumerate()
                .map(|(i, b)| (FREQUENCY_BIT + i, b)),
        );
    for (bit, bitmap) in bitmaps {
        for row in bitmap & rows {
            bits[row as usize] |= 1 << bit;
        }
    }
    bits
}

/// Each row's tag codes, ordered by tag name, as offsets into one array.
fn tag_lists(store: &Store, rows: &RoaringBitmap) -> (Vec<u32>, Vec<u32>) {
    let entries = store.tags.entries();
    let mut by_name: Vec<u32> = (0..entries.len() as u32).collect();
    by_name.sort_unstable_by(|&a, &b| entries[a as usize].name.cmp(&entries[b as usize].name));
    let carried: Vec<(u32, RoaringBitmap)> = (by_name.into_iter())
        .map(|code| (code, &entries[code as usize].rows & rows))
        .filter(|(_, rows)| !rows.is_empty())
        .collect();
    let mut start = vec![0u32; store.row_count() as usize + 1];
    for (_, tagged) in &carried {
        for row in tagged {
            start[row as usize + 1] += 1;
        }
    }
    for i in 1..start.len() {
        start[i] += start[i - 1];
    }
    let mut next = start.clone();
    let mut codes = vec![0u32; start.last().copied().unwrap_or(0) as usize];
    for (code, tagged) in &carried {
        for row in tagged {
            codes[next[row as usize] as usize] = *code;
            next[row as usize] += 1;
        }
    }
    (start, codes)
}
