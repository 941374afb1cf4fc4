//! The channel adapters against servers on 127.0.0.1 started here: a LINE Messaging API
//! stand-in (multicast, retry keys, 409 for a repeated key, faults, quota endpoints), a
//! WhatsApp Cloud API stand-in, a Messenger stand-in, and a real SMTP server. Every
//! request a stand-in receives is checked, headers included, against the platform's
//! OpenAPI description by a real validator (`tools.rs`); every email is read by a real
//! mail parser.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tools::{self, Recorded};
use super::{json, loaded, reach, run_at};
use crate::Rng;

/// What a stand-in server saw: each accepted request's body and when, every request
/// whole, and any problem.
#[derive(Default)]
struct Seen {
    accepted: Vec<(Instant, Value)>,
    requests: Vec<Recorded>,
    /// Retry keys already accepted (LINE answers 409 to a repeated one).
    keys: BTreeMap<String, usize>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn header(request: &tiny_http::Request, name: &'static str) -> Option<String> {
    (request.headers().iter())
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.to_string())
}

fn respond(request: tiny_http::Request, status: u16, body: &str) {
    let response = tiny_http::Response::from_string(body).with_status_code(status);
    let _ = request.respond(response);
}

/// A LINE Messaging API stand-in (multicast and push); `faults` in percent of first
/// attempts.
fn line_server(token: &'static str, faults: u64) -> (String, Shared) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    let seen: Shared = Arc::default();
    let kept = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut rng = Rng(7);
        for mut request in server.incoming_requests() {
            let recorded = Recorded::of(&mut request);
            let mut seen = kept.lock().expect("lock");
            seen.requests.push(recorded.clone());
            if header(&request, "Authorization").as_deref() != Some(&format!("Bearer {token}")) {
                seen.problems
                    .push("a request without the channel token".into());
                respond(request, 401, "{\"message\":\"Authentication failed\"}");
                continue;
            }
            match request.url() {
                "/v2/bot/message/quota" => {
                    respond(request, 200, "{\"type\":\"limited\",\"value\":1000}")
                }
                "/v2/bot/message/quota/consumption" => {
                    respond(request, 200, "{\"totalUsage\":123}")
                }
                "/v2/bot/message/multicast" | "/v2/bot/message/push" => {
                    let value = recorded.json();
                    let key = header(&request, "X-Line-Retry-Key").unwrap_or_default();
                    if uuid::Uuid::parse_str(&key).is_err() {
                        seen.problems
                            .push(format!("a retry key that is not a UUID: {key:?}"));
                    }
                    if seen.keys.contains_key(&key) {
                        respond(
                            request,
                            409,
                            "{\"message\":\"The retry key is already accepted\"}",
                        );
                        continue;
                    }
                    let roll = rng.below(100);
                    if roll < faults / 2 {
                        respond(request, 429, "{\"message\":\"Too many requests\"}");
                        continue;
                    }
                    let index = seen.accepted.len();
                    seen.keys.insert(key, index);
                    seen.accepted.push((Instant::now(), value));
                    // Accepted, and now and then the answer is lost.
                    let status = if roll < faults { 500 } else { 200 };
                    respond(request, status, "{}");
                }
                other => {
                    seen.problems.push(format!("an unexpected path {other}"));
                    respond(request, 404, "{}");
                }
            }
        }
    });
    (base, seen)
}

fn channels_file(dir: &Path, text: &str) -> String {
    let path = dir.join("channels.toml");
    std::fs::write(&path, text).expect("channels");
    path.display().to_string()
}

fn line_channels(base: &str) -> String {
    ["line-tw", "line-hk", "line-jp"]
        .iter()
        .map(|a| format!("[line.\"{a}\"]\ntoken = \"T0KEN\"\nbase_url = \"{base}\"\n"))
        .collect()
}

