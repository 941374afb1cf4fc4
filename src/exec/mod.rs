//! Execution: [`Plan`] → roaring bitmap of live rows, over the store's indexes.
//!
//! An AND whose most selective child holds at least one row in 64, and which is more
//! than one or two stored bitmaps, is fused (`fused.rs`): its children, in cost order,
//! narrow each 65,536-row chunk's bit words in turn, one chunk after another, building
//! no bitmap per step. So is an OR with such a child (not a lookup, nor only time ranges
//! or one or two stored bitmaps): each child keeps what the ones before left out. Any other AND runs
//! its children in the order the cost model (`cost.rs`, bytes touched per row
//! rejected) picks: a positive child first, answered alone, then each next child
//! only within the rows so far, stopping as soon as nothing is left; negated children
//! become differences (never a complement of every contact), a negated time range a
//! filter that keeps the rows outside it. A time range within running
//! rows reads only their chunks, gathering a few candidates one by one or scanning a
//! chunk that holds many (`TimeColumn::filter`); `is:fb_sendable` is one pass over the
//! opted-in Facebook rows (`store::fb_rows`); an OR's time ranges are one pass over
//! their columns (`TimeColumn::union_of`), and within running rows one pass cut to them
//! where they are dense, each range filtered where they are sparse
//! (`TimeColumn::union_within`).
//!
//! An AND holding `is:fb_sendable` leaves out its `channel:facebook` and `is:fb_optin`
//! children, which it implies (`implied_left_out`).
//!
//! A count builds as little as it can ([`Run::count`]): a lone time range is counted as it
//! is scanned (or from its bucket orders' slice lengths), a lone `is:fb_sendable` as its
//! opted-in rows are tested; a negation is the live rows less its child's count (every
//! node's rows are live rows: deleting a row blanks its fields, so no index holds it); an
//! OR of channels only, or of accounts only, is the sum of its children's counts (a
//! contact has one of each: they share no row); a dense OR is fused; an OR of two
//! children each counted without building rows (a stored bitmap, a time range,
//! `is:fb_sendable`, an AND, or a negation of one; not two ranges nor two stored
//! bitmaps) is `|a| + |b| - |a AND b|`; any other OR counts its largest
//! child into the union of the others; an AND of negations only is the live rows less the
//! union of what they negate when each is a leaf found without scanning a whole column
//! (`Run::complement_of_union`; else it is fused); any other AND counts its last step
//! against the rows so far.
//!
//! Every step reports to a [`Trace`]: EXPLAIN ANALYZE (`explain.rs`)
//! counts as `count` does and records the strategy (marked "counted" where the rows were
//! only counted), estimate, cost, actual rows and time of each, in the order they ran (a
//! fused AND's steps show the rows left after each; its time is the AND's; a fused OR is
//! one line holding its children); a plain run ignores them. Time-range scans and fused chunks are the
//! parallel part.

mod cost;
mod explain;
mod fused;

pub use cost::{Costs, Strategy};
pub use explain::{ExplainNode, explain_text};

use std::ops::Deref;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::model::{Channel, Flag, Seconds, TimeField};
use crate::plan::{Leaf, Plan};
use crate::store::Store;
use fused::Fused;

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
    /// A node starts, answered as `step` says.
    fn enter(&mut self, plan: &Plan, step: Step, costs: &Costs<'_>);
    /// An AND of `children` that the plan does not hold as a node starts (an OR's
    /// children counted together).
    fn enter_and(&mut self, children: &[&Plan], step: Step, costs: &Costs<'_>);
    /// The node entered last is done, with that many rows.
    fn leave(&mut self, rows: u64);
}

/// How the executor answers one node.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    pub how: Strategy,
    /// Alone (`None`) or within that many running rows.
    pub within: Option<u64>,
    /// Whether the node's rows are only counted, not built.
    pub counted: bool,
}

impl Step {
    fn alone(how: Strategy, counted: bool) -> Step {
        Step {
            how,
            within: None,
            counted,
        }
    }

