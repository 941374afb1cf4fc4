//! What a checkpoint writes: the store as one checksummed file (`snapshot`), and the
//! store compacted to its live rows first (`compact`).

pub(super) mod compact;
pub mod snapshot;
