//! [`Scope`]: the contacts a caller may reach — those of some accounts that match some
//! segments — and [`Reach`], a scope resolved against one state. Every read and change
//! made for a scoped caller goes through a `Reach`: a segment is compiled as `scope AND
//! segment` ([`super::View::compile_in`]), and an edit is resolved with its rows cut to
//! the scope and any named contact outside it refused (`Edit::resolve`), so no path can
//! forget the check.
//!
//! A refusal says only what the caller asked for, never whether a contact outside the
//! scope exists: "outside" and "unknown" read the same to a scoped caller.

use std::collections::BTreeSet;

use roaring::RoaringBitmap;

use super::compile::Compiler;
use super::identity::Identity;
use crate::csv::StagedOutcome;
use crate::error::Error;
use crate::model::Contact;
use crate::plan::{self, Clock, Leaf, Plan};
use crate::store::{Change, Store};

/// The contacts a caller may reach: those of `accounts` (every account when `None`) that
/// match every one of `segments`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Account ids (as `account:` names them); `None`: every account.
    pub accounts: Option<BTreeSet<String>>,
    /// Segment texts every reached contact matches (all of them).
    pub segments: Vec<String>,
}

impl Scope {
    /// Every contact.
    pub fn everything() -> Scope {
        Scope::default()
    }

    /// Whether this scope reaches every contact.
    pub fn is_everything(&self) -> bool {
        self.accounts.is_none() && self.segments.is_empty()
    }

    /// This scope narrowed by `accounts` (`None` or `*`: no narrowing) and `segment`: it
    /// never widens.
    pub fn narrowed(&self, accounts: Option<&[String]>, segment: Option<&str>) -> Scope {
        let mut out = self.clone();
        if let Some(given) = accounts.filter(|a| !a.iter().any(|a| a == "*")) {
            let given: BTreeSet<String> = given.iter().cloned().collect();
            out.accounts = Some(match &self.accounts {
                Some(mine) => mine.intersection(&given).cloned().collect(),
                None => given,
            });
        }
        if let Some(segment) = segment.filter(|s| !s.trim().is_empty()) {
            out.segments.push(segment.to_string());
        }
        out
    }

    /// Whether the scope's accounts include `account`.
    pub fn reaches_account(&self, account: &str) -> bool {
        self.accounts.as_ref().is_none_or(|a| a.contains(account))
    }
}

/// A scope resolved against one state: its plan, and the store it runs on.
pub(super) struct Reach<'s> {
    scope: &'s Scope,
    plan: Option<Plan>,
    store: &'s Store,
}

impl<'s> Reach<'s> {
    /// Lowers the scope's accounts and segments at `clock` (`None` for every contact).
    pub(super) fn new(
        scope: &'s Scope,
        compiler: &Compiler<'s>,
        clock: Clock,
    ) -> Result<Reach<'s>, Error> {
        let plan = scope_plan(scope, compiler, clock)?;
        Ok(Reach {
            scope,
            plan,
            store: compiler.store,
        })
    }

    /// The scope as a plan, if it narrows anything.
    pub(super) fn plan(&self) -> Option<&Plan> {
        self.plan.as_ref()
    }

    /// The rows of `rows` the scope reaches (live ones).
    pub(super) fn restrict(&self, rows: RoaringBitmap) -> RoaringBitmap {
        match &self.plan {
            None => rows,
            Some(plan) => crate::exec::execute_within(plan, self.store, &rows),
        }
    }

    /// The row of a contact the scope reaches; a contact outside it, stored or not, is
    /// refused alike.
    pub(super) fn contact(&self, id: &Identity) -> Result<u32, Error> {
        let row = self.store.find(id.channel, &id.account, &id.external_id);
        let reached = row.filter(|&r| self.restrict(RoaringBitmap::from_iter([r])).contains(r));
        match (row, reached) {
            (_, Some(row)) => Ok(row),
            (None, None) if self.plan.is_none() => Err(Error::UnknownContact(id.to_string())),
            _ => Err(self.refusal(id)),
        }
    }

    /// Refuses upserted contacts the scope does not reach: a stored one must be reached
    /// now; a new one must be of a reached account, and only a scope without segments
    /// may create contacts (whether a new one would match them is not known until it
    /// exists).
    pub(super) fn check_upserts(&self, contacts: &[Contact]) -> Result<(), Error> {
        if self.plan.is_none() {
            return Ok(());
        }
        for contact in contacts {
            let id = Identity::new(contact.channel, &contact.account, &contact.external_id);
            let stored = self.store.find(id.channel, &id.account, &id.external_id);
            match stored {
                Some(_) => {
                    self.contact(&id)?;
                }
                None if self.scope.segments.is_empty()
                    && self.scope.reaches_account(&id.account) => {}
                None => return Err(self.refusal(&id)),
            }
        }
        Ok(())
    }

    /// Refuses contacts of accounts outside the scope (`account` for each), and any
    /// new contact at all when the scope has segments.
    pub(super) fn check_accounts<'a>(
        &self,
        mut accounts: impl Iterator<Item = &'a str>,
    ) -> Result<(), Error> {
        if self.plan.is_none() {
            return Ok(());
        }
        if !self.scope.segments.is_empty() {
            return Err(Error::Forbidden(
                "a key confined to a segment cannot create contacts".into(),
            ));
        }
        match accounts.find(|a| !self.scope.reaches_account(a)) {
            Some(account) => Err(Error::Forbidden(format!(
                "this key does not reach account '{account}'"
            ))),
            None => Ok(()),
        }
    }

    /// Whether the scope's accounts include `account`.
    pub(super) fn reaches_account(&self, account: &str) -> bool {
        self.scope.reaches_account(account)
    }

    /// Refuses an import holding a contact the scope does not reach.
    pub(super) fn check_import(&self, outcome: &StagedOutcome) -> Result<(), Error> {
        match outcome {
            StagedOutcome::Replace(store) => self.check_accounts(store.accounts().map(|a| a.id)),
            StagedOutcome::Changes(changes) => changes.iter().try_for_each(|change| match change {
                Change::Upsert { contacts, .. } | Change::Update { contacts, .. } => {
                    self.check_upserts(contacts)
                }
                Change::Append { batch } => self.check_accounts(batch.account_ids()),
                _ => Ok(()),
            }),
        }
    }

    fn refusal(&self, id: &Identity) -> Error {
        match self.scope.reaches_account(&id.account) {
            false => Error::Forbidden(format!("this key does not reach account '{}'", id.account)),
            true => Error::Forbidden(format!("this key does not reach the contact {id}")),
        }
    }
}

/// The plan of a scope: its accounts' OR, AND each segment (`None`: every contact).
fn scope_plan(scope: &Scope, compiler: &Compiler<'_>, clock: Clock) -> Result<Option<Plan>, Error> {
    if scope.is_everything() {
        return Ok(None);
    }
    let mut terms = Vec::new();
    if let Some(accounts) = &scope.accounts {
        let leaves = accounts
            .iter()
            .map(|a| Plan::Leaf(Leaf::Account(a.clone())));
        terms.push(Plan::Or(leaves.collect()));
    }
    for text in &scope.segments {
        terms.push(compiler.lower(text, clock)?.plan);
    }
    Ok(Some(plan::rules::optimize(Plan::And(terms))))
}
