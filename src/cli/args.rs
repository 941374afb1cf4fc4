//! The command line's grammar (clap): global options and every command, with examples.

use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use reach::model::{MessageKind, OptOutKind};

/// `--kind` of a broadcast: the message kinds.
fn message_kinds() -> PossibleValuesParser {
    PossibleValuesParser::new(MessageKind::ALL.map(MessageKind::name))
}

/// `--kind` of unsubscribe: the opt-out kinds.
fn opt_out_kinds() -> PossibleValuesParser {
    PossibleValuesParser::new(OptOutKind::ALL.iter().map(|k| k.name()))
}

/// reach: pick an audience with a segment, in milliseconds.
#[derive(Parser, Debug)]
#[command(
    name = "reach",
    version,
    about,
    after_help = "Examples:\n  reach demo\n  reach --data ./d import contacts.csv\n  reach --data ./d count 'channel:line tag:vip -tag:churned checkout:-30d..'\n  reach --data ./d -c 'tag:vip' -c stats\n  reach --data ./d -f morning.reach --stop-on-error\n\nWithout a command, reach opens the REPL."
)]
pub struct Cli {
    /// The data directory [default: $REACH_DATA, else ./reach-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Fix the query's now (RFC 3339), for reproducible results
    #[arg(long, global = true, value_name = "TIME")]
    pub now: Option<String>,
    /// Time zone for dates without an offset: +08:00, -05:00, Z
    #[arg(long, global = true, value_name = "OFFSET", allow_hyphen_values = true)]
    pub tz: Option<String>,
    /// Run COMMAND as a REPL line, then leave (repeatable; lines run in order)
    #[arg(
        short = 'c',
        long = "command",
        value_name = "COMMAND",
        allow_hyphen_values = true
    )]
    pub commands: Vec<String>,
    /// Run the lines of FILE as REPL lines (`-` reads stdin), then leave
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// With -c or -f: stop at the first line that fails (exit 1 either way if one failed)
    #[arg(long)]
    pub stop_on_error: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `reach serve`'s options.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:7700", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// The key that may do everything [default: $REACH_MASTER_KEY]
    #[arg(long, value_name = "KEY")]
    pub master_key: Option<String>,
    /// When a change counts as durable: sync, group, none
    #[arg(long, value_enum, default_value_t = DurabilityMode::Group, value_name = "MODE")]
    pub durability: DurabilityMode,
    /// How often time-driven membership changes are looked for (500ms, 60s, 5m)
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub tick: std::time::Duration,
    /// The largest request body, in MiB
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub max_body_mib: usize,
    /// Create the demo audience (as `reach demo`) if the data directory is empty and
    /// serve the console on it; broadcasts go to the demo's outbox unless they name a sink
    #[arg(long)]
    pub demo: bool,
    /// With --demo: the contacts of a new demo audience
    #[arg(long, default_value_t = 200_000, value_name = "N", requires = "demo")]
    pub demo_contacts: u64,
}

/// `500ms`, `60s`, `5m`, `1h`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}': expected a number and a unit, e.g. 60s"))?;
    let millis = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("'{text}': units are ms, s, m, h")),
    };
    match millis {
        0 => Err("the tick must be longer than 0".into()),
        _ => Ok(std::time::Duration::from_millis(millis)),
    }
}

