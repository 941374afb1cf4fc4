//! A message's text with placeholders: `{{name}}`, `{{email}}`, `{{phone}}`,
//! `{{member_id}}`, `{{store}}`, `{{salesperson}}`, `{{account}}`, `{{external_id}}`,
//! and, for a CSV audience, `{{COLUMN}}` for each variable column; `{{name|friend}}`
//! gives a default for an empty value. An unknown placeholder is an error before
//! anything is sent.

use crate::model::{Channel, TextField};
use crate::store::Store;

/// Refuses an empty text (or only white space): it would send empty messages.
pub fn check_text(text: &str) -> Result<(), String> {
    match text.trim().is_empty() {
        true => Err("the text is empty: give the message with --text TEXT".into()),
        false => Ok(()),
    }
}

/// How a platform counts a text's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Characters,
    Bytes,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Characters => "characters",
            Unit::Bytes => "bytes of UTF-8",
        }
    }
}

/// Why one recipient's rendered `text` cannot go to `channel` in a text message, if it is
/// longer than the platform takes (its placeholders' values made it so: the text alone
/// was checked when the job started).
pub fn too_long(channel: Channel, text: &str) -> Option<String> {
    let limit = text_limit(channel)?;
    if text.len() <= limit.most {
        return None;
    }
    let length = match limit.unit {
        Unit::Characters => text.chars().count(),
        Unit::Bytes => text.len(),
    };
    (length > limit.most).then(|| {
        let unit = limit.unit.name();
        format!(
            "the text with this contact's values is {length} {unit} long and {} takes at most {} {unit} in a text message",
            limit.platform, limit.most
        )
    })
}

/// The most a platform takes in one text message, and where it says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextLimit {
    pub platform: &'static str,
    pub most: usize,
    pub unit: Unit,
    pub source: &'static str,
}

/// A channel's limit on a text message (docs/platforms.md, "Text length"): LINE 5,000
/// characters, Messenger 2,000 characters, Instagram 1,000 bytes; none for WhatsApp (a
/// template is sent, not the text) and email.
pub fn text_limit(channel: Channel) -> Option<TextLimit> {
    match channel {
        Channel::Line => Some(TextLimit {
            platform: "LINE",
            most: 5_000,
            unit: Unit::Characters,
            source: "https://developers.line.biz/en/reference/messaging-api/#text-message",
        }),
        Channel::Facebook => Some(TextLimit {
            platform: "Messenger",
            most: 2_000,
            unit: Unit::Characters,
            source: "https://developers.facebook.com/docs/messenger-platform/reference/send-api/",
        }),
        Channel::Instagram => Some(TextLimit {
            platform: "Instagram",
            most: 1_000,
            unit: Unit::Bytes,
            source: "https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api/",
        }),
        Channel::Whatsapp | Channel::Web => None,
    }
}

/// Where a placeholder's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    Name,
    Text(TextField),
    Account,
    ExternalId,
    /// A CSV audience's variable column (by position).
    Variable(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder { source: Source, default: String },
}

/// A parsed text, ready to render for each recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// The contact fields placeholders may name.
const FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "member_id",
    "store",
    "salesperson",
    "account",
    "external_id",
];

