//! Cutting a CSV byte stream into blocks that end at record boundaries, so that blocks can
//! be parsed on many threads at once.
//!
//! A line break ends a record when an even number of `"` precede it (quotes inside a quoted
//! field are doubled, so a break inside a quoted field always follows an odd number). The
//! reader counts quotes with `memchr` and never parses: cutting costs a fraction of parsing.

use std::io::{self, Read};

/// Bytes a block holds, give or take one record.
pub const BLOCK_BYTES: usize = 2 << 20;
/// The longest stretch without a record boundary the reader accepts: beyond it, a quote is
/// almost surely left open, and holding more would only use memory.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// Whole records of the file, and the line the first of them starts on.
#[derive(Debug, Default)]
pub struct Block {
    pub bytes: Vec<u8>,
    pub first_line: u64,
}

/// Why the stream could not be cut.
#[derive(Debug)]
pub enum CutError {
    Io(io::Error),
    /// A quoted field starting on `line` runs on for more than [`MAX_RECORD_BYTES`].
    Unclosed {
        line: u64,
    },
    /// The file ends inside a quoted field opened on `line` or after it.
    UnclosedAtEnd {
        line: u64,
    },
}

/// Reads a stream block by block.
pub struct Blocks<R> {
    input: R,
    /// Bytes read past the end of the last block.
    carry: Vec<u8>,
    /// The line the next block starts on.
    line: u64,
    /// Bytes handed out so far.
    position: u64,
    done: bool,
    block_bytes: usize,
    max_record_bytes: usize,
}

impl<R: Read> Blocks<R> {
    /// A reader of `input`, which starts at line 1 and at a record boundary, cutting
    /// blocks of about `block_bytes`.
    pub fn new(input: R, block_bytes: usize) -> Blocks<R> {
        Blocks {
            input,
            carry: Vec::new(),
            line: 1,
            position: 0,
            done: false,
            block_bytes: block_bytes.max(1),
            max_record_bytes: MAX_RECORD_BYTES,
        }
    }

    /// The same reader, refusing stretches without a record boundary longer than `max`
    /// (tests use a small one).
    #[cfg(test)]
    pub fn with_record_limit(mut self, max: usize) -> Blocks<R> {
        self.max_record_bytes = max;
        self
    }

    /// Bytes handed out in blocks so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next block of whole records, `None` at the end of the stream.
    pub fn next_block(&mut self) -> Result<Option<Block>, CutError> {
        let mut bytes = std::mem::take(&mut self.carry);
        let mut want = self.block_bytes;
        loop {
            if !self.done {
                self.fill(&mut bytes, want)?;
            }
            if self.done {
                if !quotes(&bytes).is_multiple_of(2) {
                    return Err(CutError::UnclosedAtEnd { line: self.line });
                }
                return Ok((!bytes.is_empty()).then(|| self.hand_out(bytes)));
            }
            if let Some(end) = last_boundary(&bytes) {
                self.carry = bytes.split_off(end);
                return Ok(Some(self.hand_out(bytes)));
            }
            if bytes.len() >= self.max_record_bytes {
                return Err(CutError::Unclosed { line: self.line });
            }
            want = bytes.len() * 2;
        }
    }

    /// Reads until `bytes` holds `want` bytes or the stream ends.
    fn fill(&mut self, bytes: &mut Vec<u8>, want: usize) -> Result<(), CutError> {
        bytes.reserve(want.saturating_sub(bytes.len()));
        while bytes.len() < want {
            let start = bytes.len();
            bytes.resize(want, 0);
            match self.input.read(&mut bytes[start..]) {
                Ok(0) => {
                    bytes.truncate(start);
                    self.done = true;
                    return Ok(());
                }
                Ok(n) => bytes.truncate(start + n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => bytes.truncate(start),
                Err(e) => return Err(CutError::Io(e)),
            }
        }
        Ok(())
    }

    fn hand_out(&mut self, bytes: Vec<u8>) -> Block {
        let block = Block {
            first_line: self.line,
            bytes,
        };
        self.line += memchr::memchr_iter(b'\n', &block.bytes).count() as u64;
        self.position += block.bytes.len() as u64;
        block
    }
}

fn quotes(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'"', bytes).count()
}

/// The end (just past the line break) of the last complete record in `bytes`, which
/// starts at a record boundary.
fn last_boundary(bytes: &[u8]) -> Option<usize> {
    let total = quotes(bytes);
    let mut after = 0;
    let mut end = bytes.len();
    while let Some(newline) = memchr::memrchr(b'\n', &bytes[..end]) {
        after += quotes(&bytes[newline..end]);
        if (total - after).is_multiple_of(2) {
            return Some(newline + 1);
        }
        end = newline;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, block: usize) -> Result<Vec<(String, u64)>, CutError> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut blocks = Blocks::new(Trickle(text.as_bytes(), 3), block);
        let mut out = Vec::new();
        while let Some(block) = blocks.next_block()? {
            out.push((
                String::from_utf8_lossy(&block.bytes).into_owned(),
                block.first_line,
            ));
        }
        Ok(out)
    }

    #[test]
    fn boundaries_skip_line_breaks_inside_quotes() {
        assert_eq!(last_boundary(b"a,b\nc,\"d\ne\"\nf"), Some(12));
        assert_eq!(last_boundary(b"a,b\nc,\"d\ne"), Some(4));
        assert_eq!(last_boundary(b"a,\"b\nc"), None);
        assert_eq!(last_boundary(b"a,\"\"\"b\"\"\"\nc"), Some(10));
    }

    #[test]
    fn blocks_rejoin_to_the_input_with_their_lines() {
        let text = "h\n1,\"x\ny\"\n2\n3,\"\"\"q\"\"\"\n4";
        for size in [1, 4, 9, 100] {
            let blocks = cut(text, size).ok().unwrap_or_default();
            let joined: String = blocks.iter().map(|b| b.0.as_str()).collect();
            assert_eq!(joined, text);
            let mut offset = 0;
            for (bytes, first_line) in &blocks {
                let before = text[..offset].matches('\n').count() as u64;
                assert_eq!(*first_line, before + 1, "{blocks:?}");
                offset += bytes.len();
            }
            if size < 9 {
                assert!(blocks.len() >= 4, "{blocks:?}");
                assert!(blocks.iter().any(|b| b.0 == "1,\"x\ny\"\n"), "{blocks:?}");
            }
        }
    }

    #[test]
    fn a_quote_open_for_too_long_is_an_error() {
        let text = format!("a\nb\n\"{}", "x\n".repeat(200));
        let mut blocks = Blocks::new(text.as_bytes(), 8).with_record_limit(100);
        let mut outcome = blocks.next_block();
        while let Ok(Some(_)) = outcome {
            outcome = blocks.next_block();
        }
        assert!(
            matches!(outcome, Err(CutError::Unclosed { line: 3 })),
            "{outcome:?}"
        );
    }

    #[test]
    fn an_unclosed_quote_at_the_end_is_an_error() {
        assert!(matches!(
            cut("a\n\"b\nc", 100),
            Err(CutError::UnclosedAtEnd { line: 1 })
        ));
        assert!(cut("a\n\"b\"\nc", 100).is_ok());
    }
}
