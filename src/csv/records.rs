//! Splitting a block of whole CSV records into cells, as the `csv` crate would.
//!
//! Most records of a contact file are one line without a quote: those are split at commas
//! with `memchr`, the cells borrowed from the block. A record with a quote (or a bare
//! carriage return) goes through `csv_core`, the state machine under the `csv` crate, into
//! a buffer. Either way the cells are what `csv::Reader` would give (a property test
//! holds the two together), each with the line it starts on, as an editor numbers lines.

use std::ops::Range;

use csv_core::{ReadRecordResult, Reader};

/// One record: its line, and its cells as ranges of [`Record::bytes`].
pub struct Record<'r> {
    pub line: u64,
    pub bytes: &'r [u8],
    pub cells: &'r [Range<usize>],
}

impl Record<'_> {
    /// The raw bytes of each cell.
    pub fn cells(&self) -> impl Iterator<Item = &[u8]> {
        self.cells.iter().map(|r| &self.bytes[r.clone()])
    }
}

/// The records of a block, one after the other.
pub struct Records<'a> {
    block: &'a [u8],
    /// Where the next record starts.
    position: usize,
    /// The line the next record starts on.
    line: u64,
    quoted: Reader,
    /// Unquoted cell bytes of a quoted record, and where each cell ends.
    buffer: Vec<u8>,
    /// Bytes of `buffer` the last quoted record wrote.
    written: usize,
    ends: Vec<usize>,
    cells: Vec<Range<usize>>,
}

impl<'a> Records<'a> {
    /// The records of `block`, whose first line is `first_line`.
    pub fn new(block: &'a [u8], first_line: u64) -> Records<'a> {
        Records {
            block,
            position: 0,
            line: first_line,
            quoted: Reader::new(),
            buffer: vec![0; 1024],
            written: 0,
            ends: vec![0; 64],
            cells: Vec::new(),
        }
    }

    /// The next record, `None` at the end of the block.
    pub fn next_record(&mut self) -> Option<Record<'_>> {
        self.skip_blank_lines();
        let rest = &self.block[self.position..];
        if rest.is_empty() {
            return None;
        }
        let line_end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..line_end];
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        let record_line = self.line;
        if memchr::memchr2(b'"', b'\r', content).is_none() {
            self.split_plain(content);
            let start = self.position;
            self.position += (line_end + 1).min(rest.len());
            self.line += 1;
            return Some(Record {
                line: record_line,
                bytes: &self.block[start..start + content.len()],
                cells: &self.cells,
            });
        }
        let consumed = self.read_quoted(rest);
        self.line += memchr::memchr_iter(b'\n', &rest[..consumed]).count() as u64;
        self.position += consumed;
        Some(Record {
            line: record_line,
            bytes: &self.buffer[..self.written],
            cells: &self.cells,
        })
    }

    /// Where the next record starts in the block (or blank lines before it), and its line.
    pub fn position(&self) -> (usize, u64) {
        (self.position, self.line)
    }

    /// Steps over empty lines, which the `csv` crate skips.
    fn skip_blank_lines(&mut self) {
        while let Some(&b) = self.block.get(self.position) {
            match b {
                b'\n' => self.line += 1,
                b'\r' => {}
                _ => return,
            }
            self.position += 1;
        }
    }

    /// Cells of a line without quotes: the text between commas.
    fn split_plain(&mut self, content: &[u8]) {
        self.cells.clear();
        let mut start = 0;
        // Cells are short: a plain loop beats a search call per comma.
        for (at, &byte) in content.iter().enumerate() {
            if byte == b',' {
                self.cells.push(start..at);
                start = at + 1;
            }
        }
        self.cells.push(start..content.len());
    }

    /// Reads one record from the start of `input` with `csv_core`; returns the bytes it
    /// took.
    fn read_quoted(&mut self, input: &[u8]) -> usize {
        let (mut taken, mut written, mut cells) = (0, 0, 0);
        loop {
            let (result, read, wrote, ended) = self.quoted.read_record(
                &input[taken..],
                &mut self.buffer[written..],
                &mut self.ends[cells..],
            );
            taken += read;
            written += wrote;
            cells += ended;
            match result {
                ReadRecordResult::OutputFull => self.buffer.resize(self.buffer.len() * 2, 0),
                ReadRecordResult::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                // The block ends without a line break: an empty input ends the record.
                ReadRecordResult::InputEmpty if taken < input.len() => {}
                ReadRecordResult::InputEmpty => {
                    let (result, _, _, ended) = self.quoted.read_record(
                        &[],
                        &mut self.buffer[written..],
                        &mut self.ends[cells..],
                    );
                    cells += ended;
                    if result == ReadRecordResult::OutputEndsFull {
                        self.ends.resize(self.ends.len() * 2, 0);
                        continue;
                    }
                    self.quoted.reset();
                    break;
                }
                ReadRecordResult::Record | ReadRecordResult::End => break,
            }
        }
        // Ends are relative to the record's first written byte.
        self.cells.clear();
        let mut start = 0;
        for &end in &self.ends[..cells] {
            self.cells.push(start..end);
            start = end;
        }
        self.written = written;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `csv::Reader` (flexible, no header) makes of `text`: each record's cells.
    fn by_csv(text: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text);
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            out.push(record.iter().map(<[u8]>::to_vec).collect());
        }
        out
    }

    fn by_records(text: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut records = Records::new(text, 1);
        let mut out = Vec::new();
        while let Some(record) = records.next_record() {
            out.push((record.line, record.cells().map(<[u8]>::to_vec).collect()));
        }
        out
    }

    fn cells_of(records: Vec<(u64, Vec<Vec<u8>>)>) -> Vec<Vec<Vec<u8>>> {
        records.into_iter().map(|(_, cells)| cells).collect()
    }

    /// Lines are where records start in the file, as an editor numbers them (the `csv`
    /// crate's own count skips blank lines).
    #[test]
    fn plain_and_quoted_records_with_their_lines() {
        let text = b"a,b\n\n\"x,\"\"y\"\"\nz\",c\r\nd,,\r\n\"e\"";
        let records = by_records(text);
        let lines: Vec<u64> = records.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 3, 5, 6]);
        assert_eq!(cells_of(records), by_csv(text));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// The same records, cells and lines as the `csv` crate, on any mix of commas,
        /// quotes, line breaks and carriage returns.
        #[test]
        fn agrees_with_the_csv_crate(
            bytes in proptest::collection::vec(
                prop::sample::select(vec![b'a', b'b', b',', b'"', b'\n', b'\r', b' ']),
                0..120,
            )
        ) {
            let records = by_records(&bytes);
            for (line, _) in &records {
                let breaks = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                prop_assert!(*line >= 1 && *line <= breaks + 1);
            }
            prop_assert_eq!(cells_of(records), by_csv(&bytes));
        }
    }
}
