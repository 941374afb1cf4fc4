//! Whole contacts read back out of the columns and bitmaps: one row's, or many rows' at
//! once (tags gathered per tag for many rows, per row for a few).

use roaring::RoaringBitmap;

use super::index::rowset::RowPositions;
use super::{Store, split_account_key};
use crate::model::{
    Channel, Contact, FbFrequency, Flag, OptOutKind, OptOuts, TextField, TimeField,
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
        if rows.len() <= FEW_ROWS {
            for (contact, row) in out.iter_mut().zip(&rows) {
                contact.tags = self.row_tags(row);
            }
            return out;
        }
        let position = RowPositions::new(&rows);
        for entry in self.data.tags.entries() {
            if entry.rows.is_disjoint(&rows) {
                continue;
            }
            for row in &*entry.rows & &rows {
                out[position.of(row)].tags.push(entry.name.to_string());
            }
        }
        for contact in &mut out {
            contact.tags.sort();
        }
        out
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
        c.name = self.data.names.get(row).to_string();
        c.avatar_url = self.data.avatars.get(row).to_string();
        for flag in Flag::ALL {
            c.flags[flag.index()] = self.data.flags[flag.index()].contains(row);
        }
        c.opt_outs = OptOutKind::ALL
            .iter()
            .copied()
            .filter(|k| self.data.opt_outs[k.index()].contains(row))
            .collect::<OptOuts>();
        c.fb_frequency = FbFrequency::ALL
            .iter()
            .copied()
            .find(|f| self.data.frequencies[f.index()].contains(row));
        for field in TimeField::ALL {
            c.times[field.index()] = self.data.times[field.index()].get(row);
        }
        for field in TextField::ALL {
            c.texts[field.index()] = self.data.texts[field.index()].get(row).map(str::to_string);
        }
        c
    }
}

/// Up to this many rows, [`Store::contacts_with`] reads tags row by row.
pub(super) const FEW_ROWS: u64 = 64;
