//! Parser behaviour: precedence, spellings, error messages with their underline (pinned
//! text), limits, and the print → parse round trip.

use proptest::prelude::*;
use reach::Engine;
use reach::syntax::{DiagnosticKind, MAX_DEPTH, parse, print};

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

#[test]
fn errors_point_at_the_text_with_a_suggestion() {
    assert_eq!(
        error("tg:vip channel:line"),
        "unknown field 'tg': did you mean 'tag'?\n  tg:vip channel:line\n  ^^\n  at byte 0, column 1\n  help: expected one of: channel, account, external_id, id, name, tag, checkout, last_checkout, interaction, customer_interaction, team_interaction, marketing, team_marketing, joined, subscribed_at, email, phone, member_id, store, salesperson, optout, is, has"
    );
    let state = error("channel:line is:subscibed");
    assert!(state.starts_with("unknown state 'subscibed' for 'is': did you mean 'subscribed'?\n  channel:line is:subscibed\n                  ^^^^^^^^^\n  at byte 16, column 17"), "{state}");
    assert!(error("joined:2024").contains("a year alone is not a point"));
    assert!(error("tag:\"open").contains("unterminated quoted value"));
    assert!(error("(tag:a").contains("expected ')'"));
    assert!(error("tag:a)").contains("')' without its '('"));
    assert!(error("- tag:a").contains("must touch the term"));
    assert!(error("vip").contains("for a tag, write tag:vip"));
    assert!(error("tag:").contains("expected a value"));
    assert!(error("tag:a or").contains("expected a term"));
    assert!(error("checkout:-3x..").contains("unknown time unit"));
    assert!(error("channel:telegram").contains("unknown channel"));
    assert!(error("@nope").contains("unknown saved segment"));
}

#[test]
fn column_counts_characters_and_underline_fits_wide_text() {
    let e = error("tag:會員 tg:x");
    assert!(e.contains("at byte 11, column 8"), "{e}");
    assert!(e.contains("\n  tag:會員 tg:x\n           ^^\n"), "{e}");
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
