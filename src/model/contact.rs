//! A contact as a plain value: the unit of import, export and the row-by-row semantics
//! (subscribed, message eligibility, fb_sendable) that the bitmap executor must agree with.

use chrono::FixedOffset;

use super::fields::{AVATAR_CHANNELS, FB_FREQUENCY_CHANNELS, TEXT_FIELDS};
use super::phone::international_phone;
use super::time::{Seconds, add_months};
use super::{Channel, FbFrequency, Flag, OptOutKind, OptOuts, TextField, TimeField};

/// The longest identity, name or avatar URL accepted, in bytes (1 MiB).
pub const MAX_TEXT_BYTES: usize = 1 << 20;

/// The length limit of a tag name, in characters.
pub const MAX_TAG_CHARS: usize = 100;

/// One contact: identity (channel, account, external_id) plus every field of the data model.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub channel: Channel,
    pub account: String,
    pub external_id: String,
    pub name: String,
    pub avatar_url: String,
    /// Sorted, without duplicates.
    pub tags: Vec<String>,
    /// Indexed by [`Flag::index`].
    pub flags: [bool; 5],
    pub opt_outs: OptOuts,
    /// Indexed by [`TimeField::index`].
    pub times: [Option<Seconds>; 7],
    /// Indexed by [`TextField::index`]; phones are normalized.
    pub texts: [Option<String>; TEXT_FIELDS],
    pub fb_frequency: Option<FbFrequency>,
}

/// Why a contact's fields do not fit together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field (CSV column name) at fault.
    pub field: &'static str,
    /// What was expected.
    pub message: String,
}

impl Contact {
    /// A contact with the given identity and every other field at its default.
    pub fn new(channel: Channel, account: &str, external_id: &str) -> Contact {
        Contact {
            channel,
            account: account.to_string(),
            external_id: external_id.to_string(),
            name: String::new(),
            avatar_url: String::new(),
            tags: Vec::new(),
            flags: [false; 5],
            opt_outs: OptOuts::NONE,
            times: [None; 7],
            texts: Default::default(),
            fb_frequency: None,
        }
    }

    /// Resets every field to its default (web channel, empty identity), keeping the
    /// memory of its strings for the next contact parsed into it.
    pub fn clear(&mut self) {
        self.channel = Channel::Web;
        for text in [
            &mut self.account,
            &mut self.external_id,
            &mut self.name,
            &mut self.avatar_url,
        ] {
            text.clear();
        }
        self.tags.clear();
        self.flags = [false; 5];
        self.opt_outs = OptOuts::NONE;
        self.times = [None; 7];
        self.texts = Default::default();
        self.fb_frequency = None;
    }

    /// The export and list order: (channel name, account, external id), borrowed.
    pub fn identity_order(&self) -> (&'static str, &str, &str) {
        (self.channel.name(), &self.account, &self.external_id)
    }

    /// The value of a flag.
    pub fn flag(&self, flag: Flag) -> bool {
        self.flags[flag.index()]
    }

    /// The value of a time field.
    pub fn time(&self, field: TimeField) -> Option<Seconds> {
        self.times[field.index()]
    }

    /// The value of a text field.
    pub fn text(&self, field: TextField) -> Option<&str> {
        self.texts[field.index()].as_deref()
    }

    /// Subscribed ⇔ not blocked and `broadcast` not opted out. Also "active contact".
    pub fn is_subscribed(&self) -> bool {
        !self.flag(Flag::Blocked) && !self.opt_outs.contains(OptOutKind::Broadcast)
    }

    /// Whether a message of `kind` may reach this contact (data-model.md, message kinds).
    pub fn may_receive(&self, kind: MessageKind) -> bool {
        if self.flag(Flag::Blocked) {
            return false;
        }
        match kind.opt_out() {
            None => true,
            Some(opt_out) => {
                let quota_ok = opt_out == OptOutKind::Cart || !self.flag(Flag::OverQuota);
                !self.opt_outs.contains(opt_out) && quota_ok
            }
        }
    }

