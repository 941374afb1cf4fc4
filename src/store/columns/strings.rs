//! `StrColumn`: one string per row, kept in a single arena (no allocation per row).
//!
//! Strings sit back to back in row order, so a row costs its bytes plus a 4-byte end
//! offset (8 bytes once the arena passes 4 GiB). A string changed after later rows were
//! written goes to a small override map instead; snapshots write the column packed again.

use hashbrown::HashMap;

/// The longest string a column holds, in bytes (longer ones are refused by
/// `Contact::validate`, and cut at a character boundary here as a last resort).
pub const MAX_STRING_BYTES: usize = (1 << 24) - 1;

/// Where each row's string ends in the arena (it starts where the previous one ends).
#[derive(Clone, Debug)]
enum Ends {
    /// While the arena is under 4 GiB.
    Narrow(Vec<u32>),
    Wide(Vec<u64>),
}

impl Ends {
    fn len(&self) -> usize {
        match self {
            Ends::Narrow(ends) => ends.len(),
            Ends::Wide(ends) => ends.len(),
        }
    }

    /// The end of row `row`, and 0 before the first row.
    fn end(&self, row: Option<usize>) -> usize {
        let Some(row) = row else { return 0 };
        match self {
            Ends::Narrow(ends) => ends[row] as usize,
            Ends::Wide(ends) => ends[row] as usize,
        }
    }

    fn push(&mut self, end: usize) {
        if let Ends::Narrow(ends) = self {
            match u32::try_from(end) {
                Ok(end) => return ends.push(end),
                Err(_) => *self = Ends::Wide(ends.iter().map(|&e| u64::from(e)).collect()),
            }
        }
        if let Ends::Wide(ends) = self {
            ends.push(end as u64);
        }
    }

    fn truncate(&mut self, rows: usize) {
        match self {
            Ends::Narrow(ends) => ends.truncate(rows),
            Ends::Wide(ends) => ends.truncate(rows),
        }
    }

    fn reserve(&mut self, rows: usize) {
        match self {
            Ends::Narrow(ends) => _ = ends.try_reserve(rows),
            Ends::Wide(ends) => _ = ends.try_reserve(rows),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Ends::Narrow(ends) => ends.capacity() * 4,
            Ends::Wide(ends) => ends.capacity() * 8,
        }
    }
}

/// A dense string column: strings back to back in row order, plus the strings of rows
/// changed since (`overrides`).
#[derive(Clone, Debug)]
pub struct StrColumn {
    arena: String,
    ends: Ends,
    overrides: HashMap<u32, Box<str>>,
}

impl Default for StrColumn {
    fn default() -> Self {
        StrColumn {
            arena: String::new(),
            ends: Ends::Narrow(Vec::new()),
            overrides: HashMap::new(),
        }
    }
}

impl StrColumn {
    /// The string of `row` (empty for rows past the end).
    pub fn get(&self, row: u32) -> &str {
        if !self.overrides.is_empty()
            && let Some(value) = self.overrides.get(&row)
        {
            return value;
        }
        self.packed(row)
    }

    /// The string of `row` as first written.
    fn packed(&self, row: u32) -> &str {
        let row = row as usize;
        if row >= self.ends.len() {
            return "";
        }
        let (start, end) = (self.ends.end(row.checked_sub(1)), self.ends.end(Some(row)));
        // Ends are only ever made at character boundaries of the arena.
        self.arena.get(start..end).unwrap_or_default()
    }

    /// Number of rows (strings past the end read as empty).
    pub fn rows(&self) -> u32 {
        self.ends.len() as u32
    }

    /// Sets the string of `row`, growing the column with empty strings as needed.
    pub fn set(&mut self, row: u32, value: &str) {
        while self.rows() < row {
            self.push("");
        }
        if row == self.rows() {
            return self.push(value);
        }
        if self.get(row) == value {
            return;
        }
        if self.packed(row) == value {
            self.overrides.remove(&row);
        } else {
            self.overrides.insert(row, truncate(value).into());
        }
        if self.overrides.len() > (self.ends.len() / 8).max(4096) {
            self.repack();
        }
    }

