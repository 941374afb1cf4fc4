//! [`Webhook`]: `POST URL` with a JSON body `{"job", "batch", "idempotency_key", "kind",
//! "recipients": [{"channel", "account", "external_id", "text"}, …]}` and the header
//! `Idempotency-Key`; a 2xx answer means the batch is delivered. Up to
//! [`CONCURRENCY`] batches of an account are in flight at once.

use super::http::{Http, verdict};
use crate::broadcast::{Delivery, Outgoing, Sink};
use crate::model::Channel;

/// Batches of one account in flight at once (the receiver is the embedder's own: no
/// published limit; `--concurrency` and `--rate` set others).
pub const CONCURRENCY: usize = 8;

/// Posts batches to a URL.
pub struct Webhook {
    url: String,
    /// The URL's password (sent as Basic credentials), kept out of every report.
    password: String,
    http: Http,
}

impl Webhook {
    pub fn new(url: &str) -> Webhook {
        Webhook {
            url: url.to_string(),
            password: password(url).unwrap_or_default(),
            http: Http::new(),
        }
    }
}

/// The password of `url` (`http://user:PW@host/…`), if it has one.
fn password(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    Some(password.to_string()).filter(|p| !p.is_empty())
}

impl Sink for Webhook {
    fn idempotent(&self, _: Channel) -> bool {
        true
    }

    fn batch_size(&self, _: Channel) -> usize {
        1_000
    }

    fn concurrency(&self, _: Channel) -> usize {
        CONCURRENCY
    }

    fn send(&self, batch: &Outgoing) -> Delivery {
        let recipients: Vec<serde_json::Value> = (0..batch.len())
            .map(|i| {
                let (channel, account, external_id) = batch.identity(i);
                serde_json::json!({
                    "channel": channel.name(),
                    "account": account,
                    "external_id": external_id,
                    "text": batch.text(i),
                })
            })
            .collect();
        let body = serde_json::json!({
            "job": batch.job,
            "batch": batch.batch,
            "idempotency_key": batch.key,
            "kind": batch.kind.name(),
            "recipients": recipients,
        });
        let result = (self.http).post(&self.url, &[("Idempotency-Key", batch.key)], &body);
        verdict(&result, "webhook", &self.password).for_request(batch.len())
    }
}

#[cfg(test)]
mod tests {
    use super::password;

    #[test]
    fn the_password_is_the_userinfo_after_its_colon() {
        assert_eq!(
            password("https://ann:p@ss@h.example/x?y").as_deref(),
            Some("p@ss")
        );
        for none in [
            "https://h.example/a:b@c",
            "https://ann@h.example",
            "https://ann:@h",
        ] {
            assert_eq!(password(none), None, "{none}");
        }
    }
}
