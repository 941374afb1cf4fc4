//! Snapshots: a saved store reads back identical; damaged, truncated, foreign and
//! future-version files are refused with a clear message.

use reach::store::snapshot::{FORMAT_VERSION, read, write};
use reach::store::{Change, Store};
use reach::synth;

fn store() -> Store {
    let mut store = Store::new();
    let contacts = synth::contacts(2_000, 3, synth::DEFAULT_ANCHOR);
    store
        .apply(
            &Change::Upsert {
                contacts,
                fields: reach::model::FieldSet::all(),
            },
            100,
        )
        .expect("load");
    store
        .apply(
            &Change::CreateTag {
                tag: "empty-tag".into(),
            },
            42,
        )
        .expect("tag");
    store
}

#[test]
fn round_trip_keeps_everything_including_empty_tags() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("s.snap");
    let mut original = store();
    original
        .apply(
            &Change::Delete {
                rows: (0..500).collect(),
            },
            0,
        )
        .expect("delete");
    write(&original, &path).expect("write");
    let loaded = read(&path).expect("read");
    assert_eq!(loaded.len(), 1_500);
    assert_eq!(
        loaded.contacts(loaded.live()),
        original.contacts(original.live())
    );
    let created = loaded
        .tags()
        .iter()
        .find(|t| &*t.name == "empty-tag")
        .map(|t| t.created_at);
    assert_eq!(created, Some(42));
    for tag in loaded.tags() {
        assert_eq!(
            Some(tag.rows.len()),
            original.tag(&tag.name).map(|r| r.len())
        );
    }
}

#[test]
fn damaged_files_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("s.snap");
    write(&store(), &path).expect("write");
    let bytes = std::fs::read(&path).expect("bytes");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (bytes[..bytes.len() / 2].to_vec(), "damaged"),
        (bytes[..bytes.len() - 3].to_vec(), "damaged"),
        (
            {
                let mut b = bytes.clone();
                let mid = b.len() / 2;
                b[mid] ^= 0x55;
                b
            },
            "damaged",
        ),
        (b"hello, world".to_vec(), "not a reach data file"),
        (Vec::new(), "not a reach data file"),
        (
            {
                let mut b = bytes.clone();
                b[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
                b
            },
            "version 2",
        ),
        (
            {
                let mut b = bytes.clone();
                b.push(0);
                b
            },
            "damaged",
        ),
    ];
    for (content, expect) in cases {
        std::fs::write(&path, content).expect("write");
        let err = read(&path).expect_err("refused").to_string();
        assert!(err.contains(expect), "{err} (expected {expect})");
    }
}
