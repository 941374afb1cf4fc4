//! The limits on a segment's text, which the parser enforces and its errors name.

/// The longest segment accepted, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 64 * 1024;
/// The deepest nesting accepted (parentheses and negations).
pub const MAX_DEPTH: usize = 256;
