//! The command line: arguments → [`Context`] → one function per command. The REPL runs
//! the same commands, so both behave alike.
//!
//! `args.rs` (the clap grammar), `query.rs`, `data.rs`, `manage.rs`, `broadcast.rs`,
//! `apply.rs` (the change stream's read, parse, commit, acknowledge loop), `output.rs`
//! (tables, progress bars, the pager). Each command opens the engine as it needs:
//! read-only (count, list, explain, export, stats, segments), exclusive (changes), shared
//! (the REPL). [`run`] returns [`Next`] and `main` opens the REPL or runs the script: the
//! REPL sits on the commands, which never call into it. Output goes through `outln!`,
//! which maps a closed pipe to [`Error::Closed`] (exit 0, quietly).

/// Writes to stdout: a closed pipe ([`Error::Closed`]) or a full disk is an error the
/// caller passes on, never a panic.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::out(format_args!($($arg)*)) };
}

/// Writes a line to stdout, like [`out!`].
macro_rules! outln {
    () => { $crate::cli::output::out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes a line to stderr; a stderr that cannot be written to does not stop the command.
macro_rules! note {
    ($($arg:tt)*) => { $crate::cli::output::note(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes to stderr without a line break (a question), like [`note!`].
macro_rules! note_raw {
    ($($arg:tt)*) => { $crate::cli::output::note(format_args!($($arg)*)) };
}

mod apply;
pub mod args;
mod broadcast;
mod data;
mod manage;
pub mod output;
mod query;
mod table;

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::FixedOffset;

pub use args::{Cli, Command};
pub use query::compile as query_compile;
use reach::engine::{DataDir, Durability, Engine};
use reach::error::Error;
use reach::model::Seconds;
use reach::model::time::{parse_offset, parse_rfc3339};

/// What every command runs against.
pub struct Context {
    pub engine: Engine,
    /// The fixed `--now`, if any (else the clock at each command).
    pub fixed_now: Option<Seconds>,
    /// Running inside the REPL (ask before big changes even if stdin is piped).
    pub interactive: bool,
    /// The broadcast sink when none is named (`None`: `platform`; the demo's outbox).
    pub default_sink: Option<String>,
    /// What named the contacts the last command erased (external ids, names and other
    /// text fields), gathered in the REPL only, for it to erase them from its history.
    pub erased: Vec<String>,
}

impl Context {
    /// A context for `engine`.
    pub fn new(engine: Engine, fixed_now: Option<Seconds>, interactive: bool) -> Context {
        Context {
            engine,
            fixed_now,
            interactive,
            default_sink: None,
            erased: Vec::new(),
        }
    }

    /// Creates a file the command writes (an export, a reject file), refusing any place
    /// inside the data directory: only the engine writes there.
    pub fn create_output(&self, path: &Path) -> Result<std::fs::File, Error> {
        if let Some(dir) = self.engine.dir() {
            refuse_inside(&dir, path)?;
        }
        create_output(path)
    }

    /// The query's now: `--now`, else the clock.
    pub fn now(&self) -> Seconds {
        self.fixed_now.unwrap_or_else(reach::model::time::now)
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

/// Refuses to write `path` if it lies inside the data directory `dir`.
pub fn refuse_inside(dir: &DataDir, path: &Path) -> Result<(), Error> {
    if dir.holds(path) {
        return Err(Error::Usage(format!(
            "{} is inside the data directory {}: only reach's own files live there; write it somewhere else",
            path.display(),
            dir.path().display()
        )));
    }
    Ok(())
}

/// Creates an output file (`0600` if new), refusing one in any reach data directory (a
/// folder holding a snapshot or a write lock), named by `--data` or not: it would
/// overwrite or shadow reach's own files.
pub fn create_output(path: &Path) -> Result<std::fs::File, Error> {
    let folder = match std::fs::canonicalize(path) {
        Ok(target) => target.parent().map(Path::to_path_buf),
        Err(_) => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            std::fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()
        }
    };
    let is_reach = |f: &PathBuf| f.join("contacts.snap").exists() || f.join("lock").exists();
    if let Some(folder) = folder.filter(is_reach) {
        return Err(Error::Usage(format!(
            "{} is inside the reach data directory {}: only reach's own files live there; write it somewhere else",
            path.display(),
            folder.display()
        )));
    }
    // It holds personal data: a new file is private whatever the umask.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))
}

/// How a command reaches the data directory.
enum Access {
    /// Reads only: the directory must exist, and nothing is written.
    Read,
    /// Writes: holds the directory's write lock for the whole command.
    Write,
    /// The REPL: writes take the lock for each change.
    Shared,
    /// Reads the directory when there is one (saved segments), else an empty store.
    ReadIfPresent,
}

impl Command {
    fn access(&self) -> Access {
        match self {
            Command::Repl => Access::Shared,
            Command::Sql(_) => Access::ReadIfPresent,
            Command::Count(_)
            | Command::Show { .. }
            | Command::List { .. }
            | Command::Explain { .. }
            | Command::Export { .. }
            | Command::Stats { .. }
            | Command::Segments { .. } => Access::Read,
            Command::Tags(args) if args.create.is_empty() && args.delete.is_empty() => Access::Read,
            Command::Quota {
                plan: None,
                purchased: None,
                used: None,
                sync: false,
                ..
            } => Access::Read,
            Command::Broadcast(args) => match &args.action {
                Some(args::BroadcastAction::Jobs { .. } | args::BroadcastAction::Show { .. }) => {
                    Access::Read
                }
                None if args.dry_run || args.sink == Some(args::SinkSpec::DryRun) => Access::Read,
                _ => Access::Write,
            },
            _ => Access::Write,
        }
    }
}

/// What a command line leads to once its command ran.
pub enum Next {
    Done,
    /// The REPL, on this context (`reach`, `reach repl`, `reach demo`): `main` opens it.
    Repl(Box<Context>),
    /// REPL lines to run and leave (`-c COMMAND`, `-f FILE`): `main` runs them.
    Script(Box<Context>, Script),
}

/// Lines given with `-c` or read from `-f`, run as if typed at the REPL prompt.
pub struct Script {
    pub lines: Vec<String>,
    pub stop_on_error: bool,
}

impl Script {
    /// The script a command line asks for, if any.
    fn from_cli(cli: &Cli) -> Result<Option<Script>, Error> {
        if cli.commands.is_empty() && cli.file.is_none() {
            return Ok(None);
        }
        if cli.command.is_some() {
            return Err(Error::Usage(
                "-c and -f run REPL lines and cannot be combined with a command: put the command in -c (reach -c 'count tag:vip')".into(),
            ));
        }
        let mut lines = cli.commands.clone();
        if let Some(file) = &cli.file {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(file)
            }
            .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?;
            lines.extend(text.lines().map(String::from));
        }
        Ok(Some(Script {
            lines,
            stop_on_error: cli.stop_on_error,
        }))
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Next, Error> {
    let (fixed_now, tz) = clock_options(cli.now.as_deref(), cli.tz.as_deref())?;
    let dir = data_dir(cli.data.as_ref());
    let script = Script::from_cli(&cli)?;
    let command = cli.command.unwrap_or(Command::Repl);
    match command {
        Command::Gen {
            contacts,
            segments,
            seed,
            output,
        } => {
            if let (Some(path), Ok(data)) = (&output, DataDir::existing(&dir))
                && data.is_reach()
            {
                refuse_inside(&data, path)?;
            }
            return data::generate(contacts, segments, seed, output.as_deref(), fixed_now)
                .map(|()| Next::Done);
        }
        Command::Demo { contacts } => {
            return data::demo(&dir, contacts, fixed_now, tz).map(|c| Next::Repl(Box::new(c)));
        }
        Command::Serve(args) => return serve(&dir, args, fixed_now, tz).map(|()| Next::Done),
        _ => {}
    }
    let mut engine = match command.access() {
        Access::Read => Engine::open_read_only(&dir)?,
        Access::Write => Engine::open(&dir)?,
        Access::Shared => Engine::open_shared(&dir)?,
        Access::ReadIfPresent => match DataDir::existing(&dir) {
            Ok(data) if data.is_reach() => Engine::open_read_only(&dir)?,
            _ => Engine::in_memory(),
        },
    };
    if let Some(tz) = tz {
        engine.set_time_zone(tz);
    }
    if let Some(bytes) = std::env::var("REACH_CHECKPOINT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        engine.set_checkpoint_bytes(bytes);
    }
    let mut ctx = Context::new(engine, fixed_now, false);
    if let Command::Repl = command {
        return Ok(match script {
            Some(script) => Next::Script(Box::new(ctx), script),
            None => Next::Repl(Box::new(ctx)),
        });
    }
    let result = execute(&mut ctx, command).and_then(|()| ctx.engine.intact());
    // Every change is durable once committed; the process is about to end, and the OS
    // takes the store's memory (and the directory's lock) back faster than freeing it
    // piece by piece would.
    std::mem::forget(ctx);
    result.map(|()| Next::Done)
}

/// `reach serve`: the options from the command line, the engine opened to write.
fn serve(
    dir: &Path,
    args: args::ServeArgs,
    fixed_now: Option<i64>,
    tz: Option<chrono::FixedOffset>,
) -> Result<(), Error> {
    let master_key = args
        .master_key
        .or_else(|| std::env::var("REACH_MASTER_KEY").ok());
    let options = crate::serve::Options {
        listen: args.listen,
        master_key: master_key.filter(|k| !k.is_empty()),
        durability: Durability::from(args.durability),
        tick: args.tick,
        max_body: args.max_body_mib.saturating_mul(1 << 20),
        now: fixed_now,
        default_sink: args
            .demo
            .then(|| format!("jsonl:{}", data::demo_outbox(dir).display())),
    };
    let mut engine = Engine::open(dir)?;
    if let Some(tz) = tz {
        engine.set_time_zone(tz);
    }
    if args.demo {
        let anchor = fixed_now.unwrap_or_else(reach::model::time::now);
        data::fill_demo(&engine, dir, args.demo_contacts, anchor)?;
    }
    crate::serve::run(engine, options)
}

/// Runs one command against a context (shared by the command line and the REPL).
pub fn execute(ctx: &mut Context, command: Command) -> Result<(), Error> {
    match command {
        Command::Repl | Command::Demo { .. } => Err(Error::Usage("already in the REPL".into())),
        Command::Serve(_) => Err(Error::Usage(
            "reach serve runs on its own: leave the REPL and run `reach serve`".into(),
        )),
        Command::Gen {
            contacts,
            segments,
            seed,
            output,
        } => data::generate(contacts, segments, seed, output.as_deref(), ctx.fixed_now),
        Command::Import {
            file,
            reject,
            ignore_unknown_columns,
        } => data::import(ctx, &file, reject.as_deref(), ignore_unknown_columns),
        Command::Stats { memory, format } => data::stats(ctx, memory, format),
        Command::Count(args) => query::count(ctx, args),
        Command::List {
            segment,
            limit,
            offset,
            format,
        } => query::list(ctx, &segment, limit, offset, format),
        Command::Explain {
            segment,
            analyze,
            verbose,
        } => query::explain(ctx, &segment.join(" "), analyze, verbose),
        Command::Show {
            account,
            external_id,
            format,
        } => query::show(ctx, &account, &external_id, format),
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
            sync,
            channels,
            format,
        } => {
            if sync {
                broadcast::sync_quotas(ctx, account.as_deref(), channels.as_deref())?;
            }
            manage::quota(ctx, account, (plan, purchased, used), format)
        }
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
        Command::Segments { format } => manage::segments(ctx, format),
        Command::Unsave { name } => manage::unsave(ctx, &name),
        Command::Apply { file, durability } => {
            let durability = Durability::from(durability);
            match file {
                Some(path) if path != Path::new("-") => {
                    let file = std::fs::File::open(&path)
                        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
                    apply::apply(ctx, file, durability)
                }
                _ => apply::apply(ctx, std::io::stdin().lock(), durability),
            }
        }
        Command::Broadcast(args) => broadcast::broadcast(ctx, *args),
        Command::Sql(args) => query::sql(ctx, args),
        Command::Compact => {
            let started = std::time::Instant::now();
            ctx.engine.compact()?;
            let seconds = started.elapsed().as_secs_f64();
            note!("compacted in {seconds:.2} s: one snapshot, an empty log");
            Ok(())
        }
    }
}
