//! Unions of ranges over several columns (an OR of time ranges) in one pass over the
//! chunks, each chunk's words of every range OR-ed together.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::column::{CHUNK, TimeColumn};
use super::cost::GATHER_BELOW;
use super::range::StoredRange;
use super::scan::for_each_word;
use crate::model::Seconds;
use crate::store::index::rowset::{from_words, union_in_order};

impl TimeColumn {
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
}
