//! `TextColumn`: an optional-string column (email, phone, member id, store,
//! salesperson) with its equality index and its "present" bitmap.

use std::borrow::Cow;
use std::sync::OnceLock;

use roaring::RoaringBitmap;

use super::postings::{EqIndex, matching};
use super::strings::StrColumn;

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

/// Optional row → value, indexed for equality. Values live in a dense [`StrColumn`] (an
/// empty string is "no value"), so a row costs one 8-byte span whether or not it has one,
/// and reading, writing and saving need no allocation per value.
#[derive(Clone, Debug)]
pub struct TextColumn {
    rule: MatchRule,
    values: StrColumn,
    /// Built on first use: opening a store does not pay for it.
    index: OnceLock<EqIndex>,
    present: RoaringBitmap,
}

impl TextColumn {
    /// An empty column comparing by `rule`.
    pub fn new(rule: MatchRule) -> TextColumn {
        TextColumn {
            rule,
            values: StrColumn::default(),
            index: OnceLock::new(),
            present: RoaringBitmap::new(),
        }
    }

    /// The value of `row`.
    pub fn get(&self, row: u32) -> Option<&str> {
        Some(self.values.get(row)).filter(|v| !v.is_empty())
    }

    /// Sets or clears the value of `row` (an empty value clears it).
    pub fn set(&mut self, row: u32, value: Option<&str>) {
        let value = value.filter(|v| !v.is_empty());
        if self.get(row) == value {
            return;
        }
        self.index();
        let index = match self.index.get_mut() {
            Some(index) => index,
            None => unreachable!("initialized above"),
        };
        let old = Some(self.values.get(row)).filter(|v| !v.is_empty());
        if let Some(old) = old {
            index.remove(&self.rule.key(old), row);
            self.present.remove(row);
        }
        self.values.set(row, value.unwrap_or_default());
        if let Some(value) = value {
            let (rule, values) = (self.rule, &self.values);
            index.insert(&rule.key(value), row, |r| rule.key(values.get(r)));
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
            for (row, value) in self.iter() {
                index.insert(&self.rule.key(value), row, |r| {
                    self.rule.key(self.values.get(r))
                });
            }
            index
        })
    }

    /// A column holding `values`, which are non-empty exactly on the rows of `present`
    /// (from a snapshot or a bulk load); the index is built on first use.
    pub fn from_strings(rule: MatchRule, values: StrColumn, present: RoaringBitmap) -> TextColumn {
        TextColumn {
            rule,
            values,
            index: OnceLock::new(),
            present,
        }
    }

    /// Appends the values of new rows `base..` (non-empty on the batch rows `present`).
    pub fn append(&mut self, values: &StrColumn, base: u32, present: &[u32]) {
        self.values.append(values);
        if !present.is_empty() {
            self.index = OnceLock::new();
        }
        let shifted = present.iter().map(|&r| base + r);
        if self.present.append(shifted.clone()).is_err() {
            self.present.extend(shifted);
        }
    }

    /// Makes room for `additional` more rows.
    pub fn reserve(&mut self, additional: usize) {
        self.values.reserve(additional, 0);
    }

    /// How the column compares values.
    pub fn rule(&self) -> MatchRule {
        self.rule
    }

    /// Rows that have a value.
    pub fn present(&self) -> &RoaringBitmap {
        &self.present
    }

    /// The values, one per row, empty for none.
    pub fn strings(&self) -> &StrColumn {
        &self.values
    }

    /// Every (row, value), in row order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        self.present.iter().map(|row| (row, self.values.get(row)))
    }

    /// Approximate bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.values.heap_bytes()
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
