//! Tab completion for the REPL: commands, field names, `is:`/`has:`/`optout:` values,
//! channels, account ids, tags (quoted when needed) and saved segment names.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context as LineContext, Helper};

use crate::cli::Context;
use reach::model::{Channel, OptOutKind};
use reach::plan::{FIELDS, PRESENCE, STATES};

/// Command names the REPL knows (a line starting with one runs it).
pub const COMMANDS: &[&str] = &[
    "count",
    "list",
    "explain",
    "export",
    "import",
    "stats",
    "quota",
    "tags",
    "tag",
    "unsubscribe",
    "resubscribe",
    "delete",
    "add-whatsapp",
    "show",
    "save",
    "unsave",
    "segments",
    "broadcast",
    "apply",
    "compact",
    "sql",
    "gen",
    "help",
    "quit",
];
/// What completion offers, refreshed after each command.
pub struct ReachHelper {
    tags: Vec<String>,
    accounts: Vec<String>,
    saved: Vec<String>,
}

impl ReachHelper {
    pub fn new(ctx: &Context) -> ReachHelper {
        let mut helper = ReachHelper {
            tags: Vec::new(),
            accounts: Vec::new(),
            saved: Vec::new(),
        };
        helper.refresh(ctx);
        helper
    }

    /// Re-reads tags, accounts and saved segments.
    pub fn refresh(&mut self, ctx: &Context) {
        let view = ctx.engine.read();
        let store = view.store();
        self.tags = store.tags().iter().map(|t| t.name.to_string()).collect();
        self.accounts = store.accounts().map(|a| a.id.to_string()).collect();
        self.accounts.sort();
        self.accounts.dedup();
        self.saved = view.saved_segments().keys().cloned().collect();
    }

    /// Candidates for the word `word` (the text since the last separator), after the
    /// words `before` on the line.
    pub fn candidates(&self, word: &str, before: &[&str]) -> Vec<String> {
        match (before.first(), before.last()) {
            (Some(command), Some(option)) if option.starts_with('-') => {
                if let Some(values) = option_values(command, before.get(1), option) {
                    return values.into_iter().filter(|v| v.starts_with(word)).collect();
                }
            }
            _ => {}
        }
        match before.first() {
            Some(command) if word.starts_with("--") => options(command, before.get(1))
                .into_iter()
                .filter(|o| o.starts_with(word))
                .collect(),
            _ => self.segment_candidates(word, before.is_empty()),
        }
    }

    /// Candidates for a word of a segment (or the line's first word).
    fn segment_candidates(&self, word: &str, first_word: bool) -> Vec<String> {
        let (prefix, word) = match word.find(|c: char| c != '-' && c != '!') {
            Some(i) => word.split_at(i),
            None => (word, ""),
        };
        let starts = |c: &&&str| c.to_lowercase().starts_with(&word.to_lowercase());
        let with = |items: Vec<String>| items.into_iter().map(|i| format!("{prefix}{i}")).collect();
        if let Some(saved) = word.strip_prefix('@') {
            return with(
                self.saved
                    .iter()
                    .filter(|s| s.starts_with(saved))
                    .map(|s| format!("@{s}"))
                    .collect(),
            );
        }
        let Some((field, value)) = word.split_once(':') else {
            let mut out: Vec<String> = FIELDS
                .iter()
                .filter(starts)
                .map(|s| format!("{s}:"))
                .collect();
            if first_word {
                out.extend(COMMANDS.iter().filter(starts).map(|s| s.to_string()));
            }
            return with(out);
        };
        let values: Vec<String> = match field.to_lowercase().as_str() {
            "is" => STATES.iter().map(|s| s.to_string()).collect(),
            "has" => PRESENCE.iter().map(|s| s.to_string()).collect(),
            "optout" => OptOutKind::ALL
                .iter()
                .map(|k| k.name().to_string())
                .collect(),
            "channel" => Channel::ALL.iter().map(|c| c.name().to_string()).collect(),
            "account" => self.accounts.clone(),
            "tag" => self.tags.clone(),
            _ => Vec::new(),
        };
        let typed = value.trim_start_matches('"');
        with(
            values
                .into_iter()
                .filter(|v| v.starts_with(typed))
                .map(|v| format!("{field}:{}", quote_if_needed(&v)))
                .collect(),
        )
    }
}

/// The clap command a REPL line's first words name (`broadcast resume` included).
fn command_of(command: &str, second: Option<&&str>) -> Option<clap::Command> {
    let root = <crate::cli::Cli as clap::CommandFactory>::command();
    let top = root.find_subcommand(command)?.clone();
    Some(match second.and_then(|s| top.find_subcommand(s)) {
        Some(sub) => sub.clone(),
        None => top,
    })
}

/// The `--long` options of a command.
fn options(command: &str, second: Option<&&str>) -> Vec<String> {
    let Some(command) = command_of(command, second) else {
        return Vec::new();
    };
    command
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|long| format!("--{long}"))
        .chain(["--help".to_string()])
        .collect()
}

