//! `BucketOrder`: one 65,536-row chunk of a time column with its rows sorted by bucket
//! (the high half of their time), so that a range reads the rows it holds, not the
//! chunk.
//!
//! A range wholly covers a run of buckets; their rows are one slice of the order, and
//! its length is how many they are, found by two binary searches. The at most two
//! partly covered buckets are slices too, whose rows compare their low halves. A narrow
//! range (the last 30 days of two years) so touches a few percent of the chunk where a
//! scan reads all of it, and a count of whole buckets touches nothing. Rows in the last
//! bucket (timeless rows, and times in 2106) are left out: a range reaching it scans.
//!
//! The column keeps one order per chunk, built when a query first asks for it and
//! dropped when a row of its chunk changes (see `TimeColumn`), so that a write costs
//! nothing and a chunk is sorted again only if it is read again. The order holds 2 bytes
//! a row with a time, plus 6 bytes a bucket present.

use std::ops::Range;

/// A chunk's rows with a time, grouped by bucket.
#[derive(Clone, Debug, Default)]
pub(super) struct BucketOrder {
    /// Row offsets in the chunk, grouped by bucket in ascending order, ascending within
    /// a bucket.
    rows: Vec<u16>,
    /// The buckets present, ascending.
    buckets: Vec<u16>,
    /// Where each bucket's rows end in `rows` (they start where the previous ones end).
    ends: Vec<u32>,
}

/// The bucket of timeless rows (and of times in 2106), left out of the order.
const LEFT_OUT: u16 = u16::MAX;

impl BucketOrder {
    /// Sorts a chunk's rows (given by their high halves) by bucket, counting sort over
    /// the span of buckets present.
    pub fn build(high: &[u16]) -> BucketOrder {
        let present = high.iter().copied().filter(|&h| h != LEFT_OUT);
        let Some((min, max)) = present.fold(None, |span: Option<(u16, u16)>, h| {
            Some(span.map_or((h, h), |(lo, hi)| (lo.min(h), hi.max(h))))
        }) else {
            return BucketOrder::default();
        };
        // Counts per bucket, then each bucket's next free place in `rows`.
        let mut next = vec![0u32; usize::from(max - min) + 1];
        for &h in high.iter().filter(|&&h| h != LEFT_OUT) {
            next[usize::from(h - min)] += 1;
        }
        let (mut buckets, mut ends) = (Vec::new(), Vec::new());
        let mut total = 0u32;
        for (k, count) in next.iter_mut().enumerate() {
            let n = *count;
            *count = total;
            total += n;
            if n > 0 {
                buckets.push(min + k as u16);
                ends.push(total);
            }
        }
        let mut rows = vec![0u16; total as usize];
        for (at, &h) in high.iter().enumerate().filter(|&(_, &h)| h != LEFT_OUT) {
            let next = &mut next[usize::from(h - min)];
            rows[*next as usize] = at as u16;
            *next += 1;
        }
        BucketOrder {
            rows,
            buckets,
            ends,
        }
    }

    /// The rows whose bucket `b` has `first <= b < end`, in bucket order.
    pub fn rows_of(&self, buckets: Range<u32>) -> &[u16] {
        let at = |b: u32| self.buckets.partition_point(|&have| u32::from(have) < b);
        let (from, to) = (at(buckets.start), at(buckets.end));
        let offset = |k: usize| match k {
            0 => 0,
            k => self.ends[k - 1] as usize,
        };
        self.rows
            .get(offset(from)..offset(to.max(from)))
            .unwrap_or(&[])
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * 2 + self.buckets.capacity() * 2 + self.ends.capacity() * 4
    }
}

/// Whether the order can answer for `buckets` (it leaves out the last bucket).
pub(super) fn covers(buckets: Range<u32>) -> bool {
    buckets.end <= u32::from(LEFT_OUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_grouped_by_bucket_and_in_order_within_one() {
        let high = [5, LEFT_OUT, 3, 5, 9, 3, LEFT_OUT, 4];
        let order = BucketOrder::build(&high);
        assert_eq!(order.rows_of(0..100), [2, 5, 7, 0, 3, 4]);
        assert_eq!(order.rows_of(4..6), [7, 0, 3]);
        assert_eq!(order.rows_of(6..9), [] as [u16; 0]);
        assert_eq!(order.rows_of(9..10), [4]);
        assert_eq!(order.rows_of(10..u32::from(LEFT_OUT)), [] as [u16; 0]);
        assert_eq!(order.rows_of(3..3), [] as [u16; 0]);
        assert!(
            BucketOrder::build(&[LEFT_OUT; 4])
                .rows_of(0..70_000)
                .is_empty()
        );
        assert!(covers(0..u32::from(LEFT_OUT)));
        assert!(!covers(0..u32::from(LEFT_OUT) + 1));
    }
}
