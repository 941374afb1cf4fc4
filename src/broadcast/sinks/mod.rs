//! The stock sinks: [`Discard`] (accepts everything; benchmarks and tests), [`Jsonl`] (an
//! outbox file), [`Webhook`] (JSON batches over HTTP) and [`Platform`] (each channel's own
//! API: LINE, WhatsApp, Messenger, SMTP, per the channels file), chosen by [`open`] from
//! the `--sink` spelling. The HTTP and SMTP sinks need the `platforms` feature.

#[cfg(feature = "platforms")]
mod channels;
mod discard;
#[cfg(feature = "platforms")]
mod http;
mod jsonl;
#[cfg(feature = "platforms")]
mod line;
#[cfg(feature = "platforms")]
mod messenger;
#[cfg(feature = "platforms")]
mod platform;
#[cfg(feature = "platforms")]
mod probe;
#[cfg(feature = "platforms")]
mod smtp;
#[cfg(feature = "platforms")]
mod smtp_wire;
#[cfg(feature = "platforms")]
mod webhook;
#[cfg(feature = "platforms")]
mod whatsapp;

use std::path::Path;

#[cfg(feature = "platforms")]
pub use channels::{Channels, GraphAccount, LineAccount, Smtp, WhatsappAccount};
pub use discard::Discard;
#[cfg(feature = "platforms")]
pub use http::Http;
pub use jsonl::Jsonl;
#[cfg(feature = "platforms")]
pub use line::quota as line_quota;
#[cfg(feature = "platforms")]
pub use platform::Platform;
#[cfg(feature = "platforms")]
pub use webhook::Webhook;

use super::Sink;
use crate::error::Error;

/// The sink a `--sink` spelling names, for job `job` (`resuming`: it ran before, and
/// these of its batches are not logged as sent):
/// `jsonl:PATH`, `webhook:URL` or `platform` (reading `channels`, which may be missing
/// when `channels_optional`).
pub fn open(
    spelling: &str,
    job: &str,
    resuming: Option<&roaring::RoaringBitmap>,
    channels: &Path,
    channels_optional: bool,
) -> Result<Box<dyn Sink>, Error> {
    if let Some(path) = spelling.strip_prefix("jsonl:") {
        return Ok(Box::new(Jsonl::open(path, job, resuming)?));
    }
    match spelling {
        "discard" => Ok(Box::new(Discard)),
        _ => network_sink(spelling, channels, channels_optional),
    }
}

/// `webhook:URL` or `platform`.
#[cfg(feature = "platforms")]
fn network_sink(
    spelling: &str,
    channels: &Path,
    channels_optional: bool,
) -> Result<Box<dyn Sink>, Error> {
    if let Some(url) = spelling.strip_prefix("webhook:") {
        if crate::broadcast::lacks_password(spelling) {
            return Err(Error::Usage(format!(
                "the job's webhook URL had a password, which reach does not keep ({spelling}): \
                 give the URL again with it (`reach broadcast resume ID --webhook URL`)"
            )));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Usage(format!(
                "--sink {}: expected an http:// or https:// URL",
                crate::broadcast::kept_spelling(spelling)
            )));
        }
        return Ok(Box::new(Webhook::new(url)));
    }
    match spelling {
        "platform" => Ok(Box::new(Platform::new(Channels::read(
            channels,
            channels_optional,
        )?))),
        other => Err(unknown(other)),
    }
}

/// Without the `platforms` feature, only the outbox and discard sinks exist.
#[cfg(not(feature = "platforms"))]
fn network_sink(spelling: &str, _: &Path, _: bool) -> Result<Box<dyn Sink>, Error> {
    if spelling == "platform" || spelling.starts_with("webhook:") {
        return Err(Error::Usage(format!(
            "--sink {spelling} needs reach built with the platforms feature: use jsonl:PATH"
        )));
    }
    Err(unknown(spelling))
}

fn unknown(spelling: &str) -> Error {
    Error::Usage(format!(
        "unknown sink '{spelling}': use platform, jsonl:PATH, webhook:URL or dry-run"
    ))
}
