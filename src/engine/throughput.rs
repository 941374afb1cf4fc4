//! [`Throughput`]: how fast a sending job's accounts settle recipients lately — per
//! account, recipients per second of take-up time over the last [`WINDOW`] seconds. It
//! is rebuilt from the logged batch outcomes (their `at`) when a directory is opened,
//! and never written itself, so `broadcast show` in another process sees the rate of
//! the run that is logging them.

use std::collections::BTreeMap;

use crate::model::Seconds;

/// Seconds of recent outcomes a rate is taken over.
pub const WINDOW: Seconds = 30;

/// Recent outcomes per account: recipients settled per second they were taken up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Throughput {
    accounts: BTreeMap<String, BTreeMap<Seconds, u64>>,
    /// The earliest second seen (the rate's span starts no earlier).
    first: Option<Seconds>,
    /// The latest second seen.
    last: Option<Seconds>,
}

impl Throughput {
    /// Notes `n` recipients of `account` settled in a batch taken up at `at`; forgets
    /// what lies before the window.
    pub fn note(&mut self, account: &str, at: Seconds, n: u64) {
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        let last = self.last.map_or(at, |l| l.max(at));
        self.last = Some(last);
        let seconds = self.accounts.entry(account.to_string()).or_default();
        *seconds.entry(at).or_default() += n;
        for seconds in self.accounts.values_mut() {
            seconds.retain(|&t, _| t > last - WINDOW);
        }
    }

    /// The latest second an outcome was taken up at.
    pub fn last(&self) -> Option<Seconds> {
        self.last
    }

    /// Recipients a second per account over the window up to the latest second, once it
    /// spans two seconds or more (an account with nothing in it: 0). The window's first
    /// second only starts the clock: batches are taken up ahead of their sending, so the
    /// first second holds more than a second's worth.
    pub fn rates(&self) -> BTreeMap<String, f64> {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return BTreeMap::new();
        };
        let start = first.max(last - WINDOW + 1);
        let span = last - start;
        if span < 2 {
            return BTreeMap::new();
        }
        (self.accounts.iter())
            .map(|(account, seconds)| {
                let n: u64 = seconds.range(start + 1..).map(|(_, n)| n).sum();
                (account.clone(), n as f64 / span as f64)
            })
            .collect()
    }

    /// Forgets everything (the job ended).
    pub fn clear(&mut self) {
        *self = Throughput::default();
    }
}

#[cfg(test)]
mod tests {
    use super::{Throughput, WINDOW};

    #[test]
    fn rates_are_taken_over_the_recent_window() {
        let mut t = Throughput::default();
        t.note("a", 100, 500);
        t.note("a", 101, 50);
        assert!(t.rates().is_empty(), "two seconds are no rate yet");
        t.note("b", 101, 20);
        t.note("a", 102, 50);
        let rates = t.rates();
        assert_eq!(rates["a"], 50.0, "the first second only starts the clock");
        assert_eq!(rates["b"], 10.0);
        // Long after: only the window counts, and a quiet account falls to 0.
        for at in 200..200 + WINDOW {
            t.note("a", at, 7);
        }
        let rates = t.rates();
        assert_eq!(rates["a"], 7.0);
        assert_eq!(rates["b"], 0.0);
        assert_eq!(t.last(), Some(200 + WINDOW - 1));
    }
}
