//! Snapshot files: the whole store as one versioned file of checksummed parts, mapped
//! and read part by part when first used ([`super::lazy`]), so that a command reads only
//! the columns and bitmaps its segment needs. Where the file goes and how it replaces the
//! last one is the engine's business (`engine::dir`); this module encodes and decodes.
//!
//! Layout (format 6): `REACHSNP` magic, format version (u32 LE), 4 bytes of padding, then
//! the parts, each padded with zeros to a multiple of 8 bytes, then a table of parts
//! (count u32, then per part its offset u64, length u64 and the CRC-32 of its bytes and
//! padding u32), then the trailer (the
//! table's offset u64, its length u64, its CRC-32 u32, `REACHEND`). The parts, in order:
//!
//! - head: the row count; accounts (name, creation time, bitmap); tag names and creation
//!   times; the live rows; the flag, opt-out and frequency bitmaps;
//! - each tag's rows, then the rows carrying any tag;
//! - the row → account column; the external id, name and avatar columns (row lengths,
//!   then the bytes);
//! - per time field, its values, then the rows that have one;
//! - per optional text field, the rows that have one, their lengths and the bytes;
//! - the caller's attachment.
//!
//! Opening checks the trailer, the table and the head, and the attachment; every other
//! part is checked when first read. Every length is checked as it is decoded, so that a
//! truncated, corrupted or foreign file is refused, never misread. Format 5 files (one
//! checksum for the whole body) are still read, whole (`legacy`).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::format::corrupt;
pub use super::format::{FORMAT_VERSION, SnapshotError};
use super::lazy::{Lazy, MappedFile, Section};
use crate::model::{TEXT_FIELDS, TextField, TimeField};
use crate::store::columns::registry::{Entry, Registry};
use crate::store::columns::strings::StrColumn;
use crate::store::columns::text::TextColumn;
use crate::store::time::TimeColumn;
use crate::store::{Data, Store, split_account_key};

const MAGIC: &[u8; 8] = b"REACHSNP";
const END: &[u8; 8] = b"REACHEND";
/// Bytes before the first part: magic, format version, padding.
const HEADER: u64 = 16;
/// Bytes after the table of parts: its offset, length and checksum, `REACHEND`.
const TRAILER: u64 = 28;
/// Bytes of one entry of the table of parts.
const TABLE_ENTRY: usize = 20;

/// Writes `store` and the caller's `attachment` to `out`. Deleted rows are written as
/// they are kept, blank (their fields hold nothing of the contact); compacting them away
/// is the caller's choice. The caller makes the file durable and puts it in place.
pub fn write(store: &Store, attachment: &[u8], out: &mut impl Write) -> Result<(), SnapshotError> {
    if let Some(damage) = store.damage() {
        return Err(SnapshotError::Corrupt(damage));
    }
    let mut file = Encoder::new(out);
    file.write_all(MAGIC)?;
    file.write_all(&FORMAT_VERSION.to_le_bytes())?;
    file.write_all(&[0; 4])?;
    file.parts(&store.data)?;
    file.part(|e| e.write_all(attachment))?;
    file.table()
}

/// Reads a store and its attachment from `path`.
pub fn read(path: &Path) -> Result<(Store, Vec<u8>), SnapshotError> {
    read_file(File::open(path)?, path)
}

/// Reads a store and its attachment from an open snapshot file: the file is mapped, its
/// trailer, table of parts, head and attachment checked and read; the other parts are
/// read when first used. `path` names the file in errors found later.
pub fn read_file(file: File, path: &Path) -> Result<(Store, Vec<u8>), SnapshotError> {
    let size = file.metadata()?.len();
    let mut head = [0u8; 12];
    if size < 12 || file.read_exact_at(&mut head, 0).is_err() || &head[..8] != MAGIC {
        return Err(SnapshotError::Foreign);
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    match version {
        FORMAT_VERSION => Opened::open(&file, size, path)?.store(),
        5 => super::legacy::read(file, size, version),
        other => Err(SnapshotError::Version(other)),
    }
}

/// Bytes the encoder gathers before writing them.
const BUFFER: usize = 1 << 20;

/// Writes the file through a buffer, part by part, checksumming each part.
struct Encoder<'a, W: Write> {
    out: &'a mut W,
    buffer: Vec<u8>,
    /// Bytes written so far (the next byte's offset in the file).
    at: u64,
    crc: crc32fast::Hasher,
    /// The parts written: offset, length, checksum.
    table: Vec<(u64, u64, u32)>,
}

