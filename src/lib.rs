//! reach: an embedded audience-segmentation engine.
//!
//! Contacts (one per channel account and platform user) live in a columnar store with a
//! roaring bitmap per channel, account, tag, flag and opt-out; a segment such as
//! `channel:line tag:vip -tag:churned checkout:-30d.. is:subscribed` is turned into a
//! bitmap of matching contacts in a pipeline whose stages are the modules:
//!
//! | stage | module | turns | into |
//! |---|---|---|---|
//! | parse | [`syntax`] | segment text | an [`syntax::Expr`] with byte spans |
//! | plan | [`plan`] | `Expr`, a clock, a time zone | an optimized [`plan::Plan`] of index lookups |
//! | execute | [`exec`] | `Plan` and a [`store::Store`] | a `RoaringBitmap` of rows |
//! | broadcast | [`broadcast`] | rows, a message, a [`broadcast::Sink`] | messages sent exactly once, and the books |
//!
//! Around them: [`model`] (what a contact is; pure), [`store`] (columns, indexes,
//! snapshots; a change is checked by [`store::Store::check`] and written by
//! [`store::Store::write`]), [`csv`] (import and export), [`synth`] (synthetic
//! audiences), [`engine`] (the API most users want: the state behind a reader-writer lock,
//! its data directory, and the one commit path through a write-ahead log). The `reach`
//! command line and its REPL are not part of the library: they are the binary's own
//! modules (`src/main.rs`), written against this API like any embedder.
//!
//! # Features
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | *(none)* | everything above; the `jsonl` and `discard` sinks | roaring, nom, rayon, serde, csv, chrono |
//! | `platforms` | the sinks that call LINE, WhatsApp, Messenger, Instagram, SMTP and webhooks | ureq, lettre, toml |
//! | `cli` (default) | the `reach` binary | `platforms`, clap, rustyline, indicatif |
//!
//! An embedder that wants the engine alone depends on `reach` with
//! `default-features = false`.
//!
//! # Durability and concurrency
//!
//! Every change is an [`Edit`] given to [`Engine::commit`]: logged, flushed (per
//! [`Durability`]) and applied before `commit` returns, so a crash at any moment reopens
//! to exactly the acknowledged changes. One process writes a data directory (a second
//! writer gets [`Error::Busy`] naming the holder's pid); `Engine` is `Sync`, and queries
//! from many threads see one committed state each while a writer commits.
//!
//! # Example
//!
//! ```
//! use reach::{Edit, Engine, model::FieldSet, synth};
//!
//! let engine = Engine::in_memory();
//! let contacts = synth::contacts(1_000, 1, synth::DEFAULT_ANCHOR);
//! engine.commit(Edit::Upsert { contacts, fields: FieldSet::all() }, 0)?;
//!
//! // Compile once (parse, plan, optimize at a fixed now), run many times.
//! let segment = engine.compile("channel:line,whatsapp -is:blocked checkout:-30d..", synth::DEFAULT_ANCHOR)?;
//! let count = engine.count(&segment);
//! assert_eq!(count, engine.rows(&segment).len());
//! println!("{}", engine.explain(&segment));
//!
//! // A malformed segment is an error that points at the text.
//! let err = engine.compile("tg:vip", 0).unwrap_err();
//! assert!(err.to_string().contains("did you mean 'tag'?"));
//! # Ok::<(), reach::Error>(())
//! ```
//!
//! # Input safety
//!
//! Segments, CSV files and data files are untrusted input: every failure is an
//! [`Error`] (with the place and what was expected), never a panic; a segment's text nests
//! at most 256 levels and is at most 64 KiB, and at most 512 once its saved segments are
//! expanded; a refused import or change leaves the store as it was; a damaged or foreign
//! data file is refused, never misread.
//!
//! # Errors
//!
//! Every [`Error`] has a machine-readable [`ErrorKind`] ([`Error::kind`]: `segment`,
//! `usage`, `not_found`, `conflict`, `busy`, `io`, …) with the command line's exit status
//! and the HTTP status a service answers with, and keeps its cause as
//! [`std::error::Error::source`]. A segment's error is a [`syntax::Diagnostic`]: a
//! [`syntax::DiagnosticKind`], the byte span it points at, and a suggestion when there is
//! one; its `Display` underlines the span.

// Data files are read in place (mapped), as little-endian values.
#[cfg(not(target_endian = "little"))]
compile_error!("reach reads its data files in place as little-endian values");

pub mod access;
pub mod broadcast;
pub mod cancel;
pub mod csv;
pub mod engine;
pub mod error;
pub mod exec;
pub mod model;
pub mod plan;
pub mod sql;
pub mod store;
pub mod suggest;
pub mod syntax;
pub mod synth;

pub use engine::{
    Committed, Durability, Edit, Engine, Identity, MembershipEvent, Quota, Scope, Segment,
    Subscription, Target, View,
};
pub use error::{Error, ErrorKind};
pub use exec::{ExplainNode, Strategy};
