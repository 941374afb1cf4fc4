//! [`Sink`]: where a broadcast's batches go, push style (in the spirit of ripgrep's
//! `Sink`): the dispatcher hands over one [`Outgoing`] batch at a time and gets back what
//! became of each recipient — sent, failed for good with a reason, or to be tried again —
//! or a verdict on the whole batch, which may stop the job. Embedders implement it to
//! send through their own systems; `sinks` holds the stock ones.
//!
//! ```
//! use reach::broadcast::{Delivery, Outcome, Outgoing, Sink};
//! use reach::model::Channel;
//!
//! /// Prints each recipient's text.
//! struct Print;
//!
//! impl Sink for Print {
//!     fn send(&mut self, batch: &Outgoing) -> Delivery {
//!         for i in 0..batch.len() {
//!             let (channel, account, id) = batch.identity(i);
//!             println!("{channel}/{account}/{id}: {}", batch.text(i));
//!         }
//!         Delivery::Each(vec![Outcome::Sent; batch.len()])
//!     }
//! }
//! ```

use std::time::{Duration, Instant};

use super::message::Template;
use crate::engine::Variables;
use crate::model::{Channel, MessageKind, TextField};
use crate::store::Store;

/// What became of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Refused for good (an invalid address, a rejected recipient): not tried again.
    Failed(String),
    /// Not delivered this time (a timeout, a 5xx): tried again, alone, after a backoff.
    Retry(String),
}

/// What became of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An outcome per recipient, in the batch's order.
    Each(Vec<Outcome>),
    /// Nothing is known to be delivered: send the whole batch again (with the same
    /// idempotency key) after a backoff.
    Retry(String),
    /// The batch failed for good; the job goes on with the next batch.
    Failed(String),
    /// The job cannot go on (e.g. credentials refused): it stops as `failed`. `done`
    /// holds the outcomes of the first recipients, dealt with before (the rest were not
    /// sent).
    Stop { done: Vec<Outcome>, why: String },
}

/// A destination for broadcast batches.
pub trait Sink {
    /// Whether sending a batch again with the same idempotency key delivers it once
    /// (then a batch in flight at a crash is simply sent again on resume; otherwise its
    /// intent is logged first and it is left `uncertain`).
    fn idempotent(&self, channel: Channel) -> bool {
        let _ = channel;
        false
    }

    /// Recipients per batch on a channel.
    fn batch_size(&self, channel: Channel) -> usize {
        let _ = channel;
        1_000
    }

    /// Requests a second to one account when the broadcast names no `--rate` (`None`:
    /// no limit).
    fn default_rate(&self, channel: Channel) -> Option<f64> {
        let _ = channel;
        None
    }

    /// Why this sink cannot send to `account` of `channel` at all (e.g. the channels
    /// file does not name it), if it cannot: a broadcast to it is refused before
    /// anything is sent.
    fn unreachable(&self, channel: Channel, account: &str) -> Option<String> {
        let _ = (channel, account);
        None
    }

    /// Sends one batch.
    fn send(&mut self, batch: &Outgoing) -> Delivery;
}

/// Paces requests to one account: at most `rate` a second (a token bucket holding one
/// second's worth at most, so a burst never outruns the rate by more than that).
#[derive(Debug)]
pub struct Pace {
    interval: Option<Duration>,
    next: Instant,
}

impl Pace {
    /// A pace of `rate` requests a second (`None`: unpaced).
    pub fn new(rate: Option<f64>) -> Pace {
        Pace {
            interval: rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Instant::now(),
        }
    }

    /// Waits until one more request may go out.
    pub fn wait(&mut self) {
        let Some(interval) = self.interval else {
            return;
        };
        let now = Instant::now();
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        self.next = self
            .next
            .max(now.checked_sub(Duration::from_secs(1)).unwrap_or(now))
            + interval;
    }
}

/// One batch on its way: the recipients (rows of one account), their texts rendered on
/// demand, and the batch's idempotency key.
pub struct Outgoing<'a> {
    pub job: &'a str,
    pub batch: u32,
    /// The same on every retry and every resume.
    pub key: String,
    pub kind: MessageKind,
    pub channel: Channel,
    pub account: &'a str,
    /// The channel's message in the platform's own format (JSON), if the job has one.
    pub payload: Option<&'a str>,
    /// Facebook: whether the message answers inside the 24-hour window.
    pub reply_window: bool,
    /// The email subject given with the job (`--subject`).
    pub subject: Option<&'a str>,
    pub(super) rows: Vec<u32>,
    pub(super) store: &'a Store,
    pub(super) template: &'a Template,
    pub(super) variables: &'a Variables,
    pub(super) pace: std::cell::RefCell<&'a mut Pace>,
}

impl Outgoing<'_> {
    /// Recipients in the batch.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no recipient.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The identity of recipient `i`: (channel, account, external id).
    pub fn identity(&self, i: usize) -> (Channel, &str, &str) {
        let row = self.rows[i];
        let (channel, account) = self.store.account_of(row);
        (channel, account, self.store.external_id(row))
    }

    /// The message text for recipient `i`, its placeholders filled.
    pub fn text(&self, i: usize) -> String {
        let row = self.rows[i];
        self.template.render(self.store, row, self.values(row))
    }

    /// The placeholders' values for recipient `i`, in the text's order.
    pub fn placeholder_values(&self, i: usize) -> Vec<String> {
        let row = self.rows[i];
        self.template.values(self.store, row, self.values(row))
    }

    /// Whether every recipient gets the same text.
    pub fn same_text_for_all(&self) -> bool {
        !self.template.is_personal()
    }

    /// Recipient `i`'s recurring-notification token (Facebook contacts that hold one).
    pub fn notification_token(&self, i: usize) -> Option<&str> {
        self.store
            .text_of(TextField::FbNotificationToken, self.rows[i])
    }

    /// Recipient `i`'s email address (web contacts).
    pub fn email(&self, i: usize) -> Option<&str> {
        self.store.text_of(TextField::Email, self.rows[i])
    }

    /// Waits until one more request to this account may go out (call it before each).
    pub fn pace(&self) {
        self.pace.borrow_mut().wait();
    }

    fn values(&self, row: u32) -> Option<&[String]> {
        self.variables.values.get(&row).map(Vec::as_slice)
    }
}
