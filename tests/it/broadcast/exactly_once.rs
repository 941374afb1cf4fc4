//! Exactly once through kills and a failing sink: `reach broadcast` is SIGKILLed at random
//! moments and resumed until done, while a local webhook server fails at random (errors
//! before accepting, "accepted but the answer was lost") and honours
//! `Idempotency-Key`; an outbox run is killed the same way. The union of deliveries must
//! be exactly the eligible audience, nobody twice.

use std::collections::{BTreeMap, BTreeSet};

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reach::Engine;
use reach::broadcast::{Rules, judge};
use reach::model::MessageKind;

use super::{NOW, loaded, reach};
use crate::Rng;

/// Deliveries by idempotency key, as a sink that honours keys keeps them.
type Deliveries = Arc<Mutex<BTreeMap<String, Vec<String>>>>;

/// A webhook receiver on 127.0.0.1 that fails one request in four: refused before
/// accepting it, or accepted with the answer lost.
fn flaky_webhook(seed: u64) -> (String, Deliveries) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a local port");
    let url = format!("http://{}/hook", server.server_addr());
    let deliveries: Deliveries = Arc::default();
    let kept = Arc::clone(&deliveries);
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        // A key fails at most three times in a row (retries are bounded: six attempts).
        let mut failures: BTreeMap<String, u32> = BTreeMap::new();
        for mut request in server.incoming_requests() {
            let key = (request.headers().iter())
                .find(|h| h.field.equiv("Idempotency-Key"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            let mut body = String::new();
            let _ = request.as_reader().read_to_string(&mut body);
            let streak = failures.entry(key.clone()).or_default();
            let roll = if *streak >= 3 { 99 } else { rng.below(100) };
            *streak = if roll < 25 { *streak + 1 } else { 0 };
            if roll < 12 {
                let _ = request.respond(tiny_http::Response::empty(500));
                continue;
            }
            // A request cut off by a kill is not accepted: only a whole batch is.
            let Ok(batch) = serde_json::from_str::<serde_json::Value>(&body) else {
                let _ = request.respond(tiny_http::Response::empty(400));
                continue;
            };
            let recipients: Vec<String> = (batch["recipients"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter())
            .map(|r| {
                format!(
                    "{}/{}/{}",
                    r["channel"].as_str().unwrap_or(""),
                    r["account"].as_str().unwrap_or(""),
                    r["external_id"].as_str().unwrap_or("")
                )
            })
            .collect();
            kept.lock().expect("lock").entry(key).or_insert(recipients);
            if roll < 25 {
                // Accepted, but the answer is lost on the way back.
                let _ = request.respond(tiny_http::Response::empty(502));
            } else {
                let _ = request.respond(tiny_http::Response::from_string("{}"));
            }
        }
    });
    (url, deliveries)
}

/// Who is eligible for a `bot` message to everyone, judged on the directory as it is.
pub(super) fn eligible(data: &Path) -> BTreeSet<String> {
    let engine = Engine::open_read_only(data).expect("opens");
    let view = engine.read();
    let all = view.store().live().clone();
    let rules = Rules {
        kind: MessageKind::Bot,
        reply_window: false,
        partial: false,
        now: NOW,
    };
    let judged = judge(&view, &all, 0, rules).expect("judges");
    (view.store().contacts(&judged.eligible).into_iter())
        .map(|c| format!("{}/{}/{}", c.channel, c.account, c.external_id))
        .collect()
}