fn count(data: &Path, segment: &str) -> u64 {
    let out = reach()
        .arg("--data")
        .arg(data)
        .args(["count", segment])
        .output()
        .expect("runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn line_multicasts_are_valid_keyed_and_delivered_once_through_faults() {
    let Some(python) = tools::python() else {
        return;
    };
    let dir = loaded(3_000);
    let data = dir.path().join("d");
    let (base, seen) = line_server("T0KEN", 30);
    let channels = channels_file(dir.path(), &line_channels(&base));
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args([
            "broadcast",
            "channel:line",
            "--kind",
            "broadcast",
            "--text",
            "Spring sale for {{name|you}}",
        ])
        .args([
            "--sink",
            "platform",
            "--channels",
            &channels,
            "--id",
            "line-1",
            "--yes",
            "--json",
        ])
        .env("REACH_RETRY_BACKOFF_MS", "1")
        .output()
        .expect("runs");
    let report = json(&out);
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    let seen = seen.lock().expect("lock");
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);
    let spec = tools::reference("line-messaging-api.yml");
    let invalid = tools::all_violations(&python, &spec, &seen.requests);
    assert!(invalid.is_empty(), "{invalid:?}");
    let mut delivered: BTreeMap<String, String> = BTreeMap::new();
    for (_, body) in &seen.accepted {
        let text = body["messages"][0]["text"]
            .as_str()
            .expect("a text message")
            .to_string();
        let to = match &body["to"] {
            Value::String(one) => vec![Value::String(one.clone())],
            many => many.as_array().expect("to").clone(),
        };
        for id in &to {
            let id = id.as_str().expect("an id").to_string();
            assert!(
                delivered.insert(id.clone(), text.clone()).is_none(),
                "{id} got the message twice"
            );
        }
    }
    assert_eq!(
        delivered.len() as u64,
        report["sent"].as_u64().expect("sent")
    );
    // Recipients of one text go together: a multicast names two or more, a push one;
    // a text takes at most one request per 500 of its recipients on each of the three
    // accounts.
    let mut per_text: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for request in &seen.requests {
        let body = request.json();
        match request.path.as_str() {
            "/v2/bot/message/push" => assert!(body["to"].is_string(), "{body}"),
            "/v2/bot/message/multicast" => {
                assert!(
                    body["to"].as_array().is_some_and(|to| to.len() >= 2),
                    "{body}"
                )
            }
            _ => continue,
        }
    }
    for (_, body) in &seen.accepted {
        let text = body["messages"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let n = body["to"].as_array().map_or(1, Vec::len);
        let entry = per_text.entry(text).or_default();
        *entry = (entry.0 + 1, entry.1 + n);
    }
    for (text, (requests, recipients)) in &per_text {
        assert!(
            *requests <= 3 * recipients.div_ceil(500),
            "{text}: {requests} requests for {recipients}"
        );
    }
    assert!(
        per_text.values().any(|(_, n)| *n > 1),
        "some text is shared"
    );
    // Personalised: each user's own text; the same text in one multicast for many.
    let engine = reach::Engine::open_read_only(&data).expect("opens");
    let view = engine.read();
    for (id, text) in delivered.iter().take(200) {
        let row = ["line-tw", "line-hk", "line-jp"]
            .iter()
            .find_map(|a| view.store().find(reach::model::Channel::Line, a, id))
            .expect("known");
        let name = view.store().name_of(row).trim();
        let name = if name.is_empty() { "you" } else { name };
        assert_eq!(text, &format!("Spring sale for {name}"));
    }
    drop(view);
    drop(engine);
    let used = String::from_utf8_lossy(
        &reach()
            .arg("--data")
            .arg(&data)
            .arg("quota")
            .output()
            .expect("runs")
            .stdout,
    )
    .to_string();
    let sent_tw = delivered
        .keys()
        .filter(|id| count(&data, &format!("account:line-tw id:{id}")) == 1)
        .count();
    assert!(
        used.contains(&format!("{sent_tw}/0")),
        "the quota's used counts what was sent: {used}"
    );
}

#[test]
fn line_quota_is_read_from_the_quota_endpoints() {
    let dir = loaded(500);
    let data = dir.path().join("d");
    let (base, _) = line_server("T0KEN", 0);
    let channels = channels_file(dir.path(), &line_channels(&base));
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["quota", "--sync", "--channels", &channels])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    for account in ["line-tw", "line-hk", "line-jp"] {
        let line = table
            .lines()
            .find(|l| l.starts_with(account))
            .expect("a row");
        assert!(line.contains("123/1000"), "{line}");
    }
}

#[test]
fn line_requests_hold_the_configured_rate() {
    let dir = loaded(3_000);
    let data = dir.path().join("d");
    let (base, seen) = line_server("T0KEN", 0);
    let channels = channels_file(dir.path(), &line_channels(&base));
    // Personal texts: one multicast per recipient of line-jp, paced at 25 a second.
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args([
            "broadcast",
            "channel:line account:line-jp",
            "--kind",
            "bot",
            "--text",
            "{{external_id}}",
        ])
        .args([
            "--sink",
            "platform",
            "--channels",
            &channels,
            "--rate",
            "25",
            "--yes",
            "--json",
        ])
        .output()
        .expect("runs");
    assert_eq!(json(&out)["state"], "done");
    let seen = seen.lock().expect("lock");
    let times: Vec<Instant> = seen.accepted.iter().map(|(t, _)| *t).collect();
    assert!(times.len() > 50, "{} requests", times.len());
    let span = times[times.len() - 1]
        .duration_since(times[0])
        .as_secs_f64();
    let rate = (times.len() - 1) as f64 / span;
    assert!(
        (rate - 25.0).abs() <= 25.0 * 0.05,
        "{rate:.2} requests/s against 25"
    );
}

/// A WhatsApp Cloud API stand-in; each request takes `delay`.
fn whatsapp_server(delay: Duration) -> (String, Shared) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    let seen: Shared = Arc::default();
    let kept = Arc::clone(&seen);
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            std::thread::sleep(delay);
            let recorded = Recorded::of(&mut request);
            let value = recorded.json();
            let mut seen = kept.lock().expect("lock");
            seen.requests.push(recorded);
            if request.url() != "/v23.0/106540352242922/messages" {
                seen.problems
                    .push(format!("an unexpected path {}", request.url()));
            }
            if header(&request, "Authorization").as_deref() != Some("Bearer WA") {
                seen.problems.push("no token".into());
            }
            seen.accepted.push((Instant::now(), value));
            respond(
                request,
                200,
                "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.X\"}]}",
            );
        }
    });
    (base, seen)
}

