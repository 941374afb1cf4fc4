//! `StrColumn`: one string per row, kept in a single byte arena (no allocation per row).

/// Where a row's string lives in the arena.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start: u32,
    len: u32,
}

/// A dense string column: an append-only arena plus a span per row. Overwritten values
/// leave garbage in the arena until the next snapshot compacts it.
#[derive(Clone, Debug, Default)]
pub struct StrColumn {
    arena: Vec<u8>,
    spans: Vec<Span>,
}

impl StrColumn {
    /// The string of `row` (empty for rows past the end).
    pub fn get(&self, row: u32) -> &str {
        let Some(span) = self.spans.get(row as usize) else {
            return "";
        };
        let start = span.start as usize;
        let bytes = &self.arena[start..start + span.len as usize];
        // Only whole `&str`s are ever copied into the arena.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Sets the string of `row`, growing the column with empty strings as needed.
    pub fn set(&mut self, row: u32, value: &str) {
        let row = row as usize;
        if self.spans.len() <= row {
            self.spans.resize(row + 1, Span::default());
        }
        if self.get(row as u32) == value {
            return;
        }
        let start = u32::try_from(self.arena.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(value.len()).unwrap_or(0);
        assert!(
            (start as u64 + len as u64) < u32::MAX as u64,
            "string column over 4 GiB"
        );
        self.arena.extend_from_slice(value.as_bytes());
        self.spans[row] = Span { start, len };
    }

    /// Builds a column from concatenated strings and each row's length (from a snapshot).
    /// `None` when the lengths do not add up to the bytes or a string is not UTF-8.
    pub fn from_parts(arena: Vec<u8>, lens: &[u32]) -> Option<StrColumn> {
        let mut spans = Vec::with_capacity(lens.len());
        let mut start = 0u64;
        for &len in lens {
            spans.push(Span {
                start: u32::try_from(start).ok()?,
                len,
            });
            start += u64::from(len);
        }
        if start != arena.len() as u64 {
            return None;
        }
        let column = StrColumn { arena, spans };
        let valid = column.spans.iter().all(|s| {
            let start = s.start as usize;
            std::str::from_utf8(&column.arena[start..start + s.len as usize]).is_ok()
        });
        valid.then_some(column)
    }

    /// Each row's string, concatenated, and each row's length (for a snapshot).
    pub fn to_parts(&self, rows: u32) -> (Vec<u8>, Vec<u32>) {
        let mut arena = Vec::new();
        let mut lens = Vec::with_capacity(rows as usize);
        for row in 0..rows {
            let text = self.get(row);
            arena.extend_from_slice(text.as_bytes());
            lens.push(text.len() as u32);
        }
        (arena, lens)
    }

    /// Bytes of memory held (arena and spans).
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity() + self.spans.capacity() * std::mem::size_of::<Span>()
    }

    /// Reserves room for `rows` more rows of `avg_len` bytes.
    pub fn reserve(&mut self, rows: usize, avg_len: usize) {
        self.spans.reserve(rows);
        self.arena.reserve(rows * avg_len);
    }
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
        assert_eq!(col.get(9), "");
    }
}
