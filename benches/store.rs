//! Criterion benchmarks of the store's bulk paths on a generated audience: CSV import
//! (parse, check, stage), CSV export (all columns), and a snapshot's write and read.
//!
//! `REACH_BENCH_CONTACTS` sets the audience size (default 200,000: each iteration does
//! the whole job). Throughput is reported in contacts per second. The 10M-contact figures
//! in BENCHMARKS.md come from `reach import` / `reach export` / `reach count ''` runs.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reach::csv::{ColumnChoice, ImportOptions, export, stage};
use reach::store::{Store, snapshot};
use reach::synth;

fn contacts() -> u64 {
    std::env::var("REACH_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000)
}

fn load(csv: &[u8]) -> Store {
    let mut store = Store::new();
    let options = ImportOptions {
        size_hint: Some(csv.len() as u64),
        ..ImportOptions::default()
    };
    let staged = stage(&store, csv, &options, None, 0, &|_| {}).expect("a generated file imports");
    staged.apply_to(&mut store, 0).expect("applies");
    store
}

fn benches(c: &mut Criterion) {
    let n = contacts();
    let mut csv = Vec::new();
    synth::write_csv(n, 1, synth::DEFAULT_ANCHOR, &mut csv, &|_| {}).expect("generate");
    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n));
    group.bench_function("import", |b| b.iter(|| black_box(load(&csv))));
    let store = load(&csv);
    group.bench_function("export_all_columns", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(csv.len());
            export(&store, store.live(), ColumnChoice::All, &mut out, &|_| {})
                .expect("export to memory");
            black_box(out)
        })
    });
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("contacts.snap");
    let write = || {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        snapshot::write(&store, &[], &mut file).expect("write");
        std::io::Write::flush(&mut file).expect("flush");
    };
    group.bench_function("snapshot_write", |b| b.iter(write));
    write();
    group.bench_function("snapshot_read", |b| {
        b.iter(|| black_box(snapshot::read(&path).expect("read")))
    });
    group.finish();
}

criterion_group!(store, benches);
criterion_main!(store);
