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
    /// The caller's [`Scope`](crate::engine::Scope) does not reach the contacts, account
    /// or action asked for (the message says nothing of what lies outside it).
    Forbidden(String),
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
    /// Outside what the caller may reach or do.
    Forbidden,
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
            ErrorKind::Forbidden => "forbidden",
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
    /// 403 outside the caller's reach; 503 busy or stopped; 500 a failure of reach or its
    /// system. (401 and 413 are the server's own: keys and body sizes.)
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Segment | ErrorKind::Usage | ErrorKind::Import | ErrorKind::Change => 400,
            ErrorKind::NotFound => 404,
            ErrorKind::Forbidden => 403,
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
            Error::Forbidden(_) => ErrorKind::Forbidden,
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
            Error::Forbidden(m) => Error::Forbidden(m.clone()),
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
            | Error::Forbidden(m)
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
            | Error::Forbidden(_)
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io::{self, Write};

    use super::*;
    use crate::csv::ImportOptions;
    use crate::engine::{Edit, Engine, Target};

    #[test]
    fn each_kind_has_a_name_an_exit_status_and_an_http_status() {
        let segment = Engine::in_memory()
            .compile("tg:vip", 0)
            .expect_err("refused");
        let io_error = || io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let cases = [
            (segment, "segment", 2, 400),
            (Error::Usage("u".into()), "usage", 2, 400),
            (Error::NotFound("n".into()), "not_found", 1, 404),
            (Error::Forbidden("f".into()), "forbidden", 1, 403),
            (
                Error::UnknownContact("line/a/1".into()),
                "not_found",
                1,
                404,
            ),
            (Error::Conflict("c".into()), "conflict", 1, 409),
            (Error::Refused("r".into()), "refused", 1, 409),
            (Error::Busy("b".into()), "busy", 1, 503),
            (Error::Cancelled("x".into()), "cancelled", 1, 503),
            (Error::data("d"), "data", 1, 500),
            (Error::io("cannot read f", io_error()), "io", 1, 500),
            (Error::Closed, "closed", 1, 500),
            (Error::Change(ChangeError::Malformed), "change", 1, 400),
            (
                Error::Import(ImportError::Header("h".into())),
                "import",
                1,
                400,
            ),
            (Error::Import(ImportError::Io(io_error())), "io", 1, 500),
            (
                Error::Import(ImportError::Rejects(io_error())),
                "io",
                1,
                500,
            ),
            (Error::Import(ImportError::Cancelled), "cancelled", 1, 503),
            (
                Error::Import(ImportError::Internal(ChangeError::Malformed)),
                "internal",
                1,
                500,
            ),
        ];
        for (error, name, exit, status) in cases {
            let kind = error.kind();
            assert_eq!(kind.as_str(), name, "{error}");
            assert_eq!(kind.to_string(), name);
            assert_eq!(error.exit_code(), exit, "{error}");
            assert_eq!(kind.http_status(), status, "{error}");
            assert_eq!(error.replicate().kind(), kind, "{error}");
            assert_eq!(error.replicate().to_string(), error.to_string());
        }
    }

    #[test]
    fn errors_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Error>();
        send_sync::<ErrorKind>();
    }

    #[test]
    fn causes_are_kept_as_sources() {
        let denied = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let io = Error::io("cannot read x.csv", denied);
        assert_eq!(io.to_string(), "cannot read x.csv: denied");
        let source = io.source().and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            source.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert_eq!(
            io.replicate()
                .source()
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );

        let json = serde_json::from_str::<u32>("x").expect_err("not JSON");
        let data = Error::data_from(format!("segments.json is damaged: {json}"), json);
        assert!(data.source().is_some_and(|s| s.is::<serde_json::Error>()));
        assert!(Error::data("an empty record").source().is_none());

        // A wrapped stage error shows itself: its cause is the wrapper's.
        let import = Error::Import(ImportError::Io(io::Error::other("gone")));
        assert!(import.source().is_some_and(|s| s.is::<io::Error>()));
        let internal = Error::Import(ImportError::Internal(ChangeError::Malformed));
        assert!(internal.source().is_some_and(|s| s.is::<ChangeError>()));
        let segment = Engine::in_memory()
            .compile("(tag:a", 0)
            .expect_err("refused");
        assert!(segment.source().is_none());
        assert!(Error::Usage("u".into()).source().is_none());
    }

    #[test]
    fn a_busy_directory_refuses_every_edit_of_a_group_as_busy() {
        let dir = tempfile::tempdir().expect("tmp");
        let _writer = Engine::open(dir.path()).expect("opens");
        let other = Engine::open_shared(dir.path()).expect("opens shared");
        let tag = |t: &str| Edit::CreateTag { tag: t.into() };
        let results = other.commit_all(vec![tag("a"), tag("b"), tag("c")], 0);
        assert_eq!(results.len(), 3);
        for result in &results {
            let e = result.as_ref().expect_err("refused");
            assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
            assert!(e.to_string().contains("is being written by"), "{e}");
        }
    }

    #[test]
    fn missing_things_are_not_found_and_exit_1() {
        let engine = Engine::in_memory();
        let forget = Edit::ForgetSegment {
            name: "nope".into(),
        };
        let e = engine.commit(forget, 0).expect_err("refused");
        assert_eq!((e.kind(), e.exit_code()), (ErrorKind::NotFound, 1), "{e}");
        assert_eq!(e.to_string(), "there is no saved segment @nope");
        let quota = Edit::SetQuota {
            account: "line-tw".into(),
            plan: Some(1),
            purchased: None,
            used: None,
        };
        let e = engine.commit(quota, 0).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        let dir = tempfile::tempdir().expect("tmp");
        let e = Engine::open_read_only(dir.path().join("typo")).expect_err("no directory");
        assert_eq!((e.kind(), e.exit_code()), (ErrorKind::NotFound, 1), "{e}");
    }

    #[test]
    fn a_deletion_without_its_word_is_a_conflict() {
        let engine = Engine::in_memory();
        let target = Target::Segment(engine.compile("", 0).expect("compiles"));
        let delete = Edit::Delete {
            target,
            confirm: "delete".into(),
        };
        let e = engine.commit(delete, 0).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert_eq!(e.kind().http_status(), 409);
    }

    /// A reject file on a full disk.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("no space left"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::other("no space left"))
        }
    }

    #[test]
    fn a_reject_file_that_cannot_be_written_is_not_a_csv_that_cannot_be_read() {
        let engine = Engine::in_memory();
        let csv = "channel,account,external_id\nline,a,1\n";
        let mut full = Full;
        let e = engine
            .import(
                csv.as_bytes(),
                &ImportOptions::default(),
                Some(&mut full),
                0,
                &|_| {},
            )
            .expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert_eq!(e.to_string(), "cannot write the reject file: no space left");
        assert!(e.source().is_some_and(|s| s.is::<io::Error>()));
    }
}
