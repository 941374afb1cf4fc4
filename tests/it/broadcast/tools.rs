//! The real tools the adapter tests check against, in a virtual environment under the
//! target directory made once (PyPI): an OpenAPI validator (openapi-core) for every request
//! a stand-in platform receives — path, method, headers, security and body — and an SMTP
//! server (aiosmtpd) whose mail Python's parser (`email`, policy=default) reads, defects
//! included. The scripts are in `tests/tools/`.
//!
//! `.ci/run` sets `REACH_TEST_TOOLS=required`, so that a missing tool fails the run there;
//! elsewhere a test says what is missing and passes over it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Whether a missing tool fails the test (CI) or only skips it.
pub fn required() -> bool {
    std::env::var("REACH_TEST_TOOLS").is_ok_and(|v| v == "required")
}

/// Runs `command`; its stderr is the error when it fails.
pub fn run(command: &mut Command) -> Result<(), String> {
    let out = (command.stdin(Stdio::null()).output()).map_err(|e| format!("{command:?}: {e}"))?;
    match out.status.success() {
        true => Ok(()),
        false => Err(format!(
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The environment's Python, made on first use; `None` (after saying why) when it cannot
/// be made and the tools are not required.
pub fn python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("platform-tools-venv");
    let python = venv.join("bin/python");
    let ready = venv.join("ready");
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if !ready.exists() {
        let made = run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).and_then(|_| {
            run(Command::new(&python).args([
                "-m",
                "pip",
                "install",
                "-q",
                "openapi-core",
                "werkzeug",
                "aiosmtpd",
            ]))
        });
        if let Err(why) = made {
            assert!(
                !required(),
                "the platform test tools are required here: {why}"
            );
            eprintln!(
                "skipped: the platform test tools are not available ({why}); .ci/run installs them"
            );
            return None;
        }
        std::fs::write(&ready, "").expect("mark the venv ready");
    }
    Some(python)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tools")
        .join(name)
}

/// A platform's own description in `../shared/reference/`.
pub fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/reference")
        .join(name)
}

/// The Messenger Send API as reach may use it (Meta publishes no description).
pub fn messenger() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openapi/messenger-send-api.yaml")
}

/// One request a stand-in received, whole.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// Reads `request` whole (its body too).
    pub fn of(request: &mut tiny_http::Request) -> Recorded {
        let mut body = String::new();
        let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
        let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        Recorded {
            method: request.method().to_string(),
            path: path.to_string(),
            query: query.to_string(),
            headers: (request.headers().iter())
                .map(|h| (h.field.to_string(), h.value.to_string()))
                .collect(),
            body,
        }
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        (self.headers.iter())
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Each request's violations of the description `spec` (an empty list: all valid), as
/// openapi-core finds them.
pub fn violations(python: &Path, spec: &Path, requests: &[Recorded]) -> Vec<Vec<String>> {
    let mut child = Command::new(python)
        .arg(script("validate_requests.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the validator starts");
    let mut input = String::new();
    for r in requests {
        let line = serde_json::json!({"spec": spec, "method": r.method, "path": r.path,
            "query": r.query, "headers": r.headers, "body": r.body});
        input.push_str(&format!("{line}\n"));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("the validator runs");
    writer.join().expect("writes").expect("written");
    assert!(out.status.success(), "the validator failed");
    let answers: Vec<Vec<String>> = (String::from_utf8_lossy(&out.stdout).lines())
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line"))
        .map(|v| serde_json::from_value(v["errors"].clone()).expect("errors"))
        .collect();
    assert_eq!(answers.len(), requests.len(), "an answer per request");
    answers
}

/// The violations of every request, flattened with the request they belong to: what a
/// test asserts empty.
pub fn all_violations(python: &Path, spec: &Path, requests: &[Recorded]) -> Vec<String> {
    let answers = violations(python, spec, requests);
    (requests.iter().zip(answers))
        .filter(|(_, errors)| !errors.is_empty())
        .map(|(r, errors)| format!("{} {}: {}", r.method, r.path, errors.join("; ")))
        .collect()
}

/// A real SMTP server on 127.0.0.1; killed when dropped.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    out: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start(python: &Path) -> SmtpServer {
        let out = tempfile::tempdir().expect("tmp");
        let mut child = Command::new(python)
            .arg(script("smtp_server.py"))
            .arg(out.path().join("mail.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the SMTP server starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("its port");
        let port = line.trim().parse().expect("a port");
        SmtpServer { child, port, out }
    }

    /// Every message received: recipients, headers, the parser's defects, body, raw.
    pub fn mail(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.out.path().join("mail.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's header (the first of that name), as the parser reads it.
pub fn mail_header<'a>(message: &'a Value, name: &str) -> Option<&'a str> {
    (message["headers"].as_array()?.iter())
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}
