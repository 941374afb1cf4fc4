//! Parts of a store read from a mapped snapshot on first use.
//!
//! A snapshot is mapped, not read: each part (a tag's bitmap, a column) is a [`Section`]
//! of the mapped file with its own checksum, and a [`Lazy`] part decodes its section the
//! first time it is read, checking the checksum then. A command touches only the parts its
//! segment needs.
//!
//! A part whose checksum fails cannot return an error from a plain read: it reads as empty
//! and the failure is kept in the file's [`Damage`], which every caller that reads through
//! the engine checks ([`crate::store::Store::damage`]) before trusting or writing anything.
//! Parts that callers know they will read are loaded first with [`Lazy::load`], which
//! returns the error itself.

use std::fmt;
use std::ops::{Deref, DerefMut, Range};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::format::SnapshotError;

/// A snapshot file mapped into memory, and the first damage found in it.
pub struct MappedFile {
    map: memmap2::Mmap,
    /// The file's path, as errors name it.
    name: String,
    damage: OnceLock<String>,
}

impl MappedFile {
    /// Maps `file` read-only. The data directory's files are written once, under a new
    /// name, and never changed in place, so the mapping stays what was checked.
    pub fn map(file: &std::fs::File, name: &str) -> std::io::Result<Arc<MappedFile>> {
        // SAFETY: the snapshot is never written in place (a new one is written under a
        // new name and renamed over it; see `engine::dir`), so the mapped bytes do not
        // change while they are mapped. A file changed by hand under a running process is
        // outside that promise, as it is for every database that maps its files.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(Arc::new(MappedFile {
            map,
            name: name.to_string(),
            damage: OnceLock::new(),
        }))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    /// What was found damaged, once a part failed its checksum or did not decode.
    pub fn damage(&self) -> Option<String> {
        self.damage.get().cloned()
    }

    fn record(&self, error: &SnapshotError) {
        let _ = self.damage.set(error.to_string());
    }
}

impl fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MappedFile({} bytes)", self.map.len())
    }
}

/// One checksummed part of a mapped file.
#[derive(Clone, Debug)]
pub struct Section {
    pub file: Arc<MappedFile>,
    pub range: Range<usize>,
    pub crc: u32,
}

impl Section {
    /// The section's bytes, once their checksum (which covers the zeros padding them to
    /// a multiple of 8 bytes) is the one written.
    pub fn checked(&self) -> Result<&[u8], SnapshotError> {
        let padded = self.range.start..self.range.end.next_multiple_of(8);
        let bytes = (self.file.bytes().get(padded))
            .ok_or_else(|| SnapshotError::Corrupt("a part lies past its end".into()))?;
        if crc32fast::hash(bytes) != self.crc {
            return Err(SnapshotError::Corrupt(format!(
                "checksum mismatch in the part at byte {} of {}",
                self.range.start, self.file.name
            )));
        }
        Ok(&bytes[..self.range.len()])
    }
}

type Decode<T> = dyn Fn(&[u8]) -> Result<T, SnapshotError> + Send + Sync;

/// A write kept until its part is read ([`Lazy::write_later`]).
type Later<T> = Arc<dyn Fn(&mut T) + Send + Sync>;

/// Where an unread part comes from and how it is decoded.
struct Source<T> {
    section: Section,
    decode: Box<Decode<T>>,
    /// Set once the section's checksum was found right (it is checked once).
    sound: OnceLock<()>,
}

impl<T> Source<T> {
    /// The section's bytes, its checksum checked the first time.
    fn bytes(&self) -> Result<&[u8], SnapshotError> {
        if self.sound.get().is_none() {
            self.section.checked()?;
            let _ = self.sound.set(());
        }
        let bytes = self.section.file.bytes().get(self.section.range.clone());
        bytes.ok_or_else(|| SnapshotError::Corrupt("a part lies past its end".into()))
    }
}

/// A part of a store: a value, or a section of a mapped snapshot decoded on first read.
/// It reads as `T`; a write reads it first, then keeps the value it changed, unless it
/// is kept for later ([`Lazy::write_later`]). Once read, it lets go of its section, so
/// that a store read whole no longer keeps its file mapped.
pub struct Lazy<T> {
    value: OnceLock<T>,
    source: Mutex<Option<Arc<Source<T>>>>,
    /// Writes made while the part was not read, applied in order once it is decoded.
    later: Vec<Later<T>>,
}

