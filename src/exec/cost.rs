//! The cost model: what each way of answering a node costs, in bytes of memory touched,
//! so that an AND runs its children cheapest-per-rejected-row first (a bitmap operation,
//! a column scan and a per-row gather cost very differently for the same cardinality).
//!
//! An AND runs a positive child first, then greedily the child with the least cost
//! (within the rows so far) per row it rejects; answered on its own, it tries each of the
//! three positive children cheapest per rejected row first (`FIRSTS_TRIED`) and runs the
//! order whose whole chain costs least ([`Costs::order`]). Negations are differences, a
//! negated time range a filter keeping the rows outside.
//!
//! Units: a time range reads the bytes its column estimates (`Store::time_estimate`: a
//! scan's 2 bytes a row, or fewer from bucket orders for a narrow range); a gather of one
//! candidate misses the cache, one 64-byte line; a roaring operation reads its
//! operands' containers (2 bytes a value in an array, 8 KiB a 65,536-row bitmap), which
//! on this machine goes about 4 times slower per byte than a scan streams (limits.md:
//! `a & b` of two 10% bitmaps, 2.5 MB, ~1 ms), so roaring bytes weigh 4.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::model::Flag;
use crate::plan::{Leaf, Plan};
use crate::store::{RangeEstimate, Store};

/// A roaring byte's weight against a scanned byte.
const ROARING: f64 = 4.0;
/// Bytes a scattered read of one row touches (a cache line).
const GATHER_ROW: f64 = 64.0;
/// How many of an AND's positive children (the cheapest per rejected row) are tried
/// first, each followed by the rest in greedy order: trying every one made a count of
/// ten bitmap predicates at 10M take 315–321 µs, three 289–294, the greedy order alone
/// 286–293 (`count --batch --repeat 15`).
const FIRSTS_TRIED: usize = 3;
/// Bytes per opted-in Facebook row read by `is:fb_sendable` (expiry, last send,
/// frequency).
const FB_ROW: f64 = 9.0;

/// How the executor answers one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// An index's bitmap, read as stored (or cached by the store).
    Bitmap,
    /// A bitmap computed from an index (an account's union, an equality lookup).
    Lookup,
    /// A scan of a whole time column.
    Scan,
    /// A scan of a whole time column for the rows outside a range.
    ScanOutside,
    /// One pass over the opted-in Facebook rows.
    FacebookRows,
    /// Every live row minus the child's.
    Complement,
    /// An AND of negations only, counted: every live row minus the union of what they
    /// negate (counted as an OR is).
    ComplementOfUnion,
    /// The union of the children's rows.
    Union,
    /// An OR of two children, counted as `|a| + |b| - |a AND b|`, building no union.
    UnionByInclusion,
    /// An OR of channels, or of accounts, counted as the sum of its distinct children's
    /// counts: a contact has one channel and one account, so they share no row.
    SumOfDisjoint,
    /// The union, its time ranges found in one pass over their columns (not shown as
    /// steps of their own).
    UnionOneScan,
    /// The children in cost order, each restricted to the rows so far.
    Intersection,
    /// A time range checked only on the running rows: chunk by chunk, a scan or a gather.
    Filter,
    /// A negated time range checked the same way, keeping the rows outside it.
    FilterOutside,
    /// The opted-in Facebook rows among the running rows, one by one or in one pass.
    FacebookAmong,
    /// The running rows intersected with the node's bitmap.
    Intersect,
    /// The running rows minus the child's (restricted) rows.
    Difference,
    /// The children's rows, each restricted to the running rows, united.
    UnionWithin,
    /// As `UnionWithin`, but its time ranges together: one pass over their columns
    /// where the running rows are dense, each range filtered where they are sparse (not
    /// shown as steps of their own).
    UnionWithinTogether,
    /// The children in order, each restricted to the running rows.
    IntersectionWithin,
    /// The children in cost order, applied to each 65,536-row chunk in turn over bit
    /// words (`fused.rs`).
    Fused,
    /// One child of a fused AND: its actual rows are those left after it, its time is
    /// the AND's.
    FusedStep,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Bitmap => "bitmap",
            Strategy::Lookup => "index lookup",
            Strategy::Scan => "column scan",
            Strategy::ScanOutside => "column scan, outside",
            Strategy::FacebookRows => "facebook rows",
            Strategy::Complement => "complement",
            Strategy::ComplementOfUnion => "complement of the negated rows' union",
            Strategy::Union => "union",
            Strategy::UnionByInclusion => "union, counted as |a| + |b| - |a AND b|",
            Strategy::SumOfDisjoint => "sum of disjoint counts",
            Strategy::UnionOneScan => "union, time ranges in one scan",
            Strategy::Intersection => "intersection, cost order",
            Strategy::Filter => "filter running rows",
            Strategy::FilterOutside => "filter running rows, outside",
            Strategy::FacebookAmong => "facebook rows among running",
            Strategy::Intersect => "intersect running",
            Strategy::Difference => "difference",
            Strategy::UnionWithin => "union within running",
            Strategy::UnionWithinTogether => "union within running, time ranges together",
            Strategy::IntersectionWithin => "intersection within running",
            Strategy::Fused => "fused, chunk by chunk over bit words",
            Strategy::FusedStep => "in the fused pass",
        })
    }
}

