//! Word views: an index bitmap as plain bit words (one bit per row, 64 rows to a word,
//! 1,024 words to a 65,536-row chunk), for the executor's chunk-by-chunk evaluation
//! (`exec::fused`), which ANDs a chunk of each of an AND's bitmaps word by word instead
//! of building a roaring bitmap per step (roaring 0.12 does not lend its containers: a
//! view copies them from the bitmap's serialized form, `containers.rs`).
//!
//! A view is built the first time a query asks for it. Only bitmaps holding at least one
//! row in 64 get a view (held in `WordViews`), so views take at most 4 times the memory
//! of the bitmaps they copy; sparser ones are read value by value.
//!
//! A view outlives the store's changes: every change records the rows it touched in a
//! journal, and a view asked for at a later write count has just those rows' bits read
//! again from its bitmap (a change of a few rows costs a few lookups per view, not a
//! rebuild of every view a query uses). For that a view is keyed by the bitmap it copies
//! ([`ViewKey`]: a tag's code, a channel…), which a change never moves. A bitmap the store
//! cannot name (`ViewKey::Other`, by address) has a view for one write count only.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::containers::Serialized;

/// Rows per chunk, as roaring's containers.
pub const CHUNK_ROWS: usize = 1 << 16;
/// Words per chunk.
pub const CHUNK_WORDS: usize = CHUNK_ROWS / 64;

/// Rows the journal holds at most; a view older than what it holds is built again.
const JOURNAL_ROWS: u64 = 1 << 20;

/// A bitmap's words for every row of the store, and how many rows each chunk holds (so
/// that a chunk without one is skipped unread).
#[derive(Clone, Debug)]
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

    /// Reads the bits of `touched` rows again from `bitmap`, over `rows` rows in all.
    fn patch(&mut self, bitmap: &RoaringBitmap, touched: &RoaringBitmap, rows: usize) {
        self.words.resize(rows.div_ceil(64), 0);
        self.chunk_rows.resize(rows.div_ceil(CHUNK_ROWS), 0);
        for row in touched.iter().take_while(|&r| (r as usize) < rows) {
            let (at, bit) = (row as usize / 64, 1u64 << (row % 64));
            let was = self.words[at] & bit != 0;
            let is = bitmap.contains(row);
            if was != is {
                self.words[at] ^= bit;
                let count = &mut self.chunk_rows[row as usize / CHUNK_ROWS];
                *count = if is { *count + 1 } else { *count - 1 };
            }
        }
    }
}

/// The bitmap a view copies, named so that the name outlives changes to its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViewKey {
    /// One of the store's own bitmaps or derived sets, by kind and index (a tag's or an
    /// account's code, a channel's index…): its rows change only where a change touched.
    Named(u8, u32),
    /// Any other bitmap, by address: that names one bitmap at one write count only.
    Other(usize),
}

/// The rows each write touched, by write count, as far back as `start`: a view built at
/// a count from `start` on is brought up to date from them.
#[derive(Debug, Default)]
struct Journal {
    start: u64,
    writes: VecDeque<(u64, RoaringBitmap)>,
    rows: u64,
}

impl Journal {
    fn record(&mut self, version: u64, touched: RoaringBitmap) {
        if touched.is_empty() {
            return;
        }
        self.rows += touched.len();
        self.writes.push_back((version, touched));
        while self.rows > JOURNAL_ROWS {
            let Some((at, oldest)) = self.writes.pop_front() else {
                break;
            };
            self.rows -= oldest.len();
            self.start = at;
        }
    }

    /// Forgets every write before `version`: no view built before it can be brought up
    /// to date (the named bitmaps were renumbered).
    fn restart(&mut self, version: u64) {
        *self = Journal {
            start: version,
            ..Journal::default()
        };
    }

    /// The rows written after `version`, or `None` when the journal no longer knows.
    fn since(&self, version: u64) -> Option<RoaringBitmap> {
        (version >= self.start).then(|| {
            let after = self.writes.iter().filter(|(at, _)| *at > version);
            roaring::MultiOps::union(after.map(|(_, rows)| rows))
        })
    }
}

#[derive(Debug, Default)]
struct Held {
    views: HashMap<ViewKey, (u64, Arc<Words>)>,
    journal: Journal,
    /// The write count of the last ask: views of `Other` bitmaps from before it are gone.
    seen: u64,
}

/// The views built so far, each with the write count it was built or brought up to date
/// at, and the journal of the rows written since.
#[derive(Debug, Default)]
pub struct WordViews(Mutex<Held>);

