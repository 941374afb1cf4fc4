//! `StrColumn`: one string per row, kept in a single byte arena (no allocation per row).

/// The longest string a column holds, in bytes (longer ones are refused by
/// `Contact::validate`, and cut at a character boundary here as a last resort).
pub const MAX_STRING_BYTES: usize = (1 << 24) - 1;

/// Where a row's string lives in the arena: a 40-bit start (the top 8 bits ride in the
/// length word) and a 24-bit length, in 8 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Span {
    start_low: u32,
    /// Bits 0..24: length; bits 24..32: start bits 32..40.
    len_and_start_high: u32,
}

impl Span {
    fn new(start: usize, len: usize) -> Span {
        Span {
            start_low: start as u32,
            len_and_start_high: (len as u32 & 0x00FF_FFFF) | (((start >> 32) as u32) << 24),
        }
    }

    fn start(self) -> usize {
        self.start_low as usize | (((self.len_and_start_high >> 24) as usize) << 32)
    }

    fn len(self) -> usize {
        (self.len_and_start_high & 0x00FF_FFFF) as usize
    }
}

/// A dense string column: an append-only arena plus a span per row. Overwritten values
/// leave garbage in the arena until the next snapshot compacts it. The arena is a `String`,
/// so reading a row costs two boundary checks, not a UTF-8 validation.
#[derive(Clone, Debug, Default)]
pub struct StrColumn {
    arena: String,
    spans: Vec<Span>,
}

impl StrColumn {
    /// The string of `row` (empty for rows past the end).
    pub fn get(&self, row: u32) -> &str {
        let Some(span) = self.spans.get(row as usize) else {
            return "";
        };
        // Spans are only ever made at character boundaries of the arena.
        self.arena
            .get(span.start()..span.start() + span.len())
            .unwrap_or_default()
    }

    /// Number of rows (strings past the end read as empty).
    pub fn rows(&self) -> u32 {
        self.spans.len() as u32
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
        let value = truncate(value);
        self.spans[row] = Span::new(self.arena.len(), value.len());
        self.arena.push_str(value);
    }

    /// Appends a string as the next row.
    pub fn push(&mut self, value: &str) {
        let value = truncate(value);
        self.spans.push(Span::new(self.arena.len(), value.len()));
        self.arena.push_str(value);
    }

    /// Appends every row of `other` after this column's rows.
    pub fn append(&mut self, other: &StrColumn) {
        let base = self.arena.len();
        self.arena.push_str(&other.arena);
        let rebased = other
            .spans
            .iter()
            .map(|s| Span::new(base + s.start(), s.len()));
        self.spans.extend(rebased);
    }

    /// Where the column ends now, to [`StrColumn::truncate`] back to.
    pub fn mark(&self) -> (usize, usize) {
        (self.spans.len(), self.arena.len())
    }

    /// Forgets every row and byte added since `mark`.
    pub fn truncate(&mut self, (rows, bytes): (usize, usize)) {
        self.spans.truncate(rows);
        self.arena.truncate(bytes);
    }

    /// Builds a column from concatenated strings and each row's length (from a snapshot).
    /// `None` when the lengths do not add up to the bytes or a string is not UTF-8.
    pub fn from_parts(arena: Vec<u8>, lens: &[u32]) -> Option<StrColumn> {
        let arena = String::from_utf8(arena).ok()?;
        let mut spans = Vec::with_capacity(lens.len());
        let mut start = 0usize;
        for &len in lens {
            let len = len as usize;
            if len > MAX_STRING_BYTES || !arena.is_char_boundary(start) {
                return None;
            }
            spans.push(Span::new(start, len));
            start += len;
        }
        (start == arena.len()).then_some(StrColumn { arena, spans })
    }

    /// The bytes of rows `0..rows`, concatenated, as slices to write out in order: the
    /// arena itself when it holds exactly those strings in row order (as after a load or a
    /// bulk import), else one slice per row.
    pub fn concatenated(&self, rows: u32) -> Box<dyn Iterator<Item = &[u8]> + '_> {
        let mut next = 0usize;
        let packed = rows == self.rows()
            && self.spans.iter().all(|s| {
                let in_order = s.len() == 0 || s.start() == next;
                next += s.len();
                in_order
            })
            && next == self.arena.len();
        if packed {
            Box::new(std::iter::once(self.arena.as_bytes()))
        } else {
            Box::new((0..rows).map(|r| self.get(r).as_bytes()))
        }
    }

    /// Each row's length in bytes, for rows `0..rows`.
    pub fn lens(&self, rows: u32) -> impl Iterator<Item = u32> + '_ {
        (0..rows).map(|r| self.get(r).len() as u32)
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
        assert_eq!(col.get(9), "");
        let long = "長".repeat(MAX_STRING_BYTES / 3 + 5);
        col.set(4, &long);
        assert!(col.get(4).len() <= MAX_STRING_BYTES && long.starts_with(col.get(4)));
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn spans_address_past_4_gib() {
        let span = Span::new((5usize << 32) + 7, 1234);
        assert_eq!((span.start(), span.len()), ((5usize << 32) + 7, 1234));
    }
}
