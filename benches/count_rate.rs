//! The library's count rate over a mix of segments, as `reach serve` answers them: each
//! count compiles its segment and counts it, the segments interleaved in their order, one
//! thread per core, each thread a rayon pool of its own (as the server's readers are).
//! The in-process figure beside the server's `POST /count` rate (BENCHMARKS.md, "`reach
//! serve`"): the same work without HTTP, JSON and the server's queue.
//!
//!   cargo bench --bench count_rate -- DIR SEGMENTS [--now T] [--tz Z] [--seconds S] [--threads N]
//!
//! Prints one JSON line per thread count (1, then N: the cores by default): counts,
//! seconds, rate per second.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reach::Engine;
use reach::model::time::{parse_offset, parse_rfc3339};

struct Options {
    dir: String,
    segments: Vec<String>,
    now: i64,
    tz: Option<chrono::FixedOffset>,
    seconds: f64,
    threads: usize,
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!(
                "count_rate: {message}\nusage: count_rate DIR SEGMENTS [--now RFC3339] [--tz +08:00] [--seconds S] [--threads N]"
            );
            std::process::exit(2);
        }
    };
    let mut engine = match Engine::open_read_only(&options.dir) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("count_rate: {e}");
            std::process::exit(1);
        }
    };
    if let Some(tz) = options.tz {
        engine.set_time_zone(tz);
    }
    for text in &options.segments {
        if let Err(e) = engine.read().compile(text, options.now) {
            eprintln!("count_rate: '{text}' does not compile: {e}");
            std::process::exit(1);
        }
    }
    // Warm up as the server benchmark does: five passes (a lookup is indexed at its fifth use).
    for _ in 0..5 {
        options
            .segments
            .iter()
            .for_each(|s| _ = count(&engine, s, options.now));
    }
    let mut runs = vec![1];
    if options.threads > 1 {
        runs.push(options.threads);
    }
    for threads in runs {
        let (counts, seconds) = rate(&engine, &options, threads);
        println!(
            "{{\"threads\": {threads}, \"counts\": {counts}, \"seconds\": {seconds:.2}, \"rate_per_s\": {}}}",
            (counts as f64 / seconds).round()
        );
    }
}

/// Compiles and counts one segment (each compiles: `main` checked), as one `POST /count` does.
fn count(engine: &Engine, text: &str, now: i64) -> u64 {
    let view = engine.read();
    view.compile(text, now)
        .map_or(0, |segment| view.count(&segment))
}

/// Counts with `threads` threads for the given seconds, each going through the segments
/// in order from its own starting point; the counts done and the seconds taken.
fn rate(engine: &Engine, options: &Options, threads: usize) -> (u64, f64) {
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let segments = &options.segments;
    let began = std::thread::scope(|scope| {
        for t in 0..threads {
            let (done, stop, start) = (&done, &stop, &start);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
            let pool = pool.unwrap_or_else(|e| panic!("a reading thread: {e}"));
            scope.spawn(move || {
                pool.install(|| {
                    start.wait();
                    let mut i = t * segments.len() / threads;
                    while !stop.load(Ordering::Relaxed) {
                        count(engine, &segments[i % segments.len()], options.now);
                        done.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                })
            });
        }
        start.wait();
        let began = Instant::now();
        std::thread::sleep(Duration::from_secs_f64(options.seconds));
        stop.store(true, Ordering::Relaxed);
        began
    });
    (done.load(Ordering::Relaxed), began.elapsed().as_secs_f64())
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let dir = args.next().ok_or("no data directory")?;
    let file = args.next().ok_or("no segments file")?;
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{file}: {e}"))?;
    let segments: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut options = Options {
        dir,
        segments,
        now: reach::model::time::now(),
        tz: None,
        seconds: 10.0,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: cannot read '{value}'");
        match flag.as_str() {
            "--now" => options.now = parse_rfc3339(&value).ok_or_else(bad)?,
            "--tz" => options.tz = Some(parse_offset(&value).ok_or_else(bad)?),
            "--seconds" => options.seconds = value.parse().map_err(|_| bad())?,
            "--threads" => options.threads = value.parse().map_err(|_| bad())?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if options.segments.is_empty() {
        return Err(format!("{file} holds no segment"));
    }
    Ok(options)
}
