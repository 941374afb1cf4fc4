//! `reach serve` through a real HTTP client against a server started by the test: every
//! endpoint's answer and error shape, keys and scoped tokens, membership events, and a
//! clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A running server and its address; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .arg("--data")
        .arg(data)
        .args([
            "--now",
            "2025-06-01T04:00:00Z",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tick",
            "200ms",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach serve starts");
    let base = listening_address(&mut child);
    Server { child, base }
}

/// The address a starting server says it listens on (its stderr is drained after).
pub fn listening_address(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let base = loop {
        let line = lines.next().expect("a line").expect("text");
        if let Some(address) = line.split("listening on ").nth(1) {
            break address.trim().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    base
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// (status, JSON body) of a request.
fn call(
    server: &Server,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}{path}", server.base);
    let agent = agent();
    let auth = key.map(|k| format!("Bearer {k}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut r = agent.get(&url);
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.call()
        }
        ("DELETE", body) => {
            let mut r = agent.delete(&url).force_send_body();
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.send_json(body.unwrap_or(Value::Null))
        }
        (method, body) => {
            let mut r = match method {
                "PUT" => agent.put(&url),
                _ => agent.post(&url),
            };
            if let Some(a) = &auth {
                r = r.header("authorization", a);
            }
            r.send_json(body.unwrap_or(json!({})))
        }
    }
    .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn demo_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("c.csv");
    let made = crate::reach()
        .args(["gen", "--contacts", "3000", "-o"])
        .arg(&csv)
        .output()
        .expect("gen");
    assert!(made.status.success());
    let data = dir.path().join("d");
    let import = crate::reach()
        .arg("--data")
        .arg(&data)
        .arg("import")
        .arg(&csv)
        .output()
        .expect("import");
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    dir
}

fn cli_count(data: &Path, segment: &str) -> u64 {
    let out = crate::reach()
        .arg("--data")
        .arg(data)
        .args(["count", segment])
        .output()
        .expect("count");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn queries_answer_as_the_command_line_does_and_errors_have_one_shape() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let want = cli_count(&data, "channel:line tag:vip");
    let server = start(&data, &[]);
    let (status, body) = call(
        &server,
        "POST",
        "/count",
        None,
        Some(json!({"segment": "channel:line tag:vip"})),
    );
    assert_eq!((status, body["count"].as_u64()), (200, Some(want)));
    let (status, body) = call(
        &server,
        "POST",
        "/count",
        None,
        Some(json!({"segment": "tg:vip"})),
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"]["kind"], "segment");
    assert_eq!(body["error"]["span"], json!([0, 2]));
    assert!(
        body["error"]["help"]
            .as_str()
            .is_some_and(|h| h.contains("tag"))
    );
    let (status, body) = call(
        &server,
        "POST",
        "/count",
        None,
        Some(json!({"segmnt": "x"})),
    );
    assert_eq!((status, &body["error"]["kind"]), (400, &json!("usage")));

    // Pages in identity order, each starting after the last.
    let (_, first) = call(
        &server,
        "POST",
        "/list",
        None,
        Some(json!({"segment": "tag:vip", "limit": 3})),
    );
    let next = first["next"].clone();
    let (_, second) = call(
        &server,
        "POST",
        "/list",
        None,
        Some(json!({"segment": "tag:vip", "limit": 3, "after": next})),
    );
    let ids = |page: &Value| -> Vec<String> {
        page["contacts"]
            .as_array()
            .expect("contacts")
            .iter()
            .map(|c| format!("{}/{}/{}", c["channel"], c["account"], c["external_id"]))
            .collect()
    };
    assert_eq!(ids(&first).len(), 3);
    assert!(ids(&first).iter().all(|a| !ids(&second).contains(a)));

    let (status, _) = call(&server, "GET", "/contacts/line/nope/nope", None, None);
    assert_eq!(status, 404);
    let (status, body) = call(
        &server,
        "PUT",
        "/segments/vips",
        None,
        Some(json!({"segment": "tag:vip"})),
    );
    assert_eq!(
        (status, body["count"].as_u64()),
        (200, Some(cli_count_at(&server, "tag:vip")))
    );
    let (status, _) = call(&server, "DELETE", "/segments/nope", None, None);
    assert_eq!(status, 404);
    let (status, _) = call(&server, "GET", "/openapi.json", None, None);
    assert_eq!(status, 200);
}

fn cli_count_at(server: &Server, segment: &str) -> u64 {
    count_with(server, None, segment)
}

fn count_with(server: &Server, key: Option<&str>, segment: &str) -> u64 {
    let body = Some(json!({"segment": segment}));
    call(server, "POST", "/count", key, body).1["count"]
        .as_u64()
        .expect("count")
}

#[test]
fn keys_reach_only_their_contacts_and_tokens_only_narrow() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let server = start(&data, &["--master-key", "master-secret"]);
    let master = Some("master-secret");
    let (status, _) = call(
        &server,
        "POST",
        "/count",
        None,
        Some(json!({"segment": ""})),
    );
    assert_eq!(status, 401);
    let (status, _) = call(
        &server,
        "POST",
        "/count",
        Some("wrong"),
        Some(json!({"segment": ""})),
    );
    assert_eq!(status, 401);
    let (status, _) = call(&server, "GET", "/health", None, None);
    assert_eq!(status, 200);

    let accounts = call(
        &server,
        "POST",
        "/list",
        master,
        Some(json!({"segment": "channel:line", "limit": 1})),
    );
    let account = accounts.1["contacts"][0]["account"]
        .as_str()
        .expect("an account")
        .to_string();
    let (status, made) = call(
        &server,
        "POST",
        "/keys",
        master,
        Some(json!({"actions": ["read"], "accounts": [account]})),
    );
    assert_eq!(status, 201);
    let key = made["key"].as_str().expect("value").to_string();
    let id = made["id"].as_str().expect("id").to_string();
    let scoped = |segment: &str| {
        call(
            &server,
            "POST",
            "/count",
            Some(&key),
            Some(json!({"segment": segment})),
        )
        .1["count"]
            .as_u64()
    };
    let full = |segment: &str| count_with(&server, master, segment);
    assert_eq!(scoped(""), Some(full(&format!("account:{account}"))));
    assert_eq!(
        scoped("tag:vip"),
        Some(full(&format!("account:{account} tag:vip")))
    );
    let (status, body) = call(&server, "POST", "/changes", Some(&key), None);
    assert_eq!((status, &body["error"]["kind"]), (403, &json!("forbidden")));

    // A token signed by the key narrows it to a segment, and cannot widen it.
    let token = reach::access::token::sign(
        &key,
        &json!({"key": id, "segment": "tag:vip", "accounts": ["*"], "exp": 4_000_000_000u64}),
    );
    let (_, body) = call(
        &server,
        "POST",
        "/count",
        Some(&token),
        Some(json!({"segment": ""})),
    );
    assert_eq!(
        body["count"].as_u64(),
        Some(full(&format!("account:{account} tag:vip")))
    );
    let expired = reach::access::token::sign(&key, &json!({"key": id, "exp": 1}));
    assert_eq!(
        call(
            &server,
            "POST",
            "/count",
            Some(&expired),
            Some(json!({"segment": ""}))
        )
        .0,
        401
    );

    // Only the master key names where a broadcast goes.
    let broadcaster = json!({"actions": ["broadcast"], "accounts": ["*"]});
    let (_, sender) = call(&server, "POST", "/keys", master, Some(broadcaster));
    let sender = sender["key"].as_str().expect("value").to_string();
    let outside = dir.path().join("outbox.jsonl").display().to_string();
    let elsewhere = json!({"segment": "tag:vip", "kind": "bot", "text": "x", "sink": format!("jsonl:{outside}")});
    let (status, body) = call(
        &server,
        "POST",
        "/broadcasts",
        Some(&sender),
        Some(elsewhere),
    );
    assert_eq!((status, &body["error"]["kind"]), (403, &json!("forbidden")));
    assert!(!dir.path().join("outbox.jsonl").exists());

    let (status, _) = call(&server, "DELETE", &format!("/keys/{id}"), master, None);
    assert_eq!(status, 204);
    assert_eq!(
        call(
            &server,
            "POST",
            "/count",
            Some(&key),
            Some(json!({"segment": ""}))
        )
        .0,
        401
    );
}

#[test]
fn changes_are_acknowledged_per_line_and_membership_events_follow() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let server = start(&data, &[]);
    call(
        &server,
        "PUT",
        "/segments/gold",
        None,
        Some(json!({"segment": "tag:gold"})),
    );
    let (_, page) = call(
        &server,
        "POST",
        "/list",
        None,
        Some(json!({"segment": "-tag:gold", "limit": 1})),
    );
    let who = &page["contacts"][0];
    let identity = json!({"channel": who["channel"], "account": who["account"], "external_id": who["external_id"]});

    let events = format!("{}/membership?segments=gold", server.base);
    let stream = agent().get(&events).call().expect("a stream");
    assert_eq!(stream.status().as_u16(), 200);
    let mut reader = BufReader::new(stream.into_body().into_reader());

    let lines = format!(
        "{}\n{{\"op\":\"nope\"}}\n",
        json!({"op": "tag_add", "tags": ["gold"], "contact": identity})
    );
    let acks = agent()
        .post(format!("{}/changes", server.base))
        .send(lines.as_bytes())
        .expect("acks");
    let acks = acks.into_body().read_to_string().expect("text");
    let acks: Vec<Value> = acks
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(acks[0]["ok"], true);
    assert_eq!(acks[1]["ok"], false);

    let mut data_line = String::new();
    while !data_line.starts_with("data:") {
        data_line.clear();
        reader.read_line(&mut data_line).expect("an event");
    }
    let event: Value =
        serde_json::from_str(data_line.trim_start_matches("data:").trim()).expect("json");
    assert_eq!(event["segment"], "gold");
    assert_eq!(event["entered"], json!([identity]));
    assert_eq!(event["left"], json!([]));
}

#[test]
fn sigterm_stops_cleanly_and_keeps_every_acknowledged_change() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let mut server = start(&data, &[]);
    let (status, _) = call(
        &server,
        "POST",
        "/tags",
        None,
        Some(json!({"tags": ["kept"]})),
    );
    assert_eq!(status, 200);
    let line = json!({"op": "tag_add", "tags": ["kept"], "segment": "channel:web"});
    let acks = agent()
        .post(format!("{}/changes", server.base))
        .send(format!("{line}\n").as_bytes())
        .expect("acks");
    let ack: Value = serde_json::from_str(acks.into_body().read_to_string().expect("text").trim())
        .expect("json");
    let pid = server.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let status = server.child.wait().expect("exits");
    assert!(status.success(), "exit 0 on SIGTERM");
    assert_eq!(
        cli_count(&data, "tag:kept"),
        ack["changed"].as_u64().expect("changed")
    );
}

/// The decoded body of a chunked HTTP/1.1 answer read so far (whole chunks only).
fn dechunk(raw: &[u8]) -> Vec<u8> {
    let Some(start) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Vec::new();
    };
    let (mut rest, mut body) = (&raw[start + 4..], Vec::new());
    while let Some(end) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let Some(size) = size.filter(|s| rest.len() >= end + 2 + *s) else {
            break;
        };
        body.extend_from_slice(&rest[end + 2..end + 2 + size]);
        rest = &rest[(end + 4 + size).min(rest.len())..];
    }
    body
}

