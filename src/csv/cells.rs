//! Reading and writing single CSV cells: booleans, times, tag lists, opt-out lists, and the
//! mapping from a header row to contact fields.

use crate::model::time::{format_rfc3339, parse_rfc3339};
use crate::model::{
    Channel, Contact, FbFrequency, Field, FieldKind, FieldSet, OptOutKind, OptOuts, Seconds,
    normalize_phone,
};

/// A cell that does not hold what its column needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellError {
    pub column: &'static str,
    pub value: String,
    pub expected: String,
}

fn bad(column: Field, value: &str, expected: impl Into<String>) -> CellError {
    CellError {
        column: column.name(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// Parses `true/false/1/0/yes/no` (any case); empty is false.
pub fn parse_bool(text: &str) -> Option<bool> {
    let text = text.trim();
    let is = |word: &str| text.eq_ignore_ascii_case(word);
    if text.is_empty() || is("false") || is("0") || is("no") {
        Some(false)
    } else if is("true") || is("1") || is("yes") {
        Some(true)
    } else {
        None
    }
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Maps header names (case-insensitive, trimmed) to fields. Unknown columns are an error
/// unless `ignore_unknown`; then they map to `None`.
pub fn map_header(names: &[&str], ignore_unknown: bool) -> Result<Vec<Option<Field>>, String> {
    let mut seen = FieldSet::default();
    let mut out = Vec::with_capacity(names.len());
    for (i, raw) in names.iter().enumerate() {
        let name = if i == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        match Field::parse(name.trim()) {
            Some(field) if seen.contains(field) => {
                return Err(format!(
                    "column '{}' appears twice in the header",
                    field.name()
                ));
            }
            Some(field) => {
                seen.insert(field);
                out.push(Some(field));
            }
            None if ignore_unknown => out.push(None),
            None => {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                let hint = crate::suggest::closest(name.trim(), &known)
                    .map(|s| format!(" (did you mean '{s}'?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown column '{}' in the header{hint}; pass --ignore-unknown-columns to skip unknown columns",
                    name.trim()
                ));
            }
        }
    }
    for required in [Field::Channel, Field::Account, Field::ExternalId] {
        if !seen.contains(required) {
            return Err(format!(
                "the header lacks the required column '{}'",
                required.name()
            ));
        }
    }
    Ok(out)
}

/// Parses one record (cells in header order) into `contact`, reusing its memory (it is
/// cleared first). Every bad cell is reported.
pub fn parse_into<'a>(
    contact: &mut Contact,
    header: &[Option<Field>],
    cells: impl Iterator<Item = &'a str>,
) -> Result<(), Vec<CellError>> {
    // Tag strings are kept for reuse: most rows have a few tags.
    let tags = std::mem::take(&mut contact.tags);
    contact.clear();
    contact.tags = tags;
    if !header.contains(&Some(Field::Tags)) {
        contact.tags.clear();
    }
    let mut errors = Vec::new();
    for (field, cell) in header.iter().zip(cells) {
        if let Some(field) = field
            && let Err(e) = set_cell(contact, *field, cell)
        {
            errors.push(e);
        }
    }
    whatsapp_identity(contact);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Sets `target` to `value`, reusing its memory.
fn assign(target: &mut String, value: &str) {
    target.clear();
    target.push_str(value);
}

fn parse_time(field: Field, text: &str) -> Result<Option<Seconds>, CellError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    parse_rfc3339(text).map(Some).ok_or_else(|| {
        bad(
            field,
            text,
            "an RFC 3339 time such as 2024-05-01T10:00:00+08:00, or empty",
        )
    })
}

fn set_cell(c: &mut Contact, field: Field, text: &str) -> Result<(), CellError> {
    match field.kind() {
        FieldKind::Identity => set_identity(c, field, text)?,
        FieldKind::Name => assign(&mut c.name, text),
        FieldKind::AvatarUrl => assign(&mut c.avatar_url, text.trim()),
        FieldKind::Tags => {
            let tags = text.split('|').map(str::trim).filter(|t| !t.is_empty());
            let mut count = 0;
            for tag in tags {
                match c.tags.get_mut(count) {
                    Some(held) => assign(held, tag),
                    None => c.tags.push(tag.to_string()),
                }
                count += 1;
            }
            c.tags.truncate(count);
            c.tags.sort_unstable();
            c.tags.dedup();
            if let Some(long) = c
                .tags
                .iter()
                .find(|t| crate::model::check_tag_name(t).is_err())
            {
                return Err(bad(field, long, "tag names of at most 100 characters"));
            }
        }
        FieldKind::OptOuts => {
            let mut set = OptOuts::NONE;
            for kind in text.split('|').map(str::trim).filter(|k| !k.is_empty()) {
                let kind = OptOutKind::parse(kind).ok_or_else(|| {
                    bad(
                        field,
                        text,
                        "kinds among broadcast, site_marketing, cart separated by |",
                    )
                })?;
                set.insert(kind);
            }
            c.opt_outs = set;
        }
        FieldKind::FbFrequency => {
            c.fb_frequency = match text.trim() {
                "" => None,
                t => Some(
                    FbFrequency::parse(t)
                        .ok_or_else(|| bad(field, text, "daily, weekly, monthly or empty"))?,
                ),
            }
        }
        FieldKind::Flag(flag) => {
            c.flags[flag.index()] = parse_bool(text)
                .ok_or_else(|| bad(field, text, "true/false, 1/0, yes/no or empty"))?;
        }
        FieldKind::Time(time) => c.times[time.index()] = parse_time(field, text)?,
        FieldKind::Text(t) => {
            let value = if field == Field::Phone {
                Some(normalize_phone(text)).filter(|p| !p.is_empty())
            } else {
                non_empty(text)
            };
            c.texts[t.index()] = value;
        }
    }
    Ok(())
}

/// A WhatsApp contact's external id is its phone number, normalized as phones are (as
/// `add-whatsapp` makes it); an empty phone is that number.
fn whatsapp_identity(c: &mut Contact) {
    if c.channel != Channel::Whatsapp {
        return;
    }
    let id = normalize_phone(&c.external_id);
    if id.is_empty() {
        return;
    }
    let phone = &mut c.texts[crate::model::TextField::Phone.index()];
    if phone.is_none() {
        *phone = Some(id.clone());
    }
    c.external_id = id;
}

fn set_identity(c: &mut Contact, field: Field, text: &str) -> Result<(), CellError> {
    let value = text.trim();
    match field {
        Field::Channel => {
            c.channel = Channel::parse(value).ok_or_else(|| {
                bad(field, text, "a channel: facebook (fb, messenger), line, whatsapp (wa), instagram (ig), web (website)")
            })?;
        }
        Field::Account => {
            if value.is_empty() || value.contains('|') || value.chars().any(char::is_whitespace) {
                return Err(bad(
                    field,
                    text,
                    "a non-empty account id without white space or '|'",
                ));
            }
            assign(&mut c.account, value);
        }
        _ => {
            if value.is_empty() {
                return Err(bad(field, text, "a non-empty external id"));
            }
            assign(&mut c.external_id, value);
        }
    }
    Ok(())
}

/// The text of one field of a contact, as export writes it.
pub fn format_cell(c: &Contact, field: Field) -> String {
    let time = |t: Option<Seconds>| t.map(format_rfc3339).unwrap_or_default();
    match field.kind() {
        FieldKind::Identity => match field {
            Field::Channel => c.channel.name().to_string(),
            Field::Account => c.account.clone(),
            _ => c.external_id.clone(),
        },
        FieldKind::Name => c.name.clone(),
        FieldKind::AvatarUrl => c.avatar_url.clone(),
        FieldKind::Tags => c.tags.join("|"),
        FieldKind::OptOuts => c
            .opt_outs
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join("|"),
        FieldKind::FbFrequency => c
            .fb_frequency
            .map(|f| f.name().to_string())
            .unwrap_or_default(),
        FieldKind::Flag(flag) => c.flag(flag).to_string(),
        FieldKind::Time(t) => time(c.time(t)),
        FieldKind::Text(t) => c.text(t).unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_record<'a>(
        header: &[Option<Field>],
        cells: impl Iterator<Item = &'a str>,
    ) -> Result<Contact, Vec<CellError>> {
        let mut contact = Contact::new(Channel::Web, "", "");
        parse_into(&mut contact, header, cells).map(|()| contact)
    }

    #[test]
    fn bools_accept_every_spelling() {
        for t in ["true", "TRUE", "1", "yes", "Yes"] {
            assert_eq!(parse_bool(t), Some(true));
        }
        for f in ["false", "0", "no", "", " "] {
            assert_eq!(parse_bool(f), Some(false));
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn header_is_case_insensitive_and_strict() {
        let h = map_header(
            &["\u{feff}Channel", "ACCOUNT", "external_id", "tags"],
            false,
        );
        assert_eq!(h.map(|h| h.len()), Ok(4));
        let unknown = map_header(&["channel", "account", "external_id", "tgas"], false);
        assert!(unknown.is_err_and(|e| e.contains("did you mean 'tags'")));
        assert!(map_header(&["channel", "account", "external_id", "tgas"], true).is_ok());
        assert!(
            map_header(&["channel", "account"], false).is_err_and(|e| e.contains("external_id"))
        );
        assert!(map_header(&["channel", "channel", "account", "external_id"], false).is_err());
    }

    #[test]
    fn record_parses_and_reports_every_bad_cell() {
        let header = map_header(
            &[
                "channel",
                "account",
                "external_id",
                "blocked",
                "tags",
                "phone",
                "subscribed_at",
            ],
            false,
        )
        .expect("header");
        let ok = parse_record(
            &header,
            [
                "wa",
                "+886",
                "+886912345678",
                "yes",
                "b| a |a",
                "+886 912-345-678",
                "2024-05-01T10:00:00+08:00",
            ]
            .into_iter(),
        );
        let c = ok.expect("valid row");
        assert_eq!(c.channel, Channel::Whatsapp);
        assert_eq!(c.tags, ["a", "b"]);
        assert_eq!(
            c.text(crate::model::TextField::Phone),
            Some("+886912345678")
        );
        let bad = parse_record(
            &header,
            ["tg", "+886", "x", "maybe", "", "", "yesterday"].into_iter(),
        );
        let errors = bad.expect_err("three bad cells");
        let columns: Vec<&str> = errors.iter().map(|e| e.column).collect();
        assert_eq!(columns, ["channel", "blocked", "subscribed_at"]);
    }
}