/// How `plan` is answered on its own.
pub fn eval_strategy(plan: &Plan) -> Strategy {
    match plan {
        Plan::All | Plan::Nothing => Strategy::Bitmap,
        Plan::Leaf(Leaf::TimeRange { .. }) => Strategy::Scan,
        Plan::Leaf(Leaf::FbSendable(_)) => Strategy::FacebookRows,
        Plan::Leaf(leaf) if computed(leaf) => Strategy::Lookup,
        Plan::Leaf(_) => Strategy::Bitmap,
        Plan::Not(inner) if matches!(**inner, Plan::Leaf(Leaf::TimeRange { .. })) => {
            Strategy::ScanOutside
        }
        Plan::Not(_) => Strategy::Complement,
        Plan::Or(children) if ranges_together(children) => Strategy::UnionOneScan,
        Plan::Or(_) => Strategy::Union,
        Plan::And(_) => Strategy::Intersection,
    }
}

/// How `plan` is counted on its own: as it is answered, but a negation is the live rows
/// less its child's count.
pub fn count_strategy(plan: &Plan) -> Strategy {
    match plan {
        Plan::Not(_) => Strategy::Complement,
        Plan::And(children) if all_negated(children) => Strategy::ComplementOfUnion,
        Plan::Or(children) if disjoint(children) => Strategy::SumOfDisjoint,
        other => eval_strategy(other),
    }
}

/// Whether `children` share no row: all channels, or all accounts (by id, in any
/// channel), none twice. A contact has exactly one channel and one account
/// (data-model.md), and a deleted row is in no index.
pub fn disjoint(children: &[Plan]) -> bool {
    let channels = children
        .iter()
        .all(|c| matches!(c, Plan::Leaf(Leaf::Channel(_))));
    let accounts = children
        .iter()
        .all(|c| matches!(c, Plan::Leaf(Leaf::Account(_))));
    let distinct = |(i, c): (usize, &Plan)| !children[..i].contains(c);
    (channels || accounts) && children.iter().enumerate().all(distinct)
}

/// Whether every child is a negation.
fn all_negated(children: &[Plan]) -> bool {
    children.iter().all(|c| matches!(c, Plan::Not(_)))
}

