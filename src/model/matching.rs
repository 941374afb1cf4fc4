//! How segments compare text: `name:` and `email:` ignore case and surrounding white
//! space, `phone:` ignores the punctuation people type (see `phone.rs`), the rest compare
//! exactly. The executor's indexes and the SQL emitters share these definitions.

use std::borrow::Cow;

use super::TextField;

/// How a text field's values are compared by segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchRule {
    /// Byte-for-byte.
    Exact,
    /// After Unicode lower-casing (and trimming) both sides.
    Folded,
}

impl MatchRule {
    /// The key a value is indexed and looked up under.
    pub fn key(self, value: &str) -> Cow<'_, str> {
        match self {
            MatchRule::Exact => Cow::Borrowed(value),
            MatchRule::Folded => fold(value),
        }
    }
}

impl TextField {
    /// How `field:value` compares this field (phones are normalized before either rule).
    pub fn match_rule(self) -> MatchRule {
        match self {
            TextField::Email => MatchRule::Folded,
            _ => MatchRule::Exact,
        }
    }
}

/// Every character Rust's `trim` removes (Unicode `White_Space`), for engines whose own
/// trim knows only the space.
pub const WHITE_SPACE: &[char] = &[
    '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', '\u{20}', '\u{85}', '\u{a0}', '\u{1680}',
    '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}',
    '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
];

/// Trims surrounding white space and lower-cases (Unicode, full mapping with the final
/// sigma rule: `str::to_lowercase`), as `name:` and `email:` compare. Borrows when the
/// value is already folded.
pub fn fold(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim();
    let changes = |c: char| {
        let mut lower = c.to_lowercase();
        !(lower.next() == Some(c) && lower.next().is_none())
    };
    if trimmed.chars().any(changes) {
        Cow::Owned(trimmed.to_lowercase())
    } else {
        Cow::Borrowed(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn white_space_is_exactly_what_trim_removes() {
        let all = (0..=0x10FFFFu32).filter_map(char::from_u32);
        let trimmed: Vec<char> = all.filter(|c| c.is_whitespace()).collect();
        assert_eq!(trimmed, WHITE_SPACE);
    }

    #[test]
    fn folding_is_full_unicode_lower_case() {
        assert_eq!(fold("  ALICE Chen\u{3000}"), "alice chen");
        assert_eq!(fold("ΟΔΟΣ"), "οδος");
        assert_eq!(fold("İ"), "i\u{307}");
        assert!(matches!(fold("already"), Cow::Borrowed(_)));
    }
}
