//! Filters: the rows of a candidate set in a range, visiting only the chunks that hold a
//! candidate, each answered by reading its few candidates or by scanning it whole.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::column::{CHUNK, TimeColumn};
use super::cost::{GATHER_BELOW, GATHERED_ROW, ORDER_ROW, SCAN_ROW};
use super::range::StoredRange;
use crate::model::Seconds;
use crate::store::index::rowset::{from_words, union_in_order};

impl TimeColumn {
    /// The rows of `candidates` whose time t has `lo <= t < hi`, visiting only the
    /// 65,536-row chunks that hold a candidate: a chunk with few candidates reads their
    /// values one by one, a chunk with many scans it (as `range`) and keeps the
    /// candidates' bits. Chunks run in parallel.
    pub fn filter(&self, candidates: &RoaringBitmap, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.filter_with(candidates, self.stored_range(lo, hi), false)
    }

    /// The rows of `candidates` whose time is missing or outside `[lo, hi)`, as
    /// [`TimeColumn::filter`] visits them.
    pub fn filter_outside(
        &self,
        candidates: &RoaringBitmap,
        lo: Seconds,
        hi: Seconds,
    ) -> RoaringBitmap {
        self.filter_with(candidates, self.stored_range(lo, hi), true)
    }

    /// How many rows of `candidates` have `lo <= t < hi` (with `invert`: a time missing
    /// or outside), visiting them as [`TimeColumn::filter`] does but building no bitmap
    /// of the whole.
    pub fn filter_count(
        &self,
        candidates: &RoaringBitmap,
        lo: Seconds,
        hi: Seconds,
        invert: bool,
    ) -> u64 {
        let range = self.stored_range(lo, hi);
        let parts = self.filter_parts(candidates, range, invert);
        let counted: u64 = parts
            .map(|part| match part {
                Part::Kept(rows) => rows.len(),
                Part::Scanned(rows) => rows.intersection_len(candidates),
            })
            .sum();
        match invert {
            true => counted + candidates.range_cardinality(self.high.len() as u32..),
            false => counted,
        }
    }

    fn filter_with(
        &self,
        candidates: &RoaringBitmap,
        range: StoredRange,
        invert: bool,
    ) -> RoaringBitmap {
        let parts = self.filter_parts(candidates, range, invert);
        let mut out = union_in_order(
            parts
                .map(|part| match part {
                    Part::Kept(rows) => rows,
                    Part::Scanned(rows) => rows & candidates,
                })
                .collect(),
        );
        if invert {
            // Candidates past the column's end have no time: all outside.
            out |= candidates
                .range(self.high.len() as u32..)
                .collect::<RoaringBitmap>();
        }
        out
    }

    /// The chunks holding a candidate, each answered by gathering its few candidates or
    /// by scanning it whole (then still to be cut to the candidates), in parallel. Rows
    /// past the column's end are not visited.
    fn filter_parts<'a>(
        &'a self,
        candidates: &'a RoaringBitmap,
        range: StoredRange,
        invert: bool,
    ) -> impl ParallelIterator<Item = Part> + 'a {
        // An empty range keeps no candidate, or with `invert` every one.
        let everything = range.width == 0 && invert;
        let nothing = range.width == 0 && !invert;
        self.chunks().filter_map(move |(i, high, low)| {
            let base = (i * CHUNK) as u32;
            let rows = base..base.saturating_add(high.len() as u32);
            match candidates.range_cardinality(rows.clone()) {
                0 => None,
                _ if nothing => None,
                _ if everything => Some(Part::Kept(candidates.range(rows).collect())),
                n if n < GATHER_BELOW && self.gathering_pays(i, high, range, n) => {
                    let rows = candidates.range(rows).map(|row| (row - base) as usize);
                    let words = range.gather(high, low, rows.collect(), invert);
                    Some(Part::Kept(from_words(i * CHUNK, words)))
                }
                _ => Some(Part::Scanned(
                    self.chunk_matches(i, high, low, range, invert),
                )),
            }
        })
    }

    /// Whether reading `n` candidates one by one touches less than answering the whole
    /// chunk: by a scan, or by its bucket order if one is built (a chunk is not sorted
    /// only to find that its few candidates are cheaper to read).
    fn gathering_pays(&self, i: usize, high: &[u16], range: StoredRange, n: u64) -> bool {
        let scan = high.len() * SCAN_ROW;
        let whole = self
            .built_order(i, range.ordered())
            .map_or(scan, |rows| (rows.count() * ORDER_ROW).min(scan));
        (n as usize) * GATHERED_ROW < whole
    }
}

/// One chunk of a filter's answer.
enum Part {
    /// The candidates kept, found one by one.
    Kept(RoaringBitmap),
    /// Every row of the chunk that matches, still to be cut to the candidates.
    Scanned(RoaringBitmap),
}
