//! The WhatsApp Cloud API: one template message per recipient (`POST
//! {base}/{version}/{phone_number_id}/messages`); the text's placeholder values, in order,
//! fill the template's body parameters. A payload for WhatsApp, if given, is the message
//! object itself (its `to` is set per recipient).

use super::channels::{WhatsappAccount, join};
use super::http::{Http, Single, one, payload};
use crate::broadcast::{Delivery, Outgoing};

/// Sends one recipient's message (a request holds one recipient).
pub fn send(http: &Http, account: &WhatsappAccount, request: &Outgoing) -> Delivery {
    let path = format!("/{}/{}/messages", account.version, account.phone_number_id);
    let to = request.identity(0).2.trim_start_matches('+').to_string();
    let body = match payload(request) {
        Some(mut message) => {
            if let Some(object) = message.as_object_mut() {
                object.insert("messaging_product".into(), "whatsapp".into());
                object.insert("recipient_type".into(), "individual".into());
                object.insert("to".into(), to.into());
            }
            message
        }
        None => template_message(account, &to, request.placeholder_values(0)),
    };
    let single = Single { body, secret: None };
    let url = join(&account.base_url, &path);
    one(
        http,
        request,
        &url,
        &account.token,
        "WhatsApp message",
        single,
    )
}

fn template_message(account: &WhatsappAccount, to: &str, values: &[String]) -> serde_json::Value {
    let mut template = serde_json::json!({
        "name": account.template,
        "language": {"policy": "deterministic", "code": account.language},
    });
    if !values.is_empty() {
        let parameters: Vec<serde_json::Value> = values
            .iter()
            .map(|v| serde_json::json!({"type": "text", "text": v}))
            .collect();
        template["components"] = serde_json::json!([{"type": "body", "parameters": parameters}]);
    }
    serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    })
}
