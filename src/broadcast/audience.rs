//! The audience of a broadcast, frozen when the job starts: a segment's contacts, or a
//! CSV file of identities (`channel,account,external_id`, then any variable columns, a
//! header required). A CSV identity not in the store is counted `unknown`; the same
//! identity twice is an error naming both lines. Repeats are found by row (a bitmap) and,
//! for unknown identities, by a 64-bit hash, so that no identity's text is kept for the
//! whole file; a hash seen before is checked by reading the file again up to that line.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use roaring::RoaringBitmap;

use crate::engine::{RowValues, Variables};
use crate::engine::{Segment, View};
use crate::error::Error;
use crate::model::Channel;

/// Who a broadcast is for, as given.
#[derive(Clone, Debug)]
pub enum AudienceSource {
    Segment(Segment),
    /// CSV text of identities and variables.
    Csv(Vec<u8>),
}

/// The audience, frozen: its rows, the CSV identities that named nobody, and variables.
#[derive(Clone, Debug, Default)]
pub struct Audience {
    pub rows: RoaringBitmap,
    pub unknown: u64,
    pub variables: Variables,
}

impl Audience {
    /// Freezes `source` against the state seen by `view`.
    pub fn freeze(source: &AudienceSource, view: &View) -> Result<Audience, Error> {
        match source {
            AudienceSource::Segment(segment) => Ok(Audience {
                rows: view.rows(segment),
                ..Audience::default()
            }),
            AudienceSource::Csv(bytes) => from_csv(&bytes[..], view),
        }
    }

    /// How many the audience names (the unknown included).
    pub fn len(&self) -> u64 {
        self.rows.len() + self.unknown
    }

    /// Whether the audience names nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn bad_csv(why: String) -> Error {
    Error::Usage(format!("audience CSV: {why}"))
}

/// An identity as a CSV line names it: channel, account, external id (normalized).
type Named = (Channel, String, String);

fn from_csv(input: &[u8], view: &View) -> Result<Audience, Error> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| bad_csv(format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let required = ["channel", "account", "external_id"];
    let at: Vec<usize> = required
        .iter()
        .map(|name| {
            header.iter().position(|h| h.eq_ignore_ascii_case(name)).ok_or_else(|| {
                bad_csv(format!("the header lacks the column '{name}' (it needs channel,account,external_id, then any variable columns)"))
            })
        })
        .collect::<Result<_, _>>()?;
    let columns: Vec<usize> = (0..header.len()).filter(|i| !at.contains(i)).collect();
    let mut audience = Audience {
        variables: Variables {
            columns: columns.iter().map(|&i| header[i].clone()).collect(),
            values: RowValues::default(),
        },
        ..Audience::default()
    };
    let store = view.store();
    let mut seen = RoaringBitmap::new();
    let mut unknown_seen: HashSet<u64> = HashSet::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad_csv(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let (channel, account, id) = named(&record, &at, line)?;
        let found = store.find(channel, &account, &id);
        let identity = (channel, account, id);
        let again = match found {
            Some(row) => !seen.insert(row),
            None => !unknown_seen.insert(hashed(&identity)),
        };
        let same = |n: &Named| match found {
            Some(row) => store.find(n.0, &n.1, &n.2) == Some(row),
            None => *n == identity,
        };
        let (channel, account, id) = &identity;
        if again && let Some(first) = first_line(input, &at, &same)? {
            return Err(bad_csv(format!(
                "lines {first} and {line} name the same contact {channel}/{account}/{id}"
            )));
        }
        match found {
            Some(row) => {
                audience.rows.insert(row);
                if !columns.is_empty() {
                    audience
                        .variables
                        .values
                        .push(row, columns.iter().map(|&i| cell(i)));
                }
            }
            None => audience.unknown += 1,
        }
    }
    audience.variables.values.sort();
    Ok(audience)
}

/// The identity a record names; an unknown channel is an error naming its line.
fn named(record: &csv::StringRecord, at: &[usize], line: u64) -> Result<Named, Error> {
    let cell = |i: usize| record.get(i).unwrap_or("").trim();
    let channel = Channel::parse(cell(at[0]))
        .ok_or_else(|| bad_csv(format!("line {line}: unknown channel '{}'", cell(at[0]))))?;
    // WhatsApp ids are phone numbers, normalized as import normalizes them.
    let id = match channel {
        Channel::Whatsapp => crate::model::normalize_phone(cell(at[2])),
        _ => cell(at[2]).to_string(),
    };
    Ok((channel, cell(at[1]).to_string(), id))
}

fn hashed(identity: &Named) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    identity.hash(&mut hasher);
    hasher.finish()
}

/// The first line of `input` naming the contact `same` takes, if a later line names it
/// too (`None`: a hash matched another identity).
fn first_line(
    input: &[u8],
    at: &[usize],
    same: &dyn Fn(&Named) -> bool,
) -> Result<Option<u64>, Error> {
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
    let mut first = None;
    for record in reader.records() {
        let record = record.map_err(|e| bad_csv(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        if same(&named(&record, at, line)?) {
            match first {
                None => first = Some(line),
                Some(_) => return Ok(first),
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::from_csv;
    use crate::engine::Engine;

    /// Unknown identities are told apart by hash, then by their text: a repeat names
    /// both lines, distinct ones are each counted.
    #[test]
    fn a_repeated_unknown_identity_names_both_lines() {
        let engine = Engine::in_memory();
        let view = engine.read();
        let csv = b"channel,account,external_id\nline,a,U1\nline,a,U2\nline,a, U1 \n";
        let e = from_csv(csv, &view).expect_err("a repeat");
        let said = e.to_string();
        assert!(
            said.contains("lines 2 and 4 name the same contact line/a/U1"),
            "{said}"
        );
        let csv =
            b"channel,account,external_id\nline,a,U1\nline,b,U1\nwhatsapp,a,+886 912 345 678\n";
        assert_eq!(from_csv(csv, &view).expect("no repeat").unknown, 3);
    }
}
