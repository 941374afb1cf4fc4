//! Snapshot files: the whole store in one versioned, checksummed file. Reading checks the
//! trailer and the checksum of the whole body before decoding any of it, then every
//! length as it decodes, so that a truncated, corrupted or foreign file is refused, never
//! misread. Where the file goes and how it replaces the last one is the
//! engine's business (`engine::dir`); this module only encodes and decodes.
//!
//! Layout: `REACHSNP` magic, format version (u32 LE), body, trailer (body length u64 LE,
//! CRC-32 of the body u32 LE, `REACHEND`). The body holds accounts and tags (name,
//! creation time, portable roaring bitmap), then per-row columns: string columns as every row's length then
//! all the bytes, optional texts as a "present" bitmap, those rows' lengths, then the
//! bytes; then (format 4) the caller's attachment, u64 length first. Format 4 also keeps
//! deleted rows (blank) with a bitmap of the live ones after the row → account column, so
//! that a snapshot need not renumber rows. Indexes derived from columns (identity,
//! equality, time presence) are rebuilt on load. Format 2 files (rows renumbered densely,
//! no attachment) are still read; format 1 (a row id per text value) is refused.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rayon::prelude::*;

use roaring::RoaringBitmap;

use crate::model::{Seconds, TimeField};
use crate::store::columns::registry::{Entry, Registry};
use crate::store::columns::strings::StrColumn;
use crate::store::columns::text::{MatchRule, TextColumn};
use crate::store::time::TimeColumn;
use crate::store::{Data, Store, split_account_key};

const MAGIC: &[u8; 8] = b"REACHSNP";
const END: &[u8; 8] = b"REACHEND";
/// The snapshot format this build writes.
pub const FORMAT_VERSION: u32 = 5;
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

/// Writes `store` and the caller's `attachment` to `out`. Deleted rows are written as
/// they are kept, blank (their fields hold nothing of the contact); compacting them away
/// is the caller's choice. The caller makes the file durable and puts it in place.
pub fn write(store: &Store, attachment: &[u8], out: &mut impl Write) -> Result<(), SnapshotError> {
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    let mut body = Encoder {
        out: &mut *out,
        buffer: Vec::with_capacity(BUFFER),
        crc: crc32fast::Hasher::new(),
        len: 0,
    };
    body.store(store)?;
    body.write_all(&(attachment.len() as u64).to_le_bytes())?;
    body.write_all(attachment)?;
    body.drain()?;
    let (crc, len) = (body.crc.finalize(), body.len);
    out.write_all(&len.to_le_bytes())?;
    out.write_all(&crc.to_le_bytes())?;
    out.write_all(END)?;
    Ok(())
}

/// Reads a store and its attachment from `path`, checking magic, version, lengths and
/// checksum.
pub fn read(path: &Path) -> Result<(Store, Vec<u8>), SnapshotError> {
    read_file(File::open(path)?)
}

/// Reads a store and its attachment from an open snapshot file: the trailer and the
/// checksum of the whole body are checked first (`check_body`), and only a body that
/// is what was written is decoded.
pub fn read_file(file: File) -> Result<(Store, Vec<u8>), SnapshotError> {
    let size = file.metadata()?.len();
    let mut file = BufReader::with_capacity(1 << 20, file);
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| SnapshotError::Foreign)?;
    if &magic != MAGIC {
        return Err(SnapshotError::Foreign);
    }
    let mut version = [0u8; 4];
    file.read_exact(&mut version)?;
    let version = u32::from_le_bytes(version);
    // Format 3 (an attachment, but no live bitmap) was never released.
    if !(OLDEST_READ..=FORMAT_VERSION).contains(&version) || version == 3 {
        return Err(SnapshotError::Version(version));
    }
    let len = check_body(file.get_ref(), size)?;
    let mut body = Decoder {
        input: &mut file,
        len: 0,
        available: len,
    };
    let store = body.store(version)?;
    let attachment = if version >= 4 {
        let len = body.i64()? as u64;
        body.exact(len)?
    } else {
        Vec::new()
    };
    if body.len != len {
        return Err(corrupt("its parts do not add up to its length"));
    }
    Ok((store, attachment))
}

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

/// Bytes the encoder gathers before checksumming and writing them.
const BUFFER: usize = 1 << 20;

