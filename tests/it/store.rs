//! Store mutations keep every index exact: tag edits, opt-outs, deletions.

use reach::model::{FieldSet, OptOuts};
use reach::store::{Change, Store};
use reach::synth;
use reach::{Edit, Engine, Target};

fn engine() -> Engine {
    let engine = Engine::in_memory();
    let contacts = synth::contacts(5_000, 11, synth::DEFAULT_ANCHOR);
    let fields = FieldSet::all();
    commit(&engine, Edit::Upsert { contacts, fields });
    engine
}

/// [`engine`]'s contacts in a data directory, checkpointed.
fn engine_in(dir: &std::path::Path) -> Engine {
    let engine = Engine::open(dir).expect("opens");
    let contacts = synth::contacts(5_000, 11, synth::DEFAULT_ANCHOR);
    let fields = FieldSet::all();
    commit(&engine, Edit::Upsert { contacts, fields });
    engine.compact().expect("checkpoints");
    engine
}

fn commit(engine: &Engine, edit: Edit) -> reach::Committed {
    engine.commit(edit, 0).expect("the change is accepted")
}

fn segment(engine: &Engine, text: &str) -> Target {
    Target::Segment(
        engine
            .compile(text, synth::DEFAULT_ANCHOR)
            .expect("compiles"),
    )
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
    let e = engine();
    let untagged = rows(&e, "-has:tag");
    assert!(!untagged.is_empty());
    let tags = vec!["new".to_string()];
    let target = segment(&e, "-has:tag");
    commit(
        &e,
        Edit::AddTags {
            tags: tags.clone(),
            target,
        },
    );
    assert_eq!(count(&e, "-has:tag"), 0);
    assert_eq!(count(&e, "tag:new"), untagged.len());
    let target = segment(&e, "tag:new");
    commit(&e, Edit::RemoveTags { tags, target });
    assert_eq!(count(&e, "-has:tag"), untagged.len());
    commit(
        &e,
        Edit::DeleteTags {
            tags: vec!["vip".into()],
        },
    );
    assert_eq!(count(&e, "tag:vip"), 0);
    assert!(e.read().store().tag("vip").is_none());
    let bad = Edit::AddTags {
        tags: vec!["a|b".into()],
        target: segment(&e, "-has:tag"),
    };
    assert!(e.commit(bad, 0).is_err());
}

#[test]
fn unsubscribe_and_resubscribe_move_the_active_count() {
    let e = engine();
    let total = count(&e, "");
    let subscribed = count(&e, "is:subscribed");
    assert_eq!(subscribed + count(&e, "is:unsubscribed"), total);
    let line = rows(&e, "channel:line is:subscribed");
    let target = segment(&e, "channel:line is:subscribed");
    commit(
        &e,
        Edit::Unsubscribe {
            target,
            kinds: OptOuts::ALL,
        },
    );
    assert_eq!(count(&e, "is:subscribed"), subscribed - line.len());
    assert_eq!(count(&e, "optout:cart channel:line is:subscribed"), 0);
    commit(
        &e,
        Edit::Resubscribe {
            target: segment(&e, "channel:line"),
        },
    );
    assert_eq!(count(&e, "optout:broadcast channel:line"), 0);
    assert_eq!(
        count(&e, "is:blocked channel:line"),
        count(&e, "channel:line is:unsubscribed")
    );
}

