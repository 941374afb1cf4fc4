//! The parts of a store opened from a mapped snapshot, read ahead of use: a caller that
//! knows what it will read loads those parts first and gets a damaged part as an error,
//! where a plain read would only find it empty (see `files::lazy`).

use super::Store;
use super::files::snapshot::SnapshotError;
use super::index::fb_rows::FbRows;
use crate::model::{TextField, TimeField};

/// A part of the store that is read from the data file on first use.
#[derive(Clone, Copy, Debug)]
pub enum Part<'a> {
    /// The rows of one tag (no such tag: nothing to read).
    Tag(&'a str),
    /// The rows carrying any tag.
    Tagged,
    /// A time column.
    Time(TimeField),
    /// The rows that have a time in a field.
    TimePresent(TimeField),
    /// An optional text column.
    Text(TextField),
    /// An optional text column's checksum only: a lookup or `has:` reads it in place
    /// while it is not read (`Store::text_eq`, `Store::text_present`).
    TextInPlace(TextField),
    Names,
    /// The names' checksum only: a lookup reads them in place (`Store::name_eq`).
    NamesInPlace,
    /// External ids and the account of each row: what finding a contact reads.
    Identities,
    Avatars,
    /// The time columns `is:fb_sendable` reads (its expiry and last send), checksums
    /// only: it reads the Facebook rows' values where they lie (`Store::fb_rows`).
    FbSendable,
}

impl Store {
    /// Reads `part` now if it was not read yet.
    pub fn load(&self, part: Part<'_>) -> Result<(), SnapshotError> {
        let d = &self.data;
        match part {
            Part::Tag(name) => match d.tags.code(name) {
                Some(code) => d.tags.entry(code).rows.load().map(drop),
                None => Ok(()),
            },
            Part::Tagged => d.tagged.load().map(drop),
            Part::Time(field) => d.times[field.index()].load().map(drop),
            Part::TimePresent(field) => d.time_present[field.index()].load().map(drop),
            Part::Text(field) => d.texts[field.index()].load().map(drop),
            Part::TextInPlace(field) => d.texts[field.index()].check(),
            Part::Names => d.names.load().map(drop),
            Part::NamesInPlace => d.names.check(),
            Part::Identities => d.external_ids.load().and(d.row_account.load()).map(drop),
            Part::Avatars => d.avatars.load().map(drop),
            Part::FbSendable => {
                (FbRows::COLUMNS.iter()).try_for_each(|&field| d.times[field.index()].check())
            }
        }
    }

    /// Reads every part not read yet (before writing the store out, say), refusing a
    /// store in which a part was found damaged before.
    pub fn load_all(&self) -> Result<(), SnapshotError> {
        if let Some(damage) = self.damage() {
            return Err(SnapshotError::Corrupt(damage));
        }
        let mut tags = self.data.tags.entries().iter();
        tags.try_for_each(|entry| entry.rows.load().map(drop))?;
        let mut parts = vec![Part::Tagged, Part::Names, Part::Identities, Part::Avatars];
        for &field in TimeField::ALL {
            parts.extend([Part::Time(field), Part::TimePresent(field)]);
        }
        parts.extend(TextField::ALL.iter().copied().map(Part::Text));
        parts.into_iter().try_for_each(|part| self.load(part))
    }

    /// What was found damaged in the data file when a part was first read, if anything:
    /// a store with damage must not be trusted nor written out.
    pub fn damage(&self) -> Option<String> {
        self.data.file.as_ref()?.upgrade()?.damage()
    }
}
