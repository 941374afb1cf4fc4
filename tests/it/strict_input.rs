//! Strict input on every entry point (issue 28): a bad contact is refused the same way
//! whether it arrives by `apply`, CSV import, `reach serve` or `add-whatsapp`; the time
//! range a refusal names is the one accepted; a template that would send an empty or
//! over-long text is refused before a job exists.

use serde_json::{Value, json};

use crate::{loaded_with, reach, run_at};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Contacts the probe got in through `apply` and import, each with the field refused:
/// a WhatsApp phone "abc", a WhatsApp external id "not-a-phone", a web email
/// "not-an-email", an account id holding NUL.
fn bad_contacts() -> Vec<(Value, &'static str)> {
    let wa = |id: &str, phone: &str| json!({"channel": "whatsapp", "account": "+886223456789", "external_id": id, "phone": phone});
    vec![
        (wa("+886912345678", "abc"), "phone"),
        (wa("not-a-phone", ""), "external_id"),
        (
            json!({"channel": "web", "account": "site", "external_id": "m1", "email": "not-an-email"}),
            "email",
        ),
        (
            json!({"channel": "line", "account": "line\u{0}tw", "external_id": "U1"}),
            "account",
        ),
    ]
}

/// The contact as a CSV file of one row.
fn as_csv(contact: &Value) -> String {
    let object = contact.as_object().expect("an object");
    let names: Vec<&str> = object.keys().map(String::as_str).collect();
    let cells: Vec<&str> = object.values().map(|v| v.as_str().expect("text")).collect();
    format!("{}\n{}\n", names.join(","), cells.join(","))
}

#[test]
fn a_bad_contact_is_refused_by_apply_import_serve_and_add_whatsapp() {
    let dir = loaded_with(b"channel,account,external_id\nline,line-tw,U0\n");
    let data = dir.path().join("d");
    for (contact, field) in bad_contacts() {
        let line = json!({"op": "upsert", "contact": contact}).to_string();
        let changes = dir.path().join("changes.jsonl");
        std::fs::write(&changes, format!("{line}\n")).expect("changes");
        let applied = run_at(&data, &["apply", &changes.display().to_string()]);
        let ack: Value = serde_json::from_str(text(&applied.stdout).trim()).expect("an ack");
        assert_eq!(ack["ok"], false, "apply took {line}");
        let why = ack["error"].as_str().expect("why");
        assert!(why.contains(field), "{line}: {why}");

        let csv = dir.path().join("one.csv");
        std::fs::write(&csv, as_csv(&contact)).expect("csv");
        let imported = run_at(&data, &["import", &csv.display().to_string()]);
        assert!(!imported.status.success(), "import took {line}");
        assert!(text(&imported.stderr).contains(field), "{line}");
    }
    let added = run_at(
        &data,
        &["add-whatsapp", "Ann", "abc", "--account", "+886223456789"],
    );
    assert!(!added.status.success());
    // The probe's line: a quota change whose second "op" once deleted the contact.
    let twice = r#"{"op":"quota","op":"delete","confirm":"DELETE","contact":{"channel":"line","account":"line-tw","external_id":"U0"}}"#;
    let changes = dir.path().join("twice.jsonl");
    std::fs::write(&changes, format!("{twice}\n")).expect("changes");
    let applied = run_at(&data, &["apply", &changes.display().to_string()]);
    let ack: Value = serde_json::from_str(text(&applied.stdout).trim()).expect("an ack");
    assert_eq!(ack["ok"], false, "{ack}");
    assert!(
        ack["error"]
            .as_str()
            .expect("why")
            .contains("duplicate field `op`")
    );
    // `reach serve` holds the directory: its turn comes after the commands'.
    let server = crate::serve::start(&data, &[]);
    for (contact, field) in bad_contacts() {
        let line = json!({"op": "upsert", "contact": contact}).to_string();
        let served = crate::serve::agent()
            .post(format!("{}/changes", server.base))
            .send(format!("{line}\n").as_bytes())
            .expect("acks");
        let ack = served.into_body().read_to_string().expect("text");
        let ack: Value = serde_json::from_str(ack.trim()).expect("an ack");
        assert_eq!(ack["ok"], false, "serve took {line}");
        assert!(ack["error"].as_str().expect("why").contains(field), "{ack}");
    }
    let twice = crate::serve::agent()
        .post(format!("{}/count", server.base))
        .header("Content-Type", "application/json")
        .send(r#"{"segment": "", "segment": "tag:none"}"#)
        .expect("an answer");
    assert_eq!(twice.status().as_u16(), 400);
    let why = twice.into_body().read_to_string().expect("text");
    assert!(why.contains("duplicate field `segment`"), "{why}");
    drop(server);
    assert_eq!(text(&run_at(&data, &["count", ""]).stdout).trim(), "1");
}

#[test]
fn a_time_past_the_stored_range_is_refused_naming_the_range_accepted() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    let line = |at: &str| {
        json!({"op": "upsert", "contact": {"channel": "line", "account": "a",
            "external_id": format!("U{at}"), "subscribed_at": at}})
        .to_string()
    };
    let changes = dir.path().join("changes.jsonl");
    let lines = [line("2106-02-07T06:28:14Z"), line("2106-02-07T06:28:15Z")];
    std::fs::write(&changes, lines.join("\n") + "\n").expect("changes");
    let out = run_at(&data, &["apply", &changes.display().to_string()]);
    let acks: Vec<Value> = (text(&out.stdout).lines())
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(acks[0]["ok"], true, "{acks:?}");
    assert_eq!(acks[1]["ok"], false, "{acks:?}");
    let why = acks[1]["error"].as_str().expect("why");
    assert!(
        why.contains("1970-01-01T00:00:00Z to 2106-02-07T06:28:14Z"),
        "{why}"
    );
}

