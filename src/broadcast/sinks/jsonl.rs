//! [`Jsonl`]: the outbox sink (`jsonl:PATH`, `jsonl:-` for stdout). One JSON object per
//! recipient per line — `job`, `batch`, `channel`, `account`, `external_id`, `kind`,
//! `text` — appended and flushed to disk before the batch counts as sent. Never the same
//! recipient of a job twice, even across crashes: opened for a job that already wrote
//! lines (a resume), it reads back those of the batches not logged as sent (the ones in
//! flight at the crash: what it keeps grows with what was in flight, not with the
//! audience) and skips the recipients it finds. Batches are
//! written one at a time (the file is behind a lock). A full disk pauses the run
//! ([`Delivery::Pause`]): the job stays `sending`, and `resume` goes on once there is room.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use roaring::RoaringBitmap;
use serde::Serialize;

use crate::broadcast::{Delivery, Outcome, Outgoing, Sink};
use crate::error::Error;
use crate::model::Channel;

/// Appends recipients to a JSON Lines file (or stdout).
pub struct Jsonl {
    out: Mutex<Out>,
    /// Recipients of the job's unsent batches found in the file already
    /// (`channel/account/external_id`).
    written: HashSet<String>,
}

enum Out {
    /// The file, opened (to append) at the first write.
    File(Option<File>, PathBuf),
    Stdout,
}

#[derive(Serialize)]
struct Line<'a> {
    job: &'a str,
    batch: u32,
    channel: &'a str,
    account: &'a str,
    external_id: &'a str,
    kind: &'a str,
    text: &'a str,
}

impl Jsonl {
    /// The outbox at `path` (`-`: stdout) for job `job`; `resuming` (the batches of the
    /// job not logged as sent) reads back what the job wrote there for them before.
    pub fn open(path: &str, job: &str, resuming: Option<&RoaringBitmap>) -> Result<Jsonl, Error> {
        if path == "-" {
            return Ok(Jsonl {
                out: Mutex::new(Out::Stdout),
                written: HashSet::new(),
            });
        }
        let path = PathBuf::from(path);
        let written = match resuming {
            Some(unsent) => {
                cut_torn_line(&path)?;
                read_back(&path, job, unsent)?
            }
            None => HashSet::new(),
        };
        Ok(Jsonl {
            out: Mutex::new(Out::File(None, path)),
            written,
        })
    }

    fn write_batch(out: &mut Out, batch: &Outgoing, fresh: &[usize]) -> io::Result<()> {
        let mut buffer = Vec::with_capacity(fresh.len() * 160);
        for &i in fresh {
            let (channel, account, external_id) = batch.identity(i);
            let text = batch.text(i);
            let line = Line {
                job: batch.job,
                batch: batch.batch,
                channel: channel.name(),
                account,
                external_id,
                kind: batch.kind.name(),
                text,
            };
            serde_json::to_writer(&mut buffer, &line)?;
            buffer.push(b'\n');
        }
        match out {
            Out::File(file, path) => {
                let file = match file {
                    Some(file) => file,
                    // Names and messages of people: a new outbox is private (`0600`).
                    None => file.insert(
                        (OpenOptions::new().create(true).append(true))
                            .mode(0o600)
                            .open(&*path)?,
                    ),
                };
                // A write cut short (a full disk) is cut back off, so the outbox holds whole
                // lines of whole batches only (a resume also cuts a torn line off).
                let before = file.metadata()?.len();
                let written = file.write_all(&buffer).and_then(|()| file.sync_data());
                if written.is_err() && file.metadata().is_ok_and(|m| m.len() > before) {
                    let _ = file.set_len(before).and_then(|()| file.sync_data());
                }
                written
            }
            Out::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&buffer)?;
                out.flush()
            }
        }
    }
}

/// Whether a write failed for want of room (a full disk, a quota, a file size limit):
/// a condition that passes, so the job waits for a resume rather than failing.
fn no_room(e: &io::Error) -> bool {
    use io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    matches!(e.kind(), StorageFull | QuotaExceeded | FileTooLarge)
}

