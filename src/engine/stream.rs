//! The change stream of changes.md: one JSON object per line, turned into an [`Edit`].
//! `reach apply` reads such lines; an embedding service can feed them to
//! [`Engine::commit`](super::Engine::commit) through [`parse_change`] the same way.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::{Edit, Engine, Identity, Target};
use crate::csv::{map_header, parse_into};
use crate::model::time::parse_rfc3339;
use crate::model::{Channel, Contact, Event, EventKind, OptOutKind, OptOuts, Seconds};

/// Turns one line of the stream into an edit; segments are compiled on `engine` at `now`.
/// The error says what is wrong with the line.
pub fn parse_change(engine: &Engine, now: Seconds, text: &str) -> Result<Edit, String> {
    if !text.trim_start().starts_with('{') {
        // An array would otherwise be read as an op and its fields in order.
        return Err(match serde_json::from_str::<de::IgnoredAny>(text) {
            Ok(_) => "expected a JSON object with an \"op\"".into(),
            Err(e) => describe(e),
        });
    }
    let change: Change = serde_json::from_str(text).map_err(describe)?;
    let edit = match change {
        Change::Upsert { contact } => {
            let (contact, columns) = upsert_contact(contact.0)?;
            Edit::Upsert {
                contacts: vec![contact],
                fields: columns,
            }
        }
        Change::Event { kind, contact, at } => {
            let kind = EventKind::parse(&kind).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown event type '{kind}' (one of {})", known.join(", "))
            })?;
            let at = parse_rfc3339(&at)
                .ok_or_else(|| format!("\"at\": expected an RFC 3339 time, got '{at}'"))?;
            Edit::Event {
                contact: contact.identity()?,
                event: Event { kind, at },
            }
        }
        Change::TagAdd {
            tags,
            contact,
            segment,
        } => Edit::AddTags {
            tags: tags.0,
            target: target(contact, segment, engine, now)?,
        },
        Change::TagRemove {
            tags,
            contact,
            segment,
        } => Edit::RemoveTags {
            tags: tags.0,
            target: target(contact, segment, engine, now)?,
        },
        Change::Unsubscribe {
            kinds,
            contact,
            segment,
        } => {
            let kinds = match kinds {
                None => OptOuts::ALL,
                Some(kinds) => (kinds.0.iter())
                    .map(|k| {
                        OptOutKind::parse(k).ok_or_else(|| {
                            format!("unknown kind '{k}': use broadcast, site_marketing or cart")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            Edit::Unsubscribe {
                target: target(contact, segment, engine, now)?,
                kinds,
            }
        }
        Change::Resubscribe { contact, segment } => Edit::Resubscribe {
            target: target(contact, segment, engine, now)?,
        },
        Change::Delete {
            confirm,
            contact,
            segment,
        } => Edit::Delete {
            confirm: confirm.unwrap_or_default(),
            target: target(contact, segment, engine, now)?,
        },
        Change::Quota {
            account,
            plan,
            purchased,
            used,
        } => Edit::SetQuota {
            account,
            plan: plan.map(|c| c.0),
            purchased: purchased.map(|c| c.0),
            used: used.map(|c| c.0),
        },
    };
    Ok(edit)
}

/// One line of the stream, as changes.md gives it: the `op` names the variant, and a
/// field the op does not take is refused, as is a field given twice.
#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Change {
    Upsert {
        #[serde(deserialize_with = "columns")]
        contact: Columns,
    },
    Event {
        #[serde(rename = "type", deserialize_with = "event_type")]
        kind: String,
        #[serde(deserialize_with = "contact")]
        contact: IdentityJson,
        #[serde(deserialize_with = "at")]
        at: String,
    },
    TagAdd {
        #[serde(deserialize_with = "tags")]
        tags: StringList,
        #[serde(default, deserialize_with = "target_contact")]
        contact: Option<IdentityJson>,
        #[serde(default, deserialize_with = "segment")]
        segment: Option<String>,
    },
    TagRemove {
        #[serde(deserialize_with = "tags")]
        tags: StringList,
        #[serde(default, deserialize_with = "target_contact")]
        contact: Option<IdentityJson>,
        #[serde(default, deserialize_with = "segment")]
        segment: Option<String>,
    },
    Unsubscribe {
        #[serde(default, deserialize_with = "kinds")]
        kinds: Option<StringList>,
        #[serde(default, deserialize_with = "target_contact")]
        contact: Option<IdentityJson>,
        #[serde(default, deserialize_with = "segment")]
        segment: Option<String>,
    },
    Resubscribe {
        #[serde(default, deserialize_with = "target_contact")]
        contact: Option<IdentityJson>,
        #[serde(default, deserialize_with = "segment")]
        segment: Option<String>,
    },
    Delete {
        #[serde(default, deserialize_with = "confirm")]
        confirm: Option<String>,
        #[serde(default, deserialize_with = "target_contact")]
        contact: Option<IdentityJson>,
        #[serde(default, deserialize_with = "segment")]
        segment: Option<String>,
    },
    Quota {
        #[serde(deserialize_with = "account")]
        account: String,
        #[serde(default, deserialize_with = "plan")]
        plan: Option<Count>,
        #[serde(default, deserialize_with = "purchased")]
        purchased: Option<Count>,
        #[serde(default, deserialize_with = "used")]
        used: Option<Count>,
    },
}

/// The `contact` or the `segment` a change is for (exactly one of them).
fn target(
    contact: Option<IdentityJson>,
    segment: Option<String>,
    engine: &Engine,
    now: Seconds,
) -> Result<Target, String> {
    match (contact, segment) {
        (Some(contact), None) => Ok(Target::Contact(contact.identity()?)),
        (None, Some(text)) => engine
            .compile(&text, now)
            .map(Target::Segment)
            .map_err(|e| format!("\"segment\": {e}")),
        (Some(_), Some(_)) => Err("names both a \"contact\" and a \"segment\": give one".into()),
        (None, None) => Err("missing \"contact\" or \"segment\"".into()),
    }
}

/// serde's words for a refused line, made the stream's: the position serde gives is
/// dropped (a line is one object, and for a change it points at the object's end) and an
/// unknown `op` is called so.
fn describe(e: serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&position).unwrap_or(&text);
    match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {message} at column {}", e.column())
        }
        _ => match message.strip_prefix("unknown variant ") {
            Some(rest) => format!("unknown op {rest}"),
            None => message.replace("missing field `op`", "missing \"op\""),
        },
    }
}

