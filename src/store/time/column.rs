//! `TimeColumn` itself: one optional instant per row as two arrays of `u16` halves, and a
//! bucket order per chunk built when first read; its writes, and the copies a snapshot and
//! a compaction make. Its reads live beside it (`scan`, `filter`, `union`, `chunk_filter`,
//! `estimate`).

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;

use super::bucket_order::BucketOrder;
use super::sampled::Samples;
use super::stored::{NONE, from_stored, high, in_top, join, low, stored};
use crate::model::Seconds;
use crate::store::index::postings::Scans;

/// Rows per chunk, as a roaring container's.
pub(super) const CHUNK: usize = 1 << 16;

/// One optional instant per row, as high and low halves.
#[derive(Clone, Debug, Default)]
pub struct TimeColumn {
    pub(super) high: Vec<u16>,
    pub(super) low: Vec<u16>,
    /// Whether a row may hold a time in the last bucket (2106-02-07), which also holds
    /// [`NONE`]: without one, a range open at the top leaves that bucket out instead of
    /// comparing every timeless row's full value.
    pub(super) top: bool,
    /// Each chunk's rows grouped by bucket, built when first read, forgotten when one of
    /// the chunk's rows changes ([`BucketOrder`]).
    pub(super) orders: Vec<OnceLock<BucketOrder>>,
    /// The queries answered without sorting a chunk: a column's first few scan (a
    /// one-shot command never sorts 10M rows to use the order once), the next sort.
    pub(super) unsorted: Scans,
    /// The rows the estimates sample, copied out ([`Samples`]).
    pub(super) samples: Samples,
}

impl TimeColumn {
    /// The time of `row`.
    pub fn get(&self, row: u32) -> Option<Seconds> {
        from_stored(self.stored_at(row))
    }

    /// The stored value of `row` ([`NONE`] past the end).
    pub(in crate::store) fn stored_at(&self, row: u32) -> u32 {
        let row = row as usize;
        match (self.high.get(row), self.low.get(row)) {
            (Some(&h), Some(&l)) => join(h, l),
            _ => NONE,
        }
    }

    /// Sets the time of `row`. Times outside 1970..2106 must be refused before this.
    pub fn set(&mut self, row: u32, value: Option<Seconds>) {
        let row = row as usize;
        let v = stored(value);
        if self.high.len() <= row {
            self.high.resize(row + 1, high(NONE));
            self.low.resize(row + 1, low(NONE));
            self.samples.clear();
        } else {
            self.samples.write(row, (high(v), low(v)));
        }
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
        self.samples.clear();
        self.orders.truncate(self.high.len() / CHUNK);
        self.high.extend(values.iter().map(|&v| high(v)));
        self.low.extend(values.iter().map(|&v| low(v)));
        self.orders
            .resize_with(self.high.len().div_ceil(CHUNK), OnceLock::new);
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
            unsorted: Scans::default(),
            samples: Samples::default(),
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
            unsorted: Scans::default(),
            samples: Samples::default(),
        }
        .with_orders()
    }

    /// Lets every query from now on sort the chunks it reads (a REPL, which keeps asking).
    pub fn sort_freely(&self) {
        self.unsorted.spend();
    }

    /// Whether a query starting now may sort chunks (counting it if not).
    pub(super) fn sorts(&self) -> bool {
        !self.unsorted.scan_instead()
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
