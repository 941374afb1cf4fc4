//! A message's text with placeholders: `{{name}}`, `{{email}}`, `{{phone}}`,
//! `{{member_id}}`, `{{store}}`, `{{salesperson}}`, `{{account}}`, `{{external_id}}`,
//! and, for a CSV audience, `{{COLUMN}}` for each variable column; `{{name|friend}}`
//! gives a default for an empty value. An unknown placeholder is an error before
//! anything is sent.

use crate::model::TextField;
use crate::store::Store;

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
    pub fn render(&self, store: &Store, row: u32, values: Option<&[String]>) -> String {
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
    pub fn values(&self, store: &Store, row: u32, values: Option<&[String]>) -> Vec<String> {
        (self.parts.iter())
            .filter(|p| matches!(p, Part::Placeholder { .. }))
            .map(|p| self.value(p, store, row, values))
            .collect()
    }

    fn value(&self, part: &Part, store: &Store, row: u32, values: Option<&[String]>) -> String {
        let Part::Placeholder { source, default } = part else {
            return String::new();
        };
        let value = match source {
            Source::Name => store.name_of(row).trim(),
            Source::Text(field) => store.text_of(*field, row).unwrap_or(""),
            Source::Account => store.account_of(row).1,
            Source::ExternalId => store.external_id(row),
            Source::Variable(i) => values.and_then(|v| v.get(*i)).map_or("", String::as_str),
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
        assert!(
            !Template::parse("Hello all", &[])
                .expect("plain")
                .is_personal()
        );
    }
}
