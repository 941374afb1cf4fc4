//! `TextColumn`: a sparse optional-string column (email, phone, member id, store,
//! salesperson) with its equality index and its "present" bitmap.

use std::borrow::Cow;
use std::sync::OnceLock;

use hashbrown::HashMap;
use roaring::RoaringBitmap;

use super::postings::{EqIndex, matching};

/// How a text field's values are compared by segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchRule {
    /// Byte-for-byte.
    Exact,
    /// After Unicode lower-casing (and trimming) both sides.
    Folded,
}

impl MatchRule {
    /// The key a value is indexed and looked up under.
    pub fn key(self, value: &str) -> Cow<'_, str> {
        match self {
            MatchRule::Exact => Cow::Borrowed(value),
            MatchRule::Folded => fold(value),
        }
    }
}

/// Trims surrounding white space and lower-cases (Unicode), as `name:` and `email:` compare.
/// Borrows when the value is already folded.
pub fn fold(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim();
    let changes = |c: char| {
        let mut lower = c.to_lowercase();
        !(lower.next() == Some(c) && lower.next().is_none())
    };
    if trimmed.chars().any(changes) {
        Cow::Owned(trimmed.to_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// Sparse row → value, indexed for equality.
#[derive(Clone, Debug)]
pub struct TextColumn {
    rule: MatchRule,
    values: HashMap<u32, Box<str>>,
    /// Built on first use: opening a store does not pay for it.
    index: OnceLock<EqIndex>,
    present: RoaringBitmap,
}

impl TextColumn {
    /// An empty column comparing by `rule`.
    pub fn new(rule: MatchRule) -> TextColumn {
        TextColumn {
            rule,
            values: HashMap::new(),
            index: OnceLock::new(),
            present: RoaringBitmap::new(),
        }
    }

    /// The value of `row`.
    pub fn get(&self, row: u32) -> Option<&str> {
        self.values.get(&row).map(|v| &**v)
    }

    /// Sets or clears the value of `row`.
    pub fn set(&mut self, row: u32, value: Option<&str>) {
        if self.get(row) == value {
            return;
        }
        self.index();
        let index = match self.index.get_mut() {
            Some(index) => index,
            None => unreachable!("initialized above"),
        };
        if let Some(old) = self.values.remove(&row) {
            index.remove(&self.rule.key(&old), row);
            self.present.remove(row);
        }
        if let Some(value) = value {
            let (rule, values) = (self.rule, &self.values);
            index.insert(&rule.key(value), row, |r| {
                values.get(&r).map_or(Cow::Borrowed(""), |v| rule.key(v))
            });
            self.values.insert(row, value.into());
            self.present.insert(row);
        }
    }

    /// Rows whose value matches `value` under the column's rule.
    pub fn matching(&self, value: &str) -> RoaringBitmap {
        let key = self.rule.key(value);
        matching(self.index(), &key, |r| {
            self.get(r)
                .map_or(Cow::Borrowed("\u{0}"), |v| self.rule.key(v))
        })
    }

    fn index(&self) -> &EqIndex {
        self.index.get_or_init(|| {
            let mut index = EqIndex::default();
            for (&row, value) in &self.values {
                index.insert(&self.rule.key(value), row, |r| {
                    self.values
                        .get(&r)
                        .map_or(Cow::Borrowed(""), |v| self.rule.key(v))
                });
            }
            index
        })
    }

    /// A column holding `values` (from a snapshot); the index is built on first use.
    pub fn from_values(rule: MatchRule, values: Vec<(u32, Box<str>)>) -> TextColumn {
        let present = values.iter().map(|(row, _)| *row).collect();
        TextColumn {
            rule,
            values: values.into_iter().collect(),
            index: OnceLock::new(),
            present,
        }
    }

    /// How the column compares values.
    pub fn rule(&self) -> MatchRule {
        self.rule
    }

    /// Rows that have a value.
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// Every (row, value), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.values.iter().map(|(row, v)| (*row, &**v))
    }

    /// Approximate bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        let entries = self.values.capacity() * (std::mem::size_of::<(u32, Box<str>)>() + 1);
        let strings: usize = self.values.values().map(|v| v.len().max(16)).sum();
        entries
            + strings
            + self.index.get().map_or(0, EqIndex::heap_bytes)
            + self.present.serialized_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_match_and_present() {
        let mut col = TextColumn::new(MatchRule::Folded);
        col.set(3, Some("Ann@Example.com"));
        col.set(4, Some("ann@example.com "));
        assert_eq!(col.matching("ANN@example.COM").len(), 2);
        col.set(3, None);
        assert_eq!(col.matching("ann@example.com").len(), 1);
        assert_eq!(col.present().len(), 1);
    }

    #[test]
    fn exact_match_is_case_sensitive() {
        let mut col = TextColumn::new(MatchRule::Exact);
        col.set(1, Some("E042"));
        assert_eq!(col.matching("E042").len(), 1);
        assert!(col.matching("e042").is_empty());
    }
}
