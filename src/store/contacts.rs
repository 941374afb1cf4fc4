//! Whole contacts read back out of the columns and bitmaps: one row's, or many rows' at
//! once (tags gathered per tag for many rows, per row for a few).

use roaring::RoaringBitmap;

use super::index::rowset::RowPositions;
use super::{Store, split_account_key};
use crate::model::{
    Channel, Contact, FbFrequency, FieldKind, FieldSet, Flag, OptOutKind, TextField,
};

impl Store {
    /// The display name of a row.
    pub fn name_of(&self, row: u32) -> &str {
        self.data.names.get(row)
    }

    /// The value of a text field of a row.
    pub fn text_of(&self, field: TextField, row: u32) -> Option<&str> {
        self.data.texts[field.index()].get(row)
    }

    /// The channel and account id of a row.
    pub fn account_of(&self, row: u32) -> (Channel, &str) {
        let code = self
            .data
            .row_account
            .get(row as usize)
            .copied()
            .unwrap_or(0);
        split_account_key(&self.data.accounts.entry(code).name)
    }

    /// The external id of a row.
    pub fn external_id(&self, row: u32) -> &str {
        self.data.external_ids.get(row)
    }

    /// The channel of a row.
    pub fn channel_of(&self, row: u32) -> Channel {
        self.account_of(row).0
    }

    /// The contact of a live row.
    pub fn contact(&self, row: u32) -> Option<Contact> {
        self.contacts(&RoaringBitmap::from_iter([row])).pop()
    }

    /// The contacts of the live rows among `rows`, in row order.
    pub fn contacts(&self, rows: &RoaringBitmap) -> Vec<Contact> {
        self.contacts_with(rows, true)
    }

    /// The contacts of the live rows among `rows`, in row order, with their tags or
    /// without (then `tags` is empty). Tags of many rows are gathered per tag (one
    /// intersection each); of a few rows, per row.
    pub(crate) fn contacts_with(&self, rows: &RoaringBitmap, with_tags: bool) -> Vec<Contact> {
        let rows = rows & &self.data.live;
        let mut out: Vec<Contact> = rows
            .iter()
            .map(|row| self.contact_without_tags(row))
            .collect();
        if !with_tags {
            return out;
        }
        for (contact, tags) in out.iter_mut().zip(self.tags_of(&rows)) {
            contact.tags = tags;
        }
        out
    }

    /// The sorted tags of each of `rows`, in row order: gathered per tag (one intersection
    /// each) for many rows, per row for a few.
    pub(crate) fn tags_of(&self, rows: &RoaringBitmap) -> Vec<Vec<String>> {
        if rows.len() <= FEW_ROWS {
            return rows.iter().map(|row| self.row_tags(row)).collect();
        }
        let mut out = vec![Vec::new(); rows.len() as usize];
        let position = RowPositions::new(rows);
        for entry in self.data.tags.entries() {
            if entry.rows.is_disjoint(rows) {
                continue;
            }
            for row in &*entry.rows & rows {
                out[position.of(row)].push(entry.name.to_string());
            }
        }
        for tags in &mut out {
            tags.sort();
        }
        out
    }

    /// The stored fields of `row` that an upsert of `fields` reads and may write, filled
    /// into `into` (whose identity the caller sets): each named field, and whole groups
    /// where a write covers the group (every flag and the Facebook frequency, which one
    /// rule ties to `fb_optin`; every opt-out kind). What it leaves unread it leaves at
    /// its default on both sides of a merge, so a merge neither compares nor writes it.
    /// Tags are left to the caller ([`Store::tags_of`] reads many rows' at once).
    pub(crate) fn read_fields(&self, row: u32, fields: FieldSet, into: &mut Contact) {
        let mut flags_read = false;
        for field in fields.iter() {
            match field.kind() {
                FieldKind::Identity | FieldKind::Tags => {}
                FieldKind::Name => into.name = self.data.names.get(row).to_string(),
                FieldKind::AvatarUrl => into.avatar_url = self.data.avatars.get(row).to_string(),
                FieldKind::OptOuts => {
                    into.opt_outs = (OptOutKind::ALL.iter().copied())
                        .filter(|k| self.data.opt_outs[k.index()].contains(row))
                        .collect();
                }
                FieldKind::Flag(_) | FieldKind::FbFrequency if !flags_read => {
                    flags_read = true;
                    for flag in Flag::ALL {
                        into.flags[flag.index()] = self.data.flags[flag.index()].contains(row);
                    }
                    into.fb_frequency = (FbFrequency::ALL.iter().copied())
                        .find(|f| self.data.frequencies[f.index()].contains(row));
                }
                FieldKind::Flag(_) | FieldKind::FbFrequency => {}
                FieldKind::Time(t) => into.times[t.index()] = self.data.times[t.index()].get(row),
                FieldKind::Text(t) => {
                    into.texts[t.index()] = self.data.texts[t.index()].get(row).map(str::to_string);
                }
            }
        }
    }

    /// The tags of one row, sorted: a membership test per tag, stopping once the row's
    /// tag count (when counted) is reached.
    fn row_tags(&self, row: u32) -> Vec<String> {
        let mut left = match &self.data.tag_counts {
            Some(counts) => counts.get(row as usize).copied().unwrap_or(0) as usize,
            None if self.data.tagged.contains(row) => usize::MAX,
            None => 0,
        };
        let mut tags = Vec::new();
        for entry in self.data.tags.entries() {
            if left == 0 {
                break;
            }
            if entry.rows.contains(row) {
                tags.push(entry.name.to_string());
                left -= 1;
            }
        }
        tags.sort();
        tags
    }

    fn contact_without_tags(&self, row: u32) -> Contact {
        let code = self.data.row_account[row as usize];
        let (channel, account) = split_account_key(&self.data.accounts.entry(code).name);
        let mut c = Contact::new(channel, account, self.data.external_ids.get(row));
        self.read_fields(row, FieldSet::all(), &mut c);
        c
    }
}

/// Up to this many rows, [`Store::contacts_with`] reads tags row by row.
pub(super) const FEW_ROWS: u64 = 64;