/// Streams upserts to `POST /changes` until the server is killed; the external ids of
/// the lines acknowledged as applied.
fn stream_until_killed(
    server: &mut Server,
    trial: usize,
    kill_after: std::time::Duration,
) -> Vec<String> {
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&address).expect("connects");
    let head = "POST /changes HTTP/1.1\r\nHost: reach\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
    stream.write_all(head.as_bytes()).expect("head");
    let mut reading = stream.try_clone().expect("clone");
    let reader = std::thread::spawn(move || {
        let mut raw = Vec::new();
        let _ = reading.read_to_end(&mut raw);
        raw
    });
    let writer = std::thread::spawn(move || {
        for group in 0..200 {
            let lines: String = (0..10)
                .map(|i| {
                    let id = format!("t{trial}-{}", group * 10 + i);
                    format!("{}\n", json!({"op": "upsert", "contact": {"channel": "web", "account": "kill", "external_id": id}}))
                })
                .collect();
            let chunk = format!("{:x}\r\n{lines}\r\n", lines.len());
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let _ = stream.write_all(b"0\r\n\r\n");
    });
    std::thread::sleep(kill_after);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let _ = writer.join();
    let raw = reader.join().expect("reader");
    let body = String::from_utf8_lossy(&dechunk(&raw)).into_owned();
    body.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|ack| ack["ok"] == true)
        .map(|ack| format!("t{trial}-{}", ack["line"].as_u64().expect("line") - 1))
        .collect()
}

