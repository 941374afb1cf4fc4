//! Query commands: count (one or a batch), list, explain, export.

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::time::Instant;

use super::Context;
use super::args::{CountArgs, Format, SqlArgs};
use super::output::{Cell, progress};
use reach::csv::{ColumnChoice, format_cell, list_columns};
use reach::engine::Segment;
use reach::error::Error;
use reach::model::Field;

/// Compiles a segment at the context's now, printing its warnings to stderr.
pub fn compile(ctx: &Context, text: &str) -> Result<Segment, Error> {
    let segment = ctx.engine.compile(text, ctx.now())?;
    for warning in &segment.warnings {
        note!("note: {warning}");
    }
    Ok(segment)
}

pub fn count(ctx: &Context, args: CountArgs) -> Result<(), Error> {
    match (&args.segment, &args.batch) {
        (text, None) => {
            let text = text.as_deref().unwrap_or("");
            let segment = compile(ctx, text)?;
            let n = ctx.engine.count(&segment);
            if args.json {
                outln!("{}", serde_json::json!({"segment": text, "count": n}))?;
            } else {
                outln!("{n}")?;
            }
            Ok(())
        }
        (None, Some(file)) => batch(ctx, file, args.repeat.max(1), args.json),
        _ => Err(Error::Usage(
            "count takes a SEGMENT or --batch FILE (not both)".into(),
        )),
    }
}

/// Counts each segment line of `file` `repeat` times; reports the median time.
fn batch(ctx: &Context, file: &Path, repeat: u32, json: bool) -> Result<(), Error> {
    let input = fs::File::open(file)
        .map_err(|e| Error::io(format!("cannot open {}", file.display()), e))?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    // Many queries: time ranges sort their chunks from the first (the timings are of
    // warm use), where a one-shot command scans.
    ctx.engine.read().store().expect_repeats();
    for line in io::BufReader::new(input).lines() {
        let line = line.map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let mut times = Vec::with_capacity(repeat as usize);
        let mut count = 0;
        for _ in 0..repeat {
            let started = Instant::now();
            let segment = ctx.engine.compile(&line, ctx.now())?;
            count = ctx.engine.count(&segment);
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
        times.sort_by(f64::total_cmp);
        let micros = times[times.len() / 2].round() as u64;
        let written = if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"segment": line, "count": count, "micros": micros})
            )
        } else {
            writeln!(out, "{count}\t{micros}µs\t{line}")
        };
        written.map_err(super::output::write_error)?;
    }
    Ok(())
}

