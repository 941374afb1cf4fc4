//! Output helpers: tables that fit the terminal, progress bars on a terminal only, and
//! questions asked on the terminal.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

/// The error for a failed write to stdout or a file: a closed pipe ends the command
/// quietly, anything else (a full disk) is reported.
pub fn write_error(e: std::io::Error) -> crate::error::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        crate::error::Error::Closed
    } else {
        crate::error::Error::Io(format!("cannot write the output: {e}"))
    }
}

/// Writes to stdout (see the `out!` macro).
pub fn out(args: std::fmt::Arguments) -> Result<(), crate::error::Error> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(write_error)
}

/// Writes to stderr, ignoring failure (see the `note!` macro).
pub fn note(args: std::fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args);
    let _ = err.flush();
}

/// "1 contact", "2 contacts".
pub fn count_of(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What the contact list's "Status" column says: blocked, unsubscribed or subscribed.
pub fn status(c: &crate::model::Contact) -> &'static str {
    if c.flag(crate::model::Flag::Blocked) {
        "blocked"
    } else if c.is_subscribed() {
        "subscribed"
    } else {
        "unsubscribed"
    }
}

/// A contact as one JSON object with typed values: every field, always the same keys
/// (booleans, arrays of tags and opt-outs, RFC 3339 times at `tz`, null for none).
pub fn contact_json(c: &crate::model::Contact, tz: chrono::FixedOffset) -> serde_json::Value {
    use crate::model::{Field, FieldKind};
    use serde_json::Value;
    let time = |t: Option<i64>| {
        t.map_or(Value::Null, |t| {
            crate::model::time::format_rfc3339_at(t, tz).into()
        })
    };
    let object: serde_json::Map<String, Value> = (Field::ALL.iter())
        .map(|field| {
            let value = match field.kind() {
                FieldKind::Identity => match field {
                    Field::Channel => c.channel.name().into(),
                    Field::Account => c.account.clone().into(),
                    _ => c.external_id.clone().into(),
                },
                FieldKind::Name => c.name.trim().into(),
                FieldKind::AvatarUrl if c.avatar_url.is_empty() => Value::Null,
                FieldKind::AvatarUrl => c.avatar_url.clone().into(),
                FieldKind::Tags => c.tags.clone().into(),
                FieldKind::OptOuts => c
                    .opt_outs
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .into(),
                FieldKind::FbFrequency => c.fb_frequency.map_or(Value::Null, |f| f.name().into()),
                FieldKind::Flag(flag) => c.flag(flag).into(),
                FieldKind::Time(t) => time(c.time(t)),
                FieldKind::Text(t) => c.text(t).map_or(Value::Null, Into::into),
            };
            (field.name().to_string(), value)
        })
        .collect();
    Value::Object(object)
}

/// The terminal's width in columns; unlimited when stdout is not a terminal (a pipe or a
/// file gets whole cells).
pub fn terminal_width() -> usize {
    if !std::io::stdout().is_terminal() {
        return usize::MAX / 4;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| w.0 as usize)
        .unwrap_or(100)
        .max(40)
}

/// Renders rows as a table no wider than `width`: wide columns are shortened with `…`.
pub fn table(header: &[String], rows: &[Vec<String>], width: usize) -> String {
    let columns = header.len();
    let cell_width = |s: &str| s.chars().map(char_width).sum::<usize>();
    let mut widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| cell_width(&r[c]))
                .chain([cell_width(&header[c])])
                .max()
                .unwrap_or(1)
                .min(40)
        })
        .collect();
    while widths.iter().sum::<usize>() + 2 * columns > width {
        let Some((i, w)) = widths.iter().copied().enumerate().max_by_key(|(_, w)| *w) else {
            break;
        };
        if w <= 6 {
            break;
        }
        widths[i] = w - 1;
    }
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| fit(cell, *w))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn char_width(c: char) -> usize {
    if matches!(c as u32, 0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFF00..=0xFF60 | 0x1F300..=0x1FAFF)
    {
        2
    } else {
        1
    }
}

/// Pads or shortens `text` to exactly `width` columns.
fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total: usize = text.chars().map(char_width).sum();
    for c in text.chars() {
        let w = char_width(c);
        if total > width && used + w + 1 > width {
            out.push('…');
            used += 1;
            break;
        }
        out.push(c);
        used += w;
    }
    out.push_str(&" ".repeat(width.saturating_sub(used)));
    out
}

/// An error for stderr: on a terminal, the `error:` label and the underline in red.
pub fn paint_error(text: &str) -> String {
    if !std::io::stderr().is_terminal() {
        return text.to_string();
    }
    text.lines()
        .map(|line| {
            let is_underline = !line.trim().is_empty() && line.trim().chars().all(|c| c == '^');
            if let Some(rest) = line.strip_prefix("error:") {
                format!("\x1b[1;31merror:\x1b[0m{rest}")
            } else if is_underline {
                format!("\x1b[31m{line}\x1b[0m")
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
/// ` (N contacts/s)` after a long job's time, so a benchmark run shows its throughput;
/// nothing for jobs under half a second.
pub fn rate(contacts: u64, seconds: f64) -> String {
    if seconds < 0.5 {
        return String::new();
    }
    let per_second = (contacts as f64 / seconds).round() as u64;
    format!(" ({} contacts/s)", thousands(per_second))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

pub fn progress(len: u64, what: &str) -> ProgressBar {
    // A short job (known to be small) needs no bar; 0 means unknown yet.
    if !std::io::stderr().is_terminal() || (len > 0 && len < 10_000) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style =
        ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Asks a question on the terminal; `None` when stdin is not a terminal.
pub fn ask(question: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    note_raw!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).ok()?;
    Some(answer.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_group_thousands_and_skip_short_jobs() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(rate(10_000_000, 12.5), " (800,000 contacts/s)");
        assert_eq!(rate(10, 0.1), "");
    }

    #[test]
    fn tables_fit_the_width() {
        let header = vec!["name".to_string(), "tags".to_string()];
        let rows = vec![vec!["陳怡君".to_string(), "x".repeat(80)]];
        let text = table(&header, &rows, 40);
        for line in text.lines() {
            assert!(line.chars().map(char_width).sum::<usize>() <= 40, "{line}");
        }
        assert!(text.contains('…'));
    }
}
