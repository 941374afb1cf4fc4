//! The segment language's syntax: text → [`Expr`] with spans, and back. Knows nothing of
//! fields' meanings or of the store.

mod ast;
mod error;
mod limits;
mod parse;
mod print;

pub use ast::{Expr, Predicate, Span, Value};
pub use error::{Diagnostic, DiagnosticKind, ValueOf};
pub use limits::{MAX_DEPTH, MAX_SEGMENT_BYTES};
pub use parse::parse;
pub use print::{print, quote};
