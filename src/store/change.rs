//! Every change to a [`Store`] is a [`Change`] applied by [`Store::apply`]: the one place
//! where contacts are created, edited and erased, and so the one place a log hooks in.
//! A change is checked whole before any of it is written: it applies fully or not at all.
//! `Store::check` only reads (validity, and the read-only part of the work, e.g. which
//! rows a tag edit changes) and `Store::write` then writes what it found; `apply` is both.
//! Every write moves the store's write counter, which keys the derived values
//! (`index/derived.rs`), and journals the rows it touched, from which the word views are
//! brought up to date; lazy equality indexes, once built, are kept exact by each write.
//!
//! This file is the only writer by visibility, not by convention: a store holds its data
//! in a [`Sealed`], which only this file can open for writing.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use hashbrown::HashSet;
use roaring::RoaringBitmap;

use super::bulk::batch::RowBatch;
use super::columns::identity::IdentityMap;
use super::columns::strings::StrColumn;
use super::contacts::FEW_ROWS;
use super::index::rowset;
use super::index::rowset::push_rows;
use super::{Store, account_key, fold};
use crate::model::time::{MAX_STORED, MIN_STORED};
use crate::model::{
    Channel, Contact, Event, EventKind, FbFrequency, Field, FieldError, FieldKind, FieldSet, Flag,
    OptOutKind, OptOuts, Seconds, TextField, TimeField, check_tag_name, moved_forward,
};

/// What a [`Store`] holds, sealed: code anywhere in the crate reads it through `Deref`,
/// and only this file can change it, because the field is private to this module, and
/// `Sealed` implements neither `DerefMut` nor any other way to a `&mut` (a test below
/// checks that at compile time). So "every change goes through [`Store::apply`]" is kept
/// by the compiler: a read in `read.rs` or a snapshot's encoder that tried to insert into
/// a bitmap or set a column would not compile. Code elsewhere may only replace a store's
/// data whole, with data built anew (a snapshot read, a compaction: [`Sealed::new`]), as
/// `*store = other` could.
///
/// In this file, writes name the field: `self.data.0.live.insert(row)`.
#[derive(Clone, Debug, Default)]
pub(super) struct Sealed<T>(T);

impl<T> Sealed<T> {
    /// Seals data built whole, for a store of its own.
    pub(super) fn new(data: T) -> Sealed<T> {
        Sealed(data)
    }
}

impl<T> Deref for Sealed<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A change to the store. It travels in log records as it is (serde), row ids and all:
/// row ids only change when a checkpoint renumbers them and starts a new log.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Creates contacts, or updates the `fields` of those whose identity exists.
    Upsert {
        contacts: Vec<Contact>,
        fields: FieldSet,
    },
    /// Adds a tag to the live contacts among `rows` (creating the tag if needed).
    AddTag { tag: String, rows: RoaringBitmap },
    /// Removes a tag from the contacts among `rows`.
    RemoveTag { tag: String, rows: RoaringBitmap },
    /// Creates a tag that no contact carries yet (no-op if it exists).
    CreateTag { tag: String },
    /// Deletes tags, removing them from every contact.
    DeleteTags { tags: Vec<String> },
    /// Adds opt-out kinds to the contacts among `rows`.
    Unsubscribe { rows: RoaringBitmap, kinds: OptOuts },
    /// Clears every opt-out of the contacts among `rows` (blocking stays).
    Resubscribe { rows: RoaringBitmap },
    /// Erases the contacts among `rows`.
    Delete { rows: RoaringBitmap },
    /// Creates the contacts of a batch, all new: refused with [`ChangeError::Repeated`] if
    /// any identity is already stored or repeats within the batch. The fast way to load.
    Append { batch: Box<RowBatch> },
    /// Moves the event's field forward on the live contacts among `rows` (data-model.md,
    /// "Events"): a time field never moves back; `subscribe` also clears `blocked`,
    /// `block` sets it.
    Event { event: Event, rows: RoaringBitmap },
    /// Sets a time field to `at` on the live contacts among `rows` (a broadcast's books:
    /// `team_marketing_at`, `fb_last_sent_at` = the send time).
    Stamp {
        field: TimeField,
        at: Seconds,
        rows: RoaringBitmap,
    },
    /// An upsert of stored contacts, resolved when it was made: the `fields` of
    /// `contacts[i]` onto row `rows[i]`, so that replaying it never looks an identity up.
    /// Refused whole if a row is no longer live.
    Update {
        rows: Vec<u32>,
        contacts: Vec<Contact>,
        fields: FieldSet,
    },
}

impl Change {
    /// An upsert of `contacts` whose stored rows were found (`None`: new), split into
    /// an [`Change::Update`] of the stored and a [`Change::Upsert`] of the new, in that
    /// order, leaving out either if it would be empty.
    pub fn resolved_upsert(
        contacts: Vec<Contact>,
        rows: Vec<Option<u32>>,
        fields: FieldSet,
    ) -> Vec<Change> {
        let (mut stored_rows, mut stored, mut new) = (Vec::new(), Vec::new(), Vec::new());
        for (contact, row) in contacts.into_iter().zip(rows) {
            match row {
                Some(row) => {
                    stored_rows.push(row);
                    stored.push(contact);
                }
                None => new.push(contact),
            }
        }
        let mut changes = Vec::new();
        if !stored.is_empty() {
            changes.push(Change::Update {
                rows: stored_rows,
                contacts: stored,
                fields,
            });
        }
        if !new.is_empty() {
            changes.push(Change::Upsert {
                contacts: new,
                fields,
            });
        }
        changes
    }

    /// Whether the change edits tags only (no contact's other fields).
    fn edits_tags_only(&self) -> bool {
        matches!(
            self,
            Change::AddTag { .. }
                | Change::RemoveTag { .. }
                | Change::CreateTag { .. }
                | Change::DeleteTags { .. }
        )
    }