fn whatsapp_channels(base: &str) -> String {
    ["+886223456789", "+85230001234"]
        .iter()
        .map(|a| format!("[whatsapp.\"{a}\"]\ntoken = \"WA\"\nphone_number_id = \"106540352242922\"\ntemplate = \"spring_sale\"\nlanguage = \"zh_TW\"\nbase_url = \"{base}\"\n"))
        .collect()
}

#[test]
fn whatsapp_template_messages_are_valid_and_fill_the_body_parameters() {
    let Some(python) = tools::python() else {
        return;
    };
    let dir = loaded(800);
    let data = dir.path().join("d");
    let (base, seen) = whatsapp_server(Duration::ZERO);
    let channels = channels_file(dir.path(), &whatsapp_channels(&base));
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args([
            "broadcast",
            "channel:whatsapp",
            "--kind",
            "welcome",
            "--text",
            "Hi {{name|friend}}, see {{store|our shops}}",
        ])
        .args([
            "--sink",
            "platform",
            "--channels",
            &channels,
            "--yes",
            "--json",
        ])
        .output()
        .expect("runs");
    let report = json(&out);
    assert_eq!(report["state"], "done", "{report}");
    let seen = seen.lock().expect("lock");
    assert!(
        seen.problems.is_empty(),
        "{:?}",
        &seen.problems[..seen.problems.len().min(3)]
    );
    let spec = tools::reference("whatsapp-business-messaging-api.yaml");
    let invalid = tools::all_violations(&python, &spec, &seen.requests);
    assert!(invalid.is_empty(), "{:?}", &invalid[..invalid.len().min(3)]);
    assert_eq!(
        seen.accepted.len() as u64,
        report["sent"].as_u64().expect("sent")
    );
    for (_, message) in &seen.accepted {
        assert_eq!(message["type"], "template");
        assert_eq!(message["template"]["name"], "spring_sale");
        assert_eq!(message["template"]["language"]["code"], "zh_TW");
        let parameters = message["template"]["components"][0]["parameters"]
            .as_array()
            .expect("parameters");
        assert_eq!(parameters.len(), 2);
        assert!(!message["to"].as_str().expect("to").starts_with('+'));
    }
}

#[test]
fn a_whatsapp_batch_in_flight_at_a_kill_is_uncertain_and_resent_only_when_asked() {
    let dir = loaded(1_500);
    let data = dir.path().join("d");
    let (base, seen) = whatsapp_server(Duration::from_millis(15));
    let channels = channels_file(dir.path(), &whatsapp_channels(&base));
    let run = |args: &[&str]| run_at(&data, args);
    let start = [
        "broadcast",
        "channel:whatsapp",
        "--kind",
        "welcome",
        "--text",
        "Hi",
        "--sink",
        "platform",
        "--channels",
        &channels,
        "--id",
        "wa-1",
        "--yes",
        "--json",
    ];
    killed_after(&data, &start, Duration::from_millis(1_200));
    let before = seen.lock().expect("lock").accepted.len();
    assert!(before > 0, "some messages went out before the kill");
    let shown = json(&run(&["broadcast", "show", "wa-1", "--json"]));
    assert_eq!(shown["state"], "sending");
    assert_eq!(shown["uncertain"], 0);
    assert_eq!(shown["uncertain_recipients"], serde_json::json!([]));
    let in_flight = shown["in_flight_recipients"]
        .as_array()
        .expect("a list")
        .len();
    assert!(in_flight > 0, "the batch in flight is listed: {shown}");
    let resumed = json(&run(&["broadcast", "resume", "wa-1", "--json"]));
    assert_eq!(resumed["state"], "done", "{resumed}");
    assert_eq!(resumed["uncertain"], in_flight as u64);
    let eligible = resumed["eligible"].as_u64().expect("eligible");
    assert_eq!(
        resumed["sent"].as_u64().expect("sent") + in_flight as u64,
        eligible
    );
    // Nobody outside the uncertain batch got the message twice, and the uncertain ones
    // were not sent again.
    let seen = seen.lock().expect("lock");
    let mut per: BTreeMap<String, u32> = BTreeMap::new();
    for (_, m) in &seen.accepted {
        *per.entry(m["to"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
    }
    assert!(per.values().all(|&n| n == 1), "nobody twice");
    assert!((per.len() as u64) < eligible + 1);
    drop(seen);
    // Asked to, a resume sends the uncertain batch again.
    let start = [
        "broadcast",
        "channel:whatsapp",
        "--kind",
        "welcome",
        "--text",
        "Hi",
        "--sink",
        "platform",
        "--channels",
        &channels,
        "--id",
        "wa-2",
        "--yes",
        "--json",
    ];
    killed_after(&data, &start, Duration::from_millis(1_200));
    let resent = json(&run(&[
        "broadcast",
        "resume",
        "wa-2",
        "--resend-uncertain",
        "--json",
    ]));
    assert_eq!(resent["state"], "done", "{resent}");
    assert_eq!(resent["uncertain"], 0);
    assert_eq!(resent["sent"], resent["eligible"]);
}

/// Runs `reach --data DATA ARGS…` and kills it after `after`.
fn killed_after(data: &Path, args: &[&str], after: Duration) {
    let mut child = reach()
        .arg("--data")
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    std::thread::sleep(after);
    let _ = child.kill();
    let _ = child.wait();
}

/// Requests a server kept, whole.
type Requests = Arc<Mutex<Vec<Recorded>>>;

/// A server that accepts every POST and keeps it.
fn recording_server() -> (String, Requests) {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    let kept: Requests = Arc::default();
    let seen = Arc::clone(&kept);
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let recorded = Recorded::of(&mut request);
            seen.lock().expect("lock").push(recorded);
            respond(
                request,
                200,
                "{\"recipient_id\":\"1\",\"message_id\":\"m\"}",
            );
        }
    });
    (base, kept)
}