/// How `plan` is answered within running rows.
pub fn restrict_strategy(plan: &Plan) -> Strategy {
    match plan {
        Plan::Leaf(Leaf::TimeRange { .. }) => Strategy::Filter,
        Plan::Not(inner) if matches!(**inner, Plan::Leaf(Leaf::TimeRange { .. })) => {
            Strategy::FilterOutside
        }
        Plan::Leaf(Leaf::FbSendable(_)) => Strategy::FacebookAmong,
        Plan::Or(children) if ranges_together(children) => Strategy::UnionWithinTogether,
        Plan::Or(_) => Strategy::UnionWithin,
        Plan::And(_) => Strategy::IntersectionWithin,
        Plan::Not(_) => Strategy::Difference,
        _ => Strategy::Intersect,
    }
}

/// Whether an OR of `children` takes its time ranges together (as `split_or` does).
fn ranges_together(children: &[Plan]) -> bool {
    let range = |c: &&Plan| matches!(c, Plan::Leaf(Leaf::TimeRange { .. }));
    children.iter().filter(range).count() >= super::RANGES_TOGETHER
}

/// Whether a negation within running rows subtracts `inner`'s own bitmap (one
/// operation) rather than first restricting `inner` to the running rows.
pub fn direct(inner: &Plan) -> bool {
    matches!(eval_strategy(inner), Strategy::Bitmap | Strategy::Lookup)
}

/// Leaves whose bitmap is computed per query rather than stored.
fn computed(leaf: &Leaf) -> bool {
    matches!(
        leaf,
        Leaf::Account(_) | Leaf::ExternalId(_) | Leaf::Name(_) | Leaf::Text(..)
    )
}

/// The cost model over one store, for one query: each node's estimate is computed once
/// (a time range's samples its column, which also tells what finding its rows reads)
/// and remembered by the node's address, and so are its costs (alone, and within each
/// running-row count), so that costing a plan is polynomial in its size however deeply
/// its ANDs and ORs nest. Every node costed must outlive the `Costs` (the executor costs
/// only nodes of the plan it runs).
pub struct Costs<'s> {
    store: &'s Store,
    live: f64,
    rows: f64,
    estimates: RefCell<HashMap<*const Plan, f64>>,
    /// What each time range's rows take to find (bytes, and whether a whole-column
    /// scan), sampled with its estimate.
    range_reads: RefCell<HashMap<*const Plan, RangeEstimate>>,
    /// Each node's cost answered alone, and within running rows (by the bits of the
    /// running-row count it was costed at), each computed once: a node's cost reads its
    /// children's, so without these an AND/OR nested n deep was costed exponentially
    /// often in n (an AND tries up to three orders, each reading every child's cost).
    evals: RefCell<HashMap<*const Plan, f64>>,
    restricts: RefCell<HashMap<(*const Plan, u64), f64>>,
    /// How many running-row counts each node has been costed at exactly: past
    /// [`EXACT_RUNNING`], a count is rounded to [`running_bucket`] first, so that a node
    /// is costed at a bounded number of counts however deep the plan nests.
    exact_running: RefCell<HashMap<*const Plan, usize>>,
    /// How many node costs were computed (not remembered), for the tests.
    #[cfg(test)]
    computed: std::cell::Cell<usize>,
}

/// How many running-row counts a node is costed at exactly before further counts are
/// rounded: an ordinary segment's nodes are costed at a few dozen at most (an AND of k
/// children tries three orders, costing a child at up to ~3k counts; EXPLAIN ANALYZE
/// adds the actual ones), but nested ANDs multiply the counts the nodes below them see
/// by each sibling's selectivity, which can make their number grow exponentially with
/// depth.
const EXACT_RUNNING: usize = 256;

/// Steps per doubling of the grid a running-row count is rounded to past
/// [`EXACT_RUNNING`] (an estimate within 2^(1/32), ~2%: the count is a product of
/// estimated selectivities anyway).
const BUCKETS_PER_DOUBLING: f64 = 32.0;

