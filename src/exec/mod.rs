//! Execution: [`Plan`] → roaring bitmap of live rows, over the store's indexes.
//!
//! AND evaluates its cheapest (smallest estimated) positive child first, intersects the
//! others in ascending size and stops as soon as the result is empty; negated children
//! become differences (never a complement of every contact). A time range inside an AND
//! is checked only on the running result's rows: chunk by chunk, reading the few
//! candidates' values one by one or scanning a chunk that holds many
//! (`TimeColumn::filter`). `is:fb_sendable` is one pass over the opted-in Facebook rows
//! (`store::fb_rows`). Time-range scans are the parallel part.

mod explain;

pub use explain::{ExplainNode, explain_text};

use std::ops::Deref;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::plan::{Leaf, Plan};
use crate::store::Store;

/// The rows one evaluation gives: an index's own bitmap, one the store keeps derived
/// (shared, never copied to be read), or one made for this query.
enum Rows<'s> {
    Stored(&'s RoaringBitmap),
    Derived(Arc<RoaringBitmap>),
    Made(RoaringBitmap),
}

impl Deref for Rows<'_> {
    type Target = RoaringBitmap;

    fn deref(&self) -> &RoaringBitmap {
        match self {
            Rows::Stored(rows) => rows,
            Rows::Derived(rows) => rows,
            Rows::Made(rows) => rows,
        }
    }
}

impl Rows<'_> {
    fn into_owned(self) -> RoaringBitmap {
        match self {
            Rows::Stored(rows) => rows.clone(),
            Rows::Derived(rows) => Arc::unwrap_or_clone(rows),
            Rows::Made(rows) => rows,
        }
    }
}

/// The live rows matching `plan`.
pub fn execute(plan: &Plan, store: &Store) -> RoaringBitmap {
    eval(plan, store).into_owned()
}

/// How many live rows match `plan`.
pub fn count(plan: &Plan, store: &Store) -> u64 {
    match plan {
        Plan::And(children) if children.len() == 2 => {
            let (a, b) = (&children[0], &children[1]);
            match (a, b) {
                (Plan::Not(_), _) | (_, Plan::Not(_)) => eval(plan, store).len(),
                _ => eval(a, store).intersection_len(&eval(b, store)),
            }
        }
        _ => eval(plan, store).len(),
    }
}

fn eval<'s>(plan: &Plan, store: &'s Store) -> Rows<'s> {
    match plan {
        Plan::All => Rows::Stored(store.live()),
        Plan::Nothing => Rows::Made(RoaringBitmap::new()),
        Plan::Leaf(leaf) => lookup(leaf, store),
        Plan::Not(inner) => match &**inner {
            Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                Rows::Made(store.time_outside(*field, *lo, *hi))
            }
            other => Rows::Made(store.live() - &*eval(other, store)),
        },
        Plan::Or(children) => {
            let mut out = RoaringBitmap::new();
            for child in children {
                out |= &*eval(child, store);
            }
            Rows::Made(out)
        }
        Plan::And(children) => Rows::Made(and(children, store)),
    }
}

fn and(children: &[Plan], store: &Store) -> RoaringBitmap {
    let mut order: Vec<&Plan> = children.iter().collect();
    order.sort_by_cached_key(|p| (matches!(p, Plan::Not(_)), estimate(p, store)));
    let mut acc = match order.first() {
        Some(first) if !matches!(first, Plan::Not(_)) => eval(first, store).into_owned(),
        _ => return within(store.live(), children, store),
    };
    for child in order.iter().skip(1) {
        if acc.is_empty() {
            break;
        }
        acc = restrict(child, &acc, store);
    }
    acc
}

fn within(context: &RoaringBitmap, children: &[Plan], store: &Store) -> RoaringBitmap {
    let mut acc = context.clone();
    for child in children {
        if acc.is_empty() {
            break;
        }
        acc = restrict(child, &acc, store);
    }
    acc
}

/// `plan ∩ context`, evaluated knowing the context: OR, AND and NOT pass it down to their
/// children (so nothing is computed over rows outside it), and time ranges read only
/// the chunks of their column that hold a row of it.
fn restrict(plan: &Plan, context: &RoaringBitmap, store: &Store) -> RoaringBitmap {
    match plan {
        Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
            store.time_filter(*field, context, *lo, *hi)
        }
        Plan::Leaf(Leaf::FbSendable(at)) => store.fb_sendable_among(*at, context),
        Plan::Or(children) => {
            let mut out = RoaringBitmap::new();
            for child in children {
                out |= restrict(child, context, store);
            }
            out
        }
        Plan::And(children) => within(context, children, store),
        Plan::Not(inner) => context - restrict(inner, context, store),
        other => context & &*eval(other, store),
    }
}

/// The rows of one index lookup.
fn lookup<'s>(leaf: &Leaf, store: &'s Store) -> Rows<'s> {
    let empty = || Rows::Made(RoaringBitmap::new());
    match leaf {
        Leaf::Channel(c) => Rows::Stored(store.channel(*c)),
        Leaf::Account(id) => Rows::Made(store.account(id)),
        Leaf::Tag(tag) => store.tag(tag).map_or_else(empty, Rows::Stored),
        Leaf::Flag(flag) => Rows::Stored(store.flag(*flag)),
        Leaf::OptOut(kind) => Rows::Stored(store.opt_out(*kind)),
        Leaf::Frequency(f) => Rows::Stored(store.frequency(*f)),
        Leaf::Tagged => Rows::Stored(store.tagged()),
        Leaf::TimePresent(field) => Rows::Stored(store.time_present(*field)),
        Leaf::TextPresent(field) => Rows::Stored(store.text_present(*field)),
        Leaf::TimeRange { field, lo, hi } => Rows::Made(store.time_range(*field, *lo, *hi)),
        Leaf::ExternalId(id) => Rows::Made(store.external_id_eq(id)),
        Leaf::Name(name) => Rows::Made(store.name_eq(name)),
        Leaf::Text(field, value) => Rows::Made(store.text_eq(*field, value)),
        Leaf::FbSendable(at) => Rows::Made(store.fb_sendable(*at)),
        Leaf::Unsubscribed => Rows::Derived(store.unsubscribed()),
    }
}

/// A cheap estimate of how many rows `plan` matches (exact for stored bitmaps).
pub fn estimate(plan: &Plan, store: &Store) -> u64 {
    let live = store.len();
    match plan {
        Plan::All => live,
        Plan::Nothing => 0,
        Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => store.time_estimate(*field, *lo, *hi),
        Plan::Leaf(Leaf::FbSendable(_)) => store.flag(crate::model::Flag::FbOptin).len(),
        Plan::Leaf(leaf) => lookup(leaf, store).len(),
        Plan::Not(inner) => live.saturating_sub(estimate(inner, store)),
        Plan::And(children) => children
            .iter()
            .map(|c| estimate(c, store))
            .min()
            .unwrap_or(live),
        Plan::Or(children) => children
            .iter()
            .map(|c| estimate(c, store))
            .sum::<u64>()
            .min(live),
    }
}
