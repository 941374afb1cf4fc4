//! `reach apply`: the change stream of changes.md. One JSON object per input line becomes
//! an [`Edit`]; the lines that arrive together are committed together (one flush under
//! group durability) and then acknowledged in input order, each once it is durable.

use std::io::{self, Read, Write};

use serde_json::{Map, Value};

use super::Context;
use crate::csv::{map_header, parse_into};
use crate::engine::{Committed, Durability, Edit, Identity, Target};
use crate::error::Error;
use crate::model::time::parse_rfc3339;
use crate::model::{Channel, Contact, Event, EventKind, OptOutKind, OptOuts};

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
            Err(e) => return Err(Error::Io(format!("cannot read the changes: {e}"))),
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
        let lines: Vec<u8> = pending.drain(..complete).collect();
        let group = parse_group(ctx, &lines, &mut line_no);
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

fn parse_group(ctx: &Context, bytes: &[u8], line_no: &mut u64) -> Vec<Line> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let text = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut group = Vec::new();
    for raw in text.split(|&b| b == b'\n') {
        *line_no += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match std::str::from_utf8(raw) {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => group.push((*line_no, parse_line(ctx, text))),
            Err(_) => group.push((*line_no, Err("the line is not valid UTF-8".into()))),
        }
    }
    group
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
                .unwrap_or_else(|| Err(Error::Io("no result".into())))
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

/// Turns one line into an edit.
fn parse_line(ctx: &Context, text: &str) -> Result<Edit, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object with an \"op\"".into());
    };
    let mut fields = Fields { object };
    let op = fields.string("op")?.ok_or("missing \"op\"")?;
    let edit = match op.as_str() {
        "upsert" => {
            let contact = fields.object("contact")?.ok_or("missing \"contact\"")?;
            let (contact, columns) = upsert_contact(contact)?;
            Edit::Upsert {
                contacts: vec![contact],
                fields: columns,
            }
        }
        "event" => {
            let kind = fields.string("type")?.ok_or("missing \"type\"")?;
            let kind = EventKind::parse(&kind).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown event type '{kind}' (one of {})", known.join(", "))
            })?;
            let at = fields.string("at")?.ok_or("missing \"at\"")?;
            let at = parse_rfc3339(&at)
                .ok_or_else(|| format!("\"at\": expected an RFC 3339 time, got '{at}'"))?;
            let contact = fields.object("contact")?.ok_or("missing \"contact\"")?;
            Edit::Event {
                contact: identity(contact)?,
                event: Event { kind, at },
            }
        }
        "tag_add" | "tag_remove" => {
            let tags = fields.strings("tags")?.ok_or("missing \"tags\"")?;
            let target = fields.target(ctx)?;
            if op == "tag_add" {
                Edit::AddTags { tags, target }
            } else {
                Edit::RemoveTags { tags, target }
            }
        }
        "unsubscribe" => {
            let kinds = match fields.strings("kinds")? {
                None => OptOuts::ALL,
                Some(kinds) => kinds
                    .iter()
                    .map(|k| {
                        OptOutKind::parse(k).ok_or_else(|| {
                            format!("unknown kind '{k}': use broadcast, site_marketing or cart")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            Edit::Unsubscribe {
                target: fields.target(ctx)?,
                kinds,
            }
        }
        "resubscribe" => Edit::Resubscribe {
            target: fields.target(ctx)?,
        },
        "delete" => Edit::Delete {
            confirm: fields.string("confirm")?.unwrap_or_default(),
            target: fields.target(ctx)?,
        },
        "quota" => Edit::SetQuota {
            account: fields.string("account")?.ok_or("missing \"account\"")?,
            plan: fields.count("plan")?,
            purchased: fields.count("purchased")?,
            used: fields.count("used")?,
        },
        other => {
            return Err(format!(
                "unknown op '{other}' (one of upsert, event, tag_add, tag_remove, unsubscribe, resubscribe, delete, quota)"
            ));
        }
    };
    fields.finish()?;
    Ok(edit)
}

/// The fields of one change, taken one by one; what is left at the end is unknown.
struct Fields {
    object: Map<String, Value>,
}

impl Fields {
    fn string(&mut self, key: &str) -> Result<Option<String>, String> {
        match self.object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(format!("\"{key}\": expected a string, got {other}")),
        }
    }

    fn object(&mut self, key: &str) -> Result<Option<Map<String, Value>>, String> {
        match self.object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o)),
            Some(other) => Err(format!("\"{key}\": expected an object, got {other}")),
        }
    }

    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, String> {
        match self.object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => list(&value)
                .map(Some)
                .ok_or_else(|| format!("\"{key}\": expected an array of strings, got {value}")),
        }
    }

    fn count(&mut self, key: &str) -> Result<Option<u64>, String> {
        match self.object.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(other) => Err(format!(
                "\"{key}\": expected a whole number from 0 to {}, got {other}",
                u64::MAX
            )),
        }
    }

    /// The `contact` or the `segment` a change is for (exactly one of them).
    fn target(&mut self, ctx: &Context) -> Result<Target, String> {
        let contact = self.object("contact")?;
        let segment = self.string("segment")?;
        match (contact, segment) {
            (Some(contact), None) => Ok(Target::Contact(identity(contact)?)),
            (None, Some(text)) => ctx
                .engine
                .compile(&text, ctx.now())
                .map(Target::Segment)
                .map_err(|e| format!("\"segment\": {e}")),
            (Some(_), Some(_)) => {
                Err("names both a \"contact\" and a \"segment\": give one".into())
            }
            (None, None) => Err("missing \"contact\" or \"segment\"".into()),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.object.keys().next() {
            None => Ok(()),
            Some(key) => Err(format!("unknown field \"{key}\"")),
        }
    }
}