    /// Writes the strings back to back again, without overrides.
    fn repack(&mut self) {
        let mut packed = StrColumn::default();
        packed.reserve(self.ends.len(), self.arena.len() / self.ends.len().max(1));
        for row in 0..self.rows() {
            packed.push(self.get(row));
        }
        *self = packed;
    }

    /// Appends a string as the next row.
    pub fn push(&mut self, value: &str) {
        self.arena.push_str(truncate(value));
        self.ends.push(self.arena.len());
    }

    /// Appends every row of `other` after this column's rows.
    pub fn append(&mut self, other: &StrColumn) {
        if !other.overrides.is_empty() {
            return (0..other.rows()).for_each(|row| self.push(other.get(row)));
        }
        let base = self.arena.len();
        self.arena.push_str(&other.arena);
        self.ends.reserve(other.ends.len());
        for row in 0..other.ends.len() {
            self.ends.push(base + other.ends.end(Some(row)));
        }
    }

    /// The strings of the rows of `runs` (ascending, disjoint), back to back: a run of
    /// rows is one copy of arena bytes unless rows in it were overridden.
    pub fn gathered(&self, runs: &[std::ops::Range<u32>]) -> StrColumn {
        let mut out = StrColumn::default();
        let rows: usize = runs.iter().map(|r| r.len()).sum();
        out.reserve(rows, self.arena.len() / self.ends.len().max(1));
        for run in runs {
            let (first, last) = (run.start as usize, run.end as usize);
            if !self.overrides.is_empty() || last > self.ends.len() {
                run.clone().for_each(|r| out.push(self.get(r)));
                continue;
            }
            let start = self.ends.end(first.checked_sub(1));
            let base = out.arena.len();
            out.arena
                .push_str(&self.arena[start..self.ends.end(Some(last - 1))]);
            for row in first..last {
                out.ends.push(base + self.ends.end(Some(row)) - start);
            }
        }
        out
    }

    /// Where the column ends now, to [`StrColumn::truncate`] back to.
    pub fn mark(&self) -> (usize, usize) {
        (self.ends.len(), self.arena.len())
    }

    /// Forgets every row and byte added since `mark` (rows added since are not
    /// overridden: they were only pushed).
    pub fn truncate(&mut self, (rows, bytes): (usize, usize)) {
        self.ends.truncate(rows);
        self.arena.truncate(bytes);
        self.overrides.retain(|&row, _| (row as usize) < rows);
    }

    /// Builds a column from concatenated strings and each row's length (from a snapshot).
    /// `None` when the lengths do not add up to the bytes or a string is not UTF-8.
    pub fn from_parts(arena: Vec<u8>, lens: Vec<u32>) -> Option<StrColumn> {
        let arena = String::from_utf8(arena).ok()?;
        let mut column = StrColumn {
            ends: Ends::Narrow(Vec::new()),
            arena: String::new(),
            overrides: HashMap::new(),
        };
        let total: u64 = lens.iter().map(|&len| u64::from(len)).sum();
        if total != arena.len() as u64 {
            return None;
        }
        if arena.len() <= u32::MAX as usize {
            // The common case: turn the lengths into ends where they lie (the total fits).
            let mut ends = lens;
            let mut end = 0u32;
            for len in &mut ends {
                end += *len;
                *len = end;
            }
            column.ends = Ends::Narrow(ends);
        } else {
            let ends = lens.iter().scan(0u64, |end, &len| {
                *end += u64::from(len);
                Some(*end)
            });
            column.ends = Ends::Wide(ends.collect());
        }
        let rows = column.ends.len();
        let fits = (0..rows).all(|row| {
            let (start, end) = (
                column.ends.end(row.checked_sub(1)),
                column.ends.end(Some(row)),
            );
            end - start <= MAX_STRING_BYTES && arena.is_char_boundary(end)
        });
        column.arena = arena;
        fits.then_some(column)
    }

