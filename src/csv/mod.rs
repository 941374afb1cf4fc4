//! Contacts in and out as CSV (csv-format.md): import with all-or-nothing checking, export
//! ordered by identity with all columns or the channel's contact-list columns.

mod blocks;
mod cells;
mod export;
mod import;
mod records;
mod report;
mod rows;

pub use cells::{CellError, format_cell, map_header, parse_bool, parse_into};
pub use export::{ColumnChoice, export, list_columns, page_after, page_rows, sorted_rows};
pub use import::{Staged, StagedOutcome, stage};
pub use report::{ImportError, ImportOptions, ImportSummary, RowError};
