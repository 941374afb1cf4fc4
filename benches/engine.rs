//! Criterion benchmarks of the engine's commit path on a data directory: one durable tag
//! edit of one contact, one event, and how long readers wait while changes are applied.
//!
//! `REACH_BENCH_DATA=DIR` runs on a copy-free scratch directory you give (it is written:
//! each iteration adds and removes a tag on one contact; use a copy, e.g. of a 10M
//! directory); without it, 1,000,000 generated contacts are loaded into a temporary one.
//! After the criterion groups, the reader-wait measurement prints its figures.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use reach::model::{Event, EventKind};
use reach::{Durability, Edit, Engine, Identity, Target};

mod common;

use common::{NOW, engine};

/// A contact of the store, by identity.
fn someone(engine: &Engine, nth: u32) -> Identity {
    let view = engine.read();
    let store = view.store();
    let row = store.live().select(nth).unwrap_or(0);
    let c = store.contact(row).expect("a live contact");
    Identity::new(c.channel, &c.account, &c.external_id)
}

fn commits(c: &mut Criterion, engine: &Engine) {
    let who = Target::Contact(someone(engine, 12_345));
    let mut group = c.benchmark_group("commit");
    for (name, durability) in [("sync", Durability::Sync), ("group", Durability::Group)] {
        engine.set_durability(durability);
        let mut on = false;
        group.bench_function(format!("tag_one_contact/{name}"), |b| {
            b.iter(|| {
                on = !on;
                let tags = vec!["bench-tag".to_string()];
                let edit = if on {
                    Edit::AddTags {
                        tags,
                        target: who.clone(),
                    }
                } else {
                    Edit::RemoveTags {
                        tags,
                        target: who.clone(),
                    }
                };
                black_box(engine.commit(edit, NOW).expect("commit"))
            })
        });
    }
    let contact = someone(engine, 54_321);
    let mut at = NOW;
    group.bench_function("event_one_contact/group", |b| {
        b.iter(|| {
            at += 1;
            let event = Event {
                kind: EventKind::CustomerInteraction,
                at,
            };
            black_box(engine.commit(
                Edit::Event {
                    contact: contact.clone(),
                    event,
                },
                NOW,
            ))
        })
    });
    group.finish();
}

/// Readers count a marketer's segment on two threads while the main thread commits
/// single-contact changes and then one change of many contacts: the longest count
/// during writes, against the longest without.
fn reader_wait(engine: Arc<Engine>) {
    let segment = engine
        .compile("tag:vip checkout:-30d.. is:subscribed", NOW)
        .expect("compiles");
    let measure = |writes: &dyn Fn()| {
        let done = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (engine, segment, done) =
                    (Arc::clone(&engine), segment.clone(), Arc::clone(&done));
                std::thread::spawn(move || {
                    let mut longest = Duration::ZERO;
                    let mut counts = 0u64;
                    while !done.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        black_box(engine.count(&segment));
                        longest = longest.max(started.elapsed());
                        counts += 1;
                    }
                    (longest, counts)
                })
            })
            .collect();
        writes();
        done.store(true, Ordering::Relaxed);
        readers
            .into_iter()
            .map(|r| r.join().expect("reader"))
            .fold((Duration::ZERO, 0), |(l, n), (l2, n2)| (l.max(l2), n + n2))
    };
    let (quiet, n) = measure(&|| std::thread::sleep(Duration::from_secs(2)));
    println!("reader_wait/no_writes: longest count {quiet:?} over {n} counts");
    engine.set_durability(Durability::Group);
    let who = someone(&engine, 777);
    let (single, n) = measure(&|| {
        let started = Instant::now();
        let mut at = NOW;
        while started.elapsed() < Duration::from_secs(2) {
            at += 1;
            let event = Event {
                kind: EventKind::Checkout,
                at,
            };
            engine
                .commit(
                    Edit::Event {
                        contact: who.clone(),
                        event,
                    },
                    NOW,
                )
                .expect("commit");
        }
    });
    println!("reader_wait/single_contact_commits: longest count {single:?} over {n} counts");
    let line = Target::Segment(engine.compile("channel:line", NOW).expect("compiles"));
    let (bulk, n) = measure(&|| {
        let started = Instant::now();
        let mut round = 0;
        while started.elapsed() < Duration::from_secs(2) {
            round += 1;
            let tags = vec![format!("bulk-{}", round % 2)];
            let edit = if round % 4 < 2 {
                Edit::AddTags {
                    tags,
                    target: line.clone(),
                }
            } else {
                Edit::RemoveTags {
                    tags,
                    target: line.clone(),
                }
            };
            engine.commit(edit, NOW).expect("commit");
        }
    });
    println!("reader_wait/tag_every_line_contact: longest count {bulk:?} over {n} counts");
}

fn main() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let engine = engine(&scratch.path().join("data"));
    let mut criterion = Criterion::default().configure_from_args();
    commits(&mut criterion, &engine);
    criterion.final_summary();
    reader_wait(Arc::new(engine));
}
