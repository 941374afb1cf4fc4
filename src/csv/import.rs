//! CSV import: streaming, parallel parsing, all-or-nothing (or reject-file) semantics.
//!
//! The file is cut into blocks of whole records (`blocks.rs`); the next blocks are read
//! while blocks are parsed on every core into column-wise [`RowBatch`]es (`rows.rs`) and
//! the previous ones are appended, in file order, all three at once, to a *staging* store, never to the target: the raw text is dropped block by block, and
//! the staging store holds the file in columnar form. Only when every row is good (or the
//! caller asked for a reject file) is the staging store merged into the target, after
//! checking the merged contacts, so a bad file changes nothing. Staging only reads the
//! target: it ends in a [`Staged`] result — the staging store itself, to replace an empty
//! store with, or the changes that merge it into a non-empty one — which the engine
//! commits.

use std::io::{Read, Write};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::blocks::{BLOCK_BYTES, Block, Blocks, CutError};
use super::cells::{CellError, format_cell, map_header};
use super::records::Records;
use super::report::{ImportError, ImportOptions, ImportSummary, RowError};
use super::rows::{BadRow, Parsed, RowParser};
use crate::model::{Channel, Contact, FieldSet, Seconds};
use crate::store::{Change, ChangeError, RowBatch, Store, UpsertOutcome};

/// Contacts merged into a non-empty store per change.
const BATCH: usize = 1 << 15;
/// Blocks parsed in parallel per round.
const ROUND: usize = 8;

/// The state of one import run.
struct Importer<'a> {
    parser: RowParser,
    header_names: Vec<String>,
    staging: Store,
    /// Line of each staging row.
    lines: LineMap,
    errors: Vec<RowError>,
    total_errors: u64,
    options: &'a ImportOptions,
    rejects: Option<csv::Writer<&'a mut (dyn Write + Send)>>,
    rows: u64,
    now: Seconds,
}

/// A checked import, ready to commit.
#[derive(Debug)]
pub struct Staged {
    pub summary: ImportSummary,
    pub outcome: StagedOutcome,
}

/// What committing a staged import does.
#[derive(Debug)]
pub enum StagedOutcome {
    /// The target was empty: the staging store replaces it.
    Replace(Box<Store>),
    /// Changes merging the file into the target: an upsert of the contacts that change,
    /// then an append of the new ones (all checked already).
    Changes(Vec<Change>),
}

impl Staged {
    /// Applies the import to a plain store (no log: for stores outside an engine, such
    /// as a test's or a benchmark's). The engine commits through `Edit::Import` instead.
    pub fn apply_to(self, store: &mut Store, now: Seconds) -> Result<ImportSummary, ChangeError> {
        match self.outcome {
            StagedOutcome::Replace(staged) => *store = *staged,
            StagedOutcome::Changes(changes) => {
                for change in &changes {
                    store.apply(change, now)?;
                }
            }
        }
        Ok(self.summary)
    }
}

/// Stages CSV from `input` for `store` at time `now`, reading `store` only. With
/// `rejects`, good rows are kept and bad ones are written there (same columns plus
/// `error`); without, any bad row refuses the whole file. `progress` is told the bytes
/// read so far.
pub fn stage<'a>(
    store: &Store,
    input: impl Read + Send,
    options: &'a ImportOptions,
    rejects: Option<&'a mut (dyn Write + Send)>,
    now: Seconds,
    progress: &dyn Fn(u64),
) -> Result<Staged, ImportError> {
    let mut blocks = Blocks::new(input, BLOCK_BYTES);
    let (mut importer, rest) = Importer::new(&mut blocks, options, rejects, now)?;
    if let Some(size) = options.size_hint {
        importer.staging.reserve(estimate_rows(&rest, size));
    }
    let parser = &importer.parser.clone();
    // Three stages overlap: reading the next round of blocks, parsing this round on every
    // core, and appending the previous round in file order.
    let mut current = vec![rest];
    let mut pending: Vec<Parsed> = Vec::new();
    let mut more = true;
    while more || !current.is_empty() || !pending.is_empty() {
        let loading = std::mem::take(&mut pending);
        let ((next, parsed), loaded) = rayon::join(
            || {
                rayon::join(
                    || {
                        if more {
                            read_round(&mut blocks)
                        } else {
                            Ok(Vec::new())
                        }
                    },
                    || parser.parse_blocks(std::mem::take(&mut current)),
                )
            },
            || importer.load_all(loading),
        );
        loaded?;
        let next = next?;
        more = !next.is_empty();
        current = next;
        pending = parsed;
        progress(blocks.position());
        if crate::cancel::requested() {
            return Err(ImportError::Cancelled);
        }
    }
    importer.finish(store)
}

