//! `TimeColumn`: one optional `u32` instant per row, kept as two `u16` halves in two
//! arrays, so that a range scan reads 2 bytes a row, not 4.
//!
//! A stored value `v` is `high << 16 | low`; `high` names a bucket of 65,536 seconds
//! (18.2 hours). A range `[lo, hi)` covers some buckets wholly and at most two (the
//! buckets of `lo` and of `hi`) in part: a scan compares the `high` halves against the
//! whole buckets (vectorized, 64 rows to a word), and only the words holding a row of a
//! partial bucket read their `low` halves (vectorized too). On 10M rows that is a 20 MB
//! scan plus the words of two 18-hour windows, where a `u32` column was a 40 MB scan.
//! Scans build roaring containers 65,536 rows at a time, in parallel.
//!
//! A narrow range (the last 30 days of two years of times) reads less from each chunk's
//! [`BucketOrder`], its rows grouped by bucket, built when first read and dropped when a
//! row of the chunk changes. A range a sample says holds at most 2 in 5 rows
//! (`stored_range`) is counted from the orders ([`TimeColumn::count`]: rank differences;
//! a wider one too, in the chunks a query has sorted already),
//! and built from them in each chunk where setting its rows' bits touches fewer bytes
//! than a scan (`OrderedRows::cheaper_than_scan`); a wider one sorts chunks only for a
//! fused AND's [`ChunkFilter`], which then reads the order's prefix words (a
//! range-encoded index of 32 bins a chunk: [`PrefixWords`]) where they touch less than
//! a scan. Why not a bit-sliced index: it reads ~3.5 bytes a row for 28 bits
//! (limits.md). When a query already has a small candidate set the executor calls
//! [`TimeColumn::filter`] (or [`TimeColumn::filter_count`]), which visits only those
//! rows' chunks.

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;
use roaring::RoaringBitmap;

mod bucket_order;
mod prefix_words;

use crate::model::Seconds;
use crate::model::time::{MAX_STORED, MIN_STORED};
use crate::store::index::rowset::{from_words, union_in_order};
use bucket_order::{BucketOrder, ORDERED_END};
use prefix_words::{Binned, LEAST_COST};

/// The stored value meaning "no time".
pub(super) const NONE: u32 = u32::MAX;
/// Rows per roaring container.
const CHUNK: usize = 1 << 16;
/// A chunk with fewer candidates than this reads their values one by one; with more, it
/// scans the chunk: scattered reads miss the cache (~17 ns each, measured on 10M rows),
/// while 64 Ki values in order stream at memory bandwidth.
const GATHER_BELOW: u64 = 1024;
/// What answering a chunk touches, in bytes: a scan reads each row's high half; a
/// bucket order reads each row it holds in the range and sets its bit, scattered: ~8
/// bytes' worth (on 10M rows a range of a fifth of the rows takes as long either way);
/// a candidate gathered reads a cache line.
const SCAN_ROW: usize = 2;
pub(super) const ORDER_ROW: usize = 8;
const GATHERED_ROW: usize = 64;
/// What a bucket order touches in every chunk it answers, whatever the range: the binary
/// searches, and the entries of two partly covered buckets (~100 rows each, 4 bytes).
const ORDER_CHUNK: usize = 1024;
/// Rows sampled to estimate a range for the cost model, in runs of consecutive rows
/// (4,096 lone rows cost ~70 µs a range at 10M, in cache misses).
const ESTIMATE_SAMPLES: usize = 4096;
const ESTIMATE_RUN: usize = 4;
/// Rows sampled to tell whether a range is narrow enough for bucket orders.
const ORDER_SAMPLES: usize = 512;

/// One optional instant per row, as high and low halves.
#[derive(Clone, Debug, Default)]
pub struct TimeColumn {
    high: Vec<u16>,
    low: Vec<u16>,
    /// Whether a row may hold a time in the last bucket (2106-02-07), which also holds
    /// [`NONE`]: without one, a range open at the top leaves that bucket out instead of
    /// comparing every timeless row's full value.
    top: bool,
    /// Each chunk's rows grouped by bucket, built when first read, forgotten when one of
    /// the chunk's rows changes ([`BucketOrder`]).
    orders: Vec<OnceLock<BucketOrder>>,
}

/// A sampled guess at a time range: its rows, the bytes finding them reads, and whether
/// finding them on its own reads the whole column (its bucket orders do not answer it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeEstimate {
    pub rows: u64,
    pub read_bytes: u64,
    pub scans: bool,
}

/// A half-open range of stored values, `lo <= v < hi`, clamped to what the column holds,
/// and the buckets (high halves) it covers wholly or in part.
#[derive(Clone, Copy, Debug)]
struct StoredRange {
    lo: u32,
    width: u32,
    /// Buckets wholly inside: `high - first < count` (wrapping).
    first: u16,
    count: u16,
    /// The bucket of `lo` when the range starts inside it: (bucket, least low half).
    lo_edge: Option<(u16, u16)>,
    /// The bucket of `hi` when the range ends inside it: (bucket, low half it ends at).
    hi_edge: Option<(u16, u16)>,
    /// The stored values `lo..end` to read from bucket orders, when they can answer the
    /// range at all, however wide ([`TimeColumn::stored_range`]).
    orderable: Option<(u32, u32)>,
    /// Whether a sample says the range is narrow enough for the orders to answer it
    /// outside a fused AND ([`StoredRange::ordered`]).
    narrow: bool,
}

