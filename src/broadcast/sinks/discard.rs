//! [`Discard`]: a sink that accepts every recipient and sends nothing.

use crate::broadcast::{Delivery, Outcome, Outgoing, Sink};
use crate::model::Channel;

/// Accepts every batch, in batches of 10,000.
#[derive(Clone, Copy, Debug, Default)]
pub struct Discard;

impl Sink for Discard {
    fn idempotent(&self, _: Channel) -> bool {
        true
    }

    fn batch_size(&self, _: Channel) -> usize {
        10_000
    }

    fn send(&self, batch: &Outgoing) -> Delivery {
        Delivery::Each(vec![Outcome::Sent; batch.len()])
    }
}
