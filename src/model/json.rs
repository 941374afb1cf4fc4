//! A contact as JSON, as `list --format json` and `reach serve` give it.

/// What the contact list's "Status" column says: blocked, unsubscribed or subscribed.
pub fn status(c: &crate::model::Contact) -> &'static str {
    if c.flag(crate::model::Flag::Blocked) {
        "blocked"
    } else if c.is_subscribed() {
        "subscribed"
    } else {
        "unsubscribed"
    }
}

/// A contact as one JSON object with typed values: every field, always the same keys
/// (booleans, arrays of tags and opt-outs, RFC 3339 times at `tz`, null for none).
pub fn contact_json(c: &crate::model::Contact, tz: chrono::FixedOffset) -> serde_json::Value {
    use crate::model::{Field, FieldKind};
    use serde_json::Value;
    let time = |t: Option<i64>| {
        t.map_or(Value::Null, |t| {
            crate::model::time::format_rfc3339_at(t, tz).into()
        })
    };
    // The recurring-notification token is a secret: only an all-columns export holds it.
    let object: serde_json::Map<String, Value> = (Field::ALL.iter())
        .filter(|f| **f != Field::FbNotificationToken)
        .map(|field| {
            let value = match field.kind() {
                FieldKind::Identity => match field {
                    Field::Channel => c.channel.name().into(),
                    Field::Account => c.account.clone().into(),
                    _ => c.external_id.clone().into(),
                },
                FieldKind::Name => c.name.trim().into(),
                FieldKind::AvatarUrl if c.avatar_url.is_empty() => Value::Null,
                FieldKind::AvatarUrl => c.avatar_url.clone().into(),
                FieldKind::Tags => c.tags.clone().into(),
                FieldKind::OptOuts => c
                    .opt_outs
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .into(),
                FieldKind::FbFrequency => c.fb_frequency.map_or(Value::Null, |f| f.name().into()),
                FieldKind::Flag(flag) => c.flag(flag).into(),
                FieldKind::Time(t) => time(c.time(t)),
                FieldKind::Text(t) => c.text(t).map_or(Value::Null, Into::into),
            };
            (field.name().to_string(), value)
        })
        .collect();
    Value::Object(object)
}
