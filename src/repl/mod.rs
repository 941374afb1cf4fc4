//! The REPL: type a segment to count it and see the first contacts, or a command
//! (`help` lists them). Line editing, history and completion come from rustyline.

mod helper;

pub use helper::COMMANDS;

use rustyline::error::ReadlineError;
use rustyline::{Config, Editor};

use crate::cli::args::Format;
use crate::cli::output::paint_error;
use crate::cli::{Command, Context, execute};
use crate::error::Error;
use helper::ReachHelper;

/// Where the REPL keeps its history: where shells keep theirs (`$XDG_STATE_HOME`, else
/// `~/.local/state`), never in the data directory, whose files hold only contact data
/// that a deletion can erase.
fn history_path() -> Option<std::path::PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".local/state"))
        })?;
    Some(state.join("reach").join("history"))
}

/// Runs the REPL until Ctrl-D or `quit`.
pub fn run(ctx: &mut Context) -> Result<(), Error> {
    ctx.interactive = true;
    // Ctrl-C at the prompt is a key (rustyline cancels the line); during a command it is
    // a signal, which now stops long work instead of the whole REPL.
    let _ = ctrlc::set_handler(crate::cancel::request);
    let config = Config::builder().auto_add_history(true).build();
    let mut editor: Editor<ReachHelper, _> =
        Editor::with_config(config).map_err(|e| Error::Io(e.to_string()))?;
    editor.set_helper(Some(ReachHelper::new(ctx)));
    let history = history_path();
    if let Some(path) = &history {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.load_history(path);
    }
    let mut session = Session {
        timing: true,
        last: None,
    };
    note!(
        "reach — {} contacts. Type a segment (e.g. tag:vip checkout:-30d..), `more` for the next rows, `help`, `\\timing`. Ctrl-D quits.",
        ctx.engine.read().store().len()
    );
    loop {
        match editor.readline("reach> ") {
            Ok(line) => {
                // See what other processes changed since the last line.
                if let Err(e) = ctx.engine.refresh() {
                    note!("{}", paint_error(&format!("error: {e}")));
                }
                if !handle(ctx, &mut session, line.trim()) {
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

/// What the REPL remembers between lines.
struct Session {
    /// Show how long each line took (`\timing` toggles it).
    timing: bool,
    /// The last bare segment and how many of its rows were shown (for `more`).
    last: Option<(String, usize)>,
}

/// Rows a bare segment (and each `more`) shows.
const PAGE: usize = 10;

/// Runs one line; false means leave.
fn handle(ctx: &mut Context, session: &mut Session, line: &str) -> bool {
    if line.is_empty() {
        return true;
    }
    if matches!(line, "quit" | "exit" | "\\q") {
        return false;
    }
    if line == "\\timing" {
        session.timing = !session.timing;
        note!("timing is {}", if session.timing { "on" } else { "off" });
        return true;
    }
    let started = std::time::Instant::now();
    crate::cancel::reset();
    let result = match (line, command_words(line)) {
        ("more", _) => more(ctx, session),
        (_, Some(words)) => run_command(ctx, words),
        (_, None) => show_segment(ctx, session, line),
    };
    if let Err(e) = result {
        note!("{}", paint_error(&format!("error: {e}")));
    }
    if session.timing {
        note!("({:.1} ms)", started.elapsed().as_secs_f64() * 1e3);
    }
    true
}

/// The line split into words when it starts with a command name, `help` included.
fn command_words(line: &str) -> Option<Vec<String>> {
    let first = line.split_whitespace().next()?;
    let is_command = first == "help" || helper::COMMANDS.contains(&first);
    if !is_command || first.contains(':') {
        return None;
    }
    Some(segment_args(shell_words(line)))
}

/// Options that take a value (everything else starting with `--` is a switch).
const VALUE_OPTIONS: &[&str] = &[
    "--limit",
    "--offset",
    "--format",
    "-o",
    "--output",
    "--kind",
    "--confirm",
    "--batch",
    "--repeat",
    "--account",
    "--search",
    "--sort",
    "--page",
    "--page-size",
    "--create",
    "--delete",
    "--plan",
    "--purchased",
    "--used",
    "--reject",
    "--text",
    "--sink",
    "--channels",
    "--id",
    "--rate",
    "--payload",
    "--csv",
    "--durability",
];

/// Leading positional arguments before the segment, for commands that end in one.
fn positionals_before_segment(command: &str) -> Option<usize> {
    match command {
        "count" | "list" | "explain" | "export" | "unsubscribe" | "resubscribe" | "delete"
        | "broadcast" => Some(0),
        "save" => Some(1),
        "tag" => Some(2),
        _ => None,
    }
}

/// Joins the words of a segment typed without quotes (`count tag:a channel:line`) into
/// one argument, keeping options and their values apart. Words outside the segment are
/// taken as a shell takes them (quotes removed); the segment keeps its double quotes,
/// which belong to the segment language (`tag:"雙11 會員"`).
fn segment_args(words: Vec<Word>) -> Vec<String> {
    let plain = |words: Vec<Word>| words.into_iter().map(|w| w.plain).collect();
    let Some(fixed) = words
        .first()
        .and_then(|c| positionals_before_segment(&c.plain))
    else {
        return plain(words);
    };
    let subcommand = ["jobs", "show", "resume", "cancel"];
    if words[0].plain == "broadcast"
        && words
            .get(1)
            .is_some_and(|w| subcommand.contains(&w.plain.as_str()))
    {
        return plain(words);
    }
    let mut out = vec![words[0].plain.clone()];
    let mut segment = Vec::new();
    let mut iter = words.into_iter().skip(1);
    while let Some(word) = iter.next() {
        if VALUE_OPTIONS.contains(&word.plain.as_str()) {
            out.push(word.plain);
            out.extend(iter.next().map(|w| w.plain));
        } else if word.plain.starts_with("--")
            || word.plain == "-y"
            || (out.len() <= fixed && segment.is_empty())
        {
            out.push(word.plain);
        } else {
            segment.push(word.raw);
        }
    }
    if !segment.is_empty() {
        out.push(segment.join(" "));
    }
    out
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
fn show_segment(ctx: &mut Context, session: &mut Session, line: &str) -> Result<(), Error> {
    let segment = crate::cli::query_compile(ctx, line)?;
    outln!("{} contacts", ctx.engine.count(&segment))?;
    session.last = Some((line.to_string(), PAGE));
    list_page(ctx, line, 0)
}

/// The next rows of the last bare segment.
fn more(ctx: &mut Context, session: &mut Session) -> Result<(), Error> {
    let Some((segment, shown)) = session.last.take() else {
        return Err(Error::Usage(
            "`more` shows the next rows of the last segment typed; type a segment first".into(),
        ));
    };
    session.last = Some((segment.clone(), shown + PAGE));
    list_page(ctx, &segment, shown)
}

fn list_page(ctx: &mut Context, segment: &str, offset: usize) -> Result<(), Error> {
    let list = Command::List {
        segment: segment.to_string(),
        limit: PAGE,
        offset,
        format: Format::Table,
    };
    execute(ctx, list)
}

/// One word of a line: as typed for a segment (double quotes kept, single quotes
/// removed), and as a shell reads it (all quotes removed, `\` escapes resolved).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub raw: String,
    pub plain: String,
}

/// Splits a line into words, grouping '…' and "…" as a shell does.
pub fn shell_words(line: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut word = Word::default();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some('"'), '\\') => {
                let next = chars.next().unwrap_or('\\');
                word.raw.push(c);
                word.raw.push(next);
                word.plain.push(next);
            }
            (Some(q), c) if c == q => {
                if q == '"' {
                    word.raw.push(c);
                }
                quote = None;
            }
            (Some(_), c) => {
                word.raw.push(c);
                word.plain.push(c);
            }
            (None, '\'' | '"') => {
                if c == '"' {
                    word.raw.push(c);
                }
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
                word.raw.push(c);
                word.plain.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        command_words(line).unwrap_or_default()
    }

    #[test]
    fn unquoted_segments_become_one_argument() {
        assert_eq!(
            args("count tag:a channel:line"),
            ["count", "tag:a channel:line"]
        );
        assert_eq!(
            args("count tag:\"雙11 會員\" -is:blocked"),
            ["count", "tag:\"雙11 會員\" -is:blocked"]
        );
        assert_eq!(
            args("list 'tag:a or tag:b' --limit 5"),
            ["list", "--limit", "5", "tag:a or tag:b"]
        );
        assert_eq!(
            args("tag add vip checkout:-30d.. has:email -y"),
            ["tag", "add", "vip", "-y", "checkout:-30d.. has:email"]
        );
        assert_eq!(
            args("save buyers checkout:-30d.."),
            ["save", "buyers", "checkout:-30d.."]
        );
        assert_eq!(
            args("unsubscribe tag:x --kind cart"),
            ["unsubscribe", "--kind", "cart", "tag:x"]
        );
        assert_eq!(args("stats --memory"), ["stats", "--memory"]);
        assert_eq!(
            args("broadcast tag:vip -tag:churned --kind broadcast --text 'Hi there' --yes"),
            [
                "broadcast",
                "--kind",
                "broadcast",
                "--text",
                "Hi there",
                "--yes",
                "tag:vip -tag:churned"
            ]
        );
        assert_eq!(
            args("broadcast resume spring-1"),
            ["broadcast", "resume", "spring-1"]
        );
        assert!(command_words("tag:vip").is_none());
    }
}
