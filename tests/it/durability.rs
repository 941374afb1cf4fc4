//! Durability (changes.md): a `reach apply` killed at random moments leaves exactly an
//! acknowledged prefix of its stream; two writers never both write; damaged logs and
//! snapshots are refused or recovered correctly, never misread; deleted contacts leave no
//! byte in the directory; readers during writes see only states that were committed
//! (and logged).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reach::csv::{ColumnChoice, ImportOptions, export};
use reach::engine::parse_change;
use reach::model::{Channel, Contact, Seconds};
use reach::{Edit, Engine, Target, synth};

use crate::{Rng, reach};

const NOW: Seconds = 1_748_750_400; // 2025-06-01T04:00:00Z
const POPULATION: u64 = 120;
const SEED: u64 = 7;

/// The population's CSV and contacts.
fn population() -> (Vec<u8>, Vec<Contact>) {
    let mut csv = Vec::new();
    synth::write_csv(POPULATION, SEED, NOW, &mut csv, &|_| {}).expect("generate");
    (csv, synth::contacts(POPULATION, SEED, NOW))
}

/// A data directory holding the population, imported by the real binary.
fn loaded_dir(csv: &[u8]) -> tempfile::TempDir {
    crate::loaded_with(csv)
}

/// Everything a state holds, as text: every contact with all columns, tags with their
/// counts, quotas, saved segments.
fn fingerprint(engine: &Engine) -> String {
    let view = engine.read();
    let store = view.store();
    let mut out = Vec::new();
    export(store, store.live(), ColumnChoice::All, &mut out, &|_| {}).expect("export");
    let mut tags: Vec<String> = (store.tags().iter())
        .map(|t| format!("{}={}@{}", t.name, t.rows.len(), t.created_at))
        .collect();
    tags.sort();
    format!(
        "{}\n{tags:?}\n{:?}\n{:?}",
        String::from_utf8_lossy(&out),
        view.quotas(),
        view.saved_segments()
    )
}

fn identity_json(c: &Contact) -> String {
    serde_json::json!({"channel": c.channel.name(), "account": c.account, "external_id": c.external_id})
        .to_string()
}