impl<W: Write> Write for Encoder<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + buf.len() > BUFFER {
            self.drain()?;
        }
        if buf.len() >= BUFFER {
            self.out.write_all(buf)?;
        } else {
            self.buffer.extend_from_slice(buf);
        }
        self.crc.update(buf);
        self.at += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}

impl<'a, W: Write> Encoder<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Encoder {
            out,
            buffer: Vec::with_capacity(BUFFER),
            at: 0,
            crc: crc32fast::Hasher::new(),
            table: Vec::new(),
        }
    }

    fn drain(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    /// Pads with zeros to a multiple of 8 bytes.
    fn align(&mut self) -> io::Result<()> {
        let pad = (self.at.next_multiple_of(8) - self.at) as usize;
        self.write_all(&[0; 8][..pad])
    }

    /// Writes one part with `body`, and notes it in the table; its checksum covers the
    /// padding after it too.
    fn part(&mut self, body: impl FnOnce(&mut Self) -> io::Result<()>) -> io::Result<()> {
        self.crc = crc32fast::Hasher::new();
        let start = self.at;
        body(self)?;
        let len = self.at - start;
        self.align()?;
        let crc = std::mem::take(&mut self.crc).finalize();
        self.table.push((start, len, crc));
        Ok(())
    }

    /// Writes the table of parts and the trailer, and hands every byte to the output.
    fn table(mut self) -> Result<(), SnapshotError> {
        self.crc = crc32fast::Hasher::new();
        let start = self.at;
        let table = std::mem::take(&mut self.table);
        self.u32(table.len() as u32)?;
        for (offset, len, crc) in table {
            self.write_all(&offset.to_le_bytes())?;
            self.write_all(&len.to_le_bytes())?;
            self.write_all(&crc.to_le_bytes())?;
        }
        let (len, crc) = (self.at - start, std::mem::take(&mut self.crc).finalize());
        self.write_all(&start.to_le_bytes())?;
        self.write_all(&len.to_le_bytes())?;
        self.write_all(&crc.to_le_bytes())?;
        self.write_all(END)?;
        self.drain()?;
        Ok(())
    }

    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.write_all(&v.to_le_bytes())
    }

    fn bytes(&mut self, v: &[u8]) -> io::Result<()> {
        self.u32(v.len() as u32)?;
        self.write_all(v)
    }

    /// Writes `count` values, in pieces.
    fn u32_iter(&mut self, values: impl Iterator<Item = u32>) -> io::Result<()> {
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

    /// A bitmap, its length first.
    fn bitmap(&mut self, bitmap: &RoaringBitmap) -> io::Result<()> {
        self.u32(bitmap.serialized_size() as u32)?;
        bitmap.serialize_into(&mut *self)
    }

    /// The head: row count, accounts, tag names, live rows, flags, opt-outs, frequencies.
    fn head(&mut self, data: &Data) -> io::Result<()> {
        self.u32(data.rows)?;
        self.u32(data.accounts.entries().len() as u32)?;
        for entry in data.accounts.entries() {
            self.bytes(entry.name.as_bytes())?;
            self.write_all(&entry.created_at.to_le_bytes())?;
            self.bitmap(&entry.rows)?;
        }
        self.u32(data.tags.entries().len() as u32)?;
        for entry in data.tags.entries() {
            self.bytes(entry.name.as_bytes())?;
            self.write_all(&entry.created_at.to_le_bytes())?;
        }
        self.bitmap(&data.live)?;
        let mut bitmaps = (data.flags.iter())
            .chain(&data.opt_outs)
            .chain(&data.frequencies);
        bitmaps.try_for_each(|bitmap| self.bitmap(bitmap))
    }

    /// A string column: each row's length, then all the bytes (u64 length first).
    fn strings(&mut self, column: &StrColumn, rows: u32) -> io::Result<()> {
        self.u32_iter(column.lens(rows))?;
        let total: u64 = column.lens(rows).map(u64::from).sum();
        self.write_all(&total.to_le_bytes())?;
        for bytes in column.concatenated(rows) {
            self.write_all(bytes)?;
        }
        Ok(())
    }

    /// An optional text column: which rows have a value, their lengths, then the bytes.
    fn texts(&mut self, column: &TextColumn) -> io::Result<()> {
        let present = column.present();
        self.bitmap(present)?;
        if let Some(values) = column.packed() {
            return self.strings(values, values.rows());
        }
        self.u32_iter(column.iter().map(|(_, v)| v.len() as u32))?;
        let total: u64 = column.iter().map(|(_, v)| v.len() as u64).sum();
        self.write_all(&total.to_le_bytes())?;
        for (_, value) in column.iter() {
            self.write_all(value.as_bytes())?;
        }
        Ok(())
    }

    /// Every part but the attachment, in the order the module's doc gives.
    fn parts(&mut self, data: &Data) -> Result<(), SnapshotError> {
        let rows = data.rows;
        self.part(|e| e.head(data))?;
        for entry in data.tags.entries() {
            self.lazy_part(&entry.rows, |e, rows| rows.serialize_into(e))?;
        }
        self.lazy_part(&data.tagged, |e, tagged| tagged.serialize_into(e))?;
        self.lazy_part(&data.row_account, |e, codes| {
            e.u32_iter(codes.iter().copied())
        })?;
        for column in [&data.external_ids, &data.names, &data.avatars] {
            self.lazy_part(column, |e, column| e.strings(column, rows))?;
        }
        for (column, present) in data.times.iter().zip(&data.time_present) {
            self.lazy_part(column, |e, column| e.u32_iter(column.stored_values()))?;
            self.lazy_part(present, |e, present| present.serialize_into(e))?;
        }
        for column in &data.texts {
            self.lazy_part(column, |e, column| e.texts(column))?;
        }
        Ok(())
    }

    /// Writes a part of a store: copied from the mapped file it was read from while it is
    /// not read (every change to a part reads it first, and one that adds rows reads every
    /// per-row part), else encoded by `encode` from its value, read now (a damaged part is
    /// an error, never written out as empty).
    fn lazy_part<T: Default>(
        &mut self,
        part: &Lazy<T>,
        encode: impl FnOnce(&mut Self, &T) -> io::Result<()>,
    ) -> Result<(), SnapshotError> {
        if let Some(copied) = part.copy_unread(|bytes| self.part(|e| e.write_all(bytes))) {
            return Ok(copied??);
        }
        let value = part.load()?;
        Ok(self.part(|e| encode(e, value))?)
    }
}

