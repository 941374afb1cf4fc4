//! Contacts in and out as CSV (csv-format.md): import with all-or-nothing checking, export
//! ordered by identity with all columns or the channel's contact-list columns.

mod blocks;
mod cells;
mod export;
mod import;
mod records;
mod report;
mod rows;

pub use cells::{format_cell, parse_bool};
pub use export::{ColumnChoice, export, list_columns, sorted_rows};
pub use import::import;
pub use report::{ImportError, ImportOptions, ImportSummary, RowError};
