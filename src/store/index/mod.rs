//! Bitmaps and what the store derives from them: set operations sized to their operands
//! (`rowset`), equality postings (`postings`), bitmaps as plain words for the fused AND
//! (`words`, copied from a bitmap's serialized `containers`), the opted-in Facebook rows (`fb_rows`), and the cache that keeps derived
//! values until the next change (`derived`).

mod containers;
pub(super) mod derived;
pub(super) mod fb_rows;
pub(super) mod postings;
pub(super) mod rowset;
pub(super) mod words;
