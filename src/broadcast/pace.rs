//! [`Pace`]: paces requests to one endpoint of one account — a token bucket that holds
//! no burst (each request waits its turn, one interval after the last), shared by the
//! threads sending to that account, so that the account sees at most its rate whatever
//! the number of requests in flight. A 429's `Retry-After` holds the bucket (that
//! account's endpoint only) until the time has passed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The pace of one account's endpoint.
#[derive(Debug)]
pub struct Pace {
    interval: Option<Duration>,
    /// When the next request may go.
    next: Mutex<Instant>,
}

impl Pace {
    /// A pace of `rate` requests a second (`None`, or not above 0: unpaced).
    pub fn new(rate: Option<f64>) -> Pace {
        Pace {
            interval: rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Takes the next turn: when this request may go (now or later). Waiting is the
    /// caller's, outside any lock.
    pub fn turn(&self) -> Instant {
        let now = Instant::now();
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let at = (*next).max(now);
        if let Some(interval) = self.interval {
            *next = at + interval;
        } else {
            *next = at;
        }
        at
    }

    /// Waits for the next turn.
    pub fn wait(&self) {
        let at = self.turn();
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }

    /// Sends nothing more before `until` (the platform asked to slow down).
    pub fn hold(&self, until: Instant) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_one_interval_apart_and_a_hold_moves_them() {
        let pace = Pace::new(Some(100.0));
        let first = pace.turn();
        let second = pace.turn();
        assert_eq!(second - first, Duration::from_millis(10));
        let until = Instant::now() + Duration::from_secs(2);
        pace.hold(until);
        assert!(pace.turn() >= until);
        let free = Pace::new(None);
        assert!(free.turn() <= Instant::now());
    }
}
