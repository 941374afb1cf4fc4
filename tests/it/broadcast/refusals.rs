//! What the command line says and does before and around a send (issue 27): refusals come
//! before the confirmation question and use up no job id, and a dry run reports them;
//! `cancel` exits 0; `resume` takes another channels file and rate; a platform's error
//! message is kept whole in the report; the demo sends to its outbox; `show` keeps the
//! batch in flight apart from the uncertain ones; `jobs` lists in start order.

use std::path::Path;

use reach::broadcast::{self, AudienceSource, Message, Options, Request};
use reach::model::MessageKind;

use super::{NOW, json, loaded, reach, run_at};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn job_ids(data: &Path) -> Vec<String> {
    let out = run_at(data, &["broadcast", "jobs", "--json"]);
    (String::from_utf8_lossy(&out.stdout).lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["job"].to_string())
        .collect()
}

#[test]
fn a_broadcast_to_accounts_the_channels_file_lacks_is_refused_before_anything() {
    let dir = loaded(2_000);
    let data = dir.path().join("d");
    let args = [
        "broadcast",
        "channel:whatsapp tag:gold",
        "--kind",
        "broadcast",
    ];
    let text = ["--text", "Hi {{name|friend}}", "--id", "wa-1", "--json"];
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(args)
        .args(text)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["state"], "refused", "{report}");
    let why = report["refused"].as_str().expect("why");
    assert!(why.contains("[whatsapp.\"+886223456789\"]"), "{why}");
    assert!(job_ids(&data).is_empty(), "no job was made");
    let dry = reach()
        .arg("--data")
        .arg(&data)
        .args(args)
        .args(text)
        .arg("--dry-run")
        .output()
        .expect("runs");
    assert_eq!(dry.status.code(), Some(1));
    assert_eq!(json(&dry)["refused"], why, "a dry run reports the refusal");
    // The id was not used up: with an outbox the same id sends.
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    let sent = reach()
        .arg("--data")
        .arg(&data)
        .args(args)
        .args(text)
        .args(["--sink", &sink, "--yes"])
        .output()
        .expect("runs");
    assert_eq!(json(&sent)["state"], "done", "{}", stderr(&sent));
}

#[test]
fn a_short_line_quota_is_refused_before_the_question_and_by_a_dry_run() {
    let dir = loaded(1_000);
    let data = dir.path().join("d");
    assert!(
        run_at(&data, &["quota", "line-tw", "--plan", "3", "--used", "0"])
            .status
            .success()
    );
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    let args = [
        "broadcast",
        "channel:line account:line-tw",
        "--kind",
        "broadcast",
        "--text",
        "hi",
        "--sink",
        &sink,
        "--json",
    ];
    let dry = run_at(&data, &[&args[..], &["--dry-run"]].concat());
    assert_eq!(dry.status.code(), Some(1), "{}", stderr(&dry));
    let report = json(&dry);
    assert!(
        report["refused"]
            .as_str()
            .is_some_and(|r| r.contains("line-tw has 3 messages left")),
        "{report}"
    );
    let plain = run_at(
        &data,
        &[
            "broadcast",
            "channel:line account:line-tw",
            "--kind",
            "broadcast",
            "--text",
            "hi",
            "--dry-run",
        ],
    );
    let shown = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert_eq!(
        shown.matches("audience ").count(),
        1,
        "the preview once: {shown}"
    );
    assert!(
        !shown.contains("job preview") && shown.contains("refused: "),
        "{shown}"
    );
    assert!(
        stderr(&plain).matches("audience ").count() == 0,
        "{}",
        stderr(&plain)
    );
    let refused = run_at(&data, &args);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(json(&refused)["state"], "refused");
    assert!(job_ids(&data).is_empty());
}

#[test]
fn a_used_job_id_is_refused_first_with_json_and_exit_1() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    let args = [
        "broadcast",
        "",
        "--kind",
        "bot",
        "--text",
        "x",
        "--sink",
        &sink,
        "--id",
        "once",
        "--yes",
        "--json",
    ];
    assert!(run_at(&data, &args).status.success());
    let again = run_at(&data, &args);
    assert_eq!(again.status.code(), Some(1));
    let report = json(&again);
    assert_eq!(report["state"], "refused");
    assert!(
        report["refused"]
            .as_str()
            .is_some_and(|r| r.contains("used once")),
        "{report}"
    );
    assert!(
        !stderr(&again).contains("audience"),
        "no preview first: {}",
        stderr(&again)
    );
}

/// Starts job `id` to every contact through the library, leaving it `sending` (nothing
/// sent), with `channels` as its channels file.
fn started(data: &Path, id: &str, channels: &str) {
    let engine = reach::Engine::open(data).expect("opens");
    let segment = engine.compile("channel:facebook", NOW).expect("segment");
    let request = Request {
        id: Some(id.into()),
        audience: AudienceSource::Segment(segment),
        message: Message {
            kind: MessageKind::Welcome,
            text: "hi".into(),
            payloads: Default::default(),
            subject: None,
        },
        options: Options {
            reply_window: false,
            partial: false,
            rate: Some(1),
            sink: "platform".into(),
            channels: Some(channels.into()),
        },
    };
    broadcast::start(&engine, request, &broadcast::sinks::Discard, NOW).expect("starts");
}