impl StoredRange {
    fn new(lo: Seconds, hi: Seconds, top: bool) -> StoredRange {
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
    fn ordered(self) -> Option<(u32, u32)> {
        self.orderable.filter(|_| self.narrow)
    }

    #[inline]
    fn contains(self, v: u32) -> bool {
        v.wrapping_sub(self.lo) < self.width
    }

    /// Whether a row in bucket `high` is inside, reading its low half only when the
    /// bucket is partly inside (rare, so the one branch is predictable).
    #[inline]
    fn decide(self, high: u16, low: impl FnOnce() -> u16) -> bool {
        let whole = high.wrapping_sub(self.first) < self.count;
        let edge = |e: Option<(u16, u16)>| e.is_some_and(|(bucket, _)| bucket == high);
        let partial = edge(self.lo_edge) || edge(self.hi_edge);
        whole | (partial && self.contains(join(high, low())))
    }

    /// The bits of a chunk's `rows` (offsets, ascending) whose time lies in the range
    /// (or, with `invert`, does not), as words. The high halves are read first in a loop
    /// of independent loads, so that the cache misses overlap.
    fn gather(self, high: &[u16], low: &[u16], rows: Vec<usize>, invert: bool) -> Vec<u64> {
        let codes: Vec<u16> = rows.iter().map(|&at| high[at]).collect();
        let mut words = vec![0u64; high.len().div_ceil(64)];
        for (&at, &c) in rows.iter().zip(&codes) {
            let hit = self.decide(c, || low[at]);
            words[at / 64] |= u64::from(hit != invert) << (at % 64);
        }
        words
    }

    /// The buckets partly inside, as a pair for [`simd::equal`], if any.
    fn edges(self) -> Option<(u16, u16)> {
        match (self.lo_edge, self.hi_edge) {
            (Some((a, _)), Some((b, _))) => Some((a, b)),
            (Some((a, _)), None) | (None, Some((a, _))) => Some((a, a)),
            (None, None) => None,
        }
    }
}

impl TimeColumn {
    /// The time of `row`.
    pub fn get(&self, row: u32) -> Option<Seconds> {
        from_stored(self.stored_at(row))
    }

    /// The stored value of `row` ([`NONE`] past the end).
    pub(super) fn stored_at(&self, row: u32) -> u32 {
        let row = row as usize;
        match (self.high.get(row), self.low.get(row)) {
            (Some(&h), Some(&l)) => join(h, l),
            _ => NONE,
        }
    }

    /// Sets the time of `row`. Times outside 1970..2106 must be refused before this.
    pub fn set(&mut self, row: u32, value: Option<Seconds>) {
        let row = row as usize;
        if self.high.len() <= row {
            self.high.resize(row + 1, high(NONE));
            self.low.resize(row + 1, low(NONE));
        }
        let v = stored(value);
        self.top |= in_top(v);
        self.high[row] = high(v);
        self.low[row] = low(v);
        // Rows added without a time leave a chunk's order as it was; the row set does not.
        self.orders
            .resize_with(self.high.len().div_ceil(CHUNK), OnceLock::new);
        self.orders[row / CHUNK] = OnceLock::new();
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        let _ = self.high.try_reserve(additional);
        let _ = self.low.try_reserve(additional);
    }

    /// Appends the stored values of new rows.
    pub fn append(&mut self, values: &[u32]) {
        self.top |= values.iter().any(|&v| in_top(v));
        self.orders.truncate(self.high.len() / CHUNK);
        self.high.extend(values.iter().map(|&v| high(v)));
        self.low.extend(values.iter().map(|&v| low(v)));
        self.orders
            .resize_with(self.high.len().div_ceil(CHUNK), OnceLock::new);
    }

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

    /// Every row whose time in one of `ranges`' columns lies in its range: one pass over
    /// the chunks, each chunk's words of every column OR-ed together, so that the union
    /// is built once rather than a bitmap a range and then their union.
    pub fn union_of(ranges: &[(&TimeColumn, Seconds, Seconds)]) -> RoaringBitmap {
        let parts = Self::union_words(ranges).map(|(i, words)| from_words(i * CHUNK, words));
        union_in_order(parts.collect())
    }

    /// The rows of `candidates` in any of `ranges`: where the candidates are dense
    /// enough that each range's filter would scan its chunks anyway, one pass as
    /// [`TimeColumn::union_of`], then cut to them; else each range filtered on its own.
    pub fn union_within(
        ranges: &[(&TimeColumn, Seconds, Seconds)],
        candidates: &RoaringBitmap,
    ) -> RoaringBitmap {
        let rows = ranges.iter().map(|(c, ..)| c.high.len()).max().unwrap_or(0) as u64;
        if candidates.len() * CHUNK as u64 >= GATHER_BELOW * rows {
            return Self::union_of(ranges) & candidates;
        }
        let mut out = RoaringBitmap::new();
        for &(column, lo, hi) in ranges {
            out |= column.filter(candidates, lo, hi);
        }
        out
    }

    /// How many rows [`TimeColumn::union_of`] gives, without building them.
    pub fn union_count(ranges: &[(&TimeColumn, Seconds, Seconds)]) -> u64 {
        let ones = |words: &[u64]| words.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
        Self::union_words(ranges)
            .map(|(_, words)| ones(&words))
            .sum()
    }

