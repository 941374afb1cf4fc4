//! What the REPL's history never keeps. A webhook URL's password: a line is kept with it
//! hidden, as a job keeps it. Deleted contacts: once a `delete` is done, every history
//! line that names one of its contacts — a word equal to its external id, a word of its
//! name, its email or another text field, or (ignoring spaces, dashes and the like) the
//! digits of a phone — is dropped, in memory and in the history file. Over-erasing a line
//! that only shares a word is the price of never keeping one.

use std::collections::HashSet;
use std::path::Path;

use rustyline::history::{FileHistory, History};

/// `line` as the history keeps it: each `webhook:` URL's password hidden.
pub fn kept_line(line: &str) -> String {
    let Some(at) = line.find("webhook:") else {
        return line.to_string();
    };
    let end = line[at..]
        .find(char::is_whitespace)
        .map_or(line.len(), |n| at + n);
    let url = reach::broadcast::kept_spelling(&line[at..end]);
    format!("{}{url}{}", &line[..at], kept_line(&line[end..]))
}

/// The fewest digits a value needs to be looked for as a phone number.
const PHONE_DIGITS: usize = 8;
/// The most digits a phone number has (E.164).
const MAX_PHONE_DIGITS: usize = 15;

/// What names the erased contacts.
pub struct Names {
    words: HashSet<String>,
    phones: HashSet<String>,
}

impl Names {
    /// From the erased contacts' external ids, names and text fields.
    pub fn new(values: &[String]) -> Names {
        let words = values.iter().flat_map(|v| words(v)).collect();
        let phones = (values.iter())
            .filter(|v| v.chars().all(|c| c.is_ascii_digit() || phone_mark(c)))
            .map(|v| digits(v))
            .filter(|d| d.len() >= PHONE_DIGITS)
            .collect();
        Names { words, phones }
    }

    /// Whether `line` names one of them.
    pub fn in_line(&self, line: &str) -> bool {
        if words(line).any(|w| self.words.contains(&w)) {
            return true;
        }
        let digits = digits(line);
        (PHONE_DIGITS..=MAX_PHONE_DIGITS.min(digits.len()))
            .any(|n| (0..=digits.len() - n).any(|at| self.phones.contains(&digits[at..at + n])))
    }
}

/// Drops the lines naming `erased` contacts from `history` and from its `file`.
pub fn forget(history: &mut FileHistory, erased: &[String], file: Option<&Path>) {
    let names = Names::new(erased);
    let kept: Vec<String> = (history.iter())
        .filter(|line| !names.in_line(line))
        .cloned()
        .collect();
    if kept.len() < history.len() {
        let _ = history.clear();
        for line in kept {
            let _ = history.add_owned(line);
        }
    }
    // The file may hold lines of other sessions this one never loaded.
    if let Some(file) = file
        && let Ok(text) = std::fs::read_to_string(file)
        && text.lines().any(|line| names.in_line(line))
    {
        let kept: String = (text.lines())
            .filter(|line| !names.in_line(line))
            .flat_map(|line| [line, "\n"])
            .collect();
        let _ = std::fs::write(file, kept);
    }
}

/// A text's words, lower-cased: split at spaces, quotes and the segment language's
/// punctuation, keeping what ids, emails and phones are made of (`@ . + - _`).
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || "'\"`:,;=()[]{}<>/\\|*!?&".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Characters a phone number is written with between its digits.
fn phone_mark(c: char) -> bool {
    matches!(c, '+' | '-' | '.' | ' ' | '(' | ')')
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_line_hides_every_webhook_password() {
        let line = "broadcast tag:vip --text hi --sink webhook:https://ann:s3cret@h.example/x and webhook:http://bo:pw2@k";
        let kept = kept_line(line);
        assert!(!kept.contains("s3cret") && !kept.contains("pw2"), "{kept}");
        assert!(
            kept.contains("webhook:https://ann:[hidden]@h.example/x"),
            "{kept}"
        );
        assert!(kept.contains("webhook:http://bo:[hidden]@k"), "{kept}");
        assert_eq!(kept_line("tag:vip webhook:"), "tag:vip webhook:");
        assert_eq!(kept_line("count tag:vip"), "count tag:vip");
    }

    fn names() -> Names {
        let erased = ["U4f2a9", "Alice Chen", "+886912345678", "alice@example.com"];
        Names::new(&erased.map(String::from))
    }

    #[test]
    fn lines_naming_an_erased_contact_by_any_of_its_fields_are_found() {
        let names = names();
        for line in [
            "contact line/line-tw/U4F2A9",
            "count name:\"alice chen\"",
            "list 'name:Chen' --limit 3",
            "count phone:+886912345678",
            "add-whatsapp 'Someone' '+886 912-345-678'",
            "list email:alice@example.com",
            "delete email:ALICE@example.com",
        ] {
            assert!(names.in_line(line), "{line}");
        }
    }

    #[test]
    fn other_lines_are_kept() {
        let names = names();
        for line in [
            "count tag:vip",
            "list name:bob --limit 10",
            "count phone:+886912345679",
            "count email:alice@example.org",
            "",
        ] {
            assert!(!names.in_line(line), "{line}");
        }
    }

    #[test]
    fn the_history_and_its_file_lose_the_lines_and_keep_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("history");
        let mut history = FileHistory::new();
        for line in ["count tag:vip", "list name:Alice", "count"] {
            history.add(line).expect("added");
        }
        history.save(&file).expect("saved");
        let earlier = std::fs::read_to_string(&file).expect("file");
        std::fs::write(&file, format!("{earlier}contact web/shop/U4f2a9\n")).expect("write");
        forget(
            &mut history,
            &["U4f2a9".into(), "Alice".into()],
            Some(&file),
        );
        let lines: Vec<&String> = history.iter().collect();
        assert_eq!(lines, ["count tag:vip", "count"]);
        let text = std::fs::read_to_string(&file).expect("file");
        assert!(
            !text.contains("Alice") && !text.contains("U4f2a9"),
            "{text}"
        );
        assert!(text.contains("count tag:vip"), "{text}");
        history.save(&file).expect("saved again");
        let text = std::fs::read_to_string(&file).expect("file");
        assert!(!text.contains("Alice"), "{text}");
    }
}
