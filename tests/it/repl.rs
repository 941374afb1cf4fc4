//! The REPL driven through a pseudo-terminal, as a person would: segments, completion,
//! errors, a refused and a confirmed delete, unsubscribe and resubscribe, Ctrl-D.

use std::process::Command;

use rexpect::session::spawn_command;

const TIMEOUT_MS: u64 = 30_000;

fn loaded_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("a.csv");
    let bin = env!("CARGO_BIN_EXE_reach");
    let ok = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&[
        "gen",
        "--contacts",
        "500",
        "--seed",
        "2",
        "-o",
        csv.to_str().expect("utf-8"),
    ]);
    let data = dir.path().join("d");
    ok(&[
        "--data",
        data.to_str().expect("utf-8"),
        "import",
        csv.to_str().expect("utf-8"),
    ]);
    dir
}

/// Types each line and waits for what must follow it, in order ("re:" marks a regular
/// expression).
fn run(
    p: &mut rexpect::session::PtySession,
    script: &[(&str, &[&str])],
) -> Result<(), rexpect::error::Error> {
    for (line, expected) in script {
        p.send_line(line)?;
        for text in *expected {
            match text.strip_prefix("re:") {
                Some(pattern) => p.exp_regex(pattern).map(|_| ())?,
                None => p.exp_string(text).map(|_| ())?,
            }
        }
    }
    Ok(())
}

#[test]
fn a_session_at_the_prompt() -> Result<(), rexpect::error::Error> {
    let dir = loaded_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_reach"));
    command.args([
        "--data",
        dir.path().join("d").to_str().expect("utf-8"),
        "--now",
        "2025-06-01T04:00:00Z",
        "repl",
    ]);
    command.env("TERM", "xterm");
    let mut p = spawn_command(command, Some(TIMEOUT_MS))?;
    p.exp_string("500 contacts")?;
    p.exp_string("reach> ")?;

    // Each line typed, then what must follow it ("re:" marks a regular expression).
    let before_completion: &[(&str, &[&str])] = &[
        ("channel:web", &[r"re:\d+ contacts", "10 of ", "(from 1)"]),
        ("more", &["(from 11)"]),
        ("\\timing", &["timing is off"]),
        ("\\timing", &["timing is on", "reach> "]),
        (
            "tg:vip",
            &["error:", "did you mean 'tag'?", "^^", "reach> "],
        ),
    ];
    run(&mut p, before_completion)?;
    p.send("count is:unsub\t")?;
    p.send_line("")?;
    p.exp_regex(r"\r\n\d+\r\n")?;
    p.exp_string("reach> ")?;

    let script: &[(&str, &[&str])] = &[
        ("tag add nope channel:web", &["Go on? [y/N]"]),
        ("n", &["cancelled; nothing changed"]),
        ("count tag:nope", &["\r\n0\r\n"]),
        ("tag add yes channel:web", &["Go on? [y/N]"]),
        ("y", &["re:\\d+ contacts? changed"]),
        (
            "unsubscribe channel:instagram --yes",
            &["re:\\d+ contacts? changed"],
        ),
        (
            "count optout:broadcast channel:instagram -is:blocked",
            &[r"re:\r\n[1-9]\d*\r\n"],
        ),
        (
            "resubscribe channel:instagram --yes",
            &["re:\\d+ contacts? changed"],
        ),
        ("count optout:broadcast channel:instagram", &["\r\n0\r\n"]),
        ("delete channel:web", &["Type DELETE to confirm:"]),
        ("delete", &["nothing was deleted"]),
        ("count channel:web", &[r"re:\r\n[1-9]\d*\r\n"]),
        ("delete channel:web", &["Type DELETE to confirm:"]),
        ("DELETE", &["deleted"]),
        ("count channel:web", &["\r\n0\r\n"]),
    ];
    run(&mut p, script)?;

    let big = dir.path().join("big.csv");
    p.send_line(&format!("gen --contacts 200000000 -o {}", big.display()))?;
    std::thread::sleep(std::time::Duration::from_millis(1500));
    p.send_control('c')?;
    p.exp_string("cancelled (Ctrl-C)")?;
    p.exp_string("reach> ")?;
    p.send_line("count")?;
    p.exp_regex(r"\r\n\d+\r\n")?;

    p.send_line("help count")?;
    p.exp_string("Example")?;
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

/// Opens the REPL on `dir`'s data in a terminal `columns` wide.
fn repl_at(
    dir: &std::path::Path,
    columns: usize,
) -> Result<rexpect::session::PtySession, rexpect::error::Error> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reach"));
    command.args([
        "--data",
        dir.join("d").to_str().expect("utf-8"),
        "--now",
        "2025-06-01T04:00:00Z",
    ]);
    command
        .env("TERM", "xterm")
        .env("COLUMNS", columns.to_string())
        .env("PAGER", "cat")
        .env("XDG_STATE_HOME", dir);
    let mut p = spawn_command(command, Some(TIMEOUT_MS))?;
    p.exp_string("reach> ")?;
    Ok(p)
}