    /// Whether the change may alter the opted-in Facebook rows or their columns
    /// (`fb_sendable`'s inputs); tag and opt-out edits cannot.
    fn may_alter_fb_rows(&self) -> bool {
        let opt_outs = matches!(
            self,
            Change::Unsubscribe { .. } | Change::Resubscribe { .. }
        );
        !(self.edits_tags_only() || opt_outs)
    }

    /// Whether the change may alter who is unsubscribed (blocked or opted out of
    /// broadcasts); tag edits and stamps cannot.
    fn may_alter_subscriptions(&self) -> bool {
        !(self.edits_tags_only() || matches!(self, Change::Stamp { .. }))
    }
}

/// What a change did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Contacts created.
    pub created: u64,
    /// Existing contacts changed (for tag and opt-out edits: those whose state changed).
    pub changed: u64,
    /// Identities of erased contacts, `(channel, account, external_id)`, in row order.
    pub erased: Vec<(Channel, String, String)>,
    /// The rows created or changed: a reader of the change (a membership tracker) need
    /// look at these rows only.
    pub rows: RoaringBitmap,
    /// The erased rows: the i-th is `erased[i]`.
    pub erased_rows: RoaringBitmap,
}

/// What upserting one contact would do ([`Store::upsert_outcomes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new contact.
    Create,
    /// A stored contact whose merged fields are what is stored.
    Unchanged,
    /// A stored contact that would change.
    Change,
    /// The contact, merged with the stored one, would be invalid.
    Invalid(FieldError),
}

/// Why a change was refused; the store is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeError {
    /// A contact's fields do not fit together (after merging with the stored contact).
    Invalid {
        index: usize,
        identity: String,
        error: FieldError,
    },
    /// The same identity twice in one upsert.
    Duplicate { first: usize, second: usize },
    /// A malformed tag name.
    BadTag(String),
    /// Contacts of an append whose identity is already stored or appears earlier in the
    /// batch: (row in the batch, the row it repeats, numbered as if the batch were appended).
    Repeated(Vec<(u32, u32)>),
    /// A time the store cannot hold (before 1970 or after 2106-02-07).
    BadTime(Seconds),
    /// A batch whose columns do not fit together (read back from a damaged record).
    Malformed,
    /// A contact an update was resolved to was erased since.
    Erased(String),
}

impl fmt::Display for ChangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangeError::Invalid {
                identity, error, ..
            } => write!(f, "contact {identity}: {}: {}", error.field, error.message),
            ChangeError::Duplicate { first, second } => write!(
                f,
                "contacts {first} and {second} of the same change have the same identity"
            ),
            ChangeError::BadTag(message) => f.write_str(message),
            ChangeError::Repeated(pairs) => write!(
                f,
                "{} appended contacts repeat an identity that is already stored",
                pairs.len()
            ),
            ChangeError::Malformed => f.write_str("a batch whose columns do not fit together"),
            ChangeError::Erased(identity) => {
                write!(f, "contact {identity} was erased since the change was made")
            }
            ChangeError::BadTime(t) => write!(
                f,
                "time {} is outside what the store holds ({})",
                crate::model::time::format_rfc3339(*t),
                crate::model::time::STORED_RANGE
            ),
        }
    }
}

impl std::error::Error for ChangeError {}

fn identity_text(c: &Contact) -> String {
    format!("{}/{}/{}", c.channel, c.account, c.external_id)
}

/// Sets or clears one row's bit; a fresh row has no bits to clear.
fn set_bit(fresh: bool, bitmap: &mut RoaringBitmap, row: u32, on: bool) {
    if on {
        bitmap.insert(row);
    } else if !fresh {
        bitmap.remove(row);
    }
}

/// A change found acceptable by [`Store::check`], with what checking it worked out; valid
/// for the store as it was checked, and [`Store::write`] checks again if it changed since.
#[derive(Debug)]
pub struct Checked {
    version: u64,
    /// What checking worked out, so that the write (under a writer's lock) only writes.
    work: Work,
}

/// The read-only part of a change, done by [`Store::check`].
#[derive(Debug, Default)]
enum Work {
    #[default]
    Nothing,
    /// An upsert: each contact's row if stored, and its merge with the stored contact.
    Merged(Vec<Merged>),
    /// A tag edit: the rows whose tag changes, and the tags per row counted for a bulk
    /// removal when they were not counted yet.
    Tagging {
        rows: RoaringBitmap,
        counts: Option<Vec<u16>>,
    },
}

/// What a write that changed `rows` (and created or erased none) did.
fn changed_rows(rows: RoaringBitmap) -> Applied {
    Applied {
        changed: rows.len(),
        rows,
        ..Applied::default()
    }
}

/// One upserted contact: `(row, Some((before, after)))` for a stored one, `(None, None)` for
/// a new one.
type Merged = (Option<u32>, Option<(Contact, Contact)>);

impl Store {
    /// Applies a change at time `now` (the creation time of new tags). All or nothing.
    pub fn apply(&mut self, change: &Change, now: Seconds) -> Result<Applied, ChangeError> {
        if let Change::Append { batch } = change {
            // Appending checks its identities as it inserts them, and undoes them if any repeats.
            let applied = self.append(batch, now)?;
            self.journal(change, &applied);
            return Ok(applied);
        }
        let checked = self.check(change)?;
        self.write(change, checked, now)
    }

