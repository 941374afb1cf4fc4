//! The write-ahead log: every change after a snapshot, as length-framed, checksummed
//! records, appended before the change is applied in memory.
//!
//! Layout: a header (`REACHWAL`, format version u32 LE, the snapshot generation u64 LE it
//! follows), then records. A record is a frame of 24 bytes — payload length u64 LE,
//! sequence number u64 LE, CRC-32 of the payload u32 LE, CRC-32 of the frame's first 20
//! bytes u32 LE — and the payload. Sequence numbers run on from the snapshot's without
//! a gap.
//!
//! Reading tells three endings apart: the clean end; a *torn tail* (the last record is
//! cut short, as when the writer was killed mid-write), which is dropped; and *damage*
//! (a frame or payload whose checksum fails anywhere, or a sequence out of order), which
//! is an error naming the file and the byte offset.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::dir::{create_new, io_error, open_append, open_private};
use crate::error::Error;

const MAGIC: &[u8; 8] = b"REACHWAL";
const VERSION: u32 = 2;
/// Bytes of the file header.
pub const HEADER: u64 = 20;
/// Bytes of a record's frame.
const FRAME: usize = 24;

/// A log open for appending. Records appended in one round of commits are gathered and
/// written with one `write` when the round ends (before it is flushed and acknowledged).
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    path: PathBuf,
    /// Bytes in the file: header and whole records.
    written: u64,
    /// Records appended but not written yet.
    pending: Vec<u8>,
    /// Whether a failed write could not be cut back: the file may end in a partial or
    /// refused record, so nothing more may be appended.
    damaged: bool,
}

/// Where a log stands once read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogEnd {
    /// Bytes of whole records (and header).
    pub offset: u64,
    /// The sequence number of the last whole record (or the one the log starts after).
    pub seq: u64,
    /// Whether a cut-short record followed the whole ones.
    pub torn: bool,
}

impl LogWriter {
    /// Creates the log that follows the snapshot of `generation`.
    pub fn create(path: &Path, generation: u64) -> Result<LogWriter, Error> {
        let mut file = create_new(path)?;
        let mut header = Vec::with_capacity(HEADER as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&generation.to_le_bytes());
        file.write_all(&header)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(path, e))?;
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            written: HEADER,
            pending: Vec::new(),
            damaged: false,
        })
    }

    /// Opens a log read up to `end` for appending, cutting off a torn tail.
    pub fn reopen(path: &Path, end: LogEnd) -> Result<LogWriter, Error> {
        let mut file = open_append(path)?;
        let cut = file
            .set_len(end.offset)
            .and_then(|()| file.sync_all())
            .and_then(|()| file.seek(SeekFrom::Start(end.offset)));
        cut.map_err(|e| io_error(path, e))?;
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            written: end.offset,
            pending: Vec::new(),
            damaged: false,
        })
    }

    /// Bytes in the log, pending records included.
    pub fn len(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    /// Appends one record to the round's pending records.
    pub fn append(&mut self, seq: u64, payload: &[u8]) {
        let record = &mut self.pending;
        let start = record.len();
        record.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        record.extend_from_slice(&seq.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let frame_crc = crc32fast::hash(&record[start..start + 20]);
        record.extend_from_slice(&frame_crc.to_le_bytes());
        record.extend_from_slice(payload);
    }

    /// Writes the pending records (one `write`; not flushed to disk). On failure the
    /// records are dropped (their changes are refused) and the log is cut back to where
    /// it was, so no partial or refused record stays behind.
    pub fn write_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = self.file.write_all(&self.pending);
        let bytes = self.pending.len() as u64;
        // Written or refused, the records leave the buffer (which keeps its capacity).
        self.pending.clear();
        if let Err(e) = written {
            return Err(self.cut_back(self.written, e));
        }
        self.written += bytes;
        Ok(())
    }

    /// Cuts the file back to `end` after `e` (a failed write or flush), so that what
    /// followed `end` is not there to replay; the error says whether that worked too.
    fn cut_back(&mut self, end: u64, e: io::Error) -> Error {
        let undone = self
            .file
            .set_len(end)
            .and_then(|()| self.file.seek(SeekFrom::Start(end)));
        match undone {
            Ok(_) => {
                self.written = end;
                io_error(&self.path, e)
            }
            Err(undo) => {
                self.damaged = true;
                Error::Io {
                    message: format!(
                        "{}: {e}; cutting back the records that failed failed too ({undo})",
                        self.path.display()
                    ),
                    source: e,
                }
            }
        }
    }

    /// Cuts the file back to `end` (after a failed flush of what followed): the records
    /// after it are dropped. If that fails, nothing more may be appended.
    pub fn cut_to(&mut self, end: u64) -> Result<(), Error> {
        self.pending.clear();
        let undone =
            (self.file.set_len(end)).and_then(|()| self.file.seek(SeekFrom::Start(end)).map(drop));
        match undone {
            Ok(()) => {
                self.written = end;
                Ok(())
            }
            Err(e) => {
                self.damaged = true;
                Err(Error::io(
                    format!(
                        "{}: cannot cut back the records of a failed flush",
                        self.path.display()
                    ),
                    e,
                ))
            }
        }
    }

    /// Whether a failed write left the file as it should not be (see `damaged`).
    pub fn is_damaged(&self) -> bool {
        self.damaged
    }

    /// A second handle on the file, for flushing it from another thread.
    pub fn handle(&self) -> Result<File, Error> {
        self.file.try_clone().map_err(|e| io_error(&self.path, e))
    }

    /// Writes the pending records and flushes the file to disk. On failure the records
    /// are cut back off, as [`LogWriter::write_pending`] does.
    pub fn sync(&mut self) -> Result<(), Error> {
        let before = self.written;
        self.write_pending()?;
        match self.file.sync_data() {
            Ok(()) => Ok(()),
            Err(e) => Err(self.cut_back(before, e)),
        }
    }
}

