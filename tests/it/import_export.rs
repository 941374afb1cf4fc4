//! CSV import and export: every kind of bad input is refused with its place and changes
//! nothing; reject files; upserts with absent columns; export → import gives the same state.

use reach::csv::{ColumnChoice, ImportError, ImportOptions, ImportSummary, export, stage};
use reach::store::Store;
use reach::synth;

/// Stages an import and applies it to a plain store.
fn import<'a>(
    store: &mut Store,
    input: impl std::io::Read + Send,
    options: &'a ImportOptions,
    rejects: Option<&'a mut (dyn std::io::Write + Send)>,
    now: i64,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary, ImportError> {
    let staged = stage(store, input, options, rejects, now, progress)?;
    Ok(staged
        .apply_to(store, now)
        .expect("a staged import applies"))
}

const HEADER: &str =
    "channel,account,external_id,name,tags,blocked,subscribed_at,fb_optin,fb_frequency,phone";

fn load(
    store: &mut Store,
    csv: impl AsRef<[u8]>,
) -> Result<reach::csv::ImportSummary, ImportError> {
    import(
        store,
        csv.as_ref(),
        &ImportOptions::default(),
        None,
        0,
        &|_| {},
    )
}

fn sample() -> Store {
    let mut store = Store::new();
    let csv = format!(
        "{HEADER}\nline,tw,U1,Ann,vip|gold,false,2024-05-01T10:00:00+08:00,,,\nfb,page,1,Bob,,no,,yes,weekly,\n"
    );
    load(&mut store, &csv).expect("good file");
    store
}

fn snapshot_of(store: &Store) -> Vec<reach::model::Contact> {
    store.contacts(store.live())
}

fn refused(csv: &str, expect: &str) {
    let mut store = sample();
    let before = snapshot_of(&store);
    let err = load(&mut store, csv).expect_err("refused").to_string();
    assert!(err.contains(expect), "{err}\n(expected {expect:?})");
    assert_eq!(snapshot_of(&store), before, "the store must be unchanged");
}

#[test]
fn bad_files_are_refused_whole_and_change_nothing() {
    let ok = "line,tw,U9,New,,,,,,";
    refused(
        &format!("{HEADER}\n{ok}\nline,tw,U2,X,,maybe,,,,\n"),
        "line 3, column blocked, value \"maybe\"",
    );
    refused(
        &format!("{HEADER}\n{ok}\nline,tw,U2,X,,,yesterday,,,\n"),
        "column subscribed_at",
    );
    refused(
        &format!("{HEADER}\n{ok}\ntelegram,tw,U2,X,,,,,,\n"),
        "column channel",
    );
    refused(
        &format!("{HEADER}\n{ok}\nline,tw,U2,X,,,,true,daily,\n"),
        "fb_optin does not apply to line",
    );
    refused(
        &format!("{HEADER}\n{ok}\nweb,site,U2,X,,,,,,\"+1 (555\n"),
        "ends inside a quoted field",
    );
    refused(
        &format!("{HEADER}\n{ok}\nweb,site,U2,\"X,,,,,,\n"),
        "ends inside a quoted field",
    );
    refused(&format!("{HEADER}\n{ok}\nline,tw,U7,X\n"), "found 4");
    refused(
        &format!(
            "{HEADER}\n{ok}\nline,tw,U2,X,vip|{},,,,,\n",
            "長".repeat(101)
        ),
        "line 3, column tags",
    );
    refused(
        &format!("{HEADER}\n{ok}\n{ok}\n"),
        "line 2 has the same channel, account and external_id",
    );
    refused("", "the file is empty");
    refused(
        "chanel,account,external_id\nline,a,b\n",
        "did you mean 'channel'",
    );
    refused("channel,account\nline,a\n", "required column 'external_id'");
    refused(&format!("{HEADER}\n{}\n", "x".repeat(10)), "line 2");
    refused(
        &format!("{HEADER}\nfb,page,2,X,,,,true,,\n"),
        "fb_frequency",
    );
    let mut bytes = format!("{HEADER}\nline,tw,U3,").into_bytes();
    bytes.extend([0xff, 0xfe]);
    bytes.extend(b",,,,,,\n");
    let mut store = sample();
    let err = load(&mut store, &bytes).expect_err("bad utf-8");
    assert!(err.to_string().contains("valid UTF-8"), "{err}");
}

#[test]
fn every_bad_row_is_counted_and_the_list_is_capped() {
    let rows: String = (0..30)
        .map(|i| format!("line,tw,U{i},X,,bad,,,,\n"))
        .collect();
    let mut store = Store::new();
    match load(&mut store, format!("{HEADER}\n{rows}")) {
        Err(ImportError::Rows { errors, total }) => {
            assert_eq!(total, 30);
            assert_eq!(errors.len(), 20);
        }
        other => panic!("{other:?}"),
    }
    assert!(store.is_empty());
}

