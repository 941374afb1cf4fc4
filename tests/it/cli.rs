//! The real `reach` binary, driven with arguments: stdout, stderr and exit codes for
//! success and for every kind of bad input.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn reach(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reach"))
        .arg("--data")
        .arg(data)
        .args(["--now", "2025-06-01T04:00:00Z", "--tz", "+08:00"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A data directory holding 2,000 generated contacts.
fn loaded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("a.csv");
    let generated = reach(
        dir.path(),
        &[
            "gen",
            "--contacts",
            "2000",
            "--seed",
            "3",
            "-o",
            csv.to_str().expect("utf-8"),
        ],
    );
    assert!(generated.status.success(), "{}", stderr(&generated));
    let import = reach(
        &dir.path().join("d"),
        &["import", csv.to_str().expect("utf-8")],
    );
    assert!(import.status.success(), "{}", stderr(&import));
    assert!(
        stdout(&import).starts_with("imported 2000 rows: 2000 created"),
        "{}",
        stdout(&import)
    );
    dir
}

#[test]
fn import_then_count_across_processes() {
    let dir = loaded();
    let data = dir.path().join("d");
    let all = reach(&data, &["count", ""]);
    assert_eq!(stdout(&all), "2000\n");
    let line = reach(&data, &["count", "channel:line"]);
    let n: u64 = stdout(&line).trim().parse().expect("a number alone");
    assert!(n > 0 && n < 2000);
}

#[test]
fn malformed_segments_exit_2_with_the_underline() {
    let dir = loaded();
    let out = reach(&dir.path().join("d"), &["count", "tg:vip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean 'tag'?\n  tg:vip\n  ^^"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    let bad_flag = reach(&dir.path().join("d"), &["count", "--frobnicate"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    let bad_now = Command::new(env!("CARGO_BIN_EXE_reach"))
        .args(["--now", "yesterday", "count", ""])
        .output()
        .expect("runs");
    assert_eq!(bad_now.status.code(), Some(2));
}

#[test]
fn batch_counts_print_one_json_object_per_segment() {
    let dir = loaded();
    let file = dir.path().join("segments.txt");
    std::fs::write(&file, "# comment\nchannel:line\n\ntag:vip -tag:churned\n").expect("write");
    let out = reach(
        &dir.path().join("d"),
        &[
            "count",
            "--batch",
            file.to_str().expect("utf-8"),
            "--repeat",
            "3",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["segment"], "channel:line");
    assert!(lines[1]["count"].is_u64() && lines[1]["micros"].is_u64());
}

#[test]
fn delete_needs_the_exact_word() {
    let dir = loaded();
    let data = dir.path().join("d");
    let before = stdout(&reach(&data, &["count", "tag:vip"]));
    let refused = reach(&data, &["delete", "tag:vip"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("--confirm DELETE"),
        "{}",
        stderr(&refused)
    );
    let wrong = reach(&data, &["delete", "tag:vip", "--confirm", "delete"]);
    assert_ne!(wrong.status.code(), Some(0));
    assert_eq!(stdout(&reach(&data, &["count", "tag:vip"])), before);
    let done = reach(&data, &["delete", "tag:vip", "--confirm", "DELETE"]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(stdout(&reach(&data, &["count", "tag:vip"])), "0\n");
    let bytes = std::fs::read(data.join("contacts.snap")).expect("snapshot");
    assert!(
        !bytes.windows(4).any(|w| w == b"vip\0"),
        "tag name left only if others carry it"
    );
}

#[test]
fn bad_import_exits_1_and_keeps_the_data() {
    let dir = loaded();
    let data = dir.path().join("d");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "channel,account,external_id,blocked\nline,x,U1,maybe\n",
    )
    .expect("write");
    let out = reach(&data, &["import", bad.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("line 2, column blocked"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&reach(&data, &["count", ""])), "2000\n");
}

#[test]
fn damaged_data_directory_is_a_clear_error() {
    let dir = loaded();
    let data = dir.path().join("d");
    let snap = data.join("contacts.snap");
    let bytes = std::fs::read(&snap).expect("read");
    std::fs::write(&snap, &bytes[..bytes.len() / 3]).expect("truncate");
    let out = reach(&data, &["count", ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("damaged"), "{}", stderr(&out));
}

#[test]
fn management_commands_work_end_to_end() {
    let dir = loaded();
    let data = dir.path().join("d");
    let ok = |args: &[&str]| {
        let out = reach(&data, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    assert!(ok(&["stats"]).contains("subscribed"));
    assert!(ok(&["stats", "--memory"]).contains("bytes/contact"));
    ok(&["tag", "add", "spring", "channel:web"]);
    assert_eq!(ok(&["count", "tag:spring"]), ok(&["count", "channel:web"]));
    ok(&["unsubscribe", "tag:spring", "--kind", "cart"]);
    assert_eq!(
        ok(&["count", "optout:cart tag:spring"]),
        ok(&["count", "tag:spring"])
    );
    ok(&["resubscribe", "tag:spring"]);
    assert_eq!(ok(&["count", "optout:cart tag:spring"]), "0\n");
    ok(&["save", "springers", "tag:spring"]);
    assert!(ok(&["segments"]).contains("@springers"));
    assert_eq!(ok(&["count", "@springers"]), ok(&["count", "tag:spring"]));
    let cycle = reach(&data, &["save", "springers", "@springers"]);
    assert_eq!(cycle.status.code(), Some(2));
    ok(&["tags", "--create", "autumn"]);
    assert!(ok(&["tags", "--search", "autumn"]).contains("autumn"));
    ok(&["quota", "line-tw", "--plan", "500", "--used", "12"]);
    assert!(ok(&["quota"]).contains("12/500"));
    assert!(
        ok(&[
            "add-whatsapp",
            "Alice",
            "+886 912-000-999",
            "--account",
            "+886223456789"
        ])
        .contains("+886912000999")
    );
    assert_eq!(ok(&["count", "phone:+886912000999"]), "1\n");
    assert_eq!(
        reach(&data, &["add-whatsapp", "Bob", "0912"]).status.code(),
        Some(2)
    );
    let export = ok(&["export", "tag:spring"]);
    assert!(export.starts_with("channel,account,external_id,"));
    assert!(ok(&["list", "tag:spring", "--limit", "3"]).lines().count() >= 2);
    assert!(ok(&["list", "channel:web", "--format", "json", "--limit", "2"]).contains("\"email\""));
    // EXPLAIN plans without running; ANALYZE runs every node; VERBOSE shows each rule.
    let plan = ok(&["explain", "tag:vip checkout:-30d.."]);
    assert!(
        plan.starts_with("AND\n") && !plan.contains("actual"),
        "{plan}"
    );
    for analyze in [
        &["explain", "--analyze", "tag:vip"][..],
        &["explain", "analyze", "tag:vip"],
    ] {
        assert!(ok(analyze).contains("actual"), "{analyze:?}");
    }
    let steps = ok(&["explain", "verbose", "not not (tag:vip tag:vip)"]);
    assert!(steps.starts_with("lowered:\nNOT\n"), "{steps}");
    assert!(
        steps.contains("after double_negation:") && steps.contains("after dedupe:"),
        "{steps}"
    );
    assert!(steps.ends_with("tag = \"vip\"\n"), "{steps}");
}

/// Every command, with stdout a pipe nobody reads and with stdout on /dev/full: never a
/// panic; a closed pipe ends quietly, a full disk is exit 1 with a message.
#[test]
fn no_command_panics_when_stdout_is_closed_or_full() {
    let dir = loaded();
    let data = dir.path().join("d");
    let changes = dir.path().join("changes.jsonl");
    std::fs::write(
        &changes,
        "{\"op\": \"quota\", \"account\": \"line-tw\", \"plan\": 10}\n",
    )
    .expect("changes");
    let batch = dir.path().join("segments.txt");
    std::fs::write(&batch, "tag:vip\n-tag:vip\n").expect("batch");
    let commands: Vec<Vec<String>> = [
        vec!["count", "-tag:vip"],
        vec!["count", "--batch", batch.to_str().expect("utf-8"), "--json"],
        vec!["list", "", "--limit", "500"],
        vec!["list", "", "--format", "csv"],
        vec!["list", "", "--format", "json"],
        vec!["explain", "tag:vip -is:blocked"],
        vec!["export", ""],
        vec!["stats", "--memory"],
        vec!["quota"],
        vec!["tags"],
        vec!["segments"],
        vec!["save", "s1", "tag:vip"],
        vec!["tag", "add", "t1", "tag:vip", "--yes"],
        vec!["unsubscribe", "tag:t1", "--yes"],
        vec!["resubscribe", "tag:t1", "--yes"],
        vec!["delete", "tag:nobody-has-this", "--confirm", "DELETE"],
        vec![
            "add-whatsapp",
            "Ann",
            "+886 912 345 678",
            "--account",
            "+886223456789",
        ],
        vec!["apply", changes.to_str().expect("utf-8")],
        vec!["compact"],
        vec![
            "broadcast",
            "tag:vip",
            "--kind",
            "bot",
            "--text",
            "x",
            "--sink",
            "dry-run",
            "--json",
        ],
        vec!["broadcast", "jobs"],
        vec!["gen", "--contacts", "3000"],
        vec!["--help"],
        vec!["count", "--help"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();
    for command in &commands {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let closed = reach_with_stdout(&data, command, writer.into());
        assert!(
            closed.status.code().is_some_and(|c| c != 101),
            "{command:?}: {:?}",
            closed.status
        );
        let err = String::from_utf8_lossy(&closed.stderr);
        assert!(
            !err.contains("panicked"),
            "{command:?} with stdout closed: {err}"
        );
        let full = std::fs::File::create("/dev/full").expect("/dev/full");
        let out = reach_with_stdout(&data, command, full.into());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked"),
            "{command:?} with stdout full: {err}"
        );
        assert!(
            out.status.code().is_some_and(|c| c != 101),
            "{command:?}: {:?}",
            out.status
        );
        // The second add-whatsapp of the same number is refused (it is there already).
        let writes = !command.contains(&"compact".to_string())
            && !command
                .iter()
                .any(|c| c == "--confirm" || c == "add-whatsapp");
        if writes && out.status.code() == Some(1) {
            assert!(
                err.contains("cannot write the output"),
                "{command:?}: {err}"
            );
        }
    }
}

fn reach_with_stdout(data: &Path, args: &[String], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reach"))
        .arg("--data")
        .arg(data)
        .args(["--now", "2025-06-01T04:00:00Z"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("runs")
}

/// The closed sets of options are clap value enums: a wrong value is a usage error
/// (exit 2) that lists the values there are.
#[test]
fn a_wrong_option_value_lists_the_valid_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("d");
    for (args, listed) in [
        (
            &["sql", "--dialect", "mysql", "tag:a"][..],
            "[possible values: clickhouse, postgres]",
        ),
        (
            &["sql", "--dialect", "postgres", "--select", "rows"],
            "[possible values: count, ids]",
        ),
        (
            &["apply", "--durability", "fast"],
            "[possible values: sync, group, none]",
        ),
        (
            &[
                "broadcast",
                "tag:a",
                "--kind",
                "broadcast",
                "--text",
                "x",
                "--sink",
                "ftp:x",
            ],
            "expected platform, jsonl:PATH (jsonl:- for stdout), webhook:URL or dry-run",
        ),
        (
            &[
                "broadcast",
                "tag:a",
                "--kind",
                "broadcast",
                "--text",
                "x",
                "--sink",
                "webhook:ftp://x",
            ],
            "expected an http:// or https:// URL",
        ),
        (
            &[
                "broadcast",
                "tag:a",
                "--kind",
                "broadcast",
                "--text",
                "x",
                "--sink",
                "jsonl:",
            ],
            "jsonl: needs a PATH",
        ),
    ] {
        let out = reach(&data, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(listed), "{args:?}: {}", stderr(&out));
    }
    assert!(!data.exists(), "a usage error opens nothing");
}

/// `reach apply` refuses a line longer than 16 MiB by its number (and reads on), rather
/// than holding a line with no end in memory.
#[test]
fn apply_refuses_a_line_over_16_mib_and_goes_on() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let upsert =
        r#"{"op": "upsert", "contact": {"channel": "web", "account": "w", "external_id": "1"}}"#;
    let long = format!(
        r#"{{"op": "quota", "account": "{}"}}"#,
        "a".repeat(16 << 20)
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_reach"))
        .arg("--data")
        .arg(dir.path().join("d"))
        .args(["apply", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = format!("{upsert}\n{long}\n{upsert}\n");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("runs");
    writer.join().expect("writer").expect("written");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let acks: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(acks.len(), 3, "{acks:?}");
    assert_eq!(acks[0]["ok"], true);
    assert_eq!(
        acks[1]["error"],
        "line 2 is longer than 16777216 bytes, the longest line a change stream takes: split the change (an upsert of one contact, tags of a segment) into shorter lines"
    );
    assert_eq!(acks[2]["ok"], true);
}

/// No command writes its output into a reach data directory, named by `--data` or not:
/// `gen -o D/contacts.snap` once destroyed D.
#[test]
fn no_output_lands_in_a_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d");
    let csv = dir.path().join("c.csv");
    let generate = |out: &Path| {
        crate::reach()
            .args(["gen", "--contacts", "30", "--seed", "1", "-o"])
            .arg(out)
            .output()
            .expect("runs")
    };
    assert!(generate(&csv).status.success());
    assert!(
        reach(&data, &["import", csv.to_str().expect("utf-8")])
            .status
            .success()
    );
    let second = dir.path().join("d2");
    assert!(
        reach(&second, &["import", csv.to_str().expect("utf-8")])
            .status
            .success()
    );
    let refused = |out: Output| {
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("inside the reach data directory"));
    };
    for target in [data.join("contacts.snap"), data.join("new.csv")] {
        refused(generate(&target));
    }
    let into_second = second.join("x.csv");
    let into_second = into_second.to_str().expect("utf-8");
    refused(reach(&data, &["export", "", "-o", into_second]));
    assert!(!data.join("new.csv").exists() && !second.join("x.csv").exists());
    for d in [&data, &second] {
        let count = reach(d, &["count", ""]);
        assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "30");
    }
}
