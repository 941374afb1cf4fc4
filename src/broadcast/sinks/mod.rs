//! The stock sinks: [`Discard`] (accepts everything; benchmarks and tests), [`Jsonl`] (an
//! outbox file), [`Webhook`] (JSON batches over HTTP) and [`Platform`] (each channel's own
//! API: LINE, WhatsApp, Messenger, SMTP, per the channels file), chosen by [`open`] from
//! the `--sink` spelling.

mod channels;
mod discard;
mod http;
mod jsonl;
mod line;
mod messenger;
mod platform;
mod smtp;
mod webhook;
mod whatsapp;

use std::path::Path;

pub use channels::{Channels, GraphAccount, LineAccount, Smtp, WhatsappAccount};
pub use discard::Discard;
pub use http::Http;
pub use jsonl::Jsonl;
pub use line::quota as line_quota;
pub use platform::Platform;
pub use webhook::Webhook;

use super::Sink;
use crate::error::Error;

/// The sink a `--sink` spelling names, for job `job` (`resuming`: it ran before):
/// `jsonl:PATH`, `webhook:URL` or `platform` (reading `channels`, which may be missing
/// when `channels_optional`).
pub fn open(
    spelling: &str,
    job: &str,
    resuming: bool,
    channels: &Path,
    channels_optional: bool,
) -> Result<Box<dyn Sink>, Error> {
    if let Some(path) = spelling.strip_prefix("jsonl:") {
        return Ok(Box::new(Jsonl::open(path, job, resuming)?));
    }
    if let Some(url) = spelling.strip_prefix("webhook:") {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Usage(format!(
                "--sink webhook:{url}: expected an http:// or https:// URL"
            )));
        }
        return Ok(Box::new(Webhook::new(url)));
    }
    match spelling {
        "platform" => Ok(Box::new(Platform::new(Channels::read(
            channels,
            channels_optional,
        )?))),
        "discard" => Ok(Box::new(Discard)),
        other => Err(Error::Usage(format!(
            "unknown sink '{other}': use platform, jsonl:PATH, webhook:URL or dry-run"
        ))),
    }
}
