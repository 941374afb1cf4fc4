//! Broadcasts: the third stage of the pipeline (parse → plan → execute → broadcast).
//! A broadcast freezes an audience (`audience.rs`), judges who may receive the message
//! (`eligibility.rs`), cuts the eligible into batches per account and logs the job
//! (`dispatch.rs`); then it sends (`send.rs`): the accounts in parallel, each with many
//! requests in flight at its pace (`crew.rs`, `pace.rs`), each batch rendered when taken
//! up (`prepare.rs`) and cut into requests by the [`Sink`] (`sink.rs`), its outcome and
//! books logged with those of the batches that settled with it (the engine keeps the
//! [`Job`] in `engine/job.rs` and knows nothing of sending); `message.rs` fills
//! placeholders, `report.rs` reports, `sinks/` holds the stock sinks and the channels
//! file.

mod audience;
mod crew;
mod dispatch;
mod eligibility;
mod message;
mod pace;
mod prepare;
mod report;
mod send;
mod sink;
pub mod sinks;

pub use crate::engine::{
    Batch, BatchOutcome, BatchState, Excluded, Figures, Job, JobState, Message, Options, Variables,
};
pub use audience::{Audience, AudienceSource};
pub use dispatch::{
    Request, cancel, idempotency_key, preview, refusal, report, start, unsent_batches,
};
pub use eligibility::{Judgement, Rules, judge};
pub use message::Template;
pub use pace::Pace;
pub use report::{Report, Speed};
pub use send::{IN_FLIGHT_RECIPIENTS, Run, resume, send};
pub use sink::{
    Delivery, HIDDEN_PASSWORD, Outcome, Outgoing, Part, Sink, kept_spelling, lacks_password,
};
