//! The fused AND: an AND of index bitmaps and time ranges (their negations, ORs and ANDs
//! of them too) answered 65,536 rows at a time over plain bit words. A dense OR is
//! answered the same way, as a fused AND of one step (`Run::fuses_or`). Each chunk goes
//! through every child in cost order (cut to the live rows after the first, if that is
//! a negation, which may keep others) before the next chunk starts, so the rows so far
//! stay in 8 KiB of cache and no step builds a roaring bitmap over all rows (at 10M rows
//! each such step cost 1–3 ms in allocations, container conversions and merges, more
//! than the bytes it read).
//!
//! A bitmap is ANDed word by word through its word view (`store::words`), or set value
//! by value when it is sparse or made for this query. Consecutive steps that read only
//! word views (and NOTs, ANDs and ORs of them) go through a chunk together, 64 words at
//! a time, so their views stream from memory side by side. A time range reads, in each chunk,
//! the cheapest of the rows' values one by one, the bucket order (its rows, or its
//! prefix words for a wide range), or the words holding a row so far
//! (`store::ChunkFilter`); `is:fb_sendable` tests the chunk's opted-in
//! Facebook entries, or looks up its few rows so far (`store::FbFilter`); held more than
//! once in a plan, it tests each chunk once for all ([`SharedFb`]) unless few rows are
//! left there. An OR reads its word views as one node, a block at a time, then its
//! other children, the largest first, each on the rows the ones before left; a child
//! with no row in the chunk (a lookup, an AND holding one) is skipped unread, and so is
//! an AND's chunk. A chunk stops as soon as it holds no row (a word view knows its
//! empty chunks). Chunks run in parallel. The executor fuses an AND when its most
//! selective child holds at least one row in 64 and it is more than one or two stored
//! bitmaps (`Run::fuses`): sparser, the
//! roaring path visits only the chunks holding a row, one candidate at a time. A plan
//! nested deeper than [`MAX_DEPTH`] takes the roaring path too.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::{Rows, Run, Trace, lookup};
use crate::model::SendableAt;
use crate::plan::{Leaf, Plan};
use crate::store::{
    CHUNK_ROWS, ChunkFilter, FbFilter, Store, Words, from_words, set_chunk, union_in_order,
};

/// How deeply a fused AND may nest: each level keeps a chunk's words (8 KiB) while its
/// children run. Deeper plans take the roaring path (at 6, the hunter's long nested ORs
/// did, 2x slower).
const MAX_DEPTH: usize = 12;

/// Words per block of a pass over word views: consecutive steps that only read word
/// views ([`Bits`]) go through a chunk together, a block at a time, so that every view's
/// words stream from memory at once (one view after another, each 8 KiB read alone,
/// kept the memory at a third of its bandwidth).
const BLOCK: usize = 64;