/// Facebook and Instagram contacts of `data` in the window: those with `in_window` in
/// their id's last digit get a customer interaction an hour before the broadcast.
fn interactions(data: &Path, channel: &str, in_window: &[char]) {
    let engine = reach::Engine::open_read_only(data).expect("opens");
    let view = engine.read();
    let segment = view
        .compile(&format!("channel:{channel}"), super::NOW)
        .expect("a segment");
    let contacts = view.store().contacts(&view.rows(&segment));
    drop(view);
    drop(engine);
    let lines: String = (contacts.iter())
        .filter(|c| c.external_id.ends_with(in_window))
        .map(|c| {
            format!(
                "{}\n",
                serde_json::json!({"op": "event", "type": "customer_interaction",
            "contact": {"channel": channel, "account": c.account, "external_id": c.external_id},
            "at": "2025-06-01T03:00:00Z"})
            )
        })
        .collect();
    let file = data.with_file_name(format!("{channel}-events.jsonl"));
    std::fs::write(&file, lines).expect("events");
    let out = run_at(data, &["apply", &file.display().to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn graph_channels(base: &str) -> String {
    [
        ("facebook", "fb-shop-tw"),
        ("facebook", "@brand-hk"),
        ("instagram", "@brand.tw"),
    ]
    .iter()
    .map(|(c, a)| format!("[{c}.\"{a}\"]\ntoken = \"PAGE\"\nbase_url = \"{base}\"\n"))
    .collect()
}

/// Sends `kind` to `segment` through the Messenger stand-in; the report and the requests.
fn through_messenger(
    data: &Path,
    segment: &str,
    kind: &str,
    extra: &[&str],
) -> (Value, Vec<Recorded>) {
    let (base, seen) = recording_server();
    let channels = channels_file(data.parent().expect("parent"), &graph_channels(&base));
    let args = [
        "broadcast",
        segment,
        "--kind",
        kind,
        "--text",
        "Hello {{name|friend}}",
    ];
    let out = reach()
        .arg("--data")
        .arg(data)
        .args(args)
        .args([
            "--sink",
            "platform",
            "--channels",
            &channels,
            "--yes",
            "--json",
        ])
        .args(extra)
        .output()
        .expect("runs");
    let report = json(&out);
    assert_eq!(report["state"], "done", "{report}");
    let requests = seen.lock().expect("lock").clone();
    assert_eq!(
        requests.len() as u64,
        report["sent"].as_u64().expect("sent")
    );
    (report, requests)
}

/// Which Meta rule each Messenger request follows (docs/platforms.md): a Facebook
/// marketing message is a recurring notification to the contact's token; a reply in the
/// window, a welcome or a bot message is RESPONSE to the contact's id; Instagram marketing
/// reaches only contacts in the window, as UPDATE; no request carries a message tag. Every
/// request is valid against the Send API description.
#[test]
fn messenger_requests_follow_metas_rules_and_the_send_api() {
    let Some(python) = tools::python() else {
        return;
    };
    let dir = loaded(1_200);
    let data = dir.path().join("d");
    interactions(&data, "instagram", &['1', '2', '3']);
    interactions(&data, "facebook", &['4', '5']);
    let spec = tools::messenger();
    let tokens = tokens(&data);
    let (report, sent) = through_messenger(&data, "channel:facebook", "broadcast", &[]);
    assert!(report["sent"].as_u64().expect("sent") > 0, "{report}");
    for r in &sent {
        let body = r.json();
        let token = body["recipient"]["notification_messages_token"]
            .as_str()
            .expect("a token");
        assert!(tokens.contains(token), "{token}");
        assert!(
            body.get("tag").is_none() && body.get("messaging_type").is_none(),
            "{body}"
        );
    }
    let (report, window) =
        through_messenger(&data, "channel:facebook", "cart", &["--reply-window"]);
    assert!(
        report["excluded"]["outside_window"].as_u64().expect("n") > 0,
        "{report}"
    );
    let (welcome, _) = through_messenger(&data, "channel:facebook", "welcome", &[]);
    assert_eq!(welcome["excluded"]["outside_window"], 0, "{welcome}");
    let (ig, instagram) = through_messenger(&data, "channel:instagram", "broadcast", &[]);
    assert!(
        ig["excluded"]["outside_window"].as_u64().expect("n") > 0,
        "{ig}"
    );
    assert!(ig["sent"].as_u64().expect("sent") > 0, "{ig}");
    for (requests, kind) in [(&window, "RESPONSE"), (&instagram, "UPDATE")] {
        for r in requests.iter() {
            let body = r.json();
            assert_eq!(body["messaging_type"], kind, "{body}");
            assert!(
                body["recipient"]["id"]
                    .as_str()
                    .is_some_and(|id| !id.is_empty())
            );
            assert!(
                body["message"]["text"]
                    .as_str()
                    .expect("text")
                    .starts_with("Hello ")
            );
            assert!(body.get("tag").is_none(), "{body}");
        }
    }
    let all: Vec<Recorded> = [sent, window, instagram].concat();
    let invalid = tools::all_violations(&python, &spec, &all);
    assert!(invalid.is_empty(), "{:?}", &invalid[..invalid.len().min(3)]);
}

/// Every recurring-notification token of the store.
fn tokens(data: &Path) -> std::collections::BTreeSet<String> {
    let engine = reach::Engine::open_read_only(data).expect("opens");
    let view = engine.read();
    let field = reach::model::TextField::FbNotificationToken;
    let rows = view.store().text_present(field).clone();
    rows.iter()
        .filter_map(|row| view.store().text_of(field, row).map(str::to_string))
        .collect()
}

/// Web contacts get complete messages: MIME-Version, a Message-ID derived from the job
/// and the recipient, Date, From, To, the subject (`--subject`, else the whole first
/// line), read by a real mail parser with no defect.
#[test]
fn emails_are_complete_messages_a_mail_parser_reads_without_defects() {
    let Some(python) = tools::python() else {
        return;
    };
    let dir = loaded(600);
    let data = dir.path().join("d");
    let smtp = tools::SmtpServer::start(&python);
    let channels = channels_file(
        dir.path(),
        &format!(
            "[smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"shop@example.com\"\n",
            smtp.port
        ),
    );
    let first = format!(
        "Dear {{{{name|customer}}}},{}",
        " our spring sale starts now:".repeat(4)
    );
    let text = format!("{first}\n\n春季特賣 — see you soon");
    let send = |id: &str, subject: Option<&str>| {
        let mut args = vec![
            "broadcast",
            "channel:web",
            "--kind",
            "site_marketing",
            "--text",
            &text,
        ];
        args.extend([
            "--sink",
            "platform",
            "--channels",
            &channels,
            "--id",
            id,
            "--yes",
            "--json",
        ]);
        if let Some(subject) = subject {
            args.extend(["--subject", subject]);
        }
        let report = json(&run_at(&data, &args));
        assert_eq!(report["state"], "done", "{report}");
        report["sent"].as_u64().expect("sent")
    };
    let sent = send("mail-1", None) + send("mail-2", Some("春季特賣 Spring sale"));
    let mail = smtp.mail();
    assert_eq!(mail.len() as u64, sent);
    assert!(sent > 0);
    let mut ids = std::collections::BTreeSet::new();
    for (i, m) in mail.iter().enumerate() {
        assert_eq!(m["defects"], serde_json::json!([]), "{m}");
        for name in [
            "MIME-Version",
            "Message-ID",
            "Date",
            "From",
            "To",
            "Subject",
        ] {
            assert!(tools::mail_header(m, name).is_some(), "no {name}: {m}");
        }
        let to = m["rcpt"][0].as_str().expect("a recipient");
        assert_eq!(tools::mail_header(m, "To"), Some(to));
        assert_eq!(tools::mail_header(m, "From"), Some("shop@example.com"));
        assert!(ids.insert(tools::mail_header(m, "Message-ID").expect("id").to_string()));
        let body = m["body"].as_str().expect("a plain-text body");
        assert!(body.contains("春季特賣"), "{body}");
        let subject = tools::mail_header(m, "Subject").expect("subject");
        if (i as u64) < sent / 2 {
            assert_eq!(
                subject,
                body.lines().next().expect("a line"),
                "the whole first line"
            );
            assert!(subject.chars().count() > 100);
        } else {
            assert_eq!(subject, "春季特賣 Spring sale");
        }
    }
}

/// The validator is real: it refuses what the platforms refuse, headers included.
#[test]
fn the_validator_refuses_invalid_requests() {
    let Some(python) = tools::python() else {
        return;
    };
    let request = |path: &str, headers: &[(&str, &str)], body: Value| Recorded {
        method: "POST".into(),
        path: path.into(),
        query: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        body: body.to_string(),
    };
    let json_auth = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer T"),
    ];
    let charset = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Authorization", "Bearer T"),
    ];
    let no_auth = [("Content-Type", "application/json")];
    let template = serde_json::json!({"messaging_product": "whatsapp", "recipient_type": "individual",
        "to": "886912345678", "type": "template",
        "template": {"name": "t", "language": {"policy": "deterministic", "code": "en_US"}}});
    let mut no_policy = template.clone();
    no_policy["template"]["language"] = serde_json::json!({"code": "en_US"});
    let wa = "/v23.0/106540352242922/messages";
    let wa_requests = [
        request(wa, &json_auth, template.clone()),
        request(wa, &charset, template.clone()),
        request(wa, &no_auth, template),
        request(wa, &json_auth, no_policy),
    ];
    let answers = tools::violations(
        &python,
        &tools::reference("whatsapp-business-messaging-api.yaml"),
        &wa_requests,
    );
    assert!(answers[0].is_empty(), "{:?}", answers[0]);
    assert!(answers[1..].iter().all(|a| !a.is_empty()), "{answers:?}");
    let multicast = serde_json::json!({"to": ["U1"], "messages": [{"type": "text", "text": "hi"}]});
    let line = "/v2/bot/message/multicast";
    let keyed = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer T"),
        ("X-Line-Retry-Key", "123e4567-e89b-12d3-a456-426614174000"),
    ];
    let bad_key = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer T"),
        ("X-Line-Retry-Key", "not-a-uuid"),
    ];
    let too_many: Vec<String> = (0..501).map(|i| format!("U{i}")).collect();
    let line_requests = [
        request(line, &keyed, multicast.clone()),
        request(line, &no_auth, multicast),
        request(
            line,
            &keyed,
            serde_json::json!({"to": too_many, "messages": [{"type": "text", "text": "hi"}]}),
        ),
        request(line, &keyed, serde_json::json!({"to": ["U1"]})),
        request(
            line,
            &bad_key,
            serde_json::json!({"to": ["U1"], "messages": [{"type": "text", "text": "hi"}]}),
        ),
    ];
    let answers = tools::violations(
        &python,
        &tools::reference("line-messaging-api.yml"),
        &line_requests,
    );
    assert!(answers[0].is_empty(), "{:?}", answers[0]);
    assert!(answers[1..].iter().all(|a| !a.is_empty()), "{answers:?}");
    let me = "/v23.0/me/messages";
    let tagged = serde_json::json!({"recipient": {"id": "1"}, "messaging_type": "MESSAGE_TAG", "tag": "ACCOUNT_UPDATE", "message": {"text": "sale"}});
    let messenger_requests = [
        request(
            me,
            &json_auth,
            serde_json::json!({"recipient": {"notification_messages_token": "t"}, "message": {"text": "sale"}}),
        ),
        request(me, &json_auth, tagged),
        request(
            me,
            &charset,
            serde_json::json!({"recipient": {"id": "1"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}),
        ),
        request(
            me,
            &json_auth,
            serde_json::json!({"recipient": {"id": "1"}, "message": {"text": "hi"}}),
        ),
    ];
    let answers = tools::violations(&python, &tools::messenger(), &messenger_requests);
    assert!(answers[0].is_empty(), "{:?}", answers[0]);
    assert!(answers[1..].iter().all(|a| !a.is_empty()), "{answers:?}");
}