    /// The bytes of rows `0..rows`, concatenated, as slices to write out in order: the
    /// arena itself when it holds exactly those strings (as after a load or a bulk
    /// import), else one slice per row.
    pub fn concatenated(&self, rows: u32) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        let whole = self.overrides.is_empty()
            && rows == self.rows()
            && self.ends.end((rows as usize).checked_sub(1)) == self.arena.len();
        if whole {
            Box::new(std::iter::once(self.arena.as_bytes()))
        } else {
            Box::new((0..rows).map(|r| self.get(r).as_bytes()))
        }
    }

    /// Each row's length in bytes, for rows `0..rows`.
    pub fn lens(&self, rows: u32) -> impl Iterator<Item = u32> + '_ {
        (0..rows).map(|r| self.get(r).len() as u32)
    }

    /// Bytes of memory held (arena, ends, overrides).
    pub fn heap_bytes(&self) -> usize {
        let overrides: usize = self.overrides.values().map(|v| v.len() + 32).sum();
        self.arena.capacity() + self.ends.heap_bytes() + overrides
    }

    /// Reserves room for `rows` more rows of `avg_len` bytes, if memory allows (room is
    /// only a hint: the column grows as needed anyway).
    pub fn reserve(&mut self, rows: usize, avg_len: usize) {
        self.ends.reserve(rows);
        let _ = self.arena.try_reserve(rows.saturating_mul(avg_len));
    }
}

/// A column travels (in log records) as each row's length and the bytes back to back.
impl serde::Serialize for StrColumn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rows = self.rows();
        let lens: Vec<u32> = self.lens(rows).collect();
        let mut bytes = String::with_capacity(lens.iter().map(|&l| l as usize).sum());
        (0..rows).for_each(|r| bytes.push_str(self.get(r)));
        serde::Serialize::serialize(&(lens, bytes), serializer)
    }
}

impl<'de> serde::Deserialize<'de> for StrColumn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (lens, bytes): (Vec<u32>, String) = serde::Deserialize::deserialize(deserializer)?;
        StrColumn::from_parts(bytes.into_bytes(), lens)
            .ok_or_else(|| serde::de::Error::custom("string lengths do not add up"))
    }
}

/// `value` cut to at most [`MAX_STRING_BYTES`], at a character boundary.
fn truncate(value: &str) -> &str {
    let mut end = value.len().min(MAX_STRING_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_overwrite_and_gaps() {
        let mut col = StrColumn::default();
        col.set(2, "雙11");
        assert_eq!(col.get(0), "");
        assert_eq!(col.get(2), "雙11");
        col.set(2, "x");
        assert_eq!(col.get(2), "x");
        col.set(2, "雙11");
        assert!(col.overrides.is_empty(), "back to the packed value");
        assert_eq!(col.get(9), "");
        let long = "長".repeat(MAX_STRING_BYTES / 3 + 5);
        col.set(4, &long);
        assert!(col.get(4).len() <= MAX_STRING_BYTES && long.starts_with(col.get(4)));
    }

    #[test]
    fn overrides_repack_and_parts_round_trip() {
        let mut col = StrColumn::default();
        for row in 0..10_000u32 {
            col.push(&format!("v{row}"));
        }
        for row in (0..10_000u32).step_by(2) {
            col.set(row, &format!("w{row}"));
        }
        assert!(col.overrides.len() < 5_000, "repacked on the way");
        let expected = |row: u32| format!("{}{row}", if row.is_multiple_of(2) { 'w' } else { 'v' });
        assert!((0..10_000).all(|r| col.get(r) == expected(r)));
        let bytes: Vec<u8> = col.concatenated(10_000).flatten().copied().collect();
        let back = StrColumn::from_parts(bytes, col.lens(10_000).collect());
        let back = back.expect("parts add up");
        assert!((0..10_000).all(|r| back.get(r) == expected(r)));
        assert!(StrColumn::from_parts(b"ab".to_vec(), vec![1]).is_none());
        assert!(StrColumn::from_parts("長".as_bytes().to_vec(), vec![1, 2]).is_none());
        assert!(StrColumn::from_parts(b"abc".to_vec(), vec![u32::MAX, 4]).is_none());
    }

    #[test]
    fn ends_widen_past_4_gib() {
        let mut ends = Ends::Narrow(vec![5]);
        ends.push((5usize << 32) + 7);
        assert!(matches!(ends, Ends::Wide(_)));
        assert_eq!(
            (ends.end(Some(0)), ends.end(Some(1))),
            (5, (5usize << 32) + 7)
        );
    }
}
