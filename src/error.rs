//! The crate-level [`Error`], gathering each stage's errors, and how each maps to an exit
//! status of the command line.

use std::fmt;

use crate::csv::ImportError;
use crate::store::ChangeError;
use crate::syntax::Diagnostic;

/// Anything that can go wrong in reach.
#[derive(Debug)]
pub enum Error {
    /// A segment that does not parse or names something unknown.
    Segment(Diagnostic),
    /// A malformed command or argument.
    Usage(String),
    /// A CSV that cannot be imported (nothing was changed).
    Import(ImportError),
    /// A change the store refused (nothing was changed).
    Change(ChangeError),
    /// A data directory that cannot be read as it is.
    Data(String),
    /// Another process is writing the data directory.
    Busy(String),
    /// A change names a contact that is not in the store.
    UnknownContact(String),
    /// Some of a batch of changes were refused (each was reported where it was given).
    Refused(String),
    /// The output was closed (e.g. `| head`): the command ends quietly.
    Closed,
    /// The file system failed.
    Io(String),
}

impl Error {
    /// The command line's exit status: 2 for a malformed command or segment, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Segment(_) | Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Segment(d) => write!(f, "{d}"),
            Error::Usage(m)
            | Error::Data(m)
            | Error::Io(m)
            | Error::Busy(m)
            | Error::Refused(m) => f.write_str(m),
            Error::UnknownContact(id) => write!(f, "no contact {id} in the store"),
            Error::Closed => f.write_str("the output was closed"),
            Error::Import(e) => write!(f, "{e}"),
            Error::Change(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}