/// A node ready to narrow a chunk's words.
enum Node<'s> {
    /// Word views only: read a block at a time.
    Bits(Bits),
    /// A bitmap too sparse for words, or made for this query: set value by value.
    Values(Rows<'s>),
    Range(ChunkFilter<'s>),
    FbSendable(FbFilter),
    /// `is:fb_sendable` where a plan holds it more than once: each chunk's rows tested
    /// once, by the first occurrence that reads the chunk.
    FbShared(Arc<SharedFb>),
    Not(Box<Node<'s>>),
    And(Vec<Node<'s>>),
    Or(Vec<Node<'s>>),
}

/// An index bitmap as words over every row, or a negation, AND or OR of such.
enum Bits {
    View(Arc<Words>),
    Not(Box<Bits>),
    And(Vec<Bits>),
    Or(Vec<Bits>),
}

/// `is:fb_sendable` at one instant, shared by its occurrences in one plan: each chunk's
/// sendable rows as words, tested at the first use.
pub(super) struct SharedFb {
    at: SendableAt,
    filter: FbFilter,
    chunks: Vec<OnceLock<Vec<u64>>>,
}

impl SharedFb {
    /// Clears the bits of chunk `i`'s `words` whose row is not sendable: from the chunk's
    /// words when an occurrence tested it already, else through the filter alone when
    /// few rows are left (it looks them up one by one), else tested whole and kept.
    fn keep(&self, i: usize, words: &mut [u64]) {
        if self.chunks[i].get().is_none() && ones(words) < FEW_FB_ROWS {
            return self.filter.keep(i, words);
        }
        let sendable = self.chunks[i].get_or_init(|| {
            let mut all = vec![u64::MAX; words.len()];
            self.filter.keep(i, &mut all);
            all
        });
        words.iter_mut().zip(sendable).for_each(|(w, s)| *w &= s);
    }
}

/// Rows so few in a chunk that a shared `is:fb_sendable` looks them up rather than test
/// the chunk's opted-in entries whole (1 in 256 of its rows).
const FEW_FB_ROWS: u64 = (CHUNK_ROWS / 256) as u64;

/// An AND compiled for fused evaluation: its children in the order they run (the first
/// cut to the live rows if it may keep others, as a negation does).
pub(super) struct Fused<'s> {
    steps: Vec<Node<'s>>,
    rows: usize,
}

/// Whether an AND of `children` can be fused: it nests no deeper than [`MAX_DEPTH`].
pub(super) fn fusable(children: &[&Plan]) -> bool {
    fn node(plan: &Plan, depth: usize) -> bool {
        depth <= MAX_DEPTH
            && match plan {
                Plan::Not(inner) => node(inner, depth + 1),
                Plan::And(children) | Plan::Or(children) => {
                    children.iter().all(|c| node(c, depth + 1))
                }
                _ => true,
            }
    }
    children.iter().all(|c| node(c, 1))
}

impl<'s> Fused<'s> {
    /// `order` (an AND's children in cost order, [`fusable`]) compiled over `run`'s
    /// store.
    pub(super) fn new<T: Trace>(run: &Run<'s, T>, order: &[&Plan]) -> Fused<'s> {
        let store = run.store;
        let compiler = Compiler {
            run,
            shared: shared_fb(store, order),
        };
        let mut steps: Vec<Node<'s>> = order.iter().map(|c| compiler.compile(c)).collect();
        let first_within_live = order.first().is_some_and(|first| within_live(first));
        if let Some(first) = steps.first_mut().filter(|_| !first_within_live) {
            let live = bitmap(store, Rows::Stored(store.live()));
            let taken = std::mem::replace(first, Node::And(Vec::new()));
            *first = and(vec![taken, live]);
        }
        Fused {
            steps,
            rows: store.row_count() as usize,
        }
    }

    /// How many rows match, and how many were left after each step.
    pub(super) fn count(&self) -> (u64, Vec<u64>) {
        let left = self.each_chunk(|_, _| ()).1;
        (left.last().copied().unwrap_or(0), left)
    }

    /// The matching rows, built chunk by chunk, and how many were left after each step.
    pub(super) fn rows(&self) -> (RoaringBitmap, Vec<u64>) {
        let (parts, left) = self.each_chunk(|i, words| from_words(i * CHUNK_ROWS, words));
        (union_in_order(parts), left)
    }

    /// `each` of every chunk's words after all steps (in chunk order), in parallel, and
    /// the rows left after each step over all chunks.
    fn each_chunk<R: Send>(
        &self,
        each: impl Fn(usize, Vec<u64>) -> R + Sync,
    ) -> (Vec<R>, Vec<u64>) {
        let steps = self.steps.len();
        let chunk = |i: usize| {
            let mut left = vec![0u64; steps];
            let words = self.chunk(i, &mut left);
            (each(i, words), left)
        };
        let done: Vec<(R, Vec<u64>)> = (0..self.chunks()).into_par_iter().map(chunk).collect();
        let mut left = vec![0u64; steps];
        let parts = done
            .into_iter()
            .map(|(part, chunk_left)| {
                left.iter_mut().zip(chunk_left).for_each(|(a, b)| *a += b);
                part
            })
            .collect();
        (parts, left)
    }

    fn chunks(&self) -> usize {
        self.rows.div_ceil(CHUNK_ROWS)
    }

    /// Chunk `i`'s words after every step, adding to `left` the rows each step left.
    /// Consecutive steps over word views go through the chunk together ([`keep_bits`]).
    fn chunk(&self, i: usize, left: &mut [u64]) -> Vec<u64> {
        if self.steps.first().is_some_and(|first| empty_in(first, i)) {
            return Vec::new();
        }
        let rows = (self.rows - i * CHUNK_ROWS).min(CHUNK_ROWS);
        let mut words = vec![u64::MAX; rows.div_ceil(64)];
        if let Some(last) = words.last_mut().filter(|_| !rows.is_multiple_of(64)) {
            *last = u64::MAX >> (64 - rows % 64);
        }
        let mut at = 0;
        while at < self.steps.len() {
            let bits: Vec<&Bits> = self.steps[at..].iter().map_while(Node::bits).collect();
            let done = match bits.is_empty() {
                true => {
                    keep(&self.steps[at], i, &mut words);
                    left[at] += ones(&words);
                    1
                }
                false => keep_bits(&bits, i, &mut words, &mut left[at..]),
            };
            if left[at + done - 1] == 0 {
                break;
            }
            at += done;
        }
        words
    }
}

impl Node<'_> {
    fn bits(&self) -> Option<&Bits> {
        match self {
            Node::Bits(bits) => Some(bits),
            _ => None,
        }
    }

    fn into_bits(self) -> Option<Bits> {
        match self {
            Node::Bits(bits) => Some(bits),
            _ => None,
        }
    }
}

/// Whether `node` has no row in chunk `i`, known without reading the chunk (a bitmap's
/// rows there are counted).
fn empty_in(node: &Node<'_>, i: usize) -> bool {
    let base = (i * CHUNK_ROWS) as u32;
    match node {
        Node::Bits(bits) => bits.empty_in(i),
        Node::Values(rows) => {
            rows.range_cardinality(base..base.saturating_add(CHUNK_ROWS as u32)) == 0
        }
        Node::And(children) => children.iter().any(|c| empty_in(c, i)),
        Node::Or(children) => children.iter().all(|c| empty_in(c, i)),
        Node::Range(_) | Node::FbSendable(_) | Node::FbShared(_) | Node::Not(_) => false,
    }
}

/// Whether `plan`'s rows are all live, as every index's, time range's and lookup's are
/// (deleting a row blanks its fields); a negation's are not.
fn within_live(plan: &Plan) -> bool {
    match plan {
        Plan::Not(_) => false,
        Plan::Or(children) => children.iter().all(within_live),
        Plan::And(children) => children.iter().any(within_live),
        _ => true,
    }
}

/// Compiles plans into nodes over `run`'s store.
struct Compiler<'r, 's, T> {
    run: &'r Run<'s, T>,
    /// `is:fb_sendable` shared by its occurrences, at each instant the plan holds more
    /// than once.
    shared: Vec<Arc<SharedFb>>,
}

impl<'s, T: Trace> Compiler<'_, 's, T> {
    /// `plan` as a node (it is [`fusable`]); an AND's children in cost order.
    fn compile(&self, plan: &Plan) -> Node<'s> {
        let (run, store) = (self.run, self.run.store);
        match plan {
            Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                Node::Range(store.chunk_filter(*field, *lo, *hi, false))
            }
            Plan::Leaf(Leaf::FbSendable(at)) => match self.shared.iter().find(|s| s.at == *at) {
                Some(shared) => Node::FbShared(Arc::clone(shared)),
                None => Node::FbSendable(store.fb_filter(*at)),
            },
            Plan::Not(inner) => match &**inner {
                Plan::Leaf(Leaf::TimeRange { field, lo, hi }) => {
                    Node::Range(store.chunk_filter(*field, *lo, *hi, true))
                }
                inner => match self.compile(inner) {
                    Node::Bits(bits) => Node::Bits(Bits::Not(Box::new(bits))),
                    inner => Node::Not(Box::new(inner)),
                },
            },
            Plan::And(children) => {
                let order = run.costs.order(children, None);
                and(order.into_iter().map(|c| self.compile(c)).collect())
            }
            Plan::Or(children) => self.or(children),
            Plan::All => bitmap(store, Rows::Stored(store.live())),
            Plan::Nothing => Node::Values(Rows::Made(RoaringBitmap::new())),
            Plan::Leaf(leaf) => bitmap(store, lookup(leaf, store)),
        }
    }

    /// An OR: its word views first, as one node read a block at a time (what they take,
    /// the others need not look at), then the others, the largest (by estimate) first.
    fn or(&self, children: &[Plan]) -> Node<'s> {
        let mut others: Vec<(&Plan, Node<'s>)> = Vec::new();
        let mut views = Vec::new();
        for child in children {
            match self.compile(child) {
                Node::Bits(bits) => views.push(bits),
                node => others.push((child, node)),
            }
        }
        let views = match views.len() {
            0 => None,
            1 => views.pop(),
            _ => Some(Bits::Or(views)),
        };
        if others.is_empty() {
            return Node::Bits(views.unwrap_or(Bits::Or(Vec::new())));
        }
        let estimate = |plan: &Plan| self.run.costs.estimate(plan);
        others.sort_by(|a, b| estimate(b.0).total_cmp(&estimate(a.0)));
        let others = others.into_iter().map(|(_, node)| node);
        Node::Or(views.map(Node::Bits).into_iter().chain(others).collect())
    }
}

