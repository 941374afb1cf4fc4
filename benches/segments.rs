//! Criterion benchmarks: counting segments, and parse + plan, on a generated audience.
//!
//! `REACH_BENCH_DATA=DIR` benchmarks a data directory made by `reach import` (e.g. 10M
//! contacts); otherwise `REACH_BENCH_CONTACTS` (default 1,000,000) contacts are generated.
//! Ids read `operation/segment`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use reach::model::FieldSet;

use reach::{Edit, Engine, synth};

const NOW: i64 = synth::DEFAULT_ANCHOR;

const SEGMENTS: &[(&str, &str)] = &[
    ("tag", "tag:vip"),
    ("flag", "is:blocked"),
    ("channel", "channel:line"),
    ("account", "account:line-tw"),
    ("time_range", "checkout:-30d.."),
    ("subscribed", "is:subscribed"),
    (
        "spec_line_vip_recent",
        "channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed",
    ),
    (
        "fb_sendable",
        "channel:facebook is:fb_sendable tag:\"雙11 會員\"",
    ),
    ("name", "name:\"alice chen\""),
    (
        "marketer_10",
        "channel:line tag:vip -tag:churned checkout:-30d.. interaction:-90d.. marketing:<-7d is:subscribed -is:over_quota is:bound has:email,phone",
    ),
];

fn engine() -> Engine {
    if let Some(dir) = std::env::var_os("REACH_BENCH_DATA") {
        return Engine::open(dir).expect("a reach data directory");
    }
    let n: u64 = std::env::var("REACH_BENCH_CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let engine = Engine::in_memory();
    let contacts = synth::contacts(n, 1, NOW);
    for chunk in contacts.chunks(100_000) {
        let edit = Edit::Upsert {
            contacts: chunk.to_vec(),
            fields: FieldSet::all(),
        };
        engine.commit(edit, NOW).expect("valid generated contacts");
    }
    engine
}

fn benches(c: &mut Criterion) {
    let engine = engine();
    let mut group = c.benchmark_group("count");
    for (name, text) in SEGMENTS {
        let segment = engine.compile(text, NOW).expect("compiles");
        group.bench_function(*name, |b| b.iter(|| engine.count(black_box(&segment))));
    }
    group.finish();
    let marketer = SEGMENTS
        .iter()
        .find(|s| s.0 == "marketer_10")
        .map(|s| s.1)
        .unwrap_or_default();
    c.bench_function("parse_plan/marketer_10", |b| {
        b.iter(|| engine.compile(black_box(marketer), NOW).expect("compiles"))
    });
}

criterion_group!(segments, benches);
criterion_main!(segments);
