//! The WhatsApp Cloud API: one template message per recipient (`POST
//! {base}/{version}/{phone_number_id}/messages`); the text's placeholder values, in order,
//! fill the template's body parameters. A payload for WhatsApp, if given, is the message
//! object itself (its `to` is set per recipient).

use super::channels::{WhatsappAccount, join};
use super::http::{Http, Verdict, verdict};
use crate::broadcast::{Delivery, Outgoing};

/// Sends a WhatsApp batch, one request per recipient.
pub fn send(http: &Http, account: &WhatsappAccount, batch: &Outgoing) -> Delivery {
    let url = join(
        &account.base_url,
        &format!("/{}/{}/messages", account.version, account.phone_number_id),
    );
    let auth = format!("Bearer {}", account.token);
    let mut outcomes = Vec::with_capacity(batch.len());
    for i in 0..batch.len() {
        let to = batch.identity(i).2.trim_start_matches('+').to_string();
        let body = match batch
            .payload
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        {
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
        batch.pace();
        let verdict = verdict(
            &http.post(&url, &[("Authorization", &auth)], &body),
            "WhatsApp message",
        );
        if let Verdict::Stop(why) = verdict {
            return Delivery::Stop {
                done: outcomes,
                why,
            };
        }
        outcomes.push(verdict.for_one());
    }
    Delivery::Each(outcomes)
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
