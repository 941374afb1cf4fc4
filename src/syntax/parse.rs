//! Segment text → [`Expr`]. One function per production of `grammar/segment.ebnf`; the
//! tokens are nom parsers. Nesting is counted, so the 256-level limit is enforced before
//! the stack could grow, and every failure is a [`Diagnostic`] pointing at the text.

use nom::branch::alt;
use nom::bytes::complete::{tag, tag_no_case, take_while, take_while1};
use nom::character::complete::satisfy;
use nom::combinator::recognize;
use nom::sequence::pair;
use nom::{IResult, Parser};

use super::ast::{Expr, Predicate, Span, Value};
use super::error::{Diagnostic, DiagnosticKind, column_at};
use super::limits::{MAX_DEPTH, MAX_SEGMENT_BYTES};

/// Parses a segment. `Ok(None)` is the empty segment (every contact).
pub fn parse(input: &str) -> Result<Option<Expr>, Diagnostic> {
    if input.len() > MAX_SEGMENT_BYTES {
        let span = Span::new(MAX_SEGMENT_BYTES, input.len());
        let shown: String = input.chars().take(60).collect();
        return Err(Diagnostic::new(
            DiagnosticKind::TooLong { len: input.len() },
            Span::new(0, 0),
            &shown,
        )
        .with_help(Some(format!(
            "shorten it, or save parts as named segments and use @name (bytes {}..{} are over)",
            span.start, span.end
        ))));
    }
    let mut parser = SegmentParser {
        input,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(None);
    }
    let expr = parser.or()?;
    parser.skip_ws();
    if !parser.at_end() {
        let kind = if parser.rest().starts_with(')') {
            DiagnosticKind::UnmatchedClose
        } else {
            DiagnosticKind::ExpectedOperator
        };
        return Err(parser.error_here(kind, 1));
    }
    Ok(Some(expr))
}

struct SegmentParser<'a> {
    input: &'a str,
    pos: usize,
    depth: usize,
}

/// Characters that end a bare word.
fn is_bare(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '"' | ',' | '|' | '&')
}

fn bare_word(i: &str) -> IResult<&str, &str> {
    take_while1(is_bare).parse(i)
}

