//! Time filters (`-30d..`, `2024-05`, `>=2024-03-01`, `never`, …) → half-open second
//! ranges `[lo, hi)`, resolved against the query's `now` and the engine's time zone.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};

use crate::model::Seconds;
use crate::model::time::{add_months, local_to_instant, parse_offset, start_of_day};

/// What a time filter means once resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeFilter {
    /// The field is none.
    Never,
    /// `lo <= t < hi` (`Seconds::MIN` / `Seconds::MAX` for open ends).
    Range { lo: Seconds, hi: Seconds },
}

/// The clock and calendar a query is planned against.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: Seconds,
    pub tz: FixedOffset,
}

/// A point's `[start, end)`.
type Interval = (Seconds, Seconds);

/// Resolves a time filter's text, or explains what is wrong with it.
pub fn resolve(text: &str, clock: Clock) -> Result<TimeFilter, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(TimeFilter::Never);
    }
    let range = |lo, hi| Ok(TimeFilter::Range { lo, hi });
    for (op, pick) in [(">=", 0), ("<=", 3), (">", 1), ("<", 2)] {
        if let Some(point) = text.strip_prefix(op) {
            let (start, end) = resolve_point(point, clock)?;
            return match pick {
                0 => range(start, Seconds::MAX),
                1 => range(end, Seconds::MAX),
                2 => range(Seconds::MIN, start),
                _ => range(Seconds::MIN, end),
            };
        }
    }
    if let Some((a, b)) = text.split_once("..") {
        let lo = if a.is_empty() {
            Seconds::MIN
        } else {
            resolve_point(a, clock)?.0
        };
        let hi = if b.is_empty() {
            Seconds::MAX
        } else {
            resolve_point(b, clock)?.1
        };
        if a.is_empty() && b.is_empty() {
            return Err("'..' needs a start, an end or both: -30d.., ..2024-06-30".into());
        }
        return range(lo, hi);
    }
    let (start, end) = resolve_point(text, clock)?;
    range(start, end)
}

/// Resolves one point to its `[start, end)`.
fn resolve_point(text: &str, clock: Clock) -> Result<Interval, String> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "now" => return Ok((clock.now, clock.now)),
        "today" => {
            let start = start_of_day(clock.now, clock.tz).ok_or("today is out of range")?;
            return Ok((start, start + 86_400));
        }
        _ => {}
    }
    if let Some(relative) = lower.strip_prefix('-') {
        let t = relative_point(relative, clock)?;
        return Ok((t, t));
    }
    absolute_point(text, clock.tz)
}

/// `N<unit>` before now: s, min, h, d, w (fixed lengths), mo, y (calendar).
fn relative_point(text: &str, clock: Clock) -> Result<Seconds, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let n: i64 = number.parse().map_err(|_| {
        format!("'-{text}' is not a relative time: write a number and a unit, like -30d")
    })?;
    let fixed = |secs: i64| n.checked_mul(secs).and_then(|d| clock.now.checked_sub(d));
    let t = match unit {
        "s" => fixed(1),
        "min" => fixed(60),
        "h" => fixed(3_600),
        "d" => fixed(86_400),
        "w" => fixed(7 * 86_400),
        "mo" => add_months(clock.now, -n, clock.tz),
        "y" => n
            .checked_mul(12)
            .and_then(|m| add_months(clock.now, -m, clock.tz)),
        _ => {
            return Err(format!(
                "unknown time unit '{unit}' in '-{text}': use s, min, h, d, w, mo or y"
            ));
        }
    };
    t.ok_or_else(|| format!("'-{text}' is too far in the past"))
}

/// Dates, months and date-times (to the minute or second, optional offset).
fn absolute_point(text: &str, tz: FixedOffset) -> Result<Interval, String> {
    let local = |dt: NaiveDateTime| local_to_instant(dt, tz);
    let bytes = text.as_bytes();
    if bytes.len() == 4 && bytes.iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "a year alone is not a point: write {text}-01..{text}-12"
        ));
    }
    if let Ok(month) = NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        && text.len() <= 7
    {
        let next = month
            .checked_add_months(chrono::Months::new(1))
            .ok_or("month out of range")?;
        return Ok((
            local(month.and_time(NaiveTime::MIN)),
            local(next.and_time(NaiveTime::MIN)),
        ));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = local(day.and_time(NaiveTime::MIN));
        return Ok((start, start + 86_400));
    }
    date_time(text, tz).ok_or_else(|| {
        format!("'{text}' is not a time: expected a date (2024-05-01), a month (2024-05), a date-time (2024-05-01T10:30), now, today or -30d")
    })
}