#[test]
fn reject_mode_loads_good_rows_and_writes_bad_ones() {
    let mut store = sample();
    let mut rejects = Vec::new();
    let csv = format!("{HEADER}\nline,tw,U5,Good,,,,,,\nline,tw,U6,Bad,,maybe,,,,\n");
    let summary = import(
        &mut store,
        csv.as_bytes(),
        &ImportOptions::default(),
        Some(&mut rejects),
        0,
        &|_| {},
    )
    .expect("partial");
    assert_eq!((summary.created, summary.rejected), (1, 1));
    let text = String::from_utf8(rejects).expect("utf-8");
    assert!(text.starts_with(&format!("{HEADER},error\n")));
    assert!(text.contains("line,tw,U6,Bad,,maybe,,,,"));
    assert!(text.contains("expected true/false"));
}

#[test]
fn absent_columns_keep_stored_values_and_upsert_never_duplicates() {
    let mut store = sample();
    let summary = load(
        &mut store,
        "channel,account,external_id,blocked\nLINE,tw,U1,yes\n",
    )
    .expect("update");
    assert_eq!((summary.created, summary.updated), (0, 1));
    assert_eq!(store.len(), 2);
    let row = store
        .find(reach::model::Channel::Line, "tw", "U1")
        .expect("found");
    let ann = store.contact(row).expect("live");
    assert_eq!(ann.name, "Ann");
    assert_eq!(ann.tags, ["gold", "vip"]);
    assert!(!ann.is_subscribed());
    let merged = load(
        &mut store,
        "channel,account,external_id,fb_frequency\nfacebook,page,1,\n",
    );
    assert!(
        merged
            .expect_err("opt-in needs a frequency")
            .to_string()
            .contains("after merging")
    );
}

#[test]
fn export_then_import_gives_the_same_state() {
    let contacts = synth::contacts(3_000, 5, synth::DEFAULT_ANCHOR);
    let mut csv = Vec::new();
    synth::write_csv(3_000, 5, synth::DEFAULT_ANCHOR, &mut csv, &|_| {}).expect("gen");
    let mut store = Store::new();
    load(&mut store, &csv).expect("import");
    assert_eq!(store.len(), contacts.len() as u64);
    for choice in [ColumnChoice::All, ColumnChoice::ContactList] {
        let mut out = Vec::new();
        export(&store, store.live(), choice, &mut out, &|_| {}).expect("export");
        let mut again = if choice == ColumnChoice::All {
            Store::new()
        } else {
            store.clone()
        };
        load(&mut again, &out).expect("re-import");
        let mut a = snapshot_of(&store);
        let mut b = snapshot_of(&again);
        a.sort_by(|x, y| x.external_id.cmp(&y.external_id));
        b.sort_by(|x, y| x.external_id.cmp(&y.external_id));
        assert_eq!(a, b, "{choice:?}");
    }
}

#[test]
fn export_is_ordered_by_identity() {
    let store = sample();
    let mut out = Vec::new();
    export(
        &store,
        store.live(),
        ColumnChoice::ContactList,
        &mut out,
        &|_| {},
    )
    .expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("facebook,page,1,"), "{text}");
    assert!(lines[2].starts_with("line,tw,U1,"), "{text}");
    assert!(
        lines[0].contains("fb_optin") && lines[0].contains("avatar_url"),
        "{}",
        lines[0]
    );
}

/// A file of many blocks (import cuts files into blocks of about 2 MB): quoted line breaks
/// never split a record, and line numbers count every line before them.
fn big_file(rows: usize) -> String {
    let mut csv = format!("{HEADER}\n");
    for i in 0..rows {
        // Every row spans two lines: the name holds a quoted line break and a quote.
        let name = format!("\"Ann \"\"{i}\"\"\nsecond line, {}\"", "x".repeat(200));
        csv.push_str(&format!("line,tw,U{i},{name},\"a,b|c\",,,,,\n"));
    }
    csv
}

#[test]
fn records_with_line_breaks_load_across_blocks() {
    let rows = 30_000;
    let csv = big_file(rows);
    assert!(
        csv.len() > 3 * (2 << 20),
        "the file must span several blocks"
    );
    let mut store = Store::new();
    let summary = load(&mut store, &csv).expect("good file");
    assert_eq!(summary.created, rows as u64);
    let last = store
        .find(reach::model::Channel::Line, "tw", &format!("U{}", rows - 1))
        .and_then(|row| store.contact(row))
        .expect("last row loaded");
    assert_eq!(
        last.name,
        format!("Ann \"{}\"\nsecond line, {}", rows - 1, "x".repeat(200))
    );
    assert_eq!(last.tags, ["a,b", "c"]);
    let mut out = Vec::new();
    export(&store, store.live(), ColumnChoice::All, &mut out, &|_| {}).expect("export");
    let mut again = Store::new();
    load(&mut again, &out).expect("re-import");
    let by_id = |store: &Store| {
        let mut contacts = snapshot_of(store);
        contacts.sort_by(|a, b| a.external_id.cmp(&b.external_id));
        contacts
    };
    assert_eq!(by_id(&again), by_id(&store));
}

