//! Format 5 snapshots, read whole: one checksum for the whole body, checked before any of
//! it is decoded, then every length as it decodes. Format 6 replaced it with parts read on
//! first use (`snapshot`); this reader lets a data directory written before that open.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::format::{SnapshotError, corrupt};
use super::lazy::Lazy;
use crate::model::{Seconds, TimeField};
use crate::store::columns::registry::{Entry, Registry};
use crate::store::columns::strings::StrColumn;
use crate::store::columns::text::{MatchRule, TextColumn};
use crate::store::time::TimeColumn;
use crate::store::{Data, Store, split_account_key};

/// Reads a format-5 file of `size` bytes (magic and version checked already).
pub(super) fn read(file: File, size: u64, version: u32) -> Result<(Store, Vec<u8>), SnapshotError> {
    let len = check_body(&file, size)?;
    let mut file = BufReader::with_capacity(1 << 20, file);
    file.seek(SeekFrom::Start(HEADER))?;
    let mut body = Decoder {
        input: &mut file,
        len: 0,
        available: len,
    };
    let store = body.store(version)?;
    let len_attached = body.i64()? as u64;
    let attachment = body.exact(len_attached)?;
    if body.len != len {
        return Err(corrupt("its parts do not add up to its length"));
    }
    Ok((store, attachment))
}

/// Bytes the checksum pass reads at a time.
const BUFFER: usize = 1 << 20;
const END: &[u8; 8] = b"REACHEND";

/// Bytes before the body: magic and format version.
const HEADER: u64 = 12;
/// Bytes after it: body length, checksum, `REACHEND`.
const TRAILER: u64 = 20;
/// Bytes of the body one task checksums.
const CHECKED_PART: u64 = 32 << 20;

/// Checks, before any of the body is decoded, that the trailer ends the file and gives
/// the body's length, and that the body's CRC-32 is the trailer's: parts of the body are
/// read (positioned reads) and checksummed on every core, then their checksums combined
/// in order. Returns the body's length.
fn check_body(file: &File, size: u64) -> Result<u64, SnapshotError> {
    let truncated = || corrupt("it ends too early (truncated)");
    let len = size.checked_sub(HEADER + TRAILER).ok_or_else(truncated)?;
    let mut trailer = [0u8; TRAILER as usize];
    file.read_exact_at(&mut trailer, HEADER + len)?;
    let stored_len = u64::from_le_bytes(trailer[..8].try_into().unwrap_or_default());
    let stored_crc = u32::from_le_bytes(trailer[8..12].try_into().unwrap_or_default());
    if &trailer[12..] != END || stored_len != len {
        return Err(corrupt(
            "its trailer does not end it (truncated, or bytes after the end)",
        ));
    }
    let parts: Vec<Range<u64>> = (0..len.div_ceil(CHECKED_PART))
        .map(|i| i * CHECKED_PART..((i + 1) * CHECKED_PART).min(len))
        .collect();
    let checksums = parts.par_iter().map(|part| {
        let mut crc = crc32fast::Hasher::new();
        let mut buffer = vec![0u8; BUFFER.min((part.end - part.start) as usize)];
        let mut at = part.start;
        while at < part.end {
            let n = buffer.len().min((part.end - at) as usize);
            file.read_exact_at(&mut buffer[..n], HEADER + at)?;
            crc.update(&buffer[..n]);
            at += n as u64;
        }
        Ok(crc)
    });
    let checksums: Vec<crc32fast::Hasher> = checksums.collect::<io::Result<_>>()?;
    let mut crc = crc32fast::Hasher::new();
    for part in &checksums {
        crc.combine(part);
    }
    if crc.finalize() != stored_crc {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(len)
}

/// Reads the body (checksummed already), counting what it reads.
struct Decoder<'a, R: Read> {
    input: &'a mut R,
    len: u64,
    /// Body bytes the file holds: no length read from it may ask for more.
    available: u64,
}

impl<R: Read> Read for Decoder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.len += n as u64;
        Ok(n)
    }
}

