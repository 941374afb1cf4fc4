//! The command line as a marketer and a script use it all day: segments that start with a
//! dash, one contact picked by its id, scripts (`-c`, `-f`), typed JSON, and the small
//! refusals that keep a typo from doing harm.

use std::path::Path;

use crate::run_at;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `reach --data DATA ARGS…` and returns its stdout, failing the test if it failed.
fn ok(data: &Path, args: &[&str]) -> String {
    let out = run_at(data, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

fn count(data: &Path, segment: &str) -> u64 {
    ok(data, &["count", segment])
        .trim()
        .parse()
        .expect("a count")
}

/// A data directory with 2,000 generated contacts (gen dated to the fixed now).
fn audience() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("a.csv");
    let csv = csv.to_str().expect("utf-8");
    ok(
        dir.path(),
        &["gen", "--contacts", "2000", "--seed", "5", "-o", csv],
    );
    ok(&dir.path().join("d"), &["import", csv]);
    dir
}

/// The first contact of a segment, as (account, external id).
fn one_contact(data: &Path, segment: &str) -> (String, String) {
    let line = ok(data, &["list", segment, "--limit", "1", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(line.trim()).expect("json");
    let field = |k: &str| json[k].as_str().expect("a string").to_string();
    (field("account"), field("external_id"))
}

#[test]
fn segments_and_offsets_may_start_with_a_dash() {
    let dir = audience();
    let data = dir.path().join("d");
    let all = count(&data, "");
    assert_eq!(
        count(&data, "-tag:churned"),
        all - count(&data, "tag:churned")
    );
    let west = run_at(&data, &["--tz", "-05:00", "count", "-tag:churned"]);
    assert!(west.status.success(), "{}", text(&west.stderr));
    ok(&data, &["tag", "add", "keep", "-tag:churned", "--yes"]);
    assert_eq!(count(&data, "tag:keep"), all - count(&data, "tag:churned"));
    ok(&data, &["list", "-tag:churned", "--limit", "1"]);
}

#[test]
fn the_readme_segments_find_people_in_a_generated_audience() {
    let dir = audience();
    let data = dir.path().join("d");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let segments: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("reach --data ./d count '"))
        .filter_map(|l| l.split('\'').next())
        .collect();
    assert!(segments.len() >= 2, "the README counts segments");
    for segment in segments {
        assert!(count(&data, segment) > 0, "{segment} finds nobody");
    }
    // Without --now, gen dates its audience to today: the same segment finds people now.
    let today = tempfile::tempdir().expect("tmp");
    let csv = today.path().join("t.csv");
    let generated = crate::reach_unfixed(&["gen", "--contacts", "2000", "-o", path(&csv)]);
    assert!(generated.status.success());
    let data = today.path().join("d");
    let imported = crate::reach_unfixed(&["--data", path(&data), "import", path(&csv)]);
    assert!(imported.status.success());
    let recent = crate::reach_unfixed(&["--data", path(&data), "count", "checkout:-30d.."]);
    assert!(text(&recent.stdout).trim().parse::<u64>().expect("count") > 0);
}

/// `gen --segments` writes the same random segments for a seed, other ones for another,
/// and `count --batch` counts every one of them, many finding people.
#[test]
fn generated_segments_count_on_a_generated_audience() {
    let dir = audience();
    let data = dir.path().join("d");
    let segments = |seed: &str| {
        let args = [
            "gen",
            "--segments",
            "200",
            "--contacts",
            "2000",
            "--seed",
            seed,
        ];
        ok(dir.path(), &args)
    };
    let (first, again, other) = (segments("3"), segments("3"), segments("4"));
    assert_eq!(first.lines().count(), 200);
    assert_eq!(first, again);
    assert_ne!(first, other);
    let file = dir.path().join("hunt.txt");
    std::fs::write(&file, &first).expect("write");
    let counted = ok(&data, &["count", "--batch", path(&file), "--json"]);
    let counts: Vec<u64> = (counted.lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["count"].as_u64())
        .map(|c| c.expect("a count"))
        .collect();
    assert_eq!(counts.len(), 200, "every segment is counted");
    let finding = counts.iter().filter(|&&c| c > 0).count();
    assert!(finding >= 60, "only {finding} of 200 segments find people");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8")
}

#[test]
fn one_contact_is_named_by_account_and_id_and_shown_as_a_card() {
    let dir = audience();
    let data = dir.path().join("d");
    let (account, id) = one_contact(&data, "channel:line tag:vip");
    let one = format!("account:{account} id:{id}");
    assert_eq!(count(&data, &one), 1);
    assert_eq!(
        count(&data, &format!("account:{account} external_id:{id}")),
        1
    );
    let changed = ok(&data, &["tag", "add", "chosen", &one, "--yes"]);
    assert!(changed.contains("1 contact changed"), "{changed}");
    assert_eq!(count(&data, "tag:chosen"), 1);
    ok(&data, &["save", "chosen_ones", "tag:chosen"]);
    let card = ok(&data, &["show", &account, &id]);
    for field in ["external_id", "name", "tags", "status", "saved_segments"] {
        assert!(card.contains(field), "{field} missing from\n{card}");
    }
    assert!(
        card.contains("chosen_ones") && card.contains("vip"),
        "{card}"
    );
    let json = ok(&data, &["show", &account, &id, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["external_id"], id.as_str());
    let missing = run_at(&data, &["show", &account, "no-such-id"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no-such-id"));
}

#[test]
fn json_lines_are_typed_with_the_same_keys_on_every_line() {
    let dir = audience();
    let data = dir.path().join("d");
    let out = ok(
        &data,
        &[
            "--tz", "+08:00", "list", "", "--limit", "300", "--format", "json",
        ],
    );
    let rows: Vec<serde_json::Map<String, serde_json::Value>> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    assert_eq!(rows.len(), 300);
    let keys: Vec<&String> = rows[0].keys().collect();
    let (mut nulls, mut times) = (0, 0);
    for row in &rows {
        assert_eq!(row.keys().collect::<Vec<_>>(), keys);
        assert!(row["blocked"].is_boolean() && row["over_quota"].is_boolean());
        assert!(row["tags"].is_array() && row["opt_outs"].is_array());
        match &row["last_checkout_at"] {
            serde_json::Value::Null => nulls += 1,
            serde_json::Value::String(t) => {
                chrono::DateTime::parse_from_rfc3339(t).expect("RFC 3339");
                assert!(t.ends_with("+08:00"), "{t} is not at --tz");
                times += 1;
            }
            other => panic!("last_checkout_at is {other}"),
        }
    }
    assert!(nulls > 0 && times > 0, "{nulls} nulls, {times} times");
    for command in ["stats", "tags", "quota", "segments"] {
        let out = ok(&data, &[command, "--format", "json"]);
        for line in out.lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .unwrap_or_else(|e| panic!("{command}: {e}: {line}"));
        }
        let csv = ok(&data, &[command, "--format", "csv"]);
        assert!(
            csv.lines().next().is_some_and(|h| h.contains(',')),
            "{command}: {csv}"
        );
    }
}

#[test]
fn typos_and_edge_figures_are_refused_or_said_plainly() {
    let dir = audience();
    let data = dir.path().join("d");
    // A mistyped --data creates nothing.
    let typo = dir.path().join("dd");
    let out = run_at(&typo, &["count", "tag:vip"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no data directory"));
    assert!(!typo.exists());
    // quota is for LINE accounts that exist.
    for account in ["@brand-hk", "line-tww"] {
        let out = run_at(&data, &["quota", account, "--plan", "5"]);
        assert!(!out.status.success(), "{account}");
        assert!(text(&out.stderr).contains(account), "{}", text(&out.stderr));
    }
    let max = u64::MAX.to_string();
    ok(
        &data,
        &["quota", "line-tw", "--plan", &max, "--purchased", &max],
    );
    let quota = ok(&data, &["quota", "--format", "json"]);
    assert!(quota.contains(&format!("0/{max}")), "{quota}");
    // Pages count from 1; --desc sorts the other way; --create prints no page.
    assert_eq!(
        run_at(&data, &["tags", "--page", "0"]).status.code(),
        Some(2)
    );
    let desc = ok(
        &data,
        &["tags", "--sort", "name", "--desc", "--format", "csv"],
    );
    let names: Vec<&str> = desc
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "{names:?}");
    let created = run_at(&data, &["tags", "--create", "autumn"]);
    assert!(text(&created.stdout).is_empty() && text(&created.stderr).contains("autumn"));
    // Deleting nobody asks nothing.
    let none = run_at(&data, &["delete", "tag:nobody-has-this"]);
    assert!(none.status.success(), "{}", text(&none.stderr));
    assert!(text(&none.stderr).contains("nothing to delete"));
    // Resubscribing blocked contacts says they stay unsubscribed.
    let blocked = count(&data, "is:blocked");
    assert!(blocked > 0);
    let out = run_at(&data, &["resubscribe", "is:blocked", "--yes"]);
    assert!(
        text(&out.stderr).contains("stay unsubscribed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(count(&data, "is:blocked is:unsubscribed"), blocked);
}

#[test]
fn scripts_run_repl_lines_and_stop_on_error_when_asked() {
    let dir = audience();
    let data = dir.path().join("d");
    let vip = count(&data, "tag:vip");
    let out = run_at(&data, &["-c", "count tag:vip", "-c", "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with(&format!("{vip}\n")) && stdout.contains("subscribed"));
    // A bare segment prints its count and its first rows.
    let bare = text(&run_at(&data, &["-c", "tag:vip"]).stdout);
    assert!(bare.starts_with(&format!("{vip} contacts\n")), "{bare}");

    let script = dir.path().join("morning.reach");
    std::fs::write(
        &script,
        "# the morning\ncount tag:vip\ncount (tag:\nstat\ncount tag:vip\n",
    )
    .expect("script");
    let out = run_at(&data, &["-f", path(&script)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), format!("{vip}\n{vip}\n"));
    let err = text(&out.stderr);
    assert!(
        err.contains("in line 3") && err.contains("did you mean 'stats'"),
        "{err}"
    );
    assert!(err.contains("lines 3, 4 of the script failed"), "{err}");
    let stopped = run_at(&data, &["-f", path(&script), "--stop-on-error"]);
    assert_eq!(stopped.status.code(), Some(1));
    assert_eq!(text(&stopped.stdout), format!("{vip}\n"));
    // stdin as the file.
    let piped = crate::reach()
        .args(["--data", path(&data), "-f", "-"])
        .stdin(std::fs::File::open(&script).expect("open"))
        .output()
        .expect("runs");
    assert_eq!(text(&piped.stdout), format!("{vip}\n{vip}\n"));
    // -c with a command is refused before anything runs.
    let both = run_at(&data, &["-c", "tag add x tag:vip --yes", "count", "tag:x"]);
    assert_eq!(both.status.code(), Some(2));
    assert_eq!(count(&data, "tag:x"), 0);
    // Quotes work as in a shell; a segment keeps its own.
    let quoted = run_at(
        &data,
        &[
            "-c",
            "tag add \"spring sale\" 'tag:vip channel:line' --yes",
            "-c",
            "count tag:\"spring sale\"",
        ],
    );
    assert!(quoted.status.success(), "{}", text(&quoted.stderr));
    assert_eq!(
        count(&data, "tag:\"spring sale\""),
        count(&data, "tag:vip channel:line")
    );
    let names = ok(&data, &["tags", "--format", "csv"]);
    assert!(
        names.lines().any(|l| l.starts_with("spring sale,")),
        "{names}"
    );
}