#[test]
fn deleted_contacts_leave_no_trace() {
    let e = engine();
    let doomed = rows(&e, "channel:web has:email");
    let emails: Vec<String> = e
        .read()
        .store()
        .contacts(&doomed)
        .into_iter()
        .filter_map(|c| c.texts[0].clone())
        .collect();
    let target = segment(&e, "channel:web has:email");
    let wrong = Edit::Delete {
        target: target.clone(),
        confirm: "delete".into(),
    };
    assert!(
        e.commit(wrong, 0).is_err(),
        "only the exact word DELETE deletes"
    );
    assert_eq!(count(&e, "channel:web has:email"), doomed.len());
    let committed = commit(
        &e,
        Edit::Delete {
            target,
            confirm: "DELETE".into(),
        },
    );
    assert_eq!(committed.applied.erased.len() as u64, doomed.len());
    assert_eq!(count(&e, "channel:web has:email"), 0);
    assert_eq!(count(&e, &format!("email:{}", emails[0])), 0);
    let tagged: u64 = e
        .read()
        .store()
        .tags()
        .iter()
        .map(|t| (&*t.rows & &doomed).len())
        .sum();
    assert_eq!(tagged, 0);
    assert_eq!(count(&e, "") + doomed.len(), 5_000);
    let again = e.read().store().compacted();
    assert_eq!(again.len(), count(&e, ""));
}

#[test]
fn append_refuses_repeated_identities_and_changes_nothing() {
    use reach::model::Channel;
    use reach::store::ChangeError;
    let contacts = synth::contacts(2_000, 4, synth::DEFAULT_ANCHOR);
    let mut store = Store::new();
    let applied = store
        .apply(
            &Change::Append {
                batch: batch_of(&contacts[..1_000]),
            },
            0,
        )
        .expect("new identities");
    assert_eq!((applied.created, store.len()), (1_000, 1_000));
    let before = store.contacts(store.live());
    // Row 5 of the next batch repeats stored row 7; row 9 repeats the batch's row 2.
    let mut next = contacts[1_000..1_010].to_vec();
    next[5] = contacts[7].clone();
    next[9] = next[2].clone();
    let refused = store.apply(
        &Change::Append {
            batch: batch_of(&next),
        },
        0,
    );
    assert_eq!(
        refused,
        Err(ChangeError::Repeated(vec![(5, 7), (9, 1_002)]))
    );
    assert_eq!(store.contacts(store.live()), before);
    assert_eq!(store.row_count(), 1_000);
    let fresh = &contacts[1_000];
    assert!(
        store
            .find(fresh.channel, &fresh.account, &fresh.external_id)
            .is_none()
    );
    // The rest appends, and every identity is found at its row.
    store
        .apply(
            &Change::Append {
                batch: batch_of(&contacts[1_000..]),
            },
            0,
        )
        .expect("new identities");
    for (row, c) in contacts.iter().enumerate() {
        assert_eq!(
            store.find(c.channel, &c.account, &c.external_id),
            Some(row as u32)
        );
    }
    assert_eq!(store.contacts(store.live()), contacts);
    assert!(store.find(Channel::Web, "nobody", "none").is_none());
}

#[test]
fn append_mixes_stored_and_new_accounts() {
    use reach::model::{Channel, Contact};
    use reach::store::RowBatch;
    let batch_of = |ids: &[(&str, &str)]| {
        let mut batch = RowBatch::new();
        for (account, id) in ids {
            batch
                .push(&Contact::new(Channel::Line, account, id))
                .expect("valid");
        }
        Box::new(batch)
    };
    let mut store = Store::new();
    let first = batch_of(&[("a", "1")]);
    store
        .apply(&Change::Append { batch: first }, 0)
        .expect("new");
    let second = batch_of(&[("b", "2"), ("a", "3"), ("c", "4")]);
    store
        .apply(&Change::Append { batch: second }, 0)
        .expect("new");
    for (account, id, row) in [("a", "1", 0), ("b", "2", 1), ("a", "3", 2), ("c", "4", 3)] {
        assert_eq!(store.find(Channel::Line, account, id), Some(row));
        assert!(store.account(account).contains(row));
    }
    assert_eq!(store.account("a").len(), 2);
}

/// A batch of new contacts, for `Change::Append`.
fn batch_of(contacts: &[reach::model::Contact]) -> Box<reach::store::RowBatch> {
    let mut batch = reach::store::RowBatch::new();
    for c in contacts {
        batch.push(c).expect("valid");
    }
    Box::new(batch)
}

