//! `RowBatch`: new contacts laid out column by column, so that a store can take thousands
//! of them in one [`Change::Append`](crate::store::Change::Append) (a few array copies and bitmap
//! appends) instead of one row at a time. Import fills batches on many threads at once.
//!
//! ```
//! use reach::model::{Channel, Contact};
//! use reach::store::{Change, ChangeError, RowBatch, Store};
//!
//! let mut batch = RowBatch::new();
//! for id in ["U1", "U2"] {
//!     batch.push(&Contact::new(Channel::Line, "line-tw", id)).expect("valid contact");
//! }
//! let mut store = Store::new();
//! let applied = store.apply(&Change::Append { batch: Box::new(batch.clone()) }, 0)?;
//! assert_eq!(applied.created, 2);
//! // Appending the same identities again is refused, and changes nothing.
//! let again = store.apply(&Change::Append { batch: Box::new(batch) }, 0);
//! assert_eq!(again, Err(ChangeError::Repeated(vec![(0, 0), (1, 1)])));
//! assert_eq!(store.len(), 2);
//! # Ok::<(), ChangeError>(())
//! ```

use hashbrown::HashMap;

use crate::model::{
    Contact, FbFrequency, FieldError, Flag, OptOutKind, TEXT_FIELDS, TextField, TimeField,
};
use crate::store::account_key_into;
use crate::store::columns::strings::StrColumn;

/// Rows of a batch, numbered from 0, for one bitmap of the store.
pub type LocalRows = Vec<u32>;

/// Names local to a batch (accounts or tags), numbered in order of first use, with the
/// batch rows of each.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct LocalNames {
    /// Only while the batch is filled (a batch read from a log is not filled further).
    #[serde(skip)]
    pub codes: HashMap<Box<str>, u32>,
    pub names: Vec<Box<str>>,
    pub rows: Vec<LocalRows>,
}

impl LocalNames {
    /// Records that batch row `row` carries `name`; returns the name's local code.
    fn add(&mut self, name: &str, row: u32) -> u32 {
        let code = match self.codes.get(name) {
            Some(&code) => code,
            None => {
                let code = self.names.len() as u32;
                self.codes.insert(name.into(), code);
                self.names.push(name.into());
                self.rows.push(Vec::new());
                code
            }
        };
        self.rows[code as usize].push(row);
        code
    }
}

/// New contacts, column by column. Rows are numbered from 0 in the order pushed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct RowBatch {
    /// Accounts, keyed `channel|id` as the store keys them.
    pub(in crate::store) accounts: LocalNames,
    pub(in crate::store) row_account: Vec<u32>,
    pub(in crate::store) external_ids: StrColumn,
    pub(in crate::store) names: StrColumn,
    pub(in crate::store) avatars: StrColumn,
    pub(in crate::store) tags: LocalNames,
    pub(in crate::store) tag_counts: Vec<u16>,
    pub(in crate::store) flags: [LocalRows; 5],
    pub(in crate::store) opt_outs: [LocalRows; 3],
    pub(in crate::store) frequencies: [LocalRows; 3],
    /// Seconds per row, [`crate::store::time::NONE`] for none.
    pub(in crate::store) times: [Vec<u32>; 7],
    /// The rows with each time.
    pub(in crate::store) time_present: [LocalRows; 7],
    /// The values of each text field, for the rows of `text_present` in order.
    pub(in crate::store) texts: [StrColumn; TEXT_FIELDS],
    pub(in crate::store) text_present: [LocalRows; TEXT_FIELDS],
    /// Room to spell account keys in without allocating.
    #[serde(skip)]
    key: String,
}

impl RowBatch {
    /// An empty batch.
    pub fn new() -> RowBatch {
        RowBatch::default()
    }

    /// Number of contacts.
    pub fn len(&self) -> usize {
        self.row_account.len()
    }

    /// Whether the batch holds no contact.
    pub fn is_empty(&self) -> bool {
        self.row_account.is_empty()
    }

    /// Adds a contact as the next row, if it is valid (`Contact::validate`).
    pub fn push(&mut self, contact: &Contact) -> Result<(), FieldError> {
        contact.validate()?;
        self.push_unchecked(contact);
        Ok(())
    }

    /// Adds a contact the caller has checked: import checks `Contact::validate_fields`
    /// only when the file cannot pair `fb_optin` with `fb_frequency`, and then merges the
    /// batch into the store with the full check instead of adopting it.
    pub(crate) fn push_unchecked(&mut self, contact: &Contact) {
        let row = self.len() as u32;
        let mut key = std::mem::take(&mut self.key);
        account_key_into(&mut key, contact.channel, &contact.account);
        let account = self.accounts.add(&key, row);
        self.key = key;
        self.row_account.push(account);
        self.external_ids.push(&contact.external_id);
        self.names.push(&contact.name);
        self.avatars.push(&contact.avatar_url);
        for tag in &contact.tags {
            self.tags.add(tag, row);
        }
        self.tag_counts
            .push(u16::try_from(contact.tags.len()).unwrap_or(u16::MAX));
        for flag in Flag::ALL {
            if contact.flag(*flag) {
                self.flags[flag.index()].push(row);
            }
        }
        for kind in contact.opt_outs.iter() {
            self.opt_outs[kind.index()].push(row);
        }
        if let Some(frequency) = contact.fb_frequency {
            self.frequencies[frequency.index()].push(row);
        }
        for field in TimeField::ALL {
            let value = contact.time(*field);
            self.times[field.index()].push(crate::store::time::stored(value));
            if value.is_some() {
                self.time_present[field.index()].push(row);
            }
        }
        for field in TextField::ALL {
            if let Some(value) = contact.text(*field).filter(|v| !v.is_empty()) {
                self.texts[field.index()].push(value);
                self.text_present[field.index()].push(row);
            }
        }
    }

