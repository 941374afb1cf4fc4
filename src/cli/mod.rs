//! The command line: arguments → [`Context`] → one function per command. The REPL runs
//! the same commands, so both behave alike.

pub mod args;
mod data;
mod manage;
pub mod output;
mod query;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::FixedOffset;

use crate::engine::Engine;
use crate::error::Error;
use crate::model::Seconds;
use crate::model::time::{parse_offset, parse_rfc3339};
pub use args::{Cli, Command};
pub use query::compile as query_compile;

/// What every command runs against.
pub struct Context {
    pub engine: Engine,
    /// The fixed `--now`, if any (else the clock at each command).
    pub fixed_now: Option<Seconds>,
    /// Running inside the REPL (ask before big changes even if stdin is piped).
    pub interactive: bool,
}

impl Context {
    /// The query's now: `--now`, else the clock.
    pub fn now(&self) -> Seconds {
        self.fixed_now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as Seconds)
        })
    }
}

/// The data directory: `--data`, else `$REACH_DATA`, else `./reach-data`.
pub fn data_dir(flag: Option<&PathBuf>) -> PathBuf {
    flag.cloned()
        .or_else(|| std::env::var_os("REACH_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("reach-data"))
}

/// Parses `--now` and `--tz`.
pub fn clock_options(
    now: Option<&str>,
    tz: Option<&str>,
) -> Result<(Option<Seconds>, Option<FixedOffset>), Error> {
    let now = now
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| {
                Error::Usage(format!(
                    "--now {t}: expected an RFC 3339 time such as 2024-06-01T00:00:00Z"
                ))
            })
        })
        .transpose()?;
    let tz = tz
        .map(|t| {
            parse_offset(t).ok_or_else(|| {
                Error::Usage(format!("--tz {t}: expected an offset such as +08:00 or Z"))
            })
        })
        .transpose()?;
    Ok((now, tz))
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), Error> {
    let (fixed_now, tz) = clock_options(cli.now.as_deref(), cli.tz.as_deref())?;
    let dir = data_dir(cli.data.as_ref());
    match cli.command {
        Some(Command::Gen {
            contacts,
            seed,
            output,
        }) => return data::generate(contacts, seed, output.as_deref(), fixed_now),
        Some(Command::Demo { contacts }) => return data::demo(&dir, contacts, fixed_now, tz),
        _ => {}
    }
    let mut engine = Engine::open(&dir)?;
    if let Some(tz) = tz {
        engine.set_time_zone(tz);
    }
    let mut ctx = Context {
        engine,
        fixed_now,
        interactive: false,
    };
    match cli.command {
        None | Some(Command::Repl) => crate::repl::run(&mut ctx),
        Some(command) => execute(&mut ctx, command),
    }
}

/// Runs one command against a context (shared by the command line and the REPL).
pub fn execute(ctx: &mut Context, command: Command) -> Result<(), Error> {
    match command {
        Command::Repl | Command::Demo { .. } => Err(Error::Usage("already in the REPL".into())),
        Command::Gen {
            contacts,
            seed,
            output,
        } => data::generate(contacts, seed, output.as_deref(), ctx.fixed_now),
        Command::Import {
            file,
            reject,
            ignore_unknown_columns,
        } => data::import(ctx, &file, reject.as_deref(), ignore_unknown_columns),
        Command::Stats { memory } => data::stats(ctx, memory),
        Command::Count(args) => query::count(ctx, args),
        Command::List {
            segment,
            limit,
            offset,
            format,
        } => query::list(ctx, &segment, limit, offset, format),
        Command::Explain { segment } => query::explain(ctx, &segment),
        Command::Export {
            segment,
            output,
            all_columns,
        } => query::export(ctx, &segment, output.as_deref(), all_columns),
        Command::Quota {
            account,
            plan,
            purchased,
            used,
        } => manage::quota(ctx, account, plan, purchased, used),
        Command::Tags(args) => manage::tags(ctx, args),
        Command::Tag {
            action,
            tag,
            segment,
            yes,
        } => manage::tag(ctx, action, &tag, &segment, yes),
        Command::Unsubscribe {
            segment,
            kinds,
            yes,
        } => manage::unsubscribe(ctx, &segment, &kinds, yes),
        Command::Resubscribe { segment, yes } => manage::resubscribe(ctx, &segment, yes),
        Command::Delete { segment, confirm } => manage::delete(ctx, &segment, confirm.as_deref()),
        Command::AddWhatsapp {
            name,
            phone,
            account,
        } => manage::add_whatsapp(ctx, &name, &phone, account.as_deref()),
        Command::Save { name, segment } => manage::save(ctx, &name, &segment),
        Command::Segments => manage::segments(ctx),
    }
}