/// A web contact with a name and maybe an email.
fn web(id: &str, name: &str, email: Option<&str>) -> reach::model::Contact {
    use reach::model::{Channel, Contact, TextField};
    let mut c = Contact::new(Channel::Web, "site", id);
    c.name = name.into();
    c.texts[TextField::Email.index()] = email.map(str::to_string);
    c
}

/// The rows whose email is `value` (ignoring case).
fn emails(store: &Store, value: &str) -> Vec<u32> {
    let rows = store.text_eq(reach::model::TextField::Email, value);
    rows.iter().collect()
}

/// The rows whose name is `value` (folded).
fn names(store: &Store, value: &str) -> Vec<u32> {
    store.name_eq(value).iter().collect()
}

#[test]
fn append_keeps_built_equality_indexes_exact() {
    let mut store = Store::new();
    let first = batch_of(&[web("1", "Ann Lee", Some("ann@x.com"))]);
    store
        .apply(&Change::Append { batch: first }, 0)
        .expect("new");
    // Querying builds the indexes; the next append must keep them exact.
    assert_eq!(
        (names(&store, "ann lee"), emails(&store, "ANN@x.com")),
        (vec![0], vec![0])
    );
    let second = batch_of(&[
        web("2", "ANN LEE ", Some("ann@X.com")),
        web("3", "Bo", Some("bo@x.com")),
    ]);
    store
        .apply(&Change::Append { batch: second }, 0)
        .expect("new");
    assert_eq!(names(&store, "Ann Lee"), [0, 1]);
    assert_eq!(emails(&store, "ann@x.com"), [0, 1]);
    assert_eq!(emails(&store, "bo@x.com"), [2]);
}

#[test]
fn reserving_absurd_room_is_harmless() {
    let mut store = Store::new();
    store.reserve(usize::MAX);
    store.reserve(1 << 40);
    assert!(store.is_empty());
}

#[test]
fn renames_and_new_emails_show_whether_or_not_the_index_was_built() {
    let upsert = |store: &mut Store, contacts: Vec<reach::model::Contact>| {
        let change = Change::Upsert {
            contacts,
            fields: FieldSet::all(),
        };
        store.apply(&change, 0).expect("valid");
    };
    for query_first in [false, true] {
        let mut store = Store::new();
        upsert(
            &mut store,
            vec![web("1", "Ann", Some("a@x.com")), web("2", "Bo", None)],
        );
        if query_first {
            assert_eq!(
                (names(&store, "ann"), emails(&store, "a@x.com")),
                (vec![0], vec![0])
            );
        }
        upsert(
            &mut store,
            vec![web("1", "Cy", None), web("2", "Ann", Some("A@x.com"))],
        );
        assert_eq!(
            (names(&store, "ann"), names(&store, "cy")),
            (vec![1], vec![0])
        );
        assert_eq!(emails(&store, "a@x.com"), [1]);
        let erase = Change::Delete {
            rows: [1].into_iter().collect(),
        };
        store.apply(&erase, 0).expect("delete");
        assert!(names(&store, "ann").is_empty() && names(&store, "").is_empty());
        assert!(emails(&store, "a@x.com").is_empty());
    }
}

