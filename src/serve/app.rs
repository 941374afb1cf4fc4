//! The server's shared state and the bridge from async handlers to the blocking library.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use chrono::FixedOffset;
use reach::access::Keys;
use reach::model::Seconds;
use reach::model::time::{parse_offset, parse_rfc3339};
use reach::{Engine, Error};

use super::Options;
use super::error::ApiError;
use super::readers::Readers;

/// What every handler shares.
pub struct App {
    pub engine: Engine,
    pub keys: RwLock<Keys>,
    pub master: Option<String>,
    /// The sink of a broadcast that names none.
    pub default_sink: String,
    fixed_now: Option<Seconds>,
    stopping: AtomicBool,
    /// Broadcasts sending in the background.
    senders: Mutex<Vec<JoinHandle<()>>>,
    /// The threads that run reads.
    readers: Readers,
    /// Wakes streams when the server stops.
    pub stop_signal: tokio::sync::watch::Sender<bool>,
}

impl App {
    pub fn new(engine: Engine, options: &Options) -> Result<App, Error> {
        let keys = Keys::open(engine.dir())?;
        Ok(App {
            engine,
            keys: RwLock::new(keys),
            master: options.master_key.clone(),
            default_sink: (options.default_sink.clone()).unwrap_or_else(|| "platform".into()),
            fixed_now: options.now,
            stopping: AtomicBool::new(false),
            senders: Mutex::new(Vec::new()),
            readers: Readers::new(rayon::current_num_threads())?,
            stop_signal: tokio::sync::watch::channel(false).0,
        })
    }

    /// The request's `now` (RFC 3339), else the server's fixed clock, else the time.
    pub fn now(&self, given: Option<&str>) -> Result<Seconds, Error> {
        match given {
            Some(text) => parse_rfc3339(text).ok_or_else(|| {
                Error::Usage(format!("\"now\": expected an RFC 3339 time, got '{text}'"))
            }),
            None => Ok(self.clock()),
        }
    }

    /// The server's clock.
    pub fn clock(&self) -> Seconds {
        self.fixed_now.unwrap_or_else(reach::model::time::now)
    }

    /// The request's `tz` (`+08:00`), if it gives one.
    pub fn tz(given: Option<&str>) -> Result<Option<FixedOffset>, Error> {
        given
            .map(|text| {
                parse_offset(text).ok_or_else(|| {
                    Error::Usage(format!(
                        "\"tz\": expected an offset such as +08:00 or Z, got '{text}'"
                    ))
                })
            })
            .transpose()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn begin_stopping(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = self.stop_signal.send(true);
    }

    /// Runs library work on a blocking thread (never on an I/O thread).
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Arc<App>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, ApiError> {
        if self.is_stopping() {
            return Err(ApiError::stopping());
        }
        let app = Arc::clone(self);
        match tokio::task::spawn_blocking(move || work(&app)).await {
            Ok(result) => result.map_err(ApiError::from),
            Err(e) => Err(ApiError::from(Error::Internal {
                message: format!("a request's work failed: {e}"),
                source: None,
            })),
        }
    }

    /// Runs a read on one of the reading threads (`readers.rs`), oldest first. Writes,
    /// which wait for the disk, use [`App::run`].
    pub async fn query<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Arc<App>) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, ApiError> {
        if self.is_stopping() {
            return Err(ApiError::stopping());
        }
        let app = Arc::clone(self);
        match self.readers.run(move || work(&app)).await {
            Some(result) => result.map_err(ApiError::from),
            None => Err(ApiError::from(Error::Internal {
                message: "a read failed in the server (a bug: please report it)".into(),
                source: None,
            })),
        }
    }

    /// Keeps a background broadcast's thread, to wait for it when stopping.
    pub fn keep_sender(&self, handle: JoinHandle<()>) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders.retain(|h| !h.is_finished());
        senders.push(handle);
    }

    /// After the last request: waits for background broadcasts to pause (their jobs stay
    /// `sending`, resumable), then checkpoints.
    pub fn stop(&self) -> Result<(), Error> {
        self.begin_stopping();
        let senders = std::mem::take(&mut *self.senders.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in senders {
            let _ = handle.join();
        }
        if self.engine.dir().is_some() {
            self.engine.compact()?;
        }
        eprintln!("reach serve: checkpointed; stopped");
        Ok(())
    }
}