    /// Whether a recurring notification may be sent at `now` (calendar months on `tz`).
    pub fn is_fb_sendable(&self, now: Seconds, tz: FixedOffset) -> bool {
        if self.channel != Channel::Facebook || !self.flag(Flag::FbOptin) {
            return false;
        }
        if self.time(TimeField::FbExpiresAt).is_some_and(|e| e <= now) {
            return false;
        }
        let Some(last) = self.time(TimeField::FbLastSentAt) else {
            return true;
        };
        match self.fb_frequency {
            Some(FbFrequency::Daily) => now >= last + 86_400,
            Some(FbFrequency::Weekly) => now >= last + 7 * 86_400,
            Some(FbFrequency::Monthly) => add_months(last, 1, tz).is_some_and(|next| now >= next),
            None => false,
        }
    }

    /// Checks everything: [`Contact::validate_fields`], and that an opt-in has a frequency.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.validate_fields()?;
        if self.flag(Flag::FbOptin) && self.fb_frequency.is_none() {
            return Err(FieldError {
                field: "fb_frequency",
                message: "required when fb_optin is true: daily, weekly or monthly".into(),
            });
        }
        Ok(())
    }

    /// Checks that fields of other channels hold their defaults, that times fit the store,
    /// and that tag names are well formed.
    pub fn validate_fields(&self) -> Result<(), FieldError> {
        let channel = self.channel;
        let allowed = |channels: Option<&[Channel]>| channels.is_none_or(|c| c.contains(&channel));
        let foreign = |field: &'static str| FieldError {
            field,
            message: format!("{field} does not apply to {channel} contacts (leave it empty)"),
        };
        if !self.avatar_url.is_empty() && !AVATAR_CHANNELS.contains(&channel) {
            return Err(foreign("avatar_url"));
        }
        if let Some(flag) = Flag::ALL
            .iter()
            .find(|f| self.flag(**f) && !allowed(f.channels()))
        {
            return Err(foreign(flag.name()));
        }
        if let Some(time) = TimeField::ALL
            .iter()
            .find(|t| self.time(**t).is_some() && !allowed(t.channels()))
        {
            return Err(foreign(time.name()));
        }
        if let Some(text) = TextField::ALL
            .iter()
            .find(|t| self.text(**t).is_some() && !t.channels().contains(&channel))
        {
            return Err(foreign(text.name()));
        }
        if self.fb_frequency.is_some() && !FB_FREQUENCY_CHANNELS.contains(&channel) {
            return Err(foreign("fb_frequency"));
        }
        self.validate_identity()?;
        self.validate_reach()?;
        let long = [
            ("account", &self.account),
            ("external_id", &self.external_id),
            ("name", &self.name),
            ("avatar_url", &self.avatar_url),
        ]
        .into_iter()
        .find(|(_, text)| text.len() > MAX_TEXT_BYTES);
        if let Some((field, _)) = long {
            return Err(FieldError {
                field,
                message: format!("at most {MAX_TEXT_BYTES} bytes"),
            });
        }
        let range = super::time::MIN_STORED..=super::time::MAX_STORED;
        if let Some(field) = TimeField::ALL
            .iter()
            .find(|t| self.time(**t).is_some_and(|v| !range.contains(&v)))
        {
            return Err(FieldError {
                field: field.name(),
                message: format!(
                    "times must lie in {} (what the store holds)",
                    super::time::STORED_RANGE
                ),
            });
        }
        for tag in &self.tags {
            check_tag_name(tag).map_err(|message| FieldError {
                field: "tags",
                message,
            })?;
        }
        Ok(())
    }
}