/// A random stream of mixed changes over the population (some refused on purpose).
fn random_stream(rng: &mut Rng, contacts: &[Contact], n: usize) -> Vec<String> {
    let segments = [
        "tag:vip",
        "channel:line",
        "is:blocked",
        "checkout:-30d..",
        "-has:tag",
    ];
    let line_accounts: Vec<&str> = (contacts.iter())
        .filter(|c| c.channel == Channel::Line)
        .map(|c| c.account.as_str())
        .collect();
    let at = |rng: &mut Rng| {
        let t = NOW - rng.below(200 * 86_400) as Seconds;
        reach::model::time::format_rfc3339(t)
    };
    let mut lines = Vec::with_capacity(n);
    for i in 0..n {
        let c = rng.pick(contacts);
        let who = identity_json(c);
        let target = if rng.chance(70) {
            format!("\"contact\": {who}")
        } else {
            format!("\"segment\": \"{}\"", rng.pick(&segments))
        };
        let line = match rng.below(11) {
            0..=2 => {
                let kind = rng.pick(&["customer_interaction", "team_interaction", "checkout", "subscribe", "block"]);
                format!(r#"{{"op": "event", "type": "{kind}", "contact": {who}, "at": "{}"}}"#, at(rng))
            }
            3 => format!(r#"{{"op": "tag_add", "tags": ["t{}", "spring"], {target}}}"#, rng.below(4)),
            4 => format!(r#"{{"op": "tag_remove", "tags": ["vip"], {target}}}"#),
            5 => format!(
                r#"{{"op": "upsert", "contact": {{"channel": "line", "account": "line-tw", "external_id": "N{}", "name": "New {i}", "tags": ["fresh"]}}}}"#,
                rng.below(30)
            ),
            6 => format!(r#"{{"op": "unsubscribe", "kinds": ["broadcast"], {target}}}"#),
            7 => format!(r#"{{"op": "resubscribe", {target}}}"#),
            8 => format!(r#"{{"op": "delete", "confirm": "DELETE", "contact": {who}}}"#),
            9 if !line_accounts.is_empty() => format!(
                r#"{{"op": "quota", "account": "{}", "used": {}}}"#,
                rng.pick(&line_accounts),
                rng.below(1000)
            ),
            _ => r#"{"op": "event", "type": "checkout", "contact": {"channel": "line", "account": "nobody", "external_id": "x"}, "at": "2025-01-01T00:00:00Z"}"#.to_string(),
        };
        lines.push(line);
    }
    lines
}

/// The fingerprint after each prefix of the stream (index p: the first p lines applied),
/// computed by an in-memory engine fed the same lines.
fn prefix_states(csv: &[u8], lines: &[String]) -> Vec<String> {
    let engine = Engine::in_memory();
    engine
        .import(csv, &ImportOptions::default(), None, NOW, &|_| {})
        .expect("population");
    let mut states = vec![fingerprint(&engine)];
    for line in lines {
        if let Ok(edit) = parse_change(&engine, NOW, line) {
            let _ = engine.commit(edit, NOW);
        }
        states.push(fingerprint(&engine));
    }
    states
}

/// One trial: stream `lines` into `reach apply`, kill it after `kill_after`, and check
/// the directory holds exactly a prefix that includes every acknowledged line.
fn crash_trial(
    data: &Path,
    lines: &[String],
    states: &[String],
    kill_after: Duration,
    checkpoint_bytes: u64,
) {
    let mut child = reach()
        .arg("--data")
        .arg(data)
        .arg("apply")
        .env("REACH_CHECKPOINT_BYTES", checkpoint_bytes.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let written = Arc::new(Mutex::new(0usize));
    let feeder = {
        let (lines, written) = (lines.to_vec(), Arc::clone(&written));
        std::thread::spawn(move || {
            for (i, line) in lines.iter().enumerate() {
                if stdin.write_all(format!("{line}\n").as_bytes()).is_err() {
                    return;
                }
                let _ = stdin.flush();
                *written.lock().expect("lock") = i + 1;
                if i % 7 == 0 {
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        })
    };
    let acked = Arc::new(Mutex::new(0u64));
    let reader = {
        let acked = Arc::clone(&acked);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let ack: serde_json::Value = serde_json::from_str(&line).expect("an ack is JSON");
                let n = ack["line"].as_u64().expect("line number");
                let mut last = acked.lock().expect("lock");
                assert_eq!(
                    n,
                    *last + 1,
                    "acknowledgements come in input order without a gap"
                );
                *last = n;
            }
        })
    };
    std::thread::sleep(kill_after);
    let _ = child.kill();
    let _ = child.wait();
    let _ = feeder.join();
    reader.join().expect("reader");
    let acked = *acked.lock().expect("lock") as usize;
    let written = *written.lock().expect("lock");
    let reader = Engine::open_read_only(data).expect("the directory opens after a kill");
    let got = fingerprint(&reader);
    let prefix = (acked..=written.max(acked)).find(|&p| states[p] == got);
    assert!(
        prefix.is_some(),
        "after the kill the state is no prefix of {acked}..={written} lines (acknowledged..written)"
    );
    drop(reader);
    let writer = Engine::open(data).expect("a writer opens it too");
    assert_eq!(
        fingerprint(&writer),
        got,
        "the writer's recovery agrees with the reader's"
    );
}

#[test]
fn a_killed_apply_leaves_exactly_an_acknowledged_prefix() {
    let trials: u64 = std::env::var("REACH_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (csv, contacts) = population();
    let base = loaded_dir(&csv);
    let mut rng = Rng(0x005e_ed0f_c4a5);
    let mut lines_per_trial = 60;
    for trial in 0..trials {
        if trial % 25 == 0 {
            lines_per_trial = 40 + rng.below(60) as usize;
        }
        let lines = random_stream(&mut rng, &contacts, lines_per_trial);
        let states = prefix_states(&csv, &lines);
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("d");
        crate::copy_dir(&base.path().join("d"), &data);
        let kill_after = Duration::from_micros(rng.below(40_000));
        // A small log bound in half the trials, so that kills also land in checkpoints.
        let bound = if rng.chance(50) { 4_096 } else { 1 << 30 };
        crash_trial(&data, &lines, &states, kill_after, bound);
    }
}

/// The same stream, not killed: every line acknowledged, the state is the whole stream.
#[test]
fn an_apply_run_to_the_end_acknowledges_every_line() {
    let (csv, contacts) = population();
    let base = loaded_dir(&csv);
    let lines = random_stream(&mut Rng(99), &contacts, 80);
    let states = prefix_states(&csv, &lines);
    let data = base.path().join("d");
    let mut child = reach()
        .arg("--data")
        .arg(&data)
        .args(["apply", "-", "--durability", "sync"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.join("\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("runs");
    let acks: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(acks.len(), lines.len());
    let refused = acks.iter().filter(|a| a["ok"] == false).count();
    assert!(refused > 0, "the stream holds refused lines");
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 when any line was refused"
    );
    for (i, ack) in acks.iter().enumerate() {
        assert_eq!(ack["line"], i as u64 + 1);
        let keys: Vec<&str> = ack
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        let expected = if ack["ok"] == true {
            ["line", "ok", "changed"]
        } else {
            ["line", "ok", "error"]
        };
        assert_eq!(keys, expected);
    }
    let reopened = Engine::open_read_only(&data).expect("opens");
    assert_eq!(fingerprint(&reopened), states[lines.len()]);
}

#[test]
fn a_second_writer_is_refused_and_changes_nothing() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let holder = Engine::open(&data).expect("first writer");
    let before = fingerprint(&holder);
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["tag", "add", "second", "", "--yes"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("process {}", std::process::id())),
        "{err}"
    );
    assert!(err.contains(&data.display().to_string()), "{err}");
    assert!(
        Engine::open(&data).is_err(),
        "a second writer in the same process is refused too"
    );
    // Readers work beside the writer.
    let count = reach()
        .arg("--data")
        .arg(&data)
        .args(["count", ""])
        .output()
        .expect("runs");
    assert!(count.status.success());
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        POPULATION.to_string()
    );
    drop(holder);
    let after = Engine::open_read_only(&data).expect("opens");
    assert_eq!(
        fingerprint(&after),
        before,
        "the refused writer changed nothing"
    );
}

#[test]
fn writers_racing_never_lose_a_change_or_damage_the_directory() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let mut applied = Vec::new();
    for round in 0..12 {
        let spawn = |tag: String| {
            reach()
                .arg("--data")
                .arg(&data)
                .args(["tag", "add", &tag, "channel:line", "--yes"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let children = [(a.clone(), spawn(a)), (b.clone(), spawn(b))];
        for (tag, child) in children {
            let out = child.wait_with_output().expect("waits");
            if out.status.success() {
                applied.push(tag);
            } else {
                let err = String::from_utf8_lossy(&out.stderr);
                // Named by its pid, even when it has only just taken the lock.
                assert!(err.contains("is being written by process "), "{err}");
            }
        }
    }
    let engine = Engine::open_read_only(&data).expect("the directory still opens");
    let view = engine.read();
    let line = view.compile("channel:line", NOW).expect("compiles");
    let line = view.count(&line);
    for tag in &applied {
        assert_eq!(
            view.store().tag(tag).map(|r| r.len()),
            Some(line),
            "{tag} was acknowledged"
        );
    }
    let raced: Vec<String> = (0..12)
        .flat_map(|r| [format!("a{r}"), format!("b{r}")])
        .collect();
    let tags = (view.store().tags().iter())
        .filter(|t| raced.iter().any(|r| *r == *t.name))
        .count();
    assert_eq!(tags, applied.len(), "no refused writer left a tag");
}

/// The REPL's engine (shared) sees another process's change and never writes it back
/// over with its older state.
#[test]
fn a_shared_engine_follows_other_writers_and_never_undoes_them() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let repl = Engine::open_shared(&data).expect("shared");
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["tag", "add", "from-cli", "channel:line", "--yes"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "the shared engine does not hold the lock between changes"
    );
    let target = Target::Segment(repl.compile("channel:web", NOW).expect("compiles"));
    let edit = Edit::AddTags {
        tags: vec!["from-repl".into()],
        target,
    };
    repl.commit(edit, NOW)
        .expect("the shared engine catches up, then commits");
    assert!(
        repl.read().store().tag("from-cli").is_some(),
        "it caught up before committing"
    );
    let reopened = Engine::open_read_only(&data).expect("opens");
    let store_view = reopened.read();
    assert!(
        store_view.store().tag("from-cli").is_some(),
        "the CLI's change survived"
    );
    assert!(store_view.store().tag("from-repl").is_some());
}

/// A REPL line that changes something waits a moment for a busy writer to give the
/// lock back instead of refusing (40% of a REPL's lines were refused beside one).
#[test]
fn a_repl_change_waits_a_moment_for_a_busy_writer() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let busy = Engine::open(&data).expect("the busy writer");
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(800));
        drop(busy);
    });
    let out = crate::run_at(&data, &["-c", "tag add waited channel:web --yes"]);
    release.join().expect("released");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let engine = Engine::open_read_only(&data).expect("opens");
    assert!(engine.read().store().tag("waited").is_some());
}

/// Every file of a directory, as bytes.
fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| (e.path(), std::fs::read(e.path()).expect("read")))
        .collect()
}

fn holds(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn deleted_contacts_leave_no_byte_in_any_file_once_compacted() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    let engine = Engine::open(&data).expect("opens");
    let mut doomed = Contact::new(Channel::Web, "shop", "visitor-zq81");
    doomed.name = "Quentin Erasable".into();
    doomed.texts[reach::model::TextField::Email.index()] = Some("quentin@erase.example".into());
    doomed.tags = vec!["tag-of-quentin".into()];
    let keep = Contact::new(Channel::Web, "shop", "visitor-keep");
    let fields = reach::model::FieldSet::all();
    engine
        .commit(
            Edit::Upsert {
                contacts: vec![doomed, keep],
                fields,
            },
            NOW,
        )
        .expect("upsert");
    let id = reach::Identity::new(Channel::Web, "shop", "visitor-zq81");
    let event = reach::model::Event {
        kind: reach::model::EventKind::Checkout,
        at: NOW,
    };
    engine
        .commit(
            Edit::Event {
                contact: id.clone(),
                event,
            },
            NOW,
        )
        .expect("event");
    engine.compact().expect("a snapshot that holds Quentin");
    let tag = Edit::AddTags {
        tags: vec!["late".into()],
        target: Target::Contact(id.clone()),
    };
    engine
        .commit(tag, NOW)
        .expect("a logged change that names Quentin's row");
    let secrets = ["Quentin Erasable", "quentin@erase.example", "visitor-zq81"];
    assert!(
        files_of(&data).iter().any(|(_, b)| holds(b, secrets[0])),
        "before: on disk"
    );
    let delete = Edit::Delete {
        target: Target::Contact(id.clone()),
        confirm: "DELETE".into(),
    };
    let committed = engine.commit(delete, NOW).expect("delete");
    assert_eq!(
        committed.applied.erased,
        vec![(Channel::Web, "shop".to_string(), "visitor-zq81".to_string())]
    );
    engine.compact().expect("compact");
    drop(engine);
    for (path, bytes) in files_of(&data) {
        for secret in secrets {
            assert!(
                !holds(&bytes, secret),
                "{} still holds {secret:?}",
                path.display()
            );
        }
    }
    let reopened = Engine::open_read_only(&data).expect("opens");
    assert_eq!(reopened.read().store().len(), 1);
    // "tag-of-quentin" is a tag name, not the contact's data: it stays as a tag nobody carries.
    assert_eq!(
        reopened
            .read()
            .store()
            .tag("tag-of-quentin")
            .map(|r| r.len()),
        Some(0)
    );
}

#[test]
fn the_command_line_delete_erases_at_once() {
    let (csv, contacts) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let victim = &contacts[3];
    let segment = format!("account:{} id:{}", victim.account, victim.external_id);
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["delete", &segment, "--confirm", "DELETE"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (path, bytes) in files_of(&data) {
        assert!(
            !holds(&bytes, &victim.external_id),
            "{} holds the id",
            path.display()
        );
    }
}

/// A directory with a snapshot and a log of several records.
fn directory_with_a_log() -> (tempfile::TempDir, Vec<String>) {
    let (csv, contacts) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let engine = Engine::open(&data).expect("opens");
    let mut states = vec![fingerprint(&engine)];
    for (i, c) in contacts.iter().take(6).enumerate() {
        let target = Target::Contact(reach::Identity::new(c.channel, &c.account, &c.external_id));
        let edit = Edit::AddTags {
            tags: vec![format!("logged{i}")],
            target,
        };
        engine.commit(edit, NOW).expect("commit");
        states.push(fingerprint(&engine));
    }
    (base, states)
}

fn log_file(data: &Path) -> PathBuf {
    std::fs::read_dir(data)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .expect("a log")
}

#[test]
fn a_log_cut_anywhere_opens_to_the_records_before_the_cut() {
    let (dir, states) = directory_with_a_log();
    let data = dir.path().join("d");
    let log = log_file(&data);
    let bytes = std::fs::read(&log).expect("log");
    let mut seen = std::collections::BTreeSet::new();
    for cut in 0..bytes.len() {
        std::fs::write(&log, &bytes[..cut]).expect("cut");
        let engine = Engine::open_read_only(&data).expect("a torn tail is dropped");
        let got = fingerprint(&engine);
        let p = states
            .iter()
            .position(|s| *s == got)
            .expect("a prefix of the records");
        seen.insert(p);
    }
    assert_eq!(
        seen.len(),
        states.len() - 1,
        "every prefix but the whole log was met"
    );
    std::fs::write(&log, &bytes).expect("restore");
    let whole = Engine::open_read_only(&data).expect("opens");
    assert_eq!(fingerprint(&whole), states[states.len() - 1]);
}

#[test]
fn a_damaged_byte_anywhere_in_the_log_is_a_clear_error() {
    let (dir, states) = directory_with_a_log();
    let data = dir.path().join("d");
    let log = log_file(&data);
    let bytes = std::fs::read(&log).expect("log");
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x41;
        std::fs::write(&log, &damaged).expect("damage");
        // Every byte is checked (the header by its magic, version and generation, each
        // frame and payload by its CRC): none can change unnoticed.
        let text = match Engine::open_read_only(&data) {
            Err(e) => e.to_string(),
            Ok(engine) => panic!(
                "byte {at} damaged opens (to the true state: {})",
                fingerprint(&engine) == states[states.len() - 1]
            ),
        };
        assert!(text.contains("is damaged at byte"), "byte {at}: {text}");
        assert!(text.contains(&log.display().to_string()), "{text}");
        assert!(
            Engine::open(&data).is_err() || damaged == bytes,
            "a writer refuses it too"
        );
    }
}

#[test]
fn a_damaged_snapshot_is_refused_by_name() {
    let (dir, _) = directory_with_a_log();
    let data = dir.path().join("d");
    let snap = data.join("contacts.snap");
    let bytes = std::fs::read(&snap).expect("snapshot");
    let mut rng = Rng(3);
    for _ in 0..200 {
        let at = rng.below(bytes.len() as u64) as usize;
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << rng.below(8);
        std::fs::write(&snap, &damaged).expect("damage");
        // Refused at open, or (a part read on first use) when that part is read.
        let err = match Engine::open_read_only(&data) {
            Err(e) => e.to_string(),
            Ok(engine) => (engine.read().store().load_all())
                .expect_err("refused when read")
                .to_string(),
        };
        assert!(err.contains("contacts.snap"), "{err}");
    }
}

#[test]
fn a_planted_link_is_never_followed() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let victim = base.path().join("victim.txt");
    std::fs::write(&victim, "precious").expect("victim");
    std::os::unix::fs::symlink(&victim, data.join("contacts.snap.tmp")).expect("link");
    let out = reach()
        .arg("--data")
        .arg(&data)
        .arg("compact")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        "precious"
    );
    let export = reach()
        .arg("--data")
        .arg(&data)
        .args(["export", "", "-o"])
        .arg(data.join("contacts.snap"))
        .output()
        .expect("runs");
    assert_eq!(export.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&export.stderr).contains("inside the data directory"));
    assert!(Engine::open_read_only(&data).is_ok(), "the store is intact");
}

