//! Chunked execution: run a closure over a large input N rows at a time, sequentially or on a
//! few threads, and report rows processed, throughput and which chunks failed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How [`run_chunked`] splits and runs its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Rows per chunk; the last chunk may be shorter. Must be at least 1.
    pub chunk_size: usize,
    /// Threads running chunks at once; 1 runs them in order on the calling thread.
    /// Must be at least 1.
    pub parallelism: usize,
    /// What a failing chunk does to the rest of the run.
    pub on_error: OnError,
}

impl Default for ChunkOptions {
    /// Chunks of 1000 rows, one at a time, stopping at the first failure.
    fn default() -> Self {
        ChunkOptions {
            chunk_size: 1000,
            parallelism: 1,
            on_error: OnError::Stop,
        }
    }
}

/// What a failing chunk does to the rest of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Start no more chunks. Sequentially, no chunk after the failed one runs; in parallel,
    /// chunks already running finish, and chunks after the failed one may already have run.
    #[default]
    Stop,
    /// Run every chunk and report all failures.
    Continue,
}

/// The outcome of [`run_chunked`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkReport<E> {
    /// Rows in the chunks that succeeded.
    pub rows_processed: u64,
    /// Chunks that succeeded.
    pub chunks_ok: usize,
    /// The chunks that failed, by chunk index.
    pub failures: Vec<ChunkFailure<E>>,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
    /// `rows_processed` per second of `elapsed`; 0 if `elapsed` is zero.
    pub rows_per_second: f64,
    /// Whether [`OnError::Stop`] left some chunks unrun.
    pub stopped_early: bool,
}

impl<E> ChunkReport<E> {
    /// Whether every chunk ran and succeeded.
    pub fn is_success(&self) -> bool {
        self.failures.is_empty() && !self.stopped_early
    }
}

/// A chunk whose closure returned an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkFailure<E> {
    /// The chunk's index, from 0.
    pub chunk_index: usize,
    /// The index in the input of the chunk's first row.
    pub first_row: usize,
    /// How many rows the chunk held.
    pub rows: usize,
    /// What the closure returned.
    pub error: E,
}

/// Runs `f(chunk_index, chunk)` over `items` in chunks of `options.chunk_size`.
///
/// With `parallelism` 1 the chunks run in order on the calling thread; above 1, that many
/// scoped threads take the next unclaimed chunk in index order until none are left. A panic in
/// `f` propagates to the caller once the running chunks have finished.
///
/// ```
/// use batching::{ChunkOptions, OnError, run_chunked};
///
/// let rows: Vec<u32> = (0..10_000).collect();
/// let options = ChunkOptions { chunk_size: 1_000, parallelism: 4, on_error: OnError::Continue };
/// let report = run_chunked(&rows, &options, |chunk_index, chunk| {
///     if chunk_index == 3 { Err(format!("bad row {}", chunk[0])) } else { Ok(()) }
/// });
/// assert_eq!(report.rows_processed, 9_000);
/// assert_eq!(report.failures[0].first_row, 3_000);
/// assert_eq!(report.failures[0].error, "bad row 3000");
/// ```
///
/// # Panics
/// If `chunk_size` or `parallelism` is 0.
pub fn run_chunked<T: Sync, E: Send>(
    items: &[T],
    options: &ChunkOptions,
    f: impl Fn(usize, &[T]) -> Result<(), E> + Sync,
) -> ChunkReport<E> {
    assert!(
        options.chunk_size > 0,
        "batching: chunk_size must be at least 1"
    );
    assert!(
        options.parallelism > 0,
        "batching: parallelism must be at least 1"
    );
    let started = Instant::now();
    let n_chunks = items.len().div_ceil(options.chunk_size);
    let chunk_at = |chunk_index: usize| {
        let first_row = chunk_index * options.chunk_size;
        let end = (first_row + options.chunk_size).min(items.len());
        (first_row, &items[first_row..end])
    };

    let mut chunks_run = 0;
    let mut chunks_ok = 0;
    let mut rows_processed = 0u64;
    let mut failures = Vec::new();
    if options.parallelism == 1 || n_chunks <= 1 {
        for chunk_index in 0..n_chunks {
            let (first_row, chunk) = chunk_at(chunk_index);
            chunks_run += 1;
            match f(chunk_index, chunk) {
                Ok(()) => {
                    chunks_ok += 1;
                    rows_processed += chunk.len() as u64;
                }
                Err(error) => {
                    failures.push(ChunkFailure {
                        chunk_index,
                        first_row,
                        rows: chunk.len(),
                        error,
                    });
                    if options.on_error == OnError::Stop {
                        break;
                    }
                }
            }
        }
    } else {
        let next_chunk = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let shared_failures = Mutex::new(Vec::new());
        let totals = Mutex::new((0usize, 0usize, 0u64));
        std::thread::scope(|scope| {
            for _ in 0..options.parallelism.min(n_chunks) {
                scope.spawn(|| {
                    let (mut run, mut ok, mut rows) = (0usize, 0usize, 0u64);
                    while !stop.load(Ordering::Acquire) {
                        let chunk_index = next_chunk.fetch_add(1, Ordering::Relaxed);
                        if chunk_index >= n_chunks {
                            break;
                        }
                        let (first_row, chunk) = chunk_at(chunk_index);
                        run += 1;
                        match f(chunk_index, chunk) {
                            Ok(()) => {
                                ok += 1;
                                rows += chunk.len() as u64;
                            }
                            Err(error) => {
                                shared_failures.lock().push(ChunkFailure {
                                    chunk_index,
                                    first_row,
                                    rows: chunk.len(),
                                    error,
                                });
                                if options.on_error == OnError::Stop {
                                    stop.store(true, Ordering::Release);
                                }
                            }
                        }
                    }
                    let mut totals = totals.lock();
                    totals.0 += run;
                    totals.1 += ok;
                    totals.2 += rows;
                });
            }
        });
        (chunks_run, chunks_ok, rows_processed) = totals.into_inner();
        failures = shared_failures.into_inner();
        failures.sort_by_key(|failure| failure.chunk_index);
    }

    let elapsed = started.elapsed();
    let rows_per_second = if elapsed.is_zero() {
        0.0
    } else {
        rows_processed as f64 / elapsed.as_secs_f64()
    };
    ChunkReport {
        rows_processed,
        chunks_ok,
        failures,
        elapsed,
        rows_per_second,
        stopped_early: chunks_run < n_chunks,
    }
}
