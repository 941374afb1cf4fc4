//! The segment language's syntax: text → [`Expr`] with spans, and back. Knows nothing of
//! fields' meanings or of the store.

mod ast;
mod error;
mod parse;
mod print;

pub use ast::{Expr, Predicate, Span, Value};
pub use error::{Diagnostic, DiagnosticKind, ValueOf};
pub use parse::{MAX_DEPTH, MAX_SEGMENT_BYTES, parse};
pub use print::{print, quote};