    /// Checks a change without applying it: `Ok` means [`Store::write`] will apply it whole.
    /// Reads only, so that a log can record the change between the check and the write.
    pub fn check(&self, change: &Change) -> Result<Checked, ChangeError> {
        let mut work = Work::Nothing;
        let empty = RoaringBitmap::new();
        match change {
            Change::Upsert { contacts, fields } => {
                work = Work::Merged(self.checked_merge(contacts, *fields)?);
            }
            Change::Update {
                rows,
                contacts,
                fields,
            } => work = Work::Merged(self.checked_update(rows, contacts, *fields)?),
            Change::AddTag { tag, rows } => {
                check_tag_name(tag).map_err(ChangeError::BadTag)?;
                let rows = rowset::and(rows, &self.data.live);
                let rows = match self.loose() && self.data.tag_counts.is_none() {
                    true => rows,
                    false => rowset::minus(&rows, self.tag(tag).unwrap_or(&empty)),
                };
                work = Work::Tagging { rows, counts: None };
            }
            Change::CreateTag { tag } => check_tag_name(tag).map_err(ChangeError::BadTag)?,
            Change::RemoveTag { rows, .. } if self.loose() && self.data.tag_counts.is_none() => {
                let rows = rows.clone();
                work = Work::Tagging { rows, counts: None };
            }
            Change::RemoveTag { tag, rows } => {
                let rows = rowset::and(rows, self.tag(tag).unwrap_or(&empty));
                let counts = self.counts_for_removal(&rows);
                work = Work::Tagging { rows, counts };
            }
            Change::DeleteTags { tags } => {
                let doomed: HashSet<&str> = tags.iter().map(String::as_str).collect();
                let carriers = (self.data.tags.entries().iter())
                    .filter(|e| doomed.contains(&*e.name))
                    .map(|e| &*e.rows);
                let rows = roaring::MultiOps::union(carriers);
                let counts = self.counts_for_removal(&rows);
                work = Work::Tagging { rows, counts };
            }
            Change::Append { batch } if !batch.is_well_formed() => {
                return Err(ChangeError::Malformed);
            }
            Change::Append { batch } => self.check_new_identities(batch)?,
            Change::Event { event, .. } if !(MIN_STORED..=MAX_STORED).contains(&event.at) => {
                return Err(ChangeError::BadTime(event.at));
            }
            Change::Stamp { at, .. } if !(MIN_STORED..=MAX_STORED).contains(at) => {
                return Err(ChangeError::BadTime(*at));
            }
            _ => {}
        }
        Ok(Checked {
            version: self.data.version,
            work,
        })
    }

    /// Tags per row, counted now (reading only) when removing a tag from `rows` needs
    /// them and they are not counted yet; few rows are looked at one by one instead.
    fn counts_for_removal(&self, rows: &RoaringBitmap) -> Option<Vec<u16>> {
        (self.data.tag_counts.is_none() && rows.len() > FEW_ROWS).then(|| self.count_tags())
    }

    /// Tags per row, counted (reading only) for [`Store::keep_tag_counts`] when they are
    /// not counted yet and a process's rounds of tag removals have looked at rows one by
    /// one a few times already (`untag_scans`): one that keeps removing (a server, a
    /// change stream) stops testing every tag per row. An engine counts before it takes
    /// its write lock, so that readers never wait for the count (seconds at 10M rows).
    pub fn tag_counts_due(&self) -> Option<Vec<u16>> {
        let due = self.data.tag_counts.is_none() && !self.data.untag_scans.scan_instead();
        due.then(|| self.count_tags())
    }

    /// Keeps tags per row counted by [`Store::tag_counts_due`] on this same store.
    pub fn keep_tag_counts(&mut self, counts: Vec<u16>) {
        if self.data.tag_counts.is_none() && counts.len() == self.row_count() as usize {
            self.data.0.tag_counts = Some(counts);
        }
    }

    /// Applies a change that [`Store::check`] accepted (checking again if the store changed
    /// since); an error means the check was stale, and nothing was applied.
    pub fn write(
        &mut self,
        change: &Change,
        checked: Checked,
        now: Seconds,
    ) -> Result<Applied, ChangeError> {
        let applied = self.write_rows(change, checked, now)?;
        self.journal(change, &applied);
        Ok(applied)
    }

    /// Tells the derived values what a change touched: the word views its rows (a tag
    /// deletion renumbers the tags, and every view is built again); the values whose
    /// inputs it cannot have altered are carried to its write count.
    fn journal(&mut self, change: &Change, applied: &Applied) {
        let version = self.data.version;
        let touched = match applied.erased_rows.is_empty() {
            true => Cow::Borrowed(&applied.rows),
            false => Cow::Owned(&applied.rows | &applied.erased_rows),
        };
        let nothing = touched.is_empty();
        let derived = &mut self.data.0.derived;
        if nothing || !change.may_alter_fb_rows() {
            derived.fb_rows.carry(version - 1, version);
        }
        if nothing || !change.may_alter_subscriptions() {
            derived.unsubscribed.carry(version - 1, version);
        }
        match change {
            Change::DeleteTags { .. } => derived.words.restart(version),
            _ => derived.words.record(version, &touched),
        }
    }

    fn write_rows(
        &mut self,
        change: &Change,
        checked: Checked,
        now: Seconds,
    ) -> Result<Applied, ChangeError> {
        // An append checks its identities as it inserts them; anything else checked
        // against an older store is checked again.
        let current =
            checked.version == self.data.version || matches!(change, Change::Append { .. });
        let checked = if current {
            checked
        } else {
            self.check(change)?
        };
        self.data.0.version += 1;
        let (rows, counts) = match checked.work {
            Work::Merged(merged) => {
                if let Change::Upsert { contacts, fields }
                | Change::Update {
                    contacts, fields, ..
                } = change
                {
                    return Ok(self.upsert(contacts, merged, *fields, now));
                }
                (RoaringBitmap::new(), None)
            }
            Work::Tagging { rows, counts } => (rows, counts),
            Work::Nothing => (RoaringBitmap::new(), None),
        };
        if counts.is_some() {
            self.data.0.tag_counts = counts;
        }
        Ok(match change {
            Change::AddTag { tag, .. } => self.add_tag(tag, rows, now),
            Change::RemoveTag { tag, .. } => self.remove_tag(tag, rows),
            Change::DeleteTags { tags } => self.delete_tags(tags, &rows),
            Change::CreateTag { tag } => {
                self.data.0.tags.intern(tag, now);
                Applied::default()
            }
            Change::Unsubscribe { rows, kinds } => self.set_opt_outs(rows, *kinds, true),
            Change::Resubscribe { rows } => self.set_opt_outs(rows, OptOuts::ALL, false),
            Change::Delete { rows } => self.delete(rows),
            Change::Append { batch } => self.append(batch, now)?,
            Change::Event { event, rows } => self.record_event(*event, rows),
            Change::Stamp { field, at, rows } => self.stamp(*field, *at, rows),
            Change::Upsert { .. } | Change::Update { .. } => Applied::default(),
        })
    }

