//! Scans: a range's rows chunk by chunk, in parallel, from the chunk's bucket order where
//! that touches less, else by comparing its high halves 64 rows at a time (`simd`) and
//! reading the low halves of the rows of partly covered buckets only.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::column::{CHUNK, TimeColumn};
use super::range::StoredRange;
use super::simd;
use super::stored::join;
use crate::model::Seconds;
use crate::store::index::rowset::{from_words, union_in_order};

impl TimeColumn {
    /// Every row whose time t has `lo <= t < hi`.
    pub fn range(&self, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        let range = self.stored_range(lo, hi);
        if range.width == 0 {
            return RoaringBitmap::new();
        }
        self.scan(range, false)
    }

    /// Every row whose time is missing or outside `[lo, hi)` (the complement of
    /// [`TimeColumn::range`] over the column's rows, deleted rows included).
    pub fn outside(&self, lo: Seconds, hi: Seconds) -> RoaringBitmap {
        self.scan(self.stored_range(lo, hi), true)
    }

    fn scan(&self, range: StoredRange, invert: bool) -> RoaringBitmap {
        let parts: Vec<RoaringBitmap> = self
            .chunks()
            .map(|(i, high, low)| self.chunk_matches(i, high, low, range, invert))
            .collect();
        union_in_order(parts)
    }

    /// The column's 65,536-row chunks (index, high halves, low halves), in parallel.
    pub(super) fn chunks(&self) -> impl IndexedParallelIterator<Item = (usize, &[u16], &[u16])> {
        self.high
            .par_chunks(CHUNK)
            .zip(self.low.par_chunks(CHUNK))
            .enumerate()
            .map(|(i, (high, low))| (i, high, low))
    }

    /// How many rows have `lo <= t < hi`: per chunk, from its bucket order when one
    /// answers the range ([`TimeColumn::answering_order`]: a rank difference), else a
    /// scan as [`TimeColumn::range`], counting the words it computes instead of building
    /// bitmaps from them.
    pub fn count(&self, lo: Seconds, hi: Seconds) -> u64 {
        let range = self.stored_range(lo, hi);
        if range.width == 0 {
            return 0;
        }
        let ones = |(i, high, low): (usize, &[u16], &[u16])| match self
            .answering_order(i, high, low, range)
        {
            Some(rows) => rows.count() as u64,
            None => {
                let mut n = 0u64;
                for_each_word(high, low, range, |w| n += u64::from(w.count_ones()));
                n
            }
        };
        self.chunks().map(ones).sum()
    }

    /// The matching rows of chunk `i` (or, with `invert`, the others), as a bitmap built
    /// from a packed bitset, 64 rows to a word.
    pub(super) fn chunk_matches(
        &self,
        i: usize,
        high: &[u16],
        low: &[u16],
        range: StoredRange,
        invert: bool,
    ) -> RoaringBitmap {
        let mut words: Vec<u64> = Vec::with_capacity(high.len().div_ceil(64));
        let ordered = self.order_rows(i, (high, low), range.ordered(), range.sort);
        match ordered.and_then(|rows| rows.cheaper_than_scan(high.len())) {
            Some(rows) => {
                words.resize(high.len().div_ceil(64), 0);
                rows.set_bits(&mut words);
            }
            None => for_each_word(high, low, range, |w| words.push(w)),
        }
        if invert {
            let last = words.len().saturating_sub(1);
            let tail_mask = match high.len() % 64 {
                0 => u64::MAX,
                n => u64::MAX >> (64 - n),
            };
            for (w, word) in words.iter_mut().enumerate() {
                *word = !*word & if w == last { tail_mask } else { u64::MAX };
            }
        }
        from_words(i * CHUNK, words)
    }
}

/// Clears the bits of a chunk's `words` whose row lies outside `range` (with `invert`,
/// inside), comparing the 64 rows of each word holding a set bit: their high halves
/// decide every row but those of the (at most two) partly covered buckets, whose low
/// halves are read afterwards, all at once, so that their cache misses overlap.
pub(super) fn narrow_by_words(
    range: StoredRange,
    invert: bool,
    high: &[u16],
    low: &[u16],
    words: &mut [u64],
) {
    let flip = if invert { u64::MAX } else { 0 };
    let edges = range.edges();
    let mut edge_rows: Vec<usize> = Vec::new();
    let (full, tail) = high.as_chunks::<64>();
    let mut padded = [0u16; 64];
    padded[..tail.len()].copy_from_slice(tail);
    let codes = full.iter().chain((!tail.is_empty()).then_some(&padded));
    for (w, (word, h)) in words.iter_mut().zip(codes).enumerate() {
        if *word == 0 {
            continue;
        }
        // The padding past the column's end holds no time: neither inside nor edge.
        let real = match w == full.len() {
            true => u64::MAX >> (64 - tail.len()),
            false => u64::MAX,
        };
        let whole = simd::in_range(h, range.first, range.count) & real;
        let mut edge = edges.map_or(0, |(a, b)| simd::equal(h, a, b)) & *word & real;
        // Edge rows keep their bits until `settle_edges` reads their low halves.
        *word &= (whole ^ flip) | edge;
        while edge != 0 {
            edge_rows.push(w * 64 + edge.trailing_zeros() as usize);
            edge &= edge - 1;
        }
    }
    settle_edges(range, invert, high, low, &edge_rows, words);
}

/// Decides the rows of partly covered buckets (`edge_rows`, whose bits are still set):
/// their low halves read in one loop of independent loads, then each bit cleared where
/// the row is outside the range (with `invert`, inside).
pub(super) fn settle_edges(
    range: StoredRange,
    invert: bool,
    high: &[u16],
    low: &[u16],
    edge_rows: &[usize],
    words: &mut [u64],
) {
    let lows: Vec<u16> = edge_rows.iter().map(|&at| low[at]).collect();
    for (&at, &l) in edge_rows.iter().zip(&lows) {
        let inside = range.contains(join(high[at], l));
        words[at / 64] &= !(u64::from(inside == invert) << (at % 64));
    }
}

/// Hands `each` the chunk's words, 64 rows to a word, set where the row's time lies in
/// `range` (the last word padded with rows outside it).
#[inline(always)]
pub(super) fn for_each_word(high: &[u16], low: &[u16], range: StoredRange, each: impl FnMut(u64)) {
    let mut words = vec![u64::MAX; high.len().div_ceil(64)];
    if let Some(last) = words.last_mut().filter(|_| !high.len().is_multiple_of(64)) {
        *last = u64::MAX >> (64 - high.len() % 64);
    }
    narrow_by_words(range, false, high, low, &mut words);
    words.into_iter().for_each(each);
}