    fn within(how: Strategy, context: &RoaringBitmap, counted: bool) -> Step {
        Step {
            how,
            within: Some(context.len()),
            counted,
        }
    }
}

/// The trace of a plain run.
struct Quiet;

impl Trace for Quiet {
    #[inline]
    fn enter(&mut self, _: &Plan, _: Step, _: &Costs<'_>) {}
    #[inline]
    fn enter_and(&mut self, _: &[&Plan], _: Step, _: &Costs<'_>) {}
    #[inline]
    fn leave(&mut self, _: u64) {}
}

/// The live rows matching `plan`.
pub fn execute(plan: &Plan, store: &Store) -> RoaringBitmap {
    Run::new(store, Quiet).eval(plan).into_owned()
}

/// The live rows among `within` matching `plan`, computed over those rows only (a
/// membership tracker's work per change).
pub fn execute_within(plan: &Plan, store: &Store, within: &RoaringBitmap) -> RoaringBitmap {
    let within = within & store.live();
    Run::new(store, Quiet).restrict(plan, &within)
}

/// How many live rows match `plan`.
pub fn count(plan: &Plan, store: &Store) -> u64 {
    Run::new(store, Quiet).count(plan)
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

    /// Runs one step, `plan` answered as `step` says, and reports it to the trace with
    /// the number of rows `size` says it gave.
    fn step<R>(
        &mut self,
        plan: &Plan,
        step: Step,
        run: impl FnOnce(&mut Self) -> R,
        size: impl FnOnce(&R) -> u64,
    ) -> R {
        self.trace.enter(plan, step, &self.costs);
        let out = run(self);
        self.trace.leave(size(&out));
        out
    }

    /// The rows of `plan`, answered on its own.
    fn eval(&mut self, plan: &Plan) -> Rows<'s> {
        let step = Step::alone(self.taken(plan, cost::eval_strategy(plan)), false);
        self.step(plan, step, |run| run.eval_node(plan), |rows| rows.len())
    }

    /// How many rows `plan` has, answered on its own, building as little as it can:
    /// a time range is counted as it is scanned, a negation is the live rows less its
    /// child's count (every node's rows are live rows: deleting a row blanks its fields),
    /// an OR holding many rows is counted in one fused pass, any other counts its largest
    /// child into the others' union (its time ranges alone: one pass that builds
    /// nothing), `is:fb_sendable` counts its rows as it tests them, an
    /// AND of negations only is the live rows less the OR of what they negate (of
    /// leaves found without a whole-column scan: [`Run::complement_of_union`]), and any
    /// other AND is fused or counts its last step against the rows so far.
    pub(crate) fn count(&mut self, plan: &Plan) -> u64 {
        let strategy = match plan {
            Plan::Or(children) if cost::disjoint(children) => Strategy::SumOfDisjoint,
            Plan::Or(children)
                if !self.fuses_or(plan) && by_inclusion(&refs(children)).is_some() =>
            {
                Strategy::UnionByInclusion
            }
            _ => self.taken(plan, cost::count_strategy(plan)),
        };
        let step = Step::alone(strategy, true);
        self.step(plan, step, |run| run.count_node(plan), |&n| n)
    }

    /// The strategy the run takes for `plan`, planned as `strategy`: an AND's may be
    /// [`Strategy::Fused`] ([`Run::and_strategy`]).
    fn taken(&self, plan: &Plan, strategy: Strategy) -> Strategy {
        match plan {
            Plan::And(children)
                if strategy == Strategy::Intersection
                    || (strategy == Strategy::ComplementOfUnion
                        && self.complement_of_union(children).is_none()) =>
            {
                self.and_strategy(&refs(children))
            }
            Plan::Or(_) if self.fuses_or(plan) => Strategy::Fused,
            _ => strategy,
        }
    }

    /// How an AND of `children` is answered: fused or in cost order.
    fn and_strategy(&self, children: &[&Plan]) -> Strategy {
        match self.fuses(children) {
            true => Strategy::Fused,
            false => Strategy::Intersection,
        }
    }

    /// Whether an AND of `children` is fused (`fused.rs`): it can be, it is more than
    /// one or two stored bitmaps (whose count roaring takes from their containers,
    /// reading nothing else), and its most selective positive child (by estimate) holds
    /// at least one row in [`FUSED_FROM`]. Sparser, the roaring path visits only the
    /// chunks holding a row, one candidate at a time, where a fused pass goes through
    /// every chunk.
    fn fuses(&self, children: &[&Plan]) -> bool {
        let positive = children.iter().filter(|c| !matches!(c, Plan::Not(_)));
        let fewest = positive
            .map(|c| self.costs.estimate(c))
            .fold(self.store.len() as f64, f64::min);
        let bitmaps_only = children.len() <= 2 && children.iter().all(|c| stored_bitmap(c));
        !children.is_empty()
            && !bitmaps_only
            && fused::fusable(children)
            && fewest * FUSED_FROM >= self.store.len() as f64
    }

    /// Whether `plan`, an OR, is fused (`fused.rs`: one step whose children each narrow
    /// what the others left): it can be, a child other than a lookup (whose rows a
    /// fused pass sets one by one) holds at least one row in [`FUSED_FROM`] (by
    /// estimate), and it is neither time ranges only that their bucket orders answer
    /// (one pass over their orders; a range that would scan its column reads a fused
    /// pass's prefix words instead) nor one or two stored bitmaps (roaring unites those
    /// container by container, reading nothing else).
    fn fuses_or(&self, plan: &Plan) -> bool {
        let Plan::Or(children) = plan else {
            return false;
        };
        let read_whole = |c: &&Plan| cost::eval_strategy(c) != Strategy::Lookup;
        let dense = |c: &Plan| self.costs.estimate(c) * FUSED_FROM >= self.store.len() as f64;
        let ordered_ranges = children
            .iter()
            .all(|c| time_range(c).is_some() && !self.costs.scans_column(c));
        let bitmaps_only = children.len() <= 2 && children.iter().all(stored_bitmap);
        !ordered_ranges
            && !bitmaps_only
            && children.iter().filter(read_whole).any(dense)
            && fused::fusable(&[plan])
    }

    fn count_node(&mut self, plan: &Plan) -> u64 {
        match plan {
            Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                self.store.time_count(*field, *lo, *hi)
            }
            Plan::Leaf(Leaf::FbSendable(at)) => self.store.fb_sendable_count(*at),
            Plan::Not(inner) => self.store.len().saturating_sub(self.count(inner)),
            Plan::Or(children) if cost::disjoint(children) => {
                children.iter().map(|child| self.count(child)).sum()
            }
            Plan::Or(_) if self.fuses_or(plan) => Fused::new(self, &[plan]).count().0,
            Plan::Or(children) => self.count_or(&refs(children)),
            Plan::And(children) => match self.complement_of_union(children) {
                Some(inners) => self.store.len().saturating_sub(self.count_or(&inners)),
                None => self.count_and(&refs(children)),
            },
            other => self.eval_node(other).len(),
        }
    }

