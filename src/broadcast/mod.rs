//! Broadcasts: the third stage of the pipeline (parse → plan → execute → broadcast).
//! A broadcast freezes an audience (`audience.rs`), judges who may receive the message
//! (`eligibility.rs`), cuts the eligible into batches per account and pushes them
//! through a [`Sink`] (`dispatch.rs`), keeping its progress and books durable through the
//! engine's log, batch by batch (the engine keeps the [`Job`] in `engine/job.rs` and
//! knows nothing of sending); `message.rs` fills placeholders, `report.rs` reports,
//! `sinks/` holds the stock sinks and the channels file.

mod audience;
mod dispatch;
mod eligibility;
mod message;
mod report;
mod sink;
pub mod sinks;

pub use crate::engine::{
    Batch, BatchOutcome, BatchState, Excluded, Figures, Job, JobState, Message, Options, Variables,
};
pub use audience::{Audience, AudienceSource};
pub use dispatch::{
    Request, Run, cancel, idempotency_key, preview, refusal, report, resume, send, start,
};
pub use eligibility::{Judgement, Rules, judge};
pub use message::Template;
pub use report::Report;
pub use sink::{Delivery, Outcome, Outgoing, Pace, Sink};