/// Reads the records of a log from `start` (an offset of a record boundary; `HEADER` for
/// the first), handing each payload to `each` with its sequence number, which must follow
/// `after`. Returns where the whole records end.
pub fn read(
    path: &Path,
    generation: u64,
    start: u64,
    after: u64,
    each: &mut dyn FnMut(u64, Vec<u8>) -> Result<(), Error>,
) -> Result<LogEnd, Error> {
    let file = open_private(path)?;
    let size = file.metadata().map_err(|e| io_error(path, e))?.len();
    let mut input = BufReader::with_capacity(1 << 20, file);
    let damaged = |offset: u64, why: &str| {
        Error::data(format!(
            "{} is damaged at byte {offset}: {why}. Nothing was changed; restore the directory from a backup, or move this file away to open the snapshot without the changes it holds",
            path.display()
        ))
    };
    let mut header = [0u8; HEADER as usize];
    match read_full(&mut input, &mut header).map_err(|e| io_error(path, e))? {
        n if n < header.len() => {
            return Ok(LogEnd {
                offset: 0,
                seq: after,
                torn: true,
            });
        }
        _ => {}
    }
    if &header[..8] != MAGIC {
        return Err(damaged(0, "not a reach log (wrong magic bytes)"));
    }
    if u32::from_le_bytes(header[8..12].try_into().unwrap_or_default()) != VERSION {
        return Err(damaged(
            8,
            "a log format this reach does not read (an older reach wrote it: export a CSV with that reach, then import it here)",
        ));
    }
    if u64::from_le_bytes(header[12..20].try_into().unwrap_or_default()) != generation {
        return Err(damaged(
            12,
            "the log belongs to another snapshot generation",
        ));
    }
    let mut offset = start.max(HEADER);
    if offset > HEADER {
        input
            .seek(SeekFrom::Start(offset))
            .map_err(|e| io_error(path, e))?;
    }
    let mut seq = after;
    loop {
        let mut frame = [0u8; FRAME];
        let got = read_full(&mut input, &mut frame).map_err(|e| io_error(path, e))?;
        if got == 0 {
            return Ok(LogEnd {
                offset,
                seq,
                torn: false,
            });
        }
        if got < FRAME {
            return Ok(LogEnd {
                offset,
                seq,
                torn: true,
            });
        }
        let word = |at: usize| u64::from_le_bytes(frame[at..at + 8].try_into().unwrap_or_default());
        let half = |at: usize| u32::from_le_bytes(frame[at..at + 4].try_into().unwrap_or_default());
        if crc32fast::hash(&frame[..20]) != half(20) {
            return Err(damaged(offset, "a record's frame fails its checksum"));
        }
        let (len, record_seq, crc) = (word(0), word(8), half(16));
        if record_seq != seq + 1 {
            return Err(damaged(
                offset,
                &format!("record {record_seq} where record {} should be", seq + 1),
            ));
        }
        let body_start = offset + FRAME as u64;
        if len > size.saturating_sub(body_start) {
            return Ok(LogEnd {
                offset,
                seq,
                torn: true,
            });
        }
        let mut payload = vec![0u8; len as usize];
        if read_full(&mut input, &mut payload).map_err(|e| io_error(path, e))? < payload.len() {
            return Ok(LogEnd {
                offset,
                seq,
                torn: true,
            });
        }
        if crc32fast::hash(&payload) != crc {
            return Err(damaged(offset, "a record fails its checksum"));
        }
        each(record_seq, payload).map_err(|e| match e {
            Error::Data { message, source } => match damaged(offset, &message) {
                Error::Data { message, .. } => Error::Data { message, source },
                other => other,
            },
            other => other,
        })?;
        seq = record_seq;
        offset = body_start + len;
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
