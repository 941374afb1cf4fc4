//! [`Edit`]: a change as a caller asks for it — contacts named by identity or by a
//! segment — and its resolution, under the writer's lock, into the [`Record`] that is
//! logged and applied. Resolving names rows of the state it is applied to, so a change
//! never lands on contacts other than the ones its caller meant.

use roaring::RoaringBitmap;

use super::compile::Segment;
use super::identity::Identity;
use super::job::{BatchOutcome, Job, JobState};
use super::quota::Quota;
use super::record::Record;
use super::scope::Reach;
use super::state::State;
use crate::csv::{Staged, StagedOutcome};
use crate::error::Error;
use crate::model::{Channel, Contact, Event, FieldSet, OptOuts, Seconds};
use crate::store::Change;

/// The word a deletion must be confirmed with (data-model.md, "Delete").
pub const CONFIRM_WORD: &str = "DELETE";

/// The contacts a change is for.
#[derive(Clone, Debug)]
pub enum Target {
    /// Every contact the segment matches (at the segment's own `now`) when the change runs.
    Segment(Segment),
    /// One contact; a change naming an unknown contact is refused.
    Contact(Identity),
}

/// A change of the engine's state, as a caller asks for it.
#[derive(Debug)]
pub enum Edit {
    /// Creates contacts, or updates the `fields` of those that exist (like CSV rows).
    Upsert {
        contacts: Vec<Contact>,
        fields: FieldSet,
    },
    /// An event of one contact: moves its field forward only.
    Event { contact: Identity, event: Event },
    /// Adds tags (creating them if needed).
    AddTags { tags: Vec<String>, target: Target },
    /// Removes tags.
    RemoveTags { tags: Vec<String>, target: Target },
    /// Creates a tag no contact carries yet (nothing if it exists).
    CreateTag { tag: String },
    /// Deletes tags from every contact.
    DeleteTags { tags: Vec<String> },
    /// Adds opt-out kinds.
    Unsubscribe { target: Target, kinds: OptOuts },
    /// Clears opt-outs (blocking stays: only the contact can undo it).
    Resubscribe { target: Target },
    /// Erases contacts; `confirm` must be [`CONFIRM_WORD`].
    Delete { target: Target, confirm: String },
    /// Saves a segment under a name (refused if it does not compile or refers to itself).
    SaveSegment { name: String, text: String },
    /// Removes a saved segment.
    ForgetSegment { name: String },
    /// Sets any of a LINE account's quota figures; the others stay.
    SetQuota {
        account: String,
        plan: Option<u64>,
        purchased: Option<u64>,
        used: Option<u64>,
    },
    /// Starts a broadcast job (made by [`crate::broadcast::start`]).
    StartJob(Box<Job>),
    /// A batch's requests are about to go out through a sink without idempotency keys.
    BatchIntent { job: String, batch: u32 },
    /// Batches found in flight after a crash, now uncertain.
    BatchesUncertain { job: String, batches: Vec<u32> },
    /// A batch was sent: its outcome, with the books it implies.
    BatchDone {
        job: String,
        batch: u32,
        outcome: Box<BatchOutcome>,
    },
    /// Ends a job.
    EndJob { job: String, state: JobState },
    /// Commits a CSV import staged by [`crate::csv::stage`] against the state whose
    /// sequence number was `base` ([`super::View::seq`]); refused if the state moved since.
    Import { staged: Staged, base: u64 },
}

/// What resolving an edit gives: a record to log, or a whole new store to checkpoint.
pub(super) enum Resolved {
    Record(Record),
    Replace(Box<crate::store::Store>),
}

impl Edit {
    /// Whether the edit removes tags from contacts.
    pub(super) fn removes_tags(&self) -> bool {
        matches!(self, Edit::RemoveTags { .. } | Edit::DeleteTags { .. })
    }

    /// Whether resolving the edit looks contacts up by identity.
    pub(super) fn names_contacts(&self) -> bool {
        let named = |target: &Target| matches!(target, Target::Contact(_));
        match self {
            Edit::Upsert { .. } | Edit::Event { .. } => true,
            Edit::AddTags { target, .. }
            | Edit::RemoveTags { target, .. }
            | Edit::Unsubscribe { target, .. }
            | Edit::Resubscribe { target }
            | Edit::Delete { target, .. } => named(target),
            _ => false,
        }
    }

