//! The snapshot format's versions, and why a data file could not be read or written.

use std::io;

/// The snapshot format this build writes.
pub const FORMAT_VERSION: u32 = 6;
/// The oldest format this build reads (format 5 added the recurring-notification token
/// column and the jobs' `outside_window` and subject; older metadata would be misread).
const OLDEST_READ: u32 = 5;

/// Why a snapshot could not be read or written.
#[derive(Debug)]
pub enum SnapshotError {
    Io(io::Error),
    /// Not a reach snapshot at all.
    Foreign,
    /// Written by another format version.
    Version(u32),
    /// Cut short or altered after writing.
    Corrupt(String),
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Io(e) => write!(f, "{e}"),
            SnapshotError::Foreign => f.write_str("not a reach data file (wrong magic bytes)"),
            SnapshotError::Version(v) => write!(
                f,
                "data file format version {v} is not supported by this reach (it reads versions {OLDEST_READ} to {FORMAT_VERSION}); use the reach that wrote it to export a CSV, then import that"
            ),
            SnapshotError::Corrupt(why) => write!(f, "data file is damaged: {why}"),
        }
    }
}

impl std::error::Error for SnapshotError {}

impl From<io::Error> for SnapshotError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            SnapshotError::Corrupt("it ends too early (truncated)".into())
        } else {
            SnapshotError::Io(e)
        }
    }
}

pub(super) fn corrupt(why: &str) -> SnapshotError {
    SnapshotError::Corrupt(why.into())
}
