//! Embedding reach in a service: open a data directory, load contacts, feed events as
//! they happen, query from several threads while changes arrive, and shut down.
//!
//! ```text
//! cargo run --release --example embed [DATA_DIR]
//! ```
//!
//! Without an argument it works in a temporary directory, which it removes at the end.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use reach::model::{Channel, Contact, Event, EventKind, FieldSet};
use reach::{Durability, Edit, Engine, Identity, Target, synth};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temporary = tempdir()?;
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temporary.join("reach-data"));
    let now = synth::DEFAULT_ANCHOR;

    // 1. Open: the engine holds the directory's write lock until it is dropped; a second
    //    writer (another process, or another Engine::open here) is refused.
    let engine = Arc::new(Engine::open(&dir)?);
    engine.set_durability(Durability::Group);

    // 2. Load contacts once (an import of a CSV works the same way: `Engine::import`).
    if engine.read().store().is_empty() {
        let contacts = synth::contacts(100_000, 1, now);
        let fields = FieldSet::all();
        engine.commit(Edit::Upsert { contacts, fields }, now)?;
    }
    let someone = {
        let view = engine.read();
        let row = view.store().live().min().ok_or("no contacts")?;
        let c: Contact = view.store().contact(row).ok_or("no contact")?;
        Identity::new(c.channel, &c.account, &c.external_id)
    };

    // 3. Query from threads while events arrive: each count sees one committed state.
    let segment = engine.compile("checkout:-1d.. is:subscribed", now)?;
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (engine, segment) = (Arc::clone(&engine), segment.clone());
            thread::spawn(move || {
                let started = Instant::now();
                let mut counts = 0;
                while started.elapsed() < Duration::from_millis(200) {
                    engine.count(&segment);
                    counts += 1;
                }
                counts
            })
        })
        .collect();

    // 4. Feed events: each is durable when `commit` returns. A field only moves forward.
    for minute in 0..1_000 {
        let event = Event {
            kind: EventKind::Checkout,
            at: now - 600 + minute,
        };
        engine.commit(
            Edit::Event {
                contact: someone.clone(),
                event,
            },
            now,
        )?;
    }
    // Many changes arriving together share one flush.
    let tags = (0..100)
        .map(|i| Edit::AddTags {
            tags: vec![format!("wave-{}", i % 5)],
            target: Target::Contact(someone.clone()),
        })
        .collect();
    let acknowledged = engine.commit_all(tags, now);
    assert!(acknowledged.iter().all(Result::is_ok));

    for reader in readers {
        let counts = reader.join().map_err(|_| "a reader panicked")?;
        println!("a reader counted {counts} times while events were applied");
    }
    println!(
        "{} contacts checked out in the last day",
        engine.count(&segment)
    );

    // 5. Erase a contact: the engine says which identities were erased, so that the
    //    service can erase their conversations too. After `compact`, no file of the
    //    directory holds any byte of them.
    let delete = Edit::Delete {
        target: Target::Contact(someone.clone()),
        confirm: reach::engine::CONFIRM_WORD.into(),
    };
    let erased = engine.commit(delete, now)?.applied.erased;
    engine.compact()?;
    println!("erased {erased:?}");
    assert_eq!(
        erased,
        vec![(
            someone.channel,
            someone.account.clone(),
            someone.external_id.clone()
        )]
    );
    assert_ne!(
        someone.channel,
        Channel::Web,
        "the first generated contact is not a web one"
    );

    // 6. Shut down: every commit was durable when it returned; dropping the engine gives
    //    the directory's lock back.
    drop(engine);
    let reopened = Engine::open_read_only(&dir)?;
    println!("reopened: {} contacts", reopened.read().store().len());
    std::fs::remove_dir_all(&temporary)?;
    Ok(())
}

/// A fresh temporary directory (the example avoids a dependency for it).
fn tempdir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("reach-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
