//! Data commands: import, gen, stats, demo.

use std::fs;
use std::io::{self, Read};
use std::path::Path;
use std::time::Instant;

use chrono::FixedOffset;

use super::Context;
use super::output::{Cell, progress};
use reach::csv::ImportOptions;
use reach::engine::{Edit, Engine};
use reach::error::Error;
use reach::model::{Channel, Seconds};
use reach::synth;

pub fn import(
    ctx: &mut Context,
    file: &Path,
    reject: Option<&Path>,
    ignore_unknown: bool,
) -> Result<(), Error> {
    let started = Instant::now();
    let (input, size): (Box<dyn Read + Send>, u64) = if file == Path::new("-") {
        (Box::new(io::stdin()), 0)
    } else {
        let f = fs::File::open(file)
            .map_err(|e| Error::io(format!("cannot open {}", file.display()), e))?;
        let size = f.metadata().map_or(0, |m| m.len());
        (Box::new(f), size)
    };
    let mut rejects = match reject {
        Some(path) => Some(ctx.create_output(path)?),
        None => None,
    };
    let options = ImportOptions {
        ignore_unknown_columns: ignore_unknown,
        size_hint: (size > 0).then_some(size),
        ..ImportOptions::default()
    };
    let bar = progress(size, "importing");
    let summary = ctx.engine.import(
        input,
        &options,
        rejects.as_mut().map(|f| f as &mut (dyn io::Write + Send)),
        ctx.now(),
        &|bytes| bar.set_position(bytes),
    );
    bar.finish_and_clear();
    let summary = summary?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = super::output::rate(summary.rows, seconds);
    outln!("{summary} in {seconds:.1} s{rate}")?;
    Ok(())
}

/// `reach gen`: an audience of `contacts`, or `segments` random segments over one.
pub fn generate(
    contacts: Option<u64>,
    segments: Option<u64>,
    seed: u64,
    output: Option<&Path>,
    now: Option<Seconds>,
) -> Result<(), Error> {
    // Relative to --now, else to the start of today (UTC): the audience's recent
    // checkouts and interactions are recent today, and one day's runs agree.
    let anchor = now.unwrap_or_else(|| {
        let clock = reach::model::time::now();
        clock - clock.rem_euclid(86_400)
    });
    match segments {
        Some(n) => random_segments(n, contacts.unwrap_or(10_000_000), seed, output, anchor),
        None => audience(contacts.unwrap_or(0), seed, output, anchor),
    }
}

fn random_segments(
    count: u64,
    audience: u64,
    seed: u64,
    output: Option<&Path>,
    anchor: Seconds,
) -> Result<(), Error> {
    let result = match output {
        Some(path) => {
            let file = super::create_output(path)?;
            synth::write_segments(count, seed, audience, anchor, file)
        }
        None => synth::write_segments(count, seed, audience, anchor, io::stdout().lock()),
    };
    result.map_err(super::output::write_error)
}

fn audience(contacts: u64, seed: u64, output: Option<&Path>, anchor: Seconds) -> Result<(), Error> {
    let bar = progress(contacts, "generating");
    let report = |n| bar.set_position(n);
    let result = match output {
        Some(path) => {
            let file = super::create_output(path)?;
            synth::write_csv(contacts, seed, anchor, file, &report)
        }
        None => synth::write_csv(contacts, seed, anchor, io::stdout().lock(), &report),
    };
    bar.finish_and_clear();
    result.map_err(super::output::write_error)
}