/// About how many rows a file of `size` bytes holds, judging by its first block (a little
/// more, so that a close estimate never makes the store grow at the end).
fn estimate_rows(first: &Block, size: u64) -> usize {
    let lines = memchr::memchr_iter(b'\n', &first.bytes).count().max(1) as u64;
    let bytes_per_line = (first.bytes.len() as u64 / lines).max(16);
    (size / bytes_per_line + size / bytes_per_line / 32) as usize
}

/// The next blocks to parse together (none at the end of the file).
fn read_round(blocks: &mut Blocks<impl Read>) -> Result<Vec<Block>, ImportError> {
    let mut round = Vec::with_capacity(ROUND);
    while round.len() < ROUND {
        match blocks.next_block().map_err(cut_error)? {
            Some(block) => round.push(block),
            None => break,
        }
    }
    Ok(round)
}

fn cut_error(e: CutError) -> ImportError {
    let (line, expected) = match e {
        CutError::Io(e) => return ImportError::Io(e),
        CutError::Unclosed { line } => (
            line,
            "a closing '\"': a quoted field starting on this line or soon after runs on for more than 256 MB",
        ),
        CutError::UnclosedAtEnd { line } => (
            line,
            "a closing '\"': the file ends inside a quoted field opened on this line or after it (or a cell holds a stray '\"')",
        ),
    };
    ImportError::Rows {
        errors: vec![RowError {
            line,
            column: String::new(),
            value: String::new(),
            expected: expected.into(),
        }],
        total: 1,
    }
}

impl<'a> Importer<'a> {
    /// Reads the header; returns the importer and the block of records after it.
    fn new<R: Read>(
        blocks: &mut Blocks<R>,
        options: &'a ImportOptions,
        rejects: Option<&'a mut (dyn Write + Send)>,
        now: Seconds,
    ) -> Result<(Importer<'a>, Block), ImportError> {
        let mut first = blocks.next_block().map_err(cut_error)?.unwrap_or_default();
        let mut records = Records::new(&first.bytes, first.first_line);
        let names = match records.next_record() {
            Some(raw) if !(raw.cells.len() == 1 && raw.cells[0].is_empty()) => raw
                .cells()
                .map(|cell| std::str::from_utf8(cell).map(str::to_string))
                .collect::<Result<Vec<String>, _>>()
                .map_err(|_| ImportError::Header("the header is not valid UTF-8".into()))?,
            _ => {
                return Err(ImportError::Header(
                    "the file is empty; a CSV needs a header row naming its columns (channel,account,external_id,…)".into(),
                ));
            }
        };
        // The records after the header stay in the first block.
        let (header_end, next_line) = records.position();
        first.bytes.drain(..header_end);
        first.first_line = next_line;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let header =
            map_header(&refs, options.ignore_unknown_columns).map_err(ImportError::Header)?;
        let mut rejects = rejects.map(csv::Writer::from_writer);
        if let Some(writer) = rejects.as_mut() {
            let mut row = names.clone();
            row.push("error".into());
            writer
                .write_record(&row)
                .map_err(|e| ImportError::Rejects(e.into()))?;
        }
        let importer = Importer {
            parser: RowParser {
                fields: header.iter().flatten().copied().collect(),
                header,
            },
            header_names: names,
            staging: Store::new(),
            lines: LineMap::default(),
            errors: Vec::new(),
            total_errors: 0,
            options,
            rejects,
            rows: 0,
            now,
        };
        Ok((importer, first))
    }
}

