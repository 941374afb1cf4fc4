//! `reach gen --segments`: random valid segments over the synthetic audience, for hunting
//! slow paths and checking the executor against a row-by-row evaluation. Every field and
//! alias, operator spelling, value form (bare, quoted, comma lists) and time form
//! (ranges, comparisons, `never`; dates, months, minutes and seconds with or without an
//! offset, `now`, `today`, every relative unit) of segment-language.md, nested ANDs, ORs,
//! negations and parentheses. Values are those `write_csv` puts in an audience of the
//! given size and anchor, so segments find people. The same seed gives the same lines.

use std::io::{self, Write};

use super::{ACCOUNTS, CJK_NAMES, FIRST, Generator, LAST, STORES, TAG_COUNT, rng::Rng};
use crate::model::time::format_rfc3339;
use crate::model::{Channel, OptOutKind, Seconds};
use crate::plan::{PRESENCE, STATES};

const DAY: Seconds = 86_400;
/// The deepest nesting of ANDs, ORs and negations a segment gets.
const MAX_DEPTH: u32 = 4;

const TIME_FIELDS: &[&str] = &[
    "checkout",
    "last_checkout",
    "interaction",
    "customer_interaction",
    "team_interaction",
    "marketing",
    "team_marketing",
    "joined",
    "subscribed_at",
];
/// Relative units with the largest amount worth drawing for each.
const UNITS: &[(&str, u64)] = &[
    ("s", 200_000),
    ("min", 20_000),
    ("h", 2_000),
    ("d", 800),
    ("w", 120),
    ("mo", 30),
    ("y", 3),
];
const OFFSETS: &[&str] = &["", "", "Z", "+08:00", "-05:00", "+00:00"];

/// A deterministic source of random segments.
pub struct SegmentGenerator {
    rng: Rng,
    audience: u64,
    anchor: Seconds,
    values: Generator,
}

impl SegmentGenerator {
    /// Segments over the audience `write_csv(audience, _, anchor, …)` writes.
    pub fn new(seed: u64, audience: u64, anchor: Seconds) -> SegmentGenerator {
        SegmentGenerator {
            rng: Rng::new(seed ^ 0x5E6_3E17),
            audience: audience.max(1),
            anchor,
            values: Generator::new(anchor),
        }
    }

    /// The next segment (never empty).
    pub fn segment(&mut self) -> String {
        let depth = self.rng.below(u64::from(MAX_DEPTH) + 1) as u32;
        self.expr(depth)
    }

    fn expr(&mut self, depth: u32) -> String {
        if depth == 0 || self.rng.chance(0.25) {
            return self.predicate();
        }
        match self.rng.below(10) {
            0..=3 => self.and(depth),
            4..=7 => self.or(depth),
            8 => self.not(depth),
            _ => format!("({})", self.expr(depth - 1)),
        }
    }

    fn and(&mut self, depth: u32) -> String {
        let spellings = [" ", " ", " ", " and ", " AND ", " & ", "&&", " && "];
        let parts = 2 + self.rng.below(3);
        self.joined(depth, parts, &spellings)
    }

    fn or(&mut self, depth: u32) -> String {
        let spellings = [" or ", " or ", " OR ", " Or ", "|", " || "];
        let parts = 2 + self.rng.below(3);
        self.joined(depth, parts, &spellings)
    }

    /// `parts` sub-expressions, each parenthesized half the time, between operators.
    fn joined(&mut self, depth: u32, parts: u64, spellings: &[&str]) -> String {
        let mut text = String::new();
        for i in 0..parts {
            if i > 0 {
                text += *self.pick(spellings);
            }
            let part = self.expr(depth - 1);
            if self.rng.chance(0.5) && part.contains(' ') {
                text += &format!("({part})");
            } else {
                text += &part;
            }
        }
        text
    }

    fn not(&mut self, depth: u32) -> String {
        let op = *self.pick(&["-", "!", "not ", "NOT "]);
        if self.rng.chance(0.6) {
            format!("{op}{}", self.predicate())
        } else {
            format!("{op}({})", self.expr(depth - 1))
        }
    }

