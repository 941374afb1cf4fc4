//! `TextColumn`: an optional-string column (email, phone, member id, store,
//! salesperson) with its equality index and its "present" bitmap.
//!
//! Only rows with a value are kept: their row ids sorted beside a string arena, and an
//! ordered overlay for values set out of row order (folded back in when a snapshot is
//! written). The equality index (value hash → rows, each checked against the stored
//! value) is built on the first query and kept exact by every write from then on.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use roaring::RoaringBitmap;

use super::strings::StrColumn;
pub use crate::model::MatchRule;
use crate::store::index::postings::{EqIndex, matching};

/// Optional row → value, indexed for equality, costing memory only for rows with a value.
///
/// Values sit in a [`StrColumn`] beside the sorted list of their rows, so that a load or
/// an append is array copies and a walk in row order is a merge. A value set on a row
/// before the last one goes to a small ordered overlay, folded into the arrays once it
/// grows. `present` is the truth: entries of rows no longer present are dead until the
/// next fold (or snapshot).
#[derive(Clone, Debug)]
pub struct TextColumn {
    rule: MatchRule,
    /// Ascending rows; `values` holds the value of `rows[i]` at `i`.
    rows: Vec<u32>,
    values: StrColumn,
    overlay: BTreeMap<u32, Box<str>>,
    present: RoaringBitmap,
    /// Built at the first indexed lookup (the store scans a process's first few).
    index: OnceLock<EqIndex>,
}

/// Overlay entries that trigger a fold: a fold costs a pass over the arrays, so it waits
/// until the overlay holds a sizeable share of them.
const FOLD_AT: usize = 4096;

/// An empty column of exact matches (what a part that failed to read reads as).
impl Default for TextColumn {
    fn default() -> Self {
        TextColumn::new(MatchRule::Exact)
    }
}

impl TextColumn {
    /// An empty column comparing by `rule`.
    pub fn new(rule: MatchRule) -> TextColumn {
        TextColumn {
            rule,
            rows: Vec::new(),
            values: StrColumn::default(),
            overlay: BTreeMap::new(),
            present: RoaringBitmap::new(),
            index: OnceLock::new(),
        }
    }

    /// The value of `row`.
    pub fn get(&self, row: u32) -> Option<&str> {
        if !self.present.contains(row) {
            return None;
        }
        self.stored(row)
    }

    /// The entry of `row` (dead or alive).
    fn stored(&self, row: u32) -> Option<&str> {
        match self.rows.binary_search(&row) {
            Ok(i) => Some(self.values.get(i as u32)),
            Err(_) => self.overlay.get(&row).map(|v| &**v),
        }
    }

