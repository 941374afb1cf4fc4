//! The invariants ARCHITECTURE.md states that no other test holds: the layers of the
//! source, the clock, the files the engine opens, the nesting bound once saved segments
//! expand, read-only engines, and row ids under a sending broadcast.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reach::broadcast::{self, AudienceSource, Delivery, Outcome, Outgoing, Run, Sink};
use reach::engine::{CONFIRM_WORD, Edit, Engine, Target};
use reach::model::FieldSet;
use reach::synth;

const NOW: i64 = synth::DEFAULT_ANCHOR;

/// The modules from the bottom up: a module may use its own layer and those below it.
/// `suggest` and `cancel` are leaves; `error` wraps the errors of `syntax`, `store` and
/// `csv`; `cli` and `repl` are the binary's.
const LAYERS: &[&[&str]] = &[
    &["suggest", "cancel"],
    &["model"],
    &["syntax"],
    &["plan"],
    &["store"],
    &["exec"],
    &["csv", "sql", "synth"],
    &["error"],
    &["engine"],
    &["access", "broadcast"],
    &["serve"],
    &["cli"],
    &["repl"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names (`crate::X`), outside comments and `#[cfg(test)]`
/// modules (rustfmt puts a module's closing brace alone at the start of a line).
fn modules_named(text: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut in_tests = false;
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            in_tests = true;
        } else if in_tests {
            in_tests = line != "}";
        } else if !line.trim_start().starts_with("//") {
            for (at, _) in line.match_indices("crate::") {
                let rest = &line[at + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                named.insert(name);
            }
        }
    }
    named
}

/// Each file's module (`src/X/…` or `src/X.rs`) and the crate modules it names.
fn source_imports() -> Vec<(String, PathBuf, BTreeSet<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 50, "the sources are found");
    let mut out = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a path");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).expect("source");
        out.push((module, file, modules_named(&text)));
    }
    out
}

/// No module uses one above it (ARCHITECTURE.md, "Layers"); `sql` uses only `plan` and
/// `model`.
#[test]
fn no_module_uses_one_above_it() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (module, file, named) in source_imports() {
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{}: module {module} has no layer", file.display()));
            continue;
        };
        for name in named {
            if name == module {
                continue;
            }
            seen += 1;
            match layer_of(&name) {
                Some(layer) if layer <= own => {}
                _ => wrong.push(format!("{}: {module} uses crate::{name}", file.display())),
            }
            if module == "sql" && !["plan", "model"].contains(&name.as_str()) {
                wrong.push(format!("{}: sql uses crate::{name}", file.display()));
            }
        }
    }
    assert!(seen > 100, "imports are read ({seen})");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_layer_check_sees_an_upward_use() {
    let text = "use crate::model::Contact;\n// crate::engine in a comment\nuse crate::engine::Engine;\n#[cfg(test)]\nmod tests {\n    use crate::broadcast;\n}\nfn f() { crate::exec::count(); }\n";
    let named: Vec<String> = modules_named(text).into_iter().collect();
    assert_eq!(named, ["engine", "exec", "model"]);
}