/// The pseudo-terminal's output as text (rexpect hands over one char per byte).
fn utf8(read: &str) -> String {
    let bytes: Vec<u8> = read.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The terminal columns a line of output takes.
fn columns_of(line: &str) -> usize {
    line.chars()
        .map(|c| unicode_width::UnicodeWidthChar::width(c).unwrap_or(0))
        .sum()
}

/// Tables fit 80 and 160 columns with CJK names, ids and times whole; `\x` shows
/// records.
#[test]
fn tables_fit_the_terminal() -> Result<(), rexpect::error::Error> {
    let dir = loaded_dir();
    for columns in [80, 160] {
        let mut p = repl_at(dir.path(), columns)?;
        p.send_line("list channel:line --limit 40")?;
        p.exp_string("--limit 40")?;
        let table = utf8(&p.exp_string("reach> ")?);
        let lines: Vec<&str> = table.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() > 30, "{table}");
        for line in &lines {
            assert!(columns_of(line) <= columns, "wider than {columns}: {line}");
        }
        // LINE user ids are U + 32 hex digits: whole, never cut (at 80 columns the tab's
        // own columns come first, and the ids give way to them).
        let ids = lines.iter().filter(|l| l.starts_with('U')).count();
        match columns {
            80 => {
                let header = lines.iter().find(|l| l.starts_with("name"));
                let seed =
                    header.is_some_and(|h| h.contains("interaction") && h.contains("joined"));
                assert!(seed && ids == 0, "{table}")
            }
            _ => assert!(ids > 30 && !table.contains("U…"), "{table}"),
        }
        assert!(table.contains("subscribed"), "a Status column: {table}");
        let cjk = lines
            .iter()
            .any(|l| l.chars().any(|c| columns_of(&c.to_string()) == 2));
        assert!(cjk, "the generated audience has CJK names: {table}");
        if columns == 160 {
            assert!(table.contains("customer_interaction_at"), "{table}");
        }
        run(
            &mut p,
            &[
                ("\\x", &["expanded display is on", "reach> "]),
                (
                    "channel:line",
                    &["-[ record 1 ]-", "external_id", "reach> "],
                ),
                ("\\x", &["expanded display is off", "reach> "]),
            ],
        )?;
        p.send_control('d')?;
        p.exp_eof()?;
    }
    Ok(())
}

