//! Email over SMTP for web contacts (their address is the email): one message per
//! recipient, plain text, from the channels file's `[smtp]` sender; the subject is its
//! `subject`, else the text's first line. A permanent SMTP answer (5xx) fails the
//! recipient; a transient one or a lost connection is retried.

use lettre::message::header::ContentType;
use lettre::transport::smtp::SmtpTransport;
use lettre::{Message, Transport};

use super::channels::Smtp;
use crate::broadcast::{Delivery, Outcome, Outgoing};

/// A connection to an SMTP server.
pub struct Mailer {
    transport: SmtpTransport,
    from: String,
    subject: Option<String>,
}

impl Mailer {
    /// A mailer for `smtp://HOST[:PORT]` (no TLS: for a relay on the host or a trusted
    /// network).
    pub fn new(config: &Smtp) -> Result<Mailer, String> {
        let rest = config.url.strip_prefix("smtp://").ok_or_else(|| {
            format!("[smtp] url '{}': expected smtp://HOST[:PORT] (this build speaks SMTP without TLS, to a local relay)", config.url)
        })?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse()
                    .map_err(|_| format!("[smtp] url: bad port '{port}'"))?,
            ),
            None => (rest.trim_end_matches('/'), 25),
        };
        Ok(Mailer {
            transport: SmtpTransport::builder_dangerous(host).port(port).build(),
            from: config.from.clone(),
            subject: config.subject.clone(),
        })
    }

    /// Sends a web batch, one email per recipient.
    pub fn send(&self, batch: &Outgoing) -> Delivery {
        let mut outcomes = Vec::with_capacity(batch.len());
        for i in 0..batch.len() {
            let Some(to) = batch.email(i) else {
                outcomes.push(Outcome::Failed("no email address".into()));
                continue;
            };
            let text = batch.text(i);
            let subject = self
                .subject
                .clone()
                .unwrap_or_else(|| text.lines().next().unwrap_or("").chars().take(78).collect());
            let message = (|| -> Result<Message, String> {
                Message::builder()
                    .from(
                        self.from
                            .parse()
                            .map_err(|e| format!("[smtp] from '{}': {e}", self.from))?,
                    )
                    .to(to.parse().map_err(|e| format!("address '{to}': {e}"))?)
                    .subject(subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(text.clone())
                    .map_err(|e| e.to_string())
            })();
            let message = match message {
                Ok(message) => message,
                Err(why) => {
                    outcomes.push(Outcome::Failed(why));
                    continue;
                }
            };
            batch.pace();
            outcomes.push(match self.transport.send(&message) {
                Ok(_) => Outcome::Sent,
                Err(e) if e.is_permanent() => Outcome::Failed(format!("SMTP: {e}")),
                Err(e) => Outcome::Retry(format!("SMTP: {e}")),
            });
        }
        Delivery::Each(outcomes)
    }
}
