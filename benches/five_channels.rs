//! Issue 29's second target, end to end: a personalized broadcast (`Hi {{name|friend}}`)
//! to `reach gen`'s audience (1,000,000 contacts, seed 1) over its five channels, against
//! stand-ins at the platforms' published limits (`platform.rs default_rate`,
//! docs/platforms.md): one HTTP server on 127.0.0.1 speaking LINE's multicast and push,
//! WhatsApp's and Messenger's/Instagram's `messages`, answering each request after 100 ms,
//! with a token bucket per account and endpoint at its limit (a tenth of a second's
//! burst; beyond it a 429 with `Retry-After: 1`); and a real SMTP server (aiosmtpd) for
//! the web contacts. `reach broadcast ''` runs as a process with the default rates.
//!
//! At the real limits one WhatsApp number or Facebook page would take most of an hour
//! (gen gives a page 128,000 contacts, at 40 a second), so each channel's contacts are
//! dealt round-robin over `ACCOUNTS` accounts of that channel. Prints, per account and in
//! all, what the stand-ins accepted, "the time the limits allow" (per account its
//! requests to an endpoint ÷ that endpoint's limit, the largest; the job's = the slowest
//! account's), the run's time and their ratio, and the peak RSS of `reach broadcast`
//! beside that of `reach count ''` on the same directory (`/usr/bin/time -f %M`).
//!
//! `REACH_BIN` names the binary (default `target/release/reach`); `REACH_BENCH_CONTACTS`
//! the audience (default 1,000,000). The SMTP server runs in the adapter tests' Python
//! environment (`target/tmp/platform-tools-venv`, made by
//! `cargo test --test it emails_are_complete`). `cargo bench --bench five_channels`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Accounts each channel's contacts are dealt over: (channel, accounts).
const ACCOUNTS: [(&str, usize); 5] = [
    ("line", 3),
    ("whatsapp", 4),
    ("facebook", 10),
    ("instagram", 1),
    ("web", 1),
];
const LATENCY: Duration = Duration::from_millis(100);
const TEXT: &str = "Hi {{name|friend}}";
/// A run not done by then is killed.
const DEADLINE: Duration = Duration::from_secs(15 * 60);

/// The published limit of a channel's endpoint, in requests a second (docs/platforms.md).
fn limit(channel: &str, endpoint: &str) -> f64 {
    match (channel, endpoint) {
        ("line", "push") => 2_000.0,
        ("line", _) => 200.0,
        ("whatsapp", _) => 80.0,
        ("facebook", _) => 40.0,
        _ => 300.0,
    }
}

/// The name of a channel's `j`th account (a WhatsApp account is a phone number).
fn account(channel: &str, j: usize) -> String {
    match channel {
        "whatsapp" => format!("+8862200000{j:02}"),
        "web" => "shop.example.com".into(),
        _ => format!("{channel}-{j}"),
    }
}

/// What the stand-in accepted from one account at one endpoint.
struct Seen {
    requests: u64,
    recipients: u64,
    first: Instant,
    last: Instant,
}