fn field_name(i: &str) -> IResult<&str, &str> {
    recognize(pair(
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

/// A keyword (`or`, `and`, `not`) as a whole word: white space, `(`, or the end follows.
fn keyword<'a>(word: &'static str) -> impl Fn(&'a str) -> IResult<&'a str, &'a str> {
    move |i: &'a str| {
        let (rest, kw) = tag_no_case(word).parse(i)?;
        match rest.chars().next() {
            None => Ok((rest, kw)),
            Some(c) if c.is_whitespace() || c == '(' => Ok((rest, kw)),
            Some(_) => Err(nom::Err::Error(nom::error::Error::new(
                i,
                nom::error::ErrorKind::Tag,
            ))),
        }
    }
}

fn or_operator(i: &str) -> IResult<&str, &str> {
    alt((tag("||"), tag("|"), keyword("or"))).parse(i)
}

fn and_operator(i: &str) -> IResult<&str, &str> {
    alt((tag("&&"), tag("&"), keyword("and"))).parse(i)
}

fn not_operator(i: &str) -> IResult<&str, &str> {
    alt((tag("-"), tag("!"), keyword("not"))).parse(i)
}

impl<'a> SegmentParser<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Runs a token parser at the current position; on success, moves past it.
    fn token(&mut self, token: impl Fn(&'a str) -> IResult<&'a str, &'a str>) -> Option<Span> {
        let (rest, _) = token(self.rest()).ok()?;
        let start = self.pos;
        self.pos = self.input.len() - rest.len();
        Some(Span::new(start, self.pos))
    }

    fn error_here(&self, kind: DiagnosticKind, len: usize) -> Diagnostic {
        let end = (self.pos + len).min(self.input.len());
        let mut end = end;
        while !self.input.is_char_boundary(end) {
            end += 1;
        }
        Diagnostic::new(kind, Span::new(self.pos, end), self.input)
    }

    fn describe_here(&self) -> String {
        match self.rest().chars().next() {
            None => "the end of the segment".into(),
            Some(c) => format!("'{c}'"),
        }
    }

    fn enter(&mut self) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self
                .error_here(DiagnosticKind::NestTooDeep, 1)
                .with_help(Some(
                    "flatten it: a b c needs no parentheses, and -(a or b) is -a -b".into(),
                )));
        }
        Ok(())
    }

    /// `or = and { OR and }`
    fn or(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.pos;
        let mut terms = vec![self.and()?];
        loop {
            let before = self.pos;
            self.skip_ws();
            if self.token(or_operator).is_none() {
                self.pos = before;
                break;
            }
            self.skip_ws();
            terms.push(self.and()?);
        }
        Ok(group(terms, Span::new(start, self.pos), Expr::Or))
    }

    /// `and = unary { [AND] unary }`
    fn and(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.pos;
        let mut terms = vec![self.unary()?];
        loop {
            let before = self.pos;
            self.skip_ws();
            if self.token(and_operator).is_some() {
                self.skip_ws();
                terms.push(self.unary()?);
                continue;
            }
            let rest = self.rest();
            let ends = rest.is_empty() || rest.starts_with(')') || or_operator(rest).is_ok();
            let touching = self.pos == before
                && !rest.starts_with('(')
                && !self.input[..self.pos].ends_with(')');
            if ends || touching {
                self.pos = before;
                break;
            }
            terms.push(self.unary()?);
        }
        Ok(group(terms, Span::new(start, self.pos), Expr::And))
    }

    /// `unary = NOT unary | primary`
    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.pos;
        let Some(op) = self.token(not_operator) else {
            return self.primary();
        };
        let word = op.end - op.start > 1;
        if word {
            self.skip_ws();
        } else if self.rest().starts_with(char::is_whitespace) || self.at_end() {
            return Err(Diagnostic::new(
                DiagnosticKind::DetachedNegation {
                    operator: self.input[op.start..op.end].to_string(),
                },
                op,
                self.input,
            )
            .with_help(Some(
                "write -tag:x (no space), or use the word not: not tag:x".into(),
            )));
        }
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        Ok(Expr::Not(Box::new(inner), Span::new(start, self.pos)))
    }

    /// `primary = "(" or ")" | "@" name | predicate`
    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.pos;
        if self.token(|i| tag("(").parse(i)).is_some() {
            self.enter()?;
            self.skip_ws();
            if self.rest().starts_with(')') {
                return Err(self.error_here(DiagnosticKind::EmptyGroup, 1));
            }
            let inner = self.or()?;
            self.skip_ws();
            if self.token(|i| tag(")").parse(i)).is_none() {
                let mut e = self.error_here(
                    DiagnosticKind::UnclosedGroup {
                        open_column: column_at(self.input, start),
                        found: self.describe_here(),
                    },
                    1,
                );
                e.help = Some("every '(' needs a matching ')'".into());
                return Err(e);
            }
            self.depth -= 1;
            return Ok(inner);
        }
        if self.token(|i| tag("@").parse(i)).is_some() {
            let Some(name) = self.token(field_name) else {
                return Err(self.error_here(DiagnosticKind::ExpectedSavedName, 1));
            };
            if self.rest().starts_with(is_bare) {
                return Err(self.error_here(DiagnosticKind::BadSavedName, 1));
            }
            return Ok(Expr::Saved(
                self.input[name.start..name.end].to_string(),
                Span::new(start, self.pos),
            ));
        }
        self.predicate()
    }

    /// `predicate = field ":" value { "," value }`
    fn predicate(&mut self) -> Result<Expr, Diagnostic> {
        let start = self.pos;
        let rest = self.rest();
        let word_len = bare_word(rest)
            .map(|(r, _)| rest.len() - r.len())
            .unwrap_or(0);
        if word_len == 0 {
            return Err(self.error_here(
                DiagnosticKind::ExpectedTerm {
                    found: self.describe_here(),
                },
                1,
            ));
        }
        let Some(field) = self
            .token(field_name)
            .filter(|_| self.rest().starts_with(':'))
        else {
            self.pos = start;
            let word = &rest[..word_len];
            return Err(Diagnostic::new(
                DiagnosticKind::NotATerm {
                    word: word.to_string(),
                },
                Span::new(start, start + word_len),
                self.input,
            )
            .with_help(Some(format!("for a tag, write tag:{word}"))));
        };
        self.pos += 1;
        let mut values = vec![self.value()?];
        while self.token(|i| tag(",").parse(i)).is_some() {
            values.push(self.value()?);
        }
        Ok(Expr::Predicate(Predicate {
            field: self.input[field.start..field.end].to_string(),
            field_span: field,
            values,
            span: Span::new(start, self.pos),
        }))
    }

    /// `value = quoted | bare`
    fn value(&mut self) -> Result<Value, Diagnostic> {
        let start = self.pos;
        if self.rest().starts_with('"') {
            return self.quoted();
        }
        match self.token(bare_word) {
            Some(span) => Ok(Value {
                text: self.input[span.start..span.end].to_string(),
                quoted: false,
                span,
            }),
            None => Err(Diagnostic::new(
                DiagnosticKind::ExpectedValue {
                    found: self.describe_here(),
                },
                Span::new(start, (start + 1).min(self.input.len())),
                self.input,
            )
            .with_help(Some(
                "quote values with spaces or , | & ( ): tag:\"雙11 會員\"".into(),
            ))),
        }
    }

    /// `quoted = '"' { char | '\"' | '\\' } '"'`
    fn quoted(&mut self) -> Result<Value, Diagnostic> {
        let start = self.pos;
        let mut text = String::new();
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + i + 1;
                    return Ok(Value {
                        text,
                        quoted: true,
                        span: Span::new(start, self.pos),
                    });
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('"' | '\\'))) => text.push(e),
                    other => {
                        let at = start + i;
                        let len = 1 + other.map_or(0, |(_, c)| c.len_utf8());
                        return Err(Diagnostic::new(
                            DiagnosticKind::UnknownEscape,
                            Span::new(at, at + len),
                            self.input,
                        ));
                    }
                },
                c => text.push(c),
            }
        }
        Err(Diagnostic::new(
            DiagnosticKind::UnterminatedQuote,
            Span::new(start, self.input.len()),
            self.input,
        ))
    }
}
/// One term as itself, several as a group made by `make` (AND or OR) over `span`.
fn group(mut terms: Vec<Expr>, span: Span, make: fn(Vec<Expr>, Span) -> Expr) -> Expr {
    if terms.len() == 1 {
        terms.remove(0)
    } else {
        make(terms, span)
    }
}
