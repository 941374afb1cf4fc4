//! `BucketOrder`: one 65,536-row chunk of a time column with its rows grouped by bucket
//! (the high half of their time), so that a range reads the rows it holds, not the
//! chunk.
//!
//! A range wholly covers a run of buckets, whose rows are one slice of the order (found
//! by binary searches; a count takes its length), and covers at most two buckets in
//! part, whose rows are short slices too: each entry carries its row's low half, so
//! these compare in order, without a cache miss. A narrow range (the last 30 days of two
//! years) so touches a few percent of the chunk where a scan reads all of it. Rows in the
//! last bucket (timeless rows, and times in 2106) are left out: a range reaching it
//! scans.
//!
//! The column keeps one order per chunk, built when a query first asks for it and
//! dropped when a row of its chunk changes (see `TimeColumn`), so that a write costs
//! nothing and a chunk is sorted again only if it is read again. Sorting is one counting
//! pass over the chunk; the order holds 4 bytes a row with a time, plus 6 bytes a bucket
//! present. A range too wide to list its rows cheaply reads the order's
//! [`PrefixWords`], built from it on first use and kept inside it, so dropped with it.

use std::sync::OnceLock;

use super::prefix_words::{Grouped, PrefixWords};

/// A chunk's rows with a time, grouped by bucket.
#[derive(Clone, Debug, Default)]
pub(super) struct BucketOrder {
    /// The rows as cumulative words, built the first time a wide range asks.
    prefixes: OnceLock<PrefixWords>,
    /// `low << 16 | row offset` for each row with a time, grouped by bucket in
    /// ascending order, in row order within a bucket.
    entries: Vec<u32>,
    /// The buckets present, ascending.
    buckets: Vec<u16>,
    /// Where each bucket's entries end (they start where the previous ones end).
    ends: Vec<u32>,
}

/// The bucket of timeless rows (and of times in 2106), left out of the order.
const LEFT_OUT: u16 = u16::MAX;
/// The first stored value the order leaves out.
pub(super) const ORDERED_END: u32 = (LEFT_OUT as u32) << 16;

