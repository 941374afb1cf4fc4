//! Snapshots: a saved store reads back identical; damaged, truncated, foreign and
//! future-version files are refused with a clear message.

use reach::store::snapshot::{self, FORMAT_VERSION};
use reach::store::{Change, Store};

fn write(store: &Store, path: &std::path::Path) -> Result<(), snapshot::SnapshotError> {
    let mut file = std::fs::File::create(path)?;
    snapshot::write(store, b"attached", &mut file)
}

/// Reads the store and every part of it (parts are otherwise read on first use, and
/// checked then).
fn read(path: &std::path::Path) -> Result<Store, snapshot::SnapshotError> {
    let (store, attachment) = snapshot::read(path)?;
    store.load_all()?;
    assert_eq!(attachment, b"attached");
    Ok(store)
}

fn store() -> Store {
    let mut store = crate::generated_store(2_000, 3, 100);
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
            "version 7 is not supported",
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

#[test]
fn changes_after_opening_keep_lazy_indexes_exact() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("s.snap");
    write(&store(), &path).expect("write");
    let mut loaded = read(&path).expect("read");
    let contacts = loaded.contacts(loaded.live());
    let single: Vec<u32> = contacts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.tags.len() == 1)
        .map(|(i, _)| i as u32)
        .take(50)
        .collect();
    assert!(!single.is_empty());
    let first = &contacts[single[0] as usize];
    let tag = first.tags[0].clone();
    let rows: roaring::RoaringBitmap = single
        .iter()
        .copied()
        .filter(|r| contacts[*r as usize].tags == [tag.clone()])
        .collect();
    loaded
        .apply(
            &Change::RemoveTag {
                tag: tag.clone(),
                rows: rows.clone(),
            },
            0,
        )
        .expect("untag");
    assert!(
        loaded.tagged().is_disjoint(&rows),
        "rows left without tags leave has:tag"
    );
    let email = contacts
        .iter()
        .find_map(|c| c.texts[0].clone())
        .expect("some email");
    assert_eq!(
        loaded
            .text_eq(reach::model::TextField::Email, &email.to_uppercase())
            .len(),
        1
    );
    assert!(
        loaded
            .find(first.channel, &first.account, &first.external_id)
            .is_some()
    );
    assert!(
        loaded
            .name_eq(&first.name.to_uppercase())
            .contains(single[0])
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

    /// Any four bytes overwritten anywhere (lengths, counts, bitmaps, text): the file is
    /// refused with an error, never misread and never a panic, even when the damage is
    /// met before the checksum is.
    #[test]
    fn overwritten_bytes_are_refused(at in 0.0f64..1.0, value in proptest::prelude::any::<u32>()) {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.snap");
        let small = crate::generated_store(200, 5, 1);
        write(&small, &path).expect("write");
        let mut bytes = std::fs::read(&path).expect("bytes");
        let start = ((bytes.len() - 4) as f64 * at) as usize;
        let old: [u8; 4] = bytes[start..start + 4].try_into().expect("4 bytes");
        proptest::prop_assume!(old != value.to_le_bytes());
        bytes[start..start + 4].copy_from_slice(&value.to_le_bytes());
        std::fs::write(&path, &bytes).expect("write");
        proptest::prop_assert!(read(&path).is_err());
    }
}

