//! `Diagnostic`: a segment error with its place (byte offset, column), the segment echoed
//! with the offending text underlined, what was expected, and a suggestion. What went
//! wrong is a [`DiagnosticKind`], which also words the message.

use std::fmt;

use unicode_width::UnicodeWidthChar;

use super::ast::Span;
use super::limits::{MAX_DEPTH, MAX_SEGMENT_BYTES};

/// What is wrong with a segment. Its `Display` is the diagnostic's message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The segment is longer than [`MAX_SEGMENT_BYTES`] (`len` bytes).
    TooLong { len: usize },
    /// Parentheses and negations nest deeper than [`MAX_DEPTH`].
    NestTooDeep,
    /// A `)` without its `(`.
    UnmatchedClose,
    /// Other text where an operator or the end of the segment was expected.
    ExpectedOperator,
    /// A `-` or `!` followed by white space instead of the term it negates.
    DetachedNegation { operator: String },
    /// `()`.
    EmptyGroup,
    /// A `(` (at 1-based character column `open_column`) without its `)`; `found` says
    /// what is there instead.
    UnclosedGroup { open_column: usize, found: String },
    /// `@` without a name after it.
    ExpectedSavedName,
    /// `@` followed by something that is not a saved segment name.
    BadSavedName,
    /// No term where one was expected; `found` says what is there instead.
    ExpectedTerm { found: String },
    /// A bare word that is not `field:value`.
    NotATerm { word: String },
    /// No value after `field:` or `,`; `found` says what is there instead.
    ExpectedValue { found: String },
    /// A backslash in a quoted value not followed by `"` or `\`.
    UnknownEscape,
    /// A quoted value without its closing `"`.
    UnterminatedQuote,
    /// A field name that is not one of the language's: before `:`, or (`presence`) as
    /// the value of `has:`.
    UnknownField {
        word: String,
        presence: bool,
        suggestion: Option<String>,
    },
    /// A value its field does not know.
    UnknownValue {
        of: ValueOf,
        word: String,
        suggestion: Option<String>,
    },
    /// `@name` names no saved segment.
    UnknownSegment {
        name: String,
        suggestion: Option<String>,
    },
    /// A saved segment that refers to itself, directly or through others (`chain`:
    /// `a -> b -> a`).
    Recursion { name: String, chain: String },
    /// Saved segments used inside each other more than [`MAX_DEPTH`] deep.
    SavedTooDeep,
    /// The segment, saved segments expanded, nests more than `max` levels (`chain`: the
    /// saved segments being expanded).
    PlanTooDeep { max: usize, chain: String },
    /// A value of a time field that is not a time filter.
    BadTime { why: String },
    /// A saved segment's text no longer parses.
    SavedUnparsable {
        name: String,
        cause: Box<DiagnosticKind>,
    },
    /// An error inside a saved segment used by this one.
    InSavedSegment {
        name: String,
        cause: Box<DiagnosticKind>,
    },
}

impl DiagnosticKind {
    /// A stable snake_case name of the kind (for machines: logs, a server's answers).
    pub fn as_str(&self) -> &'static str {
        match self {
            DiagnosticKind::TooLong { .. } => "too_long",
            DiagnosticKind::NestTooDeep => "nest_too_deep",
            DiagnosticKind::UnmatchedClose => "unmatched_close",
            DiagnosticKind::ExpectedOperator => "expected_operator",
            DiagnosticKind::DetachedNegation { .. } => "detached_negation",
            DiagnosticKind::EmptyGroup => "empty_group",
            DiagnosticKind::UnclosedGroup { .. } => "unclosed_group",
            DiagnosticKind::ExpectedSavedName => "expected_saved_name",
            DiagnosticKind::BadSavedName => "bad_saved_name",
            DiagnosticKind::ExpectedTerm { .. } => "expected_term",
            DiagnosticKind::NotATerm { .. } => "not_a_term",
            DiagnosticKind::ExpectedValue { .. } => "expected_value",
            DiagnosticKind::UnknownEscape => "unknown_escape",
            DiagnosticKind::UnterminatedQuote => "unterminated_quote",
            DiagnosticKind::UnknownField { .. } => "unknown_field",
            DiagnosticKind::UnknownValue { .. } => "unknown_value",
            DiagnosticKind::UnknownSegment { .. } => "unknown_segment",
            DiagnosticKind::Recursion { .. } => "recursion",
            DiagnosticKind::SavedTooDeep => "saved_too_deep",
            DiagnosticKind::PlanTooDeep { .. } => "plan_too_deep",
            DiagnosticKind::BadTime { .. } => "bad_time",
            DiagnosticKind::SavedUnparsable { .. } => "saved_unparsable",
            DiagnosticKind::InSavedSegment { .. } => "in_saved_segment",
        }
    }

    /// The kind of the error itself, inside the saved segments it was found through.
    pub fn innermost(&self) -> &DiagnosticKind {
        match self {
            DiagnosticKind::SavedUnparsable { cause, .. }
            | DiagnosticKind::InSavedSegment { cause, .. } => cause.innermost(),
            other => other,
        }
    }
}

