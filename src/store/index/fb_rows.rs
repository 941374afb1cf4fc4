//! `FbRows`: the opted-in Facebook contacts with their recurring-notification columns
//! side by side (expiry, last send, frequency), so that `is:fb_sendable` is one pass
//! over a few hundred thousand entries instead of four scans of 10M-row time columns.
//!
//! Built on the first `fb_sendable` after a change and kept until the next one (a
//! [`super::derived::Cached`] value).

use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;
use roaring::RoaringBitmap;

use crate::model::{FbFrequency, Seconds, SendableAt, TimeField};
use crate::store::time::NONE;

/// The opted-in live Facebook rows, ascending, with their columns.
#[derive(Debug, Default)]
pub struct FbRows {
    rows: Vec<u32>,
    expires: Vec<u32>,
    last_sent: Vec<u32>,
    /// 0: none, else 1 + the frequency's index.
    frequency: Vec<u8>,
    /// The entries of each 65,536-row container: (its first row, its entries).
    containers: Vec<(u32, Range<usize>)>,
    /// Each container's entries as 1,024 bit words, and how many entries come before
    /// each word: a row's entry is found in two reads, without a search.
    present: Vec<u64>,
    before: Vec<u32>,
}

/// Each of `rows`' frequency, in row order: 0 for none, else 1 + its index in
/// `frequencies` (one bitmap per frequency), walking both in order (no map of positions:
/// the opted-in rows are too sparse among 10M rows for a dense one, and a hash map of
/// 800,000 rows cost most of a one-shot count's time).
fn frequencies_of(rows: &[u32], frequencies: &[RoaringBitmap]) -> Vec<u8> {
    let mut frequency = vec![0u8; rows.len()];
    for f in FbFrequency::ALL {
        let mut i = 0;
        for row in &frequencies[f.index()] {
            i += rows[i..].iter().take_while(|&&r| r < row).count();
            if rows.get(i) == Some(&row) {
                frequency[i] = 1 + f.index() as u8;
            }
        }
    }
    frequency
}

impl FbRows {
    /// The time columns `is:fb_sendable` reads: expiry, last send.
    pub const COLUMNS: [TimeField; 2] = [TimeField::FbExpiresAt, TimeField::FbLastSentAt];

    /// The opted-in live Facebook `rows` (ascending) with their expiry and last send (the stored
    /// values of those two time columns, the only ones the rule reads, for each of
    /// `rows` in order: [`FbRows::COLUMNS`]) and frequency (from `frequencies`, one
    /// bitmap per frequency). Values missing read as no time.
    pub fn build(
        rows: Vec<u32>,
        [expires, last_sent]: [Vec<u32>; 2],
        frequencies: &[RoaringBitmap],
    ) -> FbRows {
        let whole = |mut values: Vec<u32>| {
            values.resize(rows.len(), NONE);
            values
        };
        let frequency = frequencies_of(&rows, frequencies);
        let containers = containers(&rows);
        let (present, before) = ranks(&rows, &containers);
        FbRows {
            expires: whole(expires),
            last_sent: whole(last_sent),
            containers,
            present,
            before,
            rows,
            frequency,
        }
    }

    /// `sendable(at)` as a filter of bit words, chunk by chunk.
    pub fn filter(self: Arc<Self>, at: SendableAt) -> FbFilter {
        FbFilter {
            rows: self,
            at: Thresholds::new(at),
        }
    }

    /// `sendable(at) ∩ candidates`, looking up few candidates one by one.
    pub fn sendable_within(&self, at: SendableAt, candidates: &RoaringBitmap) -> RoaringBitmap {
        if candidates.len() * LOOKUP_RATIO < self.rows.len() as u64 {
            self.sendable_among(at, candidates)
        } else {
            self.sendable(at) & candidates
        }
    }

    /// Whether entry `i` is sendable at `at` ([`Thresholds::sendable`]).
    #[inline]
    fn is_sendable(&self, i: usize, at: &Thresholds) -> bool {
        at.sendable(self.expires[i], self.last_sent[i], self.frequency[i])
    }

    /// Every sendable row: container by container, in parallel; in each, bits into
    /// words, then the whole container at once (appending row by row costs more than
    /// the test itself).
    pub fn sendable(&self, at: SendableAt) -> RoaringBitmap {
        let at = Thresholds::new(at);
        let parts = self.containers.par_iter().map(|(first, entries)| {
            let mut words = vec![0u64; 1024];
            self.set_sendable(entries.clone(), *first, &at, &mut words);
            super::rowset::from_words(*first as usize, words)
        });
        super::rowset::union_in_order(parts.collect())
    }