/// Runs `reach` with `args`, killing it after `kill_after` if it is still running; the
/// JSON report if it finished.
fn run_maybe_killed(
    data: &Path,
    args: &[&str],
    kill_after: Option<Duration>,
) -> Option<serde_json::Value> {
    let mut child = reach()
        .arg("--data")
        .arg(data)
        .args(args)
        .env("REACH_RETRY_BACKOFF_MS", "1")
        .env("REACH_HTTP_TIMEOUT_MS", "250")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    if let Some(after) = kill_after {
        std::thread::sleep(after);
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("waits");
    let text = String::from_utf8_lossy(&out.stdout);
    if std::env::var_os("TRACE_TRIALS").is_some() {
        eprintln!(
            "{args:?} -> {:?} {text} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    text.lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
}

/// Starts a job to `segment` through `sink` (its arguments), killing it at a random
/// moment, then resumes (sometimes killed again) until it reports `done`.
pub(super) fn broadcast_through_kills(
    data: &Path,
    job: &str,
    (segment, sink): (&str, &[&str]),
    window_ms: u64,
    rng: &mut Rng,
) -> serde_json::Value {
    let mut start = vec![
        "broadcast",
        segment,
        "--kind",
        "bot",
        "--text",
        "hi {{name|friend}}",
    ];
    start.extend(sink);
    start.extend(["--id", job, "--yes", "--json"]);
    let kill = Duration::from_millis(rng.below(window_ms));
    let mut report = run_maybe_killed(data, &start, Some(kill));
    for _ in 0..40 {
        if report.as_ref().is_some_and(|r| r["state"] == "done") {
            break;
        }
        let kill = rng
            .chance(40)
            .then(|| Duration::from_millis(rng.below(window_ms)));
        // Killed before the job was logged: nothing was sent, start it again; killed
        // after it ended but before its report: the report is what `show` says.
        let shown = run_maybe_killed(data, &["broadcast", "show", job, "--json"], None);
        if shown.as_ref().is_some_and(|r| r["state"] == "done") {
            report = shown;
            break;
        }
        let resume = ["broadcast", "resume", job, "--json"];
        let args: &[&str] = if shown.is_some() { &resume } else { &start };
        report = run_maybe_killed(data, args, kill);
    }
    let report = report.expect("the job finished");
    assert_eq!(report["state"], "done", "{report}");
    report
}

/// Trials per test: `REACH_BROADCAST_TRIALS`, else `default`.
pub(super) fn trials(default: u64) -> u64 {
    std::env::var("REACH_BROADCAST_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub(super) fn check_once(
    delivered: Vec<String>,
    eligible: &BTreeSet<String>,
    report: &serde_json::Value,
) {
    let unique: BTreeSet<String> = delivered.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "nobody gets the message twice"
    );
    let missing: Vec<&String> = eligible.difference(&unique).take(5).collect();
    let extra: Vec<&String> = unique.difference(eligible).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "everyone eligible gets it, nobody else: {} missing (e.g. {missing:?}), {} extra (e.g. {extra:?}); {report}",
        eligible.difference(&unique).count(),
        unique.difference(eligible).count()
    );
    assert_eq!(report["sent"], eligible.len() as u64, "{report}");
    assert_eq!(report["failed"], 0);
}

#[test]
fn a_webhook_broadcast_killed_and_failing_at_random_delivers_exactly_once() {
    let base = loaded(2_500);
    let eligible = eligible(&base.path().join("d"));
    let (url, deliveries) = flaky_webhook(11);
    let sink = format!("webhook:{url}");
    let mut rng = Rng(0xbeef);
    for trial in 0..trials(50) {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("d");
        crate::copy_dir(&base.path().join("d"), &data);
        let job = format!("hook-{trial}");
        let report = broadcast_through_kills(&data, &job, ("", &["--sink", &sink]), 35, &mut rng);
        let prefix = (0..)
            .map(|b| reach::broadcast::idempotency_key(&job, b))
            .take(200)
            .collect::<BTreeSet<_>>();
        let delivered: Vec<String> = (deliveries.lock().expect("lock").iter())
            .filter(|(key, _)| prefix.contains(*key))
            .flat_map(|(_, r)| r.clone())
            .collect();
        check_once(delivered, &eligible, &report);
    }
}

#[test]
fn an_outbox_broadcast_killed_at_random_holds_everyone_once() {
    let base = loaded(2_500);
    let eligible = eligible(&base.path().join("d"));
    let mut rng = Rng(0xcafe);
    for trial in 0..trials(60) {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("d");
        crate::copy_dir(&base.path().join("d"), &data);
        let outbox = dir.path().join("outbox.jsonl");
        let sink = format!("jsonl:{}", outbox.display());
        let job = format!("box-{trial}");
        let report = broadcast_through_kills(&data, &job, ("", &["--sink", &sink]), 12, &mut rng);
        let delivered: Vec<String> = std::fs::read_to_string(&outbox)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                format!(
                    "{}/{}/{}",
                    v["channel"].as_str().unwrap_or(""),
                    v["account"].as_str().unwrap_or(""),
                    v["external_id"].as_str().unwrap_or("")
                )
            })
            .collect();
        check_once(delivered, &eligible, &report);
    }
}

/// The outbox's disk is full (the outbox is `/dev/full`, where every write fails with
/// ENOSPC): the job is left `sending` with the cause and the command that goes on, not
/// `failed`; once there is room, `resume` holds everyone eligible once.
#[test]
fn an_outbox_on_a_full_disk_leaves_the_job_sending_for_a_resume() {
    let base = loaded(2_500);
    let data = base.path().join("d");
    let eligible = eligible(&data);
    let outbox = base.path().join("outbox.jsonl");
    std::os::unix::fs::symlink("/dev/full", &outbox).expect("link");
    let sink = format!("jsonl:{}", outbox.display());
    let start = [
        "broadcast",
        "",
        "--kind",
        "bot",
        "--text",
        "hi {{name|friend}}",
        "--sink",
        &sink,
        "--id",
        "full",
        "--yes",
        "--json",
    ];
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(start)
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let report = super::json(&out);
    assert_eq!(report["state"], "sending", "{report}");
    assert_eq!((&report["sent"], &report["failed"]), (&0.into(), &0.into()));
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("No space left on device"), "{reason}");
    assert!(reason.contains("reach broadcast resume full"), "{reason}");
    assert!(stderr.contains("left sending"), "{stderr}");
    let shown = run_maybe_killed(&data, &["broadcast", "show", "full", "--json"], None);
    assert_eq!(shown.expect("shown")["state"], "sending");
    // Room again: the outbox is a file.
    std::fs::remove_file(&outbox).expect("unlink");
    let resumed = run_maybe_killed(&data, &["broadcast", "resume", "full", "--json"], None);
    let report = resumed.expect("a report");
    assert_eq!(report["state"], "done", "{report}");
    let delivered: Vec<String> = std::fs::read_to_string(&outbox)
        .expect("outbox")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a whole line"))
        .map(|v| {
            let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
            format!(
                "{}/{}/{}",
                field("channel"),
                field("account"),
                field("external_id")
            )
        })
        .collect();
    check_once(delivered, &eligible, &report);
}
