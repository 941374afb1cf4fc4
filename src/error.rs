//! The crate-level [`Error`], gathering each stage's errors, and its [`ErrorKind`]: a
//! stable, machine-readable name for what went wrong, which decides the command line's
//! exit status and a server's HTTP status.
//!
//! Each message is complete on its own (an I/O error's message ends with the operating
//! system's words), since that is what the command line and a server show; the cause is
//! kept as well, as [`std::error::Error::source`], for code that looks at it.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::csv::ImportError;
use crate::store::ChangeError;
use crate::syntax::Diagnostic;

/// A cause of any type, kept as an error's source.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// Anything that can go wrong in reach.
#[derive(Debug)]
pub enum Error {
    /// A segment that does not parse or names something unknown (boxed: it is the
    /// largest error, and errors travel in every `Result`).
    Segment(Box<Diagnostic>),
    /// A malformed command or argument.
    Usage(String),
    /// A named thing (a job, a saved segment, an account, a data directory) that does
    /// not exist.
    NotFound(String),
    /// A request that conflicts with the state: a job id used before, a batch sent
    /// already, a confirmation missing, contacts changed while a file was read.
    Conflict(String),
    /// A CSV that cannot be imported (nothing was changed).
    Import(ImportError),
    /// A change the store refused (nothing was changed).
    Change(ChangeError),
    /// A data directory that cannot be read as it is (damaged, or of another format).
    Data {
        message: String,
        /// What failed to decode, where there is such an error.
        source: Option<BoxError>,
    },
    /// Another process is writing the data directory.
    Busy(String),
    /// A change names a contact that is not in the store.
    UnknownContact(String),
    /// Some of a batch of changes were refused (each was reported where it was given),
    /// or a broadcast was refused or did not deliver to everyone.
    Refused(String),
    /// The output was closed (e.g. `| head`): the command ends quietly.
    Closed,
    /// Stopped on request (Ctrl-C, see [`crate::cancel`]).
    Cancelled(String),
    /// The file system (or another channel to the outside, such as a terminal or a
    /// platform's API) failed.
    Io { message: String, source: io::Error },
    /// A failure that is reach's own (a bug), not the input's or the system's.
    Internal {
        message: String,
        source: Option<BoxError>,
    },
}

/// What sort of [`Error`] it is: stable names for machines ([`ErrorKind::as_str`]), the
/// exit status ([`ErrorKind::exit_code`]) and the HTTP status ([`ErrorKind::http_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A malformed segment, or one naming something unknown.
    Segment,
    /// A malformed command, argument or request.
    Usage,
    /// No such thing (a job, a saved segment, a contact, an account, a directory).
    NotFound,
    /// The request conflicts with the state (a job id used before, a confirmation
    /// missing).
    Conflict,
    /// A CSV that cannot be imported.
    Import,
    /// A change the store refused.
    Change,
    /// Data that cannot be read as it is.
    Data,
    /// Another process writes the data directory.
    Busy,
    /// Refused as a whole, or partly failed (a broadcast, some lines of a stream).
    Refused,
    /// The output was closed.
    Closed,
    /// Stopped on request.
    Cancelled,
    /// The file system or another channel to the outside failed.
    Io,
    /// A bug in reach.
    Internal,
}

