//! The Messenger Platform Send API for Facebook and Instagram contacts: `POST
//! {base}/{version}/me/messages`, one recipient a request, with the page's or account's
//! token. Which request follows which of Meta's rules (docs/platforms.md has the sources):
//!
//! - a Facebook marketing message (`broadcast`, `site_marketing`, `cart`) without the
//!   reply window is a recurring notification: `{"recipient":
//!   {"notification_messages_token": …}, "message": …}` (eligibility sent only contacts
//!   that are `fb_sendable` and hold a token);
//! - a message the caller says answers inside the 24-hour window (`--reply-window`), and a
//!   `welcome` or `bot` message (each answers the contact's own action), is `messaging_type:
//!   RESPONSE` to the contact's id;
//! - an Instagram marketing message (eligibility sent only contacts inside the window) is
//!   `messaging_type: UPDATE`: proactive, inside the window.
//!
//! No request carries a message tag: Meta forbids promotional content under them.

use super::channels::{GraphAccount, join};
use super::http::{Http, Single, one, payload};
use crate::broadcast::{Delivery, Outgoing};
use crate::model::Channel;

/// Sends one Facebook or Instagram recipient's message (a request holds one recipient).
pub fn send(http: &Http, account: &GraphAccount, request: &Outgoing) -> Delivery {
    let url = join(
        &account.base_url,
        &format!("/{}/me/messages", account.version),
    );
    let message = payload(request).unwrap_or_else(|| serde_json::json!({"text": request.text(0)}));
    let single = body(request, 0, message);
    one(
        http,
        request,
        &url,
        &account.token,
        "Messenger message",
        single,
    )
}

/// How a batch's messages go (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    RecurringNotification,
    Response,
    Update,
}

/// The rule a batch's requests follow.
pub fn rule(batch: &Outgoing) -> Rule {
    if batch.reply_window || !batch.kind.is_marketing() {
        Rule::Response
    } else if batch.channel == Channel::Facebook {
        Rule::RecurringNotification
    } else {
        Rule::Update
    }
}

/// Recipient `i`'s request.
fn body(batch: &Outgoing, i: usize, message: serde_json::Value) -> Single {
    match rule(batch) {
        Rule::RecurringNotification => {
            let token = batch.notification_token(i).unwrap_or_default().to_string();
            Single {
                body: serde_json::json!({
                    "recipient": {"notification_messages_token": token},
                    "message": message,
                }),
                secret: Some(token).filter(|t| !t.is_empty()),
            }
        }
        rule => Single {
            body: serde_json::json!({
                "recipient": {"id": batch.identity(i).2},
                "messaging_type": if rule == Rule::Response { "RESPONSE" } else { "UPDATE" },
                "message": message,
            }),
            secret: None,
        },
    }
}