impl Importer<'_> {
    fn load_all(&mut self, parsed: Vec<Parsed>) -> Result<(), ImportError> {
        parsed.into_iter().try_for_each(|p| self.load(p))
    }

    /// Appends a parsed block to the staging store; its bad rows and the rows repeating
    /// an identity seen before are rejected, in line order.
    fn load(&mut self, parsed: Parsed) -> Result<(), ImportError> {
        let Parsed {
            batch,
            mut lines,
            mut bad,
        } = parsed;
        self.rows += (lines.len() + bad.len()) as u64;
        let base = self.staging.row_count();
        let change = Change::Append {
            batch: Box::new(batch),
        };
        match self.staging.apply(&change, self.now) {
            Ok(_) => {}
            Err(ChangeError::Repeated(pairs)) => {
                let Change::Append { batch } = &change else {
                    unreachable!("built above")
                };
                for &(row, earlier) in &pairs {
                    bad.push(self.repeated_row(batch, &lines, base, row, earlier));
                }
                let repeated = |r: u32| pairs.binary_search_by_key(&r, |p| p.0).is_ok();
                lines = (0..lines.len() as u32)
                    .filter(|&r| !repeated(r))
                    .map(|r| lines[r as usize])
                    .collect();
                let kept = Change::Append {
                    batch: Box::new(batch.without(repeated)),
                };
                self.staging
                    .apply(&kept, self.now)
                    .map_err(ImportError::Internal)?;
            }
            Err(e) => return Err(ImportError::Internal(e)),
        }
        lines.into_iter().for_each(|line| self.lines.push(line));
        bad.sort_by_key(|b| b.line);
        for row in bad {
            self.reject(row.line, row.cells, &row.errors)?;
        }
        Ok(())
    }

    /// The rejection of batch row `row`, which repeats the identity of row `earlier`
    /// (staged, or in the same batch when `earlier >= base`).
    fn repeated_row(
        &self,
        batch: &RowBatch,
        lines: &[u64],
        base: u32,
        row: u32,
        earlier: u32,
    ) -> BadRow {
        let first = match earlier.checked_sub(base) {
            Some(local) => lines[local as usize],
            None => self.lines.line(earlier),
        };
        let contact = batch
            .contact(row)
            .unwrap_or_else(|| Contact::new(Channel::Web, "", ""));
        BadRow {
            line: lines[row as usize],
            cells: self.cells_of(&contact),
            errors: vec![CellError {
                column: "external_id",
                value: contact.external_id.clone(),
                expected: format!(
                    "a unique identity, but line {first} has the same channel, account and external_id"
                ),
            }],
        }
    }

    /// A contact's cells in the file's column order.
    fn cells_of(&self, contact: &Contact) -> Vec<String> {
        (self.parser.header.iter())
            .map(|f| f.map(|f| format_cell(contact, f)).unwrap_or_default())
            .collect()
    }

    fn reject(
        &mut self,
        line: u64,
        cells: Vec<String>,
        errors: &[CellError],
    ) -> Result<(), ImportError> {
        self.total_errors += 1;
        let row_errors = errors.iter().map(|e| RowError {
            line,
            column: e.column.to_string(),
            value: e.value.clone(),
            expected: e.expected.clone(),
        });
        if let Some(writer) = self.rejects.as_mut() {
            let why: Vec<String> = row_errors.map(|e| e.to_string()).collect();
            let mut row = cells;
            row.resize(self.header_names.len(), String::new());
            row.push(why.join("; "));
            writer
                .write_record(&row)
                .map_err(|e| ImportError::Rejects(e.into()))?;
        } else {
            let room = self.options.max_reported.saturating_sub(self.errors.len());
            self.errors.extend(row_errors.take(room));
        }
        Ok(())
    }

    fn finish(mut self, store: &Store) -> Result<Staged, ImportError> {
        if self.rejects.is_none() && self.total_errors > 0 {
            return Err(ImportError::Rows {
                errors: self.errors,
                total: self.total_errors,
            });
        }
        let mut summary = ImportSummary {
            rows: self.rows,
            rejected: self.total_errors,
            ..ImportSummary::default()
        };
        // Rows were checked whole unless the file has fb_optin without fb_frequency
        // (then only merging with stored contacts can tell whether an opt-in is valid).
        let checked_whole = self.parser.checks_whole();
        let outcome = if store.row_count() == 0 && store.tags().is_empty() && checked_whole {
            summary.created = self.staging.len();
            StagedOutcome::Replace(Box::new(std::mem::take(&mut self.staging)))
        } else {
            StagedOutcome::Changes(self.merge_into(store, &mut summary)?)
        };
        if let Some(writer) = self.rejects.as_mut() {
            writer.flush().map_err(ImportError::Rejects)?;
        }
        summary.unchanged = summary.rows - summary.rejected - summary.created - summary.updated;
        Ok(Staged { summary, outcome })
    }

    /// Checks every merged contact (on every core, reading only) and returns the changes
    /// that merge the staged contacts: an upsert of those that change, an append of the
    /// new ones.
    fn merge_into(
        &mut self,
        store: &Store,
        summary: &mut ImportSummary,
    ) -> Result<Vec<Change>, ImportError> {
        let rows: Vec<u32> = self.staging.live().iter().collect();
        let (staging, fields) = (&self.staging, self.parser.fields);
        let plans: Vec<MergePlan> = rows
            .par_chunks(BATCH)
            .map(|chunk| MergePlan::new(staging, store, chunk, fields))
            .collect();
        for plan in &plans {
            for (row, contact, error) in &plan.invalid {
                let error = CellError {
                    column: error.field,
                    value: String::new(),
                    expected: format!("{} (after merging with the stored contact)", error.message),
                };
                self.reject(self.lines.line(*row), self.cells_of(contact), &[error])?;
            }
        }
        if self.rejects.is_none() && plans.iter().any(|p| !p.invalid.is_empty()) {
            self.errors.sort_by_key(|e| e.line);
            return Err(ImportError::Rows {
                errors: std::mem::take(&mut self.errors),
                total: self.total_errors,
            });
        }
        summary.rejected = self.total_errors;
        let (mut create, mut change) = (RoaringBitmap::new(), RoaringBitmap::new());
        for plan in plans {
            create |= plan.create;
            change |= plan.change;
        }
        summary.created = create.len();
        summary.updated = change.len();
        let mut changes = Vec::new();
        if !change.is_empty() {
            let contacts = self.staging.contacts(&change);
            changes.push(Change::Upsert { contacts, fields });
        }
        if !create.is_empty() {
            let mut batch = RowBatch::new();
            for chunk in chunks(&create) {
                for contact in self.staging.contacts(&chunk) {
                    batch.push_unchecked(&contact);
                }
            }
            changes.push(Change::Append {
                batch: Box::new(batch),
            });
        }
        Ok(changes)
    }
}