    /// For each contact, what upserting it (per `fields`) would do, checked, without
    /// changing anything.
    pub fn upsert_outcomes(&self, contacts: &[Contact], fields: FieldSet) -> Vec<UpsertOutcome> {
        let merged = self.merge_at(contacts, &self.rows_of(contacts), fields);
        (merged.into_iter())
            .map(|m| match m {
                Err(error) => UpsertOutcome::Invalid(error),
                Ok(None) => UpsertOutcome::Create,
                Ok(Some((before, next))) if before == next => UpsertOutcome::Unchanged,
                Ok(Some(_)) => UpsertOutcome::Change,
            })
            .collect()
    }

    /// Each contact's row if its identity is stored.
    pub fn rows_of(&self, contacts: &[Contact]) -> Vec<Option<u32>> {
        (contacts.iter())
            .map(|c| self.find(c.channel, &c.account, &c.external_id))
            .collect()
    }

    /// Merges each contact into the stored one at its row (`None`, a row no longer live,
    /// or one an earlier contact took: a new contact). Only the fields the upsert sets are
    /// read ([`Store::read_fields`]); stored contacts are valid, so checking the merge of
    /// those fields checks the whole contact.
    fn merge_at(
        &self,
        contacts: &[Contact],
        rows: &[Option<u32>],
        fields: FieldSet,
    ) -> Vec<Result<Option<(Contact, Contact)>, FieldError>> {
        let deferred = self.deferred(fields);
        let read: FieldSet = fields.iter().filter(|f| !deferred.contains(*f)).collect();
        let mut taken = RoaringBitmap::new();
        let rows: Vec<Option<u32>> = (rows.iter())
            .map(|row| row.filter(|&r| self.data.live.contains(r) && taken.insert(r)))
            .collect();
        let mut tags = match fields.contains(crate::model::Field::Tags) {
            true => (taken.iter().zip(self.tags_of(&taken))).collect(),
            false => hashbrown::HashMap::new(),
        };
        (contacts.iter().zip(rows))
            .map(|(contact, row)| match row {
                Some(row) => {
                    let mut stored =
                        Contact::new(contact.channel, &contact.account, &contact.external_id);
                    self.read_fields(row, read, &mut stored);
                    stored.tags = tags.remove(&row).unwrap_or_default();
                    let mut next = stored.clone();
                    next.overlay(contact, fields);
                    next.validate().map(|()| Some((stored, next)))
                }
                None => contact.validate().map(|()| None),
            })
            .collect()
    }

    /// The merge of each upserted contact with the stored one, all of them valid.
    fn checked_merge(
        &self,
        contacts: &[Contact],
        fields: FieldSet,
    ) -> Result<Vec<Merged>, ChangeError> {
        self.checked_merge_at(contacts, self.rows_of(contacts), fields)
    }

    /// The merge of each contact with the stored one at its row (`None`: new), all of
    /// them valid.
    fn checked_merge_at(
        &self,
        contacts: &[Contact],
        rows: Vec<Option<u32>>,
        fields: FieldSet,
    ) -> Result<Vec<Merged>, ChangeError> {
        check_unique(contacts)?;
        let merged = self.merge_at(contacts, &rows, fields);
        (rows.into_iter().zip(merged).enumerate())
            .map(|(index, (row, m))| {
                m.map(|m| (row, m)).map_err(|error| ChangeError::Invalid {
                    index,
                    identity: identity_text(&contacts[index]),
                    error,
                })
            })
            .collect()
    }

    /// The merge of each updated contact with the stored one at its row, all of them
    /// valid and every row still live.
    fn checked_update(
        &self,
        rows: &[u32],
        contacts: &[Contact],
        fields: FieldSet,
    ) -> Result<Vec<Merged>, ChangeError> {
        if rows.len() != contacts.len() {
            return Err(ChangeError::Malformed);
        }
        let rows = rows.iter().copied().map(Some).collect();
        let merged = self.checked_merge_at(contacts, rows, fields)?;
        match merged.iter().position(|(_, stored)| stored.is_none()) {
            Some(index) => Err(ChangeError::Erased(identity_text(&contacts[index]))),
            None => Ok(merged),
        }
    }

    /// Writes merged contacts (`fields` of the stored ones). A replay writes the fields
    /// whose columns are not read later, unread, and counts them as changed.
    fn upsert(
        &mut self,
        contacts: &[Contact],
        merged: Vec<Merged>,
        fields: FieldSet,
        now: Seconds,
    ) -> Applied {
        let deferred = self.deferred(fields);
        let mut applied = Applied::default();
        self.reserve_rows(merged.iter().filter(|(r, _)| r.is_none()).count());
        for (contact, (row, merge)) in contacts.iter().zip(merged) {
            match (merge, row) {
                (Some((before, next)), Some(row)) => {
                    if before != next || deferred != FieldSet::default() {
                        applied.changed += 1;
                        applied.rows.insert(row);
                        self.write_later(row, deferred, &next);
                        self.write_fields(row, Some((&before, deferred)), &next, now);
                    }
                }
                _ => {
                    let row = self.create_row(contact);
                    self.write_fields(row, None, contact, now);
                    applied.created += 1;
                    applied.rows.insert(row);
                }
            }
        }
        applied
    }

