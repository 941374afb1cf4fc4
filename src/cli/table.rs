//! Tables that fit the terminal: columns as wide as what they hold; when that is too
//! wide, columns are given up, least useful first, and long text (names, tags) is cut
//! with `…`; identities, emails, times and counts are never cut.
//!
//! A contact list knows its tab's columns (the seed's, per channel): they matter more
//! than the identity triple, so a narrow list first drops an account or channel that
//! says the same on every row, avatars and the OMO-only store columns; then shows times
//! as dates under their segment names (`interaction`, `joined`); then drops the account
//! and external id; then the tab's own columns from the seed's last, text cut to 12; then
//! a channel column that varies; the name last. Other tables drop `FIRST_DROPPED`, then
//! `LAST_RESORT`.

use std::borrow::Cow;

/// Columns kept whole however narrow the screen: what identifies a row or a person
/// (emails, phones, member ids), times, counts.
fn whole(column: &str) -> bool {
    matches!(
        column,
        "channel"
            | "account"
            | "external_id"
            | "status"
            | "job"
            | "state"
            | "kind"
            | "email"
            | "phone"
            | "member_id"
    ) || is_time(column)
}

/// Whether a column holds times.
fn is_time(column: &str) -> bool {
    column.ends_with("_at") || column == "created" || column == "started"
}

/// A time column's shorter name, as segments spell it.
fn short_label(column: &str) -> &str {
    match column {
        "customer_interaction_at" => "interaction",
        "subscribed_at" => "joined",
        "team_interaction_at" => "team_interaction",
        "last_checkout_at" => "checkout",
        other => other,
    }
}

/// Columns given up first when the screen is narrow, least useful first (tables other
/// than contact lists).
const FIRST_DROPPED: &[&str] = &[
    "avatar_url",
    "app91_bound",
    "fb_frequency",
    "bound",
    "salesperson",
    "store",
    "fb_optin",
    "subscribed_at",
    "member_id",
    "customer_interaction_at",
    "phone",
];

/// Columns given up when even shortened text does not fit (identity and status stay).
const LAST_RESORT: &[&str] = &["tags", "email", "name"];

/// A contact list's columns that go before anything else: a URL, the OMO extras.
const LIST_EXTRAS: &[&str] = &["avatar_url", "app91_bound", "store", "salesperson"];

/// A contact list's identity columns, given up in this order after the extras (a
/// channel column that varies goes only after the tab's own columns: it says which tab
/// a row belongs to).
const IDENTITY: &[&str] = &["account", "external_id"];

/// Text columns are shortened to no fewer columns than this (`…` included).
const SHORTEST: usize = 8;

/// Text of a tab's own columns is cut down to this before one of them is given up.
const SHORT: usize = 12;

/// Text shortened to this many columns still reads well: columns are dropped before
/// text gets shorter.
const READABLE: usize = 24;

/// Renders rows as a table no wider than `width`. `seed`: a contact list's tab columns
/// in the seed's order (empty for other tables).
pub fn render(header: &[String], rows: &[Vec<String>], width: usize, seed: &[&str]) -> String {
    let mut table = Fitting::new(header, rows, width);
    if seed.is_empty() {
        table.narrow_generic();
    } else {
        table.narrow_list(seed);
    }
    table.cut_text();
    table.text()
}

/// A table being fitted to a width: which columns show, how wide, in which form.
struct Fitting<'a> {
    header: &'a [String],
    rows: &'a [Vec<String>],
    width: usize,
    shown: Vec<usize>,
    widths: Vec<usize>,
    /// Times as dates, under their short names.
    compact: bool,
}

