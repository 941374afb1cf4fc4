//! One clock: `reach::model::time::now` is the only place that reads the wall clock, so
//! that a fixed `--now` (or an embedder's own now) governs every result.

use std::path::Path;

/// The `.rs` files under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_wall_clock_is_read_in_one_function() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "the sources are found");
    let mut readers = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        for (n, line) in text.lines().enumerate() {
            if ["SystemTime::now", "Utc::now", "Local::now"]
                .iter()
                .any(|clock| line.contains(clock))
            {
                let relative = file.strip_prefix(&src).expect("under src");
                readers.push(format!("{}:{}", relative.display(), n + 1));
            }
        }
    }
    assert_eq!(readers.len(), 1, "{readers:?}");
    assert!(readers[0].starts_with("model/time.rs:"), "{readers:?}");
}

#[test]
fn now_is_the_clock() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let now = reach::model::time::now();
    assert!((before..before + 60).contains(&now), "{before} {now}");
}
