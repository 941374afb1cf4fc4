//! `Diagnostic`: a segment error with its place (byte offset, column), the segment echoed
//! with the offending text underlined, what was expected, and a suggestion.

use std::fmt;

use super::ast::Span;

/// An error or warning about a segment, pointing at a span of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub span: Span,
    /// The segment text the span points into.
    pub input: String,
    /// "did you mean …" and similar.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>, span: Span, input: &str) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span,
            input: input.to_string(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    /// 1-based column (in characters) of the span's start.
    pub fn column(&self) -> usize {
        let start = self.span.start.min(self.input.len());
        self.input
            .char_indices()
            .take_while(|(i, _)| *i < start)
            .count()
            + 1
    }

    /// The segment and a `^^^` line under the span (at least one caret).
    pub fn underline(&self) -> String {
        let line: String = self
            .input
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .collect();
        let clamp = |i: usize| {
            let mut i = i.min(self.input.len());
            while !self.input.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let (start, end) = (clamp(self.span.start), clamp(self.span.end));
        let pad = display_width(&self.input[..start]);
        let width = display_width(&self.input[start..end.max(start)]).max(1);
        format!("  {line}\n  {}{}", " ".repeat(pad), "^".repeat(width))
    }
}

/// Terminal columns of a string: East Asian wide characters take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let wide = matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD);
            if wide { 2 } else { 1 }
        })
        .sum()
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        writeln!(f, "{}", self.underline())?;
        write!(f, "  at byte {}, column {}", self.span.start, self.column())?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