#[test]
fn webhook_batches_carry_their_key_in_the_header_and_the_body() {
    let dir = loaded(1_500);
    let data = dir.path().join("d");
    let (base, seen) = recording_server();
    let sink = format!("webhook:{base}/hook");
    let report = json(
        &reach()
            .arg("--data")
            .arg(&data)
            .args([
                "broadcast",
                "",
                "--kind",
                "bot",
                "--text",
                "hi {{external_id}}",
                "--sink",
                &sink,
                "--id",
                "w",
                "--yes",
                "--json",
            ])
            .output()
            .expect("runs"),
    );
    let seen = seen.lock().expect("lock");
    let mut total = 0;
    for (i, r) in seen.iter().enumerate() {
        let (path, key, body) = (&r.path, r.header("Idempotency-Key").unwrap_or(""), r.json());
        assert_eq!(path, "/hook");
        assert_eq!(body["idempotency_key"], key);
        assert_eq!(
            key,
            &reach::broadcast::idempotency_key("w", body["batch"].as_u64().expect("batch") as u32)
        );
        assert_eq!(body["job"], "w");
        assert_eq!(body["kind"], "bot");
        let keys: Vec<&str> = body
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            ["job", "batch", "idempotency_key", "kind", "recipients"],
            "batch {i}"
        );
        for r in body["recipients"].as_array().expect("recipients") {
            assert_eq!(
                r["text"],
                format!("hi {}", r["external_id"].as_str().expect("id"))
            );
            total += 1;
        }
    }
    assert_eq!(total, report["sent"].as_u64().expect("sent"));
}