/// What an unknown value should have been.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueOf {
    /// `channel:`.
    Channel,
    /// `is:`.
    State,
    /// `optout:`.
    OptOutKind,
}

impl ValueOf {
    /// What the value names, and the field it is given to when the message names it.
    fn words(self) -> (&'static str, Option<&'static str>) {
        match self {
            ValueOf::Channel => ("channel", None),
            ValueOf::State => ("state", Some("is")),
            ValueOf::OptOutKind => ("opt-out kind", Some("optout")),
        }
    }
}

/// `unknown {what} '{word}'`, then ` for '{of}'` and `: did you mean '{suggestion}'?`
/// when known.
fn unknown(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    word: &str,
    of: Option<&str>,
    suggestion: Option<&str>,
) -> fmt::Result {
    write!(f, "unknown {what} '{word}'")?;
    if let Some(field) = of {
        write!(f, " for '{field}'")?;
    }
    if let Some(near) = suggestion {
        write!(f, ": did you mean '{near}'?")?;
    }
    Ok(())
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const OPERATOR_OR_END: &str = "expected an operator (or, and) or the end of the segment";
        match self {
            DiagnosticKind::TooLong { len } => write!(
                f,
                "the segment is {len} bytes long; at most {MAX_SEGMENT_BYTES} are accepted"
            ),
            DiagnosticKind::NestTooDeep => {
                write!(f, "the segment nests deeper than {MAX_DEPTH} levels")
            }
            DiagnosticKind::UnmatchedClose => write!(f, "a ')' without its '(': {OPERATOR_OR_END}"),
            DiagnosticKind::ExpectedOperator => write!(f, "unexpected text: {OPERATOR_OR_END}"),
            DiagnosticKind::DetachedNegation { operator } => {
                write!(f, "'{operator}' must touch the term it negates")
            }
            DiagnosticKind::EmptyGroup => {
                f.write_str("empty parentheses: expected a term such as tag:vip")
            }
            DiagnosticKind::UnclosedGroup { open_column, found } => write!(
                f,
                "expected ')' to close the '(' at column {open_column}, found {found}"
            ),
            DiagnosticKind::ExpectedSavedName => {
                f.write_str("expected a saved segment name after '@' ([A-Za-z_][A-Za-z0-9_]*)")
            }
            DiagnosticKind::BadSavedName => {
                f.write_str("a saved segment name is [A-Za-z_][A-Za-z0-9_]*")
            }
            DiagnosticKind::ExpectedTerm { found } => {
                write!(f, "expected a term such as tag:vip, found {found}")
            }
            DiagnosticKind::NotATerm { word } => {
                write!(f, "'{word}' is not a term: expected field:value")
            }
            DiagnosticKind::ExpectedValue { found } => write!(f, "expected a value, found {found}"),
            DiagnosticKind::UnknownEscape => {
                f.write_str("unknown escape in a quoted value: only \\\" and \\\\ are escapes")
            }
            DiagnosticKind::UnterminatedQuote => {
                f.write_str("unterminated quoted value: expected a closing '\"'")
            }
            DiagnosticKind::UnknownField {
                word,
                presence,
                suggestion,
            } => {
                let of = presence.then_some("has");
                unknown(f, "field", word, of, suggestion.as_deref())
            }
            DiagnosticKind::UnknownValue {
                of,
                word,
                suggestion,
            } => {
                let (what, field) = of.words();
                unknown(f, what, word, field, suggestion.as_deref())
            }
            DiagnosticKind::UnknownSegment { name, suggestion } => {
                unknown(f, "saved segment", name, None, suggestion.as_deref())
            }
            DiagnosticKind::Recursion { name, chain } => {
                write!(f, "saved segment @{name} refers to itself ({chain})")
            }
            DiagnosticKind::SavedTooDeep => f.write_str("saved segments nest too deeply"),
            DiagnosticKind::PlanTooDeep { max, chain } => write!(
                f,
                "the segment nests more than {max} levels deep once saved segments are expanded ({chain}): save a flatter one"
            ),
            DiagnosticKind::BadTime { why } => write!(f, "bad time filter: {why}"),
            DiagnosticKind::SavedUnparsable { name, cause } => {
                write!(f, "saved segment @{name} no longer parses: {cause}")
            }
            DiagnosticKind::InSavedSegment { name, cause } => {
                write!(f, "in saved segment @{name}: {cause}")
            }
        }
    }
}