/// One random tag edit, as (kind, tag, rows or contact): bulk edits count tags per row,
/// one-row edits look at the row's other tags; `has:tag` must stay exact either way.
fn random_tag_edit(rng: &mut crate::Rng, e: &Engine) -> Edit {
    let tags = vec![format!("t{}", rng.below(4))];
    let segments = [
        "channel:line",
        "tag:vip",
        "tag:t0",
        "tag:t1",
        "-has:tag",
        "channel:web",
    ];
    let target = if rng.chance(60) {
        let view = e.read();
        let store = view.store();
        let row = store
            .live()
            .select(rng.below(store.len()) as u32)
            .unwrap_or(0);
        let c = store.contact(row).expect("live");
        Target::Contact(reach::Identity::new(c.channel, &c.account, &c.external_id))
    } else {
        let text = *rng.pick(&segments[..]);
        let text = text.to_string();
        segment(e, &text)
    };
    match rng.below(10) {
        0..=3 => Edit::AddTags { tags, target },
        4..=7 => Edit::RemoveTags { tags, target },
        8 => Edit::DeleteTags { tags },
        _ => {
            let view = e.read();
            let row = view.store().live().min().unwrap_or(0);
            let mut c = view.store().contact(row).expect("live");
            c.tags = if rng.chance(50) {
                Vec::new()
            } else {
                vec!["t2".into()]
            };
            Edit::Upsert {
                contacts: vec![c],
                fields: [reach::model::Field::Tags].into_iter().collect(),
            }
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 40, ..Default::default() })]

    #[test]
    fn has_tag_stays_exact_under_random_tag_edits(seed in proptest::prelude::any::<u64>()) {
        let e = Engine::in_memory();
        let contacts = synth::contacts(600, seed % 7, synth::DEFAULT_ANCHOR);
        commit(&e, Edit::Upsert { contacts, fields: FieldSet::all() });
        let mut rng = crate::Rng(seed);
        for _ in 0..40 {
            let edit = random_tag_edit(&mut rng, &e);
            e.commit(edit, 0).expect("a tag edit is accepted");
            let view = e.read();
            let store = view.store();
            let expected: roaring::RoaringBitmap = roaring::MultiOps::union(store.tags().iter().map(|t| &*t.rows));
            proptest::prop_assert_eq!(store.tagged(), &expected);
            let has = view.compile("has:tag", 0).expect("compiles");
            proptest::prop_assert_eq!(view.count(&has), expected.len());
        }
    }
}

/// A lookup by name or text value is answered by scanning the column a few times before
/// the column's index is built (a one-shot command never pays for an index): both ways
/// give every row whose folded value matches, before and after the switch.
#[test]
fn lookups_scan_first_then_use_an_index_with_the_same_answers() {
    use reach::model::TextField;
    let store = crate::generated_store(3_000, 7, 100);
    let contacts = store.contacts(store.live());
    let rows = store.live().iter().collect::<Vec<_>>();
    let expected = |pick: &dyn Fn(&reach::model::Contact) -> Option<String>, key: &str| {
        let rows = rows.iter().zip(&contacts);
        let matching = rows.filter(|(_, c)| {
            pick(c).is_some_and(|v| reach::store::fold(&v) == reach::store::fold(key))
        });
        matching
            .map(|(&r, _)| r)
            .collect::<roaring::RoaringBitmap>()
    };
    let name = contacts[17].name.to_uppercase();
    let email = contacts
        .iter()
        .find_map(|c| c.texts[0].clone())
        .expect("an email");
    let want_name = expected(&|c| Some(c.name.clone()), &name);
    let want_email = expected(&|c| c.texts[0].clone(), &email);
    assert!(!want_name.is_empty() && !want_email.is_empty());
    for _ in 0..8 {
        assert_eq!(store.name_eq(&name), want_name);
        assert_eq!(
            store.text_eq(TextField::Email, &email.to_uppercase()),
            want_email
        );
    }
}

/// `store` written to a snapshot file in a directory of its own (kept while it lives).
fn snapshot_of(store: &reach::store::Store) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("contacts.snap");
    let mut bytes = Vec::new();
    reach::store::snapshot::write(store, b"", &mut bytes).expect("to memory");
    std::fs::write(&path, &bytes).expect("snapshot");
    (dir, path)
}

