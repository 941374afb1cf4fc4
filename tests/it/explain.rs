//! EXPLAIN ANALYZE shows the steps the executor takes to count a segment: an AND's
//! children in the order the cost model chose, each with its strategy (", counted" where
//! the step's rows are counted, not built), and actual counts that are the executor's.

use reach::Strategy::{self, *};
use reach::{Engine, ExplainNode};

use crate::oracle::NOW;

/// 100,000 generated contacts (two 65,536-row chunks).
fn engine() -> Engine {
    Engine::in_memory_with(crate::generated_store(100_000, 7, NOW))
}

/// One explained step, read from the executor's tree.
#[derive(Debug, PartialEq)]
struct Step {
    label: String,
    how: Strategy,
    /// Whether its rows were only counted, not built.
    counted: bool,
    actual: u64,
}

/// The explained steps of `segment`, depth-first.
fn steps(engine: &Engine, segment: &str) -> Vec<Step> {
    fn walk(node: &ExplainNode, out: &mut Vec<Step>) {
        out.push(Step {
            label: node.label.clone(),
            how: node.strategy,
            counted: node.counted,
            actual: node.actual,
        });
        for child in &node.children {
            walk(child, out);
        }
    }
    let compiled = engine.compile(segment, NOW).expect("compiles");
    let mut out = Vec::new();
    walk(&engine.explain_tree(&compiled), &mut out);
    out
}

/// The steps' strategies, with whether each was counted.
fn hows(steps: &[Step]) -> Vec<(Strategy, bool)> {
    steps.iter().map(|s| (s.how, s.counted)).collect()
}

#[test]
fn a_selective_lookup_runs_before_a_time_scan_which_then_filters() {
    let engine = engine();
    // A fifth of the rows in the range: a scan, where the lookup finds ~270 rows.
    let segment = r#"marketing:-7d.. name:"alice chen""#;
    let steps = steps(&engine, segment);
    assert_eq!(
        hows(&steps),
        [(Intersection, true), (Lookup, false), (Filter, true)],
        "{steps:?}"
    );
    assert!(steps[1].label.starts_with("name "), "{steps:?}");
    assert!(
        steps[2].label.starts_with("team_marketing_at in"),
        "{steps:?}"
    );
    let compiled = engine.compile(segment, NOW).expect("compiles");
    assert_eq!(steps[0].actual, engine.count(&compiled));
}

