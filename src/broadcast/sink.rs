//! [`Sink`]: where a broadcast's batches go, push style (in the spirit of ripgrep's
//! `Sink`). The dispatcher hands a sink each batch once to [`Sink::split`] into requests
//! ([`Part`]s: recipients sent together, with a key), then sends the parts, many at once
//! from several threads, through [`Sink::send`], and gets back what became of each
//! recipient — sent, failed for good with a reason, or to be tried again — or a verdict on
//! the whole request, which may slow its account down or stop the job. Pacing, retries
//! and concurrency are the dispatcher's; a sink sends one request per call. Embedders
//! implement it to send through their own systems; `sinks` holds the stock ones.
//!
//! ```
//! use reach::broadcast::{Delivery, Outcome, Outgoing, Sink};
//! use reach::model::Channel;
//!
//! /// Prints each recipient's text.
//! struct Print;
//!
//! impl Sink for Print {
//!     fn send(&self, batch: &Outgoing) -> Delivery {
//!         for i in 0..batch.len() {
//!             let (channel, account, id) = batch.identity(i);
//!             println!("{channel}/{account}/{id}: {}", batch.text(i));
//!         }
//!         Delivery::Each(vec![Outcome::Sent; batch.len()])
//!     }
//! }
//! ```

use std::time::Duration;

use crate::model::{Channel, MessageKind};

/// What became of one recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Refused for good (an invalid address, a rejected recipient): not tried again.
    Failed(String),
    /// Not delivered this time (a timeout, a 5xx): tried again, alone, after a backoff.
    Retry(String),
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// An outcome per recipient, in the request's order.
    Each(Vec<Outcome>),
    /// Nothing is known to be delivered: send the whole request again (with the same
    /// key) after a backoff.
    Retry(String),
    /// The platform asks this account to slow down (HTTP 429 with `Retry-After`): nothing
    /// was delivered; the account sends nothing more for `after`, then the request goes
    /// again. Other accounts are not held up.
    Later { why: String, after: Duration },
    /// The request failed for good; the job goes on.
    Failed(String),
    /// The job cannot go on (e.g. credentials refused): it stops as `failed`. `done`
    /// holds the outcomes of the first recipients, dealt with before (the rest were not
    /// sent).
    Stop { done: Vec<Outcome>, why: String },
    /// Nothing can be sent now, but may be later without any change to the job (the
    /// outbox's disk is full): nothing of this request was delivered. The run stops once
    /// the requests in flight settle; the batches not settled are not logged, so the job
    /// stays `sending` and `resume` sends them once the cause is fixed.
    Pause(String),
}

/// One request a batch is cut into: which of the batch's recipients go together, under
/// which key (the same on every retry and resume), to which of the platform's endpoints
/// (each paced on its own, per [`Sink::default_rate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// Indexes into the batch.
    pub recipients: Vec<usize>,
    pub key: String,
    pub endpoint: &'static str,
}

impl Part {
    /// The whole batch as one request, with the batch's key.
    pub fn whole(batch: &Outgoing) -> Part {
        Part {
            recipients: (0..batch.len()).collect(),
            key: batch.key.to_string(),
            endpoint: "",
        }
    }

    /// One request per recipient, each with the batch's key.
    pub fn each(batch: &Outgoing) -> Vec<Part> {
        (0..batch.len())
            .map(|i| Part {
                recipients: vec![i],
                key: batch.key.to_string(),
                endpoint: "",
            })
            .collect()
    }
}

/// A destination for broadcast batches, shared by the threads that send.
pub trait Sink: Send + Sync {
    /// Whether sending a request again with the same key delivers it once (then a batch
    /// in flight at a crash is simply sent again on resume; otherwise its intent is
    /// logged first and it is left `uncertain`).
    fn idempotent(&self, channel: Channel) -> bool {
        let _ = channel;
        false
    }

    /// Recipients per batch on a channel (a batch's outcome is logged as one record).
    fn batch_size(&self, channel: Channel) -> usize {
        let _ = channel;
        1_000
    }