impl Contact {
    /// Checks the identity: an account id is non-empty, without white space, `|` or control
    /// characters (data-model.md); an external id non-empty and without control
    /// characters; a WhatsApp contact's external id is its number, `+` and 8 to 15 digits.
    fn validate_identity(&self) -> Result<(), FieldError> {
        let refuse = |field: &'static str, message: String| Err(FieldError { field, message });
        let account = &self.account;
        if account.is_empty()
            || account.contains('|')
            || account.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return refuse(
                "account",
                "an account id is non-empty, without white space, control characters or '|'".into(),
            );
        }
        let id = &self.external_id;
        if id.is_empty() || id.chars().any(char::is_control) {
            return refuse(
                "external_id",
                "an external id is non-empty, without control characters".into(),
            );
        }
        if self.channel == Channel::Whatsapp && international_phone(id).as_ref() != Some(id) {
            return refuse(
                "external_id",
                "a WhatsApp contact's external id is its number: + and 8 to 15 digits, e.g. +886912345678"
                    .into(),
            );
        }
        Ok(())
    }

    /// Checks the fields a message is sent to: a WhatsApp phone is an international
    /// number (as `add-whatsapp` requires), a web phone `+` (optional) and 4 to 15 digits,
    /// an email an address.
    fn validate_reach(&self) -> Result<(), FieldError> {
        let refuse = |field: &'static str, message: &str| {
            Err(FieldError {
                field,
                message: message.into(),
            })
        };
        if let Some(phone) = self.text(TextField::Phone) {
            let international = international_phone(phone).is_some();
            let digits = phone.strip_prefix('+').unwrap_or(phone);
            let local =
                (4..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
            match self.channel {
                Channel::Whatsapp if !international => {
                    return refuse(
                        "phone",
                        "a WhatsApp phone is an international number: + and 8 to 15 digits, e.g. +886912345678",
                    );
                }
                _ if !local => {
                    return refuse(
                        "phone",
                        "a phone number: + (optional) and 4 to 15 digits; spaces, dashes, dots and parentheses are dropped",
                    );
                }
                _ => {}
            }
        }
        if let Some(email) = self.text(TextField::Email)
            && !is_email(email)
        {
            return refuse(
                "email",
                "an email address such as name@example.com (one @, a domain with a dot, no white space)",
            );
        }
        Ok(())
    }
}

/// Whether `text` reads as an email address: `local@domain`, one `@`, a domain with a dot
/// inside it, no white space or control characters, at most 254 bytes (RFC 5321's path
/// limit less its brackets).
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let plain = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    };
    text.len() <= 254
        && plain(local)
        && plain(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
}

/// Checks a (trimmed) tag name: non-empty, no `|`, at most 100 characters.
pub fn check_tag_name(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("a tag name cannot be empty".into());
    }
    if tag.as_bytes().contains(&b'|') {
        return Err(format!("tag '{tag}' contains '|', which separates tags"));
    }
    if tag.len() > MAX_TAG_CHARS && tag.chars().count() > MAX_TAG_CHARS {
        return Err(format!(
            "tag '{tag}' is longer than {MAX_TAG_CHARS} characters"
        ));
    }
    if tag.trim() != tag {
        return Err(format!("tag '{tag}' has surrounding white space"));
    }
    Ok(())
}

/// Kinds of message a brand sends; they decide who may receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MessageKind {
    Broadcast,
    SiteMarketing,
    Cart,
    Welcome,
    Bot,
}

impl MessageKind {
    /// Every kind.
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Broadcast,
        MessageKind::SiteMarketing,
        MessageKind::Cart,
        MessageKind::Welcome,
        MessageKind::Bot,
    ];

    /// The kind's name (`broadcast`, `site_marketing`, …).
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Broadcast => "broadcast",
            MessageKind::SiteMarketing => "site_marketing",
            MessageKind::Cart => "cart",
            MessageKind::Welcome => "welcome",
            MessageKind::Bot => "bot",
        }
    }

    /// Parses a name of [`MessageKind::name`] (any case).
    pub fn parse(text: &str) -> Option<MessageKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(text))
    }

    /// Whether sending it is marketing: it sets `team_marketing_at`, and on Facebook
    /// outside the reply window needs a recurring notification (`fb_sendable`).
    pub fn is_marketing(self) -> bool {
        matches!(
            self,
            MessageKind::Broadcast | MessageKind::SiteMarketing | MessageKind::Cart
        )
    }

    /// Whether `over_quota` contacts are excluded.
    pub fn respects_over_quota(self) -> bool {
        matches!(self, MessageKind::Broadcast | MessageKind::SiteMarketing)
    }
    /// The opt-out kind that stops this message, if any.
    pub fn opt_out(self) -> Option<OptOutKind> {
        match self {
            MessageKind::Broadcast => Some(OptOutKind::Broadcast),
            MessageKind::SiteMarketing => Some(OptOutKind::SiteMarketing),
            MessageKind::Cart => Some(OptOutKind::Cart),
            MessageKind::Welcome | MessageKind::Bot => None,
        }
    }
}