    fn append(&mut self, batch: &RowBatch, now: Seconds) -> Result<Applied, ChangeError> {
        if !batch.is_well_formed() {
            return Err(ChangeError::Malformed);
        }
        let base = self.row_count();
        self.append_identities(batch)?;
        self.data.0.version += 1;
        let codes: Vec<u32> = (batch.accounts.names.iter())
            .map(|key| self.data.0.accounts.intern(key, 0))
            .collect();
        for (code, rows) in codes.iter().zip(&batch.accounts.rows) {
            push_rows(self.data.0.accounts.rows_mut(*code), base, rows);
            let channel = super::split_account_key(&self.data.accounts.entry(*code).name).0;
            push_rows(&mut self.data.0.channels[channel.index()], base, rows);
        }
        self.data
            .0
            .live
            .insert_range(base..base + batch.len() as u32);
        // Run containers make every `live − x` (a NOT) split runs one row at a time.
        self.data.0.live.remove_run_compression();
        self.data.0.names.append(&batch.names);
        if let Some(index) = self.data.0.name_index.get_mut() {
            let names = &self.data.0.names;
            for row in base..names.rows() {
                index.insert(&fold(names.get(row)), row, |r| fold(names.get(r)));
            }
        }
        self.data.0.avatars.append(&batch.avatars);
        self.append_tags(batch, base, now);
        let bitmaps = (self.data.0.flags.iter_mut().zip(&batch.flags))
            .chain(self.data.0.opt_outs.iter_mut().zip(&batch.opt_outs))
            .chain(self.data.0.frequencies.iter_mut().zip(&batch.frequencies));
        for (bitmap, rows) in bitmaps {
            push_rows(bitmap, base, rows);
        }
        for (i, values) in batch.times.iter().enumerate() {
            self.data.0.times[i].append(values);
            push_rows(
                &mut self.data.0.time_present[i],
                base,
                &batch.time_present[i],
            );
        }
        for (i, values) in batch.texts.iter().enumerate() {
            self.data.0.texts[i].append(values, base, &batch.text_present[i]);
        }
        Ok(Applied {
            created: batch.len() as u64,
            rows: (base..base + batch.len() as u32).collect(),
            ..Applied::default()
        })
    }

    /// Adds the rows and identities of a batch to the identity map, or, if any identity is
    /// already there, changes nothing and says which.
    fn append_identities(&mut self, batch: &RowBatch) -> Result<(), ChangeError> {
        self.identity();
        let base = self.row_count();
        let mark = self.data.external_ids.mark();
        // New accounts get the codes `intern` will give them: the next ones, in order.
        let mut next_code = self.data.accounts.entries().len() as u32;
        let codes: Vec<u32> = (batch.accounts.names.iter())
            .map(|key| {
                self.data.accounts.code(key).unwrap_or_else(|| {
                    next_code += 1;
                    next_code - 1
                })
            })
            .collect();
        self.data
            .0
            .row_account
            .extend(batch.row_account.iter().map(|&c| codes[c as usize]));
        self.data.0.rows = self.data.row_account.len() as u32;
        self.data.0.external_ids.append(&batch.external_ids);
        let (identity, accounts, ids) = self.identity_parts();
        identity.reserve(batch.len(), accounts, ids);
        let mut repeated = Vec::new();
        for row in base..base + batch.len() as u32 {
            if let Err(held) = identity.insert_new(row, accounts, ids) {
                repeated.push((row - base, held));
            }
        }
        if repeated.is_empty() {
            return Ok(());
        }
        for row in base..base + batch.len() as u32 {
            if repeated
                .binary_search_by_key(&(row - base), |p| p.0)
                .is_err()
            {
                identity.remove(row, accounts, ids);
            }
        }
        self.data.0.row_account.truncate(base as usize);
        self.data.0.rows = base;
        self.data.0.external_ids.truncate(mark);
        Err(ChangeError::Repeated(repeated))
    }

    fn append_tags(&mut self, batch: &RowBatch, base: u32, now: Seconds) {
        for (name, rows) in batch.tags.names.iter().zip(&batch.tags.rows) {
            let code = self.data.0.tags.intern(name, now);
            push_rows(self.data.0.tags.rows_mut(code), base, rows);
        }
        let tagged: Vec<u32> = (0..batch.len() as u32)
            .filter(|&r| batch.tag_counts[r as usize] > 0)
            .collect();
        push_rows(&mut self.data.0.tagged, base, &tagged);
        if let Some(counts) = self.data.0.tag_counts.as_mut() {
            counts.resize(base as usize, 0);
            counts.extend_from_slice(&batch.tag_counts);
        }
    }

    /// Makes room for `additional` more rows, so that loading them does not grow the
    /// identity map and the columns step by step. Changes no contact; room that memory
    /// cannot give is skipped (it is only a hint).
    pub fn reserve(&mut self, additional: usize) {
        self.reserve_rows(additional);
        self.data.0.avatars.reserve(additional, 0);
        for column in &mut self.data.0.times {
            column.reserve(additional);
        }
        for column in &mut self.data.0.texts {
            column.reserve(additional);
        }
    }

    /// Makes room for `additional` new rows (none: nothing is read, not even the identity
    /// map, which an update of stored rows never needs).
    fn reserve_rows(&mut self, additional: usize) {
        if additional == 0 {
            return;
        }
        let _ = self.data.0.row_account.try_reserve(additional);
        self.data.0.external_ids.reserve(additional, 24);
        self.data.0.names.reserve(additional, 12);
        let (identity, accounts, ids) = self.identity_parts();
        identity.reserve(additional, accounts, ids);
    }

    /// Allocates a row for a new identity and indexes the identity.
    fn create_row(&mut self, contact: &Contact) -> u32 {
        let row = self.row_count();
        let key = account_key(contact.channel, &contact.account);
        let account = self.data.0.accounts.intern(&key, 0);
        self.data.0.row_account.push(account);
        self.data.0.rows = row + 1;
        self.data.0.external_ids.set(row, &contact.external_id);
        let (identity, accounts, ids) = self.identity_parts();
        identity.insert(row, accounts, ids);
        self.data.0.accounts.rows_mut(account).insert(row);
        self.data.0.channels[contact.channel.index()].insert(row);
        self.data.0.live.insert(row);
        row
    }

