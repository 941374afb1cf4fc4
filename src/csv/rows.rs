//! Parsing: the records of a block into checked contacts, gathered column-wise in a
//! [`RowBatch`], and the rows that will not load. Runs on every core, one block each.

use rayon::prelude::*;

use super::blocks::Block;
use super::cells::{CellError, parse_into};
use super::records::{Record, Records};
use crate::model::{Channel, Contact, Field, FieldSet};
use crate::store::RowBatch;

/// One parsed block: its good rows, their lines, and its bad rows.
pub(super) struct Parsed {
    pub(super) batch: RowBatch,
    pub(super) lines: Vec<u64>,
    pub(super) bad: Vec<BadRow>,
}

/// A row that will not load, with its cells as read.
pub(super) struct BadRow {
    pub(super) line: u64,
    pub(super) cells: Vec<String>,
    pub(super) errors: Vec<CellError>,
}

/// Turns records into checked contacts; shared by the parallel parsing threads.
#[derive(Clone)]
pub(super) struct RowParser {
    pub(super) header: Vec<Option<Field>>,
    pub(super) fields: FieldSet,
}

impl RowParser {
    pub(super) fn parse_blocks(&self, blocks: Vec<Block>) -> Vec<Parsed> {
        blocks.par_iter().map(|b| self.parse_block(b)).collect()
    }

    /// Parses every record of a block into a batch (good rows) and a list of bad rows.
    fn parse_block(&self, block: &Block) -> Parsed {
        let mut parsed = Parsed {
            batch: RowBatch::new(),
            lines: Vec::new(),
            bad: Vec::new(),
        };
        let mut records = Records::new(&block.bytes, block.first_line);
        let mut contact = Contact::new(Channel::Web, "", "");
        while let Some(record) = records.next_record() {
            match self.parse(&record, &mut contact) {
                Ok(()) => {
                    parsed.batch.push_unchecked(&contact);
                    parsed.lines.push(record.line);
                }
                Err(errors) => parsed.bad.push(BadRow {
                    line: record.line,
                    cells: record_cells(&record),
                    errors,
                }),
            }
        }
        parsed
    }

    /// Parses a record into `contact` and checks it.
    fn parse(&self, record: &Record<'_>, contact: &mut Contact) -> Result<(), Vec<CellError>> {
        if record.cells.len() != self.header.len() {
            return Err(vec![CellError {
                column: "",
                value: String::new(),
                expected: format!(
                    "{} fields like the header, found {} (an unclosed quote can cause this)",
                    self.header.len(),
                    record.cells.len()
                ),
            }]);
        }
        // Cells end at ASCII delimiters, so a valid record splits into valid cells.
        let Ok(text) = std::str::from_utf8(record.bytes) else {
            return Err(vec![self.invalid_utf8(record)]);
        };
        let cells = (record.cells.iter()).map(|r| text.get(r.clone()).unwrap_or_default());
        parse_into(contact, &self.header, cells)?;
        let check = if self.checks_whole() {
            contact.validate()
        } else {
            contact.validate_fields()
        };
        check.map_err(|e| {
            vec![CellError {
                column: e.field,
                value: String::new(),
                expected: e.message,
            }]
        })
    }

    /// Whether rows are checked whole (`Contact::validate`): all but the `fb_optin` /
    /// `fb_frequency` pairing when the file has an opt-in column but no frequency.
    pub(super) fn checks_whole(&self) -> bool {
        !self.fields.contains(Field::FbOptin) || self.fields.contains(Field::FbFrequency)
    }

    /// The error for the first cell of `record` that is not UTF-8.
    fn invalid_utf8(&self, record: &Record<'_>) -> CellError {
        let (cell, field) = (record.cells().zip(&self.header))
            .find(|(cell, _)| std::str::from_utf8(cell).is_err())
            .unwrap_or((&[], &None));
        CellError {
            column: field.map_or("", |f| f.name()),
            value: String::from_utf8_lossy(cell).into_owned(),
            expected: "valid UTF-8 text".into(),
        }
    }
}

fn record_cells(record: &Record<'_>) -> Vec<String> {
    record
        .cells()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}