#[test]
fn a_read_only_command_on_a_missing_directory_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let missing = dir.path().join("typo");
    for args in [
        &["count", "tag:vip"][..],
        &["list", ""],
        &["stats"],
        &["export", ""],
    ] {
        let out = reach()
            .arg("--data")
            .arg(&missing)
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no data directory"));
        assert!(!missing.exists(), "{args:?} created the directory");
    }
}

/// Readers count while a writer tags contacts one at a time: every count a reader sees
/// is one the writer committed, and never goes back.
#[test]
fn readers_during_writes_see_only_committed_states() {
    // A data directory, so that each commit goes through the log and its flush.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    let engine = Arc::new(Engine::open(&data).expect("opens"));
    engine.set_durability(reach::Durability::Sync);
    let contacts = synth::contacts(3_000, 5, NOW);
    let ids: Vec<reach::Identity> = (contacts.iter().take(400))
        .map(|c| reach::Identity::new(c.channel, &c.account, &c.external_id))
        .collect();
    engine
        .commit(
            Edit::Upsert {
                contacts,
                fields: reach::model::FieldSet::all(),
            },
            NOW,
        )
        .expect("load");
    let segment = engine.compile("tag:wave", NOW).expect("compiles");
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (engine, segment, done) = (Arc::clone(&engine), segment.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    seen.push(engine.count(&segment));
                }
                seen
            })
        })
        .collect();
    for id in &ids {
        let edit = Edit::AddTags {
            tags: vec!["wave".into()],
            target: Target::Contact(id.clone()),
        };
        engine.commit(edit, NOW).expect("commit");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for reader in readers {
        let seen = reader.join().expect("reader");
        assert!(
            seen.windows(2).all(|w| w[0] <= w[1]),
            "a reader never sees the past"
        );
        assert!(seen.iter().all(|&n| n <= ids.len() as u64));
    }
    assert_eq!(engine.count(&segment), ids.len() as u64);
    // Every acknowledged commit is in the log: the directory reopens to the last state.
    drop(engine);
    let reopened = Engine::open_read_only(&data).expect("reopens");
    let segment = reopened.compile("tag:wave", NOW).expect("compiles");
    assert_eq!(reopened.count(&segment), ids.len() as u64);
}

