//! CSV import: streaming, parallel cell parsing, all-or-nothing (or reject-file) semantics.
//!
//! Rows are parsed in parallel batches and loaded into a *staging* store, never into the
//! target: the raw text is dropped batch by batch, and the staging store holds the file
//! in columnar form. Only when every row is good (or the caller asked for a reject file)
//! is the staging store merged into the target, after checking the merged contacts, so a
//! bad file changes nothing. Importing into an empty store adopts the staging store as is.

use std::fmt;
use std::io::{Read, Write};

use hashbrown::HashMap;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::cells::{CellError, format_cell, map_header, parse_record};
use crate::model::{Channel, Contact, Field, FieldSet, Seconds};
use crate::store::{Change, Store};

/// Rows parsed per parallel batch.
const BATCH: usize = 1 << 15;

type Batch = Vec<(u64, csv::ByteRecord)>;
type Parsed = Vec<Result<Contact, Vec<CellError>>>;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Skip columns the format does not know instead of refusing the file.
    pub ignore_unknown_columns: bool,
    /// How many bad rows an error lists (the total is always given).
    pub max_reported: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            ignore_unknown_columns: false,
            max_reported: 20,
        }
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} rows: {} created, {} updated, {} unchanged",
            self.rows, self.created, self.updated, self.unchanged
        )?;
        if self.rejected > 0 {
            write!(f, ", {} rejected", self.rejected)?;
        }
        Ok(())
    }
}

/// One bad row: where, which column, the value, what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub expected: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if !self.column.is_empty() {
            write!(f, ", column {}", self.column)?;
        }
        if !self.value.is_empty() {
            write!(f, ", value {:?}", self.value)?;
        }
        write!(f, ": expected {}", self.expected)
    }
}

/// Why an import was refused. Nothing was changed.
#[derive(Debug)]
pub enum ImportError {
    /// The header row is missing or wrong.
    Header(String),
    /// The file could not be read.
    Io(std::io::Error),
    /// Stopped by Ctrl-C (see `crate::cancel`).
    Cancelled,
    /// Some rows are bad: the first ones, and how many there are in all.
    Rows { errors: Vec<RowError>, total: u64 },
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Header(why) => write!(f, "bad CSV header: {why}"),
            ImportError::Io(e) => write!(f, "cannot read the CSV: {e}"),
            ImportError::Cancelled => {
                f.write_str("import cancelled (Ctrl-C); nothing was imported")
            }
            ImportError::Rows { errors, total } => {
                write!(f, "{total} bad row(s); nothing was imported")?;
                for e in errors {
                    write!(f, "\n  {e}")?;
                }
                if *total > errors.len() as u64 {
                    write!(f, "\n  … and {} more", *total - errors.len() as u64)?;
                }
                write!(
                    f,
                    "\n(fix the rows, or import with --reject FILE to load the good rows and write the bad ones to FILE)"
                )
            }
        }
    }
}

impl std::error::Error for ImportError {}

/// The state of one import run.
struct Importer<'a> {
    parser: RowParser,
    header_names: Vec<String>,
    staging: Store,
    /// Line of each staging row.
    lines: Vec<u64>,
    errors: Vec<RowError>,
    total_errors: u64,
    options: &'a ImportOptions,
    rejects: Option<csv::Writer<&'a mut (dyn Write + Send)>>,
    rows: u64,
    now: Seconds,
}

/// Imports CSV from `input` into `store` at time `now`. With `rejects`, good rows are
/// applied and bad ones are written there (same columns plus `error`); without, any bad
/// row refuses the whole file. `progress` is told the bytes read so far.
pub fn import<'a>(
    store: &mut Store,
    input: impl Read,
    options: &'a ImportOptions,
    rejects: Option<&'a mut (dyn Write + Send)>,
    now: Seconds,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary, ImportError> {
    let quotes = std::cell::Cell::new(0u64);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(QuoteCounter {
            inner: input,
            quotes: &quotes,
        });
    let mut importer = Importer::new(&mut reader, options, rejects, now)?;
    let parser = RowParser {
        header: importer.parser.header.clone(),
        fields: importer.parser.fields,
    };
    // While one batch is staged (sequential), the next is parsed (parallel).
    let mut pending: Option<(Batch, Parsed)> = None;
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let mut more = true;
        while batch.len() < BATCH {
            let mut record = csv::ByteRecord::new();
            more = reader.read_byte_record(&mut record).map_err(read_error)?;
            if !more {
                break;
            }
            batch.push((record.position().map_or(0, |p| p.line()), record));
        }
        let (parsed, staged) = rayon::join(
            || parser.parse_all(&batch),
            || match pending.take() {
                Some((b, p)) => importer.load_batch(b, p),
                None => Ok(()),
            },
        );
        staged?;
        progress(reader.position().byte());
        if crate::cancel::requested() {
            return Err(ImportError::Cancelled);
        }
        if !batch.is_empty() {
            pending = Some((batch, parsed));
        }
        if !more {
            break;
        }
    }
    if let Some((b, p)) = pending.take() {
        importer.load_batch(b, p)?;
    }
    if quotes.get() % 2 == 1 {
        let line = reader.position().line();
        return Err(ImportError::Rows {
            errors: vec![RowError {
                line,
                column: String::new(),
                value: String::new(),
                expected: "a closing '\"': the file ends inside a quoted field (or a cell holds a stray '\"')".into(),
            }],
            total: 1,
        });
    }
    importer.finish(store)
}