    /// What an AND of negations only negates, when it is counted as the live rows less
    /// their union (`-a -b` as `a or b`): it is not fused, or every one it negates is
    /// a leaf whose rows come without a scan of a whole column (a stored bitmap, a
    /// lookup, a time range its bucket orders answer). A union of scanned ranges or of
    /// ANDs would read or build more than one fused pass, whose ranges read prefix words.
    fn complement_of_union<'p>(&self, children: &'p [Plan]) -> Option<Vec<&'p Plan>> {
        let united_cheaply =
            |inner: &&Plan| matches!(inner, Plan::Leaf(_)) && !self.costs.scans_column(inner);
        negated_all(children)
            .filter(|inners| !self.fuses(&refs(children)) || inners.iter().all(united_cheaply))
    }

    /// An OR's count: of time ranges only, one pass over their columns that builds
    /// nothing; else the union of all children but the largest (by estimate), counted
    /// together with the largest one's rows without building their union.
    fn count_or(&mut self, children: &[&Plan]) -> u64 {
        if let Some(ranges) = children
            .iter()
            .map(|c| time_range(c))
            .collect::<Option<Vec<_>>>()
        {
            return self.store.time_union_count(&ranges);
        }
        if let Some(pair) = by_inclusion(children) {
            let (a, b) = (self.count(pair[0]), self.count(pair[1]));
            let step = Step::alone(self.and_strategy(&pair), true);
            self.trace.enter_and(&pair, step, &self.costs);
            let both = self.count_and(&pair);
            self.trace.leave(both);
            return (a + b).saturating_sub(both);
        }
        let largest = (0..children.len()).max_by(|&a, &b| {
            let estimate = |i: usize| self.costs.estimate(children[i]);
            estimate(a).total_cmp(&estimate(b))
        });
        let Some(largest) = largest else {
            return 0;
        };
        let rest = children.iter().enumerate().filter(|&(i, _)| i != largest);
        let union = self.union(rest.map(|(_, child)| *child));
        union.union_len(&self.eval(children[largest]))
    }

    /// The union of `children`'s rows: two or more time ranges in one pass over their
    /// columns, the other children one by one (one child's own rows are not copied).
    fn union<'p>(&mut self, children: impl IntoIterator<Item = &'p Plan>) -> Rows<'s> {
        let (ranges, others) = split_or(children);
        let mut out = (!ranges.is_empty()).then(|| Rows::Made(self.store.time_union(&ranges)));
        for child in others {
            out = Some(match out {
                None => self.eval(child),
                Some(rows) => {
                    let mut made = rows.into_owned();
                    made |= &*self.eval(child);
                    Rows::Made(made)
                }
            });
        }
        out.unwrap_or(Rows::Made(RoaringBitmap::new()))
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
            Plan::Or(_) if self.fuses_or(plan) => Rows::Made(Fused::new(self, &[plan]).rows().0),
            Plan::Or(children) => self.union(children),
            Plan::And(children) => self.and(children),
        }
    }

    /// An AND: the children in cost order, the first answered alone (or every live row
    /// when all are negations), each next one within the rows so far, stopping early
    /// when nothing is left.
    fn and(&mut self, children: &[Plan]) -> Rows<'s> {
        let order = implied_left_out(self.costs.order(children, None));
        if let Some(fused) = self.fuses(&order).then(|| Fused::new(self, &order)) {
            let (rows, left) = fused.rows();
            self.report_fused(&order, &left);
            return Rows::Made(rows);
        }
        let (acc, rest) = self.start(&order);
        self.narrow(acc, rest)
    }

    /// An AND's count: as [`Run::and`], but the last step is counted against the rows so
    /// far, not built.
    fn count_and(&mut self, children: &[&Plan]) -> u64 {
        let order = implied_left_out(self.costs.order(children.iter().copied(), None));
        if let Some(fused) = self.fuses(&order).then(|| Fused::new(self, &order)) {
            let (count, left) = fused.count();
            self.report_fused(&order, &left);
            return count;
        }
        let Some((last, init)) = order.split_last() else {
            return self.store.len();
        };
        if init.is_empty() {
            return self.count(last);
        }
        let (acc, rest) = self.start(init);
        let acc = self.narrow(acc, rest);
        self.count_within(last, &acc)
    }

    /// Reports a fused AND's children to the trace as steps, each with the rows `left`
    /// after it.
    fn report_fused(&mut self, order: &[&Plan], left: &[u64]) {
        let mut within = self.store.len();
        for (child, &rows) in order.iter().zip(left) {
            let step = Step {
                how: Strategy::FusedStep,
                within: Some(within),
                counted: true,
            };
            self.trace.enter(child, step, &self.costs);
            self.trace.leave(rows);
            within = rows;
        }
    }

    /// How many rows of `context` match `plan`: an index bitmap (or its negation) is
    /// counted against them, a time range (or its negation) as it is filtered; anything
    /// else is restricted, then counted.
    fn count_within(&mut self, plan: &Plan, context: &RoaringBitmap) -> u64 {
        let Some((what, negated)) = Countable::of(plan) else {
            return self.restrict(plan, context).len();
        };
        let step = Step::within(cost::restrict_strategy(plan), context, true);
        let count = |run: &mut Self| match what {
            Countable::Bitmap(inner) => {
                let hits = context.intersection_len(&run.eval_node(inner));
                if negated { context.len() - hits } else { hits }
            }
            Countable::Range(field, lo, hi) => {
                (run.store).time_filter_count(field, context, lo, hi, negated)
            }
        };
        self.step(plan, step, count, |&n| n)
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
        let step = Step::within(cost::restrict_strategy(plan), context, false);
        let run = |run: &mut Self| run.restrict_node(plan, context);
        self.step(plan, step, run, RoaringBitmap::len)
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
                let (ranges, others) = split_or(children);
                let mut out = match ranges.is_empty() {
                    true => RoaringBitmap::new(),
                    false => store.time_union_within(&ranges, context),
                };
                for child in others {
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

/// A step that can be counted within running rows without building its rows: an index
/// bitmap or a time range, perhaps negated.
enum Countable<'p> {
    Bitmap(&'p Plan),
    Range(TimeField, Seconds, Seconds),
}

impl Countable<'_> {
    /// What `plan` counts, and whether it is negated.
    fn of(plan: &Plan) -> Option<(Countable<'_>, bool)> {
        let (inner, negated) = match plan {
            Plan::Not(inner) => (&**inner, true),
            other => (other, false),
        };
        let what = match time_range(inner) {
            Some((field, lo, hi)) => Countable::Range(field, lo, hi),
            None if matches!(cost::eval_strategy(inner), Strategy::Bitmap) => {
                Countable::Bitmap(inner)
            }
            None => return None,
        };
        Some((what, negated))
    }
}

/// An AND's children (in cost order) less those a positive `is:fb_sendable` among them
/// implies: `channel:facebook` and `is:fb_optin` (a sendable contact is an opted-in
/// Facebook one, data-model.md), whose bitmaps would be read for nothing.
fn implied_left_out(order: Vec<&Plan>) -> Vec<&Plan> {
    let sendable = |c: &&Plan| matches!(c, Plan::Leaf(Leaf::FbSendable(_)));
    if !order.iter().any(sendable) {
        return order;
    }
    let implied = |c: &&Plan| {
        matches!(
            c,
            Plan::Leaf(Leaf::Channel(Channel::Facebook) | Leaf::Flag(Flag::FbOptin))
        )
    };
    order.into_iter().filter(|c| !implied(c)).collect()
}

/// What an AND of negations only negates (`-a -b` counts as the live rows less
/// `a or b`, which an OR counts without building the union), else `None`.
fn negated_all(children: &[Plan]) -> Option<Vec<&Plan>> {
    fn inner(child: &Plan) -> Option<&Plan> {
        match child {
            Plan::Not(inner) => Some(inner),
            _ => None,
        }
    }
    children.iter().map(inner).collect()
}

/// The two children of an OR counted as `|a| + |b| - |a AND b|`, when each is counted
/// without building its rows (a stored bitmap, a time range, `is:fb_sendable`, an AND,
/// or the negation of one) and so is their AND: no union is built. Two time ranges
/// are counted in one pass over their columns instead, two stored bitmaps by roaring.
fn by_inclusion<'p>(children: &[&'p Plan]) -> Option<[&'p Plan; 2]> {
    fn counted(plan: &Plan) -> bool {
        match plan {
            Plan::Not(inner) => counted(inner),
            Plan::And(_) => true,
            Plan::Leaf(_) => !matches!(cost::eval_strategy(plan), Strategy::Lookup),
            _ => false,
        }
    }
    let ranges = |a: &Plan, b: &Plan| time_range(a).is_some() && time_range(b).is_some();
    let bitmaps = |a: &Plan, b: &Plan| stored_bitmap(a) && stored_bitmap(b);
    match children {
        [a, b] if counted(a) && counted(b) && !ranges(a, b) && !bitmaps(a, b) => Some([a, b]),
        _ => None,
    }
}