    /// Requests a second to one account's `endpoint` (a [`Part`]'s) when the broadcast
    /// names no `--rate` (`None`: no limit).
    fn default_rate(&self, channel: Channel, endpoint: &str) -> Option<f64> {
        let _ = (channel, endpoint);
        None
    }

    /// Requests in flight at once to one account when the broadcast names no
    /// `--concurrency`.
    fn concurrency(&self, channel: Channel) -> usize {
        let _ = channel;
        1
    }

    /// Why this sink cannot send to `account` of `channel` at all (e.g. the channels
    /// file does not name it), if it cannot: a broadcast to it is refused before
    /// anything is sent.
    fn unreachable(&self, channel: Channel, account: &str) -> Option<String> {
        let _ = (channel, account);
        None
    }

    /// Why the endpoint of `account` of `channel` does not answer (a closed port, an
    /// unknown host), if it does not, as a sentence naming the account and what to do:
    /// a broadcast to it is refused before anything is sent.
    fn unanswered(&self, channel: Channel, account: &str) -> Option<String> {
        let _ = (channel, account);
        None
    }

    /// Cuts a batch into requests (by default the whole batch is one). Every recipient
    /// must be in exactly one part, and the parts must depend only on the recipients and
    /// their texts, so that a resumed batch is cut the same way (keys stay the same).
    fn split(&self, batch: &Outgoing) -> Vec<Part> {
        vec![Part::whole(batch)]
    }

    /// Sends one request.
    fn send(&self, request: &Outgoing) -> Delivery;
}

/// One recipient of a batch, rendered when the batch is taken up: what any sink may send
/// them, owned, so that no lock on the engine is held while requests are out.
#[derive(Clone, Debug, Default)]
pub struct Recipient {
    pub(super) row: u32,
    pub(super) external_id: String,
    pub(super) text: String,
    /// The text's placeholder values (WhatsApp contacts: a template's parameters).
    pub(super) values: Vec<String>,
    /// The email (web) or recurring-notification token (Facebook), if any.
    pub(super) address: Option<String>,
}

/// A batch taken up: its recipients rendered and what every request of it shares.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub(super) job: String,
    pub(super) batch: u32,
    pub(super) key: String,
    pub(super) kind: MessageKind,
    pub(super) channel: Channel,
    pub(super) account: String,
    pub(super) payload: Option<String>,
    pub(super) reply_window: bool,
    pub(super) subject: Option<String>,
    pub(super) personal: bool,
    pub(super) recipients: Vec<Recipient>,
}

impl Prepared {
    /// The whole batch (what [`Sink::split`] sees).
    pub(super) fn whole(&self) -> Outgoing<'_> {
        self.request(None, &self.key, "")
    }

    /// A request of the batch: `picks` of its recipients (all when `None`).
    pub(super) fn request<'a>(
        &'a self,
        picks: Option<&[usize]>,
        key: &'a str,
        endpoint: &'a str,
    ) -> Outgoing<'a> {
        let recipients = match picks {
            Some(picks) => picks.iter().map(|&i| &self.recipients[i]).collect(),
            None => self.recipients.iter().collect(),
        };
        Outgoing {
            job: &self.job,
            batch: self.batch,
            key,
            endpoint,
            kind: self.kind,
            channel: self.channel,
            account: &self.account,
            payload: self.payload.as_deref(),
            reply_window: self.reply_window,
            subject: self.subject.as_deref(),
            personal: self.personal,
            recipients,
        }
    }
}

/// A batch, or one request of it, on its way: the recipients (of one account) and their
/// rendered texts, and the key.
pub struct Outgoing<'a> {
    pub job: &'a str,
    pub batch: u32,
    /// The batch's key ([`Sink::split`]) or the request's (its [`Part`]'s): the same on
    /// every retry and every resume.
    pub key: &'a str,
    /// The request's endpoint (its [`Part`]'s; empty for a whole batch).
    pub endpoint: &'a str,
    pub kind: MessageKind,
    pub channel: Channel,
    pub account: &'a str,
    /// The channel's message in the platform's own format (JSON), if the job has one.
    pub payload: Option<&'a str>,
    /// Facebook: whether the message answers inside the 24-hour window.
    pub reply_window: bool,
    /// The email subject given with the job (`--subject`).
    pub subject: Option<&'a str>,
    personal: bool,
    recipients: Vec<&'a Recipient>,
}

