//! Seen while it runs: `reach broadcast show` on a running job gives what was sent so
//! far, the recent rate per account and the time left at that rate (`--json` the same);
//! once its run is gone, show says since when nothing was logged instead of a rate.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{json, loaded};

/// `reach` at the real clock (a rate needs time to pass), stdin closed.
fn reach() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reach"));
    command.stdin(Stdio::null());
    command
}

/// A WhatsApp stand-in accepting every message after 5 ms.
fn whatsapp() -> String {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a port"));
    let base = format!("http://{}", server.server_addr());
    for _ in 0..8 {
        let server = Arc::clone(&server);
        std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                std::thread::sleep(Duration::from_millis(5));
                let _ = request.respond(tiny_http::Response::from_string("{}"));
            }
        });
    }
    base
}

fn channels(dir: &std::path::Path, url: &str) -> String {
    let text: String = ["+886223456789", "+85230001234"]
        .iter()
        .map(|account| {
            format!(
                "[whatsapp.\"{account}\"]\ntoken = \"W\"\nphone_number_id = \"1065\"\n\
                 template = \"spring_sale\"\nbase_url = \"{url}\"\n"
            )
        })
        .collect();
    let path = dir.join("channels.toml");
    std::fs::write(&path, text).expect("channels");
    path.display().to_string()
}

fn show(data: &std::path::Path, now: Option<&str>, json_too: bool) -> std::process::Output {
    let mut command = reach();
    command.arg("--data").arg(data);
    if let Some(now) = now {
        command.args(["--now", now]);
    }
    command.args(["broadcast", "show", "paced"]);
    if json_too {
        command.arg("--json");
    }
    command.output().expect("runs")
}

/// Starts a WhatsApp broadcast at 40 requests a second an account (the clock's own time).
fn start(data: &std::path::Path, file: &str) -> Child {
    reach()
        .arg("--data")
        .arg(data)
        .args(["broadcast", "channel:whatsapp", "--kind", "bot"])
        .args(["--text", "Hi {{name|friend}}", "--sink", "platform"])
        .args(["--channels", file, "--rate", "40", "--id", "paced", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns")
}

#[test]
fn show_gives_a_running_jobs_rate_per_account_and_time_left() {
    let base = loaded(6_000);
    let data = base.path().join("d");
    let file = channels(base.path(), &whatsapp());
    let mut child = start(&data, &file);
    let since = Instant::now();
    let running = loop {
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "no rate shown in 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
        let out = show(&data, None, true);
        if !out.status.success() && out.stdout.is_empty() {
            continue; // the job is not logged yet
        }
        let report = json(&out);
        if report.get("rate").is_some() {
            break report;
        }
        assert_eq!(report["state"], "sending", "done before a rate: {report}");
    };
    let text = String::from_utf8_lossy(&show(&data, None, false).stdout).into_owned();
    let _ = child.kill();
    let _ = child.wait();
    let rates = running["rates"].as_object().expect("per account");
    assert!(!rates.is_empty(), "{running}");
    for (account, rate) in rates {
        let rate = rate.as_u64().expect("a number");
        assert!(
            rate <= 60,
            "{account} at {rate}/s with --rate 40: {running}"
        );
    }
    assert!(running["rate"].as_u64().expect("a number") > 0, "{running}");
    let left =
        running["eligible"].as_u64().expect("eligible") - running["sent"].as_u64().expect("sent");
    let eta = running["eta_seconds"].as_u64().expect("an estimate");
    assert!(eta > 0 && left > 0, "{running}");
    assert!(text.contains("/s (") && text.contains("left"), "{text}");

    // The run was killed: a minute on, show gives no rate but when it last logged.
    let later = "2100-01-01T00:00:00Z";
    let idle = json(&show(&data, Some(later), true));
    assert_eq!(idle["state"], "sending", "{idle}");
    assert!(idle.get("rate").is_none(), "{idle}");
    assert!(idle["idle_since"].is_string(), "{idle}");
    let text = String::from_utf8_lossy(&show(&data, Some(later), false).stdout).into_owned();
    assert!(text.contains("nothing logged since"), "{text}");
}
