//! Group commit's shared flush: the log handle that rounds of commits flush through (one
//! `fsync` for every round written since the last), what is written and what is on disk.
//!
//! A failed flush is treated as a failed write: the records after the last good flush
//! are to be cut back off the log (by whoever holds the writer next), no flush is tried
//! until they are, and every round written before the cut learns that its records are
//! gone, so no change is acknowledged that the log may not hold.

use std::fs::File;

use crate::error::Error;

/// A place in the log: the last record's sequence number and the log's length after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    pub seq: u64,
    pub offset: u64,
}

/// The log handle that group flushes use, and how far they got.
#[derive(Debug, Default)]
pub struct Flush {
    file: Option<File>,
    /// The last record written to the log.
    written: Mark,
    /// The last record flushed to disk.
    synced: Mark,
    /// Why a flush failed, until the records after `synced` are cut back.
    failed: Option<String>,
    /// Cut-backs so far: a round written before one has lost its records.
    cuts: u64,
}

impl Flush {
    /// Points flushes at `file`, whose records through `at` are on disk.
    pub fn point_at(&mut self, file: File, at: Mark) {
        self.file = Some(file);
        self.written = at;
        self.synced = at;
    }

    /// Notes a round's records written through `at`; returns the round's ticket for
    /// [`Flush::through`].
    pub fn written(&mut self, at: Mark) -> u64 {
        self.written = at;
        self.cuts
    }

    /// Flushes the log through record `seq` of a round holding `ticket`, sharing the
    /// flush with every round written since the last.
    pub fn through(&mut self, seq: u64, ticket: u64) -> Result<(), Error> {
        if self.cuts != ticket {
            return Err(lost("a flush of the log failed since they were written"));
        }
        if self.synced.seq >= seq {
            return Ok(());
        }
        if let Some(why) = &self.failed {
            return Err(lost(&format!("a flush of the log failed ({why})")));
        }
        let target = self.written;
        if let Some(file) = &self.file
            && let Err(e) = file.sync_data()
        {
            self.failed = Some(e.to_string());
            return Err(Error::io(
                "cannot flush the log to disk; the changes since the last flush were not applied",
                e,
            ));
        }
        self.synced = target;
        Ok(())
    }

    /// Flushes every record written so far.
    pub fn everything(&mut self) -> Result<(), Error> {
        self.through(self.written.seq, self.cuts)
    }

    /// Where the log is to be cut back to after a failed flush (`None`: no flush failed,
    /// or its records are cut back already).
    pub fn cut_point(&self) -> Option<u64> {
        self.failed.as_ref().map(|_| self.synced.offset)
    }

    /// Notes that the log was cut back to the last flush.
    pub fn cut(&mut self) {
        self.failed = None;
        self.cuts += 1;
        self.written = self.synced;
    }

    /// The handle flushes go through (tests put one in that cannot be flushed).
    #[cfg(test)]
    pub fn set_file(&mut self, file: File) {
        self.file = Some(file);
    }
}

/// The error of a round whose records a failed flush took with it.
fn lost(why: &str) -> Error {
    Error::Io {
        message: format!(
            "{why}: these changes were cut back off the log and not applied; try them again"
        ),
        source: std::io::Error::other(why.to_string()),
    }
}
