//! The LINE Messaging API: multicast (at most 500 user ids a request) with a
//! `X-Line-Retry-Key`, and the quota endpoints. A batch whose texts differ (placeholders)
//! is sent as one multicast per distinct text; each request's retry key is derived from
//! the batch's key and its text, so it is the same on every retry and resume, and a 409
//! answer (the key was used: LINE accepted the request before) counts as delivered.

use std::collections::BTreeMap;

use super::channels::{LineAccount, join};
use super::http::{Http, Verdict, payload, redact, verdict};
use crate::broadcast::{Delivery, Outcome, Outgoing};

/// Sends a LINE batch.
pub fn send(http: &Http, account: &LineAccount, batch: &Outgoing) -> Delivery {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in 0..batch.len() {
        let text = if batch.payload.is_some() {
            String::new()
        } else {
            batch.text(i)
        };
        groups.entry(text).or_default().push(i);
    }
    let mut outcomes = vec![Outcome::Retry("not sent".into()); batch.len()];
    let url = join(&account.base_url, "/v2/bot/message/multicast");
    let auth = format!("Bearer {}", account.token);
    for (text, members) in &groups {
        for chunk in members.chunks(500) {
            let to: Vec<&str> = chunk.iter().map(|&i| batch.identity(i).2).collect();
            let message =
                payload(batch).unwrap_or_else(|| serde_json::json!({"type": "text", "text": text}));
            let body = serde_json::json!({"to": to, "messages": [message]});
            let key = retry_key(&batch.key, text, chunk.first().map_or(0, |&i| i / 500));
            batch.pace();
            let result = http.post(
                &url,
                &[("Authorization", &auth), ("X-Line-Retry-Key", &key)],
                &body,
            );
            let accepted_before = matches!(&result, Ok(a) if a.status == 409);
            let verdict = if accepted_before {
                Verdict::Delivered
            } else {
                verdict(&result, "LINE multicast", &account.token)
            };
            if let Verdict::Stop(why) = verdict {
                // Groups go out in order: those before this one are dealt with.
                let done = (0..batch.len()).map(|i| outcomes[i].clone()).collect();
                return Delivery::Stop { done, why };
            }
            for &i in chunk {
                outcomes[i] = verdict.for_one();
            }
        }
    }
    Delivery::Each(outcomes)
}

/// The retry key of one multicast of a batch: the same for the same batch and text.
fn retry_key(batch_key: &str, text: &str, chunk: usize) -> String {
    let name = format!("{batch_key}/{chunk}/{text}");
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string()
}

/// The account's quota from LINE: (limit, used this month); `None` for no limit.
pub fn quota(http: &Http, account: &LineAccount) -> Result<Option<(u64, u64)>, String> {
    let auth = format!("Bearer {}", account.token);
    let read = |path: &str| -> Result<serde_json::Value, String> {
        let answer = http.get(&join(&account.base_url, path), &[("Authorization", &auth)])?;
        if !(200..300).contains(&answer.status) {
            let body = redact(&answer.body, &account.token);
            return Err(format!("{path}: HTTP {} {body}", answer.status));
        }
        serde_json::from_str(&answer.body).map_err(|e| format!("{path}: {e}"))
    };
    let limit = read("/v2/bot/message/quota")?;
    let used = read("/v2/bot/message/quota/consumption")?;
    let used = used.get("totalUsage").and_then(|v| v.as_u64()).unwrap_or(0);
    match limit.get("type").and_then(|v| v.as_str()) {
        Some("none") => Ok(None),
        _ => Ok(Some((
            limit.get("value").and_then(|v| v.as_u64()).unwrap_or(0),
            used,
        ))),
    }
}