#[test]
fn a_server_killed_during_a_change_stream_keeps_every_acknowledged_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let mut acknowledged = Vec::new();
    let mut rng = crate::Rng(29);
    for trial in 0..100 {
        let mut server = start(&data, &[]);
        let after = std::time::Duration::from_millis(5 + rng.below(60));
        acknowledged.extend(stream_until_killed(&mut server, trial, after));
    }
    assert!(acknowledged.len() > 1_000, "the trials acknowledged lines");
    let out = crate::reach()
        .arg("--data")
        .arg(&data)
        .args([
            "list",
            "account:kill",
            "--format",
            "json",
            "--limit",
            "1000000",
        ])
        .output()
        .expect("list");
    let present: std::collections::HashSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|c| c["external_id"].as_str().map(String::from))
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !present.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged lines lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}

#[test]
fn hostile_requests_get_clear_errors_and_change_nothing() {
    use std::io::Write;
    let dir = demo_dir();
    let data = dir.path().join("d");
    let server = start(&data, &["--max-body-mib", "1"]);
    let before = cli_count_at(&server, "");
    let url = |path: &str| format!("{}{path}", server.base);

    // A body over the limit, invalid UTF-8, JSON that is not an object.
    let big = vec![b'a'; 2 << 20];
    let status = |r: Result<ureq::http::Response<ureq::Body>, ureq::Error>| {
        r.expect("an answer").status().as_u16()
    };
    // (Read while the body is still being sent: the answer comes as soon as the body
    // passes the limit, before the client has sent it all.)
    let address = server.base.trim_start_matches("http://").to_string();
    let mut sending = std::net::TcpStream::connect(&address).expect("connects");
    let reading = sending.try_clone().expect("clone");
    let head = format!(
        "POST /import HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        big.len()
    );
    let body = big.clone();
    let writer = std::thread::spawn(move || {
        let _ = sending
            .write_all(head.as_bytes())
            .and_then(|()| sending.write_all(&body));
    });
    let mut answer = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&reading), &mut answer)
        .expect("status line");
    assert!(answer.contains(" 413 "), "{answer}");
    drop(reading);
    let _ = writer.join();
    let bad_utf8 = [
        b'{', b'"', b's', b'e', b'g', b'm', b'e', b'n', b't', b'"', b':', b'"', 0xff, 0xfe, b'"',
        b'}',
    ];
    let r = agent()
        .post(url("/count"))
        .header("content-type", "application/json")
        .send(&bad_utf8[..]);
    assert_eq!(status(r), 400);
    let r = agent()
        .post(url("/count"))
        .header("content-type", "application/json")
        .send("[1, 2]");
    assert_eq!(status(r), 400);
    let mut line = br#"{"op": "tag_add", "tags": [""#.to_vec();
    line.extend_from_slice(&[0xff, 0xfe]);
    line.extend_from_slice(b"\"], \"segment\": \"\"}\n");
    let acks = agent()
        .post(url("/changes"))
        .send(&line[..])
        .expect("acks")
        .into_body()
        .read_to_string()
        .expect("text");
    let ack: Value = serde_json::from_str(acks.trim()).expect("json");
    assert_eq!(ack["ok"], false);
    assert!(
        ack["error"].as_str().is_some_and(|e| e.contains("UTF-8")),
        "{ack}"
    );

    // A client that never finishes its request holds up no one else.
    let address = server.base.trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&address).expect("connects");
    slow.write_all(b"POST /count HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"seg").expect("partial");
    let started = std::time::Instant::now();
    assert_eq!(cli_count_at(&server, ""), before);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    drop(slow);

    // Nothing changed.
    let (_, tags) = call(&server, "GET", "/tags?page_size=1000", None, None);
    assert!(!tags.to_string().contains('\u{fffd}'));
    assert_eq!(cli_count_at(&server, ""), before);
}