impl<R: Read> Decoder<'_, R> {
    fn u32(&mut self) -> io::Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn i64(&mut self) -> io::Result<i64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(i64::from_le_bytes(b))
    }

    /// Refuses a length longer than what is left of the file (a corrupted length must
    /// not make the reader allocate more than the file holds).
    fn fits(&self, len: u64) -> io::Result<usize> {
        if len > self.available.saturating_sub(self.len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        usize::try_from(len).map_err(|_| io::ErrorKind::UnexpectedEof.into())
    }

    /// Reads exactly `len` bytes into a buffer allocated once.
    fn exact(&mut self, len: u64) -> io::Result<Vec<u8>> {
        let mut buf = crate::store::columns::memory::zeroed::<u8>(self.fits(len)?);
        self.read_exact(&mut buf)?;
        Ok(buf)
    }

    fn string(&mut self) -> Result<String, SnapshotError> {
        let len = self.u32()?;
        String::from_utf8(self.exact(u64::from(len))?).map_err(|_| corrupt("invalid UTF-8 text"))
    }

    fn u32s(&mut self, expected: Option<u32>) -> Result<Vec<u32>, SnapshotError> {
        let n = self.u32()?;
        if expected.is_some_and(|e| e != n) {
            return Err(corrupt("column lengths disagree"));
        }
        let mut values =
            crate::store::columns::memory::zeroed::<u32>(self.fits(u64::from(n) * 4)? / 4);
        self.read_exact(bytemuck::cast_slice_mut(&mut values))?;
        for v in &mut values {
            *v = u32::from_le(*v);
        }
        Ok(values)
    }

    fn bitmap(&mut self, rows: Option<u32>) -> Result<RoaringBitmap, SnapshotError> {
        let len = self.u32()?;
        let bytes = self.exact(u64::from(len))?;
        let bitmap = RoaringBitmap::deserialize_from(&bytes[..])
            .map_err(|e| SnapshotError::Corrupt(format!("bad bitmap: {e}")))?;
        if let (Some(rows), Some(max)) = (rows, bitmap.max())
            && max >= rows
        {
            return Err(corrupt("a bitmap names a row that does not exist"));
        }
        Ok(bitmap)
    }

    fn registry(&mut self) -> Result<Registry, SnapshotError> {
        let n = self.u32()?;
        let mut entries = Vec::new();
        for _ in 0..n {
            let name = self.string()?.into_boxed_str();
            let created_at = self.i64()?;
            let rows = self.bitmap(None)?;
            entries.push(Entry {
                name,
                created_at,
                rows: Lazy::new(rows),
            });
        }
        Ok(Registry::from_entries(entries))
    }

    fn strings(&mut self, rows: u32) -> Result<StrColumn, SnapshotError> {
        let lens = self.u32s(Some(rows))?;
        self.strings_with(lens)
    }

    /// Reads the bytes of strings whose lengths are `lens`.
    fn strings_with(&mut self, lens: Vec<u32>) -> Result<StrColumn, SnapshotError> {
        let len = self.i64()? as u64;
        let arena = self.exact(len)?;
        StrColumn::from_parts(arena, lens).ok_or_else(|| corrupt("a text column does not add up"))
    }

    fn texts(&mut self, rule: MatchRule, rows: u32) -> Result<TextColumn, SnapshotError> {
        let present = self.bitmap(Some(rows))?;
        let lens = self.u32s(Some(present.len() as u32))?;
        if lens.contains(&0) {
            return Err(corrupt("an empty text value"));
        }
        let values = self.strings_with(lens)?;
        Ok(TextColumn::from_values(rule, present, values))
    }

    fn store(&mut self, version: u32) -> Result<Store, SnapshotError> {
        let mut data = Data::default();
        let accounts = self.registry()?;
        let tags = self.registry()?;
        let row_account = self.u32s(None)?;
        let rows = row_account.len() as u32;
        data.live = if version >= 4 {
            self.bitmap(Some(rows))?
        } else {
            (0..rows).collect()
        };
        data.live.remove_run_compression();
        if row_account
            .iter()
            .any(|&a| a as usize >= accounts.entries().len())
        {
            return Err(corrupt("a row names an account that does not exist"));
        }
        data.external_ids = Lazy::new(self.strings(rows)?);
        data.names = Lazy::new(self.strings(rows)?);
        data.avatars = Lazy::new(self.strings(rows)?);
        for bitmap in data
            .flags
            .iter_mut()
            .chain(&mut data.opt_outs)
            .chain(&mut data.frequencies)
        {
            *bitmap = self.bitmap(Some(rows))?;
        }
        for column in &mut data.times {
            *column = Lazy::new(TimeColumn::from_raw(&self.u32s(Some(rows))?));
        }
        for column in &mut data.texts {
            *column = Lazy::new(self.texts(column.rule(), rows)?);
        }
        data.accounts = accounts;
        data.tags = tags;
        data.rows = row_account.len() as u32;
        data.row_account = Lazy::new(row_account);
        data.rebuild_derived(rows)?;
        Ok(Store::from_data(data))
    }
}

impl Data {
    /// Rebuilds what the snapshot does not hold: live rows, channels, tag counts and
    /// presence bitmaps. The identity map and equality indexes are built on first use.
    fn rebuild_derived(&mut self, rows: u32) -> Result<(), SnapshotError> {
        for entry in self.accounts.entries() {
            let (channel, _) = split_account_key(&entry.name);
            self.channels[channel.index()] |= &*entry.rows;
        }
        self.tag_counts = None;
        for entry in self.tags.entries() {
            if entry.rows.max().is_some_and(|m| m >= rows) {
                return Err(corrupt("a tag names a row that does not exist"));
            }
        }
        self.tagged = Lazy::new(roaring::MultiOps::union(
            self.tags.entries().iter().map(|e| &*e.rows),
        ));
        for field in TimeField::ALL {
            self.time_present[field.index()] =
                Lazy::new(self.times[field.index()].range(Seconds::MIN, Seconds::MAX));
        }
        Ok(())
    }
}