pub fn list(
    ctx: &Context,
    text: &str,
    limit: usize,
    offset: usize,
    format: Format,
) -> Result<(), Error> {
    let segment = compile(ctx, text)?;
    let view = ctx.engine.read();
    let store = view.store();
    let matching = view.rows(&segment);
    let page: roaring::RoaringBitmap = reach::csv::page_rows(store, &matching, offset, limit)
        .into_iter()
        .collect();
    let mut contacts = store.contacts(&page);
    contacts.sort_by(|a, b| a.identity_order().cmp(&b.identity_order()));
    // Store and salesperson columns when any contact of the listed channels has one in
    // the store (not only on this page), so that pages line up.
    let with_store = |channel: reach::model::Channel| {
        let of_channel = store.channel(channel);
        [
            reach::model::TextField::Store,
            reach::model::TextField::Salesperson,
        ]
        .iter()
        .any(|f| !store.text_present(*f).is_disjoint(of_channel))
    };
    let mut fields = vec![Field::Channel, Field::Account, Field::ExternalId];
    // The tabs' own columns in the seed's order: a narrow table keeps them longest.
    let mut seed: Vec<&str> = Vec::new();
    for channel in reach::model::Channel::ALL {
        if contacts.iter().any(|c| c.channel == channel) {
            let columns = list_columns(channel, with_store(channel));
            for field in &columns {
                let name = match field {
                    Field::Blocked | Field::OptOuts => "status",
                    other => other.name(),
                };
                if !seed.contains(&name) {
                    seed.push(name);
                }
            }
            fields.extend(columns);
        }
    }
    // The tabs' columns in the seed's order, once each; the page shows a contact's status
    // as a word (last), not its two raw columns.
    let mut shown: Vec<Field> = Vec::new();
    for field in fields {
        if !shown.contains(&field) && !matches!(field, Field::Blocked | Field::OptOuts) {
            shown.push(field);
        }
    }
    let fields = shown;
    let tz = ctx.engine.time_zone();
    let cell = |c: &reach::model::Contact, f: Field| match f.kind() {
        reach::model::FieldKind::Time(t) => (c.time(t)).map_or_else(String::new, |t| {
            reach::model::time::format_rfc3339_at(t, tz)
        }),
        // A name is shown trimmed, as JSON shows it.
        reach::model::FieldKind::Name => c.name.trim().to_string(),
        _ => format_cell(c, f),
    };
    let mut header: Vec<String> = fields.iter().map(|f| f.name().to_string()).collect();
    header.push("status".into());
    let rows: Vec<Vec<Cell>> = (contacts.iter())
        .map(|c| {
            let mut row: Vec<Cell> = fields.iter().map(|f| Cell::Text(cell(c, *f))).collect();
            row.push(super::output::status(c).into());
            row
        })
        .collect();
    match format {
        Format::Json => {
            for contact in &contacts {
                outln!("{}", super::output::contact_json(contact, tz))?;
            }
        }
        other => super::output::emit_list(&header, &rows, other, &seed)?,
    }
    if format == Format::Table {
        note!(
            "{} of {} (from {})",
            rows.len(),
            super::output::count_of(matching.len(), "contact"),
            offset.saturating_add(usize::from(!rows.is_empty()))
        );
    }
    Ok(())
}

/// EXPLAIN: the plan (nothing runs), `--analyze` (every node run and timed) or
/// `--verbose` (the plan after each optimizer rule). A leading `analyze` or `verbose`
/// word means the same (no segment starts with a bare word).
pub fn explain(ctx: &Context, text: &str, analyze: bool, verbose: bool) -> Result<(), Error> {
    let word = |w: &str| {
        let rest = text.trim_start().strip_prefix(w)?;
        rest.starts_with(char::is_whitespace).then_some(rest)
    };
    let (text, analyze, verbose) = match (word("analyze"), word("verbose")) {
        (Some(rest), _) => (rest, true, verbose),
        (_, Some(rest)) => (rest, analyze, true),
        _ => (text, analyze, verbose),
    };
    if verbose {
        return out!("{}", ctx.engine.read().explain_steps(text, ctx.now())?);
    }
    let segment = ctx.engine.compile(text, ctx.now())?;
    if analyze {
        return out!("{}", ctx.engine.explain(&segment));
    }
    for warning in &segment.warnings {
        outln!("warning: {warning}")?;
    }
    out!("{}", segment.plan)
}

pub fn export(
    ctx: &Context,
    text: &str,
    output: Option<&Path>,
    all_columns: bool,
) -> Result<(), Error> {
    let segment = compile(ctx, text)?;
    let view = ctx.engine.read();
    let rows = view.rows(&segment);
    let choice = if all_columns {
        ColumnChoice::All
    } else {
        ColumnChoice::ContactList
    };
    let started = std::time::Instant::now();
    let bar = progress(rows.len(), "exporting");
    let report = |n| bar.set_position(n);
    let written = match output {
        Some(path) => {
            let file = ctx.create_output(path)?;
            reach::csv::export(view.store(), &rows, choice, file, &report)
        }
        // On a terminal, through the pager; under the REPL's `\o FILE`, to the file.
        None if super::output::to_terminal() || !super::output::not_redirected() => {
            let mut text = Vec::new();
            let written = reach::csv::export(view.store(), &rows, choice, &mut text, &report);
            bar.finish_and_clear();
            super::output::page(&String::from_utf8_lossy(&text))?;
            written
        }
        None => reach::csv::export(view.store(), &rows, choice, io::stdout(), &report),
    }
    .map_err(super::output::write_error)?;
    bar.finish_and_clear();
    if output.is_some() {
        let seconds = started.elapsed().as_secs_f64();
        note!(
            "exported {written} contacts in {seconds:.1} s{}",
            super::output::rate(written, seconds)
        );
    }
    Ok(())
}