pub fn stats(ctx: &Context, memory: bool, format: super::args::Format) -> Result<(), Error> {
    let view = ctx.engine.read();
    let store = view.store();
    let subscribed = view.compile("is:subscribed", ctx.now())?;
    let subscribed = view.rows(&subscribed);
    let header: Vec<String> = [
        "channel",
        "account",
        "total",
        "subscribed",
        "unsubscribed",
        "active",
    ]
    .map(String::from)
    .to_vec();
    let mut rows = Vec::new();
    let line = |channel: &str, account: &str, set: &roaring::RoaringBitmap| {
        let total = set.len();
        let sub = set.intersection_len(&subscribed);
        vec![
            Cell::from(channel),
            Cell::from(account),
            Cell::Count(total),
            Cell::Count(sub),
            Cell::Count(total - sub),
            Cell::Count(sub),
        ]
    };
    for channel in Channel::ALL {
        let members = store.channel(channel);
        if members.is_empty() {
            continue;
        }
        rows.push(line(channel.name(), "(all)", members));
        let mut accounts: Vec<_> = store
            .accounts()
            .filter(|a| a.channel == channel && !a.rows.is_empty())
            .collect();
        accounts.sort_by_key(|a| a.id);
        for account in accounts {
            rows.push(line(channel.name(), account.id, account.rows));
        }
    }
    rows.push(line("all", "(all)", store.live()));
    super::output::emit(&header, &rows, format)?;
    if memory {
        outln!()?;
        let parts = store.memory_breakdown();
        let total: usize = parts.iter().map(|p| p.1).sum();
        let per = |b: usize| b as f64 / store.len().max(1) as f64;
        let tenths = |value: f64| Cell::Decimal { value, decimals: 1 };
        let mut rows: Vec<Vec<Cell>> = parts
            .iter()
            .map(|(name, b)| {
                vec![
                    Cell::from(name.as_str()),
                    tenths(*b as f64 / 1e6),
                    tenths(per(*b)),
                ]
            })
            .collect();
        rows.push(vec![
            Cell::from("total"),
            tenths(total as f64 / 1e6),
            tenths(per(total)),
        ]);
        let header = ["part", "MB", "bytes/contact"].map(String::from);
        super::output::emit(&header, &rows, format)?;
    }
    Ok(())
}

/// Generates the demo audience (and its two saved segments) into `engine` if it holds no
/// contacts, relative to `anchor`.
pub fn fill_demo(engine: &Engine, dir: &Path, contacts: u64, anchor: Seconds) -> Result<(), Error> {
    if !engine.read().store().is_empty() {
        return Ok(());
    }
    note!(
        "creating a demo audience of {contacts} contacts in {} …",
        dir.display()
    );
    let bar = progress(contacts, "generating");
    let mut csv = Vec::new();
    synth::write_csv(contacts, 1, anchor, &mut csv, &|n| bar.set_position(n))
        .map_err(super::output::write_error)?;
    bar.finish_and_clear();
    let options = ImportOptions::default();
    engine.import(&csv[..], &options, None, anchor, &|_| {})?;
    for (name, text) in [
        ("recent_buyers", "checkout:-30d.. is:subscribed"),
        ("vip_buyers", "(tag:vip or tag:gold) @recent_buyers"),
    ] {
        let edit = Edit::SaveSegment {
            name: name.into(),
            text: text.into(),
        };
        engine.commit(edit, anchor)?;
    }
    Ok(())
}

/// The demo's outbox: beside its data directory (`DIR-outbox.jsonl`), since only the
/// engine writes inside it.
pub fn demo_outbox(dir: &Path) -> std::path::PathBuf {
    let mut name = dir
        .file_name()
        .map_or_else(|| "reach-data".into(), |n| n.to_os_string());
    name.push("-outbox.jsonl");
    dir.with_file_name(name)
}

/// Generates the demo audience into `dir` if it holds no contacts; the REPL opens on the
/// context returned.
pub fn demo(
    dir: &Path,
    contacts: u64,
    now: Option<Seconds>,
    tz: Option<FixedOffset>,
) -> Result<Context, Error> {
    let mut engine = Engine::open_shared(dir)?;
    if let Some(tz) = tz {
        engine.set_time_zone(tz);
    }
    let mut ctx = Context::new(engine, now, true);
    ctx.default_sink = Some(format!("jsonl:{}", demo_outbox(dir).display()));
    fill_demo(&ctx.engine, dir, contacts, ctx.now())?;
    Ok(ctx)
}
