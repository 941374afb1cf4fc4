//! What a checkpoint writes: the store as one file of checksummed parts (`snapshot`),
//! mapped and read part by part on first use (`lazy`); the store compacted to its live
//! rows first (`compact`); files of the older format read whole (`legacy`); the format's
//! versions and errors (`format`); string columns scanned where they lie (`packed`).

pub(super) mod compact;
mod format;
pub mod lazy;
mod legacy;
pub mod packed;
pub mod snapshot;
