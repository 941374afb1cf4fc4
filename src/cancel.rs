//! Cancelling long work (import, export, gen) from outside: the REPL's Ctrl-C handler
//! calls [`request`]; long loops call [`requested`] between batches and stop with an
//! error. An import stopped this way changes nothing (it is all or nothing).

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks the running long operation to stop.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for (since the last [`reset`]).
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Forgets an earlier request (before starting new work).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// The error long operations return when stopped.
pub fn error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::Interrupted, Cancelled)
}

/// Whether an I/O error is the one [`error`] makes.
pub fn is_cancel(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Cancelled>())
}

/// What [`error`] carries, to be told apart from other interruptions.
#[derive(Debug)]
struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cancelled (Ctrl-C)")
    }
}

impl std::error::Error for Cancelled {}
