//! The LINE Messaging API: a batch's recipients grouped by their text (all of them when
//! the text names nobody), each group in multicasts of at most 500 user ids
//! (`/v2/bot/message/multicast`), and a text for one recipient alone through the push
//! endpoint (`/v2/bot/message/push`, its own, higher rate limit); and the quota
//! endpoints. Each request carries an `X-Line-Retry-Key` derived from the batch's key,
//! its text and its place among that text's requests, so it is the same on every retry
//! and resume, and a 409 answer (the key was used: LINE accepted the request before)
//! counts as delivered.

use std::collections::BTreeMap;

use super::channels::{LineAccount, join};
use super::http::{Http, Verdict, payload, redact, verdict};
use crate::broadcast::{Delivery, Outgoing, Part};

/// User ids a multicast may name.
pub const MULTICAST: usize = 500;

/// The endpoints, as parts name them (each paced on its own).
pub const PUSH: &str = "push";
pub const MULTICAST_ENDPOINT: &str = "multicast";

/// A batch's requests: recipients grouped by text, multicasts of at most 500, a lone
/// recipient by push.
pub fn split(batch: &Outgoing) -> Vec<Part> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for i in 0..batch.len() {
        let text = if batch.payload.is_some() {
            ""
        } else {
            batch.text(i)
        };
        groups.entry(text).or_default().push(i);
    }
    let mut parts = Vec::new();
    for (text, members) in groups {
        for (n, chunk) in members.chunks(MULTICAST).enumerate() {
            parts.push(Part {
                recipients: chunk.to_vec(),
                key: retry_key(batch.key, text, n),
                endpoint: if members.len() == 1 {
                    PUSH
                } else {
                    MULTICAST_ENDPOINT
                },
            });
        }
    }
    parts
}

/// Sends one request: a push to one recipient, else a multicast.
pub fn send(http: &Http, account: &LineAccount, request: &Outgoing) -> Delivery {
    let message = payload(request)
        .unwrap_or_else(|| serde_json::json!({"type": "text", "text": request.text(0)}));
    let ids: Vec<&str> = (0..request.len()).map(|i| request.identity(i).2).collect();
    let (path, body, what) = match request.endpoint {
        PUSH => (
            "/v2/bot/message/push",
            serde_json::json!({"to": ids[0], "messages": [message]}),
            "LINE push",
        ),
        _ => (
            "/v2/bot/message/multicast",
            serde_json::json!({"to": ids, "messages": [message]}),
            "LINE multicast",
        ),
    };
    let auth = format!("Bearer {}", account.token);
    let result = http.post(
        &join(&account.base_url, path),
        &[("Authorization", &auth), ("X-Line-Retry-Key", request.key)],
        &body,
    );
    let accepted_before = matches!(&result, Ok(a) if a.status == 409);
    let verdict = match accepted_before {
        true => Verdict::Delivered,
        false => verdict(&result, what, &account.token),
    };
    verdict.for_request(request.len())
}

/// The retry key of a batch's `n`th request of `text`: the same for the same batch and
/// text.
fn retry_key(batch_key: &str, text: &str, n: usize) -> String {
    let name = format!("{batch_key}/{n}/{text}");
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