    /// The key the entry of `row` is indexed under ("" for none), for the index to check.
    fn stored_key(&self, row: u32) -> Cow<'_, str> {
        self.stored(row)
            .map_or(Cow::Borrowed(""), |v| self.rule.key(v))
    }

    /// Sets or clears the value of `row` (an empty value clears it).
    pub fn set(&mut self, row: u32, value: Option<&str>) {
        let value = value.filter(|v| !v.is_empty());
        if self.get(row) == value {
            return;
        }
        // An index not built yet will be built from the values as they are then.
        let mut index = self.index.take();
        if let (Some(index), Some(old)) = (index.as_mut(), self.get(row)) {
            index.remove(&self.rule.key(old), row);
        }
        self.present.remove(row);
        if let Some(value) = value {
            self.store(row, value);
            self.present.insert(row);
            if let Some(index) = index.as_mut() {
                index.insert(&self.rule.key(value), row, |r| self.stored_key(r));
            }
        } else {
            self.overlay.remove(&row);
        }
        if let Some(index) = index {
            self.index = OnceLock::from(index);
        }
        if self.overlay.len() >= FOLD_AT.max(self.rows.len() / 8) {
            self.fold();
        }
    }

    /// Writes the entry of `row`: in place, at the end of the arrays, or in the overlay.
    fn store(&mut self, row: u32, value: &str) {
        match self.rows.binary_search(&row) {
            Ok(i) => self.values.set(i as u32, value),
            // Past the last row (overlay rows are all before it).
            Err(i) if i == self.rows.len() => {
                self.rows.push(row);
                self.values.push(value);
            }
            Err(_) => {
                self.overlay.insert(row, value.into());
            }
        }
    }

    /// Merges the overlay into the arrays and drops dead entries.
    fn fold(&mut self) {
        let mut rows = Vec::with_capacity(self.present.len() as usize);
        let mut values = StrColumn::default();
        for (row, value) in self.iter() {
            rows.push(row);
            values.push(value);
        }
        self.rows = rows;
        self.values = values;
        self.overlay.clear();
    }

    /// Whether the equality index is built.
    pub fn is_indexed(&self) -> bool {
        self.index.get().is_some()
    }

    /// Rows whose value matches `value` under the column's rule, found by reading every
    /// value (no index built).
    pub fn scan_matching(&self, value: &str) -> RoaringBitmap {
        let key = self.rule.key(value);
        let found = (self.iter()).filter(|(_, v)| self.rule.key(v) == key);
        RoaringBitmap::from_sorted_iter(found.map(|(row, _)| row)).unwrap_or_default()
    }

    /// Rows whose value matches `value` under the column's rule, through the equality
    /// index (built now if it is not yet).
    pub fn matching(&self, value: &str) -> RoaringBitmap {
        let key = self.rule.key(value);
        matching(self.index(), &key, |r| {
            self.get(r)
                .map_or(Cow::Borrowed("\u{0}"), |v| self.rule.key(v))
        })
    }

    /// The rows matching `value` when several rows hold it, as the index keeps them
    /// (`None`: ask [`TextColumn::matching`]).
    pub fn shared_matching(&self, value: &str) -> Option<&RoaringBitmap> {
        self.index.get()?.shared(&self.rule.key(value))
    }

    /// Builds the equality index now rather than at the first lookup.
    pub fn build_index(&self) {
        self.index();
    }

    fn index(&self) -> &EqIndex {
        self.index.get_or_init(|| {
            let mut index = EqIndex::default();
            for (row, value) in self.iter() {
                index.insert(&self.rule.key(value), row, |r| self.stored_key(r));
            }
            index
        })
    }

    /// A column holding, for each row of `present` in order, the value of the same rank
    /// in `values` (from a snapshot); the index is built after a few lookups.
    pub fn from_values(rule: MatchRule, present: RoaringBitmap, values: StrColumn) -> TextColumn {
        TextColumn {
            rule,
            rows: present.iter().collect(),
            values,
            overlay: BTreeMap::new(),
            present,
            index: OnceLock::new(),
        }
    }

    /// Appends values of new rows, all past the column's rows: `values` holds the value of
    /// row `base + present[i]` at `i`.
    pub fn append(&mut self, values: &StrColumn, base: u32, present: &[u32]) {
        if present.is_empty() {
            return;
        }
        self.values.append(values);
        self.rows.extend(present.iter().map(|&r| base + r));
        crate::store::index::rowset::push_rows(&mut self.present, base, present);
        if let Some(mut index) = self.index.take() {
            for (i, &row) in present.iter().enumerate() {
                index.insert(&self.rule.key(values.get(i as u32)), base + row, |r| {
                    self.stored_key(r)
                });
            }
            self.index = OnceLock::from(index);
        }
    }

    /// Makes room for `additional` more values.
    pub fn reserve(&mut self, additional: usize) {
        let _ = self.rows.try_reserve(additional);
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

    /// Every (row, value), in row order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> {
        let arrays =
            (self.rows.iter().enumerate()).map(|(i, &row)| (row, self.values.get(i as u32)));
        let overlay = self.overlay.iter().map(|(&row, v)| (row, &**v));
        merge_by_row(arrays, overlay).filter(|(row, _)| self.present.contains(*row))
    }

    /// The values when they are exactly the present rows' values in row order (as after
    /// a load or appends), for writing them out in one piece.
    pub fn packed(&self) -> Option<&StrColumn> {
        let exact = self.overlay.is_empty() && self.rows.len() as u64 == self.present.len();
        exact.then_some(&self.values)
    }

    /// A reader of values for ascending rows, walking the arrays instead of searching them.
    pub fn cursor(&self) -> TextCursor<'_> {
        TextCursor {
            column: self,
            next: 0,
        }
    }

    /// Approximate bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * 4
            + self.values.heap_bytes()
            + self.overlay.values().map(|v| v.len() + 48).sum::<usize>()
            + self.index.get().map_or(0, EqIndex::heap_bytes)
            + self.present.serialized_size()
    }
}

