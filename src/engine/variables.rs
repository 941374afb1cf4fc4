//! [`RowValues`]: a CSV audience's variable values per recipient row, packed — one text
//! buffer, the end of each value in it, and the rows sorted with where their values
//! start — so that a job of millions of recipients holds no string per recipient.
//! Serialized exactly as a map from row to its list of values (what the log and
//! snapshots always held).

use std::fmt;

use roaring::RoaringBitmap;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Values per row. Rows may be pushed in any order; [`RowValues::sort`] orders them
/// before they are read. Equal when the same rows have the same values, however packed.
#[derive(Clone, Debug, Default)]
pub struct RowValues {
    /// Each row, the index of its first value in `ends`, and how many it has.
    rows: Vec<(u32, u32, u32)>,
    /// Where each value ends in `text` (it starts where the one before ends).
    ends: Vec<usize>,
    text: String,
}

impl RowValues {
    /// Adds a row's values (a row pushed twice keeps the first after [`sort`]).
    ///
    /// [`sort`]: RowValues::sort
    pub fn push<'a>(&mut self, row: u32, values: impl IntoIterator<Item = &'a str>) {
        let first = self.ends.len() as u32;
        for value in values {
            self.text.push_str(value);
            self.ends.push(self.text.len());
        }
        self.rows.push((row, first, self.ends.len() as u32 - first));
    }

    /// Orders the rows (stable: of a row pushed twice, the first stays found).
    pub fn sort(&mut self) {
        self.rows.sort_by_key(|r| r.0);
        self.rows.dedup_by_key(|r| r.0);
    }

    /// The values of `row`, if it has any.
    pub fn get(&self, row: u32) -> Option<Vec<&str>> {
        let at = self.rows.binary_search_by_key(&row, |r| r.0).ok()?;
        let (_, first, n) = self.rows[at];
        Some((first..first + n).map(|i| self.value(i as usize)).collect())
    }

    fn value(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// How many rows have values.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row has values.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Keeps the rows in `keep` only; the others' text leaves memory (erased contacts).
    pub fn retain(&mut self, keep: &RoaringBitmap) {
        let mut kept = RowValues::default();
        for &(row, first, n) in &self.rows {
            if keep.contains(row) {
                kept.push(row, (first..first + n).map(|i| self.value(i as usize)));
            }
        }
        *self = kept;
    }

    /// Forgets every row.
    pub fn clear(&mut self) {
        *self = RowValues::default();
    }

    /// The rows with values, in order.
    pub fn rows(&self) -> impl Iterator<Item = u32> + '_ {
        self.rows.iter().map(|r| r.0)
    }
}

impl PartialEq for RowValues {
    fn eq(&self, other: &RowValues) -> bool {
        self.rows.len() == other.rows.len()
            && self
                .rows()
                .zip(other.rows())
                .all(|(a, b)| a == b && self.get(a) == other.get(b))
    }
}

impl Eq for RowValues {}

impl Serialize for RowValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.rows.len()))?;
        for &(row, first, n) in &self.rows {
            let values: Vec<&str> = (first..first + n).map(|i| self.value(i as usize)).collect();
            map.serialize_entry(&row, &values)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RowValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(Packer)
    }
}

struct Packer;

impl<'de> Visitor<'de> for Packer {
    type Value = RowValues;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map from row to its variable values")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RowValues, A::Error> {
        let mut packed = RowValues::default();
        while let Some((row, values)) = map.next_entry::<u32, Vec<String>>()? {
            packed.push(row, values.iter().map(String::as_str));
        }
        packed.sort();
        Ok(packed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::RowValues;

    /// The packed values read and write the bytes a map of rows to value lists did, so
    /// logs and snapshots written before read the same.
    #[test]
    fn packed_values_keep_the_format_of_a_map() {
        let map: BTreeMap<u32, Vec<String>> = [
            (3, vec!["Ann".to_string(), "C1".into()]),
            (9, vec![String::new(), "C2".into()]),
            (70_000, vec!["李".into(), "".into()]),
        ]
        .into();
        let mut packed = RowValues::default();
        for row in [70_000, 3, 9] {
            packed.push(row, map[&row].iter().map(String::as_str));
        }
        packed.sort();
        let bytes = postcard::to_allocvec(&map).expect("encodes");
        assert_eq!(postcard::to_allocvec(&packed).expect("encodes"), bytes);
        let read: RowValues = postcard::from_bytes(&bytes).expect("decodes");
        assert_eq!(read, packed);
        assert_eq!(read.get(9), Some(vec!["", "C2"]));
        assert_eq!(read.get(70_000), Some(vec!["李", ""]));
        assert_eq!(read.get(4), None);
        let mut kept = read.clone();
        kept.retain(&[3u32, 70_000].into_iter().collect());
        assert_eq!(kept.rows().collect::<Vec<_>>(), [3, 70_000]);
        assert_eq!(kept.get(70_000), Some(vec!["李", ""]));
        assert!(!kept.text.contains("C2"), "an erased row's text is gone");
    }
}
