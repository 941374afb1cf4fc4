//! The time index's cost model in one place: what answering a chunk of a range touches,
//! in bytes (a scan, a bucket order, its prefix words, candidates read one by one), and
//! how many rows the estimates sample. Scans, filters, orders and the executor's
//! estimates all decide by these.

use crate::store::index::words::CHUNK_WORDS;

/// A chunk with fewer candidates than this reads their values one by one; with more, it
/// scans the chunk: scattered reads miss the cache (~17 ns each, measured on 10M rows),
/// while 64 Ki values in order stream at memory bandwidth.
pub(super) const GATHER_BELOW: u64 = 1024;
/// What answering a chunk touches, in bytes: a scan reads each row's high half; a
/// bucket order reads each row it holds in the range and sets its bit, scattered: ~8
/// bytes' worth (on 10M rows a range of a fifth of the rows takes as long either way);
/// a candidate gathered reads a cache line.
pub(super) const SCAN_ROW: usize = 2;
pub(super) const ORDER_ROW: usize = 8;
pub(super) const GATHERED_ROW: usize = 64;
/// What a bucket order touches in every chunk it answers, whatever the range: the binary
/// searches, and the entries of two partly covered buckets (~100 rows each, 4 bytes).
pub(super) const ORDER_CHUNK: usize = 1024;
/// Rows sampled to estimate a range for the cost model, in runs of consecutive rows
/// (4,096 lone rows cost ~70 µs a range at 10M, in cache misses).
pub(super) const ESTIMATE_SAMPLES: usize = 4096;
pub(super) const ESTIMATE_RUN: usize = 4;
/// Rows sampled to tell whether a range is narrow enough for bucket orders.
pub(super) const ORDER_SAMPLES: usize = 512;
/// The least a binned range touches: one chunk of words
/// ([`PrefixWords`](super::prefix_words::PrefixWords)).
pub(super) const LEAST_COST: usize = CHUNK_WORDS * 8;