impl Outgoing<'_> {
    /// Recipients in the request.
    pub fn len(&self) -> usize {
        self.recipients.len()
    }

    /// Whether the request has no recipient.
    pub fn is_empty(&self) -> bool {
        self.recipients.is_empty()
    }

    /// The identity of recipient `i`: (channel, account, external id).
    pub fn identity(&self, i: usize) -> (Channel, &str, &str) {
        (self.channel, self.account, &self.recipients[i].external_id)
    }

    /// The message text for recipient `i`, its placeholders filled.
    pub fn text(&self, i: usize) -> &str {
        &self.recipients[i].text
    }

    /// The placeholders' values for recipient `i`, in the text's order (rendered for
    /// WhatsApp contacts only).
    pub fn placeholder_values(&self, i: usize) -> &[String] {
        &self.recipients[i].values
    }

    /// Whether every recipient gets the same text.
    pub fn same_text_for_all(&self) -> bool {
        !self.personal
    }

    /// Recipient `i`'s recurring-notification token (Facebook contacts that hold one).
    pub fn notification_token(&self, i: usize) -> Option<&str> {
        (self.channel == Channel::Facebook)
            .then(|| self.recipients[i].address.as_deref())
            .flatten()
    }

    /// Recipient `i`'s email address (web contacts).
    pub fn email(&self, i: usize) -> Option<&str> {
        (self.channel == Channel::Web)
            .then(|| self.recipients[i].address.as_deref())
            .flatten()
    }
}

/// What stands for a webhook URL's password in a job's record.
pub const HIDDEN_PASSWORD: &str = "[hidden]";

/// What a job keeps of a sink's spelling: a `webhook:` URL's password is replaced by
/// [`HIDDEN_PASSWORD`] (the job's record reaches the log, the snapshot and every report;
/// the password is given again to resume). Any other spelling is kept as given.
pub fn kept_spelling(spelling: &str) -> String {
    let hidden = || {
        let (scheme, rest) = spelling.strip_prefix("webhook:")?.split_once("://")?;
        let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        let (userinfo, host) = authority.rsplit_once('@')?;
        let (user, _) = userinfo.split_once(':')?;
        Some(format!(
            "webhook:{scheme}://{user}:{HIDDEN_PASSWORD}@{host}{path}"
        ))
    };
    hidden().unwrap_or_else(|| spelling.to_string())
}

/// Whether a job's kept spelling lacks the webhook password it was started with.
pub fn lacks_password(spelling: &str) -> bool {
    spelling.starts_with("webhook:") && spelling.contains(&format!(":{HIDDEN_PASSWORD}@"))
}

#[cfg(test)]
mod spelling_tests {
    use super::*;

    #[test]
    fn a_webhook_password_is_never_kept() {
        let kept = kept_spelling("webhook:https://ann:PW%40x@hooks.example.com:8443/a?b=c");
        assert_eq!(
            kept,
            "webhook:https://ann:[hidden]@hooks.example.com:8443/a?b=c"
        );
        assert!(lacks_password(&kept));
        // Refusals of a URL reach would not send to quote it so too.
        assert_eq!(
            kept_spelling("webhook:ftp://ann:PW@h.example"),
            "webhook:ftp://ann:[hidden]@h.example"
        );
        for same in [
            "webhook:https://ann@example.com/x",
            "webhook:http://example.com/a@b",
            "jsonl:/tmp/user:pw@x",
            "platform",
        ] {
            assert_eq!(kept_spelling(same), same);
            assert!(!lacks_password(same));
        }
    }
}
