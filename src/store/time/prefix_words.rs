//! `PrefixWords`: one chunk's timed rows as cumulative bit words (a range-encoded
//! index), so that a range wider than bucket orders pay for reads two chunks of words
//! instead of the chunk's times.
//!
//! The chunk's `BucketOrder` is cut at bucket bounds into [`BINS`] bins of nearly
//! equal rows; for each bound the words hold every row whose time lies below it. The
//! rows of a range `[lo, end)` are then those below one bound and not below another,
//! with the rows between each bound and the range's own edge set or cleared from the
//! order (the nearer bound on each side is taken, so at most half a bin's rows a side).
//! At 10M rows a wide range then touches ~16 KiB and a few hundred entries a chunk where
//! a scan reads 128 KiB of high halves.
//!
//! Built from the order the first time a wide range asks (one pass over its entries),
//! kept inside it, so dropped with it when a row of the chunk changes: 8 KiB a bin, 4
//! bytes a row at 32 bins, as much as the order.

use super::cost::ORDER_ROW;
use crate::store::index::words::CHUNK_WORDS as WORDS;

/// Bins a chunk is cut into (fewer when it has fewer buckets).
const BINS: usize = 32;

/// What prefix words are cut from and corrected by: a chunk's timed rows grouped by
/// bucket, ascending. A [`BucketOrder`](super::bucket_order::BucketOrder) is one, and holds
/// its prefix words: so this file names only what it reads of it, and imports nothing
/// from the order's file.
pub(super) trait Grouped {
    /// How many rows the grouping holds.
    fn rows(&self) -> usize;
    /// Each bucket present, ascending, with its entries (`low << 16 | row offset`).
    fn buckets(&self) -> impl Iterator<Item = (u16, &[u32])>;
    /// Hands each row offset with a stored value v, `lo <= v < end`, to `each`.
    fn for_each(&self, lo: u32, end: u32, each: impl FnMut(u16));
}

/// The cumulative words: `words` holds, for each bound but the first, the rows whose
/// stored value lies below it (none lie below the first, the chunk's least bucket).
#[derive(Clone, Debug, Default)]
pub(super) struct PrefixWords {
    /// Stored values, each the start of a bucket, ascending.
    bounds: Vec<u32>,
    /// How many rows lie below each bound (`BucketOrder::rank`).
    ranks: Vec<usize>,
    words: Vec<u64>,
}

/// How to set a range's rows: those below bound `upper` and not below bound `lower`,
/// then the rows between each bound and the range's edge, at `cost` bytes touched.
#[derive(Clone, Copy, Debug)]
pub(super) struct Binned {
    lower: usize,
    upper: usize,
    pub cost: usize,
}

impl PrefixWords {
    /// The order's rows at bounds cutting it into at most [`BINS`] bins.
    pub fn build(order: &impl Grouped) -> PrefixWords {
        let step = order.rows().div_ceil(BINS).max(1);
        let mut below = vec![0u64; WORDS];
        let mut prefixes = PrefixWords::default();
        let (mut rank, mut end) = (0, 0);
        for (bucket, entries) in order.buckets() {
            let bin = prefixes.ranks.last().map(|&at| rank - at);
            if bin.is_none_or(|rows| rows >= step) {
                if bin.is_some() {
                    prefixes.words.extend_from_slice(&below);
                }
                prefixes.bounds.push(u32::from(bucket) << 16);
                prefixes.ranks.push(rank);
            }
            for &entry in entries {
                let at = usize::from(entry as u16);
                below[at / 64] |= 1 << (at % 64);
            }
            (rank, end) = (rank + entries.len(), u32::from(bucket) + 1);
        }
        if !prefixes.bounds.is_empty() {
            prefixes.words.extend_from_slice(&below);
            prefixes.bounds.push(end << 16);
            prefixes.ranks.push(rank);
        }
        prefixes
    }

    /// The cheapest way to set the rows of `[lo, end)`, if a pair of bounds helps: of
    /// the bounds either side of `lo` and either side of `end`, given how many rows lie
    /// below each (`BucketOrder::rank`).
    pub fn binned(
        &self,
        (lo, rank_lo): (u32, usize),
        (end, rank_end): (u32, usize),
    ) -> Option<Binned> {
        let near = |v: u32| {
            let above = self.bounds.partition_point(|&b| b < v);
            [
                above.checked_sub(1),
                Some(above).filter(|&k| k < self.bounds.len()),
            ]
        };
        let mut best: Option<Binned> = None;
        for lower in near(lo).into_iter().flatten() {
            for upper in near(end).into_iter().flatten() {
                let (a, b) = (self.bounds[lower], self.bounds[upper]);
                // The edges' sets and clears are exact only with the bounds this way.
                if lower >= upper || a > end || b < lo {
                    continue;
                }
                let edges =
                    rank_lo.abs_diff(self.ranks[lower]) + rank_end.abs_diff(self.ranks[upper]);
                let words = WORDS * 8 * (1 + usize::from(lower > 0));
                let cost = words + edges * ORDER_ROW;
                if best.is_none_or(|best| cost < best.cost) {
                    best = Some(Binned { lower, upper, cost });
                }
            }
        }
        best
    }

    /// Sets in `words` (zero on entry) the bits of the rows of `[lo, end)`, as
    /// `binned` says.
    #[inline]
    pub fn set(&self, order: &impl Grouped, binned: Binned, lo: u32, end: u32, words: &mut [u64]) {
        let below = |k: usize| &self.words[(k - 1) * WORDS..k * WORDS];
        let upper = below(binned.upper);
        match binned.lower {
            0 => words.iter_mut().zip(upper).for_each(|(w, &u)| *w = u),
            k => {
                let lower = below(k);
                for ((w, &u), &l) in words.iter_mut().zip(upper).zip(lower) {
                    *w = u & !l;
                }
            }
        }
        let (a, b) = (self.bounds[binned.lower], self.bounds[binned.upper]);
        let mut flip = |from: u32, to: u32, on: bool| {
            order.for_each(from, to, |at| {
                let (word, bit) = (usize::from(at) / 64, 1u64 << (at % 64));
                match on {
                    true => words[word] |= bit,
                    false => words[word] &= !bit,
                }
            });
        };
        flip(a.min(lo), a.max(lo), lo < a);
        flip(b.min(end), b.max(end), end > b);
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8 + self.bounds.capacity() * 4 + self.ranks.capacity() * 8
    }
}

#[cfg(test)]
impl PrefixWords {
    /// How many bounds cut the rows (bins + 1).
    pub fn bounds(&self) -> usize {
        self.bounds.len()
    }
}