    fn predicate(&mut self) -> String {
        let (field, values) = match self.rng.below(20) {
            0 => ("channel", self.list(|g| g.channel())),
            1 => ("account", self.list(|g| g.account())),
            2 => {
                let field = *self.pick(&["external_id", "id"]);
                (field, self.list(|g| g.external_id()))
            }
            3 => ("name", self.list(|g| g.name())),
            4..=6 => ("tag", self.list(|g| g.tag())),
            7..=10 => {
                let field = *self.pick(TIME_FIELDS);
                (field, self.list(|g| g.time_filter()))
            }
            11 => ("email", self.list(|g| g.email())),
            12 => ("phone", self.list(|g| g.phone())),
            13 => ("member_id", self.list(|g| g.member_id())),
            14 => ("store", self.list(|g| g.store())),
            15 => ("salesperson", self.list(|g| g.salesperson())),
            16 => ("optout", self.list(|g| g.opt_out())),
            17 | 18 => ("is", self.list(|g| g.word(STATES))),
            _ => ("has", self.list(|g| g.word(PRESENCE))),
        };
        format!("{}:{values}", self.case(field))
    }

    /// One to three values of a field, comma separated, each quoted where it must be (and
    /// sometimes where it need not be).
    fn list(&mut self, value: impl Fn(&mut Self) -> String) -> String {
        let n = if self.rng.chance(0.75) {
            1
        } else {
            2 + self.rng.below(2)
        };
        let values: Vec<String> = (0..n)
            .map(|_| {
                let v = value(self);
                self.quoted(v)
            })
            .collect();
        values.join(",")
    }