#[test]
fn events_move_their_field_only_forward() {
    let engine = Engine::in_memory();
    let mut c = Contact::new(Channel::Line, "line-tw", "U1");
    c.flags[reach::model::Flag::Blocked.index()] = true;
    engine
        .commit(
            Edit::Upsert {
                contacts: vec![c],
                fields: reach::model::FieldSet::all(),
            },
            NOW,
        )
        .expect("load");
    let id = reach::Identity::new(Channel::Line, "line-tw", "U1");
    let event = |kind, at| Edit::Event {
        contact: id.clone(),
        event: reach::model::Event { kind, at },
    };
    use reach::model::EventKind::*;
    let count = |text: &str| engine.count(&engine.compile(text, NOW).expect("compiles"));
    let changed = |edit| engine.commit(edit, NOW).expect("event").applied.changed;
    assert_eq!(changed(event(Checkout, NOW - 100)), 1);
    assert_eq!(
        changed(event(Checkout, NOW - 5_000)),
        0,
        "an older event does not move it back"
    );
    assert_eq!(count("checkout:2025-06-01T03:58:20Z"), 1);
    assert_eq!(count("is:blocked"), 1);
    assert_eq!(changed(event(Subscribe, NOW - 10)), 1);
    assert_eq!(count("is:blocked"), 0, "subscribe clears blocked");
    assert_eq!(count("joined:-1h.."), 1);
    assert_eq!(changed(event(Block, NOW)), 1);
    assert_eq!(count("is:subscribed"), 0);
    assert_eq!(changed(event(CustomerInteraction, NOW)), 1);
    assert_eq!(count("interaction:today"), 1);
    assert_eq!(changed(event(TeamInteraction, NOW)), 1);
    assert_eq!(count("team_interaction:-1d.."), 1);
    let unknown = Edit::Event {
        contact: reach::Identity::new(Channel::Line, "line-tw", "nobody"),
        event: reach::model::Event {
            kind: Checkout,
            at: NOW,
        },
    };
    assert!(
        engine.commit(unknown, NOW).is_err(),
        "an event for an unknown contact is refused"
    );
    assert_eq!(count(""), 1, "and creates nobody");
}

