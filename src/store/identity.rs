//! `IdentityMap`: (account code, external id) → row, storing only row ids in the table
//! (the external ids themselves live in the store's string column).

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::strings::StrColumn;

/// A hash table of row ids keyed by identity; the caller passes the columns to compare with.
#[derive(Clone, Debug, Default)]
pub struct IdentityMap {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
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
        self.table
            .find(hash, |&row| {
                accounts[row as usize] == account && ids.get(row) == external_id
            })
            .copied()
    }

    /// Adds `row`, whose identity is already written in the columns.
    pub fn insert(&mut self, row: u32, accounts: &[u32], ids: &StrColumn) {
        let hash = self.hash(accounts[row as usize], ids.get(row));
        let hasher = &self.hasher;
        self.table.insert_unique(hash, row, |&r| {
            hasher.hash_one((accounts[r as usize], ids.get(r)))
        });
    }

    /// Adds `row` unless another row has its identity; then returns that row.
    pub fn insert_new(&mut self, row: u32, accounts: &[u32], ids: &StrColumn) -> Result<(), u32> {
        let (account, id) = (accounts[row as usize], ids.get(row));
        let hash = self.hash(account, id);
        let hasher = &self.hasher;
        let entry = self.table.entry(
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
        if let Ok(entry) = self.table.find_entry(hash, |&r| r == row) {
            entry.remove();
        }
    }

    /// A map of rows `0..rows`, hashing in parallel.
    pub fn build(rows: u32, accounts: &[u32], ids: &StrColumn) -> IdentityMap {
        let mut map = IdentityMap::default();
        map.insert_all(rows, accounts, ids);
        map
    }

    /// Adds rows `0..rows` of freshly loaded columns, hashing in parallel. Returns false if
    /// two rows share an identity (the later ones are then left out).
    fn insert_all(&mut self, rows: u32, accounts: &[u32], ids: &StrColumn) -> bool {
        use rayon::prelude::*;
        let hasher = &self.hasher;
        let hashes: Vec<u64> = (0..rows)
            .into_par_iter()
            .map(|r| hasher.hash_one((accounts[r as usize], ids.get(r))))
            .collect();
        self.table.reserve(rows as usize, |&r| hashes[r as usize]);
        let mut unique = true;
        for (row, &hash) in hashes.iter().enumerate() {
            let row = row as u32;
            let same = |&r: &u32| {
                accounts[r as usize] == accounts[row as usize] && ids.get(r) == ids.get(row)
            };
            if self.table.find(hash, same).is_some() {
                unique = false;
                continue;
            }
            self.table.insert_unique(hash, row, |&r| hashes[r as usize]);
        }
        unique
    }

    /// Reserves room for `additional` rows, if memory allows.
    pub fn reserve(&mut self, additional: usize, accounts: &[u32], ids: &StrColumn) {
        let hasher = &self.hasher;
        let _ = self.table.try_reserve(additional, |&r| {
            hasher.hash_one((accounts[r as usize], ids.get(r)))
        });
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.table.capacity() * 5
    }
}
