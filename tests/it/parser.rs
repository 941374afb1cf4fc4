//! Parser behaviour: precedence, spellings, error messages with their underline and
//! syntax trees (golden files under tests/data/parser), limits, and the print → parse
//! round trip.

use proptest::prelude::*;
use reach::Engine;
use reach::syntax::{DiagnosticKind, Expr, MAX_DEPTH, Span, parse, print};

fn shape(segment: &str) -> String {
    print(&parse(segment).expect("parses").expect("not empty"))
}

fn error(segment: &str) -> String {
    let engine = Engine::in_memory();
    engine.compile(segment, 0).expect_err("refused").to_string()
}

#[test]
fn precedence_is_not_then_and_then_or() {
    assert_eq!(shape("tag:a tag:b or tag:c"), "tag:a tag:b or tag:c");
    assert_eq!(shape("tag:a (tag:b or tag:c)"), "tag:a (tag:b or tag:c)");
    assert_eq!(
        shape("NOT tag:x AND tag:y OR tag:z"),
        "-tag:x tag:y or tag:z"
    );
    assert_eq!(shape("not(tag:a or tag:b)"), "-(tag:a or tag:b)");
    assert_eq!(
        shape("tag:a|tag:b&channel:line"),
        "tag:a or tag:b channel:line"
    );
    assert_eq!(shape("tag:a(tag:b)"), "tag:a tag:b");
    assert_eq!(shape("tag:ns:vip"), "tag:ns:vip");
    assert_eq!(shape("tag:\"雙11 會員\""), "tag:\"雙11 會員\"");
    assert_eq!(shape("-tag:a,b"), "-tag:a,b");
}

/// The segment of a case file (its text without the final line break).
fn case(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).expect("case");
    text.strip_suffix('\n').unwrap_or(&text).to_string()
}

/// `tests/data/parser/err/NAME.seg`: each refused, its diagnostic (message, the text
/// with its underline, place, help) pinned in NAME.out.
#[test]
fn refused_segments_render_their_diagnostic_as_pinned() {
    for path in crate::golden::inputs("parser/err", "seg") {
        let segment = case(&path);
        let name = path
            .strip_prefix(crate::golden::data_dir())
            .expect("under data");
        let out = name.with_extension("out");
        crate::golden::check(&out.to_string_lossy(), &format!("{}\n", error(&segment)));
    }
    crate::golden::no_stale_outputs("parser/err", "seg");
}

/// `tests/data/parser/ok/NAME.seg`: each parsed, its printed form and syntax tree (with
/// byte spans) pinned in NAME.out.
#[test]
fn parsed_segments_print_their_tree_as_pinned() {
    for path in crate::golden::inputs("parser/ok", "seg") {
        let segment = case(&path);
        let expr = parse(&segment)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
            .expect("not empty");
        let mut text = format!("{}\n", print(&expr));
        tree(&expr, 0, &mut text);
        let name = path
            .strip_prefix(crate::golden::data_dir())
            .expect("under data");
        crate::golden::check(&name.with_extension("out").to_string_lossy(), &text);
    }
    crate::golden::no_stale_outputs("parser/ok", "seg");
}

/// The syntax tree, one node a line, indented by depth, each with its byte span.
fn tree(expr: &Expr, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let span = |s: Span| format!("{}..{}", s.start, s.end);
    match expr {
        Expr::Or(children, s) | Expr::And(children, s) => {
            let op = if matches!(expr, Expr::Or(..)) {
                "or"
            } else {
                "and"
            };
            out.push_str(&format!("{indent}{op} {}\n", span(*s)));
            for child in children {
                tree(child, depth + 1, out);
            }
        }
        Expr::Not(inner, s) => {
            out.push_str(&format!("{indent}not {}\n", span(*s)));
            tree(inner, depth + 1, out);
        }
        Expr::Saved(name, s) => out.push_str(&format!("{indent}saved {name:?} {}\n", span(*s))),
        Expr::Predicate(p) => {
            out.push_str(&format!(
                "{indent}predicate {} (field {:?} {})\n",
                span(p.span),
                p.field,
                span(p.field_span)
            ));
            for v in &p.values {
                let quoted = if v.quoted { " quoted" } else { "" };
                out.push_str(&format!(
                    "{indent}  value {:?}{quoted} {}\n",
                    v.text,
                    span(v.span)
                ));
            }
        }
    }
}

#[test]
fn limits_are_errors_not_crashes() {
    let deep = format!("{}tag:a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&deep).is_ok());
    let too_deep = format!(
        "{}tag:a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&too_deep).is_err_and(
        |e| e.kind == DiagnosticKind::NestTooDeep && e.message().contains("deeper than 256")
    ));
    assert!(parse(&"-".repeat(100_000)).is_err());
    assert!(parse(&"(".repeat(60_000)).is_err());
    let long = "tag:a ".repeat(11_000);
    assert!(parse(&long).is_err_and(|e| e.message().contains("at most 65536")));
    let big_ok = "tag:a ".repeat(10_000);
    assert!(parse(&big_ok).is_ok());
    let engine = Engine::in_memory();
    assert!(engine.compile(&deep, 0).is_ok());
}

#[test]
fn empty_segment_parses_to_nothing() {
    assert!(parse("").expect("ok").is_none());
    assert!(parse(" \t ").expect("ok").is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(text in "\\PC{0,40}") {
        let _ = parse(&text);
        let _ = Engine::in_memory().compile(&text, 0);
    }

    #[test]
    fn never_panics_on_segment_like_text(text in "[-!()a-z:\" ,|&@\\\\0-9.<>=]{0,40}") {
        if let Ok(Some(expr)) = parse(&text) {
            let printed = print(&expr);
            let again = parse(&printed).expect("printed text parses").expect("not empty");
            prop_assert!(expr.same_as(&again), "{} -> {}", text, printed);
        }
    }
}
