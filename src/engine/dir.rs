//! The data directory's files and who may write them: the snapshot (`contacts.snap`),
//! one write-ahead log per snapshot generation (`wal-<generation>.log`), and the `lock`
//! file that the one writing process holds locked (with its pid inside, to name it).
//!
//! No file here is opened through a symbolic link (`O_NOFOLLOW` on every open), so a link
//! planted in the directory is refused, never followed. The snapshot is written to a
//! temporary file created exclusively (`O_CREAT | O_EXCL`, a leftover removed first),
//! flushed and renamed over the old one, then the directory is flushed ([`DataDir::replace`]).
//! A new generation's log is created exclusively and appended to in place (a torn tail is
//! cut on reopening); the lock file is created if missing and reused, its pid rewritten.
//!
//! The directory holds personal data: it is created `0700` and its files `0600`, and a
//! directory or file that another user could change (owned by someone else, or writable
//! by group or others) is refused with the fix, since whoever can write it decides what
//! every query answers.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

const SNAPSHOT: &str = "contacts.snap";
const LOCK: &str = "lock";
const TMP_SUFFIX: &str = ".tmp";
/// Files of an older layout, read once and removed by the first checkpoint.
pub const LEGACY_SEGMENTS: &str = "segments.json";
pub const LEGACY_QUOTAS: &str = "quota.json";
const LEGACY_HISTORY: &str = "history.txt";
/// How long a writer refused the lock waits for its holder's pid to appear in it.
const PID_GRACE: Duration = Duration::from_millis(500);
/// How often a waiting writer tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(5);

/// A data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    path: PathBuf,
}

/// Which snapshot file was read: a checkpoint replaces the file, so another one means
/// another generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

