//! Issue 29's scenario, end to end: a LINE Messaging API stand-in on 127.0.0.1 (multicast
//! and push, retry keys answered 409 once used) that answers each request after 100 ms,
//! allows 100 requests a second per account (a token bucket of 10; beyond it a 429 with
//! `Retry-After: 1`) and fails 15% of requests (half before accepting them with a 500,
//! half accepted with the answer lost as a 500); five LINE accounts; `reach broadcast
//! --rate 100` run as a process, killed after 35 s if not done. Prints the requests and
//! recipients the stand-in accepted per second over the window from 5 s to 35 s (a run
//! done sooner: from its first accepted request to its last), for a plain text and a personalized one (`Hi {{name|friend}}`: 70% unique
//! names, 10% of 50 common ones, 20% none).
//!
//! `REACH_BIN` names the binary (default `target/release/reach`); `REACH_BENCH_CONTACTS`
//! the audience (default 1,000,000); `REACH_BENCH_FAULTS` the percent of requests failed
//! (default 15; 0 gives the issue's own conditions, no faults). `REACH_BENCH_ONLY`
//! (`plain` or `personal`) runs one of the two broadcasts. `cargo bench --bench line_standin`.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 5;
const RATE: f64 = 100.0;
const BURST: f64 = 10.0;
const LATENCY: Duration = Duration::from_millis(100);
/// Percent of requests failed unless `REACH_BENCH_FAULTS` says otherwise.
const FAULTS: u64 = 15;
const WINDOW: (f64, f64) = (5.0, 35.0);

/// What the stand-in accepted: when, and how many recipients.
#[derive(Default)]
struct Seen {
    accepted: Vec<(Instant, usize)>,
    keys: HashSet<String>,
    buckets: HashMap<String, (f64, Instant)>,
    refused: u64,
    seed: u64,
    faults: u64,
}

fn roll(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed % 100
}

/// Takes a token of `account`'s bucket, if there is one.
fn admitted(seen: &mut Seen, account: &str) -> bool {
    let now = Instant::now();
    let (tokens, at) = seen.buckets.entry(account.into()).or_insert((BURST, now));
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * RATE).min(BURST);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        return true;
    }
    false
}

fn respond(request: tiny_http::Request, status: u16, extra: Option<(&str, &str)>) {
    let mut response = tiny_http::Response::from_string("{}").with_status_code(status);
    if let Some((name, value)) = extra {
        response.add_header(tiny_http::Header::from_bytes(name, value).expect("a header"));
    }
    let _ = request.respond(response);
}

fn handle(mut request: tiny_http::Request, seen: &Mutex<Seen>) {
    let header = |name: &'static str| {
        (request.headers().iter())
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.to_string())
            .unwrap_or_default()
    };
    let (account, key) = (header("Authorization"), header("X-Line-Retry-Key"));
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let arrived = {
        let mut seen = seen.lock().expect("lock");
        let faults = seen.faults;
        let fault = roll(&mut seen.seed);
        if !admitted(&mut seen, &account) {
            seen.refused += 1;
            None
        } else if seen.keys.contains(&key) {
            Some(409)
        } else if fault < faults / 2 {
            Some(500)
        } else {
            let value: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let n = value["to"].as_array().map_or(1, Vec::len);
            seen.keys.insert(key);
            seen.accepted.push((Instant::now(), n));
            Some(if fault < faults { 500 } else { 200 })
        }
    };
    std::thread::sleep(LATENCY);
    match arrived {
        None => respond(request, 429, Some(("Retry-After", "1"))),
        Some(status) => respond(request, status, None),
    }
}

/// The stand-in: its base URL and what it saw.
fn stand_in(faults: u64) -> (String, Arc<Mutex<Seen>>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a port"));
    let base = format!("http://{}", server.server_addr());
    let seen = Arc::new(Mutex::new(Seen {
        seed: 0x9e37_79b9,
        faults,
        ..Seen::default()
    }));
    for _ in 0..512 {
        let (server, seen) = (Arc::clone(&server), Arc::clone(&seen));
        std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                handle(request, &seen);
            }
        });
    }
    (base, seen)
}

