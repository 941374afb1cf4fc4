//! Output helpers: where stdout goes (the REPL's `\o FILE`), tables that fit the
//! terminal (or records one per block, `\x`), csv and json renderings of the same rows,
//! a pager for long output, progress bars on a terminal only, and questions asked on the
//! terminal (whose waiting `\timing` leaves out).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use super::args::Format;

/// Where stdout goes while the REPL's `\o FILE` is on.
static REDIRECT: Mutex<Option<std::fs::File>> = Mutex::new(None);
/// Records one per block instead of tables (`\x`).
static EXPANDED: AtomicBool = AtomicBool::new(false);
/// Nanoseconds spent waiting for an answer at a question, so far.
static WAITED: AtomicU64 = AtomicU64::new(0);

/// Sends stdout to `file` (`None`: back to stdout).
pub fn redirect(file: Option<std::fs::File>) {
    *REDIRECT.lock().unwrap_or_else(|e| e.into_inner()) = file;
}

/// Whether stdout is stdout itself (not sent elsewhere by `\o`).
pub fn not_redirected() -> bool {
    REDIRECT.lock().is_ok_and(|r| r.is_none())
}

/// Whether stdout goes to the terminal (not redirected, not piped).
pub fn to_terminal() -> bool {
    REDIRECT.lock().is_ok_and(|r| r.is_none()) && std::io::stdout().is_terminal()
}

/// Turns the expanded view on or off; returns whether it is on.
pub fn toggle_expanded() -> bool {
    !EXPANDED.fetch_xor(true, Ordering::Relaxed)
}

/// How long questions have waited for an answer, in total.
pub fn waited() -> std::time::Duration {
    std::time::Duration::from_nanos(WAITED.load(Ordering::Relaxed))
}

/// The error for a failed write to stdout or a file: a closed pipe ends the command
/// quietly, a Ctrl-C stops it, anything else (a full disk) is reported.
pub fn write_error(e: std::io::Error) -> reach::error::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        reach::error::Error::Closed
    } else if reach::cancel::is_cancel(&e) {
        reach::error::Error::Cancelled(e.to_string())
    } else {
        reach::error::Error::io("cannot write the output", e)
    }
}

/// Writes to stdout, or where `\o` sent it (see the `out!` macro).
pub fn out(args: std::fmt::Arguments) -> Result<(), reach::error::Error> {
    let mut redirect = REDIRECT.lock().unwrap_or_else(|e| e.into_inner());
    match redirect.as_mut() {
        Some(file) => file.write_fmt(args).map_err(write_error),
        None => std::io::stdout()
            .lock()
            .write_fmt(args)
            .map_err(write_error),
    }
}

/// One cell of a table, typed by its column: json writes a number as a number and text
/// as a string, whatever the text looks like (a tag named `2024`, an account
/// `+85230001234`).
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Count(u64),
    /// A measure shown with `decimals` digits after the point.
    Decimal {
        value: f64,
        decimals: usize,
    },
}

impl Cell {
    /// The cell as json: a number for a count or a measure (rounded as shown), else a
    /// string.
    fn json(&self) -> serde_json::Value {
        match self {
            Cell::Text(text) => text.as_str().into(),
            Cell::Count(n) => (*n).into(),
            Cell::Decimal { .. } => self
                .to_string()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or_else(|| self.to_string().into(), serde_json::Value::Number),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Text(text) => f.write_str(text),
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Decimal { value, decimals } => write!(f, "{value:.decimals$}"),
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell::Text(text)
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::Text(text.to_string())
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Count(n)
    }
}

/// Writes rows with their header as a table (or records, under `\x`), csv, or json
/// (one object a row, each cell as its type: numbers as numbers, text as strings).
/// Tables longer than the terminal go through a pager.
pub fn emit(
    header: &[String],
    rows: &[Vec<Cell>],
    format: Format,
) -> Result<(), reach::error::Error> {
    emit_list(header, rows, format, &[])
}

/// [`emit`] for a contact list whose tab shows `seed`'s columns (see [`list_table`]).
pub fn emit_list(
    header: &[String],
    rows: &[Vec<Cell>],
    format: Format,
    seed: &[&str],
) -> Result<(), reach::error::Error> {
    let text_rows = || -> Vec<Vec<String>> {
        (rows.iter())
            .map(|row| row.iter().map(Cell::to_string).collect())
            .collect()
    };
    match format {
        Format::Table => page(&list_table(header, &text_rows(), terminal_width(), seed)),
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let rows = text_rows();
            for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
                w.write_record(row).map_err(|e| write_error(e.into()))?;
            }
            let bytes = w.into_inner().map_err(|e| write_error(e.into_error()))?;
            out!("{}", String::from_utf8_lossy(&bytes))
        }
        Format::Json => {
            for row in rows {
                let object: serde_json::Map<String, serde_json::Value> = (header.iter().zip(row))
                    .map(|(key, cell)| (key.clone(), cell.json()))
                    .collect();
                outln!("{}", serde_json::Value::Object(object))?;
            }
            Ok(())
        }
    }
}