    /// Sets in a container's `words` (zero on entry; rows past them are left out) the
    /// bits of its sendable `entries`, the container starting at row `first`. The
    /// entries are tested [`FLAGS`] at a time, each block in a loop of its own without
    /// bounds checks, then their bits set: a word's entries come together (rows ascend),
    /// so its bits gather in a register and each entry writes the word whole, no write
    /// waiting on reading the one before.
    fn set_sendable(&self, entries: Range<usize>, first: u32, at: &Thresholds, words: &mut [u64]) {
        let rows = self.rows[entries.clone()].chunks(FLAGS);
        let expires = self.expires[entries.clone()].chunks(FLAGS);
        let last_sent = self.last_sent[entries.clone()].chunks(FLAGS);
        let frequency = self.frequency[entries].chunks(FLAGS);
        let (mut current, mut bits) = (usize::MAX, 0u64);
        for (((rows, expires), last_sent), frequency) in
            rows.zip(expires).zip(last_sent).zip(frequency)
        {
            // The tests first, a block at a time in a loop of their own (no bit waits
            // on them), then the bits.
            let mut flags = [0u64; FLAGS];
            let tested = expires.iter().zip(last_sent).zip(frequency);
            for (flag, ((&e, &l), &f)) in flags.iter_mut().zip(tested) {
                *flag = u64::from(at.sendable(e, l, f));
            }
            for (&row, flag) in rows.iter().zip(flags) {
                let row = (row - first) as usize;
                let so_far = if row / 64 == current { bits } else { 0 };
                bits = so_far | flag << (row % 64);
                current = row / 64;
                if let Some(word) = words.get_mut(current) {
                    *word = bits;
                }
            }
        }
    }

    /// How many rows are sendable: the same test, counted container by container in
    /// parallel (a plain loop in each, which the compiler keeps tight), nothing built.
    pub fn count_sendable(&self, at: SendableAt) -> u64 {
        let at = Thresholds::new(at);
        let sendable = |i: usize| u64::from(self.is_sendable(i, &at));
        let container =
            |(_, entries): &(u32, Range<usize>)| entries.clone().map(sendable).sum::<u64>();
        self.containers.par_iter().map(container).sum()
    }

    /// The sendable rows among fewer `candidates`: container by container in parallel
    /// (each lookup waits on cache misses, so two cores overlap twice as many), each
    /// candidate's entry found by its rank ([`FbRows::entry`]).
    fn sendable_among(&self, at: SendableAt, candidates: &RoaringBitmap) -> RoaringBitmap {
        let at = Thresholds::new(at);
        let parts = self.containers.par_iter().enumerate();
        let parts = parts.map(|(k, (first, entries))| {
            let hits = candidates.range(*first..=first | 0xFFFF).filter(|&row| {
                let entry = self.entry(k, entries.start, (row - first) as usize);
                entry.is_some_and(|i| self.is_sendable(i, &at))
            });
            RoaringBitmap::from_sorted_iter(hits).unwrap_or_default()
        });
        super::rowset::union_in_order(parts.collect())
    }

    /// The entry of container `k`'s row `bit` (its entries start at `start`), if it has
    /// one: its rank among the container's entries, in two reads.
    #[inline]
    fn entry(&self, k: usize, start: usize, bit: usize) -> Option<usize> {
        let at = k * WORDS + bit / 64;
        let (word, mask) = (self.present[at], 1u64 << (bit % 64));
        let below = (word & (mask - 1)).count_ones();
        (word & mask != 0).then(|| start + (self.before[at] + below) as usize)
    }
}

/// The entries of each 65,536-row container of ascending `rows`.
fn containers(rows: &[u32]) -> Vec<(u32, Range<usize>)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(&row) = rows.get(start) {
        let first = row & !0xFFFF;
        let end = start + rows[start..].partition_point(|&r| r & !0xFFFF == first);
        out.push((first, start..end));
        start = end;
    }
    out
}