/// The rows of an order in a range: the entries of the buckets wholly inside, and of at
/// most two buckets partly inside, each with the low halves `[from, to)` it keeps.
struct Parts<'a> {
    whole: &'a [u32],
    partial: [(&'a [u32], u32, u32); 2],
}

impl BucketOrder {
    /// Groups a chunk's rows by bucket, given their high and low halves: counts per
    /// bucket over the span present, then one stable scatter. Timeless rows count in a
    /// last slot past the span, and are scattered to the end and cut off, so that no
    /// loop branches on them.
    pub fn build(high: &[u16], low: &[u16]) -> BucketOrder {
        let (mut min, mut max) = (LEFT_OUT, 0);
        for &h in high {
            let timed = h != LEFT_OUT;
            min = min.min(if timed { h } else { LEFT_OUT });
            max = max.max(if timed { h } else { 0 });
        }
        if min > max {
            return BucketOrder::default();
        }
        let span = usize::from(max - min) + 1;
        let slot = |h: u16| usize::from(h.wrapping_sub(min)).min(span);
        let mut next = vec![0u32; span + 1];
        for &h in high {
            next[slot(h)] += 1;
        }
        let (mut buckets, mut ends, mut total) = (Vec::new(), Vec::new(), 0);
        for (k, place) in next.iter_mut().enumerate() {
            let n = *place;
            (*place, total) = (total, total + n);
            if n > 0 && k < span {
                buckets.push(min + k as u16);
                ends.push(total);
            }
        }
        let mut entries = vec![0u32; high.len()];
        for (at, (&h, &l)) in high.iter().zip(low).enumerate() {
            let place = &mut next[slot(h)];
            entries[*place as usize] = u32::from(l) << 16 | at as u32;
            *place += 1;
        }
        entries.truncate(ends.last().map_or(0, |&end| end as usize));
        entries.shrink_to_fit();
        BucketOrder {
            prefixes: OnceLock::new(),
            entries,
            buckets,
            ends,
        }
    }

    /// How many rows have a stored value v with `lo <= v < end` (`end <= ORDERED_END`).
    pub fn count(&self, lo: u32, end: u32) -> usize {
        self.rank(end).saturating_sub(self.rank(lo))
    }

    /// How many rows have a stored value below `v` (`v <= ORDERED_END`): the entries of
    /// the buckets below its own, and those of its bucket with a lower low half.
    pub fn rank(&self, v: u32) -> usize {
        let (bucket, low) = (v >> 16, v & 0xffff);
        // Past the last bucket (a range open at the top): every row, with no search.
        if self
            .buckets
            .last()
            .is_none_or(|&last| u32::from(last) < bucket)
        {
            return self.entries.len();
        }
        let k = self.position(bucket);
        let before = k.checked_sub(1).map_or(0, |k| self.ends[k] as usize);
        match self.buckets.get(k) {
            Some(&b) if u32::from(b) == bucket && low != 0 => {
                let own = &self.entries[before..self.ends[k] as usize];
                // A sum of flags, not a filter's count, so that the loop vectorizes.
                before
                    + own
                        .iter()
                        .map(|&e| usize::from(e >> 16 < low))
                        .sum::<usize>()
            }
            _ => before,
        }
    }

    /// Hands each row offset with `lo <= v < end` to `each`: the whole buckets' in bucket
    /// order, then the partial buckets'.
    pub fn for_each(&self, lo: u32, end: u32, mut each: impl FnMut(u16)) {
        let parts = self.parts(lo, end);
        parts.whole.iter().for_each(|&e| each(e as u16));
        for (entries, from, to) in parts.partial {
            let kept = entries.iter().filter(|&&e| (from..to).contains(&(e >> 16)));
            kept.for_each(|&e| each(e as u16));
        }
    }

    fn parts(&self, lo: u32, end: u32) -> Parts<'_> {
        let mut parts = Parts {
            whole: &[],
            partial: [(&[], 0, 0); 2],
        };
        if end <= lo {
            return parts;
        }
        let (first, last) = (lo >> 16, end >> 16);
        let (lo_low, end_low) = (lo & 0xffff, end & 0xffff);
        parts.whole = self.span(first + u32::from(lo_low != 0), last);
        if lo_low != 0 {
            let to = if first == last { end_low } else { 1 << 16 };
            parts.partial[0] = (self.span(first, first + 1), lo_low, to);
        }
        if end_low != 0 && (first != last || lo_low == 0) {
            parts.partial[1] = (self.span(last, last + 1), 0, end_low);
        }
        parts
    }

    /// The entries of the buckets `b` with `from <= b < to`.
    fn span(&self, from: u32, to: u32) -> &[u32] {
        let at = |b: u32| {
            let k = self.position(b);
            k.checked_sub(1).map_or(0, |k| self.ends[k] as usize)
        };
        let (start, stop) = (at(from), at(to));
        self.entries.get(start..stop.max(start)).unwrap_or(&[])
    }

    /// How many buckets present lie below bucket `b`. The buckets are distinct and
    /// ascend from the first, so that is at most `b - first`, and exactly that when no
    /// bucket between is missing (a chunk's rows nearly always fill every 18-hour bucket
    /// of their span): one read checks it, where a binary search over a thousand buckets
    /// waits on ten cache misses. Else a binary search below the guess.
    fn position(&self, b: u32) -> usize {
        let Some(&first) = self.buckets.first() else {
            return 0;
        };
        let guess = b.saturating_sub(u32::from(first)) as usize;
        let guess = guess.min(self.buckets.len());
        match guess.checked_sub(1).map(|k| u32::from(self.buckets[k]) < b) {
            None | Some(true) => guess,
            Some(false) => self.buckets[..guess].partition_point(|&have| u32::from(have) < b),
        }
    }

    /// The rows as cumulative words ([`PrefixWords`]), built now if not yet.
    pub fn prefix_words(&self) -> &PrefixWords {
        self.prefixes.get_or_init(|| PrefixWords::build(self))
    }

    /// Bytes of memory held, the prefix words included.
    pub fn heap_bytes(&self) -> usize {
        let prefixes = self.prefixes.get().map_or(0, PrefixWords::heap_bytes);
        self.entries.capacity() * 4
            + self.buckets.capacity() * 2
            + self.ends.capacity() * 4
            + prefixes
    }
}

/// What the prefix words read of the order.
impl Grouped for BucketOrder {
    /// How many rows the order holds (those with a time).
    fn rows(&self) -> usize {
        self.entries.len()
    }