/// Writes the body through a buffer, checksumming what it writes.
struct Encoder<'a, W: Write> {
    out: &'a mut W,
    buffer: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + buf.len() > BUFFER {
            self.drain()?;
        }
        if buf.len() >= BUFFER {
            self.crc.update(buf);
            self.out.write_all(buf)?;
        } else {
            self.buffer.extend_from_slice(buf);
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

impl<W: Write> Encoder<'_, W> {
    /// Checksums and writes what the buffer holds.
    fn drain(&mut self) -> io::Result<()> {
        self.crc.update(&self.buffer);
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.write_all(&v.to_le_bytes())
    }

    fn bytes(&mut self, v: &[u8]) -> io::Result<()> {
        self.u32(v.len() as u32)?;
        self.write_all(v)
    }

    fn u32s(&mut self, values: &[u32]) -> io::Result<()> {
        self.u32_iter(values.len() as u32, values.iter().copied())
    }

    /// Writes a count, then `count` values.
    fn u32_iter(&mut self, count: u32, values: impl Iterator<Item = u32>) -> io::Result<()> {
        self.u32(count)?;
        let mut chunk = Vec::with_capacity(1 << 14);
        for value in values {
            chunk.push(value.to_le());
            if chunk.len() == chunk.capacity() {
                self.write_all(bytemuck::cast_slice(&chunk))?;
                chunk.clear();
            }
        }
        self.write_all(bytemuck::cast_slice(&chunk))
    }

    fn bitmap(&mut self, bitmap: &RoaringBitmap) -> io::Result<()> {
        self.u32(bitmap.serialized_size() as u32)?;
        bitmap.serialize_into(&mut *self)
    }

    fn registry(&mut self, registry: &Registry) -> io::Result<()> {
        self.u32(registry.entries().len() as u32)?;
        for entry in registry.entries() {
            self.bytes(entry.name.as_bytes())?;
            self.write_all(&entry.created_at.to_le_bytes())?;
            self.bitmap(&entry.rows)?;
        }
        Ok(())
    }

    /// Writes each row's length, then all the strings' bytes (u64 length first).
    fn strings(&mut self, column: &StrColumn, rows: u32) -> io::Result<()> {
        self.u32_iter(rows, column.lens(rows))?;
        self.arena(column, rows)
    }

    /// Writes the bytes of rows `0..rows`, u64 length first.
    fn arena(&mut self, column: &StrColumn, rows: u32) -> io::Result<()> {
        let total: u64 = column.lens(rows).map(u64::from).sum();
        self.write_all(&total.to_le_bytes())?;
        for bytes in column.concatenated(rows) {
            self.write_all(bytes)?;
        }
        Ok(())
    }

    /// Writes which rows have a value, their lengths, then the bytes.
    fn texts(&mut self, column: &TextColumn) -> io::Result<()> {
        let present = column.present();
        self.bitmap(present)?;
        let lens = column.iter().map(|(_, v)| v.len() as u32);
        self.u32_iter(present.len() as u32, lens)?;
        if let Some(values) = column.packed() {
            return self.arena(values, values.rows());
        }
        let total: u64 = column.iter().map(|(_, v)| v.len() as u64).sum();
        self.write_all(&total.to_le_bytes())?;
        for (_, value) in column.iter() {
            self.write_all(value.as_bytes())?;
        }
        Ok(())
    }

    fn store(&mut self, store: &Store) -> io::Result<()> {
        let rows = store.row_count();
        self.registry(&store.data.accounts)?;
        self.registry(&store.data.tags)?;
        self.u32s(&store.data.row_account)?;
        self.bitmap(&store.data.live)?;
        self.strings(&store.data.external_ids, rows)?;
        self.strings(&store.data.names, rows)?;
        self.strings(&store.data.avatars, rows)?;
        for bitmap in store
            .data
            .flags
            .iter()
            .chain(&store.data.opt_outs)
            .chain(&store.data.frequencies)
        {
            self.bitmap(bitmap)?;
        }
        for column in &store.data.times {
            let values = column.stored_values();
            self.u32_iter(values.len() as u32, values)?;
        }
        for column in &store.data.texts {
            self.texts(column)?;
        }
        Ok(())
    }
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

fn corrupt(why: &str) -> SnapshotError {
    SnapshotError::Corrupt(why.into())
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
                rows,
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
        data.external_ids = self.strings(rows)?;
        data.names = self.strings(rows)?;
        data.avatars = self.strings(rows)?;
        for bitmap in data
            .flags
            .iter_mut()
            .chain(&mut data.opt_outs)
            .chain(&mut data.frequencies)
        {
            *bitmap = self.bitmap(Some(rows))?;
        }
        for column in &mut data.times {
            *column = TimeColumn::from_raw(&self.u32s(Some(rows))?);
        }
        for column in &mut data.texts {
            *column = self.texts(column.rule(), rows)?;
        }
        data.accounts = accounts;
        data.tags = tags;
        data.row_account = row_account;
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
            self.channels[channel.index()] |= &entry.rows;
        }
        self.tag_counts = None;
        for entry in self.tags.entries() {
            if entry.rows.max().is_some_and(|m| m >= rows) {
                return Err(corrupt("a tag names a row that does not exist"));
            }
        }
        self.tagged = roaring::MultiOps::union(self.tags.entries().iter().map(|e| &e.rows));
        for field in TimeField::ALL {
            self.time_present[field.index()] =
                self.times[field.index()].range(Seconds::MIN, Seconds::MAX);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channel, Contact, FieldSet};
    use crate::store::Change;

    /// A snapshot of two contacts, with an attachment.
    fn snapshot() -> Vec<u8> {
        let mut store = Store::new();
        let contacts = ["Ada Lovelace", "Grace Hopper"].map(|name| {
            let mut c = Contact::new(Channel::Web, "site", &name.to_lowercase());
            c.name = name.to_string();
            c
        });
        let upsert = Change::Upsert {
            contacts: contacts.to_vec(),
            fields: FieldSet::all(),
        };
        store.apply(&upsert, 0).expect("two valid contacts");
        let mut bytes = Vec::new();
        write(&store, b"attached", &mut bytes).expect("write to memory");
        bytes
    }

    fn read_bytes(bytes: &[u8]) -> Result<(Store, Vec<u8>), SnapshotError> {
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(bytes).expect("write");
        io::Seek::rewind(&mut file).expect("rewind");
        read_file(file)
    }

    fn at(bytes: &[u8], part: &[u8]) -> usize {
        let found = bytes.windows(part.len()).position(|w| w == part);
        found.expect("the part is in the file")
    }

    fn refusal(bytes: &[u8]) -> String {
        match read_bytes(bytes) {
            Ok(_) => panic!("a damaged snapshot was read"),
            Err(e) => e.to_string(),
        }
    }

    /// One byte flipped where it still decodes into a plausible store (a name, the
    /// attachment): refused by the checksum.
    #[test]
    fn a_flipped_byte_that_decodes_plausibly_is_refused() {
        let bytes = snapshot();
        let (store, attachment) = read_bytes(&bytes).expect("the snapshot reads back");
        assert_eq!((store.len(), &attachment[..]), (2, &b"attached"[..]));
        for part in [&b"Grace"[..], b"attached"] {
            let mut damaged = bytes.clone();
            damaged[at(&bytes, part)] ^= 0x01;
            let err = refusal(&damaged);
            assert_eq!(err, "data file is damaged: checksum mismatch");
        }
    }

    /// Damage that decoding would meet first and name otherwise (a count asking for more
    /// bytes than the file holds, a bitmap that does not parse): the checksum, checked
    /// before anything is decoded, refuses it, whatever decoding would have said.
    #[test]
    fn the_checksum_is_checked_before_decoding() {
        let bytes = snapshot();
        let mut count = bytes.clone();
        // The number of accounts, the body's first word.
        count[HEADER as usize..HEADER as usize + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut bitmap = bytes.clone();
        // The cookie of the first account's bitmap, after its name and creation time.
        bitmap[at(&bytes, b"web|site") + 8 + 8 + 4] ^= 0xff;
        for damaged in [count, bitmap] {
            assert_eq!(refusal(&damaged), "data file is damaged: checksum mismatch");
            // The same damage under a checksum made to match reaches the decoder, which
            // names it otherwise: so the refusal above came before decoding.
            let len = damaged.len() - TRAILER as usize;
            let crc = crc32fast::hash(&damaged[HEADER as usize..len]);
            let mut resealed = damaged.clone();
            resealed[len + 8..len + 12].copy_from_slice(&crc.to_le_bytes());
            let err = refusal(&resealed);
            assert!(err.starts_with("data file is damaged: "), "{err}");
            assert_ne!(err, "data file is damaged: checksum mismatch");
        }
    }
}
