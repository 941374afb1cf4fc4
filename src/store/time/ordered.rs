//! A chunk's rows in a range read from its bucket order, listed or through its prefix
//! words: which order answers ([`TimeColumn::answering_order`]) and what each way touches.

use super::bucket_order::BucketOrder;
use super::column::TimeColumn;
use super::cost::{LEAST_COST, ORDER_ROW, SCAN_ROW};
use super::prefix_words::Binned;
use super::range::StoredRange;

impl TimeColumn {
    /// Chunk `i`'s rows with stored values `lo..end` from its bucket order, when `values`
    /// are given: sorted now if no query has read it since its rows last changed and the
    /// query may `sort` ([`StoredRange::sort`]), else only if built already.
    pub(super) fn order_rows(
        &self,
        i: usize,
        (high, low): (&[u16], &[u16]),
        values: Option<(u32, u32)>,
        sort: bool,
    ) -> Option<OrderedRows<'_>> {
        if !sort {
            return self.built_order(i, values);
        }
        let (lo, end) = values?;
        let order = self.orders.get(i)?;
        let order = order.get_or_init(|| BucketOrder::build(high, low));
        Some(OrderedRows { order, lo, end })
    }

    /// Chunk `i`'s rows in `range` from its bucket order: sorted now if the range is
    /// narrow ([`StoredRange::ordered`]); a wider one reads the order only if a query
    /// has sorted it already (sorting a chunk costs more than scanning it).
    pub(super) fn answering_order(
        &self,
        i: usize,
        high: &[u16],
        low: &[u16],
        range: StoredRange,
    ) -> Option<OrderedRows<'_>> {
        (self.order_rows(i, (high, low), range.ordered(), range.sort))
            .or_else(|| self.built_order(i, range.orderable))
    }

    /// Chunk `i`'s rows with stored values `lo..end` from its bucket order, if one is
    /// built and `values` are given.
    pub(super) fn built_order(
        &self,
        i: usize,
        values: Option<(u32, u32)>,
    ) -> Option<OrderedRows<'_>> {
        let (lo, end) = values?;
        let order = self.orders.get(i)?.get()?;
        Some(OrderedRows { order, lo, end })
    }
}

/// A chunk's rows whose stored value v has `lo <= v < end`, read from its bucket order.
#[derive(Clone, Copy)]
pub(super) struct OrderedRows<'a> {
    order: &'a BucketOrder,
    lo: u32,
    end: u32,
}

impl<'a> OrderedRows<'a> {
    pub(super) fn count(self) -> usize {
        self.order.count(self.lo, self.end)
    }

    /// The rows, if setting their bits touches less than a scan of the chunk's `rows`.
    pub(super) fn cheaper_than_scan(self, rows: usize) -> Option<Self> {
        (self.count() * ORDER_ROW <= rows * SCAN_ROW).then_some(self)
    }

    /// Sets the rows' bits in the chunk's words.
    pub(super) fn set_bits(self, words: &mut [u64]) {
        let set = |at: u16| words[usize::from(at) / 64] |= 1 << (at % 64);
        self.order.for_each(self.lo, self.end, set);
    }

    /// The cheaper way to set the rows, listed or through the order's prefix words, and
    /// the bytes it touches. The prefix words are built (now, if not yet) only where
    /// listing the rows costs more than the least they touch.
    pub(super) fn cheapest(self) -> (OrderAnswer<'a>, usize) {
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
pub(super) enum OrderAnswer<'a> {
    Listed(OrderedRows<'a>),
    Binned(OrderedRows<'a>, Binned),
}

impl OrderAnswer<'_> {
    /// Sets the rows' bits in the chunk's words (zero on entry).
    pub(super) fn set_bits(self, words: &mut [u64]) {
        match self {
            OrderAnswer::Listed(rows) => rows.set_bits(words),
            OrderAnswer::Binned(rows, binned) => {
                let prefixes = rows.order.prefix_words();
                prefixes.set(rows.order, binned, rows.lo, rows.end, words);
            }
        }
    }
}