/// `n` rounded to the nearest of a geometric grid ([`BUCKETS_PER_DOUBLING`] steps per
/// doubling); below 2^-10 of a row, to 0. A node's cost within `n` rows for `n` in
/// `0..=rows` is then one of at most ~32 × (log2(rows) + 11) values.
fn running_bucket(n: f64) -> f64 {
    if n < 1.0 / 1024.0 {
        return 0.0;
    }
    let step = (n.log2() * BUCKETS_PER_DOUBLING).round();
    (step / BUCKETS_PER_DOUBLING).exp2()
}

impl<'s> Costs<'s> {
    pub fn new(store: &'s Store) -> Costs<'s> {
        Costs {
            store,
            live: store.len().max(1) as f64,
            rows: f64::from(store.row_count()),
            estimates: RefCell::default(),
            range_reads: RefCell::default(),
            evals: RefCell::default(),
            restricts: RefCell::default(),
            exact_running: RefCell::default(),
            #[cfg(test)]
            computed: std::cell::Cell::new(0),
        }
    }

    /// A cheap estimate of how many rows `plan` matches (exact for stored bitmaps; a
    /// time range samples its column), remembered for every node it visits.
    pub fn estimate(&self, plan: &Plan) -> f64 {
        if let Some(&n) = self.estimates.borrow().get(&std::ptr::from_ref(plan)) {
            return n;
        }
        let store = self.store;
        let n = match plan {
            Plan::All => self.live,
            Plan::Nothing => 0.0,
            Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                let estimate = store.time_estimate(*field, *lo, *hi);
                self.range_reads
                    .borrow_mut()
                    .insert(std::ptr::from_ref(plan), estimate);
                estimate.rows as f64
            }
            Plan::Leaf(Leaf::FbSendable(_)) => self.facebook_rows(),
            Plan::Leaf(leaf) => super::lookup(leaf, store).len() as f64,
            Plan::Not(inner) => (self.live - self.estimate(inner)).max(0.0),
            Plan::And(children) => children
                .iter()
                .map(|c| self.estimate(c))
                .fold(self.live, f64::min),
            Plan::Or(children) => children
                .iter()
                .map(|c| self.estimate(c))
                .sum::<f64>()
                .min(self.live),
        };
        self.estimates
            .borrow_mut()
            .insert(std::ptr::from_ref(plan), n);
        n
    }

    /// The share of live rows `plan` matches (estimated).
    pub fn selectivity(&self, plan: &Plan) -> f64 {
        (self.estimate(plan) / self.live).min(1.0)
    }

    /// Bytes of a roaring bitmap holding `n` of the store's rows, weighted.
    fn bitmap(&self, n: f64) -> f64 {
        ROARING * (2.0 * n).min(self.rows / 8.0)
    }

    /// Bytes read finding the rows of time range `plan`.
    fn range(&self, plan: &Plan) -> f64 {
        self.range_read(plan)
            .map_or(0.0, |read| read.read_bytes as f64)
    }

    /// Whether `plan` is a time range whose rows, found on its own, take a scan of its
    /// whole column (its bucket orders do not answer it).
    pub fn scans_column(&self, plan: &Plan) -> bool {
        self.range_read(plan).is_some_and(|read| read.scans)
    }

    /// What finding time range `plan`'s rows takes (`None` for any other node).
    fn range_read(&self, plan: &Plan) -> Option<RangeEstimate> {
        self.estimate(plan);
        let reads = self.range_reads.borrow();
        reads.get(&std::ptr::from_ref(plan)).copied()
    }

    /// The cost of answering `plan` on its own (computed once per node).
    pub fn eval(&self, plan: &Plan) -> f64 {
        let key = std::ptr::from_ref(plan);
        if let Some(&cost) = self.evals.borrow().get(&key) {
            return cost;
        }
        let cost = self.eval_node(plan);
        self.evals.borrow_mut().insert(key, cost);
        cost
    }