impl Contact {
    /// Copies the fields in `fields` from `other` (identity fields are never copied).
    pub fn overlay(&mut self, other: &Contact, fields: super::FieldSet) {
        use super::FieldKind;
        for field in fields.iter() {
            match field.kind() {
                FieldKind::Identity => {}
                FieldKind::Name => self.name.clone_from(&other.name),
                FieldKind::AvatarUrl => self.avatar_url.clone_from(&other.avatar_url),
                FieldKind::Tags => self.tags.clone_from(&other.tags),
                FieldKind::OptOuts => self.opt_outs = other.opt_outs,
                FieldKind::FbFrequency => self.fb_frequency = other.fb_frequency,
                FieldKind::Flag(f) => self.flags[f.index()] = other.flags[f.index()],
                FieldKind::Time(t) => self.times[t.index()] = other.times[t.index()],
                FieldKind::Text(t) => self.texts[t.index()].clone_from(&other.texts[t.index()]),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::time::{parse_offset, parse_rfc3339};

    fn t(text: &str) -> Seconds {
        parse_rfc3339(text).expect("test time")
    }

    fn fb_contact(freq: FbFrequency, last: Option<&str>, expires: Option<&str>) -> Contact {
        let mut c = Contact::new(Channel::Facebook, "page", "1");
        c.flags[Flag::FbOptin.index()] = true;
        c.fb_frequency = Some(freq);
        c.times[TimeField::FbLastSentAt.index()] = last.map(t);
        c.times[TimeField::FbExpiresAt.index()] = expires.map(t);
        c
    }

    #[test]
    fn subscribed_is_not_blocked_and_not_opted_out_of_broadcast() {
        let mut c = Contact::new(Channel::Line, "a", "U1");
        assert!(c.is_subscribed());
        c.opt_outs.insert(OptOutKind::Cart);
        assert!(c.is_subscribed());
        c.opt_outs.insert(OptOutKind::Broadcast);
        assert!(!c.is_subscribed());
        let mut blocked = Contact::new(Channel::Line, "a", "U2");
        blocked.flags[Flag::Blocked.index()] = true;
        assert!(!blocked.is_subscribed());
    }

    #[test]
    fn message_kinds_respect_opt_outs_quota_and_blocking() {
        let mut c = Contact::new(Channel::Line, "a", "U1");
        c.flags[Flag::OverQuota.index()] = true;
        assert!(!c.may_receive(MessageKind::Broadcast));
        assert!(!c.may_receive(MessageKind::SiteMarketing));
        assert!(c.may_receive(MessageKind::Cart));
        c.opt_outs = OptOuts::ALL;
        assert!(!c.may_receive(MessageKind::Cart));
        assert!(c.may_receive(MessageKind::Welcome));
        c.flags[Flag::Blocked.index()] = true;
        assert!(!c.may_receive(MessageKind::Bot));
    }

    #[test]
    fn fb_sendable_follows_frequency_and_expiry() {
        let tz = parse_offset("Z").expect("utc");
        let now = t("2024-03-31T12:00:00Z");
        let daily = fb_contact(FbFrequency::Daily, Some("2024-03-30T12:00:00Z"), None);
        assert!(daily.is_fb_sendable(now, tz));
        let daily_late = fb_contact(FbFrequency::Daily, Some("2024-03-30T12:00:01Z"), None);
        assert!(!daily_late.is_fb_sendable(now, tz));
        let weekly = fb_contact(FbFrequency::Weekly, Some("2024-03-25T12:00:00Z"), None);
        assert!(!weekly.is_fb_sendable(now, tz));
        // 2024-02-29 + 1 month = 2024-03-29; 2024-03-01 + 1 month = 2024-04-01.
        let monthly = fb_contact(FbFrequency::Monthly, Some("2024-02-29T12:00:00Z"), None);
        assert!(monthly.is_fb_sendable(now, tz));
        let monthly_late = fb_contact(FbFrequency::Monthly, Some("2024-03-01T00:00:00Z"), None);
        assert!(!monthly_late.is_fb_sendable(now, tz));
        let expired = fb_contact(FbFrequency::Daily, None, Some("2024-03-31T12:00:00Z"));
        assert!(!expired.is_fb_sendable(now, tz));
        let valid = fb_contact(FbFrequency::Daily, None, Some("2024-03-31T12:00:01Z"));
        assert!(valid.is_fb_sendable(now, tz));
    }

    #[test]
    fn validation_rejects_fields_of_other_channels() {
        let mut c = Contact::new(Channel::Line, "a", "U1");
        c.flags[Flag::FbOptin.index()] = true;
        c.fb_frequency = Some(FbFrequency::Daily);
        assert_eq!(c.validate().map_err(|e| e.field), Err("fb_optin"));
        let mut web = Contact::new(Channel::Web, "site", "m1");
        web.texts[TextField::Store.index()] = Some("x".into());
        assert_eq!(web.validate().map_err(|e| e.field), Err("store"));
        web.texts[TextField::Store.index()] = None;
        web.texts[TextField::Email.index()] = Some("a@b.c".into());
        assert_eq!(web.validate(), Ok(()));
        let mut fb = Contact::new(Channel::Facebook, "p", "1");
        fb.flags[Flag::FbOptin.index()] = true;
        assert_eq!(fb.validate().map_err(|e| e.field), Err("fb_frequency"));
    }

    #[test]
    fn every_way_in_checks_identities_phones_and_emails() {
        let field = |c: &Contact| c.validate().map_err(|e| e.field);
        let mut wa = Contact::new(Channel::Whatsapp, "+886223456789", "+886912345678");
        wa.texts[TextField::Phone.index()] = Some("+886912345678".into());
        assert_eq!(field(&wa), Ok(()));
        wa.texts[TextField::Phone.index()] = Some("abc".into());
        assert_eq!(field(&wa), Err("phone"));
        wa.texts[TextField::Phone.index()] = Some("0912345678".into());
        assert_eq!(field(&wa), Err("phone"));
        let wa = Contact::new(Channel::Whatsapp, "+886223456789", "not-a-phone");
        assert_eq!(field(&wa), Err("external_id"));
        let line = Contact::new(Channel::Line, "line\u{0}tw", "U1");
        assert_eq!(field(&line), Err("account"));
        let line = Contact::new(Channel::Line, "line-tw", "U\u{0}1");
        assert_eq!(field(&line), Err("external_id"));
        let mut web = Contact::new(Channel::Web, "site", "m1");
        web.texts[TextField::Email.index()] = Some("not-an-email".into());
        assert_eq!(field(&web), Err("email"));
        web.texts[TextField::Email.index()] = Some("王@例子.台灣".into());
        web.texts[TextField::Phone.index()] = Some("0912345678".into());
        assert_eq!(field(&web), Ok(()));
        web.texts[TextField::Phone.index()] = Some("call me".into());
        assert_eq!(field(&web), Err("phone"));
        for bad in ["a@b", "@b.c", "a@.c", "a b@c.d", "a@b@c.d", "a@b.c."] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn oversized_text_is_refused() {
        let mut c = Contact::new(Channel::Line, "a", "U1");
        c.name = "x".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(c.validate().map_err(|e| e.field), Err("name"));
    }

    #[test]
    fn tag_names_are_checked() {
        assert!(check_tag_name("雙11 會員").is_ok());
        assert!(check_tag_name("").is_err());
        assert!(check_tag_name("a|b").is_err());
        assert!(check_tag_name(&"x".repeat(101)).is_err());
        assert!(check_tag_name(&"會".repeat(100)).is_ok());
    }
}
