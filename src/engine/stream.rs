//! The change stream of changes.md: one JSON object per line, turned into an [`Edit`].
//! `reach apply` reads such lines; an embedding service can feed them to
//! [`Engine::commit`](super::Engine::commit) through [`parse_change`] the same way.

use serde_json::{Map, Value};

use super::{Edit, Engine, Identity, Target};
use crate::csv::{map_header, parse_into};
use crate::model::time::parse_rfc3339;
use crate::model::{Channel, Contact, Event, EventKind, OptOutKind, OptOuts, Seconds};

/// Turns one line of the stream into an edit; segments are compiled on `engine` at `now`.
/// The error says what is wrong with the line.
pub fn parse_change(engine: &Engine, now: Seconds, text: &str) -> Result<Edit, String> {
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
            let target = fields.target(engine, now)?;
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
                target: fields.target(engine, now)?,
                kinds,
            }
        }
        "resubscribe" => Edit::Resubscribe {
            target: fields.target(engine, now)?,
        },
        "delete" => Edit::Delete {
            confirm: fields.string("confirm")?.unwrap_or_default(),
            target: fields.target(engine, now)?,
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
    fn target(&mut self, engine: &Engine, now: Seconds) -> Result<Target, String> {
        let contact = self.object("contact")?;
        let segment = self.string("segment")?;
        match (contact, segment) {
            (Some(contact), None) => Ok(Target::Contact(identity(contact)?)),
            (None, Some(text)) => engine
                .compile(&text, now)
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