/// Counts the `"` bytes that pass, so an unclosed quote at the end of the file (which the
/// CSV reader accepts silently) is caught: a well-formed file has an even number.
struct QuoteCounter<'a, R> {
    inner: R,
    quotes: &'a std::cell::Cell<u64>,
}

impl<R: Read> Read for QuoteCounter<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let found = memchr::memchr_iter(b'"', &buf[..n]).count() as u64;
        self.quotes.set(self.quotes.get() + found);
        Ok(n)
    }
}

fn read_error(e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ImportError::Io(io),
        other => ImportError::Header(format!("{other:?}")),
    }
}

impl<'a> Importer<'a> {
    fn new<R: Read>(
        reader: &mut csv::Reader<R>,
        options: &'a ImportOptions,
        rejects: Option<&'a mut (dyn Write + Send)>,
        now: Seconds,
    ) -> Result<Importer<'a>, ImportError> {
        let raw = reader.byte_headers().map_err(read_error)?.clone();
        if raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
            return Err(ImportError::Header(
                "the file is empty; a CSV needs a header row naming its columns (channel,account,external_id,…)".into(),
            ));
        }
        let names = raw
            .iter()
            .map(|cell| std::str::from_utf8(cell).map(str::to_string))
            .collect::<Result<Vec<String>, _>>()
            .map_err(|_| ImportError::Header("the header is not valid UTF-8".into()))?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let header =
            map_header(&refs, options.ignore_unknown_columns).map_err(ImportError::Header)?;
        let mut rejects = rejects.map(csv::Writer::from_writer);
        if let Some(writer) = rejects.as_mut() {
            let mut row = names.clone();
            row.push("error".into());
            writer
                .write_record(&row)
                .map_err(|e| ImportError::Io(e.into()))?;
        }
        Ok(Importer {
            parser: RowParser {
                fields: header.iter().flatten().copied().collect(),
                header,
            },
            header_names: names,
            staging: Store::new(),
            lines: Vec::new(),
            errors: Vec::new(),
            total_errors: 0,
            options,
            rejects,
            rows: 0,
            now,
        })
    }
}

/// Turns records into checked contacts; shared by the parallel parsing threads.
struct RowParser {
    header: Vec<Option<Field>>,
    fields: FieldSet,
}

impl RowParser {
    fn parse_all(&self, batch: &Batch) -> Parsed {
        batch
            .par_iter()
            .map(|(_, record)| self.parse(record))
            .collect()
    }

    fn parse(&self, record: &csv::ByteRecord) -> Result<Contact, Vec<CellError>> {
        if record.len() != self.header.len() {
            return Err(vec![CellError {
                column: "",
                value: String::new(),
                expected: format!(
                    "{} fields like the header, found {} (an unclosed quote can cause this)",
                    self.header.len(),
                    record.len()
                ),
            }]);
        }
        let cells: Vec<&str> = record
            .iter()
            .zip(&self.header)
            .map(|(cell, field)| match std::str::from_utf8(cell) {
                Ok(text) => Ok(text),
                Err(_) => Err(CellError {
                    column: field.map_or("", |f| f.name()),
                    value: String::from_utf8_lossy(cell).into_owned(),
                    expected: "valid UTF-8 text".into(),
                }),
            })
            .collect::<Result<_, _>>()
            .map_err(|e| vec![e])?;
        let contact = parse_record(&self.header, cells.into_iter())?;
        let check =
            if self.fields.contains(Field::FbOptin) && self.fields.contains(Field::FbFrequency) {
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
        })?;
        Ok(contact)
    }
}

