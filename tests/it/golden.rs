//! Golden files: what reach prints (diagnostics, EXPLAIN, SQL, help, reports), pinned
//! whole in files under `tests/data/`, so that any change to a rendering shows up as a
//! diff in review.
//!
//! To accept new output, run `UPDATE_GOLDEN=1 cargo test --release --test it` and read
//! the diff of `tests/data/` before committing it.
//!
//! A helper of our own rather than `expect-test` or `insta`: these outputs are long
//! (help texts, SQL statements, plan trees) and read best as plain files, one per case,
//! exactly as reach prints them; the inputs of the parser cases are files too (a folder
//! of `.seg` files, each beside its golden `.out`); and it adds no dependency.

use std::path::{Path, PathBuf};

/// The folder of the golden files.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Whether golden files are rewritten instead of compared (`UPDATE_GOLDEN=1`).
fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0" && !v.is_empty())
}

/// Compares `actual` with the golden file `name` (relative to `tests/data/`); under
/// `UPDATE_GOLDEN=1` writes it there instead.
#[track_caller]
pub fn check(name: &str, actual: &str) {
    let path = data_dir().join(name);
    if updating() {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(actual) {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&path, actual).expect("write the golden file");
        }
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no golden file {} ({e}); UPDATE_GOLDEN=1 writes it:\n{actual}",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{} differs from what was printed (- golden, + now); if the change is meant, \
             UPDATE_GOLDEN=1 rewrites it:\n{}",
            path.display(),
            diff(&expected, actual)
        );
    }
}

/// The lines that differ, with a line of context either side (a positional diff: enough
/// to see what changed in a rendering).
fn diff(expected: &str, actual: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let differs = |i: usize| old.get(i) != new.get(i);
    let mut out = String::new();
    for i in 0..old.len().max(new.len()) {
        if differs(i) {
            if let Some(line) = old.get(i) {
                out.push_str(&format!("{:>4} - {line}\n", i + 1));
            }
            if let Some(line) = new.get(i) {
                out.push_str(&format!("{:>4} + {line}\n", i + 1));
            }
        } else if (i > 0 && differs(i - 1)) || differs(i + 1) {
            out.push_str(&format!("{:>4}   {}\n", i + 1, old[i]));
        }
    }
    if out.is_empty() {
        out.push_str("(the same lines; the final line break differs)\n");
    }
    out
}

/// `text` with every EXPLAIN ANALYZE time (`, 0.123 ms)` at a line's end) as `<t>`.
pub fn without_times(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.strip_suffix(" ms)").and_then(|l| l.rsplit_once(", ")) {
            Some((head, time)) if time.parse::<f64>().is_ok() => {
                out.push_str(&format!("{head}, <t> ms)"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The files of `dir` (relative to `tests/data/`) ending in `.extension`, sorted; at
/// least one, so that a moved folder fails rather than checks nothing.
pub fn inputs(dir: &str, extension: &str) -> Vec<PathBuf> {
    let folder = data_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .{extension} file in {}",
        folder.display()
    );
    files
}

/// Every golden `.out` beside the inputs has its input: a renamed or removed case
/// leaves no stale golden file behind.
pub fn no_stale_outputs(dir: &str, extension: &str) {
    for out in inputs(dir, "out") {
        let input = out.with_extension(extension);
        assert!(
            input.exists(),
            "{} has no {} (remove it)",
            out.display(),
            input.display()
        );
    }
}

#[test]
fn times_are_normalized_and_nothing_else() {
    let text = "AND  [intersection, cost order, counted]  (est 3, cost 1 kB; actual 2, 0.031 ms)\n\
                └─ tag = \"vip, 1 ms)\"  [bitmap]  (est 3, cost 1 kB; actual 3, 12.000 ms)\n";
    assert_eq!(
        without_times(text),
        "AND  [intersection, cost order, counted]  (est 3, cost 1 kB; actual 2, <t> ms)\n\
         └─ tag = \"vip, 1 ms)\"  [bitmap]  (est 3, cost 1 kB; actual 3, <t> ms)\n"
    );
    assert_eq!(without_times("warning: x\n"), "warning: x\n");
}

#[test]
fn a_diff_shows_the_changed_lines() {
    let d = diff("a\nb\nc\nd\n", "a\nB\nc\nd\n");
    assert_eq!(d, "   1   a\n   2 - b\n   2 + B\n   3   c\n");
}
