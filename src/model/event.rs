//! Events an embedding service reports (data-model.md, "Events"): each names one field it
//! moves, and a field only moves forward.

use super::{Seconds, TimeField};

/// What happened to a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EventKind {
    /// The contact sent a message or used a bot: `customer_interaction_at`.
    CustomerInteraction,
    /// The team sent the contact a one-to-one message: `team_interaction_at`.
    TeamInteraction,
    /// The contact completed a checkout: `last_checkout_at`.
    Checkout,
    /// The contact subscribed or followed again: `subscribed_at`, and `blocked` is cleared.
    Subscribe,
    /// The contact blocked or unfollowed the account: `blocked`.
    Block,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 5] = [
        EventKind::CustomerInteraction,
        EventKind::TeamInteraction,
        EventKind::Checkout,
        EventKind::Subscribe,
        EventKind::Block,
    ];

    /// The name used by `reach apply` (`"type"`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::CustomerInteraction => "customer_interaction",
            EventKind::TeamInteraction => "team_interaction",
            EventKind::Checkout => "checkout",
            EventKind::Subscribe => "subscribe",
            EventKind::Block => "block",
        }
    }

    /// Parses a name of [`EventKind::name`].
    pub fn parse(text: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.name() == text)
    }

    /// The time field the event moves forward, if any (`block` moves none).
    pub fn time_field(self) -> Option<TimeField> {
        match self {
            EventKind::CustomerInteraction => Some(TimeField::CustomerInteractionAt),
            EventKind::TeamInteraction => Some(TimeField::TeamInteractionAt),
            EventKind::Checkout => Some(TimeField::LastCheckoutAt),
            EventKind::Subscribe => Some(TimeField::SubscribedAt),
            EventKind::Block => None,
        }
    }
}

/// An event at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub at: Seconds,
}

/// A time that only moves forward: the later of the stored time and `at`.
pub fn moved_forward(stored: Option<Seconds>, at: Seconds) -> Seconds {
    stored.map_or(at, |t| t.max(at))
}