/// The data directory holds personal data: made 0700 with 0600 files whatever the umask,
/// and a directory or file another user could change is refused with the fix, changing
/// nothing; once made private it opens as before.
#[test]
fn a_data_directory_others_could_change_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let csv = dir.path().join("c.csv");
    let file = std::fs::File::create(&csv).expect("csv");
    synth::write_csv(50, 1, synth::DEFAULT_ANCHOR, file, &|_| {}).expect("csv");
    let shell = format!(
        "umask 000 && exec {} --data {} import {}",
        env!("CARGO_BIN_EXE_reach"),
        data.display(),
        csv.display()
    );
    let status = std::process::Command::new("sh")
        .args(["-c", &shell])
        .status();
    assert!(status.expect("sh runs").success());
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).expect("read dir").flatten() {
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
    }
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod")
    };
    let snapshot = data.join("contacts.snap");
    for (path, loose, private) in [(&data, 0o777, 0o700), (&snapshot, 0o666, 0o600)] {
        set(path, loose);
        let out = crate::run_at(&data, &["count", ""]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("writable by other users"), "{stderr}");
        assert!(stderr.contains("chmod"), "{stderr}");
        set(path, private);
        let out = crate::run_at(&data, &["count", ""]);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "50");
    }
    // Owned by another user (only root can hand a file to another user; CI runs as root).
    if std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0) {
        std::os::unix::fs::chown(&snapshot, Some(65534), None).expect("chown");
        let out = crate::run_at(&data, &["count", ""]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("belongs to user 65534"), "{stderr}");
        std::os::unix::fs::chown(&snapshot, Some(0), None).expect("chown back");
    }
}