impl Template {
    /// Parses `text`; `variables` are a CSV audience's variable columns.
    pub fn parse(text: &str, variables: &[String]) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| {
                format!(
                    "a placeholder opened at byte {} is not closed with }}}}",
                    text.len() - rest.len() + open
                )
            })?;
            let inner = &after[..close];
            if inner.contains("{{") {
                return Err(format!(
                    "the placeholder opened at byte {} holds another placeholder ({{{{{inner}}}}}): \
                     a default is plain text, e.g. {{{{name|friend}}}}",
                    text.len() - rest.len() + open
                ));
            }
            let (name, default) = inner.split_once('|').unwrap_or((inner, ""));
            parts.push(Part::Placeholder {
                source: source(name.trim(), variables)?,
                default: default.to_string(),
            });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// The length of the text without its placeholders, in characters: what every
    /// recipient's text holds at least.
    fn fixed(&self) -> (usize, usize) {
        (self.parts.iter())
            .map(|p| match p {
                Part::Literal(text) => (text.chars().count(), text.len()),
                Part::Placeholder { .. } => (0, 0),
            })
            .fold((0, 0), |(c, b), (pc, pb)| (c + pc, b + pb))
    }

    /// Refuses a text no recipient on `channel` could be sent: longer (without its
    /// placeholders) than the platform takes in one text message ([`text_limit`]).
    pub fn check_length(&self, channel: Channel) -> Result<(), String> {
        let Some(limit) = text_limit(channel) else {
            return Ok(());
        };
        let (chars, bytes) = self.fixed();
        let length = match limit.unit {
            Unit::Characters => chars,
            Unit::Bytes => bytes,
        };
        if length <= limit.most {
            return Ok(());
        }
        let unit = limit.unit.name();
        Err(format!(
            "the text is {length} {unit} long (placeholders left out) and {} takes at most {} {unit} in a text message ({}): shorten it, or send a payload file's own message on that channel",
            limit.platform, limit.most, limit.source
        ))
    }

    /// Whether the text names anything of the recipient (else every recipient gets the
    /// same text).
    pub fn is_personal(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Placeholder { .. }))
    }

    /// How many placeholders the text has (a WhatsApp template's body parameters).
    pub fn placeholders(&self) -> usize {
        (self.parts.iter())
            .filter(|p| matches!(p, Part::Placeholder { .. }))
            .count()
    }

    /// The text for the contact of `row`, with `values` its CSV variables.
    pub fn render(&self, store: &Store, row: u32, values: Option<&[&str]>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Placeholder { .. } => out.push_str(&self.value(part, store, row, values)),
            }
        }
        out
    }

    /// Each placeholder's value for the contact of `row`, in order (WhatsApp templates
    /// take them as body parameters).
    pub fn values(&self, store: &Store, row: u32, values: Option<&[&str]>) -> Vec<String> {
        (self.parts.iter())
            .filter(|p| matches!(p, Part::Placeholder { .. }))
            .map(|p| self.value(p, store, row, values))
            .collect()
    }

    fn value(&self, part: &Part, store: &Store, row: u32, values: Option<&[&str]>) -> String {
        let Part::Placeholder { source, default } = part else {
            return String::new();
        };
        let value = match source {
            Source::Name => store.name_of(row).trim(),
            Source::Text(field) => store.text_of(*field, row).unwrap_or(""),
            Source::Account => store.account_of(row).1,
            Source::ExternalId => store.external_id(row),
            Source::Variable(i) => values.and_then(|v| v.get(*i)).copied().unwrap_or(""),
        };
        if value.is_empty() {
            default.clone()
        } else {
            value.to_string()
        }
    }
}

fn source(name: &str, variables: &[String]) -> Result<Source, String> {
    if let Some(i) = variables.iter().position(|v| v == name) {
        return Ok(Source::Variable(i));
    }
    Ok(match name {
        "name" => Source::Name,
        "email" => Source::Text(TextField::Email),
        "phone" => Source::Text(TextField::Phone),
        "member_id" => Source::Text(TextField::MemberId),
        "store" => Source::Text(TextField::Store),
        "salesperson" => Source::Text(TextField::Salesperson),
        "account" => Source::Account,
        "external_id" => Source::ExternalId,
        _ => {
            let mut known: Vec<&str> = FIELDS.to_vec();
            known.extend(variables.iter().map(String::as_str));
            let hint = crate::suggest::closest(name, &known)
                .map(|s| format!(" (did you mean {{{{{s}}}}}?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown placeholder {{{{{name}}}}}{hint}; the text may use {}",
                known
                    .iter()
                    .map(|k| format!("{{{{{k}}}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_longer_than_the_platform_takes_are_refused_with_the_limit() {
        let line = Template::parse(&"a".repeat(5_001), &[]).expect("a text");
        let refused = line.check_length(Channel::Line).unwrap_err();
        assert!(
            refused.contains("LINE takes at most 5000 characters"),
            "{refused}"
        );
        assert!(line.check_length(Channel::Web).is_ok());
        assert!(line.check_length(Channel::Whatsapp).is_ok());
        let fits = Template::parse(&format!("{}{{{{name}}}}", "字".repeat(5_000)), &[]);
        assert!(fits.expect("a text").check_length(Channel::Line).is_ok());
        let messenger = Template::parse(&"a".repeat(2_001), &[]).expect("a text");
        assert!(messenger.check_length(Channel::Facebook).is_err());
        let instagram = Template::parse(&"字".repeat(334), &[]).expect("a text");
        let refused = instagram.check_length(Channel::Instagram).unwrap_err();
        assert!(refused.contains("1000 bytes of UTF-8"), "{refused}");
        for empty in ["", "  \n "] {
            let refused = check_text(empty).unwrap_err();
            assert!(refused.contains("the text is empty"), "{refused}");
        }
    }

    #[test]
    fn unknown_and_unclosed_placeholders_are_errors() {
        assert!(
            Template::parse("Hi {{nmae}}", &[])
                .unwrap_err()
                .contains("did you mean {{name}}")
        );
        assert!(
            Template::parse("Hi {{name", &[])
                .unwrap_err()
                .contains("not closed")
        );
        assert!(Template::parse("Hi {{coupon}}", &["coupon".into()]).is_ok());
        let nested = Template::parse("Hi {{name|{{email}}}}", &[]).unwrap_err();
        assert!(nested.contains("holds another placeholder"), "{nested}");
        assert!(nested.contains("{{name|{{email}}"), "{nested}");

        assert!(
            !Template::parse("Hello all", &[])
                .expect("plain")
                .is_personal()
        );
    }
}