    /// Resolves the edit against `state` at time `now`, within `reach`: the rows of a
    /// segment are cut to it, and a contact or account outside it is refused.
    pub(super) fn resolve(
        self,
        state: &State,
        now: Seconds,
        reach: &Reach<'_>,
    ) -> Result<Resolved, Error> {
        let store = |changes: Vec<Change>| Ok(Resolved::Record(Record::Store { changes, now }));
        let rows = |target: &Target| rows_of(state, target, reach);
        match self {
            Edit::Upsert { contacts, fields } => {
                reach.check_upserts(&contacts)?;
                let rows = state.store.rows_of(&contacts);
                store(Change::resolved_upsert(contacts, rows, fields))
            }
            Edit::Event { contact, event } => {
                let rows = rows(&Target::Contact(contact))?;
                store(vec![Change::Event { event, rows }])
            }
            Edit::AddTags { tags, target } => {
                let rows = rows(&target)?;
                let add = |tag: String| Change::AddTag {
                    tag: tag.trim().to_string(),
                    rows: rows.clone(),
                };
                store(tags.into_iter().map(add).collect())
            }
            Edit::RemoveTags { tags, target } => {
                let rows = rows(&target)?;
                let remove = |tag: String| Change::RemoveTag {
                    tag: tag.trim().to_string(),
                    rows: rows.clone(),
                };
                store(tags.into_iter().map(remove).collect())
            }
            Edit::CreateTag { tag } => store(vec![Change::CreateTag {
                tag: tag.trim().to_string(),
            }]),
            // Tags are shared names: a scoped caller takes them off its own contacts only.
            Edit::DeleteTags { tags } if reach.plan().is_some() => {
                let rows = reach.restrict(state.store.live().clone());
                let remove = |tag| Change::RemoveTag {
                    tag,
                    rows: rows.clone(),
                };
                store(tags.into_iter().map(remove).collect())
            }
            Edit::DeleteTags { tags } => store(vec![Change::DeleteTags { tags }]),
            Edit::Unsubscribe { target, kinds } => store(vec![Change::Unsubscribe {
                rows: rows(&target)?,
                kinds,
            }]),
            Edit::Resubscribe { target } => store(vec![Change::Resubscribe {
                rows: rows(&target)?,
            }]),
            Edit::Delete { target, confirm } => {
                if confirm != CONFIRM_WORD {
                    return Err(Error::Conflict(format!(
                        "a deletion needs the confirmation word {CONFIRM_WORD} (upper case); nothing was deleted"
                    )));
                }
                store(vec![Change::Delete {
                    rows: rows(&target)?,
                }])
            }
            Edit::SaveSegment { name, text } => {
                Ok(Resolved::Record(Record::SaveSegment { name, text }))
            }
            Edit::ForgetSegment { name } => {
                if !state.saved.contains_key(&name) {
                    return Err(Error::NotFound(format!(
                        "there is no saved segment @{name}"
                    )));
                }
                Ok(Resolved::Record(Record::ForgetSegment { name }))
            }
            Edit::SetQuota {
                account,
                plan,
                purchased,
                used,
            } => {
                if !reach.reaches_account(&account) {
                    return Err(Error::Forbidden(format!(
                        "this key does not reach account '{account}'"
                    )));
                }
                check_line_account(state, &account)?;
                let old = state.quotas.get(&account).copied().unwrap_or_default();
                let quota = Quota {
                    plan: plan.unwrap_or(old.plan),
                    purchased: purchased.unwrap_or(old.purchased),
                    used: used.unwrap_or(old.used),
                };
                Ok(Resolved::Record(Record::SetQuota { account, quota }))
            }
            Edit::StartJob(job) => Ok(Resolved::Record(Record::JobStart { job })),
            Edit::BatchIntent { job, batch } => {
                Ok(Resolved::Record(Record::BatchIntent { job, batch }))
            }
            Edit::BatchesUncertain { job, batches } => {
                Ok(Resolved::Record(Record::BatchesUncertain { job, batches }))
            }
            Edit::BatchDone {
                job,
                batch,
                outcome,
            } => Ok(Resolved::Record(Record::BatchDone {
                job,
                batch,
                outcome,
            })),
            Edit::EndJob { job, state } => Ok(Resolved::Record(Record::JobEnd { job, state })),
            Edit::Import { staged, base } => {
                if base != state.seq {
                    return Err(Error::Conflict(
                        "the contacts changed while the file was being read: import it again"
                            .into(),
                    ));
                }
                reach.check_import(&staged.outcome)?;
                match staged.outcome {
                    StagedOutcome::Replace(store) => Ok(Resolved::Replace(store)),
                    StagedOutcome::Changes(changes) => {
                        Ok(Resolved::Record(Record::Store { changes, now }))
                    }
                }
            }
        }
    }
}

/// The rows a target names now, within `reach`.
fn rows_of(state: &State, target: &Target, reach: &Reach<'_>) -> Result<RoaringBitmap, Error> {
    match target {
        Target::Segment(segment) => {
            Ok(reach.restrict(crate::exec::execute(&segment.plan, &state.store)))
        }
        Target::Contact(id) => reach.contact(id).map(|r| RoaringBitmap::from_iter([r])),
    }
}

/// Refuses an account that is not one of the store's LINE accounts.
fn check_line_account(state: &State, account: &str) -> Result<(), Error> {
    let line: Vec<&str> = (state.store.accounts())
        .filter(|a| a.channel == Channel::Line)
        .map(|a| a.id)
        .collect();
    if line.contains(&account) {
        return Ok(());
    }
    // Another channel's account is a malformed request; no such account, nothing found.
    let other = state.store.accounts().find(|a| a.id == account);
    let (why, error): (String, fn(String) -> Error) = match other {
        Some(a) => (
            format!(
                "'{account}' is a {} account, and quotas are LINE's",
                a.channel
            ),
            Error::Usage,
        ),
        None => (
            format!("there is no LINE account '{account}'"),
            Error::NotFound,
        ),
    };
    let hint = match crate::suggest::closest(account, &line) {
        Some(near) => format!(": did you mean '{near}'?"),
        None if line.is_empty() => ": no LINE contacts are loaded yet".to_string(),
        None => format!(" (LINE accounts: {})", line.join(", ")),
    };
    Err(error(format!("{why}{hint}")))
}
