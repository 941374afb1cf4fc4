//! The WhatsApp Cloud API: one template message per recipient (`POST
//! {base}/{version}/{phone_number_id}/messages`); the text's placeholder values, in order,
//! fill the template's body parameters. A payload for WhatsApp, if given, is the message
//! object itself (its `to` is set per recipient).

use super::channels::{WhatsappAccount, join};
use super::http::{Http, Single, each, payload};
use crate::broadcast::{Delivery, Outgoing};

/// Sends a WhatsApp batch, one request per recipient.
pub fn send(http: &Http, account: &WhatsappAccount, batch: &Outgoing) -> Delivery {
    let path = format!("/{}/{}/messages", account.version, account.phone_number_id);
    let payload = payload(batch);
    each(
        http,
        batch,
        &join(&account.base_url, &path),
        &account.token,
        "WhatsApp message",
        |i| {
            let to = batch.identity(i).2.trim_start_matches('+').to_string();
            let body = match payload.clone() {
                Some(mut message) => {
                    if let Some(object) = message.as_object_mut() {
                        object.insert("messaging_product".into(), "whatsapp".into());
                        object.insert("recipient_type".into(), "individual".into());
                        object.insert("to".into(), to.into());
                    }
                    message
                }
                None => template_message(account, &to, &batch.placeholder_values(i)),
            };
            Single { body, secret: None }
        },
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
