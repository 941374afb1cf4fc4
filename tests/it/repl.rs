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

    p.send_line("channel:web")?;
    p.exp_regex(r"\d+ contacts")?;
    p.exp_string("10 of ")?;
    p.exp_string("(from 1)")?;
    p.send_line("more")?;
    p.exp_string("(from 11)")?;
    p.send_line("\\timing")?;
    p.exp_string("timing is off")?;
    p.send_line("\\timing")?;
    p.exp_string("timing is on")?;
    p.exp_string("reach> ")?;

    p.send_line("tg:vip")?;
    p.exp_string("error:")?;
    p.exp_string("did you mean 'tag'?")?;
    p.exp_string("^^")?;
    p.exp_string("reach> ")?;

    p.send("count is:unsub\t")?;
    p.send_line("")?;
    p.exp_regex(r"\r\n\d+\r\n")?;
    p.exp_string("reach> ")?;

    p.send_line("tag add nope channel:web")?;
    p.exp_string("Go on? [y/N]")?;
    p.send_line("n")?;
    p.exp_string("cancelled; nothing changed")?;
    p.send_line("count tag:nope")?;
    p.exp_string("\r\n0\r\n")?;
    p.send_line("tag add yes channel:web")?;
    p.exp_string("Go on? [y/N]")?;
    p.send_line("y")?;
    p.exp_string("contact(s) changed")?;

    p.send_line("unsubscribe channel:instagram --yes")?;
    p.exp_string("contact(s) changed")?;
    p.send_line("count optout:broadcast channel:instagram -is:blocked")?;
    p.exp_regex(r"\r\n[1-9]\d*\r\n")?;
    p.send_line("resubscribe channel:instagram --yes")?;
    p.exp_string("contact(s) changed")?;
    p.send_line("count optout:broadcast channel:instagram")?;
    p.exp_string("\r\n0\r\n")?;

    p.send_line("delete channel:web")?;
    p.exp_string("Type DELETE to confirm:")?;
    p.send_line("delete")?;
    p.exp_string("nothing was deleted")?;
    p.send_line("count channel:web")?;
    p.exp_regex(r"\r\n[1-9]\d*\r\n")?;

    p.send_line("delete channel:web")?;
    p.exp_string("Type DELETE to confirm:")?;
    p.send_line("DELETE")?;
    p.exp_string("deleted")?;
    p.send_line("count channel:web")?;
    p.exp_string("\r\n0\r\n")?;

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
