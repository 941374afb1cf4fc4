//! One HTTP client for the sinks that speak HTTP (webhook, LINE, WhatsApp, Messenger),
//! shared by the threads that send (it keeps a few idle connections to each host), and
//! how an answer's status becomes a verdict: 2xx delivered; 408, 429, 5xx and network
//! errors retried (a 429 with `Retry-After` holds the account that long); 401 and 403 stop
//! the job (credentials); a redirect stops it too (it is never followed: a redirected POST
//! is not a delivery, and following it would carry the request's retry key to another
//! host); any other status fails. A request times out after 30 s
//! (`REACH_HTTP_TIMEOUT_MS` sets another bound). A request left without an answer after
//! it may have gone out (a timeout, a connection lost) is retried only where the
//! platform honours a key ([`one`], for platforms without keys, fails it instead: a
//! resend would be a second message); so is a 5xx there, unless the platform's own
//! error says it is transient (the Graph API's `is_transient`).

use std::time::Duration;

use crate::broadcast::{Delivery, Outcome, Outgoing};

/// A blocking HTTP client with a timeout.
pub struct Http {
    agent: ureq::Agent,
}

/// An answer: its status, body, and where a redirect pointed.
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
    /// How long a 429 asks to wait (`Retry-After` in seconds).
    pub retry_after: Option<Duration>,
}

/// No answer to a request: why, and whether the request may have reached the platform
/// (false only when the connection was never made).
#[derive(Clone, Debug)]
pub struct NoAnswer {
    pub why: String,
    pub maybe_delivered: bool,
}

/// How an answer (or its absence) reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Retry(String),
    /// Slow down: the account waits this long.
    Later(String, Duration),
    Failed(String),
    Stop(String),
}

impl Http {
    pub fn new() -> Http {
        let timeout = (std::env::var("REACH_HTTP_TIMEOUT_MS").ok())
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(30), Duration::from_millis);
        Http::with_timeout(timeout)
    }

    /// A client whose requests time out after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
        }
    }

    /// POSTs a JSON body with extra headers; `Err` for a network error. The body goes
    /// as `Content-Type: application/json` exactly (JSON is UTF-8 by definition, and
    /// WhatsApp's description allows no parameter after the media type).
    pub fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &serde_json::Value,
    ) -> Result<Answer, NoAnswer> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send(body.to_string()))
    }

    /// GETs a URL with extra headers.
    pub fn get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Answer, String> {
        let mut request = self.agent.get(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.call()).map_err(|e| e.why)
    }
}

impl Default for Http {
    fn default() -> Self {
        Http::new()
    }
}