    /// The cost of answering `plan` within `n` running rows (computed once per node and
    /// count; past [`EXACT_RUNNING`] counts for one node, at `n` rounded to
    /// [`running_bucket`]).
    pub fn restrict(&self, plan: &Plan, n: f64) -> f64 {
        let node = std::ptr::from_ref(plan);
        if let Some(&cost) = self.restricts.borrow().get(&(node, n.to_bits())) {
            return cost;
        }
        let exact = {
            let mut counts = self.exact_running.borrow_mut();
            let count = counts.entry(node).or_insert(0);
            *count += 1;
            *count <= EXACT_RUNNING
        };
        let n = match exact {
            true => n,
            false => running_bucket(n),
        };
        if let Some(&cost) = self.restricts.borrow().get(&(node, n.to_bits())) {
            return cost;
        }
        let cost = self.restrict_node(plan, n);
        self.restricts
            .borrow_mut()
            .insert((node, n.to_bits()), cost);
        cost
    }

    /// Counts one node cost computed (tests only).
    fn computing(&self) {
        #[cfg(test)]
        {
            self.computed.set(self.computed.get() + 1);
            // A regression to costing each subtree once per level above it would take
            // exponential time: fail instead of hanging.
            assert!(
                self.computed.get() <= tests::COMPUTED_LIMIT,
                "more than {} node costs computed",
                tests::COMPUTED_LIMIT
            );
        }
    }

    fn eval_node(&self, plan: &Plan) -> f64 {
        self.computing();
        let est = |p: &Plan| self.estimate(p);
        match plan {
            Plan::All | Plan::Nothing => 0.0,
            Plan::Leaf(Leaf::TimeRange { .. }) => self.range(plan) + self.bitmap(est(plan)),
            Plan::Leaf(Leaf::FbSendable(_)) => self.facebook_rows() * FB_ROW,
            Plan::Leaf(leaf) if computed(leaf) => self.bitmap(est(plan)),
            Plan::Leaf(_) => 0.0,
            Plan::Not(inner) => self.eval(inner) + self.bitmap(self.live) + self.bitmap(est(inner)),
            Plan::Or(children) => children
                .iter()
                .map(|c| self.eval(c) + self.bitmap(est(c)))
                .sum(),
            Plan::And(children) => self.chain(&self.order(children, None), None),
        }
    }

    fn restrict_node(&self, plan: &Plan, n: f64) -> f64 {
        self.computing();
        let est = |p: &Plan| self.estimate(p);
        match plan {
            Plan::Leaf(Leaf::TimeRange { .. }) => {
                self.range(plan).min(n * GATHER_ROW) + self.bitmap(n)
            }
            Plan::Leaf(Leaf::FbSendable(_)) => {
                (self.facebook_rows() * FB_ROW).min(n * GATHER_ROW) + self.bitmap(n)
            }
            Plan::Or(children) => children.iter().map(|c| self.restrict(c, n)).sum(),
            Plan::And(children) => self.chain(&self.order(children, Some(n)), Some(n)),
            Plan::Not(inner) if matches!(**inner, Plan::Leaf(Leaf::TimeRange { .. })) => {
                self.restrict(inner, n)
            }
            Plan::Not(inner) if direct(inner) => {
                self.eval(inner) + self.bitmap(n) + self.bitmap(est(inner))
            }
            Plan::Not(inner) => self.restrict(inner, n) + self.bitmap(n),
            other => self.eval(other) + self.bitmap(n) + self.bitmap(est(other)),
        }
    }

    /// The cost of the first child of an AND: answered alone, then owned as the running
    /// rows.
    fn first(&self, plan: &Plan) -> f64 {
        self.eval(plan) + self.bitmap(self.estimate(plan))
    }

    /// The cost of running `order` as an AND chain, from `start` running rows (`None`:
    /// the first child is answered alone).
    fn chain(&self, order: &[&Plan], start: Option<f64>) -> f64 {
        let mut n = start.unwrap_or(self.live);
        let mut total = 0.0;
        for (i, child) in order.iter().enumerate() {
            total += match (i, start) {
                (0, None) => self.first(child),
                _ => self.restrict(child, n),
            };
            n *= self.selectivity(child);
        }
        total
    }