/// A command, as typed on the command line or at the REPL prompt.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the REPL on the data directory
    #[command(after_help = "Example:\n  reach --data ./d repl")]
    Repl,
    /// Create a demo audience (200,000 contacts) if needed and open the REPL on it
    #[command(after_help = "Example:\n  reach demo\n  reach demo --contacts 1000000")]
    Demo {
        /// Contacts to generate
        #[arg(long, default_value_t = 200_000)]
        contacts: u64,
    },
    /// Import contacts from CSV (`-` reads stdin); all or nothing unless --reject
    #[command(
        after_help = "Examples:\n  reach import contacts.csv\n  reach import - < contacts.csv\n  reach import contacts.csv --reject bad-rows.csv"
    )]
    Import {
        /// The CSV file (`-` reads stdin)
        file: PathBuf,
        /// Load the good rows and write the bad ones here, with an `error` column
        #[arg(long, value_name = "FILE")]
        reject: Option<PathBuf>,
        /// Skip columns the format does not know instead of refusing the file
        #[arg(long)]
        ignore_unknown_columns: bool,
    },
    /// Count the contacts of a segment
    #[command(
        after_help = "Examples:\n  reach count 'channel:line tag:vip'\n  reach count --batch segments.txt --repeat 5 --json"
    )]
    Count(CountArgs),
    /// List the contacts of a segment with their channel's columns
    #[command(
        after_help = "Examples:\n  reach list 'tag:vip' --limit 20\n  reach list 'channel:web has:email' --format csv"
    )]
    List {
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// How many contacts to show
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// How many to skip first (for the next page)
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// table (fits the terminal), csv, or json (one typed object a line)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one contact's card: every field, its tags, and the saved segments it is in
    #[command(
        after_help = "Examples:\n  reach show line-tw U4af4980629c1e3e1c3c95c9b4a7d2f9d\n  reach show +886223456789 +886912345678 --format json"
    )]
    Show {
        /// The account id
        account: String,
        /// The platform's user id (the contact's external id)
        external_id: String,
        /// table (one field a line) or json
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a segment's plan: as planned, run step by step (--analyze), or rule by rule (--verbose)
    #[command(
        after_help = "`explain analyze SEGMENT` and `explain verbose SEGMENT` work too (as in SQL).\n\nExamples:\n  reach explain 'tag:vip checkout:-30d.. -is:blocked'\n  reach explain --analyze 'channel:line is:fb_sendable'\n  reach explain verbose 'not not (tag:a tag:a)'"
    )]
    Explain {
        /// The segment (it may start with -, e.g. -tag:churned), after `analyze` or `verbose`
        #[arg(allow_hyphen_values = true, num_args = 1.., required = true)]
        segment: Vec<String>,
        /// Run the plan and show each step as it ran: strategy, estimated rows and cost, actual rows, time
        #[arg(long)]
        analyze: bool,
        /// Show the plan as lowered, then after each optimizer rule that changed it
        #[arg(long, conflicts_with = "analyze")]
        verbose: bool,
    },
    /// Export a segment's contacts as CSV
    #[command(
        after_help = "Examples:\n  reach export 'channel:line' -o line.csv\n  reach export '' --all-columns > everything.csv"
    )]
    Export {
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// The file to write [default: stdout]; not inside the data directory
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Every column instead of the contact-list columns
        #[arg(long)]
        all_columns: bool,
    },
    /// Write a deterministic synthetic audience as CSV, or random segments over one
    #[command(
        after_help = "Times are relative to --now (default: today, 00:00 UTC), so that segments such as checkout:-30d.. find people; the file depends only on --contacts, --seed and that now.\n\nWith --segments N, writes N random segments instead, one a line (every field, operator and time form, nested), with values the audience of --contacts (default 10,000,000) at that --now holds; --seed picks the segments. Time them with count --batch.\n\nExamples:\n  reach gen --contacts 1000000 --seed 1 -o audience.csv\n  reach gen --contacts 5000 --now 2025-06-01T04:00:00Z | reach --data ./d import -\n  reach --now 2025-06-01T04:00:00Z gen --segments 10000 --seed 1 -o hunt.txt\n  reach --data ./d --now 2025-06-01T04:00:00Z count --batch hunt.txt --repeat 5 --json"
    )]
    Gen {
        /// How many contacts (with --segments: the audience the values come from)
        #[arg(long, required_unless_present = "segments")]
        contacts: Option<u64>,
        /// Write this many random segments instead of contacts
        #[arg(long, value_name = "N")]
        segments: Option<u64>,
        /// The random seed: the same seed (and now) gives the same file
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The file to write [default: stdout]
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Totals, subscribed, unsubscribed and active contacts per channel and account
    #[command(after_help = "Example:\n  reach stats")]
    Stats {
        /// Also show memory use by column and index
        #[arg(long)]
        memory: bool,
        /// table, csv, or json (one object a row)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show LINE message quotas (used/total), or set one
    #[command(
        after_help = "Examples:\n  reach quota\n  reach quota line-tw --plan 500 --purchased 1000 --used 120\n  reach quota --sync"
    )]
    Quota {
        /// The LINE account to set (all of them for --sync)
        account: Option<String>,
        /// Messages the plan allows this month
        #[arg(long)]
        plan: Option<u64>,
        /// Add-on messages bought this month
        #[arg(long)]
        purchased: Option<u64>,
        /// Messages used this month
        #[arg(long)]
        used: Option<u64>,
        /// Read the figures from LINE's quota endpoints (accounts of the channels file)
        #[arg(long)]
        sync: bool,
        /// The channels file for --sync [default: DATA/channels.toml]
        #[arg(long, value_name = "FILE")]
        channels: Option<PathBuf>,
        /// table, csv, or json (one object a row)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List, search, create and delete tags
    #[command(
        after_help = "Examples:\n  reach tags --search 會員 --sort count --desc\n  reach tags --sort created --asc --page 2\n  reach tags --create spring-sale\n  reach tags --delete old1 --delete old2 --confirm DELETE"
    )]
    Tags(TagsArgs),
    /// Add or remove a tag on every contact of a segment
    #[command(
        after_help = "Examples:\n  reach tag add vip 'checkout:-30d.. has:email'\n  reach tag remove vip 'tag:churned'"
    )]
    Tag {
        /// add or remove
        #[arg(value_enum)]
        action: TagAction,
        /// The tag
        tag: String,
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// Do not ask before changing many contacts
        #[arg(long, short)]
        yes: bool,
    },
    /// Opt contacts out of message kinds (all three when none is named)
    #[command(
        after_help = "Example:\n  reach unsubscribe 'email:a@b.com' --kind broadcast --kind cart"
    )]
    Unsubscribe {
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// A kind to opt out of: broadcast, site_marketing, cart (repeatable; none: all three)
        #[arg(long = "kind", value_name = "KIND", value_parser = opt_out_kinds())]
        kinds: Vec<String>,
        /// Do not ask before changing many contacts
        #[arg(long, short)]
        yes: bool,
    },
    /// Clear the opt-outs of a segment's contacts (blocking stays)
    #[command(after_help = "Example:\n  reach resubscribe 'member_id:M00000042'")]
    Resubscribe {
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// Do not ask before changing many contacts
        #[arg(long, short)]
        yes: bool,
    },
    /// Permanently erase a segment's contacts (asks for the word DELETE)
    #[command(
        after_help = "Examples:\n  reach delete 'tag:test-data'\n  reach delete 'tag:test-data' --confirm DELETE"
    )]
    Delete {
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
        /// The confirmation word, for scripts: DELETE
        #[arg(long, value_name = "WORD")]
        confirm: Option<String>,
    },
    /// Add a WhatsApp contact by hand (the phone becomes its external id)
    #[command(
        name = "add-whatsapp",
        after_help = "Example:\n  reach add-whatsapp 'Alice Chen' '+886 912-345-678' --account +886223456789"
    )]
    AddWhatsapp {
        /// The contact's name
        name: String,
        /// An international number: + and 8 to 15 digits (spaces, dashes, dots, parentheses allowed)
        phone: String,
        /// The WhatsApp business number (account) [default: the only one there is]
        #[arg(long)]
        account: Option<String>,
    },
    /// Save a segment under a name, to use as @name
    #[command(
        after_help = "Example:\n  reach save vip_buyers 'tag:vip checkout:-90d..'\n  reach count '@vip_buyers -tag:churned'"
    )]
    Save {
        /// The name, used as @name: letters, digits and _
        name: String,
        /// The segment (it may start with -, e.g. -tag:churned)
        #[arg(allow_hyphen_values = true)]
        segment: String,
    },
    /// List saved segments
    #[command(after_help = "Examples:\n  reach segments\n  reach segments --format json")]
    Segments {
        /// table, csv, or json (one object a row)
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove a saved segment (segments using it stop compiling)
    #[command(after_help = "Example:\n  reach unsave vip_buyers")]
    Unsave {
        /// The saved segment's name (without @)
        name: String,
    },
    /// Apply a stream of changes, one JSON object per line (`-` or nothing: stdin)
    #[command(
        after_help = "Each line is acknowledged on stdout once it is durable: {\"line\": N, \"ok\": true, \"changed\": K}, or {\"line\": N, \"ok\": false, \"error\": \"…\"} for a refused line, which changes nothing. A line is at most 16 MiB (16777216 bytes): a longer one is refused by its number and the stream goes on.\n\nExamples:\n  echo '{\"op\": \"event\", \"type\": \"checkout\", \"contact\": {\"channel\": \"line\", \"account\": \"line-tw\", \"external_id\": \"U1\"}, \"at\": \"2025-06-01T10:00:00+08:00\"}' | reach apply\n  reach apply changes.jsonl --durability sync"
    )]
    Apply {
        /// The file of changes [default: stdin]
        file: Option<PathBuf>,
        /// When a change counts as durable: sync (each flushed), group (lines arriving together share a flush), none
        #[arg(long, value_enum, default_value_t = DurabilityMode::Group, value_name = "MODE")]
        durability: DurabilityMode,
    },
    /// Send a message to a segment's contacts (or a CSV audience), exactly once
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "The preview (audience, eligible, excluded by reason, LINE quota per account) goes to stderr; on a terminal reach asks before sending (--yes skips). A killed job is left sending: `reach broadcast resume ID` finishes it.\n\nSinks: platform (each channel's API, per the channels file), jsonl:PATH (jsonl:- for stdout), webhook:URL, dry-run.\nPlaceholders: {{name}} {{email}} {{phone}} {{member_id}} {{store}} {{salesperson}} {{account}} {{external_id}}, a CSV audience's columns, {{name|friend}} for a default.\n\nExamples:\n  reach broadcast 'channel:line tag:vip is:subscribed' --kind broadcast --text 'Hi {{name|friend}}, spring sale!' --dry-run\n  reach broadcast 'tag:vip' --kind broadcast --text 'Hello' --sink jsonl:outbox.jsonl --id spring-1 --yes --json\n  reach broadcast --csv coupons.csv --kind cart --text 'Your code: {{coupon}}' --sink webhook:https://example.com/hook\n  reach broadcast jobs\n  reach broadcast resume spring-1"
    )]
    Broadcast(Box<BroadcastArgs>),
    /// Write one snapshot of everything and start an empty log (erased contacts leave no byte behind)
    #[command(after_help = "Example:\n  reach compact")]
    Compact,
    /// Print a segment as SQL for ClickHouse or PostgreSQL, or the table to load contacts into
    #[command(
        after_help = "The segment's now and time zone (--now, --tz) are written into the statement; saved segments come from --data when it exists.\n\nExamples:\n  reach sql --schema --dialect postgres\n  reach sql --dialect clickhouse 'channel:line tag:vip checkout:-30d..'\n  reach sql --dialect postgres --select ids '-tag:churned is:subscribed'\n  reach sql --schema --dialect clickhouse --cluster brands --table contacts"
    )]
    Sql(SqlArgs),
    /// Serve the data directory over HTTP/JSON (serve.md): counts, lists, changes,
    /// broadcasts, membership events, keys
    #[command(
        after_help = "Without --master-key (or REACH_MASTER_KEY) every request is allowed, so a non-loopback --listen needs one. SIGTERM or Ctrl-C: finish what is in flight, checkpoint, exit 0.\n\nExamples:\n  reach --data ./d serve\n  curl -s localhost:7700/count -H 'content-type: application/json' -d '{\"segment\": \"tag:vip\"}'\n  REACH_MASTER_KEY=secret reach --data ./d serve --listen 0.0.0.0:7700\n  reach serve --demo    (the console on the demo audience: open the URL it prints)"
    )]
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The segment (omitted: every contact; not with --schema); it may start with -
    #[arg(allow_hyphen_values = true)]
    pub segment: Option<String>,
    /// The engine whose SQL to write
    #[arg(long, value_enum)]
    pub dialect: DialectName,
    /// Print the statements that create the table instead of a query
    #[arg(long)]
    pub schema: bool,
    /// The table's name (letters, digits and _, optionally database.table)
    #[arg(long, default_value = "contacts", value_name = "NAME")]
    pub table: String,
    /// ClickHouse: also a Distributed table over this cluster, sharded by account
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// What the query returns: the count, or the matching contacts' identities
    #[arg(long, value_enum, default_value_t = SelectWhat::Count)]
    pub select: SelectWhat,
}