/// A mapped format-6 file: its parts in order, taken one by one as the store is built.
struct Opened {
    file: Arc<MappedFile>,
    parts: std::vec::IntoIter<Section>,
}

impl Opened {
    /// Maps the file and checks its trailer and table of parts.
    fn open(file: &File, size: u64, path: &Path) -> Result<Opened, SnapshotError> {
        let truncated = || corrupt("it ends too early (truncated)");
        let mapped = MappedFile::map(file, &path.display().to_string())?;
        let bytes = mapped.bytes();
        let end = size.checked_sub(TRAILER).filter(|&e| e >= HEADER);
        let end = end.ok_or_else(truncated)? as usize;
        if bytes[12..16] != [0; 4] {
            return Err(corrupt("its header is not what reach writes"));
        }
        let mut trailer = Bytes(&bytes[end..]);
        let (start, len, crc) = (trailer.u64()?, trailer.u64()?, trailer.u32()?);
        if trailer.0 != END || start.checked_add(len) != Some(end as u64) || start < HEADER {
            return Err(corrupt(
                "its trailer does not end it (truncated, or bytes after the end)",
            ));
        }
        let table = &bytes[start as usize..end];
        if crc32fast::hash(table) != crc {
            return Err(corrupt("checksum mismatch in its table of parts"));
        }
        let mut table = Bytes(table);
        let count = table.u32()? as usize;
        if table.0.len() != count.saturating_mul(TABLE_ENTRY) {
            return Err(corrupt("its table of parts does not add up"));
        }
        let mut parts = Vec::with_capacity(count);
        for _ in 0..count {
            let (offset, len, crc) = (table.u64()?, table.u64()?, table.u32()?);
            let padded = offset.saturating_add(len).next_multiple_of(8);
            let inside = offset >= HEADER && offset % 8 == 0 && padded <= start;
            if !inside {
                return Err(corrupt("a part lies outside the file"));
            }
            let range = offset as usize..(offset + len) as usize;
            let file = mapped.clone();
            parts.push(Section { file, range, crc });
        }
        Ok(Opened {
            file: mapped,
            parts: parts.into_iter(),
        })
    }

