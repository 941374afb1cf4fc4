//! `reach apply`: the change stream of changes.md. One JSON object per input line becomes
//! an [`Edit`]; the lines that arrive together are committed together (one flush under
//! group durability) and then acknowledged in input order, each once it is durable.

use std::io::{self, Read, Write};

use super::Context;
use reach::engine::{Committed, Durability, Edit, parse_change};
use reach::error::Error;

/// Bytes read at a time: the lines of one read form one group.
const CHUNK: usize = 1 << 20;

/// The longest line accepted (its bytes, without the line break): a longer one is
/// refused, not held in memory.
pub const MAX_LINE: usize = 16 << 20;

/// Applies a stream of changes from `input`, acknowledging each line on stdout. Fails
/// (exit 1) when any line was refused, after going through them all.
pub fn apply(ctx: &Context, input: impl Read, durability: Durability) -> Result<(), Error> {
    ctx.engine.set_durability(durability);
    let stdout = io::stdout();
    let refused = acknowledge(ctx, input, &mut stdout.lock(), MAX_LINE)?;
    if refused > 0 {
        return Err(Error::Refused(format!(
            "{refused} line(s) refused (see their acknowledgements); the others were applied"
        )));
    }
    Ok(())
}

/// Reads `input` a chunk at a time, commits the complete lines of each chunk together
/// and writes their acknowledgements to `out`; a line longer than `max_line` bytes is
/// refused and skipped up to its line break. Every byte is looked at once: the tail of
/// an unfinished line is kept, and only the bytes just read are searched for a line
/// break. Returns how many lines were refused.
fn acknowledge(
    ctx: &Context,
    mut input: impl Read,
    out: &mut impl Write,
    max_line: usize,
) -> Result<u64, Error> {
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
        let group = parse_group(ctx, &pending[..complete], &mut line_no, max_line);
        pending.drain(..complete);
        refused += commit_group(ctx, group, out)?;
        if pending.len() > max_line {
            line_no += 1;
            pending.clear();
            skipping = true;
            refused += commit_group(ctx, vec![(line_no, Err(too_long(line_no, max_line)))], out)?;
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
        "line {line} is longer than {max_line} bytes, the longest line reach apply takes: \
         split the change (an upsert of one contact, tags of a segment) into shorter lines"
    )
}

/// One input line: its number and its edit, or why it is refused.
type Line = (u64, Result<Edit, String>);

/// The lines of a group, parsed on every core (in order).
fn parse_group(ctx: &Context, bytes: &[u8], line_no: &mut u64, max_line: usize) -> Vec<Line> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader handing out at most `step` bytes a read, as a slow pipe does.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    /// The acknowledgements of `input` read `step` bytes at a time, with lines of at
    /// most 100 bytes.
    fn acks(input: &str, step: usize) -> Vec<serde_json::Value> {
        let ctx = Context::new(reach::Engine::in_memory(), Some(0), false);
        let mut out = Vec::new();
        let trickle = Trickle {
            bytes: input.as_bytes(),
            step,
        };
        acknowledge(&ctx, trickle, &mut out, 100).expect("runs");
        (String::from_utf8(out).expect("utf-8").lines())
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    const UPSERT: &str =
        r#"{"op":"upsert","contact":{"channel":"web","account":"w","external_id":"1"}}"#;

    #[test]
    fn a_line_over_the_limit_is_refused_by_number_and_the_stream_goes_on() {
        let long = format!(r#"{{"op": "quota", "account": "{}"}}"#, "a".repeat(200));
        for step in [1, 7, 100, 101, CHUNK] {
            for end in ["", "\n"] {
                let input = format!("{UPSERT}\n{long}\n{UPSERT}{end}");
                let acks = acks(&input, step);
                assert_eq!(acks.len(), 3, "step {step}: {acks:?}");
                assert_eq!(acks[0]["ok"], true, "step {step}");
                assert_eq!(acks[1]["line"], 2, "step {step}");
                assert_eq!(acks[1]["ok"], false, "step {step}");
                let error = acks[1]["error"].as_str().expect("an error");
                assert!(
                    error.starts_with("line 2 is longer than 100 bytes"),
                    "{error}"
                );
                assert_eq!(acks[2]["line"], 3, "step {step}");
                assert_eq!(acks[2]["ok"], true, "step {step}: {acks:?}");
            }
        }
    }

    #[test]
    fn an_unfinished_line_over_the_limit_is_refused_at_the_end_too() {
        let input = format!("{UPSERT}\n{}", "x".repeat(1000));
        for step in [3, CHUNK] {
            let acks = acks(&input, step);
            assert_eq!(acks.len(), 2, "{acks:?}");
            assert_eq!(acks[1]["line"], 2);
            assert_eq!(acks[1]["ok"], false);
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let padded = format!("{UPSERT:<100}");
        assert_eq!(padded.len(), 100);
        for step in [5, CHUNK] {
            let acks = acks(&format!("{padded}\n{padded}"), step);
            assert_eq!(acks.len(), 2, "{acks:?}");
            assert!(acks.iter().all(|a| a["ok"] == true), "{acks:?}");
        }
    }
}
