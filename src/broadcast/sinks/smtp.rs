//! Email over SMTP for web contacts (their address is the email): one complete RFC 5322 /
//! MIME message per recipient — `MIME-Version`, `Message-ID`, `Date`, `From`, `To`,
//! `Subject`, a UTF-8 plain-text body — from the channels file's `[smtp]` sender. The
//! subject is the job's `--subject`, else the channels file's `subject`, else the text's
//! first line (whole up to [`SUBJECT_CHARS`], else cut with `…`). The `Message-ID` is
//! derived from the job and the recipient, so a resent message is recognizable as the
//! same one. A permanent SMTP answer (5xx) fails the recipient; a transient one or a lost
//! connection is retried. Messages go over a pool of connections (`smtp_wire`: one per
//! request in flight, [`CONNECTIONS`] by default), each carrying many messages one after
//! another.

use lettre::Message;
use lettre::message::{Mailbox, SinglePart};

use super::channels::Smtp;
use super::smtp_wire::Pool;
use crate::broadcast::{Delivery, Outcome, Outgoing};

/// The longest subject taken from the text's first line, in characters.
pub const SUBJECT_CHARS: usize = 200;

/// Connections to the relay kept open at most (requests in flight to it by default).
pub const CONNECTIONS: usize = 8;

/// A pool of connections to an SMTP server.
pub struct Mailer {
    pool: Pool,
    from: Result<Mailbox, String>,
    subject: Option<String>,
}

impl Mailer {
    /// A mailer for `smtp://HOST[:PORT]` (no TLS: for a relay on the host or a trusted
    /// network).
    pub fn new(config: &Smtp) -> Result<Mailer, String> {
        // The URL is never repeated: a mistaken one may hold a password.
        let rest = (config.url.strip_prefix("smtp://"))
            .filter(|rest| !rest.contains('@'))
            .ok_or_else(|| {
                "[smtp] url: expected smtp://HOST[:PORT], without user or password (this build \
                 speaks SMTP without TLS or login, to a local relay)"
                    .to_string()
            })?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse().map_err(|_| {
                    "[smtp] url: the port after HOST: is not a number from 0 to 65535".to_string()
                })?,
            ),
            None => (rest.trim_end_matches('/'), 25),
        };
        let from = (config.from.parse::<Mailbox>())
            .map_err(|e| format!("[smtp] from '{}': {e}", config.from));
        Ok(Mailer {
            pool: Pool::new(host, port),
            from,
            subject: config.subject.clone(),
        })
    }

    /// Sends a request's emails, one per recipient (a request holds one).
    pub fn send(&self, request: &Outgoing) -> Delivery {
        let from = match &self.from {
            Ok(from) => from,
            Err(why) => {
                return Delivery::Stop {
                    done: Vec::new(),
                    why: why.clone(),
                };
            }
        };
        let outcomes = (0..request.len())
            .map(|i| match self.message(from, request, i) {
                Ok(message) => self.deliver(&message),
                Err(why) => Outcome::Failed(why),
            })
            .collect();
        Delivery::Each(outcomes)
    }

    fn deliver(&self, message: &Message) -> Outcome {
        match self.pool.send(message.envelope(), &message.formatted()) {
            Ok(()) => Outcome::Sent,
            Err(e) if e.permanent => Outcome::Failed(format!("SMTP: {}", e.why)),
            Err(e) => Outcome::Retry(format!("SMTP: {}", e.why)),
        }
    }

    /// Recipient `i`'s message.
    fn message(&self, from: &Mailbox, batch: &Outgoing, i: usize) -> Result<Message, String> {
        let to = batch.email(i).ok_or("no email address")?;
        let to: Mailbox = to.parse().map_err(|e| format!("address '{to}': {e}"))?;
        let text = batch.text(i).to_string();
        let subject = (batch.subject.map(str::to_string))
            .or_else(|| self.subject.clone())
            .unwrap_or_else(|| first_line(&text));
        Message::builder()
            .message_id(Some(message_id(batch, i, from)))
            .date_now()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .singlepart(SinglePart::plain(text))
            .map_err(|e| e.to_string())
    }
}

/// The text's first line as a subject: whole up to [`SUBJECT_CHARS`], else cut with `…`.
pub fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(SUBJECT_CHARS) {
        Some((at, _)) => format!("{}…", line[..at].trim_end()),
        None => line.to_string(),
    }
}

/// `<UUID@DOMAIN>`: the UUID derived from the job and the recipient's identity, the
/// domain the sender's.
pub fn message_id(batch: &Outgoing, i: usize, from: &Mailbox) -> String {
    let (channel, account, id) = batch.identity(i);
    let name = format!("reach-mail:{}/{channel}/{account}/{id}", batch.job);
    let uuid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes());
    format!("<{uuid}@{}>", from.email.domain())
}

#[cfg(test)]
mod tests {
    use super::{Mailer, Smtp, first_line};

    #[test]
    fn a_bad_smtp_url_is_refused_without_repeating_it() {
        for url in [
            "smtps://ann:PW9@mail.example",
            "smtp://ann:PW9@mail.example",
            "smtp://mail.example:PW9",
        ] {
            let config = Smtp {
                url: url.into(),
                from: "shop@example.com".into(),
                subject: None,
            };
            let Err(why) = Mailer::new(&config) else {
                panic!("{url} was taken");
            };
            assert!(
                why.starts_with("[smtp] url: ") && !why.contains("PW9"),
                "{why}"
            );
        }
    }

    #[test]
    fn a_long_first_line_is_cut_with_an_ellipsis_and_a_short_one_kept_whole() {
        let line = "x".repeat(115);
        assert_eq!(first_line(&format!("{line}\nmore")), line);
        let long = "y".repeat(300);
        let subject = first_line(&long);
        assert_eq!(subject.chars().count(), 201);
        assert!(subject.ends_with('…'));
    }
}
