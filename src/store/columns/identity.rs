//! `IdentityMap`: (account code, external id) → row, storing only row ids in the tables
//! (the external ids themselves live in the store's string column). The map is split by
//! hash into a few tables so that building it for a freshly read store runs on every core.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::strings::StrColumn;

/// Tables the map is split into (by the top bits of the hash).
const PARTS: usize = 4;

/// Hash tables of row ids keyed by identity; the caller passes the columns to compare with.
#[derive(Clone, Debug, Default)]
pub struct IdentityMap {
    hasher: DefaultHashBuilder,
    tables: [HashTable<u32>; PARTS],
}

/// The table a hash belongs to.
fn part(hash: u64) -> usize {
    (hash >> 62) as usize
}

impl IdentityMap {
    fn hash(&self, account: u32, external_id: &str) -> u64 {
        self.hasher.hash_one((account, external_id))
    }

    /// The row of an identity.
    pub fn find(
        &self,
        account: u32,
        external_id: &str,
        accounts: &[u32],
        ids: &StrColumn,
    ) -> Option<u32> {
        let hash = self.hash(account, external_id);
        self.tables[part(hash)]
            .find(hash, |&row| {
                accounts[row as usize] == account && ids.get(row) == external_id
            })
            .copied()
    }

    /// Adds `row`, whose identity is already written in the columns.
    pub fn insert(&mut self, row: u32, accounts: &[u32], ids: &StrColumn) {
        let hash = self.hash(accounts[row as usize], ids.get(row));
        let hasher = &self.hasher;
        self.tables[part(hash)].insert_unique(hash, row, |&r| {
            hasher.hash_one((accounts[r as usize], ids.get(r)))
        });
    }

    /// Adds `row` unless another row has its identity; then returns that row.
    pub fn insert_new(&mut self, row: u32, accounts: &[u32], ids: &StrColumn) -> Result<(), u32> {
        let (account, id) = (accounts[row as usize], ids.get(row));
        let hash = self.hash(account, id);
        let hasher = &self.hasher;
        let entry = self.tables[part(hash)].entry(
            hash,
            |&r| accounts[r as usize] == account && ids.get(r) == id,
            |&r| hasher.hash_one((accounts[r as usize], ids.get(r))),
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(held) => Err(*held.get()),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(row);
                Ok(())
            }
        }
    }

    /// Removes `row`.
    pub fn remove(&mut self, row: u32, accounts: &[u32], ids: &StrColumn) {
        let hash = self.hash(accounts[row as usize], ids.get(row));
        if let Ok(entry) = self.tables[part(hash)].find_entry(hash, |&r| r == row) {
            entry.remove();
        }
    }

    /// A map of the `live` rows, hashing and filling the tables in parallel. Rows that
    /// repeat an earlier row's identity are left out.
    pub fn build(live: &roaring::RoaringBitmap, accounts: &[u32], ids: &StrColumn) -> IdentityMap {
        use rayon::prelude::*;
        let mut map = IdentityMap::default();
        let hasher = &map.hasher;
        let rows = accounts.len() as u32;
        let hashes: Vec<u64> = (0..rows)
            .into_par_iter()
            .map(|r| hasher.hash_one((accounts[r as usize], ids.get(r))))
            .collect();
        let rehash = |&r: &u32| hashes[r as usize];
        map.tables
            .par_iter_mut()
            .enumerate()
            .for_each(|(p, table)| {
                table.reserve(rows as usize / PARTS + rows as usize / 64, rehash);
                for (row, &hash) in hashes.iter().enumerate() {
                    let row = row as u32;
                    if part(hash) != p || !live.contains(row) {
                        continue;
                    }
                    let same = |&r: &u32| {
                        accounts[r as usize] == accounts[row as usize] && ids.get(r) == ids.get(row)
                    };
                    if table.find(hash, same).is_none() {
                        table.insert_unique(hash, row, rehash);
                    }
                }
            });
        map
    }

    /// Reserves room for `additional` rows, if memory allows.
    pub fn reserve(&mut self, additional: usize, accounts: &[u32], ids: &StrColumn) {
        let hasher = &self.hasher;
        for table in &mut self.tables {
            let _ = table.try_reserve(additional / PARTS + 1, |&r| {
                hasher.hash_one((accounts[r as usize], ids.get(r)))
            });
        }
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.tables.iter().map(|t| t.capacity() * 5).sum()
    }
}
