//! [`Expr`] → canonical segment text that parses back to the same tree.

use super::ast::{Expr, Value};

/// The canonical text of an expression.
pub fn print(expr: &Expr) -> String {
    let mut out = String::new();
    write_expr(expr, &mut out);
    out
}

fn write_expr(expr: &Expr, out: &mut String) {
    match expr {
        Expr::Or(terms, _) => join(terms, " or ", |t| matches!(t, Expr::Or(..)), out),
        Expr::And(terms, _) => join(
            terms,
            " ",
            |t| matches!(t, Expr::Or(..) | Expr::And(..)),
            out,
        ),
        Expr::Not(inner, _) => {
            out.push('-');
            write_child(inner, matches!(**inner, Expr::Or(..) | Expr::And(..)), out);
        }
        Expr::Saved(name, _) => {
            out.push('@');
            out.push_str(name);
        }
        Expr::Predicate(p) => {
            out.push_str(&p.field);
            out.push(':');
            for (i, v) in p.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(v, out);
            }
        }
    }
}

fn join(terms: &[Expr], sep: &str, needs_parens: impl Fn(&Expr) -> bool, out: &mut String) {
    for (i, term) in terms.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        write_child(term, needs_parens(term), out);
    }
}

fn write_child(expr: &Expr, parens: bool, out: &mut String) {
    if parens {
        out.push('(');
        write_expr(expr, out);
        out.push(')');
    } else {
        write_expr(expr, out);
    }
}

/// A value as a bare word when it can be one, else quoted with `\"` and `\\` escaped.
fn write_value(value: &Value, out: &mut String) {
    out.push_str(&quote(&value.text));
}

/// A value as the segment language writes it: a bare word when it can be one, else
/// quoted with `\"` and `\\` escaped (`tag:` + `quote("VIP, 2024")`).
pub fn quote(text: &str) -> String {
    let mut out = String::new();
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"' | ',' | '|' | '&' | '\\'));
    if bare {
        return text.to_string();
    }
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
