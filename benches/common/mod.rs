//! What the engine benchmarks share: a writable data directory to measure on.

use reach::csv::ImportOptions;
use reach::{Engine, synth};

/// The benchmarks' now.
pub const NOW: i64 = synth::DEFAULT_ANCHOR;

/// `REACH_BENCH_DATA` (a scratch copy you give: the benchmarks write to it), else
/// 1,000,000 generated contacts imported into `scratch`.
pub fn engine(scratch: &std::path::Path) -> Engine {
    if let Some(dir) = std::env::var_os("REACH_BENCH_DATA") {
        return Engine::open(dir).expect("a reach data directory");
    }
    let engine = Engine::open(scratch).expect("a scratch directory");
    let mut csv = Vec::new();
    synth::write_csv(1_000_000, 1, NOW, &mut csv, &|_| {}).expect("generate");
    engine
        .import(&csv[..], &ImportOptions::default(), None, NOW, &|_| {})
        .expect("import");
    engine
}