/// One contact's card (or each contact of that account and id, should the same account
/// id be on several channels): every field, its tags, its saved segments.
pub fn show(ctx: &Context, account: &str, external_id: &str, format: Format) -> Result<(), Error> {
    let quoted = |v: &str| reach::syntax::quote(v);
    let text = format!("account:{} id:{}", quoted(account), quoted(external_id));
    let segment = ctx.engine.compile(&text, ctx.now())?;
    let view = ctx.engine.read();
    let rows = view.rows(&segment);
    if rows.is_empty() {
        return Err(Error::UnknownContact(format!("{account}/{external_id}")));
    }
    let tz = ctx.engine.time_zone();
    for (row, contact) in rows.iter().zip(view.store().contacts(&rows)) {
        let saved: Vec<String> = (view.saved_segments().keys())
            .filter(|name| {
                view.compile(&format!("@{name}"), ctx.now())
                    .is_ok_and(|s| view.rows(&s).contains(row))
            })
            .map(|name| format!("@{name}"))
            .collect();
        let mut card = super::output::contact_json(&contact, tz);
        card["status"] = super::output::status(&contact).into();
        card["saved_segments"] = saved.clone().into();
        if format == Format::Json {
            outln!("{card}")?;
            continue;
        }
        let Some(fields) = card.as_object() else {
            continue;
        };
        let width = fields.keys().map(|k| k.len()).max().unwrap_or(0);
        for (key, value) in fields {
            let value = match value {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(items) => (items.iter())
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            outln!("{key:width$}  {value}")?;
        }
        outln!()?;
    }
    Ok(())
}

/// Prints a segment as one `SELECT`, or the table's statements (`--schema`).
pub fn sql(ctx: &Context, args: SqlArgs) -> Result<(), Error> {
    let dialect = args.dialect.dialect();
    identifier("--table", &args.table, true)?;
    if let Some(cluster) = &args.cluster {
        identifier("--cluster", cluster, false)?;
    }
    if args.schema {
        if args.segment.is_some() {
            return Err(Error::Usage(
                "--schema prints the table's statements and takes no segment".into(),
            ));
        }
        let statements = dialect
            .schema(&args.table, args.cluster.as_deref())
            .map_err(Error::Usage)?;
        return outln!("{}", statements.join("\n\n"));
    }
    if args.cluster.is_some() {
        return Err(Error::Usage(
            "--cluster belongs with --schema; queries name the Distributed table (--table)".into(),
        ));
    }
    // Without a data directory there is no store to say which tags exist.
    let text = args.segment.as_deref().unwrap_or("");
    let segment = if ctx.engine.dir().is_some() {
        compile(ctx, text)?
    } else {
        ctx.engine.compile(text, ctx.now())?
    };
    let what = reach::sql::Select::from(args.select);
    outln!(
        "{};",
        reach::sql::select(&segment.plan, dialect.as_ref(), &args.table, what)
    )
}

/// Refuses a table or cluster name that is not a plain identifier (it is written into
/// the SQL as it is).
fn identifier(option: &str, name: &str, qualified: bool) -> Result<(), Error> {
    let part = |p: &str| {
        p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    let fits = parts.len() == 1 || (qualified && parts.len() == 2);
    if fits && parts.iter().all(|p| part(p)) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{option} {name}: expected letters, digits and _ (not starting with a digit){}",
            if qualified {
                ", optionally database.table"
            } else {
                ""
            }
        )))
    }
}