/// A data file is read part by part: a command reads only the parts its segment needs, so
/// a damaged name column leaves `count tag:…` answering, while every command that reads
/// names (a name lookup, a list, a checkpoint, which never copies a damaged part) fails
/// naming the file, and nothing is written.
#[test]
fn a_damaged_part_fails_the_commands_that_read_it_only() {
    let csv = "channel,account,external_id,name,tags\n\
               web,site,u1,Ada Lovelace,vip\n\
               web,site,u2,Grace Hopper,vip\n";
    let dir = crate::loaded_with(csv.as_bytes());
    let data = dir.path().join("d");
    let snap = data.join("contacts.snap");
    let mut bytes = std::fs::read(&snap).expect("snapshot");
    let at = bytes
        .windows(5)
        .position(|w| w == b"Grace")
        .expect("a name");
    bytes[at] ^= 0x01;
    std::fs::write(&snap, &bytes).expect("damage");
    let out = crate::run_at(&data, &["count", "tag:vip"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
    for args in [
        &["count", "name:\"ada lovelace\""][..],
        &["list", "tag:vip"],
        &["compact"],
    ] {
        let out = crate::run_at(&data, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{args:?} answered from a damaged part"
        );
        assert!(
            err.contains("damaged") && err.contains("contacts.snap"),
            "{err}"
        );
    }
    let out = crate::run_at(
        &data,
        &["tag", "add", "x", "name:\"ada lovelace\"", "--yes"],
    );
    assert!(!out.status.success(), "a change read a damaged part");
    assert_eq!(
        std::fs::read(&snap).expect("snapshot"),
        bytes,
        "nothing written"
    );
}

/// Opening replays only what the log's records change: an upsert of a stored contact is
/// logged with its row, so replaying it reads no identity. With the external ids' part
/// damaged after the upsert was logged, a count still answers from the new name, and
/// `list` (which reads the ids) fails naming the file.
#[test]
fn replaying_an_upsert_of_a_stored_contact_reads_no_identity() {
    let csv = "channel,account,external_id,name,tags\n\
               web,site,visitor-aaaa,Ada Lovelace,vip\n\
               web,site,visitor-bbbb,Grace Hopper,vip\n";
    let dir = crate::loaded_with(csv.as_bytes());
    let data = dir.path().join("d");
    let changes = dir.path().join("changes.jsonl");
    std::fs::write(
        &changes,
        r#"{"op":"upsert","contact":{"channel":"web","account":"site","external_id":"visitor-bbbb","name":"Grace Renamed"}}"#,
    )
    .expect("changes");
    let out = crate::run_at(&data, &["apply", &changes.to_string_lossy()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snap = data.join("contacts.snap");
    let mut bytes = std::fs::read(&snap).expect("snapshot");
    let at = (bytes.windows(12))
        .position(|w| w == b"visitor-bbbb")
        .expect("an external id");
    bytes[at] ^= 0x01;
    std::fs::write(&snap, &bytes).expect("damage");
    let out = crate::run_at(&data, &["count", "name:\"grace renamed\""]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");
    let out = crate::run_at(&data, &["list", "tag:vip"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "listed from a damaged part");
    assert!(
        err.contains("damaged") && err.contains("contacts.snap"),
        "{err}"
    );
}

/// A snapshot written from a store opened from another copies the parts no one read as
/// they lie in the first file (nothing decoded and encoded again) and encodes the ones a
/// change read: the bytes equal those of the same store read whole and written.
#[test]
fn a_snapshot_copies_the_parts_not_read_and_equals_one_written_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let [first, copied, whole] = ["1.snap", "2.snap", "3.snap"].map(|f| dir.path().join(f));
    write(&store(), &first).expect("write");
    let change = Change::AddTag {
        tag: "vip".into(),
        rows: (0..50).collect(),
    };
    let (mut mapped, _) = snapshot::read(&first).expect("reads");
    mapped.apply(&change, 7).expect("tags");
    write(&mapped, &copied).expect("write, copying unread parts");
    let mut read_whole = read(&first).expect("reads");
    read_whole.apply(&change, 7).expect("tags");
    write(&read_whole, &whole).expect("write");
    let bytes = |p: &std::path::Path| std::fs::read(p).expect("snapshot");
    assert!(bytes(&copied) == bytes(&whole), "the same bytes");
    let again = read(&copied).expect("reads back");
    assert_eq!(
        again.contacts(again.live()),
        read_whole.contacts(read_whole.live())
    );
}
