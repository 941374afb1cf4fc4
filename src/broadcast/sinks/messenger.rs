//! The Messenger Platform Send API for Facebook and Instagram contacts: `POST
//! {base}/{version}/me/messages`, one recipient a request, with the page's or account's
//! token. `messaging_type` follows Meta's rules: `RESPONSE` for a reply inside the
//! 24-hour window; outside it (a recurring notification to an opted-in contact)
//! `MESSAGE_TAG` with the tag `ACCOUNT_UPDATE`.

use super::channels::{GraphAccount, join};
use super::http::{Http, each, payload};
use crate::broadcast::{Delivery, Outgoing};

/// Sends a Facebook or Instagram batch, one request per recipient.
pub fn send(http: &Http, account: &GraphAccount, batch: &Outgoing) -> Delivery {
    let url = join(
        &account.base_url,
        &format!("/{}/me/messages", account.version),
    );
    let payload = payload(batch);
    each(
        http,
        batch,
        &url,
        &account.token,
        "Messenger message",
        |i| {
            let message = payload
                .clone()
                .unwrap_or_else(|| serde_json::json!({"text": batch.text(i)}));
            let mut body = serde_json::json!({
                "recipient": {"id": batch.identity(i).2},
                "message": message,
            });
            if batch.reply_window {
                body["messaging_type"] = "RESPONSE".into();
            } else {
                body["messaging_type"] = "MESSAGE_TAG".into();
                body["tag"] = "ACCOUNT_UPDATE".into();
            }
            body
        },
    )
}
