//! What the command line prints, pinned in golden files under `tests/data/` (see
//! `golden.rs`; `UPDATE_GOLDEN=1` rewrites them): every `--help`, EXPLAIN in its three
//! shapes, `reach sql` in both dialects, and the reports (JSON and text), at a fixed now
//! and time zone so that they do not change from run to run.

use std::path::Path;
use std::process::Output;

use crate::golden::{check, without_times};
use crate::oracle::NOW;

/// The time zone every case runs in.
const TZ: &str = "+08:00";

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `reach --tz +08:00 [--data DATA] ARGS…` (now fixed) and returns its stdout; it
/// must succeed.
fn run(data: Option<&Path>, args: &[&str]) -> String {
    let mut command = crate::reach();
    // What could colour or reflow the text comes from the environment: none of it.
    for var in [
        "CLICOLOR_FORCE",
        "CLICOLOR",
        "NO_COLOR",
        "COLUMNS",
        "REACH_DATA",
    ] {
        command.env_remove(var);
    }
    command.args(["--tz", TZ]);
    if let Some(data) = data {
        command.arg("--data").arg(data);
    }
    let out = command.args(args).output().expect("reach runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// A data directory of 2,000 generated contacts (seed 3), a WhatsApp contact on a new
/// business number +85239990000, a tag named `2024`, a saved segment and a LINE quota.
fn audience() -> tempfile::TempDir {
    let mut csv = Vec::new();
    reach::synth::write_csv(2_000, 3, NOW, &mut csv, &|_| {}).expect("generate");
    let dir = crate::loaded_with(&csv);
    let data = dir.path().join("d");
    for args in [
        &[
            "add-whatsapp",
            "Ada Wong",
            "+852 9123 4567",
            "--account",
            "+85239990000",
        ][..],
        &["tag", "add", "2024", "account:+85239990000", "--yes"],
        &["save", "vip_buyers", "tag:vip checkout:-90d.."],
        &["quota", "line-tw", "--plan", "500", "--used", "12"],
    ] {
        run(Some(&data), args);
    }
    dir
}

/// `$ reach ARGS…` and what it printed, for a golden file holding several runs.
fn transcript(data: Option<&Path>, runs: &[Vec<&str>], shape: impl Fn(&str) -> String) -> String {
    let mut text = String::new();
    for args in runs {
        let shown: Vec<String> = args
            .iter()
            .map(
                |a| match a.contains([' ', '\'', '"', '|', '<', '>', '&', '(']) || a.is_empty() {
                    true => format!("'{a}'"),
                    false => a.to_string(),
                },
            )
            .collect();
        text.push_str(&format!("$ reach {}\n", shown.join(" ")));
        text.push_str(&shape(&run(data, args)));
        text.push('\n');
    }
    text
}

/// The subcommands a help text lists under "Commands:".
fn subcommands(help: &str) -> Vec<String> {
    help.split("Commands:\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_help_text_is_pinned() {
    let top = run(None, &["--help"]);
    check("help/reach.txt", &top);
    let commands = subcommands(&top);
    assert!(commands.len() > 20, "{commands:?}");
    let mut pinned = vec!["reach.txt".to_string()];
    for command in &commands {
        let help = run(None, &[command, "--help"]);
        check(&format!("help/{command}.txt"), &help);
        pinned.push(format!("{command}.txt"));
        for sub in subcommands(&help) {
            let help = run(None, &[command, &sub, "--help"]);
            check(&format!("help/{command}-{sub}.txt"), &help);
            pinned.push(format!("{command}-{sub}.txt"));
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(crate::golden::data_dir().join("help"))
        .expect("help folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    pinned.sort();
    assert_eq!(files, pinned, "a help file for each command, and no other");
}

/// Segments whose plans take the planner's and the executor's main paths.
const SHAPES: &[&str] = &[
    "tag:vip",
    "channel:line tag:vip -tag:churned checkout:-30d..",
    "tag:vip or checkout:-7d.. or channel:line",
    "-(tag:gold or marketing:-7d..)",
    "@vip_buyers -is:blocked",
    "not not (tag:a tag:a)",
    "is:fb_sendable or joined:2025-01-01..2025-03-31",
    "name:\"alice chen\" or email:a@b.com",
    "tag:nosuchtag",
    "checkout:2025-05-01..2025-04-01",
];

#[test]
fn explain_plans_are_pinned() {
    let dir = audience();
    let data = dir.path().join("d");
    let runs = |flag: Option<&'static str>| -> Vec<Vec<&str>> {
        (SHAPES.iter())
            .map(|s| {
                let mut args = vec!["explain"];
                args.extend(flag);
                args.push(s);
                args
            })
            .collect()
    };
    check(
        "explain/plan.txt",
        &transcript(Some(&data), &runs(None), str::to_string),
    );
    check(
        "explain/verbose.txt",
        &transcript(Some(&data), &runs(Some("--verbose")), str::to_string),
    );
    check(
        "explain/analyze.txt",
        &transcript(Some(&data), &runs(Some("--analyze")), without_times),
    );
}

#[test]
fn sql_of_both_dialects_is_pinned() {
    let dir = audience();
    let data = dir.path().join("d");
    for dialect in ["clickhouse", "postgres"] {
        let mut runs: Vec<Vec<&str>> = vec![
            vec!["sql", "--schema", "--dialect", dialect],
            vec!["sql", "--dialect", dialect],
            vec![
                "sql",
                "--dialect",
                dialect,
                "--select",
                "ids",
                "-tag:churned is:subscribed",
            ],
        ];
        if dialect == "clickhouse" {
            runs.push(vec![
                "sql",
                "--schema",
                "--dialect",
                dialect,
                "--cluster",
                "brands",
                "--table",
                "shop.contacts",
            ]);
        }
        for segment in SHAPES {
            runs.push(vec!["sql", "--dialect", dialect, segment]);
        }
        check(
            &format!("sql/{dialect}.txt"),
            &transcript(Some(&data), &runs, str::to_string),
        );
    }
}

/// A JSON report with its volatile fields (those naming a temporary path) as `<…>`,
/// pretty-printed so that a change shows field by field.
fn normalized_json(text: &str, data: &Path) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("one JSON object a line: {e}: {line}"));
        let pretty = serde_json::to_string_pretty(&value).expect("json");
        out.push_str(&pretty.replace(&data.display().to_string(), "<data>"));
        out.push('\n');
    }
    out
}

#[test]
fn reports_are_pinned() {
    let dir = audience();
    let data = dir.path().join("d");
    let json_runs: &[&[&str]] = &[
        &["stats", "--format", "json"],
        &["tags", "--format", "json", "--search", "20"],
        &["tags", "--format", "json", "--page-size", "3"],
        &["quota", "--format", "json"],
        &["segments", "--format", "json"],
        &["list", "account:+85239990000", "--format", "json"],
        &["show", "+85239990000", "+85291234567", "--format", "json"],
        &[
            "broadcast",
            "channel:line tag:vip",
            "--kind",
            "broadcast",
            "--text",
            "Hi {{name|friend}}",
            "--sink",
            "dry-run",
            "--json",
        ],
        &[
            "broadcast",
            "account:+85239990000",
            "--kind",
            "broadcast",
            "--text",
            "Hello",
            "--id",
            "pinned-1",
            "--sink",
            "jsonl:-",
            "--yes",
            "--json",
        ],
        &["broadcast", "show", "pinned-1", "--json"],
        &["broadcast", "jobs", "--json"],
    ];
    let mut text = String::new();
    for args in json_runs {
        text.push_str(&format!("$ reach {}\n", args.join(" ")));
        let printed = run(Some(&data), args);
        // A jsonl:- sink writes the messages to stdout before the report: keep the report.
        let printed = match args.contains(&"jsonl:-") {
            true => printed.lines().last().unwrap_or_default().to_string(),
            false => printed,
        };
        text.push_str(&normalized_json(&printed, &data));
        text.push('\n');
    }
    check("reports/json.txt", &text);
    let tables = transcript(
        Some(&data),
        &[
            vec!["stats"],
            vec!["stats", "--format", "csv"],
            vec!["tags", "--page-size", "5"],
            vec!["quota"],
            vec!["segments"],
            vec!["count", "channel:whatsapp tag:2024"],
        ],
        str::to_string,
    );
    check("reports/tables.txt", &tables);
}

#[test]
fn the_import_summary_is_pinned() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("contacts.csv");
    let mut bytes = Vec::new();
    reach::synth::write_csv(500, 9, NOW, &mut bytes, &|_| {}).expect("generate");
    std::fs::write(&csv, &bytes).expect("csv");
    let data = dir.path().join("d");
    let first = run(Some(&data), &["import", &csv.display().to_string()]);
    let again = run(Some(&data), &["import", &csv.display().to_string()]);
    // The summary's rate and duration depend on the machine.
    let steady = |text: &str| {
        text.lines()
            .map(|l| match l.split_once(" in ") {
                Some((head, _)) => format!("{head} in <t>"),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    check(
        "reports/import.txt",
        &format!("{}\n{}\n", steady(&first), steady(&again)),
    );
}

/// Typed JSON: a tag named `2024` stays a string, a WhatsApp business number stays the
/// string it is (+85230001234 of the generated audience, not the number 85230001234),
/// and counts are numbers.
#[test]
fn json_cells_keep_their_column_type() {
    let dir = audience();
    let data = dir.path().join("d");
    let rows = |args: &[&str]| -> Vec<serde_json::Value> {
        run(Some(&data), args)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    };
    let stats = rows(&["stats", "--format", "json"]);
    let whatsapp = stats
        .iter()
        .find(|r| r["account"] == "+85239990000")
        .unwrap_or_else(|| panic!("the WhatsApp number as a string: {stats:?}"));
    assert_eq!(whatsapp["total"], 1, "{whatsapp}");
    assert!(
        stats.iter().any(|r| r["account"] == "+85230001234"),
        "{stats:?}"
    );
    assert!(
        stats
            .iter()
            .all(|r| r["total"].is_u64() && r["account"].is_string())
    );
    let tags = rows(&["tags", "--format", "json", "--sort", "name", "--asc"]);
    assert_eq!(tags[0]["tag"], "2024", "{:?}", tags[0]);
    assert_eq!(tags[0]["contacts"], 1, "{:?}", tags[0]);
    let quota = rows(&["quota", "--format", "json"]);
    let line = quota
        .iter()
        .find(|q| q["LINE account"] == "line-tw")
        .expect("line-tw");
    assert_eq!(line["left"], 488, "{line}");
    assert_eq!(line["used/total"], "12/500", "{line}");
}

/// `--page` of any size is a page past the end, not an overflow.
#[test]
fn a_huge_page_is_empty() {
    let dir = audience();
    let data = dir.path().join("d");
    for (page, size) in [
        ("18446744073709551615", "50"),
        ("2", "18446744073709551615"),
    ] {
        let out = crate::run_at(
            &data,
            &[
                "tags",
                "--page",
                page,
                "--page-size",
                size,
                "--format",
                "json",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), "", "page {page} of {size}");
    }
    let out = crate::run_at(
        &data,
        &[
            "list",
            "",
            "--offset",
            "18446744073709551615",
            "--limit",
            "18446744073709551615",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `reach --tz +08:00 --data DATA ARGS…` (now fixed) on a terminal `columns` wide
/// and returns what the terminal shows (stdout and stderr).
fn on_terminal(data: &Path, columns: usize, args: &[&str]) -> String {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_reach"));
    command
        .args(["--now", "2025-06-01T04:00:00Z", "--tz", TZ, "--data"])
        .arg(data)
        .args(args)
        .env("COLUMNS", columns.to_string())
        .env("PAGER", "cat")
        .env("TERM", "xterm");
    let mut session = rexpect::session::spawn_command(command, Some(30_000)).expect("spawns");
    let shown = session.exp_eof().expect("ends");
    // The pseudo-terminal hands over one char per byte, and ends lines with \r\n.
    let bytes: Vec<u8> = shown.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

/// The columns a line takes on a terminal.
fn columns_of(line: &str) -> usize {
    line.chars()
        .map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0))
        .sum()
}

/// A contact list's header on a terminal `columns` wide holds `expected` (its tab's
/// columns in the seed), every line fits, and no email is cut.
fn check_list(tab: &str, columns: usize, printed: &str, expected: &[&str]) {
    let mut lines = printed.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    for column in expected {
        // A time column may show as dates under its segment name.
        let short = match *column {
            "subscribed_at" => "joined",
            "customer_interaction_at" => "interaction",
            other => other,
        };
        let found = header.contains(column) || header.contains(&short);
        assert!(found, "{tab} at {columns}: {column}\n{printed}");
    }
    for line in printed.lines() {
        assert!(columns_of(line) <= columns, "{tab} at {columns}: {line}");
        let cut = line
            .split_whitespace()
            .any(|w| w.contains('@') && w.ends_with('…'));
        assert!(!cut, "{tab} at {columns}: an email cut: {line}");
    }
}

/// Contact lists on a terminal of 80 and 160 columns, one per channel tab, pinned in
/// `reports/lists-80.txt` and `reports/lists-160.txt`: the seed's columns for the tab
/// come before the identity columns (at 80 a LINE list shows last interaction, bound and
/// joined, as dates), web emails stay whole, and at 160 every tab shows all of them.
#[test]
fn contact_lists_keep_their_tabs_columns_at_80_and_160() {
    let dir = audience();
    let data = dir.path().join("d");
    let at_80: &[(&str, &[&str])] = &[
        (
            "line",
            &["name", "tags", "interaction", "bound", "joined", "status"],
        ),
        (
            "facebook",
            &["name", "tags", "interaction", "bound", "fb_optin", "status"],
        ),
        (
            "whatsapp",
            &["name", "phone", "tags", "interaction", "bound", "status"],
        ),
        (
            "instagram",
            &["name", "tags", "interaction", "joined", "status"],
        ),
        ("web", &["name", "member_id", "email", "phone", "status"]),
    ];
    let seed_160: &[(&str, &[&str])] = &[
        (
            "line",
            &[
                "external_id",
                "name",
                "tags",
                "customer_interaction_at",
                "bound",
                "subscribed_at",
                "status",
            ],
        ),
        (
            "facebook",
            &[
                "external_id",
                "name",
                "tags",
                "customer_interaction_at",
                "bound",
                "fb_optin",
                "subscribed_at",
                "status",
            ],
        ),
        (
            "whatsapp",
            &[
                "name",
                "phone",
                "tags",
                "customer_interaction_at",
                "bound",
                "subscribed_at",
                "status",
            ],
        ),
        (
            "instagram",
            &[
                "external_id",
                "name",
                "tags",
                "customer_interaction_at",
                "subscribed_at",
                "status",
            ],
        ),
        (
            "web",
            &[
                "name",
                "member_id",
                "email",
                "phone",
                "tags",
                "subscribed_at",
                "status",
                "customer_interaction_at",
            ],
        ),
    ];
    for (columns, tabs) in [(80, at_80), (160, seed_160)] {
        let mut text = String::new();
        for (tab, expected) in tabs {
            let segment = format!("channel:{tab}");
            let printed = on_terminal(&data, columns, &["list", &segment, "--limit", "5"]);
            check_list(tab, columns, &printed, expected);
            text.push_str(&format!("$ reach list {segment} --limit 5\n{printed}\n"));
        }
        check(&format!("reports/lists-{columns}.txt"), &text);
    }
}
