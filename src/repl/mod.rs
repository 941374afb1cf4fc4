//! The REPL: type a segment to count it and see the first contacts, or a command
//! (`help` lists them). Line editing, history and completion come from rustyline.

mod helper;

use rustyline::error::ReadlineError;
use rustyline::{Config, Editor};

use crate::cli::args::Format;
use crate::cli::{Command, Context, execute};
use crate::error::Error;
use helper::ReachHelper;

const HISTORY_FILE: &str = "history.txt";

/// Runs the REPL until Ctrl-D or `quit`.
pub fn run(ctx: &mut Context) -> Result<(), Error> {
    ctx.interactive = true;
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<ReachHelper, _> =
        Editor::with_config(config).map_err(|e| Error::Io(e.to_string()))?;
    editor.set_helper(Some(ReachHelper::new(ctx)));
    let history = ctx.engine.dir().map(|d| d.join(HISTORY_FILE));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    eprintln!(
        "reach — {} contacts. Type a segment (e.g. tag:vip checkout:-30d..) or `help`. Ctrl-D quits.",
        ctx.engine.store().len()
    );
    loop {
        match editor.readline("reach> ") {
            Ok(line) => {
                if !handle(ctx, line.trim()) {
                    break;
                }
                if let Some(helper) = editor.helper_mut() {
                    helper.refresh(ctx);
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Io(e.to_string())),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Runs one line; false means leave.
fn handle(ctx: &mut Context, line: &str) -> bool {
    if line.is_empty() {
        return true;
    }
    if matches!(line, "quit" | "exit" | "\\q") {
        return false;
    }
    let started = std::time::Instant::now();
    let result = match command_words(line) {
        Some(words) => run_command(ctx, words),
        None => show_segment(ctx, line),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
    }
    eprintln!("({:.1} ms)", started.elapsed().as_secs_f64() * 1e3);
    true
}

/// The line split into words when it starts with a command name, `help` included.
fn command_words(line: &str) -> Option<Vec<String>> {
    let first = line.split_whitespace().next()?;
    let is_command = first == "help" || helper::COMMANDS.contains(&first);
    if !is_command || first.contains(':') {
        return None;
    }
    Some(shell_words(line))
}

fn run_command(ctx: &mut Context, mut words: Vec<String>) -> Result<(), Error> {
    if words[0] == "help" {
        words.remove(0);
        words.push("--help".into());
    }
    words.insert(0, "reach".into());
    let parsed = <crate::cli::Cli as clap::Parser>::try_parse_from(&words);
    match parsed {
        Ok(cli) => match cli.command {
            Some(command) => execute(ctx, command),
            None => Ok(()),
        },
        Err(e) => {
            let _ = e.print();
            Ok(())
        }
    }
}

/// A bare segment: its count and the first rows.
fn show_segment(ctx: &mut Context, line: &str) -> Result<(), Error> {
    let segment = crate::cli::query_compile(ctx, line)?;
    println!("{} contacts", ctx.engine.count(&segment));
    execute(
        ctx,
        Command::List {
            segment: line.to_string(),
            limit: 10,
            offset: 0,
            format: Format::Table,
        },
    )
}

/// Splits a line into words, honouring '…' and "…" quoting.
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
