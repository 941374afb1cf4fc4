//! [`Quota`]: a LINE account's monthly message quota, as the engine keeps and logs it.

use serde::{Deserialize, Serialize};

/// A LINE account's message quota for the month.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub plan: u64,
    pub purchased: u64,
    pub used: u64,
}

impl Quota {
    /// Plan allowance plus purchased add-on messages.
    pub fn total(&self) -> u64 {
        self.plan.saturating_add(self.purchased)
    }

    /// Messages left this month.
    pub fn remaining(&self) -> u64 {
        self.total().saturating_sub(self.used)
    }
}