/// What reach writes outside the data directory holds personal data too: an export and
/// an outbox are created `0600` whatever the umask.
#[test]
fn exports_and_outboxes_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let export = base.path().join("out.csv");
    let outbox = base.path().join("outbox.jsonl");
    let commands = [
        format!("export '' -o {}", export.display()),
        format!(
            "broadcast '' --kind bot --text hi --sink jsonl:{} --id private --yes",
            outbox.display()
        ),
    ];
    for command in commands {
        let shell = format!(
            "umask 000 && exec {} --data {} {command}",
            env!("CARGO_BIN_EXE_reach"),
            data.display()
        );
        let out = std::process::Command::new("sh")
            .args(["-c", &shell])
            .output()
            .expect("sh runs");
        assert!(out.status.success(), "{command}: {out:?}");
    }
    for file in [&export, &outbox] {
        let mode = std::fs::metadata(file)
            .expect("written")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

/// A full disk under group durability, in a process that goes on (the REPL): the round
/// whose records could not be written is refused and undone in memory too (a count in
/// the same process does not see it), and the next change that fits is taken.
#[test]
fn a_round_refused_for_want_of_space_is_undone_in_memory_and_the_next_one_goes_on() {
    let (csv, _) = population();
    let base = loaded_dir(&csv);
    let data = base.path().join("d");
    let wal = data.join("wal-00000001.log");
    // Fill the log to about 400 bytes; the file size limit below is 512.
    let filler = vec!["tag:vip"; (400 - std::fs::metadata(&wal).expect("log").len() as usize) / 8];
    let out = crate::run_at(&data, &["save", "filler", &filler.join(" ")]);
    assert!(out.status.success(), "{out:?}");
    let size = std::fs::metadata(&wal).expect("log").len();
    assert!((350..=440).contains(&size), "{size}");
    let long = "t".repeat(100);
    let script = [
        format!("tag add {long} channel:line --yes"),
        format!("count tag:{long}"),
        "save small tag:vip".to_string(),
        "count @small".to_string(),
    ];
    let shell = format!(
        "trap '' XFSZ; ulimit -f 1; exec {} --data {} -c '{}' -c '{}' -c '{}' -c '{}'",
        env!("CARGO_BIN_EXE_reach"),
        data.display(),
        script[0],
        script[1],
        script[2],
        script[3]
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &shell])
        .output()
        .expect("sh runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stderr.contains("File too large"), "{stderr}");
    let counts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.parse::<u64>().is_ok())
        .collect();
    let vip = crate::run_at(&data, &["count", "tag:vip"]);
    let vip = String::from_utf8_lossy(&vip.stdout).trim().to_string();
    assert_eq!(counts, ["0", vip.as_str()], "{stdout}{stderr}");
    let reopened = Engine::open_read_only(&data).expect("opens");
    assert!(reopened.read().store().tag(&long).is_none());
    assert!(reopened.saved_segments().contains_key("small"));
}