    /// Each chunk's words (chunk index, words), set where a row lies in any of `ranges`,
    /// in parallel. Rows past a column's end have no time in it.
    fn union_words<'a>(
        ranges: &'a [(&'a TimeColumn, Seconds, Seconds)],
    ) -> impl ParallelIterator<Item = (usize, Vec<u64>)> + 'a {
        let rows = ranges.iter().map(|(c, ..)| c.high.len()).max().unwrap_or(0);
        let stored = ranges
            .iter()
            .map(|&(c, lo, hi)| (c, c.stored_range(lo, hi)));
        let stored: Vec<(&TimeColumn, StoredRange)> = stored.filter(|(_, r)| r.width > 0).collect();
        (0..rows.div_ceil(CHUNK)).into_par_iter().map(move |i| {
            let span = i * CHUNK..((i + 1) * CHUNK).min(rows);
            let mut words = vec![0u64; span.len().div_ceil(64)];
            for &(column, range) in &stored {
                let end = span.end.min(column.high.len());
                let Some(high) = column.high.get(span.start..end) else {
                    continue;
                };
                let low = &column.low[span.start..end];
                let ordered = column.answering_order(i, high, low, range);
                match ordered.and_then(|rows| rows.cheaper_than_scan(high.len())) {
                    Some(rows) => rows.set_bits(&mut words),
                    None => {
                        let mut at = 0;
                        for_each_word(high, low, range, |w| {
                            words[at] |= w;
                            at += 1;
                        });
                    }
                }
            }
            (i, words)
        })
    }

    /// The column's 65,536-row chunks (index, high halves, low halves), in parallel.
    fn chunks(&self) -> impl IndexedParallelIterator<Item = (usize, &[u16], &[u16])> {
        self.high
            .par_chunks(CHUNK)
            .zip(self.low.par_chunks(CHUNK))
            .enumerate()
            .map(|(i, (high, low))| (i, high, low))
    }

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

    /// The range of stored values `lo <= v < hi`, and whether bucket orders answer it:
    /// they can (it does not reach the last bucket, which they leave out, or no row has
    /// a time there), and a sample of rows says it holds at most 2 in 5 of them. Wider,
    /// a scan wins in nearly every chunk, and sorting them would be wasted.
    fn stored_range(&self, lo: Seconds, hi: Seconds) -> StoredRange {
        let mut range = StoredRange::new(lo, hi, self.top);
        let end = range.lo.saturating_add(range.width);
        let end = if self.top { end } else { end.min(ORDERED_END) };
        let sample = self.sample(range, ORDER_SAMPLES, 1);
        range.narrow = sample.hits * 5 <= sample.taken * 2;
        range.orderable = (end <= ORDERED_END).then_some((range.lo, end));
        range
    }

    /// About `samples` rows, in evenly spaced runs of `run` consecutive rows (a run's
    /// high halves share cache lines, where lone rows read one each), and how many of
    /// them lie in `range`.
    fn sample(&self, range: StoredRange, samples: usize, run: usize) -> Sample {
        let rows = self.high.len();
        let stride = (rows / samples.div_ceil(run)).max(run);
        let (mut taken, mut hits) = (0, 0);
        for start in (0..rows).step_by(stride) {
            for r in start..(start + run).min(rows) {
                taken += 1;
                hits += usize::from(range.decide(self.high[r], || self.low[r]));
            }
        }
        Sample { rows, taken, hits }
    }

    /// Chunk `i`'s rows with stored values `lo..end` from its bucket order (sorted now if
    /// no query has read it since its rows last changed), when `values` are given.
    fn order_rows(
        &self,
        i: usize,
        high: &[u16],
        low: &[u16],
        values: Option<(u32, u32)>,
    ) -> Option<OrderedRows<'_>> {
        let (lo, end) = values?;
        let order = self.orders.get(i)?;
        let order = order.get_or_init(|| BucketOrder::build(high, low));
        Some(OrderedRows { order, lo, end })
    }

    /// Chunk `i`'s rows in `range` from its bucket order: sorted now if the range is
    /// narrow ([`StoredRange::ordered`]); a wider one reads the order only if a query
    /// has sorted it already (sorting a chunk costs more than scanning it).
    fn answering_order(
        &self,
        i: usize,
        high: &[u16],
        low: &[u16],
        range: StoredRange,
    ) -> Option<OrderedRows<'_>> {
        (self.order_rows(i, high, low, range.ordered()))
            .or_else(|| self.built_order(i, range.orderable))
    }

    /// Chunk `i`'s rows with stored values `lo..end` from its bucket order, if one is
    /// built and `values` are given.
    fn built_order(&self, i: usize, values: Option<(u32, u32)>) -> Option<OrderedRows<'_>> {
        let (lo, end) = values?;
        let order = self.orders.get(i)?.get()?;
        Some(OrderedRows { order, lo, end })
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

    /// The matching rows of chunk `i` (or, with `invert`, the others), as a bitmap built
    /// from a packed bitset, 64 rows to a word.
    fn chunk_matches(
        &self,
        i: usize,
        high: &[u16],
        low: &[u16],
        range: StoredRange,
        invert: bool,
    ) -> RoaringBitmap {
        let mut words: Vec<u64> = Vec::with_capacity(high.len().div_ceil(64));
        let ordered = self.order_rows(i, high, low, range.ordered());
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

    /// Estimates, from an evenly spaced sample, how many rows have `lo <= t < hi` and
    /// how many bytes finding them reads: a scan's, or fewer where bucket orders answer
    /// (as `OrderedRows::cheaper_than_scan` decides, for the column as a whole).
    pub fn estimate(&self, lo: Seconds, hi: Seconds) -> RangeEstimate {
        let range = self.stored_range(lo, hi);
        let sample = self.sample(range, ESTIMATE_SAMPLES, ESTIMATE_RUN);
        let rows = sample.rows_in_range();
        let scan = self.high.len() * SCAN_ROW;
        let read = match range.ordered() {
            Some(_) => (rows * ORDER_ROW + self.orders.len() * ORDER_CHUNK).min(scan),
            None => scan,
        };
        RangeEstimate {
            rows: rows as u64,
            read_bytes: read as u64,
            scans: read == scan,
        }
    }

    /// The stored values, in row order (for snapshots).
    pub fn stored_values(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.high.iter().zip(&self.low).map(|(&h, &l)| join(h, l))
    }

    /// The rows of `runs`, in order, as a new column (rows past the end have no time).
    pub fn gathered(&self, runs: &[Range<u32>]) -> TimeColumn {
        TimeColumn {
            high: crate::store::columns::gather(&self.high, runs, high(NONE)),
            low: crate::store::columns::gather(&self.low, runs, low(NONE)),
            top: self.top,
            orders: Vec::new(),
        }
        .with_orders()
    }

    /// Builds a column from stored values (from a snapshot).
    pub fn from_raw(values: &[u32]) -> TimeColumn {
        let mut high = crate::store::columns::memory::zeroed::<u16>(values.len());
        let mut low = crate::store::columns::memory::zeroed::<u16>(values.len());
        (high.par_iter_mut().zip(low.par_iter_mut()))
            .zip(values.par_iter())
            .for_each(|((h, l), &v)| (*h, *l) = (self::high(v), self::low(v)));
        let top = values.par_iter().any(|&v| in_top(v));
        let orders = Vec::new();
        TimeColumn {
            high,
            low,
            top,
            orders,
        }
        .with_orders()
    }

    /// The column with an order, not yet sorted, for each chunk.
    fn with_orders(mut self) -> TimeColumn {
        self.orders
            .resize_with(self.high.len().div_ceil(CHUNK), OnceLock::new);
        self
    }

    /// Bytes of memory held, bucket orders sorted so far included.
    pub fn heap_bytes(&self) -> usize {
        let orders = self.orders.iter().filter_map(OnceLock::get);
        (self.high.capacity() + self.low.capacity()) * 2
            + orders.map(BucketOrder::heap_bytes).sum::<usize>()
    }
}

