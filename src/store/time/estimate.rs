//! What a range holds, guessed from a sample of rows: whether bucket orders should answer
//! it ([`TimeColumn::stored_range`]), and the executor's estimate of its rows and of the
//! bytes finding them reads ([`RangeEstimate`]).

use super::bucket_order::ORDERED_END;
use super::column::TimeColumn;
use super::cost::{
    ESTIMATE_RUN, ESTIMATE_SAMPLES, ORDER_CHUNK, ORDER_ROW, ORDER_SAMPLES, SCAN_ROW,
};
use super::range::StoredRange;
use crate::model::Seconds;

/// A sampled guess at a time range: its rows, the bytes finding them reads, and whether
/// finding them on its own reads the whole column (its bucket orders do not answer it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RangeEstimate {
    pub rows: u64,
    pub read_bytes: u64,
    pub scans: bool,
}

/// The samples a column takes: to tell whether a range is narrow, and to estimate it.
pub(super) const ORDER_SAMPLE: usize = 0;
pub(super) const ESTIMATE_SAMPLE: usize = 1;
/// How many rows each samples, in runs of how many (a run's high halves share cache
/// lines, where lone rows read one each).
const ORDER_SHAPE: (usize, usize) = (ORDER_SAMPLES, 1);
const ESTIMATE_SHAPE: (usize, usize) = (ESTIMATE_SAMPLES, ESTIMATE_RUN);

/// Rows sampled from a column of `rows`: `taken` in all, `hits` in a range.
pub(super) struct Sample {
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

impl TimeColumn {
    /// The range of stored values `lo <= v < hi`, and whether bucket orders answer it:
    /// they can (it does not reach the last bucket, which they leave out, or no row has
    /// a time there), and a sample of rows says it holds at most 2 in 5 of them. Wider,
    /// a scan wins in nearly every chunk, and sorting them would be wasted.
    /// The query counts as one of the column's first few, which sort no chunk
    /// ([`TimeColumn::sorts`]).
    pub(super) fn stored_range(&self, lo: Seconds, hi: Seconds) -> StoredRange {
        let mut range = self.range_shape(lo, hi);
        range.sort = self.sorts();
        range
    }

    /// [`TimeColumn::stored_range`] without counting a query: for estimates.
    fn range_shape(&self, lo: Seconds, hi: Seconds) -> StoredRange {
        let mut range = StoredRange::new(lo, hi, self.top);
        let end = range.lo.saturating_add(range.width);
        let end = if self.top { end } else { end.min(ORDERED_END) };
        let sample = self.sample(range, ORDER_SAMPLE);
        range.narrow = sample.hits * 5 <= sample.taken * 2;
        range.orderable = (end <= ORDERED_END).then_some((range.lo, end));
        range
    }

    /// Sample `kind` ([`ORDER_SAMPLE`] or [`ESTIMATE_SAMPLE`]): about so many rows, in
    /// evenly spaced runs of consecutive rows, and how many of them lie in `range`. The
    /// rows are read from the column's copy of them (`Samples`), made on first use.
    pub(super) fn sample(&self, range: StoredRange, kind: usize) -> Sample {
        let shape = [ORDER_SHAPE, ESTIMATE_SHAPE][kind];
        let sampled = self.samples.get(kind, shape, &self.high, &self.low);
        let decide = |&(high, low): &(u16, u16)| usize::from(range.decide(high, || low));
        Sample {
            rows: self.high.len(),
            taken: sampled.values.len(),
            hits: sampled.values.iter().map(decide).sum(),
        }
    }

    /// Estimates, from an evenly spaced sample, how many rows have `lo <= t < hi` and
    /// how many bytes finding them reads: a scan's, or fewer where bucket orders answer
    /// (as `OrderedRows::cheaper_than_scan` decides, for the column as a whole).
    pub fn estimate(&self, lo: Seconds, hi: Seconds) -> RangeEstimate {
        let range = self.range_shape(lo, hi);
        let sample = self.sample(range, ESTIMATE_SAMPLE);
        let rows = sample.rows_in_range();
        let scan = self.high.len() * SCAN_ROW;
        // As if the orders were sorted, whether or not this process sorts them yet
        // (`TimeColumn::sorts`): a plan does not depend on how many queries came before.
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
}
