//! `TimeColumn`: one optional `u32` instant per row, kept as two `u16` halves in two
//! arrays, so that a range scan reads 2 bytes a row, not 4.
//!
//! A stored value `v` is `high << 16 | low`; `high` names a bucket of 65,536 seconds
//! (18.2 hours). A range `[lo, hi)` covers some buckets wholly and at most two (the
//! buckets of `lo` and of `hi`) in part: a scan compares the `high` halves against the
//! whole buckets (vectorized, 64 rows to a word), and only the words holding a row of a
//! partial bucket read their `low` halves (vectorized too). On 10M rows that is a 20 MB
//! scan plus the words of two 18-hour windows, where a `u32` column was a 40 MB scan.
//! Scans build roaring containers 65,536 rows at a time, in parallel.
//!
//! A narrow range (the last 30 days of two years of times) reads less from each chunk's
//! [`BucketOrder`](bucket_order::BucketOrder), its rows grouped by bucket, built when
//! first read and dropped when a row of the chunk changes. A range a sample says holds at
//! most 2 in 5 rows (`TimeColumn::stored_range`) is counted from the orders
//! ([`TimeColumn::count`]: rank differences; a wider one too, in the chunks a query has
//! sorted already), and built from them in each chunk where setting its rows' bits touches fewer bytes
//! than a scan (`OrderedRows::cheaper_than_scan`); a wider one sorts chunks only for a
//! fused AND's [`ChunkFilter`], which then reads the order's prefix words (a
//! range-encoded index of 32 bins a chunk: [`PrefixWords`](prefix_words::PrefixWords))
//! where they touch less than a scan. Why not a bit-sliced index: it reads ~3.5 bytes a row for 28 bits
//! (limits.md). When a query already has a small candidate set the executor calls
//! [`TimeColumn::filter`] (or [`TimeColumn::filter_count`]), which visits only those
//! rows' chunks.
//!
//! An order always holds exactly its chunk's rows with a time, by their current bucket:
//! it is dropped whenever a row of its chunk changes (`append` drops the last, partial
//! chunk's), and columns built whole (a snapshot read, a compaction) start with none.
//! Its prefix words live inside it, so they go with it.
//!
//! The files, from the bottom up: `stored` (how a time is stored) and `cost` (the cost
//! model's constants), `sampled` (the rows estimates sample, copied out), `simd`, `prefix_words` and `bucket_order`, `column` (the column
//! and its writes), `range` (a range as stored values), `estimate` and `ordered` (what a
//! range holds, and its rows from bucket orders), then the reads: `scan`, `filter`,
//! `union`, `chunk_filter`. A file imports only from files before it.

mod bucket_order;
mod chunk_filter;
mod column;
mod cost;
mod estimate;
mod filter;
mod ordered;
mod prefix_words;
mod range;
mod sampled;
mod scan;
mod simd;
mod stored;
#[cfg(test)]
mod tests;
mod union;

pub use chunk_filter::ChunkFilter;
pub use column::TimeColumn;
pub use estimate::RangeEstimate;
pub(super) use stored::{NONE, from_stored, stored};