/// Whether `plan` is a stored (or derived) index bitmap, or the negation of one.
fn stored_bitmap(plan: &Plan) -> bool {
    let inner = match plan {
        Plan::Not(inner) => &**inner,
        other => other,
    };
    matches!(inner, Plan::Leaf(_)) && cost::eval_strategy(inner) == Strategy::Bitmap
}

fn refs(children: &[Plan]) -> Vec<&Plan> {
    children.iter().collect()
}

/// The field and bounds of a time-range leaf.
fn time_range(plan: &Plan) -> Option<(TimeField, Seconds, Seconds)> {
    match plan {
        Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => Some((*field, *lo, *hi)),
        _ => None,
    }
}

/// An AND is fused when its most selective child holds at least one row in this many.
const FUSED_FROM: f64 = 64.0;

/// How many time ranges an OR needs to take them together in one pass.
const RANGES_TOGETHER: usize = 2;

/// An OR's children split into the time ranges it takes together, in one pass over
/// their columns ([`RANGES_TOGETHER`] or more, else none), and the others.
fn split_or<'p>(
    children: impl IntoIterator<Item = &'p Plan>,
) -> (Vec<(TimeField, Seconds, Seconds)>, Vec<&'p Plan>) {
    let children: Vec<&Plan> = children.into_iter().collect();
    let ranges: Vec<_> = children.iter().filter_map(|c| time_range(c)).collect();
    if ranges.len() < RANGES_TOGETHER {
        return (Vec::new(), children);
    }
    let others = children.into_iter().filter(|c| time_range(c).is_none());
    (ranges, others.collect())
}