/// Reads one optional-text column of the store (email, phone, …) for rows asked in
/// ascending order.
pub struct TextCursor<'c> {
    column: &'c TextColumn,
    /// Index in the column's arrays of the first row not yet passed.
    next: usize,
}

impl<'c> TextCursor<'c> {
    /// The value of `row`, which is not below any row asked before.
    pub fn get(&mut self, row: u32) -> Option<&'c str> {
        let column = self.column;
        let rows = &column.rows[self.next..];
        // Gallop: rows asked for are usually close to each other.
        let mut step = 1;
        while step < rows.len() && rows[step - 1] < row {
            step *= 2;
        }
        let window = &rows[..step.min(rows.len())];
        self.next += window.partition_point(|&r| r < row);
        let found = match column.rows.get(self.next) {
            Some(&r) if r == row => Some(column.values.get(self.next as u32)),
            _ if column.overlay.is_empty() => return None,
            _ => column.overlay.get(&row).map(|v| &**v),
        };
        // Entries of cleared rows stay until the next fold.
        found.filter(|_| column.present.contains(row))
    }
}

/// Two row-ordered sequences as one (rows never repeat between them).
fn merge_by_row<'a>(
    a: impl Iterator<Item = (u32, &'a str)>,
    b: impl Iterator<Item = (u32, &'a str)>,
) -> impl Iterator<Item = (u32, &'a str)> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y.0 < x.0 => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
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

    proptest::proptest! {
        /// Against a plain map: any order of sets, clears and folds reads back the same
        /// through `get`, `iter`, `present`, `matching` and a cursor.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u32..300, 0u8..5), 1..400)) {
            let mut col = TextColumn::new(MatchRule::Exact);
            let mut model = std::collections::BTreeMap::new();
            for (i, (row, op)) in ops.into_iter().enumerate() {
                match op {
                    0 => { col.set(row, None); model.remove(&row); }
                    1 if i % 7 == 0 => col.fold(),
                    _ => {
                        let value = format!("v{}", row % (u32::from(op) + 2));
                        col.set(row, Some(&value));
                        model.insert(row, value);
                    }
                }
            }
            let listed: Vec<(u32, String)> = col.iter().map(|(r, v)| (r, v.to_string())).collect();
            let expected: Vec<(u32, String)> = model.iter().map(|(r, v)| (*r, v.clone())).collect();
            proptest::prop_assert_eq!(&listed, &expected);
            proptest::prop_assert_eq!(col.present().len(), model.len() as u64);
            let mut cursor = col.cursor();
            for row in 0..300 {
                proptest::prop_assert_eq!(col.get(row), model.get(&row).map(String::as_str));
                proptest::prop_assert_eq!(cursor.get(row), model.get(&row).map(String::as_str));
            }
            for value in ["v0", "v1", "v3"] {
                let rows: Vec<u32> = model.iter().filter(|(_, v)| *v == value).map(|(r, _)| *r).collect();
                proptest::prop_assert_eq!(col.matching(value).iter().collect::<Vec<_>>(), rows);
            }
        }
    }

    #[test]
    fn exact_match_is_case_sensitive() {
        let mut col = TextColumn::new(MatchRule::Exact);
        col.set(1, Some("E042"));
        assert_eq!(col.matching("E042").len(), 1);
        assert!(col.matching("e042").is_empty());
    }
}