/// For each of `containers` (of ascending `rows`), its entries' bits in 1,024 words,
/// and the entries before each word.
fn ranks(rows: &[u32], containers: &[(u32, Range<usize>)]) -> (Vec<u64>, Vec<u32>) {
    let mut present = vec![0u64; containers.len() * WORDS];
    let mut before = vec![0u32; containers.len() * WORDS];
    for (k, (first, entries)) in containers.iter().enumerate() {
        let words = &mut present[k * WORDS..(k + 1) * WORDS];
        for &row in &rows[entries.clone()] {
            let bit = (row - first) as usize;
            words[bit / 64] |= 1 << (bit % 64);
        }
        let mut so_far = 0;
        for (count, word) in before[k * WORDS..(k + 1) * WORDS].iter_mut().zip(&*words) {
            *count = so_far;
            so_far += word.count_ones();
        }
    }
    (present, before)
}

/// `is:fb_sendable` at one instant, ready to narrow bit words chunk by chunk (the
/// executor's fused AND).
pub struct FbFilter {
    rows: Arc<FbRows>,
    at: Thresholds,
}

impl FbFilter {
    /// Clears the bits of chunk `i`'s `words` (1,024 of them, fewer at the store's end)
    /// whose row is not sendable: first those of rows with no entry (a word AND), then
    /// the chunk's entries tested in one pass, or, for few bits left, each one's entry
    /// found by its rank in the chunk's words.
    pub fn keep(&self, i: usize, words: &mut [u64]) {
        let rows = &self.rows;
        let first = (i as u32) << 16;
        let Ok(k) = rows.containers.binary_search_by_key(&first, |(f, _)| *f) else {
            return words.fill(0);
        };
        let entries = rows.containers[k].1.clone();
        let present = &rows.present[k * WORDS..][..words.len()];
        words.iter_mut().zip(present).for_each(|(w, p)| *w &= p);
        let set: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
        if set * CHUNK_LOOKUP_RATIO < entries.len() as u64 {
            return self.keep_each(k, entries.start, words);
        }
        let mut sendable = vec![0u64; words.len()];
        rows.set_sendable(entries, first, &self.at, &mut sendable);
        words.iter_mut().zip(sendable).for_each(|(w, s)| *w &= s);
    }

    /// Tests each set bit of container `k`'s `words` (each an entry's row; the
    /// container's entries start at `start`), its entry found by rank.
    fn keep_each(&self, k: usize, start: usize, words: &mut [u64]) {
        for (w, word) in words.iter_mut().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                let entry = self.rows.entry(k, start, w * 64 + bit as usize);
                let sendable = entry.is_some_and(|i| self.rows.is_sendable(i, &self.at));
                *word &= !(u64::from(!sendable) << bit);
            }
        }
    }
}

/// [`SendableAt`] in the stored values' terms.
struct Thresholds {
    now: i64,
    /// The latest last send allowed, by the stored frequency (0: none, so never due
    /// again once sent to).
    latest: [i64; 4],
}

impl Thresholds {
    /// Whether an entry with these columns is sendable: not expired (no expiry, or
    /// expiring after now), and never sent to, or last sent no later than its frequency
    /// allows. Without branches: which entries pass is unpredictable, and a mispredicted
    /// branch costs more than the test.
    #[inline]
    fn sendable(&self, expires: u32, last_sent: u32, frequency: u8) -> bool {
        let live = (expires == NONE) | (i64::from(expires) > self.now);
        let latest = self.latest[usize::from(frequency).min(3)];
        let due = (last_sent == NONE) | (i64::from(last_sent) <= latest);
        live & due
    }

    fn new(at: SendableAt) -> Thresholds {
        let stored = |t: Seconds| t.clamp(-1, i64::from(NONE));
        let [daily, weekly, monthly] = at.latest_send.map(stored);
        Thresholds {
            now: stored(at.now),
            latest: [i64::MIN, daily, weekly, monthly],
        }
    }
}

/// Entries tested together before their bits are set.
const FLAGS: usize = 64;

/// Candidates fewer than the opted-in rows over this are looked up one by one.
const LOOKUP_RATIO: u64 = 4;

/// In a chunk's words, set bits of opted-in rows fewer than the chunk's entries over this
/// are looked up one by one (by rank: a few reads each, where a pass tests every entry;
/// galloping to each, at 1 in 4, `is:fb_sendable optout:cart` spent 10 ms at 10M on
/// lookups a 0.5 ms pass replaces).
const CHUNK_LOOKUP_RATIO: u64 = 2;