    /// Sets the name of `row`, keeping the name index exact if it is built (an index not
    /// built yet will be built from the names as they are then).
    fn write_name(&mut self, row: u32, old: Option<&str>, new: &str) {
        let index = self.data.0.name_index.get_mut();
        if let (Some(index), Some(old)) = (index, old) {
            index.remove(&fold(old), row);
        }
        self.data.0.names.set(row, new);
        if let Some(index) = self.data.0.name_index.get_mut() {
            let names = &self.data.0.names;
            index.insert(&fold(new), row, |r| fold(names.get(r)));
        }
    }

    /// Writes the non-identity fields of `row` whose value differs from `old` (all of
    /// them for a new row), updating only the indexes that change. Fields written later
    /// (`old`'s second half, [`Store::write_later`]) are left alone.
    fn write_fields(
        &mut self,
        row: u32,
        old: Option<(&Contact, FieldSet)>,
        new: &Contact,
        now: Seconds,
    ) {
        let later = old.map_or(FieldSet::default(), |(_, later)| later);
        let old = old.map(|(contact, _)| contact);
        let fresh = old.is_none();
        let differs = |same: &dyn Fn(&Contact) -> bool| old.is_none_or(|o| !same(o));
        if !later.contains(Field::Name) && differs(&|o| o.name == new.name) {
            self.write_name(row, old.map(|o| o.name.as_str()), &new.name);
        }
        if differs(&|o| o.avatar_url == new.avatar_url) {
            self.data.0.avatars.set(row, &new.avatar_url);
        }
        // Tags the change does not touch (or that an upsert did not read) stay as they are.
        if differs(&|o| o.tags == new.tags) {
            self.write_tags(row, old.map_or(&[][..], |o| &o.tags), &new.tags, now);
        }
        if differs(&|o| o.flags == new.flags) {
            for flag in Flag::ALL {
                set_bit(
                    fresh,
                    &mut self.data.0.flags[flag.index()],
                    row,
                    new.flag(*flag),
                );
            }
        }
        if differs(&|o| o.opt_outs == new.opt_outs) {
            for kind in OptOutKind::ALL {
                let on = new.opt_outs.contains(*kind);
                set_bit(fresh, &mut self.data.0.opt_outs[kind.index()], row, on);
            }
        }
        if differs(&|o| o.fb_frequency == new.fb_frequency) {
            for frequency in FbFrequency::ALL {
                let on = new.fb_frequency == Some(*frequency);
                set_bit(
                    fresh,
                    &mut self.data.0.frequencies[frequency.index()],
                    row,
                    on,
                );
            }
        }
        for field in TimeField::ALL {
            let value = new.time(*field);
            let kept = later.iter().any(|f| f.kind() == FieldKind::Time(*field));
            if !kept && differs(&|o| o.time(*field) == value) {
                self.data.0.times[field.index()].set(row, value);
                let present = &mut self.data.0.time_present[field.index()];
                set_bit(fresh, present, row, value.is_some());
            }
        }
        for field in TextField::ALL {
            if differs(&|o| o.text(*field) == new.text(*field)) {
                self.data.0.texts[field.index()].set(row, new.text(*field));
            }
        }
    }

    fn write_tags(&mut self, row: u32, old: &[String], new: &[String], now: Seconds) {
        for tag in old.iter().filter(|t| !new.contains(t)) {
            if let Some(code) = self.data.tags.code(tag) {
                self.data.0.tags.rows_mut(code).remove(row);
            }
        }
        for tag in new.iter().filter(|t| !old.contains(t)) {
            let code = self.data.0.tags.intern(tag, now);
            self.data.0.tags.rows_mut(code).insert(row);
        }
        let count = u16::try_from(new.len()).unwrap_or(u16::MAX);
        self.set_tag_count(row, count);
        set_bit(old.is_empty(), &mut self.data.0.tagged, row, count > 0);
    }

    /// Adds `tag` to `added`: live rows that did not carry it, as checked (in a
    /// [`Store::loose`] replay without tag counts, every live row named).
    fn add_tag(&mut self, tag: &str, added: RoaringBitmap, now: Seconds) -> Applied {
        let code = self.data.0.tags.intern(tag, now);
        if let Some(counts) = self.data.0.tag_counts.as_mut() {
            for row in &added {
                counts[row as usize] = counts[row as usize].saturating_add(1);
            }
        }
        rowset::add(&mut self.data.0.tagged, &added);
        rowset::add(self.data.0.tags.rows_mut(code), &added);
        changed_rows(added)
    }

    /// Removes `tag` from `removed`: rows that carried it, as checked (in a
    /// [`Store::loose`] replay without tag counts, every row named).
    fn remove_tag(&mut self, tag: &str, removed: RoaringBitmap) -> Applied {
        let Some(code) = self.data.tags.code(tag) else {
            return Applied::default();
        };
        rowset::remove(self.data.0.tags.rows_mut(code), &removed);
        self.untag_rows(&removed);
        changed_rows(removed)
    }