/// A segment is evaluated at the `now` it was compiled with: nothing below the broadcaster
/// asks the wall clock (`model::time::now`, its one reader: `clock.rs`) for the time; the
/// command line and the broadcaster's send times do.
#[test]
fn the_pipeline_never_reads_the_wall_clock() {
    let mut wrong = Vec::new();
    for (module, file, _) in source_imports() {
        if ["broadcast", "cli", "repl", "main"].contains(&module.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source");
        let reads =
            (text.lines()).filter(|l| !l.trim_start().starts_with("//") && !l.contains("fn now()"));
        for line in reads.filter(|l| l.contains("time::now()") || l.contains(" now()")) {
            wrong.push(format!("{}: {}", file.display(), line.trim()));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

fn upsert(engine: &Engine, n: u64) {
    let contacts = synth::contacts(n, 1, synth::DEFAULT_ANCHOR);
    let edit = Edit::Upsert {
        contacts,
        fields: FieldSet::all(),
    };
    engine.commit(edit, NOW).expect("valid contacts");
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// A data directory with a snapshot and a log holding one change.
fn directory() -> (tempfile::TempDir, PathBuf) {
    let base = tempfile::tempdir().expect("tmp");
    let data = base.path().join("d");
    let engine = Engine::open(&data).expect("open");
    upsert(&engine, 300);
    engine.compact().expect("a snapshot");
    upsert(&engine, 310);
    drop(engine);
    (base, data)
}

fn log_name(data: &Path) -> String {
    names_in(data)
        .into_iter()
        .find(|n| n.starts_with("wal-") && n.ends_with(".log"))
        .expect("a log")
}

/// A symbolic link planted at any name the engine opens in its directory is never
/// followed: the lock file, the snapshot and the log are opened with `O_NOFOLLOW` (the
/// open is refused), and a new file (a temporary snapshot, the next generation's log) is
/// created with `O_EXCL | O_NOFOLLOW`.
#[test]
fn a_link_planted_at_any_file_the_engine_opens_is_not_followed() {
    let (_pristine_dir, pristine) = directory();
    let log = log_name(&pristine);
    let generation: u64 = log["wal-".len()..log.len() - ".log".len()]
        .parse()
        .expect("a generation");
    let next_log = format!("wal-{:08}.log", generation + 1);
    // (name, planted after opening, refused): the lock, the snapshot and the log are
    // opened when the engine opens; the temporary snapshot and the next log are created
    // by a checkpoint (a leftover at those names is removed when the engine opens).
    let cases = [
        ("lock", false, true),
        ("contacts.snap", false, true),
        (log.as_str(), false, true),
        ("contacts.snap.tmp", true, false),
        (next_log.as_str(), true, true),
    ];
    for (name, after_opening, refused) in cases {
        let base = tempfile::tempdir().expect("tmp");
        let data = base.path().join("d");
        crate::copy_dir(&pristine, &data);
        let victim = base.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        let plant = || {
            let planted = data.join(name);
            let _ = std::fs::remove_file(&planted);
            std::os::unix::fs::symlink(&victim, &planted).expect("link");
        };
        if !after_opening {
            plant();
        }
        let outcome = Engine::open(&data).and_then(|engine| {
            if after_opening {
                plant();
            }
            upsert(&engine, 320);
            engine.compact()?;
            upsert(&engine, 330);
            Ok(())
        });
        assert_eq!(outcome.is_err(), refused, "{name}: {outcome:?}");
        if let Err(e) = outcome {
            assert!(e.to_string().contains(name), "{name}: {e}");
        }
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious",
            "{name}"
        );
        let read_only = Engine::open_read_only(&data);
        if name != "lock" && refused {
            assert!(read_only.is_err(), "{name}: a reader refuses the link too");
        }
    }
}

/// A read-only engine creates, writes and removes nothing, and refuses changes.
#[test]
fn a_read_only_engine_writes_nothing() {
    let (_dir, data) = directory();
    std::fs::write(data.join("contacts.snap.tmp"), "a leftover").expect("leftover");
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        names_in(dir)
            .into_iter()
            .map(|n| (n.clone(), std::fs::read(dir.join(&n)).expect("read")))
            .collect()
    };
    let before = files(&data);
    let engine = Engine::open_read_only(&data).expect("open");
    let segment = engine.compile("tag:vip", NOW).expect("compiles");
    assert!(engine.count(&segment) > 0);
    engine.refresh().expect("refresh");
    let edit = Edit::CreateTag { tag: "new".into() };
    assert!(engine.commit(edit, NOW).is_err(), "a change is refused");
    assert!(engine.compact().is_err(), "a checkpoint is refused");
    drop(engine);
    assert_eq!(files(&data), before);
}

/// Saved segments may nest segments inside segments; lowering bounds the expanded depth
/// (`MAX_PLAN_DEPTH` in `src/plan/lower.rs`, twice the parser's 256): a chain that would
/// pass it is refused when saved and when typed, with a message naming the chain, and the
/// deepest chain allowed is counted, built, explained and written as SQL on a test
/// thread's stack.
#[test]
fn saved_segment_chains_stop_at_the_plan_depth_bound() {
    let engine = Engine::in_memory();
    upsert(&engine, 500);
    // 100 nested ORs, `(tag:vip or (tag:vip or … inner))`: lowering and the optimizer walk
    // every level (the optimizer then flattens them into one OR).
    let nest = |inner: &str| format!("{}{inner}{}", "(tag:vip or ".repeat(100), ")".repeat(100));
    let mut last = String::new();
    let mut refused = None;
    for level in 0..20 {
        let inner = if level == 0 {
            "tag:vip".to_string()
        } else {
            format!("@s{}", level - 1)
        };
        let edit = Edit::SaveSegment {
            name: format!("s{level}"),
            text: nest(&inner),
        };
        match engine.commit(edit, NOW) {
            Ok(_) => last = format!("@s{level}"),
            Err(e) => {
                refused = Some((level, e.to_string(), nest(&inner)));
                break;
            }
        }
    }
    let (level, message, text) = refused.expect("a chain is refused before 20 levels");
    assert!(level >= 3, "three levels of 100 fit ({message})");
    assert!(
        message.contains("more than 512 levels deep") && message.contains("-> @s0)"),
        "{message}"
    );
    let typed = engine.compile(&text, NOW).expect_err("refused typed");
    assert!(
        typed.to_string().contains("more than 512 levels deep"),
        "{typed}"
    );
    assert!(!engine.saved_segments().contains_key(&format!("s{level}")));

    let deepest = engine
        .compile(&last, NOW)
        .expect("the deepest allowed compiles");
    let vip = engine.compile("tag:vip", NOW).expect("compiles");
    assert!(engine.count(&vip) > 0);
    assert_eq!(engine.count(&deepest), engine.count(&vip));
    assert_eq!(engine.rows(&deepest), engine.rows(&vip));
    assert!(engine.explain(&deepest).contains("tag"));
    let dialect = reach::sql::dialect("postgres").expect("postgres");
    let sql = reach::sql::condition(&deepest.plan, &*dialect);
    assert!(sql.contains("vip"));
}

/// Collects the identities of the recipients it is given, all sent.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<String>>);

impl Sink for Collect {
    fn send(&self, batch: &Outgoing) -> Delivery {
        let mut seen = self.0.lock().expect("lock");
        for i in 0..batch.len() {
            let (channel, account, id) = batch.identity(i);
            seen.push(format!("{channel}/{account}/{id}"));
        }
        Delivery::Each(vec![Outcome::Sent; batch.len()])
    }
}

/// Row ids do not move while a job is sending: contacts deleted and checkpointed between
/// its start and its batches are skipped, and every other batch row still names the
/// contact it was judged as; once no job is sending, a checkpoint compacts.
#[test]
fn row_ids_stay_put_while_a_job_is_sending() {
    let base = tempfile::tempdir().expect("tmp");
    let engine = Engine::open(base.path().join("d")).expect("open");
    upsert(&engine, 2_000);
    let identity = |engine: &Engine, row: u32| {
        let c = engine.read().store().contact(row).expect("a contact");
        format!("{}/{}/{}", c.channel, c.account, c.external_id)
    };
    let request = crate::bot_request(
        "j",
        AudienceSource::Segment(engine.compile("", NOW).expect("all")),
        "hi",
    );
    let sink = Collect::default();
    broadcast::start(&engine, request, &sink, NOW).expect("started");
    let rows: Vec<u32> = engine.read().jobs()["j"]
        .batches
        .iter()
        .flat_map(|b| b.rows.iter())
        .collect();
    let judged: BTreeSet<String> = rows.iter().map(|&r| identity(&engine, r)).collect();
    assert!(judged.len() > 100);

    let doomed = engine.compile("tag:vip", NOW).expect("compiles");
    let deleted: BTreeSet<String> = engine
        .rows(&doomed)
        .iter()
        .map(|r| identity(&engine, r))
        .collect();
    assert!(deleted.intersection(&judged).count() > 0);
    let edit = Edit::Delete {
        target: Target::Segment(doomed),
        confirm: CONFIRM_WORD.into(),
    };
    engine.commit(edit, NOW).expect("deleted");
    engine.compact().expect("a checkpoint");
    let engine = {
        drop(engine);
        Engine::open(base.path().join("d")).expect("reopens")
    };
    let clock = || NOW + 60;
    let run = Run {
        clock: &clock,
        ..Run::default()
    };
    let report = broadcast::send(&engine, "j", &sink, false, &run).expect("sent");
    let collected = sink.0.lock().expect("lock").clone();
    let sent: BTreeSet<String> = collected.iter().cloned().collect();
    assert_eq!(sent.len(), collected.len(), "no one twice");
    let want: BTreeSet<String> = judged.difference(&deleted).cloned().collect();
    assert_eq!(sent, want);
    assert_eq!(report.figures.sent, want.len() as u64);

    let (live, last_row) = {
        let view = engine.read();
        (
            view.store().live().len(),
            view.store().live().max().expect("rows"),
        )
    };
    assert!(
        u64::from(last_row) + 1 > live,
        "deleted rows stayed as blank rows"
    );
    engine.compact().expect("compacts now");
    let view = engine.read();
    assert_eq!(view.store().live().len(), live);
    let last_row = view.store().live().max().expect("rows");
    assert_eq!(u64::from(last_row) + 1, live, "compacted: no gaps left");
}