/// A CSV of `n` LINE contacts over five accounts.
fn audience(path: &std::path::Path, n: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    writeln!(out, "channel,account,external_id,name").expect("write");
    let mut seed = 7u64;
    for i in 0..n {
        let name = match roll(&mut seed) {
            0..70 => format!("Name {i}"),
            70..80 => format!("Common {}", roll(&mut seed) % 50),
            _ => String::new(),
        };
        writeln!(out, "line,line-{},U{i:032x},{name}", i % ACCOUNTS).expect("write");
    }
}

fn reach(bin: &str, data: &std::path::Path) -> Command {
    let mut command = Command::new(bin);
    command.arg("--data").arg(data).stdin(Stdio::null());
    command
}

/// Runs one broadcast; prints what the stand-in accepted per second in the window.
fn broadcast(bin: &str, data: &std::path::Path, channels: &str, name: &str, text: &str) {
    let only = std::env::var("REACH_BENCH_ONLY").unwrap_or_default();
    if !only.is_empty() && only != name {
        return;
    }
    let faults = (std::env::var("REACH_BENCH_FAULTS").ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(FAULTS);
    let (base, seen) = stand_in(faults);
    std::fs::write(
        channels,
        (0..ACCOUNTS)
            .map(|a| format!("[line.\"line-{a}\"]\ntoken = \"T{a}\"\nbase_url = \"{base}\"\n"))
            .collect::<String>(),
    )
    .expect("channels");
    let started = Instant::now();
    let mut child = reach(bin, data)
        .args(["broadcast", "channel:line", "--kind", "bot", "--text", text])
        .args([
            "--sink",
            "platform",
            "--channels",
            channels,
            "--rate",
            "100",
        ])
        .args(["--id", name, "--yes", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("reach runs");
    let deadline = started + Duration::from_secs_f64(WINDOW.1);
    while Instant::now() < deadline && child.try_wait().expect("waits").is_none() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = started.elapsed().as_secs_f64().min(WINDOW.1);
    let _ = child.kill();
    let _ = child.wait();
    let seen = seen.lock().expect("lock");
    let at = |t: &Instant| t.duration_since(started).as_secs_f64();
    // A run done within the window is measured from its first accepted request to its
    // last; a longer one over the window.
    let (from, to) = match ended < WINDOW.1 {
        true => (
            seen.accepted.first().map_or(0.0, |(t, _)| at(t)),
            seen.accepted.last().map_or(ended, |(t, _)| at(t)),
        ),
        false => WINDOW,
    };
    let inside: Vec<usize> = (seen.accepted.iter())
        .filter(|(t, _)| (from..=to).contains(&at(t)))
        .map(|(_, n)| *n)
        .collect();
    let span = (to - from).max(0.001);
    println!(
        "{name} ({faults}% faults): {:.0} requests/s, {:.0} recipients/s accepted from {from:.1} s to {to:.1} s \
         (run ended at {ended:.1} s; {} requests, {} recipients in all; {} refused with 429)",
        inside.len() as f64 / span,
        inside.iter().sum::<usize>() as f64 / span,
        seen.accepted.len(),
        seen.accepted.iter().map(|(_, n)| n).sum::<usize>(),
        seen.refused
    );
}

fn main() {
    let bin = std::env::var("REACH_BIN").unwrap_or_else(|_| "target/release/reach".into());
    let n = (std::env::var("REACH_BENCH_CONTACTS").ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let scratch = tempfile::tempdir().expect("tmp");
    let data = scratch.path().join("d");
    let csv = scratch.path().join("a.csv");
    audience(&csv, n);
    let imported = reach(&bin, &data).arg("import").arg(&csv).output();
    assert!(imported.expect("imports").status.success());
    let channels = scratch.path().join("channels.toml").display().to_string();
    broadcast(&bin, &data, &channels, "plain", "Spring sale");
    broadcast(&bin, &data, &channels, "personal", "Hi {{name|friend}}");
}
