//! The REPL: type a segment to count it and see the first contacts, or a command
//! (`help` lists them). Line editing, history and completion come from rustyline.
//!
//! A line is split into words as a shell does, then parsed by the command line's own clap
//! grammar; backslash commands, `more`, did-you-mean; scripts (`-c`, `-f`) run lines the
//! same way. `helper.rs` completes a word given the words before it (option values from
//! clap's possible values). `forget.rs` keeps webhook passwords and deleted contacts out
//! of the history.

mod forget;
mod helper;

pub use helper::COMMANDS;

use rustyline::error::ReadlineError;
use rustyline::{CompletionType, Config, Editor};

use crate::cli::args::Format;
use crate::cli::output::{count_of, paint_error};
use crate::cli::{Command, Context, Script, execute};
use helper::ReachHelper;
use reach::error::Error;

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

/// Audiences up to this size get their lazy indexes built as the REPL opens: at a million
/// contacts the prompt appears 0.25–0.43 s after start with them (BENCHMARKS.md, "REPL"),
/// at ten million building them took the prompt from 0.7 s to 6.8 s.
const EAGER_INDEXES_UP_TO: u64 = 1_000_000;

/// Runs the REPL until Ctrl-D or `quit`.
pub fn run(ctx: &mut Context) -> Result<(), Error> {
    ctx.interactive = true;
    // Ctrl-C at the prompt is a key (rustyline cancels the line); during a command it is
    // a signal, which now stops long work instead of the whole REPL.
    let _ = ctrlc::set_handler(reach::cancel::request);
    // A first Tab completes what is common, a second lists the candidates.
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ReachHelper, _> = Editor::with_config(config).map_err(readline_error)?;
    editor.set_helper(Some(ReachHelper::new(ctx)));
    let history = history_path();
    if let Some(path) = &history {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.load_history(path);
    }
    // The first `name:` or `email:` would build its index; on a small audience that
    // is done now, so every answer is as fast as the next (a big one opens at once).
    if ctx.engine.read().store().len() <= EAGER_INDEXES_UP_TO {
        ctx.engine.read().store().build_indexes();
    }
    let mut session = Session::default();
    note!(
        "reach — {} contacts. Type a segment (e.g. tag:vip checkout:-30d..), `more` for the next rows, `help`, `\\?`. Ctrl-D quits.",
        ctx.engine.read().store().len()
    );
    loop {
        match editor.readline("reach> ") {
            Ok(line) => {
                let _ = editor.add_history_entry(forget::kept_line(&line));
                // See what other processes changed since the last line.
                if let Err(e) = ctx.engine.refresh() {
                    note!("{}", paint_error(&format!("error: {e}")));
                }
                let go_on = handle(ctx, &mut session, &one_line(&line));
                if !ctx.erased.is_empty() {
                    let erased = std::mem::take(&mut ctx.erased);
                    forget::forget(editor.history_mut(), &erased, history.as_deref());
                }
                if !go_on {
                    break;
                }
                if let Some(helper) = editor.helper_mut() {
                    helper.refresh(ctx);
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(readline_error(e)),
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
    /// How a bare segment's rows are shown (`\format`).
    format: Format,
    /// Whether the last line failed.
    failed: bool,
    /// How many `\i` files are being read, one inside the other.
    includes: usize,
}

/// How deep `\i` files may include each other (a file that includes itself stops here).
const MAX_INCLUDES: usize = 16;

impl Default for Session {
    fn default() -> Self {
        Session {
            timing: true,
            last: None,
            format: Format::Table,
            failed: false,
            includes: 0,
        }
    }
}

/// A line typed over several lines (a parenthesis or a quote left open) as one.
fn one_line(line: &str) -> String {
    line.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_string()
}

/// Runs lines given on the command line (`-c`) or read from a file (`-f`), as if typed;
/// with `stop_on_error`, the first failing line ends the run. Fails if any line failed.
pub fn run_script(ctx: &mut Context, script: &Script) -> Result<(), Error> {
    let mut session = Session {
        timing: false,
        ..Session::default()
    };
    let mut failed = Vec::new();
    for (number, line) in (1..).zip(&script.lines) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        ctx.engine.refresh()?;
        session.failed = false;
        let go_on = handle(ctx, &mut session, line);
        if session.failed {
            note!("  (in line {number}: {line})");
            failed.push(number.to_string());
        }
        if !go_on || (session.failed && script.stop_on_error) {
            break;
        }
    }
    if !failed.is_empty() {
        let lines = if failed.len() == 1 { "line" } else { "lines" };
        return Err(Error::Refused(format!(
            "{lines} {} of the script failed (see above)",
            failed.join(", ")
        )));
    }
    Ok(())
}

/// The line editor failed (the terminal): an I/O error, whatever its own type.
fn readline_error(e: ReadlineError) -> Error {
    let message = e.to_string();
    let source = match e {
        ReadlineError::Io(e) => e,
        other => std::io::Error::other(other),
    };
    Error::Io { message, source }
}

/// Rows a bare segment (and each `more`) shows.
const PAGE: usize = 10;

/// Runs one line; false means leave.
fn handle(ctx: &mut Context, session: &mut Session, line: &str) -> bool {
    if line.is_empty() {
        return true;
    }
    if matches!(line, "quit" | "exit" | "q" | "\\q") {
        return false;
    }
    let started = std::time::Instant::now();
    let waited = crate::cli::output::waited();
    reach::cancel::reset();
    let result = match (line, command_words(line)) {
        _ if line.starts_with('\\') => backslash(ctx, session, line),
        ("more", _) => more(ctx, session),
        ("help segments", _) => outln!("{}", SEGMENTS_HELP),
        (_, Some(words)) => run_command(ctx, words),
        (_, None) => match mistyped_command(line) {
            Some(e) => Err(e),
            None => show_segment(ctx, session, line),
        },
    };
    if let Err(e) = result {
        session.failed = true;
        note!("{}", paint_error(&format!("error: {e}")));
    }
    if session.timing && !line.starts_with('\\') {
        // The time spent waiting at a question (Go on? Type DELETE…) is not the command's.
        let asked = crate::cli::output::waited().saturating_sub(waited);
        let took = started.elapsed().saturating_sub(asked);
        note!("({:.1} ms)", took.as_secs_f64() * 1e3);
    }
    true
}

/// A first word that is no segment term but is near a command's name: a typo.
fn mistyped_command(line: &str) -> Option<Error> {
    let first = line.split_whitespace().next()?;
    let word_like = first
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if first.contains(':') || !word_like || ["not", "and", "or"].contains(&&*first.to_lowercase()) {
        return None;
    }
    let near = reach::suggest::closest(first, COMMANDS)?;
    Some(Error::Usage(format!(
        "unknown command '{first}': did you mean '{near}'? (`help` lists the commands; a segment is field:value, e.g. tag:{first})"
    )))
}

/// The backslash commands: `\?`, `\timing`, `\x`, `\format`, `\o`, `\i`.
fn backslash(ctx: &mut Context, session: &mut Session, line: &str) -> Result<(), Error> {
    let (command, argument) = line
        .split_once(' ')
        .map_or((line, ""), |(c, a)| (c, a.trim()));
    match command {
        "\\?" => outln!("{}", BACKSLASH_HELP),
        "\\timing" => {
            session.timing = !session.timing;
            note!("timing is {}", if session.timing { "on" } else { "off" });
            Ok(())
        }
        "\\x" => {
            let on = crate::cli::output::toggle_expanded();
            note!("expanded display is {}", if on { "on" } else { "off" });
            Ok(())
        }
        "\\format" => {
            session.format = match argument {
                "table" => Format::Table,
                "csv" => Format::Csv,
                "json" => Format::Json,
                other => {
                    return Err(Error::Usage(format!(
                        "\\format {other}: use table, csv or json"
                    )));
                }
            };
            note!("rows show as {argument}");
            Ok(())
        }
        "\\o" if argument.is_empty() => {
            crate::cli::output::redirect(None);
            note!("output goes to the terminal");
            Ok(())
        }
        "\\o" => {
            let file = ctx.create_output(std::path::Path::new(argument))?;
            crate::cli::output::redirect(Some(file));
            note!("output goes to {argument} (\\o alone: back to the terminal)");
            Ok(())
        }
        "\\i" if session.includes >= MAX_INCLUDES => Err(Error::Usage(format!(
            "\\i {argument}: files include each other more than {MAX_INCLUDES} deep"
        ))),
        "\\i" => {
            let text = std::fs::read_to_string(argument)
                .map_err(|e| Error::io(format!("cannot read {argument}"), e))?;
            for line in text.lines().map(str::trim) {
                if !line.is_empty() && !line.starts_with('#') {
                    note!("reach> {line}");
                    session.includes += 1;
                    handle(ctx, session, line);
                    session.includes -= 1;
                }
            }
            Ok(())
        }
        other => Err(Error::Usage(format!(
            "unknown command {other}: \\? lists them"
        ))),
    }
}

const BACKSLASH_HELP: &str = "\\?              this list
\\timing         show how long each line takes (on/off)
\\x              one record per block instead of tables (on/off)
\\format FORMAT  how a segment's rows show: table, csv or json
\\o FILE         write the output to FILE (\\o alone: back to the terminal)
\\i FILE         run the lines of FILE
\\q              leave (also q, quit, exit, Ctrl-D)
help            the commands; help COMMAND for one; help segments for the language
more            the next rows of the last segment";

const SEGMENTS_HELP: &str = "A segment picks contacts: field:value terms side by side mean AND.
  channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed
  (tag:vip or tag:gold) interaction:-90d.. -is:over_quota
Operators   or | ||    and & && (or nothing)    not - !    ( )    a comma list: channel:line,whatsapp
Fields      channel account id (external_id) name tag email phone member_id store salesperson
            checkout interaction team_interaction marketing joined   (time filters)
            optout:broadcast|site_marketing|cart
            is:subscribed|unsubscribed|blocked|bound|over_quota|fb_optin|fb_sendable|app91_bound
            has:email|phone|member_id|store|salesperson|tag|checkout|interaction|team_interaction|marketing
Times       -30d.. <-90d >=2024-03 2024-01-01..2024-06-30 2024-05-01T10:30 today never now
            units: s min h d w mo y; dates without an offset are read in --tz
Values      quote with \"…\" for spaces or , | & ( ): tag:\"雙11 會員\"
Saved       save NAME SEGMENT, then @NAME inside a segment; segments lists them, unsave NAME";

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
    "--dialect",
    "--table",
    "--cluster",
    "--select",
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
        | "broadcast" | "sql" => Some(0),
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

/// `help` alone: the REPL's commands, one line each (the command line's usage, with its
/// `--data` and script options, is not the REPL's).
fn repl_help() -> String {
    let cli = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = String::from("Commands (help COMMAND for one):\n");
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        if helper::COMMANDS.contains(&name) && name != "help" {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            out.push_str(&format!("  {name:<14}  {about}\n"));
        }
    }
    out.push_str(
        "A line that is no command is a segment: its count and first rows (`more`: the next).\n",
    );
    out.push_str(BACKSLASH_HELP);
    out
}

fn run_command(ctx: &mut Context, mut words: Vec<String>) -> Result<(), Error> {
    if words.len() == 1 && words[0] == "help" {
        return outln!("{}", repl_help());
    }
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
        Err(e) if e.use_stderr() => {
            let message = e.render().to_string();
            let message = message.trim().trim_start_matches("error: ");
            Err(Error::Usage(message.to_string()))
        }
        Err(e) => {
            let _ = e.print();
            Ok(())
        }
    }
}

/// A bare segment: its count and the first rows.
fn show_segment(ctx: &mut Context, session: &mut Session, line: &str) -> Result<(), Error> {
    let segment = crate::cli::query_compile(ctx, line)?;
    outln!("{}", count_of(ctx.engine.count(&segment), "contact"))?;
    session.last = Some((line.to_string(), PAGE));
    list_page(ctx, line, 0, session.format)
}

/// The next rows of the last bare segment.
fn more(ctx: &mut Context, session: &mut Session) -> Result<(), Error> {
    let Some((segment, shown)) = session.last.take() else {
        return Err(Error::Usage(
            "`more` shows the next rows of the last segment typed; type a segment first".into(),
        ));
    };
    session.last = Some((segment.clone(), shown + PAGE));
    let total = ctx.engine.count(&crate::cli::query_compile(ctx, &segment)?);
    if shown as u64 >= total {
        return outln!("no more: all {} shown", count_of(total, "contact"));
    }
    list_page(ctx, &segment, shown, session.format)
}

fn list_page(ctx: &mut Context, segment: &str, offset: usize, format: Format) -> Result<(), Error> {
    let list = Command::List {
        segment: segment.to_string(),
        limit: PAGE,
        offset,
        format,
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