impl<T: Default> Lazy<T> {
    /// A part held in memory.
    pub fn new(value: T) -> Lazy<T> {
        Lazy {
            value: OnceLock::from(value),
            source: Mutex::new(None),
            later: Vec::new(),
        }
    }

    /// A part decoded from `section` by `decode` when first read.
    pub fn mapped(
        section: Section,
        decode: impl Fn(&[u8]) -> Result<T, SnapshotError> + Send + Sync + 'static,
    ) -> Lazy<T> {
        Lazy {
            value: OnceLock::new(),
            source: Mutex::new(Some(Arc::new(Source {
                section,
                decode: Box::new(decode),
                sound: OnceLock::new(),
            }))),
            later: Vec::new(),
        }
    }

    /// Applies `write` now if the part is read, else once it is (after the writes kept
    /// before it): a store replaying its log does not decode a column that no one reads.
    /// While writes are kept, the part is not read in place ([`Lazy::read_in_place`]):
    /// its bytes in the file are out of date.
    pub fn write_later(&mut self, write: impl Fn(&mut T) + Send + Sync + 'static) {
        match self.value.get_mut() {
            Some(value) => write(value),
            None => self.later.push(Arc::new(write)),
        }
    }

    /// The value, decoding it now if it was not read yet.
    pub fn load(&self) -> Result<&T, SnapshotError> {
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let mut source = self.source.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let mut value = match &*source {
            Some(from) => (from.decode)(from.bytes()?)?,
            None => T::default(),
        };
        self.later.iter().for_each(|write| write(&mut value));
        *source = None;
        Ok(self.value.get_or_init(|| value))
    }

    /// Checks the part's checksum (once) without decoding it: for a caller that will
    /// read it in place ([`Lazy::read_in_place`]). A part read already passes.
    pub fn check(&self) -> Result<(), SnapshotError> {
        match self.source() {
            Some(source) => source.bytes().map(drop),
            None => Ok(()),
        }
    }

    /// `read` of the part's bytes where they lie in the mapped file (checksum checked
    /// once), while the part is not read yet: nothing is copied or kept. `None` once the
    /// part is in memory (read the value instead). A damaged part, or bytes `read`
    /// refuses, read as `R::default()` and the failure is kept in the file's damage, as
    /// a plain read of a damaged part does.
    pub fn read_in_place<R: Default>(
        &self,
        read: impl FnOnce(&[u8]) -> Result<R, SnapshotError>,
    ) -> Option<R> {
        if !self.later.is_empty() {
            return None;
        }
        let source = self.source()?;
        let read = source.bytes().and_then(read);
        Some(read.unwrap_or_else(|e| {
            source.section.file.record(&e);
            R::default()
        }))
    }

    /// `write` of the part's bytes where they lie in the mapped file (checksum checked
    /// once) while it is not read and no write waits for it: a new snapshot copies such a
    /// part as it is instead of decoding and encoding it again. `None`: write the value.
    pub fn copy_unread<R>(
        &self,
        write: impl FnOnce(&[u8]) -> R,
    ) -> Option<Result<R, SnapshotError>> {
        if self.is_loaded() || !self.later.is_empty() {
            return None;
        }
        let source = self.source()?;
        Some(source.bytes().map(write))
    }

    fn source(&self) -> Option<Arc<Source<T>>> {
        (self.source.lock().unwrap_or_else(PoisonError::into_inner)).clone()
    }

    /// Whether the value is in memory (read already, or never mapped).
    pub fn is_loaded(&self) -> bool {
        self.value.get().is_some()
    }

    /// The value if it is in memory, without reading anything.
    pub fn loaded(&self) -> Option<&T> {
        self.value.get()
    }

    fn read(&self) -> &T {
        match self.load() {
            Ok(value) => value,
            Err(e) => {
                if let Some(source) = self.source() {
                    source.section.file.record(&e);
                }
                self.value.get_or_init(T::default)
            }
        }
    }
}

impl<T: Default> Default for Lazy<T> {
    fn default() -> Self {
        Lazy::new(T::default())
    }
}

impl<T: Default> Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.read()
    }
}

impl<T: Default> DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.read();
        self.later.clear();
        *self
            .source
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.value.get_or_init(T::default);
        self.value
            .get_mut()
            .unwrap_or_else(|| unreachable!("set just above"))
    }
}

