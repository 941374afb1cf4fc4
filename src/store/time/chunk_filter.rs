//! `ChunkFilter`: a time range narrowing the executor's bit words chunk by chunk (its
//! fused AND), reading each set bit's value, the chunk's bucket order or prefix words, or
//! the words holding a set bit, whichever touches least.

use super::column::{CHUNK, TimeColumn};
use super::cost::{GATHER_BELOW, GATHERED_ROW, LEAST_COST, SCAN_ROW};
use super::ordered::OrderedRows;
use super::range::StoredRange;
use super::scan::{narrow_by_words, settle_edges};
use crate::model::Seconds;

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
            .order_rows(i, (high, low), orderable, self.range.sort)
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
