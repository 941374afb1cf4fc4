//! Tab completion for the REPL: commands, field names, `is:`/`has:`/`optout:` values,
//! channels, account ids, tags (quoted when needed) and saved segment names.

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context as LineContext, Helper};

use crate::cli::Context;
use crate::model::{Channel, OptOutKind};
use crate::plan::{FIELDS, PRESENCE, STATES};

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
    "save",
    "segments",
    "broadcast",
    "apply",
    "compact",
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

    /// Candidates for the word `word` (the text since the last separator).
    pub fn candidates(&self, word: &str, first_word: bool) -> Vec<String> {
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
        let first_word = before[..start].trim().is_empty();
        let pairs = self
            .candidates(&before[start..], first_word)
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

impl Validator for ReachHelper {}

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
        assert_eq!(h.candidates("tag", false), ["tag:"]);
        assert!(h.candidates("co", true).contains(&"count".to_string()));
        assert_eq!(h.candidates("is:sub", false), ["is:subscribed"]);
        assert_eq!(h.candidates("tag:雙", false), ["tag:\"雙11 會員\""]);
        assert_eq!(h.candidates("-tag:v", false), ["-tag:vip"]);
        assert_eq!(h.candidates("@vip", false), ["@vip_buyers"]);
        assert_eq!(h.candidates("account:l", false), ["account:line-tw"]);
    }
}
