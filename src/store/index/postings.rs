//! `EqIndex`: an equality index from a string key to the rows holding it, keyed by a 64-bit
//! hash with the rows' real values checked at lookup, so collisions never leak into results.

use hashbrown::{DefaultHashBuilder, HashMap};
use roaring::RoaringBitmap;
use std::borrow::Cow;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, Ordering};

/// Lookups answered by scanning the column before its index is built: a process that looks
/// a value up a few times (one command) never pays for an index (seconds at 10M rows); one
/// that keeps asking (the REPL, a server) builds it at the next lookup.
pub const SCANS_BEFORE_INDEX: u32 = 4;

/// Counts the lookups a column answered by scanning (or the time ranges a time column
/// answered without sorting its chunks: `store::time`). A clone starts again from none.
#[derive(Debug, Default)]
pub struct Scans(AtomicU32);

impl Clone for Scans {
    fn clone(&self) -> Self {
        Scans::default()
    }
}

impl Scans {
    /// Whether this lookup should scan rather than build the index (counting it).
    pub fn scan_instead(&self) -> bool {
        !self.spent() && self.0.fetch_add(1, Ordering::Relaxed) < SCANS_BEFORE_INDEX
    }

    /// Whether the scans are spent: the next lookup builds the index.
    pub fn spent(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= SCANS_BEFORE_INDEX
    }

    /// Spends the scans now: a process that will keep asking (a REPL) builds at once.
    pub fn spend(&self) {
        self.0.fetch_max(SCANS_BEFORE_INDEX, Ordering::Relaxed);
    }
}

/// The rows of one hash.
#[derive(Clone, Debug)]
enum Postings {
    /// One row: its stored value must be checked against the key.
    One(u32),
    /// Several rows that all hold `key`: no check needed.
    Many { key: Box<str>, rows: RoaringBitmap },
    /// Rows holding different keys with the same hash: each must be checked.
    Collided(RoaringBitmap),
}

/// Rows that may hold a key, and whether they are known to hold it.
pub struct Candidates {
    pub rows: RoaringBitmap,
    pub verified: bool,
}

/// Hash of key → rows. Most keys (emails, phones) belong to one row; a key shared by many
/// rows (a store, a common name) remembers itself, so looking it up costs no per-row check.
#[derive(Clone, Debug, Default)]
pub struct EqIndex {
    hasher: DefaultHashBuilder,
    map: HashMap<u64, Postings>,
}

impl EqIndex {
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// An index of the rows of `rows`, folding keys in parallel.
    pub fn build<'k>(rows: &RoaringBitmap, key_of: impl Fn(u32) -> Cow<'k, str> + Sync) -> EqIndex {
        use rayon::prelude::*;
        let span = rows.max().map_or(0, |max| max + 1);
        let keys: Vec<Cow<'k, str>> = (0..span).into_par_iter().map(&key_of).collect();
        let mut index = EqIndex::default();
        for row in rows {
            index.insert(&keys[row as usize], row, |r| keys[r as usize].clone());
        }
        index
    }

    /// Records that `row` holds `key`; `key_of` gives the key another row holds.
    pub fn insert<'k>(&mut self, key: &str, row: u32, key_of: impl Fn(u32) -> Cow<'k, str>) {
        let hash = self.hash(key);
        let Some(entry) = self.map.get_mut(&hash) else {
            self.map.insert(hash, Postings::One(row));
            return;
        };
        match entry {
            Postings::One(other) if *other == row => {}
            Postings::One(other) => {
                let rows = RoaringBitmap::from_iter([*other, row]);
                *entry = if key_of(*other) == key {
                    Postings::Many {
                        key: key.into(),
                        rows,
                    }
                } else {
                    Postings::Collided(rows)
                };
            }
            Postings::Many { key: held, rows } if **held == *key => {
                rows.insert(row);
            }
            Postings::Many { rows, .. } => {
                let mut rows = std::mem::take(rows);
                rows.insert(row);
                *entry = Postings::Collided(rows);
            }
            Postings::Collided(rows) => {
                rows.insert(row);
            }
        }
    }

    /// Forgets that `row` holds `key`.
    pub fn remove(&mut self, key: &str, row: u32) {
        let hash = self.hash(key);
        let empty = match self.map.get_mut(&hash) {
            Some(Postings::One(other)) => *other == row,
            Some(Postings::Many { rows, .. } | Postings::Collided(rows)) => {
                rows.remove(row);
                rows.is_empty()
            }
            None => false,
        };
        if empty {
            self.map.remove(&hash);
        }
    }

    /// The rows that may hold `key`.
    pub fn candidates(&self, key: &str) -> Candidates {
        let (rows, verified) = match self.map.get(&self.hash(key)) {
            None => (RoaringBitmap::new(), true),
            Some(Postings::One(row)) => (RoaringBitmap::from_iter([*row]), false),
            Some(Postings::Many { key: held, rows }) if **held == *key => (rows.clone(), true),
            Some(Postings::Many { .. }) => (RoaringBitmap::new(), true),
            Some(Postings::Collided(rows)) => (rows.clone(), false),
        };
        Candidates { rows, verified }
    }

    /// The rows of `key` when several rows hold it (known without a check), in place.
    pub fn shared(&self, key: &str) -> Option<&RoaringBitmap> {
        match self.map.get(&self.hash(key)) {
            Some(Postings::Many { key: held, rows }) if **held == *key => Some(rows),
            _ => None,
        }
    }

    /// Approximate bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        let buckets = self.map.capacity() * (std::mem::size_of::<(u64, Postings)>() + 1);
        let bitmaps: usize = self
            .map
            .values()
            .map(|p| match p {
                Postings::One(_) => 0,
                Postings::Many { key, rows } => key.len() + rows.serialized_size(),
                Postings::Collided(rows) => rows.serialized_size(),
            })
            .sum();
        buckets + bitmaps
    }
}

/// The rows of `key`: candidates, checked against `key_of` unless already verified.
pub fn matching<'k>(
    index: &EqIndex,
    key: &str,
    key_of: impl Fn(u32) -> Cow<'k, str>,
) -> RoaringBitmap {
    let Candidates { mut rows, verified } = index.candidates(key);
    if !verified {
        rows.retain(|row| key_of(row) == key);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_and_lookup() {
        let keys = |r: u32| Cow::Borrowed(if r == 2 { "b" } else { "a" });
        let mut index = EqIndex::default();
        index.insert("a", 1, keys);
        index.insert("a", 1, keys);
        index.insert("a", 5, keys);
        index.insert("b", 2, keys);
        let rows = |index: &EqIndex, key| matching(index, key, keys).iter().collect::<Vec<_>>();
        assert_eq!(rows(&index, "a"), [1, 5]);
        assert!(index.candidates("a").verified);
        assert_eq!(index.shared("a").map(|r| r.len()), Some(2));
        assert_eq!(index.shared("b"), None, "one row is checked, not shared");
        index.remove("a", 1);
        assert_eq!(rows(&index, "a"), [5]);
        index.remove("a", 5);
        assert!(rows(&index, "a").is_empty());
        assert_eq!(rows(&index, "b"), [2]);
        assert!(rows(&index, "zzz").is_empty());
    }
}