/// Bit words of a 65,536-row container.
const WORDS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// An entry: row, expiry, last send, frequency (stored forms).
    type Entry = (u32, u32, u32, u8);

    /// Opted-in rows over three containers (the last partial, one skipped) with mixed
    /// expiries, last sends and frequencies (which rows not opted in hold too); `at`
    /// 1,000,000.
    fn sample() -> (FbRows, Vec<Entry>, SendableAt) {
        let mut state = 7u64;
        let mut entries = Vec::new();
        for row in (0..65_536u32).chain(131_072..150_000) {
            if next(&mut state).is_multiple_of(3) {
                let time = |s: &mut u64| match next(s) % 4 {
                    0 => NONE,
                    _ => 990_000 + (next(s) % 20_000) as u32,
                };
                let (expires, last_sent) = (time(&mut state), time(&mut state));
                entries.push((row, expires, last_sent, (next(&mut state) % 4) as u8));
            }
        }
        let rows: Vec<u32> = entries.iter().map(|e| e.0).collect();
        let mut frequencies = vec![RoaringBitmap::new(); FbFrequency::ALL.len()];
        for &(row, _, _, f) in entries.iter().filter(|e| e.3 > 0) {
            frequencies[usize::from(f) - 1].insert(row);
        }
        // Rows with a frequency that are not opted in: between entries, and past the last.
        for (i, stray) in [(0, 70_000), (1, 140_001), (2, 200_000)] {
            if !rows.contains(&stray) {
                frequencies[i].insert(stray);
            }
        }
        let columns = [
            entries.iter().map(|e| e.1).collect(),
            entries.iter().map(|e| e.2).collect(),
        ];
        let at = SendableAt {
            now: 1_000_000,
            latest_send: [997_000, 994_000, 991_000],
        };
        (FbRows::build(rows, columns, &frequencies), entries, at)
    }

    #[test]
    fn each_row_takes_its_own_frequency_and_no_other_row_s() {
        let rows = [5, 10, 20, 70_000];
        let mut frequencies = vec![RoaringBitmap::new(); FbFrequency::ALL.len()];
        frequencies[0].extend([1, 10, 69_999]);
        frequencies[1].extend([20, 25, 100_000]);
        frequencies[2].extend([3, 6]);
        assert_eq!(frequencies_of(&rows, &frequencies), [0, 1, 2, 0]);
        assert_eq!(frequencies_of(&[], &frequencies), [0u8; 0]);
    }

    #[test]
    fn a_chunk_keeps_exactly_its_sendable_rows_by_pass_and_by_rank() {
        let (rows, entries, at) = sample();
        let thresholds = Thresholds::new(at);
        let sendable: RoaringBitmap = (entries.iter())
            .filter(|&&(_, e, l, f)| thresholds.sendable(e, l, f))
            .map(|e| e.0)
            .collect();
        assert!(sendable.len() > 100 && sendable.len() < entries.len() as u64 / 2);
        let filter = Arc::new(rows).filter(at);
        // Every row (a pass), one in 50 (by rank), a few, none.
        for step in [1u32, 50, 5_000, 200_000] {
            for chunk in 0..3usize {
                let base = (chunk as u32) << 16;
                let mut words = vec![0u64; 1024];
                for bit in (0..65_536u32).step_by(step as usize) {
                    words[bit as usize / 64] |= 1 << (bit % 64);
                }
                filter.keep(chunk, &mut words);
                let kept = super::super::rowset::from_words(base as usize, words);
                let candidates = (base..base + 65_536).step_by(step as usize);
                let expected: RoaringBitmap =
                    candidates.filter(|&r| sendable.contains(r)).collect();
                assert_eq!(kept, expected, "chunk {chunk}, one row in {step}");
            }
        }
    }

    #[test]
    fn few_candidates_looked_up_by_rank_are_the_sendable_ones() {
        let (rows, entries, at) = sample();
        let thresholds = Thresholds::new(at);
        let sendable: RoaringBitmap = (entries.iter())
            .filter(|&&(_, e, l, f)| thresholds.sendable(e, l, f))
            .map(|e| e.0)
            .collect();
        let candidates: RoaringBitmap = (0..210_000u32).step_by(97).collect();
        assert!(candidates.len() * LOOKUP_RATIO < rows.rows.len() as u64);
        assert_eq!(
            rows.sendable_within(at, &candidates),
            &sendable & &candidates
        );
    }
}
