//! `reach serve` against its own OpenAPI document, with real tools from PyPI in a virtual
//! environment under the target directory (made once): openapi-spec-validator checks the
//! document at `GET /openapi.json`, and schemathesis, a property-based API tester, sends
//! generated requests (valid and invalid) to every operation and checks each answer
//! against the document: no 5xx, only documented statuses, content types, headers and
//! bodies. The hooks it loads (`tests/tools/serve_schema_hooks.py`) keep broadcasts on
//! this machine.
//!
//! `.ci/run` sets `REACH_TEST_TOOLS=required`, so that missing tools fail the run there;
//! elsewhere the test says what is missing and passes over it.
//! `REACH_SCHEMA_SEED` picks another seed than the fixed one (a number, or `random`).

use crate::broadcast::tools::{required, run};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The tools, pinned so that a run is the same here and in CI.
const TOOLS: [&str; 2] = ["schemathesis==4.32.5", "openapi-spec-validator==0.9.0"];

/// Test cases per operation and phase: about half a minute on this machine's 2 cores.
const EXAMPLES: &str = "100";

/// The seed of a run unless `REACH_SCHEMA_SEED` says otherwise.
const SEED: &str = "30";

const MASTER: &str = "schema-test-master-key";

/// Every check of an answer against the document.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

/// The environment's `bin/`, made on first use; `None` (after saying why) when it cannot
/// be made and the tools are not required.
fn tools() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-schema-venv");
    let bin = venv.join("bin");
    let ready = venv.join(format!("ready-{}", TOOLS.join("-")));
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if !ready.exists() {
        let made = run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|_| {
            run(Command::new(bin.join("python"))
                .args(["-m", "pip", "install", "-q"])
                .args(TOOLS))
        });
        if let Err(why) = made {
            assert!(
                !required(),
                "the schema test tools are required here: {why}"
            );
            eprintln!(
                "skipped: the schema test tools are not available ({why}); .ci/run installs them"
            );
            return None;
        }
        std::fs::write(&ready, "").expect("mark the venv ready");
    }
    Some(bin)
}

/// A running server; stopped when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `reach serve` on `data`, on a free port of 127.0.0.1, with a master key. Its outgoing
/// HTTP goes through a proxy that is a closed port on 127.0.0.1, and it runs in `cwd`.
fn start(data: &Path, cwd: &Path) -> Server {
    let dead_end = "http://127.0.0.1:9";
    let mut command = Command::new(env!("CARGO_BIN_EXE_reach"));
    command
        .current_dir(cwd)
        .arg("--data")
        .arg(data)
        .args(["--now", "2025-06-01T04:00:00Z", "serve"])
        .args(["--listen", "127.0.0.1:0", "--master-key", MASTER])
        .args(["--tick", "1s", "--max-body-mib", "1"])
        .env_remove("REACH_MASTER_KEY")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy");
    for proxy in [
        "ALL_PROXY",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "http_proxy",
    ] {
        command.env(proxy, dead_end);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach serve starts");
    let base = crate::serve::listening_address(&mut child);
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    Server { child, base }
}

/// A data directory of a few hundred generated contacts, and no channels file.
fn data_dir(root: &Path) -> PathBuf {
    let csv = root.join("contacts.csv");
    let made = crate::reach()
        .args(["gen", "--contacts", "400", "--seed", "7", "-o"])
        .arg(&csv)
        .output()
        .expect("gen");
    assert!(made.status.success());
    let data = root.join("d");
    let out = crate::run_at(&data, &["import", &csv.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!data.join("channels.toml").exists());
    data
}

#[test]
fn the_document_is_valid_and_every_answer_conforms_to_it() {
    let Some(bin) = tools() else { return };
    let root = tempfile::tempdir().expect("tmp");
    let data = data_dir(root.path());
    let cwd = root.path().join("cwd");
    std::fs::create_dir(&cwd).expect("mkdir");
    let mut server = start(&data, &cwd);

    let document = ureq::get(format!("{}/openapi.json", server.base))
        .call()
        .expect("the document")
        .into_body()
        .read_to_string()
        .expect("text");
    let file = root.path().join("openapi.json");
    std::fs::write(&file, &document).expect("write");
    let validated = Command::new(bin.join("openapi-spec-validator"))
        .arg(&file)
        .output()
        .expect("the validator runs");
    assert!(
        validated.status.success(),
        "openapi-spec-validator refuses the document:\n{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    let seed = match std::env::var("REACH_SCHEMA_SEED") {
        Ok(seed) if seed == "random" => None,
        Ok(seed) => Some(seed),
        Err(_) => Some(SEED.to_string()),
    };
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    let started = Instant::now();
    let mut schemathesis = Command::new(bin.join("schemathesis"));
    schemathesis
        .current_dir(root.path())
        .env("SCHEMATHESIS_HOOKS", "serve_schema_hooks")
        .env("PYTHONPATH", &hooks)
        .arg("run")
        .arg(format!("{}/openapi.json", server.base))
        .args(["-H", &format!("Authorization: Bearer {MASTER}")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", EXAMPLES])
        .args(["--request-timeout", "20", "--workers", "2"])
        .args(["--generation-database", "none", "--no-color"]);
    if let Some(seed) = &seed {
        schemathesis.args(["--seed", seed]);
    }
    let out = schemathesis
        .stdin(Stdio::null())
        .output()
        .expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "schemathesis took {:.0?}; its report:\n{report}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "schemathesis found answers that break the document (above)"
    );
    assert!(
        report.contains("passed") && !report.contains(" 0 generated"),
        "schemathesis tested nothing:\n{report}"
    );

    // The server stops cleanly after all that, and no job it took names a sink that
    // leaves the machine or a file outside it, nor a channels file.
    let pid = server.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.is_ok_and(|s| s.success()));
    let status = server.child.wait().expect("exits");
    assert!(status.success(), "exit 0 on SIGTERM after the run");
    let engine = reach::Engine::open(&data).expect("reopens");
    let view = engine.read();
    for job in view.jobs().values() {
        let sink = &job.options.sink;
        assert!(
            sink == "discard" || sink == "platform",
            "job {} has the sink {sink}",
            job.id
        );
        let default = data.join("channels.toml").display().to_string();
        assert!(
            job.options.channels.as_ref().is_none_or(|c| *c == default),
            "job {} names the channels file {:?}",
            job.id,
            job.options.channels
        );
    }
    assert!(
        std::fs::read_dir(&cwd).expect("cwd").next().is_none(),
        "nothing written in the server's folder"
    );
}