    fn next(&mut self) -> Result<Section, SnapshotError> {
        self.parts
            .next()
            .ok_or_else(|| corrupt("its table of parts lacks a part"))
    }

    /// The store, its head read now and every other part mapped; and the attachment.
    fn store(mut self) -> Result<(Store, Vec<u8>), SnapshotError> {
        let mut data = Data::default();
        let tags = self.head(&mut data)?;
        let rows = data.rows;
        let entries = tags.into_iter().map(|(name, created_at)| {
            let rows = Lazy::mapped(self.next()?, move |b| bitmap_of(b, rows));
            Ok(Entry {
                name,
                created_at,
                rows,
            })
        });
        data.tags = Registry::from_entries(entries.collect::<Result<_, SnapshotError>>()?);
        data.tagged = Lazy::mapped(self.next()?, move |b| bitmap_of(b, rows));
        let accounts = data.accounts.entries().len() as u32;
        data.row_account = Lazy::mapped(self.next()?, move |b| row_accounts(b, rows, accounts));
        for column in [&mut data.external_ids, &mut data.names, &mut data.avatars] {
            *column = Lazy::mapped(self.next()?, move |b| Bytes(b).strings(rows));
        }
        for (column, present) in data.times.iter_mut().zip(&mut data.time_present) {
            *column = Lazy::mapped(self.next()?, move |b| times(b, rows));
            *present = Lazy::mapped(self.next()?, move |b| bitmap_of(b, rows));
        }
        for field in TextField::ALL {
            let rule = field.match_rule();
            let read = move |b: &[u8]| Bytes(b).texts(rule, rows);
            data.texts[field.index()] = Lazy::mapped(self.next()?, read);
        }
        let attachment = self.next()?.checked()?.to_vec();
        if self.parts.next().is_some() {
            return Err(corrupt("its table of parts has more parts than it should"));
        }
        data.file = Some(Arc::downgrade(&self.file));
        Ok((Store::from_data(data), attachment))
    }

    /// Reads the head into `data`; returns the tags' names and creation times.
    fn head(&mut self, data: &mut Data) -> Result<Vec<(Box<str>, i64)>, SnapshotError> {
        let section = self.next()?;
        let mut head = Bytes(section.checked()?);
        let rows = head.u32()?;
        let mut accounts = Vec::new();
        for _ in 0..head.u32()? {
            let (name, created_at) = (head.string()?, head.i64()?);
            let rows = Lazy::new(head.bitmap(rows)?);
            accounts.push(Entry {
                name,
                created_at,
                rows,
            });
        }
        let mut tags = Vec::new();
        for _ in 0..head.u32()? {
            tags.push((head.string()?, head.i64()?));
        }
        data.rows = rows;
        data.live = head.bitmap(rows)?;
        data.live.remove_run_compression();
        let bitmaps = (data.flags.iter_mut())
            .chain(&mut data.opt_outs)
            .chain(&mut data.frequencies);
        for bitmap in bitmaps {
            *bitmap = head.bitmap(rows)?;
        }
        if !head.0.is_empty() {
            return Err(corrupt("its head is longer than what it holds"));
        }
        data.accounts = Registry::from_entries(accounts);
        for entry in data.accounts.entries() {
            let (channel, _) = split_account_key(&entry.name);
            data.channels[channel.index()] |= &*entry.rows;
        }
        Ok(tags)
    }
}

/// A bitmap filling a whole part, naming rows below `rows` only.
fn bitmap_of(bytes: &[u8], rows: u32) -> Result<RoaringBitmap, SnapshotError> {
    let bitmap = RoaringBitmap::deserialize_from(bytes)
        .map_err(|e| SnapshotError::Corrupt(format!("bad bitmap: {e}")))?;
    within(bitmap, rows)
}

