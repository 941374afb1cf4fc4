//! The enumerable parts of a contact: flags, opt-out kinds, time fields, text fields,
//! recurring-notification frequencies, and which channels each field belongs to.

use super::Channel;

/// Defines a small field enum with its canonical name and a dense index.
macro_rules! field_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical name, as used in CSV headers and segments.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the canonical name, ignoring ASCII case.
            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.name().eq_ignore_ascii_case(text))
            }

            /// Dense index in declaration order.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

field_enum!(
    /// A boolean attribute of a contact.
    Flag {
        Blocked => "blocked",
        Bound => "bound",
        OverQuota => "over_quota",
        FbOptin => "fb_optin",
        App91Bound => "app91_bound",
    }
);

field_enum!(
    /// A message kind a contact can opt out of.
    OptOutKind {
        Broadcast => "broadcast",
        SiteMarketing => "site_marketing",
        Cart => "cart",
    }
);

field_enum!(
    /// An optional instant attached to a contact.
    TimeField {
        SubscribedAt => "subscribed_at",
        LastCheckoutAt => "last_checkout_at",
        CustomerInteractionAt => "customer_interaction_at",
        TeamInteractionAt => "team_interaction_at",
        TeamMarketingAt => "team_marketing_at",
        FbLastSentAt => "fb_last_sent_at",
        FbExpiresAt => "fb_expires_at",
    }
);

field_enum!(
    /// An optional text attribute that segments can match exactly.
    TextField {
        Email => "email",
        Phone => "phone",
        MemberId => "member_id",
        Store => "store",
        Salesperson => "salesperson",
        FbNotificationToken => "fb_notification_token",
    }
);

/// How many text fields there are.
pub const TEXT_FIELDS: usize = 6;

field_enum!(
    /// How often a Facebook contact agreed to receive recurring notifications.
    FbFrequency {
        Daily => "daily",
        Weekly => "weekly",
        Monthly => "monthly",
    }
);

const FB: &[Channel] = &[Channel::Facebook];
const FB_LINE_IG: &[Channel] = &[Channel::Facebook, Channel::Line, Channel::Instagram];
const FB_LINE_WA: &[Channel] = &[Channel::Facebook, Channel::Line, Channel::Whatsapp];
const LINE_WA: &[Channel] = &[Channel::Line, Channel::Whatsapp];
const WA_WEB: &[Channel] = &[Channel::Whatsapp, Channel::Web];
const WEB: &[Channel] = &[Channel::Web];

impl Flag {
    /// The channels on which this flag may be true (`None`: every channel).
    pub fn channels(self) -> Option<&'static [Channel]> {
        match self {
            Flag::Blocked | Flag::OverQuota => None,
            Flag::Bound => Some(FB_LINE_WA),
            Flag::FbOptin => Some(FB),
            Flag::App91Bound => Some(&[Channel::Line]),
        }
    }
}

impl TimeField {
    /// The channels on which this time may be set (`None`: every channel).
    pub fn channels(self) -> Option<&'static [Channel]> {
        match self {
            TimeField::FbLastSentAt | TimeField::FbExpiresAt => Some(FB),
            _ => None,
        }
    }
}

impl TextField {
    /// The channels on which this text may be set.
    pub fn channels(self) -> &'static [Channel] {
        match self {
            TextField::Email | TextField::MemberId => WEB,
            TextField::Phone => WA_WEB,
            TextField::Store | TextField::Salesperson => LINE_WA,
            TextField::FbNotificationToken => FB,
        }
    }
}

/// The channels whose contacts may carry an avatar URL.
pub const AVATAR_CHANNELS: &[Channel] = FB_LINE_IG;
/// The channels whose contacts may carry a recurring-notification frequency.
pub const FB_FREQUENCY_CHANNELS: &[Channel] = FB;

/// Methods shared by the small bit sets of enum values: `contains`, `insert`, `iter` (in
/// the enum's declaration order) and `FromIterator`.
macro_rules! bit_set_methods {
    ($set:ident, $item:ident) => {
        impl $set {
            /// Whether `item` is in the set.
            pub fn contains(self, item: $item) -> bool {
                self.0 & (1 << item.index()) != 0
            }

            /// Adds `item`.
            pub fn insert(&mut self, item: $item) {
                self.0 |= 1 << item.index();
            }

            /// The items in the set, in declaration order.
            pub fn iter(self) -> impl Iterator<Item = $item> {
                $item::ALL
                    .iter()
                    .copied()
                    .filter(move |i| self.contains(*i))
            }
        }

        impl FromIterator<$item> for $set {
            fn from_iter<I: IntoIterator<Item = $item>>(iter: I) -> Self {
                let mut set = $set::default();
                for item in iter {
                    set.insert(item);
                }
                set
            }
        }
    };
}

/// A small set of opt-out kinds, stored as bits.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct OptOuts(u8);

bit_set_methods!(OptOuts, OptOutKind);

impl OptOuts {
    /// No opt-outs.
    pub const NONE: OptOuts = OptOuts(0);
    /// Every kind (what "unsubscribe" with no kind named means).
    pub const ALL: OptOuts = OptOuts(0b111);

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of two sets.
    pub fn union(self, other: OptOuts) -> OptOuts {
        OptOuts(self.0 | other.0)
    }
}

