//! The console's Rust side: `reach serve --demo` fills an empty directory with the demo
//! audience and sends unnamed-sink broadcasts to the demo's outbox; the page's files are
//! served with their content types and ETags (304 when unchanged), every file the page
//! refers to is served, `GET /accounts` answers the caller's accounts and totals, and a
//! broadcast from CSV over HTTP previews as the command line's and keeps to the key's reach.
//! The page itself is tested in a browser by `tests/console/` (run by `.ci/run`).

use std::path::Path;

use serde_json::{Value, json};

use crate::serve::{Server, agent};

fn demo(data: &Path, contacts: &str) -> Server {
    demo_with(data, contacts, &[])
}

/// A running `reach serve --demo` of `contacts` demo contacts.
fn demo_with(data: &Path, contacts: &str, extra: &[&str]) -> Server {
    let args = [&["--demo", "--demo-contacts", contacts][..], extra].concat();
    crate::serve::start(data, &args)
}

/// (status, content type, ETag, body) of `GET path`, sending `If-None-Match` when given.
fn get(base: &str, path: &str, tag: Option<&str>) -> (u16, String, String, String) {
    let mut request = agent().get(format!("{base}{path}"));
    if let Some(tag) = tag {
        request = request.header("if-none-match", tag);
    }
    let response = request.call().expect("the server answers");
    let header = |name: &str| {
        (response.headers().get(name))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (kind, etag) = (header("content-type"), header("etag"));
    let status = response.status().as_u16();
    let body = response.into_body().read_to_string().unwrap_or_default();
    (status, kind, etag, body)
}

fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    post_as(base, path, None, body)
}