/// Writes `text`; on a terminal, through `$PAGER` (else `less -FRX`) when it is longer
/// than the screen.
pub fn page(text: &str) -> Result<(), reach::error::Error> {
    let rows = terminal_size::terminal_size().map_or(usize::MAX, |(_, h)| h.0 as usize);
    if !to_terminal() || text.lines().count() + 2 < rows {
        return out!("{text}");
    }
    let pager = std::env::var("PAGER").unwrap_or_else(|_| "less -FRX".into());
    let mut parts = pager.split_whitespace();
    let Some(program) = parts.next() else {
        return out!("{text}");
    };
    let child = std::process::Command::new(program)
        .args(parts)
        .stdin(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return out!("{text}");
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(text.as_bytes());
    }
    let _ = child.wait();
    Ok(())
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

pub use reach::model::json::{contact_json, status};

/// The terminal's width in columns (`$COLUMNS` when set, as `ls` reads it); unlimited
/// when stdout is not a terminal (a pipe or a file gets whole cells).
pub fn terminal_width() -> usize {
    if !to_terminal() {
        return usize::MAX / 4;
    }
    let columns = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    columns
        .or_else(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
        .filter(|&w| w > 0)
        .unwrap_or(100)
        .max(40)
}

/// Renders rows as a table no wider than `width` (see `table.rs`); under `\x`, one
/// record per block instead.
pub fn table(header: &[String], rows: &[Vec<String>], width: usize) -> String {
    list_table(header, rows, width, &[])
}

/// [`table`] for a contact list whose tab shows `seed`'s columns (in the seed's order):
/// they stay longer than the identity columns.
pub fn list_table(header: &[String], rows: &[Vec<String>], width: usize, seed: &[&str]) -> String {
    if EXPANDED.load(Ordering::Relaxed) {
        return records(header, rows);
    }
    super::table::render(header, rows, width, seed)
}

/// Rows as records, one per block: each column on a line of its own (psql's `\x`).
fn records(header: &[String], rows: &[Vec<String>]) -> String {
    let width = header.iter().map(|h| h.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push_str(&format!("-[ record {} ]-\n", i + 1));
        for (key, value) in header.iter().zip(row) {
            out.push_str(&format!("{key:width$} | {value}\n"));
        }
    }
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
        ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} ({rate}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&per_second(state.per_sec()));
                },
            )
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// A progress bar's rate: whole items a second, with thousands separators.
pub fn per_second(rate: f64) -> String {
    format!("{}/s", thousands(rate.max(0.0).round() as u64))
}

/// Asks a question on the terminal; `None` when stdin is not a terminal.
pub fn ask(question: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    note_raw!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    let asked = std::time::Instant::now();
    let read = std::io::stdin().read_line(&mut answer);
    WAITED.fetch_add(asked.elapsed().as_nanos() as u64, Ordering::Relaxed);
    read.ok()?;
    Some(answer.trim().to_string())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_rate_is_whole_items_a_second() {
        assert_eq!(super::per_second(75.4546), "75/s");
        assert_eq!(super::per_second(12_345.6), "12,346/s");
    }

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
            assert!(
                line.chars()
                    .map(super::super::table::char_width)
                    .sum::<usize>()
                    <= 40,
                "{line}"
            );
        }
        assert!(text.contains('…'));
    }
}