    /// Keeps `tagged` exact after one tag went away from each of `rows`: by the counts
    /// when tags are counted, else by looking for another tag of each row.
    fn untag_rows(&mut self, rows: &RoaringBitmap) {
        match self.data.0.tag_counts.as_mut() {
            Some(counts) => {
                for row in rows {
                    let count = &mut counts[row as usize];
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        self.data.0.tagged.remove(row);
                    }
                }
            }
            None => match self.data.0.replay.as_mut() {
                Some(untagged) => *untagged |= rows,
                None => {
                    let bare: Vec<u32> = rows.iter().filter(|&r| !self.has_any_tag(r)).collect();
                    for row in bare {
                        self.data.0.tagged.remove(row);
                    }
                }
            },
        }
    }

    /// Starts replaying a log (opening a directory, or catching up with another writer).
    /// Until [`Store::end_replay`], a time column not read yet keeps the writes of events
    /// and stamps until it is read (a command that opens a directory to count a tag never
    /// decodes one), and the rows that lose a tag are looked at once, at the end, instead
    /// of one by one. What a write returns counts the rows it may have changed.
    pub fn begin_replay(&mut self) {
        self.data.0.replay = Some(RoaringBitmap::new());
    }

    /// Ends a replay: the rows that lost a tag and carry no other leave `tagged`.
    pub fn end_replay(&mut self) {
        let Some(untagged) = self.data.0.replay.take() else {
            return;
        };
        if untagged.is_empty() {
            return;
        }
        let entries = self.data.tags.entries();
        let still: RoaringBitmap = (entries.iter())
            .map(|e| rowset::and(&e.rows, &untagged))
            .fold(RoaringBitmap::new(), |all, rows| all | rows);
        rowset::remove(&mut self.data.0.tagged, &untagged);
        rowset::add(&mut self.data.0.tagged, &still);
    }

    /// Whether a write may name more rows than it changed: a replay's writes, which no
    /// one reads back, skip the tests that would tell which of their rows changed (a tag
    /// added or removed without tag counts; opt-outs, blocking and event times).
    fn loose(&self) -> bool {
        self.data.replay.is_some()
    }

    /// Whether a write to time `field` waits until the column is read (a replay).
    fn defers_time(&self, field: TimeField) -> bool {
        self.data.replay.is_some() && !self.data.times[field.index()].is_loaded()
    }

    /// The fields of `fields` whose writes wait until their column is read (a replay):
    /// names and times not read yet. An upsert neither reads nor compares them.
    fn deferred(&self, fields: FieldSet) -> FieldSet {
        let waits = |field: &Field| match field.kind() {
            FieldKind::Name => !self.data.names.is_loaded(),
            FieldKind::Time(time) => self.defers_time(time),
            _ => false,
        };
        match self.data.replay {
            Some(_) => fields.iter().filter(waits).collect(),
            None => FieldSet::default(),
        }
    }

    /// Keeps the writes of `fields` of `row` (as `new` has them) for when their columns
    /// are read ([`Store::deferred`]).
    fn write_later(&mut self, row: u32, fields: FieldSet, new: &Contact) {
        for field in fields.iter() {
            match field.kind() {
                FieldKind::Name => {
                    let name = new.name.clone();
                    self.data
                        .0
                        .names
                        .write_later(move |names| names.set(row, &name));
                }
                FieldKind::Time(time) => {
                    let value = new.time(time);
                    let i = time.index();
                    self.data.0.times[i].write_later(move |column| column.set(row, value));
                    (self.data.0.time_present[i])
                        .write_later(move |present| set_bit(false, present, row, value.is_some()));
                }
                _ => {}
            }
        }
    }

    /// Deletes `tags`, which `touched` (as checked) carry.
    fn delete_tags(&mut self, tags: &[String], touched: &RoaringBitmap) -> Applied {
        let doomed: HashSet<&str> = tags.iter().map(String::as_str).collect();
        let entries: Vec<RoaringBitmap> = (self.data.tags.entries().iter())
            .filter(|e| doomed.contains(&*e.name))
            .map(|e| (*e.rows).clone())
            .collect();
        self.data.0.tags.remove_where(|e| doomed.contains(&*e.name));
        match self.data.tag_counts {
            Some(_) => entries.iter().for_each(|rows| self.untag_rows(rows)),
            None => self.untag_rows(touched),
        }
        Applied {
            changed: touched.len(),
            rows: touched.clone(),
            ..Applied::default()
        }
    }

    fn set_opt_outs(&mut self, rows: &RoaringBitmap, kinds: OptOuts, on: bool) -> Applied {
        let rows = rowset::and(rows, &self.data.live);
        let exact = !self.loose();
        let mut changed = RoaringBitmap::new();
        for kind in kinds.iter() {
            let bitmap = &mut self.data.0.opt_outs[kind.index()];
            if on {
                if exact {
                    changed |= rowset::minus(&rows, bitmap);
                }
                rowset::add(bitmap, &rows);
            } else {
                if exact {
                    changed |= rowset::and(&rows, bitmap);
                }
                rowset::remove(bitmap, &rows);
            }
        }
        changed_rows(if exact { changed } else { rows })
    }

    fn record_event(&mut self, event: Event, rows: &RoaringBitmap) -> Applied {
        let rows = rowset::and(rows, &self.data.live);
        let exact = !self.loose();
        let mut changed = match event.kind.time_field() {
            Some(field) => self.move_forward(field, event.at, &rows),
            None => RoaringBitmap::new(),
        };
        let blocked = &mut self.data.0.flags[Flag::Blocked.index()];
        match event.kind {
            EventKind::Subscribe => {
                if exact {
                    changed |= rowset::and(&rows, blocked);
                }
                rowset::remove(blocked, &rows);
            }
            EventKind::Block => {
                if exact {
                    changed |= rowset::minus(&rows, blocked);
                }
                rowset::add(blocked, &rows);
            }
            _ => {}
        }
        changed_rows(if exact { changed } else { rows })
    }

    /// Moves time `field` of `rows` forward to `at`; the rows whose time changed (none
    /// while a replay keeps the writes for later: its writes are [`Store::loose`]).
    fn move_forward(
        &mut self,
        field: TimeField,
        at: Seconds,
        rows: &RoaringBitmap,
    ) -> RoaringBitmap {
        let i = field.index();
        if self.defers_time(field) {
            self.set_times_later(field, rows, move |stored| moved_forward(stored, at));
            return RoaringBitmap::new();
        }
        let mut changed = RoaringBitmap::new();
        for row in rows {
            let stored = self.data.times[i].get(row);
            let next = moved_forward(stored, at);
            if stored != Some(next) {
                self.data.0.times[i].set(row, Some(next));
                self.data.0.time_present[i].insert(row);
                changed.insert(row);
            }
        }
        changed
    }

    /// Keeps for when time `field` is read (a replay): each of `rows` gets `next` of its
    /// stored time.
    fn set_times_later(
        &mut self,
        field: TimeField,
        rows: &RoaringBitmap,
        next: impl Fn(Option<Seconds>) -> Seconds + Send + Sync + 'static,
    ) {
        let later: Arc<[u32]> = rows.iter().collect();
        let present = Arc::clone(&later);
        (self.data.0.time_present[field.index()])
            .write_later(move |all| present.iter().for_each(|&row| _ = all.insert(row)));
        self.data.0.times[field.index()].write_later(move |column| {
            for &row in later.iter() {
                column.set(row, Some(next(column.get(row))));
            }
        });
    }

    fn stamp(&mut self, field: TimeField, at: Seconds, rows: &RoaringBitmap) -> Applied {
        let rows = rowset::and(rows, &self.data.live);
        if self.defers_time(field) {
            self.set_times_later(field, &rows, move |_| at);
            return changed_rows(rows);
        }
        let column = &mut self.data.0.times[field.index()];
        let mut changed = RoaringBitmap::new();
        for row in &rows {
            if column.get(row) != Some(at) {
                column.set(row, Some(at));
                changed.insert(row);
            }
        }
        rowset::add(&mut self.data.0.time_present[field.index()], &rows);
        changed_rows(changed)
    }

    /// Refuses a batch whose identities are stored already or repeat within it, reading only.
    fn check_new_identities(&self, batch: &RowBatch) -> Result<(), ChangeError> {
        let base = self.row_count();
        let mut seen: hashbrown::HashMap<(&str, &str), u32> =
            hashbrown::HashMap::with_capacity(batch.len());
        let mut repeated = Vec::new();
        for row in 0..batch.len() as u32 {
            let account = &batch.accounts.names[batch.row_account[row as usize] as usize];
            let id = batch.external_ids.get(row);
            let (channel, account_id) = super::split_account_key(account);
            if let Some(held) = self.find(channel, account_id, id) {
                repeated.push((row, held));
            } else if let Some(&first) = seen.get(&(&**account, id)) {
                repeated.push((row, base + first));
            } else {
                seen.insert((account, id), row);
            }
        }
        if repeated.is_empty() {
            Ok(())
        } else {
            Err(ChangeError::Repeated(repeated))
        }
    }

    fn delete(&mut self, rows: &RoaringBitmap) -> Applied {
        let rows = rowset::and(rows, &self.data.live);
        let contacts = self.contacts(&rows);
        let mut erased = Vec::with_capacity(contacts.len());
        for (row, contact) in rows.iter().zip(contacts) {
            let blank = Contact::new(contact.channel, &contact.account, &contact.external_id);
            self.write_fields(row, Some((&contact, FieldSet::default())), &blank, 0);
            // The blank name is indexed like any other; an erased row leaves the index.
            if let Some(index) = self.data.0.name_index.get_mut() {
                index.remove("", row);
            }
            let (identity, accounts, ids) = self.identity_parts();
            identity.remove(row, accounts, ids);
            self.data.0.external_ids.set(row, "");
            let account = self.data.row_account[row as usize];
            self.data.0.accounts.rows_mut(account).remove(row);
            self.data.0.channels[contact.channel.index()].remove(row);
            self.data.0.live.remove(row);
            erased.push((contact.channel, contact.account, contact.external_id));
        }
        Applied {
            changed: erased.len() as u64,
            created: 0,
            erased,
            erased_rows: rows,
            ..Applied::default()
        }
    }

    /// The identity map and the columns it reads, for changing it.
    fn identity_parts(&mut self) -> (&mut IdentityMap, &[u32], &StrColumn) {
        self.identity();
        let map = lazy_mut(&mut self.data.0.identity);
        (map, &self.data.0.row_account, &self.data.0.external_ids)
    }

    /// Records how many tags `row` carries, if tags are counted.
    fn set_tag_count(&mut self, row: u32, count: u16) {
        if let Some(counts) = self.data.0.tag_counts.as_mut() {
            if counts.len() <= row as usize {
                counts.resize(row as usize + 1, 0);
            }
            counts[row as usize] = count;
        }
    }
}