    fn quoted(&mut self, value: String) -> String {
        let bare = !value.is_empty()
            && !value
                .chars()
                .any(|c| c.is_whitespace() || "()\",|&\\".contains(c));
        if bare && !self.rng.chance(0.1) {
            return value;
        }
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.below(items.len() as u64) as usize]
    }

    /// A keyword in a random letter case (lower most of the time).
    fn case(&mut self, word: &str) -> String {
        match self.rng.below(8) {
            0 => word.to_uppercase(),
            1 => capitalized(word),
            _ => word.to_string(),
        }
    }

    fn word(&mut self, words: &[&str]) -> String {
        let word = *self.pick(words);
        self.case(word)
    }

    fn opt_out(&mut self) -> String {
        let kind = *self.pick(OptOutKind::ALL);
        self.case(kind.name())
    }

    fn channel(&mut self) -> String {
        let channel = *self.pick(&Channel::ALL);
        let word = *self.pick(channel.spellings());
        self.case(word)
    }

    fn account(&mut self) -> String {
        self.pick(ACCOUNTS).0.id.to_string()
    }

    /// A contact of the audience (drawn uniformly).
    fn serial(&mut self) -> u64 {
        self.rng.below(self.audience)
    }

    /// The external id of a contact, were it on a channel whose ids follow the serial.
    fn external_id(&mut self) -> String {
        let serial = self.serial();
        match self.rng.below(4) {
            0 => format!(
                "{}",
                2_000_000_000_000_000 + serial * 7919 % 1_000_000_000_000_000
            ),
            1 => format!("+8869{:08}", serial % 100_000_000),
            2 => format!("{}", 17_840_000_000_000_000 + serial),
            _ => format!("m{serial:09}"),
        }
    }

    fn name(&mut self) -> String {
        if self.rng.chance(0.3) {
            return self.pick(CJK_NAMES).to_string();
        }
        let (first, last) = (*self.pick(FIRST), *self.pick(LAST));
        match self.rng.below(4) {
            0 => format!("{} {}", first.to_uppercase(), last.to_lowercase()),
            1 => format!(" {first} {last} "),
            _ => format!("{first} {last}"),
        }
    }

    /// A tag, popular ones most often (as the audience carries them), CJK and quoted ones
    /// among them, and now and then one nobody carries.
    fn tag(&mut self) -> String {
        match self.rng.below(10) {
            0..=5 => self.values.zipf_tag(&mut self.rng).to_string(),
            6 | 7 => self.values.tags[self.rng.below(20) as usize].clone(),
            8 => self.values.tags[self.rng.below(TAG_COUNT as u64) as usize].clone(),
            _ => "no-such-tag".to_string(),
        }
    }

    fn email(&mut self) -> String {
        let email = format!("user{}@example.com", self.serial());
        if self.rng.chance(0.2) {
            email.to_uppercase()
        } else {
            email
        }
    }

    fn phone(&mut self) -> String {
        let serial = self.serial();
        let digits = if self.rng.chance(0.5) {
            format!("{:08}", serial % 100_000_000)
        } else {
            format!("{:08}", (serial * 31) % 100_000_000)
        };
        match self.rng.below(3) {
            0 => format!("+8869{digits}"),
            1 => format!("+886 9{}-{}", &digits[..4], &digits[4..]),
            _ => format!("+886.9{}.{}", &digits[..2], &digits[2..]),
        }
    }

    fn member_id(&mut self) -> String {
        format!("M{:08}", self.serial())
    }

    fn store(&mut self) -> String {
        self.pick(STORES).to_string()
    }

    fn salesperson(&mut self) -> String {
        format!("E{:03}", self.rng.below(210))
    }

    /// A time filter of any form.
    fn time_filter(&mut self) -> String {
        match self.rng.below(12) {
            0 | 1 => format!("{}..", self.point()),
            2 => format!("..{}", self.point()),
            3 | 4 => {
                let (a, b) = (self.point(), self.point());
                format!("{a}..{b}")
            }
            5 => format!(">{}", self.point()),
            6 => format!(">={}", self.point()),
            7 => format!("<{}", self.point()),
            8 => format!("<={}", self.point()),
            9 | 10 => self.point(),
            _ => self.case("never"),
        }
    }

    /// A time point of any precision or kind.
    fn point(&mut self) -> String {
        match self.rng.below(10) {
            0 => self.case("now"),
            1 => self.case("today"),
            2..=4 => {
                let (unit, most) = *self.pick(UNITS);
                let amount = 1 + self.rng.below(most);
                format!("-{amount}{}", self.case(unit))
            }
            _ => self.absolute(),
        }
    }

    /// A date, month, minute or second near the anchor (recent most often).
    fn absolute(&mut self) -> String {
        let days = -self.rng.unit().max(1e-9).ln() * 120.0;
        let back = (days * DAY as f64) as Seconds + self.rng.below(DAY as u64) as Seconds;
        let text = format_rfc3339(self.anchor - back.min(5 * 365 * DAY));
        let offset = *self.pick(OFFSETS);
        match self.rng.below(4) {
            0 => text[..10].to_string(),
            1 => text[..7].to_string(),
            2 => format!("{}{offset}", &text[..16]),
            _ => format!("{}{offset}", &text[..19]),
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Writes `count` segments, one a line.
pub fn write_segments(
    count: u64,
    seed: u64,
    audience: u64,
    anchor: Seconds,
    out: impl Write,
) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    let mut generator = SegmentGenerator::new(seed, audience, anchor);
    for _ in 0..count {
        writeln!(out, "{}", generator.segment())?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Clock, ParsedSegments, SavedSegments, lower};

    fn generated(seed: u64, n: usize) -> Vec<String> {
        let mut g = SegmentGenerator::new(seed, 10_000, super::super::DEFAULT_ANCHOR);
        (0..n).map(|_| g.segment()).collect()
    }

    #[test]
    fn segments_are_deterministic_and_valid() {
        assert_eq!(generated(3, 200), generated(3, 200));
        assert_ne!(generated(3, 200), generated(4, 200));
        let clock = Clock {
            now: super::super::DEFAULT_ANCHOR,
            tz: chrono::FixedOffset::east_opt(8 * 3600).expect("offset"),
        };
        for text in generated(5, 3_000) {
            let expr = crate::syntax::parse(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert!(expr.is_some(), "{text:?} is not empty");
            let (saved, parsed) = (SavedSegments::new(), ParsedSegments::default());
            lower(expr.as_ref(), &text, clock, &saved, &parsed)
                .unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }

    /// Every field, time form and operator the language has appears among a few thousand.
    #[test]
    fn segments_cover_the_language() {
        let text = generated(9, 3_000).join("\n");
        let mut wanted: Vec<String> = ["or ", "OR", "|", "||", "&", "&&", "and", "not ", "!", "-("]
            .map(String::from)
            .to_vec();
        wanted.extend(TIME_FIELDS.iter().map(|f| format!("{f}:")));
        for field in [
            "channel",
            "account",
            "external_id",
            "id",
            "name",
            "tag",
            "email",
        ] {
            wanted.push(format!(" {field}:"));
        }
        for field in ["phone", "member_id", "store", "salesperson", "optout"] {
            wanted.push(format!("{field}:"));
        }
        wanted.extend(STATES.iter().map(|s| format!("is:{s}")));
        wanted.extend(PRESENCE.iter().map(|s| format!("has:{s}")));
        for form in [
            "..", ">=", "<=", "never", "now", "today", "min", "mo", "T", "+08:00",
        ] {
            wanted.push(form.to_string());
        }
        wanted.extend(["\"雙11 會員\"", "\\\"", "tag:ns:vip", ",", "-1", "Z"].map(String::from));
        for want in wanted {
            assert!(text.contains(&want), "no generated segment has {want:?}");
        }
    }
}