    /// Each bucket present, ascending, with its entries.
    fn buckets(&self) -> impl Iterator<Item = (u16, &[u32])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        let spans = starts.zip(&self.ends);
        let entries = spans.map(|(start, &end)| &self.entries[start as usize..end as usize]);
        self.buckets.iter().copied().zip(entries)
    }

    #[inline]
    fn for_each(&self, lo: u32, end: u32, each: impl FnMut(u16)) {
        BucketOrder::for_each(self, lo, end, each);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(order: &BucketOrder, lo: u32, end: u32) -> Vec<u16> {
        let mut rows = Vec::new();
        order.for_each(lo, end, |at| rows.push(at));
        assert_eq!(order.count(lo, end), rows.len());
        rows
    }

    #[test]
    fn ranges_read_whole_buckets_then_the_partial_ones() {
        let high = [5, LEFT_OUT, 3, 5, 9, 3, LEFT_OUT, 4, 5];
        let low = [7, 0, 300, 2, 0, 1, 9, 65_535, 7];
        let order = BucketOrder::build(&high, &low);
        let v = |h: u32, l: u32| h << 16 | l;
        assert_eq!(rows(&order, 0, ORDERED_END), [2, 5, 7, 0, 3, 8, 4]);
        assert_eq!(rows(&order, v(3, 2), v(5, 7)), [7, 2, 3]);
        assert_eq!(rows(&order, v(5, 7), v(5, 8)), [0, 8]);
        assert_eq!(rows(&order, v(5, 0), v(5, 7)), [3]);
        assert_eq!(rows(&order, v(6, 0), v(9, 0)), [] as [u16; 0]);
        assert_eq!(rows(&order, v(9, 0), v(10, 0)), [4]);
        assert_eq!(rows(&order, v(5, 8), v(5, 8)), [] as [u16; 0]);
        assert_eq!(rows(&order, v(9, 0), v(3, 0)), [] as [u16; 0]);
        let nothing = BucketOrder::build(&[LEFT_OUT; 4], &[0; 4]);
        assert!(rows(&nothing, 0, ORDERED_END).is_empty());
    }

    /// Where buckets are missing between the first and the last, positions (and so
    /// ranks and rows) still come from a search: each equals a count of the buckets
    /// below, and each rank a count of the values below.
    #[test]
    fn positions_and_ranks_hold_with_missing_buckets() {
        let high = [10, 11, 14, 14, 20, 21, 22, 40, LEFT_OUT, 11];
        let low = [5, 0, 9, 3, 65_535, 1, 0, 7, 0, 2];
        let order = BucketOrder::build(&high, &low);
        for b in 0..50u32 {
            let below = order.buckets.iter().filter(|&&have| u32::from(have) < b);
            assert_eq!(order.position(b), below.count(), "bucket {b}");
            for l in [0u32, 1, 3, 6, 65_535] {
                let v = b << 16 | l;
                let timed = high.iter().zip(&low).filter(|&(&h, _)| h != LEFT_OUT);
                let values = timed.map(|(&h, &l)| u32::from(h) << 16 | u32::from(l));
                let expected = values.filter(|&have| have < v).count();
                assert_eq!(order.rank(v), expected, "value {v:#x}");
                assert_eq!(
                    rows(&order, v, ORDERED_END).len(),
                    9 - expected,
                    "from {v:#x}"
                );
            }
        }
        assert_eq!(BucketOrder::default().position(7), 0);
    }

    /// Every range over a chunk of 3,000 rows spread over 200 buckets, through the
    /// prefixes, equals the rows the order lists.
    #[test]
    fn binned_ranges_equal_the_listed_rows() {
        let rows = 3_000usize;
        let high: Vec<u16> = (0..rows).map(|r| (100 + (r * 7919) % 200) as u16).collect();
        let low: Vec<u16> = (0..rows).map(|r| ((r * 104_729) % 65_536) as u16).collect();
        let mut high = high;
        high[17] = u16::MAX;
        let order = BucketOrder::build(&high, &low);
        let prefixes = PrefixWords::build(&order);
        assert!(prefixes.bounds() > 32 / 2);
        let v = |h: u32, l: u32| h << 16 | l;
        let edges = [
            v(90, 0),
            v(100, 0),
            v(100, 5),
            v(131, 0),
            v(131, 40_000),
            v(205, 9),
            v(299, 65_535),
            v(300, 0),
            v(400, 0),
        ];
        let mut checked = 0;
        for &lo in &edges {
            for &end in &edges {
                let mut listed = vec![0u64; rows.div_ceil(64)];
                order.for_each(lo, end, |at| listed[usize::from(at) / 64] |= 1 << (at % 64));
                let ranked = |v: u32| (v, order.rank(v));
                if let Some(binned) = prefixes.binned(ranked(lo), ranked(end)) {
                    let mut words = vec![0u64; rows.div_ceil(64)];
                    prefixes.set(&order, binned, lo, end, &mut words);
                    assert_eq!(words, listed, "[{lo:#x}, {end:#x})");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "{checked}");
    }
}
