//! Compaction: a copy of the store holding only live rows, renumbered densely in row
//! order — what a checkpoint writes after deletions, so that erased contacts leave
//! nothing behind and row ids stay dense.
//!
//! It works column by column, never contact by contact: every index bitmap holds live
//! rows only, so a row's new id is its id minus the number of dead rows before it, and
//! one ordered pass per bitmap renumbers it (bitmaps on every core); columns are gathered
//! over the live rows. Tags keep their creation times, even those nobody carries.

use std::sync::OnceLock;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::store::columns::gather;
use crate::store::columns::registry::{Entry, Registry};
use crate::store::columns::strings::StrColumn;
use crate::store::columns::text::TextColumn;
use crate::store::files::lazy::Lazy;
use crate::store::{Data, split_account_key};

/// Renumbers rows by skipping the dead ones.
struct Renumber {
    /// Dead rows, ascending.
    dead: Vec<u32>,
}

impl Renumber {
    /// The bitmap's rows (all live), renumbered.
    fn bitmap(&self, rows: &RoaringBitmap) -> RoaringBitmap {
        let mut before = 0usize;
        let renumbered = rows.iter().map(|row| {
            while before < self.dead.len() && self.dead[before] < row {
                before += 1;
            }
            row - before as u32
        });
        RoaringBitmap::from_sorted_iter(renumbered).unwrap_or_default()
    }

    fn registry(&self, registry: &Registry, keep_empty: bool) -> (Registry, Vec<u32>) {
        let entries = registry.entries();
        let rows: Vec<RoaringBitmap> = entries.par_iter().map(|e| self.bitmap(&e.rows)).collect();
        let mut codes = Vec::with_capacity(entries.len());
        let mut kept = Vec::with_capacity(entries.len());
        for (entry, rows) in entries.iter().zip(rows) {
            codes.push(kept.len() as u32);
            if keep_empty || !rows.is_empty() {
                kept.push(Entry {
                    name: entry.name.clone(),
                    created_at: entry.created_at,
                    rows: Lazy::new(rows),
                });
            }
        }
        (Registry::from_entries(kept), codes)
    }
}

/// A copy of `data` holding only live rows, renumbered densely in row order. Accounts
/// nobody is on any more are dropped; tags (and their creation times) are kept.
pub(in crate::store) fn compacted(data: &Data) -> Data {
    let mut dead = RoaringBitmap::new();
    dead.insert_range(0..data.rows);
    dead -= &data.live;
    let renumber = Renumber {
        dead: dead.iter().collect(),
    };
    let runs = live_runs(&data.live);
    let bitmaps = |maps: &[&RoaringBitmap]| -> Vec<RoaringBitmap> {
        maps.par_iter().map(|b| renumber.bitmap(b)).collect()
    };
    let mut out = Data::default();
    let ((accounts, codes), (tags, _)) = rayon::join(
        || renumber.registry(&data.accounts, false),
        || renumber.registry(&data.tags, true),
    );
    rayon::scope(|s| {
        s.spawn(|_| out.external_ids = Lazy::new(data.external_ids.gathered(&runs)));
        s.spawn(|_| out.names = Lazy::new(data.names.gathered(&runs)));
        s.spawn(|_| out.avatars = Lazy::new(data.avatars.gathered(&runs)));
        s.spawn(|_| {
            let mut row_account = gather(&data.row_account, &runs, 0);
            row_account.iter_mut().for_each(|c| *c = codes[*c as usize]);
            out.row_account = Lazy::new(row_account);
        });
        s.spawn(|_| {
            for (i, column) in data.times.iter().enumerate() {
                out.times[i] = Lazy::new(column.gathered(&runs));
            }
        });
        s.spawn(|_| {
            for (i, column) in data.texts.iter().enumerate() {
                let present = renumber.bitmap(column.present());
                let mut values = StrColumn::default();
                column.iter().for_each(|(_, value)| values.push(value));
                out.texts[i] = Lazy::new(TextColumn::from_values(column.rule(), present, values));
            }
        });
        s.spawn(|_| {
            out.tagged = Lazy::new(renumber.bitmap(&data.tagged));
            out.flags = to_array(bitmaps(&data.flags.each_ref()));
            out.opt_outs = to_array(bitmaps(&data.opt_outs.each_ref()));
            out.frequencies = to_array(bitmaps(&data.frequencies.each_ref()));
            let present = data.time_present.each_ref().map(|b| &**b);
            out.time_present = to_array(bitmaps(&present)).map(Lazy::new);
        });
    });
    out.live = (0..data.live.len() as u32).collect();
    out.rows = data.live.len() as u32;
    for entry in accounts.entries() {
        let (channel, _) = split_account_key(&entry.name);
        out.channels[channel.index()] |= &*entry.rows;
    }
    out.accounts = accounts;
    out.tags = tags;
    out.identity = OnceLock::new();
    out
}

/// The live rows as runs of consecutive rows.
fn live_runs(live: &RoaringBitmap) -> Vec<std::ops::Range<u32>> {
    let mut runs = Vec::new();
    let mut rows = live.iter();
    while let Some(run) = rows.next_range() {
        runs.push(*run.start()..*run.end() + 1);
    }
    runs
}

fn to_array<const N: usize>(maps: Vec<RoaringBitmap>) -> [RoaringBitmap; N] {
    let mut out: [RoaringBitmap; N] = std::array::from_fn(|_| RoaringBitmap::new());
    for (slot, map) in out.iter_mut().zip(maps) {
        *slot = map;
    }
    out
}
