//! [`Readers`]: the threads that run reads (count, list, explain, …), one per core. They
//! take waiting reads oldest first (one queue: the slowest answer tracks the mean), and
//! each runs a read whole on its own thread: the library's parallel loops run there in
//! order, not split over the cores (with many clients the other core is busy with another
//! read, and splitting only adds thread switches). A read goes straight from the I/O
//! thread to a reader, with no blocking thread between.
//!
//! Each reader is a rayon pool of one thread of its own, never the library's shared pool:
//! a writer holding the state's lock may need the shared pool's threads, and readers
//! wait on that lock.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use reach::Error;

type Job = Box<dyn FnOnce() + Send>;

/// The reading threads and their queue.
pub struct Readers {
    queue: Sender<Job>,
    /// Kept so that the threads' pools live as long as the queue.
    _pools: Vec<rayon::ThreadPool>,
}

impl Readers {
    /// Starts `threads` readers (at least one).
    pub fn new(threads: usize) -> Result<Readers, Error> {
        let (queue, waiting) = channel::<Job>();
        let waiting = Arc::new(Mutex::new(waiting));
        let pools = (0..threads.max(1))
            .map(|i| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("reach-read-{i}"))
                    .build()
                    .map_err(|e| Error::Internal {
                        message: format!("cannot start the server's reading threads: {e}"),
                        source: None,
                    })?;
                let waiting = Arc::clone(&waiting);
                pool.spawn(move || take_reads(&waiting));
                Ok(pool)
            })
            .collect::<Result<_, Error>>()?;
        Ok(Readers {
            queue,
            _pools: pools,
        })
    }

    /// Queues `read` at once (behind every read queued before it) for the next free
    /// reader; the answer is its result, `None` if it panicked.
    pub fn run<T, F>(&self, read: F) -> impl Future<Output = Option<T>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(read());
        });
        let queued = self.queue.send(job).is_ok();
        async move {
            match queued {
                true => answered.await.ok(),
                false => None,
            }
        }
    }
}

/// A reader's life: the oldest waiting read, run, until the queue is gone.
fn take_reads(waiting: &Mutex<Receiver<Job>>) {
    loop {
        let next = waiting.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(job) = next else { return };
        // A read that panics answers nothing (its caller sees an error); the reader goes on.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        runtime.expect("a runtime").block_on(future)
    }

    #[test]
    fn a_read_runs_whole_on_a_reader_thread() {
        let readers = Readers::new(2).expect("readers");
        let (name, threads, splits) = block_on(readers.run(|| {
            let here = std::thread::current().id();
            let elsewhere = (0..100_000u32)
                .into_par_iter()
                .filter(|_| std::thread::current().id() != here)
                .count();
            let name = std::thread::current().name().map(str::to_string);
            (name, rayon::current_num_threads(), elsewhere)
        }))
        .expect("an answer");
        assert!(name.is_some_and(|n| n.starts_with("reach-read-")));
        assert_eq!((threads, splits), (1, 0));
    }

    #[test]
    fn reads_are_taken_oldest_first() {
        let readers = Readers::new(1).expect("readers");
        let order = Arc::new(Mutex::new(Vec::new()));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        block_on(async {
            let blocked = readers.run(move || gate.recv().is_ok());
            let reads: Vec<_> = (0..20)
                .map(|i| {
                    let order = Arc::clone(&order);
                    readers.run(move || order.lock().expect("order").push(i))
                })
                .collect();
            release.send(()).expect("the first read waits");
            // Polled in order: each join waits for the reads queued before it.
            assert_eq!(blocked.await, Some(true));
            for read in reads {
                read.await.expect("an answer");
            }
        });
        assert_eq!(*order.lock().expect("order"), (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_read_that_panics_answers_nothing_and_the_reader_goes_on() {
        let readers = Readers::new(1).expect("readers");
        let failed: Option<u32> = block_on(readers.run(|| panic!("a read's bug")));
        assert_eq!(failed, None);
        assert_eq!(block_on(readers.run(|| 7)), Some(7));
    }
}