    /// The order an AND runs its children in, from `start` running rows (`None`: the
    /// first child is answered alone). Answered alone, each of the positive children
    /// cheapest per rejected row ([`FIRSTS_TRIED`]) is tried first, the others following
    /// greedily, and the order whose whole chain costs least runs: the child cheapest per
    /// rejected row on its own may make the next steps dearer (a narrow time range before
    /// a union of tags that is cheaper to build than to cut). Within running rows the
    /// order is greedy from the start.
    pub fn order<'p>(
        &self,
        children: impl IntoIterator<Item = &'p Plan>,
        start: Option<f64>,
    ) -> Vec<&'p Plan> {
        let all: Vec<&Plan> = children.into_iter().collect();
        if start.is_some() {
            return self.greedy(all, start);
        }
        let mut firsts: Vec<usize> = (0..all.len())
            .filter(|&i| !matches!(all[i], Plan::Not(_)))
            .collect();
        firsts.sort_by(|&a, &b| self.rank(all[a], None).total_cmp(&self.rank(all[b], None)));
        firsts.truncate(FIRSTS_TRIED);
        firsts
            .into_iter()
            .map(|i| self.starting_with(&all, i))
            .map(|order| (self.chain(&order, None), order))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map_or_else(|| self.greedy(all, None), |(_, order)| order)
    }

    /// What `plan` costs per row it rejects, from `n` running rows (`None`: answered
    /// alone, then owned as the running rows).
    fn rank(&self, plan: &Plan, n: Option<f64>) -> f64 {
        let cost = match n {
            None => self.first(plan),
            Some(n) => self.restrict(plan, n),
        };
        cost / (1.0 - self.selectivity(plan)).max(1e-9)
    }

    /// `children[first]` answered alone, then the others in greedy order.
    fn starting_with<'p>(&self, children: &[&'p Plan], first: usize) -> Vec<&'p Plan> {
        let mut rest = children.to_vec();
        let first = rest.remove(first);
        let mut order = vec![first];
        order.extend(self.greedy(rest, Some(self.live * self.selectivity(first))));
        order
    }

    /// `left` in the order that runs, from `n` running rows (`None`: none yet), the
    /// child whose cost per row it rejects is least next: a positive child first
    /// (negations only restrict; with no positive child the AND starts from every live
    /// row).
    fn greedy<'p>(&self, mut left: Vec<&'p Plan>, mut n: Option<f64>) -> Vec<&'p Plan> {
        let mut order = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let rank = |p: &Plan| (self.rank(p, n), self.selectivity(p));
            let eligible = |p: &&Plan| n.is_some() || !matches!(p, Plan::Not(_));
            let Some((at, _)) = left
                .iter()
                .enumerate()
                .filter(|(_, p)| eligible(p))
                .map(|(i, p)| (i, rank(p)))
                .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
            else {
                n = Some(self.live);
                continue;
            };
            let child = left.remove(at);
            n = Some(n.unwrap_or(self.live) * self.selectivity(child));
            order.push(child);
        }
        order
    }

    fn facebook_rows(&self) -> f64 {
        self.store.flag(Flag::FbOptin).len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past this many node costs computed by one `Costs`, a test fails rather than
    /// running on.
    pub(super) const COMPUTED_LIMIT: usize = 2_000_000;

    fn nodes(plan: &Plan) -> usize {
        1 + match plan {
            Plan::Not(inner) => nodes(inner),
            Plan::And(children) | Plan::Or(children) => children.iter().map(nodes).sum(),
            _ => 0,
        }
    }

    /// A segment nesting OR and AND alternately `depth` times, each level's AND taking
    /// `level(i)` (closing parentheses at the end).
    fn alternating(depth: usize, level: impl Fn(usize) -> String) -> String {
        let open: String = (0..depth)
            .map(|i| format!("(tag:vip or ({} ", level(i)))
            .collect();
        format!("{open}tag:churned{}", "))".repeat(depth))
    }

    /// Costing a plan nested as alternating AND/OR computes each node's cost a bounded
    /// number of times (remembered per node and running-row count, the counts rounded
    /// past `EXACT_RUNNING`), not once per order tried at every level above it, which
    /// took time exponential in the depth.
    #[test]
    fn nested_ands_and_ors_are_costed_a_bounded_number_of_times_per_node() {
        let now = crate::synth::DEFAULT_ANCHOR;
        let small = || crate::synth::store(2_000, 7, now);
        let engine = crate::Engine::in_memory_with(small());
        let store = small();
        for text in [
            alternating(40, |_| "-tag:gold".to_string()),
            alternating(40, |_| "tag:gold".to_string()),
            // Each level a different selectivity: the running-row counts the nodes below
            // are costed at multiply.
            alternating(40, |i| format!("checkout:-{}d..", i + 1)),
            alternating(40, |i| format!("tag:gold interaction:-{}d..", 3 * i + 1)),
        ] {
            let plan = engine.compile(&text, now).expect("compiles").plan;
            let costs = Costs::new(&store);
            costs.eval(&plan);
            for n in [1.0, 10.0, 100.0, 1000.0] {
                costs.restrict(&plan, n);
            }
            let (computed, nodes) = (costs.computed.get(), nodes(&plan));
            // Once alone, and within at most `EXACT_RUNNING` exact counts plus one per
            // step of the grid over 2^-10..=rows: linear in the nodes (measured: ~70
            // per node for the first two, ~570 and ~660 for the others).
            let grid = BUCKETS_PER_DOUBLING * (f64::from(store.row_count()).log2() + 11.0);
            let per_node = 1 + EXACT_RUNNING + grid as usize + 1;
            assert!(
                computed <= per_node * nodes,
                "{computed} node costs computed for {nodes} nodes: {text}"
            );
        }
    }

    fn store(now: i64) -> Store {
        crate::synth::store(100_000, 7, now)
    }

    /// No positive child run first gives a cheaper chain than the order chosen, and for
    /// some segments the greedy order (cheapest per rejected row first) is not it.
    #[test]
    fn an_and_starts_with_the_child_whose_whole_chain_costs_least() {
        let now = crate::synth::DEFAULT_ANCHOR;
        let engine = crate::Engine::in_memory_with(store(now));
        let store = store(now);
        let costs = Costs::new(&store);
        let mut greedy_differs = false;
        for text in [
            "channel:line,whatsapp is:subscribed -is:over_quota (tag:vip or tag:gold) -tag:churned checkout:-30d.. marketing:<-3d",
            "is:subscribed (tag:vip or tag:gold or tag:會員) -tag:churned checkout:-90d.. interaction:-30d.. joined:<-1y",
            "channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed",
            "checkout:-30d.. interaction:-30d.. team_interaction:-30d.. marketing:-30d.. joined:-1y..",
            "(tag:vip or tag:gold) interaction:2024-01-01..2024-06-30 -is:over_quota",
        ] {
            let plan = engine.compile(text, now).expect("compiles").plan;
            let Plan::And(children) = &plan else {
                panic!("{text} plans as an AND");
            };
            let chosen = costs.order(children, None);
            let cost = costs.chain(&chosen, None);
            let all: Vec<&Plan> = children.iter().collect();
            for first in (0..all.len()).filter(|&i| !matches!(all[i], Plan::Not(_))) {
                let other = costs.chain(&costs.starting_with(&all, first), None);
                assert!(
                    cost <= other,
                    "{text}: {cost} > {other} starting with {first}"
                );
            }
            let greedy = costs.greedy(all, None);
            greedy_differs |= !std::iter::zip(&greedy, &chosen).all(|(a, b)| std::ptr::eq(*a, *b));
        }
        assert!(
            greedy_differs,
            "no segment shows the greedy order costing more"
        );
    }
}