/// `is:fb_sendable` shared by its occurrences in `order`, at each instant it holds more
/// than once.
fn shared_fb(store: &Store, order: &[&Plan]) -> Vec<Arc<SharedFb>> {
    fn find(plan: &Plan, out: &mut Vec<SendableAt>) {
        match plan {
            Plan::Leaf(Leaf::FbSendable(at)) => out.push(*at),
            Plan::Not(inner) => find(inner, out),
            Plan::And(children) | Plan::Or(children) => children.iter().for_each(|c| find(c, out)),
            _ => {}
        }
    }
    let mut ats = Vec::new();
    order.iter().for_each(|plan| find(plan, &mut ats));
    ats.sort();
    let chunks = (store.row_count() as usize).div_ceil(CHUNK_ROWS);
    let repeated = ats.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]);
    let mut repeated: Vec<SendableAt> = repeated.collect();
    repeated.dedup();
    let shared = |at: SendableAt| SharedFb {
        at,
        filter: store.fb_filter(at),
        chunks: (0..chunks).map(|_| OnceLock::new()).collect(),
    };
    repeated
        .into_iter()
        .map(|at| Arc::new(shared(at)))
        .collect()
}

/// An AND of `children` (in the order they run): of word views only, read as one.
fn and(children: Vec<Node<'_>>) -> Node<'_> {
    match children.iter().all(|c| c.bits().is_some()) {
        true => Node::Bits(Bits::And(
            children.into_iter().filter_map(Node::into_bits).collect(),
        )),
        false => Node::And(children),
    }
}

/// A bitmap as words when the store keeps a view of it, else value by value. A bitmap
/// made for this query never gets a view: views are kept by the bitmap's address.
fn bitmap<'s>(store: &'s Store, rows: Rows<'s>) -> Node<'s> {
    let view = match &rows {
        Rows::Stored(b) => store.word_view(b),
        Rows::Derived(b) => store.word_view(b),
        Rows::Made(_) => None,
    };
    view.map_or(Node::Values(rows), |view| Node::Bits(Bits::View(view)))
}

/// Clears the bits of chunk `i`'s `words` whose rows `node` leaves out (it never sets
/// one).
fn keep(node: &Node<'_>, i: usize, words: &mut [u64]) {
    match node {
        Node::Bits(bits) => {
            keep_bits(&[bits], i, words, &mut [0]);
        }
        Node::Values(rows) => {
            let mut set = vec![0u64; words.len()];
            set_chunk(rows, i, &mut set);
            words
                .iter_mut()
                .zip(set)
                .for_each(|(word, set)| *word &= set);
        }
        Node::Range(filter) => filter.keep(i, words),
        Node::FbSendable(filter) => filter.keep(i, words),
        Node::FbShared(shared) => shared.keep(i, words),
        Node::Not(inner) if empty_in(inner, i) => {}
        Node::Not(inner) => {
            let mut inside = words.to_vec();
            keep(inner, i, &mut inside);
            words
                .iter_mut()
                .zip(inside)
                .for_each(|(word, inside)| *word ^= inside);
        }
        Node::And(children) => {
            if children.iter().any(|c| empty_in(c, i)) {
                return words.fill(0);
            }
            for child in children {
                if words.iter().all(|&w| w == 0) {
                    return;
                }
                keep(child, i, words);
            }
        }
        Node::Or(children) => {
            let mut rest = words.to_vec();
            words.fill(0);
            // A child with no row in the chunk takes nothing: not even its words are read.
            for child in children.iter().filter(|c| !empty_in(c, i)) {
                if rest.iter().all(|&w| w == 0) {
                    return;
                }
                match child {
                    Node::Values(rows) => move_values(rows, i, &mut rest, words),
                    Node::Bits(bits) => move_bits(bits, i, &mut rest, words),
                    child => move_kept(child, i, &mut rest, words),
                }
            }
        }
    }
}

/// Moves from `rest` to `words` the bits of chunk `i` that `child` keeps, through a copy
/// of `rest` that it narrows.
fn move_kept(child: &Node<'_>, i: usize, rest: &mut [u64], words: &mut [u64]) {
    let mut kept = rest.to_vec();
    keep(child, i, &mut kept);
    for ((word, rest), kept) in words.iter_mut().zip(rest).zip(kept) {
        *word |= kept;
        *rest ^= kept;
    }
}

/// Moves from `rest` to `words` the bits of chunk `i` that `bits` holds, a block at a
/// time (no copy of the chunk's words; a block with nothing left reads no view).
fn move_bits(bits: &Bits, i: usize, rest: &mut [u64], words: &mut [u64]) {
    let blocks = rest.chunks_mut(BLOCK).zip(words.chunks_mut(BLOCK));
    for (b, (rest, words)) in blocks.enumerate() {
        if rest.iter().all(|&w| w == 0) {
            continue;
        }
        let mut kept = [0u64; BLOCK];
        let kept = &mut kept[..rest.len()];
        kept.copy_from_slice(rest);
        bits.and_into(i, b * BLOCK, kept);
        for ((word, rest), kept) in words.iter_mut().zip(rest).zip(&*kept) {
            *word |= kept;
            *rest ^= kept;
        }
    }
}

/// Moves from `rest` to `words` the bits of chunk `i` that `rows` holds, row by row: an
/// OR's value-by-value child (a lookup's few rows) reads only its own rows, where a copy
/// of the words would touch 16 KiB a chunk.
fn move_values(rows: &RoaringBitmap, i: usize, rest: &mut [u64], words: &mut [u64]) {
    let base = (i * CHUNK_ROWS) as u64;
    let end = (base + rest.len() as u64 * 64).min(1 << 32);
    if end <= base {
        return;
    }
    for row in rows.range(base as u32..=(end - 1) as u32) {
        let at = (u64::from(row) - base) as usize;
        let bit = rest[at / 64] & 1 << (at % 64);
        rest[at / 64] ^= bit;
        words[at / 64] |= bit;
    }
}

/// Narrows chunk `i`'s `words` by every one of `steps` in turn, a block of words at a
/// time (each block through all steps before the next), adding to `left` the rows each
/// step left; a block left empty skips the rest. Returns how many steps ran.
fn keep_bits(steps: &[&Bits], i: usize, words: &mut [u64], left: &mut [u64]) -> usize {
    for (b, block) in words.chunks_mut(BLOCK).enumerate() {
        let at = b * BLOCK;
        for (step, left) in steps.iter().zip(left.iter_mut()) {
            step.and_into(i, at, block);
            let kept = ones(block);
            *left += kept;
            if kept == 0 {
                break;
            }
        }
    }
    steps.len()
}

impl Bits {
    /// Whether chunk `i` holds no row, known without reading it.
    fn empty_in(&self, i: usize) -> bool {
        match self {
            Bits::View(view) => view.chunk(i).is_none(),
            Bits::And(children) => children.iter().any(|c| c.empty_in(i)),
            Bits::Or(children) => children.iter().all(|c| c.empty_in(i)),
            Bits::Not(_) => false,
        }
    }

    /// ANDs into `block` these bits for chunk `i`'s words from `at`.
    fn and_into(&self, i: usize, at: usize, block: &mut [u64]) {
        match self {
            Bits::View(view) => match view_words(view, i, at, block.len()) {
                Some(view) => block.iter_mut().zip(view).for_each(|(w, v)| *w &= v),
                None => block.fill(0),
            },
            Bits::Not(inner) => match &**inner {
                Bits::View(view) => {
                    if let Some(view) = view_words(view, i, at, block.len()) {
                        block.iter_mut().zip(view).for_each(|(w, v)| *w &= !v);
                    }
                }
                inner => {
                    let mut inside = [0u64; BLOCK];
                    let inside = &mut inside[..block.len()];
                    inner.write(i, at, inside);
                    block.iter_mut().zip(inside).for_each(|(w, v)| *w &= !*v);
                }
            },
            Bits::And(children) => children.iter().for_each(|c| c.and_into(i, at, block)),
            Bits::Or(_) => {
                let mut any = [0u64; BLOCK];
                let any = &mut any[..block.len()];
                self.write(i, at, any);
                block.iter_mut().zip(any).for_each(|(w, v)| *w &= *v);
            }
        }
    }

    /// Writes into `block` these bits for chunk `i`'s words from `at`.
    fn write(&self, i: usize, at: usize, block: &mut [u64]) {
        match self {
            Bits::View(view) => match view_words(view, i, at, block.len()) {
                Some(view) => block.copy_from_slice(view),
                None => block.fill(0),
            },
            Bits::Or(children) => {
                block.fill(0);
                let mut one = [0u64; BLOCK];
                let one = &mut one[..block.len()];
                for child in children {
                    // A view's words are ORed in as they are read.
                    if let Bits::View(view) = child {
                        if let Some(view) = view_words(view, i, at, block.len()) {
                            block.iter_mut().zip(view).for_each(|(w, v)| *w |= v);
                        }
                        continue;
                    }
                    child.write(i, at, one);
                    block.iter_mut().zip(&*one).for_each(|(w, v)| *w |= v);
                }
            }
            _ => {
                block.fill(u64::MAX);
                self.and_into(i, at, block);
            }
        }
    }
}

/// `view`'s `len` words of chunk `i` from `at`, or `None` when the chunk holds no row.
fn view_words(view: &Words, i: usize, at: usize, len: usize) -> Option<&[u64]> {
    view.chunk(i)?.get(at..at + len)
}

fn ones(words: &[u64]) -> u64 {
    words.iter().map(|w| u64::from(w.count_ones())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Quiet, execute};

    /// A store of two chunks and an engine over the same contacts (to compile segments).
    fn two_chunks() -> (Store, crate::Engine) {
        let now = crate::synth::DEFAULT_ANCHOR;
        let store = || crate::synth::store(70_000, 3, now);
        (store(), crate::Engine::in_memory_with(store()))
    }

    fn nodes_sharing(node: &Node<'_>) -> usize {
        match node {
            Node::FbShared(_) => 1,
            Node::FbSendable(_) => 0,
            Node::Not(inner) => nodes_sharing(inner),
            Node::And(children) | Node::Or(children) => children.iter().map(nodes_sharing).sum(),
            _ => 0,
        }
    }

    /// `is:fb_sendable` held twice in a fused pass shares one filter (each chunk tested
    /// once), held once it does not; either way the rows are the roaring path's.
    #[test]
    fn fb_sendable_held_twice_is_shared_and_answers_alike() {
        let (store, engine) = two_chunks();
        let now = crate::synth::DEFAULT_ANCHOR;
        for (text, shared) in [
            (
                "is:fb_sendable or (tag:vip is:fb_sendable) or -channel:line",
                2,
            ),
            (
                "(is:fb_sendable or tag:gold) (-is:fb_sendable or tag:vip)",
                2,
            ),
            ("is:fb_sendable or tag:vip or -channel:line", 0),
        ] {
            let plan = engine.compile(text, now).expect("compiles").plan;
            let run = Run::new(&store, Quiet);
            let fused = Fused::new(&run, &[&plan]);
            let found: usize = fused.steps.iter().map(nodes_sharing).sum();
            assert_eq!(found, shared, "{text}");
            let (Plan::Or(children) | Plan::And(children)) = &plan else {
                panic!("{text}: an OR or an AND");
            };
            // The roaring path: each child's rows, united or intersected.
            let each = children.iter().map(|c| execute(c, &store));
            let expected = match &plan {
                Plan::Or(_) => each.fold(RoaringBitmap::new(), |a, b| a | b),
                _ => each.reduce(|a, b| a & b).unwrap_or_default(),
            };
            assert_eq!(fused.rows().0, expected, "{text}");
        }
    }

    /// Plans nest up to [`MAX_DEPTH`] levels and stay fusable; deeper ones are not.
    #[test]
    fn plans_as_deep_as_max_depth_are_fused() {
        let nested = |depth: usize| {
            (0..depth).fold(Plan::Leaf(Leaf::Tagged), |inner, _| {
                Plan::Not(Box::new(inner))
            })
        };
        assert!(fusable(&[&nested(MAX_DEPTH - 1)]));
        assert!(!fusable(&[&nested(MAX_DEPTH)]));
    }
}