/// Deserializers that put the field's name before serde's error ("\"plan\": invalid
/// type: …"), which names only what it expected.
macro_rules! named_fields {
    ($($function:ident: $type:ty = $name:literal;)*) => {$(
        fn $function<'de, D: Deserializer<'de>>(d: D) -> Result<$type, D::Error> {
            <$type>::deserialize(d)
                .map_err(|e| de::Error::custom(format_args!("\"{}\": {e}", $name)))
        }
    )*};
}

named_fields! {
    columns: Columns = "contact";
    event_type: String = "type";
    contact: IdentityJson = "contact";
    at: String = "at";
    tags: StringList = "tags";
    kinds: Option<StringList> = "kinds";
    confirm: Option<String> = "confirm";
    account: String = "account";
    plan: Option<Count> = "plan";
    purchased: Option<Count> = "purchased";
    used: Option<Count> = "used";
    target_contact: Option<IdentityJson> = "contact";
    segment: Option<String> = "segment";
}

/// A contact's identity: `{"channel", "account", "external_id"}` and nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityJson {
    channel: String,
    account: String,
    external_id: String,
}

impl IdentityJson {
    fn identity(self) -> Result<Identity, String> {
        for (key, value) in [
            ("channel", &self.channel),
            ("account", &self.account),
            ("external_id", &self.external_id),
        ] {
            if value.is_empty() {
                return Err(format!("\"contact\" needs \"{key}\" as a non-empty string"));
            }
        }
        let channel = Channel::parse(&self.channel)
            .ok_or_else(|| format!("\"contact\": unknown channel '{}'", self.channel))?;
        Ok(Identity::new(channel, &self.account, &self.external_id))
    }
}

