//! How a time is stored: seconds as a `u32` ([`NONE`] for none), split into a high half
//! (its bucket of 65,536 seconds) and a low half.

use crate::model::Seconds;
use crate::model::time::{MAX_STORED, MIN_STORED};

/// The stored value meaning "no time".
pub(in crate::store) const NONE: u32 = u32::MAX;

#[inline]
pub(super) fn high(v: u32) -> u16 {
    (v >> 16) as u16
}

#[inline]
pub(super) fn low(v: u32) -> u16 {
    v as u16
}

/// Whether `v` is a time in the last bucket.
#[inline]
pub(super) fn in_top(v: u32) -> bool {
    high(v) == u16::MAX && v != NONE
}

#[inline]
pub(super) fn join(high: u16, low: u16) -> u32 {
    u32::from(high) << 16 | u32::from(low)
}

/// How a time is stored: seconds as `u32`, [`NONE`] for none. Times outside 1970..2106
/// must be refused before this.
pub(in crate::store) fn stored(value: Option<Seconds>) -> u32 {
    match value {
        Some(t) => t.clamp(MIN_STORED, MAX_STORED) as u32,
        None => NONE,
    }
}

/// The time a stored value means.
pub(in crate::store) fn from_stored(value: u32) -> Option<Seconds> {
    (value != NONE).then_some(Seconds::from(value))
}