/// A server that answers every request with a 302 to `to`.
fn redirecting_server(to: &str) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    let location = tiny_http::Header::from_bytes("Location", to).expect("a header");
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let response = tiny_http::Response::from_string("")
                .with_status_code(302)
                .with_header(location.clone());
            let _ = request.respond(response);
        }
    });
    base
}

#[test]
fn a_redirect_is_never_followed_nor_booked_as_delivered() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let (elsewhere, seen) = recording_server();
    let sink = format!("webhook:{}/hook", redirecting_server(&elsewhere));
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["broadcast", "", "--kind", "bot", "--text", "hi"])
        .args(["--sink", &sink, "--id", "r", "--yes", "--json"])
        .output()
        .expect("runs");
    let stderr = refused_redirect(&out, &seen);
    assert!(
        stderr.contains("HTTP 302 redirects to") && stderr.contains(&elsewhere),
        "{stderr}"
    );
}

/// Asserts that a job met a redirect: it failed, booked nothing as sent, and no request
/// reached the other host; answers its stderr.
fn refused_redirect(out: &std::process::Output, seen: &Requests) -> String {
    let report = json(out);
    assert_eq!(report["state"], "failed", "{report}");
    assert_eq!(report["sent"], 0, "{report}");
    assert!(
        seen.lock().expect("lock").is_empty(),
        "the redirect was followed"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The same through LINE (the probe booked 5,569 as sent): no request, so no retry key and
/// no token, reaches the host a 302 names, and nothing is booked as sent.
#[test]
fn a_line_redirect_carries_nothing_to_the_other_host() {
    let dir = loaded(300);
    let data = dir.path().join("d");
    let (elsewhere, seen) = recording_server();
    let channels = channels_file(
        dir.path(),
        &line_channels(&redirecting_server(&format!(
            "{elsewhere}/v2/bot/message/multicast"
        ))),
    );
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["broadcast", "channel:line", "--kind", "bot", "--text", "hi"])
        .args(["--sink", "platform", "--channels", &channels])
        .args(["--id", "r", "--yes", "--json"])
        .output()
        .expect("runs");
    let stderr = refused_redirect(&out, &seen);
    assert!(stderr.contains("redirects to"), "{stderr}");
}

/// A malformed channels file is refused saying where, never echoing the token there.
#[test]
fn a_malformed_channels_file_never_shows_its_secrets() {
    let dir = loaded(50);
    let data = dir.path().join("d");
    let secret = "S3CRET-TOKEN-42";
    let shapes = [
        format!("[line.\"line-tw\"]\ntoken = \"{secret}\n"),
        format!("[line.\"line-tw\"]\ntoken = {secret}\n"),
        format!("[line.\"line-tw\"]\ntokn = \"{secret}\"\n"),
        format!("[line.\"line-tw\"]\ntoken = \"{secret}\"\ntoken = \"{secret}\"\n"),
        format!("[line.\"line-tw\"]\ntoken = [\"{secret}\"]\n"),
        format!("[line.\"line-tw\"]\ntoken = \"\"\"\n{secret}\n"),
        format!("[line.\"line-tw\"]\ntoken = 7\nbase_url = \"http://x/{secret}\" junk\n"),
    ];
    for shape in shapes {
        let channels = channels_file(dir.path(), &shape);
        let out = reach()
            .arg("--data")
            .arg(&data)
            .args(["broadcast", "channel:line", "--kind", "bot", "--text", "hi"])
            .args([
                "--sink",
                "platform",
                "--channels",
                &channels,
                "--yes",
                "--json",
            ])
            .output()
            .expect("runs");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(2), "{shape}: {all}");
        assert!(
            all.contains("is malformed") && all.contains("line "),
            "{shape}: {all}"
        );
        assert!(!all.contains(secret), "{shape}: {all}");
    }
}

