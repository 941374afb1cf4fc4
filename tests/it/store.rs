//! Store mutations keep every index exact: tag edits, opt-outs, deletions.

use reach::Engine;
use reach::model::{FieldSet, OptOuts};
use reach::store::{Change, Store};
use reach::synth;

fn engine() -> Engine {
    let mut store = Store::new();
    let contacts = synth::contacts(5_000, 11, synth::DEFAULT_ANCHOR);
    store
        .apply(
            &Change::Upsert {
                contacts,
                fields: FieldSet::all(),
            },
            0,
        )
        .expect("load");
    let mut engine = Engine::in_memory();
    engine.replace_store(store).expect("memory");
    engine
}

fn count(engine: &Engine, segment: &str) -> u64 {
    let compiled = engine
        .compile(segment, synth::DEFAULT_ANCHOR)
        .expect("compiles");
    engine.count(&compiled)
}

fn rows(engine: &Engine, segment: &str) -> roaring::RoaringBitmap {
    engine.rows(
        &engine
            .compile(segment, synth::DEFAULT_ANCHOR)
            .expect("compiles"),
    )
}

#[test]
fn tag_edits_keep_has_tag_exact() {
    let mut e = engine();
    let untagged = rows(&e, "-has:tag");
    assert!(!untagged.is_empty());
    e.apply(
        &Change::AddTag {
            tag: "new".into(),
            rows: untagged.clone(),
        },
        0,
    )
    .expect("add");
    assert_eq!(count(&e, "-has:tag"), 0);
    assert_eq!(count(&e, "tag:new"), untagged.len());
    e.apply(
        &Change::RemoveTag {
            tag: "new".into(),
            rows: untagged.clone(),
        },
        0,
    )
    .expect("remove");
    assert_eq!(count(&e, "-has:tag"), untagged.len());
    e.apply(
        &Change::DeleteTags {
            tags: vec!["vip".into()],
        },
        0,
    )
    .expect("delete tags");
    assert_eq!(count(&e, "tag:vip"), 0);
    assert!(e.store().tag("vip").is_none());
    assert!(
        e.apply(
            &Change::AddTag {
                tag: "a|b".into(),
                rows: untagged
            },
            0
        )
        .is_err()
    );
}

#[test]
fn unsubscribe_and_resubscribe_move_the_active_count() {
    let mut e = engine();
    let total = count(&e, "");
    let subscribed = count(&e, "is:subscribed");
    assert_eq!(subscribed + count(&e, "is:unsubscribed"), total);
    let line = rows(&e, "channel:line is:subscribed");
    e.apply(
        &Change::Unsubscribe {
            rows: line.clone(),
            kinds: OptOuts::ALL,
        },
        0,
    )
    .expect("unsub");
    assert_eq!(count(&e, "is:subscribed"), subscribed - line.len());
    assert_eq!(count(&e, "optout:cart channel:line is:subscribed"), 0);
    e.apply(
        &Change::Resubscribe {
            rows: rows(&e, "channel:line"),
        },
        0,
    )
    .expect("resub");
    assert_eq!(count(&e, "optout:broadcast channel:line"), 0);
    assert_eq!(
        count(&e, "is:blocked channel:line"),
        count(&e, "channel:line is:unsubscribed")
    );
}

#[test]
fn deleted_contacts_leave_no_trace() {
    let mut e = engine();
    let doomed = rows(&e, "channel:web has:email");
    let emails: Vec<String> = e
        .store()
        .contacts(&doomed)
        .into_iter()
        .filter_map(|c| c.texts[0].clone())
        .collect();
    let applied = e
        .apply(
            &Change::Delete {
                rows: doomed.clone(),
            },
            0,
        )
        .expect("delete");
    assert_eq!(applied.erased.len() as u64, doomed.len());
    assert_eq!(count(&e, "channel:web has:email"), 0);
    assert_eq!(count(&e, &format!("email:{}", emails[0])), 0);
    let tagged: u64 = e
        .store()
        .tags()
        .iter()
        .map(|t| (&t.rows & &doomed).len())
        .sum();
    assert_eq!(tagged, 0);
    assert_eq!(count(&e, "") + doomed.len(), 5_000);
    let again = e.store().compacted();
    assert_eq!(again.len(), count(&e, ""));
}