/// A full disk (here: a file size limit, with SIGXFSZ ignored so writes fail with
/// EFBIG): every line answered `"ok": false` changes nothing, every line answered ok is
/// there after reopening, and once there is room again the directory takes changes.
#[test]
fn a_change_refused_for_want_of_space_is_not_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let csv = dir.path().join("c.csv");
    let file = std::fs::File::create(&csv).expect("csv");
    synth::write_csv(20, 1, synth::DEFAULT_ANCHOR, file, &|_| {}).expect("csv");
    assert!(
        crate::run_at(&data, &["import", csv.to_str().expect("utf-8")])
            .status
            .success()
    );
    let lines: String = (0..400)
        .map(|i| {
            format!(
                "{{\"op\":\"upsert\",\"contact\":{{\"channel\":\"line\",\"account\":\"line-full\",\"external_id\":\"U{i}\",\"name\":\"{}\"}}}}\n",
                "n".repeat(200)
            )
        })
        .collect();
    let changes = dir.path().join("changes.jsonl");
    std::fs::write(&changes, lines).expect("write");
    // 16 blocks of 512 bytes: the log holds a few dozen of these records.
    let shell = format!(
        "trap '' XFSZ; ulimit -f 16; exec {} --data {} apply {} --durability sync",
        env!("CARGO_BIN_EXE_reach"),
        data.display(),
        changes.display()
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &shell])
        .output()
        .expect("sh runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let acks: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an acknowledgement"))
        .collect();
    assert_eq!(acks.len(), 400);
    let applied: Vec<String> = (acks.iter().enumerate())
        .filter(|(_, a)| a["ok"] == true)
        .map(|(i, _)| format!("U{i}"))
        .collect();
    let refused = acks.iter().filter(|a| a["ok"] == false).count();
    assert!(!applied.is_empty() && refused > 0, "{acks:?}");
    let error = acks
        .iter()
        .find(|a| a["ok"] == false)
        .map(|a| a["error"].to_string());
    assert!(
        error.as_ref().is_some_and(|e| e.contains("wal-")),
        "{error:?}"
    );
    let listed = crate::run_at(
        &data,
        &[
            "list",
            "account:line-full",
            "--format",
            "csv",
            "--limit",
            "1000",
        ],
    );
    let mut ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2).map(str::to_string))
        .collect();
    ids.sort();
    let mut expected = applied.clone();
    expected.sort();
    assert_eq!(ids, expected, "what was acknowledged, and only that");
    let more = dir.path().join("more.jsonl");
    std::fs::write(
        &more,
        "{\"op\":\"upsert\",\"contact\":{\"channel\":\"line\",\"account\":\"line-full\",\"external_id\":\"later\"}}\n",
    )
    .expect("write");
    let out = crate::run_at(&data, &["apply", more.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Sends nothing: a job started through it stays sending.
struct Idle;

impl reach::broadcast::Sink for Idle {
    fn send(&self, batch: &reach::broadcast::Outgoing) -> reach::broadcast::Delivery {
        reach::broadcast::Delivery::Each(vec![reach::broadcast::Outcome::Sent; batch.len()])
    }
}

/// A CSV audience's values for an erased contact leave the sending job (and so every
/// file, once compacted); the others' values stay.
#[test]
fn an_erased_contacts_csv_values_leave_a_sending_job() {
    use reach::broadcast::AudienceSource;
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    let engine = Engine::open(&data).expect("opens");
    let contacts =
        ["visitor-zq81", "visitor-keep"].map(|id| Contact::new(Channel::Line, "line-tw", id));
    let fields = reach::model::FieldSet::all();
    let upsert = Edit::Upsert {
        contacts: contacts.to_vec(),
        fields,
    };
    engine.commit(upsert, NOW).expect("upsert");
    let csv = "channel,account,external_id,coupon\nline,line-tw,visitor-zq81,SECRET-QZ81\nline,line-tw,visitor-keep,KEEP-7\n";
    let request = crate::bot_request(
        "j",
        AudienceSource::Csv(csv.as_bytes().to_vec()),
        "code {{coupon}}",
    );
    reach::broadcast::start(&engine, request, &Idle, NOW).expect("started");
    let id = reach::Identity::new(Channel::Line, "line-tw", "visitor-zq81");
    let delete = Edit::Delete {
        target: Target::Contact(id),
        confirm: "DELETE".into(),
    };
    engine.commit(delete, NOW).expect("delete");
    engine.compact().expect("compact");
    let values = engine.read().jobs()["j"].variables.values.clone();
    assert_eq!(values.len(), 1);
    let kept: Vec<Vec<String>> = (values.rows())
        .filter_map(|r| values.get(r))
        .map(|v| v.into_iter().map(str::to_string).collect())
        .collect();
    assert_eq!(kept, [["KEEP-7"]]);
    drop(engine);
    for (path, bytes) in files_of(&data) {
        assert!(!holds(&bytes, "SECRET-QZ81"), "{} holds it", path.display());
    }
}

/// A small directory checkpoints once its log is an eighth of its snapshot (at least
/// 1 MiB), well before the 128 MiB bound, so a reader never replays a long log; every
/// change is there after reopening.
#[test]
fn a_small_directory_checkpoints_once_its_log_outgrows_an_eighth_of_its_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    let logs = || -> Vec<(String, u64)> {
        let mut logs: Vec<(String, u64)> = (std::fs::read_dir(&data).expect("dir"))
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().map_or(0, |m| m.len()),
                )
            })
            .filter(|(name, _)| name.starts_with("wal-"))
            .collect();
        logs.sort();
        logs
    };
    let engine = Engine::open(&data).expect("opens");
    let first = logs();
    for round in 0..20 {
        let contacts = (0..1_000)
            .map(|i| {
                let mut c = Contact::new(Channel::Web, "shop", &format!("visitor-{round}-{i}"));
                c.name = format!("A name long enough to fill the log {round} {i}");
                c
            })
            .collect();
        let fields = reach::model::FieldSet::all();
        engine
            .commit(Edit::Upsert { contacts, fields }, NOW)
            .expect("upsert");
    }
    let now = logs();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0].0, first[0].0, "no checkpoint: {now:?}");
    assert!(now[0].1 <= 1 << 20, "a log past 1 MiB: {now:?}");
    drop(engine);
    let reopened = Engine::open_read_only(&data).expect("reopens");
    assert_eq!(reopened.read().store().len(), 20_000);
}