/// A store mapped from a snapshot reads a tag's rows at first use; `read_tag_rows` reads
/// them all at once (as a round removing tags does before the engine's write lock), and
/// they are the rows written.
#[test]
fn every_tag_s_rows_are_read_ahead_at_once() {
    let store = crate::generated_store(2_000, 11, 100);
    let (_dir, path) = snapshot_of(&store);
    let mapped = reach::store::snapshot::read(&path).expect("reads").0;
    let read = |s: &reach::store::Store| s.tags().iter().filter(|e| e.rows.is_loaded()).count();
    assert!(store.tags().len() > 3);
    assert_eq!(read(&mapped), 0, "no tag read at open");
    mapped.read_tag_rows();
    assert_eq!(read(&mapped), store.tags().len());
    for (got, want) in mapped.tags().iter().zip(store.tags()) {
        assert_eq!((&got.name, &*got.rows), (&want.name, &*want.rows));
    }
}

/// A process's first four lookups of a text field scan, in place in the data file; the
/// fifth builds the column's index, as a store whose column was read builds it at its
/// fifth (not four more scans of the column read).
#[test]
fn the_fifth_text_lookup_builds_the_index_after_scans_in_place() {
    use reach::model::TextField;
    let store = crate::generated_store(2_000, 11, 100);
    let (_dir, path) = snapshot_of(&store);
    let email = (store.contacts(store.live()).into_iter())
        .find_map(|c| c.texts[TextField::Email.index()].clone())
        .expect("an email");
    let column_bytes = |s: &reach::store::Store| {
        (s.memory_breakdown().into_iter())
            .find(|(part, _)| part == "text email")
            .map_or(0, |(_, bytes)| bytes)
    };
    let read_whole = reach::store::snapshot::read(&path).expect("reads").0;
    let mapped = reach::store::snapshot::read(&path).expect("reads").0;
    let _ = read_whole.contacts(read_whole.live());
    for _ in 0..5 {
        let want = read_whole.text_eq(TextField::Email, &email);
        assert_eq!(mapped.text_eq(TextField::Email, &email), want);
    }
    let indexed = column_bytes(&read_whole);
    assert!(indexed > 0);
    assert_eq!(
        column_bytes(&mapped),
        indexed,
        "the fifth lookup built no index"
    );
}

/// Lookups by name and text value of a store mapped from a snapshot read the columns
/// where they lie in the file (a process's first few), and answer as the columns read
/// whole do: every text field, names as typed in any case, with white space around, the
/// rows that have each text field, and the Facebook rows `is:fb_sendable` reads.
#[test]
fn lookups_in_place_answer_as_the_columns_read_whole() {
    use reach::model::TextField;
    let store = crate::generated_store(2_000, 11, 100);
    let (_dir, path) = snapshot_of(&store);
    let mapped = || reach::store::snapshot::read(&path).expect("reads back").0;
    let contacts = store.contacts(store.live());
    for (row, contact) in store.live().iter().zip(&contacts).step_by(53) {
        let name = &contact.name;
        for key in [name.clone(), name.to_uppercase(), format!("  {name}\t")] {
            assert_eq!(mapped().name_eq(&key), store.name_eq(&key), "{key:?}");
        }
        for (&field, value) in TextField::ALL.iter().zip(&contact.texts) {
            let Some(value) = value else { continue };
            let found = mapped().text_eq(field, value);
            assert!(found.contains(row), "{field:?} {value:?}");
            assert_eq!(found, store.text_eq(field, value), "{field:?} {value:?}");
        }
    }
    for &field in TextField::ALL {
        assert_eq!(mapped().text_present(field), store.text_present(field));
    }
    // `is:fb_sendable` reads its two time columns' Facebook rows in place.
    let anchor = reach::synth::DEFAULT_ANCHOR;
    for now in [anchor - 40 * 86_400, anchor, anchor + 3 * 86_400] {
        let day = 86_400;
        let at = reach::model::SendableAt {
            now,
            latest_send: [now - day, now - 7 * day, now - 30 * day],
        };
        assert_eq!(mapped().fb_sendable(at), store.fb_sendable(at), "at {now}");
    }
    assert!(
        !store
            .fb_sendable(reach::model::SendableAt {
                now: anchor,
                latest_send: [anchor - 86_400, anchor - 7 * 86_400, anchor - 30 * 86_400]
            })
            .is_empty()
    );
    let missing = mapped();
    assert!(missing.name_eq("nobody at all").is_empty());
    assert!(missing.text_eq(TextField::Phone, "+0").is_empty());
}

