//! `EqIndex`: an equality index from a string key to the rows holding it, keyed by a 64-bit
//! hash with the rows' real values checked at lookup, so collisions never leak into results.

use hashbrown::{DefaultHashBuilder, HashMap};
use roaring::RoaringBitmap;
use std::hash::BuildHasher;

/// The rows of one key: most keys (emails, phones) belong to one row.
#[derive(Clone, Debug)]
enum Postings {
    One(u32),
    Many(RoaringBitmap),
}

/// Hash of key → rows. The caller verifies candidates against the stored values.
#[derive(Clone, Debug, Default)]
pub struct EqIndex {
    hasher: DefaultHashBuilder,
    map: HashMap<u64, Postings>,
}

impl EqIndex {
    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Records that `row` holds `key`.
    pub fn insert(&mut self, key: &str, row: u32) {
        let hash = self.hash(key);
        match self.map.get_mut(&hash) {
            None => {
                self.map.insert(hash, Postings::One(row));
            }
            Some(Postings::One(other)) if *other == row => {}
            Some(entry @ Postings::One(_)) => {
                if let Postings::One(other) = *entry {
                    *entry = Postings::Many(RoaringBitmap::from_iter([other, row]));
                }
            }
            Some(Postings::Many(rows)) => {
                rows.insert(row);
            }
        }
    }

    /// Forgets that `row` holds `key`.
    pub fn remove(&mut self, key: &str, row: u32) {
        let hash = self.hash(key);
        let empty = match self.map.get_mut(&hash) {
            Some(Postings::One(other)) => *other == row,
            Some(Postings::Many(rows)) => {
                rows.remove(row);
                rows.is_empty()
            }
            None => false,
        };
        if empty {
            self.map.remove(&hash);
        }
    }

    /// The rows that may hold `key` (a superset when two keys share a hash).
    pub fn candidates(&self, key: &str) -> RoaringBitmap {
        match self.map.get(&self.hash(key)) {
            None => RoaringBitmap::new(),
            Some(Postings::One(row)) => RoaringBitmap::from_iter([*row]),
            Some(Postings::Many(rows)) => rows.clone(),
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
                Postings::Many(rows) => rows.serialized_size(),
            })
            .sum();
        buckets + bitmaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove_and_lookup() {
        let mut index = EqIndex::default();
        index.insert("a", 1);
        index.insert("a", 1);
        index.insert("a", 5);
        index.insert("b", 2);
        assert_eq!(index.candidates("a").iter().collect::<Vec<_>>(), [1, 5]);
        index.remove("a", 1);
        assert_eq!(index.candidates("a").iter().collect::<Vec<_>>(), [5]);
        index.remove("a", 5);
        assert!(index.candidates("a").is_empty());
        assert_eq!(index.candidates("b").len(), 1);
        assert!(index.candidates("zzz").is_empty());
    }
}