fn within(bitmap: RoaringBitmap, rows: u32) -> Result<RoaringBitmap, SnapshotError> {
    match bitmap.max() {
        Some(max) if max >= rows => Err(corrupt("a bitmap names a row that does not exist")),
        _ => Ok(bitmap),
    }
}

/// The row → account column: `rows` codes, each naming one of `accounts`.
fn row_accounts(bytes: &[u8], rows: u32, accounts: u32) -> Result<Vec<u32>, SnapshotError> {
    let codes = Bytes(bytes).u32s(rows as usize)?;
    if codes.iter().any(|&code| code >= accounts) {
        return Err(corrupt("a row names an account that does not exist"));
    }
    Ok(codes)
}

/// A time column: `rows` stored values, read where they lie.
fn times(bytes: &[u8], rows: u32) -> Result<TimeColumn, SnapshotError> {
    let values: &[u32] = bytemuck::try_cast_slice(bytes)
        .map_err(|_| corrupt("a time column is not whole values"))?;
    if values.len() != rows as usize {
        return Err(corrupt("column lengths disagree"));
    }
    Ok(TimeColumn::from_raw(values))
}

/// Reads a part's bytes in order, checking every length against what is left.
pub(super) struct Bytes<'a>(pub(super) &'a [u8]);

impl<'a> Bytes<'a> {
    pub(super) fn take(&mut self, len: usize) -> Result<&'a [u8], SnapshotError> {
        if len > self.0.len() {
            return Err(corrupt("a part ends too early"));
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut array = [0; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        self.array().map(u32::from_le_bytes)
    }

    pub(super) fn u64(&mut self) -> Result<u64, SnapshotError> {
        self.array().map(u64::from_le_bytes)
    }

    fn i64(&mut self) -> Result<i64, SnapshotError> {
        self.array().map(i64::from_le_bytes)
    }

    fn string(&mut self) -> Result<Box<str>, SnapshotError> {
        let len = self.u32()? as usize;
        let bytes = self.take(len)?;
        let text = std::str::from_utf8(bytes).map_err(|_| corrupt("invalid UTF-8 text"))?;
        Ok(text.into())
    }

    pub(super) fn bitmap(&mut self, rows: u32) -> Result<RoaringBitmap, SnapshotError> {
        let len = self.u32()? as usize;
        bitmap_of(self.take(len)?, rows)
    }

    fn u32s(&mut self, count: usize) -> Result<Vec<u32>, SnapshotError> {
        let bytes = self.take(count.saturating_mul(4))?;
        let mut values = crate::store::columns::memory::zeroed::<u32>(count);
        bytemuck::cast_slice_mut(&mut values).copy_from_slice(bytes);
        values.iter_mut().for_each(|v| *v = u32::from_le(*v));
        Ok(values)
    }

    /// `count` lengths, then the strings' bytes (u64 length first); nothing after.
    fn strings(mut self, count: u32) -> Result<StrColumn, SnapshotError> {
        let lens = self.u32s(count as usize)?;
        let len = usize::try_from(self.u64()?).map_err(|_| corrupt("a part ends too early"))?;
        let mut arena = crate::store::columns::memory::zeroed::<u8>(len);
        arena.copy_from_slice(self.take(len)?);
        if !self.0.is_empty() {
            return Err(corrupt("a column is longer than its rows"));
        }
        StrColumn::from_parts(arena, lens).ok_or_else(|| corrupt("a text column does not add up"))
    }

    /// Which rows have a value, then their values (as [`Bytes::strings`]).
    fn texts(
        mut self,
        rule: crate::model::MatchRule,
        rows: u32,
    ) -> Result<TextColumn, SnapshotError> {
        let present = self.bitmap(rows)?;
        let values = self.strings(present.len() as u32)?;
        if (0..values.rows()).any(|row| values.get(row).is_empty()) {
            return Err(corrupt("an empty text value"));
        }
        Ok(TextColumn::from_values(rule, present, values))
    }
}

const _: () = assert!(TEXT_FIELDS == TextField::ALL.len());
const _: () = assert!(TimeField::ALL.len() == 7);

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
        read_file(file, Path::new("s.snap"))
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

