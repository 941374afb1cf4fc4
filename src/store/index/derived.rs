//! Values derived from the store: the opted-in Facebook rows (`fb_rows`) and the
//! unsubscribed contacts, each keyed by the store's write counter (which every change
//! moves, so a value is never stale) and carried to the next count by a change that
//! cannot alter its inputs (a tag edit alters neither); and the bitmaps' word views
//! (`words`), which the changes' journal brings up to date. A store's clone starts
//! without them.

use std::sync::{Arc, Mutex};

use roaring::RoaringBitmap;

use super::fb_rows::FbRows;
use super::words::WordViews;

/// A value built at a write count, rebuilt when asked at another.
#[derive(Debug)]
pub struct Cached<T>(Mutex<Option<(u64, Arc<T>)>>);

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached(Mutex::new(None))
    }
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Self {
        Cached::default()
    }
}

impl<T> Cached<T> {
    /// Whether `value` is the very value held.
    pub fn holds(&self, value: &T) -> bool {
        let held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .is_some_and(|(_, v)| std::ptr::eq(&**v, value))
    }

    /// Keeps a value held at write count `from` as the value at `to` (a writer that
    /// knows the change between cannot have altered it).
    pub fn carry(&mut self, from: u64, to: u64) {
        let held = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some((at, _)) = held.as_mut().filter(|(at, _)| *at == from) {
            *at = to;
        }
    }

    /// The value at write count `version`, built by `build` unless already held.
    pub fn get(&self, version: u64, build: impl FnOnce() -> T) -> Arc<T> {
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*held {
            Some((at, value)) if *at == version => Arc::clone(value),
            _ => {
                let value = Arc::new(build());
                *held = Some((version, Arc::clone(&value)));
                value
            }
        }
    }
}

/// Everything the store derives and caches.
#[derive(Clone, Debug, Default)]
pub struct Derived {
    pub fb_rows: Cached<FbRows>,
    pub unsubscribed: Cached<RoaringBitmap>,
    pub words: WordViews,
}