impl<'a> Fitting<'a> {
    fn new(header: &'a [String], rows: &'a [Vec<String>], width: usize) -> Fitting<'a> {
        let mut table = Fitting {
            header,
            rows,
            width,
            shown: (0..header.len()).collect(),
            widths: Vec::new(),
            compact: false,
        };
        table.measure();
        table
    }

    /// Column `c`'s name as printed.
    fn label(&self, c: usize) -> &str {
        match self.compact {
            true => short_label(&self.header[c]),
            false => &self.header[c],
        }
    }

    /// Row `row`'s cell of column `c` as printed (a time as its date when compact).
    fn cell(&self, row: &'a [String], c: usize) -> Cow<'a, str> {
        let text = row.get(c).map_or("", String::as_str);
        let date = text
            .get(..10)
            .filter(|_| text.as_bytes().get(10) == Some(&b'T'));
        match (self.compact && is_time(&self.header[c]), date) {
            (true, Some(date)) => Cow::Borrowed(date),
            _ => Cow::Borrowed(text),
        }
    }

    /// Each column as wide as what it holds.
    fn measure(&mut self) {
        self.widths = (0..self.header.len())
            .map(|c| {
                (self.rows.iter())
                    .map(|r| cell_width(&self.cell(r, c)))
                    .chain([cell_width(self.label(c))])
                    .max()
                    .unwrap_or(1)
            })
            .collect();
    }

    /// Whether the shown columns are wider than the screen with text cut to `text`.
    fn too_wide(&self, text: usize) -> bool {
        let cell = |c: usize| match whole(&self.header[c]) {
            true => self.widths[c],
            false => self.widths[c].min(text),
        };
        self.shown.iter().map(|&c| cell(c) + 2).sum::<usize>() > self.width + 2
    }

    /// Gives up `column` if the table is too wide with text cut to `text`, keeping at
    /// least `keep` columns.
    fn give_up(&mut self, column: &str, text: usize, keep: usize) {
        if self.shown.len() > keep && self.too_wide(text) {
            let header = self.header;
            self.shown.retain(|&c| header[c] != column);
        }
    }

    /// A channel or account column saying the same on every row goes first.
    fn give_up_constant(&mut self) {
        for column in ["channel", "account"] {
            let c = self.header.iter().position(|h| h == column);
            let rows = self.rows;
            let constant = c.is_some_and(|c| rows.windows(2).all(|w| w[0].get(c) == w[1].get(c)));
            if constant && !rows.is_empty() {
                self.give_up(column, READABLE, 1);
            }
        }
    }

    fn narrow_generic(&mut self) {
        self.give_up_constant();
        for column in FIRST_DROPPED {
            self.give_up(column, READABLE, 3);
        }
        for column in LAST_RESORT {
            self.give_up(column, SHORTEST, 3);
        }
    }

    fn narrow_list(&mut self, seed: &[&str]) {
        self.give_up_constant();
        for column in LIST_EXTRAS {
            self.give_up(column, READABLE, 2);
        }
        if self.too_wide(READABLE) {
            self.compact = true;
            self.measure();
        }
        for column in IDENTITY {
            self.give_up(column, READABLE, 2);
        }
        let own = seed
            .iter()
            .rev()
            .filter(|c| !matches!(**c, "name" | "status"));
        for column in own {
            self.give_up(column, SHORT, 2);
        }
        self.give_up("channel", SHORT, 2);
        self.give_up("name", SHORTEST, 2);
    }

    /// Cuts the widest text column by one until the table fits (never below 8).
    fn cut_text(&mut self) {
        let total = |t: &Fitting| t.shown.iter().map(|&c| t.widths[c] + 2).sum::<usize>();
        while total(self) > self.width + 2 {
            let cuttable = (self.shown.iter().copied())
                .filter(|&c| !whole(&self.header[c]) && self.widths[c] > SHORTEST);
            let Some(widest) = cuttable.max_by_key(|&c| self.widths[c]) else {
                break;
            };
            self.widths[widest] -= 1;
        }
    }

    /// One line of the table: each shown column's text, fitted to its width.
    fn line<'s>(&'s self, cell: impl Fn(usize) -> Cow<'s, str>) -> String {
        let cells: Vec<String> = (self.shown.iter())
            .map(|&c| fit(&cell(c), self.widths[c]))
            .collect();
        let mut line = cells.join("  ").trim_end().to_string();
        line.push('\n');
        line
    }

    fn text(&self) -> String {
        let mut out = self.line(|c| Cow::Borrowed(self.label(c)));
        for row in self.rows {
            out.push_str(&self.line(|c| self.cell(row, c)));
        }
        out
    }
}

/// The columns a text takes on a terminal.
fn cell_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// The columns a character takes on a terminal (CJK and emoji take two).
pub fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// Pads or shortens `text` to exactly `width` columns.
fn fit(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total = cell_width(text);
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
