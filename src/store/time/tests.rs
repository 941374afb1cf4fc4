//! The time index as a whole: scans, filters, unions and chunk filters agree with
//! checking each row's time, across bucket edges, bucket orders and prefix words.

use roaring::RoaringBitmap;

use super::column::{CHUNK, TimeColumn};
use super::range::StoredRange;
use super::simd;
use super::stored::{from_stored, stored};
use crate::model::Seconds;
use crate::model::time::MAX_STORED;
use crate::store::index::rowset::from_words;

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
        let (near_lo, near_hi) = (hi.saturating_sub(50), hi.saturating_add(50));
        let want = a.range(lo, hi) | b.range(near_lo, near_hi);
        let ranges = [(&a, lo, hi), (&b, near_lo, near_hi)];
        assert_eq!(TimeColumn::union_of(&ranges), want, "{lo}..{hi}");
        assert_eq!(TimeColumn::union_count(&ranges), want.len(), "{lo}..{hi}");
        let shorter_first = [(&b, near_lo, near_hi), (&a, lo, hi)];
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
        sorting in proptest::bool::ANY,
    ) {
        // A column sorting its chunks from the first query, or scanning the first few.
        let col = column(&values);
        if sorting {
            col.sort_freely();
        }
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
    col.sort_freely();
    let narrow = (300 * 65_536 + 1_000, 310 * 65_536 + 7);
    let wide = (100 * 65_536, 900 * 65_536 + 9);
    let range = |(lo, hi)| col.stored_range(lo, hi);
    let halves = (&col.high[..CHUNK], &col.low[..CHUNK]);
    let order = |r: StoredRange| col.order_rows(0, halves, r.ordered(), r.sort);
    let cheap = |r: StoredRange| order(r).and_then(|o| o.cheaper_than_scan(CHUNK));
    assert!(cheap(range(narrow)).is_some());
    assert!(cheap(range(wide)).is_none());
    assert!(order(range(wide)).is_none());
    // A third of the rows: counted from the orders, built by scans.
    let middle = (100 * 65_536 + 3, 400 * 65_536);
    assert!(order(range(middle)).is_some());
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
                let by_chunks = |invert| kept_by_chunks(col, candidates, rows, (lo, hi), invert);
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

/// A column's first few queries (a one-shot command's) scan and sort no chunk, the next
/// sorts the chunks it reads, and both answer alike; so does a column told to expect
/// repeats, from its first query.
#[test]
fn a_columns_first_queries_scan_and_the_next_sort() {
    let time = |row: u32| Seconds::from(row.wrapping_mul(2_654_435_761) % (1000 * 65_536));
    let values: Vec<Option<Seconds>> = (0..150_000u32).map(|r| Some(time(r))).collect();
    let col = column(&values);
    let sorted = |col: &TimeColumn| col.orders.iter().filter(|o| o.get().is_some()).count();
    let narrow = (300 * 65_536 + 1_000, 310 * 65_536 + 7);
    let want = col.range(narrow.0, narrow.1);
    assert!(!want.is_empty());
    assert_eq!(col.count(narrow.0, narrow.1), want.len());
    let candidates: RoaringBitmap = (0..150_000).step_by(2).collect();
    assert_eq!(
        col.filter(&candidates, narrow.0, narrow.1),
        &want & &candidates
    );
    let chunks = kept_by_chunks(&col, &candidates, 150_000, narrow, false);
    assert_eq!(chunks, &want & &candidates);
    assert_eq!(sorted(&col), 0, "four queries sorted nothing");
    assert!(
        !col.estimate(narrow.0, narrow.1).scans,
        "estimates are of sorted orders, before and after"
    );
    assert_eq!(col.range(narrow.0, narrow.1), want, "sorted, the same rows");
    assert_eq!(sorted(&col), col.orders.len());
    let warm = column(&values);
    warm.sort_freely();
    assert_eq!(warm.count(narrow.0, narrow.1), want.len());
    assert_eq!(
        sorted(&warm),
        warm.orders.len(),
        "sorted at the first query"
    );
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

/// Estimates read the column's copy of its sampled rows: after writes to sampled rows
/// and others, and after the column grows, they equal a fresh column's of the same
/// values, and so track the writes.
#[test]
fn estimates_follow_writes_to_sampled_rows() {
    let rows = 50_000u32;
    let time = |row: u32| Some(Seconds::from((row * 7_919) % 1_000_000));
    let mut col = column(&(0..rows).map(time).collect::<Vec<_>>());
    let fresh = |col: &TimeColumn| {
        let values: Vec<u32> = col.stored_values().collect();
        TimeColumn::from_raw(&values)
    };
    let ranges = [(0, 100_000), (250_000, 900_000), (999_000, 2_000_000)];
    let check = |col: &TimeColumn, when: &str| {
        for (lo, hi) in ranges {
            let want = fresh(col).estimate(lo, hi);
            assert_eq!(col.estimate(lo, hi), want, "{when}: [{lo}, {hi})");
        }
    };
    check(&col, "built");
    // Every row of the first 5,000 (sampled or not) moves into the first range.
    for row in 0..5_000 {
        col.set(row, Some(Seconds::from(row % 100)));
    }
    let before = col.estimate(0, 100_000).rows;
    check(&col, "written");
    for row in 5_000..10_000 {
        col.set(row, None);
    }
    check(&col, "cleared");
    col.set(rows + 20_000, Some(5));
    check(&col, "grown by a write");
    col.append(&[stored(Some(7)); 30_000]);
    check(&col, "appended");
    assert!(
        col.estimate(0, 100_000).rows > before,
        "the appended rows count"
    );
}