/// A JSON array of strings, or one `|`-separated string.
fn list(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::String(s) => Some(s.split('|').map(str::to_string).collect()),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// A contact's identity from `{"channel", "account", "external_id"}`.
fn identity(mut object: Map<String, Value>) -> Result<Identity, String> {
    let mut take = |key: &str| match object.remove(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(format!("\"contact\" needs \"{key}\" as a non-empty string")),
    };
    let channel = take("channel")?;
    let channel = Channel::parse(&channel)
        .ok_or_else(|| format!("\"contact\": unknown channel '{channel}'"))?;
    let identity = Identity::new(channel, &take("account")?, &take("external_id")?);
    match object.keys().next() {
        None => Ok(identity),
        Some(key) => Err(format!(
            "\"contact\" names a contact by channel, account and external_id only, not \"{key}\""
        )),
    }
}

/// An upserted contact from an object of CSV columns, as one CSV row would give it.
fn upsert_contact(object: Map<String, Value>) -> Result<(Contact, crate::model::FieldSet), String> {
    let names: Vec<&str> = object.keys().map(String::as_str).collect();
    let header = map_header(&names, false).map_err(|e| e.replace("header", "contact"))?;
    let cells: Vec<String> = object
        .values()
        .map(|value| match value {
            Value::Null => Ok(String::new()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) => Ok(s.clone()),
            Value::Array(_) => match list(value) {
                Some(items) if items.iter().any(|i| i.contains('|')) => {
                    Err("a tag or opt-out kind cannot contain '|'".to_string())
                }
                Some(items) => Ok(items.join("|")),
                None => Err("an array must hold strings".to_string()),
            },
            Value::Object(_) => Err("a column holds a value, not an object".to_string()),
        })
        .collect::<Result<_, _>>()?;
    let mut contact = Contact::new(Channel::Web, "", "");
    parse_into(&mut contact, &header, cells.iter().map(String::as_str)).map_err(|errors| {
        let why: Vec<String> = errors
            .iter()
            .map(|e| format!("{} {:?}: expected {}", e.column, e.value, e.expected))
            .collect();
        why.join("; ")
    })?;
    Ok((contact, header.iter().flatten().copied().collect()))
}