fn answer(
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Answer, NoAnswer> {
    let response = response.map_err(|e| NoAnswer {
        maybe_delivered: !never_connected(&e),
        why: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let location = (response.headers().get("location"))
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    let retry_after = (response.headers().get("retry-after"))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.into_body().read_to_string().unwrap_or_default();
    Ok(Answer {
        status,
        body,
        location,
        retry_after,
    })
}

/// Whether an error happened before a connection was made, so that nothing of the
/// request went out (any other error may come after the platform took it).
fn never_connected(error: &ureq::Error) -> bool {
    use ureq::Timeout;
    match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect) => true,
        ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    }
}

/// How a request's result reads (`what`: the request, for messages; `secret`: the
/// request's credential, which an answer echoing it must not carry into reports, logs or
/// snapshots).
pub fn verdict(result: &Result<Answer, NoAnswer>, what: &str, secret: &str) -> Verdict {
    match result {
        Err(e) => Verdict::Retry(format!("{what}: {}", redact(&e.why, secret))),
        Ok(a) if (200..300).contains(&a.status) => Verdict::Delivered,
        Ok(a) if (300..400).contains(&a.status) => Verdict::Stop(format!(
            "{what}: HTTP {} redirects to {}, which reach does not follow (a redirected \
             request is not a delivery): point the URL at where it redirects and send again",
            a.status,
            a.location.as_deref().unwrap_or("nowhere named")
        )),
        Ok(a) => {
            let why = format!(
                "{what}: HTTP {} {}",
                a.status,
                within_reason(&redact(&a.body, secret))
            );
            match (a.status, a.retry_after) {
                (429, Some(after)) => Verdict::Later(why, after),
                (408 | 429 | 500..=599, _) => Verdict::Retry(why),
                (401 | 403, _) => Verdict::Stop(why),
                _ => Verdict::Failed(why),
            }
        }
    }
}

/// The longest part of a platform's answer kept in a report, in characters: enough for
/// any platform's error message whole, not for a page of HTML.
pub const ANSWER_CHARS: usize = 2_000;

/// `text` whole up to [`ANSWER_CHARS`], else cut there with `…` (never silently).
pub fn within_reason(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(ANSWER_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// `text` with `secret` (when there is one) and any `Bearer` or `Basic` credential
/// replaced by `[redacted]`.
pub fn redact(text: &str, secret: &str) -> String {
    let text = match secret {
        "" => text.to_string(),
        secret => text.replace(secret, "[redacted]"),
    };
    ["Bearer ", "Basic "]
        .iter()
        .fold(text, |text, scheme| credentials_hidden(&text, scheme))
}

/// `text` with the word after each `scheme` replaced by `[redacted]`.
fn credentials_hidden(text: &str, scheme: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(scheme) {
        out.push_str(&rest[..at + scheme.len()]);
        out.push_str("[redacted]");
        rest = rest[at + scheme.len()..]
            .trim_start_matches(|c: char| !c.is_whitespace() && !matches!(c, '"' | '\'' | ','));
    }
    out.push_str(rest);
    out
}

impl Verdict {
    /// The verdict for a whole request.
    pub fn for_request(self, recipients: usize) -> Delivery {
        match self {
            Verdict::Delivered => Delivery::Each(vec![Outcome::Sent; recipients]),
            Verdict::Retry(why) => Delivery::Retry(why),
            Verdict::Later(why, after) => Delivery::Later { why, after },
            Verdict::Failed(why) => Delivery::Failed(why),
            Verdict::Stop(why) => Delivery::Stop {
                done: Vec::new(),
                why,
            },
        }
    }
}

/// One recipient's request: its body, and a secret of the recipient's that the answer
/// must not carry into reports (a recurring-notification token).
pub struct Single {
    pub body: serde_json::Value,
    pub secret: Option<String>,
}

/// Sends one recipient's request (`single`) of `request` to `url`, with the account's
/// `token`, through a platform without idempotency keys: a request that may have gone
/// out without an answer fails, never retried (the platform would deliver it twice).
pub fn one(
    http: &Http,
    request: &Outgoing,
    url: &str,
    token: &str,
    what: &str,
    single: Single,
) -> Delivery {
    let auth = format!("Bearer {token}");
    let mut result = http.post(url, &[("Authorization", &auth)], &single.body);
    if let Some(secret) = &single.secret {
        result = hide(result, secret);
    }
    match &result {
        Err(e) if e.maybe_delivered => {
            maybe_delivered(what, &format!("no answer ({})", redact(&e.why, token)))
        }
        Ok(a) if (500..600).contains(&a.status) && !transient(&a.body) => maybe_delivered(
            what,
            &format!(
                "HTTP {} {}",
                a.status,
                within_reason(&redact(&a.body, token))
            ),
        ),
        _ => verdict(&result, what, token).for_request(request.len()),
    }
}

/// A request of a platform without keys that may have been delivered: failed, never
/// sent again (a resend would be a second message).
fn maybe_delivered(what: &str, why: &str) -> Delivery {
    Delivery::Failed(format!(
        "{what}: {why}; it may have been delivered, so it is not sent again (the platform \
         cannot tell a resend from a new message): check with the recipient before sending \
         to them again"
    ))
}

/// Whether a 5xx answer is the Graph API's own error saying the request was not taken
/// and may be sent again (`{"error": {…, "is_transient": true}}`). Any other 5xx — a
/// gateway's 502 or 504, an error without `is_transient` — may come after the platform
/// took the message.
pub fn transient(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .is_ok_and(|v| v["error"]["is_transient"] == serde_json::Value::Bool(true))
}

/// An answer (or network error) with `secret` replaced by `[redacted]`.
fn hide(result: Result<Answer, NoAnswer>, secret: &str) -> Result<Answer, NoAnswer> {
    match result {
        Ok(answer) => Ok(Answer {
            body: redact(&answer.body, secret),
            ..answer
        }),
        Err(e) => Err(NoAnswer {
            why: redact(&e.why, secret),
            ..e
        }),
    }
}

/// The batch's payload for its channel, parsed (a payload that is not JSON is ignored).
pub fn payload(batch: &Outgoing) -> Option<serde_json::Value> {
    batch.payload.and_then(|p| serde_json::from_str(p).ok())
}

#[cfg(test)]
mod tests {
    use super::{Http, redact, transient};
    use std::time::Duration;

    #[test]
    fn only_a_connection_never_made_is_known_undelivered() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let http = Http::with_timeout(Duration::from_millis(300));
        let body = serde_json::json!({});
        // Accepted by the kernel, never answered: it may have been taken.
        let unanswered = http.post(&url, &[], &body).err().expect("no answer");
        assert!(unanswered.maybe_delivered, "{}", unanswered.why);
        drop(listener);
        let refused = http.post(&url, &[], &body).err().expect("no answer");
        assert!(!refused.maybe_delivered, "{}", refused.why);
    }

    #[test]
    fn secrets_and_credentials_are_redacted() {
        let said = "bad token S3C for Bearer abc.def, \"Basic YW5uOnB3\" and 'Bearer x'";
        assert_eq!(
            redact(said, "S3C"),
            "bad token [redacted] for Bearer [redacted], \"Basic [redacted]\" and 'Bearer [redacted]'"
        );
        assert_eq!(redact("plain", ""), "plain");
    }

    #[test]
    fn only_a_graph_error_marked_transient_is_sent_again() {
        let transient_error = r#"{"error": {"message": "Service temporarily unavailable", "code": 2, "is_transient": true}}"#;
        assert!(transient(transient_error));
        let unknown = r#"{"error": {"message": "Something went wrong", "code": 131000}}"#;
        assert!(!transient(unknown));
        let declared = r#"{"error": {"code": 1, "is_transient": false}}"#;
        assert!(!transient(declared));
        assert!(!transient("<html>502 Bad Gateway</html>"));
        assert!(!transient(""));
    }
}