/// `YYYY-MM-DDTHH:MM[:SS][Z|±HH:MM]`.
fn date_time(text: &str, tz: FixedOffset) -> Option<Interval> {
    let (body, offset) = split_offset(text)?;
    let offset = offset.unwrap_or(tz);
    let body = body.replacen('t', "T", 1);
    let (naive, length) = if let Ok(t) = NaiveDateTime::parse_from_str(&body, "%Y-%m-%dT%H:%M:%S") {
        (t, 1)
    } else {
        (
            NaiveDateTime::parse_from_str(&body, "%Y-%m-%dT%H:%M").ok()?,
            60,
        )
    };
    if body.len() != 16 && body.len() != 19 {
        return None;
    }
    let start = local_to_instant(naive, offset);
    Some((start, start + length))
}

/// Splits a trailing `Z` or `±HH:MM` from a date-time.
fn split_offset(text: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(body) = text.strip_suffix(['Z', 'z']) {
        return Some((body, Some(parse_offset("Z")?)));
    }
    let time_at = text.find(['T', 't'])?;
    match text[time_at..].rfind(['+', '-']) {
        Some(i) => {
            let at = time_at + i;
            Some((&text[..at], Some(parse_offset(&text[at..])?)))
        }
        None => Some((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::parse_rfc3339;

    fn clock() -> Clock {
        Clock {
            now: parse_rfc3339("2025-06-01T04:00:00Z").expect("now"),
            tz: parse_offset("+08:00").expect("tz"),
        }
    }

    fn t(text: &str) -> Seconds {
        parse_rfc3339(text).expect("time")
    }

    fn range(text: &str) -> (Seconds, Seconds) {
        match resolve(text, clock()) {
            Ok(TimeFilter::Range { lo, hi }) => (lo, hi),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn points_follow_the_spec_tables() {
        // (filter, start, end) in UTC, with now 2025-06-01T04:00:00Z and the zone +08:00.
        let table = [
            ("2024-03-01", "2024-02-29T16:00:00Z", "2024-03-01T16:00:00Z"),
            ("2024-02", "2024-01-31T16:00:00Z", "2024-02-29T16:00:00Z"),
            (
                "2025-05-20T12:00",
                "2025-05-20T04:00:00Z",
                "2025-05-20T04:01:00Z",
            ),
            (
                "2025-05-20T12:00:05Z",
                "2025-05-20T12:00:05Z",
                "2025-05-20T12:00:06Z",
            ),
            (
                "2025-05-20T12:00-05:00",
                "2025-05-20T17:00:00Z",
                "2025-05-20T17:01:00Z",
            ),
            ("today", "2025-05-31T16:00:00Z", "2025-06-01T16:00:00Z"),
        ];
        for (filter, lo, hi) in table {
            assert_eq!(range(filter), (t(lo), t(hi)), "{filter}");
        }
        assert_eq!(range("-30d..").0, t("2025-05-02T04:00:00Z"));
        assert_eq!(range("-3mo..").0, t("2025-03-01T04:00:00Z"));
        assert_eq!(range("-1y..").0, t("2024-06-01T04:00:00Z"));
        assert_eq!(range("-15MIN..").0, t("2025-06-01T03:45:00Z"));
    }

    #[test]
    fn comparisons_and_ranges() {
        assert_eq!(
            range(">=2024-03-01"),
            (t("2024-02-29T16:00:00Z"), Seconds::MAX)
        );
        assert_eq!(
            range(">2024-03-01"),
            (t("2024-03-01T16:00:00Z"), Seconds::MAX)
        );
        assert_eq!(
            range("<2024-03-01"),
            (Seconds::MIN, t("2024-02-29T16:00:00Z"))
        );
        assert_eq!(
            range("<=2024-03-01"),
            (Seconds::MIN, t("2024-03-01T16:00:00Z"))
        );
        assert_eq!(
            range("2024-01-01..2024-06-30"),
            (t("2023-12-31T16:00:00Z"), t("2024-06-30T16:00:00Z"))
        );
        assert_eq!(range("..-90d").1, t("2025-03-03T04:00:00Z"));
        assert_eq!(resolve("NEVER", clock()), Ok(TimeFilter::Never));
    }

    #[test]
    fn bad_filters_explain_themselves() {
        assert!(resolve("2024", clock()).is_err_and(|e| e.contains("year alone")));
        assert!(resolve("-3x", clock()).is_err_and(|e| e.contains("unknown time unit")));
        assert!(resolve("yesterday", clock()).is_err());
        assert!(resolve("..", clock()).is_err());
        assert!(resolve("2024-13-01", clock()).is_err());
    }
}
