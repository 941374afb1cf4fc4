//! Execution: [`Plan`] → roaring bitmap of live rows, over the store's indexes.
//!
//! An AND runs its children in the order the cost model (`cost.rs`, bytes touched per
//! row rejected) picks: a positive child first, answered alone, then each next child
//! only within the rows so far, stopping as soon as nothing is left; negated children
//! become differences (never a complement of every contact), a negated time range a
//! filter that keeps the rows outside it. A time range within running
//! rows reads only their chunks, gathering a few candidates one by one or scanning a
//! chunk that holds many (`TimeColumn::filter`); `is:fb_sendable` is one pass over the
//! opted-in Facebook rows (`store::fb_rows`). A count does not build the last step's
//! bitmap. Every step reports to a [`Trace`]: EXPLAIN ANALYZE (`explain.rs`) records
//! the strategy, estimate, cost, actual rows and time of each; a plain run ignores them.
//! Time-range scans are the parallel part.

mod cost;
mod explain;

pub use cost::{Costs, Strategy};
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

/// What the executor reports of each step it takes: EXPLAIN ANALYZE listens, a plain run
/// does not (and pays nothing).
pub(crate) trait Trace {
    /// A node starts, answered by `how`, alone (`within: None`) or within that many
    /// running rows.
    fn enter(&mut self, plan: &Plan, how: Strategy, within: Option<u64>, costs: &Costs<'_>);
    /// The node entered last is done with `rows`.
    fn leave(&mut self, rows: &RoaringBitmap);
}

/// The trace of a plain run.
struct Quiet;

impl Trace for Quiet {
    #[inline]
    fn enter(&mut self, _: &Plan, _: Strategy, _: Option<u64>, _: &Costs<'_>) {}
    #[inline]
    fn leave(&mut self, _: &RoaringBitmap) {}
}

/// The live rows matching `plan`.
pub fn execute(plan: &Plan, store: &Store) -> RoaringBitmap {
    Run::new(store, Quiet).eval(plan).into_owned()
}

/// How many live rows match `plan`.
pub fn count(plan: &Plan, store: &Store) -> u64 {
    let mut run = Run::new(store, Quiet);
    match plan {
        Plan::And(children) => run.count_and(children),
        _ => run.eval(plan).len(),
    }
}

/// One query's execution over a store, reporting to `trace`.
pub(crate) struct Run<'s, T> {
    store: &'s Store,
    costs: Costs<'s>,
    trace: T,
}

impl<'s, T: Trace> Run<'s, T> {
    pub(crate) fn new(store: &'s Store, trace: T) -> Run<'s, T> {
        Run {
            store,
            costs: Costs::new(store),
            trace,
        }
    }

    pub(crate) fn into_trace(self) -> T {
        self.trace
    }

    /// The rows of `plan`, answered on its own.
    fn eval(&mut self, plan: &Plan) -> Rows<'s> {
        let how = cost::eval_strategy(plan);
        self.trace.enter(plan, how, None, &self.costs);
        let rows = self.eval_node(plan);
        self.trace.leave(&rows);
        rows
    }

    fn eval_node(&mut self, plan: &Plan) -> Rows<'s> {
        let store = self.store;
        match plan {
            Plan::All => Rows::Stored(store.live()),
            Plan::Nothing => Rows::Made(RoaringBitmap::new()),
            Plan::Leaf(leaf) => lookup(leaf, store),
            Plan::Not(inner) => match &**inner {
                Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                    Rows::Made(store.time_outside(*field, *lo, *hi))
                }
                other => Rows::Made(store.live() - &*self.eval(other)),
            },
            Plan::Or(children) => {
                let mut out = RoaringBitmap::new();
                for child in children {
                    out |= &*self.eval(child);
                }
                Rows::Made(out)
            }
            Plan::And(children) => self.and(children),
        }
    }

    /// An AND: the children in cost order, the first answered alone (or every live row
    /// when all are negations), each next one within the rows so far, stopping early
    /// when nothing is left.
    fn and(&mut self, children: &[Plan]) -> Rows<'s> {
        let order = self.costs.order(children, None);
        let (acc, rest) = self.start(&order);
        self.narrow(acc, rest)
    }

    /// An AND's count: as [`Run::and`], but a last step that is an index bitmap (or its
    /// negation) is counted against the rows so far, not built.
    fn count_and(&mut self, children: &[Plan]) -> u64 {
        let order = self.costs.order(children, None);
        let Some((last, init)) = order.split_last() else {
            return self.store.len();
        };
        if init.is_empty() {
            return self.eval(last).len();
        }
        let bitmap = |p: &Plan| matches!(cost::eval_strategy(p), Strategy::Bitmap);
        let (acc, rest) = self.start(init);
        let acc = self.narrow(acc, rest);
        match last {
            Plan::Not(inner) if bitmap(inner) => {
                acc.len() - acc.intersection_len(&self.eval(inner))
            }
            _ if bitmap(last) => acc.intersection_len(&self.eval(last)),
            _ => self.restrict(last, &acc).len(),
        }
    }

    /// The running rows an AND starts from (an index's own bitmap is read, not copied),
    /// and the children left to restrict them.
    fn start<'p>(&mut self, order: &'p [&'p Plan]) -> (Rows<'s>, &'p [&'p Plan]) {
        match order.split_first() {
            Some((first, rest)) if !matches!(first, Plan::Not(_)) => (self.eval(first), rest),
            _ => (Rows::Stored(self.store.live()), order),
        }
    }

    /// `acc` restricted by each of `children` in turn, stopping when nothing is left.
    fn narrow<'a>(&mut self, mut acc: Rows<'a>, children: &[&Plan]) -> Rows<'a> {
        for child in children {
            if acc.is_empty() {
                break;
            }
            acc = Rows::Made(self.restrict(child, &acc));
        }
        acc
    }

    /// `plan ∩ context`, evaluated knowing the context.
    fn restrict(&mut self, plan: &Plan, context: &RoaringBitmap) -> RoaringBitmap {
        let how = cost::restrict_strategy(plan);
        self.trace
            .enter(plan, how, Some(context.len()), &self.costs);
        let rows = self.restrict_node(plan, context);
        self.trace.leave(&rows);
        rows
    }

    /// OR, AND and NOT pass the context down to their children (so nothing is computed
    /// over rows outside it), and time ranges read only the chunks of their column that
    /// hold a row of it.
    fn restrict_node(&mut self, plan: &Plan, context: &RoaringBitmap) -> RoaringBitmap {
        let store = self.store;
        match plan {
            Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                store.time_filter(*field, context, *lo, *hi, false)
            }
            Plan::Leaf(Leaf::FbSendable(at)) => store.fb_sendable_among(*at, context),
            Plan::Or(children) => {
                let mut out = RoaringBitmap::new();
                for child in children {
                    out |= self.restrict(child, context);
                }
                out
            }
            Plan::And(children) => {
                let order = self.costs.order(children, Some(context.len() as f64));
                self.narrow(Rows::Stored(context), &order).into_owned()
            }
            Plan::Not(inner) => match &**inner {
                Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                    store.time_filter(*field, context, *lo, *hi, true)
                }
                inner if cost::direct(inner) => context - &*self.eval_node(inner),
                inner => context - self.restrict(inner, context),
            },
            other => context & &*self.eval_node(other),
        }
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
