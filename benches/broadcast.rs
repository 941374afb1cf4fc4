//! Broadcast benchmarks: the preview (judging every contact of the store, the full
//! exclusion report) with criterion, then whole dispatches with durable progress — to the
//! discard sink and to a JSON Lines outbox — timed once each and printed.
//!
//! `REACH_BENCH_DATA=DIR` uses a scratch copy of a data directory you give (the
//! dispatches start jobs in it); without it, 1,000,000 generated contacts are loaded into
//! a temporary one.

use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use reach::Engine;
use reach::broadcast::{self, AudienceSource, Message, Options, Request, Rules, Run, Sink, judge};
use reach::model::MessageKind;

mod common;

use common::{NOW, engine};

fn request(engine: &Engine, id: &str, sink: &str) -> Request {
    Request {
        id: Some(id.into()),
        audience: AudienceSource::Segment(engine.compile("", NOW).expect("compiles")),
        message: Message {
            kind: MessageKind::Bot,
            text: "Hi {{name|friend}}".into(),
            payloads: Default::default(),
            subject: None,
        },
        options: Options {
            reply_window: false,
            partial: true,
            rate: None,
            sink: sink.into(),
            channels: None,
        },
    }
}

/// Starts and sends one job through `sink`, printing recipients a second.
fn dispatch(engine: &Engine, name: &str, id: &str, sink: &dyn Sink) {
    let started = Instant::now();
    let job = broadcast::start(engine, request(engine, id, name), sink, NOW).expect("starts");
    let frozen = started.elapsed();
    let report = broadcast::send(engine, &job, sink, false, &Run::default()).expect("sends");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "dispatch/{name}: {} recipients in {seconds:.2} s (start {:.2} s) = {:.0} recipients/s, state {}",
        report.figures.sent,
        frozen.as_secs_f64(),
        report.figures.sent as f64 / seconds,
        report.state
    );
}

fn main() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let engine = engine(&scratch.path().join("data"));
    let mut criterion = Criterion::default().configure_from_args();
    {
        let view = engine.read();
        let all = view.store().live().clone();
        let mut group = criterion.benchmark_group("broadcast");
        for (name, kind) in [
            ("preview_all/broadcast", MessageKind::Broadcast),
            ("preview_all/bot", MessageKind::Bot),
        ] {
            let rules = Rules {
                kind,
                reply_window: false,
                partial: true,
                now: NOW,
            };
            group.bench_function(name, |b| {
                b.iter(|| black_box(judge(&view, &all, 0, rules).expect("judges")))
            });
        }
        group.finish();
    }
    criterion.final_summary();
    let stamp = std::process::id();
    dispatch(
        &engine,
        "discard",
        &format!("bench-discard-{stamp}"),
        &broadcast::sinks::Discard,
    );
    let outbox = scratch.path().join("outbox.jsonl");
    let spelling = format!("jsonl:{}", outbox.display());
    let jsonl = broadcast::sinks::Jsonl::open(&outbox.display().to_string(), "bench", None)
        .expect("outbox");
    dispatch(&engine, &spelling, &format!("bench-jsonl-{stamp}"), &jsonl);
}
