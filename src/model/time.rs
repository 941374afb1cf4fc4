//! Instants (whole seconds since the Unix epoch, UTC), the engine's fixed time zone, and
//! calendar arithmetic (months and years, clamped to the month's last day).

use chrono::{DateTime, FixedOffset, Months, NaiveDateTime, SecondsFormat, TimeZone};

/// An instant: whole seconds since 1970-01-01T00:00:00Z.
pub type Seconds = i64;

/// The earliest instant the store can hold (1970-01-01T00:00:00Z).
pub const MIN_STORED: Seconds = 0;
/// The latest instant the store can hold (2106-02-07T06:28:14Z): columns keep `u32` seconds.
pub const MAX_STORED: Seconds = u32::MAX as Seconds - 1;
/// The range the store holds, as messages name it (exactly [`MIN_STORED`] to
/// [`MAX_STORED`]; a test keeps them in step).
pub const STORED_RANGE: &str = "1970-01-01T00:00:00Z to 2106-02-07T06:28:14Z";

/// The clock's now, in whole seconds (0 for a clock set before 1970). The one place
/// reach reads the wall clock: everything else takes a `now` (the command line's `--now`
/// fixes it), so that results can be reproduced.
pub fn now() -> Seconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as Seconds)
}

/// Parses an RFC 3339 time (`2024-05-01T10:00:00+08:00`), dropping any fraction of a second.
pub fn parse_rfc3339(text: &str) -> Option<Seconds> {
    let text = text.trim();
    parse_plain_rfc3339(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp())
    })
}

/// The common spellings, `2024-05-01T10:00:00Z` and `2024-05-01T10:00:00+08:00`, read
/// without chrono (import reads millions). `None` for anything else, valid or not: the
/// caller then asks chrono, so this only has to be right when it answers.
fn parse_plain_rfc3339(b: &[u8]) -> Option<Seconds> {
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let mut value = 0;
        for &c in b.get(range)? {
            if !c.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(c - b'0');
        }
        Some(value)
    };
    let punctuation = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if punctuation.iter().any(|&(i, c)| b.get(i) != Some(&c)) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let offset = match (b.len(), b.get(19)) {
        (20, Some(b'Z')) => 0,
        (25, Some(&sign @ (b'+' | b'-'))) if b[22] == b':' => {
            let (h, m) = (digits(20..22)?, digits(23..25)?);
            if h > 23 || m > 59 {
                return None;
            }
            (h * 3600 + m * 60) * if sign == b'-' { -1 } else { 1 }
        }
        _ => return None,
    };
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a (proleptic Gregorian) date; Howard Hinnant's
/// `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats an instant as RFC 3339 in UTC (`2024-05-01T02:00:00Z`).
pub fn format_rfc3339(t: Seconds) -> String {
    match DateTime::from_timestamp(t, 0) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
        None => t.to_string(),
    }
}

/// Formats an instant as RFC 3339 at a fixed offset (`2024-05-01T10:00:00+08:00`; `Z`
/// for UTC).
pub fn format_rfc3339_at(t: Seconds, tz: FixedOffset) -> String {
    match DateTime::from_timestamp(t, 0) {
        Some(dt) => dt
            .with_timezone(&tz)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        None => t.to_string(),
    }
}

/// Appends `t` as RFC 3339 in UTC, exactly as [`format_rfc3339`] writes it, without
/// allocating: export writes millions of times. `t` must lie in the stored range.
pub fn write_rfc3339_utc(t: Seconds, out: &mut Vec<u8>) {
    if !(MIN_STORED..=MAX_STORED).contains(&t) {
        out.extend_from_slice(format_rfc3339(t).as_bytes());
        return;
    }
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let two = |out: &mut Vec<u8>, v: i64| {
        out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
    };
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, month);
    out.push(b'-');
    two(out, day);
    out.push(b'T');
    two(out, secs / 3600);
    out.push(b':');
    two(out, secs / 60 % 60);
    out.push(b':');
    two(out, secs % 60);
    out.push(b'Z');
}

/// (year, month, day) of a day count since 1970-01-01 (the proleptic Gregorian
/// calendar; Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parses a fixed UTC offset: `Z`, `+08:00`, `-05:00`, `+0800`.
pub fn parse_offset(text: &str) -> Option<FixedOffset> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Interprets a wall-clock time in `tz` as an instant.
pub fn local_to_instant(local: NaiveDateTime, tz: FixedOffset) -> Seconds {
    local.and_utc().timestamp() - i64::from(tz.local_minus_utc())
}

/// The wall-clock time of an instant in `tz`.
pub fn instant_to_local(t: Seconds, tz: FixedOffset) -> Option<NaiveDateTime> {
    Some(tz.timestamp_opt(t, 0).single()?.naive_local())
}

/// Moves an instant by `months` calendar months (negative: back) on `tz`'s calendar and
/// clock, clamping a day that does not exist to the month's last day
/// (2024-03-31 minus one month is 2024-02-29).
pub fn add_months(t: Seconds, months: i64, tz: FixedOffset) -> Option<Seconds> {
    let local = instant_to_local(t, tz)?;
    let step = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    let moved = if months >= 0 {
        local.checked_add_months(step)?
    } else {
        local.checked_sub_months(step)?
    };
    Some(local_to_instant(moved, tz))
}