impl ErrorKind {
    /// The kind's stable snake_case name (`not_found`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Segment => "segment",
            ErrorKind::Usage => "usage",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Import => "import",
            ErrorKind::Change => "change",
            ErrorKind::Data => "data",
            ErrorKind::Busy => "busy",
            ErrorKind::Refused => "refused",
            ErrorKind::Closed => "closed",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }

    /// The command line's exit status (cli.md): 2 for a malformed command or segment,
    /// else 1. (A closed output ends the command quietly: `main` exits 0 for it.)
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Segment | ErrorKind::Usage => 2,
            _ => 1,
        }
    }

    /// The HTTP status of an answer carrying this error (serve.md): 400 a malformed
    /// request, segment, CSV or change; 404 no such thing; 409 a conflict or a refusal;
    /// 503 busy or stopped; 500 a failure of reach or its system. (401, 403 and 413 are
    /// the server's own: keys and body sizes.)
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Segment | ErrorKind::Usage | ErrorKind::Import | ErrorKind::Change => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict | ErrorKind::Refused => 409,
            ErrorKind::Busy | ErrorKind::Cancelled => 503,
            ErrorKind::Data | ErrorKind::Closed | ErrorKind::Io | ErrorKind::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// An I/O error: `what` failed (`cannot read x.csv`), then the system's words.
    pub fn io(what: impl fmt::Display, source: io::Error) -> Error {
        Error::Io {
            message: format!("{what}: {source}"),
            source,
        }
    }

    /// Data that cannot be read as it is, with no further cause.
    pub fn data(message: impl Into<String>) -> Error {
        Error::Data {
            message: message.into(),
            source: None,
        }
    }

    /// Data that cannot be read as it is, because of `source` (which the message names).
    pub fn data_from(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Data {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A bug in reach, caused by `source` (which the message names).
    pub fn internal_from(message: impl Into<String>, source: impl Into<BoxError>) -> Error {
        Error::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What sort of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Segment(_) => ErrorKind::Segment,
            Error::Usage(_) => ErrorKind::Usage,
            Error::NotFound(_) | Error::UnknownContact(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Import(e) => match e {
                ImportError::Header(_) | ImportError::Rows { .. } => ErrorKind::Import,
                ImportError::Io(_) | ImportError::Rejects(_) => ErrorKind::Io,
                ImportError::Cancelled => ErrorKind::Cancelled,
                ImportError::Internal(_) => ErrorKind::Internal,
            },
            Error::Change(_) => ErrorKind::Change,
            Error::Data { .. } => ErrorKind::Data,
            Error::Busy(_) => ErrorKind::Busy,
            Error::Refused(_) => ErrorKind::Refused,
            Error::Closed => ErrorKind::Closed,
            Error::Cancelled(_) => ErrorKind::Cancelled,
            Error::Io { .. } => ErrorKind::Io,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The command line's exit status: 2 for a malformed command or segment, else 1.
    pub fn exit_code(&self) -> u8 {
        self.kind().exit_code()
    }

    /// The same error again, for a second place that must report it (the later changes
    /// of a group that could not start): the same kind and message; the cause is kept
    /// as far as it can be copied (an I/O error's kind and words).
    pub fn replicate(&self) -> Error {
        let copy_io = |e: &io::Error| io::Error::new(e.kind(), e.to_string());
        let words = |source: &Option<BoxError>| -> Option<BoxError> {
            source.as_ref().map(|s| s.to_string().into())
        };
        match self {
            Error::Segment(d) => Error::Segment(d.clone()),
            Error::Usage(m) => Error::Usage(m.clone()),
            Error::NotFound(m) => Error::NotFound(m.clone()),
            Error::Conflict(m) => Error::Conflict(m.clone()),
            Error::Import(e) => Error::Import(match e {
                ImportError::Header(m) => ImportError::Header(m.clone()),
                ImportError::Io(e) => ImportError::Io(copy_io(e)),
                ImportError::Rejects(e) => ImportError::Rejects(copy_io(e)),
                ImportError::Cancelled => ImportError::Cancelled,
                ImportError::Internal(e) => ImportError::Internal(e.clone()),
                ImportError::Rows { errors, total } => ImportError::Rows {
                    errors: errors.clone(),
                    total: *total,
                },
            }),
            Error::Change(e) => Error::Change(e.clone()),
            Error::Data { message, source } => Error::Data {
                message: message.clone(),
                source: words(source),
            },
            Error::Busy(m) => Error::Busy(m.clone()),
            Error::UnknownContact(m) => Error::UnknownContact(m.clone()),
            Error::Refused(m) => Error::Refused(m.clone()),
            Error::Closed => Error::Closed,
            Error::Cancelled(m) => Error::Cancelled(m.clone()),
            Error::Io { message, source } => Error::Io {
                message: message.clone(),
                source: copy_io(source),
            },
            Error::Internal { message, source } => Error::Internal {
                message: message.clone(),
                source: words(source),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Segment(d) => write!(f, "{d}"),
            Error::Usage(m)
            | Error::NotFound(m)
            | Error::Conflict(m)
            | Error::Busy(m)
            | Error::Refused(m)
            | Error::Cancelled(m)
            | Error::Data { message: m, .. }
            | Error::Io { message: m, .. }
            | Error::Internal { message: m, .. } => f.write_str(m),
            Error::UnknownContact(id) => write!(f, "no contact {id} in the store"),
            Error::Closed => f.write_str("the output was closed"),
            Error::Import(e) => write!(f, "{e}"),
            Error::Change(e) => write!(f, "{e}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // These show the inner error as they are: its cause is theirs.
            Error::Segment(d) => d.source(),
            Error::Import(e) => e.source(),
            Error::Change(e) => e.source(),
            Error::Io { source, .. } => Some(source),
            Error::Data { source, .. } | Error::Internal { source, .. } => {
                source.as_deref().map(|s| s as &(dyn StdError + 'static))
            }
            Error::Usage(_)
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Busy(_)
            | Error::UnknownContact(_)
            | Error::Refused(_)
            | Error::Closed
            | Error::Cancelled(_) => None,
        }
    }
}

impl From<Diagnostic> for Error {
    fn from(d: Diagnostic) -> Error {
        Error::Segment(Box::new(d))
    }
}