/// What people know from psql and duckdb: `\?`, `help segments`, did-you-mean,
/// multi-line input, `\format`, `\o`, `\i`, quoting, completion of flag values, a second
/// Tab listing candidates, `\timing` without the confirmation prompt, `unsave`.
#[test]
fn conventions_people_know_from_psql() -> Result<(), rexpect::error::Error> {
    let dir = loaded_dir();
    let out = dir.path().join("out.txt");
    let script = dir.path().join("script.reach");
    std::fs::write(&script, "count channel:web\nstats\n").expect("script");
    let mut p = repl_at(dir.path(), 120)?;
    let lines: &[(&str, &[&str])] = &[
        (
            "\\?",
            &["\\timing", "\\format", "\\o FILE", "\\i FILE", "reach> "],
        ),
        (
            "help segments",
            &["A segment picks contacts", "Operators", "reach> "],
        ),
        ("stat", &["did you mean 'stats'?", "reach> "]),
        ("exprt tag:vip", &["did you mean 'export'?", "reach> "]),
        ("count (channel:line", &[]),
        ("or channel:web)", &[r"re:\r\n\d+\r\n", "reach> "]),
        ("\\format csv", &["rows show as csv", "reach> "]),
        ("channel:web", &["channel,account,external_id,", "reach> "]),
        ("\\format json", &["rows show as json", "reach> "]),
        ("channel:web", &["{\"channel\":\"web\"", "reach> "]),
        ("\\format table", &["rows show as table", "reach> "]),
        ("\\format yaml", &["use table, csv or json", "reach> "]),
        (
            "tag add \"spring sale\" channel:web --yes",
            &[r"re:\d+ contacts? changed", "reach> "],
        ),
        (
            "count tag:\"spring sale\" -channel:web",
            &["\r\n0\r\n", "reach> "],
        ),
        ("tags --search spring", &["spring sale", "reach> "]),
        (
            "add-whatsapp \"陳大文\" \"+852 5555 1234\" --account +85230001234",
            &["+85255551234", "reach> "],
        ),
        ("count name:陳大文", &["\r\n1\r\n", "reach> "]),
        ("save webbies channel:web", &["saved @webbies", "reach> "]),
        ("unsave webbies", &["removed @webbies", "reach> "]),
        ("count @webbies", &["error:", "webbies", "reach> "]),
    ];
    run(&mut p, lines)?;

    // \o sends the output to a file; \o alone brings it back.
    p.send_line(&format!("\\o {}", out.display()))?;
    p.exp_string("output goes to")?;
    p.exp_string("reach> ")?;
    p.send_line("count channel:line")?;
    p.exp_string(" ms)")?;
    p.exp_string("reach> ")?;
    p.send_line("\\o")?;
    p.exp_string("output goes to the terminal")?;
    let written = std::fs::read_to_string(&out).expect("\\o wrote the file");
    assert!(written.trim().parse::<u64>().is_ok(), "{written:?}");
    p.send_line(&format!("\\i {}", script.display()))?;
    p.exp_string("reach> count channel:web")?;
    p.exp_string("shop.example.com")?;
    p.exp_string("reach> ")?;

    // A flag's value completes from its values, not from the segment's fields.
    let pause = || std::thread::sleep(std::time::Duration::from_millis(300));
    p.send("tags --sort cr\t")?;
    p.flush()?;
    pause();
    p.send_line(" --format csv")?;
    p.exp_string("tag,contacts,created")?;
    p.exp_string(" ms)")?;
    p.exp_string("reach> ")?;
    // A second Tab lists the candidates.
    p.send("count is:\t")?;
    p.flush()?;
    pause();
    p.send("\t")?;
    p.flush()?;
    let listed = p.exp_string("is:app91_bound")?;
    assert!(
        listed.contains("is:fb_sendable") && listed.contains("is:over_quota"),
        "{listed}"
    );
    p.send_control('u')?;
    p.flush()?;
    pause();
    p.send_line("count")?;
    p.exp_regex(r"\r\n\d+\r\n")?;
    p.exp_string(" ms)")?;
    p.exp_string("reach> ")?;

    // The time spent at the question is not the command's.
    p.send_line("tag add waited channel:web")?;
    p.exp_string("Go on? [y/N]")?;
    std::thread::sleep(std::time::Duration::from_millis(1200));
    p.send_line("y")?;
    let (_, took) = p.exp_regex(r"\((\d+\.\d) ms\)")?;
    let ms: f64 = took
        .trim_matches(|c: char| !c.is_ascii_digit() && c != '.')
        .parse()
        .expect("ms");
    assert!(ms < 1000.0, "the prompt's wait was counted: {took}");
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

/// The seed's columns for a tab come before an identity column that says the same on
/// every row: at 80 columns a LINE list keeps its tags, at 160 a web list keeps joined and
/// member_id; a file under `\o` gets every column (issue 27).
#[test]
fn lists_keep_the_tabs_columns_and_files_get_them_all() -> Result<(), rexpect::error::Error> {
    let dir = loaded_dir();
    let file = dir.path().join("rows.txt");
    let header = |table: &str| {
        (table.lines())
            .find(|l| l.contains("status"))
            .unwrap_or("")
            .to_string()
    };
    let mut p = repl_at(dir.path(), 80)?;
    p.send_line("list channel:line tag:vip --limit 5")?;
    let narrow = header(&utf8(&p.exp_string("reach> ")?));
    for column in ["name", "tags", "interaction", "bound", "joined", "status"] {
        assert!(narrow.contains(column), "{column}: {narrow}");
    }
    assert!(!narrow.starts_with("channel"), "{narrow}");
    p.send_line(&format!("\\o {}", file.display()))?;
    p.exp_string("reach> ")?;
    p.send_line("list channel:line tag:vip --limit 5")?;
    p.exp_string("reach> ")?;
    p.send_line("\\o")?;
    p.exp_string("reach> ")?;
    let whole = header(&std::fs::read_to_string(&file).expect("the file"));
    for column in [
        "channel",
        "account",
        "customer_interaction_at",
        "subscribed_at",
    ] {
        assert!(whole.contains(column), "{column}: {whole}");
    }
    p.send_control('d')?;
    p.exp_eof()?;
    let mut p = repl_at(dir.path(), 160)?;
    p.send_line("list channel:web --limit 5")?;
    let wide = header(&utf8(&p.exp_string("reach> ")?));
    assert!(
        wide.contains("member_id") && wide.contains("subscribed_at"),
        "{wide}"
    );
    p.send_control('d')?;
    p.exp_eof()?;
    Ok(())
}

/// A deleted contact leaves no line naming it in the REPL's history: not the lines typed
/// in this session (by name, email, or a phone however written), nor a line an earlier
/// session left in the history file; the history file loses them at once, not at exit.
#[test]
fn the_history_forgets_deleted_contacts() -> Result<(), rexpect::error::Error> {
    let dir = loaded_dir();
    let data = dir.path().join("d");
    let changes = dir.path().join("quentin.jsonl");
    std::fs::write(
        &changes,
        concat!(
            r#"{"op":"upsert","contact":{"channel":"web","account":"shop","external_id":"visitor-zq81","name":"Quentin Erasable","email":"quentin@erase.example","phone":"+886912000111"}}"#,
            "\n"
        ),
    )
    .expect("changes");
    let out = crate::run_at(&data, &["apply", changes.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{out:?}");
    let file = dir.path().join("reach").join("history");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("state dir");
    std::fs::write(
        &file,
        "#V2\ncount tag:earlier\ncontact web/shop/visitor-zq81\n",
    )
    .expect("history");
    let mut p = repl_at(dir.path(), 120)?;
    let script: &[(&str, &[&str])] = &[
        ("count tag:vip", &["reach> "]),
        (
            "count 'name:\"Quentin Erasable\"'",
            &["\r\n1\r\n", "reach> "],
        ),
        (
            "count email:quentin@erase.example",
            &["\r\n1\r\n", "reach> "],
        ),
        ("count 'tag:\"+886 912-000-111\"'", &["reach> "]),
        (
            "delete email:quentin@erase.example --confirm DELETE",
            &["deleted 1 contact", "reach> "],
        ),
    ];
    run(&mut p, script)?;
    let now = std::fs::read_to_string(&file).expect("history file");
    assert!(!now.contains("visitor-zq81"), "{now}");
    assert!(now.contains("count tag:earlier"), "{now}");
    p.send_line("count tag:after")?;
    p.exp_string("reach> ")?;
    p.send_control('d')?;
    p.exp_eof()?;
    let kept = std::fs::read_to_string(&file).expect("history file");
    for gone in ["Quentin", "quentin", "visitor-zq81", "912-000-111"] {
        assert!(!kept.contains(gone), "{gone} in {kept}");
    }
    for line in ["count tag:earlier", "count tag:vip", "count tag:after"] {
        assert!(kept.contains(line), "{line} not in {kept}");
    }
    Ok(())
}