#[test]
fn empty_nested_and_over_long_texts_are_refused_before_a_job() {
    let dir = loaded_with(b"channel,account,external_id,name\nline,line-tw,U1,Ann\n");
    let data = dir.path().join("d");
    let outbox = dir.path().join("out.jsonl");
    let sink = format!("jsonl:{}", outbox.display());
    let send = |message: &str| {
        reach()
            .arg("--data")
            .arg(&data)
            .args(["broadcast", "channel:line", "--kind", "bot", "--text"])
            .arg(message)
            .args(["--sink", &sink, "--yes", "--json"])
            .output()
            .expect("runs")
    };
    let long = "a".repeat(5_001);
    for (message, why) in [
        ("", "the text is empty"),
        (" \n", "the text is empty"),
        ("Hi {{name|{{email}}}}", "holds another placeholder"),
        (long.as_str(), "LINE takes at most 5000 characters"),
    ] {
        let out = send(message);
        assert!(!out.status.success(), "{message:?} was sent");
        let said = text(&out.stderr) + &text(&out.stdout);
        assert!(said.contains(why), "{message:?}: {said}");
    }
    assert!(!outbox.exists(), "nothing was sent");
    let jobs = run_at(&data, &["broadcast", "jobs", "--json"]);
    assert_eq!(text(&jobs.stdout).trim(), "", "no job was made");
    let fits = send(&"a".repeat(5_000));
    assert!(fits.status.success(), "{}", text(&fits.stderr));
    assert_eq!(
        std::fs::read_to_string(&outbox)
            .expect("sent")
            .lines()
            .count(),
        1
    );
}

#[test]
fn a_recipient_whose_values_make_the_text_too_long_fails_unsent() {
    let csv = format!(
        "channel,account,external_id,name\nline,line-tw,U1,Ann\nline,line-tw,U2,{}\n",
        "x".repeat(6_000)
    );
    let dir = loaded_with(csv.as_bytes());
    let data = dir.path().join("d");
    let outbox = dir.path().join("out.jsonl");
    let out = reach()
        .arg("--data")
        .arg(&data)
        .args(["broadcast", "channel:line", "--kind", "bot"])
        .args(["--text", "Hi {{name}}", "--yes", "--json"])
        .arg("--sink")
        .arg(format!("jsonl:{}", outbox.display()))
        .output()
        .expect("runs");
    let report: Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("a report: {}", text(&out.stderr)));
    assert_eq!(
        (report["sent"].as_u64(), report["failed"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .contains("LINE takes at most 5000 characters"),
        "{report}"
    );
    let sent = std::fs::read_to_string(&outbox).expect("the outbox");
    assert_eq!(sent.lines().count(), 1);
    assert!(sent.contains("Hi Ann"), "{sent}");
}