fn key(channel: Channel, account: &str, external_id: &str) -> String {
    format!("{channel}/{account}/{external_id}")
}

/// Cuts off a line the last run left unfinished (killed mid-write: that batch was not
/// sent, and its recipients go again), so that what is appended starts a line.
fn cut_torn_line(path: &Path) -> Result<(), Error> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e: io::Error| Error::io(format!("cannot repair the outbox {}", path.display()), e);
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let len = file.metadata().map_err(io)?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let piece = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(piece).map_err(io)?;
        if let Some(i) = piece.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        file.set_len(end).map_err(io)?;
        file.sync_data().map_err(io)?;
    }
    Ok(())
}

/// The recipients of `job`'s batches in `unsent` an outbox holds.
fn read_back(path: &Path, job: &str, unsent: &RoaringBitmap) -> Result<HashSet<String>, Error> {
    let mut written = HashSet::new();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(written),
        Err(e) => {
            return Err(Error::io(
                format!("cannot read the outbox {}", path.display()),
                e,
            ));
        }
    };
    let marker = format!("\"job\":{}", serde_json::Value::from(job));
    for line in BufReader::new(file).lines() {
        let line =
            line.map_err(|e| Error::io(format!("cannot read the outbox {}", path.display()), e))?;
        if !line.contains(&marker) {
            continue;
        }
        // A line cut short by a crash is not a delivery: it does not parse.
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).unwrap_or("");
        let batch = value.get("batch").and_then(serde_json::Value::as_u64);
        if !batch.is_some_and(|b| u32::try_from(b).is_ok_and(|b| unsent.contains(b))) {
            continue;
        }
        if let Some(channel) = Channel::parse(field("channel")) {
            written.insert(key(channel, field("account"), field("external_id")));
        }
    }
    Ok(written)
}

impl Sink for Jsonl {
    fn idempotent(&self, _: Channel) -> bool {
        true
    }

    fn batch_size(&self, _: Channel) -> usize {
        10_000
    }

    fn send(&self, batch: &Outgoing) -> Delivery {
        let fresh: Vec<usize> = (0..batch.len())
            .filter(|&i| {
                self.written.is_empty() || {
                    let (channel, account, id) = batch.identity(i);
                    !self.written.contains(&key(channel, account, id))
                }
            })
            .collect();
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match Self::write_batch(&mut out, batch, &fresh) {
            Ok(()) => Delivery::Each(vec![Outcome::Sent; batch.len()]),
            Err(e) => {
                let place = match &*out {
                    Out::File(_, path) => path.display().to_string(),
                    Out::Stdout => "stdout".into(),
                };
                let why = format!("cannot write the outbox {place}: {e}");
                match no_room(&e) {
                    true => Delivery::Pause(format!(
                        "{why}; make room, then `reach broadcast resume {}` sends the rest",
                        batch.job
                    )),
                    false => Delivery::Stop {
                        done: Vec::new(),
                        why,
                    },
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Jsonl, RoaringBitmap};

    /// A resume keeps the recipients of the batches not logged as sent only (those in
    /// flight at the crash), not every line the job wrote.
    #[test]
    fn a_resume_reads_back_the_unsent_batches_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("outbox.jsonl");
        let line = |job: &str, batch: u32, id: &str| {
            format!(
                "{{\"job\":\"{job}\",\"batch\":{batch},\"channel\":\"line\",\"account\":\"a\",\"external_id\":\"{id}\",\"kind\":\"bot\",\"text\":\"hi\"}}\n"
            )
        };
        let text = [
            line("j", 0, "U0"),
            line("j", 1, "U1"),
            line("other", 2, "X2"),
            line("j", 2, "U2"),
            line("j", 2, "U3"),
        ]
        .concat();
        std::fs::write(&path, text).expect("outbox");
        let unsent: RoaringBitmap = [2u32].into_iter().collect();
        let outbox = Jsonl::open(path.to_str().expect("utf-8"), "j", Some(&unsent)).expect("opens");
        let mut written: Vec<&String> = outbox.written.iter().collect();
        written.sort();
        assert_eq!(written, ["line/a/U2", "line/a/U3"]);
    }
}