#[test]
fn late_bad_rows_and_duplicates_across_blocks_name_their_lines() {
    let rows = 20_000;
    let mut csv = big_file(rows);
    // Line of row i: 2 + 2 i. Repeat row 3 at the end, and break the last-but-one row.
    csv.push_str("line,tw,U3,Again,,,,,,\n");
    let bad_row = rows - 2;
    csv = csv.replace(
        &format!("line,tw,U{bad_row},"),
        &format!("line,tw,U{bad_row},X,,maybe,,,,\nline,tw,U{bad_row}b,"),
    );
    let mut store = Store::new();
    let err = load(&mut store, &csv).expect_err("refused").to_string();
    let bad_line = 2 + 2 * bad_row;
    let dup_line = 2 + 2 * rows + 1;
    assert!(
        err.contains(&format!("line {bad_line}, column blocked")),
        "{err}"
    );
    assert!(
        err.contains(&format!("line {dup_line}, column external_id"))
            && err.contains("line 8 has the same"),
        "{err}"
    );
    assert!(err.starts_with("2 bad row(s)"), "{err}");
    assert!(store.is_empty());
}

#[test]
fn an_opt_in_without_a_frequency_column_is_checked_against_the_stored_contact() {
    let header = "channel,account,external_id,fb_optin";
    let mut empty = Store::new();
    let err = load(&mut empty, format!("{header}\nfb,page,9,true\n"))
        .expect_err("a new contact opted in without a frequency")
        .to_string();
    assert!(err.contains("line 2, column fb_frequency"), "{err}");
    assert!(empty.is_empty());
    // Bob (page/1) has a weekly frequency stored: opting him in again is fine.
    let mut store = sample();
    load(&mut store, format!("{header}\nfb,page,1,true\n")).expect("stored frequency");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Damaged files (bytes replaced by quotes, separators, line breaks, invalid UTF-8)
    /// either import or are refused with the store unchanged; they never panic.
    #[test]
    fn damaged_files_never_panic_or_half_load(
        edits in proptest::collection::vec((0usize..10_000, 0usize..8), 1..12),
    ) {
        let mut csv = Vec::new();
        synth::write_csv(40, 9, synth::DEFAULT_ANCHOR, &mut csv, &|_| {}).expect("gen");
        for (at, what) in edits {
            let at = at % csv.len();
            let byte = [b'"', b',', b'\n', b'\r', 0xFF, b'|', b' ', 0xE9][what];
            csv[at] = byte;
        }
        let mut store = sample();
        let before = snapshot_of(&store);
        match load(&mut store, &csv) {
            Ok(summary) => proptest::prop_assert!(summary.rows > 0),
            Err(e) => {
                proptest::prop_assert!(!e.to_string().is_empty());
                proptest::prop_assert_eq!(snapshot_of(&store), before);
            }
        }
    }
}

#[test]
fn blank_lines_count_in_line_numbers() {
    let csv = format!("{HEADER}\n\nline,tw,U8,A,,,,,,\n\n\nline,tw,U9,B,,maybe,,,,\n");
    let mut store = Store::new();
    let err = load(&mut store, csv).expect_err("bad bool").to_string();
    assert!(err.contains("line 6, column blocked"), "{err}");
}

#[test]
fn export_after_deletes_and_edits_writes_exactly_the_live_contacts() {
    let mut store = crate::generated_store(3_000, 8, 0);
    let doomed: roaring::RoaringBitmap = (0..3_000).filter(|r| r % 3 == 0).collect();
    store
        .apply(&reach::store::Change::Delete { rows: doomed }, 0)
        .expect("delete");
    let renamed: Vec<_> = store
        .contacts(&(1..40).collect())
        .into_iter()
        .map(|mut c| {
            c.name = format!("{} \"the second\", jr", c.name);
            c
        })
        .collect();
    let change = reach::store::Change::Upsert {
        contacts: renamed,
        fields: reach::model::FieldSet::all(),
    };
    store.apply(&change, 0).expect("rename");
    let mut out = Vec::new();
    let written =
        export(&store, store.live(), ColumnChoice::All, &mut out, &|_| {}).expect("export");
    assert_eq!(written, 2_000);
    let mut again = Store::new();
    load(&mut again, &out).expect("re-import");
    let by_id = |store: &Store| {
        let mut contacts = snapshot_of(store);
        contacts.sort_by(|a, b| a.identity_order().cmp(&b.identity_order()));
        contacts
    };
    assert_eq!(by_id(&again), by_id(&store));
}

/// A page of rows is the same slice of the whole sorted order, wherever it starts.
#[test]
fn a_page_is_a_slice_of_the_sorted_order() {
    let store = crate::generated_store(3_000, 11, 1_750_000_000);
    let mut rng = crate::Rng(5);
    for _ in 0..200 {
        let rows: roaring::RoaringBitmap = (0..3_000u32).filter(|_| rng.chance(40)).collect();
        let all = reach::csv::sorted_rows(&store, &rows);
        let offset = rng.below(1_400) as usize;
        let limit = rng.below(60) as usize;
        let page = reach::csv::page_rows(&store, &rows, offset, limit);
        let expected: Vec<u32> = all.iter().skip(offset).take(limit).copied().collect();
        assert_eq!(page, expected, "offset {offset}, limit {limit}");
    }
}
