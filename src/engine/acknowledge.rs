//! The change stream's acknowledgements (changes.md): lines read a chunk at a time,
//! the complete lines of each chunk parsed on every core and committed together (one
//! flush under group durability), then acknowledged in input order, each once durable.
//! `reach apply` and `reach serve`'s `POST /changes` both run it.

use std::io::{self, Read, Write};

use super::{Committed, Edit, Engine, Scope, parse_change};
use crate::error::Error;
use crate::model::Seconds;

/// Bytes read at a time: the lines of one read form one group.
const CHUNK: usize = 1 << 20;

/// The longest line accepted (its bytes, without the line break): a longer one is
/// refused, not held in memory.
pub const MAX_LINE: usize = 16 << 20;

/// Who the stream is for.
struct Stream<'a> {
    engine: &'a Engine,
    now: Seconds,
    scope: &'a Scope,
}

/// A failed write of acknowledgements: a closed reader ends the stream quietly.
fn write_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Error::Closed,
        _ => Error::io("cannot write the output", e),
    }
}

/// Reads `input` a chunk at a time, commits the complete lines of each chunk together
/// and writes their acknowledgements to `out`; a line longer than `max_line` bytes is
/// refused and skipped up to its line break. Every byte is looked at once: the tail of
/// an unfinished line is kept, and only the bytes just read are searched for a line
/// break. Returns how many lines were refused.
pub fn acknowledge(
    engine: &Engine,
    now: Seconds,
    scope: &Scope,
    mut input: impl Read,
    out: &mut impl Write,
    max_line: usize,
) -> Result<u64, Error> {
    let ctx = Stream { engine, now, scope };
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let (mut line_no, mut refused) = (0u64, 0u64);
    // Skipping the rest of a line already refused for its length.
    let mut skipping = false;
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read the changes", e)),
        };
        let mut fresh = &chunk[..n];
        if skipping {
            match memchr::memchr(b'\n', fresh) {
                Some(end) => {
                    fresh = &fresh[end + 1..];
                    skipping = false;
                }
                None => fresh = &[],
            }
        }
        let last_break = memchr::memrchr(b'\n', fresh);
        pending.extend_from_slice(fresh);
        let complete = match (n, last_break) {
            (0, _) => pending.len(),
            (_, Some(i)) => pending.len() - fresh.len() + i + 1,
            (_, None) => 0,
        };
        let group = parse_group(&ctx, &pending[..complete], &mut line_no, max_line);
        pending.drain(..complete);
        refused += commit_group(&ctx, group, out)?;
        if pending.len() > max_line {
            line_no += 1;
            pending.clear();
            skipping = true;
            refused += commit_group(&ctx, vec![(line_no, Err(too_long(line_no, max_line)))], out)?;
        }
        if n == 0 {
            break;
        }
    }
    Ok(refused)
}

/// Why line `line` is refused for its length.
fn too_long(line: u64, max_line: usize) -> String {
    format!(
        "line {line} is longer than {max_line} bytes, the longest line a change stream takes: \
         split the change (an upsert of one contact, tags of a segment) into shorter lines"
    )
}

/// One input line: its number and its edit, or why it is refused.
type Line = (u64, Result<Edit, String>);

/// The lines of a group, parsed on every core (in order).
fn parse_group(ctx: &Stream<'_>, bytes: &[u8], line_no: &mut u64, max_line: usize) -> Vec<Line> {
    use rayon::prelude::*;
    if bytes.is_empty() {
        return Vec::new();
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let first = *line_no + 1;
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    *line_no += lines.len() as u64;
    let (engine, now) = (ctx.engine, ctx.now);
    lines
        .par_iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = first + i as u64;
            if raw.len() > max_line {
                return Some((line, Err(too_long(line, max_line))));
            }
            let parsed = match std::str::from_utf8(raw) {
                Ok(text) if text.trim().is_empty() => return None,
                Ok(text) => parse_change(engine, now, text),
                Err(_) => Err("the line is not valid UTF-8".into()),
            };
            Some((line, parsed))
        })
        .collect()
}

/// Commits a group's edits and writes their acknowledgements; returns how many were refused.
fn commit_group(ctx: &Stream<'_>, group: Vec<Line>, out: &mut impl Write) -> Result<u64, Error> {
    let mut edits = Vec::new();
    let mut slots = Vec::with_capacity(group.len());
    for (line, parsed) in group {
        match parsed {
            Ok(edit) => {
                slots.push((line, None));
                edits.push(edit);
            }
            Err(why) => slots.push((line, Some(why))),
        }
    }
    let mut results = ctx
        .engine
        .commit_all_in(edits, ctx.now, ctx.scope)
        .into_iter();
    let mut refused = 0;
    for (line, error) in slots {
        let outcome: Result<Committed, String> = match error {
            Some(why) => Err(why),
            None => results
                .next()
                .unwrap_or_else(|| {
                    Err(Error::Internal {
                        message: "no result".into(),
                        source: None,
                    })
                })
                .map_err(|e| e.to_string()),
        };
        let ack = match outcome {
            Ok(c) => {
                serde_json::json!({"line": line, "ok": true, "changed": c.applied.created + c.applied.changed})
            }
            Err(why) => {
                refused += 1;
                serde_json::json!({"line": line, "ok": false, "error": why})
            }
        };
        writeln!(out, "{ack}").map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(refused)
}