#[test]
fn a_change_stream_has_no_total_limit_but_each_line_has_one() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let server = start(&data, &["--max-body-mib", "1"]);
    let url = |path: &str| format!("{}{path}", server.base);
    let (_, page) = call(
        &server,
        "POST",
        "/list",
        None,
        Some(json!({"segment": "-tag:streamed", "limit": 1})),
    );
    let who = &page["contacts"][0];
    let identity = json!({"channel": who["channel"], "account": who["account"], "external_id": who["external_id"]});
    let line = |tag: &str| json!({"op": "tag_add", "tags": [tag], "contact": identity}).to_string();

    // Over 1 MiB of lines, one of them longer than a line may be (16 MiB): the long one
    // is refused by its number, every other one is applied.
    let mut body = String::new();
    let n = (1 << 20) / line("streamed").len() + 100;
    for _ in 0..n {
        body.push_str(&line("streamed"));
        body.push('\n');
    }
    let long = line(&"x".repeat(17 << 20));
    body.push_str(&long);
    body.push('\n');
    body.push_str(&line("after-long"));
    body.push('\n');
    assert!(body.len() > 2 << 20);
    let acks = agent()
        .post(url("/changes"))
        .send(body.as_bytes())
        .expect("acks")
        .into_body()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
        .expect("text");
    let acks: Vec<Value> = acks
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(acks.len(), n + 2);
    assert!(acks[..n].iter().all(|a| a["ok"] == true));
    assert_eq!(acks[n]["ok"], false);
    assert!(acks[n]["error"].to_string().contains("line"), "{}", acks[n]);
    assert_eq!(acks[n + 1]["ok"], true);
    assert_eq!(cli_count_at(&server, "tag:streamed tag:after-long"), 1);
}

#[test]
fn an_import_is_read_as_csv_whatever_its_content_type() {
    let dir = demo_dir();
    let data = dir.path().join("d");
    let server = start(&data, &[]);
    let csv = agent()
        .post(format!("{}/export", server.base))
        .send_json(json!({"segment": "channel:line"}))
        .expect("export")
        .into_body()
        .read_to_string()
        .expect("csv");
    let rows = csv.lines().count() as u64 - 1;
    assert!(rows > 0);
    let summary: Value = agent()
        .post(format!("{}/import", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send(csv.as_bytes())
        .expect("import")
        .into_body()
        .read_json()
        .expect("json");
    assert_eq!(summary["created"], 0, "{summary}");
    assert_eq!(summary["unchanged"], rows, "{summary}");
}
