//! `Registry`: named sets of rows (tags, accounts) with a dense code per name, one roaring
//! bitmap per name, and each name's creation time.

use hashbrown::HashMap;
use roaring::RoaringBitmap;

use crate::model::Seconds;
use crate::store::files::lazy::Lazy;

/// One named set.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Box<str>,
    pub created_at: Seconds,
    /// Read from the data file when first used.
    pub rows: Lazy<RoaringBitmap>,
}

/// Names → codes → row bitmaps. Codes are dense and stable until a name is deleted.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<Entry>,
    codes: HashMap<Box<str>, u32>,
}

impl Registry {
    /// The code of `name`, creating it (with no rows) at `now` if needed.
    pub fn intern(&mut self, name: &str, now: Seconds) -> u32 {
        if let Some(&code) = self.codes.get(name) {
            return code;
        }
        let code = self.entries.len() as u32;
        self.entries.push(Entry {
            name: name.into(),
            created_at: now,
            rows: Lazy::default(),
        });
        self.codes.insert(name.into(), code);
        code
    }

    /// The code of `name`, if it exists.
    pub fn code(&self, name: &str) -> Option<u32> {
        self.codes.get(name).copied()
    }

    /// The entry of `code`.
    pub fn entry(&self, code: u32) -> &Entry {
        &self.entries[code as usize]
    }

    /// The rows of `code`, for changing them.
    pub fn rows_mut(&mut self, code: u32) -> &mut RoaringBitmap {
        &mut self.entries[code as usize].rows
    }

    /// The rows of `name` (`None` when the name does not exist).
    pub fn rows(&self, name: &str) -> Option<&RoaringBitmap> {
        self.code(name).map(|c| &*self.entries[c as usize].rows)
    }

    /// The code whose rows `rows` is (the very bitmap, not an equal one).
    pub fn code_of(&self, rows: &RoaringBitmap) -> Option<u32> {
        let first = std::ptr::from_ref(self.entries.first()?) as usize;
        let offset = (std::ptr::from_ref(rows) as usize).checked_sub(first)?;
        let code = offset / std::mem::size_of::<Entry>();
        let entry = self.entries.get(code)?.rows.loaded()?;
        std::ptr::eq(entry, rows).then_some(code as u32)
    }

    /// Every entry, by code.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Removes the names for which `drop` is true; codes are renumbered densely.
    /// Returns the old-code → new-code map (`None` for removed names).
    pub fn remove_where(&mut self, mut drop: impl FnMut(&Entry) -> bool) -> Vec<Option<u32>> {
        let mut remap = Vec::with_capacity(self.entries.len());
        let mut kept = Vec::with_capacity(self.entries.len());
        for entry in std::mem::take(&mut self.entries) {
            if drop(&entry) {
                remap.push(None);
            } else {
                remap.push(Some(kept.len() as u32));
                kept.push(entry);
            }
        }
        self.entries = kept;
        self.codes = self
            .entries
            .iter()
            .enumerate()
            .map(|(code, e)| (e.name.clone(), code as u32))
            .collect();
        remap
    }

    /// Rebuilds a registry from entries (from a snapshot).
    pub fn from_entries(entries: Vec<Entry>) -> Registry {
        let mut registry = Registry {
            entries,
            codes: HashMap::new(),
        };
        registry.remove_where(|_| false);
        registry
    }

    /// Approximate bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.rows.loaded().map_or(0, |r| r.serialized_size()) + 2 * e.name.len() + 64)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intern_keeps_first_creation_time_and_remove_renumbers() {
        let mut reg = Registry::default();
        let a = reg.intern("a", 10);
        let b = reg.intern("b", 20);
        assert_eq!(reg.intern("a", 99), a);
        assert_eq!(reg.entry(a).created_at, 10);
        reg.rows_mut(b).insert(7);
        let remap = reg.remove_where(|e| &*e.name == "a");
        assert_eq!(remap, [None, Some(0)]);
        assert_eq!(reg.code("b"), Some(0));
        assert_eq!(reg.rows("b").map(|r| r.len()), Some(1));
        assert!(reg.rows("a").is_none());
    }
}