impl Importer<'_> {
    fn load_batch(&mut self, batch: Batch, parsed: Parsed) -> Result<(), ImportError> {
        let duplicates = self.duplicates(&batch, &parsed);
        let mut good = Vec::with_capacity(batch.len());
        let mut good_lines = Vec::with_capacity(batch.len());
        for (((line, record), result), first) in batch.iter().zip(parsed).zip(duplicates) {
            self.rows += 1;
            match (result, first) {
                (Err(errors), _) => self.reject(*line, record_cells(record), errors.as_slice())?,
                (Ok(contact), Some(first)) => {
                    let error = CellError {
                        column: "external_id",
                        value: contact.external_id,
                        expected: format!(
                            "a unique identity, but line {first} has the same channel, account and external_id"
                        ),
                    };
                    self.reject(*line, record_cells(record), &[error])?;
                }
                (Ok(contact), None) => {
                    good.push(contact);
                    good_lines.push(*line);
                }
            }
        }
        let change = Change::Upsert {
            contacts: good,
            fields: FieldSet::all(),
        };
        self.staging
            .apply(&change, self.now)
            .map_err(|e| ImportError::Header(format!("internal error while staging: {e}")))?;
        self.lines.extend(good_lines);
        Ok(())
    }

    /// For each parsed row, the line of an earlier row with the same identity (in this
    /// batch or already staged).
    fn duplicates(
        &self,
        batch: &[(u64, csv::ByteRecord)],
        parsed: &[Result<Contact, Vec<CellError>>],
    ) -> Vec<Option<u64>> {
        let mut seen: HashMap<(Channel, &str, &str), u64> = HashMap::with_capacity(parsed.len());
        batch
            .iter()
            .zip(parsed)
            .map(|((line, _), result)| {
                let contact = result.as_ref().ok()?;
                let key = (
                    contact.channel,
                    contact.account.as_str(),
                    contact.external_id.as_str(),
                );
                let earlier = seen.get(&key).copied().or_else(|| {
                    self.staging
                        .find(contact.channel, &contact.account, &contact.external_id)
                        .map(|row| self.lines[row as usize])
                });
                if earlier.is_none() {
                    seen.insert(key, *line);
                }
                earlier
            })
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
                .map_err(|e| ImportError::Io(e.into()))?;
        } else {
            let room = self.options.max_reported.saturating_sub(self.errors.len());
            self.errors.extend(row_errors.take(room));
        }
        Ok(())
    }

    fn finish(mut self, store: &mut Store) -> Result<ImportSummary, ImportError> {
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
        if store.row_count() == 0 && store.tags().is_empty() {
            summary.created = self.staging.len();
            *store = std::mem::take(&mut self.staging);
        } else {
            self.merge_into(store, &mut summary)?;
        }
        if let Some(writer) = self.rejects.as_mut() {
            writer.flush().map_err(ImportError::Io)?;
        }
        summary.unchanged = summary.rows - summary.rejected - summary.created - summary.updated;
        Ok(summary)
    }

    /// Checks every merged contact first, then applies chunk by chunk.
    fn merge_into(
        &mut self,
        store: &mut Store,
        summary: &mut ImportSummary,
    ) -> Result<(), ImportError> {
        let rows: Vec<u32> = self.staging.live().iter().collect();
        let mut refused = RoaringBitmap::new();
        for chunk in rows.chunks(BATCH) {
            let batch: RoaringBitmap = chunk.iter().copied().collect();
            let contacts = self.staging.contacts(&batch);
            for (index, error) in store.check_upsert(&contacts, self.parser.fields) {
                let row = chunk[index];
                refused.insert(row);
                let cells = self
                    .parser
                    .header
                    .iter()
                    .map(|f| {
                        f.map(|f| format_cell(&contacts[index], f))
                            .unwrap_or_default()
                    })
                    .collect();
                let error = CellError {
                    column: error.field,
                    value: String::new(),
                    expected: format!("{} (after merging with the stored contact)", error.message),
                };
                self.reject(self.lines[row as usize], cells, &[error])?;
            }
        }
        if self.rejects.is_none() && !refused.is_empty() {
            self.errors.sort_by_key(|e| e.line);
            return Err(ImportError::Rows {
                errors: std::mem::take(&mut self.errors),
                total: self.total_errors,
            });
        }
        summary.rejected = self.total_errors;
        for chunk in rows.chunks(BATCH) {
            let batch: RoaringBitmap = chunk.iter().copied().collect::<RoaringBitmap>() - &refused;
            let change = Change::Upsert {
                contacts: self.staging.contacts(&batch),
                fields: self.parser.fields,
            };
            let applied = store
                .apply(&change, self.now)
                .map_err(|e| ImportError::Header(format!("internal error while merging: {e}")))?;
            summary.created += applied.created;
            summary.updated += applied.changed;
        }
        Ok(())
    }
}

fn record_cells(record: &csv::ByteRecord) -> Vec<String> {
    record
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}