fn post_as(base: &str, path: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = agent().post(format!("{base}{path}"));
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send_json(body).expect("the server answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn the_page_is_served_with_types_and_etags_and_refers_only_to_served_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = demo(&dir.path().join("d"), "400");
    let (status, kind, tag, html) = get(&server.base, "/", None);
    assert_eq!(status, 200);
    assert_eq!(kind, "text/html; charset=utf-8");
    assert!(tag.starts_with('"') && tag.len() > 2, "{tag}");
    assert!(html.contains("/console/app.js"), "{html}");
    let (status, _, again, body) = get(&server.base, "/", Some(&tag));
    assert_eq!(
        (status, again.as_str(), body.as_str()),
        (304, tag.as_str(), "")
    );
    let (status, ..) = get(&server.base, "/", Some("\"other\""));
    assert_eq!(status, 200);

    // Every file named by the page (`/console/X` in HTML, `./X` imports in modules) is
    // served, with the type its extension calls for and its own tag.
    let mut pending = vec![html];
    let mut seen = std::collections::BTreeMap::new();
    while let Some(text) = pending.pop() {
        for name in referenced(&text) {
            if seen.contains_key(&name) {
                continue;
            }
            let (status, kind, tag, body) = get(&server.base, &format!("/console/{name}"), None);
            assert_eq!(status, 200, "/console/{name}");
            let want = match name.rsplit('.').next() {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                other => panic!("unexpected file type {other:?}"),
            };
            assert_eq!(kind, want, "{name}");
            assert!(!body.is_empty(), "{name} is empty");
            seen.insert(name, tag);
            pending.push(body);
        }
    }
    for module in ["app.js", "api.js", "panel.js", "i18n.js", "style.css"] {
        assert!(
            seen.contains_key(module),
            "{module} is not referenced: {seen:?}"
        );
    }
    let tags: std::collections::BTreeSet<_> = seen.values().collect();
    assert_eq!(tags.len(), seen.len(), "each file has its own ETag");

    let (status, kind, _, body) = get(&server.base, "/console/secret.txt", None);
    assert_eq!(status, 404);
    assert!(kind.starts_with("application/json"), "{kind}");
    assert!(
        body.contains("the console has no file secret.txt"),
        "{body}"
    );
}

/// The files a page or module names: `/console/NAME` and `from './NAME'` / `import('./NAME')`.
fn referenced(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    for marker in ["/console/", "'./"] {
        for piece in text.split(marker).skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
                .collect();
            if name.contains('.') {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn demo_fills_an_empty_directory_once_and_broadcasts_go_to_its_outbox() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let server = demo(&data, "400");
    let (status, answer) = post(&server.base, "/count", &json!({"segment": ""}));
    assert_eq!((status, &answer["count"]), (200, &json!(400)), "{answer}");

    // /accounts: every account, total = subscribed + unsubscribed, summing to the store.
    let (status, _, _, text) = get(&server.base, "/accounts", None);
    assert_eq!(status, 200, "{text}");
    let answer: Value = serde_json::from_str(&text).expect("JSON");
    let accounts = answer["accounts"].as_array().expect("accounts");
    assert!(accounts.len() > 3, "{answer}");
    let mut sum = 0;
    for a in accounts {
        let (total, sub, unsub) = (&a["total"], &a["subscribed"], &a["unsubscribed"]);
        let total = total.as_u64().expect("total");
        assert_eq!(
            total,
            sub.as_u64().unwrap() + unsub.as_u64().unwrap(),
            "{a}"
        );
        let segment = format!(
            "channel:{} account:{} is:subscribed",
            a["channel"].as_str().unwrap(),
            a["account"].as_str().unwrap()
        );
        let (_, count) = post(&server.base, "/count", &json!({ "segment": segment }));
        assert_eq!(&count["count"], sub, "{segment}");
        sum += total;
    }
    assert_eq!(sum, 400);
    assert_eq!(
        answer["actions"],
        json!(["read", "change", "broadcast", "keys"])
    );

    let request = json!({"segment": "channel:web is:subscribed", "kind": "broadcast", "text": "hi {{name|friend}}", "id": "demo-1"});
    let (status, job) = post(&server.base, "/broadcasts", &request);
    assert_eq!(status, 202, "{job}");
    let outbox = dir.path().join("d-outbox.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, _, _, text) = get(&server.base, "/broadcasts/demo-1", None);
        let job: Value = serde_json::from_str(&text).expect("JSON");
        if job["state"] == "done" {
            let sent = job["sent"].as_u64().expect("sent");
            let lines = std::fs::read_to_string(&outbox).expect("the demo outbox");
            assert!(sent > 0);
            assert_eq!(lines.lines().count() as u64, sent, "{lines}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not complete: {job}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(server);

    // A second start keeps the audience as it is (no second demo on top).
    let server = demo(&data, "50");
    let (_, answer) = post(&server.base, "/count", &json!({"segment": ""}));
    assert_eq!(answer["count"], json!(400));
}

#[test]
fn a_broadcast_from_csv_over_http_previews_as_the_command_line_and_keeps_to_the_keys_reach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let server = demo_with(&data, "400", &["--master-key", "m"]);
    let master = Some("m");
    let list = |segment: &str| {
        let (_, answer) = post_as(
            &server.base,
            "/list",
            master,
            &json!({"segment": segment, "limit": 3}),
        );
        answer["contacts"].as_array().expect("contacts").clone()
    };
    let row = |c: &Value| {
        format!(
            "{},{},{},X",
            c["channel"].as_str().unwrap(),
            c["account"].as_str().unwrap(),
            c["external_id"].as_str().unwrap()
        )
    };
    let line: Vec<String> = list("account:line-tw").iter().map(row).collect();
    let facebook: Vec<String> = list("channel:facebook").iter().map(row).collect();
    let csv = format!(
        "channel,account,external_id,coupon\n{}\nline,line-tw,nobody-here,Y\n",
        line.join("\n")
    );
    let file = dir.path().join("audience.csv");
    std::fs::write(&file, &csv).expect("write");
    let text = "Hi {{name|friend}}: {{coupon}}";

    let ask = json!({"csv": csv, "kind": "broadcast", "text": text, "dry_run": true});
    let (status, preview) = post_as(&server.base, "/broadcasts", master, &ask);
    assert_eq!(status, 200, "{preview}");
    let cli = crate::reach()
        .arg("--data")
        .arg(&data)
        .args(["broadcast", "--csv"])
        .arg(&file)
        .args([
            "--kind",
            "broadcast",
            "--text",
            text,
            "--sink",
            "dry-run",
            "--dry-run",
            "--json",
        ])
        .output()
        .expect("reach broadcast");
    let cli: Value = serde_json::from_slice(&cli.stdout).expect("a JSON report");
    for figure in ["audience", "eligible", "excluded"] {
        assert_eq!(preview[figure], cli[figure], "{figure}");
    }
    assert_eq!(preview["excluded"]["unknown"], json!(1));

    // Both a segment and a CSV: which audience is meant is unclear.
    let both = json!({"segment": "tag:vip", "csv": csv, "kind": "broadcast", "text": "hi", "dry_run": true});
    let (status, answer) = post_as(&server.base, "/broadcasts", master, &both);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("a segment or a csv"),
        "{answer}"
    );

    // A key confined to line-tw: its own contacts preview; a CSV naming others is refused.
    let (_, key) = post_as(
        &server.base,
        "/keys",
        master,
        &json!({"actions": ["read", "broadcast"], "accounts": ["line-tw"]}),
    );
    let key = key["key"].as_str().expect("a key").to_string();
    let (status, mine) = post_as(&server.base, "/broadcasts", Some(&key), &ask);
    assert_eq!(
        (status, &mine["audience"]),
        (200, &preview["audience"]),
        "{mine}"
    );
    let other = format!(
        "channel,account,external_id\n{}\n",
        facebook[0].trim_end_matches(",X")
    );
    let refused = json!({"csv": other, "kind": "broadcast", "text": "hi", "dry_run": true});
    let (status, answer) = post_as(&server.base, "/broadcasts", Some(&key), &refused);
    assert_eq!(status, 403, "{answer}");
}