/// Tags per row, counted 65,536 rows at a time, are each row's tags, over every chunk
/// and the last, partial one.
#[test]
fn tags_per_row_are_counted_over_every_chunk() {
    let store = crate::generated_store(140_000, 3, 100);
    let counts = (0..10).find_map(|_| store.tag_counts_due());
    let mut expected = vec![0u16; store.row_count() as usize];
    for tag in store.tags() {
        tag.rows.iter().for_each(|row| expected[row as usize] += 1);
    }
    assert!(
        expected[131_072..].iter().any(|&c| c > 1),
        "the last chunk holds tags"
    );
    assert_eq!(counts, Some(expected));
}

/// One-row tag removals test each tag for the row's other tags for a process's first
/// four rounds of commits; the fifth counts tags per row once, so that a stream of
/// removals (a server's) stops testing every tag per row. `has:tag` stays exact.
#[test]
fn one_row_tag_removals_count_tags_from_the_fifth() {
    let e = engine();
    let tag_counts = |e: &Engine| {
        let view = e.read();
        let parts = view.store().memory_breakdown();
        parts
            .into_iter()
            .find(|(part, _)| part == "tag counts")
            .map_or(0, |(_, bytes)| bytes)
    };
    let identities: Vec<reach::Identity> = {
        let view = e.read();
        let store = view.store();
        let contacts = store.contacts(&store.live().iter().take(6).collect());
        (contacts.iter())
            .map(|c| reach::Identity::new(c.channel, &c.account, &c.external_id))
            .collect()
    };
    for (i, identity) in identities.into_iter().enumerate() {
        let tags = vec!["once".to_string()];
        let target = Target::Contact(identity);
        let (t, to) = (tags.clone(), target.clone());
        commit(
            &e,
            Edit::AddTags {
                tags: t,
                target: to,
            },
        );
        commit(&e, Edit::RemoveTags { tags, target });
        assert_eq!(tag_counts(&e) > 0, i >= 4, "after removal {}", i + 1);
        let view = e.read();
        let store = view.store();
        let expected = roaring::MultiOps::union(store.tags().iter().map(|t| &*t.rows));
        assert_eq!(store.tagged(), &expected);
    }
}

/// A change naming a contact builds the identity map before its round takes the write
/// lock: while a reader holds a view, the map gets built (readers never wait for it).
#[test]
fn the_identity_map_is_built_while_readers_go_on() {
    let dir = tempfile::tempdir().expect("a directory");
    drop(engine_in(dir.path()));
    // Opened again: the store is read from its snapshot, and no lookup built the map yet.
    let e = Engine::open(dir.path()).expect("opens");
    let identity_bytes = |view: &reach::View<'_>| {
        let parts = view.store().memory_breakdown();
        parts
            .into_iter()
            .find(|(part, _)| part == "identity map")
            .map_or(0, |(_, bytes)| bytes)
    };
    let view = e.read();
    assert_eq!(identity_bytes(&view), 0, "no lookup yet");
    let row = view.store().live().min().expect("a contact");
    let c = view.store().contact(row).expect("live");
    let target = Target::Contact(reach::Identity::new(c.channel, &c.account, &c.external_id));
    std::thread::scope(|s| {
        let tags = vec!["named".to_string()];
        let writer = s.spawn(|| e.commit(Edit::AddTags { tags, target }, 0));
        let waited = std::time::Instant::now();
        while identity_bytes(&view) == 0 {
            assert!(waited.elapsed().as_secs() < 60, "the map was not built");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(view);
        writer.join().expect("the writer").expect("accepted");
    });
    assert_eq!(count(&e, "tag:named"), 1);
}