/// A `base_url` that is no http(s) URL is refused before a job exists (it once retried
/// every request for 75 s and ended `done` with all failed).
#[test]
fn a_bad_base_url_is_refused_before_the_job_starts() {
    let dir = loaded(50);
    let data = dir.path().join("d");
    for (url, why) in [
        ("not a url", "is not a URL"),
        ("ftp://files.example.com", "scheme ftp://"),
    ] {
        let channels = channels_file(
            dir.path(),
            &format!("[line.\"line-tw\"]\ntoken = \"T\"\nbase_url = \"{url}\"\n"),
        );
        let started = Instant::now();
        let out = reach()
            .arg("--data")
            .arg(&data)
            .args(["broadcast", "channel:line", "--kind", "bot", "--text", "hi"])
            .args(["--sink", "platform", "--channels", &channels, "--yes"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            stderr.contains("[line.\"line-tw\"] base_url") && stderr.contains(why),
            "{url}: {stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{url}");
    }
    let jobs = run_at(&data, &["broadcast", "jobs", "--json"]);
    assert!(jobs.stdout.is_empty(), "no job was made");
}

/// A `base_url` on a closed port is refused before a job exists, naming the account and
/// the port and never the URL's password, by a send and by a dry run alike; the same
/// file with the port listening sends.
#[test]
fn a_base_url_on_a_closed_port_is_refused_before_the_job_starts() {
    let dir = loaded(50);
    let data = dir.path().join("d");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    let channels = channels_file(
        dir.path(),
        &format!(
            "[line.\"line-tw\"]\ntoken = \"T\"\nbase_url = \"http://u:PW7@127.0.0.1:{port}/x\"\n"
        ),
    );
    let send = |extra: &[&str]| {
        reach()
            .arg("--data")
            .arg(&data)
            .args(["broadcast", "channel:line account:line-tw", "--kind", "bot"])
            .args([
                "--text",
                "hi",
                "--sink",
                "platform",
                "--channels",
                &channels,
            ])
            .args(["--id", "closed", "--json"])
            .args(extra)
            .output()
            .expect("runs")
    };
    for extra in [&["--yes"][..], &["--dry-run"]] {
        let started = Instant::now();
        let out = send(extra);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {all}");
        let why = json(&out)["refused"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for part in [
            "line account line-tw",
            &format!("nothing answers at 127.0.0.1:{port}"),
            "[line.\"line-tw\"] base_url",
            "correct the URL",
        ] {
            assert!(why.contains(part), "{extra:?}: {part}: {why}");
        }
        assert!(!all.contains("PW7"), "{extra:?}: {all}");
        assert!(started.elapsed() < Duration::from_secs(10), "{extra:?}");
    }
    let jobs = run_at(&data, &["broadcast", "jobs", "--json"]);
    assert!(jobs.stdout.is_empty(), "no job was made");
    // Listening again on that port, the same broadcast is taken.
    let server = tiny_http::Server::http(format!("127.0.0.1:{port}")).expect("the port again");
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            respond(request, 200, "{}");
        }
    });
    let out = send(&["--yes"]);
    assert_eq!(
        json(&out)["state"],
        "done",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A platform answering with the request's token in its error body: the token reaches no
/// output and no file of the data directory (the report, `broadcast show`, the log, the
/// snapshot after a compaction).
#[test]
fn a_token_echoed_by_a_platform_is_never_kept_or_shown() {
    let secret = "T0KEN-SECRET-9";
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let auth = header(&request, "Authorization").unwrap_or_default();
            let token = auth.strip_prefix("Bearer ").unwrap_or_default();
            let body = format!("{{\"message\":\"no such channel for {auth} ({token})\"}}");
            respond(request, 400, &body);
        }
    });
    let dir = loaded(60);
    let data = dir.path().join("d");
    let accounts: String = ["line-tw", "line-hk", "line-jp"]
        .iter()
        .map(|a| format!("[line.\"{a}\"]\ntoken = \"{secret}\"\nbase_url = \"{base}\"\n"))
        .collect();
    let channels = channels_file(dir.path(), &accounts);
    let run = |args: &[&str]| {
        let out = reach()
            .arg("--data")
            .arg(&data)
            .args(args)
            .output()
            .expect("runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let sent = run(&[
        "broadcast",
        "channel:line",
        "--kind",
        "bot",
        "--text",
        "hi",
        "--sink",
        "platform",
        "--channels",
        &channels,
        "--id",
        "echo",
        "--yes",
        "--json",
    ]);
    assert!(
        sent.contains("no such channel for Bearer [redacted]"),
        "{sent}"
    );
    let shown = run(&["broadcast", "show", "echo", "--json"]);
    let jobs = run(&["broadcast", "jobs"]);
    for text in [&sent, &shown, &jobs] {
        assert!(!text.contains(secret), "{text}");
    }
    let files = |data: &Path| {
        (std::fs::read_dir(data).expect("dir").flatten())
            .map(|e| std::fs::read(e.path()).expect("read"))
            .collect::<Vec<_>>()
    };
    let holds = |bytes: &[u8]| bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
    assert!(
        files(&data).iter().all(|f| !holds(f)),
        "the log holds the token"
    );
    let compacted = reach()
        .arg("--data")
        .arg(&data)
        .arg("compact")
        .output()
        .expect("runs");
    assert!(compacted.status.success());
    assert!(
        files(&data).iter().all(|f| !holds(f)),
        "the snapshot holds the token"
    );
}

