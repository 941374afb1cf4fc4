//! What an import is told ([`ImportOptions`]) and what it tells back: a summary of what
//! it did, or why it refused the file ([`ImportError`], with every bad row's place).

use std::fmt;

use crate::store::ChangeError;

/// How to import.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Skip columns the format does not know instead of refusing the file.
    pub ignore_unknown_columns: bool,
    /// How many bad rows an error lists (the total is always given).
    pub max_reported: usize,
    /// The size of the input in bytes, if known: the store then makes room for the rows
    /// once instead of growing as they come.
    pub size_hint: Option<u64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            ignore_unknown_columns: false,
            max_reported: 20,
            size_hint: None,
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
    /// The reject file could not be written.
    Rejects(std::io::Error),
    /// The staging store refused what the rows' checks had let through (a bug).
    Internal(ChangeError),
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
            ImportError::Rejects(e) => write!(f, "cannot write the reject file: {e}"),
            ImportError::Internal(e) => write!(f, "internal error while staging: {e}"),
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

impl std::error::Error for ImportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImportError::Io(e) | ImportError::Rejects(e) => Some(e),
            ImportError::Internal(e) => Some(e),
            ImportError::Header(_) | ImportError::Cancelled | ImportError::Rows { .. } => None,
        }
    }
}
