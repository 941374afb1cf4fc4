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
        let bytes = &self.arena[span.start()..span.start() + span.len()];
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
        let mut end = value.len().min(MAX_STRING_BYTES);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(&value.as_bytes()[..end]);
        self.spans[row] = Span::new(start, end);
    }

    /// Builds a column from concatenated strings and each row's length (from a snapshot).
    /// `None` when the lengths do not add up to the bytes or a string is not UTF-8.
    pub fn from_parts(arena: Vec<u8>, lens: &[u32]) -> Option<StrColumn> {
        let mut spans = Vec::with_capacity(lens.len());
        let mut start = 0usize;
        for &len in lens {
            let len = len as usize;
            if len > MAX_STRING_BYTES || start >= 1 << 40 {
                return None;
            }
            spans.push(Span::new(start, len));
            start += len;
        }
        if start != arena.len() {
            return None;
        }
        let column = StrColumn { arena, spans };
        let valid = column
            .spans
            .iter()
            .all(|s| std::str::from_utf8(&column.arena[s.start()..s.start() + s.len()]).is_ok());
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