/// An error or warning about a segment, pointing at a span of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong; it words the message.
    pub kind: DiagnosticKind,
    /// Byte offsets into `input`.
    pub span: Span,
    /// The segment text the span points into.
    pub input: String,
    /// "did you mean …" and similar.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(kind: DiagnosticKind, span: Span, input: &str) -> Diagnostic {
        Diagnostic {
            kind,
            span,
            input: input.to_string(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// The message (the first line of the rendering), worded by the kind.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// 1-based column (in characters) of the span's start.
    pub fn column(&self) -> usize {
        column_at(&self.input, self.span.start)
    }

    /// The segment and a `^^^` line under the span (at least one caret).
    pub fn underline(&self) -> String {
        let shown = |c: char| if c == '\n' || c == '\t' { ' ' } else { c };
        let line: String = self.input.chars().map(shown).collect();
        let clamp = |i: usize| {
            let mut i = i.min(self.input.len());
            while !self.input.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        // Terminal columns, as `line` shows the text.
        let width =
            |text: &str| -> usize { text.chars().map(|c| shown(c).width().unwrap_or(0)).sum() };
        let (start, end) = (clamp(self.span.start), clamp(self.span.end));
        let pad = width(&self.input[..start]);
        let carets = width(&self.input[start..end.max(start)]).max(1);
        format!("  {line}\n  {}{}", " ".repeat(pad), "^".repeat(carets))
    }
}

/// The 1-based column, in characters, of byte offset `byte` of `text`.
pub(crate) fn column_at(text: &str, byte: usize) -> usize {
    let start = byte.min(text.len());
    text.char_indices().take_while(|(i, _)| *i < start).count() + 1
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.kind)?;
        writeln!(f, "{}", self.underline())?;
        write!(f, "  at byte {}, column {}", self.span.start, self.column())?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn refused(segment: &str) -> Diagnostic {
        parse(segment).expect_err("refused")
    }

    #[test]
    fn the_column_of_an_unclosed_parenthesis_counts_characters() {
        // "tag:會員 " is 11 bytes and 7 characters: the '(' is at byte 11, column 8.
        let e = refused("tag:會員 (tag:a");
        assert_eq!(e.kind.as_str(), "unclosed_group");
        assert!(
            e.to_string()
                .starts_with("expected ')' to close the '(' at column 8, found the end"),
            "{e}"
        );
        let e = refused("tag:\"會 員\" (tag:a");
        assert_eq!(
            e.kind,
            DiagnosticKind::UnclosedGroup {
                open_column: 11,
                found: "the end of the segment".into()
            }
        );
    }

    #[test]
    fn the_underline_follows_terminal_widths() {
        // A combining accent takes no column; a wide character takes two.
        let e = refused("tag:e\u{301} ()");
        assert_eq!(e.underline(), "  tag:e\u{301} ()\n         ^");
        let e = refused("tag:會 ()");
        assert_eq!(e.underline(), "  tag:會 ()\n          ^");
        assert_eq!((e.span.start, e.column()), (9, 8));
    }

    #[test]
    fn the_message_is_worded_by_the_kind() {
        let cases = [
            ("tag:a)", "unmatched_close", "a ')' without its '('"),
            (
                "tag:a b:",
                "expected_value",
                "expected a value, found the end",
            ),
            (
                "- tag:a",
                "detached_negation",
                "'-' must touch the term it negates",
            ),
            ("tag:\"x", "unterminated_quote", "unterminated quoted value"),
            ("@", "expected_saved_name", "expected a saved segment name"),
            ("vip", "not_a_term", "'vip' is not a term"),
        ];
        for (segment, kind, message) in cases {
            let e = refused(segment);
            assert_eq!(e.kind.as_str(), kind, "{segment}");
            assert!(e.message().starts_with(message), "{segment}: {e}");
            assert!(e.to_string().starts_with(&e.message()));
        }
    }
}
