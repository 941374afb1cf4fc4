//! Planning: [`Expr`](crate::syntax::Expr) → [`Plan`], a tree over the store's indexes.
//! `lower` resolves fields, aliases, values and times (`time_filter`: `[lo, hi)` seconds;
//! no I/O, a fixed `now`) into [`Leaf`] lookups; `rules/` simplify the tree; the plan's
//! `Display` is EXPLAIN, [`rules::optimize_steps`] (the plan after each rule) EXPLAIN
//! VERBOSE.
//!
//! `is:fb_sendable` is one leaf, [`Leaf::FbSendable`], holding the latest last send each
//! frequency allows, and `is:unsubscribed` is [`Leaf::Unsubscribed`]: the store answers
//! both from cached rows. [`fb_sendable_terms`] and [`unsubscribed_terms`] spell them out
//! as other terms, for SQL and tests. Saved segments are expanded in place; their texts
//! are parsed once each ([`ParsedSegments`], held by the engine's state and keyed by the
//! text, so a segment saved again is a new entry, never a stale one). Expanded, a plan
//! nests at most `MAX_PLAN_DEPTH` (512) levels, so no recursive walk of it goes deeper.

mod lower;
pub mod rules;
mod time_filter;

pub use lower::{FIELDS, Lowering, PRESENCE, ParsedSegments, STATES, SavedSegments, lower};
pub use time_filter::{Clock, TimeFilter, resolve as resolve_time_filter};

use std::fmt;

use crate::model::{
    Channel, FbFrequency, Flag, OptOutKind, Seconds, SendableAt, TextField, TimeField,
};

/// A set of contacts that one index lookup answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leaf {
    Channel(Channel),
    Account(String),
    Tag(String),
    Flag(Flag),
    OptOut(OptOutKind),
    Frequency(FbFrequency),
    /// Carries at least one tag.
    Tagged,
    TimePresent(TimeField),
    TextPresent(TextField),
    /// `lo <= t < hi` on a time field (a missing time never matches).
    TimeRange {
        field: TimeField,
        lo: Seconds,
        hi: Seconds,
    },
    /// The platform's user id, exactly (any account).
    ExternalId(String),
    /// Trimmed, lower-cased full name equality.
    Name(String),
    /// Text equality (emails ignoring case; phones normalized).
    Text(TextField, String),
    /// `is:fb_sendable` at a fixed now (data-model.md), answered from the opted-in
    /// Facebook rows in one pass; [`fb_sendable_terms`] spells it out as other leaves.
    FbSendable(SendableAt),
    /// Blocked or opted out of broadcasts (data-model.md), kept by the store;
    /// [`unsubscribed_terms`] spells it out.
    Unsubscribed,
}

/// A logical plan: set algebra over leaves. `All` is every live contact.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Plan {
    All,
    Nothing,
    Leaf(Leaf),
    Not(Box<Plan>),
    And(Vec<Plan>),
    Or(Vec<Plan>),
}

impl Plan {
    /// `NOT self`.
    pub fn negated(self) -> Plan {
        Plan::Not(Box::new(self))
    }

    /// What one node of the tree says, its children aside.
    pub fn label(&self) -> String {
        match self {
            Plan::All => "every contact".into(),
            Plan::Nothing => "nothing".into(),
            Plan::Leaf(leaf) => leaf.to_string(),
            Plan::Not(_) => "NOT".into(),
            Plan::And(_) => "AND".into(),
            Plan::Or(_) => "OR".into(),
        }
    }

    fn children(&self) -> &[Plan] {
        match self {
            Plan::Not(inner) => std::slice::from_ref(&**inner),
            Plan::And(children) | Plan::Or(children) => children,
            _ => &[],
        }
    }

    fn render(
        &self,
        prefix: &str,
        last: bool,
        root: bool,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result {
        let branch = match (root, last) {
            (true, _) => "",
            (false, true) => "└─ ",
            (false, false) => "├─ ",
        };
        writeln!(f, "{prefix}{branch}{}", self.label())?;
        let prefix = match (root, last) {
            (true, _) => String::new(),
            (false, true) => format!("{prefix}   "),
            (false, false) => format!("{prefix}│  "),
        };
        let children = self.children();
        for (i, child) in children.iter().enumerate() {
            child.render(&prefix, i + 1 == children.len(), false, f)?;
        }
        Ok(())
    }
}

/// The plan as a tree, one node per line (EXPLAIN without running anything).
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render("", true, true, f)
    }
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = |t: Seconds| match t {
            Seconds::MIN => "-∞".to_string(),
            Seconds::MAX => "+∞".to_string(),
            t => crate::model::time::format_rfc3339(t),
        };
        match self {
            Leaf::Channel(c) => write!(f, "channel = {c}"),
            Leaf::Account(a) => write!(f, "account = {a}"),
            Leaf::Tag(t) => write!(f, "tag = {t:?}"),
            Leaf::Flag(flag) => write!(f, "{flag}"),
            Leaf::OptOut(k) => write!(f, "opted out of {k}"),
            Leaf::Frequency(fr) => write!(f, "fb_frequency = {fr}"),
            Leaf::Tagged => write!(f, "has a tag"),
            Leaf::TimePresent(t) => write!(f, "has {t}"),
            Leaf::TextPresent(t) => write!(f, "has {t}"),
            Leaf::TimeRange { field, lo, hi } => {
                write!(f, "{field} in [{}, {})", time(*lo), time(*hi))
            }
            Leaf::ExternalId(id) => write!(f, "external_id = {id:?}"),
            Leaf::Name(n) => write!(f, "name ≈ {n:?}"),
            Leaf::Text(field, v) => write!(f, "{field} = {v:?}"),
            Leaf::FbSendable(at) => write!(f, "fb_sendable at {}", time(at.now)),
            Leaf::Unsubscribed => write!(f, "unsubscribed"),
        }
    }
}

/// `is:fb_sendable` as set algebra over other leaves: facebook ∧ fb_optin ∧ ¬(expires ≤
/// now) ∧ (no last send ∨ the frequency's period has passed). The SQL emitters write
/// this; the executor answers the leaf from the Facebook rows (and is tested against it).
pub fn fb_sendable_terms(at: SendableAt) -> Plan {
    let sent_by = |frequency: FbFrequency| {
        Plan::And(vec![
            Plan::Leaf(Leaf::Frequency(frequency)),
            Plan::Leaf(Leaf::TimeRange {
                field: TimeField::FbLastSentAt,
                lo: Seconds::MIN,
                hi: at.latest_send[frequency.index()].saturating_add(1),
            }),
        ])
    };
    let mut due = vec![Plan::Leaf(Leaf::TimePresent(TimeField::FbLastSentAt)).negated()];
    due.extend(FbFrequency::ALL.iter().map(|f| sent_by(*f)));
    Plan::And(vec![
        Plan::Leaf(Leaf::Channel(Channel::Facebook)),
        Plan::Leaf(Leaf::Flag(Flag::FbOptin)),
        Plan::Leaf(Leaf::TimeRange {
            field: TimeField::FbExpiresAt,
            lo: Seconds::MIN,
            hi: at.now.saturating_add(1),
        })
        .negated(),
        Plan::Or(due),
    ])
}

/// `is:unsubscribed` as other leaves: blocked ∨ opted out of broadcasts.
pub fn unsubscribed_terms() -> Plan {
    Plan::Or(vec![
        Plan::Leaf(Leaf::Flag(Flag::Blocked)),
        Plan::Leaf(Leaf::OptOut(OptOutKind::Broadcast)),
    ])
}