impl<T: Default + Clone> Clone for Lazy<T> {
    /// A part read already is copied; one not read yet shares its section.
    fn clone(&self) -> Self {
        match self.value.get() {
            Some(value) => Lazy::new(value.clone()),
            None => Lazy {
                value: OnceLock::new(),
                source: Mutex::new(self.source()),
                later: self.later.clone(),
            },
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value.get() {
            Some(value) => value.fmt(f),
            None => f.write_str("(not read yet)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mapped(bytes: &[u8]) -> Arc<MappedFile> {
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(bytes).expect("write");
        MappedFile::map(&file, "f.snap").expect("map")
    }

    fn part(file: &Arc<MappedFile>, range: Range<usize>, crc: u32) -> Lazy<Vec<u8>> {
        let section = Section {
            file: file.clone(),
            range,
            crc,
        };
        Lazy::mapped(section, |bytes| Ok(bytes.to_vec()))
    }

    #[test]
    fn a_part_is_read_when_first_used_and_checked_then() {
        let file = mapped(b"hello\0\0\0world\0\0\0");
        let good = part(&file, 0..5, crc32fast::hash(b"hello\0\0\0"));
        assert!(!good.is_loaded());
        assert_eq!(&good[..], b"hello");
        assert!(good.is_loaded());
        let bad = part(&file, 8..13, crc32fast::hash(b"WORLD\0\0\0"));
        let err = bad.load().expect_err("a wrong checksum is refused");
        assert_eq!(
            err.to_string(),
            "data file is damaged: checksum mismatch in the part at byte 8 of f.snap"
        );
        assert_eq!(
            file.damage(),
            None,
            "an explicit load reports without recording"
        );
        assert!(bad.is_empty(), "a damaged part reads as empty");
        let damage = "data file is damaged: checksum mismatch in the part at byte 8 of f.snap";
        assert_eq!(file.damage().as_deref(), Some(damage));
        assert_eq!(
            Arc::strong_count(&file),
            2,
            "the damaged part keeps the file"
        );
        drop(bad);
        assert_eq!(
            Arc::strong_count(&file),
            1,
            "a part read whole let go of it"
        );
    }

    #[test]
    fn a_part_read_in_place_is_checked_and_not_kept() {
        let file = mapped(b"hello\0\0\0world\0\0\0");
        let good = part(&file, 0..5, crc32fast::hash(b"hello\0\0\0"));
        assert!(good.check().is_ok());
        let len = good.read_in_place(|bytes| Ok(bytes.len()));
        assert_eq!(len, Some(5));
        assert!(!good.is_loaded(), "nothing decoded");
        let refused = good.read_in_place(|_| Err::<usize, _>(SnapshotError::Corrupt("x".into())));
        assert_eq!(refused, Some(0), "refused bytes read as the default");
        assert_eq!(file.damage().as_deref(), Some("data file is damaged: x"));
        assert_eq!(&good[..], b"hello");
        assert_eq!(
            good.read_in_place(|b| Ok(b.len())),
            None,
            "read: use the value"
        );
        let bad = part(&file, 8..13, crc32fast::hash(b"WORLD\0\0\0"));
        assert!(bad.check().is_err(), "a wrong checksum is refused");
        assert_eq!(bad.read_in_place(|b| Ok(b.len())), Some(0));
    }

    #[test]
    fn writes_kept_for_later_apply_in_order_when_the_part_is_read() {
        let file = mapped(b"abc\0\0\0\0\0");
        let mut one = part(&file, 0..3, crc32fast::hash(b"abc\0\0\0\0\0"));
        one.write_later(|v| v.push(b'd'));
        one.write_later(|v| v[0] = b'x');
        assert!(!one.is_loaded(), "nothing decoded yet");
        assert_eq!(
            one.read_in_place(|b| Ok(b.len())),
            None,
            "bytes in the file are out of date: not read in place"
        );
        let two = one.clone();
        assert_eq!(&one[..], b"xbcd");
        one.write_later(|v| v.push(b'e'));
        assert_eq!(&one[..], b"xbcde", "a part read takes a write at once");
        assert_eq!(&two[..], b"xbcd", "a clone keeps the writes made before it");
        let mut three = two.clone();
        three.push(b'!');
        assert_eq!(&three[..], b"xbcd!");
    }

    #[test]
    fn a_clone_shares_an_unread_part_and_a_write_keeps_its_own_value() {
        let file = mapped(b"abc\0\0\0\0\0");
        let mut one = part(&file, 0..3, crc32fast::hash(b"abc\0\0\0\0\0"));
        let two = one.clone();
        one.push(b'd');
        assert_eq!((&one[..], &two[..]), (&b"abcd"[..], &b"abc"[..]));
        assert!(part(&file, 1..9, 0).load().is_err(), "past the end");
    }
}