/// The directory's write lock, held until dropped (the OS releases it if the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DataDir {
    /// A directory that must exist already (for reading).
    pub fn existing(path: &Path) -> Result<DataDir, Error> {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                check_private(path, &m, "chmod 700")?;
                Ok(DataDir {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => Err(Error::data(format!(
                "{} is not a directory: --data must name a reach data directory",
                path.display()
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound(format!(
                "there is no data directory at {}: check --data (or $REACH_DATA), or create one with `reach import FILE.csv`",
                path.display()
            ))),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// A directory to write, created if needed.
    pub fn create(path: &Path) -> Result<DataDir, Error> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
        DataDir::existing(path)
    }

    /// Whether reach has written here (a snapshot or a log): a directory that is only
    /// named by `--data` but holds none is not a data directory yet.
    pub fn is_reach(&self) -> bool {
        self.snapshot().exists() || self.path.join(LOCK).exists()
    }

    /// Where the directory is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The snapshot file.
    pub fn snapshot(&self) -> PathBuf {
        self.path.join(SNAPSHOT)
    }

    /// The log of changes after the snapshot of `generation`.
    pub fn log(&self, generation: u64) -> PathBuf {
        self.path.join(format!("wal-{generation:08}.log"))
    }

    /// A file of the directory by name.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens the snapshot file, if there is one, with its identity.
    pub fn open_snapshot(&self) -> Result<Option<(File, FileId)>, Error> {
        let path = self.snapshot();
        match open_no_follow(&path) {
            Ok(file) => {
                let meta = file.metadata().map_err(|e| io_error(&path, e))?;
                check_private(&path, &meta, "chmod 600")?;
                Ok(Some((
                    file,
                    FileId {
                        dev: meta.dev(),
                        ino: meta.ino(),
                    },
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// The identity of the snapshot file now (`None`: there is none).
    pub fn snapshot_id(&self) -> Option<FileId> {
        fs::symlink_metadata(self.snapshot()).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }

    /// Takes the write lock, or says which process holds it.
    pub fn lock(&self) -> Result<DirLock, Error> {
        self.lock_within(Duration::ZERO)
    }

    /// Takes the write lock, waiting up to `patience` for its holder to give it back;
    /// else says which process holds it.
    pub fn lock_within(&self, patience: Duration) -> Result<DirLock, Error> {
        let path = self.path.join(LOCK);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => {
                    let pid = std::process::id().to_string();
                    let written = file
                        .set_len(0)
                        .and_then(|()| file.rewind())
                        .and_then(|()| file.write_all(pid.as_bytes()));
                    written.map_err(|e| io_error(&path, e))?;
                    return Ok(DirLock { _file: file });
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = holder(&mut file);
                    // A holder writes its pid just after taking the lock: a lock file
                    // without one is read again a moment later.
                    let waited = start.elapsed();
                    if waited < patience || (holder.is_none() && waited < PID_GRACE) {
                        std::thread::sleep(LOCK_POLL);
                        continue;
                    }
                    return Err(self.busy(holder));
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_error(&path, e)),
            }
        }
    }

    fn busy(&self, holder: Option<String>) -> Error {
        let holder = match holder {
            None => "another process".to_string(),
            Some(pid) => format!("process {pid}"),
        };
        Error::Busy(format!(
            "the data directory {} is being written by {holder} (another reach); nothing was changed. Wait for it to finish (a REPL holds the directory only while a change runs), then try again; read-only commands such as count, list and export work meanwhile",
            self.path.display()
        ))
    }

    /// Writes a file atomically: `fill` writes into a new temporary file (created
    /// exclusively, never through a link), which is flushed to disk and renamed over
    /// `name`; then the directory is flushed.
    pub fn replace(
        &self,
        name: &str,
        fill: impl FnOnce(&mut io::BufWriter<&File>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let target = self.path.join(name);
        let tmp = self.path.join(format!("{name}{TMP_SUFFIX}"));
        remove_if_present(&tmp)?;
        let file = create_new(&tmp)?;
        let mut out = io::BufWriter::with_capacity(1 << 20, &file);
        let written = fill(&mut out).and_then(|()| {
            out.flush().map_err(|e| io_error(&tmp, e))?;
            drop(out);
            file.sync_all().map_err(|e| io_error(&tmp, e))
        });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        fs::rename(&tmp, &target).map_err(|e| io_error(&target, e))?;
        self.sync()
    }

    /// The bytes of the directory's file `name` (`None` if there is none), read without
    /// following a link and refused if another user could change it.
    pub fn read_private(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let path = self.path.join(name);
        let mut file = match open_no_follow(&path) {
            Ok(_) => open_private(&path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io_error(&path, e))?;
        Ok(Some(bytes))
    }

    /// Flushes the directory itself (renames, creations and removals).
    pub fn sync(&self) -> Result<(), Error> {
        File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(&self.path, e))
    }

    /// Removes what a writer that stopped midway may have left: logs of other
    /// generations, temporary files, and files of the older layout once they are
    /// folded into a snapshot.
    pub fn remove_leftovers(&self, generation: u64, legacy_too: bool) -> Result<(), Error> {
        let keep = self.log(generation);
        let entries = fs::read_dir(&self.path).map_err(|e| io_error(&self.path, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stale_log = name.starts_with("wal-") && name.ends_with(".log");
            let legacy =
                legacy_too && [LEGACY_SEGMENTS, LEGACY_QUOTAS, LEGACY_HISTORY].contains(&&*name);
            if (stale_log && entry.path() != keep) || name.ends_with(TMP_SUFFIX) || legacy {
                remove_if_present(&entry.path())?;
            }
        }
        self.sync()
    }

    /// Whether writing `path` would write inside this directory (it, or what it links
    /// to, lies within).
    pub fn holds(&self, path: &Path) -> bool {
        let Ok(dir) = fs::canonicalize(&self.path) else {
            return false;
        };
        let target = fs::canonicalize(path).or_else(|_| {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            fs::canonicalize(parent.unwrap_or(Path::new(".")))
        });
        target.is_ok_and(|t| t.starts_with(&dir))
    }
}

/// Opens a file for reading without following a link.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Opens one of the directory's files for reading, never through a link, refusing one
/// another user could change.
pub fn open_private(path: &Path) -> Result<File, Error> {
    let file = open_no_follow(path).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    check_private(path, &meta, "chmod 600")?;
    Ok(file)
}

/// Creates a new file (`0600`) for writing; refuses if anything (a link included) is
/// there.
pub fn create_new(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_error(path, e))
}

/// Opens an existing file to append to, never through a link, refusing one another user
/// could change.
pub fn open_append(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    check_private(path, &meta, "chmod 600")?;
    Ok(file)
}

/// Refuses a directory or file that another user could change: owned by someone other
/// than this process's user, or writable by its group or by others. `fix` is the chmod
/// that makes it private.
fn check_private(path: &Path, meta: &fs::Metadata, fix: &str) -> Result<(), Error> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let shown = path.display();
    if meta.uid() != me {
        return Err(Error::data(format!(
            "{shown} belongs to user {}, not to this user ({me}): another user could change \
             what reach reads there. Run reach as its owner, or `chown` it to this user",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::data(format!(
            "{shown} is writable by other users (mode {mode:03o}): any of them could change \
             its contacts. Make it private with `{fix} {shown}`"
        )));
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_error(path, e)),
        _ => Ok(()),
    }
}

/// The pid in a held lock file (`None`: not written yet).
fn holder(file: &mut File) -> Option<String> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    let pid = text.trim();
    (!pid.is_empty()).then(|| pid.to_string())
}

/// An I/O error naming the file.
pub fn io_error(path: &Path, e: io::Error) -> Error {
    Error::io(path.display(), e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock file as a holder leaves it between taking the lock and writing its pid.
    fn held_without_pid(dir: &DataDir) -> File {
        let file = File::create(dir.path.join(LOCK)).expect("lock file");
        file.try_lock().expect("locked");
        file
    }

    /// 47 of 100 racing writers were refused without the holder's pid: the refused one
    /// read the lock file before the holder wrote it.
    #[test]
    fn a_writer_refused_the_lock_names_a_holder_that_writes_its_pid_a_moment_late() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::create(&tmp.path().join("d")).expect("dir");
        let mut held = held_without_pid(&dir);
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            held.write_all(b"4242").expect("pid");
            held
        });
        let refused = dir.lock().expect_err("held");
        assert!(refused.to_string().contains("process 4242"), "{refused}");
        drop(late.join());
    }

    #[test]
    fn a_writer_waits_for_the_lock_as_long_as_it_is_patient() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = DataDir::create(&tmp.path().join("d")).expect("dir");
        let held = held_without_pid(&dir);
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(held);
        });
        let start = Instant::now();
        dir.lock_within(Duration::from_secs(5))
            .expect("taken once given back");
        assert!(start.elapsed() >= Duration::from_millis(250));
        release.join().expect("released");
        let _held = dir.lock().expect("free");
        let start = Instant::now();
        let refused = dir
            .lock_within(Duration::from_millis(200))
            .expect_err("held");
        assert!(start.elapsed() >= Duration::from_millis(200), "{refused}");
    }
}
