//! `reach apply`: the change stream of changes.md. One JSON object per input line becomes
//! an [`Edit`]; the lines that arrive together are committed together (one flush under
//! group durability) and then acknowledged in input order, each once it is durable.

use std::io::{self, Read, Write};

use super::Context;
use crate::engine::{Committed, Durability, Edit, parse_change};
use crate::error::Error;

/// Bytes read at a time: the lines of one read form one group.
const CHUNK: usize = 1 << 20;

/// Applies a stream of changes from `input`, acknowledging each line on stdout. Fails
/// (exit 1) when any line was refused, after going through them all.
pub fn apply(ctx: &Context, mut input: impl Read, durability: Durability) -> Result<(), Error> {
    ctx.engine.set_durability(durability);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    let (mut line_no, mut refused) = (0u64, 0u64);
    loop {
        let n = match input.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("cannot read the changes", e)),
        };
        pending.extend_from_slice(&chunk[..n]);
        let complete = if n == 0 {
            pending.len()
        } else {
            pending
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let group = parse_group(ctx, &pending[..complete], &mut line_no);
        pending.drain(..complete);
        refused += commit_group(ctx, group, &mut out)?;
        if n == 0 {
            break;
        }
    }
    if refused > 0 {
        return Err(Error::Refused(format!(
            "{refused} line(s) refused (see their acknowledgements); the others were applied"
        )));
    }
    Ok(())
}

/// One input line: its number and its edit, or why it is refused.
type Line = (u64, Result<Edit, String>);

/// The lines of a group, parsed on every core (in order).
fn parse_group(ctx: &Context, bytes: &[u8], line_no: &mut u64) -> Vec<Line> {
    use rayon::prelude::*;
    if bytes.is_empty() {
        return Vec::new();
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let first = *line_no + 1;
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    *line_no += lines.len() as u64;
    let (engine, now) = (&ctx.engine, ctx.now());
    lines
        .par_iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let parsed = match std::str::from_utf8(raw) {
                Ok(text) if text.trim().is_empty() => return None,
                Ok(text) => parse_change(engine, now, text),
                Err(_) => Err("the line is not valid UTF-8".into()),
            };
            Some((first + i as u64, parsed))
        })
        .collect()
}

/// Commits a group's edits and writes their acknowledgements; returns how many were refused.
fn commit_group(ctx: &Context, group: Vec<Line>, out: &mut impl Write) -> Result<u64, Error> {
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
    let mut results = ctx.engine.commit_all(edits, ctx.now()).into_iter();
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
        writeln!(out, "{ack}").map_err(super::output::write_error)?;
    }
    out.flush().map_err(super::output::write_error)?;
    Ok(refused)
}