/// The rows of a set, [`BATCH`] at a time.
fn chunks(rows: &RoaringBitmap) -> impl Iterator<Item = RoaringBitmap> + '_ {
    let all: Vec<u32> = rows.iter().collect();
    (0..all.len()).step_by(BATCH).map(move |at| {
        all[at..(at + BATCH).min(all.len())]
            .iter()
            .copied()
            .collect()
    })
}

/// What merging one chunk of staged rows into the store will do.
struct MergePlan {
    create: RoaringBitmap,
    change: RoaringBitmap,
    /// Staged row, its contact, and why it cannot be merged.
    invalid: Vec<(u32, Contact, crate::model::FieldError)>,
}

impl MergePlan {
    fn new(staging: &Store, store: &Store, chunk: &[u32], fields: FieldSet) -> MergePlan {
        let rows: RoaringBitmap = chunk.iter().copied().collect();
        let contacts = staging.contacts(&rows);
        let outcomes = store.upsert_outcomes(&contacts, fields);
        let mut plan = MergePlan {
            create: RoaringBitmap::new(),
            change: RoaringBitmap::new(),
            invalid: Vec::new(),
        };
        for ((row, contact), outcome) in rows.iter().zip(contacts).zip(outcomes) {
            match outcome {
                UpsertOutcome::Create => _ = plan.create.insert(row),
                UpsertOutcome::Change => _ = plan.change.insert(row),
                UpsertOutcome::Unchanged => {}
                UpsertOutcome::Invalid(error) => plan.invalid.push((row, contact, error)),
            }
        }
        plan
    }
}

/// The line of each staged row, kept as the rows where "next row, next line" does not
/// hold (the first row, and rows after a bad row or a record of several lines): a
/// clean file of millions of rows costs one entry.
#[derive(Default)]
struct LineMap {
    /// (row, its line), by row.
    breaks: Vec<(u32, u64)>,
    rows: u32,
}

impl LineMap {
    /// Records the line of the next row.
    fn push(&mut self, line: u64) {
        if self
            .breaks
            .last()
            .map(|&(row, at)| at + u64::from(self.rows - row))
            != Some(line)
        {
            self.breaks.push((self.rows, line));
        }
        self.rows += 1;
    }

    /// The line of a recorded row.
    fn line(&self, row: u32) -> u64 {
        let before = self.breaks.partition_point(|&(r, _)| r <= row);
        match before.checked_sub(1).map(|i| self.breaks[i]) {
            Some((r, at)) => at + u64::from(row - r),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_map_keeps_only_breaks() {
        let lines = [2, 3, 4, 7, 8, 10, 11, 12, 5_000_000_000];
        let mut map = LineMap::default();
        for line in lines {
            map.push(line);
        }
        assert_eq!(map.breaks.len(), 4);
        for (row, line) in lines.iter().enumerate() {
            assert_eq!(map.line(row as u32), *line);
        }
    }
}
