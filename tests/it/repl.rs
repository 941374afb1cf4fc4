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
