//! The audience of a broadcast, frozen when the job starts: a segment's contacts, or a
//! CSV file of identities (`channel,account,external_id`, then any variable columns, a
//! header required). A CSV identity not in the store is counted `unknown`; the same
//! identity twice is an error naming both lines.

use std::collections::BTreeMap;
use std::io::Read;

use roaring::RoaringBitmap;

use crate::engine::Variables;
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

fn from_csv(input: impl Read, view: &View) -> Result<Audience, Error> {
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
            values: BTreeMap::new(),
        },
        ..Audience::default()
    };
    let store = view.store();
    let mut lines: BTreeMap<u32, u64> = BTreeMap::new();
    let mut unknown_seen = std::collections::HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad_csv(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let channel = Channel::parse(cell(at[0]))
            .ok_or_else(|| bad_csv(format!("line {line}: unknown channel '{}'", cell(at[0]))))?;
        // WhatsApp ids are phone numbers, normalized as import normalizes them.
        let phone =
            (channel == Channel::Whatsapp).then(|| crate::model::normalize_phone(cell(at[2])));
        let (account, id) = (cell(at[1]), phone.as_deref().unwrap_or(cell(at[2])));
        let found = store.find(channel, account, id);
        let earlier = match found {
            Some(row) => lines.insert(row, line),
            None => unknown_seen.insert((channel, account.to_string(), id.to_string()), line),
        };
        if let Some(first) = earlier {
            return Err(bad_csv(format!(
                "lines {first} and {line} name the same contact {channel}/{account}/{id}"
            )));
        }
        match found {
            Some(row) => {
                audience.rows.insert(row);
                if !columns.is_empty() {
                    let values = columns.iter().map(|&i| cell(i).to_string()).collect();
                    audience.variables.values.insert(row, values);
                }
            }
            None => audience.unknown += 1,
        }
    }
    Ok(audience)
}