#[derive(Args, Debug)]
pub struct BroadcastArgs {
    #[command(subcommand)]
    pub action: Option<BroadcastAction>,
    /// The audience: a segment (or --csv); it may start with -, e.g. -tag:churned
    #[arg(allow_hyphen_values = true)]
    pub segment: Option<String>,
    /// The audience: a CSV of identities (channel,account,external_id, then variable columns)
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// The message kind: broadcast, site_marketing, cart, welcome, bot
    #[arg(long, value_parser = message_kinds())]
    pub kind: Option<String>,
    /// The message text, with placeholders such as {{name|friend}}
    #[arg(long)]
    pub text: Option<String>,
    /// Where the messages go: platform, jsonl:PATH, webhook:URL, dry-run [default: platform; in `reach demo`, the demo's outbox]
    #[arg(long, value_name = "SINK", value_parser = SinkSpec::parse)]
    pub sink: Option<SinkSpec>,
    /// The channels file (endpoints and tokens) [default: DATA/channels.toml]
    #[arg(long, value_name = "FILE")]
    pub channels: Option<PathBuf>,
    /// The job id (used once) [default: one made up from the time]
    #[arg(long)]
    pub id: Option<String>,
    /// Show the preview and the report without sending or starting a job
    #[arg(long)]
    pub dry_run: bool,
    /// Send what the LINE quota allows instead of refusing the broadcast
    #[arg(long)]
    pub partial: bool,
    /// Facebook: the message answers inside the 24-hour window (fb_sendable not needed)
    #[arg(long)]
    pub reply_window: bool,
    /// At most N requests a second to each account [default: the platform's limit]
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// At most N requests in flight to each account [default: the platform's, docs/platforms.md]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,
    /// The email subject [default: the text's first line]
    #[arg(long, value_name = "TEXT")]
    pub subject: Option<String>,
    /// A JSON file of per-channel messages in the platforms' formats ({"line": {...}})
    #[arg(long, value_name = "FILE")]
    pub payload: Option<PathBuf>,
    /// Do not ask before sending
    #[arg(long, short)]
    pub yes: bool,
    /// Print the final report as one JSON object
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum BroadcastAction {
    /// List the broadcast jobs
    Jobs {
        /// One JSON object per job
        #[arg(long)]
        json: bool,
    },
    /// Show a job's report (and its uncertain recipients)
    Show {
        /// The job id
        id: String,
        /// The report as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Finish a job left sending (after a kill or a crash)
    Resume {
        /// The job id
        id: String,
        /// Send again the batches whose delivery is uncertain (sinks without idempotency keys)
        #[arg(long)]
        resend_uncertain: bool,
        /// Another channels file than the job's (a token was rotated, an endpoint moved)
        #[arg(long, value_name = "FILE")]
        channels: Option<PathBuf>,
        /// The job's webhook URL again, with the password the job does not keep
        #[arg(long, value_name = "URL")]
        webhook: Option<String>,
        /// At most N requests a second to each account, instead of the job's rate
        #[arg(long, value_name = "N")]
        rate: Option<u32>,
        /// At most N requests in flight to each account [default: the platform's]
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
        concurrency: Option<u32>,
        /// Print the final report as one JSON object
        #[arg(long)]
        json: bool,
    },
    /// Stop a job left sending: it sends nothing more
    Cancel {
        /// The job id
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct CountArgs {
    /// The segment (omitted: every contact; not with --batch); it may start with -
    #[arg(allow_hyphen_values = true)]
    pub segment: Option<String>,
    /// Count every segment of FILE (one a line; blank and # lines skipped)
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// With --batch: count each segment N times and report the median time
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// One JSON object per segment: {"segment", "count", "micros"}
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct TagsArgs {
    /// Only tags whose name contains this text (any case)
    #[arg(long)]
    pub search: Option<String>,
    /// Sort by contacts carrying the tag, creation time, or name
    #[arg(long, value_enum, default_value_t = TagSort::Count)]
    pub sort: TagSort,
    /// Ascending instead of descending
    #[arg(long, conflicts_with = "desc")]
    pub asc: bool,
    /// Descending (the default)
    #[arg(long)]
    pub desc: bool,
    /// The page to show, from 1
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub page: u64,
    /// Tags per page
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    pub page_size: u64,
    /// Create a tag no contact carries yet
    #[arg(long, value_name = "TAG")]
    pub create: Vec<String>,
    /// Delete tags from every contact
    #[arg(long, value_name = "TAG")]
    pub delete: Vec<String>,
    /// The confirmation word for --delete, for scripts: DELETE
    #[arg(long, value_name = "WORD")]
    pub confirm: Option<String>,
    /// table, csv, or json (one object a row)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagSort {
    Count,
    Created,
    Name,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagAction {
    Add,
    Remove,
}

/// `--durability` of `reach apply`: the engine's [`Durability`](reach::Durability) modes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurabilityMode {
    Sync,
    Group,
    None,
}

impl From<DurabilityMode> for reach::Durability {
    fn from(mode: DurabilityMode) -> Self {
        match mode {
            DurabilityMode::Sync => reach::Durability::Sync,
            DurabilityMode::Group => reach::Durability::Group,
            DurabilityMode::None => reach::Durability::None,
        }
    }
}

/// `--dialect` of `reach sql`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialectName {
    Clickhouse,
    Postgres,
}

impl DialectName {
    /// The dialect's SQL writer.
    pub fn dialect(self) -> Box<dyn reach::sql::Dialect> {
        match self {
            DialectName::Clickhouse => Box::new(reach::sql::ClickHouse),
            DialectName::Postgres => Box::new(reach::sql::Postgres),
        }
    }
}

/// `--select` of `reach sql`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectWhat {
    Count,
    Ids,
}

impl From<SelectWhat> for reach::sql::Select {
    fn from(what: SelectWhat) -> Self {
        match what {
            SelectWhat::Count => reach::sql::Select::Count,
            SelectWhat::Ids => reach::sql::Select::Ids,
        }
    }
}

/// `--sink` of `reach broadcast`: where the messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkSpec {
    /// Each channel's API, per the channels file.
    Platform,
    /// A JSON Lines outbox at PATH (`-`: stdout).
    Jsonl(String),
    /// One POST a batch to an http(s) URL.
    Webhook(String),
    /// The preview and report only (as `--dry-run`).
    DryRun,
    /// Accepts everything, sends nothing (for measurements; not listed in the help).
    Discard,
}

impl SinkSpec {
    /// Parses a `--sink` spelling; the error lists what is accepted.
    pub fn parse(text: &str) -> Result<SinkSpec, String> {
        const EXPECTED: &str =
            "expected platform, jsonl:PATH (jsonl:- for stdout), webhook:URL or dry-run";
        if let Some(path) = text.strip_prefix("jsonl:") {
            return match path {
                "" => Err(format!("jsonl: needs a PATH; {EXPECTED}")),
                path => Ok(SinkSpec::Jsonl(path.to_string())),
            };
        }
        if let Some(url) = text.strip_prefix("webhook:") {
            return if url.starts_with("http://") || url.starts_with("https://") {
                Ok(SinkSpec::Webhook(url.to_string()))
            } else {
                Err(format!(
                    "{}: expected an http:// or https:// URL after webhook:",
                    reach::broadcast::kept_spelling(text)
                ))
            };
        }
        match text {
            "platform" => Ok(SinkSpec::Platform),
            "dry-run" => Ok(SinkSpec::DryRun),
            "discard" => Ok(SinkSpec::Discard),
            _ => Err(EXPECTED.to_string()),
        }
    }
}

impl std::fmt::Display for SinkSpec {
    /// The spelling [`SinkSpec::parse`] takes (what a job records).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkSpec::Platform => f.write_str("platform"),
            SinkSpec::Jsonl(path) => write!(f, "jsonl:{path}"),
            SinkSpec::Webhook(url) => write!(f, "webhook:{url}"),
            SinkSpec::DryRun => f.write_str("dry-run"),
            SinkSpec::Discard => f.write_str("discard"),
        }
    }
}
#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn every_option_of_every_command_has_a_help_line() {
        let mut missing = Vec::new();
        let mut commands = vec![(String::from("reach"), Cli::command())];
        while let Some((name, command)) = commands.pop() {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.get_help().is_none() && !["help", "version"].contains(&id) {
                    missing.push(format!("{name} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                commands.push((format!("{name} {}", sub.get_name()), sub.clone()));
            }
        }
        assert!(missing.is_empty(), "no help line: {missing:?}");
    }

    /// Every word the REPL completes (and `demo`, `repl`) is a command whose `--help`
    /// shows an example.
    #[test]
    fn every_command_has_help_with_an_example() {
        let words = crate::repl::COMMANDS
            .iter()
            .filter(|c| !matches!(**c, "help" | "quit"));
        let mut root = Cli::command();
        for word in words.chain(&["demo", "repl"]) {
            let command = root.find_subcommand_mut(word);
            let help = command.map(|c| c.render_long_help().to_string());
            assert!(
                help.is_some_and(|h| h.contains("Example")),
                "{word} --help has no example"
            );
        }
    }
}