/// One chunk of a filter's answer.
enum Part {
    /// The candidates kept, found one by one.
    Kept(RoaringBitmap),
    /// Every row of the chunk that matches, still to be cut to the candidates.
    Scanned(RoaringBitmap),
}

/// A time range ready to narrow bit words chunk by chunk (the executor's fused AND,
/// `exec::fused`): [`ChunkFilter::keep`] clears the bits of the rows outside it (with
/// `invert`, inside it; a row with no time is outside every range).
#[derive(Clone, Copy, Debug)]
pub struct ChunkFilter<'a> {
    column: &'a TimeColumn,
    range: StoredRange,
    invert: bool,
}

impl TimeColumn {
    /// `[lo, hi)` (with `invert`, its complement) as a [`ChunkFilter`].
    pub fn chunk_filter(&self, lo: Seconds, hi: Seconds, invert: bool) -> ChunkFilter<'_> {
        ChunkFilter {
            column: self,
            range: self.stored_range(lo, hi),
            invert,
        }
    }
}

impl ChunkFilter<'_> {
    /// Clears the bits of chunk `i`'s `words` (1,024 of them, fewer at the store's end)
    /// whose row the filter leaves out, touching as little as it can: each set bit's
    /// value, the chunk's bucket order (its rows listed, or its prefix words), or the
    /// words that hold a set bit, 64 rows at a time. A chunk is sorted only when its
    /// set bits are too many to read one by one.
    pub fn keep(&self, i: usize, words: &mut [u64]) {
        let column = self.column;
        let rows = column.high.len();
        let (base, end) = ((i * CHUNK).min(rows), (i * CHUNK + CHUNK).min(rows));
        let (high, low) = (&column.high[base..end], &column.low[base..end]);
        // Words past the column's end hold rows with no time.
        let held = high.len().div_ceil(64).min(words.len());
        if !self.invert {
            words[held..].fill(0);
        }
        let words = &mut words[..held];
        if let Some(last) = words.last_mut().filter(|_| !self.invert) {
            *last &= u64::MAX >> ((64 - high.len() % 64) % 64);
        }
        if self.range.width == 0 {
            if !self.invert {
                words.fill(0);
            }
            return;
        }
        let set: usize = words.iter().map(|w| w.count_ones() as usize).sum();
        let busy = words.iter().filter(|&&w| w != 0).count();
        let by_words = busy * 64 * SCAN_ROW;
        if set == 0 {
            return;
        }
        let gathered = set * GATHERED_ROW;
        // Rows so few that reading them beats any order are read without sorting one.
        let orderable = self
            .range
            .orderable
            .filter(|_| gathered >= by_words.min(LEAST_COST));
        let ordered = column
            .order_rows(i, high, low, orderable)
            .map(OrderedRows::cheapest);
        match ordered.filter(|&(_, cost)| cost < gathered.min(by_words)) {
            Some((answer, _)) => {
                let mut inside = vec![0u64; words.len()];
                answer.set_bits(&mut inside);
                let flip = if self.invert { u64::MAX } else { 0 };
                for (word, inside) in words.iter_mut().zip(inside) {
                    *word &= inside ^ flip;
                }
            }
            None if gathered < by_words => self.keep_each(high, low, words),
            None => narrow_by_words(self.range, self.invert, high, low, words),
        }
    }

    /// Reads the value of each set bit's row: their high halves first, in a loop of
    /// independent loads so that the cache misses overlap, then the bits cleared without
    /// a branch.
    fn keep_each(&self, high: &[u16], low: &[u16], words: &mut [u64]) {
        let mut rows = Vec::with_capacity(GATHER_BELOW as usize);
        for (w, &word) in words.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                rows.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        // Rows past the column's end have no time: outside, as `keep` left their bits.
        rows.retain(|&at| at < high.len());
        let codes: Vec<u16> = rows.iter().map(|&at| high[at]).collect();
        // The high halves decide every row but those of partly covered buckets, whose
        // low halves are read afterwards, all at once too.
        let range = self.range;
        let edges = range.edges();
        let mut edge_rows = Vec::new();
        for (&at, &code) in rows.iter().zip(&codes) {
            let whole = code.wrapping_sub(range.first) < range.count;
            let edge = edges.is_some_and(|(a, b)| code == a || code == b);
            let clear = !edge & (whole == self.invert);
            words[at / 64] &= !(u64::from(clear) << (at % 64));
            if edge {
                edge_rows.push(at);
            }
        }
        settle_edges(range, self.invert, high, low, &edge_rows, words);
    }
}