#[test]
fn a_dense_and_is_fused_its_steps_in_cost_order_with_the_rows_left_after_each() {
    let engine = engine();
    let segment = "checkout:-30d.. tag:vip -tag:churned";
    let steps = steps(&engine, segment);
    assert_eq!(
        hows(&steps),
        [
            (Fused, true),
            (FusedStep, true),
            (FusedStep, true),
            (FusedStep, true)
        ],
        "{steps:?}"
    );
    // The stored bitmap runs before the time range, a negation shows what it negates.
    assert_eq!(steps[1].label, r#"tag = "vip""#, "{steps:?}");
    assert!(
        steps.iter().any(|s| s.label == r#"NOT tag = "churned""#),
        "{steps:?}"
    );
    let rows_left: Vec<u64> = steps[1..].iter().map(|s| s.actual).collect();
    assert!(rows_left.is_sorted_by(|a, b| a >= b), "{steps:?}");
    let compiled = engine.compile(segment, NOW).expect("compiles");
    let vip = engine.compile("tag:vip", NOW).expect("compiles");
    assert_eq!(steps[1].actual, engine.count(&vip));
    assert_eq!(steps[0].actual, engine.count(&compiled));
    assert_eq!(steps[3].actual, engine.count(&compiled));
    assert_eq!(steps[0].actual, engine.rows(&compiled).len());
}

#[test]
fn an_and_whose_every_child_is_sparse_takes_the_roaring_path() {
    let steps = steps(&engine(), r#"checkout:-30d.. name:"alice chen""#);
    assert_eq!(
        hows(&steps),
        [(Intersection, true), (Lookup, false), (Filter, true)],
        "{steps:?}"
    );
}

#[test]
fn a_lone_time_range_is_counted_as_scanned_and_a_negation_as_the_rest() {
    let engine = engine();
    assert_eq!(hows(&steps(&engine, "checkout:-30d..")), [(Scan, true)]);
    let negated = steps(&engine, "-checkout:-30d..");
    assert_eq!(hows(&negated), [(Complement, true), (Scan, true)]);
    assert_eq!(
        negated[0].actual,
        100_000 - negated[1].actual,
        "{negated:?}"
    );
}

#[test]
fn an_or_counts_its_largest_child_into_the_union_of_the_others() {
    let engine = engine();
    // Sparse children (an OR holding many rows is fused: `a_dense_or_is_one_fused_pass`).
    let segment = r#"name:"alice chen" or checkout:-1d.. or salesperson:E042"#;
    let steps = steps(&engine, segment);
    assert_eq!((steps[0].how, steps[0].counted), (Union, true), "{steps:?}");
    // The largest child (~270 rows) is evaluated last.
    assert_eq!(
        steps.last().map(|s| s.label.as_str()),
        Some(r#"name ≈ "alice chen""#)
    );
    let compiled = engine.compile(segment, NOW).expect("compiles");
    assert_eq!(steps[0].actual, engine.count(&compiled));
    assert_eq!(steps[0].actual, engine.rows(&compiled).len());
}

#[test]
fn an_or_of_two_counts_each_and_their_and() {
    let engine = engine();
    let segment = r#"checkout:-1d.. or (name:"alice chen" tag:vip)"#;
    let steps = steps(&engine, segment);
    assert_eq!(
        (steps[0].how, steps[0].counted),
        (UnionByInclusion, true),
        "{steps:?}"
    );
    // The AND of both comes after the second child's own AND.
    let and = steps
        .iter()
        .rfind(|s| s.label == "AND")
        .expect("an AND step");
    let count = |segment: &str| engine.count(&engine.compile(segment, NOW).expect("compiles"));
    assert_eq!(
        and.actual,
        count(r#"checkout:-1d.. name:"alice chen" tag:vip"#)
    );
    assert_eq!(steps[0].actual, count(segment));
    let compiled = engine.compile(segment, NOW).expect("compiles");
    assert_eq!(steps[0].actual, engine.rows(&compiled).len());
}

#[test]
fn a_dense_or_is_one_fused_pass() {
    let engine = engine();
    for (segment, label) in [
        (
            "tag:vip or checkout:-30d.. or channel:line",
            r#"(tag = "vip" OR last_checkout_at in [2025-05-02T04:00:00Z, +∞) OR channel = line)"#,
        ),
        (
            "is:fb_sendable or tag:vip",
            r#"(fb_sendable at 2025-06-01T04:00:00Z OR tag = "vip")"#,
        ),
        (
            "-tag:vip or checkout:-30d..",
            r#"(NOT tag = "vip" OR last_checkout_at in [2025-05-02T04:00:00Z, +∞))"#,
        ),
    ] {
        let steps = steps(&engine, segment);
        let compiled = engine.compile(segment, NOW).expect("compiles");
        assert_eq!(
            steps,
            [Step {
                label: label.to_string(),
                how: Fused,
                counted: true,
                actual: engine.count(&compiled),
            }],
            "{segment}"
        );
        assert_eq!(steps[0].actual, engine.rows(&compiled).len(), "{segment}");
    }
    // Two stored bitmaps (or their negations) are united by roaring, container by
    // container.
    let steps = steps(&engine, "-tag:vip or tag:gold");
    assert_eq!((steps[0].how, steps[0].counted), (Union, true), "{steps:?}");
}

#[test]
fn an_or_of_time_ranges_is_one_scan_of_their_columns() {
    let engine = engine();
    for segment in [
        "checkout:-7d.. or interaction:-7d..",
        "checkout:-1d.. or interaction:-1d.. or marketing:-1d..",
    ] {
        let steps = steps(&engine, segment);
        let union = steps.iter().find(|s| s.label == "OR").expect("an OR step");
        assert_eq!(union.how, UnionOneScan, "{steps:?}");
        // Its time ranges are not steps of their own.
        assert!(
            !steps.iter().any(|s| s.label.contains(" in [")),
            "{steps:?}"
        );
        let compiled = engine.compile(segment, NOW).expect("compiles");
        assert_eq!(steps[0].actual, engine.count(&compiled));
        assert_eq!(steps[0].actual, engine.rows(&compiled).len());
    }
}

#[test]
fn an_or_of_time_ranges_within_running_rows_takes_them_together() {
    let engine = engine();
    let segment = r#"(checkout:-7d.. or interaction:-7d.. or tag:gold) name:"alice chen""#;
    let steps = steps(&engine, segment);
    let union = steps.iter().find(|s| s.label == "OR").expect("an OR step");
    assert_eq!(
        (union.how, union.counted),
        (UnionWithinTogether, false),
        "{steps:?}"
    );
    let compiled = engine.compile(segment, NOW).expect("compiles");
    assert_eq!(steps[0].actual, engine.rows(&compiled).len());
}

#[test]
fn an_and_of_negations_counts_the_live_rows_less_their_union() {
    let engine = engine();
    for segment in [
        "-tag:vip -checkout:-30d.. -channel:line",
        "-(tag:gold or marketing:-7d..)",
    ] {
        first_step_is(&engine, segment, ComplementOfUnion);
    }
}

#[test]
fn an_or_of_time_ranges_one_of_which_would_scan_its_column_is_fused() {
    // `interaction:-150d..` holds ~70% of the rows: its bucket orders do not answer it
    // alone, so a union would scan its column; the fused pass reads prefix words.
    let segment = "checkout:-7d.. or interaction:-150d..";
    first_step_is(&engine(), segment, Fused);
}

#[test]
fn an_and_of_negations_of_scanned_ranges_or_of_ands_is_fused() {
    let engine = engine();
    for segment in [
        "-checkout:-7d.. -interaction:-150d..",
        "-(checkout:-30d.. tag:vip) -(marketing:-7d.. tag:gold)",
    ] {
        first_step_is(&engine, segment, Fused);
    }
}

/// Asserts that `segment`'s first explained step takes `strategy`, counted, and that
/// its actual count is what the executor counts and returns.
fn first_step_is(engine: &Engine, segment: &str, strategy: Strategy) {
    let steps = steps(engine, segment);
    assert_eq!(
        (steps[0].how, steps[0].counted),
        (strategy, true),
        "{segment}: {steps:?}"
    );
    let compiled = engine.compile(segment, NOW).expect("compiles");
    assert_eq!(steps[0].actual, engine.count(&compiled), "{segment}");
    assert_eq!(steps[0].actual, engine.rows(&compiled).len(), "{segment}");
}

/// The tree is what EXPLAIN ANALYZE prints: one line a step, depth-first, each with its
/// label, strategy and actual rows.
#[test]
fn the_printed_explanation_renders_the_tree() {
    let engine = engine();
    for segment in [
        "checkout:-30d.. tag:vip -tag:churned",
        r#"checkout:-1d.. or (name:"alice chen" tag:vip)"#,
    ] {
        let compiled = engine.compile(segment, NOW).expect("compiles");
        let text = engine.explain(&compiled);
        let steps = steps(&engine, segment);
        assert_eq!(text.lines().count(), steps.len(), "{text}");
        for (line, step) in text.lines().zip(&steps) {
            let counted = if step.counted { ", counted" } else { "" };
            let shown = format!("{}  [{}{counted}]", step.label, step.how);
            assert!(line.contains(&shown), "{line} / {shown}");
            assert!(
                line.contains(&format!("; actual {}, ", step.actual)),
                "{line}"
            );
        }
    }
}
