//! The segment syntax tree. Every node carries the byte span of its text; nothing here
//! knows what fields mean (that is the planner's job).

/// A byte range `start..end` of the segment text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
}

/// A segment expression.
#[derive(Clone, Debug)]
pub enum Expr {
    Or(Vec<Expr>, Span),
    And(Vec<Expr>, Span),
    Not(Box<Expr>, Span),
    Predicate(Predicate),
    /// `@name`: a saved segment.
    Saved(String, Span),
}

/// `field:value,value,…`
#[derive(Clone, Debug)]
pub struct Predicate {
    /// The field as typed.
    pub field: String,
    pub field_span: Span,
    pub values: Vec<Value>,
    pub span: Span,
}

/// One value of a predicate, unescaped.
#[derive(Clone, Debug)]
pub struct Value {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

impl Expr {
    /// The span of the whole expression.
    pub fn span(&self) -> Span {
        match self {
            Expr::Or(_, s) | Expr::And(_, s) | Expr::Not(_, s) | Expr::Saved(_, s) => *s,
            Expr::Predicate(p) => p.span,
        }
    }

    /// Structural equality, ignoring spans and quoting (what a round trip must keep).
    pub fn same_as(&self, other: &Expr) -> bool {
        match (self, other) {
            (Expr::Or(a, _), Expr::Or(b, _)) | (Expr::And(a, _), Expr::And(b, _)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Expr::Not(a, _), Expr::Not(b, _)) => a.same_as(b),
            (Expr::Saved(a, _), Expr::Saved(b, _)) => a == b,
            (Expr::Predicate(a), Expr::Predicate(b)) => {
                a.field == b.field
                    && a.values.len() == b.values.len()
                    && a.values
                        .iter()
                        .zip(&b.values)
                        .all(|(x, y)| x.text == y.text)
            }
            _ => false,
        }
    }
}