/// Clears the bits of a chunk's `words` whose row lies outside `range` (with `invert`,
/// inside), comparing the 64 rows of each word holding a set bit: their high halves
/// decide every row but those of the (at most two) partly covered buckets, whose low
/// halves are read afterwards, all at once, so that their cache misses overlap.
fn narrow_by_words(range: StoredRange, invert: bool, high: &[u16], low: &[u16], words: &mut [u64]) {
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
fn settle_edges(
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
fn for_each_word(high: &[u16], low: &[u16], range: StoredRange, each: impl FnMut(u64)) {
    let mut words = vec![u64::MAX; high.len().div_ceil(64)];
    if let Some(last) = words.last_mut().filter(|_| !high.len().is_multiple_of(64)) {
        *last = u64::MAX >> (64 - high.len() % 64);
    }
    narrow_by_words(range, false, high, low, &mut words);
    words.into_iter().for_each(each);
}

/// Rows sampled from a column of `rows`: `taken` in all, `hits` in a range.
struct Sample {
    rows: usize,
    taken: usize,
    hits: usize,
}

impl Sample {
    /// The column's rows in the range, as the sample has them.
    fn rows_in_range(&self) -> usize {
        (self.hits * self.rows).checked_div(self.taken).unwrap_or(0)
    }
}

/// A chunk's rows whose stored value v has `lo <= v < end`, read from its bucket order.
#[derive(Clone, Copy)]
struct OrderedRows<'a> {
    order: &'a BucketOrder,
    lo: u32,
    end: u32,
}

impl<'a> OrderedRows<'a> {
    fn count(self) -> usize {
        self.order.count(self.lo, self.end)
    }

    /// The rows, if setting their bits touches less than a scan of the chunk's `rows`.
    fn cheaper_than_scan(self, rows: usize) -> Option<Self> {
        (self.count() * ORDER_ROW <= rows * SCAN_ROW).then_some(self)
    }

    /// Sets the rows' bits in the chunk's words.
    fn set_bits(self, words: &mut [u64]) {
        let set = |at: u16| words[usize::from(at) / 64] |= 1 << (at % 64);
        self.order.for_each(self.lo, self.end, set);
    }

    /// The cheaper way to set the rows, listed or through the order's prefix words, and
    /// the bytes it touches. The prefix words are built (now, if not yet) only where
    /// listing the rows costs more than the least they touch.
    fn cheapest(self) -> (OrderAnswer<'a>, usize) {
        let ranked = |v: u32| (v, self.order.rank(v));
        let (lo, end) = (ranked(self.lo), ranked(self.end));
        let listed = end.1.saturating_sub(lo.1) * ORDER_ROW;
        let binned = (listed > LEAST_COST)
            .then(|| self.order.prefix_words().binned(lo, end))
            .flatten();
        match binned.filter(|binned| binned.cost < listed) {
            Some(binned) => (OrderAnswer::Binned(self, binned), binned.cost),
            None => (OrderAnswer::Listed(self), listed),
        }
    }
}

/// How a chunk's bucket order sets a range's rows ([`OrderedRows::cheapest`]).
enum OrderAnswer<'a> {
    Listed(OrderedRows<'a>),
    Binned(OrderedRows<'a>, Binned),
}

impl OrderAnswer<'_> {
    /// Sets the rows' bits in the chunk's words (zero on entry).
    fn set_bits(self, words: &mut [u64]) {
        match self {
            OrderAnswer::Listed(rows) => rows.set_bits(words),
            OrderAnswer::Binned(rows, binned) => {
                let prefixes = rows.order.prefix_words();
                prefixes.set(rows.order, binned, rows.lo, rows.end, words);
            }
        }
    }
}

#[inline]
fn high(v: u32) -> u16 {
    (v >> 16) as u16
}

#[inline]
fn low(v: u32) -> u16 {
    v as u16
}

/// Whether `v` is a time in the last bucket.
#[inline]
fn in_top(v: u32) -> bool {
    high(v) == u16::MAX && v != NONE
}

#[inline]
fn join(high: u16, low: u16) -> u32 {
    u32::from(high) << 16 | u32::from(low)
}

/// How a time is stored: seconds as `u32`, [`NONE`] for none. Times outside 1970..2106
/// must be refused before this.
pub(super) fn stored(value: Option<Seconds>) -> u32 {
    match value {
        Some(t) => t.clamp(MIN_STORED, MAX_STORED) as u32,
        None => NONE,
    }
}

/// The time a stored value means.
pub(super) fn from_stored(value: u32) -> Option<Seconds> {
    (value != NONE).then_some(Seconds::from(value))
}

/// 64 compares of `u16` halves to one bit each: AVX2 where the build enables it (the
/// project's `.cargo/config.toml` does), portable code elsewhere; the two agree (tested).
mod simd {
    /// Bit `i` set where `first <= codes[i] < first + count` (wrapping).
    #[inline]
    pub fn in_range(codes: &[u16; 64], first: u16, count: u16) -> u64 {
        if count == 0 {
            return 0;
        }
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        // SAFETY: this line is compiled only when the build enables AVX2 for every
        // function, so the CPU the binary was built for has it.
        return unsafe { avx2::in_range(codes, first, count - 1) };
        #[allow(unreachable_code)]
        portable::in_range(codes, first, count)
    }

    /// Bit `i` set where `codes[i]` is `a` or `b`.
    #[inline]
    pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
        #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
        // SAFETY: as in `in_range`.
        return unsafe { avx2::equal(codes, a, b) };
        #[allow(unreachable_code)]
        portable::equal(codes, a, b)
    }

    pub mod portable {
        pub fn in_range(codes: &[u16; 64], first: u16, count: u16) -> u64 {
            bits(codes, |c| c.wrapping_sub(first) < count)
        }

        pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
            bits(codes, |c| c == a || c == b)
        }

        /// The compares fill a byte per row, and each 8 bytes of 0/1 become 8 bits with
        /// one multiply.
        fn bits(codes: &[u16; 64], test: impl Fn(u16) -> bool) -> u64 {
            const GATHER: u64 = 0x0102_0408_1020_4080;
            let mut hits = [0u8; 64];
            for (hit, &c) in hits.iter_mut().zip(codes) {
                *hit = u8::from(test(c));
            }
            let (eights, _) = hits.as_chunks::<8>();
            let mut out = 0u64;
            for (i, eight) in eights.iter().enumerate() {
                out |= (u64::from_le_bytes(*eight).wrapping_mul(GATHER) >> 56) << (8 * i);
            }
            out
        }
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    mod avx2 {
        use std::arch::x86_64::*;

        /// `last = count - 1`: `c - first <= last` unsigned, as `min(x, last) == x`.
        #[inline]
        #[target_feature(enable = "avx2")]
        pub fn in_range(codes: &[u16; 64], first: u16, last: u16) -> u64 {
            let first = _mm256_set1_epi16(first as i16);
            let last = _mm256_set1_epi16(last as i16);
            bits(codes, |v| {
                let x = _mm256_sub_epi16(v, first);
                _mm256_cmpeq_epi16(_mm256_min_epu16(x, last), x)
            })
        }

        #[inline]
        #[target_feature(enable = "avx2")]
        pub fn equal(codes: &[u16; 64], a: u16, b: u16) -> u64 {
            let (a, b) = (_mm256_set1_epi16(a as i16), _mm256_set1_epi16(b as i16));
            bits(codes, |v| {
                _mm256_or_si256(_mm256_cmpeq_epi16(v, a), _mm256_cmpeq_epi16(v, b))
            })
        }

        /// Four vectors of 16 lanes, each lane all ones or zeros after `test`, to 64 bits:
        /// pairs of vectors saturate to bytes (in 128-bit lanes, put back in order).
        #[inline]
        #[target_feature(enable = "avx2")]
        fn bits(codes: &[u16; 64], test: impl Fn(__m256i) -> __m256i) -> u64 {
            let v: [__m256i; 4] = bytemuck::cast(*codes);
            let half = |a: __m256i, b: __m256i| {
                let bytes = _mm256_packs_epi16(test(a), test(b));
                let ordered = _mm256_permute4x64_epi64::<0b11_01_10_00>(bytes);
                u64::from(_mm256_movemask_epi8(ordered) as u32)
            };
            half(v[0], v[1]) | half(v[2], v[3]) << 32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(values: &[Option<Seconds>]) -> TimeColumn {
        let mut col = TimeColumn::default();
        for (row, v) in values.iter().enumerate() {
            col.set(row as u32, *v);
        }
        col
    }

    #[test]
    fn range_edges_are_half_open() {
        let col = column(&[Some(10), Some(20), None, Some(30), Some(0)]);
        assert_eq!(col.range(10, 30).iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(col.range(0, 11).iter().collect::<Vec<_>>(), [0, 4]);
        assert_eq!(
            col.range(i64::MIN, i64::MAX).iter().collect::<Vec<_>>(),
            [0, 1, 3, 4]
        );
        assert!(col.range(30, 30).is_empty());
        assert!(col.range(40, 10).is_empty());
        assert_eq!(col.outside(10, 30).iter().collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(
            col.outside(i64::MIN, i64::MAX).iter().collect::<Vec<_>>(),
            [2]
        );
        let candidates = RoaringBitmap::from_iter([1, 2, 3, 10]);
        assert_eq!(
            col.filter(&candidates, 20, 31).iter().collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(col.filter_count(&candidates, 20, 31, false), 2);
        // A candidate past the column's end has no time: outside every range.
        assert_eq!(
            col.filter_outside(&candidates, 20, 31)
                .iter()
                .collect::<Vec<_>>(),
            [2, 10]
        );
        assert_eq!(col.filter_count(&candidates, 20, 31, true), 2);
        assert_eq!(col.filter_count(&candidates, 30, 30, true), 4);
        assert_eq!(col.filter_count(&candidates, 30, 30, false), 0);
    }

    #[test]
    fn range_spans_many_chunks() {
        let mut col = TimeColumn::default();
        for row in 0..200_000u32 {
            col.set(row, Some(Seconds::from(row % 1000)));
        }
        let hits = col.range(100, 200);
        assert_eq!(hits.len(), 200 * 100);
        assert!(hits.iter().all(|r| (100..200).contains(&(r % 1000))));
        assert_eq!(col.get(199_999), Some(999));
        // Per chunk: candidates in every word, candidates in runs (both scanned), a few
        // (gathered), none.
        let candidates: RoaringBitmap = (0..65_536u32)
            .filter(|r| r % 7 == 0)
            .chain((65_536..131_072).filter(|r| (r / 640) % 3 == 0))
            .chain(131_072..131_100)
            .collect();
        for (lo, hi) in [(100, 200), (150, 151), (0, 1000), (999, 5000), (5, 5)] {
            let want = &col.range(lo, hi) & &candidates;
            assert_eq!(col.filter(&candidates, lo, hi), want, "{lo}..{hi}");
            assert_eq!(col.filter_count(&candidates, lo, hi, false), want.len());
            assert_eq!(col.count(lo, hi), col.range(lo, hi).len());
            let outside = &candidates - &want;
            assert_eq!(col.filter_count(&candidates, lo, hi, true), outside.len());
            assert_eq!(
                col.filter_outside(&candidates, lo, hi),
                outside,
                "{lo}..{hi}"
            );
        }
    }

    #[test]
    fn a_union_in_one_pass_equals_the_union_of_the_ranges() {
        // Columns of different lengths: rows past a column's end have no time in it.
        let (mut a, mut b) = (TimeColumn::default(), TimeColumn::default());
        for row in 0..150_000u32 {
            a.set(row, Some(Seconds::from(row % 1000)));
        }
        for row in 0..70_000u32 {
            b.set(row, (row % 3 != 0).then_some(Seconds::from(row % 777)));
        }
        for (lo, hi) in [
            (100, 200),
            (0, 1000),
            (150, 151),
            (5, 5),
            (i64::MIN, i64::MAX),
        ] {
            let want = a.range(lo, hi) | b.range(hi - 50, hi + 50);
            let ranges = [(&a, lo, hi), (&b, hi - 50, hi + 50)];
            assert_eq!(TimeColumn::union_of(&ranges), want, "{lo}..{hi}");
            assert_eq!(TimeColumn::union_count(&ranges), want.len(), "{lo}..{hi}");
            let shorter_first = [(&b, hi - 50, hi + 50), (&a, lo, hi)];
            assert_eq!(TimeColumn::union_of(&shorter_first), want);
        }
        assert!(TimeColumn::union_of(&[]).is_empty());
        // Within candidates: dense (one pass, then cut) and sparse (filtered one by one).
        let ranges = [(&a, 100, 200), (&b, 0, 50)];
        let union = a.range(100, 200) | b.range(0, 50);
        let dense: RoaringBitmap = (0..160_000u32).filter(|r| r % 3 == 0).collect();
        let sparse: RoaringBitmap = (0..160_000u32).filter(|r| r % 997 == 0).collect();
        for candidates in [dense, sparse] {
            let want = &union & &candidates;
            assert_eq!(TimeColumn::union_within(&ranges, &candidates), want);
        }
    }

    /// The rows of `candidates` (below `rows`, which may pass the column's end) that
    /// [`ChunkFilter::keep`] leaves, chunk by chunk over words.
    fn kept_by_chunks(
        col: &TimeColumn,
        candidates: &RoaringBitmap,
        rows: usize,
        (lo, hi): (Seconds, Seconds),
        invert: bool,
    ) -> RoaringBitmap {
        let filter = col.chunk_filter(lo, hi, invert);
        let mut kept = RoaringBitmap::new();
        for i in 0..rows.div_ceil(CHUNK) {
            let mut words = vec![0u64; (rows - i * CHUNK).min(CHUNK).div_ceil(64)];
            crate::store::index::words::set_chunk(candidates, i, &mut words);
            filter.keep(i, &mut words);
            kept |= from_words(i * CHUNK, words);
        }
        kept
    }

    /// Times near bucket edges (multiples of 65,536 s), the last bucket, and none.
    fn near_edges() -> impl proptest::strategy::Strategy<Value = Option<Seconds>> {
        use proptest::prelude::*;
        prop_oneof![
            (0i64..8, -2i64..3).prop_map(|(k, d)| Some((k * 65_536 + d).max(0))),
            (-2i64..3).prop_map(|d| Some((MAX_STORED - 65_536 + d).min(MAX_STORED))),
            Just(Some(MAX_STORED)),
            (0i64..600_000).prop_map(Some),
            Just(None),
        ]
    }

    fn bound() -> impl proptest::strategy::Strategy<Value = Seconds> {
        use proptest::prelude::*;
        prop_oneof![
            (0i64..9, -2i64..3).prop_map(|(k, d)| k * 65_536 + d),
            (-2i64..3).prop_map(|d| MAX_STORED - 65_536 + d),
            (-2i64..3).prop_map(|d| MAX_STORED + d),
            Just(Seconds::MIN),
            Just(Seconds::MAX),
            0i64..600_000,
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3000,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Scans, filters and negations agree with comparing each row's time, whatever the
        /// buckets a range covers wholly or in part.
        #[test]
        fn ranges_agree_with_row_by_row_checks(
            values in proptest::collection::vec(near_edges(), 1..300),
            lo in bound(),
            hi in bound(),
            pick in proptest::collection::vec(proptest::bool::ANY, 300),
        ) {
            let col = column(&values);
            let inside = |v: &Option<Seconds>| v.is_some_and(|t| lo <= t && t < hi);
            let want: Vec<u32> = (0..values.len() as u32).filter(|&r| inside(&values[r as usize])).collect();
            proptest::prop_assert_eq!(col.range(lo, hi).iter().collect::<Vec<_>>(), want.clone());
            let out: Vec<u32> = (0..values.len() as u32).filter(|&r| !inside(&values[r as usize])).collect();
            proptest::prop_assert_eq!(col.outside(lo, hi).iter().collect::<Vec<_>>(), out);
            let candidates: RoaringBitmap = (0..values.len() as u32).filter(|&r| pick[r as usize]).collect();
            proptest::prop_assert_eq!(col.count(lo, hi), want.len() as u64);
            let kept: Vec<u32> = want.into_iter().filter(|&r| pick[r as usize]).collect();
            proptest::prop_assert_eq!(col.filter_count(&candidates, lo, hi, false), kept.len() as u64);
            proptest::prop_assert_eq!(col.filter(&candidates, lo, hi).iter().collect::<Vec<_>>(), kept.clone());
            let kept_out: Vec<u32> = (0..values.len() as u32).filter(|&r| pick[r as usize] && !inside(&values[r as usize])).collect();
            proptest::prop_assert_eq!(col.filter_count(&candidates, lo, hi, true), kept_out.len() as u64);
            proptest::prop_assert_eq!(col.filter_outside(&candidates, lo, hi).iter().collect::<Vec<_>>(), kept_out.clone());
            let rows = values.len() + 70;
            let past_end: RoaringBitmap = (values.len() as u32..rows as u32).collect();
            let by_chunks = kept_by_chunks(&col, &(&candidates | &past_end), rows, (lo, hi), false);
            proptest::prop_assert_eq!(by_chunks.iter().collect::<Vec<_>>(), kept);
            let by_chunks = kept_by_chunks(&col, &(&candidates | &past_end), rows, (lo, hi), true);
            proptest::prop_assert_eq!(by_chunks, kept_out.into_iter().collect::<RoaringBitmap>() | past_end);
            let stored: Vec<Option<Seconds>> = col.stored_values().map(from_stored).collect();
            proptest::prop_assert_eq!(stored, values.clone());
            proptest::prop_assert_eq!(TimeColumn::from_raw(&col.stored_values().collect::<Vec<_>>()).range(lo, hi), col.range(lo, hi));
        }

        /// The vectorized compares agree with the portable ones.
        #[test]
        fn vector_compares_agree_with_portable_ones(
            codes in proptest::collection::vec(proptest::num::u16::ANY, 64),
            first in proptest::num::u16::ANY,
            count in proptest::num::u16::ANY,
            b in proptest::num::u16::ANY,
        ) {
            let mut codes: [u16; 64] = codes.try_into().unwrap_or([0; 64]);
            codes[0] = first;
            codes[1] = first.wrapping_add(count);
            codes[2] = b;
            proptest::prop_assert_eq!(simd::in_range(&codes, first, count), simd::portable::in_range(&codes, first, count));
            proptest::prop_assert_eq!(simd::equal(&codes, first, b), simd::portable::equal(&codes, first, b));
        }
    }

    /// A column of 200,000 rows over ~1,000 buckets: a narrow range is answered from
    /// bucket orders, a wide one by scans, and both agree with row-by-row checks, also
    /// after rows change (their chunk's order is dropped) and rows are appended.
    #[test]
    fn bucket_orders_agree_with_row_by_row_checks() {
        let time = |row: u32| Seconds::from(row.wrapping_mul(2_654_435_761) % (1000 * 65_536));
        let mut values: Vec<Option<Seconds>> = (0..200_000u32)
            .map(|r| (r % 11 != 0).then(|| time(r)))
            .collect();
        let mut col = column(&values);
        let narrow = (300 * 65_536 + 1_000, 310 * 65_536 + 7);
        let wide = (100 * 65_536, 900 * 65_536 + 9);
        let range = |(lo, hi)| col.stored_range(lo, hi);
        let (high, low) = (&col.high[..CHUNK], &col.low[..CHUNK]);
        let cheap = |r: StoredRange| {
            col.order_rows(0, high, low, r.ordered())
                .and_then(|o| o.cheaper_than_scan(CHUNK))
        };
        assert!(cheap(range(narrow)).is_some());
        assert!(cheap(range(wide)).is_none());
        assert!(
            col.order_rows(0, high, low, range(wide).ordered())
                .is_none()
        );
        // A third of the rows: counted from the orders, built by scans.
        let middle = (100 * 65_536 + 3, 400 * 65_536);
        assert!(
            col.order_rows(0, high, low, range(middle).ordered())
                .is_some()
        );
        assert!(cheap(range(middle)).is_none());
        let check = |col: &TimeColumn, values: &[Option<Seconds>]| {
            let candidates: RoaringBitmap = (0..values.len() as u32 + 5)
                .filter(|r| r % 3 != 1)
                .collect();
            for (lo, hi) in [narrow, middle, wide] {
                let inside = |r: u32| {
                    values
                        .get(r as usize)
                        .copied()
                        .flatten()
                        .is_some_and(|t| lo <= t && t < hi)
                };
                let want: RoaringBitmap = (0..values.len() as u32).filter(|&r| inside(r)).collect();
                assert_eq!(col.range(lo, hi), want, "{lo}..{hi}");
                assert_eq!(col.count(lo, hi), want.len(), "{lo}..{hi}");
                let kept = &want & &candidates;
                assert_eq!(col.filter(&candidates, lo, hi), kept);
                assert_eq!(col.filter_count(&candidates, lo, hi, false), kept.len());
                assert_eq!(col.filter_outside(&candidates, lo, hi), &candidates - &kept);
                // Chunk by chunk over words: dense candidates, and sparse ones (read
                // one by one), past the column's end too.
                let rows = values.len() + 5;
                let sparse: RoaringBitmap = candidates.iter().step_by(97).collect();
                for candidates in [&candidates, &sparse] {
                    let kept = &want & candidates;
                    let by_chunks =
                        |invert| kept_by_chunks(col, candidates, rows, (lo, hi), invert);
                    assert_eq!(by_chunks(false), kept, "{lo}..{hi}");
                    assert_eq!(by_chunks(true), candidates - &kept, "{lo}..{hi}");
                }
                let all: RoaringBitmap = (0..values.len() as u32).collect();
                assert_eq!(col.outside(lo, hi), &all - &want);
                let union = TimeColumn::union_of(&[(col, lo, hi), (col, narrow.0, narrow.1)]);
                let narrow_rows = col.range(narrow.0, narrow.1);
                assert_eq!(union, &want | &narrow_rows);
            }
        };
        check(&col, &values);
        // Rows moved into and out of the narrow range in chunks already read.
        for row in [5u32, 70_000, 70_001, 199_999] {
            let moved = values[row as usize].map_or(Some(narrow.0), |_| None);
            values[row as usize] = moved;
            col.set(row, moved);
        }
        values[3] = Some(narrow.0 + 5);
        col.set(3, Some(narrow.0 + 5));
        check(&col, &values);
        let more: Vec<Option<Seconds>> = (0..70_000u32).map(|r| Some(time(r + 7))).collect();
        col.append(&more.iter().map(|&v| stored(v)).collect::<Vec<_>>());
        values.extend(more);
        check(&col, &values);
    }

    #[test]
    fn a_range_open_at_the_top_leaves_timeless_rows_out() {
        let mut col = column(&[None, Some(5), None]);
        assert_eq!(col.range(0, Seconds::MAX).iter().collect::<Vec<_>>(), [1]);
        col.set(3, Some(MAX_STORED));
        assert_eq!(
            col.range(0, Seconds::MAX).iter().collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(
            col.outside(0, Seconds::MAX).iter().collect::<Vec<_>>(),
            [0, 2]
        );
    }
}