impl Clone for WordViews {
    fn clone(&self) -> Self {
        WordViews::default()
    }
}

impl WordViews {
    /// `bitmap`'s view at write count `version`, over `rows` rows: held, brought up to
    /// date, or built.
    pub fn get(
        &self,
        version: u64,
        key: ViewKey,
        bitmap: &RoaringBitmap,
        rows: usize,
    ) -> Arc<Words> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if held.seen != version {
            held.forget_before(version);
        }
        let current = match held.views.remove(&key) {
            Some((at, view)) if at == version => return Self::keep(&mut held, key, at, view),
            Some((at, view)) if matches!(key, ViewKey::Named(..)) => held
                .journal
                .since(at)
                .filter(|touched| touched.len() * 64 < rows as u64)
                .map(|touched| {
                    let mut words = Arc::try_unwrap(view).unwrap_or_else(|v| (*v).clone());
                    words.patch(bitmap, &touched, rows);
                    words
                }),
            _ => None,
        };
        let view = Arc::new(current.unwrap_or_else(|| words_of(bitmap, rows)));
        Self::keep(&mut held, key, version, view)
    }

    fn keep(held: &mut Held, key: ViewKey, version: u64, view: Arc<Words>) -> Arc<Words> {
        held.views.insert(key, (version, Arc::clone(&view)));
        view
    }

    /// Notes that write `version` touched `rows` (a writer holds the store). With no view
    /// built, none needs the writes: a view built later starts from a later version.
    pub fn record(&mut self, version: u64, rows: &RoaringBitmap) {
        let held = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        match held.views.is_empty() {
            true => held.journal.restart(version),
            false => held.journal.record(version, rows.clone()),
        }
    }

    /// Notes that write `version` renumbered named bitmaps: every view is built again.
    pub fn restart(&mut self, version: u64) {
        let held = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        held.journal.restart(version);
        held.views.clear();
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.views
            .values()
            .map(|(_, w)| w.words.capacity() * 8)
            .sum()
    }
}

impl Held {
    /// Drops the views that can no longer be used at `version`.
    fn forget_before(&mut self, version: u64) {
        let start = self.journal.start;
        self.views.retain(|key, (at, _)| match key {
            ViewKey::Named(..) => *at >= start,
            ViewKey::Other(_) => *at == version,
        });
        self.seen = version;
    }
}

/// `bitmap`'s rows below `rows` as words, chunk by chunk in parallel: each chunk from its
/// container in the bitmap's serialized form (a dense one's words copied whole), else
/// row by row.
pub fn words_of(bitmap: &RoaringBitmap, rows: usize) -> Words {
    let mut words = vec![0u64; rows.div_ceil(64)];
    let serialized = Serialized::of(bitmap);
    match serialized.containers() {
        Some(containers) => words
            .par_chunks_mut(CHUNK_WORDS)
            .enumerate()
            .for_each(|(i, chunk)| {
                if let Ok(at) = containers.binary_search_by_key(&i, |c| usize::from(c.key)) {
                    containers[at].set(chunk);
                }
            }),
        None => (words.par_chunks_mut(CHUNK_WORDS).enumerate())
            .for_each(|(i, chunk)| set_chunk(bitmap, i, chunk)),
    }
    if let Some(last) = words.last_mut().filter(|_| !rows.is_multiple_of(64)) {
        *last &= (1 << (rows % 64)) - 1;
    }
    let chunk_rows = (words.chunks(CHUNK_WORDS))
        .map(|chunk| chunk.iter().map(|w| w.count_ones()).sum())
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
    fn dense_and_run_containers_give_the_same_words_as_row_by_row() {
        let mut bitmap: RoaringBitmap = (0..140_000u32).filter(|r| r % 5 != 0).collect();
        bitmap.insert_range(140_100..190_000);
        let rows = 180_003;
        for optimized in [false, true] {
            if optimized {
                bitmap.optimize();
            }
            let view = words_of(&bitmap, rows);
            for row in 0..view.words.len() * 64 {
                let set = view.words[row / 64] >> (row % 64) & 1 == 1;
                assert_eq!(set, row < rows && bitmap.contains(row as u32), "row {row}");
            }
            let counted: Vec<u32> = (0..rows.div_ceil(CHUNK_ROWS))
                .map(|i| {
                    bitmap.range_cardinality(
                        (i * CHUNK_ROWS) as u32..((i + 1) * CHUNK_ROWS).min(rows) as u32,
                    ) as u32
                })
                .collect();
            assert_eq!(view.chunk_rows, counted);
        }
    }

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
