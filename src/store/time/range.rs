//! `StoredRange`: a time range as the column compares it: stored values `lo..lo + width`,
//! the buckets it covers wholly, and at most two it covers in part (whose rows read their
//! low halves too).

use super::stored::{high, join, low};
use crate::model::Seconds;
use crate::model::time::{MAX_STORED, MIN_STORED};

/// A half-open range of stored values, `lo <= v < hi`, clamped to what the column holds,
/// and the buckets (high halves) it covers wholly or in part.
#[derive(Clone, Copy, Debug)]
pub(super) struct StoredRange {
    pub(super) lo: u32,
    pub(super) width: u32,
    /// Buckets wholly inside: `high - first < count` (wrapping).
    pub(super) first: u16,
    pub(super) count: u16,
    /// The bucket of `lo` when the range starts inside it: (bucket, least low half).
    pub(super) lo_edge: Option<(u16, u16)>,
    /// The bucket of `hi` when the range ends inside it: (bucket, low half it ends at).
    pub(super) hi_edge: Option<(u16, u16)>,
    /// The stored values `lo..end` to read from bucket orders, when they can answer the
    /// range at all, however wide
    /// ([`TimeColumn::stored_range`](super::column::TimeColumn::stored_range)).
    pub(super) orderable: Option<(u32, u32)>,
    /// Whether a sample says the range is narrow enough for the orders to answer it
    /// outside a fused AND ([`StoredRange::ordered`]).
    pub(super) narrow: bool,
    /// Whether the query may sort a chunk's bucket order that is not built yet: not for
    /// a column's first few queries (a one-shot command scans instead, `TimeColumn::
    /// sorts`); a built order answers either way.
    pub(super) sort: bool,
}

impl StoredRange {
    pub(super) fn new(lo: Seconds, hi: Seconds, top: bool) -> StoredRange {
        let clamp = |t: Seconds| t.clamp(MIN_STORED, MAX_STORED + 1) as u32;
        let (lo, end) = (clamp(lo), clamp(hi));
        let width = end.saturating_sub(lo);
        let mut range = StoredRange {
            lo,
            width,
            first: 0,
            count: 0,
            lo_edge: None,
            hi_edge: None,
            orderable: None,
            narrow: false,
            sort: false,
        };
        if width == 0 {
            return range;
        }
        let (first, mut last) = (high(lo), high(end - 1));
        let lo_partial = low(lo) != 0;
        let mut hi_partial = low(end) != 0;
        if last == u16::MAX && !top {
            (last, hi_partial) = (u16::MAX - 1, false);
        }
        let whole_first = i32::from(first) + i32::from(lo_partial);
        let whole_last = i32::from(last) - i32::from(hi_partial);
        if whole_first <= whole_last {
            range.first = whole_first as u16;
            range.count = (whole_last - whole_first + 1) as u16;
        }
        // Without a time in the last bucket it holds only timeless rows: never an edge.
        let real = |bucket: u16| top || bucket != u16::MAX;
        range.lo_edge = (lo_partial && real(first)).then_some((first, low(lo)));
        range.hi_edge = (hi_partial && real(last)).then_some((last, low(end)));
        range
    }

    /// The stored values to read from bucket orders, when they answer the range: they
    /// can, and it is narrow.
    pub(super) fn ordered(self) -> Option<(u32, u32)> {
        self.orderable.filter(|_| self.narrow)
    }

    #[inline]
    pub(super) fn contains(self, v: u32) -> bool {
        v.wrapping_sub(self.lo) < self.width
    }

    /// Whether a row in bucket `high` is inside, reading its low half only when the
    /// bucket is partly inside (rare, so the one branch is predictable).
    #[inline]
    pub(super) fn decide(self, high: u16, low: impl FnOnce() -> u16) -> bool {
        let whole = high.wrapping_sub(self.first) < self.count;
        let edge = |e: Option<(u16, u16)>| e.is_some_and(|(bucket, _)| bucket == high);
        let partial = edge(self.lo_edge) || edge(self.hi_edge);
        whole | (partial && self.contains(join(high, low())))
    }

    /// The bits of a chunk's `rows` (offsets, ascending) whose time lies in the range
    /// (or, with `invert`, does not), as words. The high halves are read first in a loop
    /// of independent loads, so that the cache misses overlap.
    pub(super) fn gather(
        self,
        high: &[u16],
        low: &[u16],
        rows: Vec<usize>,
        invert: bool,
    ) -> Vec<u64> {
        let codes: Vec<u16> = rows.iter().map(|&at| high[at]).collect();
        let mut words = vec![0u64; high.len().div_ceil(64)];
        for (&at, &c) in rows.iter().zip(&codes) {
            let hit = self.decide(c, || low[at]);
            words[at / 64] |= u64::from(hit != invert) << (at % 64);
        }
        words
    }

    /// The buckets partly inside, as a pair for [`simd::equal`](super::simd::equal), if any.
    pub(super) fn edges(self) -> Option<(u16, u16)> {
        match (self.lo_edge, self.hi_edge) {
            (Some((a, _)), Some((b, _))) => Some((a, b)),
            (Some((a, _)), None) | (None, Some((a, _))) => Some((a, a)),
            (None, None) => None,
        }
    }
}