/// A whole number from 0 to `u64::MAX`.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        struct Whole;
        impl Visitor<'_> for Whole {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a whole number from 0 to {}", u64::MAX)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count(n))
            }
        }
        d.deserialize_u64(Whole)
    }
}

/// A JSON array of strings, or one `|`-separated string.
struct StringList(Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StringList, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings (or one |-separated string)")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<StringList, E> {
                Ok(StringList(s.split('|').map(str::to_string).collect()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(StringList(items))
            }
        }
        d.deserialize_any(List)
    }
}

/// An upserted contact's columns in the order given; a column named twice is refused
/// (a JSON object's later key would otherwise win without a word).
struct Columns(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Columns, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Columns;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of csv-format columns")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Columns, A::Error> {
                let (mut columns, mut seen) = (Vec::new(), HashSet::new());
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format_args!(
                            "the column \"{key}\" is given twice"
                        )));
                    }
                    columns.push((key, map.next_value()?));
                }
                Ok(Columns(columns))
            }
        }
        d.deserialize_map(Object)
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

/// An upserted contact from an object of CSV columns, as one CSV row would give it.
fn upsert_contact(
    object: Vec<(String, Value)>,
) -> Result<(Contact, crate::model::FieldSet), String> {
    let names: Vec<&str> = object.iter().map(|(name, _)| name.as_str()).collect();
    let header = map_header(&names, false).map_err(|e| e.replace("header", "contact"))?;
    let cells: Vec<String> = (object.iter())
        .map(|(_, value)| match value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Edit, String> {
        parse_change(&Engine::in_memory(), 0, line)
    }

    fn refused(line: &str) -> String {
        match parse(line) {
            Ok(edit) => panic!("{line} was taken as {edit:?}"),
            Err(why) => why,
        }
    }

    #[test]
    fn every_op_of_changes_md_is_read() {
        let who = r#""contact": {"channel": "line", "account": "line-tw", "external_id": "U1"}"#;
        for line in [
            r#"{"op": "upsert", "contact": {"channel": "line", "account": "line-tw", "external_id": "U1", "tags": ["a", "b"]}}"#.to_string(),
            format!(r#"{{"op": "event", "type": "checkout", {who}, "at": "2025-06-01T10:00:00+08:00"}}"#),
            format!(r#"{{"op": "tag_add", "tags": "a|b", {who}}}"#),
            r#"{"op": "tag_remove", "tags": ["a"], "segment": "tag:b"}"#.to_string(),
            format!(r#"{{"op": "unsubscribe", {who}}}"#),
            format!(r#"{{"op": "unsubscribe", "kinds": ["cart"], {who}}}"#),
            format!(r#"{{"op": "resubscribe", {who}}}"#),
            format!(r#"{{"op": "delete", "confirm": "DELETE", {who}}}"#),
            r#"{"op": "quota", "account": "line-tw", "plan": 500, "used": null}"#.to_string(),
        ] {
            assert!(parse(&line).is_ok(), "{line}: {:?}", parse(&line).err());
        }
        let Ok(Edit::AddTags { tags, .. }) =
            parse(&format!(r#"{{"op": "tag_add", "tags": "a|b", {who}}}"#))
        else {
            panic!("a tag_add");
        };
        assert_eq!(tags, ["a", "b"]);
    }

    #[test]
    fn a_key_given_twice_is_refused_at_every_level() {
        let twice = refused(
            r#"{"op": "quota", "op": "delete", "account": "line-tw", "confirm": "DELETE"}"#,
        );
        assert!(twice.contains("duplicate field `op`"), "{twice}");
        let twice = refused(
            r#"{"op":"quota","op":"delete","confirm":"DELETE","contact":{"channel":"line","account":"a","external_id":"U1"}}"#,
        );
        assert!(twice.contains("duplicate field `op`"), "{twice}");
        let twice = refused(r#"{"op": "quota", "account": "line-tw", "plan": 1, "plan": 2}"#);
        assert!(twice.contains("duplicate field `plan`"), "{twice}");
        let twice = refused(
            r#"{"op": "resubscribe", "contact": {"channel": "line", "channel": "web", "account": "a", "external_id": "U1"}}"#,
        );
        assert!(
            twice.contains("\"contact\": duplicate field `channel`"),
            "{twice}"
        );
        let twice = refused(
            r#"{"op": "upsert", "contact": {"channel": "line", "account": "a", "external_id": "U1", "name": "A", "name": "B"}}"#,
        );
        assert!(
            twice.contains("the column \"name\" is given twice"),
            "{twice}"
        );
    }

    #[test]
    fn a_refused_line_says_which_field_and_what_was_expected() {
        let cases = [
            ("{\"op\": ", "not valid JSON: "),
            (
                "[\"quota\", \"line-tw\"]",
                "expected a JSON object with an \"op\"",
            ),
            ("{\"account\": \"a\"}", "missing \"op\""),
            (
                "{\"op\": \"frob\"}",
                "unknown op `frob`, expected one of `upsert`",
            ),
            (
                "{\"op\": \"quota\", \"account\": \"a\", \"plan\": \"5\"}",
                "\"plan\": invalid type: string \"5\", expected a whole number from 0 to 18446744073709551615",
            ),
            (
                "{\"op\": \"quota\", \"account\": \"a\", \"plan\": -1}",
                "\"plan\": invalid type: integer `-1`, expected a whole number",
            ),
            (
                "{\"op\": \"quota\", \"account\": \"a\", \"colour\": 1}",
                "unknown field `colour`, expected one of `account`, `plan`, `purchased`, `used`",
            ),
            ("{\"op\": \"quota\"}", "missing field `account`"),
            (
                "{\"op\": \"tag_add\", \"tags\": 5, \"segment\": \"\"}",
                "\"tags\": invalid type: integer `5`, expected an array of strings",
            ),
            (
                "{\"op\": \"tag_add\", \"tags\": [\"a\"]}",
                "missing \"contact\" or \"segment\"",
            ),
            (
                "{\"op\": \"resubscribe\", \"segment\": \"\", \"contact\": {\"channel\": \"line\", \"account\": \"a\", \"external_id\": \"U\"}}",
                "names both a \"contact\" and a \"segment\"",
            ),
            (
                "{\"op\": \"resubscribe\", \"contact\": {\"channel\": \"line\", \"account\": \"a\", \"external_id\": \"U\", \"email\": \"x\"}}",
                "\"contact\": unknown field `email`, expected one of `channel`, `account`, `external_id`",
            ),
            (
                "{\"op\": \"resubscribe\", \"contact\": {\"channel\": \"line\", \"account\": \"\", \"external_id\": \"U\"}}",
                "\"contact\" needs \"account\" as a non-empty string",
            ),
            (
                "{\"op\": \"event\", \"type\": \"visit\", \"contact\": {\"channel\": \"line\", \"account\": \"a\", \"external_id\": \"U\"}, \"at\": \"2025-01-01T00:00:00Z\"}",
                "unknown event type 'visit'",
            ),
            (
                "{\"op\": \"event\", \"type\": \"checkout\", \"contact\": {\"channel\": \"line\", \"account\": \"a\", \"external_id\": \"U\"}, \"at\": \"yesterday\"}",
                "\"at\": expected an RFC 3339 time, got 'yesterday'",
            ),
            (
                "{\"op\": \"unsubscribe\", \"kinds\": [\"sms\"], \"segment\": \"\"}",
                "unknown kind 'sms'",
            ),
            (
                "{\"op\": \"upsert\", \"contact\": []}",
                "\"contact\": invalid type: sequence, expected an object of csv-format columns",
            ),
        ];
        for (line, expected) in cases {
            let why = refused(line);
            assert!(why.starts_with(expected), "{line}: {why}");
            assert!(!why.contains(" at line "), "{line}: {why}");
        }
    }
}