/// The stand-in's state: a bucket and what was accepted per (token, endpoint).
#[derive(Default)]
struct Standin {
    buckets: HashMap<(String, &'static str), (f64, Instant)>,
    seen: HashMap<(String, &'static str), Seen>,
    refused: u64,
}

/// The account (its token is `channel/name`) and endpoint a request is for.
fn route(request: &tiny_http::Request) -> Option<(String, &'static str)> {
    let token = (request.headers().iter())
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().trim_start_matches("Bearer ").to_string())?;
    let endpoint = match request.url() {
        "/v2/bot/message/multicast" => "multicast",
        "/v2/bot/message/push" => "push",
        url if url.ends_with("/messages") => "messages",
        _ => return None,
    };
    Some((token, endpoint))
}

/// Takes a token of the bucket of `key`, if there is one.
fn admitted(state: &mut Standin, key: &(String, &'static str)) -> bool {
    let channel = key.0.split('/').next().unwrap_or_default();
    let rate = limit(channel, key.1);
    let burst = (rate / 10.0).max(1.0);
    let now = Instant::now();
    let bucket = state.buckets.entry(key.clone()).or_insert((burst, now));
    bucket.0 = (bucket.0 + now.duration_since(bucket.1).as_secs_f64() * rate).min(burst);
    bucket.1 = now;
    if bucket.0 >= 1.0 {
        bucket.0 -= 1.0;
        return true;
    }
    false
}

/// The answer's body a platform gives to an accepted request.
fn accepted_body(endpoint: &str, channel: &str) -> &'static str {
    match (endpoint, channel) {
        ("messages", "whatsapp") => {
            "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.X\"}]}"
        }
        ("messages", _) => "{\"recipient_id\":\"1\",\"message_id\":\"m\"}",
        _ => "{}",
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<Standin>) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let answer = route(&request).map(|key| {
        let recipients = match key.1 {
            "multicast" => (serde_json::from_str::<serde_json::Value>(&body).ok())
                .and_then(|v| v["to"].as_array().map(Vec::len))
                .unwrap_or(0) as u64,
            _ => 1,
        };
        let mut state = state.lock().expect("lock");
        if !admitted(&mut state, &key) {
            state.refused += 1;
            return (429, "{}");
        }
        let now = Instant::now();
        let seen = state.seen.entry(key.clone()).or_insert(Seen {
            requests: 0,
            recipients: 0,
            first: now,
            last: now,
        });
        (seen.requests, seen.recipients, seen.last) =
            (seen.requests + 1, seen.recipients + recipients, now);
        let channel = key.0.split('/').next().unwrap_or_default();
        (200, accepted_body(key.1, channel))
    });
    std::thread::sleep(LATENCY);
    let (status, text) = answer.unwrap_or((404, "{}"));
    let mut response = tiny_http::Response::from_string(text).with_status_code(status);
    let header = |n: &str, v: &str| tiny_http::Header::from_bytes(n, v).expect("a header");
    response.add_header(header("Content-Type", "application/json"));
    if status == 429 {
        response.add_header(header("Retry-After", "1"));
    }
    let _ = request.respond(response);
}

/// The HTTP stand-in: its base URL and state.
fn stand_in() -> (String, Arc<Mutex<Standin>>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a port"));
    let base = format!("http://{}", server.server_addr());
    let state = Arc::new(Mutex::new(Standin::default()));
    for _ in 0..1024 {
        let (server, state) = (Arc::clone(&server), Arc::clone(&state));
        std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                handle(request, &state);
            }
        });
    }
    (base, state)
}

