//! Phone numbers: normalization (drop spaces, dashes, dots, parentheses) and validation of
//! international numbers for contacts added by hand.

/// Removes spaces, dashes, dots and parentheses, as both the store and `phone:` do.
pub fn normalize_phone(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')') && !c.is_whitespace())
        .collect()
}

/// A valid international number: `+` then 8 to 15 digits once normalized.
/// Returns the normalized number.
pub fn international_phone(text: &str) -> Option<String> {
    let normalized = normalize_phone(text);
    let digits = normalized.strip_prefix('+')?;
    let valid = (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_common_spellings() {
        assert_eq!(normalize_phone("+886 912-345-678"), "+886912345678");
        assert_eq!(normalize_phone("(+886) 912.345.678"), "+886912345678");
    }

    #[test]
    fn international_numbers_need_plus_and_8_to_15_digits() {
        assert_eq!(
            international_phone("+886 912 345 678").as_deref(),
            Some("+886912345678")
        );
        assert_eq!(international_phone("0912345678"), None);
        assert_eq!(international_phone("+1234567"), None);
        assert_eq!(international_phone("+1234567890123456"), None);
        assert_eq!(international_phone("+8869123x5678"), None);
        assert!(international_phone("+12345678").is_some());
    }
}