/// When a contact may be sent a recurring notification again: its last send must be at
/// or before the latest instant of its frequency (data-model.md's period before now).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SendableAt {
    pub now: super::Seconds,
    /// The latest last send allowed, per frequency (daily, weekly, monthly).
    pub latest_send: [super::Seconds; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for f in Flag::ALL {
            assert_eq!(Flag::parse(&f.name().to_uppercase()), Some(*f));
        }
        for t in TimeField::ALL {
            assert_eq!(TimeField::parse(t.name()), Some(*t));
        }
        assert_eq!(FbFrequency::parse("Weekly"), Some(FbFrequency::Weekly));
        assert_eq!(OptOutKind::parse("nope"), None);
    }

    #[test]
    fn opt_out_set_algebra() {
        let mut set = OptOuts::NONE;
        assert!(set.is_empty());
        set.insert(OptOutKind::Cart);
        assert!(set.contains(OptOutKind::Cart));
        assert!(!set.contains(OptOutKind::Broadcast));
        assert_eq!(set.union(OptOuts::ALL), OptOuts::ALL);
        assert_eq!(OptOuts::ALL.iter().count(), 3);
    }
}

field_enum!(
    /// A column of the CSV format, one per contact field, in the format's order.
    Field {
        Channel => "channel",
        Account => "account",
        ExternalId => "external_id",
        Name => "name",
        AvatarUrl => "avatar_url",
        Tags => "tags",
        SubscribedAt => "subscribed_at",
        Blocked => "blocked",
        OptOuts => "opt_outs",
        LastCheckoutAt => "last_checkout_at",
        CustomerInteractionAt => "customer_interaction_at",
        TeamInteractionAt => "team_interaction_at",
        TeamMarketingAt => "team_marketing_at",
        Bound => "bound",
        OverQuota => "over_quota",
        Email => "email",
        Phone => "phone",
        MemberId => "member_id",
        FbOptin => "fb_optin",
        FbFrequency => "fb_frequency",
        FbLastSentAt => "fb_last_sent_at",
        FbExpiresAt => "fb_expires_at",
        App91Bound => "app91_bound",
        Store => "store",
        Salesperson => "salesperson",
        FbNotificationToken => "fb_notification_token",
    }
);

/// What kind of value a [`Field`] holds, and where it sits in a [`super::Contact`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Identity,
    Name,
    AvatarUrl,
    Tags,
    OptOuts,
    FbFrequency,
    Flag(Flag),
    Time(TimeField),
    Text(TextField),
}

impl Field {
    /// What the field holds (looked up in a table made once: import and export ask for
    /// every cell).
    pub fn kind(self) -> FieldKind {
        static KINDS: std::sync::LazyLock<Vec<FieldKind>> =
            std::sync::LazyLock::new(|| Field::ALL.iter().map(|f| f.kind_by_name()).collect());
        KINDS
            .get(self.index())
            .copied()
            .unwrap_or(FieldKind::Identity)
    }

    fn kind_by_name(self) -> FieldKind {
        let by_name = |name: &str| {
            Flag::parse(name)
                .map(FieldKind::Flag)
                .or_else(|| TimeField::parse(name).map(FieldKind::Time))
                .or_else(|| TextField::parse(name).map(FieldKind::Text))
        };
        match self {
            Field::Channel | Field::Account | Field::ExternalId => FieldKind::Identity,
            Field::Name => FieldKind::Name,
            Field::AvatarUrl => FieldKind::AvatarUrl,
            Field::Tags => FieldKind::Tags,
            Field::OptOuts => FieldKind::OptOuts,
            Field::FbFrequency => FieldKind::FbFrequency,
            other => by_name(other.name()).unwrap_or(FieldKind::Identity),
        }
    }
}

/// A set of [`Field`]s: the columns a CSV file provides (`iter` gives format order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldSet(u32);

bit_set_methods!(FieldSet, Field);

impl FieldSet {
    /// Every field.
    pub fn all() -> FieldSet {
        Field::ALL.iter().copied().collect()
    }
}

#[cfg(test)]
mod field_tests {
    use super::*;

    #[test]
    fn every_field_has_a_kind_matching_its_name() {
        assert_eq!(Field::ALL.len(), 26);
        assert_eq!(TextField::ALL.len(), TEXT_FIELDS);
        assert_eq!(Field::Blocked.kind(), FieldKind::Flag(Flag::Blocked));
        assert_eq!(
            Field::FbExpiresAt.kind(),
            FieldKind::Time(TimeField::FbExpiresAt)
        );
        assert_eq!(Field::Store.kind(), FieldKind::Text(TextField::Store));
        let flags = Field::ALL
            .iter()
            .filter(|f| matches!(f.kind(), FieldKind::Flag(_)))
            .count();
        assert_eq!(flags, Flag::ALL.len());
        let times = Field::ALL
            .iter()
            .filter(|f| matches!(f.kind(), FieldKind::Time(_)))
            .count();
        assert_eq!(times, TimeField::ALL.len());
        assert!(FieldSet::all().contains(Field::Salesperson));
    }
}
