//! Channels (facebook, line, whatsapp, instagram, web) and the names they go by.

use std::fmt;

/// A messaging channel a brand connects accounts on.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Channel {
    Facebook,
    Line,
    Whatsapp,
    Instagram,
    Web,
}

impl Channel {
    /// Every channel, in the canonical (export) order.
    pub const ALL: [Channel; 5] = [
        Channel::Facebook,
        Channel::Line,
        Channel::Whatsapp,
        Channel::Instagram,
        Channel::Web,
    ];

    /// The canonical lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Facebook => "facebook",
            Channel::Line => "line",
            Channel::Whatsapp => "whatsapp",
            Channel::Instagram => "instagram",
            Channel::Web => "web",
        }
    }

    /// Every spelling accepted on input (canonical name first), lower case.
    pub fn spellings(self) -> &'static [&'static str] {
        match self {
            Channel::Facebook => &["facebook", "fb", "messenger"],
            Channel::Line => &["line"],
            Channel::Whatsapp => &["whatsapp", "wa"],
            Channel::Instagram => &["instagram", "ig"],
            Channel::Web => &["web", "website"],
        }
    }

    /// Parses a channel name or alias, ignoring letter case.
    pub fn parse(text: &str) -> Option<Channel> {
        let lower = text.to_ascii_lowercase();
        Channel::ALL
            .into_iter()
            .find(|c| c.spellings().contains(&lower.as_str()))
    }

    /// Dense index 0..5, used for per-channel arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_resolve() {
        assert_eq!(Channel::parse("FB"), Some(Channel::Facebook));
        assert_eq!(Channel::parse("messenger"), Some(Channel::Facebook));
        assert_eq!(Channel::parse("Wa"), Some(Channel::Whatsapp));
        assert_eq!(Channel::parse("ig"), Some(Channel::Instagram));
        assert_eq!(Channel::parse("WEBSITE"), Some(Channel::Web));
        assert_eq!(Channel::parse("line"), Some(Channel::Line));
        assert_eq!(Channel::parse("telegram"), None);
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.name()), Some(c));
            assert_eq!(Channel::ALL[c.index()], c);
        }
    }
}