/// The start of the local day containing `t` in `tz`.
pub fn start_of_day(t: Seconds, tz: FixedOffset) -> Option<Seconds> {
    let local = instant_to_local(t, tz)?;
    let midnight = local.date().and_hms_opt(0, 0, 0)?;
    Some(local_to_instant(midnight, tz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_range_is_named_exactly() {
        let named = format!(
            "{} to {}",
            format_rfc3339(MIN_STORED),
            format_rfc3339(MAX_STORED)
        );
        assert_eq!(named, STORED_RANGE);
        assert_eq!(parse_rfc3339("2106-02-07T06:28:14Z"), Some(MAX_STORED));
    }

    #[test]
    fn fast_parse_matches_chrono() {
        let chrono = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.timestamp());
        let mut texts = vec![
            "2024-02-29T23:59:59Z".to_string(),
            "2023-02-29T10:00:00Z".into(),
            "1900-02-29T10:00:00Z".into(),
            "2000-02-29T10:00:00+08:00".into(),
            "2024-13-01T10:00:00Z".into(),
            "2024-04-31T10:00:00Z".into(),
            "2024-05-01T24:00:00Z".into(),
            "2024-05-01T10:60:00Z".into(),
            "2024-05-01T10:00:60Z".into(),
            "2024-05-01T10:00:00-23:59".into(),
            "2024-05-01T10:00:00+24:00".into(),
            "2024-05-01t10:00:00z".into(),
            "0000-01-01T00:00:00Z".into(),
            "9999-12-31T23:59:59+01:00".into(),
        ];
        let mut t = 0;
        while t < MAX_STORED {
            let mut out = Vec::new();
            write_rfc3339_utc(t, &mut out);
            texts.push(String::from_utf8_lossy(&out).replace('Z', "+05:30"));
            texts.push(String::from_utf8_lossy(&out).into_owned());
            t += 86_399 * 5 + 1_234;
        }
        for text in texts {
            if let Some(fast) = parse_plain_rfc3339(text.as_bytes()) {
                assert_eq!(Some(fast), chrono(&text), "{text}");
            }
            assert_eq!(parse_rfc3339(&text), chrono(&text), "{text}");
        }
    }

    #[test]
    fn fast_utc_format_matches_chrono() {
        let mut t: Seconds = 0;
        let mut samples = vec![MIN_STORED, MAX_STORED, 951_782_400, 4_107_542_399];
        while t < MAX_STORED {
            samples.push(t);
            t += 86_399 * 7 + 3_607;
        }
        for t in samples {
            let mut out = Vec::new();
            write_rfc3339_utc(t, &mut out);
            assert_eq!(String::from_utf8_lossy(&out), format_rfc3339(t), "{t}");
        }
    }

    fn utc(text: &str) -> Seconds {
        parse_rfc3339(text).expect("valid test time")
    }

    #[test]
    fn rfc3339_drops_fractions_and_normalizes_to_utc() {
        assert_eq!(
            utc("2024-05-01T10:00:00.999+08:00"),
            utc("2024-05-01T02:00:00Z")
        );
        assert_eq!(
            format_rfc3339(utc("2024-05-01T10:00:00+08:00")),
            "2024-05-01T02:00:00Z"
        );
        assert_eq!(parse_rfc3339("2024-05-01"), None);
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("Z").map(|o| o.local_minus_utc()), Some(0));
        assert_eq!(
            parse_offset("+08:00").map(|o| o.local_minus_utc()),
            Some(8 * 3600)
        );
        assert_eq!(
            parse_offset("-0530").map(|o| o.local_minus_utc()),
            Some(-(5 * 3600 + 30 * 60))
        );
        assert_eq!(parse_offset("8"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }

    #[test]
    fn calendar_months_clamp_to_month_end() {
        let tz = parse_offset("Z").expect("utc");
        let t = utc("2024-03-31T10:00:00Z");
        assert_eq!(add_months(t, -1, tz), Some(utc("2024-02-29T10:00:00Z")));
        assert_eq!(add_months(t, -12, tz), Some(utc("2023-03-31T10:00:00Z")));
        let jan31 = utc("2023-01-31T00:00:00Z");
        assert_eq!(add_months(jan31, 1, tz), Some(utc("2023-02-28T00:00:00Z")));
    }

    #[test]
    fn calendar_steps_follow_the_engine_zone() {
        let tz = parse_offset("+08:00").expect("tz");
        // 2024-03-31T20:00Z is already April 1st in +08:00, so one month back is March 1st local.
        let t = utc("2024-03-31T20:00:00Z");
        assert_eq!(add_months(t, -1, tz), Some(utc("2024-02-29T20:00:00Z")));
        assert_eq!(start_of_day(t, tz), Some(utc("2024-03-31T16:00:00Z")));
    }
}