fn check_unique(contacts: &[Contact]) -> Result<(), ChangeError> {
    let mut seen = hashbrown::HashMap::with_capacity(contacts.len());
    for (index, c) in contacts.iter().enumerate() {
        let key = (c.channel, c.account.as_str(), c.external_id.as_str());
        if let Some(first) = seen.insert(key, index) {
            return Err(ChangeError::Duplicate {
                first,
                second: index,
            });
        }
    }
    Ok(())
}

/// The value of a cell already initialized by the caller.
fn lazy_mut<T>(cell: &mut OnceLock<T>) -> &mut T {
    match cell.get_mut() {
        Some(value) => value,
        None => unreachable!("the caller initializes the cell first"),
    }
}

#[cfg(test)]
mod tests {
    use super::Sealed;

    /// Names `check` once for any type, and once more for a type with `DerefMut`: for such
    /// a type `<T as NoMutableAccess<_>>::check` is ambiguous, a compile error.
    trait NoMutableAccess<Which> {
        fn check() {}
    }
    impl<T: ?Sized> NoMutableAccess<()> for T {}
    struct WithDerefMut;
    impl<T: ?Sized + std::ops::DerefMut> NoMutableAccess<WithDerefMut> for T {}
    struct WithAsMut;
    impl<T: ?Sized + AsMut<crate::store::Data>> NoMutableAccess<WithAsMut> for T {}
    struct WithBorrowMut;
    impl<T: ?Sized + std::borrow::BorrowMut<crate::store::Data>> NoMutableAccess<WithBorrowMut> for T {}

    /// Outside this file a store's data has no way to a `&mut`: `Sealed` implements none
    /// of `DerefMut`, `AsMut`, `BorrowMut` (else this would not compile), and its field is
    /// private here. (A `compile_fail` doc test cannot show it: doc tests see only the
    /// crate's public items, where every field of `Store` is private anyway.)
    #[test]
    fn sealed_data_gives_no_mutable_access() {
        <Sealed<crate::store::Data> as NoMutableAccess<_>>::check();
    }
}
