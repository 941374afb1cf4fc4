//! Word views: an index bitmap as plain bit words (one bit per row, 64 rows to a word,
//! 1,024 words to a 65,536-row chunk), for the executor's chunk-by-chunk evaluation
//! (`exec::fused`), which ANDs a chunk of each of an AND's bitmaps word by word instead
//! of building a roaring bitmap per step (roaring 0.12 does not lend its containers).
//!
//! A view is built the first time a query asks for it and kept until the store's next
//! change, like the other derived values (`derived.rs`): every change moves the write
//! counter, and a view asked for at another count is built again. Only bitmaps holding
//! at least one row in 64 get a view (held in `WordViews`), so views take at most 4
//! times the memory of the bitmaps they copy; sparser ones are read value by value.
//!
//! Views are keyed by the address of the bitmap they copy, which names one bitmap only
//! while the store is unchanged: so only the store's own bitmaps and the ones it derives
//! get views (`Store::word_view`), never a bitmap made for one query (the executor reads
//! those value by value).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use roaring::RoaringBitmap;

/// Rows per chunk, as roaring's containers.
pub const CHUNK_ROWS: usize = 1 << 16;
/// Words per chunk.
pub const CHUNK_WORDS: usize = CHUNK_ROWS / 64;

/// A bitmap's words for every row of the store, and how many rows each chunk holds (so
/// that a chunk without one is skipped unread).
#[derive(Debug)]
pub struct Words {
    pub words: Vec<u64>,
    pub chunk_rows: Vec<u32>,
}

impl Words {
    /// Chunk `i`'s words, or `None` when it holds no row.
    pub fn chunk(&self, i: usize) -> Option<&[u64]> {
        let held = self.chunk_rows.get(i).is_some_and(|&n| n > 0);
        let words = self.words.chunks(CHUNK_WORDS).nth(i);
        words.filter(|_| held)
    }
}

/// The views built at one write count, keyed by the address of the bitmap they copy:
/// while the count stays, the store is unchanged, so an address names one bitmap.
#[derive(Debug, Default)]
pub struct WordViews(Mutex<(u64, HashMap<usize, Arc<Words>>)>);

impl Clone for WordViews {
    fn clone(&self) -> Self {
        WordViews::default()
    }
}

impl WordViews {
    pub fn get(&self, version: u64, bitmap: &RoaringBitmap, rows: usize) -> Arc<Words> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.0 != version {
            *held = (version, HashMap::new());
        }
        let key = std::ptr::from_ref(bitmap) as usize;
        let view = held
            .1
            .entry(key)
            .or_insert_with(|| Arc::new(words_of(bitmap, rows)));
        Arc::clone(view)
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.1.values().map(|w| w.words.capacity() * 8).sum()
    }
}

/// `bitmap`'s rows below `rows` as words, chunk by chunk in parallel.
pub fn words_of(bitmap: &RoaringBitmap, rows: usize) -> Words {
    let mut words = vec![0u64; rows.div_ceil(64)];
    words
        .par_chunks_mut(CHUNK_WORDS)
        .enumerate()
        .for_each(|(i, chunk)| set_chunk(bitmap, i, chunk));
    let chunk_rows = (0..rows.div_ceil(CHUNK_ROWS))
        .map(|i| {
            let base = i * CHUNK_ROWS;
            bitmap.range_cardinality(base as u32..(base + CHUNK_ROWS).min(rows) as u32) as u32
        })
        .collect();
    Words { words, chunk_rows }
}

/// Sets in `words` (chunk `i`'s, or its first ones) the bits of `bitmap`'s rows in
/// that chunk, as far as the words reach.
pub fn set_chunk(bitmap: &RoaringBitmap, i: usize, words: &mut [u64]) {
    if words.is_empty() {
        return;
    }
    let base = (i * CHUNK_ROWS) as u64;
    let end = (base + words.len() as u64 * 64).min(1 << 32);
    for row in bitmap.range(base as u32..=(end - 1) as u32) {
        let at = (u64::from(row) - base) as usize;
        words[at / 64] |= 1 << (at % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hold_exactly_the_bitmaps_rows() {
        let bitmap: RoaringBitmap = (0..200_000u32).filter(|r| r % 7 == 3).collect();
        let rows = 150_001;
        let view = words_of(&bitmap, rows);
        assert_eq!(view.words.len(), rows.div_ceil(64));
        for row in 0..rows {
            let set = view.words[row / 64] >> (row % 64) & 1 == 1;
            assert_eq!(set, row % 7 == 3, "row {row}");
        }
        assert_eq!(view.chunk_rows, [9362, 9363, 2704]);
        let sparse: RoaringBitmap = [70_000u32].into_iter().collect();
        let view = words_of(&sparse, rows);
        assert!(view.chunk(0).is_none() && view.chunk(2).is_none());
        assert_eq!(view.chunk(1).map(|w| w.len()), Some(CHUNK_WORDS));
    }
}