/// What may follow `option` (the word before the cursor): its possible values, nothing
/// for an option with free values (a number, a file), None when `option` is a switch.
fn option_values(command: &str, second: Option<&&str>, option: &str) -> Option<Vec<String>> {
    let command = command_of(command, second)?;
    let long = option.strip_prefix("--")?;
    let arg = command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))?;
    if !arg.get_action().takes_values() {
        return None;
    }
    if long == "sink" {
        return Some(SINKS.iter().map(|s| s.to_string()).collect());
    }
    Some(
        arg.get_possible_values()
            .iter()
            .map(|v| v.get_name().to_string())
            .collect(),
    )
}

/// The sinks a broadcast can send through (`jsonl:` and `webhook:` take a target).
const SINKS: &[&str] = &["platform", "jsonl:", "webhook:", "dry-run"];

/// Quotes a value that cannot be a bare word.
fn quote_if_needed(value: &str) -> String {
    let bare = value
        .chars()
        .all(|c| !c.is_whitespace() && !matches!(c, '(' | ')' | '"' | ',' | '|' | '&' | '\\'));
    if bare {
        value.to_string()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl Completer for ReachHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &LineContext<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == '(')
            .map_or(0, |i| i + 1);
        let words: Vec<&str> = before[..start].split_whitespace().collect();
        let pairs = self
            .candidates(&before[start..], &words)
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReachHelper {
    type Hint = String;
}

impl Highlighter for ReachHelper {}

/// A line with a parenthesis or a double quote left open goes on on the next line.
impl Validator for ReachHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_open(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// Whether `text` leaves a double quote or a parenthesis open (outside quotes).
fn is_open(text: &str) -> bool {
    let (mut depth, mut quoted, mut escaped) = (0i64, false, false);
    for c in text.chars() {
        match (quoted, c) {
            (true, _) if escaped => escaped = false,
            (true, '\\') => escaped = true,
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, '(') => depth += 1,
            (false, ')') => depth -= 1,
            _ => {}
        }
    }
    quoted || depth > 0
}

impl Helper for ReachHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReachHelper {
        ReachHelper {
            tags: vec!["vip".into(), "雙11 會員".into()],
            accounts: vec!["line-tw".into()],
            saved: vec!["vip_buyers".into()],
        }
    }

    #[test]
    fn completes_fields_values_tags_and_saved() {
        let h = helper();
        let segment = &["count"];
        assert_eq!(h.candidates("tag", segment), ["tag:"]);
        assert!(h.candidates("co", &[]).contains(&"count".to_string()));
        assert!(!h.candidates("co", segment).contains(&"count".to_string()));
        assert_eq!(h.candidates("is:sub", segment), ["is:subscribed"]);
        assert_eq!(h.candidates("tag:雙", segment), ["tag:\"雙11 會員\""]);
        assert_eq!(h.candidates("-tag:v", segment), ["-tag:vip"]);
        assert_eq!(h.candidates("@vip", segment), ["@vip_buyers"]);
        assert_eq!(h.candidates("account:l", segment), ["account:line-tw"]);
    }

    #[test]
    fn every_command_of_the_command_line_is_a_repl_command() {
        let cli = <crate::cli::Cli as clap::CommandFactory>::command();
        for command in cli.get_subcommands().map(|c| c.get_name()) {
            let known = COMMANDS.contains(&command) || ["repl", "demo", "serve"].contains(&command);
            assert!(known, "{command} is missing from COMMANDS");
        }
    }

    #[test]
    fn completes_option_names_and_values() {
        let h = helper();
        let broadcast = &["broadcast", "tag:vip", "--kind"];
        assert_eq!(h.candidates("s", broadcast), ["site_marketing"]);
        assert_eq!(h.candidates("", broadcast).len(), 5);
        assert_eq!(
            h.candidates("s", &["unsubscribe", "tag:a", "--kind"]),
            ["site_marketing"]
        );
        assert_eq!(
            h.candidates("", &["tags", "--sort"]),
            ["count", "created", "name"]
        );
        assert_eq!(h.candidates("j", &["list", "tag:a", "--format"]), ["json"]);
        assert_eq!(
            h.candidates("j", &["broadcast", "tag:a", "--sink"]),
            ["jsonl:"]
        );
        assert_eq!(h.candidates("s", &["apply", "--durability"]), ["sync"]);
        // A number or a file: nothing to offer, and no field names either.
        assert!(h.candidates("", &["list", "tag:a", "--limit"]).is_empty());
        // A switch: the segment goes on.
        assert_eq!(h.candidates("is:bl", &["delete", "--yes"]), ["is:blocked"]);
        assert_eq!(h.candidates("--li", &["list"]), ["--limit"]);
        assert!(
            h.candidates("--", &["broadcast", "resume"])
                .contains(&"--resend-uncertain".to_string())
        );
    }
}