/// A webhook URL's password reaches no output and no file of the data directory (the job
/// keeps `user:[hidden]@`), even from an endpoint echoing the Basic credentials it was
/// sent; `resume` asks for the URL again and takes only the job's.
#[test]
fn a_webhook_password_is_never_kept_or_shown() {
    let secret = "PW-S3CRET-77";
    let server = tiny_http::Server::http("127.0.0.1:0").expect("a port");
    let base = format!("http://{}", server.server_addr());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = Arc::clone(&seen);
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let auth = header(&request, "Authorization").unwrap_or_default();
            kept.lock().expect("lock").push(auth.clone());
            respond(request, 400, &format!("{{\"error\":\"refused {auth}\"}}"));
        }
    });
    let url = base.replace("http://", &format!("http://ann:{secret}@")) + "/hook";
    let dir = loaded(60);
    let data = dir.path().join("d");
    let run = |args: &[&str]| {
        let out = run_at(&data, args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), all)
    };
    let sink = format!("webhook:{url}");
    let (code, sent) = run(&[
        "broadcast",
        "",
        "--kind",
        "bot",
        "--text",
        "hi",
        "--sink",
        &sink,
        "--id",
        "pw",
        "--yes",
        "--json",
    ]);
    assert!(sent.contains("refused Basic [redacted]"), "{code:?} {sent}");
    let auth = seen.lock().expect("lock").first().cloned().expect("called");
    let credential = auth.strip_prefix("Basic ").expect("Basic credentials");
    let (_, shown) = run(&["broadcast", "show", "pw", "--json"]);
    let (_, jobs) = run(&["broadcast", "jobs", "--json"]);
    let (code, resumed) = run(&["broadcast", "resume", "pw"]);
    assert_eq!(code, Some(2), "{resumed}");
    assert!(resumed.contains("ann:[hidden]@"), "{resumed}");
    assert!(resumed.contains("--webhook URL"), "{resumed}");
    let other = url.replace("/hook", "/other");
    let (code, wrong) = run(&["broadcast", "resume", "pw", "--webhook", &other]);
    assert_eq!(code, Some(2), "{wrong}");
    assert!(wrong.contains("not to"), "{wrong}");
    let (_, right) = run(&["broadcast", "resume", "pw", "--webhook", &url]);
    assert!(right.contains("never sends again"), "{right}");
    for text in [&sent, &shown, &jobs, &resumed, &wrong, &right] {
        assert!(
            !text.contains(secret) && !text.contains(credential),
            "{text}"
        );
    }
    let holds = |bytes: &[u8]| {
        [secret, credential]
            .iter()
            .any(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
    };
    let files_hold = || {
        (std::fs::read_dir(&data).expect("dir").flatten())
            .any(|e| holds(&std::fs::read(e.path()).expect("read")))
    };
    assert!(!files_hold(), "the log holds the password");
    assert_eq!(run(&["compact"]).0, Some(0));
    assert!(!files_hold(), "the snapshot holds the password");
}
