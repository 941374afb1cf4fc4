//! The one integration-test binary: modules by concern.

mod broadcast;
mod cli;
mod clock;
mod console;
mod durability;
mod edges;
mod engines;
mod everyday;
mod explain;
mod golden;
mod grammar;
mod import_export;
mod invariants;
mod membership;
pub mod oracle;
mod parser;
mod printed;
mod repl;
mod scope;
mod serve;
mod serve_schema;
mod snapshot;
mod sql;
mod store;
mod strict_input;

/// A store of `n` generated contacts (seed `seed`), loaded by upsert at time `now`.
pub fn generated_store(n: u64, seed: u64, now: i64) -> reach::store::Store {
    let mut store = reach::store::Store::new();
    let change = reach::store::Change::Upsert {
        contacts: reach::synth::contacts(n, seed, reach::synth::DEFAULT_ANCHOR),
        fields: reach::model::FieldSet::all(),
    };
    store
        .apply(&change, now)
        .expect("generated contacts are valid");
    store
}

/// A small deterministic random number generator for tests (an LCG: plenty for picking).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Copies a data directory's files.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// The `reach` binary, its now fixed at 2025-06-01T04:00:00Z, stdin closed.
pub fn reach() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reach"));
    command
        .args(["--now", "2025-06-01T04:00:00Z"])
        .stdin(std::process::Stdio::null());
    command
}

/// Runs `reach ARGS…` at the real clock, stdin closed, to the end.
pub fn reach_unfixed(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("reach runs")
}

/// Runs `reach --data DATA ARGS…` to the end.
pub fn run_at(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    reach()
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("reach runs")
}

/// A temporary directory whose `d` is a data directory holding `csv`, imported by the
/// real binary.
pub fn loaded_with(csv: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("population.csv");
    std::fs::write(&file, csv).expect("csv");
    let out = run_at(
        &dir.path().join("d"),
        &["import", &file.display().to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// A bot message to the `test` sink that sends to whoever it can (`partial`), with no rate
/// or channels file of its own.
pub fn bot_request(
    id: &str,
    audience: reach::broadcast::AudienceSource,
    text: &str,
) -> reach::broadcast::Request {
    reach::broadcast::Request {
        id: Some(id.into()),
        audience,
        message: reach::broadcast::Message {
            kind: reach::model::MessageKind::Bot,
            text: text.into(),
            payloads: Default::default(),
            subject: None,
        },
        options: reach::broadcast::Options {
            reply_window: false,
            partial: true,
            rate: None,
            sink: "test".into(),
            channels: None,
        },
    }
}
