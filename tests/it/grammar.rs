//! Every example segment (grammar/examples.seg, the spec's examples, the README's) parses.

use reach::syntax::parse;

fn segments_in(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn grammar_examples_parse() {
    let text = include_str!("../../grammar/examples.seg");
    for segment in segments_in(text) {
        assert!(
            parse(&segment).is_ok(),
            "{segment}: {:?}",
            parse(&segment).err()
        );
    }
}

#[test]
fn readme_segments_parse() {
    let readme = include_str!("../../README.md");
    let quoted: Vec<&str> = readme
        .split(" count '")
        .skip(1)
        .filter_map(|s| s.split('\'').next())
        .collect();
    assert!(!quoted.is_empty(), "the README shows segments");
    for segment in quoted {
        assert!(parse(segment).is_ok(), "{segment}");
    }
}

/// The spec lives beside the repository (`../shared/spec`), as it does for every
/// developer and for CI: its absence is a failure, not a pass.
#[test]
fn spec_examples_parse() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/spec/segment-language.md"
    );
    let spec = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the segment language spec {path}: {e}"));
    let block = spec
        .split("```")
        .nth(1)
        .expect("a block of example segments");
    let segments = segments_in(block);
    assert!(
        !segments.is_empty(),
        "the spec's first block holds examples"
    );
    for segment in segments {
        assert!(parse(&segment).is_ok(), "{segment}");
    }
}