    /// Whether every column has a value per row and every row list names rows of the
    /// batch in order: always true of a batch filled by `push`, checked for one read back.
    pub(in crate::store) fn is_well_formed(&self) -> bool {
        let rows = self.len();
        let lists_ok = |lists: &[LocalRows]| {
            lists.iter().all(|l| {
                l.windows(2).all(|w| w[0] < w[1]) && l.last().is_none_or(|&r| (r as usize) < rows)
            })
        };
        let names_ok =
            |names: &LocalNames| names.names.len() == names.rows.len() && lists_ok(&names.rows);
        names_ok(&self.accounts)
            && names_ok(&self.tags)
            && self
                .row_account
                .iter()
                .all(|&c| (c as usize) < self.accounts.names.len())
            && [&self.external_ids, &self.names, &self.avatars]
                .iter()
                .all(|c| c.rows() as usize == rows)
            && self.tag_counts.len() == rows
            && self.times.iter().all(|t| t.len() == rows)
            && lists_ok(&self.flags)
            && lists_ok(&self.opt_outs)
            && lists_ok(&self.frequencies)
            && lists_ok(&self.time_present)
            && lists_ok(&self.text_present)
            && (self.texts.iter().zip(&self.text_present))
                .all(|(t, p)| t.rows() as usize == p.len())
    }

    /// The ids of the accounts the batch's contacts are of.
    pub fn account_ids(&self) -> impl Iterator<Item = &str> {
        (self.accounts.names.iter()).map(|key| crate::store::split_account_key(key).1)
    }

    /// The batch without the rows for which `drop` is true (renumbered densely).
    pub fn without(&self, drop: impl Fn(u32) -> bool) -> RowBatch {
        let mut out = RowBatch::new();
        for row in (0..self.len() as u32).filter(|&r| !drop(r)) {
            if let Some(contact) = self.contact(row) {
                out.push_unchecked(&contact);
            }
        }
        out
    }

    /// The contact of batch row `row`, if there is one (for the rare paths that rebuild
    /// a batch or report a row).
    pub fn contact(&self, row: u32) -> Option<Contact> {
        let code = *self.row_account.get(row as usize)?;
        let account = self.accounts.names.get(code as usize)?;
        Some(self.contact_at(row, account))
    }

    fn contact_at(&self, row: u32, account: &str) -> Contact {
        let has = |rows: &LocalRows| rows.binary_search(&row).is_ok();
        let (channel, account) = crate::store::split_account_key(account);
        let mut c = Contact::new(channel, account, self.external_ids.get(row));
        c.name = self.names.get(row).to_string();
        c.avatar_url = self.avatars.get(row).to_string();
        c.tags = (self.tags.names.iter().zip(&self.tags.rows))
            .filter(|(_, rows)| has(rows))
            .map(|(name, _)| name.to_string())
            .collect();
        c.tags.sort();
        for flag in Flag::ALL {
            c.flags[flag.index()] = has(&self.flags[flag.index()]);
        }
        c.opt_outs = OptOutKind::ALL
            .iter()
            .copied()
            .filter(|k| has(&self.opt_outs[k.index()]))
            .collect();
        c.fb_frequency = FbFrequency::ALL
            .iter()
            .copied()
            .find(|f| has(&self.frequencies[f.index()]));
        for field in TimeField::ALL {
            let stored = self.times[field.index()].get(row as usize).copied();
            c.times[field.index()] = stored.and_then(crate::store::time::from_stored);
        }
        for field in TextField::ALL {
            let present = self.text_present[field.index()].binary_search(&row);
            c.texts[field.index()] =
                (present.ok()).map(|i| self.texts[field.index()].get(i as u32).to_string());
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth;

    #[test]
    fn push_then_read_back_gives_the_same_contacts() {
        let contacts = synth::contacts(300, 3, synth::DEFAULT_ANCHOR);
        let mut batch = RowBatch::new();
        for c in &contacts {
            assert!(batch.push(c).is_ok());
        }
        assert_eq!(batch.len(), 300);
        for (row, c) in contacts.iter().enumerate() {
            assert_eq!(batch.contact(row as u32).as_ref(), Some(c));
        }
        assert!(batch.contact(300).is_none());
        let odd = batch.without(|r| r % 2 == 1);
        assert_eq!(odd.len(), 150);
        assert_eq!(odd.contact(1).as_ref(), Some(&contacts[2]));
    }
}