/// The rows of one index lookup.
fn lookup<'s>(leaf: &Leaf, store: &'s Store) -> Rows<'s> {
    let empty = || Rows::Made(RoaringBitmap::new());
    match leaf {
        Leaf::Channel(c) => Rows::Stored(store.channel(*c)),
        Leaf::Account(id) => match store.single_account(id) {
            Some(rows) => Rows::Stored(rows),
            None => Rows::Made(store.account(id)),
        },
        Leaf::Tag(tag) => store.tag(tag).map_or_else(empty, Rows::Stored),
        Leaf::Flag(flag) => Rows::Stored(store.flag(*flag)),
        Leaf::OptOut(kind) => Rows::Stored(store.opt_out(*kind)),
        Leaf::Frequency(f) => Rows::Stored(store.frequency(*f)),
        Leaf::Tagged => Rows::Stored(store.tagged()),
        Leaf::TimePresent(field) => Rows::Stored(store.time_present(*field)),
        Leaf::TextPresent(field) => Rows::Stored(store.text_present(*field)),
        Leaf::TimeRange { field, lo, hi } => Rows::Made(store.time_range(*field, *lo, *hi)),
        Leaf::ExternalId(id) => Rows::Made(store.external_id_eq(id)),
        Leaf::Name(name) => store
            .name_eq_shared(name)
            .map_or_else(|| Rows::Made(store.name_eq(name)), Rows::Stored),
        Leaf::Text(field, value) => store
            .text_eq_shared(*field, value)
            .map_or_else(|| Rows::Made(store.text_eq(*field, value)), Rows::Stored),
        Leaf::FbSendable(at) => Rows::Made(store.fb_sendable(*at)),
        Leaf::Unsubscribed => Rows::Derived(store.unsubscribed()),
    }
}