#[test]
fn cancel_exits_0_and_resume_takes_another_channels_file_and_rate() {
    let dir = loaded(600);
    let data = dir.path().join("d");
    let missing = dir.path().join("gone.toml").display().to_string();
    started(&data, "c-1", &missing);
    let cancelled = run_at(&data, &["broadcast", "cancel", "c-1"]);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    assert!(String::from_utf8_lossy(&cancelled.stdout).contains("job c-1: failed"));
    started(&data, "r-1", &missing);
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::from_string("{}"));
        }
    });
    let pages: String = ["fb-shop-tw", "@brand-hk"]
        .iter()
        .map(|p| format!("[facebook.\"{p}\"]\ntoken = \"PAGE\"\nbase_url = \"{base}\"\n"))
        .collect();
    let channels = dir.path().join("new.toml");
    std::fs::write(&channels, pages).expect("channels");
    let old = run_at(&data, &["broadcast", "resume", "r-1", "--json"]);
    assert_eq!(old.status.code(), Some(1), "the job's own file is gone");
    let begun = std::time::Instant::now();
    let channels = channels.display().to_string();
    let resumed = run_at(
        &data,
        &[
            "broadcast",
            "resume",
            "r-1",
            "--channels",
            &channels,
            "--rate",
            "1000",
            "--json",
        ],
    );
    let report = json(&resumed);
    assert_eq!(report["state"], "done", "{report}");
    assert!(report["sent"].as_u64().expect("sent") > 20);
    assert!(
        begun.elapsed().as_secs() < 10,
        "--rate 1000 replaced the job's 1 a second"
    );
}

#[test]
fn a_platforms_error_message_is_kept_whole_in_the_report() {
    let detail = format!(
        "Your request is not valid: {} so Prism refused it (end)",
        "x".repeat(400)
    );
    let body = serde_json::json!({"detail": detail}).to_string();
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request
                .respond(tiny_http::Response::from_string(body.clone()).with_status_code(422));
        }
    });
    let dir = loaded(200);
    let data = dir.path().join("d");
    let sink = format!("webhook:{base}/hook");
    let out = run_at(
        &data,
        &[
            "broadcast",
            "",
            "--kind",
            "bot",
            "--text",
            "hi",
            "--sink",
            &sink,
            "--yes",
            "--json",
        ],
    );
    let report = json(&out);
    let failures = report["failures"].as_object().expect("failures");
    assert!(
        failures
            .keys()
            .any(|why| why.contains("so Prism refused it (end)")),
        "{report}"
    );
}

#[test]
fn show_keeps_the_batch_in_flight_apart_and_jobs_list_in_start_order() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let sink = format!("jsonl:{}", dir.path().join("o.jsonl").display());
    for (id, now) in [
        ("zz-first", "2025-06-01T04:00:00Z"),
        ("aa-second", "2025-06-02T04:00:00Z"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_reach"))
            .args(["--now", now, "--data"])
            .arg(&data)
            .args([
                "broadcast",
                "",
                "--kind",
                "bot",
                "--text",
                "x",
                "--sink",
                &sink,
                "--id",
                id,
                "--yes",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(job_ids(&data), ["\"zz-first\"", "\"aa-second\""]);
    let table = reach()
        .env("COLUMNS", "80")
        .arg("--data")
        .arg(&data)
        .args(["broadcast", "jobs"])
        .output()
        .expect("runs");
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let first = table.lines().nth(1).expect("a row");
    assert!(
        first.starts_with("zz-first") && first.contains("bot"),
        "{table}"
    );
    let shown = json(&run_at(&data, &["broadcast", "show", "zz-first", "--json"]));
    assert_eq!(shown["in_flight_recipients"], serde_json::json!([]));
    assert_eq!(shown["uncertain_recipients"], serde_json::json!([]));
}

#[test]
fn the_demo_sends_to_its_outbox_and_says_where() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("demo");
    let mut child = reach()
        .arg("--data")
        .arg(&data)
        .args(["demo", "--contacts", "3000"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let line =
        "broadcast channel:whatsapp tag:gold --kind broadcast --text 'Hi {{name|friend}}' --yes\n";
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), line.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("ends");
    let outbox = dir.path().join("demo-outbox.jsonl");
    assert!(
        stderr(&out).contains(&format!(
            "the messages go to the outbox {}",
            outbox.display()
        )),
        "{}",
        stderr(&out)
    );
    let sent = std::fs::read_to_string(&outbox)
        .expect("the outbox")
        .lines()
        .count();
    assert!(sent > 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("sent {sent}, failed 0")));
}
