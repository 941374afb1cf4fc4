//! The command line's rough edges a marketer met on the demo (issue 27): tag counts that
//! say what changes, tag deletion that answers, WhatsApp numbers as one identity however
//! written, typed JSON, and the REPL's small manners (`q`, `help`, "1 contact", `more` at
//! the end, `\o FILE` whole, trimmed names).

use std::io::Write;
use std::process::Stdio;

use crate::{loaded_with, reach, run_at};

const CSV: &str = "channel,account,external_id,name,tags\n\
line,line-tw,U1,Ann ,vip|spring sale\n\
line,line-tw,U2,Bob,vip\n\
line,line-tw,U3,Cy,vip\n\
whatsapp,+886223456789,+886 900 000 777,Dan,\n\
whatsapp,+85230001234,+85230001111,Eve,\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn tag_edits_say_how_many_contacts_change() {
    let dir = loaded_with(CSV.as_bytes());
    let data = dir.path().join("d");
    let out = run_at(&data, &["tag", "remove", "spring sale", "tag:vip", "--yes"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Untagging 1 contact."),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("2 contacts of the segment's 3 do not hold the tag"));
    assert_eq!(text(&out.stdout).trim(), "1 contact changed");
    let unknown = run_at(&data, &["tags", "--delete", "vpi", "--confirm", "DELETE"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("no tag 'vpi' (did you mean 'vip'?)"),
        "{}",
        text(&unknown.stderr)
    );
    let deleted = run_at(&data, &["tags", "--delete", "vip", "--confirm", "DELETE"]);
    assert!(deleted.status.success());
    assert_eq!(
        text(&deleted.stdout).trim(),
        "deleted 1 tag from 3 contact tags"
    );
}

#[test]
fn a_whatsapp_number_is_one_identity_however_it_is_written() {
    let dir = loaded_with(CSV.as_bytes());
    let data = dir.path().join("d");
    let show = |id: &str| {
        let out = run_at(&data, &["show", "+886223456789", id, "--format", "json"]);
        serde_json::from_str::<serde_json::Value>(&text(&out.stdout)).ok()
    };
    let imported = show("+886900000777").expect("the imported number, normalized");
    assert_eq!(imported["phone"], "+886900000777");
    let again = run_at(
        &data,
        &[
            "add-whatsapp",
            "Someone Else",
            "+886 900-000-777",
            "--account",
            "+886223456789",
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already (named Dan)"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(show("+886900000777").expect("still there")["name"], "Dan");
    let added = run_at(
        &data,
        &[
            "add-whatsapp",
            "Fay",
            "+886 911 222 333",
            "--account",
            "+886223456789",
        ],
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert_eq!(
        show("+886911222333").expect("added")["subscribed_at"],
        "2025-06-01T04:00:00Z"
    );
    let audience = dir.path().join("aud.csv");
    std::fs::write(
        &audience,
        "channel,account,external_id\nwhatsapp,+886223456789,+886 900 000 777\n",
    )
    .expect("csv");
    let outbox = dir.path().join("o.jsonl");
    let sent = run_at(
        &data,
        &[
            "broadcast",
            "--csv",
            &audience.display().to_string(),
            "--kind",
            "bot",
            "--text",
            "hi",
            "--sink",
            &format!("jsonl:{}", outbox.display()),
            "--yes",
            "--json",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(text(&sent.stdout).trim()).expect("json");
    assert_eq!(report["excluded"]["unknown"], 0, "{report}");
    assert_eq!(report["sent"], 1, "{report}");
}

#[test]
fn json_output_keeps_text_as_text() {
    let dir = loaded_with(CSV.as_bytes());
    let out = run_at(&dir.path().join("d"), &["stats", "--format", "json"]);
    let accounts: Vec<serde_json::Value> = (text(&out.stdout).lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["account"].clone())
        .collect();
    assert!(
        accounts.contains(&serde_json::json!("+85230001234")),
        "{accounts:?}"
    );
}

/// Runs REPL lines on `data`; (stdout, stderr).
fn repl(data: &std::path::Path, lines: &str) -> (String, String) {
    let mut child = reach()
        .arg("--data")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("written");
    let out = child.wait_with_output().expect("ends");
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn the_repl_minds_its_manners() {
    let dir = loaded_with(CSV.as_bytes());
    let data = dir.path().join("d");
    let (out, err) = repl(&data, "help\naccount:line-tw id:U2\nmore\nq\ntag:vip\n");
    assert!(
        out.contains("Commands (help COMMAND for one)") && !out.contains("--data"),
        "{out}"
    );
    assert!(out.contains("\n1 contact\n"), "{out}");
    assert!(out.contains("no more: all 1 contact shown"), "{out}");
    assert!(
        !out.contains("3 contacts"),
        "q left before the last line: {out}"
    );
    assert!(!err.contains("did you mean"), "{err}");
    let file = dir.path().join("rows.txt");
    let export = dir.path().join("rows.csv");
    let lines = format!(
        "\\o {}\nlist channel:line --limit 5\n\\o {}\nexport channel:line\n\\o\nlist channel:line --format csv\n",
        file.display(),
        export.display()
    );
    let (out, _) = repl(&data, &lines);
    let listed = std::fs::read_to_string(&file).expect("the file");
    assert!(
        listed
            .lines()
            .next()
            .is_some_and(|h| h.contains("channel") && h.contains("account")),
        "{listed}"
    );
    let exported = std::fs::read_to_string(&export).expect("the export");
    assert_eq!(exported.lines().count(), 4, "{exported}");
    assert!(
        out.contains("\nline,line-tw,U1,,Ann,"),
        "the name trimmed as JSON trims it: {out}"
    );
}