/// The SMTP server: its child and port.
fn smtp(out: &Path) -> (std::process::Child, u16) {
    let python = Path::new(env!("CARGO_TARGET_TMPDIR")).join("platform-tools-venv/bin/python");
    assert!(
        python.exists(),
        "no {}: make it with `cargo test --test it emails_are_complete` (the adapter tests' tools)",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/five_channels_smtp.py");
    let mut child = (Command::new(python).arg(script).arg(out))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the SMTP server starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("its port");
    (child, line.trim().parse().expect("a port"))
}

/// `reach gen`'s audience with each channel's contacts dealt over its accounts.
fn audience(bin: &str, csv: &Path, n: usize) {
    let out = (Command::new(bin).args(["gen", "--contacts", &n.to_string(), "--seed", "1"]))
        .output()
        .expect("gen runs");
    assert!(out.status.success(), "gen failed");
    let mut file = std::io::BufWriter::new(std::fs::File::create(csv).expect("csv"));
    let mut dealt: HashMap<&str, usize> = HashMap::new();
    for line in String::from_utf8(out.stdout).expect("UTF-8").lines() {
        let mut fields = line.splitn(3, ',');
        let (channel, rest) = (fields.next().unwrap_or_default(), fields.nth(1));
        match (ACCOUNTS.iter().find(|(c, _)| *c == channel), rest) {
            (Some((c, k)), Some(rest)) => {
                let j = dealt.entry(c).or_default();
                writeln!(file, "{c},{},{rest}", account(c, *j % k)).expect("write");
                *j += 1;
            }
            _ => writeln!(file, "{line}").expect("write"),
        }
    }
}

/// The channels file: every account's token is `channel/account`.
fn channels(base: &str, smtp_port: u16) -> String {
    let mut text = String::new();
    for (channel, k) in ACCOUNTS.iter().filter(|(c, _)| *c != "web") {
        for j in 0..*k {
            let name = account(channel, j);
            text += &format!(
                "[{channel}.\"{name}\"]\ntoken = \"{channel}/{name}\"\nbase_url = \"{base}\"\n"
            );
            if *channel == "whatsapp" {
                text += &format!(
                    "phone_number_id = \"1065403522429{j:02}\"\ntemplate = \"spring_sale\"\n"
                );
            }
        }
    }
    text + &format!("[smtp]\nurl = \"smtp://127.0.0.1:{smtp_port}\"\nfrom = \"shop@example.com\"\n")
}

/// Peak RSS in MB and seconds of `reach ARGS` on `data`, its stdout.
fn measured(bin: &str, data: &Path, args: &[&str], deadline: Duration) -> (f64, f64, String) {
    let rss = data.with_file_name("rss");
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(&rss)
        .arg(bin)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("reach runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    while started.elapsed() < deadline && child.try_wait().expect("waits").is_none() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let kb: f64 = (std::fs::read_to_string(&rss).ok())
        .and_then(|t| t.lines().last()?.trim().parse().ok())
        .unwrap_or(0.0);
    (kb / 1024.0, seconds, reader.join().unwrap_or_default())
}

/// Per account: recipients accepted and the time its limits allow, printed.
fn allowed(state: &Standin, started: Instant) -> (f64, u64) {
    let mut accounts: Vec<_> = state.seen.iter().collect();
    accounts.sort_by(|a, b| a.0.cmp(b.0));
    let mut per_account: HashMap<&str, f64> = HashMap::new();
    let mut recipients = 0;
    for ((token, endpoint), seen) in accounts {
        let channel = token.split('/').next().unwrap_or_default();
        let time = seen.requests as f64 / limit(channel, endpoint);
        let at = |t: Instant| t.duration_since(started).as_secs_f64();
        println!(
            "  {token} {endpoint}: {} requests, {} recipients, allowed {time:.1} s, \
             accepted from {:.1} s to {:.1} s",
            seen.requests,
            seen.recipients,
            at(seen.first),
            at(seen.last)
        );
        let slowest = per_account.entry(token).or_default();
        *slowest = slowest.max(time);
        recipients += seen.recipients;
    }
    let bound = per_account.values().copied().fold(0.0, f64::max);
    (bound, recipients)
}

/// Emails accepted, and the seconds from `started` of the first and last.
fn mail(out: &Path, started: SystemTime) -> (u64, f64, f64) {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let origin = started
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let lines: Vec<(f64, u64)> = (text.lines())
        .filter_map(|l| {
            let (t, n) = l.split_once(' ')?;
            Some((t.parse::<f64>().ok()? - origin, n.parse().ok()?))
        })
        .collect();
    let first = lines.first().map_or(0.0, |l| l.0);
    let last = lines.last().map_or(0.0, |l| l.0);
    (lines.iter().map(|l| l.1).sum(), first, last)
}

fn main() {
    let bin = std::env::var("REACH_BIN").unwrap_or_else(|_| "target/release/reach".into());
    let n = (std::env::var("REACH_BENCH_CONTACTS").ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let scratch = tempfile::tempdir().expect("tmp");
    let (data, csv) = (scratch.path().join("d"), scratch.path().join("a.csv"));
    audience(&bin, &csv, n);
    let imported = Command::new(&bin)
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&csv)
        .output();
    assert!(imported.expect("imports").status.success(), "import failed");
    let (store, _, _) = measured(&bin, &data, &["count", ""], DEADLINE);
    let (base, state) = stand_in();
    let mail_out = scratch.path().join("mail.txt");
    let (mut server, port) = smtp(&mail_out);
    let file = scratch.path().join("channels.toml");
    std::fs::write(&file, channels(&base, port)).expect("channels");
    let (started, wall) = (Instant::now(), SystemTime::now());
    let file = file.display().to_string();
    let args = [
        "broadcast",
        "",
        "--kind",
        "bot",
        "--text",
        TEXT,
        "--sink",
        "platform",
    ];
    let args = [
        &args[..],
        &["--channels", &file, "--id", "five", "--yes", "--json"],
    ]
    .concat();
    let (peak, seconds, report) = measured(&bin, &data, &args, DEADLINE);
    let _ = server.kill();
    let _ = server.wait();
    let state = state.lock().expect("lock");
    let (bound, recipients) = allowed(&state, started);
    let (emails, first, last) = mail(&mail_out, wall);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap_or_default();
    println!(
        "  email: {emails} accepted from {first:.1} s to {last:.1} s (no published limit)\n\
         {n} contacts: reach sent {} ({} failed), the stand-ins accepted {} ({recipients} by \
         HTTP, {emails} by SMTP; {} answered 429); the limits allow {bound:.1} s, the run took \
         {seconds:.1} s: {:.3} of the allowed time. Peak RSS {peak:.0} MB, `count ''` {store:.0} \
         MB: {:+.0} MB",
        report["sent"],
        report["failed"],
        recipients + emails,
        state.refused,
        seconds / bound,
        peak - store
    );
}