    /// One byte flipped in a part read at open (the attachment) is refused when the file
    /// is opened; one flipped in a part read later (a name) when that part is first read,
    /// and the file's damage is kept for callers that read it through a plain reference.
    #[test]
    fn a_flipped_byte_is_refused_when_its_part_is_read() {
        let bytes = snapshot();
        let (store, attachment) = read_bytes(&bytes).expect("the snapshot reads back");
        assert_eq!((store.len(), &attachment[..]), (2, &b"attached"[..]));
        let mut damaged = bytes.clone();
        damaged[at(&bytes, b"attached")] ^= 0x01;
        let err = refusal(&damaged);
        assert!(err.starts_with("data file is damaged: checksum mismatch in the part at byte "));
        let mut damaged = bytes.clone();
        damaged[at(&bytes, b"Grace")] ^= 0x01;
        let (store, _) = read_bytes(&damaged).expect("the names are not read at open");
        assert_eq!(store.damage(), None);
        let err = store
            .data
            .names
            .load()
            .expect_err("a damaged part is refused");
        assert!(
            err.to_string()
                .contains("checksum mismatch in the part at byte")
        );
        assert_eq!(store.data.names.rows(), 0, "a damaged part reads as empty");
        assert!(
            store
                .damage()
                .is_some_and(|d| d.contains("checksum mismatch"))
        );
    }

    /// `is:fb_sendable` checks its two time columns (expiry, last send) ahead of use and
    /// reads their Facebook rows' values in place: no time column is read whole.
    #[test]
    fn writing_a_mapped_store_copies_its_unread_parts_without_reading_them() {
        let bytes = snapshot();
        let (mut store, _) = read_bytes(&bytes).expect("the snapshot reads back");
        let tag = Change::AddTag {
            tag: "vip".into(),
            rows: [0].into_iter().collect(),
        };
        store.apply(&tag, 1).expect("tags");
        let mut copied = Vec::new();
        write(&store, b"attached", &mut copied).expect("write to memory");
        let d = &store.data;
        let read = [d.names.is_loaded(), d.external_ids.is_loaded()];
        assert_eq!(read, [false, false], "copied as they lie");
        assert!(d.times.iter().all(|t| !t.is_loaded()));
        assert!(d.time_present.iter().all(|t| !t.is_loaded()));
        assert!(d.tagged.is_loaded(), "the change read it: encoded");
        let (again, _) = read_bytes(&copied).expect("reads back");
        assert_eq!(again.contacts(again.live()), store.contacts(store.live()));
    }

    #[test]
    fn the_facebook_window_reads_its_two_time_columns_only() {
        let (store, _) = read_bytes(&snapshot()).expect("the snapshot reads back");
        store
            .load(crate::store::Part::FbSendable)
            .expect("undamaged");
        let at = crate::model::SendableAt {
            now: 0,
            latest_send: [0; 3],
        };
        assert_eq!(store.fb_sendable(at).len(), 0, "no Facebook contact");
        let read = TimeField::ALL.iter().copied();
        let read: Vec<_> = read
            .filter(|f| store.data.times[f.index()].is_loaded())
            .collect();
        assert_eq!(read, []);
    }

    /// Damage to the table of parts or the trailer is refused at open, before any part
    /// is decoded.
    #[test]
    fn the_table_of_parts_is_checked_at_open() {
        let bytes = snapshot();
        let trailer = bytes.len() - TRAILER as usize;
        let table = u64::from_le_bytes(bytes[trailer..trailer + 8].try_into().unwrap()) as usize;
        let mut count = bytes.clone();
        count[table..table + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            refusal(&count),
            "data file is damaged: checksum mismatch in its table of parts"
        );
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 1);
        assert!(refusal(&cut).contains("trailer does not end it"));
        // A table resealed with a part pointing past the table is refused by its bounds.
        let mut outside = bytes.clone();
        outside[table + 4..table + 12].copy_from_slice(&(table as u64).to_le_bytes());
        let crc = crc32fast::hash(&outside[table..trailer]);
        outside[trailer + 16..trailer + 20].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            refusal(&outside),
            "data file is damaged: a part lies outside the file"
        );
    }
}
